/*
 * Frozen layouts: the bytes that live in shared memory or travel between
 * processes, checked against numbers written here, independently of the
 * structs and their _Static_asserts. A peer built from another version of
 * mobj reads these bytes; if this test fails, the layout changed: bump the
 * version field and keep old peers' messages rejected, then update the
 * numbers here on purpose.
 *
 * Each layout is checked twice: the struct offsets, and the bytes a live
 * object actually holds (read at raw offsets, not through the struct).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mobj/mobj.h"
#include "mobj/ring.h"
#include "ring_layout.h"

static uint32_t u32_at(const void *base, size_t off)
{
	uint32_t v;

	memcpy(&v, (const unsigned char *)base + off, sizeof(v));
	return v;
}

static uint64_t u64_at(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const unsigned char *)base + off, sizeof(v));
	return v;
}

/* ---- Ring control page (one per side, shared read-only with the peer) --- */

static void test_ring_ctl_offsets(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct mobj__ring_ctl), 512);
	assert_int_equal(offsetof(struct mobj__ring_ctl, magic), 0);
	assert_int_equal(offsetof(struct mobj__ring_ctl, version), 4);
	assert_int_equal(offsetof(struct mobj__ring_ctl, role), 8);
	assert_int_equal(offsetof(struct mobj__ring_ctl, header_size), 12);
	assert_int_equal(offsetof(struct mobj__ring_ctl, capacity), 16);
	assert_int_equal(offsetof(struct mobj__ring_ctl, index), 128);
	assert_int_equal(offsetof(struct mobj__ring_ctl, wake_seq), 256);
	assert_int_equal(offsetof(struct mobj__ring_ctl, closed), 260);
	assert_int_equal(offsetof(struct mobj__ring_ctl, waiting), 384);
	assert_int_equal(offsetof(struct mobj__ring_ctl, wait_target), 392);
	assert_int_equal(MOBJ__RING_MAGIC, 0x72626f6du);
	assert_int_equal(MOBJ__RING_VERSION, 1);
	assert_int_equal(MOBJ__RING_PRODUCER, 1);
	assert_int_equal(MOBJ__RING_CONSUMER, 2);
	assert_int_equal(sizeof(struct mobj__ring_record), 8);
	assert_int_equal(offsetof(struct mobj__ring_record, len), 0);
	assert_int_equal(offsetof(struct mobj__ring_record, zero), 4);
	assert_int_equal(MOBJ_RING_RECORD_HEADER, 8);
}

static void test_ring_live_bytes(void **state)
{
	struct mobj_ring *prod, *cons;
	const unsigned char *pctl, *cctl, *data;
	const char msg[] = "hello, ring"; /* 12 bytes with the NUL */
	size_t cap = mobj_page_size(), rec;
	const void *p;
	size_t len;

	(void)state;
	assert_int_equal(mobj_ring_create(cap, &prod), 0);
	assert_int_equal(mobj_ring_consumer(prod, &cons), 0);
	pctl = (const unsigned char *)mobj__ring_own(prod);
	cctl = (const unsigned char *)mobj__ring_own(cons);
	data = mobj__ring_data(prod);
	assert_non_null(pctl);
	assert_non_null(cctl);
	assert_non_null(data);
	/* What each side wrote into its page before sharing it. */
	assert_int_equal(u32_at(pctl, 0), 0x72626f6du);
	assert_int_equal(u32_at(pctl, 4), 1);
	assert_int_equal(u32_at(pctl, 8), 1);
	assert_int_equal(u32_at(pctl, 12), 512);
	assert_int_equal(u64_at(pctl, 16), cap);
	assert_int_equal(u32_at(cctl, 0), 0x72626f6du);
	assert_int_equal(u32_at(cctl, 8), 2);
	assert_int_equal(u64_at(cctl, 16), cap);
	/* The peer's view is the same bytes. */
	assert_ptr_not_equal(mobj__ring_peer(cons), NULL);
	assert_memory_equal(mobj__ring_peer(cons), pctl, 512);

	/* A record: u32 length, u32 zero, payload padded to 8; the tail at
	 * byte 128 of the producer's page counts bytes committed. */
	assert_int_equal(mobj_ring_write_record(prod, msg, sizeof(msg), 0),
	                 (ssize_t)sizeof(msg));
	rec = 8 + ((sizeof(msg) + 7) & ~(size_t)7);
	assert_int_equal(u64_at(pctl, 128), rec);
	assert_int_equal(u32_at(data, 0), sizeof(msg));
	assert_int_equal(u32_at(data, 4), 0);
	assert_memory_equal(data + 8, msg, sizeof(msg));
	assert_int_equal(mobj_ring_peek_record(cons, 0, &p, &len), 0);
	assert_int_equal(len, sizeof(msg));
	assert_ptr_equal(p, (const unsigned char *)mobj__ring_data(cons) + 8);
	assert_int_equal(mobj_ring_consume_record(cons), 0);
	/* The head at byte 128 of the consumer's page. */
	assert_int_equal(u64_at(cctl, 128), rec);
	mobj_ring_close(cons);
	mobj_ring_close(prod);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_ctl_offsets),
		cmocka_unit_test(test_ring_live_bytes),
	};

	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
