/*
 * mobj on Darwin: the native handle is a send right to a Mach memory entry,
 * so an object can also travel over IPC that mobj does not own (XPC, your
 * own Mach messages, a MIG interface).
 */
#ifndef MOBJ_DARWIN_H
#define MOBJ_DARWIN_H

#include <mach/port.h>

#include "object.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The object's memory-entry send right. Owned by the handle: valid until
 * mobj_close(); add a user reference (mach_port_mod_refs(...,
 * MACH_PORT_RIGHT_SEND, 1)) or send it with MACH_MSG_TYPE_COPY_SEND to keep
 * it longer. A read-only handle's port is a child entry with VM_PROT_READ
 * only: the kernel refuses to map it writable.
 *
 * The freeze of mobj_readonly() is kept by the library in this process: a
 * read-write port taken from here and mapped by other means, or held by
 * another process, can still be mapped writable. Hand out the read-only
 * handle's port, never the read-write one, to a peer that must not write.
 *
 * @return the port, or MACH_PORT_NULL for NULL.
 */
MOBJ_EXPORT mach_port_t mobj_port(const struct mobj *o);

/**
 * Wrap a memory-entry send right received from elsewhere, after exactly the
 * checks mobj_recv() applies: @p port must be a send right to a memory
 * entry of exactly @p size bytes (a multiple of mobj_page_size()); declared
 * MOBJ_READ it must fail a read-write probe mapping (a read-only entry);
 * declared MOBJ_READ | MOBJ_WRITE it must pass it. The handle takes its own
 * user reference: the caller keeps and deallocates its own.
 *
 * @param access  MOBJ_READ or MOBJ_READ | MOBJ_WRITE.
 * @return 0, or
 *  -EINVAL  out is NULL, size is 0, or access is not one of the two values;
 *  -EBADF   port is MACH_PORT_NULL, MACH_PORT_DEAD or not a name in this task;
 *  -EPROTO  port is not an acceptable memory entry as declared (wrong size,
 *           wrong access, a dead name, a receive right, another kind of port);
 *  -EOVERFLOW  the port's user-reference count is at its limit;
 *  -ENOMEM  no address space for the probe mapping.
 */
MOBJ_EXPORT int mobj_from_port(mach_port_t port, size_t size, unsigned access,
                               struct mobj **out);

#ifdef __cplusplus
}
#endif

#endif /* MOBJ_DARWIN_H */
