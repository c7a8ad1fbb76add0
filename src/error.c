/*
 * Error text. A table rather than strerror(): strerror is not thread-safe,
 * strerror_r has two incompatible signatures, and the text should describe
 * what the error means for mobj, identically on every system.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct error_text {
	int err;
	const char *text;
};

static const struct error_text texts[] = {
	{ 0, "Success" },
	{ EINVAL, "Invalid argument" },
	{ ENOMEM, "Out of memory or address space" },
	{ EACCES, "Permission denied: the handle is read-only" },
	{ EPERM, "Operation not permitted: the object is frozen read-only" },
	{ EPROTO, "Protocol error: malformed or unacceptable message or object" },
	{ EPIPE, "The peer is gone" },
	{ ETIMEDOUT, "Timed out" },
	{ EAGAIN, "Would block" },
	{ EMSGSIZE, "Message too long for the buffer or the limit" },
	{ EBADF, "Bad handle" },
	{ EADDRINUSE, "Name already in use" },
	{ ECONNREFUSED, "Nobody is listening on that name" },
	{ ENOENT, "No such file or name" },
	{ ENOSYS, "Not supported by this system" },
	{ ENOTSUP, "Not supported" },
	{ EMFILE, "Too many open descriptors in this process" },
	{ ENFILE, "Too many open descriptors in the system" },
	{ ENOSPC, "No space left" },
	{ ENOBUFS, "No buffer space available" },
	{ ENAMETOOLONG, "Name too long" },
	{ EINTR, "Interrupted" },
	{ EFAULT, "Bad address" },
	{ EEXIST, "Already exists" },
	{ EOVERFLOW, "Value too large" },
	{ EIO, "Input/output error" },
	{ ECONNRESET, "Connection reset by peer" },
	{ ENOTCONN, "Not connected: the ring has no consumer yet" },
};

const char *mobj_strerror(int err)
{
	const char *os;
	size_t i;

	if (err < 0)
		err = -err;
	os = mobj__os_strerror(err);
	if (os)
		return os;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].err == err)
			return texts[i].text;
	return "Unknown error";
}

/* getenv at each refusal rather than once: refusals are rare, and a test
 * (or a person in a debugger) may set the variable after start-up. */
void mobj__refused(const char *what, const char *why)
{
	const char *v = getenv("MOBJ_DEBUG");

	if (!v || v[0] == '\0' || strcmp(v, "0") == 0)
		return;
	fprintf(stderr, "mobj: refused %s: %s\n", what, why);
}
