/*
 * Internals shared by the files of the Linux backend.
 */
#ifndef MOBJ_LINUX_BACKEND_H
#define MOBJ_LINUX_BACKEND_H

#include <errno.h>

/* The failed system call's errno, negated; -EIO should it be 0. */
static inline int mobj__neg_errno(void)
{
	return errno ? -errno : -EIO;
}

#endif
