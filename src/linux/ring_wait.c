/*
 * Linux ring waiting: a side sleeps with FUTEX_WAIT on its peer's wake
 * sequence word, in a MAP_SHARED page (so not FUTEX_PRIVATE: the key is the
 * page, and it works across processes; FUTEX_WAIT only reads the word, so
 * the read-only mapping of the peer's page is enough). The peer's death is
 * noticed through a pidfd of the peer's pid (set up in ring_chan.c), polled
 * after each sleep; sleeps are sliced by the core, so a death is seen
 * within MOBJ__OS_WAKER_SLICE_MS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>


#include "../internal.h"
#include "backend.h"

int mobj__os_waker_pair(struct mobj__os_waker *a, struct mobj__os_waker *b)
{
	a->pidfd = b->pidfd = -1;
	a->pid = b->pid = 0;
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

void mobj__os_waker_wake_self(struct mobj__os_waker *w, const uint32_t *word)
{
	/* FUTEX_WAKE only reads the word's page: a read-only mapping does. */
	(void)w;
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

bool mobj__proc_is_ours(void)
{
	char buf[24];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return false;
	buf[n] = 0;
	return strtol(buf, NULL, 10) == (long)getpid();
}

/* Without a pidfd: the process exists and is not a zombie. A zombie (dead,
 * not yet reaped by its parent) still answers kill(pid, 0), so /proc is
 * asked first where it numbers processes as we do. */
static bool pid_alive(int pid)
{
	char path[32], buf[512], *paren;
	ssize_t n;
	int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (mobj__proc_is_ours())
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kill(pid, 0) == 0 || errno != ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false; /* reaped between open and read */
	buf[n] = 0;
	/* "pid (comm) S ...": comm may hold spaces and parentheses. */
	paren = strrchr(buf, ')');
	return !paren || (paren[1] != 0 && paren[2] != 'Z' && paren[2] != 'X');
}

bool mobj__os_waker_peer_alive(struct mobj__os_waker *w)
{
	struct pollfd p;

	if (w->pidfd < 0)
		return w->pid <= 0 || pid_alive(w->pid);
	p.fd = w->pidfd;
	p.events = POLLIN;
	p.revents = 0;
	/* A pidfd polls readable once the process has exited. */
	return poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR));
}

