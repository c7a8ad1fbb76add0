/*
 * mobj and PipeWire's memory pool, in one process with libpipewire's real
 * pw_mempool (the pool every PipeWire client and the daemon use for buffer
 * memory). Run as the pipewire-pool test; exits 0 when every step held.
 *
 *  1. Take in: a block PipeWire allocates (pw_mempool_alloc with
 *     PW_MEMBLOCK_FLAG_SEAL: a memfd sealed GROW | SHRINK | SEAL, never
 *     frozen) imported with mobj_from_fd(): read-write, both see each
 *     other's bytes, and it can never be frozen (mobj_readonly: -EPERM).
 *  2. Hand out: a mobj object given to the pool with pw_mempool_import()
 *     and mapped by PipeWire read-write; then its read-only view, which
 *     PipeWire maps for reading and cannot map for writing.
 */
#define _GNU_SOURCE /* locale_t in PipeWire's headers */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mobj/linux.h>
#include <mobj/mobj.h>
#include <pipewire/mem.h>
#include <pipewire/pipewire.h>
#include <spa/buffer/buffer.h>

#define RW (MOBJ_PROT_READ | MOBJ_PROT_WRITE)
#define BLOCK_SIZE 10000 /* PipeWire's sizes need not be page multiples */

static int fail(const char *what, int err)
{
	fprintf(stderr, "pipewire-pool: %s: %s\n", what,
	        err ? mobj_strerror(err) : "unexpected result");
	return 1;
}

/* 1. A PipeWire block, imported. */
static int take_in(struct pw_mempool *pool)
{
	struct pw_memblock *b;
	struct mobj *o = NULL, *ro = NULL;
	unsigned char *p;
	int err, rc = 1;

	b = pw_mempool_alloc(pool, PW_MEMBLOCK_FLAG_READWRITE |
	                     PW_MEMBLOCK_FLAG_SEAL | PW_MEMBLOCK_FLAG_MAP,
	                     SPA_DATA_MemFd, BLOCK_SIZE);
	if (!b || !b->map)
		return fail("pw_mempool_alloc", -errno);
	err = mobj_from_fd(b->fd, b->size, MOBJ_READ | MOBJ_WRITE, &o);
	if (err < 0) {
		fprintf(stderr, "pipewire-pool: refused: %s\n",
		        mobj_refusal_str(mobj_fd_check(b->fd, b->size,
		                                       MOBJ_READ | MOBJ_WRITE)));
		fail("mobj_from_fd(PipeWire block)", err);
		goto out;
	}
	err = mobj_map(o, 0, mobj_size(o), RW, (void **)&p);
	if (err < 0) {
		fail("mobj_map", err);
		goto out;
	}
	memcpy(b->map->ptr, "from pipewire", 14);
	memcpy(p + 100, "from mobj", 10);
	if (mobj_size(o) != BLOCK_SIZE || strcmp((char *)p, "from pipewire") ||
	    strcmp((char *)b->map->ptr + 100, "from mobj")) {
		fail("shared bytes", 0);
	} else if ((err = mobj_readonly(o, &ro)) != -EPERM) {
		fail("mobj_readonly of a block sealed without a freeze", err);
	} else {
		printf("took in a PipeWire block: %u bytes, seals %#x (SEAL 0x1, "
		       "SHRINK 0x2, GROW 0x4), read-write, never freezable "
		       "(-EPERM)\n", b->size, fcntl(b->fd, F_GET_SEALS));
		rc = 0;
	}
	mobj_unmap(p, mobj_size(o));
out:
	mobj_close(ro);
	mobj_close(o);
	pw_memblock_unref(b);
	return rc;
}

/* The pool takes its own descriptor (it closes it with the block). */
static struct pw_memmap *give(struct pw_mempool *pool, struct mobj *o,
                              enum pw_memblock_flags bf,
                              enum pw_memmap_flags mf, struct pw_memblock **b)
{
	int fd = dup(mobj_fd(o));

	*b = fd < 0 ? NULL : pw_mempool_import(pool, bf, SPA_DATA_MemFd, fd);
	if (!*b) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return pw_memblock_map(*b, mf, 0, (uint32_t)mobj_size(o), NULL);
}

/* 2. A mobj object and its read-only view, handed to PipeWire. */
static int hand_out(struct pw_mempool *pool)
{
	struct pw_memblock *b1 = NULL, *b2 = NULL, *b3 = NULL;
	struct pw_memmap *m;
	struct mobj *o, *ro = NULL;
	unsigned char *p;
	int err, rc = 1;

	err = mobj_create_labeled(2 * mobj_page_size(), 0, "pw-export", &o);
	if (err < 0)
		return fail("mobj_create", err);
	err = mobj_map(o, 0, mobj_size(o), RW, (void **)&p);
	if (err < 0) {
		mobj_close(o);
		return fail("mobj_map", err);
	}
	m = give(pool, o, PW_MEMBLOCK_FLAG_READWRITE, PW_MEMMAP_FLAG_READWRITE, &b1);
	if (!m) {
		fail("pw_mempool_import + map (read-write)", -errno);
		goto out;
	}
	memcpy(m->ptr, "written by pipewire", 20);
	strcpy((char *)p + 200, "written by mobj");
	if (strcmp((char *)p, "written by pipewire") ||
	    strcmp((char *)m->ptr + 200, "written by mobj")) {
		fail("shared bytes (read-write)", 0);
		goto out;
	}
	err = mobj_readonly(o, &ro);
	if (err < 0) {
		fail("mobj_readonly", err);
		goto out;
	}
	m = give(pool, ro, PW_MEMBLOCK_FLAG_READABLE, PW_MEMMAP_FLAG_READ, &b2);
	if (!m || strcmp((char *)m->ptr, "written by pipewire")) {
		fail("pw_mempool_import + map (read-only view)", m ? 0 : -errno);
		goto out;
	}
	if (give(pool, ro, PW_MEMBLOCK_FLAG_READWRITE, PW_MEMMAP_FLAG_READWRITE,
	         &b3)) {
		fail("PipeWire mapped the read-only view writable", 0);
		goto out;
	}
	printf("handed out a mobj object (PipeWire maps it read-write) and its "
	       "read-only view (PipeWire maps it for reading; writable: %s)\n",
	       strerror(errno));
	rc = 0;
out:
	if (b3)
		pw_memblock_unref(b3);
	if (b2)
		pw_memblock_unref(b2);
	if (b1)
		pw_memblock_unref(b1);
	mobj_unmap(p, mobj_size(o));
	mobj_close(ro);
	mobj_close(o);
	return rc;
}

int main(int argc, char **argv)
{
	struct pw_mempool *pool;
	int rc;

	pw_init(&argc, &argv);
	pool = pw_mempool_new(NULL);
	if (!pool)
		return fail("pw_mempool_new", -errno);
	rc = take_in(pool) | hand_out(pool);
	pw_mempool_destroy(pool);
	pw_deinit();
	if (rc == 0)
		printf("ok\n");
	return rc;
}
