/*
 * Darwin ring waiting: Mach semaphores. Each end creates one semaphore
 * (mine) and signals it to wake its peer; it sleeps on the one its *peer*
 * created (theirs). A semaphore dies with the task that created it, and its
 * waiters then get KERN_TERMINATED: so a side asleep on its peer's
 * semaphore wakes when the peer's process dies, with no polling. The port
 * does not die with it: a dead task's semaphores are only deactivated (XNU
 * semaphore_destroy_all -> semaphore_destroy_internal; the port goes in
 * semaphore_free, with the last reference, which our send right holds), so
 * the name never turns into a dead name and every later wait returns
 * KERN_TERMINATED at once (semaphore_wait_internal: !semaphore_active).
 * mobj__os_waker_peer_alive() asks the semaphore itself.
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
#include <unistd.h>

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
	struct mobj__os_waker wa = { MACH_PORT_NULL, MACH_PORT_NULL, 0 };
	struct mobj__os_waker wb = { MACH_PORT_NULL, MACH_PORT_NULL, 0 };
	kern_return_t kr;
	int err;

	wa.gen = wb.gen = mobj__darwin_gen();
	err = new_sema(&wa.mine);
	if (err == 0)
		err = new_sema(&wb.mine);
	if (err < 0)
		goto fail;
	/* Each end holds its own reference to the other's semaphore, so
	 * either may be released first: the name then stays a right to the
	 * inactive semaphore (never reused for something else) until the
	 * other lets go. */
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
	if (mobj__darwin_inherited(w->gen)) {
		/* Made before a fork(): the names are the parent's. */
		w->mine = w->theirs = MACH_PORT_NULL;
		return;
	}
	/* semaphore_destroy consumes the creator's send right (the MIG
	 * semaphore_consume_ref_t) and deactivates the semaphore: a peer
	 * asleep on it wakes with KERN_TERMINATED (XNU
	 * semaphore_destroy_internal wakes the waiters with THREAD_RESTART). */
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
	if (MACH_PORT_VALID(w->mine) && !mobj__darwin_inherited(w->gen))
		semaphore_signal(w->mine);
}

/* The peer's semaphore answers: a zero-timeout wait (XNU
 * semaphore_timedwait: SEMAPHORE_TIMEOUT_NOBLOCK) times out on a live one,
 * returns KERN_TERMINATED on one whose task died (semaphore_wait_internal),
 * fails on a dead name. A pending wake it takes is given back. */
bool mobj__os_waker_peer_alive(struct mobj__os_waker *w)
{
	mach_timespec_t zero = { 0, 0 };
	kern_return_t kr;

	if (!MACH_PORT_VALID(w->theirs))
		return true; /* not connected to another process */
	kr = semaphore_timedwait(w->theirs, zero);
	if (kr == KERN_SUCCESS) {
		semaphore_signal(w->theirs);
		return true;
	}
	return kr == KERN_OPERATION_TIMED_OUT || kr == KERN_ABORTED;
}

/* Signal the semaphore this end sleeps on: wakes a thread of ours asleep
 * on it. semaphore_signal, not semaphore_signal_all: with nobody waiting
 * yet (the helper between its check and its wait) only semaphore_signal
 * keeps the wake counted, so the coming wait returns at once (XNU
 * semaphore_signal passes SEMAPHORE_SIGNAL_PREPOST; semaphore_signal_all
 * does not, and semaphore_signal_internal then counts nothing). */
void mobj__os_waker_wake_self(struct mobj__os_waker *w, const uint32_t *word)
{
	(void)word;
	if (MACH_PORT_VALID(w->theirs) && !mobj__darwin_inherited(w->gen))
		semaphore_signal(w->theirs);
}

/* Over IPC the user owns no descriptor names the peer: its semaphore,
 * which mobj__os_xfer_take() (ring_xfer.c) took, dies with it. */
int mobj__os_waker_self(int *fd)
{
	*fd = -1;
	return -ENOTSUP;
}

int mobj__os_waker_adopt(struct mobj__os_waker *w, int pid, int fd)
{
	(void)pid;
	if (fd >= 0) {
		close(fd);
		return -EPROTO;
	}
	return MACH_PORT_VALID(w->theirs) ? 0 : -EPIPE;
}
