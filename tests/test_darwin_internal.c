/*
 * Darwin backend checks that need its internals (run only on macOS): the
 * ring's semaphores (src/darwin/ring_wait.c) and their exchange over a
 * channel (src/darwin/ring_chan.c), and the peer event's ports
 * (src/darwin/ring_pevent.c), driven one side at a time so a test
 * can play a broken or hostile peer. Every test counts this task's Mach
 * port names before and after.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <mach/mach.h>
#include <mach/semaphore.h>

#include "internal.h"
#include "backend.h"
#include "mobj/mobj.h"
#include "testutil.h"

#define LONG_MS 10000

static unsigned port_count(void)
{
	return (unsigned)tu_res_now().ports;
}

/* A semaphore whose creator is gone is inactive, but a send right to it
 * keeps its port alive: the name never turns into a dead name, and every
 * wait returns KERN_TERMINATED at once (XNU semaphore_destroy_internal
 * leaves the port to semaphore_free; semaphore_wait_internal). The peer
 * must count as gone. */
static void test_peer_alive_sees_terminated(void **state)
{
	unsigned before = port_count();
	struct mobj__os_waker a, b;
	uint32_t word = 7;

	(void)state;
	assert_int_equal(mobj__os_waker_pair(&a, &b), 0);
	assert_true(mobj__os_waker_peer_alive(&a));
	mobj__os_waker_release(&b);
	assert_false(mobj__os_waker_peer_alive(&a));
	assert_int_equal(mobj__os_waker_wait(&a, &word, 7, LONG_MS), -EPIPE);
	mobj__os_waker_release(&a);
	assert_int_equal(port_count(), before);
}

/* semaphore_signal_all with no waiter counts nothing (XNU
 * semaphore_signal_internal, SEMAPHORE_SIGNAL_ALL without
 * SEMAPHORE_SIGNAL_PREPOST): a wake_self that comes just before the helper
 * sleeps would be lost. It must stay counted, so the wait returns at once. */
static void test_wake_self_counts_when_nobody_waits(void **state)
{
	unsigned before = port_count();
	struct mobj__os_waker a, b;
	uint32_t word = 7;

	(void)state;
	assert_int_equal(mobj__os_waker_pair(&a, &b), 0);
	mobj__os_waker_wake_self(&a, &word);
	assert_int_equal(mobj__os_waker_wait(&a, &word, 7, LONG_MS), 0);
	mobj__os_waker_release(&a);
	mobj__os_waker_release(&b);
	assert_int_equal(port_count(), before);
}

struct connect_arg {
	struct mobj_chan *c;
	bool producer;
	int timeout_ms;
	struct mobj__os_waker w;
	int rc;
	volatile int done;
};

static void *connect_thread(void *p)
{
	struct connect_arg *a = p;

	a->rc = mobj__os_waker_connect(&a->w, mobj__chan_os(a->c), a->producer,
	                               a->timeout_ms);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The peer sends the producer's own semaphore back: waiting on it would
 * never learn of the peer's death. Refused. */
static void test_ring_exchange_refuses_own_semaphore(void **state)
{
	unsigned before = port_count();
	struct connect_arg a = { .producer = true, .timeout_ms = LONG_MS };
	struct mobj_chan *x, *y;
	mach_port_t s = MACH_PORT_NULL;
	pthread_t t;

	(void)state;
	assert_int_equal(mobj_chan_pair(&x, &y), 0);
	a.c = x;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, &a), 0);
	assert_int_equal(mobj__darwin_chan_recv_port(mobj__chan_os(y), LONG_MS,
	                                             &s), 0);
	assert_int_equal(mobj__darwin_chan_send_port(mobj__chan_os(y), s,
	                                             LONG_MS), 0);
	assert_true(tu_wait_flag(&a.done, LONG_MS));
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.rc, -EPROTO);
	mach_port_deallocate(mach_task_self(), s);
	mobj_chan_close(x);
	mobj_chan_close(y);
	assert_int_equal(port_count(), before);
}

/* Send on @y a send right to a port of ours, then destroy the port while
 * the message is queued: it arrives as MACH_PORT_DEAD. */
static void send_port_that_dies(struct mobj_chan *y)
{
	mach_port_t p = MACH_PORT_NULL;

	assert_int_equal(mach_port_allocate(mach_task_self(),
	                                    MACH_PORT_RIGHT_RECEIVE, &p), 0);
	assert_int_equal(mach_port_insert_right(mach_task_self(), p, p,
	                                        MACH_MSG_TYPE_MAKE_SEND), 0);
	assert_int_equal(mobj__darwin_chan_send_port(mobj__chan_os(y), p,
	                                             LONG_MS), 0);
	mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1);
	mach_port_deallocate(mach_task_self(), p);
}

/* A port that died in transit arrives as MACH_PORT_DEAD (XNU
 * ipc_kmsg_copyout_port): the peer is gone, -EPIPE, not a protocol
 * error. */
static void test_ring_exchange_dead_port_is_epipe(void **state)
{
	unsigned before = port_count();
	struct connect_arg a = { .producer = false, .timeout_ms = LONG_MS };
	struct mobj_chan *x, *y;
	pthread_t t;

	(void)state;
	assert_int_equal(mobj_chan_pair(&x, &y), 0);
	send_port_that_dies(y);
	a.c = x;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, &a), 0);
	assert_true(tu_wait_flag(&a.done, LONG_MS));
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.rc, -EPIPE);
	mobj_chan_close(x);
	mobj_chan_close(y);
	assert_int_equal(port_count(), before);
}

/* The peer's queue is full when the consumer sends its semaphore: the send
 * honours the caller's timeout (before, it waited for ever). */
static void test_ring_port_send_honours_timeout(void **state)
{
	unsigned before = port_count();
	struct connect_arg a = { .producer = false, .timeout_ms = 300 };
	struct mobj_chan *x, *y;
	semaphore_t s = MACH_PORT_NULL;
	pthread_t t;
	int n = 0;

	(void)state;
	assert_int_equal(mobj_chan_pair(&x, &y), 0);
	/* Fill y's queue through x's send right to it. */
	while (tu_send_empty(mobj__chan_os(x)->peer, MACH_MSG_TYPE_COPY_SEND, 0) ==
	       MACH_MSG_SUCCESS)
		n++;
	assert_true(n > 0);
	assert_int_equal(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO,
	                                  0), KERN_SUCCESS);
	assert_int_equal(mobj__darwin_chan_send_port(mobj__chan_os(y), s,
	                                             LONG_MS), 0);
	a.c = x;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, &a), 0);
	if (!tu_wait_flag(&a.done, LONG_MS))
		fail_msg("the semaphore send ignored its timeout");
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.rc, -ETIMEDOUT);
	semaphore_destroy(mach_task_self(), s);
	mobj_chan_close(x);
	mobj_chan_close(y);
	assert_int_equal(port_count(), before);
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0);
}

/* The peer event over a channel, one side at a time: the consumer's answer
 * is checked as the semaphores are (our own port sent back -EPROTO, a dead
 * one -EPIPE); then a signal makes the other side's kqueue readable, a
 * drain clears it, and the other side's end (its port destroyed) arrives
 * as a dead-name notification: -EPIPE, readable for good. */
static void test_pevent_answer_checked(void **state)
{
	unsigned before = port_count();
	struct mobj__os_pevent pm, ce;
	struct mobj__os_obj theirs, got, again;
	struct mobj_chan *x, *y;
	char buf[8];
	unsigned n = 0;

	(void)state;
	assert_int_equal(mobj_chan_pair(&x, &y), 0);
	assert_int_equal(mobj__os_pevent_split(&pm, &theirs), 0);
	assert_int_equal(mobj__os_chan_send(mobj__chan_os(x), "ev", 2, &theirs,
	                                    1, LONG_MS), 0);
	mobj__os_release(&theirs);

	/* A consumer that answers with the producer's own port. */
	assert_int_equal(mobj__os_chan_recv(mobj__chan_os(y), LONG_MS, buf,
	                                    sizeof(buf), &got, 1, &n), 2);
	assert_int_equal(n, 1);
	assert_int_equal(mobj__darwin_chan_send_port(mobj__chan_os(y), got.port,
	                                             LONG_MS), 0);
	assert_int_equal(mobj__os_pevent_finish(&pm, mobj__chan_os(x), LONG_MS),
	                 -EPROTO);
	mach_port_deallocate(mach_task_self(), got.port);

	/* One whose port died in transit. */
	send_port_that_dies(y);
	assert_int_equal(mobj__os_pevent_finish(&pm, mobj__chan_os(x), LONG_MS),
	                 -EPIPE);

	/* The real consumer. */
	assert_int_equal(mach_port_insert_right(mach_task_self(), pm.recv,
	                                        pm.recv, MACH_MSG_TYPE_MAKE_SEND),
	                 0);
	again.port = pm.recv;
	again.gen = pm.gen;
	assert_int_equal(mobj__os_chan_send(mobj__chan_os(x), "ev", 2, &again,
	                                    1, LONG_MS), 0);
	mobj__os_release(&again);
	assert_int_equal(mobj__os_pevent_recv(mobj__chan_os(y), LONG_MS, buf,
	                                      sizeof(buf), &ce, &n), 2);
	assert_int_equal(n, 1);
	assert_int_equal(mobj__os_pevent_finish(&pm, mobj__chan_os(x), LONG_MS), 0);

	/* Each starts readable; a drain clears it; a signal sets it. */
	assert_int_equal(readable(mobj__os_pevent_fd(&ce)), 1);
	assert_int_equal(mobj__os_pevent_drain(&ce), 0);
	assert_int_equal(readable(mobj__os_pevent_fd(&ce)), 0);
	mobj__os_pevent_signal(&pm);
	mobj__os_pevent_signal(&pm); /* the queue holds one: never blocks */
	assert_int_equal(readable(mobj__os_pevent_fd(&ce)), 1);
	assert_int_equal(mobj__os_pevent_drain(&ce), 0);
	assert_int_equal(readable(mobj__os_pevent_fd(&ce)), 0);

	/* The consumer's end goes: the producer's port hears of it. */
	assert_int_equal(mobj__os_pevent_drain(&pm), 0);
	mobj__os_pevent_close(&ce);
	assert_int_equal(readable(mobj__os_pevent_fd(&pm)), 1);
	assert_int_equal(mobj__os_pevent_drain(&pm), -EPIPE);
	assert_int_equal(readable(mobj__os_pevent_fd(&pm)), 1);
	mobj__os_pevent_signal(&pm); /* to a dead port: nothing, no block */
	mobj__os_pevent_close(&pm);
	mobj_chan_close(x);
	mobj_chan_close(y);
	assert_int_equal(port_count(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_alive_sees_terminated),
		cmocka_unit_test(test_wake_self_counts_when_nobody_waits),
		cmocka_unit_test(test_ring_exchange_refuses_own_semaphore),
		cmocka_unit_test(test_ring_exchange_dead_port_is_epipe),
		cmocka_unit_test(test_ring_port_send_honours_timeout),
		cmocka_unit_test(test_pevent_answer_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
