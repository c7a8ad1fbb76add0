/*
 * Darwin ring set-up over IPC the user owns (mobj_ring_export(), the core's
 * ring_xfer.c): struct mobj_ring_xfer carries two send rights each way,
 * ports[0] the sender's wake semaphore and ports[1] its peer event's port,
 * the same two things the channel set-up exchanges (ring_chan.c,
 * ring_pevent.c), and checked the same way: a right missing or not a send
 * right, a [0] that does not behave as a semaphore, or our own sent back is
 * -EPROTO; one that is dead is -EPIPE (the peer is gone). XPC, Mojo and raw
 * Mach messages carry such rights; the user passes copies and keeps (and
 * later deallocates) the names of the struct, so what we keep are new
 * user references (mach_port_mod_refs +1).
 *
 * The pid in the meta bytes is not used here: the peer's semaphore dies
 * with its task (ring_wait.c), and its port with it (ring_pevent.c).
 *
 * A 1:N producer makes a put per offer (its own semaphore and port for
 * each consumer, ring_multi.c), so that a departing consumer's
 * semaphore_destroy ends only its own (XNU osfmk/kern/sync_sema.c,
 * semaphore_destroy_internal). The offer tokens come from arc4random_buf.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <mach/mach.h>
#include <mach/semaphore.h>

#include "../internal.h"
#include "mobj/ring.h"
#include "backend.h"

/* This end's port, with a send right the user can copy (COPY_SEND needs
 * one: XNU ipc_right_copyin), released when the port goes. */
static int open_event(struct mobj__os_pevent *e)
{
	kern_return_t kr;
	int err = mobj__darwin_pevent_open(e);

	if (err < 0)
		return err;
	kr = mach_port_insert_right(mach_task_self(), e->recv, e->recv,
	                            MACH_MSG_TYPE_MAKE_SEND);
	if (kr != KERN_SUCCESS) {
		mobj__os_pevent_close(e);
		return mobj__kr(kr);
	}
	e->sendable = true;
	return 0;
}

/* Made before a fork(): the names are the parent's (a child's task starts
 * with a fresh IPC space), and here they may name a right of the child's
 * own, which a put would hand out and a take release. */
static bool inherited(const struct mobj__os_waker *w,
                      const struct mobj__os_pevent *e)
{
	return (MACH_PORT_VALID(w->mine) && mobj__darwin_inherited(w->gen)) ||
	       (MACH_PORT_VALID(e->recv) && mobj__darwin_inherited(e->gen));
}

int mobj__os_xfer_put(struct mobj__os_waker *w, struct mobj__os_pevent *e,
                      struct mobj_ring_xfer *x)
{
	kern_return_t kr;
	int err;

	if (inherited(w, e))
		return -EBADF;
	if (!MACH_PORT_VALID(e->recv)) {
		err = open_event(e);
		if (err < 0)
			return err;
	}
	if (!MACH_PORT_VALID(w->mine)) {
		w->gen = mobj__darwin_gen();
		kr = semaphore_create(mach_task_self(), &w->mine,
		                      SYNC_POLICY_FIFO, 0);
		if (kr != KERN_SUCCESS) {
			w->mine = MACH_PORT_NULL;
			/* Nothing half made stays behind (closing a closed
			 * event is a no-op). */
			mobj__os_pevent_close(e);
			return mobj__kr(kr);
		}
	}
	x->ports[0] = w->mine;
	x->ports[1] = e->recv;
	return MOBJ__OS_XFER_WAKER | MOBJ__OS_XFER_EVENT;
}

/* A copy of the send right @name, checked: 0, -EPIPE (dead), -EPROTO.
 * mach_port_type first: it answers for any name, where mod_refs on a name
 * we lack raises a guard exception (XNU mach_port_mod_refs ->
 * mach_port_guard_exception, kGUARD_EXC_INVALID_NAME). */
static int copy_send(mach_port_t name)
{
	mach_port_type_t type = 0;

	if (name == MACH_PORT_DEAD)
		return -EPIPE;
	if (!MACH_PORT_VALID(name) ||
	    mach_port_type(mach_task_self(), name, &type) != KERN_SUCCESS)
		return -EPROTO;
	if (type & MACH_PORT_TYPE_DEAD_NAME)
		return -EPIPE;
	if (!(type & MACH_PORT_TYPE_SEND))
		return -EPROTO;
	if (mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_SEND,
	                       1) != KERN_SUCCESS)
		return -EPROTO;
	return 0;
}

/* The peer's semaphore, as ring_chan.c's recv_sema checks it: a zero wait
 * (XNU semaphore_timedwait: SEMAPHORE_TIMEOUT_NOBLOCK) times out or takes
 * a wake on a live one, returns KERN_TERMINATED on one whose task died
 * (semaphore_wait_internal), fails on a port that is no semaphore
 * (port_name_to_semaphore). */
static int check_sema(mach_port_t s)
{
	mach_timespec_t zero = { 0, 0 };
	kern_return_t kr = semaphore_timedwait(s, zero);

	if (kr == KERN_SUCCESS || kr == KERN_OPERATION_TIMED_OUT)
		return 0;
	return kr == KERN_TERMINATED ? -EPIPE : -EPROTO;
}

/* Let go of what an earlier take held; our own semaphore stays (a peer
 * holding the offer would see its waits end, XNU semaphore_destroy ->
 * semaphore_destroy_internal: KERN_TERMINATED). */
void mobj__os_xfer_drop(struct mobj__os_waker *w, struct mobj__os_pevent *e)
{
	if (MACH_PORT_VALID(w->theirs))
		mach_port_deallocate(mach_task_self(), w->theirs);
	w->theirs = MACH_PORT_NULL;
	mobj__darwin_pevent_unwatch(e);
	if (MACH_PORT_VALID(e->peer))
		mach_port_deallocate(mach_task_self(), e->peer);
	e->peer = MACH_PORT_NULL;
}

int mobj__os_xfer_take(struct mobj__os_waker *w, struct mobj__os_pevent *e,
                       const struct mobj_ring_xfer *x)
{
	mach_port_t s = x->ports[0], p = x->ports[1];
	int err;

	if (inherited(w, e))
		return -EBADF;
	if (!MACH_PORT_VALID(w->mine) || !MACH_PORT_VALID(e->recv))
		return -EINVAL; /* put first */
	/* Our own sent back: waiting on it, or watching it, would never see
	 * the peer die. */
	if (s == w->mine || p == e->recv)
		return -EPROTO;
	mobj__os_xfer_drop(w, e);
	err = copy_send(s);
	if (err < 0)
		return err;
	err = check_sema(s);
	if (err == 0)
		err = copy_send(p);
	if (err < 0) {
		mach_port_deallocate(mach_task_self(), s);
		return err;
	}
	w->theirs = s;
	e->peer = p;
	err = mobj__darwin_pevent_watch(e);
	if (err < 0)
		mobj__os_xfer_drop(w, e);
	return err;
}

/* arc4random_buf never fails (libc's ChaCha20 seeded by the kernel's
 * getentropy). */
int mobj__os_random(void *buf, size_t len)
{
	arc4random_buf(buf, len);
	return 0;
}
