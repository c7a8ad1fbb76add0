/*
 * Darwin has no peer event yet: the channel carries Mach ports, and moving
 * a socket across would take fileport_makeport()/fileport_makefd() (XNU
 * bsd/kern/kern_descrip.c: sys_fileport_makeport, whose fg_sendable()
 * admits DTYPE_SOCKET), not wired up here. So
 * mobj_ring_fd() keeps its helper thread on Darwin (ring_fd.c).
 */
#include <errno.h>

#include "../internal.h"

int mobj__os_pevent_pair(struct mobj__os_pevent *a, struct mobj__os_pevent *b)
{
	a->fd = b->fd = -1;
	return -ENOTSUP;
}

int mobj__os_pevent_split(struct mobj__os_pevent *mine,
                          struct mobj__os_obj *theirs)
{
	(void)theirs;
	mine->fd = -1;
	return -ENOTSUP;
}

/* The producer sends the event message with no handle here: receive it as
 * the channel receives anything, allowing none. */
int mobj__os_pevent_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                         size_t len, struct mobj__os_pevent *e, unsigned *nfd)
{
	e->fd = -1;
	return mobj__os_chan_recv(c, timeout_ms, buf, len, NULL, 0, nfd);
}

void mobj__os_pevent_signal(struct mobj__os_pevent *e)
{
	(void)e;
}

int mobj__os_pevent_drain(struct mobj__os_pevent *e)
{
	(void)e;
	return 0;
}

int mobj__os_pevent_fd(const struct mobj__os_pevent *e)
{
	return e->fd;
}

void mobj__os_pevent_close(struct mobj__os_pevent *e)
{
	e->fd = -1;
}

void mobj__os_pevent_drop(struct mobj__os_pevent *e)
{
	e->fd = -1;
}

/* The user's IPC cannot carry the semaphores the Darwin waker needs. */
int mobj__os_waker_self(int *fd)
{
	*fd = -1;
	return -ENOTSUP;
}

int mobj__os_waker_adopt(struct mobj__os_waker *w, int pid, int fd)
{
	(void)w;
	(void)pid;
	(void)fd;
	return -ENOTSUP;
}

int mobj__os_pevent_split_fd(struct mobj__os_pevent *mine, int *theirs)
{
	mine->fd = *theirs = -1;
	return -ENOTSUP;
}

int mobj__os_pevent_adopt_fd(struct mobj__os_pevent *e, int fd)
{
	(void)fd;
	e->fd = -1;
	return -ENOTSUP;
}
