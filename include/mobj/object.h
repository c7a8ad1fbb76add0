/*
 * mobj: memory objects - pages wrapped in a handle that can be mapped,
 * mirrored, frozen read-only and passed to another process.
 *
 * Conventions for every function in every mobj header:
 *  - A function that can fail returns 0 (or a count) on success and a
 *    negative errno value on failure. errno is never read as a result and
 *    never relied on by the caller; results come back through out-parameters.
 *  - Out-parameters are written only on success.
 *  - NULL where a handle is required is -EINVAL, never a crash.
 *  - Handles (struct mobj, struct mobj_chan, ...) are process-local and not
 *    thread-safe: one thread uses a handle at a time. Distinct handles may be
 *    used from distinct threads. Mappings are ordinary memory.
 */
#ifndef MOBJ_OBJECT_H
#define MOBJ_OBJECT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MOBJ_EXPORT __attribute__((visibility("default")))
#else
#define MOBJ_EXPORT
#endif

/** Library version, as numbers and as a string. */
#define MOBJ_VERSION_MAJOR 0
#define MOBJ_VERSION_MINOR 1
#define MOBJ_VERSION_PATCH 0
#define MOBJ_VERSION_STRING "0.1.0"

/** Access bits, as returned by mobj_access(). */
#define MOBJ_READ  1u
#define MOBJ_WRITE 2u

/** Protection for mobj_map() and mobj_map_mirror(). */
#define MOBJ_PROT_READ  1u
#define MOBJ_PROT_WRITE 2u

/** An open handle to a memory object. Opaque and process-local. */
struct mobj;

/**
 * The granule of every size and offset: sizes are rounded up to it, offsets
 * must be multiples of it. 4 KiB on x86_64 Linux; 16 KiB on Apple silicon
 * (and under Rosetta, where the kernel's page is larger than the task's).
 * Never fails.
 */
MOBJ_EXPORT size_t mobj_page_size(void);

/** mobj_create() flag: allocate every page now (see mobj_create()). */
#define MOBJ_CREATE_POPULATE 1u

/** The longest label mobj_create_labeled() takes, in bytes. */
#define MOBJ_LABEL_MAX 63

/**
 * Create a new memory object of at least @p size bytes, readable and writable.
 *
 * @param size  requested size; rounded up to mobj_page_size(). The object's
 *              size is fixed for its life (Linux: sealed against shrink and
 *              grow, so no peer can make a mapping fault).
 * @param flags 0, or MOBJ_CREATE_POPULATE.
 * @param out   the new handle, with access MOBJ_READ | MOBJ_WRITE.
 *
 * Without flags nothing is populated: a many-GiB object costs nothing until
 * touched, and on Linux a memory limit (a memory cgroup, strict overcommit)
 * met at the first touch of a page is an OOM kill or a SIGBUS in whichever
 * process touches it. MOBJ_CREATE_POPULATE allocates every page here
 * (Linux: posix_fallocate on the memfd), so such a limit is -ENOMEM from
 * mobj_create() instead, and no later touch can meet it. It costs the
 * whole size in memory at once and the time to clear it. macOS accepts the
 * flag and allocates nothing: anonymous memory there does not fault at a
 * limit (the compressor and jetsam deal with pressure).
 *
 * @return 0, or
 *  -EINVAL  out is NULL, size is 0, size overflows when rounded or is beyond
 *           what the system can address, or flags has an unknown bit set;
 *  -ENOMEM  out of memory (with MOBJ_CREATE_POPULATE: the object does not
 *           fit under the process's memory limit);
 *  -EMFILE, -ENFILE, -ENOSPC  the system is out of that resource.
 */
MOBJ_EXPORT int mobj_create(size_t size, unsigned flags, struct mobj **out);

/**
 * mobj_create() with a label, so that a person can tell buffers apart.
 *
 * A separate function rather than an options struct: flags already carry
 * every yes/no option and stay extensible, the label is the one option that
 * is a value, and an options struct would be a second way to pass flags.
 *
 * Where the label shows: Linux names the memfd "mobj:LABEL", which
 * /proc/PID/maps and /proc/PID/fd print ("/memfd:mobj:LABEL (deleted)")
 * and `mobj info` lists. macOS shows it nowhere: XNU has no name for a
 * memory object, only an 8-bit tag per mapping (VM_FLAGS_ALIAS_MASK), so
 * the label is checked and dropped there. A label is not part of the
 * object's identity and does not travel with it.
 *
 * @param label NULL (the same as mobj_create()), or 1 to MOBJ_LABEL_MAX
 *              bytes of printable ASCII other than space.
 * @return what mobj_create() returns; -EINVAL also for a bad label.
 */
MOBJ_EXPORT int mobj_create_labeled(size_t size, unsigned flags,
                                    const char *label, struct mobj **out);

/**
 * Freeze @p o and derive a read-only handle to the same pages.
 *
 * The one rule: after mobj_readonly(), no new writable mapping of the object
 * can be made by anyone, through any handle (mobj_map() with
 * MOBJ_PROT_WRITE gives -EPERM on a writable handle, -EACCES on a read-only
 * one); writable mappings made before keep working. Map what you need
 * writable first, then derive the read-only handle. Freezing is idempotent
 * and cannot be undone. On a handle that is already read-only this just
 * duplicates it. "Writable mapping" means one that writes the object: a
 * private copy-on-write mapping (MAP_PRIVATE) writes only its own copies,
 * and a process that kept a writable mapping may still duplicate it
 * (fork(), Linux mremap() with old size 0): no access it did not have.
 *
 * Read-only views (mobj_map() or mobj_map_mirror() with MOBJ_PROT_READ)
 * made before the freeze, through either handle, stay read-only for good:
 * mprotect() cannot make them write the object. (Linux: such a view of an
 * object that is not frozen yet is mapped through a read-only descriptor,
 * so mprotect(PROT_WRITE) on it fails with EACCES; where no such
 * descriptor can be had (no /proc, or a memfd chmod'ed unreadable) it is a
 * private mapping, which sees every write to the object, and where
 * mprotect succeeds but a write only copies the page for this process,
 * never reaching the object.)
 *
 * Linux, what enforces it: the seals F_SEAL_FUTURE_WRITE | F_SEAL_SEAL
 * (Linux 5.1 or later), for every descriptor of the object alike, root
 * included: no writable mmap, no write(2), no ftruncate or hole punch, no
 * seal change. Where /proc is mounted the read-only handle is also the file
 * reopened O_RDONLY (through /proc/self/fd), as defence in depth. Without
 * /proc (a chroot, a sandbox) the read-only handle holds a duplicate of the
 * read-write descriptor, which the seals alone keep read-only; mobj_fd()
 * of it is then open O_RDWR.
 *
 * @return 0, or
 *  -EINVAL  o or out is NULL;
 *  -EMFILE, -ENFILE, -ENOMEM  out of resources (the object may already be
 *           frozen when this happens);
 *  -EPERM   (Linux) the object can never be frozen: it came from another
 *           program that sealed it F_SEAL_SEAL without F_SEAL_FUTURE_WRITE
 *           (the import table in mobj/linux.h);
 *  -EACCES  (Linux) the object came from another program that made its
 *           memfd unreadable (chmod), so it cannot be reopened read-only.
 */
MOBJ_EXPORT int mobj_readonly(struct mobj *o, struct mobj **out);

/**
 * The object's size in bytes; 0 for NULL. A multiple of mobj_page_size()
 * for every object mobj_create() made; an imported object (Linux:
 * mobj_from_fd(), mobj_recv()) reports its real size, which may not be.
 */
MOBJ_EXPORT size_t mobj_size(const struct mobj *o);

/** MOBJ_READ, or MOBJ_READ | MOBJ_WRITE; 0 for NULL. */
MOBJ_EXPORT unsigned mobj_access(const struct mobj *o);

/**
 * Map @p len bytes of @p o starting at @p off, shared with every other
 * mapping of the object. The mapping stays valid after mobj_close().
 *
 * @param off   a multiple of mobj_page_size().
 * @param len   > 0; off + len must not exceed mobj_size(o). Rounded up to
 *              whole pages for the mapping; pass the same len to mobj_unmap().
 *              Of an imported object whose size is not a page multiple, the
 *              last page runs past its end: those bytes read as zeros and
 *              are not part of the object (never a fault; it cannot shrink).
 * @param prot  MOBJ_PROT_READ or MOBJ_PROT_READ | MOBJ_PROT_WRITE. A
 *              read-only view can never be made to write the object, even
 *              after a later freeze (see mobj_readonly()).
 * @param addr  receives the address (page aligned).
 *
 * @return 0, or
 *  -EINVAL  a NULL argument, bad prot, unaligned off, len 0 or a range
 *           outside the object;
 *  -EACCES  writable mapping requested through a read-only handle;
 *  -EPERM   writable mapping requested of a frozen object (see mobj_readonly);
 *  -ENOMEM  no address space;
 *  -EMFILE, -ENFILE  (Linux) a read-only view of an object that is not
 *           frozen needs a descriptor for a moment, and none is left.
 */
MOBJ_EXPORT int mobj_map(struct mobj *o, size_t off, size_t len, unsigned prot,
                         void **addr);

/**
 * Map the whole object twice, back to back: for every i < mobj_size(o),
 * addr[i] and addr[i + size] are the same byte. A record that runs past the
 * end of the first copy continues, contiguous, into the second. Never
 * relies on an address hint: 2 * size is reserved first, then both copies
 * are mapped inside the reservation; on failure nothing stays mapped.
 * Unmap with mobj_unmap(addr, 2 * mobj_size(o)).
 *
 * @return 0, or the errors of mobj_map() (the range being the whole object),
 *  or -EINVAL when mobj_size(o) is not a multiple of mobj_page_size() (an
 *  imported object: the second copy could not start at addr + size).
 */
MOBJ_EXPORT int mobj_map_mirror(struct mobj *o, unsigned prot, void **addr);

/**
 * Unmap what mobj_map() or mobj_map_mirror() mapped.
 *
 * @return 0, or -EINVAL when addr is NULL or not page aligned, or len is 0;
 *         on macOS also when addr is not in a mapping mobj made in this
 *         process (a child of fork() does not inherit them: what is there
 *         now is the child's own, and is left alone).
 */
MOBJ_EXPORT int mobj_unmap(void *addr, size_t len);

/** Close the handle. Mappings stay valid. NULL is a no-op. */
MOBJ_EXPORT void mobj_close(struct mobj *o);

/**
 * A static English description of an error returned by any mobj function.
 * Accepts the negative value as returned (or its absolute value). Never
 * returns NULL; thread-safe. On Darwin, errors translated from a Mach
 * kern_return_t name the original Mach error when the thread's most recent
 * mobj failure was one.
 */
MOBJ_EXPORT const char *mobj_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* MOBJ_OBJECT_H */
