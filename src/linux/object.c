/*
 * Linux objects: a memory object is a memfd (MFD_CLOEXEC |
 * MFD_ALLOW_SEALING, plus MFD_NOEXEC_SEAL where the kernel has it), sized
 * once with ftruncate and sealed F_SEAL_SHRINK | F_SEAL_GROW at once, so no
 * holder can ever make another's mapping fault with SIGBUS.
 *
 * Freezing adds F_SEAL_FUTURE_WRITE | F_SEAL_SEAL: every new writable
 * mapping, write(2), fallocate hole punch and mprotect upgrade of a view
 * mapped after the freeze then fails for everyone, root included (the
 * kernel drops VM_MAYWRITE from every shared mapping of a write-sealed
 * memfd: memfd_check_seals_mmap, mm/memfd.c; shmem_mmap before 6.7), while
 * writable mappings made before keep working. The seals are the boundary:
 * an O_RDONLY fd alone is not one (anyone can reopen /proc/self/fd/N
 * read-write).
 *
 * Read-only views made *before* the freeze are the gap the seal does not
 * close: the kernel decides VM_MAYWRITE when the view is mapped, from the
 * descriptor (do_mmap clears it for a MAP_SHARED map of an fd not open for
 * writing), so a view mapped through the read-write memfd could later be
 * mprotect()ed writable and write the frozen object. So a read-only view
 * of an object that is not frozen yet is never mapped through a writable
 * descriptor: it is mapped MAP_SHARED through the same file reopened
 * O_RDONLY via /proc/self/fd (no VM_MAYWRITE: mprotect says EACCES), and
 * where that reopen is impossible (no /proc in a chroot or a sandbox, or a
 * memfd chmod'ed unreadable) MAP_PRIVATE. A private
 * read-only file mapping maps the page-cache pages themselves on a read
 * fault (shmem allocates the page for a hole: shmem_fault, SGP_CACHE), so
 * it sees every write of the object; made writable and written, it only
 * ever copies the page (COW) for itself, never writing the object.
 *
 * The read-only handle is the same file reopened O_RDONLY through
 * /proc/self/fd: defence in depth, so that it cannot be mapped writable on
 * its own account either. Without /proc it holds a duplicate of the
 * read-write descriptor, and the seals alone keep it read-only (they stop
 * write(2), writable mmap, ftruncate, fallocate and, with F_SEAL_SEAL,
 * changes to the seals, for every descriptor alike).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "../internal.h"
#include "backend.h"
#include "mobj/linux.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define SIZE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)
#define FREEZE_SEALS (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

size_t mobj__os_page_size(void)
{
	/* Relaxed is enough: every thread computes the same value. */
	static _Atomic size_t page;
	size_t p = atomic_load_explicit(&page, memory_order_relaxed);

	if (!p) {
		p = (size_t)sysconf(_SC_PAGESIZE);
		atomic_store_explicit(&page, p, memory_order_relaxed);
	}
	return p;
}

uint64_t mobj__os_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int mobj__os_create(size_t size, struct mobj__os_obj *out)
{
	const char *name = "mobj";
	int fd, err;

	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return mobj__neg_errno();
	if ((off_t)size < 0 || ftruncate(fd, (off_t)size) < 0) {
		err = errno == EFBIG || (off_t)size < 0 ? -EINVAL : mobj__neg_errno();
		goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, SIZE_SEALS) < 0) {
		err = mobj__neg_errno();
		goto fail;
	}
	out->fd = fd;
	return 0;
fail:
	close(fd);
	return err;
}

/* A new O_RDONLY descriptor for the same file; -ENOENT without /proc. */
static int reopen_rdonly(int fd, int *out)
{
	char path[32];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		return mobj__neg_errno();
	*out = ro;
	return 0;
}

/* The descriptor of a read-only handle to frozen @fd: reopened O_RDONLY,
 * or without /proc a duplicate (the seals keep it read-only). */
static int hold_rdonly(int fd, int *out)
{
	int err = reopen_rdonly(fd, out), dup;

	if (err != -ENOENT)
		return err;
	dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return mobj__neg_errno();
	*out = dup;
	return 0;
}

int mobj__os_freeze(struct mobj__os_obj *o, size_t size, bool o_writable,
                    struct mobj__os_obj *ro)
{
	int seals;

	(void)size;
	(void)o_writable;
	seals = fcntl(o->fd, F_GET_SEALS);
	if (seals < 0)
		return mobj__neg_errno();
	if ((seals & (F_SEAL_FUTURE_WRITE | F_SEAL_WRITE)) == 0) {
		/* F_SEAL_SEAL is set only together with the freeze, so adding
		 * seals still works on an object that is not frozen yet. An
		 * object another program sealed F_SEAL_WRITE is frozen already
		 * (and its read-only handle could not add seals: -EPERM). */
		if (fcntl(o->fd, F_ADD_SEALS, FREEZE_SEALS) < 0)
			return mobj__neg_errno();
	}
	return hold_rdonly(o->fd, &ro->fd);
}

void mobj__os_release(struct mobj__os_obj *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
}

/* How to map a read-only view of @fd so that no mprotect can ever make it
 * write the object (see the top of this file): through @fd itself when
 * that cannot write or the object is frozen, else through a new O_RDONLY
 * descriptor in *@ro_fd (the caller closes it), else MAP_PRIVATE. */
static int view_flags(int fd, int *ro_fd, int *flags)
{
	int fl = fcntl(fd, F_GETFL), seals, err;

	*ro_fd = -1;
	if (fl < 0)
		return mobj__neg_errno();
	if ((fl & O_ACCMODE) == O_RDONLY)
		return 0;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_FUTURE_WRITE))
		return 0;
	err = reopen_rdonly(fd, ro_fd);
	/* No /proc, or the file's mode (any holder of a writable descriptor
	 * may chmod it) or a sandbox forbids the reopen. */
	if (err == -ENOENT || err == -EACCES || err == -EPERM) {
		*flags = (*flags & ~MAP_SHARED) | MAP_PRIVATE;
		return 0;
	}
	return err;
}

int mobj__os_map(const struct mobj__os_obj *o, size_t off, size_t len,
                 bool write, void *fixed, void **addr)
{
	int prot = PROT_READ | (write ? PROT_WRITE : 0);
	int flags = MAP_SHARED | (fixed ? MAP_FIXED : 0);
	int fd = o->fd, ro_fd = -1, err;
	void *p;

	if (!write) {
		err = view_flags(o->fd, &ro_fd, &flags);
		if (err < 0)
			return err;
		if (ro_fd >= 0)
			fd = ro_fd;
	}
	p = mmap(fixed, len, prot, flags, fd, (off_t)off);
	err = p == MAP_FAILED ? mobj__neg_errno() : 0;
	if (ro_fd >= 0)
		close(ro_fd);
	if (err < 0)
		return err;
	*addr = p;
	return 0;
}

int mobj__os_reserve(size_t len, void **addr)
{
	void *p;

	p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	         -1, 0);
	if (p == MAP_FAILED)
		return mobj__neg_errno();
	*addr = p;
	return 0;
}

int mobj__os_unmap(void *addr, size_t len)
{
	if (munmap(addr, len) < 0)
		return mobj__neg_errno();
	return 0;
}

int mobj__os_import_dup(const struct mobj__os_obj *in, size_t size,
                        unsigned access, struct mobj__os_obj *out)
{
	struct statfs sf;
	struct stat st;
	int fl, seals, fd, err;

	fl = fcntl(in->fd, F_GETFL);
	if (fl < 0)
		return -EBADF;
	seals = fcntl(in->fd, F_GET_SEALS);
	if (seals < 0 || (seals & SIZE_SEALS) != SIZE_SEALS)
		return -EPROTO; /* not a memfd, or its size can change */
	if (fstat(in->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < 0 || (unsigned long long)st.st_size != size)
		return -EPROTO;
	/* A hugetlb memfd seals too, but maps only in huge pages: mobj_map()
	 * at a page offset and every mirror (so every ring) would fail. */
	if (fstatfs(in->fd, &sf) < 0 || sf.f_type == HUGETLBFS_MAGIC)
		return -EPROTO;
	if (access & MOBJ_WRITE) {
		/* Sealed F_SEAL_SEAL before it was frozen, it could never be
		 * frozen: mobj_readonly() would fail for good. */
		if ((fl & O_ACCMODE) != O_RDWR || (seals & F_SEAL_WRITE) ||
		    (seals & (F_SEAL_SEAL | F_SEAL_FUTURE_WRITE)) == F_SEAL_SEAL)
			return -EPROTO;
		fd = fcntl(in->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return mobj__neg_errno();
		out->fd = fd;
		return 0;
	}
	if (!(seals & (F_SEAL_FUTURE_WRITE | F_SEAL_WRITE)))
		return -EPROTO; /* "read-only", but anyone may still write it */
	if ((fl & O_ACCMODE) == O_RDONLY) {
		fd = fcntl(in->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return mobj__neg_errno();
		out->fd = fd;
		return 0;
	}
	/* The creator may have chmod'ed the memfd so that it cannot be opened
	 * again: an object we cannot hold read-only is not acceptable. */
	err = hold_rdonly(in->fd, &out->fd);
	return err == -EACCES || err == -EPERM ? -EPROTO : err;
}

const char *mobj__os_strerror(int err)
{
	(void)err;
	return NULL;
}

int mobj_fd(const struct mobj *o)
{
	return o ? o->os.fd : -EINVAL;
}

int mobj_from_fd(int fd, size_t size, unsigned access, struct mobj **out)
{
	struct mobj__os_obj in = { .fd = fd };

	if (!out || size == 0)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	return mobj__import_dup(&in, size, access, out);
}
