/*
 * A 1:N producer's mobj_ring_fd(): the set over its consumers' peer events
 * (src/ring_multi.c; Linux: epoll, src/linux/ring_pevent.c; Darwin: a
 * kqueue of the slots' kqueues, src/darwin/ring_pevent.c), polled with
 * poll() by the producer while consumers in this process and in forked
 * processes consume. Every call on a polled end has timeout 0, so a lost
 * wake-up shows as a poll() that stays silent for T_MS (a fail), and a
 * descriptor that stays readable after -EAGAIN shows as poll(0) == 1.
 * Portable: the same cases run on Linux here and on the macOS workflow,
 * where tu_res also counts Mach port names (none may leak).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef __APPLE__
#include <sys/event.h>
#else
#include <sys/epoll.h>
#endif

#include "mobj/mobj.h"
#include "os.h"
#include "ring_internal.h"
#include "testutil.h"

#define T_MS 10000

/* Stream byte i: position-dependent, with a prime period. */
static unsigned char pat(uint64_t i)
{
	return (unsigned char)((i % 251) ^ (i / 251) ^ (i >> 17));
}

/* poll() on one descriptor: 1 readable, 0 not within @ms. */
static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms);
}

/* The application's own event loop (Darwin: a kqueue, Linux: epoll) with
 * @fd in it: the set nests one level deeper (XNU kqueue_kqfilter allows
 * MAX_NESTED_KQ levels). */
static int loop_open(int fd)
{
#ifdef __APPLE__
	struct kevent ev;
	int kq = kqueue();

	assert_true(kq >= 0);
	EV_SET(&ev, (uintptr_t)fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
	assert_int_equal(kevent(kq, &ev, 1, NULL, 0, NULL), 0);
	return kq;
#else
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	assert_true(ep >= 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	return ep;
#endif
}

/* 1 when the loop reports its descriptor readable within @ms, else 0. */
static int loop_ready(int loop, int ms)
{
#ifdef __APPLE__
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	struct kevent out;

	return kevent(loop, NULL, 0, &out, 1, &ts);
#else
	struct epoll_event out;

	return epoll_wait(loop, &out, 1, ms);
#endif
}

/* The backend's set alone: it polls readable exactly while a member does,
 * a drained member stops counting once the set is drained too (Darwin:
 * both kqueues settled), a member whose peer closed counts for good, and
 * a deleted member no longer counts. */
static void test_set_follows_members(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj__os_pevent a, b, x, y;
	int set;

	(void)state;
	assert_int_equal(mobj__os_pevent_pair(&a, &b), 0);
	assert_int_equal(mobj__os_pevent_pair(&x, &y), 0);
	assert_int_equal(mobj__os_pevent_set_open(&set), 0);
	assert_int_equal(readable(set, 0), 0);
	assert_int_equal(mobj__os_pevent_set_add(set, &a), 0);
	assert_int_equal(mobj__os_pevent_set_add(set, &x), 0);
	/* Every end starts readable: so does the set. */
	assert_int_equal(readable(set, 0), 1);
	assert_int_equal(mobj__os_pevent_drain(&a), 0);
	mobj__os_pevent_set_drain(set);
	assert_int_equal(readable(set, 0), 1); /* x still is */
	assert_int_equal(mobj__os_pevent_drain(&x), 0);
	assert_int_equal(readable(mobj__os_pevent_fd(&a), 0), 0);
	assert_int_equal(readable(mobj__os_pevent_fd(&x), 0), 0);
	mobj__os_pevent_set_drain(set);
	assert_int_equal(readable(set, 0), 0);
	/* A signal to one member reaches the set's poller. */
	mobj__os_pevent_signal(&y);
	assert_int_equal(readable(set, T_MS), 1);
	assert_int_equal(mobj__os_pevent_drain(&x), 0);
	mobj__os_pevent_set_drain(set);
	assert_int_equal(readable(set, 0), 0);
	/* b goes: the set tells. */
	mobj__os_pevent_close(&b);
	assert_int_equal(readable(set, T_MS), 1);
#ifdef __APPLE__
	/* In one task the halves hold no dead-name requests: b's close is
	 * its last wake (the ring's closed flag says the rest). */
	assert_int_equal(mobj__os_pevent_drain(&a), 0);
#else
	/* Its socket's end: a reports it for good, through the set too. */
	assert_int_equal(mobj__os_pevent_drain(&a), -EPIPE);
	mobj__os_pevent_set_drain(set);
	assert_int_equal(readable(mobj__os_pevent_fd(&a), 0), 1);
	assert_int_equal(readable(set, 0), 1);
#endif
	/* Deleted (before its close, as ring_multi.c does): gone from it. */
	mobj__os_pevent_set_del(set, &a);
	mobj__os_pevent_close(&a);
	mobj__os_pevent_set_drain(set);
	assert_int_equal(readable(set, 0), 0);
	mobj__os_pevent_set_del(set, &x);
	mobj__os_pevent_close(&x);
	mobj__os_pevent_close(&y);
	mobj__os_pevent_set_close(set);
	tu_res_check(res);
}

/* Fill a producer with timeout 0 to the last byte (a write is all or
 * -EAGAIN). */
static void fill(struct mobj_ring *p)
{
	static const char buf[64];
	ssize_t n;

	while ((n = mobj_ring_write(p, buf, sizeof(buf), 0)) > 0)
		;
	assert_int_equal(n, -EAGAIN);
	while ((n = mobj_ring_write(p, buf, 1, 0)) > 0)
		;
	assert_int_equal(n, -EAGAIN);
	assert_int_equal(mobj_ring_available(p), 0);
}

/* Read everything readable now on @c. */
static void empty(struct mobj_ring *c)
{
	char buf[4096];
	ssize_t n;

	while ((n = mobj_ring_read(c, buf, sizeof(buf), 0)) > 0)
		;
	assert_int_equal(n, -EAGAIN);
}

/* One round with two consumers: the producer fills the ring, @early
 * consumes everything, the producer still finds no room (@late holds it
 * back) and its descriptor stays unreadable until @late consumes. */
static void hold_back(struct mobj_ring *p, int fd, struct mobj_ring *early,
                      struct mobj_ring *late)
{
	fill(p);
	assert_int_equal(readable(fd, 0), 0);
	empty(early);
	/* early's consume may make it readable, spuriously. */
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), -EAGAIN);
	assert_int_equal(readable(fd, 0), 0);
	empty(late);
	assert_int_equal(readable(fd, T_MS), 1);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), 1);
}

/* Two consumers: the producer's -EAGAIN leaves its descriptor unreadable
 * (the wakes queued at set-up drained, every level settled), and it turns
 * readable when the consumer that held it back consumes: first one
 * laggard, then the other; in the application's own kqueue or epoll set
 * as well as with poll(). */
static void test_set_laggard(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c[2];
	int fd, loop;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c[0]), 0);
	assert_int_equal(mobj_ring_consumer(p, &c[1]), 0);
	fd = mobj_ring_fd(p);
	assert_true(fd >= 0);
	assert_int_equal(mobj_ring_fd(p), fd);
	loop = loop_open(fd);
	assert_int_equal(readable(fd, 0), 1); /* it starts readable */
	assert_int_equal(loop_ready(loop, 0), 1);
	fill(p);
	assert_int_equal(readable(fd, 0), 0);
	assert_int_equal(loop_ready(loop, 0), 0);
	empty(c[1]);
	/* c[0] still holds it back (c[1]'s consume may wake it spuriously). */
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), -EAGAIN);
	assert_int_equal(readable(fd, 0), 0);
	assert_int_equal(loop_ready(loop, 0), 0);
	empty(c[0]);
	assert_int_equal(loop_ready(loop, T_MS), 1);
	assert_int_equal(readable(fd, 0), 1);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), 1);
	hold_back(p, fd, c[0], c[1]);
	close(loop);
	mobj_ring_close(c[0]);
	mobj_ring_close(c[1]);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* Consumers that joined over the user's IPC (export, import, accept the
 * answer; here in one process) are members too: the set made before they
 * joined covers them, each holds the producer back until it consumes, and
 * one that closes makes the descriptor readable. */
static void test_set_importers(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_xfer offer, ans;
	struct mobj_ring *p, *c[2];
	int fd, i;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	fd = mobj_ring_fd(p);
	assert_true(fd >= 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_export(p, &offer), 0);
		assert_int_equal(mobj_ring_import(&offer, &c[i], &ans), 0);
		assert_int_equal(mobj_ring_accept_answer(p, &ans), 0);
	}
	assert_int_equal(readable(fd, 0), 1);
	hold_back(p, fd, c[1], c[0]);
	fill(p);
	empty(c[0]);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), -EAGAIN);
	assert_int_equal(readable(fd, 0), 0);
	mobj_ring_close(c[1]);
	assert_int_equal(readable(fd, T_MS), 1);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), 1);
	mobj_ring_close(c[0]);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* A consumer process killed (no close) while it holds the producer back:
 * the producer's descriptor polls readable, the next call finds the room
 * (the dead consumer departed), and the in-process consumer is not
 * disturbed. Then one that closes its end (its process lives on). */
static void test_set_consumer_death(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_consumer_stats st;
	struct mobj_chan *ch;
	struct mobj_ring *p, *in;
	char buf[4096];
	pid_t pid;
	int fd;

	(void)state;
	pid = tu_fork_parked_consumer(&ch);
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_send(ch, p, T_MS), 0);
	mobj_chan_close(ch);
	assert_int_equal(mobj_ring_consumer(p, &in), 0);
	fd = mobj_ring_fd(p);
	assert_true(fd >= 0);
	fill(p);
	empty(in);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), -EAGAIN);
	assert_int_equal(readable(fd, 0), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(readable(fd, T_MS), 1);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), 1);
	assert_int_equal(mobj_ring_consumer_stats(p, 0, &st), 0);
	assert_int_equal(st.state, MOBJ_RING_DEAD);
	assert_int_equal(mobj_ring_read(in, buf, sizeof(buf), 0), 1);
	/* The in-process one closes while holding it back. */
	fill(p);
	assert_int_equal(readable(fd, 0), 0);
	mobj_ring_close(in);
	assert_int_equal(readable(fd, T_MS), 1);
	assert_int_equal(mobj_ring_write(p, buf, 1, 0), 1);
	mobj_ring_close(p);
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
	tu_res_check(res);
}

/* Enough descriptors for @n consumers (two halves each, three on the
 * Darwin side of a channel) on systems whose soft limit is low (macOS:
 * 256). */
static void want_fds(rlim_t n)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= n ?
		                      n : rl.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
}

#define HUNDRED 100

/* A set of 100 members: the producer's descriptor stays unreadable while
 * any of them holds it back and turns readable when the last one
 * consumes; half of them leave (closed: their members deleted from the
 * set) and it goes on with the rest; nothing leaks. */
static void test_set_hundred_members(void **state)
{
	struct mobj_ring *p, *c[HUNDRED];
	struct tu_res res;
	int fd, i;

	(void)state;
	want_fds(1024);
	res = tu_res_now();
	assert_int_equal(mobj_ring_create_multi(4096, HUNDRED, 0, &p), 0);
	for (i = 0; i < HUNDRED; i++)
		assert_int_equal(mobj_ring_consumer(p, &c[i]), 0);
	assert_int_equal(mobj_ring_consumer(p, &c[0]), -ENOSPC);
	fd = mobj_ring_fd(p);
	assert_true(fd >= 0);
	fill(p);
	assert_int_equal(readable(fd, 0), 0);
	/* Backwards: the first laggard (the lowest slot) consumes last. */
	for (i = HUNDRED - 1; i > 0; i--)
		empty(c[i]);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), -EAGAIN);
	assert_int_equal(readable(fd, 0), 0);
	empty(c[0]);
	assert_int_equal(readable(fd, T_MS), 1);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), 1);
	for (i = 0; i < HUNDRED; i += 2) {
		mobj_ring_close(c[i]);
		c[i] = NULL;
	}
	fill(p);
	assert_int_equal(readable(fd, 0), 0);
	for (i = 1; i < HUNDRED; i += 2)
		empty(c[i]);
	assert_int_equal(readable(fd, T_MS), 1);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), 1);
	for (i = 1; i < HUNDRED; i += 2)
		mobj_ring_close(c[i]);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* A forked child that closes its copies of a 1:N producer whose
 * descriptor is in use, and of its consumer, must leave the set to the
 * owner: the owner's descriptor still turns readable when its consumer
 * consumes. (It did not on Linux: the child's close deleted every member
 * from the epoll instance it shares with its parent.) And the child's
 * close must not touch the producer's control page: on Darwin a child
 * has none of the parent's mappings (VM_INHERIT_NONE), which the child
 * here mimics (on Darwin the mprotect fails on the hole, harmlessly).
 * (It did: freeing the slots refreshed the fast path from that page.) */
static int close_copies(void *arg)
{
	struct mobj_ring **r = arg;

	(void)mprotect(mobj__ring_own(r[0]), (size_t)mobj_page_size(),
	               PROT_NONE);
	mobj_ring_close(r[1]);
	mobj_ring_close(r[0]);
	return 0;
}

static void test_set_fork_child_close(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *r[2];
	int fd;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 1, 0, &r[0]), 0);
	assert_int_equal(mobj_ring_consumer(r[0], &r[1]), 0);
	fd = mobj_ring_fd(r[0]);
	assert_true(fd >= 0);
	assert_int_equal(tu_in_child(close_copies, r), 0);
	fill(r[0]);
	assert_int_equal(readable(fd, 0), 0);
	empty(r[1]);
	assert_int_equal(readable(fd, T_MS), 1);
	assert_int_equal(mobj_ring_write(r[0], "x", 1, 0), 1);
	mobj_ring_close(r[1]);
	mobj_ring_close(r[0]);
	tu_res_check(res);
}

/* Two consumers armed (timeout-0 peeks, their descriptors in use) for
 * different amounts: the near one is woken first (which moves the
 * producer's wake sequence on), then the producer publishes what the far
 * one waits for: its descriptor must turn readable. (It did not: the far
 * one's announcement named the old wake sequence, and the producer woke
 * only announcements of the current one, which holds for one waiter, not
 * for several.) */
static void test_set_wake_lost_for_older_wait_seq(void **state)
{
	struct tu_res res = tu_res_now();
	static const char buf[100];
	struct mobj_ring *p, *near, *far;
	const void *v;
	size_t avail;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &far), 0);
	assert_int_equal(mobj_ring_consumer(p, &near), 0);
	assert_true(mobj_ring_fd(far) >= 0);
	assert_true(mobj_ring_fd(near) >= 0);
	assert_int_equal(mobj_ring_peek(far, 100, 0, &v, &avail), -EAGAIN);
	assert_int_equal(mobj_ring_peek(near, 1, 0, &v, &avail), -EAGAIN);
	assert_int_equal(readable(mobj_ring_fd(far), 0), 0);
	assert_int_equal(readable(mobj_ring_fd(near), 0), 0);
	assert_int_equal(mobj_ring_write(p, buf, 10, 0), 10);
	assert_int_equal(readable(mobj_ring_fd(near), T_MS), 1);
	assert_int_equal(mobj_ring_write(p, buf, 90, 0), 90);
	assert_int_equal(readable(mobj_ring_fd(far), T_MS), 1);
	assert_int_equal(mobj_ring_peek(far, 100, 0, &v, &avail), 0);
	assert_true(avail >= 100);
	mobj_ring_close(near);
	mobj_ring_close(far);
	mobj_ring_close(p);
	tu_res_check(res);
}

#define STREAM (8u << 20)

/* A forked consumer: read the whole stream with timeout 0, polling its
 * own descriptor on -EAGAIN; exit 0 when every byte was right and the
 * end came as -EPIPE. */
static int stream_child(struct mobj_chan *ch)
{
	unsigned char buf[5000];
	struct mobj_ring *c;
	uint64_t got = 0;
	ssize_t n, k;
	int fd;

	alarm(60);
	if (mobj_ring_recv(ch, T_MS, &c) < 0)
		return 10;
	mobj_chan_close(ch);
	fd = mobj_ring_fd(c);
	if (fd < 0)
		return 11;
	for (;;) {
		n = mobj_ring_read(c, buf, 1 + got % sizeof(buf), 0);
		if (n == -EAGAIN) {
			if (readable(fd, T_MS) != 1)
				return 12;
			continue;
		}
		if (n == -EPIPE)
			break;
		if (n < 0)
			return 13;
		for (k = 0; k < n; k++)
			if (buf[k] != pat(got + (uint64_t)k))
				return 14;
		got += (uint64_t)n;
	}
	mobj_ring_close(c);
	return got == STREAM ? 0 : 15;
}

/* Write the stream on with timeout 0 until -EAGAIN or its end. */
static void produce_now(struct mobj_ring *p, uint64_t *sent)
{
	unsigned char buf[3000];
	size_t k, want;
	ssize_t n;

	while (*sent < STREAM) {
		want = sizeof(buf) - (size_t)(*sent % 977);
		if (want > STREAM - *sent)
			want = (size_t)(STREAM - *sent);
		for (k = 0; k < want; k++)
			buf[k] = pat(*sent + k);
		n = mobj_ring_write(p, buf, want, 0);
		if (n == -EAGAIN)
			return;
		assert_true(n > 0);
		*sent += (uint64_t)n;
	}
}

/* Read what is readable on the in-process consumer and check it. */
static void consume_now(struct mobj_ring *c, uint64_t *got)
{
	unsigned char buf[4000];
	ssize_t n, k;

	while ((n = mobj_ring_read(c, buf, sizeof(buf), 0)) > 0) {
		for (k = 0; k < n; k++)
			assert_int_equal(buf[k], pat(*got + (uint64_t)k));
		*got += (uint64_t)n;
	}
	assert_int_equal(n, -EAGAIN);
}

/* One producer and one in-process consumer in one poll() loop, two
 * consumer processes joined over channels polling their own descriptors:
 * every byte of the stream arrives in order at each of the three, and no
 * thread was started. */
static void test_set_stream_poll(void **state)
{
	struct tu_res res = tu_res_now();
	struct pollfd pf[2] = { { .events = POLLIN }, { .events = POLLIN } };
	struct mobj_chan *ch[2];
	struct mobj_ring *p, *in;
	uint64_t sent = 0, got = 0;
	pid_t pid[2];
	int i, polls = 0, threads;

	(void)state;
	for (i = 0; i < 2; i++) {
		pid[i] = tu_fork_chan(&ch[i]);
		if (pid[i] == 0)
			_exit(stream_child(ch[i]));
	}
	assert_int_equal(mobj_ring_create_multi(65536, 3, 0, &p), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_send(ch[i], p, T_MS), 0);
		mobj_chan_close(ch[i]);
	}
	assert_int_equal(mobj_ring_consumer(p, &in), 0);
	threads = tu_count_threads();
	pf[0].fd = mobj_ring_fd(p);
	pf[1].fd = mobj_ring_fd(in);
	assert_true(pf[0].fd >= 0 && pf[1].fd >= 0);
	while (sent < STREAM || got < STREAM) {
		assert_true(poll(pf, 2, T_MS) > 0);
		polls++;
		if (pf[0].revents)
			produce_now(p, &sent);
		if (pf[1].revents)
			consume_now(in, &got);
	}
	assert_true(polls > 2);
	assert_int_equal(tu_count_threads(), threads);
	mobj_ring_close(p);
	for (i = 0; i < 2; i++)
		assert_int_equal(tu_wait(pid[i]), 0);
	mobj_ring_close(in);
	tu_res_check(res);
}

#ifdef __APPLE__
/* kevent() adding @fd to @kq for reading: 0, or the error it reports
 * (through the event list, or errno). */
static int kq_add_error(int kq, int fd)
{
	struct kevent ev, out;
	int n;

	EV_SET(&ev, (uintptr_t)fd, EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
	n = kevent(kq, &ev, 1, &out, 1, NULL);
	if (n < 0)
		return errno;
	assert_int_equal(n, 1);
	assert_true(out.flags & EV_ERROR);
	return (int)out.data;
}

/* XNU orders nested kqueues by level (kqueue_kqfilter): a 1:N producer's
 * descriptor made with a consumer in it is at level 2, and a kqueue at
 * level 1 (poll() watched it once; it holds no kqueue) refuses it with
 * EINVAL, as ring.h says; a fresh kqueue takes it. */
static void test_set_level_ceiling(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	int fd, kq;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, 0, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	fd = mobj_ring_fd(p);
	assert_true(fd >= 0);
	kq = kqueue();
	assert_true(kq >= 0);
	assert_int_equal(readable(kq, 0), 0);
	assert_int_equal(kq_add_error(kq, fd), EINVAL);
	close(kq);
	kq = kqueue();
	assert_true(kq >= 0);
	assert_int_equal(kq_add_error(kq, fd), 0);
	assert_int_equal(readable(kq, T_MS), 1); /* every end starts readable */
	close(kq);
	mobj_ring_close(c);
	mobj_ring_close(p);
	tu_res_check(res);
}
#endif

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_follows_members),
		cmocka_unit_test(test_set_laggard),
		cmocka_unit_test(test_set_importers),
		cmocka_unit_test(test_set_consumer_death),
		cmocka_unit_test(test_set_hundred_members),
		cmocka_unit_test(test_set_fork_child_close),
		cmocka_unit_test(test_set_wake_lost_for_older_wait_seq),
		cmocka_unit_test(test_set_stream_poll),
#ifdef __APPLE__
		cmocka_unit_test(test_set_level_ceiling),
#endif
	};

	tu_helper_dispatch(argc, argv, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
