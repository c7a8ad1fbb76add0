/*
 * mobj heap: malloc-style allocation inside one memory object, so that a
 * peer which maps the object can read the allocations in place, found by
 * offset. The way to pass large, variable-size messages with no copy:
 *
 *   producer                              consumer (read-only mapping)
 *   mobj_heap_alloc(h, n, &p)
 *   fill p[0..n)
 *   mobj_heap_offset(h, p, &off)
 *   send (off, n) through a ring  ---->   mobj_heap_at(base, size, off, n, &q)
 *                                         read q[0..n) in place
 *   mobj_heap_ptr(h, off, &p)     <----   send off back through a ring
 *   mobj_heap_free(h, p)
 *
 * Set-up: the producer creates the heap, derives a read-only handle with
 * mobj_readonly(mobj_heap_object(h), &ro) and sends it over a channel; the
 * consumer maps the whole object with mobj_map(ro, 0, mobj_size(ro),
 * MOBJ_PROT_READ, &base). The heap's own writable mapping was made at
 * creation, so freezing the object does not stop the heap.
 *
 * What a peer may do: read through its read-only mapping, at offsets it was
 * given, after checking them with mobj_heap_at() (it must not trust an offset
 * it received any more than any other input). It cannot write (the kernel
 * refuses every writable mapping of a frozen object) and it never frees: only
 * the heap's owner frees, usually when the peer hands the offset back.
 * Memory freed by the owner may be reused at once, so the owner frees only
 * once the peer says it is done. The peer can read the whole object: every
 * allocation, live or freed, not only those it was sent. Put nothing in a
 * heap that its peer must not see (one heap per peer, if peers differ).
 * A complete two-process program: tools/examples/heap-example.c.
 *
 * When the object is full, allocation fails with -ENOMEM. The heap never
 * takes memory from anywhere but its object: no fallback to the process's
 * heap, no growth. The object holds allocations only: the allocator's
 * bookkeeping lives in private memory, except with a jemalloc older than
 * 5.3 (see mobj_heap_create()).
 *
 * Implementation and what linking this library brings into the process:
 * libmobj-heap (pkg-config mobj-heap; separate from libmobj, which never
 * depends on jemalloc) contains a private copy of jemalloc (Debian's
 * libjemalloc_pic.a), linked with every jemalloc symbol hidden. The
 * process's malloc, free, operator new and friends stay whatever they were
 * (normally glibc's): this library never replaces them, and its jemalloc
 * serves only mobj heaps, through a dedicated arena each. (Linking Debian's
 * shared libjemalloc.so.2 instead would not be safe: it exports malloc and
 * friends, and whether they then replace the process's allocator depends on
 * the order in which libraries are loaded: a program that links
 * -ljemalloc itself, or loads it early, gets jemalloc's malloc.)
 * Consequences:
 *  - the private jemalloc reads the MALLOC_CONF environment variable like
 *    any jemalloc (its own defaults: "retain:false,
 *    lg_extent_max_active_fit:64", which a heap relies on to reuse space);
 *  - it uses 2.6 KiB of initial-exec thread-local storage. Linking the
 *    library (or LD_PRELOAD) is fine; loading it late with dlopen() fails
 *    with glibc's default reserve ("cannot allocate memory in static TLS
 *    block") unless the process was started with
 *    GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096 or more;
 *  - it initialises when the library is loaded (an ELF constructor) and
 *    maps some private metadata then, even in a process that never creates
 *    a heap: link libmobj-heap only into programs that use it.
 *
 * Thread safety: unlike other mobj handles, a heap may be used by several
 * threads at once for mobj_heap_alloc(), mobj_heap_free(), mobj_heap_offset(),
 * mobj_heap_ptr() and mobj_heap_alloc_size(); mobj_heap_close() must not run
 * concurrently with anything else on the same heap.
 */
#ifndef MOBJ_HEAP_H
#define MOBJ_HEAP_H

#include <stddef.h>

#include "object.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A heap inside one memory object. Opaque and process-local. */
struct mobj_heap;

/**
 * Create a heap of @p size bytes: a new memory object of that size (rounded
 * up to mobj_page_size()), mapped read-write once, and a jemalloc arena
 * whose memory comes only from it.
 *
 * Usable space: a little less than the object, because the allocator
 * carves it into page-aligned runs and size classes (jemalloc rounds small
 * requests up to its size classes, and large ones up to whole pages plus,
 * with its default cache-oblivious layout, one extra page). Measured with
 * jemalloc 5.3 on x86_64, a 64 MiB heap holds 4194304 allocations of 16
 * bytes (all of it), 599040 of 100 bytes (89%: size class 112), 963 of
 * 64 KiB (94%) or 63 of 1 MiB (98%). With a jemalloc
 * without "experimental.arenas_create_ext" (older than 5.3), the arena's
 * bookkeeping also lives in the object, costing at least 2 MiB of it.
 *
 * @param size   bytes of the object (rounded up to mobj_page_size()).
 * @param flags  must be 0.
 * @param out    the new heap.
 * @return 0, or
 *  -EINVAL  out is NULL, size is 0 or too large, flags has any bit set;
 *  -ENOMEM  no memory or address space, or the allocator has no free arena
 *           slot;
 *  -EMFILE, -ENFILE, -ENOSPC  as mobj_create().
 */
MOBJ_EXPORT int mobj_heap_create(size_t size, unsigned flags,
                                 struct mobj_heap **out);

/**
 * Destroy the heap: every allocation is released at once and the heap's
 * mapping is removed. Peers' mappings of the object stay valid (they keep
 * the object alive). NULL is a no-op.
 */
MOBJ_EXPORT void mobj_heap_close(struct mobj_heap *h);

/**
 * Allocate @p size bytes inside the heap's object, aligned as malloc()
 * would align them (16 bytes from 16 bytes up; 8 for smaller requests).
 * Contents are unspecified (fresh pages read as zero, reused memory holds
 * what it held).
 *
 * @return 0 with *p set, or
 *  -EINVAL  h or p is NULL, or size is 0;
 *  -ENOMEM  the object has no free run large enough (it is full, or too
 *           fragmented, or size is larger than the object). Nothing is ever
 *           taken from outside the object.
 */
MOBJ_EXPORT int mobj_heap_alloc(struct mobj_heap *h, size_t size, void **p);

/**
 * Free an allocation of this heap.
 *
 * The heap keeps one bit per 8-byte granule of its object marking where a
 * live allocation starts, so it rejects, rather than corrupts itself on:
 * a pointer outside the heap's mapping, a pointer inside it that does not
 * start a live allocation (interior pointers), and a second free of the same
 * pointer - as long as no new allocation has been made at that address in
 * between (then the second free releases the new allocation; no allocator
 * can tell those apart).
 *
 * @return 0, or -EINVAL (h or p NULL, p not a live allocation of h).
 */
MOBJ_EXPORT int mobj_heap_free(struct mobj_heap *h, void *p);

/**
 * The offset of allocation @p p from the start of the heap's object: the
 * number to send to a peer, which finds the same bytes at that offset of its
 * own mapping of the object.
 *
 * @return 0 with *off set, or -EINVAL (a NULL argument, or p is not a live
 *         allocation of h).
 */
MOBJ_EXPORT int mobj_heap_offset(const struct mobj_heap *h, const void *p,
                                 size_t *off);

/**
 * The owner's pointer for the live allocation at offset @p off, for an
 * offset handed back by a peer (to free it). The offset is checked: it must
 * be the start of a live allocation of this heap.
 *
 * @return 0 with *p set, or -EINVAL (a NULL argument, or off is not the
 *         start of a live allocation).
 */
MOBJ_EXPORT int mobj_heap_ptr(const struct mobj_heap *h, size_t off, void **p);

/**
 * The usable size of allocation @p p (at least what was asked for; the
 * allocator's size class).
 *
 * @return 0 with *size set, or -EINVAL (a NULL argument, or p is not a live
 *         allocation of h).
 */
MOBJ_EXPORT int mobj_heap_alloc_size(const struct mobj_heap *h, const void *p,
                                     size_t *size);

/**
 * The heap's memory object, owned by the heap (valid until
 * mobj_heap_close(); do not close it). Share it read-only:
 * mobj_readonly(mobj_heap_object(h), &ro), then send ro. Freezing the
 * object is expected and does not disturb the heap. Do not map it writable
 * yourself: writes outside live allocations corrupt what the peer reads.
 *
 * @return the object, or NULL for NULL.
 */
MOBJ_EXPORT struct mobj *mobj_heap_object(const struct mobj_heap *h);

/**
 * For a peer: the address of [@p off, @p off + @p len) inside its own
 * mapping of the heap's object, which starts at @p map and is @p map_len
 * bytes long (normally the whole object). Pure and bounds-checked: nothing
 * is read, the range is only checked to lie inside the mapping, so an offset
 * from an untrusted sender can never make the reader touch memory outside
 * it. It cannot check that the range is a live allocation: only the owner
 * knows that.
 *
 * @return 0 with *p set, or
 *  -EINVAL  map or p is NULL, or map_len is 0;
 *  -EPROTO  the range does not lie inside the mapping (len 0 is accepted at
 *           any off <= map_len).
 */
MOBJ_EXPORT int mobj_heap_at(const void *map, size_t map_len, size_t off,
                             size_t len, const void **p);

#ifdef __cplusplus
}
#endif

#endif /* MOBJ_HEAP_H */
