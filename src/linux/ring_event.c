/*
 * Linux pollable event for mobj_ring_fd(): an eventfd, non-blocking and
 * close-on-exec; it polls readable while its counter is nonzero.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"

int mobj__os_event_open(struct mobj__os_event *e)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		return mobj__neg_errno();
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
