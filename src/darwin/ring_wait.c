/*
 * Darwin ring waiting: Mach semaphores. Each end creates one semaphore
 * (mine) and signals it to wake its peer; it sleeps on the one its *peer*
 * created (theirs). A semaphore dies with the task that created it, and its
 * waiters then get KERN_TERMINATED: so a side asleep on its peer's
 * semaphore wakes when the peer's process dies, with no polling, and the
 * name it holds turns into a dead name, which mobj__os_waker_peer_alive()
 * reads without consuming a wake.
 *
 * The core signals only after the sleeper has published that it waits, so
 * the fast path makes no system call. A signal that arrives while nobody
 * sleeps stays counted and makes the next wait return at once: a spurious
 * wake-up, which the core allows. The shared wake word is checked before
 * sleeping; with a semaphore it is not needed for correctness (no wake can
 * be lost between the check and the wait: it stays counted).
 *
 * os_sync_wait_on_address (macOS 14.4+) could wait on the word itself, but
 * would not end a wait when the peer dies; it is not used.
 */
#include <errno.h>

#include <mach/mach.h>
#include <mach/semaphore.h>

#include "../internal.h"
#include "backend.h"

static int new_sema(semaphore_t *out)
{
	semaphore_t s = MACH_PORT_NULL;
	kern_return_t kr;

	kr = semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	*out = s;
	return 0;
}

int mobj__os_waker_pair(struct mobj__os_waker *a, struct mobj__os_waker *b)
{
	struct mobj__os_waker wa = { MACH_PORT_NULL, MACH_PORT_NULL };
	struct mobj__os_waker wb = { MACH_PORT_NULL, MACH_PORT_NULL };
	kern_return_t kr;
	int err;

	err = new_sema(&wa.mine);
	if (err == 0)
		err = new_sema(&wb.mine);
	if (err < 0)
		goto fail;
	/* Each end holds its own reference to the other's semaphore, so
	 * either may be released first: the name then stays a dead name
	 * (never reused for something else) until the other lets go. */
	kr = mach_port_mod_refs(mach_task_self(), wb.mine, MACH_PORT_RIGHT_SEND, 1);
	if (kr != KERN_SUCCESS) {
		err = mobj__kr(kr);
		goto fail;
	}
	wa.theirs = wb.mine;
	kr = mach_port_mod_refs(mach_task_self(), wa.mine, MACH_PORT_RIGHT_SEND, 1);
	if (kr != KERN_SUCCESS) {
		err = mobj__kr(kr);
		goto fail;
	}
	wb.theirs = wa.mine;
	*a = wa;
	*b = wb;
	return 0;
fail:
	mobj__os_waker_release(&wa);
	mobj__os_waker_release(&wb);
	return err;
}

void mobj__os_waker_release(struct mobj__os_waker *w)
{
	/* semaphore_destroy consumes the creator's reference; any other
	 * reference to the name becomes a dead name, and a peer asleep on
	 * it wakes with KERN_TERMINATED. */
	if (MACH_PORT_VALID(w->mine))
		semaphore_destroy(mach_task_self(), w->mine);
	if (MACH_PORT_VALID(w->theirs))
		mach_port_deallocate(mach_task_self(), w->theirs);
	w->mine = MACH_PORT_NULL;
	w->theirs = MACH_PORT_NULL;
}

int mobj__os_waker_wait(struct mobj__os_waker *w, const uint32_t *word,
                        uint32_t expect, int timeout_ms)
{
	mach_timespec_t ts;
	kern_return_t kr;

	if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != expect)
		return 0;
	if (!MACH_PORT_VALID(w->theirs))
		return -EPIPE;
	ts.tv_sec = (unsigned int)(timeout_ms / 1000);
	ts.tv_nsec = (clock_res_t)(timeout_ms % 1000) * 1000000;
	kr = semaphore_timedwait(w->theirs, ts); /* relative time */
	switch (kr) {
	case KERN_SUCCESS:
	case KERN_ABORTED: /* a signal: a spurious wake-up */
		return 0;
	case KERN_OPERATION_TIMED_OUT:
		return -ETIMEDOUT;
	default:
		/* KERN_TERMINATED (destroyed while we slept) or an invalid
		 * name (a dead name: destroyed before). */
		return -EPIPE;
	}
}

void mobj__os_waker_wake(struct mobj__os_waker *w, uint32_t *word)
{
	(void)word;
	if (MACH_PORT_VALID(w->mine))
		semaphore_signal(w->mine);
}

bool mobj__os_waker_peer_alive(struct mobj__os_waker *w)
{
	mach_port_type_t type;

	if (!MACH_PORT_VALID(w->theirs))
		return true; /* not connected to another process */
	if (mach_port_type(mach_task_self(), w->theirs, &type) != KERN_SUCCESS)
		return false;
	return !(type & MACH_PORT_TYPE_DEAD_NAME);
}

/* Signal the semaphore this end sleeps on: wakes a thread of ours asleep
 * on it. */
void mobj__os_waker_wake_self(struct mobj__os_waker *w, const uint32_t *word)
{
	(void)word;
	if (MACH_PORT_VALID(w->theirs))
		semaphore_signal_all(w->theirs);
}
