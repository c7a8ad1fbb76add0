/*
 * One message transport for ring.throughput / ring.latency.oneway: a
 * producer process sends fixed-size messages, a consumer process receives
 * them, each pinned to its own core. Every transport does the same work per
 * message: the producer gets @msg bytes from its source buffer into the
 * message (a memcpy into a reserved slot, or write(2)), the consumer reads
 * every byte once (bh_sum; in place when the transport allows it, else from
 * the buffer it copied into). The first 8 bytes carry a timestamp for the
 * latency case.
 */
#ifndef MOBJ_BENCH_RING_IMPL_H
#define MOBJ_BENCH_RING_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct xport {
	const struct xport_ops *ops;
	size_t msg;		/* bytes per message */
	size_t cap;		/* ring/pipe capacity asked for */
	int side;		/* 0 producer, 1 consumer (set in open) */
	int fd[2];		/* pipe or socketpair */
	void *shm;		/* shared mapping made before fork */
	size_t shm_len;
	void *buf;		/* consumer's copy-out buffer */
	void *priv;		/* transport state */
	char note[160];		/* why it cannot run */
};

struct xport_ops {
	const char *name;
	/* In the parent, before fork: shared resources. 0 or -errno (note set). */
	int (*prepare)(struct xport *x);
	/* In each child after fork. */
	int (*open)(struct xport *x, int side);
	/* Producer: one message from @src (@x->msg bytes). */
	int (*send)(struct xport *x, const void *src);
	/* Consumer: one message; its first 8 bytes in @first, bh_sum in @sum. */
	int (*recv)(struct xport *x, uint64_t *first, uint64_t *sum);
	/* Optional, throughput only: the bytes of @count messages at once, with
	 * no per-message step (limit); send/recv then serve the latency case,
	 * where the next message goes only after the previous one's receipt. */
	int (*send_bytes)(struct xport *x, const void *src, uint64_t count);
	int (*recv_bytes)(struct xport *x, uint64_t count, uint64_t *sum);
	/* Optional, in each child before close: the transport's own slow-path
	 * counters (sleeps, wakes, peer checks, spins), cumulative. */
	void (*stats)(struct xport *x, double out[4]);
	/* In each child. */
	void (*close)(struct xport *x);
	/* In the parent, after both children are gone. */
	void (*cleanup)(struct xport *x);
};

/* One impl of a throughput case; skip, when set, is why it cannot run
 * (recorded as its note). */
struct xport_case {
	const char *impl;
	const struct xport_ops *ops;
	const char *skip;
};

/* Measure MB/s of every impl moving messages of every size between the two
 * pinned processes, in interleaved rounds (paired ratios), and record the
 * results (or notes). At most 8 impls and 8 sizes. */
void xport_tput_sweep(const char *group, const char *case_name,
                      const struct xport_case *impls, size_t nimpl,
                      const size_t *sizes, size_t nsizes);

/* The references (ring_refs.c). */
extern const struct xport_ops xport_bare, xport_limit;

/* iceoryx (bench_iox.c), spinning before it sleeps, and blocking at once. */
extern const struct xport_ops xport_iceoryx, xport_iceoryx_block;
bool iox_available(void);
/* Start RouDi (once); 0 or -errno with @why filled. Stopped by iox_stop(),
 * at exit, and on SIGINT/SIGTERM. */
int iox_start(char *why, size_t cap);
void iox_stop(void);

/*
 * This process's system calls over a window (syscount.c): open once, then
 * per window arm (before the barrier that starts it: strace attaches
 * there), start (after it), stop (the calls made since, or -errno).
 */
#define SYSCOUNT_THREADS 16

struct syscount {
	bool use_strace;
	int perf_fd[SYSCOUNT_THREADS];	/* perf: a counter per thread */
	int nperf;
	pid_t tracer;		/* strace: attached to us, or -1 */
	char out[64];		/* strace: its summary file */
	int64_t baseline;	/* strace: what an empty window counts */
};

/* 0, or -errno with @why filled (no method works here). */
int syscount_open(struct syscount *c, char *why, size_t cap);
int syscount_arm(struct syscount *c);
void syscount_start(struct syscount *c);
int64_t syscount_stop(struct syscount *c);
void syscount_close(struct syscount *c);
/* How it counts, for the row's detail. */
const char *syscount_method(const struct syscount *c);

#endif /* MOBJ_BENCH_RING_IMPL_H */
