/*
 * libFuzzer target: the channel message decoder (src/msg.c), the code that
 * reads every byte a peer sends. Beyond "no crash, no sanitizer report" it
 * checks what decode promises: an accepted message is exactly head +
 * max(nobj, 1) records + len bytes, within the limits, and encodes back to
 * the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char again[MOBJ__MSG_WIRE_MAX];
	struct mobj__msg m;
	size_t at;
	int n;

	if (mobj__msg_decode(data, size, &m) != 0)
		return 0;
	at = MOBJ__MSG_HEAD_SIZE + MOBJ__MSG_OBJ_SIZE * (m.nobj ? m.nobj : 1);
	if (m.payload != data + at || m.len != size - at || m.len > MOBJ_MSG_MAX ||
	    m.nobj > MOBJ_MSG_OBJS_MAX ||
	    (m.type != MOBJ__MSG_DATA && m.type != MOBJ__MSG_HELLO))
		abort();
	n = mobj__msg_encode(again, &m);
	if (n < 0 || (size_t)n != size || memcmp(again, data, size) != 0)
		abort();
	return 0;
}
