/*
 * The heap: a jemalloc arena whose memory comes from one memory object.
 *
 * The object is mapped read-write once, at creation. A dedicated arena is
 * created with custom extent hooks; jemalloc asks the hooks for extents
 * (page multiples, with an alignment) and the hooks hand out never-used
 * space of the mapping, bump-pointer style. The hooks refuse (opt out of)
 * every way of giving memory back: dalloc returns "keep it", decommit and
 * purging are not offered. jemalloc then retains every extent it was ever
 * given and reuses, splits and merges it itself (split and merge are allowed:
 * the whole object is one contiguous mapping). So the bump pointer only
 * moves forward, the hooks need no free list, and when both the bump space
 * and jemalloc's retained extents are exhausted, allocation fails: the arena
 * has no other source of memory. Freed memory stays resident in the object,
 * ready for the next message, until the heap is closed.
 *
 * Decay is switched off for the arena (nothing could be purged anyway), and
 * every call passes MALLOCX_TCACHE_NONE, so no thread cache ever holds a
 * pointer into the object and arena destruction at close is always allowed.
 * The arena is created with "experimental.arenas_create_ext" and
 * metadata_use_hooks false where available (jemalloc 5.3), so jemalloc's
 * bookkeeping stays in private memory and a peer sees only the allocations;
 * older jemallocs put it in the object (arenas.create).
 *
 * Validation: jemalloc trusts the pointers it is given, so free/offset check
 * them first against a bitmap with one bit per 8-byte granule (jemalloc's
 * smallest alignment) marking where each live allocation starts - 1/64 of the
 * object, in lazily zero-filled private pages. Bits are set after mallocx and
 * cleared (atomically, so two racing frees cannot both succeed) before
 * dallocx.
 *
 * This file is linked into libmobj-heap together with a private, hidden copy
 * of jemalloc (see src/meson.build): every malloc-family name in this
 * library resolves to that copy, so the heap's own structure is mmapped, not
 * malloced, to keep the private jemalloc's default arenas untouched.
 */
/* MAP_ANON under -std=c11 on glibc; other systems show it anyway. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include <jemalloc/jemalloc.h>

#include "mobj/heap.h"

#define GRANULE_SHIFT 3
#define BITS 64

struct mobj_heap {
	/* First member: jemalloc passes &hooks back to every hook. */
	extent_hooks_t hooks;
	struct mobj *obj;
	unsigned char *base;    /* the read-write mapping of the whole object */
	size_t size;
	atomic_size_t bump;     /* offset of the first never-used byte */
	unsigned arena;
	int flags;              /* MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE */
	size_t region_len;      /* this struct and the bitmap, one mapping */
	_Atomic uint64_t live[]; /* one bit per granule: an allocation starts here */
};

/*
 * Configuration of this library's private jemalloc (the name binds only
 * inside libmobj-heap, so the process's allocator is not affected; a
 * MALLOC_CONF environment variable still applies on top).
 *  - retain:false: ask the hooks for exactly the extent needed instead of
 *    growing geometrically (2, 4, 8 MiB, ...), which in a fixed-size object
 *    strands the tail. Freed extents are still kept (the dalloc hook opts
 *    out) and reused.
 *  - lg_extent_max_active_fit:64: let a free run of any size be split for a
 *    request of any size. The default (1/64) protects address space that can
 *    be mapped again elsewhere; here, refusing to split the only free run
 *    would turn a half-empty object into -ENOMEM.
 */
const char *malloc_conf = "retain:false,lg_extent_max_active_fit:64";

/* jemalloc 5.3's arena_config_t, for "experimental.arenas_create_ext". */
struct arena_config {
	extent_hooks_t *extent_hooks;
	bool metadata_use_hooks;
};

static struct mobj_heap *heap_of(extent_hooks_t *eh)
{
	return (struct mobj_heap *)(void *)eh;
}

static void *ext_alloc(extent_hooks_t *eh, void *new_addr, size_t size,
                       size_t alignment, bool *zero, bool *commit,
                       unsigned arena_ind)
{
	struct mobj_heap *h = heap_of(eh);
	uintptr_t base = (uintptr_t)h->base;
	size_t cur = atomic_load_explicit(&h->bump, memory_order_relaxed);
	size_t start;

	do {
		if (new_addr) {
			/* Growing in place works only at the bump pointer. */
			if ((uintptr_t)new_addr != base + cur)
				return NULL;
			start = cur;
		} else {
			uintptr_t a = (base + cur + alignment - 1) &
			              ~(uintptr_t)(alignment - 1);
			if (a < base + cur)
				return NULL;
			start = (size_t)(a - base);
		}
		if (start > h->size || size > h->size - start)
			return NULL;
	} while (!atomic_compare_exchange_weak_explicit(&h->bump, &cur,
	                                                start + size,
	                                                memory_order_relaxed,
	                                                memory_order_relaxed));
	/* Never handed out before: still the object's zero-filled pages. */
	*zero = true;
	*commit = true;
	return h->base + start;
}

/* Opt out: jemalloc retains the extent and reuses it. */
static bool ext_dalloc(extent_hooks_t *eh, void *addr, size_t size,
                       bool committed, unsigned arena_ind)
{
	return true;
}

/* The mapping goes away as a whole at close. */
static void ext_destroy(extent_hooks_t *eh, void *addr, size_t size,
                        bool committed, unsigned arena_ind)
{
}

/* Always committed: the object's pages are there to be touched. */
static bool ext_commit(extent_hooks_t *eh, void *addr, size_t size,
                       size_t offset, size_t length, unsigned arena_ind)
{
	return false;
}

/* Opt out: the memory stays committed and is retained. */
static bool ext_decommit(extent_hooks_t *eh, void *addr, size_t size,
                         size_t offset, size_t length, unsigned arena_ind)
{
	return true;
}

/* One mapping: any extent may be split, adjacent extents merged. */
static bool ext_split(extent_hooks_t *eh, void *addr, size_t size,
                      size_t size_a, size_t size_b, bool committed,
                      unsigned arena_ind)
{
	return false;
}

static bool ext_merge(extent_hooks_t *eh, void *addr_a, size_t size_a,
                      void *addr_b, size_t size_b, bool committed,
                      unsigned arena_ind)
{
	return false;
}

static const extent_hooks_t hooks_template = {
	.alloc = ext_alloc,
	.dalloc = ext_dalloc,
	.destroy = ext_destroy,
	.commit = ext_commit,
	.decommit = ext_decommit,
	.purge_lazy = NULL,
	.purge_forced = NULL,
	.split = ext_split,
	.merge = ext_merge,
};

/* Offset of @p in the mapping, or -1 when it is outside or unaligned. */
static ptrdiff_t offset_in(const struct mobj_heap *h, const void *p)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)h->base;

	if (a < base || a - base >= h->size ||
	    (a - base) & ((1u << GRANULE_SHIFT) - 1))
		return -1;
	return (ptrdiff_t)(a - base);
}

static uint64_t bit_of(size_t off, size_t *word)
{
	size_t g = off >> GRANULE_SHIFT;

	*word = g / BITS;
	return (uint64_t)1 << (g % BITS);
}

static bool is_live(const struct mobj_heap *h, size_t off)
{
	size_t w;
	uint64_t bit = bit_of(off, &w);

	return atomic_load_explicit(&((struct mobj_heap *)h)->live[w],
	                            memory_order_acquire) & bit;
}

/* Offset of live allocation @p, or -1. */
static ptrdiff_t live_offset(const struct mobj_heap *h, const void *p)
{
	ptrdiff_t off = offset_in(h, p);

	if (off < 0 || !is_live(h, (size_t)off))
		return -1;
	return off;
}

static int arena_ctl(unsigned arena, const char *leaf, void *newp,
                     size_t newlen)
{
	char name[64];
	size_t i = 0, n;
	unsigned v = arena;
	char digits[12];
	int nd = 0;

	/* "arena.<i>.<leaf>", without snprintf's locale and allocation. */
	memcpy(name, "arena.", 6);
	i = 6;
	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (nd)
		name[i++] = digits[--nd];
	name[i++] = '.';
	n = strlen(leaf);
	if (i + n + 1 > sizeof(name))
		return EINVAL;
	memcpy(name + i, leaf, n + 1);
	return mallctl(name, NULL, NULL, newp, newlen);
}

static int create_arena(struct mobj_heap *h)
{
	struct arena_config cfg = { &h->hooks, false };
	extent_hooks_t *hp = &h->hooks;
	ssize_t never = -1;
	unsigned ind;
	size_t sz = sizeof(ind);
	int err;

	err = mallctl("experimental.arenas_create_ext", &ind, &sz, &cfg,
	              sizeof(cfg));
	if (err == ENOENT || err == EINVAL) {
		sz = sizeof(ind);
		err = mallctl("arenas.create", &ind, &sz, &hp, sizeof(hp));
	}
	if (err)
		return -ENOMEM;
	/* Nothing can be purged: don't spend time trying. */
	arena_ctl(ind, "dirty_decay_ms", &never, sizeof(never));
	arena_ctl(ind, "muzzy_decay_ms", &never, sizeof(never));
	h->arena = ind;
	h->flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	return 0;
}

int mobj_heap_create(size_t size, unsigned flags, struct mobj_heap **out)
{
	struct mobj_heap *h;
	struct mobj *obj;
	void *base, *region;
	size_t words, region_len, page;
	int err;

	if (!out || size == 0 || flags != 0)
		return -EINVAL;
	err = mobj_create(size, 0, &obj);
	if (err < 0)
		return err;
	size = mobj_size(obj);
	page = mobj_page_size();
	words = ((size >> GRANULE_SHIFT) + BITS - 1) / BITS;
	region_len = sizeof(*h) + words * sizeof(h->live[0]);
	region_len = (region_len + page - 1) & ~(page - 1);
	region = mmap(NULL, region_len, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANON, -1, 0);
	if (region == MAP_FAILED) {
		err = -ENOMEM;
		goto fail_obj;
	}
	err = mobj_map(obj, 0, size, MOBJ_PROT_READ | MOBJ_PROT_WRITE, &base);
	if (err < 0)
		goto fail_region;
	h = region;
	h->hooks = hooks_template;
	h->obj = obj;
	h->base = base;
	h->size = size;
	atomic_init(&h->bump, 0);
	h->region_len = region_len;
	err = create_arena(h);
	if (err < 0)
		goto fail_map;
	*out = h;
	return 0;

fail_map:
	mobj_unmap(base, size);
fail_region:
	munmap(region, region_len);
fail_obj:
	mobj_close(obj);
	return err;
}

void mobj_heap_close(struct mobj_heap *h)
{
	if (!h)
		return;
	/* If jemalloc refused, the arena may still call our hooks: leak
	 * rather than leave it pointing at unmapped memory. */
	if (arena_ctl(h->arena, "destroy", NULL, 0) != 0)
		return;
	mobj_unmap(h->base, h->size);
	mobj_close(h->obj);
	munmap(h, h->region_len);
}

int mobj_heap_alloc(struct mobj_heap *h, size_t size, void **p)
{
	void *q;
	ptrdiff_t off;
	size_t w;
	uint64_t bit;

	if (!h || !p || size == 0)
		return -EINVAL;
	if (size > h->size)
		return -ENOMEM;
	q = mallocx(size, h->flags);
	if (!q)
		return -ENOMEM;
	off = offset_in(h, q);
	if (off < 0) {
		/* Cannot happen with our hooks; never hand out other memory. */
		dallocx(q, h->flags);
		return -ENOMEM;
	}
	bit = bit_of((size_t)off, &w);
	atomic_fetch_or_explicit(&h->live[w], bit, memory_order_release);
	*p = q;
	return 0;
}

int mobj_heap_free(struct mobj_heap *h, void *p)
{
	ptrdiff_t off;
	size_t w;
	uint64_t bit;

	if (!h || !p)
		return -EINVAL;
	off = offset_in(h, p);
	if (off < 0)
		return -EINVAL;
	bit = bit_of((size_t)off, &w);
	if (!(atomic_fetch_and_explicit(&h->live[w], ~bit,
	                                memory_order_acq_rel) & bit))
		return -EINVAL;
	dallocx(p, h->flags);
	return 0;
}

int mobj_heap_offset(const struct mobj_heap *h, const void *p, size_t *off)
{
	ptrdiff_t o;

	if (!h || !p || !off)
		return -EINVAL;
	o = live_offset(h, p);
	if (o < 0)
		return -EINVAL;
	*off = (size_t)o;
	return 0;
}

int mobj_heap_ptr(const struct mobj_heap *h, size_t off, void **p)
{
	if (!h || !p || off >= h->size || off & ((1u << GRANULE_SHIFT) - 1) ||
	    !is_live(h, off))
		return -EINVAL;
	*p = h->base + off;
	return 0;
}

int mobj_heap_alloc_size(const struct mobj_heap *h, const void *p,
                         size_t *size)
{
	if (!h || !p || !size || live_offset(h, p) < 0)
		return -EINVAL;
	*size = sallocx(p, 0);
	return 0;
}

struct mobj *mobj_heap_object(const struct mobj_heap *h)
{
	return h ? h->obj : NULL;
}

int mobj_heap_at(const void *map, size_t map_len, size_t off, size_t len,
                 const void **p)
{
	if (!map || !p || map_len == 0)
		return -EINVAL;
	if (off > map_len || len > map_len - off)
		return -EPROTO;
	*p = (const unsigned char *)map + off;
	return 0;
}
