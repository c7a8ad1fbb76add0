/*
 * Linux ring set-up over IPC the user owns (mobj_ring_export(), the core's
 * ring_xfer.c): nothing of the system's own. The objects, the peer event's
 * descriptor (event_fd) and the meta bytes, which the core handles, are all
 * a Linux ring needs; the peer's process is watched by its pid
 * (mobj__os_waker_watch, ring_wait.c). The offer tokens of a 1:N ring
 * come from getrandom().
 */
#include <errno.h>
#include <sys/random.h>

#include "../internal.h"

int mobj__os_xfer_put(struct mobj__os_waker *w, struct mobj__os_pevent *e,
                      struct mobj_ring_xfer *x)
{
	(void)w;
	(void)e;
	(void)x;
	return 0;
}

int mobj__os_xfer_take(struct mobj__os_waker *w, struct mobj__os_pevent *e,
                       const struct mobj_ring_xfer *x)
{
	(void)w;
	(void)e;
	(void)x;
	return 0;
}

void mobj__os_xfer_drop(struct mobj__os_waker *w, struct mobj__os_pevent *e)
{
	(void)w;
	(void)e;
}

int mobj__os_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mobj__neg_errno();
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
