/*
 * Darwin ring set-up across processes: the two ends swap semaphores over
 * the channel (see ring_wait.c) in the backend's own PORT messages, the
 * producer first. A received right is
 * accepted only if it behaves as a semaphore: a zero-timeout wait must time
 * out or succeed (at set-up nobody has signalled yet; a success only eats
 * a spurious wake). Anything else is -EPROTO.
 */
#include <errno.h>

#include <mach/mach.h>
#include <mach/semaphore.h>

#include "../internal.h"
#include "backend.h"

static int recv_sema(struct mobj__os_chan *c, int timeout_ms, semaphore_t *out)
{
	mach_timespec_t zero = { 0, 0 };
	mach_port_t port = MACH_PORT_NULL;
	kern_return_t kr;
	int err;

	err = mobj__darwin_chan_recv_port(c, timeout_ms, &port);
	if (err < 0)
		return err;
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
	struct mobj__os_waker n = { MACH_PORT_NULL, MACH_PORT_NULL };
	kern_return_t kr;
	int err;

	kr = semaphore_create(mach_task_self(), &n.mine, SYNC_POLICY_FIFO, 0);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	if (producer) {
		err = mobj__darwin_chan_send_port(c, n.mine, timeout_ms);
		if (err == 0)
			err = recv_sema(c, mobj__time_left(timeout_ms, start),
			                &n.theirs);
	} else {
		err = recv_sema(c, timeout_ms, &n.theirs);
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
