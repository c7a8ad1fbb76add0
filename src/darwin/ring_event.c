/*
 * Darwin pollable event for mobj_ring_fd(): a pipe. set writes one byte,
 * clear drains it, both non-blocking, so the read end polls (and kqueues)
 * readable exactly while the event is set.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../internal.h"

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return mobj__neg_errno();
	return 0;
}

int mobj__os_event_open(struct mobj__os_event *e)
{
	int p[2], err;

	if (pipe(p) < 0)
		return mobj__neg_errno();
	err = set_flags(p[0]);
	if (err == 0)
		err = set_flags(p[1]);
	if (err < 0) {
		close(p[0]);
		close(p[1]);
		return err;
	}
	e->rfd = p[0];
	e->wfd = p[1];
	return 0;
}

void mobj__os_event_set(struct mobj__os_event *e)
{
	char one = 1;
	ssize_t n;

	/* Full pipe (EAGAIN): it is set anyway. */
	n = write(e->wfd, &one, 1);
	(void)n;
}

void mobj__os_event_clear(struct mobj__os_event *e)
{
	char buf[64];

	while (read(e->rfd, buf, sizeof(buf)) > 0)
		;
}

int mobj__os_event_fd(const struct mobj__os_event *e)
{
	return e->rfd;
}

void mobj__os_event_close(struct mobj__os_event *e)
{
	if (e->rfd >= 0)
		close(e->rfd);
	if (e->wfd >= 0)
		close(e->wfd);
	e->rfd = e->wfd = -1;
}
