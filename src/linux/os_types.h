/* Native handles of the Linux backend. */
#ifndef MOBJ_LINUX_OS_TYPES_H
#define MOBJ_LINUX_OS_TYPES_H

struct mobj__os_obj {
	int fd; /* a sealed memfd, close-on-exec */
};

/* One end of a ring: a pidfd on the peer process (-1 when the peer is in
 * this process). The futex words live in the shared control pages. */
struct mobj__os_waker {
	int pidfd;
};

#endif
