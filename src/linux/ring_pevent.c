/*
 * Linux peer event for mobj_ring_fd() without a thread: the two ends of a
 * ring share one AF_UNIX SOCK_STREAM socketpair, one socket each. The
 * descriptor an end hands to its event loop is its own socket: it polls
 * readable when the peer sent a byte (the peer does so only when this end
 * said it waits, ring.c) and when every copy of the peer's socket is closed,
 * i.e. the peer's process is gone (or closed its end).
 *
 * Why a socketpair and not an eventfd: whoever holds a descriptor shares
 * its open file description, so a hostile peer holding our eventfd could
 * clear O_NONBLOCK on it and make our read (or its counter-full write)
 * block. Here each side holds only its own socket, and every send and recv
 * is MSG_DONTWAIT, which no flag on the description can override: a flood
 * only makes our descriptor poll readable spuriously (allowed).
 *
 * What a peer could still do with a socket is queue descriptors in ours
 * (SCM_RIGHTS): releasing one may block (a FUSE file's flush), which is why
 * the channel refuses every descriptor that is not a memory file. So our
 * socket refuses them (SO_PASSRIGHTS 0, Linux 6.16: the sender's sendmsg
 * fails), and where that option is missing, or a peer that made the pair
 * queued some before we got our half, every descriptor we receive, and
 * whatever is left at close, goes to the disposal thread (dispose.c), never
 * closed here. No fstat on what a peer sent: getsockopt tells a socket
 * without calling into a file system.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* include/uapi/asm-generic/socket.h, Linux 6.16 */
#endif
#ifndef SCM_MAX_FD
#define SCM_MAX_FD 253
#endif

static void say(int fd)
{
	char x = 0;
	ssize_t n;

	/* EAGAIN: the peer's queue is full, so it polls readable already. */
	n = send(fd, &x, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)n;
}

/* Refuse descriptors from now on (best effort: older kernels lack it). */
static void guard(int fd)
{
	int zero = 0;

	(void)setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero));
}

/* An AF_UNIX stream socket, told without touching a file system. */
static bool is_event_socket(int fd)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type), dlen = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) == 0 &&
	       type == SOCK_STREAM && domain == AF_UNIX;
}

/* Hand every descriptor in @mh's SCM_RIGHTS to the disposal thread but
 * the first, which goes to *@keep when @keep is not NULL; the count. */
static unsigned take_fds(struct msghdr *mh, int *keep, bool *other)
{
	struct cmsghdr *cm;
	unsigned n = 0, i, count;
	int fd;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			if (cm->cmsg_type != SCM_CREDENTIALS)
				*other = true;
			continue;
		}
		count = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < count; i++, n++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (n == 0 && keep)
				*keep = fd;
			else
				mobj__dispose_fd(fd);
		}
	}
	return n;
}

/* One non-blocking receive on @fd into @buf: its length, -EAGAIN, or
 * -EPIPE at the end. Descriptors are disposed of (see take_fds). */
static ssize_t recv_once(int fd, void *buf, size_t cap, int *keep,
                         unsigned *nfd, bool *other, int *flags)
{
	union {
		char b[CMSG_SPACE(sizeof(struct ucred)) +
		       CMSG_SPACE(SCM_MAX_FD * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = ctl.b,
	                     .msg_controllen = sizeof(ctl.b) };
	ssize_t n;

	do {
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -EPIPE;
	*nfd = take_fds(&mh, keep, other);
	*flags = mh.msg_flags;
	return n;
}

int mobj__os_pevent_pair(struct mobj__os_pevent *a, struct mobj__os_pevent *b)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	               sv) < 0)
		return mobj__neg_errno();
	guard(sv[0]);
	guard(sv[1]);
	/* Each starts readable (ring.h: a first call tells what to wait for). */
	say(sv[0]);
	say(sv[1]);
	a->fd = sv[0];
	b->fd = sv[1];
	return 0;
}

int mobj__os_pevent_split_fd(struct mobj__os_pevent *mine, int *theirs)
{
	struct mobj__os_pevent other;
	int err = mobj__os_pevent_pair(mine, &other);

	if (err < 0)
		return err;
	*theirs = other.fd;
	return 0;
}

int mobj__os_pevent_split(struct mobj__os_pevent *mine,
                          struct mobj__os_obj *theirs)
{
	return mobj__os_pevent_split_fd(mine, &theirs->fd);
}

int mobj__os_pevent_adopt_fd(struct mobj__os_pevent *e, int fd)
{
	if (!is_event_socket(fd)) {
		mobj__dispose_fd(fd);
		return -EPROTO;
	}
	guard(fd);
	e->fd = fd;
	return 0;
}

int mobj__os_pevent_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                         size_t len, struct mobj__os_pevent *e, unsigned *nfd)
{
	uint64_t start = mobj__os_clock_ns();
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	bool other = false;
	int keep = -1, flags = 0, rc;
	ssize_t n;

	*nfd = 0;
	while ((n = recv_once(c->fd, buf, len, &keep, nfd, &other, &flags)) ==
	       -EAGAIN) {
		rc = poll(&p, 1, mobj__time_left(timeout_ms, start));
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0 && errno != EINTR)
			return mobj__neg_errno();
	}
	if (n < 0)
		return (int)n;
	if (other || *nfd > 1 || (size_t)n > len ||
	    (flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (keep >= 0)
			mobj__dispose_fd(keep);
		mobj__refused("a ring event", "not a ring's event message");
		return -EPROTO;
	}
	if (n == 0 && *nfd == 0)
		return -EPIPE;
	if (*nfd == 1 && mobj__os_pevent_adopt_fd(e, keep) < 0) {
		*nfd = 0;
		return -EPROTO;
	}
	return (int)n;
}

/* The consumer takes its half and answers nothing. */
int mobj__os_pevent_finish(struct mobj__os_pevent *mine,
                           struct mobj__os_chan *c, int timeout_ms)
{
	(void)mine;
	(void)c;
	(void)timeout_ms;
	return 0;
}

void mobj__os_pevent_signal(struct mobj__os_pevent *e)
{
	say(e->fd);
}

int mobj__os_pevent_drain(struct mobj__os_pevent *e)
{
	char buf[64];
	unsigned nfd;
	bool other = false;
	int flags;
	ssize_t n;

	/* Bounded: a peer that floods us makes this loop at most a socket
	 * buffer long, and we return as soon as the queue is empty. */
	for (int i = 0; i < 4096; i++) {
		n = recv_once(e->fd, buf, sizeof(buf), NULL, &nfd, &other, &flags);
		if (n == 0)
			return -EPIPE;
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -EPIPE;
	}
	return 0;
}

int mobj__os_pevent_fd(const struct mobj__os_pevent *e)
{
	return e->fd;
}

void mobj__os_pevent_close(struct mobj__os_pevent *e)
{
	unsigned nfd;
	bool other = false;
	char buf[64];
	int flags, i;
	ssize_t n = -1;

	if (e->fd < 0)
		return;
	/* Shut down, nothing more can arrive; take out what is queued (its
	 * descriptors go to the disposal thread); then the last close
	 * releases nothing a peer sent and cannot block. */
	(void)shutdown(e->fd, SHUT_RDWR); /* ENOTCONN: the peer is gone */
	for (i = 0; i < 4096; i++) {
		n = recv_once(e->fd, buf, sizeof(buf), NULL, &nfd, &other,
		              &flags);
		if (n <= 0)
			break;
	}
	/* 0: the end of the stream, nothing left in it. */
	if (n == 0)
		close(e->fd);
	else
		mobj__dispose_socket(e->fd);
	e->fd = -1;
}

void mobj__os_pevent_drop(struct mobj__os_pevent *e)
{
	if (e->fd < 0)
		return;
	/* Should the owner be gone, ours may be the last reference, and its
	 * release releases what a peer queued: the disposal thread's job. */
	(void)mobj__dispose_socket(e->fd);
	e->fd = -1;
}

/* Level-triggered: a member with a byte queued or at its end (EOF) keeps
 * the set readable until the producer drains it or drops the member. The
 * set holds only our own halves, so a peer cannot reach it. */
int mobj__os_pevent_set_open(int *fd)
{
	int e = epoll_create1(EPOLL_CLOEXEC);

	if (e < 0)
		return mobj__neg_errno();
	*fd = e;
	return 0;
}

int mobj__os_pevent_set_add(int set, const struct mobj__os_pevent *e)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = e->fd };

	/* ENOSPC is max_user_watches: to the joining call's caller a lack
	 * of memory, not its -ENOSPC (max_consumers live). */
	if (epoll_ctl(set, EPOLL_CTL_ADD, e->fd, &ev) < 0)
		return errno == ENOSPC ? -ENOMEM : mobj__neg_errno();
	return 0;
}

void mobj__os_pevent_set_del(int set, const struct mobj__os_pevent *e)
{
	(void)epoll_ctl(set, EPOLL_CTL_DEL, e->fd, NULL);
}

/* epoll looks at each member again on every poll: nothing goes stale. */
void mobj__os_pevent_set_drain(int set)
{
	(void)set;
}

void mobj__os_pevent_set_close(int set)
{
	close(set);
}

/* Our copy only: the epoll instance and its members stay the owner's. */
void mobj__os_pevent_set_drop(int set)
{
	close(set);
}
