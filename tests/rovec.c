/*
 * The read-only vectors (see rovec.h). Each must be able to fail:
 * test_object's test_vectors_detect_writable runs them against an object
 * that is not frozen and expects each to get through.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef __APPLE__
#include <mach/mach.h>

#include "mobj/darwin.h"
#else
#include "mobj/linux.h"
#endif
#include "rovec.h"
#include "testutil.h"

static size_t page(void)
{
	return mobj_page_size();
}

#ifdef __linux__
int rovec_mmap(void *target)
{
	struct rovec_target *f = target;
	int fds[2] = { mobj_fd(f->ro), mobj_fd(f->o) };
	int i;

	for (i = 0; i < 2; i++) {
		void *p = mmap(NULL, page(), PROT_READ | PROT_WRITE, MAP_SHARED,
		               fds[i], 0);
		if (p != MAP_FAILED) {
			munmap(p, page());
			return 1;
		}
	}
	return f->view[0] != 0;
}

#endif

int rovec_mprotect(void *target)
{
	struct rovec_target *f = target;
	void *p;
	int rc = 0;

	if (mobj_map(f->ro, 0, page(), MOBJ_PROT_READ, &p) != 0)
		return 2;
	if (mprotect(p, page(), PROT_READ | PROT_WRITE) == 0)
		rc = 1;
	if (mprotect(f->view, page(), PROT_READ | PROT_WRITE) == 0)
		rc = 1;
	mobj_unmap(p, page());
	return rc;
}

#ifdef __linux__
int rovec_reopen(void *target)
{
	struct rovec_target *f = target;
	char path[64];
	void *p;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", mobj_fd(f->ro));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return f->view[0] != 0; /* refused at open: fine too */
	p = mmap(NULL, page(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		((unsigned char *)p)[0] = 1;
		munmap(p, page());
		rc = 1;
	}
	if (write(fd, "x", 1) >= 0)
		rc = 1;
	close(fd);
	return rc || f->view[0] != 0;
}

int rovec_write(void *target)
{
	struct rovec_target *f = target;

	if (pwrite(mobj_fd(f->ro), "x", 1, 0) >= 0)
		return 1;
	if (pwrite(mobj_fd(f->o), "x", 1, 0) >= 0)
		return 1;
	return f->view[0] != 0;
}

int rovec_ftruncate(void *target)
{
	struct rovec_target *f = target;

	if (ftruncate(mobj_fd(f->ro), 0) == 0 ||
	    ftruncate(mobj_fd(f->ro), 2 * (off_t)page()) == 0)
		return 1;
	if (ftruncate(mobj_fd(f->o), 0) == 0 ||
	    ftruncate(mobj_fd(f->o), 2 * (off_t)page()) == 0)
		return 1;
	return f->view[0] != 0;
}

int rovec_proc_mem(void *target)
{
	struct rovec_target *f = target;

	if (tu_poke_mem(f->view, 1))
		return 1;
	return f->view[0] != 0;
}

int rovec_unseal(void *target)
{
	struct rovec_target *f = target;

	/* F_SEAL_SEAL: the freeze itself cannot be undone or extended. */
	if (fcntl(mobj_fd(f->o), F_ADD_SEALS, F_SEAL_WRITE) == 0)
		return 1;
	return 0;
}

const struct rovec rovecs[] = {
	{ "mmap", rovec_mmap },
	{ "mprotect", rovec_mprotect },
	{ "reopen /proc/self/fd", rovec_reopen },
	{ "write", rovec_write },
	{ "ftruncate", rovec_ftruncate },
	{ "/proc/self/mem", rovec_proc_mem },
	{ "add seals", rovec_unseal },
	{ NULL, NULL },
};
#endif /* __linux__ */

#ifdef __APPLE__
/* Darwin: the read-only handle's port is a memory entry with VM_PROT_READ
 * only, so the kernel refuses it writable. Only the read-only port is
 * attacked: the read-write one is frozen by the library, in this process
 * (include/mobj/darwin.h), and raw Mach calls on it are not stopped. A
 * private copy-on-write copy (copy=TRUE, VM_PROT_COPY) may be granted: it
 * is never the shared pages, which must stay unchanged. */

int rovec_vm_map(void *target)
{
	struct rovec_target *f = target;
	mach_port_t port = mobj_port(f->ro);
	vm_prot_t rw = VM_PROT_READ | VM_PROT_WRITE;
	vm_address_t a = 0;

	/* Shared and writable, or readable with a writable maximum. */
	if (vm_map(mach_task_self(), &a, page(), 0, VM_FLAGS_ANYWHERE, port, 0,
	           FALSE, rw, rw, VM_INHERIT_NONE) == KERN_SUCCESS) {
		vm_deallocate(mach_task_self(), a, page());
		return 1;
	}
	a = 0;
	if (vm_map(mach_task_self(), &a, page(), 0, VM_FLAGS_ANYWHERE, port, 0,
	           FALSE, VM_PROT_READ, rw, VM_INHERIT_NONE) == KERN_SUCCESS) {
		vm_deallocate(mach_task_self(), a, page());
		return 1;
	}
	/* A copy: whatever is written there stays there. */
	a = 0;
	if (vm_map(mach_task_self(), &a, page(), 0, VM_FLAGS_ANYWHERE, port, 0,
	           TRUE, rw, rw, VM_INHERIT_NONE) == KERN_SUCCESS) {
		tu_poke_mem((void *)a, 1);
		vm_deallocate(mach_task_self(), a, page());
	}
	return f->view[0] != 0;
}

int rovec_vm_protect(void *target)
{
	struct rovec_target *f = target;
	vm_prot_t rw = VM_PROT_READ | VM_PROT_WRITE;
	void *p;
	int rc = 0;

	if (mobj_map(f->ro, 0, page(), MOBJ_PROT_READ, &p) != 0)
		return 2;
	if (vm_protect(mach_task_self(), (vm_address_t)f->view, page(), FALSE,
	               rw) == KERN_SUCCESS)
		rc = 1;
	/* The maximum can be lowered, never raised. */
	if (vm_protect(mach_task_self(), (vm_address_t)p, page(), TRUE, rw) ==
	    KERN_SUCCESS)
		rc = 1;
	if (vm_protect(mach_task_self(), (vm_address_t)p, page(), FALSE, rw) ==
	    KERN_SUCCESS)
		rc = 1;
	/* VM_PROT_COPY: a private copy of the page, if anything. */
	if (vm_protect(mach_task_self(), (vm_address_t)p, page(), FALSE,
	               VM_PROT_COPY | rw) == KERN_SUCCESS)
		tu_poke_mem(p, 1);
	mobj_unmap(p, page());
	return rc || f->view[0] != 0;
}

int rovec_vm_write(void *target)
{
	struct rovec_target *f = target;

	if (tu_poke_mem(f->view, 1))
		return 1;
	return f->view[0] != 0;
}

const struct rovec rovecs[] = {
	{ "mprotect", rovec_mprotect },
	{ "vm_map writable (or a copy)", rovec_vm_map },
	{ "vm_protect (or VM_PROT_COPY)", rovec_vm_protect },
	{ "vm_write", rovec_vm_write },
	{ NULL, NULL },
};
#endif /* __APPLE__ */
