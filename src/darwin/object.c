/*
 * Darwin objects: a memory object is a named memory entry
 * (mach_make_memory_entry_64 with MAP_MEM_NAMED_CREATE), held as a send
 * right, mapped with vm_map(copy=FALSE, VM_INHERIT_NONE) and passed in Mach
 * messages. Entries never change size, so the SIGBUS hazard that size seals
 * prevent on Linux does not exist here.
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
 * shares the name), fails with -EPERM. Its limits, stated plainly:
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
 * Page size: the larger of vm_page_size and vm_kernel_page_size, so a 4 KiB
 * task under Rosetta (16 KiB kernel pages) agrees with a native arm64 peer
 * and never asks the kernel for a range it would round differently.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
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

static void frozen_child(void)
{
	frozen_len = 0;
	pthread_mutex_unlock(&frozen_lock);
}

static pthread_once_t frozen_once = PTHREAD_ONCE_INIT;
static int frozen_atfork_err;

static void frozen_init(void)
{
	frozen_atfork_err = pthread_atfork(frozen_prepare, frozen_parent,
	                                   frozen_child);
}

static int frozen_add(mach_port_name_t name)
{
	mach_port_name_t *grown;
	int err = 0;

	pthread_once(&frozen_once, frozen_init);
	if (frozen_atfork_err)
		return -frozen_atfork_err;
	pthread_mutex_lock(&frozen_lock);
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
	return 0;
}

int mobj__os_create(size_t size, struct mobj__os_obj *out)
{
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

	if (!MACH_PORT_VALID(o->port)) {
		o->port = MACH_PORT_NULL;
		return;
	}
	/* The name leaves the frozen set with its last reference: afterwards
	 * the kernel may give the name to an unrelated right. Counting and
	 * dropping under the lock keeps a concurrent freeze of the same name
	 * consistent. */
	pthread_mutex_lock(&frozen_lock);
	i = frozen_find(o->port);
	if (i != frozen_len &&
	    (mach_port_get_refs(mach_task_self(), o->port, MACH_PORT_RIGHT_SEND,
	                        &refs) != KERN_SUCCESS || refs <= 1))
		frozen[i] = frozen[--frozen_len];
	mach_port_deallocate(mach_task_self(), o->port);
	pthread_mutex_unlock(&frozen_lock);
	o->port = MACH_PORT_NULL;
}

/* ---- Mappings ------------------------------------------------------------ */

/* vm_map of [off, off + len) of @port: copy=FALSE maps the shared pages;
 * the maximum protection equals the current one, so a read-only mapping
 * can never be vm_protect'ed writable later. */
static kern_return_t map_entry(mach_port_t port, size_t off, size_t len,
                               bool write, void *fixed, vm_address_t *addr)
{
	vm_prot_t prot = VM_PROT_READ | (write ? VM_PROT_WRITE : 0);
	int flags = fixed ? VM_FLAGS_FIXED | VM_FLAGS_OVERWRITE : VM_FLAGS_ANYWHERE;

	*addr = (vm_address_t)fixed;
	return vm_map(mach_task_self(), addr, len, 0, flags, port,
	              (vm_offset_t)off, FALSE, prot, prot, VM_INHERIT_NONE);
}

int mobj__os_map(const struct mobj__os_obj *o, size_t off, size_t len,
                 bool write, void *fixed, void **addr)
{
	vm_address_t a;
	kern_return_t kr;

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

int mobj__os_reserve(size_t len, void **addr)
{
	vm_address_t a = 0;
	kern_return_t kr;

	kr = vm_allocate(mach_task_self(), &a, len, VM_FLAGS_ANYWHERE);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	/* Inaccessible until mapped over, as the contract says: a stray
	 * access to a half not yet mapped faults instead of reading zeros. */
	kr = vm_protect(mach_task_self(), a, len, FALSE, VM_PROT_NONE);
	if (kr != KERN_SUCCESS) {
		vm_deallocate(mach_task_self(), a, len);
		return mobj__kr(kr);
	}
	*addr = (void *)a;
	return 0;
}

int mobj__os_unmap(void *addr, size_t len)
{
	kern_return_t kr;

	/* vm_deallocate rounds outward: the core passes exactly the page
	 * rounded length it mapped. */
	kr = vm_deallocate(mach_task_self(), (vm_address_t)addr, len);
	return kr == KERN_SUCCESS ? 0 : mobj__kr(kr);
}

/* ---- Handles from outside ------------------------------------------------ */

/* Map and at once unmap [0, len) of @port with @write: the only way to learn
 * what an entry allows and how large it is (as Chromium probes every
 * received handle). XNU checks the protection before the size: a
 * read-write probe of a read-only entry gives KERN_INVALID_RIGHT whatever
 * the size; a range beyond the entry gives KERN_INVALID_ARGUMENT; a port
 * that is no memory entry gives KERN_INVALID_OBJECT. */
static kern_return_t probe(mach_port_t port, size_t len, bool write)
{
	vm_address_t a;
	kern_return_t kr;

	kr = map_entry(port, 0, len, write, NULL, &a);
	if (kr == KERN_SUCCESS)
		vm_deallocate(mach_task_self(), a, len);
	return kr;
}

/* A send right that cannot be mapped as asked is not an acceptable object
 * (smaller than declared, no memory entry at all, ...), unless the system
 * ran out of address space or memory. */
static int probe_error(kern_return_t kr)
{
	if (kr == KERN_NO_SPACE || kr == KERN_RESOURCE_SHORTAGE)
		return mobj__kr(kr);
	return -EPROTO;
}

int mobj__os_import_dup(const struct mobj__os_obj *in, size_t size,
                        unsigned access, struct mobj__os_obj *out)
{
	mach_port_type_t type;
	kern_return_t kr;
	bool writable;

	if (!MACH_PORT_VALID(in->port))
		return -EBADF;
	kr = mach_port_type(mach_task_self(), in->port, &type);
	if (kr != KERN_SUCCESS)
		return -EBADF;
	if (!(type & MACH_PORT_TYPE_SEND))
		return -EPROTO; /* a dead name, a receive right, a port set */

	kr = probe(in->port, size, true);
	writable = kr == KERN_SUCCESS;
	if (kr == KERN_INVALID_RIGHT) {
		/* The read-write probe stopped at the protection check:
		 * check the size with a read-only one. */
		kr = probe(in->port, size, false);
	}
	if (kr != KERN_SUCCESS)
		return probe_error(kr);
	/* At least @size: check it is not larger either, as on Linux, so
	 * both systems accept exactly the same objects. */
	kr = probe(in->port, size + mobj__os_page_size(), false);
	if (kr == KERN_SUCCESS)
		return -EPROTO;
	if (kr != KERN_INVALID_ARGUMENT)
		return probe_error(kr);

	if (writable != !!(access & MOBJ_WRITE))
		return -EPROTO; /* "read-only" but writable, or the reverse */
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
