/*
 * Linux channels: AF_UNIX SOCK_SEQPACKET, so message boundaries are the
 * kernel's and a message arrives whole or not at all. Objects travel as
 * SCM_RIGHTS. Every socket is close-on-exec and non-blocking; waiting is
 * poll() with a deadline that survives EINTR.
 *
 * Names: "/..." is a filesystem socket, bound, chmod 0600 and only then
 * listen()ed, so nobody connects through a wider mode in between; a socket
 * file nobody listens on (connect gives ECONNREFUSED) is stale and replaced.
 * Anything else is the abstract address "\0" + name, no padding, no NUL.
 *
 * Receiving: SO_PASSCRED is set on every connected end so that each real
 * message, even an empty one, carries an SCM_CREDENTIALS record. That is
 * the only way to tell a zero-length message (hostile: -EPROTO) from the
 * end of the stream (the peer is gone: -EPIPE), since recvmsg returns 0 for
 * both. The record is added at receive time, so messages queued before the
 * option was set carry it too. A side effect: the kernel autobinds an
 * unnamed socket with SO_PASSCRED to an abstract "\0xxxxx" name on its
 * first send (connector and pair ends; accepted ends share the
 * listener's). The control buffer has room for the credentials and two
 * descriptors: a second one already proves the message wrong, and the
 * kernel itself drops those that do not fit (MSG_CTRUNC).
 *
 * The peer's pid: SO_PEERCRED of a connected socket names the process that
 * connected (or listened), but on a socketpair both ends name the process
 * that made the pair, which is wrong on both sides once it forks. A pair
 * end therefore reports 0 until a message comes, then the pid of the
 * process that sent the first one, from that message's credentials (the
 * kernel records the sender and translates the pid into the receiver's
 * PID namespace: 0 there when the sender is not visible).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"
#include "mobj/chan.h"

#define SOCK_FLAGS (SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK)

/* Wait until @fd polls for @events (or for hang-up/error, which the caller's
 * next call reports): 0, or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	uint64_t start = mobj__os_clock_ns();
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&p, 1, mobj__time_left(timeout_ms, start));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return mobj__neg_errno();
	}
}

/* The address for @name, and a fresh socket to bind or connect with it:
 * the socket, or a negative errno. */
static int open_socket(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(name);
	int fd;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (name[0] == '/') {
		if (n >= sizeof(sa->sun_path))
			return -EINVAL;
		memcpy(sa->sun_path, name, n + 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	} else {
		if (n > sizeof(sa->sun_path) - 1)
			return -EINVAL;
		memcpy(sa->sun_path + 1, name, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	}
	fd = socket(AF_UNIX, SOCK_FLAGS, 0);
	return fd < 0 ? mobj__neg_errno() : fd;
}

static void init(struct mobj__os_chan *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->pid = 0;
	c->uid = (uid_t)-1;
}

/* Make connected socket @fd a channel end: record the peer's credentials
 * and ask for SCM_CREDENTIALS on every message (see the top of this file).
 * On failure @fd is closed. */
static int setup_connected(int fd, struct mobj__os_chan *out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int one = 1, err;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		err = mobj__neg_errno();
		close(fd);
		return err;
	}
	init(out, fd);
	out->pid = cred.pid;
	out->uid = cred.uid;
	return 0;
}

/* A pair end: the peer is whoever sends the first message. */
static void learn_pid_later(struct mobj__os_chan *c)
{
	c->pid = 0;
	c->learn_pid = true;
}

/* A socket file that nobody listens on any more. */
static bool stale_socket(const struct sockaddr_un *sa, socklen_t len)
{
	struct stat st;
	int fd, rc;
	bool stale;

	if (lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	fd = socket(AF_UNIX, SOCK_FLAGS, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (const struct sockaddr *)sa, len);
	stale = rc < 0 && errno == ECONNREFUSED;
	close(fd);
	return stale;
}

int mobj__os_chan_listen(const char *name, struct mobj__os_chan *out)
{
	struct sockaddr_un sa;
	struct mobj__os_chan c;
	struct stat st;
	socklen_t len;
	bool path = name[0] == '/';
	int fd, err;

	err = mobj__linux_activated(name, out);
	if (err != -ENOENT)
		return err;
	fd = open_socket(name, &sa, &len);
	if (fd < 0)
		return fd;
	init(&c, fd);
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		if (errno != EADDRINUSE || !path || !stale_socket(&sa, len)) {
			err = mobj__neg_errno();
			goto fail;
		}
		if ((unlink(sa.sun_path) < 0 && errno != ENOENT) ||
		    bind(fd, (struct sockaddr *)&sa, len) < 0) {
			err = mobj__neg_errno();
			goto fail;
		}
	}
	if (path) {
		/* Before listen(): no one can connect through a wider mode. */
		if (chmod(sa.sun_path, 0600) < 0 || lstat(sa.sun_path, &st) < 0) {
			err = mobj__neg_errno();
			unlink(sa.sun_path);
			goto fail;
		}
		memcpy(c.path, sa.sun_path, strlen(sa.sun_path) + 1);
		c.dev = st.st_dev;
		c.ino = st.st_ino;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		err = mobj__neg_errno();
		if (path)
			unlink(sa.sun_path);
		goto fail;
	}
	c.pid = getpid();
	c.uid = geteuid();
	*out = c;
	return 0;
fail:
	close(fd);
	return err;
}

int mobj__os_chan_accept(struct mobj__os_chan *l, int timeout_ms,
                         struct mobj__os_chan *out)
{
	uint64_t start = mobj__os_clock_ns();
	int fd, err;

	for (;;) {
		err = wait_fd(l->fd, POLLIN, mobj__time_left(timeout_ms, start));
		if (err < 0)
			return err;
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			break;
		/* Taken by another accepter, aborted, or a signal: wait on. */
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR && errno != EPROTO)
			return mobj__neg_errno();
		if (timeout_ms == 0)
			return -ETIMEDOUT;
	}
	return setup_connected(fd, out);
}

int mobj__os_chan_welcome(struct mobj__os_chan *c, const void *msg, size_t len)
{
	return mobj__os_chan_send(c, msg, len, NULL, 0, -1);
}

int mobj__os_chan_connect(const char *name, int timeout_ms,
                          struct mobj__os_chan *out)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, err;

	(void)timeout_ms; /* connect() on a local socket does not block */
	fd = open_socket(name, &sa, &len);
	if (fd < 0)
		return fd;
	while (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		switch (errno) {
		case EINTR:
			continue;
		case ENOENT:       /* no such path (yet) */
		case ECONNREFUSED: /* nobody listening (yet) */
		case EAGAIN:       /* the listener's backlog is full */
			err = -EAGAIN;
			break;
		case EACCES:
		case EPERM:
			err = -EACCES;
			break;
		case EPROTOTYPE:   /* a socket of another kind */
			err = -ECONNREFUSED;
			break;
		default:
			err = mobj__neg_errno();
			break;
		}
		close(fd);
		return err;
	}
	return setup_connected(fd, out);
}

int mobj__os_chan_pair(struct mobj__os_chan *a, struct mobj__os_chan *b)
{
	struct mobj__os_chan ca;
	int sv[2], err;

	if (socketpair(AF_UNIX, SOCK_FLAGS, 0, sv) < 0)
		return mobj__neg_errno();
	err = setup_connected(sv[0], &ca);
	if (err < 0) {
		close(sv[1]);
		return err;
	}
	err = setup_connected(sv[1], b);
	if (err < 0) {
		mobj__os_chan_close(&ca);
		return err;
	}
	learn_pid_later(&ca);
	learn_pid_later(b);
	*a = ca;
	return 0;
}

void mobj__os_chan_close(struct mobj__os_chan *c)
{
	struct stat st;

	/* Only the process that bound it, and only if it is still our file: a
	 * forked child closing its inherited copy leaves the parent's name. */
	if (c->path[0] && c->pid == getpid() && lstat(c->path, &st) == 0 &&
	    st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	c->path[0] = '\0';
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int mobj__os_chan_send(struct mobj__os_chan *c, const void *msg, size_t len,
                       const struct mobj__os_obj *objs, unsigned nobj,
                       int timeout_ms)
{
	uint64_t start = mobj__os_clock_ns();
	union {
		char buf[CMSG_SPACE(MOBJ_MSG_OBJS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	unsigned i;
	int err;

	if (nobj > MOBJ_MSG_OBJS_MAX)
		return -EINVAL;
	if (nobj) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nobj * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nobj * sizeof(int));
		for (i = 0; i < nobj; i++)
			memcpy(CMSG_DATA(cm) + i * sizeof(int), &objs[i].fd,
			       sizeof(int));
	}
	for (;;) {
		if (sendmsg(c->fd, &mh, MSG_NOSIGNAL) >= 0)
			return 0;
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			/* The peer's queue is full: wait for room (or its death). */
			err = wait_fd(c->fd, POLLOUT,
			              mobj__time_left(timeout_ms, start));
			if (err < 0)
				return err;
			continue;
		case EPIPE:
		case ECONNRESET:
		case ENOTCONN:
		case ECONNREFUSED:
			return -EPIPE;
		case ETOOMANYREFS:
			return -ENOBUFS;
		default:
			return mobj__neg_errno();
		}
	}
}

/* Count the descriptors SCM_RIGHTS records carried, in order: keep the
 * first @max in @fds and close the rest; @other is set by any other
 * record. */
static unsigned collect_fds(struct msghdr *mh, int *fds, unsigned max,
                            bool *other)
{
	struct cmsghdr *cm;
	unsigned n = 0;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t i, count;

		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
			continue;
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0)) {
			*other = true;
			continue;
		}
		count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (n < max)
				fds[n] = fd;
			else
				close(fd);
			n++;
		}
	}
	return n;
}

static void close_fds(const int *fds, unsigned n)
{
	while (n)
		close(fds[--n]);
}

/* Whether the message carried credentials; @pid gets the sender's pid. */
static bool has_creds(struct msghdr *mh, pid_t *pid)
{
	struct cmsghdr *cm;
	struct ucred cred;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			*pid = cred.pid;
			return true;
		}
	}
	return false;
}

/* Room for the credentials the kernel adds (SO_PASSCRED) and one more
 * descriptor than a message may carry, so that a message with too many is
 * seen to have too many rather than truncated silently. */
#define RECV_FDS (MOBJ_MSG_OBJS_MAX + 1)

int mobj__os_chan_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                       size_t cap, struct mobj__os_obj *objs, unsigned max,
                       unsigned *nobj)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
		         CMSG_SPACE(RECV_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint64_t start = mobj__os_clock_ns();
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	int fds[RECV_FDS];
	struct msghdr mh;
	bool other = false;
	unsigned nfds, i;
	pid_t sender = 0;
	ssize_t n;
	int err;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET || errno == ENOTCONN)
			return -EPIPE;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return mobj__neg_errno();
		err = wait_fd(c->fd, POLLIN, mobj__time_left(timeout_ms, start));
		if (err < 0)
			return err;
	}
	nfds = collect_fds(&mh, fds, RECV_FDS, &other);
	if (!has_creds(&mh, &sender) && n == 0) {
		/* End of stream: every message carries a credentials record.
		 * (Descriptors cannot come without a message; closed anyway.) */
		close_fds(fds, nfds < RECV_FDS ? nfds : RECV_FDS);
		return -EPIPE;
	}
	c->sender = sender;
	if (c->learn_pid && sender > 0) {
		c->pid = sender;
		c->learn_pid = false;
	}
	if (other || nfds > max || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n > cap || n > INT32_MAX) {
		close_fds(fds, nfds < RECV_FDS ? nfds : RECV_FDS);
		mobj__refused("a message", other ? "an unexpected control message" :
		              nfds > max ? "more descriptors than allowed" :
		              "longer than any valid message");
		return -EPROTO;
	}
	*nobj = nfds;
	for (i = 0; i < nfds; i++)
		objs[i].fd = fds[i];
	return (int)n;
}

int mobj__os_chan_fd(const struct mobj__os_chan *c)
{
	return c->fd;
}

void mobj__os_chan_peer(const struct mobj__os_chan *c, pid_t *pid, uid_t *uid)
{
	if (pid)
		*pid = c->pid;
	if (uid)
		*uid = c->uid;
}
