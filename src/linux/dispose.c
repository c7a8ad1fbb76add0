/*
 * Disposal: closing what a peer controls without ever blocking the caller.
 *
 * A close can block for as long as someone else likes: a TCP socket with
 * SO_LINGER and unsent data waits for the linger time; a FUSE file's flush
 * waits for its server's answer, uninterruptibly; and the last close of an
 * AF_UNIX socket releases every descriptor still queued in it (or in the
 * connections pending on a listener), each of which may be one of those.
 * The kernel runs a file's final release at the closing thread's return to
 * user space, and a file's flush in close() itself, on every close.
 *
 * So descriptors a peer sent, and those of our own channel sockets (whose
 * queues a peer fills) that chan.c cannot prove empty, are handed to one
 * thread per process, the reaper, started on first need with every signal
 * blocked, over a socket pair:
 *   - closed inline, never handed over: memory files (tmpfs, hugetlbfs:
 *     what a memfd is) and O_PATH descriptors: no flush, no blocking release;
 *   - sockets and pipes (no flush): sent to the reaper in flight
 *     (SCM_RIGHTS) and closed here at once, which drops only a reference.
 *     The reaper receives them with no room for descriptors, so the kernel
 *     releases them in the reaper's thread and they never enter the
 *     descriptor table again. A received socket gets SO_LINGER {1, 0}
 *     first, so that the reaper does not linger either;
 *   - anything else (a FUSE or NFS file, a device, whose flush may block):
 *     its number is sent, and the reaper closes it. It stays open until then.
 * The reaper handles one at a time: a close that never ends (a FUSE server
 * that never answers) stalls it, and later disposals queue behind it, open
 * but never blocking a caller. When the queue is full (about 500 pending)
 * or the reaper cannot be started, the descriptor is closed inline, which
 * may block: that needs more pending disposals than a process has
 * descriptors by default.
 *
 * A forked child starts its own reaper on first use (pthread_atfork).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"

/* Room for this many pending disposals, at ~800 bytes of socket buffer
 * each (the kernel caps SO_SNDBUF at twice net.core.wmem_max). */
#define QUEUE_BYTES (1 << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int tx = -1, rx = -1; /* our end, the reaper's */
static pid_t owner;          /* the process whose reaper reads rx */
/* Handed over, and (in flight) the sender's copy closed: written under
 * lock, read by the reaper. */
static _Atomic uint64_t sent;
static _Atomic uint64_t done; /* finished by the reaper */
static _Atomic unsigned forks; /* fork() calls seen, on either side */

static void *reaper(void *arg)
{
	struct timespec soon = { 0, 20000 };
	struct pollfd p = { .fd = (int)(intptr_t)arg, .events = POLLIN };
	struct iovec iov;
	struct msghdr mh;
	uint64_t taken = 0;
	ssize_t n;
	int fd;

	for (;;) {
		if (poll(&p, 1, -1) < 0)
			continue; /* EINTR cannot happen (signals blocked) */
		if (!(p.revents & POLLIN))
			return NULL; /* the pair is gone: nothing can come */
		/* Never read a message before its sender has closed its own
		 * copy: the last reference, and with it the release that may
		 * block, must be ours. */
		while (atomic_load_explicit(&sent, memory_order_acquire) <= taken)
			nanosleep(&soon, NULL);
		/* No control buffer: descriptors in flight are released by
		 * the kernel in this thread, never installed. */
		iov.iov_base = &fd;
		iov.iov_len = sizeof(fd);
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = recvmsg(p.fd, &mh, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return NULL; /* the pair is gone: nothing can come */
		taken++;
		if (n == sizeof(fd) && fd >= 0)
			close(fd);
		atomic_fetch_add_explicit(&done, 1, memory_order_release);
	}
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void atfork_parent(void)
{
	atomic_fetch_add(&forks, 1);
	pthread_mutex_unlock(&lock);
}

/* The child has no reaper: the inherited pair is the parent's (sending a
 * number there would close the parent's descriptor). */
static void atfork_child(void)
{
	if (tx >= 0)
		close(tx);
	if (rx >= 0)
		close(rx);
	tx = rx = -1;
	owner = 0;
	atomic_fetch_add(&forks, 1);
	atomic_store(&sent, 0);
	atomic_store(&done, 0);
	pthread_mutex_unlock(&lock);
}

static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Under lock: the reaper of this process, started if need be. */
static bool reaper_ready(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t th;
	int sv[2], size = QUEUE_BYTES, err;

	if (owner == getpid())
		return true;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_attr_init(&attr);
	if (err == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&th, &attr, reaper, (void *)(intptr_t)sv[1]);
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	pthread_setname_np(th, "mobj-reaper");
	tx = sv[0];
	rx = sv[1];
	owner = getpid();
	return true;
}

static void attach_fd(struct msghdr *mh, void *ctl, size_t cap, int fd)
{
	struct cmsghdr *cm;

	memset(ctl, 0, cap);
	mh->msg_control = ctl;
	mh->msg_controllen = cap;
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
}

/* Hand @fd to the reaper: in flight (and then close our copy, which only
 * drops a reference), or by number. The reaper's ticket for it, or 0 when
 * it could not be (then @fd is still open). */
static uint64_t hand_over(int fd, bool in_flight)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	int number = in_flight ? -1 : fd;
	struct iovec iov = { .iov_base = &number, .iov_len = sizeof(number) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint64_t ticket = 0;
	ssize_t n;

	pthread_once(&atfork_once, register_atfork);
	if (in_flight)
		attach_fd(&mh, ctl.buf, sizeof(ctl.buf), fd);
	pthread_mutex_lock(&lock);
	if (reaper_ready()) {
		do
			n = sendmsg(tx, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n == sizeof(number)) {
			if (in_flight)
				close(fd);
			ticket = atomic_fetch_add_explicit(&sent, 1,
			                                   memory_order_release) + 1;
		}
	}
	pthread_mutex_unlock(&lock);
	return ticket;
}

/* Telling kinds apart calls into no file system: fstat() or fstatfs()
 * would (a FUSE getattr may block like its flush). F_GET_SEALS answers for
 * memory files only (tmpfs and hugetlbfs: what a memfd is), SO_TYPE for
 * sockets, F_GETPIPE_SZ for pipes. */
bool mobj__memory_file(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	/* An O_PATH descriptor has no file operations at all. */
	return (fl >= 0 && (fl & O_PATH)) || fcntl(fd, F_GET_SEALS) >= 0;
}

static bool is_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

void mobj__dispose_fd(int fd)
{
	static const struct linger now = { 1, 0 };
	bool in_flight;

	if (mobj__memory_file(fd)) {
		close(fd);
		return;
	}
	in_flight = is_socket(fd);
	if (in_flight)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof(now));
	else
		in_flight = fcntl(fd, F_GETPIPE_SZ) >= 0;
	if (hand_over(fd, in_flight) == 0)
		close(fd); /* the last resort: see the top of this file */
}

uint64_t mobj__dispose_socket(int fd)
{
	uint64_t ticket = hand_over(fd, true);

	if (ticket == 0)
		close(fd);
	return ticket;
}

unsigned mobj__forks(void)
{
	pthread_once(&atfork_once, register_atfork);
	return atomic_load(&forks);
}

int mobj__disposal_wait_for(uint64_t ticket, int timeout_ms)
{
	uint64_t start = mobj__os_clock_ns();
	struct timespec pause = { 0, 200000 };

	while (atomic_load_explicit(&done, memory_order_acquire) < ticket) {
		if (mobj__time_left(timeout_ms, start) == 0)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
	return 0;
}

int mobj__disposal_wait(int timeout_ms)
{
	uint64_t ticket;
	bool ready;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&lock);
	ready = reaper_ready();
	ticket = atomic_load(&sent);
	pthread_mutex_unlock(&lock);
	if (!ready)
		return -EAGAIN;
	return mobj__disposal_wait_for(ticket, timeout_ms);
}
