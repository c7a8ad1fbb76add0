/*
 * Memory objects and their mappings: argument checking, access rules and
 * mirrors, on top of the backend's create/map/reserve primitives.
 *
 * A mirror is built without a race and without address hints: reserve
 * 2 * size of inaccessible address space, then map the object over each half
 * with a fixed mapping that replaces the reservation atomically. Another
 * thread can never take the hole, so no retry loop is needed; if either map
 * fails, unmapping the whole 2 * size removes both the reservation and any
 * half already mapped.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

size_t mobj_page_size(void)
{
	return mobj__os_page_size();
}

size_t mobj__page_round(size_t n)
{
	size_t mask = mobj__os_page_size() - 1;

	if (n > SIZE_MAX - mask)
		return 0;
	return (n + mask) & ~mask;
}

int mobj__obj_new(struct mobj__os_obj *os, size_t size, unsigned access,
                  struct mobj **out)
{
	struct mobj *o = malloc(sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->os = *os;
	o->size = size;
	o->access = access;
	*out = o;
	return 0;
}

int mobj__import_dup(const struct mobj__os_obj *in, size_t size,
                     unsigned access, struct mobj **out)
{
	struct mobj__os_obj os;
	int err;

	if (access != MOBJ_READ && access != (MOBJ_READ | MOBJ_WRITE))
		return -EINVAL;
	if (size == 0 || size > (size_t)PTRDIFF_MAX / 2) {
		mobj__refused("an object", "its declared size is 0 or too large");
		return -EPROTO;
	}
	err = mobj__os_import_dup(in, size, access, &os);
	if (err < 0)
		return err;
	err = mobj__obj_new(&os, size, access, out);
	if (err < 0)
		mobj__os_release(&os);
	return err;
}

/* Printable ASCII without spaces: it becomes part of a memfd name that
 * /proc/PID/maps prints in a space-separated line. */
static bool bad_label(const char *label)
{
	size_t i;

	for (i = 0; label[i]; i++)
		if (i == MOBJ_LABEL_MAX || label[i] <= ' ' || label[i] > '~')
			return true;
	return i == 0;
}

int mobj_create_labeled(size_t size, unsigned flags, const char *label,
                        struct mobj **out)
{
	struct mobj__os_obj os;
	size_t rounded;
	int err;

	if (!out || size == 0 || (flags & ~MOBJ_CREATE_POPULATE) ||
	    (label && bad_label(label)))
		return -EINVAL;
	rounded = mobj__page_round(size);
	/* A mirror needs twice the size in one address range. */
	if (rounded == 0 || rounded > (size_t)PTRDIFF_MAX / 2)
		return -EINVAL;
	err = mobj__os_create(rounded, flags, label, &os);
	if (err < 0)
		return err;
	err = mobj__obj_new(&os, rounded, MOBJ_READ | MOBJ_WRITE, out);
	if (err < 0)
		mobj__os_release(&os);
	return err;
}

int mobj_create(size_t size, unsigned flags, struct mobj **out)
{
	return mobj_create_labeled(size, flags, NULL, out);
}

int mobj_readonly(struct mobj *o, struct mobj **out)
{
	struct mobj__os_obj ro;
	int err;

	if (!o || !out)
		return -EINVAL;
	err = mobj__os_freeze(&o->os, o->size, o->access & MOBJ_WRITE, &ro);
	if (err < 0)
		return err;
	err = mobj__obj_new(&ro, o->size, MOBJ_READ, out);
	if (err < 0)
		mobj__os_release(&ro);
	return err;
}

size_t mobj_size(const struct mobj *o)
{
	return o ? o->size : 0;
}

unsigned mobj_access(const struct mobj *o)
{
	return o ? o->access : 0;
}

/* The checks every mapping call shares. */
static int check_prot(const struct mobj *o, unsigned prot)
{
	if (prot != MOBJ_PROT_READ && prot != (MOBJ_PROT_READ | MOBJ_PROT_WRITE))
		return -EINVAL;
	if ((prot & MOBJ_PROT_WRITE) && !(o->access & MOBJ_WRITE))
		return -EACCES;
	return 0;
}

int mobj_map(struct mobj *o, size_t off, size_t len, unsigned prot, void **addr)
{
	int err;

	if (!o || !addr || len == 0)
		return -EINVAL;
	err = check_prot(o, prot);
	if (err < 0)
		return err;
	if (off % mobj__os_page_size() != 0 || off > o->size ||
	    len > o->size - off)
		return -EINVAL;
	return mobj__os_map(&o->os, off, mobj__page_round(len),
	                    prot & MOBJ_PROT_WRITE, NULL, addr);
}

int mobj_map_mirror(struct mobj *o, unsigned prot, void **addr)
{
	bool write;
	void *base, *lo, *hi;
	int err;

	if (!o || !addr)
		return -EINVAL;
	err = check_prot(o, prot);
	if (err < 0)
		return err;
	/* The second copy must start exactly at size: an imported object of
	 * another size cannot be mirrored. */
	if (o->size % mobj__os_page_size() != 0)
		return -EINVAL;
	write = prot & MOBJ_PROT_WRITE;
	err = mobj__os_reserve(2 * o->size, &base);
	if (err < 0)
		return err;
	err = mobj__os_map(&o->os, 0, o->size, write, base, &lo);
	if (err == 0 && lo != base)
		err = -ENOMEM;
	if (err == 0)
		err = mobj__os_map(&o->os, 0, o->size, write,
		                   (char *)base + o->size, &hi);
	if (err == 0 && hi != (char *)base + o->size)
		err = -ENOMEM;
	if (err < 0) {
		mobj__os_unmap(base, 2 * o->size);
		return err;
	}
	*addr = base;
	return 0;
}

int mobj_unmap(void *addr, size_t len)
{
	size_t rounded = mobj__page_round(len);

	if (!addr || len == 0 || rounded == 0 ||
	    (uintptr_t)addr % mobj__os_page_size() != 0)
		return -EINVAL;
	return mobj__os_unmap(addr, rounded);
}

void mobj_close(struct mobj *o)
{
	if (!o)
		return;
	mobj__os_release(&o->os);
	free(o);
}
