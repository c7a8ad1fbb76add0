/*
 * Linux channels: AF_UNIX SOCK_SEQPACKET, so message boundaries are the
 * kernel's and a message arrives whole or not at all. Objects travel as
 * SCM_RIGHTS. Every socket is close-on-exec and non-blocking; waiting is
 * poll() with a deadline that survives EINTR.
 *
 * Names: "/..." is a filesystem socket, bound under a temporary name,
 * chmod 0600 and listen()ed, and only then linked into place, so nobody
 * connects through a wider mode and a live listener is never taken for a
 * dead one (see listen_path); a socket file nobody listens on (connect
 * gives ECONNREFUSED) is stale and replaced. Anything else is the abstract address "\0" + name, no padding, no NUL.
 *
 * Receiving: SO_PASSCRED is set on every connected end so that each real
 * message, even an empty one, carries an SCM_CREDENTIALS record. That is
 * the only way to tell a zero-length message (hostile: -EPROTO) from the
 * end of the stream (the peer is gone: -EPIPE), since recvmsg returns 0 for
 * both. The record is added at receive time, so messages queued before the
 * option was set carry it too. A side effect: the kernel autobinds an
 * unnamed socket with SO_PASSCRED to an abstract "\0xxxxx" name on its
 * first send (connector and pair ends; accepted ends share the
 * listener's). The control buffer has room for the credentials and as
 * many descriptors as one message can carry (SCM_MAX_FD): more than
 * MOBJ_MSG_OBJS_MAX already proves the message wrong, but one that did not
 * fit would be closed by the kernel in this thread, and a close may block
 * for as long as the peer likes. Whatever a peer sent and is refused goes
 * to the disposal thread (dispose.c), and so does our own socket at close
 * unless it can be closed here (close_socket).
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
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"
#include "mobj/chan.h"

#ifndef SCM_MAX_FD
#define SCM_MAX_FD 253 /* the kernel's limit per message */
#endif

/* How long closing a channel waits for its socket's release. */
#define CLOSE_WAIT_MS 500
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
	c->forks = mobj__forks();
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
		mobj__dispose_socket(fd);
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

/* ---- Listening ---------------------------------------------------------- */

static int listen_abstract(const char *name, struct mobj__os_chan *out)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, err;

	fd = open_socket(name, &sa, &len);
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		err = mobj__neg_errno();
		close(fd);
		return err;
	}
	init(out, fd);
	return 0;
}

/*
 * A path listener must never take the place of a live one, and must replace
 * a dead one (its socket file left behind). So the socket is bound under a
 * temporary name in the same directory, made 0600, listen()ed, and only
 * then linked to the path (link() never replaces anything): a socket file
 * at the path always has, or had, a listener behind it, never one still
 * being set up, and a probe that finds nobody listening (ECONNREFUSED) has
 * found a dead one. A dead one is swapped out (RENAME_EXCHANGE) and removed
 * only if what came out is the file the probe found dead; otherwise a live
 * listener took its place meanwhile and is swapped back.
 */
struct path_claim {
	int dir;         /* the directory, O_PATH */
	const char *base;
	char tmp[32];    /* our socket's temporary name in it */
	const char *name;
	socklen_t len;   /* of the address of @name */
};

/* The socket file at the claim's path nobody listens on, by identity. */
static bool dead_socket(const struct path_claim *pc, struct stat *dead)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t ticket;
	int fd, rc;

	if (fstatat(pc->dir, pc->base, dead, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISSOCK(dead->st_mode))
		return false;
	memcpy(sa.sun_path, pc->name, strlen(pc->name) + 1);
	fd = socket(AF_UNIX, SOCK_FLAGS, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (const struct sockaddr *)&sa, pc->len);
	if (rc < 0 && errno == ECONNREFUSED) {
		close(fd);
		return true;
	}
	/* A live listener (perhaps a hostile one) may already have queued
	 * something for this probe. Waited for, so that the listener's
	 * next accept finds the probe gone rather than a live connection. */
	ticket = mobj__dispose_socket(fd);
	if (ticket)
		mobj__disposal_wait_for(ticket, CLOSE_WAIT_MS);
	return false;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Put our listening socket, at pc->tmp, at the path. */
static int claim_path(const struct path_claim *pc)
{
	struct stat dead, out;
	int tries;

	for (tries = 0; tries < 3; tries++) {
		if (linkat(pc->dir, pc->tmp, pc->dir, pc->base, 0) == 0)
			return 0;
		if (errno != EEXIST)
			return mobj__neg_errno();
		if (!dead_socket(pc, &dead))
			return -EADDRINUSE;
		if (renameat2(pc->dir, pc->tmp, pc->dir, pc->base, RENAME_EXCHANGE) < 0) {
			if (errno == ENOENT)
				continue; /* the dead one went meanwhile */
			return mobj__neg_errno();
		}
		if (fstatat(pc->dir, pc->tmp, &out, AT_SYMLINK_NOFOLLOW) == 0 &&
		    same_file(&out, &dead))
			return 0; /* pc->tmp now names the dead one */
		if (renameat2(pc->dir, pc->tmp, pc->dir, pc->base, RENAME_EXCHANGE) < 0)
			return -EADDRINUSE;
	}
	return -EADDRINUSE;
}

/* Bind @fd at pc->tmp: through /proc/self/fd when the directory's name
 * leaves no room for it in an address. */
static int bind_tmp(int fd, struct path_claim *pc, size_t dirlen)
{
	static _Atomic unsigned counter;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(pc->tmp, sizeof(pc->tmp), ".mobj-%d-%u", (int)getpid(),
	         atomic_fetch_add(&counter, 1));
	if (dirlen + 1 + strlen(pc->tmp) < sizeof(sa.sun_path))
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s/%s", (int)dirlen,
		         pc->name, pc->tmp);
	else
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s",
		         pc->dir, pc->tmp);
	return bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? mobj__neg_errno() : 0;
}

static int listen_path(const char *name, struct mobj__os_chan *out)
{
	struct sockaddr_un sa;
	struct path_claim pc;
	const char *slash = strrchr(name, '/');
	size_t dirlen = (size_t)(slash - name);
	char dir[sizeof(sa.sun_path)];
	struct stat st;
	int fd, err;

	fd = open_socket(name, &sa, &pc.len);
	if (fd < 0)
		return fd;
	if (!slash[1]) {
		close(fd);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)(dirlen ? dirlen : 1), name);
	pc.dir = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pc.dir < 0) {
		err = mobj__neg_errno();
		close(fd);
		return err;
	}
	pc.base = slash + 1;
	pc.name = name;
	err = bind_tmp(fd, &pc, dirlen);
	if (err < 0)
		goto out;
	/* Before listen(): no one can connect through a wider mode. */
	if (fchmodat(pc.dir, pc.tmp, 0600, 0) < 0 ||
	    fstatat(pc.dir, pc.tmp, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    listen(fd, SOMAXCONN) < 0)
		err = mobj__neg_errno();
	if (err == 0)
		err = claim_path(&pc);
	unlinkat(pc.dir, pc.tmp, 0);
out:
	close(pc.dir);
	if (err < 0) {
		/* It may have listened: connections may be pending on it. */
		mobj__dispose_socket(fd);
		return err;
	}
	init(out, fd);
	memcpy(out->path, name, strlen(name) + 1);
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	return 0;
}

int mobj__os_chan_listen(const char *name, struct mobj__os_chan *out)
{
	int err;

	err = mobj__linux_activated(name, out);
	if (err != -ENOENT)
		return err;
	err = name[0] == '/' ? listen_path(name, out) : listen_abstract(name, out);
	if (err < 0)
		return err;
	out->pid = getpid();
	out->uid = geteuid();
	return 0;
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
	/* Never waits: a new connection has room for one message (our send
	 * buffer is empty, and a connected peer's queue length is not
	 * checked), so a full one is a peer to refuse, not to wait for. */
	int err = mobj__os_chan_send(c, msg, len, NULL, 0, 0);

	return err == -ETIMEDOUT ? -EPIPE : err;
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

static bool has_creds(struct msghdr *mh, pid_t *pid);

/* Nothing queued in connected socket @fd, which is shut down: a peek finds
 * the end of the stream, not a message (each carries credentials). */
static bool nothing_queued(int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = ctl.buf,
	                     .msg_controllen = sizeof(ctl.buf) };
	pid_t sender;
	ssize_t n;

	/* No room for descriptors: a peeked message's are not installed
	 * (the kernel drops its extra references at once; the queue still
	 * holds the message's own). */
	n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT);
	return (n == 0 && !has_creds(&mh, &sender)) || (n < 0 && errno == EAGAIN);
}

/*
 * Whether our socket @fd can be closed here: only when no other process
 * may hold it (no fork since we made it, @forks; the caller was given
 * mobj_chan_fd() on these terms), so that shutting it down affects only
 * us. Once shut down nothing can arrive, neither a message nor a
 * connection; if nothing is queued, its last close releases nothing a peer
 * sent and cannot block. A listener's pending connections, ours alone too,
 * are taken and disposed of the same way first.
 */
static bool can_close_here(int fd, unsigned forks)
{
	int conn, one = 1;

	if (forks != mobj__forks() || shutdown(fd, SHUT_RDWR) < 0)
		return false;
	while ((conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (setsockopt(conn, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == 0 &&
		    can_close_here(conn, forks))
			close(conn);
		else
			mobj__dispose_socket(conn);
	}
	/* accept4 fails with EINVAL on a connected socket: peek at it. A
	 * listener has nothing else queued. */
	return errno != EINVAL || nothing_queued(fd);
}

/* Our socket's last close releases whatever a peer queued in it, or in the
 * connections pending on a listener, and that may block. Unless it can be
 * closed here, the disposal thread does it (dispose.c); until it has, the
 * peer does not see the end and an abstract listener's name stays taken,
 * so a close waits for it, a bounded time; a discard does not wait. */
static void close_socket(struct mobj__os_chan *c, bool wait)
{
	struct stat st;
	uint64_t ticket;

	/* Only the process that bound it, and only if it is still our file: a
	 * forked child closing its inherited copy leaves the parent's name. */
	if (c->path[0] && c->pid == getpid() && lstat(c->path, &st) == 0 &&
	    st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	c->path[0] = '\0';
	if (c->fd >= 0 && !c->shared && can_close_here(c->fd, c->forks)) {
		close(c->fd);
	} else if (c->fd >= 0) {
		ticket = mobj__dispose_socket(c->fd);
		if (wait && ticket)
			mobj__disposal_wait_for(ticket, CLOSE_WAIT_MS);
	}
	c->fd = -1;
}

void mobj__os_chan_close(struct mobj__os_chan *c)
{
	close_socket(c, true);
}

void mobj__os_chan_discard(struct mobj__os_chan *c)
{
	close_socket(c, false);
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
 * first @max in @fds and dispose of the rest (never closed in this thread:
 * dispose.c); @other is set by any other record. */
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
				mobj__dispose_fd(fd);
			n++;
		}
	}
	return n;
}

static void dispose_fds(const int *fds, unsigned n)
{
	while (n)
		mobj__dispose_fd(fds[--n]);
}

/* Only a memory file can be an object: anything else is refused here, so
 * that the core may close what it gets back in its own thread. */
static bool all_memory_files(const int *fds, unsigned n)
{
	while (n)
		if (!mobj__memory_file(fds[--n]))
			return false;
	return true;
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

/* Descriptors kept from one message: one more than a message may carry,
 * so that a message with too many is seen to have too many (the rest are
 * disposed of as they are counted). */
#define RECV_FDS (MOBJ_MSG_OBJS_MAX + 1)

/* mobj__os_chan_recv(), and with @any_fd descriptors of every kind are
 * handed over too (mobj__linux_chan_recv_any). */
static int chan_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                     size_t cap, struct mobj__os_obj *objs, unsigned max,
                     unsigned *nobj, bool any_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
		         CMSG_SPACE(SCM_MAX_FD * sizeof(int))];
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
		 * (Descriptors cannot come without a message; disposed anyway.) */
		dispose_fds(fds, nfds < RECV_FDS ? nfds : RECV_FDS);
		return -EPIPE;
	}
	c->sender = sender;
	if (c->learn_pid && sender > 0) {
		c->pid = sender;
		c->learn_pid = false;
	}
	if (other || nfds > max || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n > cap || n > INT32_MAX ||
	    (!any_fd && !all_memory_files(fds, nfds))) {
		dispose_fds(fds, nfds < RECV_FDS ? nfds : RECV_FDS);
		mobj__refused("a message", other ? "an unexpected control message" :
		              nfds > max ? "more descriptors than allowed" :
		              (size_t)n > cap || n > INT32_MAX ||
		              (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ?
		              "longer than any valid message" :
		              "a descriptor that is not a memory file");
		return -EPROTO;
	}
	*nobj = nfds;
	for (i = 0; i < nfds; i++)
		objs[i].fd = fds[i];
	return (int)n;
}

int mobj__os_chan_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                       size_t cap, struct mobj__os_obj *objs, unsigned max,
                       unsigned *nobj)
{
	return chan_recv(c, timeout_ms, buf, cap, objs, max, nobj, false);
}

int mobj__linux_chan_recv_any(struct mobj__os_chan *c, int timeout_ms,
                              void *buf, size_t cap, int *fds, unsigned max,
                              unsigned *nfd)
{
	struct mobj__os_obj objs[1];
	unsigned i;
	int n;

	if (max > 1)
		max = 1;
	n = chan_recv(c, timeout_ms, buf, cap, objs, max, nfd, true);
	for (i = 0; n >= 0 && i < *nfd; i++)
		fds[i] = objs[i].fd;
	return n;
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
