/*
 * libFuzzer target: the ring's validation of what the other side writes.
 * One in-process ring pair (page capacity, so every path wraps often) runs
 * a program read from the input: ordinary calls on both ends with timeout
 * 0 (write_some, available, batching on and off, flush among them),
 * interleaved with lies - the producer's shared index, the consumer's
 * shared index, record headers in the data - set to fuzzer-chosen values.
 *
 * Checked: no crash or sanitizer report; every result is a count within
 * bounds or a documented error; every span the ring hands out (reserve,
 * peek, records) lies inside the mirror, and is read or written in full so
 * ASan sees any overrun. Once an end says -EPROTO it must keep saying it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mobj/mobj.h"
#include "ring_internal.h"
#include "ring_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	while (bytes-- && in->n) {
		v = v << 8 | *in->p++;
		in->n--;
	}
	return v;
}

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* A result of a data call: >= 0 within @max, or a documented error. */
static void check_result(long rc, long max)
{
	check((rc >= 0 && rc <= max) || rc == -EAGAIN || rc == -EPROTO ||
	      rc == -EMSGSIZE || rc == -EINVAL || rc == -EPIPE);
}

/* A span handed out by the ring lies inside its mirror. */
static void check_span(struct mobj_ring *r, const void *p, size_t n)
{
	const unsigned char *base = mobj__ring_data(r);
	size_t cap = mobj_ring_capacity(r);
	const unsigned char *q = p;

	check(q >= base && n <= cap && q + n <= base + 2 * cap);
}

static volatile unsigned char sink;

static void read_all(const void *p, size_t n)
{
	const unsigned char *q = p;
	unsigned char x = 0;
	size_t i;

	for (i = 0; i < n; i++)
		x ^= q[i];
	sink = x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct mobj_ring *p, *c;
	unsigned char buf[9000];
	bool cbroken = false, pbroken = false;
	size_t cap, avail, len;
	const void *q;
	void *w;
	long rc;
	int steps = 0;

	if (mobj_ring_create(1, &p) < 0 || mobj_ring_consumer(p, &c) < 0)
		abort();
	cap = mobj_ring_capacity(p);
	memset(buf, 0x5a, sizeof(buf));
	while (in.n && steps++ < 256) {
		unsigned op = (unsigned)take(&in, 1);
		size_t k = (size_t)take(&in, 2) % (cap + 64);

		switch (op % 16) {
		case 0:
			rc = mobj_ring_write(p, buf, k, 0);
			check_result(rc, (long)k);
			pbroken |= rc == -EPROTO;
			break;
		case 1:
			rc = mobj_ring_read(c, buf, k ? k : 1, 0);
			check_result(rc, k ? (long)k : 1);
			cbroken |= rc == -EPROTO;
			break;
		case 2:
			rc = mobj_ring_reserve(p, k, 0, &w);
			check_result(rc, 0);
			pbroken |= rc == -EPROTO;
			if (rc == 0) {
				check_span(p, w, k);
				memset(w, (int)op, k);
				check(mobj_ring_commit(p, k / 2) == 0);
			}
			break;
		case 3:
			rc = mobj_ring_peek(c, k, 0, &q, &avail);
			check_result(rc, 0);
			cbroken |= rc == -EPROTO;
			if (rc == 0) {
				check(avail >= (k ? k : 1));
				check_span(c, q, avail);
				read_all(q, avail);
				check(mobj_ring_consume(c, avail / 2) == 0);
				check(mobj_ring_consume(c, avail + 1) == -EINVAL);
			}
			break;
		case 4:
			rc = mobj_ring_write_record(p, buf, k, 0);
			check_result(rc, (long)k);
			pbroken |= rc == -EPROTO;
			break;
		case 5:
			rc = mobj_ring_read_record(c, buf, k, 0);
			check_result(rc, (long)k);
			cbroken |= rc == -EPROTO;
			break;
		case 6:
			rc = mobj_ring_peek_record(c, 0, &q, &len);
			check_result(rc, 0);
			cbroken |= rc == -EPROTO;
			if (rc == 0) {
				check(len <= mobj_ring_record_max(c));
				check_span(c, (const char *)q - 8, len + 8);
				read_all(q, len);
				check(mobj_ring_consume_record(c) == 0);
			}
			break;
		case 7:
			rc = mobj_ring_reserve_record(p, k, 0, &w);
			check_result(rc, 0);
			pbroken |= rc == -EPROTO;
			if (rc == 0) {
				check_span(p, (char *)w - 8, k + 8);
				memset(w, (int)op, k);
				check(mobj_ring_commit_record(p, k) == 0);
			}
			break;
		case 8: /* the producer lies about its index */
			atomic_store(&mobj__ring_own(p)->index, take(&in, 8));
			break;
		case 9: /* the consumer lies about its index */
			atomic_store(&mobj__ring_own(c)->index, take(&in, 8));
			break;
		case 10: { /* the producer rewrites committed bytes (headers) */
			uint32_t v = (uint32_t)take(&in, 4);

			memcpy((unsigned char *)mobj__ring_data(p) + k % cap, &v,
			       k % cap <= cap - 4 ? 4 : cap - k % cap);
			break;
		}
		case 11: /* small nudges: one past, one behind */
			atomic_fetch_add(&mobj__ring_own(op & 16 ? c : p)->index,
			                 op & 32 ? 1 : (uint64_t)-1);
			break;
		case 12:
			rc = mobj_ring_write_some(p, buf, k, 0);
			check_result(rc, (long)k);
			check(rc != 0 || k == 0);
			pbroken |= rc == -EPROTO;
			break;
		case 13: /* the fill level, either end */
			rc = (long)mobj_ring_available(op & 16 ? c : p);
			check((rc >= 0 && rc <= (long)cap) || rc == -EPROTO ||
			      rc == -EPIPE);
			if (op & 16)
				cbroken |= rc == -EPROTO;
			else
				pbroken |= rc == -EPROTO;
			break;
		case 14: /* batching on or off, either end */
			check(mobj_ring_set_batch(op & 16 ? c : p,
			                          op & 32 ? k % (cap + 1) : 0) == 0);
			break;
		case 15:
			rc = mobj_ring_flush(op & 16 ? c : p);
			check(rc == 0 || rc == -EPROTO);
			check(rc == 0 || (op & 16 ? cbroken : pbroken));
			break;
		}
		/* -EPROTO is for good. */
		if (cbroken)
			check(mobj_ring_peek(c, 1, 0, &q, &avail) == -EPROTO &&
			      mobj_ring_available(c) == -EPROTO);
		if (pbroken)
			check(mobj_ring_reserve(p, 0, 0, &w) == -EPROTO &&
			      mobj_ring_available(p) == -EPROTO);
	}
	mobj_ring_close(p);
	mobj_ring_close(c);
	return 0;
}
