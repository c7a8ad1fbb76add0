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

/* Populating a memfd charges its pages now, so a memory limit (a memory
 * cgroup's, or strict overcommit's: shmem's -ENOSPC) fails here rather
 * than as a SIGBUS or an OOM kill at the first touch. posix_fallocate
 * returns the error number instead of setting errno; a signal interrupts
 * a large one (shmem undoes what it allocated), so it is retried. */
static int populate(int fd, size_t size)
{
	int err;

	do
		err = posix_fallocate(fd, 0, (off_t)size);
	while (err == EINTR);
	if (err == ENOSPC)
		return -ENOMEM;
	return -err;
}

int mobj__os_create(size_t size, unsigned flags, const char *label,
                    struct mobj__os_obj *out)
{
	/* The memfd's name is what /proc/PID/maps and /proc/PID/fd show:
	 * "/memfd:mobj:LABEL (deleted)". */
	char name[5 + MOBJ_LABEL_MAX + 1] = "mobj";
	int fd, err;

	if (label)
		snprintf(name, sizeof(name), "mobj:%s", label);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return mobj__neg_errno();
	if ((off_t)size < 0 || ftruncate(fd, (off_t)size) < 0) {
		err = errno == EFBIG || (off_t)size < 0 ? -EINVAL : mobj__neg_errno();
		goto fail;
	}
	if (flags & MOBJ_CREATE_POPULATE) {
		err = populate(fd, size);
		if (err < 0)
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

/*
 * The import policy (the table in mobj/linux.h). What protects an importer
 * is F_SEAL_SHRINK: a file that can shrink under a mapping makes every
 * access past its new end SIGBUS. Growth cannot hurt an existing mapping,
 * so F_SEAL_GROW is not required, and F_SEAL_SEAL without a freeze only
 * means the object can never be frozen (mobj_readonly() says -EPERM).
 * Returns 0 (acceptable), a positive enum mobj_refusal, or -EBADF; @seals
 * receives what F_GET_SEALS said (-1 when it failed), for the log line.
 */
static int classify(int fd, size_t size, unsigned access, int *fl, int *seals)
{
	struct statfs sf;
	struct stat st;

	*fl = fcntl(fd, F_GETFL);
	*seals = -1;
	if (*fl < 0)
		return -EBADF;
	*seals = fcntl(fd, F_GET_SEALS);
	if (*seals < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return MOBJ_REFUSAL_NOT_MEMFD;
	/* A hugetlb memfd seals too, but maps only in huge pages: mobj_map()
	 * at a page offset and every mirror (so every ring) would fail. */
	if (fstatfs(fd, &sf) < 0 || sf.f_type == HUGETLBFS_MAGIC)
		return MOBJ_REFUSAL_HUGETLB;
	if (!(*seals & F_SEAL_SHRINK))
		return MOBJ_REFUSAL_NO_SHRINK_SEAL;
	/* Smaller than declared, a mapping would fault past its end. Larger
	 * is a lie only when it cannot grow: a file that can may have grown
	 * since it was sent (libwayland-cursor grows its pool before the
	 * compositor reads the create_pool request). */
	if (size == 0 || size > (size_t)PTRDIFF_MAX / 2 || st.st_size < 0 ||
	    (unsigned long long)st.st_size < size ||
	    ((unsigned long long)st.st_size > size && (*seals & F_SEAL_GROW)))
		return MOBJ_REFUSAL_SIZE;
	if (access & MOBJ_WRITE) {
		if ((*fl & O_ACCMODE) != O_RDWR)
			return MOBJ_REFUSAL_FD_READONLY;
		if (*seals & F_SEAL_WRITE)
			return MOBJ_REFUSAL_WRITE_SEALED;
		return 0;
	}
	if (!(*seals & (F_SEAL_FUTURE_WRITE | F_SEAL_WRITE)))
		return MOBJ_REFUSAL_NOT_FROZEN; /* anyone may still write it */
	return 0;
}

static void log_refusal(int fd, size_t size, unsigned access, int seals,
                        int reason)
{
	char what[96];

	snprintf(what, sizeof(what), "fd %d (%zu bytes %s, seals %#x)", fd,
	         size, access & MOBJ_WRITE ? "read-write" : "read-only",
	         seals < 0 ? 0u : (unsigned)seals);
	mobj__refused(what, mobj_refusal_str(reason));
}

int mobj__os_import_dup(const struct mobj__os_obj *in, size_t size,
                        unsigned access, struct mobj__os_obj *out)
{
	int fl, seals, fd, err;

	err = classify(in->fd, size, access, &fl, &seals);
	if (err > 0)
		log_refusal(in->fd, size, access, seals, err);
	if (err != 0)
		return err > 0 ? -EPROTO : err;
	if ((access & MOBJ_WRITE) || (fl & O_ACCMODE) == O_RDONLY) {
		fd = fcntl(in->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return mobj__neg_errno();
		out->fd = fd;
		return 0;
	}
	/* The creator may have chmod'ed the memfd so that it cannot be opened
	 * again: an object we cannot hold read-only is not acceptable. */
	err = hold_rdonly(in->fd, &out->fd);
	if (err == -EACCES || err == -EPERM) {
		log_refusal(in->fd, size, access, seals, MOBJ_REFUSAL_NOT_REOPENABLE);
		return -EPROTO;
	}
	return err;
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

int mobj_fd_check(int fd, size_t size, unsigned access)
{
	int fl, seals, err;

	if (access != MOBJ_READ && access != (MOBJ_READ | MOBJ_WRITE))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	err = classify(fd, size, access, &fl, &seals);
	if (err == 0 && !(access & MOBJ_WRITE) && (fl & O_ACCMODE) != O_RDONLY) {
		err = reopen_rdonly(fd, &fl);
		if (err == 0)
			close(fl);
		else if (err == -EACCES || err == -EPERM)
			return MOBJ_REFUSAL_NOT_REOPENABLE;
		else if (err == -ENOENT)
			err = 0; /* no /proc: held as a duplicate (hold_rdonly) */
	}
	return err;
}

const char *mobj_refusal_str(int reason)
{
	switch (reason) {
	case 0: return "acceptable";
	case MOBJ_REFUSAL_NOT_MEMFD:
		return "not a memfd (F_GET_SEALS fails: a pipe, a file, O_PATH...)";
	case MOBJ_REFUSAL_HUGETLB:
		return "a hugetlb memfd (maps only in huge pages)";
	case MOBJ_REFUSAL_NO_SHRINK_SEAL:
		return "no F_SEAL_SHRINK: it could shrink under a mapping (SIGBUS)";
	case MOBJ_REFUSAL_SIZE:
		return "its size is not the declared size (smaller, or larger "
		       "though sealed against growing; or 0 or too large)";
	case MOBJ_REFUSAL_FD_READONLY:
		return "declared read-write, but the descriptor is read-only";
	case MOBJ_REFUSAL_WRITE_SEALED:
		return "declared read-write, but sealed F_SEAL_WRITE";
	case MOBJ_REFUSAL_NOT_FROZEN:
		return "declared read-only, but not frozen (no F_SEAL_FUTURE_WRITE "
		       "or F_SEAL_WRITE): anyone may still write it";
	case MOBJ_REFUSAL_NOT_REOPENABLE:
		return "declared read-only, but it cannot be reopened read-only "
		       "(its mode forbids it)";
	default: return "unknown refusal";
	}
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
