/*
 * Channels: parent and child over a pair, unrelated processes over a name
 * (this binary re-executed as the peer), naming rules, a hostile peer
 * speaking raw SOCK_SEQPACKET into the real receive path, read-only objects
 * attacked in the process that received them, peer death, the uid policy,
 * timeouts and bad input.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mobj/mobj.h"
#ifdef __APPLE__
#include "mobj/darwin.h"
#else
#include "mobj/linux.h"
#include "rawmsg.h"
#endif
#include "rovec.h"
#include "testutil.h"
#include "wire.h"

#define RW (MOBJ_PROT_READ | MOBJ_PROT_WRITE)
#define LONG_MS 10000
#define NOBODY 65534

static size_t page(void)
{
	return mobj_page_size();
}

static void name_abstract(char *buf, size_t n, const char *tag)
{
	snprintf(buf, n, "mobj-test-%d-%s", (int)getpid(), tag);
}

static void name_path(char *buf, size_t n, const char *tag)
{
	snprintf(buf, n, "/tmp/mobj-test-%d-%s.sock", (int)getpid(), tag);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- One conversation, run by a parent and by a peer in another process.
 *
 * The parent sends a frozen object's read-only handle with "hello"; the peer
 * checks its content, attacks it with every read-only vector, answers "ok"
 * with a writable object of its own, and waits for "bye". */

#define PATTERN_OFF 100

static int peer_session(struct mobj_chan *c)
{
	struct rovec_target t;
	struct mobj *o = NULL, *mine;
	unsigned char *view, *w;
	char buf[64];
	void *p = NULL;
	int n, i;

	n = mobj_recv(c, LONG_MS, &o, buf, sizeof(buf));
	if (n != 5 || memcmp(buf, "hello", 5) != 0 || !o)
		return 10;
	if (mobj_access(o) != MOBJ_READ || mobj_size(o) != 2 * page())
		return 11;
	if (mobj_map(o, 0, 2 * page(), MOBJ_PROT_READ, (void **)&view) != 0)
		return 12;
	for (i = 0; i < 256; i++)
		if (view[PATTERN_OFF + i] != (unsigned char)(i ^ 0x5a))
			return 13;
	if (view[0] != 0)
		return 14;
	if (mobj_map(o, 0, page(), RW, &p) != -EACCES)
		return 15;
	t.o = o;
	t.ro = o;
	t.view = view;
	for (i = 0; rovecs[i].fn; i++)
		if (rovecs[i].fn(&t) != 0) {
			fprintf(stderr, "read-only vector %s got through\n",
			        rovecs[i].name);
			return 20 + i;
		}
	mobj_unmap(view, 2 * page());
	mobj_close(o);

	if (mobj_create(page(), 0, &mine) != 0 ||
	    mobj_map(mine, 0, page(), RW, (void **)&w) != 0)
		return 16;
	memcpy(w, "from the peer", 14);
	if (mobj_send(c, mine, "ok", 2) != 0)
		return 17;
	mobj_close(mine);
	n = mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf));
	if (n != 3 || memcmp(buf, "bye", 3) != 0)
		return 18;
	/* The parent wrote into the object we sent. */
	if (w[100] != 0x77)
		return 19;
	mobj_unmap(w, page());
	return 0;
}

static void parent_session(struct mobj_chan *c)
{
	struct mobj *o, *ro, *got = NULL;
	unsigned char *w, *g;
	char buf[64];
	int i;

	assert_int_equal(mobj_create(2 * page(), 0, &o), 0);
	assert_int_equal(mobj_map(o, 0, 2 * page(), RW, (void **)&w), 0);
	for (i = 0; i < 256; i++)
		w[PATTERN_OFF + i] = (unsigned char)(i ^ 0x5a);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_send(c, ro, "hello", 5), 0);
	mobj_close(ro);
	assert_int_equal(mobj_recv(c, LONG_MS, &got, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "ok", 2);
	assert_non_null(got);
	assert_int_equal(mobj_access(got), MOBJ_READ | MOBJ_WRITE);
	assert_int_equal(mobj_map(got, 0, page(), RW, (void **)&g), 0);
	assert_string_equal((char *)g, "from the peer");
	g[100] = 0x77;
	assert_int_equal(mobj_send(c, NULL, "bye", 3), 0);
	assert_int_equal(mobj_unmap(g, page()), 0);
	assert_int_equal(mobj_unmap(w, 2 * page()), 0);
	mobj_close(got);
	mobj_close(o);
}

static int helper_peer(int argc, char **argv)
{
	struct mobj_chan *c;
	pid_t pid;
	uid_t uid;
	int err;

	if (argc < 1)
		return 2;
	err = mobj_chan_connect(argv[0], LONG_MS, &c);
	if (err < 0) {
		fprintf(stderr, "peer: connect: %s\n", mobj_strerror(err));
		return 3;
	}
	if (mobj_chan_peer(c, &pid, &uid) != 0 || pid != getppid() ||
	    uid != getuid())
		return 4;
	err = peer_session(c);
	mobj_chan_close(c);
	return err;
}

/* Connect, say "alive", then wait to be killed. */
static int helper_linger(int argc, char **argv)
{
	struct mobj_chan *c;

	if (argc < 1 || mobj_chan_connect(argv[0], LONG_MS, &c) != 0)
		return 3;
	if (mobj_send(c, NULL, "alive", 5) != 0)
		return 4;
	for (;;)
		pause();
}

/* Connect, send three messages (the second with an object), exit. */
static int helper_send3(int argc, char **argv)
{
	struct mobj_chan *c;
	struct mobj *o;

	if (argc < 1 || mobj_chan_connect(argv[0], LONG_MS, &c) != 0)
		return 3;
	if (mobj_create(page(), 0, &o) != 0)
		return 4;
	if (mobj_send(c, NULL, "one", 3) != 0 || mobj_send(c, o, "two", 3) != 0 ||
	    mobj_send(c, NULL, "three", 5) != 0)
		return 5;
	mobj_close(o);
	mobj_chan_close(c);
	return 0;
}

/* Connect and exit 0 when connect gives the errno argv[1] names (0 for
 * success). */
static int helper_connect_expect(int argc, char **argv)
{
	struct mobj_chan *c = NULL;
	int err;

	if (argc < 2)
		return 2;
	err = mobj_chan_connect(argv[0], LONG_MS, &c);
	mobj_chan_close(c);
	if (err != -atoi(argv[1])) {
		fprintf(stderr, "connect_expect: got %d, expected -%s\n", err, argv[1]);
		return 3;
	}
	return 0;
}

#ifdef __linux__
/* Started by systemd-socket-activate on the first connection: listen on
 * argv[0] (which must adopt the passed socket, fd 3: binding our own would
 * find the name taken), say our pid, wait for "bye". */
static int helper_activated(int argc, char **argv)
{
	struct mobj_chan *l, *c;
	char msg[32];
	int err, n;

	if (argc < 1)
		return 2;
	err = mobj_chan_listen(argv[0], &l);
	if (err < 0) {
		fprintf(stderr, "activated: listen: %s\n", mobj_strerror(err));
		return 3;
	}
	if (mobj_chan_fd(l) != 3)
		return 4;
	if (mobj_chan_accept(l, LONG_MS, &c) != 0)
		return 5;
	n = snprintf(msg, sizeof(msg), "pid %d", (int)getpid());
	if (mobj_send(c, NULL, msg, (size_t)n) != 0)
		return 6;
	n = mobj_recv(c, LONG_MS, NULL, msg, sizeof(msg));
	mobj_chan_close(c);
	mobj_chan_close(l);
	return n == 3 && memcmp(msg, "bye", 3) == 0 ? 0 : 7;
}
#endif

static const struct tu_helper helpers[] = {
#ifdef __linux__
	{ "activated", helper_activated },
#endif
	{ "connect_expect", helper_connect_expect },
	{ "peer", helper_peer },
	{ "linger", helper_linger },
	{ "send3", helper_send3 },
	{ NULL, NULL },
};

/* Start the helper @what as a peer that connects to @name, and accept it on
 * listener @l. Returns its pid. */
static pid_t spawn_and_accept(struct mobj_chan *l, const char *what,
                              const char *name, struct mobj_chan **c)
{
	const char *args[] = { name, NULL };
	pid_t pid = tu_spawn_helper(what, args);

	assert_true(pid > 0);
	assert_int_equal(mobj_chan_accept(l, LONG_MS, c), 0);
	return pid;
}

/* ---- Pairs ----------------------------------------------------------- */

#ifdef __linux__
/* Regression (mobj_chan_peer() on a mobj_chan_pair() end named the process
 * that made the pair, on both ends: after fork the parent was told its peer
 * was itself). The pid is 0 until a message has come, then the process
 * that sent the first one; later senders do not change it. */
static int pair_peer_child(struct mobj_chan *c)
{
	char buf[8];
	pid_t peer, pid;
	uid_t uid;

	if (mobj_chan_peer(c, &peer, &uid) != 0 || peer != 0)
		return 1;
	if (mobj_send(c, NULL, "hi", 2) != 0)
		return 2;
	if (mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)) != 2)
		return 3;
	if (mobj_chan_peer(c, &peer, &uid) != 0 || peer != getppid() ||
	    uid != geteuid())
		return 4;
	/* A grandchild sends next: the peer stays the first sender. */
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(mobj_send(c, NULL, "gc", 2) == 0 ? 0 : 1);
	return tu_wait(pid) == 0 ? 0 : 5;
}

static void test_pair_peer_after_fork(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *c;
	char buf[8];
	pid_t pid, peer;
	uid_t uid;

	(void)state;
	pid = tu_fork_chan(&c);
	if (pid == 0)
		_exit(pair_peer_child(c));
	assert_int_equal(mobj_chan_peer(c, &peer, &uid), 0);
	assert_int_equal(peer, 0);
	assert_int_equal(uid, geteuid());
	assert_int_equal(mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)), 2);
	assert_int_equal(mobj_chan_peer(c, &peer, &uid), 0);
	assert_int_equal(peer, pid);
	assert_int_equal(mobj_send(c, NULL, "ho", 2), 0);
	assert_int_equal(mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "gc", 2);
	assert_int_equal(mobj_chan_peer(c, &peer, NULL), 0);
	assert_int_equal(peer, pid);
	assert_int_equal(tu_wait(pid), 0);
	mobj_chan_close(c);
	tu_res_check(r);
}
#endif

static void test_pair_in_process(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *a, *b;
	struct mobj *o, *got, *ro;
	unsigned char *p, *q;
	char buf[MOBJ_MSG_MAX + 16];
	pid_t pid;
	uid_t uid;
	int i;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_true(fcntl(mobj_chan_fd(a), F_GETFD) & FD_CLOEXEC);
	assert_int_equal(mobj_chan_peer(a, &pid, &uid), 0);
#ifdef __linux__
	/* Not known before the first message (test_pair_peer_after_fork). */
	assert_int_equal(pid, 0);
#else
	assert_int_equal(pid, getpid());
#endif
	assert_int_equal(uid, getuid());
	assert_int_equal(mobj_chan_peer(b, NULL, NULL), 0);

	/* A writable object: both sides map the same pages. */
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	assert_int_equal(mobj_send(a, o, "x", 1), 0);
	got = NULL;
	assert_int_equal(mobj_recv(b, 0, &got, buf, sizeof(buf)), 1);
	assert_non_null(got);
	assert_int_equal(mobj_size(got), page());
	assert_int_equal(mobj_access(got), MOBJ_READ | MOBJ_WRITE);
#ifdef __APPLE__
	assert_int_equal(mobj_port(got), mobj_port(o)); /* one name per port */
#else
	assert_int_not_equal(mobj_fd(got), mobj_fd(o));
#endif
	assert_int_equal(mobj_map(o, 0, page(), RW, (void **)&p), 0);
	assert_int_equal(mobj_map(got, 0, page(), RW, (void **)&q), 0);
	p[5] = 42;
	assert_int_equal(q[5], 42);
	mobj_close(got);

	/* A read-only one arrives read-only. */
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_send(b, ro, NULL, 0), 0);
	assert_int_equal(mobj_recv(a, 0, &got, NULL, 0), 0);
	assert_int_equal(mobj_access(got), MOBJ_READ);
#ifdef __linux__
	assert_int_equal(fcntl(mobj_fd(got), F_GETFL) & O_ACCMODE, O_RDONLY);
#endif
	assert_int_equal(mobj_map(got, 0, page(), RW, (void **)&q), -EACCES);
	mobj_close(got);
	mobj_close(ro);

	/* No object: *o is NULL. Both directions, in order, up to the limit. */
	for (i = 0; i < 10; i++)
		assert_int_equal(mobj_send(a, NULL, &i, sizeof(i)), 0);
	for (i = 0; i < 10; i++) {
		int v = -1;

		got = (struct mobj *)(uintptr_t)1;
		assert_int_equal(mobj_recv(b, 0, &got, &v, sizeof(v)), sizeof(v));
		assert_null(got);
		assert_int_equal(v, i);
	}
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(mobj_send(b, NULL, buf, MOBJ_MSG_MAX), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(mobj_recv(a, 0, NULL, buf, MOBJ_MSG_MAX), MOBJ_MSG_MAX);
	assert_int_equal((unsigned char)buf[MOBJ_MSG_MAX - 1], 0xab);
	assert_int_equal(mobj_send(b, NULL, buf, MOBJ_MSG_MAX + 1), -EMSGSIZE);
	assert_int_equal(mobj_recv(a, 0, NULL, buf, sizeof(buf)), -ETIMEDOUT);

	assert_int_equal(mobj_unmap(p, page()), 0);
	assert_int_equal(mobj_unmap(q, page()), 0);
	mobj_close(o);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}

#ifdef __linux__
/* Darwin: a pair does not cross fork() (mobj/chan.h); named_conversation
 * is the parent-and-child test there. */
static void test_pair_fork(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *a, *b;
	pid_t pid;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

		mobj_chan_close(a);
		rc = peer_session(b);
		mobj_chan_close(b);
		_exit(rc);
	}
	mobj_chan_close(b);
	parent_session(a);
	assert_int_equal(tu_wait(pid), 0);
	/* The child is gone: end of stream. */
	assert_int_equal(mobj_recv(a, LONG_MS, NULL, NULL, 0), -EPIPE);
	mobj_chan_close(a);
	tu_res_check(r);
}
#endif

/* ---- Names ----------------------------------------------------------- */

static void named_conversation(const char *name)
{
	struct mobj_chan *l, *c;
	pid_t helper, pid;
	uid_t uid;

	assert_int_equal(mobj_chan_listen(name, &l), 0);
	helper = spawn_and_accept(l, "peer", name, &c);
	assert_int_equal(mobj_chan_peer(c, &pid, &uid), 0);
	assert_int_equal(pid, helper);
	assert_int_equal(uid, getuid());
	parent_session(c);
	assert_int_equal(tu_wait(helper), 0);
	mobj_chan_close(c);
	mobj_chan_close(l);
}

static void test_named_abstract(void **state)
{
	struct tu_res r = tu_res_now();
	char name[64];

	(void)state;
	name_abstract(name, sizeof(name), "abs");
	named_conversation(name);
	tu_res_check(r);
}

#ifdef __linux__
/* Socket paths and abstract addresses: Linux names. */
static void test_named_path(void **state)
{
	struct tu_res r = tu_res_now();
	char name[108];
	struct stat st;

	(void)state;
	name_path(name, sizeof(name), "path");
	named_conversation(name);
	assert_int_equal(lstat(name, &st), -1); /* closing removed it */
	tu_res_check(r);
}

/* The abstract address is "\0" + the name's bytes, nothing added: a raw
 * client using exactly that reaches it; one adding a NUL does not. */
static void test_abstract_address_exact(void **state)
{
	struct tu_res r = tu_res_now();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mobj_chan *l;
	char name[64];
	socklen_t len;
	int fd;

	(void)state;
	name_abstract(name, sizeof(name), "exact");
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	memcpy(sa.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, len + 1), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, len), 0);
	close(fd);
	mobj_chan_close(l);
	tu_res_check(r);
}

static int close_listener(void *arg)
{
	mobj_chan_close(arg);
	return 0;
}

static void test_path_mode(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *l;
	char name[108];
	struct stat st;
	mode_t old = umask(0);

	(void)state;
	name_path(name, sizeof(name), "mode");
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	umask(old);
	assert_int_equal(lstat(name, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	/* A forked child closing its inherited copy leaves the name alone. */
	assert_int_equal(tu_in_child(close_listener, l), 0);
	assert_int_equal(lstat(name, &st), 0);
	mobj_chan_close(l);
	assert_int_equal(lstat(name, &st), -1);
	assert_int_equal(errno, ENOENT);
	tu_res_check(r);
}

static int listen_and_die(void *arg)
{
	struct mobj_chan *l;

	if (mobj_chan_listen(arg, &l) != 0)
		return 1;
	/* Die without closing: the socket file stays behind. */
	raise(SIGKILL);
	return 2;
}

static void test_stale_socket_replaced(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *l, *c;
	char name[108];
	struct stat st;
	pid_t helper;

	(void)state;
	name_path(name, sizeof(name), "stale");
	assert_int_equal(tu_in_child(listen_and_die, name), 128 + SIGKILL);
	assert_int_equal(lstat(name, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	/* And it works. */
	helper = spawn_and_accept(l, "peer", name, &c);
	parent_session(c);
	assert_int_equal(tu_wait(helper), 0);
	mobj_chan_close(c);
	mobj_chan_close(l);
	tu_res_check(r);
}

/* Two listeners race for one new path: exactly one may have it. The loser
 * used to take the winner's socket for a stale one when it probed between
 * the winner's bind() and listen(), unlink it and bind its own, so both
 * returned 0 and the first was unreachable. Rounds until RACE_ROUNDS or
 * RACE_MS, whichever comes first (the bug showed about once in 3,000 to
 * 10,000 rounds on 2 vCPUs). */
#define RACE_ROUNDS 5000
#define RACE_MS 1500

struct listen_race {
	pthread_barrier_t start, done;
	const char *name;
	bool stop;
	int rc;
	struct mobj_chan *l;
};

static void *race_listener(void *arg)
{
	struct listen_race *r = arg;

	for (;;) {
		pthread_barrier_wait(&r->start);
		if (r->stop)
			return NULL;
		r->l = NULL;
		r->rc = mobj_chan_listen(r->name, &r->l);
		pthread_barrier_wait(&r->done);
	}
}

static void test_listen_race_both_win(void **state)
{
	/* Only objects' mappings: the thread's stack and arena stay mapped. */
	struct tu_res res = tu_res_objects();
	struct listen_race r;
	struct mobj_chan *l;
	struct timespec t0, t;
	pthread_t th;
	char name[108];
	int i, rc, both = 0, won = 0;
	long ms = 0;

	(void)state;
	name_path(name, sizeof(name), "race");
	r.name = name;
	r.stop = false;
	assert_int_equal(pthread_barrier_init(&r.start, NULL, 2), 0);
	assert_int_equal(pthread_barrier_init(&r.done, NULL, 2), 0);
	assert_int_equal(pthread_create(&th, NULL, race_listener, &r), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < RACE_ROUNDS && ms < RACE_MS && !both; i++) {
		l = NULL;
		pthread_barrier_wait(&r.start);
		rc = mobj_chan_listen(name, &l);
		pthread_barrier_wait(&r.done);
		if (rc == 0 && r.rc == 0)
			both = i + 1;
		else if (rc == 0 || r.rc == 0)
			won++;
		if (!both && (rc == 0) == (r.rc == 0))
			fail_msg("round %d: %d and %d", i, rc, r.rc);
		if (rc != 0)
			assert_int_equal(rc, -EADDRINUSE);
		if (r.rc != 0)
			assert_int_equal(r.rc, -EADDRINUSE);
		mobj_chan_close(l);
		mobj_chan_close(r.l);
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
	}
	r.stop = true;
	pthread_barrier_wait(&r.start);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
	print_message("%d rounds in %ld ms\n", i, ms);
	if (both)
		fail_msg("both listeners got %s in round %d", name, both);
	assert_int_equal(won, i);
	assert_int_equal(access(name, F_OK), -1);
	tu_res_objects_check(res);
}

#endif /* __linux__ */

static void test_live_listener_in_use(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *l, *l2 = NULL;
	char abs[64];
#ifdef __linux__
	struct mobj_chan *c;
	char path[108];
	struct stat st;
	pid_t helper;
	int fd;
#endif

	(void)state;
	name_abstract(abs, sizeof(abs), "live");
	assert_int_equal(mobj_chan_listen(abs, &l), 0);
	assert_int_equal(mobj_chan_listen(abs, &l2), -EADDRINUSE);
	assert_null(l2);
	mobj_chan_close(l);
#ifdef __linux__
	name_path(path, sizeof(path), "live");

	assert_int_equal(mobj_chan_listen(path, &l), 0);
	assert_int_equal(mobj_chan_listen(path, &l2), -EADDRINUSE);
	assert_null(l2);
	assert_int_equal(lstat(path, &st), 0); /* still there, still ours */
	/* The probe that found it live does not disturb it. */
	helper = spawn_and_accept(l, "peer", path, &c);
	parent_session(c);
	assert_int_equal(tu_wait(helper), 0);
	mobj_chan_close(c);
	mobj_chan_close(l);

	/* Not a socket: never replaced. */
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mobj_chan_listen(path, &l2), -EADDRINUSE);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(path);
#endif
	tu_res_check(r);
}

/* The longest name: an abstract address is 107 bytes on Linux, a
 * bootstrap name 127 on Darwin (a name_t, less its NUL). */
#ifdef __APPLE__
#define NAME_LONGEST 127
#else
#define NAME_LONGEST 107
#endif

static void test_name_rules(void **state)
{
	struct tu_res r = tu_res_now();
	char longname[200];
	struct mobj_chan *c = NULL;

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mobj_chan_listen(longname, &c), -EINVAL);
	assert_int_equal(mobj_chan_connect(longname, 0, &c), -EINVAL);
#ifdef __linux__
	longname[0] = '/';
	assert_int_equal(mobj_chan_listen(longname, &c), -EINVAL);
#endif
	longname[0] = 'm';
	longname[NAME_LONGEST] = '\0';
	assert_int_equal(mobj_chan_listen(longname, &c), 0);
	mobj_chan_close(c);
	longname[NAME_LONGEST] = 'a';
	longname[NAME_LONGEST + 1] = '\0';
	c = NULL;
	assert_int_equal(mobj_chan_listen(longname, &c), -EINVAL);
	assert_int_equal(mobj_chan_listen("", &c), -EINVAL);
	assert_int_equal(mobj_chan_connect("", 0, &c), -EINVAL);
	assert_null(c);
	tu_res_check(r);
}

#ifdef __linux__
/* ---- A hostile peer (Darwin: tests/test_darwin.c) ---------------------- */

#define SIZE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)
#define FROZEN (SIZE_SEALS | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

struct hostile {
	struct mobj_chan *l, *c; /* the receiving end, accepted for real */
	int raw;                 /* the hostile peer's socket */
	struct tu_res before;
	int cases;
	bool vector; /* receive with mobj_recvv(), room for the most objects */
};

static void hostile_open(struct hostile *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64], hello[64];
	socklen_t len;

	name_abstract(name, sizeof(name), "hostile");
	assert_int_equal(mobj_chan_listen(name, &h->l), 0);
	memcpy(sa.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	h->raw = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(h->raw >= 0);
	assert_int_equal(connect(h->raw, (struct sockaddr *)&sa, len), 0);
	/* Sent before the accept: still told apart from the end of stream. */
	assert_int_equal(raw_send(h->raw, "", 0, NULL, 0), 0);
	assert_int_equal(mobj_chan_accept(h->l, LONG_MS, &h->c), 0);
	assert_int_equal(mobj_recv(h->c, LONG_MS, NULL, NULL, 0), -EPROTO);
	/* The listener's HELLO: a bare header of type 2. */
	assert_int_equal(recv(h->raw, hello, sizeof(hello), 0), 32);
	assert_int_equal(((struct wire *)(void *)hello)->type, 2);
	h->cases = 0;
	h->vector = false;
}

/* Send @p (+ @fds), close the sender's copies of @fds, and check that the
 * receiver refuses it with @expect, leaks nothing, and still gets the next
 * valid message. */
static void hostile_case(struct hostile *h, const char *what, const void *p,
                         size_t len, int *fds, size_t nfds, int expect)
{
	struct wire w = hdr(2, 0, 0, 0);
	unsigned char good[sizeof(w) + 2];
	struct mobj *o = NULL;
	char buf[MOBJ_MSG_MAX];
	size_t i;
	int last = -1, rc;

	assert_int_equal(raw_send(h->raw, p, len, fds, nfds), 0);
	for (i = 0; i < nfds; i++)
		if (fds[i] != last)
			close(last = fds[i]);
	if (h->vector) {
		struct mobj *in[MOBJ_MSG_OBJS_MAX] = { NULL };
		size_t nin = 99;

		rc = mobj_recvv(h->c, LONG_MS, in, MOBJ_MSG_OBJS_MAX, &nin, buf,
		                sizeof(buf));
		assert_int_equal(nin, 99);
		for (i = 0; i < MOBJ_MSG_OBJS_MAX; i++)
			assert_null(in[i]);
	} else {
		rc = mobj_recv(h->c, LONG_MS, &o, buf, sizeof(buf));
	}
	if (rc != expect)
		fail_msg("hostile case '%s': got %d (%s), expected %d", what,
		         rc, mobj_strerror(rc), expect);
	assert_null(o);
	tu_res_check(h->before);
	memcpy(good, &w, sizeof(w));
	memcpy(good + sizeof(w), "ok", 2);
	assert_int_equal(raw_send(h->raw, good, sizeof(good), NULL, 0), 0);
	rc = mobj_recv(h->c, LONG_MS, &o, buf, sizeof(buf));
	if (rc != 2)
		fail_msg("after hostile case '%s': a valid message gave %d", what, rc);
	assert_null(o);
	assert_memory_equal(buf, "ok", 2);
	h->cases++;
}

static void test_hostile_peer(void **state)
{
	struct tu_res r = tu_res_now();
	struct hostile h;
	struct { struct wire w; unsigned char p[3 * MOBJ_MSG_MAX]; } m;
	struct wire w;
	int fds[200], pfd[2], sv[2], fd, i;
	FILE *tmp;
	char path[64];

	(void)state;
	hostile_open(&h);
	h.before = tu_res_now();
	srand(1234);

	hostile_case(&h, "empty", "", 0, NULL, 0, -EPROTO);
	hostile_case(&h, "one byte", "m", 1, NULL, 0, -EPROTO);
	w = hdr(0, 0, 0, 0);
	hostile_case(&h, "short header", &w, sizeof(w) - 1, NULL, 0, -EPROTO);
	for (i = 0; i < (int)sizeof(m); i++)
		((unsigned char *)&m)[i] = (unsigned char)rand();
	hostile_case(&h, "random bytes", &m, 64, NULL, 0, -EPROTO);
	hostile_case(&h, "random header size", &m, 32, NULL, 0, -EPROTO);
	m.w = hdr(sizeof(m) - 32, 0, 0, 0);
	hostile_case(&h, "oversized datagram", &m, sizeof(m), NULL, 0, -EPROTO);
	m.w = hdr(MOBJ_MSG_MAX + 1, 0, 0, 0);
	hostile_case(&h, "payload over the limit", &m, 32 + MOBJ_MSG_MAX + 1,
	             NULL, 0, -EPROTO);

	w = hdr(0, 0, 0, 0);
	w.magic ^= 1;
	hostile_case(&h, "bad magic", &w, sizeof(w), NULL, 0, -EPROTO);
	w = hdr(0, 0, 0, 0);
	w.version = 3;
	hostile_case(&h, "bad version", &w, sizeof(w), NULL, 0, -EPROTO);
	w.version = 1;
	hostile_case(&h, "an old peer's version 1", &w, sizeof(w), NULL, 0,
	             -EPROTO);
	w = hdr(0, 0, 0, 0);
	w.type = 0;
	hostile_case(&h, "type 0", &w, sizeof(w), NULL, 0, -EPROTO);
	w.type = 77;
	hostile_case(&h, "type 77", &w, sizeof(w), NULL, 0, -EPROTO);
	w.type = 2;
	hostile_case(&h, "a HELLO on a connected channel", &w, sizeof(w), NULL, 0,
	             -EPROTO);
	w = hdr(0, 0, 0, 0);
	w.reserved = 1;
	hostile_case(&h, "reserved field set", &w, sizeof(w), NULL, 0, -EPROTO);

	m.w = hdr(10, 0, 0, 0);
	hostile_case(&h, "length says 10, 5 sent", &m, 32 + 5, NULL, 0, -EPROTO);
	m.w = hdr(5, 0, 0, 0);
	hostile_case(&h, "length says 5, 10 sent", &m, 32 + 10, NULL, 0, -EPROTO);
	m.w = hdr(0xffffffffu, 0, 0, 0);
	hostile_case(&h, "length says 4 GiB", &m, 32 + 10, NULL, 0, -EPROTO);

	/* Objects: counts that lie. */
	w = hdr(0, 1, page(), MOBJ_READ | MOBJ_WRITE);
	hostile_case(&h, "one object declared, no fd", &w, sizeof(w), NULL, 0,
	             -EPROTO);
	fds[0] = tu_memfd(page(), SIZE_SEALS);
	w = hdr(0, 0, 0, 0);
	hostile_case(&h, "an fd but no object declared", &w, sizeof(w), fds, 1,
	             -EPROTO);
	fds[0] = tu_memfd(page(), SIZE_SEALS);
	w = hdr(0, 2, page(), MOBJ_READ | MOBJ_WRITE);
	hostile_case(&h, "two objects declared", &w, sizeof(w), fds, 1, -EPROTO);
	fds[0] = tu_memfd(page(), SIZE_SEALS);
	fds[1] = tu_memfd(page(), SIZE_SEALS);
	w = hdr(0, 1, page(), MOBJ_READ | MOBJ_WRITE);
	hostile_case(&h, "two fds", &w, sizeof(w), fds, 2, -EPROTO);
	/* SCM_MAX_FD is 253 per message; 200 of the same memfd fits. */
	fd = tu_memfd(page(), SIZE_SEALS);
	for (i = 0; i < 200; i++)
		fds[i] = fd;
	hostile_case(&h, "200 fds", &w, sizeof(w), fds, 200, -EPROTO);

	/* Objects: fds that are not acceptable as declared. */
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	close(pfd[1]);
	hostile_case(&h, "a pipe", &w, sizeof(w), pfd, 1, -EPROTO);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	hostile_case(&h, "a socket", &w, sizeof(w), sv, 1, -EPROTO);
	tmp = tmpfile();
	assert_non_null(tmp);
	assert_int_equal(ftruncate(fileno(tmp), (off_t)page()), 0);
	fds[0] = dup(fileno(tmp));
	fclose(tmp);
	hostile_case(&h, "a regular file", &w, sizeof(w), fds, 1, -EPROTO);
	fds[0] = open("/dev/zero", O_RDWR | O_CLOEXEC);
	hostile_case(&h, "/dev/zero", &w, sizeof(w), fds, 1, -EPROTO);
	fds[0] = tu_memfd(page(), 0);
	hostile_case(&h, "an unsealed memfd", &w, sizeof(w), fds, 1, -EPROTO);
	fds[0] = tu_memfd(page(), F_SEAL_GROW | F_SEAL_SEAL);
	hostile_case(&h, "a memfd that can shrink", &w, sizeof(w), fds, 1, -EPROTO);
	fds[0] = tu_memfd(page(), SIZE_SEALS);
	w = hdr(0, 1, 2 * page(), MOBJ_READ | MOBJ_WRITE);
	hostile_case(&h, "a memfd of the wrong size", &w, sizeof(w), fds, 1, -EPROTO);
	fds[0] = tu_memfd(page(), SIZE_SEALS);
	w = hdr(0, 1, page() + 1, MOBJ_READ | MOBJ_WRITE);
	hostile_case(&h, "a size one byte past the memfd's", &w, sizeof(w),
	             fds, 1, -EPROTO);
	fds[0] = tu_memfd(page(), SIZE_SEALS);
	w = hdr(0, 1, 0, MOBJ_READ | MOBJ_WRITE);
	hostile_case(&h, "size 0", &w, sizeof(w), fds, 1, -EPROTO);
	fds[0] = tu_memfd(page(), SIZE_SEALS);
	w = hdr(0, 1, page(), MOBJ_READ);
	hostile_case(&h, "read-only declared, not frozen", &w, sizeof(w), fds, 1,
	             -EPROTO);
	fd = tu_memfd(page(), FROZEN);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fds[0] = open(path, O_RDONLY | O_CLOEXEC);
	close(fd);
	w = hdr(0, 1, page(), MOBJ_READ | MOBJ_WRITE);
	hostile_case(&h, "writable declared, O_RDONLY fd", &w, sizeof(w), fds, 1,
	             -EPROTO);
	fd = tu_memfd(page(), SIZE_SEALS);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fds[0] = open(path, O_PATH | O_CLOEXEC);
	assert_true(fds[0] >= 0);
	close(fd);
	hostile_case(&h, "an O_PATH fd to a memfd", &w, sizeof(w), fds, 1, -EPROTO);
	for (i = 0; i < 3; i++) {
		static const uint32_t bad[] = { 0, MOBJ_WRITE, 7 };

		fds[0] = tu_memfd(page(), SIZE_SEALS);
		w = hdr(0, 1, page(), bad[i]);
		hostile_case(&h, "bad access bits", &w, sizeof(w), fds, 1, -EPROTO);
	}
	w = hdr(0, 0, page(), 0);
	hostile_case(&h, "a size without an object", &w, sizeof(w), NULL, 0, -EPROTO);

	/* A valid object after all that is still accepted. */
	{
		struct mobj *o = NULL;
		char buf[8];

		fds[0] = tu_memfd(page(), FROZEN);
		w = hdr(0, 1, page(), MOBJ_READ);
		assert_int_equal(raw_send(h.raw, &w, sizeof(w), fds, 1), 0);
		close(fds[0]);
		assert_int_equal(mobj_recv(h.c, LONG_MS, &o, buf, sizeof(buf)), 0);
		assert_non_null(o);
		assert_int_equal(mobj_access(o), MOBJ_READ);
		mobj_close(o);
	}
	assert_true(h.cases >= 15);
	print_message("%d hostile messages refused\n", h.cases);

	/* The hostile peer's queued garbage, then its end: -EPIPE. */
	w = hdr(0, 0, 0, 0);
	assert_int_equal(raw_send(h.raw, &w, sizeof(w), NULL, 0), 0);
	close(h.raw);
	assert_int_equal(mobj_recv(h.c, LONG_MS, NULL, NULL, 0), 0);
	assert_int_equal(mobj_recv(h.c, LONG_MS, NULL, NULL, 0), -EPIPE);
	mobj_chan_close(h.c);
	mobj_chan_close(h.l);
	tu_res_check(r);
}

static size_t put_rights(struct cmsghdr *cm, const int *fds, size_t n)
{
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	return CMSG_SPACE(n * sizeof(int));
}

/* Send @p with control records: SCM_RIGHTS of @a (na fds), then an explicit
 * SCM_CREDENTIALS of this process, then SCM_RIGHTS of @b (nb fds); na or nb
 * 0 leaves that record out. */
static void send_mixed(int raw, const void *p, size_t len, const int *a,
                       size_t na, const int *b, size_t nb)
{
	union {
		char buf[2 * CMSG_SPACE(2 * sizeof(int)) +
		         CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct ucred cred = { getpid(), getuid(), getgid() };
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	size_t used = 0;

	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	cm = CMSG_FIRSTHDR(&mh);
	if (na) {
		used += put_rights(cm, a, na);
		cm = CMSG_NXTHDR(&mh, cm);
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_CREDENTIALS;
	cm->cmsg_len = CMSG_LEN(sizeof(cred));
	memcpy(CMSG_DATA(cm), &cred, sizeof(cred));
	used += CMSG_SPACE(sizeof(cred));
	if (nb)
		used += put_rights(CMSG_NXTHDR(&mh, cm), b, nb);
	mh.msg_controllen = used;
	assert_int_equal(sendmsg(raw, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* Several control records in one message, explicit credentials among
 * them: every descriptor that arrives is closed on refusal, and
 * credentials alone do not make a message wrong. */
/* The import policy holds for objects arriving on a channel too: what
 * PipeWire and libwayland make (never frozen, GROW or not, any size) comes
 * in read-write; the same memfd declared read-only does not. */
static void test_recv_real_producers(void **state)
{
	struct tu_res r = tu_res_now();
	static const struct { unsigned seals; size_t size; } cases[] = {
		{ F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, 8192 + 100 },
		{ F_SEAL_SHRINK | F_SEAL_SEAL, 1177344 },
		{ F_SEAL_SHRINK, 4096 },
	};
	struct hostile h;
	struct mobj *o = NULL;
	struct wire w;
	unsigned char *p;
	char buf[8];
	size_t i;
	int fd;

	(void)state;
	hostile_open(&h);
	h.before = tu_res_now();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = tu_memfd(cases[i].size, cases[i].seals);
		w = hdr(0, 1, cases[i].size, MOBJ_READ | MOBJ_WRITE);
		assert_int_equal(raw_send(h.raw, &w, sizeof(w), &fd, 1), 0);
		assert_int_equal(mobj_recv(h.c, LONG_MS, &o, buf, sizeof(buf)), 0);
		assert_non_null(o);
		assert_int_equal(mobj_size(o), cases[i].size);
		assert_int_equal(mobj_map(o, 0, cases[i].size,
		                          MOBJ_PROT_READ | MOBJ_PROT_WRITE, (void **)&p), 0);
		p[cases[i].size - 1] = 1;
		mobj_unmap(p, cases[i].size);
		mobj_close(o);
		o = NULL;
		w = hdr(0, 1, cases[i].size, MOBJ_READ);
		hostile_case(&h, "a producer's memfd declared read-only", &w,
		             sizeof(w), &fd, 1, -EPROTO);
	}
	close(h.raw);
	mobj_chan_close(h.c);
	mobj_chan_close(h.l);
	tu_res_check(r);
}

/* A raw message of @nobj records (each @size, @access) and @len payload
 * bytes of 'p', built by hand from the documented layout. */
struct rawv {
	struct wire w; /* head + record 0 */
	struct wire_obj more[MOBJ_MSG_OBJS_MAX + 4];
	unsigned char payload[64];
};

static size_t rawv(struct rawv *m, uint32_t nobj, uint64_t size,
                   uint32_t access, uint32_t len)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	m->w = hdr(len, nobj, nobj ? size : 0, nobj ? access : 0);
	for (i = 1; i < nobj; i++) {
		m->more[i - 1].size = size;
		m->more[i - 1].access = access;
	}
	memset((unsigned char *)m + 16 + 16 * (nobj ? nobj : 1), 'p', len);
	return 16 + 16 * (nobj ? nobj : 1) + len;
}

/* Several objects per message, refused whole: every handle that came is
 * released (including those already imported), the channel stays usable. */
static void test_hostile_vector(void **state)
{
	struct tu_res r = tu_res_now();
	struct hostile h;
	struct rawv m;
	int fds[MOBJ_MSG_OBJS_MAX + 4], pfd[2], i;
	size_t n;

	(void)state;
	hostile_open(&h);
	h.vector = true;
	h.before = tu_res_now();

	/* The third of four is a pipe; the fourth declared read-only but
	 * not frozen. */
	for (i = 0; i < 4; i++)
		fds[i] = tu_memfd(page(), FROZEN);
	close(fds[2]);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	close(pfd[1]);
	fds[2] = pfd[0];
	n = rawv(&m, 4, page(), MOBJ_READ, 3);
	hostile_case(&h, "a pipe among four objects", &m, n, fds, 4, -EPROTO);
	for (i = 0; i < 4; i++)
		fds[i] = tu_memfd(page(), i == 3 ? SIZE_SEALS : FROZEN);
	hostile_case(&h, "the last of four not frozen", &m, n, fds, 4, -EPROTO);
	/* Counts that lie, records that lie. */
	for (i = 0; i < 3; i++)
		fds[i] = tu_memfd(page(), FROZEN);
	hostile_case(&h, "four declared, three came", &m, n, fds, 3, -EPROTO);
	for (i = 0; i < 5; i++)
		fds[i] = tu_memfd(page(), FROZEN);
	hostile_case(&h, "four declared, five came", &m, n, fds, 5, -EPROTO);
	for (i = 0; i < 4; i++)
		fds[i] = tu_memfd(page(), FROZEN);
	m.more[1].reserved = 1;
	hostile_case(&h, "a record's reserved field set", &m, n, fds, 4, -EPROTO);
	for (i = 0; i < 4; i++)
		fds[i] = tu_memfd(page(), FROZEN);
	n = rawv(&m, 4, page(), MOBJ_READ, 3);
	m.more[2].access = 0;
	hostile_case(&h, "a record without access", &m, n, fds, 4, -EPROTO);
	for (i = 0; i < 4; i++)
		fds[i] = tu_memfd(page(), FROZEN);
	n = rawv(&m, 4, page(), MOBJ_READ, 3);
	m.more[0].size = 2 * page();
	hostile_case(&h, "a record's size lies", &m, n, fds, 4, -EPROTO);
	for (i = 0; i < 4; i++)
		fds[i] = tu_memfd(page(), FROZEN);
	n = rawv(&m, 4, page(), MOBJ_READ, 3);
	hostile_case(&h, "records cut short", &m, n - 3 - 16, fds, 4, -EPROTO);
	for (i = 0; i < MOBJ_MSG_OBJS_MAX + 1; i++)
		fds[i] = tu_memfd(page(), FROZEN);
	n = rawv(&m, MOBJ_MSG_OBJS_MAX + 1, page(), MOBJ_READ, 0);
	hostile_case(&h, "one object over the most", &m, n, fds,
	             MOBJ_MSG_OBJS_MAX + 1, -EPROTO);

	/* The most, valid: accepted, in order. */
	{
		struct mobj *in[MOBJ_MSG_OBJS_MAX];
		char buf[8];
		size_t nin = 0;

		for (i = 0; i < MOBJ_MSG_OBJS_MAX; i++)
			fds[i] = tu_memfd(page() * (size_t)(i + 1), FROZEN);
		n = rawv(&m, MOBJ_MSG_OBJS_MAX, page(), MOBJ_READ, 2);
		for (i = 0; i < MOBJ_MSG_OBJS_MAX; i++)
			*(i ? &m.more[i - 1].size : &m.w.obj_size) =
				page() * (size_t)(i + 1);
		assert_int_equal(raw_send(h.raw, &m, n, fds, MOBJ_MSG_OBJS_MAX), 0);
		for (i = 0; i < MOBJ_MSG_OBJS_MAX; i++)
			close(fds[i]);
		assert_int_equal(mobj_recvv(h.c, LONG_MS, in, MOBJ_MSG_OBJS_MAX,
		                            &nin, buf, sizeof(buf)), 2);
		assert_int_equal(nin, MOBJ_MSG_OBJS_MAX);
		for (i = 0; i < MOBJ_MSG_OBJS_MAX; i++) {
			assert_int_equal(mobj_size(in[i]), page() * (size_t)(i + 1));
			mobj_close(in[i]);
		}
	}
	tu_res_check(h.before);
	close(h.raw);
	mobj_chan_close(h.c);
	mobj_chan_close(h.l);
	tu_res_check(r);
}

/* MOBJ_DEBUG: one line per refused message, saying why. */
static void test_debug_logs_messages(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *a, *b;
	struct mobj *o, *objs[2], *got = NULL;
	char log[1024], *nl;
	int pfd[2], saved;
	ssize_t n;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	objs[0] = objs[1] = o;
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	fflush(stderr);
	saved = dup(2);
	assert_int_equal(dup2(pfd[1], 2), 2);
	setenv("MOBJ_DEBUG", "1", 1);
	assert_int_equal(raw_send(mobj_chan_fd(a), "xx", 2, NULL, 0), 0);
	assert_int_equal(mobj_recv(b, LONG_MS, &got, NULL, 0), -EPROTO);
	assert_int_equal(mobj_sendv(a, objs, 2, NULL, 0), 0);
	assert_int_equal(mobj_recv(b, LONG_MS, &got, NULL, 0), -EPROTO);
	unsetenv("MOBJ_DEBUG");
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(pfd[1]);
	n = read(pfd[0], log, sizeof(log) - 1);
	close(pfd[0]);
	assert_true(n > 0);
	log[n] = '\0';
	nl = strchr(log, '\n');
	assert_non_null(nl);
	assert_memory_equal(log, "mobj: refused a message: malformed", 34);
	assert_non_null(strstr(nl + 1, "mobj: refused a message: more objects"));
	assert_string_equal(strchr(nl + 1, '\n'), "\n");
	assert_null(got);
	mobj_close(o);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}

static void test_hostile_cmsg_mix(void **state)
{
	struct tu_res r = tu_res_now();
	struct hostile h;
	struct mobj *o = NULL;
	struct wire w = hdr(0, 1, page(), MOBJ_READ);
	char buf[8];
	int a[2], b[2];

	(void)state;
	hostile_open(&h);
	h.before = tu_res_now();

	/* Two SCM_RIGHTS records around the credentials: two objects. */
	a[0] = tu_memfd(page(), FROZEN);
	b[0] = tu_memfd(page(), FROZEN);
	send_mixed(h.raw, &w, sizeof(w), a, 1, b, 1);
	close(a[0]);
	close(b[0]);
	assert_int_equal(mobj_recv(h.c, LONG_MS, &o, buf, sizeof(buf)), -EPROTO);
	assert_null(o);
	tu_res_check(h.before);

	/* Two and two: more than the receiver's room (MSG_CTRUNC). */
	a[0] = a[1] = tu_memfd(page(), FROZEN);
	b[0] = b[1] = tu_memfd(page(), FROZEN);
	send_mixed(h.raw, &w, sizeof(w), a, 2, b, 2);
	close(a[0]);
	close(b[0]);
	assert_int_equal(mobj_recv(h.c, LONG_MS, &o, buf, sizeof(buf)), -EPROTO);
	assert_null(o);
	tu_res_check(h.before);

	/* Credentials first, then the one object declared: accepted. */
	b[0] = tu_memfd(page(), FROZEN);
	send_mixed(h.raw, &w, sizeof(w), NULL, 0, b, 1);
	close(b[0]);
	assert_int_equal(mobj_recv(h.c, LONG_MS, &o, buf, sizeof(buf)), 0);
	assert_non_null(o);
	mobj_close(o);
	o = NULL;

	/* Credentials and an object the header does not declare. */
	w = hdr(0, 0, 0, 0);
	a[0] = tu_memfd(page(), FROZEN);
	send_mixed(h.raw, &w, sizeof(w), a, 1, NULL, 0);
	close(a[0]);
	assert_int_equal(mobj_recv(h.c, LONG_MS, &o, buf, sizeof(buf)), -EPROTO);
	assert_null(o);
	tu_res_check(h.before);

	close(h.raw);
	mobj_chan_close(h.c);
	mobj_chan_close(h.l);
	tu_res_check(r);
}
#endif /* __linux__ */

/* ---- Demand launch: systemd socket activation (Linux) ------------------- */
#ifdef __linux__

static bool exe_is(pid_t pid, const char *path)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, path) == 0;
}

/* The real thing: systemd-socket-activate holds @name and starts the
 * service (this binary's "activated" helper) only on the first connection;
 * mobj_chan_listen() in the service adopts the socket it was passed. */
static void test_socket_activation(void **state)
{
	static const char tool[] = "/usr/bin/systemd-socket-activate";
	struct tu_res r = tu_res_now();
	char name[64], listen_arg[80], fdname[96], self[PATH_MAX], buf[32];
	struct mobj_chan *c;
	pid_t pid;
	int i, n;

	(void)state;
	if (access(tool, X_OK) != 0) {
		print_message("skipped: %s missing (Debian's systemd package; "
		              "tools/run installs it)\n", tool);
		skip();
	}
	assert_true(realpath("/proc/self/exe", self) != NULL);
	name_abstract(name, sizeof(name), "activated");
	snprintf(listen_arg, sizeof(listen_arg), "@%s", name);
	snprintf(fdname, sizeof(fdname), "--fdname=%s", name);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(tool, tool, "--seqpacket", "-l", listen_arg, fdname, self,
		      "--helper", "activated", name, (char *)NULL);
		_exit(127);
	}
	/* Wait for the manager to run; nothing has started the service. */
	for (i = 0; i < 500 && !exe_is(pid, tool); i++)
		sleep_ms(10);
	assert_true(exe_is(pid, tool));
	assert_int_equal(mobj_chan_connect(name, LONG_MS, &c), 0);
	/* The service is the manager's process, exec'ed on demand. */
	n = mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(atoi(buf + 4), pid);
	assert_true(exe_is(pid, self));
	assert_int_equal(mobj_send(c, NULL, "bye", 3), 0);
	assert_int_equal(tu_wait(pid), 0);
	mobj_chan_close(c);
	tu_res_check(r);
}

/* A socket of @type bound to @name (abstract, or a path), listening when
 * @listening, moved to descriptor @at. */
static int passed_socket(int type, const char *name, bool listening, int at)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (name[0] == '/') {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
		len = (socklen_t)sizeof(sa);
	} else {
		memcpy(sa.sun_path + 1, name, strlen(name));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		                  strlen(name));
	}
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    (listening && listen(fd, 8) < 0) || dup2(fd, at) != at)
		return -1;
	close(fd);
	return at;
}

static void set_listen_env(pid_t pid, int nfds, const char *names)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", (int)pid);
	setenv("LISTEN_PID", v, 1);
	snprintf(v, sizeof(v), "%d", nfds);
	setenv("LISTEN_FDS", v, 1);
	setenv("LISTEN_FDNAMES", names, 1);
}

/* One case of what a service manager (or an impostor) passes, in a child
 * whose descriptors 3 and 4 are free to take the passed sockets. Returns 0
 * when mobj_chan_listen() did what the case expects. */
static int activation_case(void *arg)
{
	int which = (int)(intptr_t)arg, fl;
	char name[64], names[160], other[80];
	struct mobj_chan *l = NULL;
	struct stat st;

	snprintf(name, sizeof(name), "mobj-test-%d-passed", (int)getpid());
	snprintf(other, sizeof(other), "%s-other", name);
	snprintf(names, sizeof(names), "unrelated:%s", name);
	close(3);
	close(4);
	if (passed_socket(SOCK_SEQPACKET, other, true, 3) != 3)
		return 90;
	switch (which) {
	case 0: /* right socket, right name, fd 4: adopted, once */
		if (passed_socket(SOCK_SEQPACKET, name, true, 4) != 4)
			return 91;
		set_listen_env(getpid(), 2, names);
		if (mobj_chan_listen(name, &l) != 0 || mobj_chan_fd(l) != 4)
			return 1;
		fl = fcntl(4, F_GETFL);
		if (!(fl & O_NONBLOCK) || !(fcntl(4, F_GETFD) & FD_CLOEXEC))
			return 2;
		mobj_chan_close(l);
		/* Closed, the number is free: never taken again. */
		return mobj_chan_listen(name, &l) == 0 ? 0 : 3;
	case 1: /* meant for another process: not ours, the name is taken */
		if (passed_socket(SOCK_SEQPACKET, name, true, 4) != 4)
			return 91;
		set_listen_env(getpid() + 1, 2, names);
		return mobj_chan_listen(name, &l) == -EADDRINUSE ? 0 : 1;
	case 2: /* passed under other names */
		if (passed_socket(SOCK_SEQPACKET, name, true, 4) != 4)
			return 91;
		set_listen_env(getpid(), 2, "a:b");
		return mobj_chan_listen(name, &l) == -EADDRINUSE ? 0 : 1;
	case 3: /* a stream socket under the name */
		if (passed_socket(SOCK_STREAM, name, true, 4) != 4)
			return 91;
		set_listen_env(getpid(), 2, names);
		return mobj_chan_listen(name, &l) == -EPROTO ? 0 : 1;
	case 4: /* bound to another name */
		if (passed_socket(SOCK_SEQPACKET, other + 1, true, 4) != 4)
			return 91;
		set_listen_env(getpid(), 2, names);
		return mobj_chan_listen(name, &l) == -EPROTO ? 0 : 1;
	case 5: /* bound, not listening */
		if (passed_socket(SOCK_SEQPACKET, name, false, 4) != 4)
			return 91;
		set_listen_env(getpid(), 2, names);
		return mobj_chan_listen(name, &l) == -EPROTO ? 0 : 1;
	case 6: /* a path: adopted, and the manager's file outlives close */
		snprintf(name, sizeof(name), "/tmp/mobj-test-%d-passed.sock",
		         (int)getpid());
		snprintf(names, sizeof(names), "unrelated:%s", name);
		if (passed_socket(SOCK_SEQPACKET, name, true, 4) != 4)
			return 91;
		set_listen_env(getpid(), 2, names);
		if (mobj_chan_listen(name, &l) != 0 || mobj_chan_fd(l) != 4)
			return 1;
		mobj_chan_close(l);
		fl = stat(name, &st) == 0 && S_ISSOCK(st.st_mode) ? 0 : 2;
		unlink(name);
		return fl;
	default: /* no LISTEN_FDS at all: bind as ever */
		unsetenv("LISTEN_FDS");
		setenv("LISTEN_PID", "1", 1);
		if (mobj_chan_listen(name, &l) != 0)
			return 1;
		mobj_chan_close(l);
		return 0;
	}
}

static void test_activation_checks(void **state)
{
	intptr_t i;

	(void)state;
	for (i = 0; i <= 7; i++) {
		int rc = tu_in_child(activation_case, (void *)i);

		if (rc != 0)
			fail_msg("activation case %d: %d", (int)i, rc);
	}
}
#endif /* __linux__ */

/* ---- Several objects per message --------------------------------------- */

/* @n objects: object i is (i + 1) pages, read-only when i is odd, and its
 * first byte is i + 1 (written before the freeze). */
static void make_objs(struct mobj **objs, struct mobj **keep, size_t n)
{
	unsigned char *p;
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(mobj_create(page() * (i + 1), 0, &keep[i]), 0);
		assert_int_equal(mobj_map(keep[i], 0, page(), RW, (void **)&p), 0);
		p[0] = (unsigned char)(i + 1);
		mobj_unmap(p, page());
		objs[i] = keep[i];
		if (i % 2)
			assert_int_equal(mobj_readonly(keep[i], &objs[i]), 0);
	}
}

static void check_objs(struct mobj **in, size_t n)
{
	unsigned char *p;
	size_t i;

	for (i = 0; i < n; i++) {
		assert_non_null(in[i]);
		assert_int_equal(mobj_size(in[i]), page() * (i + 1));
		assert_int_equal(mobj_access(in[i]), i % 2 ? MOBJ_READ :
		                 MOBJ_READ | MOBJ_WRITE);
		assert_int_equal(mobj_map(in[i], 0, page(), MOBJ_PROT_READ,
		                          (void **)&p), 0);
		assert_int_equal(p[0], i + 1);
		mobj_unmap(p, page());
	}
}

static void close_objs(struct mobj **objs, struct mobj **keep, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (objs && objs[i] != keep[i])
			mobj_close(objs[i]);
		mobj_close(keep[i]);
	}
}

static void test_sendv_recvv(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *objs[MOBJ_MSG_OBJS_MAX + 1], *keep[MOBJ_MSG_OBJS_MAX + 1];
	struct mobj *in[MOBJ_MSG_OBJS_MAX], *one = NULL;
	struct mobj_chan *a, *b;
	char buf[16];
	size_t n = 0;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	make_objs(objs, keep, MOBJ_MSG_OBJS_MAX + 1);
	/* 8, then the most, in order, with their access. */
	assert_int_equal(mobj_sendv(a, objs, 8, "eight", 5), 0);
	assert_int_equal(mobj_sendv_timeout(a, objs, MOBJ_MSG_OBJS_MAX, "max", 3, 0), 0);
	assert_int_equal(mobj_recvv(b, LONG_MS, in, MOBJ_MSG_OBJS_MAX, &n, buf,
	                            sizeof(buf)), 5);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "eight", 5);
	check_objs(in, 8);
	close_objs(in, in, 8);
	assert_int_equal(mobj_recvv(b, LONG_MS, in, MOBJ_MSG_OBJS_MAX, &n, buf,
	                            sizeof(buf)), 3);
	assert_int_equal(n, MOBJ_MSG_OBJS_MAX);
	check_objs(in, MOBJ_MSG_OBJS_MAX);
	close_objs(in, in, MOBJ_MSG_OBJS_MAX);
	/* None; and the one-object forms read vector messages of 0 or 1. */
	assert_int_equal(mobj_sendv(a, NULL, 0, "z", 1), 0);
	assert_int_equal(mobj_recv(b, LONG_MS, &one, buf, sizeof(buf)), 1);
	assert_null(one);
	assert_int_equal(mobj_sendv(a, objs, 1, NULL, 0), 0);
	assert_int_equal(mobj_recv(b, LONG_MS, &one, buf, sizeof(buf)), 0);
	check_objs(&one, 1);
	mobj_close(one);
	assert_int_equal(mobj_send(a, objs[0], NULL, 0), 0);
	assert_int_equal(mobj_recvv(b, LONG_MS, in, 1, &n, NULL, 0), 0);
	assert_int_equal(n, 1);
	check_objs(in, 1);
	mobj_close(in[0]);
	/* The same object twice arrives twice. */
	objs[MOBJ_MSG_OBJS_MAX] = objs[0];
	assert_int_equal(mobj_sendv(a, &objs[MOBJ_MSG_OBJS_MAX - 1], 2, NULL, 0), 0);
	assert_int_equal(mobj_recvv(b, LONG_MS, in, 2, &n, NULL, 0), 0);
	assert_int_equal(n, 2);
	mobj_close(in[0]);
	mobj_close(in[1]);

	/* Bad arguments: nothing sent. */
	assert_int_equal(mobj_sendv(a, objs, MOBJ_MSG_OBJS_MAX + 1, NULL, 0), -EMSGSIZE);
	assert_int_equal(mobj_sendv(a, NULL, 1, NULL, 0), -EINVAL);
	one = NULL;
	assert_int_equal(mobj_sendv(a, &one, 1, NULL, 0), -EINVAL);
	assert_int_equal(mobj_sendv(NULL, objs, 1, NULL, 0), -EINVAL);
	assert_int_equal(mobj_sendv_timeout(a, objs, 1, NULL, 0, -2), -EINVAL);
	assert_int_equal(mobj_recvv(b, 0, in, 1, NULL, NULL, 0), -EINVAL);
	assert_int_equal(mobj_recvv(b, 0, NULL, 1, &n, NULL, 0), -EINVAL);
	assert_int_equal(mobj_recvv(NULL, 0, in, 1, &n, NULL, 0), -EINVAL);
	assert_int_equal(mobj_recvv(b, 0, in, 1, &n, NULL, 0), -ETIMEDOUT);

	close_objs(objs, keep, MOBJ_MSG_OBJS_MAX);
	mobj_close(keep[MOBJ_MSG_OBJS_MAX]);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}

/* More objects than the receiver has room for: refused, every handle
 * released, and the next message still arrives. */
static void test_recvv_over_cap(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *objs[8], *keep[8], *in[8] = { NULL }, *one = NULL;
	struct mobj_chan *a, *b;
	struct tu_res open_chans;
	char buf[16];
	size_t n = 77;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	open_chans = tu_res_now();
	make_objs(objs, keep, 8);
	assert_int_equal(mobj_sendv(a, objs, 8, "x", 1), 0);
	assert_int_equal(mobj_sendv(a, objs, 2, "y", 1), 0);
	assert_int_equal(mobj_sendv(a, objs, 3, "z", 1), 0);
	assert_int_equal(mobj_sendv(a, objs, 1, "w", 1), 0);
	close_objs(objs, keep, 8);
	assert_int_equal(mobj_recvv(b, LONG_MS, in, 7, &n, buf, sizeof(buf)), -EMSGSIZE);
	assert_int_equal(n, 77);
	assert_null(in[0]);
	/* The one-object form refuses several as the peer's error. */
	assert_int_equal(mobj_recv(b, LONG_MS, &one, buf, sizeof(buf)), -EPROTO);
	assert_null(one);
	/* Room enough for the objects, not for the payload. */
	assert_int_equal(mobj_recvv(b, LONG_MS, in, 8, &n, buf, 0), -EMSGSIZE);
	assert_null(in[0]);
	tu_res_check(open_chans);
	assert_int_equal(mobj_recvv(b, LONG_MS, in, 8, &n, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'w');
	assert_int_equal(n, 1);
	mobj_close(in[0]);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}

/* Across processes: a child sends eight objects in one message. */
static void test_sendv_fork(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *in[8];
	struct mobj_chan *c;
	char buf[8];
	size_t n = 0;
	pid_t pid;

	(void)state;
	pid = tu_fork_chan(&c);
	if (pid == 0) {
		struct mobj *objs[8], *keep[8];

		make_objs(objs, keep, 8);
		_exit(mobj_sendv(c, objs, 8, "kid", 3) == 0 ? 0 : 1);
	}
	assert_int_equal(mobj_recvv(c, LONG_MS, in, 8, &n, buf, sizeof(buf)), 3);
	assert_int_equal(n, 8);
	check_objs(in, 8);
	close_objs(in, in, 8);
	assert_int_equal(tu_wait(pid), 0);
	mobj_chan_close(c);
	tu_res_check(r);
}

/* ---- Peer death, queues ------------------------------------------------ */

static void test_peer_killed(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *l, *c;
	char name[64], buf[16];
	pid_t helper;

	(void)state;
	name_abstract(name, sizeof(name), "kill");
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	helper = spawn_and_accept(l, "linger", name, &c);
	assert_int_equal(mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)), 5);
	assert_int_equal(mobj_send(c, NULL, "still there?", 12), 0);
	assert_int_equal(kill(helper, SIGKILL), 0);
	assert_int_equal(tu_wait(helper), 128 + SIGKILL);
	assert_int_equal(mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)), -EPIPE);
	assert_int_equal(mobj_recv(c, 0, NULL, buf, sizeof(buf)), -EPIPE);
	/* No SIGPIPE: this process would die of it. */
	assert_int_equal(mobj_send(c, NULL, "x", 1), -EPIPE);
	mobj_chan_close(c);
	mobj_chan_close(l);
	tu_res_check(r);
}

static void test_queued_before_exit(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *l, *c;
	struct mobj *o = NULL;
	char name[108], buf[16];
	pid_t helper;

	(void)state;
	name_path(name, sizeof(name), "queue");
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	helper = spawn_and_accept(l, "send3", name, &c);
	assert_int_equal(tu_wait(helper), 0); /* gone before we read anything */
	assert_int_equal(mobj_recv(c, 0, &o, buf, sizeof(buf)), 3);
	assert_null(o);
	assert_int_equal(mobj_recv(c, 0, &o, buf, sizeof(buf)), 3);
	assert_non_null(o);
	mobj_close(o);
	assert_int_equal(mobj_recv(c, 0, &o, buf, sizeof(buf)), 5);
	assert_int_equal(mobj_recv(c, 0, &o, buf, sizeof(buf)), -EPIPE);
	mobj_chan_close(c);
	mobj_chan_close(l);
	tu_res_check(r);
}

#ifdef __linux__
/* ---- The uid policy (root, setresuid: Linux) ----------------------------- */

struct as_nobody {
	const char *name;
	int gate[2]; /* written when done; -1 for none */
	int expect;
};

static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return -1;
	return getuid() == NOBODY && geteuid() == NOBODY ? 0 : -1;
}

/* In a forked child: optionally become nobody, connect, and on success say
 * "hi". Exit 0 when connect gave what was expected. */
static pid_t connector(const char *name, bool nobody, int expect, int gate_w,
                       int gate_r)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	if (gate_r >= 0) {
		char b;

		if (read(gate_r, &b, 1) != 1)
			_exit(90);
	}
	if (nobody && drop_to_nobody() < 0)
		_exit(91);
	{
		struct mobj_chan *c = NULL;
		int err = mobj_chan_connect(name, LONG_MS, &c);

		if (gate_w >= 0 && write(gate_w, "g", 1) != 1)
			_exit(92);
		if (err != expect) {
			fprintf(stderr, "connector: got %d, expected %d\n", err, expect);
			_exit(93);
		}
		if (err == 0 && mobj_send(c, NULL, "hi", 2) != 0)
			_exit(94);
		mobj_chan_close(c);
		_exit(0);
	}
}

static void expect_hi(struct mobj_chan *l, pid_t pid, uid_t uid)
{
	struct mobj_chan *c;
	pid_t ppid;
	uid_t puid;
	char buf[8];

	assert_int_equal(mobj_chan_accept(l, LONG_MS, &c), 0);
	assert_int_equal(mobj_chan_peer(c, &ppid, &puid), 0);
	assert_int_equal(ppid, pid);
	assert_int_equal(puid, uid);
	assert_int_equal(mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)), 2);
	mobj_chan_close(c);
}

static void test_uid_policy(void **state)
{
	struct tu_res r;
	struct mobj_chan *l, *c;
	char name[64], path[108];
	int gate[2];
	pid_t a, b;

	(void)state;
	if (getuid() != 0) {
		print_message("skipped: needs root to start a peer of another uid\n");
		skip();
	}
	r = tu_res_now();
	name_abstract(name, sizeof(name), "uid");
	assert_int_equal(mobj_chan_listen(name, &l), 0);

	/* Refused: nobody's connect fails with -EPIPE; accept skips it and
	 * returns the next, allowed peer, started only after the refusal. */
	assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
	a = connector(name, true, -EPIPE, gate[1], -1);
	b = connector(name, false, 0, -1, gate[0]);
	close(gate[0]);
	close(gate[1]);
	expect_hi(l, b, 0);
	assert_int_equal(tu_wait(a), 0);
	assert_int_equal(tu_wait(b), 0);

	/* Allowed by uid. */
	assert_int_equal(mobj_chan_allow_uid(l, NOBODY), 0);
	assert_int_equal(mobj_chan_allow_uid(l, NOBODY), 0);
	a = connector(name, true, 0, -1, -1);
	expect_hi(l, a, NOBODY);
	assert_int_equal(tu_wait(a), 0);
	mobj_chan_close(l);

	/* Allowed as anyone. */
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	assert_int_equal(mobj_chan_allow_uid(l, MOBJ_ANY_UID), 0);
	a = connector(name, true, 0, -1, -1);
	expect_hi(l, a, NOBODY);
	assert_int_equal(tu_wait(a), 0);
	mobj_chan_close(l);

	/* A path socket is 0600: another uid cannot even connect (the DAC
	 * check root skips, nobody does not). */
	name_path(path, sizeof(path), "uid");
	assert_int_equal(mobj_chan_listen(path, &l), 0);
	a = connector(path, true, -EACCES, -1, -1);
	assert_int_equal(tu_wait(a), 0);
	assert_int_equal(mobj_chan_accept(l, 0, &c), -ETIMEDOUT);
	mobj_chan_close(l);
	tu_res_check(r);
}

/* Regression (uid policy compared the peer's SO_PEERCRED uid, which is its
 * *effective* uid, with the listener's real uid): a set-uid-root listener
 * (real uid nobody, effective uid 0) accepted every process of nobody and
 * refused root. Runs as that listener in a child; exit 0 when a peer of
 * effective uid 0 is accepted and a peer of uid nobody is refused. */
static int setuid_listener(void *arg)
{
	const char *name = arg;
	struct mobj_chan *l, *c;
	int gate[2];
	pid_t a, b, ppid;
	uid_t puid;
	char buf[8];

	if (setresuid(NOBODY, 0, 0) < 0 || getuid() != NOBODY || geteuid() != 0)
		return 1;
	if (mobj_chan_listen(name, &l) != 0 || pipe2(gate, O_CLOEXEC) < 0)
		return 2;
	/* nobody connects first and must be refused; root, started after
	 * that refusal, is the one accepted. */
	a = connector(name, true, -EPIPE, gate[1], -1);
	b = connector(name, false, 0, -1, gate[0]);
	close(gate[0]);
	close(gate[1]);
	if (mobj_chan_accept(l, LONG_MS, &c) != 0)
		return 3;
	if (mobj_chan_peer(c, &ppid, &puid) != 0 || ppid != b || puid != 0) {
		fprintf(stderr, "accepted pid %d uid %d\n", (int)ppid, (int)puid);
		return 4;
	}
	if (mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)) != 2)
		return 5;
	mobj_chan_close(c);
	mobj_chan_close(l);
	if (tu_wait(a) != 0)
		return 6;
	if (tu_wait(b) != 0)
		return 7;
	return 0;
}

static void test_uid_policy_effective(void **state)
{
	struct tu_res r;
	char name[64];

	(void)state;
	if (getuid() != 0) {
		print_message("skipped: needs root to make a set-uid listener\n");
		skip();
	}
	r = tu_res_now();
	name_abstract(name, sizeof(name), "euid");
	assert_int_equal(tu_in_child(setuid_listener, name), 0);
	tu_res_check(r);
}

/* Regression (a refused peer sent accept round its loop with the same
 * deadline; every pending connection polls ready at once, so peers of
 * another uid that kept connecting kept mobj_chan_accept() from ever
 * returning, whatever its timeout): past the timeout, accept gives up after
 * the peer in hand. Here 20 refused connections are queued and a poll
 * (timeout 0) refuses one, not all of them. */
static void test_accept_flood_refused(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tu_res r;
	struct mobj_chan *l, *c = NULL;
	struct pollfd p = { .events = POLLIN };
	char name[64], b;
	int ready[2], done[2], i;
	socklen_t len;
	pid_t pid;

	(void)state;
	if (getuid() != 0) {
		print_message("skipped: needs root to start a peer of another uid\n");
		skip();
	}
	r = tu_res_now();
	name_abstract(name, sizeof(name), "flood");
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	memcpy(sa.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(done, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(done[1]);
		if (drop_to_nobody() < 0)
			_exit(1);
		for (i = 0; i < 20; i++) {
			int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

			if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len) < 0)
				_exit(2);
		}
		if (write(ready[1], "r", 1) != 1 || read(done[0], &b, 1) < 0)
			_exit(3);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	assert_int_equal(read(ready[0], &b, 1), 1);
	assert_int_equal(mobj_chan_accept(l, 0, &c), -ETIMEDOUT);
	assert_null(c);
	p.fd = mobj_chan_fd(l);
	assert_int_equal(poll(&p, 1, 0), 1); /* the other 19 still wait */
	assert_int_equal(mobj_chan_accept(l, 0, &c), -ETIMEDOUT);
	close(done[1]);
	close(ready[0]);
	assert_int_equal(tu_wait(pid), 0);
	mobj_chan_close(l);
	tu_res_check(r);
}
#endif /* __linux__ */

/* A listener that closes while a connector waits for its HELLO: the
 * connector gets -EPIPE, not a channel. */
static void test_listener_closes_before_accept(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *l;
	struct pollfd p = { .events = POLLIN };
	char name[64], expect[16];
	const char *args[] = { name, expect, NULL };
	pid_t a;

	(void)state;
	name_abstract(name, sizeof(name), "closing");
	snprintf(expect, sizeof(expect), "%d", EPIPE);
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	/* Re-executed, not forked: a forked child would inherit the listener
	 * and keep it open. */
	a = tu_spawn_helper("connect_expect", args);
	assert_true(a > 0);
	p.fd = mobj_chan_fd(l);
	assert_int_equal(poll(&p, 1, LONG_MS), 1); /* it is queued, waiting */
	mobj_chan_close(l);
	assert_int_equal(tu_wait(a), 0);
	tu_res_check(r);
}

static void test_allow_uid_limit(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *l;
	char name[64];
	uid_t u;
	int err = 0;

	(void)state;
	name_abstract(name, sizeof(name), "allow");
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	for (u = 1000; u < 1100 && err == 0; u++)
		err = mobj_chan_allow_uid(l, u);
	assert_int_equal(err, -ENOSPC);
	mobj_chan_close(l);
	tu_res_check(r);
}

/* ---- Sizes, timeouts, signals, misuse --------------------------------- */

static void test_emsgsize(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *a, *b;
	struct mobj *o, *got = NULL;
	char buf[100];

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	memset(buf, 1, sizeof(buf));
	assert_int_equal(mobj_send(a, o, buf, 100), 0);
	assert_int_equal(mobj_recv(b, 0, &got, buf, 10), -EMSGSIZE);
	assert_null(got);
	/* An object the caller did not ask for is refused, not leaked. */
	assert_int_equal(mobj_send(a, o, "x", 1), 0);
	assert_int_equal(mobj_recv(b, 0, NULL, buf, sizeof(buf)), -EPROTO);
	mobj_close(o);
	assert_int_equal(mobj_send(a, NULL, "next", 4), 0);
	assert_int_equal(mobj_recv(b, 0, NULL, buf, 4), 4);
	assert_int_equal(mobj_send(a, NULL, "", 0), 0);
	assert_int_equal(mobj_recv(b, 0, NULL, NULL, 0), 0);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}

static void test_timeouts(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *a, *b, *l, *c = NULL;
	char name[64], missing[64], buf[8];

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_recv(a, 0, NULL, buf, sizeof(buf)), -ETIMEDOUT);
	assert_int_equal(mobj_recv(a, 1, NULL, buf, sizeof(buf)), -ETIMEDOUT);
	assert_int_equal(mobj_recv(a, 30, NULL, buf, sizeof(buf)), -ETIMEDOUT);
	name_abstract(name, sizeof(name), "timeout");
	name_abstract(missing, sizeof(missing), "nobody-listens");
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	assert_int_equal(mobj_chan_accept(l, 0, &c), -ETIMEDOUT);
	assert_int_equal(mobj_chan_accept(l, 20, &c), -ETIMEDOUT);
	assert_int_equal(mobj_chan_connect(missing, 0, &c), -ECONNREFUSED);
	assert_int_equal(mobj_chan_connect(missing, 30, &c), -ETIMEDOUT);
	/* A listener that never accepts: no HELLO, so no channel. */
	assert_int_equal(mobj_chan_connect(name, 30, &c), -ETIMEDOUT);
	assert_null(c);
	mobj_chan_close(l);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}

/* Regression: a peer that stops reading held mobj_send() forever; with
 * mobj_send_timeout() the sender gets -ETIMEDOUT, nothing half-sent, no
 * descriptor left behind, and sending works again once the peer reads. */
static void test_send_timeout(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *a, *b;
	static char big[MOBJ_MSG_MAX];
	struct mobj *o;
	int i, err = 0, sent = 0;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_create(1, 0, &o), 0);
	for (i = 0; i < 100000; i++) {
		err = mobj_send_timeout(a, NULL, big, sizeof(big), 0);
		if (err < 0)
			break;
		sent++;
	}
	assert_int_equal(err, -ETIMEDOUT);
	assert_true(sent > 0);
	assert_int_equal(mobj_send_timeout(a, o, big, 1, 20), -ETIMEDOUT);
	assert_int_equal(mobj_send_timeout(a, NULL, big, 1, -2), -EINVAL);
	/* The peer reads one message: there is room again. */
	assert_int_equal(mobj_recv(b, 0, NULL, big, sizeof(big)), (int)sizeof(big));
	assert_int_equal(mobj_send_timeout(a, o, big, 1, 1000), 0);
	for (i = 1; i < sent; i++)
		assert_int_equal(mobj_recv(b, 0, NULL, big, sizeof(big)),
		                 (int)sizeof(big));
	{
		struct mobj *got = NULL;

		assert_int_equal(mobj_recv(b, 0, &got, big, sizeof(big)), 1);
		assert_non_null(got);
		mobj_close(got);
	}
	mobj_close(o);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

#ifdef __linux__
static int send_later(struct mobj_chan *a, struct mobj_chan *b)
{
	int rc;

	mobj_chan_close(a);
	sleep_ms(40);
	rc = mobj_send(b, NULL, "later", 5) == 0 ? 0 : 1;
	mobj_chan_close(b);
	return rc;
}

static void test_signals_do_not_interrupt(void **state)
{
	struct tu_res r = tu_res_now();
	struct itimerval every = { { 0, 2000 }, { 0, 2000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct mobj_chan *a, *b;
	char buf[8];
	pid_t pid;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: every wait sees EINTR */
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &every, NULL), 0);
	assert_int_equal(mobj_recv(a, 50, NULL, buf, sizeof(buf)), -ETIMEDOUT);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setitimer(ITIMER_REAL, &off, NULL);
		_exit(send_later(a, b));
	}
	assert_int_equal(mobj_recv(a, -1, NULL, buf, sizeof(buf)), 5);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	/* The counting handler stays: an alarm still pending now (valgrind
	 * delivers late) must not find SIGALRM's default action, which kills. */
	assert_int_equal(tu_wait(pid), 0);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}
#else
/* The same with the child met through a name (tu_fork_chan), which waits
 * for "go" so that the parent's timed wait finds nothing. */
static void test_signals_do_not_interrupt(void **state)
{
	struct tu_res r = tu_res_now();
	struct itimerval every = { { 0, 2000 }, { 0, 2000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct mobj_chan *c;
	char buf[8];
	pid_t pid;

	(void)state;
	pid = tu_fork_chan(&c);
	if (pid == 0) {
		int rc = mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)) == 2 ? 0 : 1;

		sleep_ms(40);
		if (mobj_send(c, NULL, "later", 5) != 0)
			rc = 2;
		mobj_chan_close(c);
		_exit(rc);
	}
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: every wait sees EINTR */
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &every, NULL), 0);
	assert_int_equal(mobj_recv(c, 50, NULL, buf, sizeof(buf)), -ETIMEDOUT);
	assert_int_equal(mobj_send(c, NULL, "go", 2), 0);
	assert_int_equal(mobj_recv(c, -1, NULL, buf, sizeof(buf)), 5);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(tu_wait(pid), 0);
	mobj_chan_close(c);
	tu_res_check(r);
}
#endif

static void test_pollable_fd(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *a, *b;
	struct pollfd p = { .events = POLLIN };
	char buf[8];
#ifdef __linux__
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mobj_chan *l;
	char name[64];
	socklen_t len;
	int fd;
#endif

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	p.fd = mobj_chan_fd(b);
	assert_true(p.fd >= 0);
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_int_equal(mobj_send(a, NULL, "x", 1), 0);
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_true(p.revents & POLLIN);
	assert_int_equal(mobj_recv(b, 0, NULL, buf, sizeof(buf)), 1);
	assert_int_equal(poll(&p, 1, 0), 0);
	mobj_chan_close(a);
	assert_int_equal(poll(&p, 1, 0), 1); /* the peer left */
	mobj_chan_close(b);

#ifdef __linux__
	/* A raw connection makes the listener readable (Darwin:
	 * test_listener_closes_before_accept polls a listener). */
	name_abstract(name, sizeof(name), "poll");
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	p.fd = mobj_chan_fd(l);
	assert_int_equal(poll(&p, 1, 0), 0);
	memcpy(sa.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(poll(&p, 1, 0), 1);
	close(fd);
	mobj_chan_close(l);
#endif
	tu_res_check(r);
}

static void test_bad_args(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj_chan *a, *b, *l, *c = NULL;
	struct mobj *o;
	char name[64], buf[8];

	(void)state;
	name_abstract(name, sizeof(name), "args");
	assert_int_equal(mobj_chan_listen(NULL, &c), -EINVAL);
	assert_int_equal(mobj_chan_listen(name, NULL), -EINVAL);
	assert_int_equal(mobj_chan_connect(NULL, 0, &c), -EINVAL);
	assert_int_equal(mobj_chan_connect(name, 0, NULL), -EINVAL);
	assert_int_equal(mobj_chan_pair(NULL, &b), -EINVAL);
	assert_int_equal(mobj_chan_pair(&a, NULL), -EINVAL);
	assert_int_equal(mobj_chan_pair(&a, &a), -EINVAL);
	assert_int_equal(mobj_chan_accept(NULL, 0, &c), -EINVAL);
	assert_int_equal(mobj_chan_allow_uid(NULL, 0), -EINVAL);
	assert_int_equal(mobj_send(NULL, NULL, "x", 1), -EINVAL);
	assert_int_equal(mobj_recv(NULL, 0, NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mobj_chan_fd(NULL), -EINVAL);
	assert_int_equal(mobj_chan_peer(NULL, NULL, NULL), -EINVAL);
	mobj_chan_close(NULL);
	assert_null(c);

	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_send(a, NULL, NULL, 1), -EINVAL);
	assert_int_equal(mobj_recv(a, 0, NULL, NULL, 1), -EINVAL);
	assert_int_equal(mobj_chan_accept(a, 0, &c), -EINVAL);
	assert_int_equal(mobj_chan_allow_uid(a, 0), -EINVAL);

	/* A listener is not a channel, and the other way round. */
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	assert_int_equal(mobj_send(l, NULL, "x", 1), -EINVAL);
	assert_int_equal(mobj_send(l, o, NULL, 0), -EINVAL);
	assert_int_equal(mobj_recv(l, 0, NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mobj_chan_peer(l, NULL, NULL), -EINVAL);
	assert_int_equal(mobj_chan_accept(l, 0, NULL), -EINVAL);
	assert_true(mobj_chan_fd(l) >= 0);
	mobj_close(o);

	/* Regression (a timeout below -1 waited forever, like -1; the ring
	 * and the headers' convention say -EINVAL): with something ready, the
	 * call must refuse, not take it. */
	assert_int_equal(mobj_send(a, NULL, "x", 1), 0);
	assert_int_equal(mobj_recv(b, -2, NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mobj_recv(b, INT32_MIN, NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(mobj_recv(b, 0, NULL, buf, sizeof(buf)), 1);
	{
#ifdef __linux__
		/* A raw connection waiting (Darwin: none). */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		socklen_t len;
		int fd;

		memcpy(sa.sun_path + 1, name, strlen(name));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		                  strlen(name));
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, len), 0);
#endif
		assert_int_equal(mobj_chan_accept(l, -2, &c), -EINVAL);
		assert_null(c);
		assert_int_equal(mobj_chan_connect(name, -2, &c), -EINVAL);
		assert_null(c);
#ifdef __linux__
		close(fd);
#endif
	}
	mobj_chan_close(l);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(r);
}

/* One round of everything before the first count of descriptors and
 * mappings: allocators (ASan's in particular) map regions on first use. */
static int warm_up(void **state)
{
	struct mobj_chan *a, *b;
	struct mobj *o, *got = NULL;
	char buf[8];

	(void)state;
	if (mobj_chan_pair(&a, &b) != 0 || mobj_create(page(), 0, &o) != 0)
		return -1;
	if (mobj_send(a, o, "w", 1) != 0 ||
	    mobj_recv(b, 0, &got, buf, sizeof(buf)) != 1)
		return -1;
	mobj_close(got);
	mobj_close(o);
	mobj_chan_close(a);
	mobj_chan_close(b);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_in_process),
#ifdef __linux__
		cmocka_unit_test(test_pair_peer_after_fork),
#endif
#ifdef __linux__
		cmocka_unit_test(test_pair_fork),
#endif
		cmocka_unit_test(test_named_abstract),
#ifdef __linux__
		cmocka_unit_test(test_named_path),
		cmocka_unit_test(test_abstract_address_exact),
		cmocka_unit_test(test_path_mode),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_listen_race_both_win),
#endif
		cmocka_unit_test(test_live_listener_in_use),
		cmocka_unit_test(test_name_rules),
#ifdef __linux__
		cmocka_unit_test(test_hostile_peer),
		cmocka_unit_test(test_hostile_cmsg_mix),
		cmocka_unit_test(test_recv_real_producers),
		cmocka_unit_test(test_hostile_vector),
		cmocka_unit_test(test_debug_logs_messages),
#endif
#ifdef __linux__
		cmocka_unit_test(test_socket_activation),
		cmocka_unit_test(test_activation_checks),
#endif
		cmocka_unit_test(test_sendv_recvv),
		cmocka_unit_test(test_recvv_over_cap),
		cmocka_unit_test(test_sendv_fork),
		cmocka_unit_test(test_peer_killed),
		cmocka_unit_test(test_queued_before_exit),
#ifdef __linux__
		cmocka_unit_test(test_uid_policy),
		cmocka_unit_test(test_uid_policy_effective),
		cmocka_unit_test(test_accept_flood_refused),
#endif
		cmocka_unit_test(test_listener_closes_before_accept),
		cmocka_unit_test(test_allow_uid_limit),
		cmocka_unit_test(test_emsgsize),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_send_timeout),
		cmocka_unit_test(test_signals_do_not_interrupt),
		cmocka_unit_test(test_pollable_fd),
		cmocka_unit_test(test_bad_args),
	};

	tu_helper_dispatch(argc, argv, helpers);
	return cmocka_run_group_tests_name("chan", tests, warm_up, NULL);
}
