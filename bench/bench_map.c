/*
 * map.*: what each mobj object call costs against the bare system calls it
 * wraps, in one process on cpu[0]. Each sample times a batch of BATCH calls
 * (so clock reads do not dominate) and reports ns per call; mobj and raw
 * batches alternate.
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

/* One batch of one impl: out[0] (and out[1] for map.map, which also times
 * the unmaps) in ns per call. @o is the case's standing object, if any. */
typedef int (*batch_fn)(enum impl im, struct obj *o, double out[2]);

static int batch_create(enum impl im, struct obj *unused, double out[2])
{
	struct obj o;
	double t0 = bh_now_ns();
	int rc;

	(void)unused;
	for (int i = 0; i < BATCH; i++) {
		if ((rc = obj_create(im, &o)) < 0)
			return rc;
		obj_close(im, &o);
	}
	out[0] = (bh_now_ns() - t0) / BATCH;
	return 0;
}

static int batch_map_unmap(enum impl im, struct obj *o, double out[2])
{
	void *p[BATCH];
	double t0 = bh_now_ns(), t1;
	int rc = 0, i;

	for (i = 0; i < BATCH; i++)
		if ((rc = obj_map(im, o, &p[i])) < 0)
			break;
	t1 = bh_now_ns();
	for (int k = 0; k < i; k++)
		obj_unmap(im, p[k], OBJ_SIZE);
	out[0] = (t1 - t0) / BATCH;
	out[1] = (bh_now_ns() - t1) / BATCH;
	return rc;
}

static int batch_firsttouch(enum impl im, struct obj *unused, double out[2])
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = OBJ_SIZE / page;
	struct obj o;
	double t0;
	void *p;
	int rc;

	(void)unused;
	/* A fresh object each time: the pages must not exist yet. */
	if ((rc = obj_create(im, &o)) < 0)
		return rc;
	if ((rc = obj_map(im, &o, &p)) < 0) {
		obj_close(im, &o);
		return rc;
	}
	t0 = bh_now_ns();
	for (size_t i = 0; i < pages; i++)
		((volatile char *)p)[i * page] = 1;
	out[0] = (bh_now_ns() - t0) / (double)pages;
	obj_unmap(im, p, OBJ_SIZE);
	obj_close(im, &o);
	return 0;
}

static int batch_mirror(enum impl im, struct obj *o, double out[2])
{
	void *p[BATCH];
	double t0 = bh_now_ns(), t1;
	int rc = 0, i;

	for (i = 0; i < BATCH; i++)
		if ((rc = obj_mirror(im, o, &p[i])) < 0)
			break;
	t1 = bh_now_ns();
	for (int k = 0; k < i; k++)
		obj_unmap(im, p[k], 2 * OBJ_SIZE);
	out[0] = (t1 - t0) / BATCH;
	return rc;
}

static int batch_readonly(enum impl im, struct obj *unused, double out[2])
{
	struct obj o[BATCH], ro[BATCH];
	int made = 0, got = 0, rc = 0;
	double t0;

	(void)unused;
	for (; made < BATCH; made++)
		if ((rc = obj_create(im, &o[made])) < 0)
			break;
	t0 = bh_now_ns();
	if (made == BATCH)
		for (; got < BATCH; got++)
			if ((rc = obj_readonly(im, &o[got], &ro[got])) < 0)
				break;
	out[0] = (bh_now_ns() - t0) / BATCH;
	for (int i = 0; i < got; i++)
		obj_close(im, &ro[i]);
	for (int i = 0; i < made; i++)
		obj_close(im, &o[i]);
	return rc;
}

struct map_case {
	const char *name, *name2;	/* name2: the second sample's case */
	size_t size;
	batch_fn fn;
	bool standing;			/* one object per impl for the case */
};

/*
 * mobj and raw batches alternate, so whatever else the machine does at a
 * given moment falls on both alike.
 */
static void run_case(const struct map_case *c)
{
	static double s[2][2][64];
	struct obj o[2];
	bool want[2], ok[2] = { false, false }, made[2] = { false, false };
	char why[2][128] = { "", "" };
	int n = nsamples(), rc;

	for (int im = MOBJ; im <= RAW; im++) {
		want[im] = bh_want(c->name, impl_name[im]) ||
		           (c->name2 && bh_want(c->name2, impl_name[im]));
		if (!want[im])
			continue;
		ok[im] = true;
		if (!c->standing)
			continue;
		if ((rc = obj_create((enum impl)im, &o[im])) < 0) {
			snprintf(why[im], sizeof(why[im]), "create: %s", strerror(-rc));
			ok[im] = false;
		} else {
			made[im] = true;
		}
	}
	if (!want[MOBJ] && !want[RAW])
		return;
	bh_progress("%s", c->name);
	for (int k = -bh_opts.warmup; k < n; k++) {
		for (int im = MOBJ; im <= RAW; im++) {
			double out[2] = { 0, 0 };

			if (!ok[im])
				continue;
			rc = c->fn((enum impl)im, c->standing ? &o[im] : NULL, out);
			if (rc < 0) {
				snprintf(why[im], sizeof(why[im]), "%s", strerror(-rc));
				ok[im] = false;
				continue;
			}
			if (k >= 0) {
				s[im][0][k] = out[0];
				s[im][1][k] = out[1];
			}
		}
	}
	for (int im = MOBJ; im <= RAW; im++) {
		if (!want[im])
			continue;
		if (made[im])
			obj_close((enum impl)im, &o[im]);
		if (!ok[im]) {
			bh_note("map", c->name, impl_name[im], c->size, "ns", "%s", why[im]);
			continue;
		}
		bh_result("map", c->name, impl_name[im], c->size, "ns", BH_TIME, 1,
		          s[im][0], n, false);
		if (c->name2)
			bh_result("map", c->name2, impl_name[im], c->size, "ns", BH_TIME, 1,
			          s[im][1], n, false);
	}
}

void bench_map(void)
{
	const struct map_case cases[] = {
		{ "map.create", NULL, OBJ_SIZE, batch_create, false },
		{ "map.map", "map.unmap", OBJ_SIZE, batch_map_unmap, true },
		{ "map.firsttouch", NULL, (size_t)sysconf(_SC_PAGESIZE), batch_firsttouch, false },
		{ "map.mirror", NULL, OBJ_SIZE, batch_mirror, true },
		{ "map.readonly", NULL, OBJ_SIZE, batch_readonly, false },
	};
	int rc = bh_pin(bh_opts.cpu[0]);

	if (rc < 0)
		fprintf(stderr, "mobj-bench: pinning to cpu %d: %s\n", bh_opts.cpu[0],
		        strerror(-rc));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		run_case(&cases[c]);
}
