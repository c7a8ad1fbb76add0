/*
 * ring.fanout: one producer process, N = 1, 2, 4 consumer processes, each
 * consumer receiving every message (64 B .. 1 MiB) and reading every cache
 * line of it in place.
 *
 *   mobj-1:N   one 1:N ring (mobj_ring_create_multi, blocking mode): the
 *              producer writes each message once (reserve, memcpy, commit)
 *   mobj-1:N+b the same with the producer batching (mobj_ring_set_batch,
 *              BATCH bytes): it publishes its tail at the batch size, or
 *              at once when a consumer waits or spins
 *   mobj-Nx1   N SPSC mobj rings fed by the one producer: each message is
 *              written N times, once into each ring
 *   iox-1:N    iceoryx publish/subscribe (bench_iox.c's transport: loan,
 *              memcpy, publish; take, read in place, release), N
 *              subscribers, nothing dropped (WAIT_FOR_CONSUMER,
 *              BLOCK_PRODUCER); its subscribers read every byte (bh_sum)
 *
 * Results per impl and size: ring.fanout (MB/s each consumer receives,
 * median over consumers and repetitions) and ring.fanout.producer (the
 * producer's CPU time per message, ns: what feeding N readers costs it).
 * The producer runs on cpu[0], every consumer on cpu[1]: on a 2-vCPU
 * machine the N consumers share one core, so per-consumer throughput falls
 * with N by construction; the comparison between impls at the same N is
 * what is meaningful.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ring_impl.h"

#include <mobj/mobj.h>
#include <mobj/ring.h>

#define MAXN 4
#define T_MS 10000
/* mobj-1:N+b's batch: 1/16 of the smallest capacity (cap_for). */
#define BATCH (16 * 1024)

static const size_t sizes[] = { 64, 1024, 65536, 1048576 };
static const int counts[] = { 1, 2, 4 };

/* Shared with the children (MAP_SHARED before fork). */
struct fan {
	volatile int ready;     /* consumers connected and waiting */
	volatile int go;
	volatile int err;
	double start_ns;
	double end_ns[MAXN];
	volatile uint64_t sum[MAXN];
};

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static size_t cap_for(size_t msg)
{
	size_t cap = 256 * 1024;

	while (cap < 4 * msg)
		cap *= 2;
	return cap;
}

/* A consumer: receive the ring, wait for go, read @count messages of
 * @size in place (one load per cache line), record when it finished. */
static void consumer(struct fan *f, int i, struct mobj_chan *ch, size_t size,
                     uint64_t count)
{
	struct mobj_ring *c;
	const void *p;
	size_t avail, k;
	uint64_t m, sum = 0;

	bh_pin(bh_opts.cpu[1]);
	if (mobj_ring_recv(ch, T_MS, &c) < 0) {
		f->err = -EPROTO;
		_exit(1);
	}
	mobj_chan_close(ch);
	__atomic_fetch_add(&f->ready, 1, __ATOMIC_SEQ_CST);
	for (m = 0; m < count; m++) {
		if (mobj_ring_peek(c, size, T_MS, &p, &avail) < 0) {
			f->err = -EIO;
			_exit(1);
		}
		for (k = 0; k < size; k += 64)
			sum += *(const volatile uint64_t *)((const char *)p + k);
		mobj_ring_consume(c, size);
	}
	f->end_ns[i] = bh_now_ns();
	f->sum[i] = sum;
	mobj_ring_close(c);
	_exit(0);
}

/* Fork @n consumers and connect each to ring @r[i] (or all to r[0] when
 * @multi) over its own channel; -1 on failure. */
static int spawn(struct fan *f, struct mobj_ring **r, bool multi, int n,
                 size_t size, uint64_t count, pid_t *pids)
{
	struct mobj_chan *a, *b;
	int i;

	for (i = 0; i < n; i++) {
		if (mobj_chan_pair(&a, &b) < 0)
			return -1;
		pids[i] = fork();
		if (pids[i] == 0) {
			mobj_chan_close(a);
			consumer(f, i, b, size, count);
		}
		mobj_chan_close(b);
		if (pids[i] < 0 || mobj_ring_send(a, r[multi ? 0 : i], T_MS) < 0) {
			mobj_chan_close(a);
			return -1;
		}
		mobj_chan_close(a);
	}
	return 0;
}

/* Write @count messages of @size from @src to every ring. */
static int produce(struct mobj_ring **r, int nr, const char *src, size_t size,
                   uint64_t count)
{
	uint64_t m;
	void *dst;
	int i;

	for (m = 0; m < count; m++) {
		for (i = 0; i < nr; i++) {
			if (mobj_ring_reserve(r[i], size, T_MS, &dst) < 0)
				return -EIO;
			memcpy(dst, src, size);
			mobj_ring_commit(r[i], size);
		}
	}
	return 0;
}

/* One repetition: per-consumer MB/s in @tput[0..n), producer CPU ns per
 * message in *@cost. 0 or -1. */
static int run_once(bool multi, size_t batch, int n, size_t size,
                    uint64_t count, const char *src, double *tput,
                    double *cost)
{
	struct mobj_ring *r[MAXN] = { 0 };
	pid_t pids[MAXN];
	struct fan *f;
	double c0;
	int i, nr = multi ? 1 : n, err = 0, st;

	f = mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f == MAP_FAILED)
		return -1;
	memset(f, 0, sizeof(*f));
	for (i = 0; i < nr && err == 0; i++)
		err = multi ? mobj_ring_create_multi(cap_for(size), (unsigned)n,
		                                     0, &r[i]) :
		              mobj_ring_create(cap_for(size), &r[i]);
	if (err == 0 && batch)
		err = mobj_ring_set_batch(r[0], batch);
	for (i = 0; i < n; i++)
		pids[i] = -1;
	if (err == 0)
		err = spawn(f, r, multi, n, size, count, pids);
	while (err == 0 && __atomic_load_n(&f->ready, __ATOMIC_SEQ_CST) < n &&
	       !f->err)
		usleep(100);
	if (err == 0 && !f->err) {
		f->start_ns = bh_now_ns();
		c0 = cpu_ns();
		err = produce(r, nr, src, size, count);
		*cost = (cpu_ns() - c0) / (double)count;
	}
	for (i = 0; i < nr; i++)
		mobj_ring_close(r[i]);
	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			err = -1;
		else
			tput[i] = (double)size * (double)count /
			          (f->end_ns[i] - f->start_ns) * 1e3;
	}
	munmap(f, sizeof(*f));
	return err ? -1 : 0;
}

#ifdef HAVE_ICEORYX
/* A subscriber: open (subscribed), say so, take @count messages. */
static void iox_consumer(struct fan *f, struct xport *x, int i, uint64_t count)
{
	uint64_t first, sum = 0, m;

	bh_pin(bh_opts.cpu[1]);
	if (x->ops->open(x, 1) < 0)
		_exit(1);
	__atomic_fetch_add(&f->ready, 1, __ATOMIC_SEQ_CST);
	for (m = 0; m < count; m++)
		if (x->ops->recv(x, &first, &sum) < 0)
			_exit(1);
	f->end_ns[i] = bh_now_ns();
	f->sum[i] = sum;
	x->ops->close(x);
	_exit(0);
}

/* The publisher, in a child too (one iceoryx runtime per process). */
static void iox_producer(struct fan *f, struct xport *x, const char *src,
                         uint64_t count, double *cost)
{
	double c0;
	uint64_t m;

	bh_pin(bh_opts.cpu[0]);
	if (x->ops->open(x, 0) < 0)
		_exit(1);
	f->start_ns = bh_now_ns();
	c0 = cpu_ns();
	for (m = 0; m < count; m++)
		if (x->ops->send(x, src) < 0)
			_exit(1);
	*cost = (cpu_ns() - c0) / (double)count;
	x->ops->close(x);
	_exit(0);
}

/* run_once for iceoryx: every side a child, the publisher forked once all
 * N subscribers are subscribed (no history: a late one would miss data). */
static int iox_once(int n, size_t size, uint64_t count, const char *src,
                    double *tput, double *cost)
{
	struct xport x = { .ops = &xport_iceoryx, .msg = size };
	pid_t pids[MAXN + 1];
	double t0 = bh_now_ns();
	struct fan *f;
	int i, st, err = 0, np = 0;

	x.cap = cap_for(size);
	f = mmap(NULL, sizeof(*f) + sizeof(double), PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f == MAP_FAILED || x.ops->prepare(&x) < 0)
		return -1;
	memset(f, 0, sizeof(*f));
	for (i = 0; i < n; i++) {
		pids[np] = fork();
		if (pids[np] == 0)
			iox_consumer(f, &x, i, count);
		np += pids[np] > 0;
	}
	while (__atomic_load_n(&f->ready, __ATOMIC_SEQ_CST) < n &&
	       bh_now_ns() - t0 < 20e9)
		usleep(1000);
	if (f->ready == n) {
		pids[np] = fork();
		if (pids[np] == 0)
			iox_producer(f, &x, src, count, (double *)(f + 1));
		np += pids[np] > 0;
	}
	for (i = 0; i < np; i++) {
		if (f->ready != n)
			kill(pids[i], SIGKILL);
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			err = -1;
	}
	for (i = 0; i < n && !err && f->ready == n; i++)
		tput[i] = (double)size * (double)count /
		          (f->end_ns[i] - f->start_ns) * 1e3;
	*cost = *(double *)(f + 1);
	if (f->ready != n)
		err = -1;
	if (x.ops->cleanup)
		x.ops->cleanup(&x);
	munmap(f, sizeof(*f) + sizeof(double));
	return err;
}
#endif

enum { NX1, ONE_N, IOX, ONE_N_BATCH };

static void one(int kind, int n, size_t size, const char *src)
{
	double tput[64 * MAXN], cost[64];
	uint64_t total = (bh_opts.quick ? 64ull : 256ull) << 20;
	uint64_t count = total / size;
	/* The harness keeps the pointer: static names. */
	static const char *const names[4][5] = {
		{ NULL, "mobj-1x1", "mobj-2x1", NULL, "mobj-4x1" },
		{ NULL, "mobj-1:1", "mobj-1:2", NULL, "mobj-1:4" },
		{ NULL, "iox-1:1", "iox-1:2", NULL, "iox-1:4" },
		{ NULL, "mobj-1:1+b", "mobj-1:2+b", NULL, "mobj-1:4+b" },
	};
	const char *impl = names[kind][n];
	int rep, reps = bh_opts.reps > 0 ? bh_opts.reps : 3, nt = 0, rc;

	if (!bh_want("ring.fanout", impl))
		return;
	if (reps > 64)
		reps = 64;
	if (count < 64)
		count = 64;
	for (rep = 0; rep < reps; rep++) {
		bh_progress("ring.fanout %s %zu B rep %d", impl, size, rep + 1);
#ifdef HAVE_ICEORYX
		if (kind == IOX)
			rc = iox_once(n, size, count, src, &tput[nt], &cost[rep]);
		else
#endif
			rc = run_once(kind != NX1,
			              kind == ONE_N_BATCH ? BATCH : 0, n, size,
			              count, src, &tput[nt], &cost[rep]);
		if (rc < 0) {
			bh_note("ring", "ring.fanout", impl, size, "MB/s",
			        "a repetition failed");
			return;
		}
		nt += n;
	}
	bh_result("ring", "ring.fanout", impl, size, "MB/s", BH_RATE, 2, tput,
	          nt, false);
	bh_detail("%d consumers on cpu %d, producer on cpu %d", n,
	          bh_opts.cpu[1], bh_opts.cpu[0]);
	bh_result("ring", "ring.fanout.producer", impl, size, "ns", BH_TIME, 2,
	          cost, reps, false);
}

void bench_fanout(void)
{
	const size_t big = sizes[sizeof(sizes) / sizeof(sizes[0]) - 1];
	bool iox = false;
	char *src;
	size_t s;
	int k;

#ifdef HAVE_ICEORYX
	char why[160] = "";

	if (bh_want("ring.fanout", "iox-1:1") || bh_want("ring.fanout", "iox-1:2") ||
	    bh_want("ring.fanout", "iox-1:4")) {
		iox = iox_start(why, sizeof(why)) == 0;
		if (!iox)
			bh_note("ring", "ring.fanout", "iox-1:N", 0, "MB/s", "%s",
			        why);
	}
#endif
	src = malloc(big);
	if (!src)
		return;
	memset(src, 0x5a, big);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (k = 0; k < 3; k++) {
			one(ONE_N, counts[k], sizes[s], src);
			one(ONE_N_BATCH, counts[k], sizes[s], src);
			one(NX1, counts[k], sizes[s], src);
			if (iox)
				one(IOX, counts[k], sizes[s], src);
		}
	free(src);
#ifdef HAVE_ICEORYX
	if (iox)
		iox_stop();
#endif
}
