/*
 * ring.*: moving messages from a producer process (cpu[0]) to a consumer
 * process (cpu[1]), against what one would use instead.
 *
 *   ring.throughput      MB/s for 64 B .. 1 MiB messages
 *   ring.latency.oneway  64 B, send timestamp to receive, ns (p50, p99);
 *                        the next message goes as soon as the previous one
 *                        was received; the "-idle" impls wait 200 us
 *                        first, so a receiver that spins has gone to sleep
 *   ring.inplace         records of odd sizes checksummed in place, MB/s
 *   ring.syscalls        system calls per message (perf tracepoint count)
 *
 * Transports (ring_impl.h has the per-message contract):
 *   mobj       mobj ring, zero copy: reserve + memcpy + commit; peek + sum in
 *              place + consume
 *   mobj-copy  mobj ring, mobj_ring_write / mobj_ring_read into a buffer
 *   memcpy     one core copying src to dst: the limit, no second process
 *   pipe       pipe(2), F_SETPIPE_SZ to the ring capacity (max 1 MiB)
 *   unix       AF_UNIX SOCK_STREAM socketpair, default buffers
 *   spa        PipeWire's spa_ringbuffer (two u32 indices) over a shared
 *              mapping, data moved with spa_ringbuffer_write_data/read_data
 *              (the split copy at the wrap); the consumer copies out, as
 *              that API does. Waiting: the mobj scheme, so wake costs are
 *              comparable: spin SPIN_ITERS pauses (as many as the mobj
 *              ring), then publish "I sleep" and futex-wait on the other
 *              side's index word; the other side futex-wakes only when it
 *              sees that flag (seq_cst fences on both sides, so no wake-up
 *              is lost).
 *   iceoryx    bench_iox.c
 *
 * Every transport has the same capacity: max(256 KiB, 4 messages), a power
 * of two.
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
#include <linux/perf_event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* As the mobj ring (SPINS in src/ring.c), so both wait alike. */
#define SPIN_ITERS 256

static const size_t tput_sizes[] = { 64, 1024, 65536, 1048576 };

static size_t ring_cap(size_t msg)
{
	size_t cap = 256 * 1024;

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

struct spa_shared {
	struct spa_ringbuffer rb;		/* PipeWire's layout: two u32 */
	_Alignas(64) uint32_t cons_sleeps;	/* consumer waits on rb.writeindex */
	_Alignas(64) uint32_t prod_sleeps;	/* producer waits on rb.readindex */
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
 * first, then sleeping with the flag @sleeps raised; the word is re-checked
 * after the flag is up, and futex_wait re-checks it atomically. The caller
 * loops until its condition holds. */
static void spa_wait(uint32_t *word, uint32_t seen, uint32_t *sleeps)
{
	for (int i = 0; i < SPIN_ITERS; i++) {
		if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != seen)
			return;
		bh_relax();
	}
	__atomic_store_n(sleeps, 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == seen)
		futex(word, FUTEX_WAIT, seen);
	__atomic_store_n(sleeps, 0, __ATOMIC_RELAXED);
}

static void spa_wake(uint32_t *word, uint32_t *sleeps)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(sleeps, __ATOMIC_SEQ_CST))
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
		spa_wait(&s->rb.readindex, idx - (uint32_t)filled, &s->prod_sleeps);
	}
	spa_ringbuffer_write_data(&s->rb, spa_data(x), size, idx & (size - 1), src,
	                          (uint32_t)x->msg);
	spa_ringbuffer_write_update(&s->rb, (int32_t)(idx + (uint32_t)x->msg));
	spa_wake(&s->rb.writeindex, &s->cons_sleeps);
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
		spa_wait(&s->rb.writeindex, *idx + (uint32_t)avail, &s->cons_sleeps);
	}
}

static void spa_done(struct xport *x, uint32_t idx)
{
	struct spa_shared *s = x->shm;

	spa_ringbuffer_read_update(&s->rb, (int32_t)(idx + (uint32_t)x->msg));
	spa_wake(&s->rb.readindex, &s->prod_sleeps);
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

/* A counter of this process's system calls (the raw_syscalls:sys_enter
 * tracepoint), or -errno when perf events are not allowed here. */
static int syscall_counter(void)
{
	struct perf_event_attr a;
	char buf[32];
	FILE *f;
	long id;

	f = fopen("/sys/kernel/tracing/events/raw_syscalls/sys_enter/id", "r");
	if (!f)
		f = fopen("/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id", "r");
	if (!f)
		return -ENOENT;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	id = strtol(buf, NULL, 10);
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = (uint64_t)id;
	a.disabled = 1;
	int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void count_start(int counter)
{
	if (counter >= 0) {
		ioctl(counter, PERF_EVENT_IOC_RESET, 0);
		ioctl(counter, PERF_EVENT_IOC_ENABLE, 0);
	}
}

static uint64_t count_stop(int counter)
{
	uint64_t n = 0;

	if (counter >= 0) {
		ioctl(counter, PERF_EVENT_IOC_DISABLE, 0);
		if (read(counter, &n, sizeof(n)) != sizeof(n))
			n = 0;
	}
	return n;
}

/* What the ring cases hand back in pair->aux (the shared control page). */
struct ring_report {
	double msgs_per_rep[16];	/* syscalls: messages in each repetition */
	double consumer_syscalls[16];	/* syscalls: the consumer's count in each */
	double stats[2][4];		/* xport_ops.stats of the producer, consumer */
	double msgs_total;		/* every message, warm-up included */
	double lat_samples;		/* latency: samples in lat_shared */
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

static int tput_producer(struct bh_pair *pair, struct ring_run *run, uint32_t *sense)
{
	struct xport *x = &run->x;
	void *src = page_alloc(x->msg);
	uint64_t count = initial_count(x->msg);
	int reps = run->reps;
	int counter = -1, rc = 0;

	if (!src)
		return -ENOMEM;
	bh_fill(src, x->msg, 1);
	if (run->mode != TPUT) {
		counter = syscall_counter();
		if (counter < 0) {
			bh_pair_fail(pair, counter, "perf_event_open(raw_syscalls:sys_enter): %s",
			             strerror(-counter));
			return counter;
		}
		count = run->mode == SYSC_SLEEP ? (bh_opts.quick ? 200 : 1000) : count;
	}
	for (int k = -bh_opts.warmup; k < reps && !pair->err; k++) {
		double t0, dt;
		uint64_t syscalls = 0;

		pair->count = count;
		report_of(pair)->msgs_total += (double)count;
		bh_pair_barrier(pair, sense);
		count_start(counter);
		t0 = bh_now_ns();
		for (uint64_t i = 0; i < count; i++) {
			if ((rc = x->ops->send(x, src)) < 0) {
				bh_pair_fail(pair, rc, "%s send: %s", x->ops->name, strerror(-rc));
				return rc;
			}
			if (run->mode == SYSC_SLEEP) {
				/* Let the consumer fall asleep; spin, so this
				 * side makes no system call of its own. */
				double until = bh_now_ns() + IDLE_GAP_NS;
				while (bh_now_ns() < until)
					bh_relax();
			}
		}
		syscalls = count_stop(counter);
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
			pair->samples[pair->nsamples++] = (double)syscalls;
			report_of(pair)->msgs_per_rep[k] = (double)count;
		}
	}
	if (counter >= 0)
		close(counter);
	return pair->err;
}

static int tput_consumer(struct bh_pair *pair, struct ring_run *run, uint32_t *sense)
{
	struct xport *x = &run->x;
	uint64_t sum = 0, first;
	int reps = run->reps;
	int counter = -1, rc;

	if (run->mode != TPUT) {
		counter = syscall_counter();
		if (counter < 0) {
			bh_pair_fail(pair, counter, "perf_event_open: %s", strerror(-counter));
			return counter;
		}
	}
	for (int k = -bh_opts.warmup; k < reps && !pair->err; k++) {
		uint64_t count, syscalls = 0;

		bh_pair_barrier(pair, sense);
		count = pair->count;
		count_start(counter);
		for (uint64_t i = 0; i < count; i++) {
			if ((rc = x->ops->recv(x, &first, &sum)) < 0) {
				bh_pair_fail(pair, rc, "%s recv: %s", x->ops->name, strerror(-rc));
				return rc;
			}
		}
		syscalls = count_stop(counter);
		if (counter >= 0 && k >= 0)
			report_of(pair)->consumer_syscalls[k] = (double)syscalls;
		bh_pair_barrier(pair, sense);
	}
	pair->checksum = sum;
	if (counter >= 0)
		close(counter);
	return pair->err;
}

static int lat_producer(struct bh_pair *pair, struct ring_run *run, uint32_t *sense)
{
	struct xport *x = &run->x;
	void *src = page_alloc(x->msg);
	int rc;

	if (!src)
		return -ENOMEM;
	bh_fill(src, x->msg, 2);
	bh_pair_barrier(pair, sense);
	for (uint64_t i = 0; i < run->lat_msgs && !pair->err; i++) {
		uint64_t now = (uint64_t)bh_now_ns();

		memcpy(src, &now, sizeof(now));
		if ((rc = x->ops->send(x, src)) < 0) {
			bh_pair_fail(pair, rc, "%s send: %s", x->ops->name, strerror(-rc));
			return rc;
		}
		while (__atomic_load_n(&pair->acked, __ATOMIC_ACQUIRE) != i + 1) {
			bh_wait_pause();
			if (pair->err)
				return pair->err;
		}
		if (run->mode == LATENCY_IDLE) {
			double until = bh_now_ns() + IDLE_GAP_NS;
			while (bh_now_ns() < until)
				bh_relax();
		}
	}
	bh_pair_barrier(pair, sense);
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
	int rc;

	if (!lat)
		return -ENOMEM;
	bh_pair_barrier(pair, sense);
	for (uint64_t i = 0; i < run->lat_msgs; i++) {
		if ((rc = x->ops->recv(x, &first, &sum)) < 0) {
			bh_pair_fail(pair, rc, "%s recv: %s", x->ops->name, strerror(-rc));
			return rc;
		}
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

/* Run one transport between the two pinned processes; returns the pair
 * (the caller frees it), or NULL with @why filled. */
static struct bh_pair *run_pair(const struct xport_ops *ops, size_t msg,
                                enum mode mode, int reps, char *why, size_t why_cap)
{
	struct ring_run run = { .mode = mode, .reps = reps };
	struct bh_pair *pair = NULL;
	int rc;

	run.x.ops = ops;
	run.x.msg = msg;
	run.x.cap = ring_cap(msg);
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

/* One core copying; appends @reps MB/s samples to @s. */
static int memcpy_tput(size_t msg, int reps, double *s)
{
	char *src = page_alloc(msg), *dst = page_alloc(msg);
	uint64_t count = initial_count(msg);
	int n = 0;

	if (!src || !dst)
		return -ENOMEM;
	bh_pin(bh_opts.cpu[0]);
	bh_fill(src, msg, 3);
	for (int k = -bh_opts.warmup; k < reps; k++) {
		double t0 = bh_now_ns(), dt;

		for (uint64_t i = 0; i < count; i++) {
			memcpy(dst, src, msg);
			/* Keep the copy: the compiler must not drop it. */
			__asm__ volatile("" : : "r"(dst) : "memory");
		}
		dt = bh_now_ns() - t0;
		if (k < 0) {
			double c = (double)count * bh_opts.rep_ms * 1e6 / dt;
			count = c < 16 ? 16 : (uint64_t)c;
			continue;
		}
		s[n++] = (double)count * (double)msg / dt * 1e3;
	}
	munmap(src, msg);
	munmap(dst, msg);
	return n;
}

/* One pair run of @reps repetitions, appended to @a. */
static void tput_round(struct bh_pool *a, const struct xport_ops *ops, size_t msg, int reps)
{
	struct bh_pair *pair;

	if (a->why[0])
		return;
	if (!ops) {
		double v[64];
		int n = memcpy_tput(msg, reps < 64 ? reps : 64, v);
		if (n < 0)
			snprintf(a->why, sizeof(a->why), "%s", strerror(-n));
		else
			bh_pool_add_samples(a, v, n, NAN);
		return;
	}
	pair = run_pair(ops, msg, TPUT, reps, a->why, sizeof(a->why));
	if (!pair)
		return;
	bh_pool_add(a, pair);
	bh_pair_free(pair);
}

static void tput_record(const char *group, const char *case_name, const char *impl,
                        size_t msg, struct bh_pool *a, bool two)
{
	bh_pool_record(a, group, case_name, impl, msg, "MB/s", BH_RATE, two ? 2 : 1);
}

void xport_tput_sweep(const char *group, const char *case_name,
                      const struct xport_case *impls, size_t nimpl,
                      const size_t *sizes, size_t nsizes)
{
	static struct bh_pool pools[8][8];
	int rounds = bh_rounds(5, 2);
	int per = (bh_opts.reps + rounds - 1) / rounds;

	if (nimpl > 8 || nsizes > 8)
		return;
	memset(pools, 0, sizeof(pools));
	for (size_t s = 0; s < nsizes; s++)
		for (size_t i = 0; i < nimpl; i++)
			if (impls[i].skip)
				snprintf(pools[s][i].why, sizeof(pools[s][i].why), "%s", impls[i].skip);
	for (int round = 0; round < rounds; round++)
		for (size_t s = 0; s < nsizes; s++)
			for (size_t i = 0; i < nimpl; i++) {
				if (!bh_want(case_name, impls[i].impl) || pools[s][i].why[0])
					continue;
				bh_progress("%s/%s size %zu (round %d/%d)", case_name,
				            impls[i].impl, sizes[s], round + 1, rounds);
				tput_round(&pools[s][i], impls[i].ops, sizes[s], per);
			}
	for (size_t s = 0; s < nsizes; s++)
		for (size_t i = 0; i < nimpl; i++)
			if (bh_want(case_name, impls[i].impl))
				tput_record(group, case_name, impls[i].impl, sizes[s],
				            &pools[s][i], impls[i].ops != NULL);
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
	pair = run_pair(ops, 64, idle ? LATENCY_IDLE : LATENCY, 1, a->why, sizeof(a->why));
	if (!pair)
		return;
	bh_pool_add_samples(a, lat_shared, (int)report_of(pair)->lat_samples, pair->rtt_ns);
	bh_pair_free(pair);
}

static void latency_record(const char *impl, struct bh_pool *a)
{
	bh_pool_record(a, "ring", "ring.latency.oneway", impl, 64, "ns", BH_TIME, 2);
}

static void syscalls_case(const struct xport_ops *ops, const char *impl,
                          enum mode mode)
{
	struct bh_pair *pair;
	struct ring_report *report;
	double s[32];
	char why[200];
	int n;

	bh_progress("ring.syscalls/%s", impl);
	pair = run_pair(ops, 64, mode, bh_opts.reps < 16 ? bh_opts.reps : 16, why,
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

		bh_detail("ring stats/msg: producer %.3g sleeps %.3g wakes %.3g checks, "
		          "consumer %.3g sleeps %.3g wakes %.3g checks",
		          p[0] / m, p[1] / m, p[2] / m, c[0] / m, c[1] / m, c[2] / m);
	}
	bh_pair_free(pair);
}

struct ring_peer {
	const char *impl;
	const struct xport_ops *ops;	/* NULL: memcpy */
	bool iox;
};

void bench_ring(void)
{
	static const size_t inplace_sizes[] = { 1000, 16000, 100000 };
	const struct ring_peer impls[] = {
		{ "mobj", &xport_mobj, false },
		{ "mobj-copy", &xport_mobj_copy, false },
		{ "memcpy", NULL, false },
		{ "pipe", &xport_pipe, false },
		{ "unix", &xport_unix, false },
		{ "spa", &xport_spa, false },
#ifdef HAVE_ICEORYX
		{ "iceoryx", &xport_iceoryx, true },
#else
		{ "iceoryx", NULL, true },
#endif
	};
	const size_t nimpl = sizeof(impls) / sizeof(impls[0]);
	bool want_iox = false;
	char why[200] = "";
	int iox_rc = 0;

	for (size_t i = 0; i < nimpl; i++) {
		char idle[32];

		snprintf(idle, sizeof(idle), "%s-idle", impls[i].impl);
		if (impls[i].iox)
			want_iox = bh_want("ring.throughput", impls[i].impl) ||
			           bh_want("ring.latency.oneway", impls[i].impl) ||
			           bh_want("ring.latency.oneway", idle);
	}
#ifdef HAVE_ICEORYX
	if (want_iox) {
		bh_progress("starting iox-roudi");
		iox_rc = iox_start(why, sizeof(why));
	}
#else
	iox_rc = -ENOSYS;
	snprintf(why, sizeof(why), "not built: iceoryx C binding not found at build time");
#endif

	/* Throughput in rounds: every transport and size gets a share of the
	 * repetitions in each round, so a spell of noise from other work on
	 * these cores falls on all of them alike, not on whichever ran then. */
	{
		struct xport_case cases[8];

		for (size_t i = 0; i < nimpl; i++)
			cases[i] = (struct xport_case){
				impls[i].impl, impls[i].ops,
				impls[i].iox && iox_rc < 0 ? why : NULL };
		xport_tput_sweep("ring", "ring.throughput", cases, nimpl, tput_sizes,
		                 sizeof(tput_sizes) / sizeof(tput_sizes[0]));
	}
	/* Latency twice: messages back to back (a receiver that waits spins
	 * for the next one), then after an idle gap (it has gone to sleep).
	 * In interleaved rounds too, pooled. */
	{
		static char idle_name[8][32];
		static struct bh_pool lat_pools[2][8];
		int rounds = bh_rounds(9, 3);
		bool want[2][8];

		memset(lat_pools, 0, sizeof(lat_pools));
		lat_shared = mmap(NULL, lat_total(false) * sizeof(double),
		                  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		for (int idle = 0; idle < 2; idle++)
			for (size_t i = 0; i < nimpl; i++) {
				const struct ring_peer *t = &impls[i];

				snprintf(idle_name[i], sizeof(idle_name[i]), "%s-idle", t->impl);
				want[idle][i] = (t->ops || t->iox) && strcmp(t->impl, "mobj-copy") &&
				                bh_want("ring.latency.oneway",
				                        idle ? idle_name[i] : t->impl);
				if (!want[idle][i])
					continue;
				if (lat_shared == MAP_FAILED)
					snprintf(lat_pools[idle][i].why, sizeof(lat_pools[idle][i].why),
					         "out of memory");
				else if (t->iox && iox_rc < 0)
					snprintf(lat_pools[idle][i].why, sizeof(lat_pools[idle][i].why), "%s", why);
			}
		for (int round = 0; round < rounds; round++)
			for (int idle = 0; idle < 2; idle++)
				for (size_t i = 0; i < nimpl; i++) {
					if (!want[idle][i])
						continue;
					bh_progress("ring.latency.oneway/%s (round %d/%d)",
					            idle ? idle_name[i] : impls[i].impl, round + 1, rounds);
					latency_round(&lat_pools[idle][i], impls[i].ops, idle, rounds);
				}
		for (int idle = 0; idle < 2; idle++)
			for (size_t i = 0; i < nimpl; i++) {
				if (!want[idle][i])
					continue;
				latency_record(idle ? idle_name[i] : impls[i].impl, &lat_pools[idle][i]);
			}
		if (lat_shared != MAP_FAILED)
			munmap(lat_shared, lat_total(false) * sizeof(double));
		lat_shared = NULL;
	}
#ifdef HAVE_ICEORYX
	if (want_iox)
		iox_stop();
#endif

	{
		const struct xport_case cases[] = {
			{ "mobj", &xport_mobj_rec, NULL },
			{ "split", &xport_split, NULL },
		};

		xport_tput_sweep("ring", "ring.inplace", cases, 2, inplace_sizes,
		                 sizeof(inplace_sizes) / sizeof(inplace_sizes[0]));
	}

	if (bh_want("ring.syscalls", "mobj-busy"))
		syscalls_case(&xport_mobj, "mobj-busy", SYSC_BUSY);
	if (bh_want("ring.syscalls", "mobj-sleep"))
		syscalls_case(&xport_mobj, "mobj-sleep", SYSC_SLEEP);
	if (bh_want("ring.syscalls", "spa-busy"))
		syscalls_case(&xport_spa, "spa-busy", SYSC_BUSY);
	if (bh_want("ring.syscalls", "spa-sleep"))
		syscalls_case(&xport_spa, "spa-sleep", SYSC_SLEEP);
	if (bh_want("ring.syscalls", "pipe-busy"))
		syscalls_case(&xport_pipe, "pipe-busy", SYSC_BUSY);
	if (bh_want("ring.syscalls", "pipe-sleep"))
		syscalls_case(&xport_pipe, "pipe-sleep", SYSC_SLEEP);
}
