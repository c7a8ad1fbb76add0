/*
 * The Darwin channel's checks of a received Mach message
 * (src/darwin/msg_check.c), run on every system: they are a pure function
 * over bytes. Each case builds the buffer the kernel would hand over
 * (message, then the audit trailer right after msgh_size bytes) and
 * changes one thing a hostile or broken sender controls.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "msg_check.h"

#define DATA_MAX 64u
#define ID_DATA 0x6d6f6203
#define CAP (MOBJ__MACH_CHAN_FIXED + DATA_MAX + \
             sizeof(struct mobj__mach_audit_trailer))

struct buf {
	unsigned char b[CAP + 8];
	size_t cap;
};

/* A payload of the largest size the checks allow. */
static const char full[DATA_MAX];

static uint32_t desc_bits(uint32_t disposition, uint32_t type)
{
	return disposition << 16 | type << 24;
}

/* The trailer after @size bytes: FORMAT_0, full audit size, @pid (0: the
 * kernel's all-zero token). */
static void put_trailer(struct buf *m, uint32_t size, uint32_t pid)
{
	struct mobj__mach_audit_trailer t;

	memset(&t, 0, sizeof(t));
	t.type = MOBJ__MACH_TRAILER_FORMAT_0;
	t.size = sizeof(t);
	t.audit[5] = pid;
	t.audit[1] = pid ? 501 : 0;
	memcpy(m->b + MOBJ__MACH_ROUND(size), &t, sizeof(t));
}

/* A valid channel message with @len bytes and @port in the first
 * descriptor (the others null names, as the sender writes them). */
static void chan_msg(struct buf *m, uint32_t port, const char *data,
                     uint32_t len)
{
	struct mobj__mach_chan_hdr h;
	unsigned i;

	memset(m, 0, sizeof(*m));
	memset(&h, 0, sizeof(h));
	h.hdr.bits = MOBJ__MACH_BITS_COMPLEX;
	h.hdr.size = MOBJ__MACH_ROUND(MOBJ__MACH_CHAN_FIXED + len);
	h.hdr.local = 0x1103;
	h.hdr.id = ID_DATA;
	h.ndesc = MOBJ__MACH_CHAN_PORTS;
	for (i = 0; i < MOBJ__MACH_CHAN_PORTS; i++)
		h.port[i].bits = desc_bits(MOBJ__MACH_TYPE_PORT_SEND,
		                           MOBJ__MACH_PORT_DESCRIPTOR);
	h.port[0].name = port;
	h.len = len;
	memcpy(m->b, &h, sizeof(h));
	memcpy(m->b + sizeof(h), data, len);
	put_trailer(m, h.hdr.size, 4242);
	m->cap = CAP;
}

static struct mobj__mach_chan_hdr *hdr_of(struct buf *m)
{
	return (struct mobj__mach_chan_hdr *)(void *)m->b;
}

static int check(struct buf *m, struct mobj__mach_got *g)
{
	return mobj__mach_check(m->b, m->cap, DATA_MAX, g);
}

static void test_valid_chan_message(void **state)
{
	struct buf m;
	struct mobj__mach_got g;
	unsigned i;

	(void)state;
	chan_msg(&m, 0x2207, "hello", 5);
	assert_int_equal(check(&m, &g), MOBJ__MACH_CHAN);
	assert_int_equal(g.id, ID_DATA);
	assert_int_equal(g.nports, 1);
	assert_int_equal(g.port[0], 0x2207);
	assert_int_equal(g.port[1], MOBJ__MACH_PORT_NULL);
	assert_int_equal(g.len, 5);
	assert_ptr_equal(g.data, m.b + MOBJ__MACH_CHAN_FIXED);
	assert_memory_equal(g.data, "hello", 5);
	assert_int_equal(g.token[5], 4242);
	assert_int_equal(g.token[1], 501);

	chan_msg(&m, MOBJ__MACH_PORT_NULL, "", 0);
	assert_int_equal(check(&m, &g), MOBJ__MACH_CHAN);
	assert_int_equal(g.nports, 0);
	assert_int_equal(g.len, 0);

	/* Every descriptor a right. */
	chan_msg(&m, 0x100, "ab", 2);
	for (i = 1; i < MOBJ__MACH_CHAN_PORTS; i++)
		hdr_of(&m)->port[i].name = 0x100 + 0x100 * i;
	assert_int_equal(check(&m, &g), MOBJ__MACH_CHAN);
	assert_int_equal(g.nports, MOBJ__MACH_CHAN_PORTS);
	assert_int_equal(g.port[MOBJ__MACH_CHAN_PORTS - 1],
	                 0x100 * MOBJ__MACH_CHAN_PORTS);

	chan_msg(&m, 0, full, DATA_MAX);
	assert_int_equal(check(&m, &g), MOBJ__MACH_CHAN);
}

/* The buffer need not be aligned (the fuzzer's is not). */
static void test_misaligned_buffer(void **state)
{
	struct buf m;
	struct mobj__mach_got g;

	(void)state;
	chan_msg(&m, 7, "abc", 3);
	memmove(m.b + 1, m.b, CAP);
	assert_int_equal(mobj__mach_check(m.b + 1, CAP, DATA_MAX, &g),
	                 MOBJ__MACH_CHAN);
	assert_int_equal(g.port[0], 7);
}

static void test_framing_refused(void **state)
{
	struct buf m;
	struct mobj__mach_got g;

	(void)state;
	chan_msg(&m, 0, "abcd", 4);
	hdr_of(&m)->hdr.bits &= ~MOBJ__MACH_BITS_COMPLEX;
	assert_int_equal(check(&m, &g), -EPROTO);

	chan_msg(&m, 0, "abcd", 4);
	hdr_of(&m)->hdr.bits |= 18; /* a reply port: a send-once right */
	assert_int_equal(check(&m, &g), -EPROTO);

	chan_msg(&m, 0, "abcd", 4);
	hdr_of(&m)->hdr.bits |= 17u << 16; /* a voucher */
	assert_int_equal(check(&m, &g), -EPROTO);

	chan_msg(&m, 0, "abcd", 4);
	hdr_of(&m)->ndesc = 0;
	assert_int_equal(check(&m, &g), -EPROTO);
	hdr_of(&m)->ndesc = 1;
	assert_int_equal(check(&m, &g), -EPROTO);
	hdr_of(&m)->ndesc = MOBJ__MACH_CHAN_PORTS + 1;
	assert_int_equal(check(&m, &g), -EPROTO);
	hdr_of(&m)->ndesc = 0xffffffffu;
	assert_int_equal(check(&m, &g), -EPROTO);
}

static void test_descriptor_refused(void **state)
{
	static const uint32_t bad[][2] = {
		{ 16, MOBJ__MACH_PORT_DESCRIPTOR }, /* a receive right */
		{ 18, MOBJ__MACH_PORT_DESCRIPTOR }, /* a send-once right */
		{ 19, MOBJ__MACH_PORT_DESCRIPTOR }, /* COPY_SEND never arrives */
		{ MOBJ__MACH_TYPE_PORT_SEND, 1 },   /* out-of-line memory */
		{ MOBJ__MACH_TYPE_PORT_SEND, 2 },   /* out-of-line ports */
		{ MOBJ__MACH_TYPE_PORT_SEND, 4 },   /* a guarded port */
	};
	static const unsigned where[] = { 0, 1, MOBJ__MACH_CHAN_PORTS - 1 };
	struct buf m;
	struct mobj__mach_got g;
	size_t i, j;

	(void)state;
	/* In the first descriptor, one in the middle of the nulls, the last. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (j = 0; j < sizeof(where) / sizeof(where[0]); j++) {
			chan_msg(&m, 0x303, "ab", 2);
			hdr_of(&m)->port[where[j]].bits = desc_bits(bad[i][0],
			                                            bad[i][1]);
			assert_int_equal(check(&m, &g), -EPROTO);
		}
	}
	/* The rights come first: one after a null name is refused. */
	chan_msg(&m, 0x303, "ab", 2);
	hdr_of(&m)->port[2].name = 0x404;
	assert_int_equal(check(&m, &g), -EPROTO);
	chan_msg(&m, MOBJ__MACH_PORT_NULL, "ab", 2);
	hdr_of(&m)->port[MOBJ__MACH_CHAN_PORTS - 1].name = 0x404;
	assert_int_equal(check(&m, &g), -EPROTO);
}

static void test_sizes_refused(void **state)
{
	struct buf m;
	struct mobj__mach_got g;

	(void)state;
	/* The length field against the message size. */
	chan_msg(&m, 0, "abcdefgh", 8);
	hdr_of(&m)->len = 100;
	assert_int_equal(check(&m, &g), -EPROTO);
	hdr_of(&m)->len = 3; /* rounds to FIXED + 4, not FIXED + 8 */
	assert_int_equal(check(&m, &g), -EPROTO);
	hdr_of(&m)->len = 0xfffffffcu; /* would wrap a 32-bit sum */
	assert_int_equal(check(&m, &g), -EPROTO);

	/* More payload than the channel carries, however well framed. */
	chan_msg(&m, 0, full, DATA_MAX);
	assert_int_equal(mobj__mach_check(m.b, m.cap, DATA_MAX - 4, &g), -EPROTO);

	/* msgh_size: below the header, below the layout, beyond the buffer. */
	chan_msg(&m, 0, "abcd", 4);
	hdr_of(&m)->hdr.size = 20;
	assert_int_equal(check(&m, &g), -EPROTO);
	chan_msg(&m, 0, "", 0);
	hdr_of(&m)->hdr.size = MOBJ__MACH_CHAN_FIXED - 4;
	put_trailer(&m, MOBJ__MACH_CHAN_FIXED - 4, 4242);
	assert_int_equal(check(&m, &g), -EPROTO);
	chan_msg(&m, 0, "abcd", 4);
	hdr_of(&m)->hdr.size = 0xfffffff0u;
	assert_int_equal(check(&m, &g), -EPROTO);

	/* A buffer too small for a header at all. */
	chan_msg(&m, 0, "", 0);
	assert_int_equal(mobj__mach_check(m.b, 23, DATA_MAX, &g), -EPROTO);
}

static void test_trailer_refused(void **state)
{
	struct buf m;
	struct mobj__mach_got g;
	struct mobj__mach_audit_trailer t;
	size_t at;

	(void)state;
	chan_msg(&m, 0, "abcd", 4);
	at = hdr_of(&m)->hdr.size;
	/* No room for the audit trailer after the message. */
	m.cap = at + sizeof(t) - 1;
	assert_int_equal(check(&m, &g), -EPROTO);
	m.cap = at + sizeof(t);
	assert_int_equal(check(&m, &g), MOBJ__MACH_CHAN);

	/* Not the trailer asked for: another format, or a shorter one. */
	memcpy(&t, m.b + at, sizeof(t));
	t.type = 1;
	memcpy(m.b + at, &t, sizeof(t));
	assert_int_equal(check(&m, &g), -EPROTO);
	t.type = MOBJ__MACH_TRAILER_FORMAT_0;
	t.size = 20; /* a security trailer: no audit token */
	memcpy(m.b + at, &t, sizeof(t));
	assert_int_equal(check(&m, &g), -EPROTO);
}

/* A notification of @id carrying @field, with the token of @pid. */
static void notification(struct buf *m, int32_t id, uint32_t field,
                         uint32_t pid)
{
	struct mobj__mach_hdr h;

	memset(m, 0, sizeof(*m));
	memset(&h, 0, sizeof(h));
	h.bits = 18u << 8; /* to a send-once right */
	h.size = MOBJ__MACH_NOTIFY_SIZE;
	h.local = 0x1103;
	h.id = id;
	memcpy(m->b, &h, sizeof(h));
	memcpy(m->b + MOBJ__MACH_NOTIFY_FIELD, &field, sizeof(field));
	put_trailer(m, h.size, pid);
	m->cap = CAP;
}

static void test_notifications(void **state)
{
	struct buf m;
	struct mobj__mach_got g;

	(void)state;
	notification(&m, MOBJ__MACH_NOTIFY_DEAD_NAME, 0x5503, 0);
	assert_int_equal(check(&m, &g), MOBJ__MACH_DEAD_NAME);
	assert_int_equal(g.port[0], 0x5503);
	notification(&m, MOBJ__MACH_NOTIFY_NO_SENDERS, 0, 0);
	assert_int_equal(check(&m, &g), MOBJ__MACH_NO_SENDERS);

	/* Forged by a peer with a send right: its own token, not the
	 * kernel's. */
	notification(&m, MOBJ__MACH_NOTIFY_DEAD_NAME, 0x5503, 4242);
	assert_int_equal(check(&m, &g), -EPROTO);
	notification(&m, MOBJ__MACH_NOTIFY_NO_SENDERS, 0, 1);
	assert_int_equal(check(&m, &g), -EPROTO);

	/* Complex (rights inside), or too short for its field. */
	notification(&m, MOBJ__MACH_NOTIFY_DEAD_NAME, 0x5503, 0);
	hdr_of(&m)->hdr.bits |= MOBJ__MACH_BITS_COMPLEX;
	assert_int_equal(check(&m, &g), -EPROTO);
	notification(&m, MOBJ__MACH_NOTIFY_DEAD_NAME, 0x5503, 0);
	hdr_of(&m)->hdr.size = 32;
	put_trailer(&m, 32, 0);
	assert_int_equal(check(&m, &g), -EPROTO);
}

/* A message copied out with MACH_RCV_BODY_ERROR still holds the rights that
 * made it: it must be destroyed, and the error is the peer's (-EPROTO),
 * whatever special bits the kernel or'ed in. Before the fix the receive
 * path compared the code without masking them and fell through to -EIO,
 * leaking the message's rights. */
static void test_rcv_body_error_is_destroyed(void **state)
{
	(void)state;
	assert_int_equal(mobj__mach_rcv_verdict(MOBJ__MACH_RCV_BODY_ERROR),
	                 MOBJ__RCV_DESTROY);
	assert_int_equal(mobj__mach_rcv_verdict(MOBJ__MACH_RCV_BODY_ERROR | 0x2000),
	                 MOBJ__RCV_DESTROY); /* | MACH_MSG_IPC_SPACE */
	assert_int_equal(mobj__mach_rcv_verdict(MOBJ__MACH_RCV_BODY_ERROR | 0x0800),
	                 MOBJ__RCV_DESTROY); /* | MACH_MSG_IPC_KERNEL */
	assert_int_equal(mobj__mach_rcv_verdict(MOBJ__MACH_RCV_HEADER_ERROR | 0x2000),
	                 MOBJ__RCV_REFUSED);
	assert_int_equal(mobj__mach_rcv_verdict(MOBJ__MACH_RCV_TOO_LARGE),
	                 MOBJ__RCV_REFUSED);
	assert_int_equal(mobj__mach_rcv_verdict(MOBJ__MACH_MSG_SUCCESS),
	                 MOBJ__RCV_OK);
	assert_int_equal(mobj__mach_rcv_verdict(MOBJ__MACH_RCV_TIMED_OUT),
	                 MOBJ__RCV_TIMED_OUT);
	assert_int_equal(mobj__mach_rcv_verdict(MOBJ__MACH_RCV_INTERRUPTED),
	                 MOBJ__RCV_INTERRUPTED);
	assert_int_equal(mobj__mach_rcv_verdict(0x10004009), /* PORT_DIED */
	                 MOBJ__RCV_ERROR);
	assert_int_equal(mobj__mach_rcv_verdict(0x10004002), /* INVALID_NAME */
	                 MOBJ__RCV_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_chan_message),
		cmocka_unit_test(test_misaligned_buffer),
		cmocka_unit_test(test_framing_refused),
		cmocka_unit_test(test_descriptor_refused),
		cmocka_unit_test(test_sizes_refused),
		cmocka_unit_test(test_trailer_refused),
		cmocka_unit_test(test_notifications),
		cmocka_unit_test(test_rcv_body_error_is_destroyed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
