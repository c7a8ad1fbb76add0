/*
 * ring.*: moving messages from a producer process (cpu[0]) to a consumer
 * process (cpu[1]), against what one would use instead.
 *
 * THE WAIT RULE. Every transport waits the way its users run it for the
 * case measured, or the case says plainly why not. A wait policy costs as
 * much as a transport (a futex wake-up is microseconds, a message tens of
 * nanoseconds), so a comparison of two transports that wait differently
 * measures the two waits. Concretely:
 *   - a shared-memory transport that has a sleeping wait spins first, as
 *     many times as the mobj ring does (MOBJ_RING_SPINS, read from the
 *     library's source by bench/meson.build), then sleeps until the other
 *     side's notification: mobj (its own code), spa (the bench gives it the
 *     mobj ring's scheme, it has none of its own), iceoryx (polls
 *     iox_sub_take_chunk, then the WaitSet);
 *   - a transport whose users block in the kernel blocks: pipe and unix
 *     (read/write on blocking descriptors; nobody spins on a pipe);
 *   - the references never sleep: bare busy-polls (the hand-written ring of
 *     a program that owns both cores), limit synchronizes once per half
 *     ring; neither has an -idle or -sleep row, which would be its busy row;
 *   - iceoryx-block is iceoryx's documented event loop (the WaitSet at once,
 *     no polling), kept to show what the wait policy alone costs;
 *   - a producer whose ring is full waits as its consumer does (mobj, spa,
 *     bare), in write(2) (pipe, unix), or in iceoryx's own back-off for a
 *     full queue (BLOCK_PRODUCER).
 *
 *   ring.throughput      MB/s for 64 B .. 1 MiB messages
 *   ring.latency.oneway  64 B, send timestamp to receive, ns (p50, p99);
 *                        the next message goes as soon as the previous one
 *                        was received; the "-idle" impls wait 200 us
 *                        first, so a receiver that spins has gone to sleep
 *   ring.syscalls        system calls per 64 B message, both sides busy
 *                        (-busy) and with a 200 us pause before each
 *                        message (-sleep); syscount.c says how they are
 *                        counted (perf tracepoint, else strace)
 *   ring.capacity.1K     MB/s against the ring's capacity (the row's size,
 *   ring.capacity.64K    64 KiB .. 16 MiB), 1 KiB and 64 KiB messages
 *   ring.inplace         records of odd sizes checksummed in place, MB/s
 *
 * Transports (ring_impl.h has the per-message contract):
 *   mobj       mobj ring, zero copy: reserve + memcpy + commit; peek + sum in
 *              place + consume
 *   mobj-copy  mobj ring, mobj_ring_write / mobj_ring_read into a buffer
 *   bare       the classic hand-written mirrored SPSC ring (ring_refs.c)
 *   limit      the same bytes with no messages, one synchronization per
 *              half ring: the most any ring can move here (ring_refs.c)
 *   pipe       pipe(2), F_SETPIPE_SZ to the ring capacity (max 1 MiB)
 *   unix       AF_UNIX SOCK_STREAM socketpair, default buffers
 *   spa        PipeWire's spa_ringbuffer (two u32 indices) over a shared
 *              mapping, data moved with spa_ringbuffer_write_data/read_data
 *              (the split copy at the wrap); the consumer copies out, as
 *              that API does. Waiting: the mobj scheme, spin, then publish
 *              "I sleep" and futex-wait on the other side's index word; the
 *              other side futex-wakes only when it sees that flag, and takes
 *              it down, so one wake per sleep as in the mobj ring (seq_cst
 *              fences on both sides, so no wake-up is lost).
 *   iceoryx, iceoryx-block   bench_iox.c
 *
 * Every transport has the same capacity: ring_cap() below.
 *
 * ring.throughput and ring.latency.oneway run in interleaved rounds (every
 * transport and size once per round, samples pooled, ratios paired per
 * round): placement and load on these small VMs change within seconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spa/utils/ringbuffer.h>

#include "harness.h"
#include "ring_impl.h"

#include <mobj/mobj.h>
#include <mobj/ring.h>

/* The mobj ring's spin count (bench/meson.build reads it from src/). */
#ifndef MOBJ_RING_SPINS
#error "MOBJ_RING_SPINS: bench/meson.build passes the ring's spin count"
#endif

static const size_t tput_sizes[] = { 64, 1024, 65536, 1048576 };

/*
 * Every ring, pipe and socket of a case gets the same capacity: 512 KiB, or
 * four messages when that is more. Why 512 KiB (ring.capacity.1K and
 * ring.capacity.64K measure it; two runs on the 2-vCPU VM, 4 MiB of L2 per
 * core): at 64 and 128 KiB the two sides stall on each other (bare and
 * limit move 0.5x to 0.6x of their best with 1 KiB messages); at 256 KiB
 * they still move 0.8x to 0.9x of it with 1 KiB messages; from 512 KiB to
 * 1 MiB both are on their plateau at both sizes; at 2 and 4 MiB, with
 * 64 KiB messages, everything drops to about 0.7x (ring, source and reader
 * no longer fit one core's L2). So 512 KiB is the smallest capacity on the
 * plateau of the references at both sizes: a larger ring only takes cache
 * from the application, a smaller one measures stalls, not the transport.
 */
static size_t ring_cap(size_t msg)
{
	size_t cap = 512 * 1024;

	while (cap < 4 * msg)
		cap *= 2;
	return cap;
}

static void *page_alloc(size_t n)
{
	void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* ---- pipe and unix ------------------------------------------------------- */

static int pipe_prepare(struct xport *x)
{
	if (pipe2(x->fd, O_CLOEXEC) < 0)
		return -errno;
	/* Same buffer as the rings, within the unprivileged limit. */
	fcntl(x->fd[1], F_SETPIPE_SZ, (int)(x->cap < (1u << 20) ? x->cap : (1u << 20)));
	return 0;
}

static int unix_prepare(struct xport *x)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->fd) < 0)
		return -errno;
	return 0;
}

static int fd_open(struct xport *x, int side)
{
	x->side = side;
	/* pipe: fd[0] reads, fd[1] writes; socketpair: either way. */
	close(x->fd[side ? 1 : 0]);
	x->fd[side ? 1 : 0] = -1;
	if (side == 1 && !(x->buf = page_alloc(x->msg)))
		return -ENOMEM;
	return 0;
}

static int fd_send(struct xport *x, const void *src)
{
	return bh_write_all(x->fd[1], src, x->msg);
}

static int fd_recv(struct xport *x, uint64_t *first, uint64_t *sum)
{
	int rc = bh_read_all(x->fd[0], x->buf, x->msg);

	if (rc < 0)
		return rc;
	memcpy(first, x->buf, sizeof(*first));
	*sum += bh_sum(x->buf, x->msg);
	return 0;
}

static void fd_close(struct xport *x)
{
	for (int i = 0; i < 2; i++)
		if (x->fd[i] >= 0)
			close(x->fd[i]);
}

static void fd_cleanup(struct xport *x)
{
	fd_close(x);
}

static const struct xport_ops xport_pipe = {
	.name = "pipe", .prepare = pipe_prepare, .open = fd_open, .send = fd_send,
	.recv = fd_recv, .close = fd_close, .cleanup = fd_cleanup,
};

static const struct xport_ops xport_unix = {
	.name = "unix", .prepare = unix_prepare, .open = fd_open, .send = fd_send,
	.recv = fd_recv, .close = fd_close, .cleanup = fd_cleanup,
};

/* ---- spa_ringbuffer with futex waiting ---------------------------------- */

/* A side that may sleep: while it waits for the other side's index to move
 * from a value, SPA_ASLEEP | that value; else 0. One word, so that a waker
 * takes down exactly the wait it judged. */
struct spa_sleeper {
	_Alignas(64) uint64_t waiting;
};

#define SPA_ASLEEP (1ull << 32)

struct spa_shared {
	struct spa_ringbuffer rb;	/* PipeWire's layout: two u32 */
	struct spa_sleeper cons;	/* consumer waits on rb.writeindex */
	struct spa_sleeper prod;	/* producer waits on rb.readindex */
};

#define SPA_HDR 4096

static long futex(uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static int spa_prepare(struct xport *x)
{
	struct spa_shared *s;

	x->shm_len = SPA_HDR + x->cap;
	x->shm = mmap(NULL, x->shm_len, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (x->shm == MAP_FAILED) {
		x->shm = NULL;
		return -errno;
	}
	s = x->shm;
	spa_ringbuffer_init(&s->rb);
	return 0;
}

static int spa_open(struct xport *x, int side)
{
	x->side = side;
	if (side == 1 && !(x->buf = page_alloc(x->msg)))
		return -ENOMEM;
	return 0;
}

/* Wait until *word != seen (the other side moved its index), spinning
 * first, then sleeping with @w->waiting raised; the word
 * is re-checked after the flag is up, and futex_wait re-checks it
 * atomically. The caller loops until its condition holds. */
static void spa_wait(uint32_t *word, uint32_t seen, struct spa_sleeper *w)
{
	for (int i = 0; i < MOBJ_RING_SPINS; i++) {
		if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != seen)
			return;
		bh_relax();
	}
	__atomic_store_n(&w->waiting, SPA_ASLEEP | seen, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == seen)
		futex(word, FUTEX_WAIT, seen);
	__atomic_store_n(&w->waiting, 0, __ATOMIC_RELAXED);
}

/*
 * After storing our index @now: wake the other side if it sleeps waiting
 * for a value it has not seen. One wake per sleep, as the mobj ring's
 * wake_seq gives: the waker takes the flag down, so the messages sent while
 * the sleeper is being scheduled back in make no system call (and a plain
 * load while nobody sleeps, so the flag's line is not pulled over on every
 * message). Only for a store the sleeper has not seen (@now != the value it
 * waits on): a sleeper that read @now before it raised the flag sleeps
 * until the next store, and taking its flag down here would leave it with
 * no wake-up at all. The compare-exchange takes down only the wait judged,
 * not a later one that may have read @now.
 */
static void spa_wake(uint32_t *word, uint32_t now, struct spa_sleeper *w)
{
	uint64_t v;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	v = __atomic_load_n(&w->waiting, __ATOMIC_SEQ_CST);
	if ((v & SPA_ASLEEP) && (uint32_t)v != now &&
	    __atomic_compare_exchange_n(&w->waiting, &v, 0, false, __ATOMIC_SEQ_CST,
	                                __ATOMIC_SEQ_CST))
		futex(word, FUTEX_WAKE, 1);
}

static void *spa_data(struct xport *x)
{
	return (char *)x->shm + SPA_HDR;
}

static int spa_send(struct xport *x, const void *src)
{
	struct spa_shared *s = x->shm;
	uint32_t idx, size = (uint32_t)x->cap;
	int32_t filled;

	for (;;) {
		filled = spa_ringbuffer_get_write_index(&s->rb, &idx);
		if (filled < 0 || (uint32_t)filled > size)
			return -EPROTO;
		if (size - (uint32_t)filled >= x->msg)
			break;
		spa_wait(&s->rb.readindex, idx - (uint32_t)filled, &s->prod);
	}
	spa_ringbuffer_write_data(&s->rb, spa_data(x), size, idx & (size - 1), src,
	                          (uint32_t)x->msg);
	spa_ringbuffer_write_update(&s->rb, (int32_t)(idx + (uint32_t)x->msg));
	spa_wake(&s->rb.writeindex, idx + (uint32_t)x->msg, &s->cons);
	return 0;
}

/* Wait for a whole message and return the read index. */
static int spa_wait_msg(struct xport *x, uint32_t *idx)
{
	struct spa_shared *s = x->shm;
	int32_t avail;

	for (;;) {
		avail = spa_ringbuffer_get_read_index(&s->rb, idx);
		if (avail < 0 || (uint32_t)avail > x->cap)
			return -EPROTO;
		if ((uint32_t)avail >= x->msg)
			return 0;
		spa_wait(&s->rb.writeindex, *idx + (uint32_t)avail, &s->cons);
	}
}

static void spa_done(struct xport *x, uint32_t idx)
{
	struct spa_shared *s = x->shm;

	spa_ringbuffer_read_update(&s->rb, (int32_t)(idx + (uint32_t)x->msg));
	spa_wake(&s->rb.readindex, idx + (uint32_t)x->msg, &s->prod);
}

static int spa_recv(struct xport *x, uint64_t *first, uint64_t *sum)
{
	struct spa_shared *s = x->shm;
	uint32_t idx, size = (uint32_t)x->cap;
	int rc = spa_wait_msg(x, &idx);

	if (rc < 0)
		return rc;
	spa_ringbuffer_read_data(&s->rb, spa_data(x), size, idx & (size - 1), x->buf,
	                         (uint32_t)x->msg);
	spa_done(x, idx);
	memcpy(first, x->buf, sizeof(*first));
	*sum += bh_sum(x->buf, x->msg);
	return 0;
}

/* ring.inplace: records read in place unless they wrap, then copied out
 * (the best a split ring can do for a reader that wants a record whole). */
static int split_recv(struct xport *x, uint64_t *first, uint64_t *sum)
{
	struct spa_shared *s = x->shm;
	uint32_t idx, size = (uint32_t)x->cap, off;
	const void *rec;
	int rc = spa_wait_msg(x, &idx);

	if (rc < 0)
		return rc;
	off = idx & (size - 1);
	if (off + x->msg <= size) {
		rec = (const char *)spa_data(x) + off;
	} else {
		spa_ringbuffer_read_data(&s->rb, spa_data(x), size, off, x->buf,
		                         (uint32_t)x->msg);
		rec = x->buf;
	}
	memcpy(first, rec, sizeof(*first));
	*sum += bh_sum(rec, x->msg);
	spa_done(x, idx);
	return 0;
}

static void spa_close(struct xport *x)
{
	(void)x;
}

static void spa_cleanup(struct xport *x)
{
	if (x->shm)
		munmap(x->shm, x->shm_len);
	x->shm = NULL;
}

static const struct xport_ops xport_spa = {
	.name = "spa", .prepare = spa_prepare, .open = spa_open, .send = spa_send,
	.recv = spa_recv, .close = spa_close, .cleanup = spa_cleanup,
};

static const struct xport_ops xport_split = {
	.name = "split", .prepare = spa_prepare, .open = spa_open, .send = spa_send,
	.recv = split_recv, .close = spa_close, .cleanup = spa_cleanup,
};

/* ---- mobj ring ------------------------------------------------------------ */

/*
 * Set-up: the real cross-process path (the producer creates the ring and
 * mobj_ring_send()s it over a channel pair, the consumer mobj_ring_recv()s
 * it).
 */
struct mobj_end {
	struct mobj_chan *chan[2];	/* [side]: the set-up channel pair */
	struct mobj_ring *ring;
};

/* This process's end (each side of a pair is its own process). */
static struct mobj_end this_end;

static int mobj_prepare(struct xport *x)
{
	int rc;

	rc = mobj_chan_pair(&this_end.chan[0], &this_end.chan[1]);
	if (rc < 0)
		snprintf(x->note, sizeof(x->note), "mobj_chan_pair: %s", mobj_strerror(rc));
	return rc;
}

static int mobj_open(struct xport *x, int side)
{
	int rc = 0;

	x->side = side;
	mobj_chan_close(this_end.chan[!side]);
	this_end.chan[!side] = NULL;
	if (side == 0) {
		rc = mobj_ring_create(x->cap, &this_end.ring);
		if (rc == 0)
			rc = mobj_ring_send(this_end.chan[0], this_end.ring, 10000);
	} else {
		rc = mobj_ring_recv(this_end.chan[1], 10000, &this_end.ring);
	}
	mobj_chan_close(this_end.chan[side]);
	this_end.chan[side] = NULL;
	if (rc == 0 && side == 1 && !(x->buf = page_alloc(x->msg)))
		rc = -ENOMEM;
	return rc;
}

static int mobj_send_zc(struct xport *x, const void *src)
{
	void *p;
	int rc = mobj_ring_reserve(this_end.ring, x->msg, -1, &p);

	if (rc < 0)
		return rc;
	memcpy(p, src, x->msg);
	return mobj_ring_commit(this_end.ring, x->msg);
}

static int mobj_recv_zc(struct xport *x, uint64_t *first, uint64_t *sum)
{
	const void *p;
	size_t avail;
	int rc = mobj_ring_peek(this_end.ring, x->msg, -1, &p, &avail);

	if (rc < 0)
		return rc;
	memcpy(first, p, sizeof(*first));
	*sum += bh_sum(p, x->msg);
	return mobj_ring_consume(this_end.ring, x->msg);
}

static int mobj_send_copy(struct xport *x, const void *src)
{
	ssize_t n = mobj_ring_write(this_end.ring, src, x->msg, -1);

	return n < 0 ? (int)n : 0;
}

static int mobj_recv_copy(struct xport *x, uint64_t *first, uint64_t *sum)
{
	size_t got = 0;

	while (got < x->msg) {
		ssize_t n = mobj_ring_read(this_end.ring, (char *)x->buf + got, x->msg - got, -1);
		if (n < 0)
			return (int)n;
		got += (size_t)n;
	}
	memcpy(first, x->buf, sizeof(*first));
	*sum += bh_sum(x->buf, x->msg);
	return 0;
}

static int mobj_send_rec(struct xport *x, const void *src)
{
	void *p;
	int rc = mobj_ring_reserve_record(this_end.ring, x->msg, -1, &p);

	if (rc < 0)
		return rc;
	memcpy(p, src, x->msg);
	return mobj_ring_commit_record(this_end.ring, x->msg);
}

static int mobj_recv_rec(struct xport *x, uint64_t *first, uint64_t *sum)
{
	const void *p;
	size_t len;
	int rc = mobj_ring_peek_record(this_end.ring, -1, &p, &len);

	if (rc < 0)
		return rc;
	if (len != x->msg)
		return -EPROTO;
	memcpy(first, p, sizeof(*first));
	*sum += bh_sum(p, len);
	return mobj_ring_consume_record(this_end.ring);
}

static void mobj_xstats(struct xport *x, double out[4])
{
	struct mobj_ring_stats st;

	(void)x;
	if (mobj_ring_stats(this_end.ring, &st) < 0)
		return;
	out[0] = (double)st.sleeps;
	out[1] = (double)st.wakes;
	out[2] = (double)st.peer_checks;
	out[3] = (double)st.spins;
}

static void mobj_xclose(struct xport *x)
{
	(void)x;
	mobj_ring_close(this_end.ring);
	this_end.ring = NULL;
}

static void mobj_cleanup(struct xport *x)
{
	(void)x;
	for (int i = 0; i < 2; i++) {
		mobj_chan_close(this_end.chan[i]);
		this_end.chan[i] = NULL;
	}
}

static const struct xport_ops xport_mobj = {
	.name = "mobj", .prepare = mobj_prepare, .open = mobj_open,
	.send = mobj_send_zc, .recv = mobj_recv_zc, .stats = mobj_xstats,
	.close = mobj_xclose,
	.cleanup = mobj_cleanup,
};

static const struct xport_ops xport_mobj_copy = {
	.name = "mobj-copy", .prepare = mobj_prepare, .open = mobj_open,
	.send = mobj_send_copy, .recv = mobj_recv_copy, .close = mobj_xclose,
	.cleanup = mobj_cleanup,
};

static const struct xport_ops xport_mobj_rec = {
	.name = "mobj", .prepare = mobj_prepare, .open = mobj_open,
	.send = mobj_send_rec, .recv = mobj_recv_rec, .close = mobj_xclose,
	.cleanup = mobj_cleanup,
};

/* ---- The runs ------------------------------------------------------------- */

enum mode { TPUT, LATENCY, LATENCY_IDLE, SYSC_BUSY, SYSC_SLEEP };

/* The pause before each message in LATENCY_IDLE (and SYSC_SLEEP): long
 * enough for any spinning receiver to give up and sleep. */
#define IDLE_GAP_NS 200e3

struct ring_run {
	struct xport x;
	enum mode mode;
	int reps;		/* measured repetitions in this pair run */
	uint64_t lat_msgs, lat_warm;
};

/* What the ring cases hand back in pair->aux (the shared control page). */
struct ring_report {
	double msgs_per_rep[16];	/* syscalls: messages in each repetition */
	double consumer_syscalls[16];	/* syscalls: the consumer's count in each */
	double stats[2][4];		/* xport_ops.stats of the producer, consumer */
	double msgs_total;		/* every message, warm-up included */
	double lat_samples;		/* latency: samples in lat_shared */
	double by_strace;		/* syscalls: 1 when counted with strace */
};

_Static_assert(sizeof(struct ring_report) <= sizeof(((struct bh_pair *)0)->aux),
               "the ring report fits the pair's case-specific space");

static struct ring_report *report_of(struct bh_pair *pair)
{
	return (struct ring_report *)pair->aux;
}

static uint64_t initial_count(size_t msg)
{
	uint64_t c = (bh_opts.quick ? 4u << 20 : 16u << 20) / msg;

	return c < 16 ? 16 : c;
}

static bool counting(const struct ring_run *run)
{
	return run->mode == SYSC_BUSY || run->mode == SYSC_SLEEP;
}

static int open_counter(struct bh_pair *pair, struct syscount *sc)
{
	char why[160];
	int rc = syscount_open(sc, why, sizeof(why));

	if (rc < 0)
		bh_pair_fail(pair, rc, "%s", why);
	else
		report_of(pair)->by_strace = sc->use_strace;
	return rc;
}

/* A transport call's result; a failure fails the pair, naming the call. */
static int check(struct bh_pair *pair, const struct xport *x, const char *call, int rc)
{
	if (rc < 0)
		bh_pair_fail(pair, rc, "%s %s: %s", x->ops->name, call, strerror(-rc));
	return rc;
}

/* Let a waiting receiver fall asleep; spin, so this side makes no system
 * call of its own. */
static void idle_gap(void)
{
	double until = bh_now_ns() + IDLE_GAP_NS;

	while (bh_now_ns() < until)
		bh_relax();
}

/* Send @count messages (throughput: the bytes at once where the transport
 * has no messages). */
static int produce(struct bh_pair *pair, struct ring_run *run, const void *src,
                   uint64_t count)
{
	struct xport *x = &run->x;

	if (run->mode == TPUT && x->ops->send_bytes)
		return check(pair, x, "send", x->ops->send_bytes(x, src, count));
	for (uint64_t i = 0; i < count; i++) {
		if (check(pair, x, "send", x->ops->send(x, src)) < 0)
			return pair->err;
		if (run->mode == SYSC_SLEEP)
			idle_gap();
	}
	return 0;
}

static int consume(struct bh_pair *pair, struct ring_run *run, uint64_t count,
                   uint64_t *sum)
{
	struct xport *x = &run->x;
	uint64_t first;

	if (run->mode == TPUT && x->ops->recv_bytes)
		return check(pair, x, "recv", x->ops->recv_bytes(x, count, sum));
	for (uint64_t i = 0; i < count; i++)
		if (check(pair, x, "recv", x->ops->recv(x, &first, sum)) < 0)
			return pair->err;
	return 0;
}

/* Stop this side's count of the window; the calls, or -1 (pair failed). */
static double stop_counter(struct bh_pair *pair, struct syscount *sc)
{
	int64_t n = syscount_stop(sc);

	if (n < 0) {
		bh_pair_fail(pair, (int)n, "counting system calls: %s", strerror((int)-n));
		return -1;
	}
	return (double)n;
}

/* Meet the other side at the barrier that starts a repetition, with this
 * side's count of system calls armed before it and started after it. */
static int start_rep(struct bh_pair *pair, struct ring_run *run, struct syscount *sc,
                     uint32_t *sense)
{
	int rc;

	if (counting(run) && (rc = syscount_arm(sc)) < 0) {
		bh_pair_fail(pair, rc, "attaching strace: %s", strerror(-rc));
		return rc;
	}
	bh_pair_barrier(pair, sense);
	if (counting(run))
		syscount_start(sc);
	return 0;
}

static int tput_producer(struct bh_pair *pair, struct ring_run *run, uint32_t *sense)
{
	struct xport *x = &run->x;
	void *src = page_alloc(x->msg);
	uint64_t count = initial_count(x->msg);
	struct syscount sc;
	int reps = run->reps;

	if (!src)
		return -ENOMEM;
	bh_fill(src, x->msg, 1);
	if (counting(run)) {
		if (open_counter(pair, &sc) < 0)
			return pair->err;
		count = run->mode == SYSC_SLEEP ? (bh_opts.quick ? 200 : 1000) : count;
	}
	for (int k = -bh_opts.warmup; k < reps && !pair->err; k++) {
		double t0, dt, calls = 0;

		pair->count = count;
		report_of(pair)->msgs_total += (double)count;
		if (start_rep(pair, run, &sc, sense) < 0)
			break;
		t0 = bh_now_ns();
		if (produce(pair, run, src, count) < 0)
			break;
		if (counting(run) && (calls = stop_counter(pair, &sc)) < 0)
			break;
		bh_pair_barrier(pair, sense);
		dt = bh_now_ns() - t0;
		if (k < 0) {
			if (run->mode == SYSC_SLEEP)
				continue;
			double want = bh_opts.rep_ms * 1e6;
			double c = (double)count * want / (dt > 1 ? dt : 1);
			count = c < 16 ? 16 : c > 1e9 ? 1e9 : (uint64_t)c;
			continue;
		}
		if (run->mode == TPUT) {
			pair->samples[pair->nsamples++] = (double)count * (double)x->msg / dt * 1e3;
		} else {
			/* The consumer adds its count at the barrier. */
			pair->samples[pair->nsamples++] = calls;
			report_of(pair)->msgs_per_rep[k] = (double)count;
		}
	}
	if (counting(run))
		syscount_close(&sc);
	munmap(src, x->msg);
	return pair->err;
}

static int tput_consumer(struct bh_pair *pair, struct ring_run *run, uint32_t *sense)
{
	uint64_t sum = 0;
	struct syscount sc;
	int reps = run->reps;

	if (counting(run) && open_counter(pair, &sc) < 0)
		return pair->err;
	for (int k = -bh_opts.warmup; k < reps && !pair->err; k++) {
		double calls = 0;

		if (start_rep(pair, run, &sc, sense) < 0)
			break;
		if (consume(pair, run, pair->count, &sum) < 0)
			break;
		if (counting(run) && (calls = stop_counter(pair, &sc)) < 0)
			break;
		if (k >= 0)
			report_of(pair)->consumer_syscalls[k] = calls;
		bh_pair_barrier(pair, sense);
	}
	pair->checksum = sum;
	if (counting(run))
		syscount_close(&sc);
	return pair->err;
}

static int lat_producer(struct bh_pair *pair, struct ring_run *run, uint32_t *sense)
{
	struct xport *x = &run->x;
	void *src = page_alloc(x->msg);

	if (!src)
		return -ENOMEM;
	bh_fill(src, x->msg, 2);
	bh_pair_barrier(pair, sense);
	for (uint64_t i = 0; i < run->lat_msgs && !pair->err; i++) {
		uint64_t now = (uint64_t)bh_now_ns();

		memcpy(src, &now, sizeof(now));
		if (check(pair, x, "send", x->ops->send(x, src)) < 0)
			return pair->err;
		while (__atomic_load_n(&pair->acked, __ATOMIC_ACQUIRE) != i + 1) {
			bh_wait_pause();
			if (pair->err)
				return pair->err;
		}
		if (run->mode == LATENCY_IDLE)
			idle_gap();
	}
	bh_pair_barrier(pair, sense);
	munmap(src, x->msg);
	return pair->err;
}

/* Latency samples go here (a MAP_SHARED array made before fork), so runs
 * in several rounds can be pooled. */
static double *lat_shared;

static int lat_consumer(struct bh_pair *pair, struct ring_run *run, uint32_t *sense)
{
	struct xport *x = &run->x;
	uint64_t n = run->lat_msgs - run->lat_warm, sum = 0, first;
	double *lat = lat_shared;

	if (!lat)
		return -ENOMEM;
	bh_pair_barrier(pair, sense);
	for (uint64_t i = 0; i < run->lat_msgs; i++) {
		if (check(pair, x, "recv", x->ops->recv(x, &first, &sum)) < 0)
			return pair->err;
		double now = bh_now_ns();
		if (i >= run->lat_warm)
			lat[i - run->lat_warm] = now - (double)first;
		__atomic_store_n(&pair->acked, i + 1, __ATOMIC_RELEASE);
	}
	bh_pair_barrier(pair, sense);
	report_of(pair)->lat_samples = (double)n;
	pair->checksum = sum;
	return 0;
}

static int ring_side(struct bh_pair *pair, int side, void *arg)
{
	struct ring_run *run = arg;
	struct xport *x = &run->x;
	uint32_t sense = 0;
	int rc = x->ops->open(x, side);

	if (rc < 0) {
		bh_pair_fail(pair, rc, "%s: %s", x->note[0] ? x->note : "open",
		             strerror(-rc));
		return rc;
	}
	if (run->mode == LATENCY || run->mode == LATENCY_IDLE)
		rc = side ? lat_consumer(pair, run, &sense) : lat_producer(pair, run, &sense);
	else
		rc = side ? tput_consumer(pair, run, &sense) : tput_producer(pair, run, &sense);
	if (x->ops->stats)
		x->ops->stats(x, report_of(pair)->stats[side]);
	x->ops->close(x);
	return rc;
}

static uint64_t lat_round_msgs, lat_round_warm;

/* Run one transport between the two pinned processes, with a ring (pipe)
 * of @cap bytes (0: the default for @msg); returns the pair (the caller
 * frees it), or NULL with @why filled. */
static struct bh_pair *run_pair(const struct xport_ops *ops, size_t msg, size_t cap,
                                enum mode mode, int reps, char *why, size_t why_cap)
{
	struct ring_run run = { .mode = mode, .reps = reps };
	struct bh_pair *pair = NULL;
	int rc;

	run.x.ops = ops;
	run.x.msg = msg;
	run.x.cap = cap ? cap : ring_cap(msg);
	run.x.fd[0] = run.x.fd[1] = -1;
	run.lat_msgs = lat_round_msgs;
	run.lat_warm = lat_round_warm;
	rc = ops->prepare(&run.x);
	if (rc < 0) {
		snprintf(why, why_cap, "%s", run.x.note[0] ? run.x.note : strerror(-rc));
		return NULL;
	}
	rc = bh_pair_run(ring_side, &run, 300, &pair);
	if (ops->cleanup)
		ops->cleanup(&run.x);
	if (rc < 0) {
		snprintf(why, why_cap, "%s", pair && pair->note[0] ? pair->note : strerror(-rc));
		bh_pair_free(pair);
		return NULL;
	}
	return pair;
}

/* The ring's own counters over the pair runs of one result: messages,
 * then the producer's and the consumer's sleeps and wakes. */
struct tput_stats {
	double msgs, psleeps, pwakes, csleeps, cwakes;
};

/* One pair run of @reps repetitions, appended to @a (and its ring
 * counters to @st, for impls that have them). */
static void tput_round(struct bh_pool *a, struct tput_stats *st,
                       const struct xport_ops *ops, size_t msg, size_t cap, int reps)
{
	struct bh_pair *pair;

	if (a->why[0])
		return;
	pair = run_pair(ops, msg, cap, TPUT, reps, a->why, sizeof(a->why));
	if (!pair)
		return;
	bh_pool_add(a, pair);
	if (ops->stats) {
		const struct ring_report *r = report_of(pair);

		st->msgs += r->msgs_total;
		st->psleeps += r->stats[0][0];
		st->pwakes += r->stats[0][1];
		st->csleeps += r->stats[1][0];
		st->cwakes += r->stats[1][1];
	}
	bh_pair_free(pair);
}

/* Record pool @a, with the ring's sleeps and wakes per message as the
 * row's detail: where a ring waits differently from busy-polling
 * references (bare, limit), this is the difference. */
static void tput_record(struct bh_pool *a, const struct tput_stats *st,
                        const char *group, const char *case_name, const char *impl,
                        size_t key)
{
	double med = bh_pool_record(a, group, case_name, impl, key, "MB/s", BH_RATE, 2);

	if (!isnan(med) && st->msgs > 0)
		bh_detail("ring stats/msg: producer %.3g sleeps %.3g wakes, "
		          "consumer %.3g sleeps %.3g wakes",
		          st->psleeps / st->msgs, st->pwakes / st->msgs,
		          st->csleeps / st->msgs, st->cwakes / st->msgs);
}

/* A point of a throughput sweep: messages of @msg bytes through a ring of
 * @cap (0: the default), recorded as size @key. */
struct sweep_point {
	size_t msg, cap, key;
};

static void tput_sweep(const char *group, const char *case_name,
                       const struct xport_case *impls, size_t nimpl,
                       const struct sweep_point *pts, size_t npts, int rounds)
{
	struct bh_pool *pools = calloc(nimpl * npts, sizeof(*pools));
	struct tput_stats *stats = calloc(nimpl * npts, sizeof(*stats));
	int per = (bh_opts.reps + rounds - 1) / rounds;

	if (!pools || !stats) {
		free(pools);
		free(stats);
		for (size_t i = 0; i < nimpl; i++)
			bh_note(group, case_name, impls[i].impl, 0, "MB/s", "out of memory");
		return;
	}
	for (size_t p = 0; p < npts; p++)
		for (size_t i = 0; i < nimpl; i++)
			if (impls[i].skip)
				snprintf(pools[p * nimpl + i].why, sizeof(pools[0].why), "%s",
				         impls[i].skip);
	for (int round = 0; round < rounds; round++)
		for (size_t p = 0; p < npts; p++)
			for (size_t i = 0; i < nimpl; i++) {
				if (!bh_want(case_name, impls[i].impl))
					continue;
				bh_progress("%s/%s size %zu (round %d/%d)", case_name,
				            impls[i].impl, pts[p].key, round + 1, rounds);
				tput_round(&pools[p * nimpl + i], &stats[p * nimpl + i],
				           impls[i].ops, pts[p].msg, pts[p].cap, per);
			}
	for (size_t p = 0; p < npts; p++)
		for (size_t i = 0; i < nimpl; i++)
			if (bh_want(case_name, impls[i].impl))
				tput_record(&pools[p * nimpl + i], &stats[p * nimpl + i],
				            group, case_name, impls[i].impl, pts[p].key);
	free(pools);
	free(stats);
}

void xport_tput_sweep(const char *group, const char *case_name,
                      const struct xport_case *impls, size_t nimpl,
                      const size_t *sizes, size_t nsizes)
{
	struct sweep_point pts[16];

	if (nsizes > 16)
		nsizes = 16;
	for (size_t s = 0; s < nsizes; s++)
		pts[s] = (struct sweep_point){ sizes[s], 0, sizes[s] };
	tput_sweep(group, case_name, impls, nimpl, pts, nsizes, bh_rounds(5, 2));
}

/* ring.capacity.<msg>: throughput at one message size against the ring's
 * capacity (the row's size), 64 KiB .. 16 MiB. */
static void capacity_sweep(const char *case_name, size_t msg,
                           const struct xport_case *impls, size_t nimpl)
{
	struct sweep_point pts[16];
	size_t n = 0;

	for (size_t cap = 64u << 10; cap <= (16u << 20); cap *= 2)
		if (cap >= 4 * msg)
			pts[n++] = (struct sweep_point){ msg, cap, cap };
	tput_sweep("ring", case_name, impls, nimpl, pts, n, bh_rounds(3, 1));
}

/* Messages measured per transport (after warm-up), over all rounds. */
static size_t lat_total(bool idle)
{
	if (idle)
		return bh_opts.quick ? 400 : 2000;
	return bh_opts.quick ? 2500 : 18000;
}

static void latency_round(struct bh_pool *a, const struct xport_ops *ops, bool idle,
                          int rounds)
{
	struct bh_pair *pair;

	if (a->why[0])
		return;
	lat_round_warm = idle ? 50 : (bh_opts.quick ? 500 : 700);
	lat_round_msgs = lat_round_warm + lat_total(idle) / (size_t)rounds;
	pair = run_pair(ops, 64, 0, idle ? LATENCY_IDLE : LATENCY, 1, a->why,
	                sizeof(a->why));
	if (!pair)
		return;
	bh_pool_add_samples(a, lat_shared, (int)report_of(pair)->lat_samples,
	                    pair->rtt_ns);
	bh_pair_free(pair);
}

static void syscalls_case(const struct xport_ops *ops, const char *impl,
                          enum mode mode)
{
	struct bh_pair *pair;
	struct ring_report *report;
	double s[32];
	char why[200];
	int n;

	if (!bh_want("ring.syscalls", impl))
		return;
	bh_progress("ring.syscalls/%s", impl);
	pair = run_pair(ops, 64, 0, mode, bh_opts.reps < 16 ? bh_opts.reps : 16, why,
	                sizeof(why));
	if (!pair) {
		bh_note("ring", "ring.syscalls", impl, 64, "syscalls/msg", "%s", why);
		return;
	}
	report = report_of(pair);
	n = pair->nsamples;
	for (int k = 0; k < n; k++)
		s[k] = (pair->samples[k] + report->consumer_syscalls[k]) /
		       report->msgs_per_rep[k];
	bh_result("ring", "ring.syscalls", impl, 64, "syscalls/msg", BH_COUNT, 2, s,
	          n, false);
	if (ops->stats && report->msgs_total > 0) {
		/* The ring's own counters, over every message of the run. */
		const double *p = report->stats[0], *c = report->stats[1];
		double m = report->msgs_total;

		bh_detail("%s; ring stats/msg: producer %.3g sleeps %.3g wakes %.3g "
		          "checks, consumer %.3g sleeps %.3g wakes %.3g checks",
		          report->by_strace ? "strace" : "perf",
		          p[0] / m, p[1] / m, p[2] / m, c[0] / m, c[1] / m, c[2] / m);
	} else {
		bh_detail("%s", report->by_strace ? "strace" : "perf");
	}
	bh_pair_free(pair);
}

/* ---- The cases ------------------------------------------------------------ */

/* The transports of ring.throughput and ring.latency.oneway. */
struct ring_peer {
	const char *impl;
	const struct xport_ops *ops;	/* NULL: not in this build */
	bool needs_roudi;
	bool latency;	/* in ring.latency.oneway */
	bool idle;	/* and after an idle gap: only where a wait can sleep */
};

#ifdef HAVE_ICEORYX
#define IF_ICEORYX(ops) (&(ops))
#else
#define IF_ICEORYX(ops) NULL
#endif

static const struct ring_peer peers[] = {
	{ "mobj", &xport_mobj, false, true, true },
	{ "mobj-copy", &xport_mobj_copy, false, false, false },
	{ "bare", &xport_bare, false, true, false },
	{ "limit", &xport_limit, false, true, false },
	{ "pipe", &xport_pipe, false, true, true },
	{ "unix", &xport_unix, false, true, true },
	{ "spa", &xport_spa, false, true, true },
	{ "iceoryx", IF_ICEORYX(xport_iceoryx), true, true, true },
	{ "iceoryx-block", IF_ICEORYX(xport_iceoryx_block), true, true, false },
};

#define NPEERS (sizeof(peers) / sizeof(peers[0]))

/* Why a peer cannot run (NULL: it can). */
static const char *roudi_why;

static const char *peer_skip(const struct ring_peer *p)
{
	if (!p->ops)
		return "not built: iceoryx C binding not found at build time";
	return p->needs_roudi ? roudi_why : NULL;
}

static bool want_roudi(void)
{
	bool want = bh_want("ring.syscalls", "iceoryx-busy") ||
	            bh_want("ring.syscalls", "iceoryx-sleep");

	for (size_t i = 0; i < NPEERS; i++) {
		char idle[40];

		if (!peers[i].needs_roudi || !peers[i].ops)
			continue;
		snprintf(idle, sizeof(idle), "%s-idle", peers[i].impl);
		want |= bh_want("ring.throughput", peers[i].impl) ||
		        bh_want("ring.latency.oneway", peers[i].impl) ||
		        (peers[i].idle && bh_want("ring.latency.oneway", idle));
	}
	return want;
}

/* Throughput in rounds: every transport and size gets a share of the
 * repetitions in each round, so a spell of noise from other work on these
 * cores falls on all of them alike, not on whichever ran then. */
static void throughput_case(void)
{
	struct xport_case cases[NPEERS];

	for (size_t i = 0; i < NPEERS; i++)
		cases[i] = (struct xport_case){ peers[i].impl, peers[i].ops,
		                                peer_skip(&peers[i]) };
	xport_tput_sweep("ring", "ring.throughput", cases, NPEERS, tput_sizes,
	                 sizeof(tput_sizes) / sizeof(tput_sizes[0]));
}

/* Latency twice: messages back to back (a receiver that waits spins for
 * the next one), then after an idle gap (it has gone to sleep). In
 * interleaved rounds too, pooled. */
static void latency_case(void)
{
	static char names[2][NPEERS][40];
	static struct bh_pool lat_pools[2][NPEERS];
	int rounds = bh_rounds(9, 3);
	bool want[2][NPEERS];

	memset(lat_pools, 0, sizeof(lat_pools));
	lat_shared = mmap(NULL, lat_total(false) * sizeof(double),
	                  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (int idle = 0; idle < 2; idle++)
		for (size_t i = 0; i < NPEERS; i++) {
			const struct ring_peer *p = &peers[i];
			const char *skip = peer_skip(p);
			struct bh_pool *pool = &lat_pools[idle][i];

			snprintf(names[idle][i], sizeof(names[idle][i]), "%s%s", p->impl,
			         idle ? "-idle" : "");
			want[idle][i] = (idle ? p->idle : p->latency) &&
			                bh_want("ring.latency.oneway", names[idle][i]);
			if (!want[idle][i])
				continue;
			if (lat_shared == MAP_FAILED)
				snprintf(pool->why, sizeof(pool->why), "out of memory");
			else if (skip)
				snprintf(pool->why, sizeof(pool->why), "%s", skip);
		}
	for (int round = 0; round < rounds; round++)
		for (int idle = 0; idle < 2; idle++)
			for (size_t i = 0; i < NPEERS; i++) {
				if (!want[idle][i])
					continue;
				bh_progress("ring.latency.oneway/%s (round %d/%d)",
				            names[idle][i], round + 1, rounds);
				latency_round(&lat_pools[idle][i], peers[i].ops, idle, rounds);
			}
	for (int idle = 0; idle < 2; idle++)
		for (size_t i = 0; i < NPEERS; i++)
			if (want[idle][i])
				bh_pool_record(&lat_pools[idle][i], "ring", "ring.latency.oneway",
				               names[idle][i], 64, "ns", BH_TIME, 2);
	if (lat_shared != MAP_FAILED)
		munmap(lat_shared, lat_total(false) * sizeof(double));
	lat_shared = NULL;
}

/* Both sides busy (-busy) and a 200 us pause before each message
 * (-sleep), for every transport that can sleep; bare never sleeps, so it
 * has no -sleep row. */
static void syscalls_cases(void)
{
	static const struct { const char *impl; const struct xport_ops *ops; } busy[] = {
		{ "mobj", &xport_mobj }, { "spa", &xport_spa }, { "pipe", &xport_pipe },
		{ "unix", &xport_unix }, { "bare", &xport_bare },
		{ "iceoryx", IF_ICEORYX(xport_iceoryx) },
	};

	_Static_assert(2 * sizeof(busy) / sizeof(busy[0]) <= 12, "a name per row");

	for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
		for (int sleep = 0; sleep < 2; sleep++) {
			static char names[12][40];	/* the rows keep them */
			char *name = names[2 * i + (size_t)sleep];
			const char *skip;

			if (sleep && busy[i].ops == &xport_bare)
				continue;
			snprintf(name, sizeof(names[0]), "%s-%s", busy[i].impl,
			         sleep ? "sleep" : "busy");
			if (!bh_want("ring.syscalls", name))
				continue;
			skip = !busy[i].ops ? "not built: iceoryx C binding not found "
			       "at build time" : !strcmp(busy[i].impl, "iceoryx") ? roudi_why : NULL;
			if (skip)
				bh_note("ring", "ring.syscalls", name, 64, "syscalls/msg", "%s", skip);
			else
				syscalls_case(busy[i].ops, name, sleep ? SYSC_SLEEP : SYSC_BUSY);
		}
}

void bench_ring(void)
{
	static const size_t inplace_sizes[] = { 1000, 16000, 100000 };
	static char why[200];
	bool roudi = want_roudi();

	roudi_why = NULL;
#ifdef HAVE_ICEORYX
	if (roudi) {
		bh_progress("starting iox-roudi");
		if (iox_start(why, sizeof(why)) < 0)
			roudi_why = why;
	}
#endif
	throughput_case();
	latency_case();
	syscalls_cases();
#ifdef HAVE_ICEORYX
	if (roudi)
		iox_stop();
#endif
	{
		const struct xport_case cases[] = {
			{ "mobj", &xport_mobj, NULL },
			{ "spa", &xport_spa, NULL },
			{ "bare", &xport_bare, NULL },
			{ "limit", &xport_limit, NULL },
		};

		capacity_sweep("ring.capacity.1K", 1024, cases, 4);
		capacity_sweep("ring.capacity.64K", 65536, cases, 4);
	}
	{
		const struct xport_case cases[] = {
			{ "mobj", &xport_mobj_rec, NULL },
			{ "split", &xport_split, NULL },
		};

		xport_tput_sweep("ring", "ring.inplace", cases, 2, inplace_sizes,
		                 sizeof(inplace_sizes) / sizeof(inplace_sizes[0]));
	}
}
