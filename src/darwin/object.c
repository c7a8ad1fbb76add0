/*
 * Darwin objects: a memory object is a named memory entry
 * (mach_make_memory_entry_64 with MAP_MEM_NAMED_CREATE), held as a send
 * right, mapped with vm_map(copy=FALSE, VM_INHERIT_NONE) and passed in Mach
 * messages. Our entries never change size and are neither purgeable nor
 * backed by a file, so no fault in them can fail. A received entry may be
 * either (a sender can make it purgeable and empty it, or share a file
 * mapping and truncate the file): every later fault in the receiver would
 * be a memory error, SIGBUS (XNU vm_object_purgable_control,
 * vm_fault_check, vnode_pagein). Receipt refuses both (import_dup).
 *
 * Read-only handles are child entries made with VM_PROT_READ only: the
 * kernel refuses to map them writable (KERN_INVALID_RIGHT) and refuses
 * vm_protect above their maximum protection, so a peer holding one can
 * never write the pages. (It can get a private copy-on-write copy with
 * copy=TRUE; that is never shared, so it is not a leak.)
 *
 * The freeze is the library's. XNU cannot lower the protection of an entry
 * that exists, so "after mobj_readonly() no new writable mapping" is
 * enforced by recording the read-write entry's port name as frozen in this
 * process: every later writable mobj_map() of it, through any handle of this
 * process (a task holds one name per port, so every handle to the entry
 * shares the name), fails with -EPERM. The set holds a reference of its own
 * to each name, so a frozen name can never come back as another right's.
 * Its limits, stated plainly:
 *  - a read-write send right held outside this process (sent before the
 *    freeze, or taken with mobj_port() and passed by other means) can still
 *    be mapped writable by its holder;
 *  - code in this process that calls vm_map on the raw right from
 *    mobj_port() itself is not stopped.
 * The channel refuses to send a frozen read-write entry (-EPERM), since the
 * receiver could map it writable: send the read-only handle.
 * Read-only handles handed out are safe regardless: the kernel enforces
 * them.
 *
 * Chromium's way was considered and not taken: at ConvertToReadOnly
 * (base/memory/platform_shared_memory_region_mac.cc) it replaces the
 * region's port with a read-only child, so nothing sent or mapped through
 * that region afterwards can write. That works there because a Chromium
 * region is move-only, the one owner of its port. Here it would not close
 * the gap: every mobj handle to the entry in this process shares one port
 * name (mobj_from_port, mobj_recv of the same entry, duplicates), so
 * swapping one handle's port leaves the others read-write and the set is
 * needed all the same; the handle would change identity under its user
 * (mobj_port() of a frozen object would name another port) while the core
 * still calls it read-write, so sending it would declare an access the
 * entry no longer has; and rights already sent stay writable either way
 * (XNU has no revocation of a send right). The set, the channel's -EPERM
 * and the kernel-enforced read-only handles give the same guarantee for
 * everything the library does, with one rule for both systems.
 *
 * Page size: the larger of vm_page_size and vm_kernel_page_size, so a 4 KiB
 * task under Rosetta (16 KiB kernel pages) agrees with a native arm64 peer
 * and never asks the kernel for a range it would round differently; every
 * mapping asks for that alignment (the mask of vm_map).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mach/mach.h>
#include <mach/vm_page_size.h>

#include "../internal.h"
#include "backend.h"
#include "mobj/darwin.h"

size_t mobj__os_page_size(void)
{
	vm_size_t task = vm_page_size, kernel = vm_kernel_page_size;

	return (size_t)(kernel > task ? kernel : task);
}

uint64_t mobj__os_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- The frozen set: port names of read-write entries frozen here ------- */

static pthread_mutex_t frozen_lock = PTHREAD_MUTEX_INITIALIZER;
static mach_port_name_t *frozen;
static size_t frozen_len, frozen_cap;

/* Index of @name in the set, or frozen_len. Called with the lock held. */
static size_t frozen_find(mach_port_name_t name)
{
	size_t i;

	for (i = 0; i < frozen_len; i++)
		if (frozen[i] == name)
			break;
	return i;
}

/* fork() copies the set but not the ports: in the child the names mean
 * nothing (or, later, other ports), so the child starts with an empty set.
 * The lock is held across the fork so the child's copy is consistent. */
static void frozen_prepare(void)
{
	pthread_mutex_lock(&frozen_lock);
}

static void frozen_parent(void)
{
	pthread_mutex_unlock(&frozen_lock);
}

/* Each child of fork() starts a new generation (backend.h). */
static unsigned fork_gen;

static void frozen_child(void)
{
	frozen_len = 0;
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&frozen_lock);
}

static pthread_once_t frozen_once = PTHREAD_ONCE_INIT;
static int frozen_atfork_err;

static void frozen_init(void)
{
	frozen_atfork_err = pthread_atfork(frozen_prepare, frozen_parent,
	                                   frozen_child);
}

/* Called as each handle is made, so the fork handler is in place before
 * any fork that could copy a handle. */
unsigned mobj__darwin_gen(void)
{
	pthread_once(&frozen_once, frozen_init);
	return __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
}

bool mobj__darwin_inherited(unsigned gen)
{
	return gen != __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
}

/* Drop the names only the set still holds (user references count 1: its
 * own), with the lock held. */
static void frozen_sweep(void)
{
	mach_port_urefs_t refs;
	size_t i = 0;

	while (i < frozen_len) {
		refs = 0;
		if (mach_port_get_refs(mach_task_self(), frozen[i],
		                       MACH_PORT_RIGHT_SEND, &refs) == KERN_SUCCESS &&
		    refs > 1) {
			i++;
			continue;
		}
		if (refs == 1)
			mach_port_deallocate(mach_task_self(), frozen[i]);
		frozen[i] = frozen[--frozen_len];
	}
}

static int frozen_add(mach_port_name_t name)
{
	mach_port_name_t *grown;
	kern_return_t kr;
	int err = 0;

	pthread_once(&frozen_once, frozen_init);
	if (frozen_atfork_err)
		return -frozen_atfork_err;
	pthread_mutex_lock(&frozen_lock);
	frozen_sweep();
	if (frozen_find(name) == frozen_len) {
		if (frozen_len == frozen_cap) {
			size_t cap = frozen_cap ? 2 * frozen_cap : 16;

			grown = realloc(frozen, cap * sizeof(*frozen));
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			frozen = grown;
			frozen_cap = cap;
		}
		/* The set's own reference: while the name is in the set it
		 * names this entry, whatever happens to the handles' (XNU
		 * ipc_right_dealloc frees the entry with its last uref, and
		 * ipc_entry_alloc may hand the name out again). */
		kr = mach_port_mod_refs(mach_task_self(), name,
		                        MACH_PORT_RIGHT_SEND, 1);
		if (kr != KERN_SUCCESS) {
			err = mobj__kr(kr);
			goto out;
		}
		frozen[frozen_len++] = name;
	}
out:
	pthread_mutex_unlock(&frozen_lock);
	return err;
}

bool mobj__darwin_frozen(mach_port_t name)
{
	bool found;

	pthread_mutex_lock(&frozen_lock);
	found = frozen_find(name) != frozen_len;
	pthread_mutex_unlock(&frozen_lock);
	return found;
}

/* ---- Objects ------------------------------------------------------------- */

/* A new entry of @size bytes: a fresh object (MAP_MEM_NAMED_CREATE, no
 * parent) or a child of @parent (offset relative to the parent). Size 0
 * would give KERN_SUCCESS and MACH_PORT_NULL; the core never asks for it,
 * and a null port or a short entry is refused all the same. */
static int make_entry(size_t size, vm_prot_t perm, mach_port_t parent,
                      struct mobj__os_obj *out)
{
	memory_object_size_t sz = size;
	mach_port_t port = MACH_PORT_NULL; /* left untouched on failure */
	kern_return_t kr;

	kr = mach_make_memory_entry_64(mach_task_self(), &sz, 0, perm, &port,
	                               parent);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	if (port == MACH_PORT_NULL)
		return -EIO;
	if (sz < size) {
		mach_port_deallocate(mach_task_self(), port);
		return -EIO;
	}
	out->port = port;
	out->gen = mobj__darwin_gen();
	return 0;
}

/* No label: XNU names no memory object. The one user-visible mark on
 * memory is the 8-bit alias of a *mapping* (VM_FLAGS_ALIAS_MASK in
 * osfmk/mach/vm_statistics.h; vm_map_enter() stores vmk_flags.vm_tag as
 * the entry's alias, which vmmap prints as a number). POPULATE: anonymous
 * memory here does not fault with SIGBUS at a limit (the compressor and
 * jetsam handle pressure), so there is nothing to allocate early. */
int mobj__os_create(size_t size, unsigned flags, const char *label,
                    struct mobj__os_obj *out)
{
	(void)flags;
	(void)label;
	return make_entry(size, MAP_MEM_NAMED_CREATE | VM_PROT_READ |
	                  VM_PROT_WRITE, MACH_PORT_NULL, out);
}

/* One more user reference to the same send right: a task holds one name
 * per port, so a duplicate is a reference count, not a new name. */
static int dup_send(mach_port_t port, struct mobj__os_obj *out)
{
	kern_return_t kr;

	kr = mach_port_mod_refs(mach_task_self(), port, MACH_PORT_RIGHT_SEND, 1);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	out->port = port;
	out->gen = mobj__darwin_gen();
	return 0;
}

int mobj__os_freeze(struct mobj__os_obj *o, size_t size, bool o_writable,
                    struct mobj__os_obj *ro)
{
	int err;

	if (!o_writable)
		return dup_send(o->port, ro);
	err = frozen_add(o->port);
	if (err < 0)
		return err;
	return make_entry(size, VM_PROT_READ, o->port, ro);
}

void mobj__os_release(struct mobj__os_obj *o)
{
	mach_port_urefs_t refs = 0;
	size_t i;

	/* Made before a fork(): not ours to release in the child. */
	if (!MACH_PORT_VALID(o->port) || mobj__darwin_inherited(o->gen)) {
		o->port = MACH_PORT_NULL;
		return;
	}
	/* The name leaves the frozen set with its last handle, when nothing
	 * but the set's reference and this one is left; with references
	 * held elsewhere it stays, pinned by the set's, until a later sweep.
	 * Counting and dropping under the lock keeps a concurrent freeze of
	 * the same name consistent. */
	pthread_mutex_lock(&frozen_lock);
	i = frozen_find(o->port);
	if (i != frozen_len &&
	    (mach_port_get_refs(mach_task_self(), o->port, MACH_PORT_RIGHT_SEND,
	                        &refs) != KERN_SUCCESS || refs <= 2)) {
		frozen[i] = frozen[--frozen_len];
		if (refs == 2)
			mach_port_deallocate(mach_task_self(), o->port);
	}
	mach_port_deallocate(mach_task_self(), o->port);
	pthread_mutex_unlock(&frozen_lock);
	o->port = MACH_PORT_NULL;
}

/* ---- Mappings ------------------------------------------------------------ */

/* Where ANYWHERE may place a mapping: at a multiple of mobj_page_size().
 * Under Rosetta the task's pages are 4 KiB and the kernel's 16 KiB; vm_map
 * then aligns only to the task's page unless the mask asks for more (XNU
 * vm_map_enter_mem_object -> vm_map_enter -> vm_map_locate_space_anywhere
 * with the mask), and the core unmaps in mobj_page_size() units. */
static vm_offset_t align_mask(void)
{
	return (vm_offset_t)mobj__os_page_size() - 1;
}

/* vm_map of [off, off + len) of @port: copy=FALSE maps the shared pages;
 * the maximum protection equals the current one, so a read-only mapping
 * can never be vm_protect'ed writable later. */
static kern_return_t map_entry(mach_port_t port, size_t off, size_t len,
                               bool write, void *fixed, vm_address_t *addr)
{
	vm_prot_t prot = VM_PROT_READ | (write ? VM_PROT_WRITE : 0);
	int flags = fixed ? VM_FLAGS_FIXED | VM_FLAGS_OVERWRITE : VM_FLAGS_ANYWHERE;

	*addr = (vm_address_t)fixed;
	return vm_map(mach_task_self(), addr, len, fixed ? 0 : align_mask(),
	              flags, port, (vm_offset_t)off, FALSE, prot, prot,
	              VM_INHERIT_NONE);
}

int mobj__os_map(const struct mobj__os_obj *o, size_t off, size_t len,
                 bool write, void *fixed, void **addr)
{
	vm_address_t a;
	kern_return_t kr;

	if (mobj__darwin_inherited(o->gen))
		return -EBADF; /* the name is the parent's, not this child's */
	if (write && mobj__darwin_frozen(o->port))
		return -EPERM;
	kr = map_entry(o->port, off, len, write, fixed, &a);
	if (kr == KERN_INVALID_RIGHT || (write && kr == KERN_PROTECTION_FAILURE))
		return -EACCES; /* the entry's protection has no write */
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	if (fixed && a != (vm_address_t)fixed) {
		vm_deallocate(mach_task_self(), a, len);
		return -ENOMEM;
	}
	*addr = (void *)a;
	return 0;
}

/* Reserve @len bytes, inaccessible until mapped over, as the contract says
 * (a stray access to a half not yet mapped faults instead of reading
 * zeros): vm_map of no object (MEMORY_OBJECT_NULL: anonymous memory, XNU
 * vm_map_enter_mem_object) with no access, aligned like every mapping. */
int mobj__os_reserve(size_t len, void **addr)
{
	vm_address_t a = 0;
	kern_return_t kr;

	kr = vm_map(mach_task_self(), &a, len, align_mask(), VM_FLAGS_ANYWHERE,
	            MEMORY_OBJECT_NULL, 0, FALSE, VM_PROT_NONE, VM_PROT_DEFAULT,
	            VM_INHERIT_NONE);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	*addr = (void *)a;
	return 0;
}

/* What the VM map holds at @addr: true, with @info filled, when a region
 * contains it. The short form: it reads the entry and its object (XNU
 * vm_map_region_recurse_64 with fewer than VM_REGION_SUBMAP_INFO_V0_COUNT_64
 * words: vm_map_region_walk without look_for_pages, so no walk over every
 * page of a large mapping), which is all we ask. */
static bool region_at(vm_address_t addr,
                      struct vm_region_submap_short_info_64 *info)
{
	mach_msg_type_number_t n = VM_REGION_SUBMAP_SHORT_INFO_COUNT_64;
	vm_address_t at = addr;
	vm_size_t sz = 0;
	natural_t depth = 0;

	if (vm_region_recurse_64(mach_task_self(), &at, &sz, &depth,
	                         (vm_region_recurse_info_t)info, &n) !=
	    KERN_SUCCESS)
		return false;
	return at <= addr; /* else the next region: a hole at addr */
}

/* Whether @addr is inside a mapping of ours: every mapping and reservation
 * the backend makes is VM_INHERIT_NONE, so a child of fork() has a hole
 * there, or whatever it mapped there since (its own malloc, most likely,
 * inheriting by default). */
static bool ours(vm_address_t addr)
{
	struct vm_region_submap_short_info_64 info;

	return region_at(addr, &info) && info.inheritance == VM_INHERIT_NONE;
}

int mobj__os_unmap(void *addr, size_t len)
{
	kern_return_t kr;

	/* A ring or mapping made before a fork(), closed in the child: the
	 * range is not the child's to take. */
	if (!ours((vm_address_t)addr))
		return -EINVAL;
	/* vm_deallocate rounds outward: the core passes exactly the page
	 * rounded length it mapped. */
	kr = vm_deallocate(mach_task_self(), (vm_address_t)addr, len);
	return kr == KERN_SUCCESS ? 0 : mobj__kr(kr);
}

/* ---- Handles from outside ------------------------------------------------ */

/* -EPROTO for the send right @port, saying why under MOBJ_DEBUG. */
static int refused(mach_port_t port, const char *why)
{
	char what[48];

	snprintf(what, sizeof(what), "port 0x%x", (unsigned)port);
	mobj__refused(what, why);
	return -EPROTO;
}

/* A send right that cannot be mapped as asked is not an acceptable object
 * (smaller than declared, no memory entry at all, ...), unless the system
 * ran out of address space or memory. */
static int probe_error(mach_port_t port, kern_return_t kr)
{
	if (kr == KERN_NO_SPACE || kr == KERN_RESOURCE_SHORTAGE)
		return mobj__kr(kr);
	return refused(port, "cannot be mapped as declared (no memory entry, "
	               "or smaller than declared)");
}

/* What backs the mapping at @a: -EPROTO unless every fault in it is sure
 * to succeed. A purgeable object can be emptied by its owner
 * (vm_purgable_control with VM_PURGABLE_GET_STATE succeeds only on one:
 * XNU vm_map_purgable_control refuses VM_PURGABLE_DENY objects with
 * KERN_INVALID_ARGUMENT, for read-only mappings too); an object with an
 * external pager (a file) can lose its pages when the file shrinks
 * (region_at: external_pager, set for an object or shadow that is not
 * internal, XNU vm_map_region_walk).
 * Either makes later faults memory errors: SIGBUS in the receiver. */
static int check_backing(mach_port_t port, vm_address_t a)
{
	struct vm_region_submap_short_info_64 info;
	kern_return_t kr;
	int state = 0;

	kr = vm_purgable_control(mach_task_self(), a, VM_PURGABLE_GET_STATE,
	                         &state);
	if (kr == KERN_SUCCESS)
		return refused(port, "purgeable: its owner can empty it");
	if (kr != KERN_INVALID_ARGUMENT)
		return probe_error(port, kr);
	if (!region_at(a, &info) || info.is_submap || info.external_pager)
		return refused(port, "backed by a file or another pager: it can "
		               "lose its pages");
	return 0;
}

/* Map and at once unmap [0, len) of @port with @write: the only way to learn
 * what an entry allows and how large it is (as Chromium probes every
 * received handle), and, with @backing, what backs it (check_backing,
 * *backing set to its result while the mapping exists). XNU checks the
 * protection before the size: a read-write probe of a read-only entry gives
 * KERN_INVALID_RIGHT whatever the size; a range beyond the entry gives
 * KERN_INVALID_ARGUMENT; a port that is no memory entry gives
 * KERN_INVALID_OBJECT. */
static kern_return_t probe(mach_port_t port, size_t len, bool write,
                           int *backing)
{
	vm_address_t a;
	kern_return_t kr;

	kr = map_entry(port, 0, len, write, NULL, &a);
	if (kr == KERN_SUCCESS) {
		if (backing)
			*backing = check_backing(port, a);
		vm_deallocate(mach_task_self(), a, len);
	}
	return kr;
}

int mobj__os_import_dup(const struct mobj__os_obj *in, size_t size,
                        unsigned access, struct mobj__os_obj *out)
{
	mach_port_type_t type;
	kern_return_t kr;
	bool writable;
	int backing = 0;

	if (!MACH_PORT_VALID(in->port))
		return -EBADF;
	kr = mach_port_type(mach_task_self(), in->port, &type);
	if (kr != KERN_SUCCESS)
		return -EBADF;
	if (!(type & MACH_PORT_TYPE_SEND))
		return refused(in->port, "not a send right");

	kr = probe(in->port, size, true, &backing);
	writable = kr == KERN_SUCCESS;
	if (kr == KERN_INVALID_RIGHT) {
		/* The read-write probe stopped at the protection check:
		 * check the size with a read-only one. */
		kr = probe(in->port, size, false, &backing);
	}
	if (kr != KERN_SUCCESS)
		return probe_error(in->port, kr);
	if (backing < 0)
		return backing;
	/* At least @size: check it is not larger either, as on Linux, so
	 * both systems accept exactly the same objects. */
	kr = probe(in->port, size + mobj__os_page_size(), false, NULL);
	if (kr == KERN_SUCCESS)
		return refused(in->port, "larger than declared");
	if (kr != KERN_INVALID_ARGUMENT)
		return probe_error(in->port, kr);

	if (writable != !!(access & MOBJ_WRITE))
		return refused(in->port, writable ? "declared read-only, but "
		               "writable" : "declared writable, but read-only");
	return dup_send(in->port, out);
}

/* ---- include/mobj/darwin.h ---------------------------------------------- */

mach_port_t mobj_port(const struct mobj *o)
{
	return o ? o->os.port : MACH_PORT_NULL;
}

int mobj_from_port(mach_port_t port, size_t size, unsigned access,
                   struct mobj **out)
{
	struct mobj__os_obj in = { .port = port };

	if (!out || size == 0)
		return -EINVAL;
	if (!MACH_PORT_VALID(port))
		return -EBADF;
	return mobj__import_dup(&in, size, access, out);
}
