/*
 * 1:N rings (mobj_ring_create_multi): argument checks and -ENOSPC, every
 * way of joining, N consumer processes each verifying every byte of a long
 * stream, one consumer killed with SIGKILL mid-stream while the others
 * finish, least privilege across processes, overwrite mode with a stalled
 * consumer (-EOVERFLOW once, then intact records), the seqlock check of a
 * consumer reading in place (alone, and racing a producer that laps two
 * consumer processes), hostile consumer indices in both modes, the
 * producer's death reaching every consumer, an in-process stream
 * between threads (the form tools/tsan.sh checks), and batching with two
 * to four consumers (deferral, a sleep/wake loop, a batched process
 * stream, and a copy of the inline publish of binaries built before).
 *
 * MOBJ_RING_STREAM_MB overrides the stream length (default 256).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/socket.h>
#endif
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mobj/mobj.h"
#include "ring_layout.h"
#include "ring_internal.h"
#include "testutil.h"

#define T_MS 5000
/* The offer token's place in the meta bytes of a 1:N offer and answer
 * (tools/doc/wire.md). */
#define TOKEN_AT 56
#define NCONS 3

static uint64_t stream_bytes(void)
{
	const char *e = getenv("MOBJ_RING_STREAM_MB");

	return (uint64_t)(e ? strtoul(e, NULL, 10) : 256) << 20;
}

/* Stream byte i: position-dependent, with a prime period (a lost, repeated
 * or shifted block shows). */
static unsigned char pat(uint64_t i)
{
	return (unsigned char)((i % 251) ^ (i / 251) ^ (i >> 17));
}

/* Produce @total bytes in chunks of varying size (reserve, fill, commit);
 * 0 or the first error. @fd -1: blocking calls; else timeout 0 only,
 * waiting through @fd after -EAGAIN (counted in *@waits; silent for T_MS:
 * -ETIMEDOUT). */
static int produce_waiting(struct mobj_ring *p, uint64_t total, int fd,
                           unsigned *waits)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t i = 0;
	size_t n, k;
	void *dst;
	int err;

	while (i < total) {
		n = 1 + (size_t)((i * 7919) % 20000);
		if (n > total - i)
			n = (size_t)(total - i);
		err = mobj_ring_reserve(p, n, fd < 0 ? T_MS : 0, &dst);
		if (err == -EAGAIN && fd >= 0) {
			(*waits)++;
			if (poll(&pfd, 1, T_MS) != 1)
				return -ETIMEDOUT;
			continue;
		}
		if (err < 0)
			return err;
		for (k = 0; k < n; k++)
			((unsigned char *)dst)[k] = pat(i + k);
		err = mobj_ring_commit(p, n);
		if (err < 0)
			return err;
		i += n;
	}
	return 0;
}

static int produce(struct mobj_ring *p, uint64_t total)
{
	unsigned waits = 0;

	return produce_waiting(p, total, -1, &waits);
}

/* Read and check the next @total bytes of the stream in place (from byte
 * @from on). 0, a negative errno, or 1 for a wrong byte. */
static int verify_from(struct mobj_ring *c, uint64_t from, uint64_t total)
{
	uint64_t got = 0;
	const unsigned char *p;
	const void *v;
	size_t avail, k;
	int err;

	while (got < total) {
		err = mobj_ring_peek(c, 1, T_MS, &v, &avail);
		if (err < 0)
			return err;
		p = v;
		if (avail > total - got)
			avail = (size_t)(total - got);
		for (k = 0; k < avail; k++)
			if (p[k] != pat(from + got + k))
				return 1;
		err = mobj_ring_consume(c, avail);
		if (err < 0)
			return err;
		got += avail;
	}
	return 0;
}

static int verify_n(struct mobj_ring *c, uint64_t total)
{
	return verify_from(c, 0, total);
}

/* The whole @total-byte stream, then -EPIPE. */
static int verify(struct mobj_ring *c, uint64_t total)
{
	const void *v;
	size_t avail;
	int err = verify_n(c, total);

	if (err != 0)
		return err;
	err = mobj_ring_peek(c, 1, T_MS, &v, &avail);
	return err == -EPIPE ? 0 : err < 0 ? err : 2;
}

/* ---- Arguments, slots, joining ------------------------------------------ */

static void test_multi_bad_input(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p;
	struct mobj_ring_consumer_stats st;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, NULL), -EINVAL);
	assert_int_equal(mobj_ring_create_multi(4096, 0, 0, &p), -EINVAL);
	assert_int_equal(mobj_ring_create_multi(4096, 1025, 0, &p), -EINVAL);
	assert_int_equal(mobj_ring_create_multi(4096, 2, 2, &p), -EINVAL);
	assert_int_equal(mobj_ring_create_multi(0, 2, 0, &p), -EINVAL);
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_consumer_stats(p, 0, &st), -ENOENT);
	assert_int_equal(mobj_ring_consumer_stats(p, 2, &st), -EINVAL);
	assert_int_equal(mobj_ring_consumer_stats(NULL, 0, &st), -EINVAL);
	/* No consumer: the producer writes freely. */
	assert_int_equal(mobj_ring_available(p), (ssize_t)mobj_ring_capacity(p));
	assert_int_equal(mobj_ring_write(p, "abc", 3, 0), 3);
	mobj_ring_close(p);
	tu_res_check(res);
}

static void test_multi_enospc(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c[3];
	struct mobj_ring_consumer_stats st;
	char buf[8];

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c[0]), 0);
	assert_int_equal(mobj_ring_consumer(p, &c[1]), 0);
	assert_int_equal(mobj_ring_consumer(p, &c[2]), -ENOSPC);
	assert_int_equal(mobj_ring_write(p, "abcd", 4, 0), 4);
	assert_int_equal(mobj_ring_read(c[0], buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "abcd", 4);
	/* A closed consumer frees its slot; the new one joins at the tail. */
	mobj_ring_close(c[0]);
	assert_int_equal(mobj_ring_consumer(p, &c[2]), 0);
	assert_int_equal(mobj_ring_consumer_stats(p, 0, &st), 0);
	assert_int_equal(st.state, MOBJ_RING_LIVE);
	assert_int_equal(st.head, 4);
	assert_int_equal(mobj_ring_read(c[2], buf, sizeof(buf), 0), -EAGAIN);
	assert_int_equal(mobj_ring_write(p, "ef", 2, 0), 2);
	assert_int_equal(mobj_ring_read(c[2], buf, sizeof(buf), 0), 2);
	assert_memory_equal(buf, "ef", 2);
	assert_int_equal(mobj_ring_read(c[1], buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "abcdef", 6);
	mobj_ring_close(c[1]);
	mobj_ring_close(c[2]);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* Blocking mode: the producer waits for the slowest live consumer, and a
 * closed one stops holding it back at once. */
static void test_multi_slowest(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *a, *b;
	struct mobj_ring_consumer_stats st;
	size_t cap;
	char *buf;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 4, 0, &p), 0);
	cap = mobj_ring_capacity(p);
	buf = calloc(1, cap);
	assert_non_null(buf);
	assert_int_equal(mobj_ring_consumer(p, &a), 0);
	assert_int_equal(mobj_ring_consumer(p, &b), 0);
	assert_int_equal(mobj_ring_write(p, buf, cap, 0), (ssize_t)cap);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), -EAGAIN);
	assert_int_equal(mobj_ring_read(a, buf, cap, 0), (ssize_t)cap);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), -EAGAIN);
	assert_int_equal(mobj_ring_available(p), 0);
	assert_int_equal(mobj_ring_read(b, buf, 16, 0), 16);
	assert_int_equal(mobj_ring_available(p), 16);
	assert_int_equal(mobj_ring_write(p, buf, 16, 0), 16);
	assert_int_equal(mobj_ring_consumer_stats(p, 1, &st), 0);
	assert_int_equal(st.lag, cap);
	mobj_ring_close(b);
	assert_int_equal(mobj_ring_write(p, buf, 16, 0), 16);
	assert_int_equal(mobj_ring_consumer_stats(p, 1, &st), 0);
	assert_int_equal(st.state, MOBJ_RING_CLOSED);
	mobj_ring_close(a);
	mobj_ring_close(p);
	free(buf);
	tu_res_check(res);
}

/* Joining over the user's IPC: each export is a fresh offer with its own
 * token and peer event (Darwin: its own semaphore and port), each answer
 * one more consumer. */
static void test_multi_export(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_xfer offer[2], ans;
	struct mobj_ring *p, *c[2];
	char buf[8];
	int i;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_export(p, &offer[i]), 0);
#ifdef __APPLE__
		assert_true(MACH_PORT_VALID(offer[i].ports[0]));
		assert_true(MACH_PORT_VALID(offer[i].ports[1]));
#else
		assert_true(offer[i].event_fd >= 0);
#endif
	}
	assert_int_equal(offer[0].meta_len, offer[1].meta_len);
	assert_memory_not_equal(offer[0].meta, offer[1].meta, offer[0].meta_len);
#ifdef __APPLE__
	assert_int_not_equal(offer[0].ports[0], offer[1].ports[0]);
	assert_int_not_equal(offer[0].ports[1], offer[1].ports[1]);
#else
	assert_int_not_equal(offer[0].event_fd, offer[1].event_fd);
#endif
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_import(&offer[i], &c[i], &ans), 0);
		assert_int_equal(mobj_ring_accept_answer(p, &ans), 0);
	}
	assert_int_equal(mobj_ring_write(p, "xyz", 3, 0), 3);
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_read(c[i], buf, sizeof(buf), T_MS), 3);
		assert_memory_equal(buf, "xyz", 3);
	}
	mobj_ring_close(p);
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_read(c[i], buf, sizeof(buf), T_MS),
		                 -EPIPE);
		mobj_ring_close(c[i]);
	}
	tu_res_check(res);
}

/* An empty struct mobj_ring_xfer, to rebuild what arrived into. */
static void test_xfer_init(void **state)
{
	struct mobj_ring_xfer x;

	(void)state;
	assert_int_equal(mobj_ring_xfer_init(NULL), -EINVAL);
	memset(&x, 0x5a, sizeof(x));
	assert_int_equal(mobj_ring_xfer_init(&x), 0);
	assert_int_equal(x.nobjs, 0);
	assert_null(x.objs[0]);
	assert_int_equal(x.event_fd, -1);
	assert_int_equal(x.pidfd, -1);
	assert_int_equal(x.meta_len, 0);
#ifdef __APPLE__
	assert_int_equal(x.ports[0], MACH_PORT_NULL);
	assert_int_equal(x.ports[1], MACH_PORT_NULL);
#endif
}

/* Pending offers are bounded (max_consumers, -ENOSPC beyond), and hold
 * their descriptors (Darwin: ports) until answered, withdrawn, or the
 * ring is closed; an answer to a withdrawn offer joins nobody. */
static void test_multi_offer_bound(void **state)
{
	struct tu_res res = tu_res_now(), one;
	struct mobj_ring_xfer offer[3], ans, spsc, bad;
	struct mobj_ring *p, *s, *c;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer[0]), 0);
	one = tu_res_now();
	assert_int_equal(mobj_ring_export(p, &offer[1]), 0);
	assert_int_equal(mobj_ring_export(p, &offer[2]), -ENOSPC);
	assert_int_equal(mobj_ring_withdraw(NULL, &offer[1]), -EINVAL);
	assert_int_equal(mobj_ring_withdraw(p, NULL), -EINVAL);
	assert_int_equal(mobj_ring_withdraw(p, &offer[1]), 0);
	tu_res_check(one);
	assert_int_equal(mobj_ring_withdraw(p, &offer[1]), -ENOENT);
	/* Withdrawn before its answer came. */
	assert_int_equal(mobj_ring_export(p, &offer[2]), 0);
	assert_int_equal(mobj_ring_import(&offer[2], &c, &ans), 0);
	assert_int_equal(mobj_ring_withdraw(p, &offer[2]), 0);
	assert_int_equal(mobj_ring_accept_answer(p, &ans), -EPROTO);
	mobj_ring_close(c);
	tu_res_check(one);
	/* SPSC: one offer, until answered or closed. */
	assert_int_equal(mobj_ring_create(4096, &s), 0);
	assert_int_equal(mobj_ring_export(s, &spsc), 0);
	assert_int_equal(mobj_ring_withdraw(s, &spsc), -EINVAL);
	assert_int_equal(mobj_ring_withdraw(p, &spsc), -EINVAL);
	/* A consumer refuses an SPSC offer with a token, a 1:N offer
	 * without one, and a zero token. */
	bad = spsc;
	bad.meta_len = TOKEN_AT + 8;
	memset(bad.meta + TOKEN_AT, 1, 8);
	assert_int_equal(mobj_ring_import(&bad, &c, &ans), -EPROTO);
	bad = offer[0];
	bad.meta_len = TOKEN_AT;
	assert_int_equal(mobj_ring_import(&bad, &c, &ans), -EPROTO);
	bad = offer[0];
	memset(bad.meta + TOKEN_AT, 0, 8);
	assert_int_equal(mobj_ring_import(&bad, &c, &ans), -EPROTO);
	mobj_ring_close(s);
	/* Closed with offers pending. */
	assert_int_equal(mobj_ring_export(p, &offer[1]), 0);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* fork() with offers pending: a child that closes its copy of the producer
 * (or exits) leaves the parent's pending offers whole, peer events
 * included (a shutdown of the shared sockets would make both sides' fds
 * poll readable for good, as at a death). */
static void test_multi_fork_child_closes_pending(void **state)
{
	struct tu_res res = tu_res_now();
	struct pollfd pc = { .events = POLLIN }, pp = { .events = POLLIN };
	struct mobj_ring_xfer offer, ans;
	struct mobj_ring *p, *c;
	char buf[4096];
	pid_t pid;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		mobj_ring_close(p);
		_exit(0);
	}
	assert_int_equal(tu_wait(pid), 0);
	assert_int_equal(mobj_ring_import(&offer, &c, &ans), 0);
	assert_int_equal(mobj_ring_accept_answer(p, &ans), 0);
	pc.fd = mobj_ring_fd(c);
	pp.fd = mobj_ring_fd(p);
	assert_true(pc.fd >= 0 && pp.fd >= 0);
	/* The consumer's event: quiet, then a wake. */
	assert_int_equal(mobj_ring_read(c, buf, 1, 0), -EAGAIN);
	assert_int_equal(poll(&pc, 1, 0), 0);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), 1);
	assert_int_equal(poll(&pc, 1, T_MS), 1);
	assert_int_equal(mobj_ring_read(c, buf, 1, 0), 1);
	/* The producer's: quiet while full, a wake when there is room. */
	memset(buf, 'y', sizeof(buf));
	assert_int_equal(mobj_ring_write(p, buf, sizeof(buf), 0), 4096);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), -EAGAIN);
	assert_int_equal(poll(&pp, 1, 0), 0);
	assert_int_equal(mobj_ring_read(c, buf, sizeof(buf), 0), 4096);
	assert_int_equal(poll(&pp, 1, T_MS), 1);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), 1);
	mobj_ring_close(c);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* A consumer's mobj_ring_fd() (its helper thread): readable once the
 * producer commits what a -EAGAIN was waiting for. */
static void test_multi_consumer_fd(void **state)
{
	struct tu_res res = tu_res_objects();
	struct mobj_ring *p, *c;
	struct pollfd pfd;
	char buf[8];
	int fd;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	fd = mobj_ring_fd(c);
	assert_true(fd >= 0);
	assert_int_equal(mobj_ring_read(c, buf, sizeof(buf), 0), -EAGAIN);
	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(mobj_ring_write(p, "ping", 4, 0), 4);
	assert_int_equal(poll(&pfd, 1, T_MS), 1);
	assert_int_equal(mobj_ring_read(c, buf, sizeof(buf), 0), 4);
	mobj_ring_close(c);
	mobj_ring_close(p);
	tu_res_objects_check(res);
}

/* Blocking mode keeps no seqlock for consumers the producer waits for,
 * but an importer reads before the producer accepts its answer, and the
 * producer writes on without waiting for it: bytes it peeked and the
 * producer overwrote are -EOVERFLOW at consume, never silently taken. */
static void test_multi_import_overwritten_blocking(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_xfer offer, ans;
	static char big[4096];
	struct mobj_ring *p, *c;
	const void *v;
	size_t avail;

	(void)state;
	memset(big, 'B', sizeof(big));
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	assert_int_equal(mobj_ring_import(&offer, &c, &ans), 0);
	assert_int_equal(mobj_ring_write(p, big, 100, 0), 100);
	assert_int_equal(mobj_ring_peek(c, 1, 0, &v, &avail), 0);
	assert_int_equal(avail, 100);
	assert_int_equal(mobj_ring_write(p, big, sizeof(big), 0), 4096);
	assert_int_equal(mobj_ring_consume(c, 100), -EOVERFLOW);
	assert_int_equal(mobj_ring_accept_answer(p, &ans), 0);
	mobj_ring_close(c);
	mobj_ring_close(p);
	tu_res_check(res);
}

#ifdef __linux__
/* Linux: xfers carried over the tests' own socketpairs with SCM_RIGHTS
 * (testutil_linux.c). The descriptors themselves on both systems:
 * test_ring_set.c. */
/* Write the stream from byte @sent on with timeout 0 until -EAGAIN (or
 * @total): the bytes written. */
static uint64_t produce_now(struct mobj_ring *p, uint64_t sent,
                            uint64_t total, unsigned char *buf, size_t cap)
{
	uint64_t from = sent;
	size_t k, want;
	ssize_t n;

	while (sent < total) {
		want = cap - (size_t)(sent % 977);
		if (want > total - sent)
			want = (size_t)(total - sent);
		for (k = 0; k < want; k++)
			buf[k] = pat(sent + k);
		n = mobj_ring_write(p, buf, want, 0);
		if (n == -EAGAIN)
			break;
		assert_true(n > 0);
		sent += (uint64_t)n;
	}
	return sent - from;
}

/* The producer and two consumers of one 1:N ring in one epoll loop, every
 * call with timeout 0: each fd (the producer's a set over its consumers'
 * peer events) polls readable whenever the -EAGAIN it followed would now
 * succeed (a lost wake-up leaves epoll_wait silent for T_MS and fails),
 * every byte arrives in order at both, and no thread was started. */
static void test_multi_fd_epoll_no_thread(void **state)
{
	struct tu_res res = tu_res_objects();
	const uint64_t total = 4 << 20;
	struct epoll_event ev, out[3];
	struct mobj_ring *p, *c[2];
	uint64_t sent = 0, got[2] = { 0, 0 };
	unsigned char buf[3000];
	int ep, fd, i, threads, sleeps = 0;
	ssize_t n;
	size_t k;

	(void)state;
	threads = tu_count_threads();
	assert_int_equal(mobj_ring_create_multi(16384, 2, 0, &p), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(mobj_ring_consumer(p, &c[i]), 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(ep >= 0);
	for (i = 0; i < 3; i++) {
		fd = mobj_ring_fd(i == 0 ? p : c[i - 1]);
		assert_true(fd >= 0);
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)i;
		assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	}
	/* Each end is serviced only when epoll says its fd is readable (every
	 * fd starts readable): a lost wake-up stalls the loop. */
	while (got[0] < total || got[1] < total) {
		int m = epoll_wait(ep, out, 3, T_MS);

		assert_true(m > 0);
		sleeps++;
		for (int e = 0; e < m; e++) {
			i = (int)out[e].data.u32 - 1;
			if (i < 0) {
				sent += produce_now(p, sent, total, buf,
				                    sizeof(buf));
				continue;
			}
			while ((n = mobj_ring_read(c[i], buf, 1000, 0)) > 0) {
				for (k = 0; k < (size_t)n; k++)
					assert_int_equal(buf[k],
					                 pat(got[i] + k));
				got[i] += (uint64_t)n;
			}
			assert_true(n == -EAGAIN);
		}
	}
	assert_int_equal(tu_count_threads(), threads);
	assert_true(sleeps > 2);
	close(ep);
	for (i = 0; i < 2; i++)
		mobj_ring_close(c[i]);
	mobj_ring_close(p);
	tu_res_objects_check(res);
}

/* Producer @p (4096 bytes, its fd @fd) and one consumer, process @pid,
 * that reads nothing: fill the ring, kill -9 the consumer; the fd polls
 * readable within the death bound (ring.h: about 100 ms; 2 s of slack
 * for a loaded machine, where a descriptor that missed the death stays
 * silent for T_MS), and the consumer departed as DEAD. */
static void kill_seen_by_fd(struct mobj_ring *p, int fd, pid_t pid)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct mobj_ring_consumer_stats st;
	char buf[4096];
	uint64_t t0;

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(mobj_ring_write(p, buf, sizeof(buf), 0), 4096);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), -EAGAIN);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	t0 = tu_now_ms();
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(poll(&pfd, 1, T_MS), 1);
	assert_true(tu_now_ms() - t0 < 2000);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), 1);
	assert_int_equal(mobj_ring_consumer_stats(p, 0, &st), 0);
	assert_int_equal(st.state, MOBJ_RING_DEAD);
	mobj_ring_close(p);
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
}

/* The fd of a 1:N producer with no room polls readable when the consumer
 * that held it back dies (SIGKILL, no close), and the producer's next
 * call finds the room (the dead consumer departed). */
static void test_multi_fd_consumer_death(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *ch;
	struct mobj_ring *p;
	pid_t pid;

	(void)state;
	pid = tu_fork_parked_consumer(&ch);
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_send(ch, p, T_MS), 0);
	mobj_chan_close(ch);
	kill_seen_by_fd(p, mobj_ring_fd(p), pid);
	tu_res_check(res);
}

/* A consumer's fd polls readable when the producer's process dies, with
 * no thread of ours watching: then all data, then -EPIPE. */
static void test_multi_fd_producer_death(void **state)
{
	struct tu_res res = tu_res_now();
	struct pollfd pfd = { .events = POLLIN };
	struct mobj_chan *ch;
	struct mobj_ring *p, *c;
	char buf[16];
	int threads;
	pid_t pid;

	(void)state;
	pid = tu_fork_chan(&ch);
	if (pid == 0) {
		if (mobj_ring_create_multi(4096, 1, 0, &p) < 0 ||
		    mobj_ring_send(ch, p, T_MS) < 0 ||
		    mobj_ring_write(p, "bye", 3, T_MS) != 3)
			_exit(2);
		alarm(20); /* bounded, should the parent fail before kill */
		for (;;)
			pause();
	}
	threads = tu_count_threads();
	assert_int_equal(mobj_ring_recv(ch, T_MS, &c), 0);
	mobj_chan_close(ch);
	pfd.fd = mobj_ring_fd(c);
	assert_true(pfd.fd >= 0);
	assert_int_equal(mobj_ring_read(c, buf, sizeof(buf), T_MS), 3);
	assert_int_equal(mobj_ring_read(c, buf, sizeof(buf), 0), -EAGAIN);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(poll(&pfd, 1, T_MS), 1);
	assert_int_equal(mobj_ring_read(c, buf, sizeof(buf), 0), -EPIPE);
	assert_int_equal(tu_count_threads(), threads);
	mobj_ring_close(c);
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
	tu_res_check(res);
}

/* ---- Joining over the user's IPC, one offer per consumer ---------------- */


/* Read and check the next @total bytes of the stream with timeout 0 only,
 * waiting for -EAGAIN through @fd; @slow pauses now and then, so that the
 * producer must wait for this consumer. Then -EPIPE. 0, a negative errno,
 * 1 for a wrong byte, 3 when @fd stayed silent for T_MS. */
static int verify_polled(struct mobj_ring *c, int fd, uint64_t total,
                         bool slow)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t got = 0;
	const unsigned char *b;
	const void *v;
	size_t avail, k;
	unsigned calls = 0;
	int err;

	for (;;) {
		err = mobj_ring_peek(c, 1, 0, &v, &avail);
		if (err == -EAGAIN) {
			if (poll(&pfd, 1, T_MS) != 1)
				return 3;
			continue;
		}
		if (err < 0)
			return err == -EPIPE && got == total ? 0 : err;
		b = v;
		if (avail > total - got)
			return 2;
		for (k = 0; k < avail; k++)
			if (b[k] != pat(got + k))
				return 1;
		err = mobj_ring_consume(c, avail);
		if (err < 0)
			return err;
		got += avail;
		if (slow && ++calls % 4 == 0)
			usleep(1000);
	}
}

/* A consumer process: joins over the test's own IPC on @sock and reads
 * the stream (@total bytes; 0: nothing, it waits to be killed) through its
 * mobj_ring_fd() with no thread of the library. Exit status 0, or the
 * step that failed. */
static int xfer_consumer(int sock, uint64_t total, bool slow)
{
	struct mobj_ring_xfer offer, answer;
	struct mobj_ring *c;
	int threads = tu_count_threads(), fd, err;

	alarm(60); /* bounded, should the parent fail */
	if (tu_xfer_recv(sock, &offer) < 0)
		return 10;
	if (offer.event_fd < 0)
		return 11;
	if (mobj_ring_import(&offer, &c, &answer) < 0)
		return 12;
	tu_xfer_release(&offer);
	if (tu_xfer_send(sock, &answer) < 0)
		return 13;
	fd = mobj_ring_fd(c);
	if (fd < 0)
		return 14;
	if (tu_count_threads() != threads)
		return 15;
	/* total 0: read nothing, until killed (or the parent goes). */
	if (total == 0 && read(sock, &err, 1) >= 0)
		return 17;
	err = verify_polled(c, fd, total, slow);
	if (err != 0)
		return err < 0 ? 40 : 20 + err;
	if (tu_count_threads() != threads)
		return 16;
	mobj_ring_close(c);
	return 0;
}

/* Fork a consumer process joined to us by a socketpair: its pid, our end
 * in *@sock. */
static pid_t fork_xfer_consumer(int *sock, uint64_t total, bool slow)
{
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	                            sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(xfer_consumer(sv[1], total, slow));
	}
	close(sv[1]);
	*sock = sv[0];
	return pid;
}

/* Producer: one fresh offer to the consumer at @sock, its answer
 * accepted. */
static void xfer_join(struct mobj_ring *p, int sock)
{
	struct mobj_ring_xfer offer, answer;

	assert_int_equal(mobj_ring_export(p, &offer), 0);
	assert_int_equal(tu_xfer_send(sock, &offer), 0);
	assert_int_equal(tu_xfer_recv(sock, &answer), 0);
	assert_int_equal(mobj_ring_accept_answer(p, &answer), 0);
	tu_xfer_release(&answer);
}

/* NCONS consumer processes join by export/import over the test's own
 * socketpairs (each offer its own, with a peer event), each verifies
 * every byte waiting only through its mobj_ring_fd() with no library
 * thread; the producer, held back by a slow one, waits through its own
 * mobj_ring_fd() and is woken by the importers. */
static void test_multi_xfer_fd_no_thread(void **state)
{
	struct tu_res res = tu_res_now();
	const uint64_t total = stream_bytes() / 16;
	struct mobj_ring *p;
	int sock[NCONS], fd, i, threads = tu_count_threads();
	unsigned waits = 0;
	pid_t pid[NCONS];

	(void)state;
	for (i = 0; i < NCONS; i++)
		pid[i] = fork_xfer_consumer(&sock[i], total, i == 0);
	assert_int_equal(mobj_ring_create_multi(64 << 10, NCONS, 0, &p), 0);
	for (i = 0; i < NCONS; i++)
		xfer_join(p, sock[i]);
	fd = mobj_ring_fd(p);
	assert_true(fd >= 0);
	assert_int_equal(produce_waiting(p, total, fd, &waits), 0);
	assert_true(waits > 0);
	assert_int_equal(tu_count_threads(), threads);
	mobj_ring_close(p);
	for (i = 0; i < NCONS; i++) {
		assert_int_equal(tu_wait(pid[i]), 0);
		close(sock[i]);
	}
	tu_res_check(res);
}

/* kill -9 of an imported consumer that holds the producer back: the
 * producer's descriptor polls readable within the death bound and the
 * consumer departs as DEAD. */
static void test_multi_xfer_consumer_killed(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p;
	int sock, fd;
	pid_t pid;

	(void)state;
	/* It joins, then reads nothing: the ring fills. */
	pid = fork_xfer_consumer(&sock, 0, false);
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	/* The set exists before the consumer joins: the join adds to it. */
	fd = mobj_ring_fd(p);
	assert_true(fd >= 0);
	xfer_join(p, sock);
	kill_seen_by_fd(p, fd, pid);
	close(sock);
	tu_res_check(res);
}

/* An in-process importer of a fresh offer: its end and its answer. */
static void import_one(struct mobj_ring *p, struct mobj_ring_xfer *offer,
                       struct mobj_ring **c, struct mobj_ring_xfer *answer)
{
	assert_int_equal(mobj_ring_export(p, offer), 0);
	assert_int_equal(mobj_ring_import(offer, c, answer), 0);
}

/* Answers that no pending offer asked for are -EPROTO and change
 * nothing: an unknown token, an answer without one, an event_fd in an
 * answer, a token replayed by a second answer (its offer was answered),
 * a pending offer's token with a pidfd that is not one; the honest
 * consumers still join, and nothing leaks. */
static void test_multi_xfer_hostile_answers(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_xfer offer[2], ans[2], bad;
	struct mobj_ring *p, *c[2];
	char buf[8];
	int i, pp[2];

	(void)state;
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	for (i = 0; i < 2; i++)
		import_one(p, &offer[i], &c[i], &ans[i]);
	assert_int_equal(ans[0].meta_len, TOKEN_AT + 8);
	assert_memory_equal(ans[0].meta + TOKEN_AT, offer[0].meta + TOKEN_AT, 8);
	assert_memory_not_equal(offer[0].meta + TOKEN_AT,
	                        offer[1].meta + TOKEN_AT, 8);
	for (i = 0; i < 3; i++) {
		bad = ans[0];
		switch (i) {
		case 0: bad.meta[TOKEN_AT] ^= 1; break; /* unknown token */
		case 1: bad.meta_len = TOKEN_AT; break; /* none */
		case 2: bad.event_fd = pp[0]; break;
		}
		assert_int_equal(mobj_ring_accept_answer(p, &bad), -EPROTO);
	}
	assert_int_equal(mobj_ring_consumer_stats(p, 0, &(struct mobj_ring_consumer_stats){ 0 }),
	                 -ENOENT);
	assert_int_equal(mobj_ring_accept_answer(p, &ans[0]), 0);
	/* Replayed, as it is and as the other consumer's answer. */
	assert_int_equal(mobj_ring_accept_answer(p, &ans[0]), -EPROTO);
	bad = ans[1];
	memcpy(bad.meta + TOKEN_AT, ans[0].meta + TOKEN_AT, 8);
	assert_int_equal(mobj_ring_accept_answer(p, &bad), -EPROTO);
	/* A pending offer's token with something else wrong: refused, and
	 * the offer stays for its honest answer. */
	bad = ans[1];
	bad.pidfd = pp[0];
	assert_int_equal(mobj_ring_accept_answer(p, &bad), -EPROTO);
	assert_int_equal(mobj_ring_accept_answer(p, &ans[1]), 0);
	assert_int_equal(mobj_ring_write(p, "xyz", 3, 0), 3);
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_read(c[i], buf, sizeof(buf), T_MS), 3);
		assert_memory_equal(buf, "xyz", 3);
	}
	mobj_ring_close(p);
	for (i = 0; i < 2; i++)
		mobj_ring_close(c[i]);
	close(pp[0]);
	close(pp[1]);
	tu_res_check(res);
}
#endif /* __linux__ */

/* ---- Streams ------------------------------------------------------------ */

struct reader {
	struct mobj_ring *c;
	uint64_t total;
	int err;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	rd->err = verify(rd->c, rd->total);
	return NULL;
}

/* In-process (threads): what tools/tsan.sh checks. */
static void test_multi_stream_threads(void **state)
{
	struct tu_res res = tu_res_objects();
	struct reader rd[NCONS];
	pthread_t th[NCONS];
	struct mobj_ring *p;
	uint64_t total = stream_bytes() / 4;
	int i;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(64 << 10, NCONS, 0, &p), 0);
	for (i = 0; i < NCONS; i++) {
		rd[i].total = total;
		assert_int_equal(mobj_ring_consumer(p, &rd[i].c), 0);
		assert_int_equal(pthread_create(&th[i], NULL, reader_main,
		                                &rd[i]), 0);
	}
	assert_int_equal(produce(p, total), 0);
	mobj_ring_close(p);
	for (i = 0; i < NCONS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(rd[i].err, 0);
		mobj_ring_close(rd[i].c);
	}
	tu_res_objects_check(res);
}

/* mobj_ring_set_batch() on a 1:N producer defers publishing as in SPSC
 * (a consumer with timeout 0 sees nothing until flush), and a producer
 * waiting for room publishes first, so consumers blocked on the deferred
 * bytes never deadlock with it (two threads stream every byte). */
static void test_multi_batch(void **state)
{
	struct tu_res res = tu_res_objects();
	struct mobj_ring *p, *c[2];
	struct reader rd[2];
	pthread_t t[2];
	char buf[8];
	int i;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(1 << 16, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c[0]), 0);
	assert_int_equal(mobj_ring_set_batch(p, 4096), 0);
	assert_int_equal(mobj_ring_write(p, "abcd", 4, 0), 4);
	assert_int_equal(mobj_ring_read(c[0], buf, sizeof(buf), 0), -EAGAIN);
	assert_int_equal(mobj_ring_flush(p), 0);
	assert_int_equal(mobj_ring_read(c[0], buf, sizeof(buf), 0), 4);
	assert_int_equal(mobj_ring_consumer(p, &c[1]), 0);
	for (i = 0; i < 2; i++) {
		rd[i].c = c[i];
		rd[i].total = 64 << 20;
		assert_int_equal(pthread_create(&t[i], NULL, reader_main,
		                                &rd[i]), 0);
	}
	assert_int_equal(produce(p, 64 << 20), 0);
	mobj_ring_close(p);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(rd[i].err, 0);
		mobj_ring_close(c[i]);
	}
	tu_res_objects_check(res);
}

/* Overwrite mode with batching: the oldest mark never passes the tail the
 * consumers see (which they would take for a lie, -EPROTO): the lapped
 * consumer gets -EOVERFLOW, then the intact bytes. */
static void test_multi_batch_overwrite(void **state)
{
	struct tu_res res = tu_res_objects();
	static unsigned char big[3000], out[4096];
	struct mobj_ring *p, *c;
	uint64_t k;

	(void)state;
	for (k = 0; k < sizeof(big); k++)
		big[k] = pat(k);
	assert_int_equal(mobj_ring_create_multi(4096, 1, MOBJ_RING_OVERWRITE,
	                                        &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_set_batch(p, 4096), 0);
	assert_int_equal(mobj_ring_write(p, big, sizeof(big), 0), 3000);
	assert_int_equal(mobj_ring_write(p, big, sizeof(big), 0), 3000);
	assert_int_equal(mobj_ring_read(c, out, sizeof(out), 0), -EOVERFLOW);
	/* Published: the first 3000 bytes; intact: from 6000 - 4096 on. */
	assert_int_equal(mobj_ring_read(c, out, sizeof(out), 0), 3000 - 1904);
	assert_memory_equal(out, big + 1904, 3000 - 1904);
	mobj_ring_close(c);
	mobj_ring_close(p);
	tu_res_objects_check(res);
}

/* ---- Batching with two or more consumers -------------------------------- */

/* With two or more live consumers a batching producer defers as in SPSC:
 * nothing is published below the batch size while no consumer waits or
 * polls (each consumer's page is read), everything at the batch size, at
 * flush, and at once for a consumer that polls, or waits for bytes the
 * commit holds back. Before f.fan every commit was published (and
 * scanned). */
static void test_multi_batch_defers_with_two(void **state)
{
	struct tu_res res = tu_res_objects();
	struct mobj_ring *p, *c[3];
	struct mobj__ring_ctl *own;
	struct mobj_ring_stats st;
	static char buf[8192];
	int i;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(1 << 16, 3, 0, &p), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(mobj_ring_consumer(p, &c[i]), 0);
	own = mobj__ring_own(p);
	assert_int_equal(mobj_ring_set_batch(p, 4096), 0);
	assert_int_equal(mobj_ring_write(p, "abcd", 4, 0), 4);
	assert_int_equal(atomic_load(&own->index), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(mobj_ring_read(c[i], buf, sizeof(buf), 0),
		                 -EAGAIN);
	assert_int_equal(mobj_ring_flush(p), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(mobj_ring_read(c[i], buf, sizeof(buf), 0), 4);
	/* One departs: two are left, still deferred. */
	mobj_ring_close(c[2]);
	assert_int_equal(mobj_ring_write(p, buf, 4095, 0), 4095);
	assert_int_equal(atomic_load(&own->index), 4);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), 1); /* the batch size */
	assert_int_equal(atomic_load(&own->index), 4100);
	for (i = 0; i < 2; i++)
		assert_int_equal(mobj_ring_read(c[i], buf, sizeof(buf), 0), 4096);
	/* The second consumer polls (spins in a wait): published at once. */
	atomic_store(&mobj__ring_own(c[1])->polling, 1);
	assert_int_equal(mobj_ring_write(p, "efgh", 4, 0), 4);
	atomic_store(&mobj__ring_own(c[1])->polling, 0);
	assert_int_equal(atomic_load(&own->index), 4104);
	assert_int_equal(mobj_ring_read(c[0], buf, sizeof(buf), 0), 4);
	assert_int_equal(mobj_ring_write(p, "ijkl", 4, 0), 4);
	assert_int_equal(atomic_load(&own->index), 4104);
	/* It waits for what is published already (woken, not yet running),
	 * or for more than we hold: a publish gains it nothing, deferred. */
	assert_int_equal(mobj_ring_stats(p, &st), 0);
	assert_int_equal(st.wakes, 0);
	mobj__ring_own(c[1])->wait_target = 4104;
	atomic_store(&mobj__ring_own(c[1])->waiting, 1);
	assert_int_equal(mobj_ring_write(p, "qrst", 4, 0), 4);
	mobj__ring_own(c[1])->wait_target = 1 << 20;
	assert_int_equal(mobj_ring_write(p, "uvwx", 4, 0), 4);
	assert_int_equal(atomic_load(&own->index), 4104);
	/* It waits for the next byte: published and woken. */
	mobj__ring_own(c[1])->wait_seq = atomic_load(&own->wake_seq);
	mobj__ring_own(c[1])->wait_target = 4105;
	assert_int_equal(mobj_ring_write(p, "mnop", 4, 0), 4);
	atomic_store(&mobj__ring_own(c[1])->waiting, 0);
	assert_int_equal(atomic_load(&own->index), 4120);
	assert_int_equal(mobj_ring_stats(p, &st), 0);
	assert_int_equal(st.wakes, 1);
	assert_int_equal(mobj_ring_read(c[0], buf, sizeof(buf), 0), 16);
	assert_int_equal(mobj_ring_read(c[1], buf, sizeof(buf), 0), 20);
	mobj_ring_close(c[0]);
	mobj_ring_close(c[1]);
	mobj_ring_close(p);
	tu_res_objects_check(res);
}

#define WAKE_ROUNDS 300
#define WAKE_CONS 4

struct waker_test {
	struct mobj_ring *c[WAKE_CONS];
	_Atomic uint64_t got[WAKE_CONS]; /* bytes each consumer verified */
	int err[WAKE_CONS];
	int batch; /* the consumers batch their consumes too */
};

struct waker_arg {
	struct waker_test *t;
	int i;
};

/* Read (blocking, small reads so that the consumer often sleeps) and
 * verify until -EPIPE. */
static void *wake_reader(void *arg)
{
	struct waker_arg *a = arg;
	struct waker_test *t = a->t;
	struct mobj_ring *c = t->c[a->i];
	unsigned char buf[16];
	uint64_t at = 0;
	ssize_t n, k;

	if (t->batch)
		mobj_ring_set_batch(c, 64);
	for (;;) {
		n = mobj_ring_read(c, buf, sizeof(buf), T_MS);
		if (n == -EPIPE)
			break;
		if (n < 0) {
			t->err[a->i] = (int)n;
			break;
		}
		for (k = 0; k < n; k++)
			if (buf[k] != pat(at + (uint64_t)k))
				t->err[a->i] = 1;
		at += (uint64_t)n;
		atomic_store(&t->got[a->i], at);
	}
	return NULL;
}

/* Every consumer has @target, or the ones that lack it all wait. */
static bool all_got_or_wait(struct waker_test *t, uint64_t target, bool *got)
{
	bool all = true;
	int i;

	for (i = 0; i < WAKE_CONS; i++) {
		if (atomic_load(&t->got[i]) >= target)
			continue;
		all = false;
		if (!atomic_load(&mobj__ring_own(t->c[i])->waiting))
			return false;
	}
	*got = all;
	return true;
}

/* One byte of the stream at @at. */
static void write_pat(struct mobj_ring *p, uint64_t at, size_t n)
{
	unsigned char buf[64];
	size_t k;

	for (k = 0; k < n; k++)
		buf[k] = pat(at + k);
	assert_int_equal(mobj_ring_write(p, buf, n, T_MS), (ssize_t)n);
}

/* The sleep/wake loop: four consumer threads, a producer batching 4096
 * bytes writes a short message per round; odd rounds flush, even rounds
 * add one byte at a time while the round is unpublished and every
 * consumer that lacks it waits (a commit that sees a waiting consumer
 * must publish: a deferral there would leave them waiting, and the bytes
 * added per round grow to the batch size). Every consumer gets every
 * byte; nobody times out. */
static void wake_loop(int consumer_batch)
{
	struct tu_res res = tu_res_objects();
	static struct waker_test t;
	struct waker_arg a[WAKE_CONS];
	pthread_t th[WAKE_CONS];
	struct mobj_ring *p;
	uint64_t at = 0, extra = 0, start;
	bool got;
	int i, r;

	memset(&t, 0, sizeof(t));
	t.batch = consumer_batch;
	assert_int_equal(mobj_ring_create_multi(1 << 16, WAKE_CONS, 0, &p), 0);
	assert_int_equal(mobj_ring_set_batch(p, 4096), 0);
	for (i = 0; i < WAKE_CONS; i++) {
		a[i].t = &t;
		a[i].i = i;
		assert_int_equal(mobj_ring_consumer(p, &t.c[i]), 0);
		assert_int_equal(pthread_create(&th[i], NULL, wake_reader,
		                                &a[i]), 0);
	}
	for (r = 0; r < WAKE_ROUNDS; r++) {
		size_t n = 1 + (size_t)(r % 13);

		write_pat(p, at, n);
		at += n;
		if (r % 2)
			assert_int_equal(mobj_ring_flush(p), 0);
		start = tu_now_ms();
		for (;;) {
			if (all_got_or_wait(&t, at, &got) && got)
				break;
			if (!(r % 2) &&
			    atomic_load(&mobj__ring_own(p)->index) < at &&
			    all_got_or_wait(&t, at, &got)) {
				write_pat(p, at, 1);
				at++;
				extra++;
			}
			assert_true(tu_now_ms() - start < T_MS);
			sched_yield();
		}
	}
	mobj_ring_close(p);
	for (i = 0; i < WAKE_CONS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t.err[i], 0);
		assert_int_equal(atomic_load(&t.got[i]), at);
		mobj_ring_close(t.c[i]);
	}
	/* One byte per even round (its message was deferred before they
	 * waited); a count stale for a moment (a sleeper between its slice
	 * and its next announcement) may cost one more. A deferral past a
	 * waiter costs the batch size. */
	assert_true(extra <= WAKE_ROUNDS);
	tu_res_objects_check(res);
}

static void test_multi_batch_wake_loop(void **state)
{
	(void)state;
	wake_loop(0);
	wake_loop(1);
}

/* ---- Consumers waiting on their descriptors, among others -------------- */

#define FDW_CONS 3
#define FDW_POLL_MS 200

struct fdw {
	struct mobj_ring *c;
	bool use_fd;
	unsigned seed;
	uint64_t got;
	int lost; /* polls that timed out with data committed before */
};

static _Atomic uint64_t fdw_commit_ns; /* the producer's last commit */

static uint64_t fdw_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Peek @min bytes, waiting on the descriptor (poll, bounded) or blocking. */
static int fdw_peek(struct fdw *a, int fd, size_t min, const void **p,
                    size_t *avail)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	uint64_t back;
	int err, rc;

	if (!a->use_fd)
		return mobj_ring_peek(a->c, min, -1, p, avail);
	err = mobj_ring_peek(a->c, min, 0, p, avail);
	while (err == -EAGAIN) {
		rc = poll(&pf, 1, FDW_POLL_MS);
		back = fdw_now_ns();
		err = mobj_ring_peek(a->c, min, 0, p, avail);
		/* Silent although what it waited for was committed (and the
		 * wake sent) 2 ms or more before the poll gave up. */
		if (rc == 0 && err == 0 &&
		    atomic_load(&fdw_commit_ns) + 2000000u <= back)
			a->lost++;
	}
	return err;
}

static void *fdw_consumer(void *arg)
{
	struct fdw *a = arg;
	int fd = a->use_fd ? mobj_ring_fd(a->c) : -1;
	const void *p;
	size_t avail, n;
	int err;

	for (;;) {
		err = fdw_peek(a, fd, 1 + rand_r(&a->seed) % 3000, &p, &avail);
		if (err == -EPIPE)
			err = mobj_ring_peek(a->c, 1, 0, &p, &avail);
		if (err < 0)
			break;
		n = rand_r(&a->seed) % 2 ? avail : 1 + rand_r(&a->seed) % avail;
		assert_int_equal(mobj_ring_consume(a->c, n), 0);
		a->got += n;
	}
	return NULL;
}

/* Three consumers, two waiting on their descriptors and one blocking,
 * reading odd amounts behind a producer of odd-sized writes. Each wake
 * round bumps the producer's wake sequence for one consumer while another
 * arms: a descriptor armed with the sequence after the bump, woken, then
 * armed again with the same sequence used to be taken for already woken
 * and never signalled again (a poll with no timeout hung: 1 run in 4 of
 * 100 MB; a 200 ms poll saw its data only at the timeout in 3 of 4). */
static void test_multi_fd_consumers_wake_rounds(void **state)
{
	struct tu_res res = tu_res_objects();
	struct fdw a[FDW_CONS];
	pthread_t t[FDW_CONS];
	uint64_t total = stream_bytes(), done = 0;
	unsigned seed = 42;
	struct mobj_ring *p;
	size_t n;
	void *w;
	int i;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(1 << 16, FDW_CONS, 0, &p), 0);
	for (i = 0; i < FDW_CONS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].use_fd = i != 1;
		a[i].seed = (unsigned)i * 7919u + 1;
		assert_int_equal(mobj_ring_consumer(p, &a[i].c), 0);
	}
	for (i = 0; i < FDW_CONS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fdw_consumer, &a[i]),
		                 0);
	while (done < total) {
		n = 1 + rand_r(&seed) % 2048;
		assert_int_equal(mobj_ring_reserve(p, n, T_MS, &w), 0);
		memset(w, 1, n);
		assert_int_equal(mobj_ring_commit(p, n), 0);
		atomic_store(&fdw_commit_ns, fdw_now_ns());
		done += n;
	}
	mobj_ring_close(p);
	for (i = 0; i < FDW_CONS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].got, done);
		assert_int_equal(a[i].lost, 0);
		mobj_ring_close(a[i].c);
	}
	tu_res_objects_check(res);
}

#define FLUSH_ROUNDS 400

/* A consumer process of test_multi_batch_flush_rounds_processes: read the
 * stream in small blocking reads, verify it, and count it in @got (shared
 * memory); exit 0 at -EPIPE. */
static void flush_round_child(struct mobj_chan *ch, _Atomic uint64_t *got)
{
	struct mobj_ring *c;
	unsigned char buf[16];
	uint64_t at = 0;
	ssize_t n, k;

	if (mobj_ring_recv(ch, T_MS, &c) < 0)
		_exit(10);
	mobj_chan_close(ch);
	for (;;) {
		n = mobj_ring_read(c, buf, sizeof(buf), T_MS);
		if (n == -EPIPE)
			break;
		if (n < 0)
			_exit(11);
		for (k = 0; k < n; k++)
			if (buf[k] != pat(at + (uint64_t)k))
				_exit(12);
		at += (uint64_t)n;
		atomic_store(got, at);
	}
	mobj_ring_close(c);
	_exit(0);
}

/* Four consumer processes asleep in a read; a producer batching 4096 bytes
 * writes a short message and flushes, FLUSH_ROUNDS times, each round once
 * all four have the last one. The flush's one wake (one FUTEX_WAKE on
 * Linux) must reach every sleeper: a consumer it missed would sleep out
 * its 50 ms slice, so the rounds would take 20 s; they take milliseconds
 * (bounded here by 10 s). */
static void test_multi_batch_flush_rounds_processes(void **state)
{
	struct tu_res res = tu_res_now();
	_Atomic uint64_t *got;
	struct mobj_chan *ch;
	struct mobj_ring *p;
	pid_t pids[WAKE_CONS];
	uint64_t at = 0, start, round_start;
	int i, r;

	(void)state;
	got = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(got != MAP_FAILED);
	for (i = 0; i < WAKE_CONS; i++)
		atomic_store(&got[i], 0);
	assert_int_equal(mobj_ring_create_multi(1 << 16, WAKE_CONS, 0, &p), 0);
	assert_int_equal(mobj_ring_set_batch(p, 4096), 0);
	for (i = 0; i < WAKE_CONS; i++) {
		pids[i] = tu_fork_chan(&ch);
		if (pids[i] == 0)
			flush_round_child(ch, &got[i]);
		assert_int_equal(mobj_ring_send(ch, p, T_MS), 0);
		mobj_chan_close(ch);
	}
	start = tu_now_ms();
	for (r = 0; r < FLUSH_ROUNDS; r++) {
		size_t n = 1 + (size_t)(r % 13);

		write_pat(p, at, n);
		at += n;
		assert_int_equal(mobj_ring_flush(p), 0);
		round_start = tu_now_ms();
		for (i = 0; i < WAKE_CONS; i++)
			while (atomic_load(&got[i]) < at) {
				assert_true(tu_now_ms() - round_start < T_MS);
				sched_yield();
			}
	}
	assert_true(tu_now_ms() - start < 10000);
	mobj_ring_close(p);
	for (i = 0; i < WAKE_CONS; i++)
		assert_int_equal(tu_wait(pids[i]), 0);
	munmap(got, 4096);
	tu_res_check(res);
}

/* A program built against the header before f.fan (struct mobj_ring_fast)
 * keeps this inline publish (a copy of it): it still sees peer_waiting
 * at the producer's local 1 with two or more consumers, so it publishes
 * every commit and wakes through mobj_ring_slow_wake(). */
static void old_publish(struct mobj_ring_fast *f, struct mobj_ring *r,
                        int force)
{
	if (!force && f->pos - f->published < f->batch &&
	    !__atomic_load_n(f->peer_waiting, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(f->peer_polling, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(f->own_index, f->pos, __ATOMIC_RELEASE);
	f->published = f->pos;
	if (f->fence)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(f->peer_waiting, __ATOMIC_RELAXED))
		mobj_ring_slow_wake(r);
}

/* The old inline mobj_ring_commit() (through old_publish). */
static int old_commit(struct mobj_ring *r, size_t n)
{
	struct mobj_ring_fast *f = (struct mobj_ring_fast *)r;

	if (!r || f->role != MOBJ_RING_FAST_PRODUCER || n > f->reserved)
		return -EINVAL;
	f->reserved = 0;
	f->in_record = 0;
	if (n == 0)
		return 0;
	f->pos += n;
	f->off += n;
	if (f->off >= f->cap)
		f->off -= f->cap;
	old_publish(f, r, 0);
	return 0;
}

static void test_multi_batch_old_binary(void **state)
{
	struct tu_res res = tu_res_objects();
	struct reader rd[3];
	pthread_t th[3];
	struct mobj_ring *p;
	uint64_t total = 8 << 20, i = 0;
	unsigned char *dst;
	size_t n, k;
	int j;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(1 << 16, 3, 0, &p), 0);
	assert_int_equal(mobj_ring_set_batch(p, 4096), 0);
	for (j = 0; j < 3; j++) {
		rd[j].total = total;
		assert_int_equal(mobj_ring_consumer(p, &rd[j].c), 0);
	}
	/* Every commit published, none deferred. */
	for (k = 1; k <= 64; k++) {
		assert_int_equal(mobj_ring_reserve(p, 1, 0, (void **)&dst), 0);
		*dst = pat(i++);
		assert_int_equal(old_commit(p, 1), 0);
		assert_int_equal(atomic_load(&mobj__ring_own(p)->index), k);
	}
	/* The consumers sleep often (small messages) and are never left
	 * asleep: every byte arrives, each read bounded by T_MS. */
	for (j = 0; j < 3; j++)
		assert_int_equal(pthread_create(&th[j], NULL, reader_main,
		                                &rd[j]), 0);
	while (i < total) {
		n = 1 + (size_t)((i * 7919) % 300);
		if (n > total - i)
			n = (size_t)(total - i);
		assert_int_equal(mobj_ring_reserve(p, n, T_MS, (void **)&dst), 0);
		for (k = 0; k < n; k++)
			dst[k] = pat(i + k);
		assert_int_equal(old_commit(p, n), 0);
		assert_int_equal(atomic_load(&mobj__ring_own(p)->index), i + n);
		i += n;
		if (i % 7 == 0)
			sched_yield();
	}
	mobj_ring_close(p);
	for (j = 0; j < 3; j++) {
		pthread_join(th[j], NULL);
		assert_int_equal(rd[j].err, 0);
		mobj_ring_close(rd[j].c);
	}
	tu_res_objects_check(res);
}

/* Consumer process: receive, verify (or die after @die_after bytes), exit
 * with the result. */
static void consumer_child(struct mobj_chan *ch, uint64_t total,
                           uint64_t die_after)
{
	struct mobj_ring *c;
	char buf[4096];
	uint64_t got = 0;
	ssize_t n;

	if (mobj_ring_recv(ch, T_MS, &c) < 0)
		_exit(10);
	mobj_chan_close(ch);
	if (die_after) {
		while (got < die_after) {
			n = mobj_ring_read(c, buf, sizeof(buf), T_MS);
			if (n <= 0)
				_exit(11);
			got += (uint64_t)n;
		}
		raise(SIGKILL);
	}
	_exit(verify(c, total) == 0 ? 0 : 12);
}

/* Fork @n consumer processes (before the ring exists, so none inherits a
 * writable mapping), connect each over its own channel. */
static void spawn_consumers(struct mobj_ring *p, int n, uint64_t total,
                            uint64_t die_after_first, pid_t *pids)
{
	struct mobj_chan *ch;
	int i;

	for (i = 0; i < n; i++) {
		pids[i] = tu_fork_chan(&ch);
		if (pids[i] == 0)
			consumer_child(ch, total, i == 0 ? die_after_first : 0);
		assert_int_equal(mobj_ring_send(ch, p, T_MS), 0);
		mobj_chan_close(ch);
	}
}

/* NCONS consumer processes read the whole stream; with @die_after, the
 * first dies (SIGKILL, no close) that far in, while the producer waits
 * for it: it stops holding the producer back (every write bounded by
 * T_MS), and the others still verify every byte. */
static void stream_processes(uint64_t die_after, size_t batch)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_consumer_stats st;
	struct mobj_ring *p;
	uint64_t total = stream_bytes();
	pid_t pids[NCONS];
	int i;

	assert_int_equal(mobj_ring_create_multi(256 << 10, NCONS, 0, &p), 0);
	assert_int_equal(mobj_ring_set_batch(p, batch), 0);
	spawn_consumers(p, NCONS, total, die_after, pids);
	assert_int_equal(produce(p, total), 0);
	for (i = 0; i < NCONS; i++) {
		assert_int_equal(mobj_ring_consumer_stats(p, (unsigned)i, &st), 0);
		assert_true(st.pid > 0);
		assert_int_equal(st.state, die_after && i == 0 ? MOBJ_RING_DEAD :
		                                                 MOBJ_RING_LIVE);
	}
	mobj_ring_close(p);
	for (i = 0; i < NCONS; i++)
		assert_int_equal(tu_wait(pids[i]),
		                 die_after && i == 0 ? 128 + SIGKILL : 0);
	tu_res_check(res);
}

static void test_multi_stream_processes(void **state)
{
	(void)state;
	stream_processes(0, 0);
}

/* The same with the producer batching (deferring while no consumer
 * process waits or polls): every byte reaches each. */
static void test_multi_stream_processes_batch(void **state)
{
	(void)state;
	stream_processes(0, 4096);
}

static void test_multi_kill_one(void **state)
{
	(void)state;
	stream_processes(4 << 20, 0);
}

/* The producer's death (SIGKILL) reaches every consumer: all committed
 * data, then -EPIPE. */
static void test_multi_producer_killed(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *ch[2];
	struct mobj_ring *p, *c[2];
	char buf[64];
	pid_t pid;
	int i;

	(void)state;
	pid = tu_fork_chan(&ch[0]);
	if (pid == 0) {
		if (mobj_ring_create_multi(4096, 2, 0, &p) < 0 ||
		    mobj_ring_send(ch[0], p, T_MS) < 0)
			_exit(2);
		/* The second consumer's channel: the same pair, again. */
		if (mobj_ring_send(ch[0], p, T_MS) < 0 ||
		    mobj_ring_write(p, "last words", 10, T_MS) != 10)
			_exit(3);
		raise(SIGKILL);
	}
	ch[1] = ch[0];
	for (i = 0; i < 2; i++)
		assert_int_equal(mobj_ring_recv(ch[i], T_MS, &c[i]), 0);
	mobj_chan_close(ch[0]);
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_read(c[i], buf, sizeof(buf), T_MS), 10);
		assert_memory_equal(buf, "last words", 10);
		assert_int_equal(mobj_ring_read(c[i], buf, sizeof(buf), T_MS),
		                 -EPIPE);
		mobj_ring_close(c[i]);
	}
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
	tu_res_check(res);
}

/* ---- Least privilege ---------------------------------------------------- */

/* A consumer process (the second of two): it maps the data (mirrored) and
 * the producer's page read-only and cannot make them writable, writes its
 * own page, and maps nothing else: never the other consumer's page. */
static void privs_child(struct mobj_chan *ch)
{
	struct tu_res before = tu_res_objects(), after;
	struct mobj_ring *c;
	unsigned char *d;

	if (mobj_ring_recv(ch, T_MS, &c) < 0)
		_exit(10);
	mobj_chan_close(ch);
	after = tu_res_objects();
	d = mobj__ring_data(c);
	if (tu_cannot_write(d) || tu_cannot_write(d + mobj_ring_capacity(c)) ||
	    tu_cannot_write(mobj__ring_peer(c)))
		_exit(11);
	if (!tu_poke_mem(mobj__ring_own(c), 0))
		_exit(12);
	/* Two halves of the mirror, the producer's page, our own. */
	if (after.maps - before.maps != 4)
		_exit(13);
	mobj_ring_close(c);
	_exit(0);
}

static void test_multi_least_privilege(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *ch;
	struct mobj_ring *p, *c;
	pid_t pid;

	(void)state;
	pid = tu_fork_chan(&ch);
	if (pid == 0)
		privs_child(ch);
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_send(ch, p, T_MS), 0);
	mobj_chan_close(ch);
	assert_int_equal(tu_wait(pid), 0);
	mobj_ring_close(c);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* ---- Overwrite mode ----------------------------------------------------- */

/* Records of 100 bytes: an 8-byte sequence number, then bytes of it. */
static void record_fill(unsigned char *r, uint64_t seq)
{
	int k;

	memcpy(r, &seq, 8);
	for (k = 8; k < 100; k++)
		r[k] = (unsigned char)(seq + (uint64_t)k);
}

static int record_ok(const unsigned char *r, size_t len, uint64_t *seq)
{
	int k;

	if (len != 100)
		return 0;
	memcpy(seq, r, 8);
	for (k = 8; k < 100; k++)
		if (r[k] != (unsigned char)(*seq + (uint64_t)k))
			return 0;
	return 1;
}

/* A consumer process stalls while the producer (never waiting) laps it
 * three times: its next read is -EOVERFLOW, exactly once, then it reads
 * intact, consecutive records to the last one. */
static void test_multi_overwrite_stalled(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *ch;
	struct mobj_ring *p, *c;
	unsigned char rec[100];
	uint64_t seq, next, nrec;
	int go[2], overflows = 0;
	ssize_t n;
	pid_t pid;
	char x;

	(void)state;
	assert_int_equal(pipe(go), 0);
	pid = tu_fork_chan(&ch);
	if (pid == 0) {
		close(go[1]);
		if (mobj_ring_recv(ch, T_MS, &c) < 0)
			_exit(10);
		mobj_chan_close(ch);
		if (read(go[0], &x, 1) != 1)
			_exit(11);
		next = 0;
		for (;;) {
			n = mobj_ring_read_record(c, rec, sizeof(rec), T_MS);
			if (n == -EOVERFLOW) {
				overflows++;
				continue;
			}
			if (n == -EPIPE)
				break;
			if (n < 0 || !record_ok(rec, (size_t)n, &seq) ||
			    (next && seq != next))
				_exit(12);
			next = seq + 1;
		}
		_exit(overflows == 1 && next > 0 ? (int)(next % 200) : 13);
	}
	close(go[0]);
	assert_int_equal(mobj_ring_create_multi(16 << 10, 1, MOBJ_RING_OVERWRITE,
	                                        &p), 0);
	assert_int_equal(mobj_ring_send(ch, p, T_MS), 0);
	mobj_chan_close(ch);
	nrec = 3 * (16 << 10) / 108 + 7;
	for (seq = 1; seq <= nrec; seq++) {
		record_fill(rec, seq);
		/* Timeout 0: the producer never waits. */
		assert_int_equal(mobj_ring_write_record(p, rec, 100, 0), 100);
	}
	assert_int_equal(write(go[1], "g", 1), 1);
	mobj_ring_close(p);
	close(go[1]);
	assert_int_equal(tu_wait(pid), (int)((nrec + 1) % 200));
	tu_res_check(res);
}

/* Record @seq of the race test: its length and its byte k. */
static size_t race_len(uint64_t seq)
{
	return 16 + (size_t)((seq * 37) % 3000);
}

static unsigned char race_byte(uint64_t seq, size_t k)
{
	return (unsigned char)(seq * 131 + k * 7 + (k >> 8));
}

/* A consumer process reading records in place while the producer laps it
 * (@slow: it pauses now and then, so it is lapped often): every record
 * whose consume returns 0 must have been intact when read, and sequence
 * numbers only go up. Exits 0, or the first thing that went wrong. */
static void race_child(struct mobj_chan *ch, bool slow)
{
	struct mobj_ring *c;
	const unsigned char *p;
	const void *v;
	uint64_t seq = 0, last = 0, n = 0, ok;
	size_t len, k;
	int err;

	if (mobj_ring_recv(ch, T_MS, &c) < 0)
		_exit(10);
	mobj_chan_close(ch);
	for (;;) {
		err = mobj_ring_peek_record(c, T_MS, &v, &len);
		if (err == -EOVERFLOW)
			continue;
		if (err == -EPIPE)
			break;
		if (err < 0)
			_exit(11);
		p = v;
		ok = len >= 8;
		if (ok)
			memcpy(&seq, p, 8);
		ok = ok && len == race_len(seq);
		for (k = 8; ok && k < len; k++)
			ok = p[k] == race_byte(seq, k);
		err = mobj_ring_consume_record(c);
		if (err == -EOVERFLOW)
			continue;
		if (err < 0)
			_exit(12);
		/* Consumed without -EOVERFLOW: it was intact. */
		if (!ok)
			_exit(13);
		if (seq <= last)
			_exit(14);
		last = seq;
		if (slow && ++n % 64 == 0)
			usleep(2000);
	}
	mobj_ring_close(c);
	_exit(last > 0 ? 0 : 15);
}

/* Overwrite mode under a real race: two consumer processes read in place
 * while the producer, never waiting, laps them; the seqlock check must
 * catch every record overwritten under a reader. */
static void test_multi_overwrite_race(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *ch[2];
	struct mobj_ring *p;
	unsigned char *dst;
	uint64_t seq, nrec = stream_bytes() / 1500 / 4;
	void *w;
	size_t k, len;
	pid_t pids[2];
	int i;

	(void)state;
	/* Both consumers exist before the ring: neither inherits it. */
	for (i = 0; i < 2; i++) {
		pids[i] = tu_fork_chan(&ch[i]);
		if (pids[i] == 0) {
			if (i == 1)
				mobj_chan_close(ch[0]);
			race_child(ch[i], i == 1);
		}
	}
	assert_int_equal(mobj_ring_create_multi(64 << 10, 2, MOBJ_RING_OVERWRITE,
	                                        &p), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_send(ch[i], p, T_MS), 0);
		mobj_chan_close(ch[i]);
	}
	for (seq = 1; seq <= nrec; seq++) {
		len = race_len(seq);
		assert_int_equal(mobj_ring_reserve_record(p, len, 0, &w), 0);
		dst = w;
		memcpy(dst, &seq, 8);
		for (k = 8; k < len; k++)
			dst[k] = race_byte(seq, k);
		assert_int_equal(mobj_ring_commit_record(p, len), 0);
	}
	mobj_ring_close(p);
	for (i = 0; i < 2; i++)
		assert_int_equal(tu_wait(pids[i]), 0);
	tu_res_check(res);
}

/* Reading in place: bytes overwritten between peek and consume make the
 * consume -EOVERFLOW (nothing consumed), and the consumer goes on with
 * intact data. Byte mode: it resumes at the oldest intact byte. */
static void test_multi_overwrite_in_place(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	uint64_t v, want, i;
	const void *src;
	size_t avail, cap;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 1, MOBJ_RING_OVERWRITE,
	                                        &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	cap = mobj_ring_capacity(p);
	for (i = 0; i < 8; i++)
		assert_int_equal(mobj_ring_write(p, &i, 8, 0), 8);
	assert_int_equal(mobj_ring_peek(c, 8, 0, &src, &avail), 0);
	assert_int_equal(avail, 64);
	/* A whole ring more: the peeked bytes are gone. */
	for (; i < 8 + cap / 8; i++)
		assert_int_equal(mobj_ring_write(p, &i, 8, 0), 8);
	assert_int_equal(mobj_ring_consume(c, 8), -EOVERFLOW);
	/* Reported once: what follows is intact and consecutive. */
	want = 8;
	while (mobj_ring_read(c, &v, 8, 0) == 8) {
		assert_int_equal(v, want);
		want++;
	}
	assert_int_equal(want, i);
	/* Nothing overwritten: consume is 0. */
	assert_int_equal(mobj_ring_write(p, &i, 8, 0), 8);
	assert_int_equal(mobj_ring_peek(c, 8, 0, &src, &avail), 0);
	assert_int_equal(mobj_ring_consume(c, 8), 0);
	mobj_ring_close(c);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* ---- Hostile consumer indices ------------------------------------------- */

/* A consumer whose index is impossible is dropped (BROKEN) and never makes
 * the producer overwrite what an honest consumer has not read (blocking
 * mode); in overwrite mode nothing depends on it. Each lie: ahead of the
 * tail, backwards. */
static void hostile_index(unsigned flags, int lie)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_consumer_stats st;
	struct mobj_ring *p, *honest, *liar;
	struct mobj__ring_ctl *own;
	unsigned char buf[256];
	uint64_t i, n, total;
	size_t cap;

	assert_int_equal(mobj_ring_create_multi(4096, 2, flags, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &liar), 0);
	assert_int_equal(mobj_ring_consumer(p, &honest), 0);
	cap = mobj_ring_capacity(p);
	for (i = 0; i < 256; i++)
		buf[i] = pat(i);
	assert_int_equal(mobj_ring_write(p, buf, 256, 0), 256);
	own = mobj__ring_own(liar);
	if (lie == 0)
		atomic_store(&own->index, (uint64_t)1 << 60);
	else {
		assert_int_equal(mobj_ring_read(liar, buf, 128, 0), 128);
		/* The producer sees 128, then the index goes back. */
		assert_true(mobj_ring_available(p) >= 0);
		atomic_store(&own->index, 64);
	}
	/* Fill the ring: blocking mode stops where the honest consumer is. */
	total = 256;
	do {
		for (i = 0; i < 256; i++)
			buf[i] = pat(total + i);
		n = (uint64_t)mobj_ring_write(p, buf, 256, 0);
		if ((ssize_t)n > 0)
			total += n;
	} while ((ssize_t)n > 0 && total < 4 * cap);
	if (flags & MOBJ_RING_OVERWRITE) {
		assert_int_equal(total, 4 * cap);
	} else {
		assert_int_equal((ssize_t)n, -EAGAIN);
		assert_int_equal(total, cap);
		assert_int_equal(mobj_ring_consumer_stats(p, 0, &st), 0);
		assert_int_equal(st.state, MOBJ_RING_BROKEN);
		/* The honest one reads every byte intact. */
		assert_int_equal(verify_n(honest, cap), 0);
	}
	mobj_ring_close(liar);
	mobj_ring_close(honest);
	mobj_ring_close(p);
	tu_res_check(res);
}

static void test_multi_hostile_index_blocking(void **state)
{
	(void)state;
	hostile_index(0, 0);
	hostile_index(0, 1);
}

static void test_multi_hostile_index_overwrite(void **state)
{
	(void)state;
	hostile_index(MOBJ_RING_OVERWRITE, 0);
	hostile_index(MOBJ_RING_OVERWRITE, 1);
}

/* A hostile producer's oldest (past its tail) is -EPROTO, never a jump
 * outside the ring. */
static void test_multi_hostile_oldest(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	char buf[8];

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 1, MOBJ_RING_OVERWRITE,
	                                        &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_write(p, "abcd", 4, 0), 4);
	atomic_store(&mobj__ring_own(p)->oldest, (uint64_t)1 << 50);
	assert_int_equal(mobj_ring_read(c, buf, sizeof(buf), 0), -EPROTO);
	mobj_ring_close(c);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* ---- Joining with descriptors running out ------------------------------ */

/* Lower this process's descriptor limit so that at most the @k lowest
 * free numbers can still be opened (0: restore @saved). */
static void fd_limit(int k, const struct rlimit *saved)
{
	struct rlimit rl = *saved;
	int fd, lowest;

	if (k >= 0) {
		fd = dup(0);
		assert_true(fd >= 0);
		lowest = fd;
		close(fd);
		rl.rlim_cur = (rlim_t)(lowest + k);
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

enum join_way { JOIN_CONSUMER, JOIN_EXPORT, JOIN_FD };

/* One attempt of @way with at most @k more descriptors: 0 when it worked
 * (undone again), else its error, which must leave nothing behind. */
static int join_step(struct mobj_ring *p, enum join_way way, int k,
                     const struct rlimit *saved)
{
	struct mobj_ring_xfer x;
	struct mobj_ring *c = NULL;
	int err;

	fd_limit(k, saved);
	if (way == JOIN_CONSUMER)
		err = mobj_ring_consumer(p, &c);
	else if (way == JOIN_EXPORT)
		err = mobj_ring_export(p, &x);
	else
		err = mobj_ring_fd(p);
	fd_limit(-1, saved);
	if (err >= 0 && way == JOIN_CONSUMER) {
		assert_true(c->pev_set); /* joined with its event */
		mobj_ring_close(c);
	}
	if (err >= 0 && way == JOIN_EXPORT) {
#ifdef __linux__
		assert_true(x.event_fd >= 0);
#endif
		assert_int_equal(mobj_ring_withdraw(p, &x), 0);
	}
	return err < 0 ? err : 0;
}

/* Every way of joining a 1:N ring, and the producer's mobj_ring_fd(),
 * retried with one more descriptor allowed each time: each failure (at
 * whatever step it ran out) is an error that leaves no descriptor, mapping
 * or slot behind and the producer working; a consumer joins with an event
 * or not at all (the producer's descriptor could not cover it), so an
 * event loop never waits on a descriptor that misses a consumer. */
static int join_sweep(void *arg)
{
	enum join_way way;
	struct mobj_ring_consumer_stats st;
	struct mobj_ring_xfer x;
	struct mobj_ring *p, *c;
	struct rlimit saved;
	struct tu_res before;
	int k, err, fails;

	(void)arg;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	for (way = JOIN_CONSUMER; way <= JOIN_FD; way++) {
		assert_int_equal(mobj_ring_create_multi(4096, 4, 0, &p), 0);
		/* Made once and kept: the disposal thread, our pidfd. */
		assert_int_equal(mobj_ring_consumer(p, &c), 0);
		mobj_ring_close(c);
		/* The producer sees the close (and frees the slot) here. */
		assert_int_equal(mobj_ring_consumer_stats(p, 0, &st), 0);
		assert_int_equal(st.state, MOBJ_RING_CLOSED);
		assert_int_equal(mobj_ring_export(p, &x), 0);
		assert_int_equal(mobj_ring_withdraw(p, &x), 0);
		if (way != JOIN_FD)
			assert_true(mobj_ring_fd(p) >= 0); /* joins add to it */
		before = tu_res_now();
		fails = 0;
		for (k = 0; k < 64; k++) {
			err = join_step(p, way, k, &saved);
			if (err == 0)
				break;
			fails++;
			assert_true(err == -EMFILE || err == -ENFILE ||
			            err == -ENOMEM);
			if (!tu_res_same(before, tu_res_now()))
				return 20 + (int)way;
			/* No slot is left live by a failed join. */
			assert_int_equal(mobj_ring_consumer_stats(p, 0, &st), 0);
			assert_int_not_equal(st.state, MOBJ_RING_LIVE);
			assert_int_equal(mobj_ring_write(p, "x", 1, 0), 1);
		}
		if (k == 64 || fails == 0)
			return 30 + (int)way;
		mobj_ring_close(p);
	}
	return 0;
}

static void test_multi_join_out_of_fds(void **state)
{
	(void)state;
	assert_int_equal(tu_in_child(join_sweep, NULL), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multi_bad_input),
		cmocka_unit_test(test_multi_enospc),
		cmocka_unit_test(test_multi_slowest),
		cmocka_unit_test(test_multi_export),
		cmocka_unit_test(test_xfer_init),
		cmocka_unit_test(test_multi_offer_bound),
		cmocka_unit_test(test_multi_consumer_fd),
		cmocka_unit_test(test_multi_import_overwritten_blocking),
#ifdef __linux__
		cmocka_unit_test(test_multi_fd_epoll_no_thread),
		cmocka_unit_test(test_multi_fd_consumer_death),
		cmocka_unit_test(test_multi_fd_producer_death),
		cmocka_unit_test(test_multi_xfer_fd_no_thread),
		cmocka_unit_test(test_multi_xfer_consumer_killed),
		cmocka_unit_test(test_multi_xfer_hostile_answers),
#endif
		cmocka_unit_test(test_multi_batch),
		cmocka_unit_test(test_multi_batch_overwrite),
		cmocka_unit_test(test_multi_batch_defers_with_two),
		cmocka_unit_test(test_multi_batch_wake_loop),
		cmocka_unit_test(test_multi_batch_flush_rounds_processes),
		cmocka_unit_test(test_multi_batch_old_binary),
		cmocka_unit_test(test_multi_stream_threads),
		cmocka_unit_test(test_multi_stream_processes),
		cmocka_unit_test(test_multi_stream_processes_batch),
		cmocka_unit_test(test_multi_kill_one),
		cmocka_unit_test(test_multi_producer_killed),
		cmocka_unit_test(test_multi_least_privilege),
		cmocka_unit_test(test_multi_overwrite_stalled),
		cmocka_unit_test(test_multi_overwrite_in_place),
		cmocka_unit_test(test_multi_overwrite_race),
		cmocka_unit_test(test_multi_hostile_index_blocking),
		cmocka_unit_test(test_multi_hostile_index_overwrite),
		cmocka_unit_test(test_multi_hostile_oldest),
		cmocka_unit_test(test_multi_join_out_of_fds),
		cmocka_unit_test(test_multi_fork_child_closes_pending),
		cmocka_unit_test(test_multi_fd_consumers_wake_rounds),
	};

	tu_helper_dispatch(argc, argv, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
