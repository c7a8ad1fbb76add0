/*
 * Internals shared by the files of the Linux backend.
 */
#ifndef MOBJ_LINUX_BACKEND_H
#define MOBJ_LINUX_BACKEND_H

#include <errno.h>
#include <stdbool.h>

/* The failed system call's errno, negated; -EIO should it be 0. */
static inline int mobj__neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/* /proc is mounted and numbers processes as this process's PID namespace
 * does (our pid there is getpid()): only then does /proc/PID name the
 * process that has pid PID here. A child namespace often keeps its
 * parent's /proc. */
bool mobj__proc_is_ours(void);

#endif
