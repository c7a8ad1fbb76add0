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
	int e = errno, r = e > 0 ? -e : -EIO;

	/* Callers rely on a negative result; the static analyzer
	 * (tools/analyze.sh) cannot derive -e < 0 from e > 0, so the result
	 * says so in a form it can follow. */
	return r < 0 ? r : -EIO;
}

/* /proc is mounted and numbers processes as this process's PID namespace
 * does (our pid there is getpid()): only then does /proc/PID name the
 * process that has pid PID here. A child namespace often keeps its
 * parent's /proc. */
bool mobj__proc_is_ours(void);

struct mobj__os_chan;

/* The listener a service manager passed for @name (systemd socket
 * activation, activation.c): 0 with @out set; -ENOENT when none was passed
 * under that name (bind one); -EPROTO when what was passed is not a
 * listening SOCK_SEQPACKET socket bound to @name. */
int mobj__linux_activated(const char *name, struct mobj__os_chan *out);

#endif
