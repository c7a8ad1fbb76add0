/*
 * Internals shared by the files of the Linux backend.
 */
#ifndef MOBJ_LINUX_BACKEND_H
#define MOBJ_LINUX_BACKEND_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

/* The failed system call's errno, negated; -EIO should it be 0. */
static inline int mobj__neg_errno(void)
{
	int e = errno, r = e > 0 ? -e : -EIO;

	/* Callers rely on a negative result; the static analyzer
	 * (tools/analyze.sh) cannot derive -e < 0 from e > 0, so the result
	 * says so in a form it can follow. */
	return r < 0 ? r : -EIO;
}

/* /proc is mounted and numbers processes as this process's PID namespace
 * does (our pid there is getpid()): only then does /proc/PID name the
 * process that has pid PID here. A child namespace often keeps its
 * parent's /proc. */
bool mobj__proc_is_ours(void);

/* ---- Disposal (dispose.c): closing what a peer controls ------------------ */

/* True for a memory file (tmpfs or hugetlbfs: what a memfd is) or an O_PATH
 * descriptor, whose close never blocks. */
bool mobj__memory_file(int fd);

/* Close @fd, a descriptor a peer sent (of any kind), without blocking: a
 * memory file at once, anything else on the disposal thread. */
void mobj__dispose_fd(int fd);

/* Close @fd, one of our channel sockets, without blocking: the socket
 * leaves the descriptor table now, and its release (which releases all a
 * peer queued in it) runs on the disposal thread. Returns the disposal's
 * ticket for mobj__disposal_wait_for, or 0 when it was closed here. */
uint64_t mobj__dispose_socket(int fd);

/* How many times this process has forked, or been forked, since the
 * library first asked: a descriptor made before the count last changed
 * may be held by another process too. */
unsigned mobj__forks(void);

/* Wait at most @timeout_ms until the disposal with @ticket is done: 0, or
 * -ETIMEDOUT. */
int mobj__disposal_wait_for(uint64_t ticket, int timeout_ms);

/* For tests (tests/testutil_linux.c): start the disposal thread if need
 * be, then wait at most @timeout_ms until every disposal handed over so far
 * is done. 0, -ETIMEDOUT, or -EAGAIN when no thread could be started. */
int mobj__disposal_wait(int timeout_ms);

struct mobj__os_chan;

/* mobj__os_chan_recv() that also takes descriptors that are not memory
 * files (at most @max, here at most 1): for the backend's own messages
 * (the ring's waker exchange passes a pidfd). The caller gets them in
 * @fds, and disposes of any it does not keep with mobj__dispose_fd(). */
int mobj__linux_chan_recv_any(struct mobj__os_chan *c, int timeout_ms,
                              void *buf, size_t cap, int *fds, unsigned max,
                              unsigned *nfd);

/* The listener a service manager passed for @name (systemd socket
 * activation, activation.c): 0 with @out set; -ENOENT when none was passed
 * under that name (bind one); -EPROTO when what was passed is not a
 * listening SOCK_SEQPACKET socket bound to @name. */
int mobj__linux_activated(const char *name, struct mobj__os_chan *out);

#endif
