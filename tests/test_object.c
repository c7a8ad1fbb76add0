/*
 * Objects and mappings: sizes, bad input, mirrors, the read-only rule and
 * every way a holder of a read-only handle might try to write, in this
 * process and in a forked child.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mobj/mobj.h"
#ifdef __APPLE__
#include <mach/mach.h>

#include "mobj/darwin.h"
#else
#include "mobj/linux.h"
#endif
#include "rovec.h"
#include "testutil.h"

#define RW (MOBJ_PROT_READ | MOBJ_PROT_WRITE)

static size_t page(void)
{
	return mobj_page_size();
}

static void test_page_size(void **state)
{
	size_t ps = page();

	(void)state;
	assert_true(ps >= 4096);
	assert_int_equal(ps & (ps - 1), 0);
#ifdef __APPLE__
	/* Under Rosetta the task's page is 4 KiB, the kernel's (and mobj's)
	 * 16 KiB: test_darwin checks the exact value. */
	assert_int_equal(ps % (size_t)sysconf(_SC_PAGESIZE), 0);
#else
	assert_int_equal(ps, (size_t)sysconf(_SC_PAGESIZE));
#endif
}

static void test_create_rounds_and_seals(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *o;
#ifdef __linux__
	int seals, fdflags;
#endif

	(void)state;
	assert_int_equal(mobj_create(1, 0, &o), 0);
	assert_int_equal(mobj_size(o), page());
	assert_int_equal(mobj_access(o), MOBJ_READ | MOBJ_WRITE);
#ifdef __linux__
	seals = fcntl(mobj_fd(o), F_GET_SEALS);
	assert_true(seals >= 0);
	assert_int_equal(seals & (F_SEAL_SHRINK | F_SEAL_GROW),
	                 F_SEAL_SHRINK | F_SEAL_GROW);
	assert_int_equal(seals & F_SEAL_FUTURE_WRITE, 0);
	fdflags = fcntl(mobj_fd(o), F_GETFD);
	assert_true(fdflags & FD_CLOEXEC);
	/* Size seals: nobody can shrink the object under a mapping. */
	assert_int_equal(ftruncate(mobj_fd(o), 0), -1);
	assert_int_equal(errno, EPERM);
#else
	assert_true(MACH_PORT_VALID(mobj_port(o)));
#endif
	mobj_close(o);

	assert_int_equal(mobj_create(page() + 1, 0, &o), 0);
	assert_int_equal(mobj_size(o), 2 * page());
	mobj_close(o);
	tu_res_check(r);
}

static void test_create_bad_input(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *o = (struct mobj *)(uintptr_t)0x1;

	(void)state;
	assert_int_equal(mobj_create(0, 0, &o), -EINVAL);
	assert_int_equal(mobj_create(SIZE_MAX, 0, &o), -EINVAL);
	assert_int_equal(mobj_create(SIZE_MAX - page() + 2, 0, &o), -EINVAL);
	assert_int_equal(mobj_create((size_t)PTRDIFF_MAX, 0, &o), -EINVAL);
	assert_int_equal(mobj_create(page(), 2, &o), -EINVAL);
	assert_int_equal(mobj_create(page(), MOBJ_CREATE_POPULATE | 2, &o), -EINVAL);
	assert_int_equal(mobj_create(page(), 0x80000000u, &o), -EINVAL);
	assert_int_equal(mobj_create(page(), 0, NULL), -EINVAL);
	/* Out-parameters are written only on success. */
	assert_ptr_equal(o, (struct mobj *)(uintptr_t)0x1);
	tu_res_check(r);
}

static void test_create_labels(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *o = (struct mobj *)(uintptr_t)0x1;
	char longest[MOBJ_LABEL_MAX + 2];

	(void)state;
	memset(longest, 'x', sizeof(longest));
	longest[MOBJ_LABEL_MAX + 1] = '\0';
	assert_int_equal(mobj_create_labeled(page(), 0, longest, &o), -EINVAL);
	assert_int_equal(mobj_create_labeled(page(), 0, "", &o), -EINVAL);
	assert_int_equal(mobj_create_labeled(page(), 0, "two words", &o), -EINVAL);
	assert_int_equal(mobj_create_labeled(page(), 0, "tab\there", &o), -EINVAL);
	assert_int_equal(mobj_create_labeled(page(), 0, "nl\n", &o), -EINVAL);
	assert_int_equal(mobj_create_labeled(page(), 0, "caf\xc3\xa9", &o), -EINVAL);
	assert_int_equal(mobj_create_labeled(page(), 4, "ok", &o), -EINVAL);
	assert_ptr_equal(o, (struct mobj *)(uintptr_t)0x1);
	longest[MOBJ_LABEL_MAX] = '\0';
	assert_int_equal(mobj_create_labeled(page(), 0, longest, &o), 0);
	mobj_close(o);
	assert_int_equal(mobj_create_labeled(page(), MOBJ_CREATE_POPULATE,
	                                     "frame/3:A_b-c.d~", &o), 0);
	assert_int_equal(mobj_size(o), page());
	mobj_close(o);
	assert_int_equal(mobj_create_labeled(page() + 1, 0, NULL, &o), 0);
	assert_int_equal(mobj_size(o), 2 * page());
	mobj_close(o);
	tu_res_check(r);
}

static void test_create_populate(void **state)
{
	struct tu_res r = tu_res_now();
	size_t size = 256 * page(), i;
	unsigned char *p;
	struct mobj *o;
#ifdef __linux__
	struct stat st;
#endif

	(void)state;
	assert_int_equal(mobj_create(size, MOBJ_CREATE_POPULATE, &o), 0);
#ifdef __linux__
	/* Every page is allocated before anyone touches one. */
	assert_int_equal(fstat(mobj_fd(o), &st), 0);
	assert_int_equal((size_t)st.st_blocks * 512, size);
#endif
	assert_int_equal(mobj_map(o, 0, size, RW, (void **)&p), 0);
	for (i = 0; i < size; i += page())
		assert_int_equal(p[i], 0);
	mobj_unmap(p, size);
	mobj_close(o);
#ifdef __linux__
	assert_int_equal(mobj_create(size, 0, &o), 0);
	assert_int_equal(fstat(mobj_fd(o), &st), 0);
	assert_int_equal(st.st_blocks, 0);
	mobj_close(o);
#endif
	tu_res_check(r);
}

static void test_null_handles(void **state)
{
	struct mobj *o;
	void *p;

	(void)state;
	assert_int_equal(mobj_size(NULL), 0);
	assert_int_equal(mobj_access(NULL), 0);
#ifdef __APPLE__
	assert_int_equal(mobj_port(NULL), MACH_PORT_NULL);
#else
	assert_int_equal(mobj_fd(NULL), -EINVAL);
#endif
	assert_int_equal(mobj_readonly(NULL, &o), -EINVAL);
	assert_int_equal(mobj_map(NULL, 0, page(), MOBJ_PROT_READ, &p), -EINVAL);
	assert_int_equal(mobj_map_mirror(NULL, MOBJ_PROT_READ, &p), -EINVAL);
	mobj_close(NULL);
}

static void test_huge_object_costs_nothing(void **state)
{
	struct tu_res r = tu_res_now();
#ifdef __APPLE__
	/* XNU caps one anonymous VM object at 4 GiB - 1 page on many
	 * releases (ANON_MAX_SIZE): stay below it. */
	size_t size = (size_t)2 << 30;
#else
	size_t size = (size_t)64 << 30;
#endif
	struct mobj *o;
	unsigned char *p;

	(void)state;
	assert_int_equal(mobj_create(size, 0, &o), 0);
	assert_int_equal(mobj_size(o), size);
	assert_int_equal(mobj_map(o, size / 2, 4 * page(), RW, (void **)&p), 0);
	p[0] = 1;
	p[4 * page() - 1] = 2;
	assert_int_equal(mobj_unmap(p, 4 * page()), 0);
	mobj_close(o);
	tu_res_check(r);
}

static void test_map_bad_input(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *o;
	void *p = NULL;
	size_t sz = 4 * page();

	(void)state;
	assert_int_equal(mobj_create(sz, 0, &o), 0);
	assert_int_equal(mobj_map(o, 0, sz, MOBJ_PROT_READ, NULL), -EINVAL);
	assert_int_equal(mobj_map(o, 0, sz, 0, &p), -EINVAL);
	assert_int_equal(mobj_map(o, 0, sz, MOBJ_PROT_WRITE, &p), -EINVAL);
	assert_int_equal(mobj_map(o, 0, sz, 4, &p), -EINVAL);
	assert_int_equal(mobj_map(o, 1, page(), RW, &p), -EINVAL);
	assert_int_equal(mobj_map(o, page() / 2, page(), RW, &p), -EINVAL);
	assert_int_equal(mobj_map(o, 0, 0, RW, &p), -EINVAL);
	assert_int_equal(mobj_map(o, 0, sz + 1, RW, &p), -EINVAL);
	assert_int_equal(mobj_map(o, page(), sz, RW, &p), -EINVAL);
	assert_int_equal(mobj_map(o, sz, 1, RW, &p), -EINVAL);
	assert_int_equal(mobj_map(o, 8 * page(), page(), RW, &p), -EINVAL);
	assert_int_equal(mobj_map(o, page(), SIZE_MAX, RW, &p), -EINVAL);
	assert_int_equal(mobj_map(o, SIZE_MAX & ~(page() - 1), page(), RW, &p),
	                 -EINVAL);
	assert_int_equal(mobj_map_mirror(o, 0, &p), -EINVAL);
	assert_int_equal(mobj_map_mirror(o, MOBJ_PROT_READ, NULL), -EINVAL);
	assert_null(p);
	assert_int_equal(mobj_unmap(NULL, page()), -EINVAL);
	assert_int_equal(mobj_unmap((void *)(uintptr_t)(page() + 1), page()), -EINVAL);
	assert_int_equal(mobj_unmap((void *)(uintptr_t)page(), 0), -EINVAL);
	assert_int_equal(mobj_unmap((void *)(uintptr_t)page(), SIZE_MAX), -EINVAL);
	mobj_close(o);
	tu_res_check(r);
}

static void test_map_shares_pages_and_outlives_close(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *o;
	unsigned char *a, *b;
	size_t sz = 3 * page();
#ifdef __linux__
	char line[512];
	bool named = false;
	FILE *f;
#endif

	(void)state;
	assert_int_equal(mobj_create(sz, 0, &o), 0);
	assert_int_equal(mobj_map(o, 0, sz, RW, (void **)&a), 0);
	assert_int_equal(mobj_map(o, page(), 100, MOBJ_PROT_READ, (void **)&b), 0);
#ifdef __linux__
	f = fopen("/proc/self/maps", "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:mobj"))
			named = true;
	fclose(f);
	assert_true(named);
#endif
	mobj_close(o);
	a[page() + 7] = 0x5a;
	assert_int_equal(b[7], 0x5a);
	assert_int_equal(mobj_unmap(a, sz), 0);
	assert_int_equal(mobj_unmap(b, 100), 0);
	tu_res_check(r);
}

static void check_mirror(unsigned char *m, size_t sz)
{
	size_t i;

	for (i = 0; i < sz; i++)
		m[i] = (unsigned char)(i * 31 + 7);
	for (i = 0; i < sz; i++)
		if (m[i + sz] != (unsigned char)(i * 31 + 7))
			fail_msg("mirror differs at %zu", i);
	for (i = 0; i < sz; i++)
		m[i + sz] = (unsigned char)(i * 17 + 3);
	for (i = 0; i < sz; i++)
		if (m[i] != (unsigned char)(i * 17 + 3))
			fail_msg("mirror differs at %zu (written high)", i);
}

static void test_mirror_aliases_every_byte(void **state)
{
	struct tu_res r = tu_res_now();
	size_t sizes[] = { 1, 2, 16 };
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct mobj *o;
		unsigned char *m;
		size_t sz = sizes[k] * page();

		assert_int_equal(mobj_create(sz, 0, &o), 0);
		assert_int_equal(mobj_map_mirror(o, RW, (void **)&m), 0);
		check_mirror(m, sz);
		assert_int_equal(mobj_unmap(m, 2 * sz), 0);
		mobj_close(o);
	}
	tu_res_check(r);
}

static void test_mirror_write_across_seam(void **state)
{
	struct tu_res r = tu_res_now();
	size_t sz = 2 * page(), i;
	unsigned char rec[300], *m;
	struct mobj *o;

	(void)state;
	for (i = 0; i < sizeof(rec); i++)
		rec[i] = (unsigned char)(i ^ 0xa5);
	assert_int_equal(mobj_create(sz, 0, &o), 0);
	assert_int_equal(mobj_map_mirror(o, RW, (void **)&m), 0);
	/* A record written contiguously across the end of the first copy... */
	memcpy(m + sz - 100, rec, sizeof(rec));
	/* ...is split in the object: its tail is at the start. */
	assert_memory_equal(m, rec + 100, 200);
	assert_memory_equal(m + sz - 100, rec, 100);
	/* And a record written split is read back whole. */
	memset(m, 0, sz);
	memcpy(m + 2 * sz - 50, rec, 50);
	memcpy(m, rec + 50, 250);
	assert_memory_equal(m + sz - 50, rec, sizeof(rec));
	assert_int_equal(mobj_unmap(m, 2 * sz), 0);
	mobj_close(o);
	tu_res_check(r);
}

static void test_mirror_readonly(void **state)
{
	struct tu_res r = tu_res_now();
	size_t sz = 2 * page(), i;
	struct mobj *o, *ro;
	unsigned char *w, *m;
	void *p = NULL;

	(void)state;
	assert_int_equal(mobj_create(sz, 0, &o), 0);
	assert_int_equal(mobj_map(o, 0, sz, RW, (void **)&w), 0);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_map_mirror(ro, RW, &p), -EACCES);
	assert_int_equal(mobj_map_mirror(o, RW, &p), -EPERM);
	assert_null(p);
	assert_int_equal(mobj_map_mirror(ro, MOBJ_PROT_READ, (void **)&m), 0);
	for (i = 0; i < sz; i++)
		w[i] = (unsigned char)(i * 13);
	for (i = 0; i < sz; i++)
		if (m[i] != (unsigned char)(i * 13) ||
		    m[i + sz] != (unsigned char)(i * 13))
			fail_msg("read-only mirror differs at %zu", i);
	assert_false(tu_poke_mem(m + sz + 5, 1));
	assert_int_equal(mobj_unmap(m, 2 * sz), 0);
	assert_int_equal(mobj_unmap(w, sz), 0);
	mobj_close(ro);
	mobj_close(o);
	tu_res_check(r);
}

static void test_readonly_rule(void **state)
{
	struct tu_res r = tu_res_now();
	size_t sz = page();
	struct mobj *o, *ro, *ro2, *ro3;
	unsigned char *w, *rd;
	void *p = NULL;

	(void)state;
	assert_int_equal(mobj_create(sz, 0, &o), 0);
	assert_int_equal(mobj_map(o, 0, sz, RW, (void **)&w), 0);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_access(ro), MOBJ_READ);
	assert_int_equal(mobj_size(ro), sz);
#ifdef __linux__
	assert_int_equal(fcntl(mobj_fd(ro), F_GETFL) & O_ACCMODE, O_RDONLY);
#else
	assert_int_not_equal(mobj_port(ro), mobj_port(o)); /* a child entry */
#endif
	/* Writable mappings made before keep working. */
	w[10] = 42;
	assert_int_equal(mobj_map(ro, 0, sz, MOBJ_PROT_READ, (void **)&rd), 0);
	assert_int_equal(rd[10], 42);
	/* No new writable mapping, through either handle. */
	assert_int_equal(mobj_map(o, 0, sz, RW, &p), -EPERM);
	assert_int_equal(mobj_map(ro, 0, sz, RW, &p), -EACCES);
	assert_null(p);
	/* Freezing again, and deriving from the read-only handle, both work. */
	assert_int_equal(mobj_readonly(o, &ro2), 0);
	assert_int_equal(mobj_readonly(ro, &ro3), 0);
	assert_int_equal(mobj_access(ro3), MOBJ_READ);
	assert_int_equal(mobj_map(ro3, 0, sz, RW, &p), -EACCES);
	mobj_close(ro3);
	mobj_close(ro2);
	assert_int_equal(mobj_unmap(rd, sz), 0);
	assert_int_equal(mobj_unmap(w, sz), 0);
	mobj_close(ro);
	mobj_close(o);
	tu_res_check(r);
}

#ifdef __linux__
static bool have_proc(void)
{
	return access("/proc/self/fd", F_OK) == 0;
}

/* Make @view (@len bytes) writable and write it, every way there is; 0 when
 * the object (seen through @w, a writable mapping made before the freeze,
 * byte @off) is unchanged. With /proc the upgrade itself must be refused. */
static int try_write_view(unsigned char *view, size_t len, size_t off,
                          const unsigned char *w)
{
	if (mprotect(view, len, PROT_READ | PROT_WRITE) == 0) {
		if (have_proc())
			return 1;
		((volatile unsigned char *)view)[off] = 0x77;
	}
	tu_poke_mem(view + off, 0x78);
	return w[off] != 0 ? 2 : 0;
}

/* Regression (the freeze had an mprotect hole: a read-only view made
 * through the read-write handle before mobj_readonly() kept the kernel's
 * right to be made writable, and mprotect(PROT_WRITE) on it wrote the
 * frozen object). Plain views and both halves of a read-only mirror, made
 * before and after the freeze. Also checks that the views are coherent,
 * even for a page first read before it was ever written. Returns 0, or
 * where it failed. */
static int old_views_case(void *arg)
{
	size_t sz = 2 * page(), pg = page(), i;
	unsigned char *w, *v, *m, *v2, *m2, *views[3];
	struct mobj *o, *ro;
	int rc;

	(void)arg;
	if (mobj_create(sz, 0, &o) != 0 ||
	    mobj_map(o, 0, sz, RW, (void **)&w) != 0 ||
	    mobj_map(o, 0, sz, MOBJ_PROT_READ, (void **)&v) != 0 ||
	    mobj_map_mirror(o, MOBJ_PROT_READ, (void **)&m) != 0)
		return 1;
	/* Read first, while the pages are holes: a view must not keep a
	 * page of zeros of its own. */
	if (v[0] || m[pg] || m[sz])
		return 2;
	w[0] = 1;
	w[pg] = 2;
	if (v[0] != 1 || m[0] != 1 || m[sz] != 1 || v[pg] != 2 ||
	    m[pg] != 2 || m[sz + pg] != 2)
		return 3;
	if (mobj_readonly(o, &ro) != 0)
		return 4;
	views[0] = v;
	views[1] = m;
	views[2] = m + sz;
	for (i = 0; i < 3; i++) {
		rc = try_write_view(views[i], i == 0 ? sz : sz, 5 + i, w);
		if (rc)
			return 10 * (int)(i + 1) + rc;
	}
	/* The writable mapping made before still writes, and every view
	 * still sees it (page 1: page 0 of a view may now be private). */
	w[pg + 7] = 9;
	if (v[pg + 7] != 9 || m[pg + 7] != 9 || m[sz + pg + 7] != 9)
		return 5;
	/* Views made after the freeze, through either handle. */
	if (mobj_map(o, 0, sz, MOBJ_PROT_READ, (void **)&v2) != 0 ||
	    mobj_map_mirror(ro, MOBJ_PROT_READ, (void **)&m2) != 0)
		return 6;
	if (v2[pg + 7] != 9 || m2[sz + pg + 7] != 9)
		return 7;
	if ((rc = try_write_view(v2, sz, 9, w)) != 0)
		return 40 + rc;
	if ((rc = try_write_view(m2 + sz, sz, 10, w)) != 0)
		return 50 + rc;
	mobj_unmap(m2, 2 * sz);
	mobj_unmap(v2, sz);
	mobj_unmap(m, 2 * sz);
	mobj_unmap(v, sz);
	mobj_unmap(w, sz);
	mobj_close(ro);
	mobj_close(o);
	return 0;
}

static void test_freeze_mprotect_hole(void **state)
{
	struct tu_res r = tu_res_now();

	(void)state;
	assert_int_equal(old_views_case(NULL), 0);
	assert_int_equal(tu_in_child(old_views_case, NULL), 0);
	tu_res_check(r);
}

static void test_freeze_mprotect_hole_without_proc(void **state)
{
	(void)state;
	assert_int_equal(tu_in_child_without_proc(old_views_case, NULL), 0);
}

/* Regression (without /proc, in a chroot or a sandbox, mobj_readonly()
 * failed with -ENOENT, as did mobj_from_fd() of a frozen object held
 * read-write, so no read-only handle and no ring): both work, and every
 * write vector there is still refused on the read-only handle. */
static int noproc_readonly_case(void *arg)
{
	struct rovec_target f;
	struct mobj *x;
	void *p = NULL;
	int i;

	(void)arg;
	if (mobj_create(page(), 0, &f.o) != 0)
		return 1;
	if (mobj_readonly(f.o, &f.ro) != 0)
		return 2;
	if (mobj_access(f.ro) != MOBJ_READ ||
	    mobj_map(f.ro, 0, page(), RW, &p) != -EACCES ||
	    mobj_map(f.o, 0, page(), RW, &p) != -EPERM)
		return 3;
	if (mobj_map(f.ro, 0, page(), MOBJ_PROT_READ, (void **)&f.view) != 0)
		return 4;
	for (i = 0; rovecs[i].fn; i++) {
		if (rovecs[i].fn(&f) != 0) {
			fprintf(stderr, "without /proc: %s got through\n",
			        rovecs[i].name);
			return 10 + i;
		}
	}
	/* A frozen object sent with its read-write descriptor. */
	if (mobj_fd_check(mobj_fd(f.o), page(), MOBJ_READ) != 0 ||
	    mobj_from_fd(mobj_fd(f.o), page(), MOBJ_READ, &x) != 0)
		return 5;
	if (mobj_map(x, 0, page(), RW, &p) != -EACCES)
		return 6;
	mobj_close(x);
	mobj_unmap(f.view, page());
	mobj_close(f.ro);
	mobj_close(f.o);
	return 0;
}

static void test_readonly_without_proc(void **state)
{
	(void)state;
	assert_int_equal(tu_in_child_without_proc(noproc_readonly_case, NULL), 0);
}
#endif /* __linux__ */

/* ---- The read-only vectors (tests/rovec.c), against a frozen object. */

static void frozen_open(struct rovec_target *f)
{
	assert_int_equal(mobj_create(page(), 0, &f->o), 0);
	assert_int_equal(mobj_readonly(f->o, &f->ro), 0);
	assert_int_equal(mobj_map(f->ro, 0, page(), MOBJ_PROT_READ,
	                          (void **)&f->view), 0);
}

static void frozen_close(struct rovec_target *f)
{
	assert_int_equal(f->view[0], 0);
	assert_int_equal(mobj_unmap(f->view, page()), 0);
	mobj_close(f->ro);
	mobj_close(f->o);
}

static void run_vector(int (*vec)(void *))
{
	struct tu_res r = tu_res_now();
	struct rovec_target f;

	frozen_open(&f);
	assert_int_equal(vec(&f), 0);
#ifdef __linux__
	/* Darwin: a forked child inherits neither the ports nor the mappings
	 * (VM_INHERIT_NONE); test_chan attacks an object another process
	 * received. */
	assert_int_equal(tu_in_child(vec, &f), 0);
#endif
	frozen_close(&f);
	tu_res_check(r);
}

static void test_ro_mprotect(void **s) { (void)s; run_vector(rovec_mprotect); }
#ifdef __linux__
static void test_ro_mmap(void **s) { (void)s; run_vector(rovec_mmap); }
static void test_ro_reopen_proc_fd(void **s) { (void)s; run_vector(rovec_reopen); }
static void test_ro_write(void **s) { (void)s; run_vector(rovec_write); }
static void test_ro_ftruncate(void **s) { (void)s; run_vector(rovec_ftruncate); }
static void test_ro_proc_mem(void **s) { (void)s; run_vector(rovec_proc_mem); }
static void test_ro_seal_seal(void **s) { (void)s; run_vector(rovec_unseal); }
#endif /* __linux__ */

#ifdef __APPLE__
static void test_ro_vm_map(void **s) { (void)s; run_vector(rovec_vm_map); }
static void test_ro_vm_protect(void **s) { (void)s; run_vector(rovec_vm_protect); }
static void test_ro_vm_write(void **s) { (void)s; run_vector(rovec_vm_write); }
#endif /* __APPLE__ */

#ifdef __linux__
/* A read-only handle taken from another program's memfd that is sealed
 * F_SEAL_WRITE instead of frozen (mobj_from_fd accepts it): every write
 * vector but add-seals (no F_SEAL_SEAL there, and more seals only take
 * rights away) fails on it, here and in a child. */
static void test_ro_vectors_write_sealed(void **state)
{
	struct tu_res r = tu_res_now();
	struct rovec_target f;
	int fd, i;

	(void)state;
	fd = tu_memfd(page(), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ, &f.ro), 0);
	close(fd);
	f.o = f.ro;
	assert_int_equal(mobj_map(f.ro, 0, page(), MOBJ_PROT_READ,
	                          (void **)&f.view), 0);
	for (i = 0; rovecs[i].fn; i++) {
		if (rovecs[i].fn == rovec_unseal)
			continue;
		if (rovecs[i].fn(&f) != 0 || tu_in_child(rovecs[i].fn, &f) != 0)
			fail_msg("read-only vector %s got through", rovecs[i].name);
	}
	assert_int_equal(f.view[0], 0);
	assert_int_equal(mobj_unmap(f.view, page()), 0);
	mobj_close(f.ro);
	tu_res_check(r);
}
#endif /* __linux__ */

/* The vectors must be able to fail: against an object that is not frozen,
 * each of them gets through (mprotect and add-seals were not checked here,
 * so nothing showed they could fail; ftruncate cannot be shown this way:
 * every mobj object is size-sealed). */
static void test_vectors_detect_writable(void **state)
{
	struct tu_res r = tu_res_now();
	struct rovec_target f;

	(void)state;
	assert_int_equal(mobj_create(page(), 0, &f.o), 0);
	f.ro = f.o;
	assert_int_equal(mobj_map(f.o, 0, page(), RW, (void **)&f.view), 0);
#ifdef __linux__
	assert_int_not_equal(rovec_mmap(&f), 0);
	f.view[0] = 0;
	assert_int_not_equal(rovec_reopen(&f), 0);
	f.view[0] = 0;
	assert_int_not_equal(rovec_write(&f), 0);
	f.view[0] = 0;
	assert_int_not_equal(rovec_proc_mem(&f), 0);
#else
	assert_int_not_equal(rovec_vm_map(&f), 0);
	f.view[0] = 0;
	assert_int_not_equal(rovec_vm_protect(&f), 0);
	f.view[0] = 0;
	assert_int_not_equal(rovec_vm_write(&f), 0);
	assert_int_equal(f.view[0], 1);
#endif
	f.view[0] = 0;
	assert_int_not_equal(rovec_mprotect(&f), 0);
	assert_int_equal(mobj_unmap(f.view, page()), 0);
#ifdef __linux__
	/* Adding a seal needs no writable mapping around (F_SEAL_WRITE
	 * fails with EBUSY while one exists), so last. */
	assert_int_not_equal(rovec_unseal(&f), 0);
#endif
	mobj_close(f.o);
	tu_res_check(r);
}

#ifdef __linux__

static void test_from_fd_accepts(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *o, *a, *b, *ro;
	unsigned char *p, *q;
	int fd;

	(void)state;
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	assert_int_equal(mobj_from_fd(mobj_fd(o), page(), MOBJ_READ | MOBJ_WRITE, &a), 0);
	assert_int_not_equal(mobj_fd(a), mobj_fd(o));
	assert_int_equal(mobj_access(a), MOBJ_READ | MOBJ_WRITE);
	assert_int_equal(mobj_map(a, 0, page(), RW, (void **)&p), 0);
	mobj_close(a);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_from_fd(mobj_fd(ro), page(), MOBJ_READ, &b), 0);
	assert_int_equal(mobj_map(b, 0, page(), RW, (void **)&q), -EACCES);
	assert_int_equal(mobj_map(b, 0, page(), MOBJ_PROT_READ, (void **)&q), 0);
	p[1] = 9;
	assert_int_equal(q[1], 9);
	/* A frozen object sent with its read-write fd, declared read-only, is
	 * accepted and held O_RDONLY. */
	mobj_close(b);
	assert_int_equal(mobj_from_fd(mobj_fd(o), page(), MOBJ_READ, &b), 0);
	assert_int_equal(fcntl(mobj_fd(b), F_GETFL) & O_ACCMODE, O_RDONLY);
	mobj_close(b);
	/* Another program's memfd with size seals, frozen by hand. */
	fd = tu_memfd(page(), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ, &b), 0);
	close(fd);
	assert_int_equal(mobj_size(b), page());
	mobj_close(b);
	mobj_unmap(p, page());
	mobj_unmap(q, page());
	mobj_close(ro);
	mobj_close(o);
	tu_res_check(r);
}

static void test_from_fd_rejects(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *o, *x = NULL;
	int fd, pfd[2];
	FILE *tmp;

	(void)state;
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	assert_int_equal(mobj_from_fd(mobj_fd(o), page(), MOBJ_READ | MOBJ_WRITE, NULL), -EINVAL);
	assert_int_equal(mobj_from_fd(mobj_fd(o), 0, MOBJ_READ, &x), -EINVAL);
	assert_int_equal(mobj_from_fd(mobj_fd(o), page(), 0, &x), -EINVAL);
	assert_int_equal(mobj_from_fd(mobj_fd(o), page(), MOBJ_WRITE, &x), -EINVAL);
	assert_int_equal(mobj_from_fd(-1, page(), MOBJ_READ, &x), -EBADF);
	fd = dup(0 <= mobj_fd(o) ? mobj_fd(o) : 0);
	close(fd);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ, &x), -EBADF);
	/* Wrong size, non-page size. */
	assert_int_equal(mobj_from_fd(mobj_fd(o), 2 * page(), MOBJ_READ | MOBJ_WRITE, &x), -EPROTO);
	assert_int_equal(mobj_from_fd(mobj_fd(o), page() / 2, MOBJ_READ | MOBJ_WRITE, &x), -EPROTO);
	/* Declared read-only, but not frozen. */
	assert_int_equal(mobj_from_fd(mobj_fd(o), page(), MOBJ_READ, &x), -EPROTO);
	/* A pipe, a regular file, an unsealed memfd, one with only one seal. */
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(mobj_from_fd(pfd[0], page(), MOBJ_READ, &x), -EPROTO);
	close(pfd[0]);
	close(pfd[1]);
	tmp = tmpfile();
	assert_non_null(tmp);
	assert_int_equal(ftruncate(fileno(tmp), (off_t)page()), 0);
	assert_int_equal(mobj_from_fd(fileno(tmp), page(), MOBJ_READ | MOBJ_WRITE, &x), -EPROTO);
	fclose(tmp);
	fd = tu_memfd(page(), 0);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ | MOBJ_WRITE, &x), -EPROTO);
	close(fd);
	fd = tu_memfd(page(), F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ | MOBJ_WRITE, &x), -EPROTO);
	close(fd);
	/* Declared writable, but the descriptor is read-only. */
	{
		struct mobj *ro;

		assert_int_equal(mobj_readonly(o, &ro), 0);
		assert_int_equal(mobj_from_fd(mobj_fd(ro), page(), MOBJ_READ | MOBJ_WRITE, &x), -EPROTO);
		mobj_close(ro);
	}
	assert_null(x);
	mobj_close(o);
	tu_res_check(r);
}

/* Descriptors other programs might hand over, and sizes at the limits. */
static void test_from_fd_edge_cases(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *x = NULL, *ro = NULL;
	char path[32];
	void *p;
	int fd, pfd;

	(void)state;
	/* Regression (mobj_readonly of a read-only handle to an object that
	 * was sealed F_SEAL_WRITE rather than F_SEAL_FUTURE_WRITE failed with
	 * -EPERM: it tried to add seals through an O_RDONLY descriptor; the
	 * header says it just duplicates the handle). */
	fd = tu_memfd(page(), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ | MOBJ_WRITE, &x), -EPROTO);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ, &x), 0);
	close(fd);
	assert_int_equal(fcntl(mobj_fd(x), F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(mobj_readonly(x, &ro), 0);
	assert_int_equal(mobj_access(ro), MOBJ_READ);
	assert_int_equal(mobj_map(ro, 0, page(), RW, &p), -EACCES);
	assert_int_equal(mobj_map(ro, 0, page(), MOBJ_PROT_READ, &p), 0);
	mobj_unmap(p, page());
	mobj_close(ro);
	mobj_close(x);
	x = NULL;

	/* A memfd sealed F_SEAL_SEAL but not frozen is a read-write object
	 * that can never be frozen (test_from_fd_real_producers); frozen and
	 * sealed, it freezes as usual. */
	fd = tu_memfd(page(), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
	              F_SEAL_SEAL);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ | MOBJ_WRITE, &x), 0);
	close(fd);
	assert_int_equal(mobj_readonly(x, &ro), 0);
	mobj_close(ro);
	mobj_close(x);
	x = NULL;

	/* O_PATH: open, but no object (F_GET_SEALS is refused on it). */
	fd = tu_memfd(page(), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	pfd = open(path, O_PATH | O_CLOEXEC);
	assert_true(pfd >= 0);
	assert_int_equal(mobj_from_fd(pfd, page(), MOBJ_READ, &x), -EPROTO);
	assert_int_equal(mobj_from_fd(pfd, page(), MOBJ_READ | MOBJ_WRITE, &x), -EPROTO);
	close(pfd);

	/* Sizes that overflow a size_t rounding, an off_t, or a mirror. */
	assert_int_equal(mobj_from_fd(fd, SIZE_MAX, MOBJ_READ, &x), -EPROTO);
	assert_int_equal(mobj_from_fd(fd, SIZE_MAX & ~(page() - 1), MOBJ_READ, &x), -EPROTO);
	assert_int_equal(mobj_from_fd(fd, (size_t)1 << 63, MOBJ_READ, &x), -EPROTO);
	assert_int_equal(mobj_from_fd(fd, page() + 1, MOBJ_READ, &x), -EPROTO);
	close(fd);

	assert_null(x);
	tu_res_check(r);
}

/* What libwayland's os_create_anonymous_file() (every weston client's
 * pool, libwayland-cursor's own) makes: seals first, then posix_fallocate,
 * never sealed against growth, of a size that need not be a page multiple
 * (a cursor theme's pool: 1,177,344 bytes). */
#define WL_POOL_SIZE 1177344

static int wayland_pool_memfd(size_t size)
{
	int fd = memfd_create("wayland-cursor", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL), 0);
	assert_int_equal(posix_fallocate(fd, 0, (off_t)size), 0);
	return fd;
}

/* What PipeWire's pw_mempool_alloc() makes of a PW_MEMBLOCK_FLAG_SEAL block:
 * sized, then sealed GROW | SHRINK | SEAL, never frozen. */
static int pipewire_block_memfd(size_t size)
{
	int fd = memfd_create("pipewire-memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS,
	                       F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), 0);
	return fd;
}

/* A never-freezable, non-page-sized import: the whole object maps, its last
 * partial page too, and touching every mapped byte never faults. */
static void check_unfreezable(struct mobj *x, size_t size)
{
	size_t last = size & ~(page() - 1), i;
	unsigned char *p, *q;
	struct mobj *ro = NULL;

	assert_int_equal(mobj_size(x), size);
	assert_int_equal(mobj_access(x), MOBJ_READ | MOBJ_WRITE);
	assert_int_equal(mobj_map(x, 0, size, RW, (void **)&p), 0);
	for (i = 0; i < ((size + page() - 1) & ~(page() - 1)); i += 64)
		p[i] = (unsigned char)i;
	p[size - 1] = 0xab;
	if (last < size) {
		assert_int_equal(mobj_map(x, last, size - last, MOBJ_PROT_READ,
		                          (void **)&q), 0);
		assert_int_equal(q[size - 1 - last], 0xab);
		mobj_unmap(q, size - last);
		/* Past the end by a byte, or starting in the next page. */
		assert_int_equal(mobj_map(x, last, size - last + 1, MOBJ_PROT_READ,
		                          (void **)&q), -EINVAL);
		assert_int_equal(mobj_map(x, last + page(), 1, MOBJ_PROT_READ,
		                          (void **)&q), -EINVAL);
		assert_int_equal(mobj_map_mirror(x, MOBJ_PROT_READ, (void **)&q),
		                 -EINVAL);
	}
	assert_int_equal(mobj_readonly(x, &ro), -EPERM);
	assert_null(ro);
	mobj_unmap(p, size);
}

static void test_from_fd_real_producers(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *x = NULL;
	int fd;

	(void)state;
	fd = wayland_pool_memfd(WL_POOL_SIZE);
	assert_int_equal(mobj_fd_check(fd, WL_POOL_SIZE, MOBJ_READ | MOBJ_WRITE), 0);
	assert_int_equal(mobj_from_fd(fd, WL_POOL_SIZE, MOBJ_READ | MOBJ_WRITE, &x), 0);
	check_unfreezable(x, WL_POOL_SIZE);
	mobj_close(x);
	x = NULL;
	assert_int_equal(mobj_from_fd(fd, WL_POOL_SIZE, MOBJ_READ, &x), -EPROTO);
	assert_int_equal(mobj_fd_check(fd, WL_POOL_SIZE, MOBJ_READ),
	                 MOBJ_REFUSAL_NOT_FROZEN);
	close(fd);

	fd = pipewire_block_memfd(3 * page() + 100);
	assert_int_equal(mobj_from_fd(fd, 3 * page() + 100, MOBJ_READ | MOBJ_WRITE, &x), 0);
	check_unfreezable(x, 3 * page() + 100);
	mobj_close(x);
	close(fd);
	fd = pipewire_block_memfd(2 * page());
	assert_int_equal(mobj_from_fd(fd, 2 * page(), MOBJ_READ | MOBJ_WRITE, &x), 0);
	check_unfreezable(x, 2 * page());
	mobj_close(x);
	close(fd);
	tu_res_check(r);
}

/* Sealed against shrinking only: the producer may grow it after the import,
 * which leaves the importer's mapping and size alone; it can never shrink
 * it. Freezing still works. */
static void test_from_fd_growth_is_harmless(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *x = NULL, *ro = NULL;
	unsigned char *p;
	int fd;

	(void)state;
	fd = tu_memfd(page() + 10, F_SEAL_SHRINK);
	assert_int_equal(mobj_from_fd(fd, page() + 10, MOBJ_READ | MOBJ_WRITE, &x), 0);
	assert_int_equal(mobj_map(x, 0, page() + 10, RW, (void **)&p), 0);
	assert_int_equal(ftruncate(fd, (off_t)(8 * page())), 0);
	assert_int_not_equal(ftruncate(fd, 1), 0);
	/* Grown since it was sent: still the object it was declared as
	 * (libwayland-cursor grows its pool before the compositor reads
	 * create_pool); smaller than declared never. */
	assert_int_equal(mobj_fd_check(fd, page() + 10, MOBJ_READ | MOBJ_WRITE), 0);
	assert_int_equal(mobj_fd_check(fd, 9 * page(), MOBJ_READ | MOBJ_WRITE),
	                 MOBJ_REFUSAL_SIZE);
	p[page() + 9] = 1;
	p[2 * page() - 1] = 2;
	assert_int_equal(mobj_size(x), page() + 10);
	assert_int_equal(mobj_readonly(x, &ro), 0);
	assert_int_equal(mobj_access(ro), MOBJ_READ);
	mobj_close(ro);
	mobj_unmap(p, page() + 10);
	mobj_close(x);
	close(fd);
	tu_res_check(r);
}

/* Every refusal has its own reason, from mobj_fd_check(); hostile and
 * accidental descriptors alike. */
static void test_from_fd_reasons(void **state)
{
	struct tu_res r = tu_res_now();
	const unsigned RWA = MOBJ_READ | MOBJ_WRITE;
	struct mobj *o, *ro, *x = NULL;
	int fd, pfd[2], reason;
	char path[32];
	FILE *tmp;

	(void)state;
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	assert_int_equal(mobj_fd_check(mobj_fd(o), page(), RWA), 0);
	assert_int_equal(mobj_fd_check(mobj_fd(o), page(), 0), -EINVAL);
	assert_int_equal(mobj_fd_check(-1, page(), RWA), -EBADF);
	assert_int_equal(mobj_fd_check(mobj_fd(o), page(), MOBJ_READ),
	                 MOBJ_REFUSAL_NOT_FROZEN);
	assert_int_equal(mobj_fd_check(mobj_fd(o), page() + 1, RWA), MOBJ_REFUSAL_SIZE);
	assert_int_equal(mobj_fd_check(mobj_fd(o), page() - 1, RWA), MOBJ_REFUSAL_SIZE);
	assert_int_equal(mobj_fd_check(mobj_fd(o), 0, RWA), MOBJ_REFUSAL_SIZE);
	assert_int_equal(mobj_fd_check(mobj_fd(o), SIZE_MAX, RWA), MOBJ_REFUSAL_SIZE);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_fd_check(mobj_fd(ro), page(), RWA), MOBJ_REFUSAL_FD_READONLY);
	assert_int_equal(mobj_fd_check(mobj_fd(ro), page(), MOBJ_READ), 0);
	mobj_close(ro);
	mobj_close(o);

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(mobj_fd_check(pfd[0], page(), MOBJ_READ), MOBJ_REFUSAL_NOT_MEMFD);
	close(pfd[0]);
	close(pfd[1]);
	tmp = tmpfile();
	assert_non_null(tmp);
	assert_int_equal(ftruncate(fileno(tmp), (off_t)page()), 0);
	assert_int_equal(mobj_fd_check(fileno(tmp), page(), RWA), MOBJ_REFUSAL_NOT_MEMFD);
	fclose(tmp);
	fd = tu_memfd(page(), 0);
	assert_int_equal(mobj_fd_check(fd, page(), RWA), MOBJ_REFUSAL_NO_SHRINK_SEAL);
	close(fd);
	/* Sealed against everything but shrinking: the one seal that matters. */
	fd = tu_memfd(page(), F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
	assert_int_equal(mobj_fd_check(fd, page(), MOBJ_READ), MOBJ_REFUSAL_NO_SHRINK_SEAL);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ, &x), -EPROTO);
	close(fd);
	fd = tu_memfd(page(), F_SEAL_SHRINK | F_SEAL_WRITE);
	assert_int_equal(mobj_fd_check(fd, page(), RWA), MOBJ_REFUSAL_WRITE_SEALED);
	assert_int_equal(mobj_fd_check(fd, page(), MOBJ_READ), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	pfd[0] = open(path, O_PATH | O_CLOEXEC);
	assert_true(pfd[0] >= 0);
	assert_int_equal(mobj_fd_check(pfd[0], page(), MOBJ_READ), MOBJ_REFUSAL_NOT_MEMFD);
	close(pfd[0]);
	close(fd);
	/* A size that would map a whole page past the end (the SIGBUS a lying
	 * sender would set up). */
	fd = tu_memfd(page(), F_SEAL_SHRINK | F_SEAL_GROW);
	assert_int_equal(mobj_fd_check(fd, 2 * page(), RWA), MOBJ_REFUSAL_SIZE);
	close(fd);
	for (reason = 0; reason <= MOBJ_REFUSAL_NOT_REOPENABLE + 1; reason++)
		assert_non_null(mobj_refusal_str(reason));
	assert_string_not_equal(mobj_refusal_str(MOBJ_REFUSAL_SIZE),
	                        mobj_refusal_str(MOBJ_REFUSAL_NOT_FROZEN));
	assert_null(x);
	tu_res_check(r);
}

/* MOBJ_DEBUG: one line per refusal on stderr, nothing without it. */
static size_t refusal_log(const char *debug, char *out, size_t cap)
{
	int pfd[2], saved, fd;
	struct mobj *x = NULL;
	ssize_t n;

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(pfd[1], 2), 2);
	if (debug)
		setenv("MOBJ_DEBUG", debug, 1);
	else
		unsetenv("MOBJ_DEBUG");
	fd = tu_memfd(page(), 0);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ, &x), -EPROTO);
	close(fd);
	fd = tu_memfd(page(), F_SEAL_SHRINK);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ, &x), -EPROTO);
	assert_int_equal(mobj_from_fd(fd, page(), MOBJ_READ | MOBJ_WRITE, &x), 0);
	mobj_close(x);
	close(fd);
	unsetenv("MOBJ_DEBUG");
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(pfd[1]);
	n = read(pfd[0], out, cap - 1);
	close(pfd[0]);
	assert_true(n >= 0);
	out[n] = '\0';
	return (size_t)n;
}

static void test_debug_logs_refusals(void **state)
{
	struct tu_res r = tu_res_now();
	char log[1024], *nl;

	(void)state;
	assert_int_equal(refusal_log(NULL, log, sizeof(log)), 0);
	assert_int_equal(refusal_log("0", log, sizeof(log)), 0);
	assert_true(refusal_log("1", log, sizeof(log)) > 0);
	nl = strchr(log, '\n');
	assert_non_null(nl);
	assert_memory_equal(log, "mobj: refused ", 14);
	assert_non_null(strstr(log, mobj_refusal_str(MOBJ_REFUSAL_NO_SHRINK_SEAL)));
	assert_true(strstr(log, mobj_refusal_str(MOBJ_REFUSAL_NO_SHRINK_SEAL)) < nl);
	assert_memory_equal(nl + 1, "mobj: refused ", 14);
	assert_non_null(strstr(nl + 1, mobj_refusal_str(MOBJ_REFUSAL_NOT_FROZEN)));
	assert_string_equal(strchr(nl + 1, '\n'), "\n"); /* two lines, no more */
	tu_res_check(r);
}

/* The label is the memfd's name: /proc/PID/maps and /proc/PID/fd show it. */
static void test_label_in_proc(void **state)
{
	struct tu_res r = tu_res_now();
	char path[64], link[128], line[512];
	bool seen = false;
	struct mobj *o;
	void *p;
	FILE *f;
	ssize_t n;

	(void)state;
	assert_int_equal(mobj_create_labeled(page(), 0, "frame-3", &o), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mobj_fd(o));
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "/memfd:mobj:frame-3 (deleted)");
	assert_int_equal(mobj_map(o, 0, page(), MOBJ_PROT_READ, &p), 0);
	f = fopen("/proc/self/maps", "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:mobj:frame-3 (deleted)\n"))
			seen = true;
	fclose(f);
	assert_true(seen);
	mobj_unmap(p, page());
	mobj_close(o);
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mobj_fd(o));
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "/memfd:mobj (deleted)");
	mobj_close(o);
	tu_res_check(r);
}

static int write_file(const char *dir, const char *file, const char *text)
{
	char path[512];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

/* This process's cgroup v1 memory directory, or "" without one. */
static void memcg_v1_dir(char *out, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "re");

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *m = strstr(line, ":memory:");

		if (m && access("/sys/fs/cgroup/memory/cgroup.procs", F_OK) == 0) {
			m[strcspn(m, "\n")] = '\0';
			snprintf(out, cap, "/sys/fs/cgroup/memory%s", m + 8);
		}
	}
	fclose(f);
}

/* In a memory cgroup of 16 MiB whose OOM killer is off (so a charge that
 * does not fit fails instead of killing someone), a populated 64 MiB object
 * is -ENOMEM from mobj_create, a populated 4 MiB one fits, and an
 * unpopulated 64 MiB one is created (it would meet the limit only when
 * touched). Run in a child that moves itself into the cgroup and back. */
static int populate_limit_case(void *arg)
{
	const char *parent = arg;
	char dir[600], pid[32];
	struct mobj *o = NULL;
	int err, rc = 0;

	snprintf(dir, sizeof(dir), "%s/mobj-populate-%d", parent, (int)getpid());
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (mkdir(dir, 0700) < 0)
		return 10;
	if (write_file(dir, "memory.limit_in_bytes", "16M") < 0 ||
	    write_file(dir, "memory.oom_control", "1") < 0 ||
	    write_file(dir, "cgroup.procs", pid) < 0) {
		rmdir(dir);
		return 11;
	}
	err = mobj_create((size_t)64 << 20, MOBJ_CREATE_POPULATE, &o);
	if (err != -ENOMEM) {
		fprintf(stderr, "populated 64 MiB under 16 MiB: %d\n", err);
		rc = 1;
	}
	if (mobj_create((size_t)4 << 20, MOBJ_CREATE_POPULATE, &o) != 0)
		rc = 2;
	mobj_close(o);
	if (mobj_create((size_t)64 << 20, 0, &o) != 0)
		rc = 3;
	mobj_close(o);
	if (write_file(parent, "cgroup.procs", pid) < 0 || rmdir(dir) < 0)
		rc = rc ? rc : 4;
	return rc;
}

static void test_populate_memory_limit(void **state)
{
	char dir[512];

	(void)state;
	memcg_v1_dir(dir, sizeof(dir));
	if (geteuid() != 0 || dir[0] == '\0') {
		/* cgroup v2 has no memory.oom_control: the charge would call
		 * the OOM killer on this very process instead of failing. */
		print_message("skipped: needs root and a cgroup v1 memory "
		              "controller\n");
		skip();
	}
	assert_int_equal(tu_in_child(populate_limit_case, dir), 0);
}

/* Regression (a frozen memfd whose creator chmod'ed it 0 was refused with
 * -EACCES, from mobj_recv too, where the contract says -EPROTO: the
 * read-only handle is reopened through /proc, which checks the mode). Runs
 * as nobody when root, whom the mode does not stop. */
static int chmod0_case(void *arg)
{
	struct mobj *x = NULL;
	int fd, err;

	(void)arg;
	if (getuid() == 0 && (setresgid(65534, 65534, 65534) < 0 ||
	                      setresuid(65534, 65534, 65534) < 0))
		return 1;
	fd = memfd_create("chmod0", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)page()) < 0 || fchmod(fd, 0) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	          F_SEAL_FUTURE_WRITE) < 0)
		return 2;
	if (mobj_fd_check(fd, page(), MOBJ_READ) != MOBJ_REFUSAL_NOT_REOPENABLE)
		return 5;
	err = mobj_from_fd(fd, page(), MOBJ_READ, &x);
	if (err != -EPROTO) {
		fprintf(stderr, "chmod 0 memfd: %d\n", err);
		return 3;
	}
	return x == NULL ? 0 : 4;
}

/* A read-only view of an object whose memfd someone made unreadable
 * (chmod 0, by any holder of a writable descriptor): the view cannot come
 * through a reopened descriptor, and must not fail for it. Runs as nobody,
 * whom the mode stops. */
static int view_mode0_case(void *arg)
{
	struct tu_res r;
	unsigned char *w, *v;
	struct mobj *o, *ro;
	int rc;

	(void)arg;
	if (getuid() == 0 && (setresgid(65534, 65534, 65534) < 0 ||
	                      setresuid(65534, 65534, 65534) < 0))
		return 1;
	r = tu_res_now();
	if (mobj_create(page(), 0, &o) != 0 || fchmod(mobj_fd(o), 0) != 0 ||
	    mobj_map(o, 0, page(), RW, (void **)&w) != 0)
		return 2;
	rc = mobj_map(o, 0, page(), MOBJ_PROT_READ, (void **)&v);
	if (rc != 0) {
		fprintf(stderr, "read-only view of a mode 0 memfd: %d\n", rc);
		return 3;
	}
	w[3] = 7;
	if (v[3] != 7)
		return 4;
	/* Freezing needs the read-only reopen: refused, as documented. */
	if (mobj_readonly(o, &ro) != -EACCES)
		return 5;
	if (mprotect(v, page(), PROT_READ | PROT_WRITE) == 0)
		v[3] = 9;
	if (w[3] != 7)
		return 6;
	mobj_unmap(v, page());
	mobj_unmap(w, page());
	mobj_close(o);
	return tu_res_same(r, tu_res_now()) ? 0 : 7;
}

static void test_view_of_mode0_object(void **state)
{
	(void)state;
	assert_int_equal(tu_in_child(view_mode0_case, NULL), 0);
}

static void test_from_fd_mode_0(void **state)
{
	(void)state;
	assert_int_equal(tu_in_child(chmod0_case, NULL), 0);
}

/* Regression (a hugetlb memfd, sealed and frozen, was accepted, and then
 * mobj_map() at a page offset and every mirror failed with -EINVAL: a ring
 * consumer got -EINVAL instead of -EPROTO). */
static void test_from_fd_hugetlb(void **state)
{
	struct tu_res r = tu_res_now();
	struct mobj *x = NULL;
	struct stat st;
	int fd;

	(void)state;
	fd = memfd_create("huge", MFD_HUGETLB | MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (fd < 0) {
		print_message("skipped: memfd_create(MFD_HUGETLB): %s\n",
		              strerror(errno));
		skip();
	}
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(ftruncate(fd, st.st_blksize), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	                       F_SEAL_FUTURE_WRITE), 0);
	assert_int_equal(mobj_from_fd(fd, (size_t)st.st_blksize, MOBJ_READ, &x),
	                 -EPROTO);
	assert_int_equal(mobj_fd_check(fd, (size_t)st.st_blksize, MOBJ_READ),
	                 MOBJ_REFUSAL_HUGETLB);
	close(fd);
	assert_null(x);
	tu_res_check(r);
}
#endif /* __linux__ */

static void test_strerror(void **state)
{
	const char *unknown = mobj_strerror(123456);
	int errs[] = { EINVAL, EACCES, EPERM, EPROTO, EPIPE, ETIMEDOUT,
	               EAGAIN, EMSGSIZE, EBADF, ENOMEM };
	size_t i;

	(void)state;
	assert_non_null(unknown);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		assert_non_null(mobj_strerror(-errs[i]));
		assert_string_not_equal(mobj_strerror(-errs[i]), unknown);
		assert_string_equal(mobj_strerror(-errs[i]), mobj_strerror(errs[i]));
	}
	assert_string_not_equal(mobj_strerror(-EPERM), mobj_strerror(-EACCES));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_size),
		cmocka_unit_test(test_create_rounds_and_seals),
		cmocka_unit_test(test_create_bad_input),
		cmocka_unit_test(test_null_handles),
		cmocka_unit_test(test_create_labels),
		cmocka_unit_test(test_create_populate),
		cmocka_unit_test(test_huge_object_costs_nothing),
		cmocka_unit_test(test_map_bad_input),
		cmocka_unit_test(test_map_shares_pages_and_outlives_close),
		cmocka_unit_test(test_mirror_aliases_every_byte),
		cmocka_unit_test(test_mirror_write_across_seam),
		cmocka_unit_test(test_mirror_readonly),
		cmocka_unit_test(test_readonly_rule),
#ifdef __linux__
		cmocka_unit_test(test_freeze_mprotect_hole),
		cmocka_unit_test(test_freeze_mprotect_hole_without_proc),
		cmocka_unit_test(test_readonly_without_proc),
#endif
		cmocka_unit_test(test_ro_mprotect),
#ifdef __linux__
		cmocka_unit_test(test_ro_mmap),
		cmocka_unit_test(test_ro_reopen_proc_fd),
		cmocka_unit_test(test_ro_write),
		cmocka_unit_test(test_ro_ftruncate),
		cmocka_unit_test(test_ro_proc_mem),
		cmocka_unit_test(test_ro_seal_seal),
#else
		cmocka_unit_test(test_ro_vm_map),
		cmocka_unit_test(test_ro_vm_protect),
		cmocka_unit_test(test_ro_vm_write),
#endif
		cmocka_unit_test(test_vectors_detect_writable),
#ifdef __linux__
		cmocka_unit_test(test_ro_vectors_write_sealed),
		cmocka_unit_test(test_from_fd_accepts),
		cmocka_unit_test(test_from_fd_rejects),
		cmocka_unit_test(test_from_fd_edge_cases),
		cmocka_unit_test(test_from_fd_hugetlb),
		cmocka_unit_test(test_from_fd_real_producers),
		cmocka_unit_test(test_from_fd_growth_is_harmless),
		cmocka_unit_test(test_from_fd_reasons),
		cmocka_unit_test(test_debug_logs_refusals),
		cmocka_unit_test(test_label_in_proc),
		cmocka_unit_test(test_populate_memory_limit),
		cmocka_unit_test(test_from_fd_mode_0),
		cmocka_unit_test(test_view_of_mode0_object),
#endif
		cmocka_unit_test(test_strerror),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests_name("object", tests, NULL, NULL);
}
