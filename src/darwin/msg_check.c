/*
 * The checks of a received Mach message (msg_check.h): pure, no Mach call,
 * built on Linux too (tests/test_msg_check.c, tests/fuzz/fuzz_machmsg.c).
 *
 * In the Darwin build every layout and constant of msg_check.h is
 * static-asserted below against Apple's headers. The bit-field word of a
 * port descriptor cannot be asserted at compile time; test_darwin's
 * test_msg_check_layout checks it against a real mach_msg_port_descriptor_t.
 */
#include <errno.h>
#include <string.h>

#include "msg_check.h"

#ifdef __APPLE__
#include <stddef.h>

#include <mach/mach.h>
#include <mach/notify.h>

#define SAME_OFFSET(a, fa, b, fb) \
	_Static_assert(offsetof(a, fa) == offsetof(b, fb), #a "." #fa)

_Static_assert(sizeof(mach_msg_header_t) == sizeof(struct mobj__mach_hdr), "hdr");
SAME_OFFSET(mach_msg_header_t, msgh_bits, struct mobj__mach_hdr, bits);
SAME_OFFSET(mach_msg_header_t, msgh_size, struct mobj__mach_hdr, size);
SAME_OFFSET(mach_msg_header_t, msgh_remote_port, struct mobj__mach_hdr, remote);
SAME_OFFSET(mach_msg_header_t, msgh_local_port, struct mobj__mach_hdr, local);
SAME_OFFSET(mach_msg_header_t, msgh_voucher_port, struct mobj__mach_hdr, voucher);
SAME_OFFSET(mach_msg_header_t, msgh_id, struct mobj__mach_hdr, id);
_Static_assert(sizeof(mach_msg_body_t) == 4, "body");
_Static_assert(sizeof(mach_msg_port_descriptor_t) ==
               sizeof(struct mobj__mach_port_desc), "descriptor");
SAME_OFFSET(mach_msg_port_descriptor_t, name, struct mobj__mach_port_desc, name);
SAME_OFFSET(mach_msg_port_descriptor_t, pad1, struct mobj__mach_port_desc, pad1);
_Static_assert(sizeof(mach_msg_audit_trailer_t) ==
               sizeof(struct mobj__mach_audit_trailer), "trailer");
SAME_OFFSET(mach_msg_audit_trailer_t, msgh_trailer_type,
            struct mobj__mach_audit_trailer, type);
SAME_OFFSET(mach_msg_audit_trailer_t, msgh_trailer_size,
            struct mobj__mach_audit_trailer, size);
SAME_OFFSET(mach_msg_audit_trailer_t, msgh_seqno,
            struct mobj__mach_audit_trailer, seqno);
SAME_OFFSET(mach_msg_audit_trailer_t, msgh_sender,
            struct mobj__mach_audit_trailer, sender);
SAME_OFFSET(mach_msg_audit_trailer_t, msgh_audit,
            struct mobj__mach_audit_trailer, audit);
_Static_assert(sizeof(audit_token_t) == 32, "audit token");
_Static_assert(offsetof(mach_dead_name_notification_t, not_port) ==
               MOBJ__MACH_NOTIFY_FIELD, "dead-name notification");
_Static_assert(offsetof(mach_dead_name_notification_t, trailer) ==
               MOBJ__MACH_NOTIFY_SIZE, "dead-name notification");
_Static_assert(offsetof(mach_no_senders_notification_t, not_count) ==
               MOBJ__MACH_NOTIFY_FIELD, "no-senders notification");
_Static_assert(offsetof(mach_no_senders_notification_t, trailer) ==
               MOBJ__MACH_NOTIFY_SIZE, "no-senders notification");
_Static_assert(MACH_MSGH_BITS_REMOTE_MASK == MOBJ__MACH_BITS_REMOTE_MASK, "bits");
_Static_assert(MACH_MSGH_BITS_LOCAL_MASK == MOBJ__MACH_BITS_LOCAL_MASK, "bits");
_Static_assert(MACH_MSGH_BITS_VOUCHER_MASK == MOBJ__MACH_BITS_VOUCHER_MASK, "bits");
_Static_assert(MACH_MSGH_BITS_COMPLEX == MOBJ__MACH_BITS_COMPLEX, "bits");
_Static_assert(MACH_MSG_TYPE_PORT_SEND == MOBJ__MACH_TYPE_PORT_SEND, "disposition");
_Static_assert(MACH_MSG_PORT_DESCRIPTOR == MOBJ__MACH_PORT_DESCRIPTOR, "type");
_Static_assert(MACH_MSG_TRAILER_FORMAT_0 == MOBJ__MACH_TRAILER_FORMAT_0, "trailer");
_Static_assert(MACH_PORT_NULL == MOBJ__MACH_PORT_NULL, "null");
_Static_assert(MACH_PORT_DEAD == MOBJ__MACH_PORT_DEAD, "dead");
_Static_assert(MACH_MSG_SUCCESS == MOBJ__MACH_MSG_SUCCESS, "mr");
_Static_assert(MACH_MSG_MASK == MOBJ__MACH_MSG_MASK, "mr");
_Static_assert(MACH_RCV_TIMED_OUT == MOBJ__MACH_RCV_TIMED_OUT, "mr");
_Static_assert(MACH_RCV_TOO_LARGE == MOBJ__MACH_RCV_TOO_LARGE, "mr");
_Static_assert(MACH_RCV_INTERRUPTED == MOBJ__MACH_RCV_INTERRUPTED, "mr");
_Static_assert(MACH_RCV_HEADER_ERROR == MOBJ__MACH_RCV_HEADER_ERROR, "mr");
_Static_assert(MACH_RCV_BODY_ERROR == MOBJ__MACH_RCV_BODY_ERROR, "mr");
_Static_assert(MACH_NOTIFY_NO_SENDERS == MOBJ__MACH_NOTIFY_NO_SENDERS, "id");
_Static_assert(MACH_NOTIFY_DEAD_NAME == MOBJ__MACH_NOTIFY_DEAD_NAME, "id");
#endif

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The audit trailer the receive asked for, right after the msgh_size bytes
 * of the message (XNU: ipc_kmsg_put_to_user / ipc_kmsg_deflate_trailer;
 * msgh_size is a multiple of 4, round_msg is for safety). -EPROTO when it
 * is not there, or not that one. */
static int check_trailer(const unsigned char *b, size_t cap, uint32_t size,
                         struct mobj__mach_got *g)
{
	struct mobj__mach_audit_trailer t;
	size_t at = MOBJ__MACH_ROUND((uint64_t)size);

	if (at > cap || cap - at < sizeof(t))
		return -EPROTO;
	memcpy(&t, b + at, sizeof(t));
	if (t.type != MOBJ__MACH_TRAILER_FORMAT_0 || t.size < sizeof(t))
		return -EPROTO;
	memcpy(g->token, t.audit, sizeof(g->token));
	return 0;
}

static int is_kernel(const uint32_t token[8])
{
	size_t i;

	for (i = 0; i < 8; i++)
		if (token[i] != 0)
			return 0;
	return 1;
}

/* A notification is simple, from the kernel (whose messages carry
 * KERNEL_AUDIT_TOKEN_VALUE: XNU ipc_kmsg_init_trailer_and_sign; anyone with
 * a send right can forge the rest), and carries its field. */
static int check_notification(const unsigned char *b,
                              const struct mobj__mach_hdr *h,
                              struct mobj__mach_got *g)
{
	if ((h->bits & MOBJ__MACH_BITS_COMPLEX) || h->size < MOBJ__MACH_NOTIFY_SIZE ||
	    !is_kernel(g->token))
		return -EPROTO;
	g->port[0] = get32(b + MOBJ__MACH_NOTIFY_FIELD);
	return h->id == MOBJ__MACH_NOTIFY_DEAD_NAME ? MOBJ__MACH_DEAD_NAME :
	       MOBJ__MACH_NO_SENDERS;
}

/* Every descriptor a port descriptor carrying a send right or a null name,
 * the rights first (a null name passes through the kernel untouched: XNU
 * ipc_kmsg_copyin_port_descriptor). Their names go to @g. */
static int check_ports(const struct mobj__mach_chan_hdr *m,
                       struct mobj__mach_got *g)
{
	const struct mobj__mach_port_desc *d;
	unsigned i;

	g->nports = 0;
	for (i = 0; i < MOBJ__MACH_CHAN_PORTS; i++) {
		d = &m->port[i];
		if (MOBJ__MACH_DESC_TYPE(d->bits) != MOBJ__MACH_PORT_DESCRIPTOR ||
		    MOBJ__MACH_DESC_DISPOSITION(d->bits) != MOBJ__MACH_TYPE_PORT_SEND)
			return -EPROTO;
		g->port[i] = d->name;
		if (d->name == MOBJ__MACH_PORT_NULL)
			continue;
		if (g->nports != i)
			return -EPROTO; /* a right after a null name */
		g->nports++;
	}
	return 0;
}

/* The channel's layout, exactly: complex, no reply port and no voucher,
 * MOBJ__MACH_CHAN_PORTS port descriptors in order, and a length that
 * accounts for every byte of the message. */
static int check_chan(const unsigned char *b, size_t data_max,
                      struct mobj__mach_got *g)
{
	struct mobj__mach_chan_hdr m;

	memcpy(&m, b, sizeof(m));
	if (m.hdr.size < MOBJ__MACH_CHAN_FIXED ||
	    !(m.hdr.bits & MOBJ__MACH_BITS_COMPLEX) ||
	    (m.hdr.bits & MOBJ__MACH_BITS_REMOTE_MASK) != 0 ||
	    (m.hdr.bits & MOBJ__MACH_BITS_VOUCHER_MASK) != 0 ||
	    m.ndesc != MOBJ__MACH_CHAN_PORTS || check_ports(&m, g) < 0 ||
	    m.len > data_max ||
	    MOBJ__MACH_ROUND((uint64_t)MOBJ__MACH_CHAN_FIXED + m.len) != m.hdr.size)
		return -EPROTO;
	g->data = b + MOBJ__MACH_CHAN_FIXED;
	g->len = m.len;
	return MOBJ__MACH_CHAN;
}

int mobj__mach_check(const void *buf, size_t cap, size_t data_max,
                     struct mobj__mach_got *g)
{
	const unsigned char *b = buf;
	struct mobj__mach_hdr h;

	memset(g, 0, sizeof(*g));
	if (cap < sizeof(h))
		return -EPROTO;
	memcpy(&h, b, sizeof(h));
	g->id = h.id;
	/* The kernel wrote msgh_size bytes and the trailer after them: both
	 * must lie inside the buffer before anything in them is read. */
	if (h.size < sizeof(h) || h.size > cap ||
	    check_trailer(b, cap, h.size, g) < 0)
		return -EPROTO;
	if (h.id == MOBJ__MACH_NOTIFY_DEAD_NAME ||
	    h.id == MOBJ__MACH_NOTIFY_NO_SENDERS)
		return check_notification(b, &h, g);
	if (h.size < MOBJ__MACH_CHAN_FIXED)
		return -EPROTO;
	return check_chan(b, data_max, g);
}

/* XNU's receive outcomes (osfmk/ipc/mach_msg.c, mach_msg_receive_results):
 * MACH_RCV_BODY_ERROR comes with "special bits" or'ed in (MACH_MSG_IPC_SPACE
 * and friends, ipc_kmsg_copyout_descriptors) and the message is copied out
 * all the same, with whatever rights made it (ipc_kmsg_put_to_user): it
 * must be destroyed. MACH_RCV_HEADER_ERROR leaves a bare header, its other
 * rights destroyed by the kernel (mach_msg_receive_error); too large
 * without MACH_RCV_LARGE is dequeued and destroyed (ipc_mqueue_receive). */
enum mobj__mach_rcv mobj__mach_rcv_verdict(int32_t mr)
{
	int32_t base = mr & ~MOBJ__MACH_MSG_MASK;

	if (mr == MOBJ__MACH_MSG_SUCCESS)
		return MOBJ__RCV_OK;
	if (mr == MOBJ__MACH_RCV_TIMED_OUT)
		return MOBJ__RCV_TIMED_OUT;
	if (mr == MOBJ__MACH_RCV_INTERRUPTED)
		return MOBJ__RCV_INTERRUPTED;
	if (base == MOBJ__MACH_RCV_BODY_ERROR)
		return MOBJ__RCV_DESTROY;
	if (base == MOBJ__MACH_RCV_HEADER_ERROR || mr == MOBJ__MACH_RCV_TOO_LARGE)
		return MOBJ__RCV_REFUSED;
	return MOBJ__RCV_ERROR;
}
