/*
 * A hostile peer cannot hold a call past its timeout (Linux).
 *
 * The weapon is a descriptor whose last close blocks: a TCP socket with
 * SO_LINGER set and unsent data its receiver never reads. Its close waits
 * for the linger time (LINGER_S, longer than any timeout used here), so a
 * library that closes what a peer sent in the caller's thread is held for
 * that long. Each test has a real hostile process send such descriptors
 * into one step of the library (a refused connection's queue, a malformed
 * message, a HELLO, a channel's queue at close, a ring's set-up, more
 * descriptors than a message may carry) and bounds the call by its own
 * timeout with generous slack: BOUND_MS, where the bug takes LINGER_S.
 *
 * Second, a consumer that answers a ring's set-up and then stops reading,
 * with the channel full: mobj_ring_send() must still end at its timeout.
 *
 * Every test checks that nothing leaked, after the library's disposal of
 * what it refused has finished (tu_res_check waits for it, see testutil.h).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mobj/mobj.h"
#include "rawmsg.h"
#include "ring_layout.h"
#include "testutil.h"
#include "wire.h"

#define LINGER_S 5
#define BOUND_MS 2000
#define LONG_MS 10000
#define NOBODY 65534

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Fails the test when @what took @ms, more than BOUND_MS; says how long. */
static void bounded(const char *what, uint64_t ms)
{
	print_message("%s: %llu ms\n", what, (unsigned long long)ms);
	if (ms > BOUND_MS)
		fail_msg("%s took %llu ms (bound %d ms)", what,
		         (unsigned long long)ms, BOUND_MS);
}

/* ---- The weapon --------------------------------------------------------- */

/* A TCP client socket over loopback whose last close lingers LINGER_S:
 * SO_LINGER on, and unsent data behind a zero window, since the server end,
 * returned in @keep, is never read. Whoever holds @keep decides when the
 * linger ends (closing it resets the connection). -1 on failure. */
static int lingering_socket(int *keep)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct linger lg = { 1, LINGER_S };
	socklen_t len = sizeof(sa);
	int l, c, s, small = 4096;
	char junk[4096];

	memset(junk, 'x', sizeof(junk));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) < 0 ||
	    connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	if (s < 0 || fcntl(c, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	while (send(c, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
		;
	if (errno != EAGAIN || setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		return -1;
	*keep = s;
	return c;
}

/* ---- The hostile process ------------------------------------------------ */

/* A forked child that runs @fn, tells the parent it is ready, runs @after
 * (may be NULL) and tells it again (hostile_after), then holds every lingering connection open until the
 * parent says it is done (or at most LONG_MS), so that lingering lasts as
 * long as the test needs it. */
struct hostile {
	pid_t pid;
	int ready, done; /* the parent's ends of two pipes */
};

struct weapons {
	int fds[3];  /* lingering sockets, to send */
	int keep[3]; /* their never-read server ends, kept */
	int n;
};

static int arm(struct weapons *w, int n)
{
	for (w->n = 0; w->n < n; w->n++) {
		w->fds[w->n] = lingering_socket(&w->keep[w->n]);
		if (w->fds[w->n] < 0)
			return -1;
	}
	return 0;
}

/* Sent: the child's copies go, so the receiver holds the last reference. */
static void disarm_sent(struct weapons *w)
{
	int i;

	for (i = 0; i < w->n; i++)
		close(w->fds[i]);
}

static struct hostile hostile_start(int (*fn)(void *arg),
                                    int (*after)(void *arg), void *arg)
{
	struct hostile h;
	int rp[2], dp[2];
	char c = 0;

	assert_int_equal(pipe2(rp, O_CLOEXEC), 0);
	assert_int_equal(pipe2(dp, O_CLOEXEC), 0);
	fflush(NULL);
	h.pid = fork();
	assert_true(h.pid >= 0);
	if (h.pid == 0) {
		struct pollfd p = { dp[0], POLLIN, 0 };
		int rc;

		close(rp[0]);
		close(dp[1]);
		rc = fn(arg);
		if (write(rp[1], &c, 1) != 1)
			_exit(3);
		if (rc == 0 && after) {
			rc = after(arg);
			(void)!write(rp[1], &c, 1); /* the parent may not read it */
		}
		poll(&p, 1, LONG_MS);
		_exit(rc);
	}
	close(rp[1]);
	close(dp[0]);
	h.ready = rp[0];
	h.done = dp[1];
	assert_int_equal(read(h.ready, &c, 1), 1);
	return h;
}

/* Until the child's @after has run. */
static void hostile_after(struct hostile *h)
{
	char c;

	assert_int_equal(read(h->ready, &c, 1), 1);
}

static void hostile_end(struct hostile *h)
{
	close(h->done);
	close(h->ready);
	assert_int_equal(tu_wait(h->pid), 0);
}

/* A DATA header that declares @nobj objects. */
static struct wire data_header(uint32_t nobj)
{
	return hdr(0, nobj, nobj ? 4096 : 0, nobj ? MOBJ_READ : 0);
}

/* ---- accept ------------------------------------------------------------- */

struct accept_attack {
	struct mobj_chan *l; /* the parent's listener: the child's copy goes */
	const char *name;
	bool other_uid; /* refused by the uid policy; else gone before HELLO */
};

/* Connect to a->name, queue one message carrying a lingering socket, and
 * leave (or, of another uid, stay): 0, or the step that failed. */
static int queue_lingering(const struct accept_attack *a, struct weapons *wp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct wire w = data_header(1);
	socklen_t len;
	int s;

	memcpy(sa.sun_path + 1, a->name, strlen(a->name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->name));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 12;
	if (connect(s, (struct sockaddr *)&sa, len) < 0) {
		close(s);
		return 12;
	}
	if (raw_send(s, &w, sizeof(w), wp->fds, 1) < 0)
		return 13;
	disarm_sent(wp);
	if (!a->other_uid)
		close(s); /* gone before the listener's HELLO */
	return 0;
}

static int queue_then_leave(void *arg)
{
	const struct accept_attack *a = arg;
	struct weapons wp;

	mobj_chan_close(a->l);
	if (arm(&wp, 1) < 0)
		return 10;
	if (a->other_uid && setuid(NOBODY) < 0)
		return 11;
	return queue_lingering(a, &wp);
}

static void accept_case(bool other_uid)
{
	struct tu_res r = tu_res_now();
	struct accept_attack a = { NULL, NULL, other_uid };
	struct mobj_chan *l, *c = NULL;
	struct hostile h;
	char name[64];
	uint64_t t;

	snprintf(name, sizeof(name), "mobj-hostile-%d-accept", (int)getpid());
	a.name = name;
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	a.l = l;
	h = hostile_start(queue_then_leave, NULL, &a);
	t = now_ms();
	assert_int_equal(mobj_chan_accept(l, 300, &c), -ETIMEDOUT);
	bounded(other_uid ? "accept(300), refused uid" : "accept(300), peer gone",
	        now_ms() - t);
	assert_null(c);
	hostile_end(&h);
	mobj_chan_close(l);
	tu_res_check(r);
}

static void test_accept_refused_peer_lingering_fd(void **state)
{
	(void)state;
	accept_case(false);
	/* The case: a peer of another uid; only root can be one. */
	if (geteuid() == 0)
		accept_case(true);
	else
		print_message("not root: the other-uid case needs setuid\n");
}

/* ---- recv, and the ring's set-up, which reads ---------------------------- */

struct send_attack {
	struct mobj_chan *c, *victim; /* the child's end; the parent's goes */
	int nfds;      /* lingering sockets to send in one message */
	bool ring;     /* as the ring's DATA hello rather than a mobj message */
};

static int send_lingering(void *arg)
{
	const struct send_attack *a = arg;
	struct wire w = data_header(1);
	unsigned char msg[sizeof(struct wire) + 24];
	struct weapons wp;
	size_t len = sizeof(w);

	mobj_chan_close(a->victim);
	if (arm(&wp, a->nfds) < 0)
		return 10;
	memcpy(msg, &w, sizeof(w));
	if (a->ring) {
		/* The ring's first hello: magic, version, kind 1, capacity. */
		uint32_t h[6] = { MOBJ__RING_MAGIC, MOBJ__RING_VERSION, 1, 0,
		                  4096, 0 };

		w.len = sizeof(h);
		memcpy(msg, &w, sizeof(w));
		memcpy(msg + sizeof(w), h, sizeof(h));
		len += sizeof(h);
	}
	if (raw_send(mobj_chan_fd(a->c), msg, len, wp.fds, (size_t)wp.n) < 0)
		return 11;
	disarm_sent(&wp);
	return 0;
}

static void recv_case(int nfds, bool ring)
{
	struct tu_res r = tu_res_now();
	struct send_attack a = { NULL, NULL, nfds, ring };
	struct mobj_ring *rg = NULL;
	struct mobj *o = NULL;
	struct hostile h;
	struct mobj_chan *c;
	char buf[64], what[64];
	uint64_t t;
	int rc;

	assert_int_equal(mobj_chan_pair(&a.c, &c), 0);
	a.victim = c;
	h = hostile_start(send_lingering, NULL, &a);
	mobj_chan_close(a.c);
	t = now_ms();
	if (ring)
		rc = mobj_ring_recv(c, 300, &rg);
	else
		rc = mobj_recv(c, 100, &o, buf, sizeof(buf));
	snprintf(what, sizeof(what), "%s, %d lingering fd%s",
	         ring ? "ring_recv(300)" : "recv(100)", nfds, nfds > 1 ? "s" : "");
	bounded(what, now_ms() - t);
	assert_int_equal(rc, -EPROTO);
	assert_null(o);
	assert_null(rg);
	hostile_end(&h);
	mobj_chan_close(c);
	tu_res_check(r);
}

static void test_recv_lingering_fd(void **state)
{
	(void)state;
	recv_case(1, false);
}

/* More than the one descriptor a message may carry: those the library
 * does not take, the kernel closes at once, in the receiving thread. */
static void test_recv_more_lingering_fds_than_room(void **state)
{
	(void)state;
	recv_case(3, false);
}

static void test_ring_recv_lingering_fd(void **state)
{
	(void)state;
	recv_case(1, true);
}

/* ---- connect: a squatter's HELLO ----------------------------------------- */

struct squatter {
	const char *name;
	int l;
	struct weapons wp;
};

static int squat(void *arg)
{
	struct squatter *q = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;

	if (arm(&q->wp, 1) < 0)
		return 10;
	memcpy(sa.sun_path + 1, q->name, strlen(q->name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                  strlen(q->name));
	q->l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (q->l < 0 || bind(q->l, (struct sockaddr *)&sa, len) < 0 ||
	    listen(q->l, 4) < 0)
		return 11;
	return 0;
}

/* Once the parent connects: a HELLO that carries a lingering socket. The
 * parent is stopped meanwhile, so that the copy it receives is the last
 * one when it gets to it (else the child's own close would linger). */
static int squat_answer(void *arg)
{
	struct squatter *q = arg;
	struct wire w = hdr(0, 0, 0, 0);
	int s, rc = 0;

	w.type = 2; /* HELLO */
	s = accept4(q->l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || kill(getppid(), SIGSTOP) < 0)
		return 12;
	if (raw_send(s, &w, sizeof(w), q->wp.fds, 1) < 0)
		rc = 13;
	disarm_sent(&q->wp);
	kill(getppid(), SIGCONT);
	return rc;
}

static void test_connect_hello_lingering_fd(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *c = NULL;
	struct hostile h;
	struct squatter q;
	char name[64];
	uint64_t t;
	int rc;

	(void)state;
	snprintf(name, sizeof(name), "mobj-hostile-%d-squat", (int)getpid());
	q.name = name;
	h = hostile_start(squat, squat_answer, &q);
	t = now_ms();
	rc = mobj_chan_connect(name, 300, &c);
	bounded("connect(300), HELLO with a lingering fd", now_ms() - t);
	assert_int_equal(rc, -EPROTO);
	assert_null(c);
	hostile_end(&h);
	tu_res_check(r);
}

/* ---- close: a channel whose queue holds one ------------------------------- */

static void test_chan_close_queued_lingering_fd(void **state)
{
	struct tu_res r = tu_res_now();
	struct send_attack a = { NULL, NULL, 1, false };
	struct hostile h;
	struct mobj_chan *c;
	uint64_t t;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a.c, &c), 0);
	a.victim = c;
	h = hostile_start(send_lingering, NULL, &a);
	mobj_chan_close(a.c);
	t = now_ms();
	mobj_chan_close(c);
	bounded("chan_close, a lingering fd queued", now_ms() - t);
	hostile_end(&h);
	tu_res_check(r);
}

/* A listener whose pending connection queued one (nobody accepts it). */
static void test_listener_close_pending_lingering_fd(void **state)
{
	struct tu_res r = tu_res_now();
	struct accept_attack a = { NULL, NULL, false };
	struct mobj_chan *l;
	struct hostile h;
	char name[64];
	uint64_t t;

	(void)state;
	snprintf(name, sizeof(name), "mobj-hostile-%d-lclose", (int)getpid());
	a.name = name;
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	a.l = l;
	h = hostile_start(queue_then_leave, NULL, &a);
	t = now_ms();
	mobj_chan_close(l);
	bounded("listener close, a pending connection with a lingering fd",
	        now_ms() - t);
	hostile_end(&h);
	tu_res_check(r);
}

/* The same, with a listener made after the hostile process started, which
 * no other process can hold: closed here, its pending connection handed
 * to the disposal thread. */
static struct weapons later;

static int arm_only(void *arg)
{
	(void)arg;
	return arm(&later, 1) < 0 ? 10 : 0;
}

static int connect_queue_leave(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	int i, rc = 12;

	/* The listener comes after this process: look for it a while. */
	for (i = 0; i < LONG_MS && rc == 12; i++) {
		rc = queue_lingering(arg, &later);
		if (rc == 12)
			nanosleep(&ms, NULL);
	}
	return rc;
}

static void test_new_listener_close_pending_lingering_fd(void **state)
{
	struct tu_res r = tu_res_now();
	struct accept_attack a = { NULL, NULL, false };
	struct mobj_chan *l;
	struct pollfd p = { .events = POLLIN };
	struct hostile h;
	char name[64];
	uint64_t t;

	(void)state;
	snprintf(name, sizeof(name), "mobj-hostile-%d-nlclose", (int)getpid());
	a.name = name;
	h = hostile_start(arm_only, connect_queue_leave, &a);
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	hostile_after(&h);
	p.fd = mobj_chan_fd(l);
	assert_int_equal(poll(&p, 1, 0), 1);
	t = now_ms();
	mobj_chan_close(l);
	bounded("new listener close, a pending connection with a lingering fd",
	        now_ms() - t);
	hostile_end(&h);
	tu_res_check(r);
}

/* A process that never forked after making its channels, and left nothing
 * in them, closes them in its own thread: no disposal thread is started. */
static int clean_close(void *arg)
{
	struct mobj_chan *a, *b, *l;
	char buf[8], name[64];
	int tasks = 0;
	DIR *d;

	(void)arg;
	snprintf(name, sizeof(name), "mobj-hostile-%d-clean", (int)getpid());
	if (mobj_chan_pair(&a, &b) < 0 || mobj_chan_listen(name, &l) < 0 ||
	    mobj_send(a, NULL, "hi", 2) < 0 ||
	    mobj_recv(b, 0, NULL, buf, sizeof(buf)) != 2)
		return 10;
	mobj_chan_close(a);
	mobj_chan_close(b);
	mobj_chan_close(l);
	d = opendir("/proc/self/task");
	if (!d)
		return 11;
	while (readdir(d))
		tasks++;
	closedir(d);
	return tasks == 3 ? 0 : 12; /* ".", ".." and this thread */
}

static void test_clean_close_starts_no_thread(void **state)
{
	(void)state;
	assert_int_equal(tu_in_child(clean_close, NULL), 0);
}

/* ---- The ring: a consumer that stops reading ------------------------------ */

/* A consumer's frozen control page, as mobj_ring_recv() would answer. */
static struct mobj *consumer_page(size_t cap)
{
	struct mobj__ring_ctl *ctl;
	struct mobj *o, *ro;
	size_t ps = mobj_page_size();

	assert_int_equal(mobj_create(ps, 0, &o), 0);
	assert_int_equal(mobj_map(o, 0, ps, MOBJ_PROT_READ | MOBJ_PROT_WRITE,
	                          (void **)&ctl), 0);
	ctl->magic = MOBJ__RING_MAGIC;
	ctl->version = MOBJ__RING_VERSION;
	ctl->role = MOBJ__RING_CONSUMER;
	ctl->header_size = sizeof(*ctl);
	ctl->capacity = cap;
	assert_int_equal(mobj_unmap(ctl, ps), 0);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	mobj_close(o);
	return ro;
}

/* The hostile consumer answers first (its control page queued before the
 * producer asks), then reads exactly @arg messages when told to: room for
 * the producer's two set-up messages and not one more. It never reads
 * again; after LONG_MS it exits (which unblocks a producer stuck in a send
 * with no timeout, so that the test can fail instead of hanging). */
struct stall {
	struct mobj_chan *c;
	int go[2], went[2];
};

static void test_ring_send_consumer_stops_reading(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_ring *p;
	struct mobj *filler, *cctl;
	struct mobj_chan *c;
	struct stall s;
	uint32_t h[6] = { MOBJ__RING_MAGIC, MOBJ__RING_VERSION, 3, 0, 0, 0 };
	size_t cap = mobj_page_size();
	pid_t pid;
	uint64_t t;
	char ch = 0;
	int n, rc;

	(void)state;
	assert_int_equal(pipe2(s.go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(s.went, O_CLOEXEC), 0);
	memcpy(&h[4], &(uint64_t){ cap }, sizeof(uint64_t));
	pid = tu_fork_chan(&c);
	if (pid == 0) {
		struct mobj *o;
		char buf[64];

		cctl = consumer_page(cap);
		if (mobj_send(c, cctl, h, sizeof(h)) < 0)
			_exit(10);
		mobj_close(cctl);
		if (read(s.go[0], &ch, 1) != 1)
			_exit(11);
		for (n = 0; n < 2; n++) {
			if (mobj_recv(c, LONG_MS, &o, buf, sizeof(buf)) < 0)
				_exit(12);
			mobj_close(o);
		}
		if (write(s.went[1], &ch, 1) != 1)
			_exit(13);
		sleep(LONG_MS / 1000 / 2);
		_exit(0);
	}
	/* Fill the channel with messages of the set-up's own shape (a
	 * 24-byte payload and an object), so that the consumer's reading two
	 * makes room for exactly the producer's two. */
	assert_int_equal(mobj_create(cap, 0, &filler), 0);
	for (n = 0; n < 100000; n++) {
		rc = mobj_send_timeout(c, filler, h, sizeof(h), 0);
		if (rc == -ETIMEDOUT)
			break;
		assert_int_equal(rc, 0);
	}
	assert_true(n > 2 && n < 100000);
	mobj_close(filler);
	assert_int_equal(mobj_ring_create(cap, &p), 0);
	assert_int_equal(write(s.go[1], &ch, 1), 1);
	assert_int_equal(read(s.went[0], &ch, 1), 1);
	t = now_ms();
	rc = mobj_ring_send(c, p, 300);
	bounded("ring_send(300), consumer stopped reading", now_ms() - t);
	assert_int_equal(rc, -ETIMEDOUT);
	mobj_ring_close(p);
	mobj_chan_close(c);
	kill(pid, SIGKILL);
	tu_wait(pid);
	close(s.go[0]);
	close(s.go[1]);
	close(s.went[0]);
	close(s.went[1]);
	tu_res_check(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_refused_peer_lingering_fd),
		cmocka_unit_test(test_recv_lingering_fd),
		cmocka_unit_test(test_recv_more_lingering_fds_than_room),
		cmocka_unit_test(test_ring_recv_lingering_fd),
		cmocka_unit_test(test_connect_hello_lingering_fd),
		cmocka_unit_test(test_chan_close_queued_lingering_fd),
		cmocka_unit_test(test_listener_close_pending_lingering_fd),
		cmocka_unit_test(test_new_listener_close_pending_lingering_fd),
		cmocka_unit_test(test_clean_close_starts_no_thread),
		cmocka_unit_test(test_ring_send_consumer_stops_reading),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
