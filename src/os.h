/*
 * The backend contract. Every function here is implemented once per system,
 * in src/<system>/ (picked by src/meson.build from host_machine.system()).
 * The portable core (the .c files in src/) calls only these and never tests the system.
 *
 * Conventions: 0 or a negative errno, out-parameters written only on
 * success, errno never part of the result. Arguments have been validated by
 * the core (NULLs, ranges, alignment, access bits) unless a comment says
 * otherwise.
 *
 * os_types.h comes from the backend folder and defines the native handles:
 * struct mobj__os_obj (Linux: a memfd; Darwin: a memory-entry send right).
 */
#ifndef MOBJ_OS_H
#define MOBJ_OS_H

#include <stdbool.h>
#include <stddef.h>

#include "os_types.h"

/* ---- Objects and mappings ------------------------------------------------ */

/* The granule of sizes and offsets; constant for the process's life. */
size_t mobj__os_page_size(void);

/* A new read-write object of exactly @size bytes (already page rounded,
 * nonzero), fixed in size for its life. */
int mobj__os_create(size_t size, struct mobj__os_obj *out);

/* Freeze the object behind @o (idempotent; afterwards no new writable
 * mapping can be made through any handle) and return a new read-only handle
 * @ro to it. @o may itself be read-only: @ro is then a duplicate. */
int mobj__os_freeze(struct mobj__os_obj *o, size_t size, bool o_writable,
                    struct mobj__os_obj *ro);

/* Release the handle. */
void mobj__os_release(struct mobj__os_obj *o);

/* Map [off, off + len) of @o. @len is page rounded. @fixed NULL: anywhere;
 * otherwise exactly at @fixed, atomically replacing what is there (a
 * reservation made by mobj__os_reserve). -EPERM when @write and the object
 * is frozen; -EACCES when @write and the handle cannot write. */
int mobj__os_map(const struct mobj__os_obj *o, size_t off, size_t len,
                 bool write, void *fixed, void **addr);

/* Reserve @len bytes of inaccessible address space. */
int mobj__os_reserve(size_t len, void **addr);

/* Unmap [addr, addr + len) (len page rounded): a mapping or reservation. */
int mobj__os_unmap(void *addr, size_t len);

/* Validate a native handle from outside the library (a peer, a caller of
 * mobj_from_fd/mobj_from_port) against what the sender declared, and return
 * the library's own reference to it in @out (a duplicate; for a declared
 * read-only object, a read-only one). -EPROTO when it is not an acceptable
 * object of exactly @size bytes (a page multiple) with @access; -EBADF when
 * it is not an open handle at all. Does not consume @in. */
int mobj__os_adopt(const struct mobj__os_obj *in, size_t size, unsigned access,
                   struct mobj__os_obj *out);

/* Backend-specific text for @err when the calling thread's latest failure
 * carried more detail (a Mach kern_return_t), else NULL. */
const char *mobj__os_strerror(int err);

/* ---- Channels ------------------------------------------------------------ */

/* ---- Ring waiting -------------------------------------------------------- */

#endif /* MOBJ_OS_H */
