/*
 * Mach errors into errno values: the one place where that happens. The
 * backend returns a negative errno like every other mobj function; the
 * kern_return_t behind it is kept per thread, so mobj_strerror() can still
 * name the original (a KERN_INVALID_RIGHT says more than "Bad handle").
 *
 * The text is only reported while it matches: mobj_strerror(err) names the
 * Mach error only when the calling thread's latest translated failure
 * became exactly err.
 */
#include <errno.h>

#include "../internal.h"
#include "backend.h"
#include "compat.h"

struct kr_map {
	kern_return_t kr;
	int err;
	const char *text;
};

/* Codes a caller can meet, with the errno nearest to what each means for
 * the call that returned it. Context-specific meanings (KERN_INVALID_RIGHT
 * from vm_map means "not writable") are decided at the call site before it
 * gets here. */
static const struct kr_map map[] = {
	{ KERN_INVALID_ADDRESS, EINVAL, "Invalid address (Mach KERN_INVALID_ADDRESS)" },
	{ KERN_PROTECTION_FAILURE, EACCES, "Protection failure (Mach KERN_PROTECTION_FAILURE)" },
	{ KERN_NO_SPACE, ENOMEM, "No address space left (Mach KERN_NO_SPACE)" },
	{ KERN_INVALID_ARGUMENT, EINVAL, "Invalid argument (Mach KERN_INVALID_ARGUMENT)" },
	{ KERN_FAILURE, EIO, "Failure (Mach KERN_FAILURE)" },
	{ KERN_RESOURCE_SHORTAGE, ENOMEM, "Out of kernel resources (Mach KERN_RESOURCE_SHORTAGE)" },
	{ KERN_NO_ACCESS, EACCES, "Access denied (Mach KERN_NO_ACCESS)" },
	{ KERN_MEMORY_FAILURE, EIO, "Memory failure (Mach KERN_MEMORY_FAILURE)" },
	{ KERN_MEMORY_ERROR, EIO, "Memory error (Mach KERN_MEMORY_ERROR)" },
	{ KERN_NAME_EXISTS, EEXIST, "Name exists (Mach KERN_NAME_EXISTS)" },
	{ KERN_ABORTED, EINTR, "Interrupted (Mach KERN_ABORTED)" },
	{ KERN_INVALID_NAME, EBADF, "Not a port name in this task (Mach KERN_INVALID_NAME)" },
	{ KERN_INVALID_TASK, EINVAL, "Invalid task (Mach KERN_INVALID_TASK)" },
	{ KERN_INVALID_RIGHT, EBADF, "The port name does not hold that right (Mach KERN_INVALID_RIGHT)" },
	{ KERN_INVALID_VALUE, EINVAL, "Invalid value (Mach KERN_INVALID_VALUE)" },
	{ KERN_UREFS_OVERFLOW, EOVERFLOW, "Too many references to one port (Mach KERN_UREFS_OVERFLOW)" },
	{ KERN_INVALID_CAPABILITY, EBADF, "Invalid capability (Mach KERN_INVALID_CAPABILITY)" },
	{ KERN_RIGHT_EXISTS, EEXIST, "Right exists (Mach KERN_RIGHT_EXISTS)" },
	{ KERN_INVALID_OBJECT, EPROTO, "Not a memory object (Mach KERN_INVALID_OBJECT)" },
	{ KERN_TERMINATED, EPIPE, "The peer is gone (Mach KERN_TERMINATED)" },
	{ KERN_SEMAPHORE_DESTROYED, EPIPE, "The peer is gone (Mach KERN_SEMAPHORE_DESTROYED)" },
	{ KERN_NOT_SUPPORTED, ENOTSUP, "Not supported (Mach KERN_NOT_SUPPORTED)" },
	{ KERN_OPERATION_TIMED_OUT, ETIMEDOUT, "Timed out (Mach KERN_OPERATION_TIMED_OUT)" },
	{ KERN_DENIED, EACCES, "Denied (Mach KERN_DENIED)" },
	{ MACH_SEND_INVALID_DEST, EPIPE, "The peer is gone (Mach MACH_SEND_INVALID_DEST)" },
	{ MACH_SEND_TIMED_OUT, ETIMEDOUT, "Timed out (Mach MACH_SEND_TIMED_OUT)" },
	{ MACH_SEND_INTERRUPTED, EINTR, "Interrupted (Mach MACH_SEND_INTERRUPTED)" },
	{ MACH_SEND_NO_BUFFER, ENOBUFS, "No kernel buffer (Mach MACH_SEND_NO_BUFFER)" },
	{ MACH_SEND_TOO_LARGE, EMSGSIZE, "Message too large (Mach MACH_SEND_TOO_LARGE)" },
	{ MACH_SEND_INVALID_RIGHT, EBADF, "Bad port in message (Mach MACH_SEND_INVALID_RIGHT)" },
	{ MACH_SEND_INVALID_MEMORY, EFAULT, "Bad message memory (Mach MACH_SEND_INVALID_MEMORY)" },
	{ MACH_RCV_TIMED_OUT, ETIMEDOUT, "Timed out (Mach MACH_RCV_TIMED_OUT)" },
	{ MACH_RCV_INTERRUPTED, EINTR, "Interrupted (Mach MACH_RCV_INTERRUPTED)" },
	{ MACH_RCV_TOO_LARGE, EMSGSIZE, "Message too large (Mach MACH_RCV_TOO_LARGE)" },
	{ MACH_RCV_PORT_DIED, EPIPE, "The port died (Mach MACH_RCV_PORT_DIED)" },
	{ MACH_RCV_PORT_CHANGED, EBADF, "The port moved into a set (Mach MACH_RCV_PORT_CHANGED)" },
	{ MACH_RCV_INVALID_NAME, EBADF, "Bad receive port (Mach MACH_RCV_INVALID_NAME)" },
	{ MACH_RCV_HEADER_ERROR, EPROTO, "Bad received message (Mach MACH_RCV_HEADER_ERROR)" },
	{ MACH_RCV_BODY_ERROR, EPROTO, "Bad received message (Mach MACH_RCV_BODY_ERROR)" },
	{ BOOTSTRAP_NOT_PRIVILEGED, EACCES, "Not allowed to register a name (bootstrap: sandboxed?)" },
	{ BOOTSTRAP_NAME_IN_USE, EADDRINUSE, "Name already in use (bootstrap)" },
	{ BOOTSTRAP_UNKNOWN_SERVICE, ECONNREFUSED, "Nobody is listening on that name (bootstrap)" },
	{ BOOTSTRAP_SERVICE_ACTIVE, EADDRINUSE, "Name already in use and active (bootstrap)" },
	{ BOOTSTRAP_BAD_COUNT, EINVAL, "Bad count (bootstrap)" },
	{ BOOTSTRAP_NO_MEMORY, ENOMEM, "Out of memory (bootstrap)" },
	{ BOOTSTRAP_NO_CHILDREN, ENOENT, "No such service (bootstrap)" },
};

static _Thread_local const struct kr_map *last;

static const struct kr_map unknown = { KERN_FAILURE, EIO, NULL };

int mobj__kr(kern_return_t kr)
{
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].kr == kr) {
			last = &map[i];
			return -map[i].err;
		}
	}
	last = &unknown;
	return -EIO;
}

const char *mobj__os_strerror(int err)
{
	const struct kr_map *m = last;

	if (m && m->err == err)
		return m->text;
	return NULL;
}
