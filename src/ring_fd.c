/*
 * A pollable descriptor for a ring end, for event loops.
 *
 * With a peer event (set up by mobj_ring_consumer(), the channel or
 * mobj_ring_import()) there is no thread: mobj_ring_fd() hands out this
 * end's side of it (Linux: its half of a socketpair; Darwin: a kqueue on
 * its Mach port), and a call with timeout 0 that would wait registers as a
 * waiter in our control page instead (ring.c, arm()); the peer's publish
 * that reaches the target signals it (a byte; an empty Mach message). What
 * follows is the fallback for ends without one (no descriptor or port was
 * left at set-up).
 *
 * The peer may be another process and the channel passes memory objects
 * only, so the peer cannot signal a descriptor of ours. Instead a helper
 * thread of ours, started by the first mobj_ring_fd(), does the waiting the
 * caller would otherwise do in a blocking call, and sets a local event (an
 * eventfd on Linux) when it is over:
 *
 *  - The event starts set. A call on this end with timeout 0 that returns
 *    -EAGAIN clears it and *arms* the helper with the target that call was
 *    waiting for (the peer's index value that would let it succeed).
 *  - The helper sleeps exactly like a blocked caller (waiting counter and
 *    target in our control page, Dekker fence, sleep on the peer's wake
 *    sequence, sliced, liveness checked after a silent slice) until the
 *    peer's index reaches the target, or the peer closes or dies, then sets
 *    the event and disarms.
 * So the descriptor polls readable when the last call that returned -EAGAIN
 * would now succeed or fail for good (-EPIPE, -EPROTO); it may also poll
 * readable spuriously (re-arming while the helper is busy); it never stays
 * unreadable while the awaited progress has happened. The helper reads only
 * atomics of the shared pages and its own fields: the ring end stays a
 * one-thread-at-a-time object for its user.
 *
 * `waiting` in the control page is a counter, not a flag, because the
 * helper and a blocking call of the user may wait at once. wait_target is
 * last-writer-wins: mixing a blocking call with an armed descriptor can
 * delay a wake-up by one slice, never lose it.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_sigmask */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "ring_internal.h"

struct mobj__ring_notify {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool armed;                /* under lock */
	atomic_bool stop;
	atomic_bool dead;          /* the helper saw the peer's process die */
	_Atomic uint64_t target;
	struct mobj__os_event ev;
	pid_t pid;                 /* the process the helper runs in */
};

/* One slice of sleep on the peer's wake sequence; true when it showed the
 * peer's process is gone: the wait itself said so (-EPIPE: Darwin's
 * semaphore of a dead task answers every wait at once, so looping on it
 * would spin), or a silent slice was followed by a failed liveness check,
 * as in the ring's blocking calls (ring.c). */
static bool helper_sleep(struct mobj_ring *r, uint32_t seq)
{
	int rc = mobj__os_waker_wait(&r->waker,
	                             (const uint32_t *)&r->peer->wake_seq, seq,
	                             MOBJ__OS_WAKER_SLICE_MS);

	if (rc == -EPIPE)
		return true;
	return rc == -ETIMEDOUT && !mobj__os_waker_peer_alive(&r->waker);
}

/* Sleep until the peer's index reaches the (current) target, or the peer
 * is closed or dead, or we are stopped. */
static void helper_wait(struct mobj_ring *r, struct mobj__ring_notify *n)
{
	const struct mobj__ring_ctl *peer = r->peer;
	uint64_t target;
	uint32_t seq;
	bool ready;

	for (;;) {
		if (atomic_load(&n->stop))
			return;
		target = atomic_load(&n->target);
		seq = mobj__ring_announce_wait(r, target);
		ready = atomic_load_explicit(&peer->index, memory_order_acquire) >=
		        target ||
		        atomic_load_explicit(&peer->closed, memory_order_acquire);
		if (!ready && helper_sleep(r, seq)) {
			atomic_store(&n->dead, true);
			ready = true;
		}
		atomic_fetch_sub_explicit(&r->own->waiting, 1,
		                          memory_order_relaxed);
		if (ready)
			return;
	}
}

static void *helper_main(void *arg)
{
	struct mobj_ring *r = arg;
	struct mobj__ring_notify *n = r->notify;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->armed && !atomic_load(&n->stop))
			pthread_cond_wait(&n->cond, &n->lock);
		if (atomic_load(&n->stop))
			break;
		pthread_mutex_unlock(&n->lock);
		helper_wait(r, n);
		pthread_mutex_lock(&n->lock);
		if (atomic_load(&n->stop))
			break;
		n->armed = false;
		mobj__os_event_set(&n->ev);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int mobj_ring_fd(struct mobj_ring *r)
{
	struct mobj__ring_notify *n;
	sigset_t all, old;
	int err;

	if (!r)
		return -EINVAL;
	if (!r->connected)
		return -ENOTCONN;
	if (r->m)
		return mobj__ring_multi_fd(r);
	if (r->pev_set) {
		r->fd_used = true;
		return mobj__os_pevent_fd(&r->pev);
	}
	if (r->notify)
		return mobj__os_event_fd(&r->notify->ev);
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	err = mobj__os_event_open(&n->ev);
	if (err < 0) {
		free(n);
		return err;
	}
	mobj__os_event_set(&n->ev);
	atomic_init(&n->stop, false);
	atomic_init(&n->dead, false);
	atomic_init(&n->target, 0);
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	r->notify = n;
	n->pid = getpid();
	/* Every signal blocked from its first instruction: a process-directed
	 * signal must go to a thread of the application, never to ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&n->thread, NULL, helper_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err < 0) {
		r->notify = NULL;
		pthread_cond_destroy(&n->cond);
		pthread_mutex_destroy(&n->lock);
		mobj__os_event_close(&n->ev);
		free(n);
		return err;
	}
	return mobj__os_event_fd(&n->ev);
}

void mobj__ring_notify_arm(struct mobj_ring *r, uint64_t target)
{
	struct mobj__ring_notify *n = r->notify;

	mobj__os_event_clear(&n->ev);
	pthread_mutex_lock(&n->lock);
	atomic_store(&n->target, target);
	if (n->armed) {
		/* The helper sleeps on an older target: make it re-read. */
		mobj__os_waker_wake_self(&r->waker,
		                         (const uint32_t *)&r->peer->wake_seq);
	}
	n->armed = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

bool mobj__ring_notify_dead(const struct mobj_ring *r)
{
	return atomic_load(&r->notify->dead);
}

void mobj__ring_notify_stop(struct mobj_ring *r)
{
	struct mobj__ring_notify *n = r->notify;

	if (!n)
		return;
	if (n->pid != getpid()) {
		/* A forked child: the helper thread stayed in the parent, and
		 * its lock may have been held at the fork. Only our copies of
		 * the event and the memory are ours to drop. */
		mobj__os_event_close(&n->ev);
		free(n);
		r->notify = NULL;
		return;
	}
	pthread_mutex_lock(&n->lock);
	atomic_store(&n->stop, true);
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	mobj__os_waker_wake_self(&r->waker, (const uint32_t *)&r->peer->wake_seq);
	pthread_join(n->thread, NULL);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	mobj__os_event_close(&n->ev);
	free(n);
	r->notify = NULL;
}
