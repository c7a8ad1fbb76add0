/*
 * The checks of a received Mach message, as a pure function over bytes.
 *
 * The Darwin channel (chan.c) receives into a buffer and hands it here
 * before it believes anything in it; this file makes no Mach call and uses
 * no Mach header, so it also builds on Linux, where a cmocka test
 * (tests/test_msg_check.c) and a libFuzzer target (tests/fuzz/
 * fuzz_machmsg.c) run it on every CI run. The layouts and constants below
 * are XNU's user-space ones (osfmk/mach/message.h, osfmk/mach/notify.h,
 * 64-bit user space, little-endian as every Apple target is); msg_check.c
 * static-asserts each of them against Apple's own headers in the Darwin
 * build, so the two can never drift apart unnoticed.
 *
 * Every integer is read with memcpy: a hostile buffer may be misaligned in
 * the fuzzer, and the checks never trust a size before comparing it with
 * the buffer's.
 */
#ifndef MOBJ_DARWIN_MSG_CHECK_H
#define MOBJ_DARWIN_MSG_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* <mach/message.h> */
#define MOBJ__MACH_BITS_REMOTE_MASK   0x0000001fu
#define MOBJ__MACH_BITS_LOCAL_MASK    0x00001f00u
#define MOBJ__MACH_BITS_VOUCHER_MASK  0x001f0000u
#define MOBJ__MACH_BITS_COMPLEX       0x80000000u
#define MOBJ__MACH_TYPE_PORT_SEND     17u /* MACH_MSG_TYPE_PORT_SEND */
#define MOBJ__MACH_PORT_DESCRIPTOR    0u
#define MOBJ__MACH_TRAILER_FORMAT_0   0u
#define MOBJ__MACH_PORT_NULL          0u
#define MOBJ__MACH_PORT_DEAD          0xffffffffu
#define MOBJ__MACH_MSG_SUCCESS        0x00000000
#define MOBJ__MACH_MSG_MASK           0x00003e00 /* "special bits" */
#define MOBJ__MACH_RCV_TIMED_OUT      0x10004003
#define MOBJ__MACH_RCV_TOO_LARGE      0x10004004
#define MOBJ__MACH_RCV_INTERRUPTED    0x10004005
#define MOBJ__MACH_RCV_HEADER_ERROR   0x1000400b
#define MOBJ__MACH_RCV_BODY_ERROR     0x1000400c
/* <mach/notify.h> */
#define MOBJ__MACH_NOTIFY_NO_SENDERS  0106
#define MOBJ__MACH_NOTIFY_DEAD_NAME   0110

/* mach_msg_header_t */
struct mobj__mach_hdr {
	uint32_t bits;
	uint32_t size;
	uint32_t remote;
	uint32_t local;
	uint32_t voucher;
	int32_t id;
};

/* mach_msg_port_descriptor_t (user space): name, pad1, then one 32-bit
 * word of bit-fields pad2:16, disposition:8, type:8, allocated from the
 * least significant bit (clang, little-endian). */
struct mobj__mach_port_desc {
	uint32_t name;
	uint32_t pad1;
	uint32_t bits;
};

#define MOBJ__MACH_DESC_DISPOSITION(bits) (((bits) >> 16) & 0xffu)
#define MOBJ__MACH_DESC_TYPE(bits)        (((bits) >> 24) & 0xffu)

/* The channel's one message layout (chan.c): header, body (the descriptor
 * count), exactly MOBJ__MACH_CHAN_PORTS port descriptors (the rights first,
 * then null names), a 32-bit length, then that many bytes. chan.c asserts
 * the count is MOBJ_MSG_OBJS_MAX. */
#define MOBJ__MACH_CHAN_PORTS 16u

struct mobj__mach_chan_hdr {
	struct mobj__mach_hdr hdr;
	uint32_t ndesc;
	struct mobj__mach_port_desc port[MOBJ__MACH_CHAN_PORTS];
	uint32_t len;
};

#define MOBJ__MACH_CHAN_FIXED (32u + 12u * MOBJ__MACH_CHAN_PORTS)

/* mach_dead_name_notification_t and mach_no_senders_notification_t up to
 * their trailer: header, NDR record (8 bytes), one 32-bit field. */
#define MOBJ__MACH_NOTIFY_SIZE 36u
#define MOBJ__MACH_NOTIFY_FIELD 32u /* not_port / not_count */

/* mach_msg_audit_trailer_t */
struct mobj__mach_audit_trailer {
	uint32_t type;
	uint32_t size;
	uint32_t seqno;
	uint32_t sender[2]; /* security_token_t */
	uint32_t audit[8];  /* audit_token_t: val[1] euid, val[5] pid */
};

_Static_assert(sizeof(struct mobj__mach_hdr) == 24, "header layout");
_Static_assert(sizeof(struct mobj__mach_port_desc) == 12, "descriptor layout");
_Static_assert(sizeof(struct mobj__mach_chan_hdr) == MOBJ__MACH_CHAN_FIXED,
               "channel message layout");
_Static_assert(sizeof(struct mobj__mach_audit_trailer) == 52, "trailer layout");

/* Mach rounds message sizes to 4 bytes (round_msg). */
#define MOBJ__MACH_ROUND(x) (((x) + 3u) / 4u * 4u)

/* What a received buffer is. */
enum mobj__mach_kind {
	MOBJ__MACH_CHAN = 1,     /* a message of the channel's layout */
	MOBJ__MACH_DEAD_NAME,    /* the kernel's dead-name notification */
	MOBJ__MACH_NO_SENDERS,   /* the kernel's no-senders notification */
};

/* What the checks found, pointing into the buffer. */
struct mobj__mach_got {
	int32_t id;                   /* msgh_id */
	uint32_t port[MOBJ__MACH_CHAN_PORTS]; /* CHAN: the descriptors' names
	                               * (rights first: nports of them, then
	                               * MACH_PORT_NULL); DEAD_NAME: not_port
	                               * in port[0] */
	unsigned nports;              /* CHAN: names that are not null */
	const unsigned char *data;    /* CHAN: the bytes after the length */
	uint32_t len;
	uint32_t token[8];            /* the sender's audit token */
};

/*
 * Check the message at @buf, received into a buffer of @cap bytes (message
 * and trailer), carrying at most @data_max bytes of payload. Returns the
 * kind (> 0) and fills @g, or -EPROTO: the message is none of the kinds, or
 * one whose header, body, descriptor count, descriptor types or
 * dispositions, their order (a right after a null name), sizes or trailer
 * are not exactly what that kind must be; a notification
 * is believed only with the kernel's audit token (all zeros,
 * KERNEL_AUDIT_TOKEN_VALUE). On -EPROTO the caller must destroy the message
 * (mach_msg_destroy), which releases whatever rights it carries. What this
 * cannot know (whose token the channel expects, which id the state allows,
 * whether not_port is the peer) stays with the caller.
 */
int mobj__mach_check(const void *buf, size_t cap, size_t data_max,
                     struct mobj__mach_got *g);

/* What to do with the return code of a mach_msg receive. */
enum mobj__mach_rcv {
	MOBJ__RCV_OK,        /* a message is in the buffer: check it */
	MOBJ__RCV_TIMED_OUT,
	MOBJ__RCV_INTERRUPTED,
	MOBJ__RCV_DESTROY,   /* copied out with errors: destroy it, -EPROTO */
	MOBJ__RCV_REFUSED,   /* dequeued and destroyed by the kernel: -EPROTO */
	MOBJ__RCV_ERROR,     /* nothing received: translate the code */
};

enum mobj__mach_rcv mobj__mach_rcv_verdict(int32_t mr);

#endif
