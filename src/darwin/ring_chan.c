/*
 * Darwin ring set-up across processes: the two ends swap semaphores over
 * the channel (see ring_wait.c) in the backend's own PORT messages, the
 * producer first. A received right is accepted only if it behaves as a
 * semaphore: a zero-timeout wait must time out or succeed (at set-up nobody
 * has signalled yet; a success only eats a spurious wake). One that is
 * inactive already (KERN_TERMINATED) or died in transit (MACH_PORT_DEAD)
 * means the peer is gone: -EPIPE. Our own semaphore sent back is refused
 * (-EPROTO): waiting on it would never learn of the peer's death.
 *
 * What cannot be checked: that the peer created the semaphore. Mach has no
 * call that names a semaphore's owner task (mach_port_kobject and its
 * descriptions answer only on DEVELOPMENT kernels), so a peer may hand over
 * one a third task owns, and then its own death goes unnoticed until that
 * task's. That peer can do no more harm than a live peer that stops
 * writing: waits still end at their timeouts, and its close still reaches
 * us through the ring's closed flag.
 */
#include <errno.h>

#include <mach/mach.h>
#include <mach/semaphore.h>

#include "../internal.h"
#include "backend.h"

static int recv_sema(struct mobj__os_chan *c, int timeout_ms,
                     semaphore_t mine, semaphore_t *out)
{
	mach_timespec_t zero = { 0, 0 };
	mach_port_t port = MACH_PORT_NULL;
	kern_return_t kr;
	int err;

	err = mobj__darwin_chan_recv_port(c, timeout_ms, &port);
	if (err < 0)
		return err;
	if (port == mine) {
		/* One name per port in a task: it is ours, one more ref. */
		mach_port_deallocate(mach_task_self(), port);
		return -EPROTO;
	}
	/* XNU semaphore_timedwait with a zero time: SEMAPHORE_TIMEOUT_NOBLOCK,
	 * KERN_TERMINATED on an inactive semaphore (semaphore_wait_internal),
	 * an error on a port that is no semaphore (port_name_to_semaphore). */
	kr = semaphore_timedwait(port, zero);
	if (kr != KERN_OPERATION_TIMED_OUT && kr != KERN_SUCCESS) {
		mach_port_deallocate(mach_task_self(), port);
		return kr == KERN_TERMINATED ? -EPIPE : -EPROTO;
	}
	*out = port;
	return 0;
}

int mobj__os_waker_connect(struct mobj__os_waker *w, struct mobj__os_chan *c,
                           bool producer, int timeout_ms)
{
	uint64_t start = mobj__os_clock_ns();
	struct mobj__os_waker n = { MACH_PORT_NULL, MACH_PORT_NULL, 0 };
	kern_return_t kr;
	int err;

	n.gen = mobj__darwin_gen();
	kr = semaphore_create(mach_task_self(), &n.mine, SYNC_POLICY_FIFO, 0);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	if (producer) {
		err = mobj__darwin_chan_send_port(c, n.mine, timeout_ms);
		if (err == 0)
			err = recv_sema(c, mobj__time_left(timeout_ms, start),
			                n.mine, &n.theirs);
	} else {
		err = recv_sema(c, timeout_ms, n.mine, &n.theirs);
		if (err == 0)
			err = mobj__darwin_chan_send_port(c, n.mine,
			        mobj__time_left(timeout_ms, start));
	}
	if (err < 0) {
		mobj__os_waker_release(&n);
		return err;
	}
	*w = n;
	return 0;
}
