/*
 * Linux ring waiting: a side sleeps with FUTEX_WAIT on its peer's wake
 * sequence word, in a MAP_SHARED page (so not FUTEX_PRIVATE: the key is the
 * page, and it works across processes; FUTEX_WAIT only reads the word, so
 * the read-only mapping of the peer's page is enough). The peer's death is
 * noticed through a pidfd of the pid the channel reported (SO_PEERCRED),
 * polled after each sleep; sleeps are sliced by the core, so a death is seen
 * within MOBJ__OS_WAKER_SLICE_MS.
 *
 * The pid is that of the process which set up the channel's peer end; a
 * pidfd pins it, so pid reuse after that point cannot fool us. If the peer
 * died before the pidfd was opened, the channel shows it (the ring set-up
 * talks over it until the end) or pidfd_open fails with ESRCH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "../internal.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int mobj__os_waker_pair(struct mobj__os_waker *a, struct mobj__os_waker *b)
{
	a->pidfd = -1;
	b->pidfd = -1;
	return 0;
}

void mobj__os_waker_release(struct mobj__os_waker *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
}

int mobj__os_waker_wait(struct mobj__os_waker *w, const uint32_t *word,
                        uint32_t expect, int timeout_ms)
{
	struct timespec ts;
	long rc;

	(void)w;
	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
	rc = syscall(SYS_futex, word, FUTEX_WAIT, expect, &ts, NULL, 0);
	if (rc == 0)
		return 0;
	if (errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0; /* EAGAIN: the word changed; EINTR: spurious */
}

void mobj__os_waker_wake(struct mobj__os_waker *w, uint32_t *word)
{
	(void)w;
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

bool mobj__os_waker_peer_alive(struct mobj__os_waker *w)
{
	struct pollfd p;

	if (w->pidfd < 0)
		return true;
	p.fd = w->pidfd;
	p.events = POLLIN;
	p.revents = 0;
	/* A pidfd polls readable once the process has exited. */
	return poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR));
}

uint64_t mobj__os_waker_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
