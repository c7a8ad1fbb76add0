/*
 * The Darwin backend's own checks, run only on macOS, next to the portable
 * tests (object, chan, ring, layout, tool), which run there too: what only
 * Mach shows - memory-entry ports, the kernel's refusal of a read-only
 * entry, semaphores, and a hostile peer speaking raw Mach messages. Every
 * test counts this task's Mach port names before and after, the Darwin
 * analogue of the descriptor-leak check: a right or reference leaked by
 * any path shows up as one more name.
 *
 * Cross-process cases fork: the child keeps the bootstrap port, so it can
 * reach a name the parent listens on, but no other port of the parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <mach/mach.h>
#include <mach/notify.h>
#include <mach/vm_page_size.h>
#if __has_include(<servers/bootstrap.h>)
#include <servers/bootstrap.h>
#else
/* Zig's macOS headers lack it; libSystem exports it (src/darwin/compat.h). */
typedef char name_t[128];
kern_return_t bootstrap_look_up(mach_port_t bp, const name_t service_name,
                                mach_port_t *sp);
#endif

#include "mobj/darwin.h"
#include "mobj/mobj.h"
#include "mobj/ring.h"
#include "testutil.h"
#include "wire.h"

#define RW (MOBJ_PROT_READ | MOBJ_PROT_WRITE)
#define LONG_MS 10000

static unsigned port_count(void)
{
	return (unsigned)tu_res_now().ports;
}

static size_t page(void)
{
	return mobj_page_size();
}

static void test_page_size(void **state)
{
	size_t want = vm_kernel_page_size > vm_page_size ? vm_kernel_page_size :
	              vm_page_size;

	(void)state;
	assert_int_equal(page(), want);
	assert_int_equal(page() & (page() - 1), 0);
}

static void test_from_port(void **state)
{
	unsigned before = port_count();
	struct mobj *o, *got;
	mach_port_t plain;
	char *p, *q;

	(void)state;
	assert_int_equal(mobj_create(3 * page(), 0, &o), 0);
	assert_int_equal(mobj_map(o, 0, page(), RW, (void **)&p), 0);
	strcpy(p, "shared");
	assert_int_equal(mobj_from_port(mobj_port(o), 3 * page(), MOBJ_READ | MOBJ_WRITE,
	                                &got), 0);
	assert_int_equal(mobj_port(got), mobj_port(o)); /* one name per port */
	assert_int_equal(mobj_map(got, 0, page(), MOBJ_PROT_READ, (void **)&q), 0);
	assert_string_equal(q, "shared");
	assert_int_equal(mobj_unmap(q, page()), 0);
	mobj_close(got);

	/* Exactly the size, and the access, the entry has. */
	assert_int_equal(mobj_from_port(mobj_port(o), 2 * page(),
	                                MOBJ_READ | MOBJ_WRITE, &got), -EPROTO);
	assert_int_equal(mobj_from_port(mobj_port(o), 4 * page(),
	                                MOBJ_READ | MOBJ_WRITE, &got), -EPROTO);
	assert_int_equal(mobj_from_port(mobj_port(o), 3 * page(), MOBJ_READ, &got),
	                 -EPROTO);
	assert_int_equal(mobj_from_port(MACH_PORT_NULL, page(), MOBJ_READ, &got),
	                 -EBADF);
	assert_int_equal(mobj_from_port(0x7ffff103, page(), MOBJ_READ, &got),
	                 -EBADF);

	/* A port that is no memory entry. */
	assert_int_equal(mach_port_allocate(mach_task_self(),
	                                    MACH_PORT_RIGHT_RECEIVE, &plain), 0);
	assert_int_equal(mach_port_insert_right(mach_task_self(), plain, plain,
	                                        MACH_MSG_TYPE_MAKE_SEND), 0);
	assert_int_equal(mobj_from_port(plain, page(), MOBJ_READ, &got), -EPROTO);
	mach_port_deallocate(mach_task_self(), plain);
	mach_port_mod_refs(mach_task_self(), plain, MACH_PORT_RIGHT_RECEIVE, -1);

	assert_int_equal(mobj_unmap(p, page()), 0);
	mobj_close(o);
	assert_int_equal(port_count(), before);
}

static void test_readonly(void **state)
{
	unsigned before = port_count();
	struct mobj *o, *ro, *got;
	vm_address_t a = 0;
	char *w, *r;

	(void)state;
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	assert_int_equal(mobj_map(o, 0, page(), RW, (void **)&w), 0);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_access(ro), MOBJ_READ);

	/* The kernel, not the library, refuses the read-only entry. */
	assert_int_equal(vm_map(mach_task_self(), &a, page(), 0, VM_FLAGS_ANYWHERE,
	                        mobj_port(ro), 0, FALSE,
	                        VM_PROT_READ | VM_PROT_WRITE,
	                        VM_PROT_READ | VM_PROT_WRITE, VM_INHERIT_NONE),
	                 KERN_INVALID_RIGHT);
	assert_int_equal(mobj_map(ro, 0, page(), RW, (void **)&r), -EACCES);
	assert_int_equal(mobj_map(ro, 0, page(), MOBJ_PROT_READ, (void **)&r), 0);
	assert_int_equal(vm_protect(mach_task_self(), (vm_address_t)r, page(),
	                            FALSE, VM_PROT_READ | VM_PROT_WRITE),
	                 KERN_PROTECTION_FAILURE);

	/* The freeze: no new writable mapping, old ones keep working. */
	assert_int_equal(mobj_map(o, 0, page(), RW, (void **)&r), -EPERM);
	strcpy(w, "after the freeze");
	assert_string_equal(r, "after the freeze");

	assert_int_equal(mobj_from_port(mobj_port(ro), page(), MOBJ_READ, &got), 0);
	mobj_close(got);
	assert_int_equal(mobj_from_port(mobj_port(ro), page(),
	                                MOBJ_READ | MOBJ_WRITE, &got), -EPROTO);

	assert_int_equal(mobj_unmap(r, page()), 0);
	assert_int_equal(mobj_unmap(w, page()), 0);
	mobj_close(ro);
	mobj_close(o);
	assert_int_equal(port_count(), before);
}

static void test_mirror(void **state)
{
	unsigned before = port_count();
	struct mobj *o;
	unsigned char *m;

	(void)state;
	assert_int_equal(mobj_create(2 * page(), 0, &o), 0);
	assert_int_equal(mobj_map_mirror(o, RW, (void **)&m), 0);
	m[2 * page() - 1] = 0xaa;
	m[2 * page()] = 0xbb;
	assert_int_equal(m[4 * page() - 1], 0xaa);
	assert_int_equal(m[0], 0xbb);
	assert_int_equal(mobj_unmap(m, 4 * page()), 0);
	mobj_close(o);
	assert_int_equal(port_count(), before);
}

static void test_pair(void **state)
{
	unsigned before = port_count();
	struct mobj_chan *a, *b;
	struct mobj *o, *ro, *got;
	struct pollfd pfd;
	char buf[16];

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_create(page(), 0, &o), 0);

	pfd.fd = mobj_chan_fd(b);
	pfd.events = POLLIN;
	assert_true(pfd.fd >= 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(mobj_send(a, o, "obj", 3), 0);
	assert_int_equal(poll(&pfd, 1, LONG_MS), 1);
	assert_int_equal(mobj_recv(b, 0, &got, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "obj", 3);
	assert_int_equal(mobj_access(got), MOBJ_READ | MOBJ_WRITE);
	mobj_close(got);

	/* A frozen read-write handle never leaves; its read-only one does. */
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_send(a, o, NULL, 0), -EPERM);
	assert_int_equal(mobj_send(a, ro, NULL, 0), 0);
	assert_int_equal(mobj_recv(b, 0, &got, NULL, 0), 0);
	assert_int_equal(mobj_access(got), MOBJ_READ);
	mobj_close(got);

	/* An object nobody asked for is released: -EPROTO. */
	assert_int_equal(mobj_send(a, ro, NULL, 0), 0);
	assert_int_equal(mobj_recv(b, 0, NULL, NULL, 0), -EPROTO);
	assert_int_equal(mobj_recv(b, 0, NULL, NULL, 0), -ETIMEDOUT);

	/* Queued messages first, then the end. */
	assert_int_equal(mobj_send(a, NULL, "last", 4), 0);
	mobj_chan_close(a);
	assert_int_equal(mobj_recv(b, LONG_MS, NULL, buf, sizeof(buf)), 4);
	assert_int_equal(mobj_recv(b, LONG_MS, NULL, buf, sizeof(buf)), -EPIPE);
	assert_int_equal(mobj_send(b, NULL, "x", 1), -EPIPE);
	/* Hung up for good: the fd stays readable, recv never blocks. */
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(mobj_recv(b, -1, NULL, buf, sizeof(buf)), -EPIPE);
	mobj_chan_close(b);
	mobj_close(ro);
	mobj_close(o);
	assert_int_equal(port_count(), before);
}

/* The child of a fork: connect, send a read-only object, wait for "bye". */
static int child_connect(const char *name)
{
	struct mobj_chan *c;
	struct mobj *o, *ro;
	char *w, buf[8];
	int rc = 1;

	if (mobj_chan_connect(name, LONG_MS, &c) < 0)
		return 10;
	if (mobj_create(page(), 0, &o) < 0 ||
	    mobj_map(o, 0, page(), RW, (void **)&w) < 0)
		return 11;
	strcpy(w, "from the child");
	if (mobj_readonly(o, &ro) == 0 && mobj_send(c, ro, "hi", 2) == 0 &&
	    mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)) == 3)
		rc = 0;
	mobj_chan_close(c);
	return rc;
}

/* Listen on a fresh name, fork a child that runs @child(name), accept it;
 * the listener is closed again. Returns the child's pid. */
static pid_t fork_peer(const char *tag, int (*child)(const char *),
                       struct mobj_chan **c)
{
	struct mobj_chan *l;
	char name[64];
	pid_t pid;

	snprintf(name, sizeof(name), "org.mobj.test.%s.%d", tag, (int)getpid());
	assert_int_equal(mobj_chan_listen(name, &l), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child(name));
	assert_int_equal(mobj_chan_accept(l, LONG_MS, c), 0);
	mobj_chan_close(l);
	return pid;
}

static void test_named_fork(void **state)
{
	unsigned before = port_count();
	struct mobj_chan *c;
	struct mobj *got;
	char buf[8], *r;
	pid_t pid, peer;
	uid_t uid;
	int st;

	(void)state;
	pid = fork_peer("chan", child_connect, &c);
	assert_int_equal(mobj_chan_peer(c, &peer, &uid), 0);
	assert_int_equal(peer, pid);
	assert_int_equal(uid, geteuid());
	assert_int_equal(mobj_recv(c, LONG_MS, &got, buf, sizeof(buf)), 2);
	assert_int_equal(mobj_access(got), MOBJ_READ);
	assert_int_equal(mobj_map(got, 0, page(), RW, (void **)&r), -EACCES);
	assert_int_equal(mobj_map(got, 0, page(), MOBJ_PROT_READ, (void **)&r), 0);
	assert_string_equal(r, "from the child");
	assert_int_equal(mobj_send(c, NULL, "bye", 3), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(mobj_recv(c, LONG_MS, NULL, NULL, 0), -EPIPE);
	assert_int_equal(mobj_unmap(r, page()), 0);
	mobj_close(got);
	mobj_chan_close(c);
	assert_int_equal(port_count(), before);
}

static void *ring_reader(void *arg)
{
	struct mobj_ring *r = arg;
	static char buf[64];
	ssize_t n;

	n = mobj_ring_read(r, buf, sizeof(buf), LONG_MS);
	return n == 5 && memcmp(buf, "hello", 5) == 0 ? buf : NULL;
}

static void test_ring_semaphores(void **state)
{
	unsigned before = port_count();
	struct mobj_ring *p, *c;
	pthread_t t;
	void *res;
	char buf[8];

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	/* The reader sleeps on the producer's semaphore until the write. */
	assert_int_equal(pthread_create(&t, NULL, ring_reader, c), 0);
	usleep(100000);
	assert_int_equal(mobj_ring_write(p, "hello", 5, LONG_MS), 5);
	assert_int_equal(pthread_join(t, &res), 0);
	assert_non_null(res);
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_read(c, buf, sizeof(buf), LONG_MS), -EPIPE);
	mobj_ring_close(c);
	assert_int_equal(port_count(), before);
}

/* In a child: connect to @name and send it a new ring's producer end. */
static int connect_producer(const char *name, struct mobj_chan **c,
                            struct mobj_ring **p)
{
	if (mobj_chan_connect(name, LONG_MS, c) < 0 ||
	    mobj_ring_create(page(), p) < 0 ||
	    mobj_ring_send(*c, *p, LONG_MS) < 0)
		return -1;
	return 0;
}

/* A producer over a named channel that writes once, never closing
 * anything: 0, or what failed. */
static int write_once(const char *name)
{
	struct mobj_chan *c;
	struct mobj_ring *p;

	if (connect_producer(name, &c, &p) < 0)
		return 10;
	usleep(100000);
	if (mobj_ring_write(p, "hi", 2, LONG_MS) != 2)
		return 11;
	return 0;
}

/* The child: writes once and dies without closing anything. */
static int child_producer(const char *name)
{
	_exit(write_once(name));
}

/* The child: writes once, then exec()s a program that runs on. */
static int child_producer_exec(const char *name)
{
	int rc = write_once(name);

	if (rc == 0)
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
	return rc != 0 ? rc : 12;
}

/* The child's producer writes, then its task goes while the reader sleeps
 * on its semaphore, which dies with it: by death, or (@runs_on) by exec()
 * while the process lives on (XNU __mac_execve runs the new image in a new
 * task and terminates the old one: task_terminate_internal ->
 * semaphore_destroy_all), as ring.h says: on Darwin such a peer is dead. */
static void ring_peer_gone(const char *tag, int (*child)(const char *),
                           bool runs_on)
{
	unsigned before = port_count();
	struct mobj_chan *c;
	struct mobj_ring *r;
	char buf[8];
	pid_t pid;
	int st;

	pid = fork_peer(tag, child, &c);
	assert_int_equal(mobj_ring_recv(c, LONG_MS, &r), 0);
	/* Asleep on the child's semaphore until it writes... */
	assert_int_equal(mobj_ring_read(r, buf, sizeof(buf), LONG_MS), 2);
	assert_memory_equal(buf, "hi", 2);
	/* ...and until its task goes. */
	assert_int_equal(mobj_ring_read(r, buf, sizeof(buf), LONG_MS), -EPIPE);
	if (runs_on) {
		assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
		assert_int_equal(kill(pid, SIGKILL), 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!runs_on) {
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	mobj_ring_close(r);
	mobj_chan_close(c);
	assert_int_equal(port_count(), before);
}

static void test_ring_peer_death(void **state)
{
	(void)state;
	ring_peer_gone("ring", child_producer, false);
}

static void test_ring_peer_exec(void **state)
{
	(void)state;
	ring_peer_gone("ringexec", child_producer_exec, true);
}

/* ---- A hostile peer speaking raw Mach messages ----------------------------
 *
 * The message layout and ids, rebuilt from src/darwin/chan.c's description
 * (so the test also checks it is what it says): header, body,
 * MOBJ_MSG_OBJS_MAX port descriptors (the rights first, then null names),
 * a 32-bit length, then that many bytes of the wire format of
 * src/msg.h. The raw peer connects for real (CONNECT with a send right to
 * its own port, WELCOME back with the connection's), then sends what a
 * hostile or broken peer might: each is refused with -EPROTO, leaves no
 * port name behind, and the next valid message still arrives. */

#define ID_CONNECT 0x6d6f6201
#define ID_WELCOME 0x6d6f6202
#define ID_DATA    0x6d6f6203

#define RAW_PORTS MOBJ_MSG_OBJS_MAX

struct raw_msg {
	mach_msg_header_t hdr;
	mach_msg_body_t body;
	mach_msg_port_descriptor_t port[RAW_PORTS];
	uint32_t len;
	unsigned char data[2 * (32 + MOBJ_MSG_MAX)];
};

struct raw_rcv {
	struct raw_msg m;
	mach_msg_max_trailer_t trailer;
};

/* Send a complex message of the channel's layout to @dest: @id, @ndesc in
 * the body, the descriptors (@ports[0..@nports) with @disp, then null
 * names), the length field @len and @n bytes of @data (the message size
 * follows @n, whatever @len says). */
static kern_return_t raw_send_ports(mach_port_t dest, mach_msg_id_t id,
                                    mach_msg_size_t ndesc,
                                    const mach_port_t *ports, unsigned nports,
                                    mach_msg_type_name_t disp, uint32_t len,
                                    const void *data, size_t n)
{
	struct raw_msg m;
	size_t fixed = offsetof(struct raw_msg, data);
	unsigned i;

	memset(&m, 0, sizeof(m));
	m.hdr.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0,
	                                     MACH_MSGH_BITS_COMPLEX);
	m.hdr.msgh_size = (mach_msg_size_t)round_msg(fixed + n);
	m.hdr.msgh_remote_port = dest;
	m.hdr.msgh_id = id;
	m.body.msgh_descriptor_count = ndesc;
	for (i = 0; i < RAW_PORTS; i++) {
		m.port[i].name = i < nports ? ports[i] : MACH_PORT_NULL;
		m.port[i].disposition = i < nports ? disp : MACH_MSG_TYPE_COPY_SEND;
		m.port[i].type = MACH_MSG_PORT_DESCRIPTOR;
	}
	m.len = len;
	if (n)
		memcpy(m.data, data, n);
	return mach_msg(&m.hdr, MACH_SEND_MSG | MACH_SEND_TIMEOUT,
	                m.hdr.msgh_size, 0, MACH_PORT_NULL, LONG_MS,
	                MACH_PORT_NULL);
}

/* One right (@port, @disp) in the first of @ndesc descriptors (RAW_PORTS
 * for a well-formed message). */
static kern_return_t raw_send(mach_port_t dest, mach_msg_id_t id,
                              mach_msg_size_t ndesc, mach_port_t port,
                              mach_msg_type_name_t disp, uint32_t len,
                              const void *data, size_t n)
{
	return raw_send_ports(dest, id, ndesc, &port, 1, disp, len, data, n);
}

/* A simple (not complex) message of @n bytes after the header. */
static kern_return_t raw_send_simple(mach_port_t dest, mach_msg_id_t id,
                                     const void *data, size_t n)
{
	struct raw_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0, 0);
	m.hdr.msgh_size = (mach_msg_size_t)round_msg(sizeof(m.hdr) + n);
	m.hdr.msgh_remote_port = dest;
	m.hdr.msgh_id = id;
	memcpy((char *)&m + sizeof(m.hdr), data, n);
	return mach_msg(&m.hdr, MACH_SEND_MSG | MACH_SEND_TIMEOUT,
	                m.hdr.msgh_size, 0, MACH_PORT_NULL, LONG_MS,
	                MACH_PORT_NULL);
}

struct hostile {
	struct mobj_chan *l, *c; /* the receiving end, accepted for real */
	mach_port_t mine;        /* the raw peer's receive right */
	mach_port_t peer;        /* its send right to the connection */
	unsigned ports;          /* port names once set up */
	unsigned held;           /* names the test itself holds for a case */
	int cases;
};

static void hostile_open(struct hostile *h)
{
	struct raw_rcv r;
	mach_port_t svc = MACH_PORT_NULL;
	char name[64];

	snprintf(name, sizeof(name), "org.mobj.test.hostile.%d", (int)getpid());
	assert_int_equal(mobj_chan_listen(name, &h->l), 0);
	assert_int_equal(mach_port_allocate(mach_task_self(),
	                                    MACH_PORT_RIGHT_RECEIVE, &h->mine), 0);
	assert_int_equal(bootstrap_look_up(bootstrap_port, name, &svc), 0);
	assert_int_equal(raw_send(svc, ID_CONNECT, RAW_PORTS, h->mine,
	                          MACH_MSG_TYPE_MAKE_SEND, 0, NULL, 0), 0);
	mach_port_deallocate(mach_task_self(), svc);
	assert_int_equal(mobj_chan_accept(h->l, LONG_MS, &h->c), 0);
	/* The WELCOME: the connection's port, and a HELLO header. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(mach_msg(&r.m.hdr, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0,
	                          sizeof(r), h->mine, LONG_MS, MACH_PORT_NULL), 0);
	assert_int_equal(r.m.hdr.msgh_id, ID_WELCOME);
	assert_true(r.m.hdr.msgh_bits & MACH_MSGH_BITS_COMPLEX);
	assert_int_equal(r.m.body.msgh_descriptor_count, RAW_PORTS);
	assert_int_equal(r.m.port[0].disposition, MACH_MSG_TYPE_PORT_SEND);
	assert_int_equal(r.m.len, 32);
	assert_int_equal(((struct wire *)(void *)r.m.data)->type, 2);
	h->peer = r.m.port[0].name;
	h->ports = port_count();
	h->held = 0;
	h->cases = 0;
}

/* After a hostile message was sent: refused with -EPROTO, nothing kept,
 * and a valid message still goes through. */
static void hostile_check(struct hostile *h, const char *what)
{
	struct wire w = hdr(2, 0, 0, 0);
	unsigned char good[sizeof(w) + 2];
	struct mobj *o = NULL;
	char buf[MOBJ_MSG_MAX];
	int rc;

	rc = mobj_recv(h->c, LONG_MS, &o, buf, sizeof(buf));
	if (rc != -EPROTO)
		fail_msg("hostile case '%s': got %d (%s), expected -EPROTO",
		         what, rc, mobj_strerror(rc));
	assert_null(o);
	if (port_count() != h->ports + h->held)
		fail_msg("hostile case '%s': %u port names, %u expected", what,
		         port_count(), h->ports + h->held);
	memcpy(good, &w, sizeof(w));
	memcpy(good + sizeof(w), "ok", 2);
	assert_int_equal(raw_send(h->peer, ID_DATA, RAW_PORTS, MACH_PORT_NULL,
	                          MACH_MSG_TYPE_COPY_SEND, sizeof(good), good,
	                          sizeof(good)), 0);
	rc = mobj_recv(h->c, LONG_MS, &o, buf, sizeof(buf));
	if (rc != 2)
		fail_msg("after hostile case '%s': a valid message gave %d", what, rc);
	assert_null(o);
	assert_memory_equal(buf, "ok", 2);
	h->cases++;
}

/* A DATA message with wire header @w and @port (@disp) as its descriptor,
 * then the check. */
static void hostile_data(struct hostile *h, const char *what, struct wire w,
                         mach_port_t port, mach_msg_type_name_t disp)
{
	assert_int_equal(raw_send(h->peer, ID_DATA, RAW_PORTS, port, disp, sizeof(w),
	                          &w, sizeof(w)), 0);
	hostile_check(h, what);
}

/* A memory entry as another program would make one. */
static mach_port_t raw_entry(size_t size, vm_prot_t prot)
{
	memory_object_size_t sz = size;
	mach_port_t e = MACH_PORT_NULL;

	assert_int_equal(mach_make_memory_entry_64(mach_task_self(), &sz, 0,
	                 MAP_MEM_NAMED_CREATE | prot, &e, MACH_PORT_NULL), 0);
	return e;
}

static void test_hostile_mach_peer(void **state)
{
	unsigned before = port_count();
	struct hostile h;
	struct wire w = hdr(0, 0, 0, 0);
	static unsigned char big[3 * (32 + MOBJ_MSG_MAX)];
	static const mach_msg_id_t forged[] = { MACH_NOTIFY_DEAD_NAME,
	                                        MACH_NOTIFY_NO_SENDERS };
	mach_dead_name_notification_t dn;
	mach_port_t p, e;
	struct mobj *o = NULL;
	int i;

	(void)state;
	hostile_open(&h);

	/* Framing. */
	assert_int_equal(raw_send(h.peer, 0x1234, RAW_PORTS, MACH_PORT_NULL,
	                          MACH_MSG_TYPE_COPY_SEND, 32, &w, 32), 0);
	hostile_check(&h, "unknown id");
	assert_int_equal(raw_send(h.peer, ID_WELCOME, RAW_PORTS, MACH_PORT_NULL,
	                          MACH_MSG_TYPE_COPY_SEND, 32, &w, 32), 0);
	hostile_check(&h, "a WELCOME on a connected channel");
	assert_int_equal(raw_send_simple(h.peer, ID_DATA, &w, 32), 0);
	hostile_check(&h, "not complex");
	assert_int_equal(raw_send(h.peer, ID_DATA, 0, MACH_PORT_NULL,
	                          MACH_MSG_TYPE_COPY_SEND, 32, &w, 32), 0);
	hostile_check(&h, "complex, no descriptor");
	assert_int_equal(raw_send(h.peer, ID_DATA, 1, MACH_PORT_NULL,
	                          MACH_MSG_TYPE_COPY_SEND, 32, &w, 32), 0);
	hostile_check(&h, "one descriptor (version 1's layout)");
	assert_int_equal(raw_send(h.peer, ID_DATA, RAW_PORTS, MACH_PORT_NULL,
	                          MACH_MSG_TYPE_COPY_SEND, 100, &w, 32), 0);
	hostile_check(&h, "length says 100, 32 sent");
	assert_int_equal(raw_send(h.peer, ID_DATA, RAW_PORTS, MACH_PORT_NULL,
	                          MACH_MSG_TYPE_COPY_SEND, 8, &w, 32), 0);
	hostile_check(&h, "length says 8, 32 sent");
	memset(big, 0x5a, sizeof(big));
	assert_int_equal(raw_send(h.peer, ID_DATA, RAW_PORTS, MACH_PORT_NULL,
	                          MACH_MSG_TYPE_COPY_SEND, 2 * (32 + MOBJ_MSG_MAX),
	                          big, 2 * (32 + MOBJ_MSG_MAX)), 0);
	hostile_check(&h, "larger than any message");

	/* The wire header inside a well-framed message. */
	w.magic ^= 1;
	hostile_data(&h, "bad magic", w, MACH_PORT_NULL,
	             MACH_MSG_TYPE_COPY_SEND);
	w = hdr(0, 1, page(), MOBJ_READ | MOBJ_WRITE);
	hostile_data(&h, "an object declared, none sent", w, MACH_PORT_NULL,
	             MACH_MSG_TYPE_COPY_SEND);

	/* Rights that are not a send right. */
	assert_int_equal(mach_port_allocate(mach_task_self(),
	                                    MACH_PORT_RIGHT_RECEIVE, &p), 0);
	hostile_data(&h, "a receive right", w, p,
	             MACH_MSG_TYPE_MOVE_RECEIVE);
	assert_int_equal(mach_port_allocate(mach_task_self(),
	                                    MACH_PORT_RIGHT_RECEIVE, &p), 0);
	assert_int_equal(raw_send(h.peer, ID_DATA, RAW_PORTS, p,
	                          MACH_MSG_TYPE_MAKE_SEND_ONCE, 32, &w, 32), 0);
	/* Its port goes first: destroying the right would notify it. */
	mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1);
	hostile_check(&h, "a send-once right");
	hostile_data(&h, "a dead name", w, MACH_PORT_DEAD,
	             MACH_MSG_TYPE_COPY_SEND);

	/* Send rights that are not an acceptable object as declared. */
	assert_int_equal(mach_port_allocate(mach_task_self(),
	                                    MACH_PORT_RIGHT_RECEIVE, &p), 0);
	h.held = 1; /* p */
	hostile_data(&h, "a plain port", w, p, MACH_MSG_TYPE_MAKE_SEND);
	mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1);
	e = raw_entry(page(), VM_PROT_READ | VM_PROT_WRITE); /* held: e */
	w = hdr(0, 1, 2 * page(), MOBJ_READ | MOBJ_WRITE);
	hostile_data(&h, "an entry of the wrong size", w, e,
	             MACH_MSG_TYPE_COPY_SEND);
	w = hdr(0, 1, page(), MOBJ_READ);
	hostile_data(&h, "read-only declared, writable sent", w, e,
	             MACH_MSG_TYPE_COPY_SEND);
	w = hdr(0, 1, page(), 7);
	hostile_data(&h, "bad access bits", w, e,
	             MACH_MSG_TYPE_COPY_SEND);
	w = hdr(0, 0, 0, 0);
	hostile_data(&h, "an entry, no object declared", w, e,
	             MACH_MSG_TYPE_COPY_SEND);
	{
		mach_port_t two[2] = { MACH_PORT_NULL, e };

		w = hdr(0, 1, page(), MOBJ_READ | MOBJ_WRITE);
		assert_int_equal(raw_send_ports(h.peer, ID_DATA, RAW_PORTS, two, 2,
		                                MACH_MSG_TYPE_COPY_SEND, 32, &w,
		                                32), 0);
		hostile_check(&h, "a right after a null descriptor");
	}

	/* Kernel notifications forged by the peer: not believed (the audit
	 * token is the peer's, not the kernel's). */
	memset(&dn, 0, sizeof(dn));
	dn.not_port = h.peer;
	for (i = 0; i < 2; i++) {
		assert_int_equal(raw_send_simple(h.peer, forged[i],
		                 (const char *)&dn + sizeof(dn.not_header),
		                 sizeof(dn) - sizeof(dn.not_header) -
		                 sizeof(dn.trailer)), 0);
		hostile_check(&h, "a forged kernel notification");
	}
	assert_true(h.cases >= 19);
	print_message("%d hostile Mach messages refused\n", h.cases);

	/* A valid object after all that is still accepted. */
	w = hdr(0, 1, page(), MOBJ_READ | MOBJ_WRITE);
	assert_int_equal(raw_send(h.peer, ID_DATA, RAW_PORTS, e,
	                          MACH_MSG_TYPE_COPY_SEND, 32, &w, 32), 0);
	assert_int_equal(mobj_recv(h.c, LONG_MS, &o, NULL, 0), 0);
	assert_non_null(o);
	assert_int_equal(mobj_access(o), MOBJ_READ | MOBJ_WRITE);
	mobj_close(o);
	mach_port_deallocate(mach_task_self(), e);

	/* The raw peer goes. (Both ends are in this task, where a dead-name
	 * request on a name holding the receive right may be refused, so the
	 * receive side may not hear of it: the send side does.) */
	mach_port_deallocate(mach_task_self(), h.peer);
	mach_port_mod_refs(mach_task_self(), h.mine, MACH_PORT_RIGHT_RECEIVE, -1);
	assert_int_equal(mobj_send(h.c, NULL, "x", 1), -EPIPE);
	mobj_chan_close(h.c);
	mobj_chan_close(h.l);
	assert_int_equal(port_count(), before);
}

/* ---- The audit of issue 12: each test fails on a Mac without its fix --- */

/* What src/darwin/msg_check.c cannot static-assert: where the bit-fields of
 * a port descriptor lie in its third word, and that the kernel's audit
 * token is all zeros (it trusts notifications by that). */
static void test_msg_check_layout(void **state)
{
	static const audit_token_t kernel = KERNEL_AUDIT_TOKEN_VALUE;
	static const audit_token_t zero;
	mach_msg_port_descriptor_t d;
	uint32_t w[3];

	(void)state;
	memset(&d, 0, sizeof(d));
	d.name = 0x1234;
	d.disposition = MACH_MSG_TYPE_PORT_SEND;
	d.type = MACH_MSG_OOL_PORTS_DESCRIPTOR;
	memcpy(w, &d, sizeof(w));
	assert_int_equal(w[0], 0x1234);
	assert_int_equal((w[2] >> 16) & 0xff, MACH_MSG_TYPE_PORT_SEND);
	assert_int_equal(w[2] >> 24, MACH_MSG_OOL_PORTS_DESCRIPTOR);
	assert_memory_equal(&kernel, &zero, sizeof(zero));
}

/* A purgeable entry can be emptied by its maker at any time, after which
 * every fault in the receiver is a memory error (SIGBUS): XNU
 * vm_object_purgable_control, vm_fault_check. Refused as an object, and its
 * read-only child too (same VM object). */
static void test_purgeable_entry_refused(void **state)
{
	unsigned before = port_count();
	memory_object_size_t sz = page();
	mach_port_t e = MACH_PORT_NULL, ro = MACH_PORT_NULL;
	struct mobj *got = NULL;

	(void)state;
	assert_int_equal(mach_make_memory_entry_64(mach_task_self(), &sz, 0,
	                 MAP_MEM_NAMED_CREATE | MAP_MEM_PURGABLE | VM_PROT_READ |
	                 VM_PROT_WRITE, &e, MACH_PORT_NULL), KERN_SUCCESS);
	sz = page();
	assert_int_equal(mach_make_memory_entry_64(mach_task_self(), &sz, 0,
	                 VM_PROT_READ, &ro, e), KERN_SUCCESS);
	assert_int_equal(mobj_from_port(e, page(), MOBJ_READ | MOBJ_WRITE, &got),
	                 -EPROTO);
	assert_int_equal(mobj_from_port(ro, page(), MOBJ_READ, &got), -EPROTO);
	assert_null(got);
	mach_port_deallocate(mach_task_self(), ro);
	mach_port_deallocate(mach_task_self(), e);
	assert_int_equal(port_count(), before);
}

/* An entry of a file mapping (MAP_MEM_VM_SHARE): its maker truncates the
 * file and every fault past the new end is a memory error (XNU
 * vnode_pagein). Refused: it has an external pager. */
static void test_file_backed_entry_refused(void **state)
{
	unsigned before = port_count();
	const char *tmp = getenv("TMPDIR");
	char path[PATH_MAX];
	memory_object_size_t sz = page();
	mach_port_t e = MACH_PORT_NULL;
	struct mobj *got = NULL;
	void *p;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/mobj-test-file.XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, (off_t)page()), 0);
	p = mmap(NULL, page(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(mach_make_memory_entry_64(mach_task_self(), &sz,
	                 (memory_object_offset_t)(uintptr_t)p, MAP_MEM_VM_SHARE |
	                 VM_PROT_READ | VM_PROT_WRITE, &e, MACH_PORT_NULL),
	                 KERN_SUCCESS);
	assert_true(sz >= page());
	assert_int_equal(mobj_from_port(e, page(), MOBJ_READ | MOBJ_WRITE, &got),
	                 -EPROTO);
	assert_null(got);
	mach_port_deallocate(mach_task_self(), e);
	munmap(p, page());
	close(fd);
	assert_int_equal(port_count(), before);
}

/* Fill the queue of @port (default limit: 5 messages) with simple
 * messages: every later send waits. */
static void fill_queue(mach_port_t port)
{
	int n = 0;

	while (tu_send_empty(port, MACH_MSG_TYPE_MAKE_SEND, 0) ==
	       MACH_MSG_SUCCESS)
		n++;
	assert_true(n >= 1);
}

struct accept_arg {
	struct mobj_chan *l, *c;
	int rc;
	volatile int done;
};

static void *accept_thread(void *p)
{
	struct accept_arg *a = p;

	a->rc = mobj_chan_accept(a->l, 300, &a->c);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A connector that filled its own queue: the WELCOME is sent with a
 * timeout (XNU ipc_mqueue_send: a full queue waits without one), so
 * accept returns within its own. */
static void test_accept_connector_with_full_queue(void **state)
{
	unsigned before = port_count();
	struct accept_arg a = { 0 };
	mach_port_t p = MACH_PORT_NULL, svc = MACH_PORT_NULL;
	char name[64];
	pthread_t t;

	(void)state;
	snprintf(name, sizeof(name), "org.mobj.test.fullq.%d", (int)getpid());
	assert_int_equal(mobj_chan_listen(name, &a.l), 0);
	assert_int_equal(mach_port_allocate(mach_task_self(),
	                                    MACH_PORT_RIGHT_RECEIVE, &p), 0);
	fill_queue(p);
	assert_int_equal(bootstrap_look_up(bootstrap_port, name, &svc), 0);
	assert_int_equal(raw_send(svc, ID_CONNECT, RAW_PORTS, p,
	                          MACH_MSG_TYPE_MAKE_SEND, 0, NULL, 0), 0);
	mach_port_deallocate(mach_task_self(), svc);
	assert_int_equal(pthread_create(&t, NULL, accept_thread, &a), 0);
	if (!tu_wait_flag(&a.done, LONG_MS))
		fail_msg("accept held by a connector whose queue is full");
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.rc, -ETIMEDOUT);
	mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1);
	mobj_chan_close(a.l);
	assert_int_equal(port_count(), before);
}

/* Under Rosetta the task's pages are 4 KiB and the kernel's 16 KiB:
 * ANYWHERE mappings are only 4 KiB aligned unless a mask asks for more
 * (XNU vm_map_enter: the mask), and mobj_unmap of an address that is not
 * a multiple of mobj_page_size() fails. Natively this holds trivially: it
 * can fail only in an x86_64 build run under Rosetta on Apple silicon,
 * which the macOS workflow does not do (yet). */
static void test_map_aligned_to_mobj_page_size(void **state)
{
	unsigned before = port_count();
	struct mobj *o;
	void *p[8], *m;
	int i;

	(void)state;
	assert_int_equal(mobj_create(2 * page(), 0, &o), 0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(mobj_map(o, 0, page(), MOBJ_PROT_READ, &p[i]), 0);
		assert_int_equal((uintptr_t)p[i] % page(), 0);
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(mobj_unmap(p[i], page()), 0);
	assert_int_equal(mobj_map_mirror(o, RW, &m), 0);
	assert_int_equal((uintptr_t)m % page(), 0);
	assert_int_equal(mobj_unmap(m, 4 * page()), 0);
	mobj_close(o);
	assert_int_equal(port_count(), before);
}

/* launchd answers BOOTSTRAP_NOT_PRIVILEGED to a check-in of a live name
 * another process owns: that is "in use", not "not allowed". */
static void test_listen_name_owned_elsewhere(void **state)
{
	unsigned before = port_count();
	struct mobj_chan *l;
	char name[64], go;
	int up[2], down[2], st;
	pid_t pid;

	(void)state;
	snprintf(name, sizeof(name), "org.mobj.test.owned.%d", (int)getpid());
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mobj_chan *cl;

		if (mobj_chan_listen(name, &cl) < 0)
			_exit(10);
		if (write(up[1], "u", 1) != 1 || read(down[0], &go, 1) != 1)
			_exit(11);
		_exit(0);
	}
	assert_int_equal(read(up[0], &go, 1), 1);
	assert_int_equal(mobj_chan_listen(name, &l), -EADDRINUSE);
	assert_int_equal(write(down[1], "d", 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	assert_int_equal(port_count(), before);
}

struct flood {
	mach_port_t dest;
	volatile int stop;
};

/* Sends simple messages to @dest until it dies or the test says stop. */
static void *flooder(void *p)
{
	struct flood *f = p;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE))
		if (tu_send_empty(f->dest, MACH_MSG_TYPE_COPY_SEND, 100) ==
		    MACH_SEND_INVALID_DEST)
			break;
	return NULL;
}

struct close_arg {
	struct mobj_chan *c;
	volatile int done;
};

static void *close_thread(void *p)
{
	struct close_arg *a = p;

	mobj_chan_close(a->c);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A peer that keeps sending cannot hold mobj_chan_close: the drain stops
 * after the messages queued when it began (mach_port_get_attributes,
 * MACH_PORT_RECEIVE_STATUS: mps_msgcount). */
static void test_close_bounded_against_flooding_peer(void **state)
{
	unsigned before = port_count();
	struct hostile h;
	struct flood f;
	struct close_arg a = { 0 };
	pthread_t t[3], ct;
	int i;

	(void)state;
	hostile_open(&h);
	f.dest = h.peer;
	f.stop = 0;
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, flooder, &f), 0);
	usleep(50000);
	a.c = h.c;
	assert_int_equal(pthread_create(&ct, NULL, close_thread, &a), 0);
	if (!tu_wait_flag(&a.done, LONG_MS))
		fail_msg("mobj_chan_close held by a peer that keeps sending");
	assert_int_equal(pthread_join(ct, NULL), 0);
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	mach_port_deallocate(mach_task_self(), h.peer);
	mach_port_mod_refs(mach_task_self(), h.mine, MACH_PORT_RIGHT_RECEIVE, -1);
	mobj_chan_close(h.l);
	assert_int_equal(port_count(), before);
}

/* A frozen name must mean the frozen entry for as long as it is in the
 * set: with a reference held elsewhere at the last close (here: the
 * test's own), the name outlives the handles, and once that reference goes
 * Mach may give the name to an unrelated right (XNU ipc_entry_dealloc,
 * ipc_entry_claim). The library holds its own reference per frozen name. */
static void test_frozen_name_not_recycled(void **state)
{
	unsigned before = port_count();
	struct mobj *o, *ro, *other;
	mach_port_type_t type = 0;
	mach_port_t name;
	void *p;
	int i;

	(void)state;
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	name = mobj_port(o);
	assert_int_equal(mach_port_mod_refs(mach_task_self(), name,
	                                    MACH_PORT_RIGHT_SEND, 1), 0);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	mobj_close(ro);
	mobj_close(o);
	mach_port_deallocate(mach_task_self(), name);
	/* Still the frozen entry's name, held by the library... */
	assert_int_equal(mach_port_type(mach_task_self(), name, &type), 0);
	assert_true(type & MACH_PORT_TYPE_SEND);
	/* ...and every new object maps writable (none is taken for the
	 * frozen one). */
	for (i = 0; i < 256; i++) {
		assert_int_equal(mobj_create(page(), 0, &other), 0);
		assert_int_equal(mobj_map(other, 0, page(), RW, &p), 0);
		assert_int_equal(mobj_unmap(p, page()), 0);
		mobj_close(other);
	}
	/* The set drops names only the library still holds when it next
	 * changes: freeze and close another object. */
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	mobj_close(ro);
	mobj_close(o);
	assert_int_equal(port_count(), before);
}

/* A child of fork() has none of its parent's port names, and none of its
 * mobj mappings (VM_INHERIT_NONE); a name or an address it later owns may
 * equal one of them. Closing inherited handles must touch nothing: here
 * the child owns, under the inherited object's name, a port of its own,
 * and memory of its own where the parent's mapping was, and neither
 * closing the handles nor mobj_unmap takes them away (nor raises a guard
 * exception for a name it does not have). */
struct inherited {
	struct mobj *o;
	struct mobj_chan *a, *b;
	struct mobj_ring *r;
	void *map;
};

static int child_close_inherited(const struct inherited *in)
{
	mach_port_t name = mobj_port(in->o);
	mach_port_urefs_t refs = 0;
	vm_address_t at = (vm_address_t)in->map;
	volatile unsigned char *mine;

	if (mach_port_allocate_name(mach_task_self(), MACH_PORT_RIGHT_RECEIVE,
	                            name) != KERN_SUCCESS ||
	    mach_port_insert_right(mach_task_self(), name, name,
	                           MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS)
		return 10;
	if (vm_allocate(mach_task_self(), &at, page(), VM_FLAGS_FIXED) !=
	    KERN_SUCCESS)
		return 11;
	mine = (volatile unsigned char *)at;
	mine[0] = 0x5a;
	if (mobj_unmap(in->map, page()) != -EINVAL || mine[0] != 0x5a)
		return 12;
	mobj_close(in->o);
	mobj_chan_close(in->a);
	mobj_chan_close(in->b);
	mobj_ring_close(in->r);
	if (mach_port_get_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND,
	                       &refs) != KERN_SUCCESS || refs != 1)
		return 13;
	if (mach_port_get_refs(mach_task_self(), name, MACH_PORT_RIGHT_RECEIVE,
	                       &refs) != KERN_SUCCESS || refs != 1)
		return 14;
	return 0;
}

static void test_close_in_forked_child(void **state)
{
	unsigned before = port_count();
	struct inherited in;
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(mobj_create(page(), 0, &in.o), 0);
	assert_int_equal(mobj_map(in.o, 0, page(), RW, &in.map), 0);
	assert_int_equal(mobj_chan_pair(&in.a, &in.b), 0);
	assert_int_equal(mobj_ring_create(page(), &in.r), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_close_inherited(&in));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fail_msg("the child died of signal %d closing inherited handles",
		         WTERMSIG(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(mobj_unmap(in.map, page()), 0);
	mobj_ring_close(in.r);
	mobj_chan_close(in.a);
	mobj_chan_close(in.b);
	mobj_close(in.o);
	assert_int_equal(port_count(), before);
}

/* A fork() child must not use an inherited end (ring.h): an SPSC export
 * gives the parent's offer, whose port names in the child are the
 * parent's and may name a right of the child's own, which the user would
 * send. The child's export is -EBADF. It failed before: it returned the
 * parent's names. */
static void test_ring_xfer_export_in_forked_child(void **state)
{
	unsigned before = port_count();
	struct mobj_ring_xfer offer, again;
	struct mobj_ring *p;
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(mobj_ring_export(p, &again) == -EBADF ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(mobj_ring_export(p, &again), 0);
	assert_int_equal(again.ports[0], offer.ports[0]);
	mobj_ring_close(p);
	assert_int_equal(port_count(), before);
}

/* How many of @n descriptors poll readable now. */
static int poll_ready(struct pollfd *p, int n, bool *ready)
{
	int i, got = 0;

	for (i = 0; i < n; i++) {
		p[i].events = POLLIN;
		p[i].revents = 0;
	}
	assert_true(poll(p, (nfds_t)n, 0) >= 0);
	for (i = 0; i < n; i++) {
		ready[i] = (p[i].revents & POLLIN) != 0;
		got += ready[i];
	}
	return got;
}

#define MANY_PAIRS 100

/* Pollable ring ends with no library thread (issue 13): each end's
 * descriptor is a kqueue on its own Mach port, which its peer sends an
 * empty message only when this end said it waits. Before, the first
 * mobj_ring_fd() of each end started a helper thread. */
static void test_ring_fd_many_no_thread(void **state)
{
	unsigned before = port_count();
	struct mobj_ring *p[MANY_PAIRS], *c[MANY_PAIRS];
	static struct pollfd pfd[2 * MANY_PAIRS];
	static bool ready[2 * MANY_PAIRS];
	struct rlimit rl;
	unsigned char *b;
	const void *q;
	size_t avail, cap = page();
	void *w;
	int i, threads = tu_count_threads();

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4 * MANY_PAIRS + 64) {
		rl.rlim_cur = 4 * MANY_PAIRS + 64;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	b = calloc(1, cap);
	assert_non_null(b);
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_int_equal(mobj_ring_create(cap, &p[i]), 0);
		assert_int_equal(mobj_ring_consumer(p[i], &c[i]), 0);
		pfd[2 * i].fd = mobj_ring_fd(p[i]);
		pfd[2 * i + 1].fd = mobj_ring_fd(c[i]);
		assert_true(pfd[2 * i].fd >= 0 && pfd[2 * i + 1].fd >= 0);
	}
	assert_int_equal(tu_count_threads(), threads);
	/* Every end starts readable. */
	assert_int_equal(poll_ready(pfd, 2 * MANY_PAIRS, ready), 2 * MANY_PAIRS);
	/* Consumers wait on empty rings, producers fill them and wait for
	 * room: exactly the consumers are readable. */
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_int_equal(mobj_ring_peek(c[i], 1, 0, &q, &avail), -EAGAIN);
		assert_int_equal(mobj_ring_write(p[i], b, cap, 0), (ssize_t)cap);
		assert_int_equal(mobj_ring_reserve(p[i], 1, 0, &w), -EAGAIN);
	}
	assert_int_equal(tu_count_threads(), threads);
	assert_int_equal(poll_ready(pfd, 2 * MANY_PAIRS, ready), MANY_PAIRS);
	for (i = 0; i < MANY_PAIRS; i++)
		assert_true(ready[2 * i + 1] && !ready[2 * i]);
	/* Consumers drain and wait again: exactly the producers. */
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_int_equal(mobj_ring_peek(c[i], cap, 0, &q, &avail), 0);
		assert_int_equal(mobj_ring_consume(c[i], cap), 0);
		assert_int_equal(mobj_ring_peek(c[i], 1, 0, &q, &avail), -EAGAIN);
	}
	assert_int_equal(poll_ready(pfd, 2 * MANY_PAIRS, ready), MANY_PAIRS);
	for (i = 0; i < MANY_PAIRS; i++)
		assert_true(ready[2 * i] && !ready[2 * i + 1]);
	/* A producer's close wakes its consumer's loop. */
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_int_equal(mobj_ring_reserve(p[i], 1, 0, &w), 0);
		mobj_ring_close(p[i]);
	}
	assert_int_equal(poll_ready(pfd, 2 * MANY_PAIRS, ready), MANY_PAIRS);
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_true(ready[2 * i + 1]);
		assert_int_equal(mobj_ring_peek(c[i], 1, 0, &q, &avail), -EPIPE);
		mobj_ring_close(c[i]);
	}
	assert_int_equal(tu_count_threads(), threads);
	free(b);
	assert_int_equal(port_count(), before);
}

/* The child: a producer that writes "hi" on "go", then dies on "die"
 * without closing anything. */
static int child_go_producer(const char *name)
{
	struct mobj_chan *c;
	struct mobj_ring *p;
	char buf[8];

	if (connect_producer(name, &c, &p) < 0)
		return 10;
	if (mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)) != 2)
		return 11;
	if (mobj_ring_write(p, "hi", 2, LONG_MS) != 2)
		return 12;
	if (mobj_recv(c, LONG_MS, NULL, buf, sizeof(buf)) != 3)
		return 13;
	_exit(0);
}

/* Across processes: the peer's publish makes our descriptor readable, and
 * so does its death without a close (its port dies with it, and the
 * dead-name notification lands on ours), with no thread of ours in
 * between. (Before, a helper thread slept on the peer's semaphore; it had
 * to take the KERN_TERMINATED of a dead task's semaphore as death, not
 * spin on it: XNU semaphore_destroy_all, semaphore_wait_internal.) */
static void test_ring_fd_remote_no_thread(void **state)
{
	unsigned before = port_count();
	struct mobj_chan *c;
	struct mobj_ring *r;
	struct pollfd pfd;
	char buf[8];
	pid_t pid;
	int st, threads;

	(void)state;
	pid = fork_peer("ringfdnt", child_go_producer, &c);
	assert_int_equal(mobj_ring_recv(c, LONG_MS, &r), 0);
	threads = tu_count_threads();
	pfd.fd = mobj_ring_fd(r);
	pfd.events = POLLIN;
	assert_true(pfd.fd >= 0);
	assert_int_equal(mobj_ring_read(r, buf, 2, 0), -EAGAIN);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(tu_count_threads(), threads);
	assert_int_equal(mobj_send(c, NULL, "go", 2), 0);
	if (poll(&pfd, 1, LONG_MS) != 1)
		fail_msg("the ring fd never polled readable after a write");
	assert_int_equal(mobj_ring_read(r, buf, 2, 0), 2);
	assert_memory_equal(buf, "hi", 2);
	assert_int_equal(mobj_ring_read(r, buf, 2, 0), -EAGAIN);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(mobj_send(c, NULL, "die", 3), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	if (poll(&pfd, 1, LONG_MS) != 1)
		fail_msg("the ring fd never polled readable after the peer died");
	assert_int_equal(mobj_ring_read(r, buf, 2, 0), -EPIPE);
	/* Readable for good, as a socket at its end. */
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(tu_count_threads(), threads);
	mobj_ring_close(r);
	mobj_chan_close(c);
	assert_int_equal(port_count(), before);
}

/* What the user's IPC would deliver of @x within one task: the objects
 * rebuilt from their ports, a new reference to each port (a received
 * right lands on the same name), the meta bytes. */
static void xfer_deliver(const struct mobj_ring_xfer *x,
                         struct mobj_ring_xfer *out)
{
	unsigned i;

	assert_int_equal(mobj_ring_xfer_init(out), 0);
	out->event_fd = x->event_fd;
	out->pidfd = x->pidfd;
	out->nobjs = x->nobjs;
	for (i = 0; i < x->nobjs; i++) {
		out->sizes[i] = x->sizes[i];
		assert_int_equal(mobj_from_port(mobj_port(x->objs[i]), x->sizes[i],
		                                MOBJ_READ, &out->objs[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		out->ports[i] = x->ports[i];
		if (MACH_PORT_VALID(x->ports[i]))
			assert_int_equal(mach_port_mod_refs(mach_task_self(),
			                 x->ports[i], MACH_PORT_RIGHT_SEND, 1), 0);
	}
	memcpy(out->meta, x->meta, x->meta_len);
	out->meta_len = x->meta_len;
}

static void xfer_release(struct mobj_ring_xfer *x)
{
	unsigned i;

	for (i = 0; i < x->nobjs; i++)
		mobj_close(x->objs[i]);
	for (i = 0; i < 2; i++)
		if (MACH_PORT_VALID(x->ports[i]))
			mach_port_deallocate(mach_task_self(), x->ports[i]);
}

/* Set-up over the user's own IPC works on Darwin (it was -ENOTSUP): the
 * struct carries the wake semaphores and the peer event's ports, and the
 * consumer's descriptor needs no thread. */
static void test_ring_xfer_ports(void **state)
{
	unsigned before = port_count();
	struct mobj_ring_xfer offer, in, answer, back;
	struct mobj_ring *p, *c;
	struct pollfd pfd;
	char buf[4];
	int threads = tu_count_threads();

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	assert_true(MACH_PORT_VALID(offer.ports[0]));
	assert_true(MACH_PORT_VALID(offer.ports[1]));
	xfer_deliver(&offer, &in);
	assert_int_equal(mobj_ring_import(&in, &c, &answer), 0);
	xfer_release(&in);
	assert_true(MACH_PORT_VALID(answer.ports[0]));
	assert_true(MACH_PORT_VALID(answer.ports[1]));
	xfer_deliver(&answer, &back);
	assert_int_equal(mobj_ring_accept_answer(p, &back), 0);
	xfer_release(&back);

	pfd.fd = mobj_ring_fd(c);
	pfd.events = POLLIN;
	assert_true(pfd.fd >= 0);
	assert_int_equal(mobj_ring_read(c, buf, 2, 0), -EAGAIN);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(mobj_ring_write(p, "hi", 2, 0), 2);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(mobj_ring_read(c, buf, 2, 0), 2);
	assert_memory_equal(buf, "hi", 2);
	assert_int_equal(tu_count_threads(), threads);
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_read(c, buf, 2, 0), -EPIPE);
	mobj_ring_close(c);
	assert_int_equal(port_count(), before);
}

/* The ports are checked as the channel set-up checks them: our own
 * semaphore or port sent back, a port that is no semaphore, a missing
 * one: -EPROTO, and the producer stays unconnected; a dead one: the peer
 * is gone (0, then -EPIPE from the ring). */
static void test_ring_xfer_ports_checked(void **state)
{
	unsigned before = port_count();
	struct mobj_ring_xfer offer, in, answer, back;
	struct mobj_ring *p, *c;
	mach_port_t plain = MACH_PORT_NULL, keep;
	char buf[4];

	(void)state;
	assert_int_equal(mach_port_allocate(mach_task_self(),
	                                    MACH_PORT_RIGHT_RECEIVE, &plain), 0);
	assert_int_equal(mach_port_insert_right(mach_task_self(), plain, plain,
	                                        MACH_MSG_TYPE_MAKE_SEND), 0);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);

	/* An offer whose semaphore is a plain port, or missing. */
	xfer_deliver(&offer, &in);
	keep = in.ports[0];
	in.ports[0] = plain;
	assert_int_equal(mobj_ring_import(&in, &c, &answer), -EPROTO);
	in.ports[0] = MACH_PORT_NULL;
	assert_int_equal(mobj_ring_import(&in, &c, &answer), -EPROTO);
	in.ports[0] = keep;

	assert_int_equal(mobj_ring_import(&in, &c, &answer), 0);
	xfer_release(&in);
	xfer_deliver(&answer, &back);
	/* The producer's own semaphore, then its own port, sent back. */
	keep = back.ports[0];
	back.ports[0] = offer.ports[0];
	assert_int_equal(mobj_ring_accept_answer(p, &back), -EPROTO);
	back.ports[0] = keep;
	keep = back.ports[1];
	back.ports[1] = offer.ports[1];
	assert_int_equal(mobj_ring_accept_answer(p, &back), -EPROTO);
	back.ports[1] = keep;
	assert_int_equal(mobj_ring_fd(p), -ENOTCONN);
	assert_int_equal(mobj_ring_accept_answer(p, &back), 0);
	xfer_release(&back);
	mobj_ring_close(p);
	mobj_ring_close(c);

	/* A semaphore that died in transit: connected, the peer gone. */
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	xfer_deliver(&offer, &in);
	mach_port_deallocate(mach_task_self(), in.ports[0]);
	in.ports[0] = MACH_PORT_DEAD;
	assert_int_equal(mobj_ring_import(&in, &c, &answer), 0);
	xfer_release(&in);
	assert_int_equal(mobj_ring_read(c, buf, 2, LONG_MS), -EPIPE);
	mobj_ring_close(c);
	mobj_ring_close(p);

	mach_port_deallocate(mach_task_self(), plain);
	mach_port_mod_refs(mach_task_self(), plain, MACH_PORT_RIGHT_RECEIVE, -1);
	assert_int_equal(port_count(), before);
}

/* @p accepts @back (released then), a write reaches @c, @p closes and @c
 * reads -EPIPE, @c closes. */
static void connect_finish(struct mobj_ring *p, struct mobj_ring *c,
                           struct mobj_ring_xfer *back)
{
	char buf[4];

	assert_int_equal(mobj_ring_accept_answer(p, back), 0);
	xfer_release(back);
	assert_int_equal(mobj_ring_write(p, "hi", 2, 0), 2);
	assert_int_equal(mobj_ring_read(c, buf, 2, LONG_MS), 2);
	assert_memory_equal(buf, "hi", 2);
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_read(c, buf, 2, LONG_MS), -EPIPE);
	mobj_ring_close(c);
}

/* A consumer *@c imports @offer; its answer in @back claims a pidfd of its
 * sender (@fd; Darwin never sends one: META_PIDFD in the meta's flags,
 * byte 52), which @p refuses after taking its semaphore and port. */
static void import_refused(struct mobj_ring *p,
                           const struct mobj_ring_xfer *offer,
                           struct mobj_ring **c, struct mobj_ring_xfer *back,
                           int fd)
{
	struct mobj_ring_xfer in, answer;

	xfer_deliver(offer, &in);
	assert_int_equal(mobj_ring_import(&in, c, &answer), 0);
	xfer_release(&in);
	xfer_deliver(&answer, back);
	back->meta[52] |= 2;
	back->pidfd = fd;
	assert_int_equal(mobj_ring_accept_answer(p, back), -EPROTO);
}

/* An answer refused after its ports were taken leaves the offer as the
 * consumer that holds it knows it: that consumer is not told we died, and
 * its own answer still connects. It failed before: the refusal released
 * the producer's whole waker, semaphore_destroy ended the consumer's waits
 * on the offered semaphore (XNU semaphore_destroy_internal: its read was
 * -EPIPE at once) and the next accept found no semaphore (-EINVAL). */
static void test_ring_xfer_refused_answer_keeps_offer(void **state)
{
	unsigned before = port_count();
	struct mobj_ring_xfer offer, back;
	struct mobj_ring *p, *c;
	char buf[4];
	int pp[2];

	(void)state;
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	import_refused(p, &offer, &c, &back, pp[0]);
	assert_int_equal(mobj_ring_fd(p), -ENOTCONN);
	/* The consumer's wait on our semaphore runs to its timeout. */
	assert_int_equal(mobj_ring_read(c, buf, 2, 200), -ETIMEDOUT);
	back.meta[52] &= (unsigned char)~2;
	back.pidfd = -1;
	connect_finish(p, c, &back);
	close(pp[0]);
	close(pp[1]);
	assert_int_equal(port_count(), before);
}

/* An offer imported twice in one process: a name holds one dead-name
 * request in a task (XNU ipc_right_request_alloc replaces an earlier one),
 * so the second import would take the first consumer's, whose descriptor
 * would then never learn of the producer's death. The second is refused
 * and the first keeps its request. It failed before: the second import
 * succeeded. */
static void test_ring_xfer_offer_imported_twice(void **state)
{
	unsigned before = port_count();
	struct mobj_ring_xfer offer, in, answer, again, back;
	struct mobj_ring *p, *c, *c2 = NULL;
	mach_port_type_t type = 0;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	xfer_deliver(&offer, &in);
	assert_int_equal(mobj_ring_import(&in, &c, &answer), 0);
	assert_int_equal(mobj_ring_import(&in, &c2, &again), -EPROTO);
	assert_int_equal(mach_port_type(mach_task_self(), in.ports[1], &type),
	                 KERN_SUCCESS);
	assert_true(type & MACH_PORT_TYPE_DNREQUEST);
	xfer_release(&in);
	xfer_deliver(&answer, &back);
	connect_finish(p, c, &back);
	assert_int_equal(port_count(), before);
}

/* A dead-name notification about a consumer no longer the offer's (its
 * answer was refused after its port was taken, then it closed, then
 * another answer to the offer joined) holds a reference to the dead name
 * (XNU ipc_right_delta raised it for the armed request), released when it
 * is drained. It failed before: only a notification about the current peer
 * was released, and each stale one left a dead name in our space. */
static void test_multi_stale_dead_name_released(void **state)
{
	unsigned before = port_count();
	struct mobj_ring_xfer offer, in, answer, back;
	struct mobj_ring *p, *c;
	int pp[2];

	(void)state;
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(mobj_ring_create_multi(page(), 2, 0, &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	import_refused(p, &offer, &c, &back, pp[0]);
	xfer_release(&back);
	/* Its port goes: a dead-name notification on the offer's port. */
	mobj_ring_close(c);
	xfer_deliver(&offer, &in);
	assert_int_equal(mobj_ring_import(&in, &c, &answer), 0);
	xfer_release(&in);
	xfer_deliver(&answer, &back);
	/* Close drains the slot's port, the stale notification with it. */
	connect_finish(p, c, &back);
	close(pp[0]);
	close(pp[1]);
	assert_int_equal(port_count(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_size),
		cmocka_unit_test(test_from_port),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_mirror),
		cmocka_unit_test(test_pair),
		cmocka_unit_test(test_named_fork),
		cmocka_unit_test(test_ring_semaphores),
		cmocka_unit_test(test_ring_peer_death),
		cmocka_unit_test(test_ring_peer_exec),
		cmocka_unit_test(test_hostile_mach_peer),
		cmocka_unit_test(test_msg_check_layout),
		cmocka_unit_test(test_purgeable_entry_refused),
		cmocka_unit_test(test_file_backed_entry_refused),
		cmocka_unit_test(test_accept_connector_with_full_queue),
		cmocka_unit_test(test_map_aligned_to_mobj_page_size),
		cmocka_unit_test(test_listen_name_owned_elsewhere),
		cmocka_unit_test(test_close_bounded_against_flooding_peer),
		cmocka_unit_test(test_frozen_name_not_recycled),
		cmocka_unit_test(test_close_in_forked_child),
		cmocka_unit_test(test_ring_xfer_export_in_forked_child),
		cmocka_unit_test(test_ring_fd_many_no_thread),
		cmocka_unit_test(test_ring_fd_remote_no_thread),
		cmocka_unit_test(test_ring_xfer_ports),
		cmocka_unit_test(test_ring_xfer_ports_checked),
		cmocka_unit_test(test_ring_xfer_refused_answer_keeps_offer),
		cmocka_unit_test(test_multi_stale_dead_name_released),
		cmocka_unit_test(test_ring_xfer_offer_imported_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
