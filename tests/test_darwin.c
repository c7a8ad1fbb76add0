/*
 * The Darwin backend's own checks, run only on macOS: what the portable
 * tests cannot see there (they count Linux descriptors and seals). Every
 * test counts this task's Mach port names before and after, the Darwin
 * analogue of the descriptor-leak check: a right or reference leaked by
 * any path shows up as one more name.
 *
 * Cross-process cases fork: the child keeps the bootstrap port, so it can
 * reach a name the parent listens on, but no other port of the parent.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <mach/mach.h>
#include <mach/vm_page_size.h>

#include "mobj/darwin.h"
#include "mobj/mobj.h"
#include "mobj/ring.h"

#define RW (MOBJ_PROT_READ | MOBJ_PROT_WRITE)
#define LONG_MS 10000

static unsigned port_count(void)
{
	mach_port_name_array_t names = NULL;
	mach_port_type_array_t types = NULL;
	mach_msg_type_number_t n = 0, nt = 0;

	assert_int_equal(mach_port_names(mach_task_self(), &names, &n, &types,
	                                 &nt), KERN_SUCCESS);
	vm_deallocate(mach_task_self(), (vm_address_t)names, n * sizeof(*names));
	vm_deallocate(mach_task_self(), (vm_address_t)types, nt * sizeof(*types));
	return n;
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

/* The child: a producer over a named channel that writes once and dies
 * without closing anything. */
static int child_producer(const char *name)
{
	struct mobj_chan *c;
	struct mobj_ring *p;

	if (mobj_chan_connect(name, LONG_MS, &c) < 0 ||
	    mobj_ring_create(page(), &p) < 0 ||
	    mobj_ring_send(c, p, LONG_MS) < 0)
		return 10;
	usleep(100000);
	if (mobj_ring_write(p, "hi", 2, LONG_MS) != 2)
		return 11;
	_exit(0);
}

static void test_ring_peer_death(void **state)
{
	unsigned before = port_count();
	struct mobj_chan *c;
	struct mobj_ring *r;
	char buf[8];
	pid_t pid;
	int st;

	(void)state;
	pid = fork_peer("ring", child_producer, &c);
	assert_int_equal(mobj_ring_recv(c, LONG_MS, &r), 0);
	/* Asleep on the child's semaphore until it writes... */
	assert_int_equal(mobj_ring_read(r, buf, sizeof(buf), LONG_MS), 2);
	assert_memory_equal(buf, "hi", 2);
	/* ...and until it dies: its semaphore dies with it. */
	assert_int_equal(mobj_ring_read(r, buf, sizeof(buf), LONG_MS), -EPIPE);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	mobj_ring_close(r);
	mobj_chan_close(c);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
