/*
 * map.*: what each mobj object call costs against the bare system calls it
 * wraps, in one process on cpu[0]. Each sample times a batch of BATCH calls
 * (so clock reads do not dominate) and reports ns per call.
 *
 *   map.create     mobj_create + mobj_close       memfd_create + ftruncate + F_ADD_SEALS + close
 *   map.map        mobj_map (whole object, RW)    mmap(MAP_SHARED)
 *   map.unmap      mobj_unmap (untouched mapping) munmap
 *   map.firsttouch first write to each page of a fresh mapping, per page
 *   map.mirror     mobj_map_mirror                PROT_NONE reserve 2n + 2x mmap(MAP_FIXED)
 *   map.readonly   mobj_readonly (fresh object)   F_ADD_SEALS(FUTURE_WRITE|SEAL) + open(/proc/self/fd/N, O_RDONLY)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mobj/mobj.h>
#include <mobj/linux.h>

#include "harness.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define BATCH 32
#define OBJ_SIZE (1u << 20)

enum impl { MOBJ, RAW };
static const char *impl_name[] = { "mobj", "raw" };

struct obj {
	struct mobj *m;
	int fd;
};

static int obj_create(enum impl im, struct obj *o)
{
	if (im == MOBJ)
		return mobj_create(OBJ_SIZE, 0, &o->m);
	o->fd = memfd_create("raw", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (o->fd < 0)
		return -errno;
	if (ftruncate(o->fd, OBJ_SIZE) < 0 ||
	    fcntl(o->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		int err = -errno;
		close(o->fd);
		return err;
	}
	return 0;
}

static void obj_close(enum impl im, struct obj *o)
{
	if (im == MOBJ)
		mobj_close(o->m);
	else
		close(o->fd);
}

static int obj_map(enum impl im, struct obj *o, void **p)
{
	if (im == MOBJ)
		return mobj_map(o->m, 0, OBJ_SIZE, MOBJ_PROT_READ | MOBJ_PROT_WRITE, p);
	*p = mmap(NULL, OBJ_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
	return *p == MAP_FAILED ? -errno : 0;
}

static int obj_unmap(enum impl im, void *p, size_t len)
{
	if (im == MOBJ)
		return mobj_unmap(p, len);
	return munmap(p, len) < 0 ? -errno : 0;
}

static int obj_mirror(enum impl im, struct obj *o, void **p)
{
	void *base;

	if (im == MOBJ)
		return mobj_map_mirror(o->m, MOBJ_PROT_READ | MOBJ_PROT_WRITE, p);
	base = mmap(NULL, 2 * OBJ_SIZE, PROT_NONE,
	            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	if (mmap(base, OBJ_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
	         o->fd, 0) == MAP_FAILED ||
	    mmap((char *)base + OBJ_SIZE, OBJ_SIZE, PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_FIXED, o->fd, 0) == MAP_FAILED) {
		int err = -errno;
		munmap(base, 2 * OBJ_SIZE);
		return err;
	}
	*p = base;
	return 0;
}

static int obj_readonly(enum impl im, struct obj *o, struct obj *ro)
{
	char path[32];

	if (im == MOBJ)
		return mobj_readonly(o->m, &ro->m);
	if (fcntl(o->fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", o->fd);
	ro->fd = open(path, O_RDONLY | O_CLOEXEC);
	return ro->fd < 0 ? -errno : 0;
}

static int nsamples(void)
{
	return bh_opts.quick ? 9 : 31;
}

#define FAIL(case_name, rc)                                                      \
	do {                                                                     \
		bh_note("map", case_name, impl_name[im], OBJ_SIZE, "ns",         \
		        "%s", strerror(-(rc)));                                  \
		goto out;                                                        \
	} while (0)

static void run_create(enum impl im)
{
	double s[64];
	struct obj o[BATCH];
	int n = nsamples(), rc;

	for (int k = -bh_opts.warmup; k < n; k++) {
		double t0 = bh_now_ns();
		for (int i = 0; i < BATCH; i++) {
			if ((rc = obj_create(im, &o[i])) < 0)
				FAIL("map.create", rc);
			obj_close(im, &o[i]);
		}
		if (k >= 0)
			s[k] = (bh_now_ns() - t0) / BATCH;
	}
	bh_result("map", "map.create", impl_name[im], OBJ_SIZE, "ns", BH_TIME, 1,
	          s, n, false);
out:;
}

static void run_map_unmap(enum impl im)
{
	double sm[64], su[64];
	void *p[BATCH];
	struct obj o;
	int n = nsamples(), rc;

	if ((rc = obj_create(im, &o)) < 0) {
		bh_note("map", "map.map", impl_name[im], OBJ_SIZE, "ns", "create: %s",
		        strerror(-rc));
		return;
	}
	for (int k = -bh_opts.warmup; k < n; k++) {
		double t0 = bh_now_ns(), t1;
		for (int i = 0; i < BATCH; i++)
			if ((rc = obj_map(im, &o, &p[i])) < 0)
				FAIL("map.map", rc);
		t1 = bh_now_ns();
		for (int i = 0; i < BATCH; i++)
			obj_unmap(im, p[i], OBJ_SIZE);
		if (k >= 0) {
			sm[k] = (t1 - t0) / BATCH;
			su[k] = (bh_now_ns() - t1) / BATCH;
		}
	}
	bh_result("map", "map.map", impl_name[im], OBJ_SIZE, "ns", BH_TIME, 1,
	          sm, n, false);
	bh_result("map", "map.unmap", impl_name[im], OBJ_SIZE, "ns", BH_TIME, 1,
	          su, n, false);
out:
	obj_close(im, &o);
}

static void run_firsttouch(enum impl im)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = OBJ_SIZE / page;
	double s[64];
	struct obj o;
	int n = nsamples(), rc;
	void *p;

	for (int k = -bh_opts.warmup; k < n; k++) {
		double t0;

		/* A fresh object each time: the pages must not exist yet. */
		if ((rc = obj_create(im, &o)) < 0)
			FAIL("map.firsttouch", rc);
		if ((rc = obj_map(im, &o, &p)) < 0) {
			obj_close(im, &o);
			FAIL("map.firsttouch", rc);
		}
		t0 = bh_now_ns();
		for (size_t i = 0; i < pages; i++)
			((volatile char *)p)[i * page] = 1;
		if (k >= 0)
			s[k] = (bh_now_ns() - t0) / (double)pages;
		obj_unmap(im, p, OBJ_SIZE);
		obj_close(im, &o);
	}
	bh_result("map", "map.firsttouch", impl_name[im], page, "ns", BH_TIME, 1,
	          s, n, false);
out:;
}

static void run_mirror(enum impl im)
{
	double s[64];
	void *p[BATCH];
	struct obj o;
	int n = nsamples(), rc;

	if ((rc = obj_create(im, &o)) < 0) {
		bh_note("map", "map.mirror", impl_name[im], OBJ_SIZE, "ns", "create: %s",
		        strerror(-rc));
		return;
	}
	for (int k = -bh_opts.warmup; k < n; k++) {
		double t0 = bh_now_ns(), t1;
		for (int i = 0; i < BATCH; i++)
			if ((rc = obj_mirror(im, &o, &p[i])) < 0) {
				bh_note("map", "map.mirror", impl_name[im], OBJ_SIZE, "ns", "%s",
				        strerror(-rc));
				goto out;
			}
		t1 = bh_now_ns();
		for (int i = 0; i < BATCH; i++)
			obj_unmap(im, p[i], 2 * OBJ_SIZE);
		if (k >= 0)
			s[k] = (t1 - t0) / BATCH;
	}
	bh_result("map", "map.mirror", impl_name[im], OBJ_SIZE, "ns", BH_TIME, 1, s, n,
	          false);
out:
	obj_close(im, &o);
}

static void run_readonly(enum impl im)
{
	double s[64];
	struct obj o[BATCH], ro[BATCH];
	int n = nsamples(), rc;

	for (int k = -bh_opts.warmup; k < n; k++) {
		double t0;
		int made = 0, got = 0;

		for (; made < BATCH; made++)
			if ((rc = obj_create(im, &o[made])) < 0)
				break;
		t0 = bh_now_ns();
		if (made == BATCH)
			for (; got < BATCH; got++)
				if ((rc = obj_readonly(im, &o[got], &ro[got])) < 0)
					break;
		if (k >= 0)
			s[k] = (bh_now_ns() - t0) / BATCH;
		for (int i = 0; i < got; i++)
			obj_close(im, &ro[i]);
		for (int i = 0; i < made; i++)
			obj_close(im, &o[i]);
		if (got < BATCH)
			FAIL("map.readonly", rc);
	}
	bh_result("map", "map.readonly", impl_name[im], OBJ_SIZE, "ns", BH_TIME, 1,
	          s, n, false);
out:;
}

void bench_map(void)
{
	static const struct {
		const char *name;
		void (*fn)(enum impl);
	} cases[] = {
		{ "map.create", run_create },
		{ "map.map", run_map_unmap },	/* also map.unmap */
		{ "map.firsttouch", run_firsttouch },
		{ "map.mirror", run_mirror },
		{ "map.readonly", run_readonly },
	};
	int rc = bh_pin(bh_opts.cpu[0]);

	if (rc < 0)
		fprintf(stderr, "mobj-bench: pinning to cpu %d: %s\n", bh_opts.cpu[0],
		        strerror(-rc));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int im = MOBJ; im <= RAW; im++) {
			bool want = bh_want(cases[c].name, impl_name[im]);

			if (cases[c].fn == run_map_unmap)
				want |= bh_want("map.unmap", impl_name[im]);
			if (!want)
				continue;
			bh_progress("%s/%s", cases[c].name, impl_name[im]);
			cases[c].fn((enum impl)im);
		}
	}
}
