/*
 * The ways a holder of a read-only object might try to write it, shared by
 * the object tests (in this process and a forked child) and the channel
 * tests (in the process that received the object).
 */
#ifndef MOBJ_TEST_ROVEC_H
#define MOBJ_TEST_ROVEC_H

#include "mobj/mobj.h"

/* @ro is the read-only handle under attack; @o a writable handle to the same
 * object when this process has one (else the same as @ro); @view a
 * read-only mapping of its first page, whose byte 0 must be, and stay, 0. */
struct rovec_target {
	struct mobj *o, *ro;
	unsigned char *view;
};

/* Each returns 0 when the write was refused and the object is unchanged,
 * nonzero when it got through. Each takes a struct rovec_target *. */
int rovec_mprotect(void *target); /* upgrading a read-only mapping */
#ifdef __linux__
int rovec_mmap(void *target);     /* a writable mmap of either fd */
int rovec_reopen(void *target);   /* /proc/self/fd/N O_RDWR, then mmap/write */
int rovec_write(void *target);    /* pwrite(2) on either fd */
int rovec_ftruncate(void *target);/* shrinking or growing */
int rovec_proc_mem(void *target); /* /proc/self/mem into the mapping */
int rovec_unseal(void *target);   /* adding seals after F_SEAL_SEAL */
#endif
#ifdef __APPLE__
int rovec_vm_map(void *target);   /* vm_map of the read-only port, writable */
int rovec_vm_protect(void *target);/* vm_protect up, or VM_PROT_COPY */
int rovec_vm_write(void *target); /* vm_write into the mapping */
#endif

struct rovec {
	const char *name;
	int (*fn)(void *target);
};
/* Every vector above for this system, NULL-terminated. */
extern const struct rovec rovecs[];

#endif
