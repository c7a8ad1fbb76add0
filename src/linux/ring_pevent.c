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
 * block. Here each side holds only its own socket; the two sockets are
 * distinct descriptions, and every send and recv is MSG_DONTWAIT, which no
 * flag on the description can override. So neither side can make the
 * other block: a flood only makes our descriptor poll readable spuriously
 * (allowed), and what we receive is drained, never interpreted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"

static void say(int fd)
{
	char x = 0;
	ssize_t n;

	/* EAGAIN: the peer's queue is full, so it polls readable already. */
	n = send(fd, &x, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)n;
}

int mobj__os_pevent_pair(struct mobj__os_pevent *a, struct mobj__os_pevent *b)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	               sv) < 0)
		return mobj__neg_errno();
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
	int type = 0, domain = 0;
	socklen_t len = sizeof(type), dlen = sizeof(domain);
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0 ||
	    type != SOCK_STREAM || domain != AF_UNIX) {
		close(fd);
		return -EPROTO;
	}
	e->fd = fd;
	return 0;
}

int mobj__os_pevent_adopt(struct mobj__os_pevent *e, struct mobj__os_obj *o)
{
	int fd = o->fd;

	o->fd = -1;
	return mobj__os_pevent_adopt_fd(e, fd);
}

void mobj__os_pevent_signal(struct mobj__os_pevent *e)
{
	say(e->fd);
}

int mobj__os_pevent_drain(struct mobj__os_pevent *e)
{
	char buf[64];
	ssize_t n;

	/* Bounded: a peer that floods us makes this loop at most a socket
	 * buffer long, and we return as soon as the queue is empty. */
	for (int i = 0; i < 4096; i++) {
		n = recv(e->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return errno == EINTR ? 0 : (errno == EAGAIN ? 0 : -EPIPE);
	}
	return 0;
}

int mobj__os_pevent_fd(const struct mobj__os_pevent *e)
{
	return e->fd;
}

void mobj__os_pevent_close(struct mobj__os_pevent *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}
