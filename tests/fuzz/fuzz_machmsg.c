/*
 * libFuzzer target: the Darwin channel's checks of a received Mach message
 * (src/darwin/msg_check.c), on Linux, where no Mach message ever arrives:
 * the input is the receive buffer (message, then trailer) exactly as the
 * kernel would fill it, under a hostile sender's control. Beyond "no crash,
 * no sanitizer report" it checks what an accepted verdict promises the
 * receive path: the payload lies inside the message, the sizes agree, the
 * trailer fits, and a notification is the kernel's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg_check.h"

#define DATA_MAX 4096u /* the receive path's limit is smaller; any works */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_chan(const uint8_t *data, size_t size,
                       const struct mobj__mach_got *g)
{
	struct mobj__mach_chan_hdr h;
	unsigned i;

	memcpy(&h, data, sizeof(h));
	if (g->len > DATA_MAX || g->data != data + MOBJ__MACH_CHAN_FIXED ||
	    g->len != h.len || g->nports > MOBJ__MACH_CHAN_PORTS ||
	    !(h.hdr.bits & MOBJ__MACH_BITS_COMPLEX) ||
	    h.ndesc != MOBJ__MACH_CHAN_PORTS ||
	    MOBJ__MACH_ROUND(MOBJ__MACH_CHAN_FIXED + g->len) != h.hdr.size ||
	    h.hdr.size + sizeof(struct mobj__mach_audit_trailer) > size)
		abort();
	/* The rights first, then null names only. */
	for (i = 0; i < MOBJ__MACH_CHAN_PORTS; i++)
		if (g->port[i] != h.port[i].name ||
		    (i < g->nports) != (h.port[i].name != MOBJ__MACH_PORT_NULL))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mobj__mach_got g;
	static const uint32_t zero[8];
	int kind;

	kind = mobj__mach_check(data, size, DATA_MAX, &g);
	switch (kind) {
	case -EPROTO:
		break;
	case MOBJ__MACH_CHAN:
		check_chan(data, size, &g);
		break;
	case MOBJ__MACH_DEAD_NAME:
	case MOBJ__MACH_NO_SENDERS:
		if (memcmp(g.token, zero, sizeof(zero)) != 0)
			abort();
		break;
	default:
		abort();
	}
	/* The receive verdict is total over all codes. */
	if (size >= 4) {
		int32_t mr;

		memcpy(&mr, data, sizeof(mr));
		if ((unsigned)mobj__mach_rcv_verdict(mr) > MOBJ__RCV_ERROR)
			abort();
	}
	return 0;
}
