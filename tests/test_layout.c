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
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mobj/mobj.h"
#include "mobj/ring.h"
#include "msg.h"
#include "ring_layout.h"
#include "testutil.h"

#ifdef __linux__ /* the socket bytes: test_msg_live_bytes */
static uint16_t u16_at(const void *base, size_t off)
{
	uint16_t v;

	memcpy(&v, (const unsigned char *)base + off, sizeof(v));
	return v;
}
#endif

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
	assert_int_equal(MOBJ__RING_VERSION_MULTI, 2);
	assert_int_equal(MOBJ__RING_PRODUCER, 1);
	assert_int_equal(MOBJ__RING_CONSUMER, 2);
	assert_int_equal(sizeof(struct mobj__ring_record), 8);
	assert_int_equal(offsetof(struct mobj__ring_record, len), 0);
	assert_int_equal(offsetof(struct mobj__ring_record, zero), 4);
	assert_int_equal(MOBJ_RING_RECORD_HEADER, 8);
}

static void test_ring_live_bytes(void **state)
{
	struct tu_res res = tu_res_now();
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
	tu_res_check(res);
}

/* The set-up messages of mobj_ring_send(): a 24-byte hello (u32 magic, u32
 * version, u32 kind, u32 zero, u64 capacity) with one read-only object,
 * first the data (kind 1), then the producer's control page (kind 2). The
 * consumer answers with kind 3; here nobody answers and the child's send
 * times out. */
static void test_ring_hello_bytes(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *b;
	struct mobj *o = NULL;
	unsigned char hello[64];
	size_t cap = 4 * mobj_page_size();
	int n, st;
	pid_t pid;

	(void)state;
	pid = tu_fork_chan(&b);
	if (pid == 0) {
		struct mobj_ring *r;

		if (mobj_ring_create(cap, &r) < 0)
			_exit(1);
		mobj_ring_send(b, r, 2000);
		_exit(0);
	}
	n = mobj_recv(b, 5000, &o, hello, sizeof(hello));
	assert_int_equal(n, 24);
	assert_int_equal(u32_at(hello, 0), 0x72626f6du);
	assert_int_equal(u32_at(hello, 4), 1);
	assert_int_equal(u32_at(hello, 8), 1);
	assert_int_equal(u32_at(hello, 12), 0);
	assert_int_equal(u64_at(hello, 16), cap);
	assert_non_null(o);
	assert_int_equal(mobj_size(o), cap);
	assert_int_equal(mobj_access(o), MOBJ_READ);
	mobj_close(o);
	o = NULL;
	n = mobj_recv(b, 5000, &o, hello, sizeof(hello));
	assert_int_equal(n, 24);
	assert_int_equal(u32_at(hello, 8), 2);
	assert_int_equal(u64_at(hello, 16), cap);
	assert_non_null(o);
	assert_int_equal(mobj_access(o), MOBJ_READ);
	mobj_close(o);
	mobj_chan_close(b);
	assert_true(waitpid(pid, &st, 0) == pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	tu_res_check(res);
}

/* ---- Channel wire header (every message, between processes) ------------ */

static void test_msg_header_offsets(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct mobj__msg_head), 16);
	assert_int_equal(MOBJ__MSG_HEAD_SIZE, 16);
	assert_int_equal(offsetof(struct mobj__msg_head, magic), 0);
	assert_int_equal(offsetof(struct mobj__msg_head, version), 4);
	assert_int_equal(offsetof(struct mobj__msg_head, type), 6);
	assert_int_equal(offsetof(struct mobj__msg_head, len), 8);
	assert_int_equal(offsetof(struct mobj__msg_head, nobj), 12);
	assert_int_equal(sizeof(struct mobj__msg_obj), 16);
	assert_int_equal(MOBJ__MSG_OBJ_SIZE, 16);
	assert_int_equal(offsetof(struct mobj__msg_obj, size), 0);
	assert_int_equal(offsetof(struct mobj__msg_obj, access), 8);
	assert_int_equal(offsetof(struct mobj__msg_obj, reserved), 12);
	assert_int_equal(MOBJ__MSG_HDR_SIZE, 32);
	assert_int_equal(MOBJ__MSG_WIRE_MAX, 16 + 16 * 16 + 4096);
	assert_int_equal(MOBJ__MSG_MAGIC, 0x6a626f6du);
	assert_int_equal(MOBJ__MSG_VERSION, 2);
	assert_int_equal(MOBJ__MSG_DATA, 1);
	assert_int_equal(MOBJ__MSG_HELLO, 2);
	assert_int_equal(MOBJ_MSG_MAX, 4096);
	assert_int_equal(MOBJ_MSG_OBJS_MAX, 16);
	assert_int_equal(MOBJ_READ, 1);
	assert_int_equal(MOBJ_WRITE, 2);
}

#ifdef __linux__
/* What mobj_send() actually puts on the socket, peeked raw off the wire
 * (without taking the descriptor), then received normally. Darwin carries
 * the same bytes inside a Mach message (src/darwin/chan.c). */
static void test_msg_live_bytes(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *a, *b;
	struct mobj *o, *ro, *got = NULL;
	unsigned char wire[96], buf[8];
	size_t ps = mobj_page_size();
	ssize_t n;

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_create(2 * ps, 0, &o), 0);
	assert_int_equal(mobj_readonly(o, &ro), 0);
	assert_int_equal(mobj_send(a, ro, "abc", 3), 0);
	n = recv(mobj_chan_fd(b), wire, sizeof(wire), MSG_PEEK | MSG_DONTWAIT);
	assert_int_equal(n, 32 + 3);
	assert_int_equal(u32_at(wire, 0), 0x6a626f6du);
	assert_int_equal(u16_at(wire, 4), 2);            /* version */
	assert_int_equal(u16_at(wire, 6), 1);            /* DATA */
	assert_int_equal(u32_at(wire, 8), 3);            /* len */
	assert_int_equal(u32_at(wire, 12), 1);           /* nobj */
	assert_int_equal(u64_at(wire, 16), 2 * ps);      /* obj_size */
	assert_int_equal(u32_at(wire, 24), MOBJ_READ);   /* obj_access */
	assert_int_equal(u32_at(wire, 28), 0);           /* reserved */
	assert_memory_equal(wire + 32, "abc", 3);
	assert_int_equal(mobj_recv(b, 0, &got, buf, sizeof(buf)), 3);
	assert_non_null(got);
	assert_int_equal(mobj_size(got), 2 * ps);
	assert_int_equal(mobj_access(got), MOBJ_READ);

	/* No object: nobj, size and access are 0. */
	assert_int_equal(mobj_send(a, NULL, NULL, 0), 0);
	n = recv(mobj_chan_fd(b), wire, sizeof(wire), MSG_PEEK | MSG_DONTWAIT);
	assert_int_equal(n, 32);
	assert_int_equal(u32_at(wire, 8), 0);
	assert_int_equal(u32_at(wire, 12), 0);
	assert_int_equal(u64_at(wire, 16), 0);
	assert_int_equal(u32_at(wire, 24), 0);
	assert_int_equal(mobj_recv(b, 0, NULL, buf, sizeof(buf)), 0);

	/* Three objects: one record each, in the order sent, then the
	 * payload; the descriptors in the same order. */
	{
		struct mobj *objs[3] = { ro, o, ro }, *in[3];
		size_t nin = 0, i;

		assert_int_equal(mobj_sendv(a, objs, 3, "xy", 2), 0);
		n = recv(mobj_chan_fd(b), wire, sizeof(wire), MSG_PEEK | MSG_DONTWAIT);
		assert_int_equal(n, 16 + 3 * 16 + 2);
		assert_int_equal(u32_at(wire, 8), 2);
		assert_int_equal(u32_at(wire, 12), 3);
		for (i = 0; i < 3; i++) {
			assert_int_equal(u64_at(wire, 16 + 16 * i), 2 * ps);
			assert_int_equal(u32_at(wire, 24 + 16 * i),
			                 i == 1 ? MOBJ_READ | MOBJ_WRITE : MOBJ_READ);
			assert_int_equal(u32_at(wire, 28 + 16 * i), 0);
		}
		assert_memory_equal(wire + 64, "xy", 2);
		assert_int_equal(mobj_recvv(b, 0, in, 3, &nin, buf, sizeof(buf)), 2);
		assert_int_equal(nin, 3);
		for (i = 0; i < 3; i++) {
			assert_int_equal(mobj_access(in[i]), mobj_access(objs[i]));
			mobj_close(in[i]);
		}
	}

	mobj_close(got);
	mobj_close(ro);
	mobj_close(o);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(res);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_header_offsets),
#ifdef __linux__
		cmocka_unit_test(test_msg_live_bytes),
#endif
		cmocka_unit_test(test_ring_hello_bytes),
		cmocka_unit_test(test_ring_ctl_offsets),
		cmocka_unit_test(test_ring_live_bytes),
	};

	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
