/*
 * Linux ring waiting: a side sleeps with FUTEX_WAIT on its peer's wake
 * sequence word, in a MAP_SHARED page (so not FUTEX_PRIVATE: the key is the
 * page, and it works across processes; FUTEX_WAIT only reads the word, so
 * the read-only mapping of the peer's page is enough). The peer's death is
 * noticed through a pidfd of the peer's pid, polled after each sleep; sleeps are sliced by the core, so a death is seen
 * within MOBJ__OS_WAKER_SLICE_MS.
 *
 * Each side sends its pid over the channel at the end of the ring set-up
 * (see mobj__os_waker_connect); a pidfd pins it at once, so pid reuse after
 * that point cannot fool us, and a peer that died just before shows as
 * ESRCH or, later, as a readable pidfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

#include "../internal.h"
#include "mobj/chan.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int mobj__os_waker_pair(struct mobj__os_waker *a, struct mobj__os_waker *b)
{
	a->pidfd = b->pidfd = -1;
	a->pid = b->pid = 0;
	return 0;
}

/* The pid exchange of mobj__os_waker_connect. */
struct pid_hello {
	uint32_t magic; /* PID_MAGIC */
	int32_t pid;
};
#define PID_MAGIC 0x70626f6du /* "mobp" */

int mobj__os_waker_connect(struct mobj__os_waker *w, struct mobj_chan *c,
                           bool producer, int timeout_ms)
{
	struct pid_hello mine = { PID_MAGIC, (int32_t)getpid() }, theirs;
	int fd, n;

	/* Each side says who it is. The channel's SO_PEERCRED pid is not
	 * enough: for a mobj_chan_pair() it names the process that made the
	 * pair, on both ends. The claim is not verified, and need not be: a
	 * peer that lies can only make itself look alive (as it could by
	 * idling) or dead (ending its own ring). */
	(void)producer;
	n = mobj_send(c, NULL, &mine, sizeof(mine));
	if (n < 0)
		return n;
	n = mobj_recv(c, timeout_ms, NULL, &theirs, sizeof(theirs));
	if (n < 0)
		return n == -EMSGSIZE ? -EPROTO : n;
	if (n != (int)sizeof(theirs) || theirs.magic != PID_MAGIC ||
	    theirs.pid <= 0)
		return -EPROTO;
	fd = (int)syscall(SYS_pidfd_open, (pid_t)theirs.pid, 0);
	if (fd < 0 && errno == ESRCH)
		return -EPIPE;
	if (fd < 0 && errno != ENOSYS)
		return errno ? -errno : -EIO;
	/* pidfd_open gives close-on-exec descriptors. Without pidfds (Linux
	 * before 5.3, valgrind) the pid itself is polled: weaker, as a reused
	 * pid or an unreaped zombie looks alive. */
	w->pidfd = fd;
	w->pid = theirs.pid;
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

/* Without a pidfd: the process exists and is not a zombie. A zombie (dead,
 * not yet reaped by its parent) still answers kill(pid, 0). */
static bool pid_alive(int pid)
{
	char path[32], buf[512], *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
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

int mobj__os_event_open(struct mobj__os_event *e)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		return errno ? -errno : -EIO;
	e->fd = fd;
	return 0;
}

void mobj__os_event_set(struct mobj__os_event *e)
{
	uint64_t one = 1;
	ssize_t n;

	/* EAGAIN only if the counter is near overflow: it is set anyway. */
	n = write(e->fd, &one, sizeof(one));
	(void)n;
}

void mobj__os_event_clear(struct mobj__os_event *e)
{
	uint64_t v;
	ssize_t n;

	n = read(e->fd, &v, sizeof(v));
	(void)n;
}

int mobj__os_event_fd(const struct mobj__os_event *e)
{
	return e->fd;
}

void mobj__os_event_close(struct mobj__os_event *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}
