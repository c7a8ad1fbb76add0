/*
 * Linux ring set-up across processes: each side tells the other who it is,
 * the producer first, so that each can watch the other's death.
 *
 * Who it is must be something the kernel translates, because the two sides
 * may live in different PID namespaces (a container, bubblewrap, a browser
 * sandbox), where a pid number means another process or none. So each side
 * sends a pidfd of itself (pidfd_open(getpid()), Linux 5.3) as the one
 * descriptor of its message: a pidfd names a process, not a number, in any
 * namespace, and cannot be fooled by pid reuse.
 *
 * The message: 16 bytes { magic "mobw", flags, pid, 0 } plus, when flags
 * has WAKER_PIDFD, that descriptor. pid is the sender's pid in its own
 * namespace, for a receiver that has neither a pidfd nor the kernel's
 * credentials of the message (another IPC carrying the same "objects +
 * small metadata"); over a mobj channel it is never trusted. The message is
 * the backend's own, never seen by the core: it is not in msg.h's format,
 * so a mobj_recv() that met it by mistake would reject it.
 *
 * What arrives is checked; anything else is -EPROTO: the size, magic and
 * flags; exactly one descriptor with WAKER_PIDFD and none without; that
 * descriptor is a pidfd (pidfd_send_signal(fd, 0) does not say EBADF) of a
 * whole process (not PIDFD_THREAD); and, where both are known, that it
 * names the process that sent the message, as the kernel recorded it in
 * the message's SCM_CREDENTIALS (a peer cannot make us watch another
 * process, whose life would then stand for its own). The descriptor comes
 * through mobj__linux_chan_recv_any (mobj__os_chan_recv takes memory files
 * only) and is looked at only with calls that never enter the file system
 * behind it; what is not kept goes to mobj__dispose_fd, whose close cannot
 * block us. Where pidfd_send_signal is filtered, a pidfd cannot be told
 * from anything else: it is disposed of and the credentials' pid watched.
 *
 * Without pidfds (Linux before 5.3, or a seccomp profile that refuses
 * pidfd_open with EPERM or ENOSYS), the sender sends no descriptor and the
 * receiver watches the pid of the message's credentials, which the kernel
 * translates into the receiver's namespace: a pidfd of it if the receiver
 * can open one, else the pid polled (weaker: a reused pid, or an unreaped
 * zombie without /proc, looks alive). A sender not visible in the
 * receiver's namespace (credentials pid 0) is then not watched at all: only
 * its close is seen, never its death.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
/* PIDFD_THREAD (Linux 6.9): a pidfd of one thread, not of the process. */
#define PIDFD_THREAD_FLAG O_EXCL

struct waker_msg {
	uint32_t magic;  /* WAKER_MAGIC */
	uint32_t flags;  /* WAKER_PIDFD: a pidfd of the sender comes with it */
	int32_t pid;     /* the sender's pid in its own namespace */
	uint32_t zero;
};
_Static_assert(sizeof(struct waker_msg) == 16, "waker message layout");
#define WAKER_MAGIC 0x77626f6du /* "mobw" */
#define WAKER_PIDFD 1u

int mobj__os_waker_self(int *fd)
{
	/* Any failure (ENOSYS, EPERM from a seccomp profile, EMFILE): pass
	 * no pidfd, and the peer falls back to our pid. */
	*fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (*fd < 0)
		*fd = -1;
	return 0;
}

static int send_self(struct mobj__os_chan *c, int timeout_ms)
{
	struct waker_msg mine = { WAKER_MAGIC, 0, (int32_t)getpid(), 0 };
	struct mobj__os_obj self;
	int err;

	(void)mobj__os_waker_self(&self.fd);
	if (self.fd >= 0)
		mine.flags = WAKER_PIDFD;
	err = mobj__os_chan_send(c, &mine, sizeof(mine), &self,
	                         self.fd >= 0 ? 1 : 0, timeout_ms);
	if (self.fd >= 0)
		close(self.fd);
	return err;
}

/* PIDFD_GET_INFO (Linux 6.13), its first version: 64 bytes. */
struct pidfd_info_v0 {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid;
	uint32_t fsuid, fsgid;
	int32_t exit_code;
};
_Static_assert(sizeof(struct pidfd_info_v0) == 64, "PIDFD_INFO_SIZE_VER0");
#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)
#define PIDFD_INFO_PID 1u

/* The pid that pidfd @fd names, numbered in our PID namespace as the
 * credentials of a message are: > 0, or 0 when that cannot be told (no
 * PIDFD_GET_INFO and no /proc of our namespace, not visible, exited). */
static pid_t pidfd_pid(int fd)
{
	struct pidfd_info_v0 info;
	char path[48], line[128];
	long pid = 0;
	FILE *f;

	memset(&info, 0, sizeof(info));
	info.mask = PIDFD_INFO_PID;
	if (ioctl(fd, PIDFD_GET_INFO_V0, &info) == 0)
		return info.tgid > 0 && info.tgid <= INT32_MAX ? (pid_t)info.tgid : 0;
	if (!mobj__proc_is_ours())
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %ld", &pid) == 1)
			break;
	fclose(f);
	return pid > 0 && pid <= INT32_MAX ? (pid_t)pid : 0;
}

/* Whether @fd is a pidfd: 1 yes, 0 no, -1 cannot be told here (a seccomp
 * profile refuses pidfd_send_signal). Nothing here calls into the file
 * system behind @fd, so a peer's descriptor of any kind is safe to ask. */
static int is_pidfd(int fd)
{
	/* Signal 0 only checks. On a descriptor that is not a pidfd the
	 * call says EBADF, as it does for -1 when it is really there. */
	if (syscall(SYS_pidfd_send_signal, -1, 0, NULL, 0) == 0 || errno != EBADF)
		return -1;
	if (syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) < 0 && errno == EBADF)
		return 0;
	return 1; /* 0, or ESRCH (gone), EPERM, EINVAL (outside our namespace) */
}

/* Check the peer's message @m (@len bytes) with @nfd descriptors (@fd the
 * first, of any kind), sent by @sender as the kernel recorded it (0:
 * unknown), and return in @pidfd what to watch the peer by (-1: nothing
 * usable came) and in @pid its pid in our namespace (0: unknown).
 * Independent of how the message travelled: any IPC that carries bytes
 * and descriptors can hand it here. Takes @fd: it ends up in @pidfd or
 * disposed of. */
static int check_peer_msg(const struct waker_msg *m, size_t len, unsigned nfd,
                          int fd, pid_t sender, int *pidfd, pid_t *pid)
{
	int kind = nfd ? is_pidfd(fd) : 0, fl;
	pid_t named;

	*pidfd = -1;
	*pid = sender;
	if (len != sizeof(*m) || m->magic != WAKER_MAGIC || m->zero != 0 ||
	    m->pid <= 0 || (m->flags & ~WAKER_PIDFD) != 0 ||
	    nfd != ((m->flags & WAKER_PIDFD) ? 1u : 0u) || (nfd && kind == 0))
		goto bad;
	if (kind < 0) {
		/* It may be a pidfd; we cannot tell: watch the pid instead. */
		mobj__dispose_fd(fd);
		return 0;
	}
	if (nfd) {
		fl = fcntl(fd, F_GETFL);
		named = pidfd_pid(fd);
		if (fl < 0 || (fl & PIDFD_THREAD_FLAG) ||
		    (sender > 0 && named > 0 && named != sender))
			goto bad;
		*pidfd = fd;
	}
	return 0;
bad:
	if (nfd)
		mobj__dispose_fd(fd);
	return -EPROTO;
}

/* Receive the peer's message and return what check_peer_msg() does; the
 * pidfd, if any, is then the caller's. */
static int recv_peer(struct mobj__os_chan *c, int timeout_ms, int *pidfd,
                     pid_t *pid)
{
	struct waker_msg theirs;
	unsigned nfd = 0;
	int n, fd = -1;

	n = mobj__linux_chan_recv_any(c, timeout_ms, &theirs, sizeof(theirs),
	                              &fd, 1, &nfd);
	if (n < 0)
		return n;
	return check_peer_msg(&theirs, (size_t)n, nfd, fd, c->sender, pidfd,
	                      pid);
}

/* No pidfd came: watch the pid the kernel gave us, by a pidfd of our own
 * if we may open one. */
static int watch_pid(pid_t pid, int *pidfd)
{
	int fd;

	*pidfd = -1;
	if (pid <= 0)
		return 0;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno == ESRCH)
		return -EPIPE;
	if (fd < 0 && errno != ENOSYS && errno != EPERM)
		return mobj__neg_errno();
	*pidfd = fd;
	return 0;
}

int mobj__os_waker_connect(struct mobj__os_waker *w, struct mobj__os_chan *c,
                           bool producer, int timeout_ms)
{
	uint64_t start = mobj__os_clock_ns();
	pid_t pid = 0;
	int fd = -1, err;

	if (producer) {
		err = send_self(c, timeout_ms);
		if (err == 0)
			err = recv_peer(c, mobj__time_left(timeout_ms, start),
			                &fd, &pid);
	} else {
		err = recv_peer(c, timeout_ms, &fd, &pid);
		if (err == 0)
			err = send_self(c, mobj__time_left(timeout_ms, start));
		if (err < 0 && fd >= 0)
			close(fd);
	}
	if (err == 0 && fd < 0)
		err = watch_pid(pid, &fd);
	if (err < 0)
		return err;
	w->pidfd = fd;
	w->pid = pid;
	return 0;
}

/* The same check for a message that came over IPC the user owns
 * (ring_xfer.c): the same bytes, but no credentials (sender unknown), so
 * without a pidfd the claimed pid is all there is. */
int mobj__os_waker_adopt(struct mobj__os_waker *w, int pid, int fd)
{
	struct waker_msg m = { WAKER_MAGIC, fd >= 0 ? WAKER_PIDFD : 0,
	                       (int32_t)pid, 0 };
	pid_t known;
	int pidfd, err;

	if (pid <= 0) {
		if (fd >= 0)
			mobj__dispose_fd(fd);
		return -EPROTO;
	}
	err = check_peer_msg(&m, sizeof(m), fd >= 0 ? 1 : 0, fd, 0, &pidfd,
	                     &known);
	if (err == 0 && pidfd < 0)
		err = watch_pid(pid, &pidfd);
	if (err < 0)
		return err;
	/* A pidfd names the process in any namespace: the claimed number
	 * (the peer's namespace) must then not be polled. */
	w->pidfd = pidfd;
	w->pid = pidfd >= 0 ? 0 : pid;
	return 0;
}
