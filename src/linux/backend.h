/*
 * Internals shared by the files of the Linux backend.
 */
#ifndef MOBJ_LINUX_BACKEND_H
#define MOBJ_LINUX_BACKEND_H

#include <errno.h>

/* The failed system call's errno, negated; -EIO should it be 0. */
static inline int mobj__neg_errno(void)
{
	int e = errno, r = e > 0 ? -e : -EIO;

	/* Callers rely on a negative result; the static analyzer
	 * (tools/analyze.sh) cannot derive -e < 0 from e > 0, so the result
	 * says so in a form it can follow. */
	return r < 0 ? r : -EIO;
}

#endif
