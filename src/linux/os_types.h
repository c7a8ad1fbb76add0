/* Native handles of the Linux backend. */
#ifndef MOBJ_LINUX_OS_TYPES_H
#define MOBJ_LINUX_OS_TYPES_H

struct mobj__os_obj {
	int fd; /* a sealed memfd, close-on-exec */
};

#endif
