/*
 * heap.message: large messages (64 KiB .. 16 MiB) from a producer process
 * to a consumer process, MB/s.
 *
 *   mobj-heap  the producer allocates in a mobj heap (jemalloc arena inside
 *              one memory object), fills the allocation from its source
 *              buffer, sends (offset, length) as a 16-byte record through a
 *              mobj ring; the consumer, which maps the heap's object
 *              read-only, checks the offset (mobj_heap_at), reads every
 *              byte in place, and sends the offset back through a second
 *              ring; the producer frees what comes back. One copy (into the
 *              heap), nothing copied out.
 *   ring-copy  the bytes themselves go through a mobj ring as a record
 *              (mobj_ring_write_record, a copy in) and the consumer copies
 *              them out (mobj_ring_read_record) and reads them: two copies,
 *              and a ring of at least twice the largest message.
 *
 * Set-up happens before fork (heap, its read-only handle, both rings with
 * mobj_ring_consumer), so the case does not need channels.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <mobj/mobj.h>
#include <mobj/heap.h>
#include <mobj/ring.h>

#include "harness.h"
#include "ring_impl.h"

struct heap_ends {
	struct mobj_heap *heap;
	struct mobj *ro;
	const void *base;	/* consumer's read-only mapping */
	size_t size;
	struct mobj_ring *fwd[2], *ret[2];	/* [0] producer end, [1] consumer end */
	size_t in_flight;
};

static struct heap_ends ends;

struct offmsg {
	uint64_t off, len;
};

static size_t heap_bytes(size_t msg)
{
	/* Up to 4 messages in flight, plus jemalloc's rounding. */
	size_t n = 8 * msg;

	return n < (8u << 20) ? (8u << 20) : n;
}

static int rings(size_t cap)
{
	int rc;

	if ((rc = mobj_ring_create(cap, &ends.fwd[0])) < 0 ||
	    (rc = mobj_ring_consumer(ends.fwd[0], &ends.fwd[1])) < 0)
		return rc;
	if ((rc = mobj_ring_create(cap, &ends.ret[0])) < 0 ||
	    (rc = mobj_ring_consumer(ends.ret[0], &ends.ret[1])) < 0)
		return rc;
	return 0;
}

static void heap_cleanup(struct xport *x)
{
	(void)x;
	for (int i = 0; i < 2; i++) {
		mobj_ring_close(ends.fwd[i]);
		mobj_ring_close(ends.ret[i]);
		ends.fwd[i] = ends.ret[i] = NULL;
	}
	mobj_close(ends.ro);
	mobj_heap_close(ends.heap);
	memset(&ends, 0, sizeof(ends));
}

static int heap_prepare(struct xport *x)
{
	int rc;

	memset(&ends, 0, sizeof(ends));
	ends.size = heap_bytes(x->msg);
	rc = mobj_heap_create(ends.size, 0, &ends.heap);
	if (rc == 0)
		rc = mobj_readonly(mobj_heap_object(ends.heap), &ends.ro);
	if (rc == 0)
		rc = rings(64 * 1024);
	if (rc < 0) {
		snprintf(x->note, sizeof(x->note), "heap set-up: %s", mobj_strerror(rc));
		heap_cleanup(x);
	}
	return rc;
}

static int heap_open(struct xport *x, int side)
{
	void *p;
	int rc;

	x->side = side;
	if (side == 0)
		return 0;
	ends.size = mobj_size(ends.ro);
	rc = mobj_map(ends.ro, 0, ends.size, MOBJ_PROT_READ, &p);
	ends.base = p;
	return rc;
}

/* Free every allocation the consumer handed back; wait for one if @block. */
static int take_back(bool block)
{
	struct offmsg m;
	void *p;

	for (;;) {
		ssize_t n = mobj_ring_read_record(ends.ret[1], &m, sizeof(m), block ? -1 : 0);
		int rc;

		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		if (n != sizeof(m) || (rc = mobj_heap_ptr(ends.heap, m.off, &p)) < 0)
			return -EPROTO;
		if ((rc = mobj_heap_free(ends.heap, p)) < 0)
			return rc;
		ends.in_flight--;
		block = false;
	}
}

static int heap_send(struct xport *x, const void *src)
{
	struct offmsg m = { .len = x->msg };
	size_t off;
	void *p;
	int rc;

	if ((rc = take_back(false)) < 0)
		return rc;
	while ((rc = mobj_heap_alloc(ends.heap, x->msg, &p)) == -ENOMEM && ends.in_flight)
		if ((rc = take_back(true)) < 0)
			return rc;
	if (rc < 0)
		return rc;
	memcpy(p, src, x->msg);
	if ((rc = mobj_heap_offset(ends.heap, p, &off)) < 0)
		return rc;
	m.off = off;
	ends.in_flight++;
	rc = (int)mobj_ring_write_record(ends.fwd[0], &m, sizeof(m), -1);
	return rc < 0 ? rc : 0;
}

static int heap_recv(struct xport *x, uint64_t *first, uint64_t *sum)
{
	struct offmsg m;
	const void *q;
	ssize_t n = mobj_ring_read_record(ends.fwd[1], &m, sizeof(m), -1);
	int rc;

	if (n < 0)
		return (int)n;
	if (n != sizeof(m))
		return -EPROTO;
	if ((rc = mobj_heap_at(ends.base, ends.size, m.off, m.len, &q)) < 0)
		return rc;
	memcpy(first, q, sizeof(*first));
	*sum += bh_sum(q, m.len);
	n = mobj_ring_write_record(ends.ret[0], &m, sizeof(m), -1);
	(void)x;
	return n < 0 ? (int)n : 0;
}

static void heap_close(struct xport *x)
{
	(void)x;
}

static const struct xport_ops xport_heap = {
	.name = "mobj-heap", .prepare = heap_prepare, .open = heap_open,
	.send = heap_send, .recv = heap_recv, .close = heap_close,
	.cleanup = heap_cleanup,
};

/* ---- ring-copy ------------------------------------------------------------ */

static int rcopy_prepare(struct xport *x)
{
	size_t page = mobj_page_size();
	size_t cap = (2 * (x->msg + MOBJ_RING_RECORD_HEADER) + page - 1) / page * page;
	int rc;

	memset(&ends, 0, sizeof(ends));
	rc = mobj_ring_create(cap < (256u << 10) ? (256u << 10) : cap, &ends.fwd[0]);
	if (rc == 0 && (rc = mobj_ring_consumer(ends.fwd[0], &ends.fwd[1])) < 0)
		mobj_ring_close(ends.fwd[0]);
	if (rc < 0)
		snprintf(x->note, sizeof(x->note), "ring set-up: %s", mobj_strerror(rc));
	return rc;
}

static int rcopy_open(struct xport *x, int side)
{
	x->side = side;
	if (side == 0)
		return 0;
	x->buf = mmap(NULL, x->msg, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return x->buf == MAP_FAILED ? -ENOMEM : 0;
}

static int rcopy_send(struct xport *x, const void *src)
{
	ssize_t n = mobj_ring_write_record(ends.fwd[0], src, x->msg, -1);

	return n < 0 ? (int)n : 0;
}

static int rcopy_recv(struct xport *x, uint64_t *first, uint64_t *sum)
{
	ssize_t n = mobj_ring_read_record(ends.fwd[1], x->buf, x->msg, -1);

	if (n < 0)
		return (int)n;
	memcpy(first, x->buf, sizeof(*first));
	*sum += bh_sum(x->buf, (size_t)n);
	return 0;
}

static const struct xport_ops xport_rcopy = {
	.name = "ring-copy", .prepare = rcopy_prepare, .open = rcopy_open,
	.send = rcopy_send, .recv = rcopy_recv, .close = heap_close,
	.cleanup = heap_cleanup,
};

void bench_heap(void)
{
	static const size_t full[] = { 65536, 262144, 1048576, 4194304, 16777216 };
	static const size_t quick[] = { 65536, 1048576, 16777216 };
	const struct xport_case cases[] = {
		{ "mobj-heap", &xport_heap, NULL },
		{ "ring-copy", &xport_rcopy, NULL },
	};

	xport_tput_sweep("heap", "heap.message", cases, 2, bh_opts.quick ? quick : full,
	                 bh_opts.quick ? 3 : 5);
}
