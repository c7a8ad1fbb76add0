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

int mobj__os_pevent_adopt(struct mobj__os_pevent *e, struct mobj__os_obj *o)
{
	mobj__os_release(o);
	e->fd = -1;
	return -EPROTO;
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

int mobj__os_waker_watch(struct mobj__os_waker *w, int pid)
{
	(void)w;
	(void)pid;
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
