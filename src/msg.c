/*
 * Encoding and validation of the channel wire format (see msg.h). Every
 * field is copied out with memcpy, so the input may be unaligned, short or
 * hostile: nothing is read beyond @n bytes and every field a receiver acts
 * on is range-checked here.
 */
#include <errno.h>
#include <string.h>

#include "msg.h"

static int check_fields(unsigned type, size_t len, unsigned nobj,
                        uint64_t obj_size, unsigned obj_access)
{
	if (type != MOBJ__MSG_DATA && type != MOBJ__MSG_HELLO)
		return -1;
	if (len > MOBJ_MSG_MAX)
		return -1;
	if (nobj > 1)
		return -1;
	if (nobj == 0 && (obj_size != 0 || obj_access != 0))
		return -1;
	if (nobj == 1) {
		if (obj_size == 0 || (uint64_t)(size_t)obj_size != obj_size)
			return -1;
		if (obj_access != MOBJ_READ &&
		    obj_access != (MOBJ_READ | MOBJ_WRITE))
			return -1;
	}
	if (type == MOBJ__MSG_HELLO && (len != 0 || nobj != 0))
		return -1;
	return 0;
}

int mobj__msg_encode(void *buf, const struct mobj__msg *m)
{
	struct mobj__msg_hdr h;

	if (check_fields(m->type, m->len, m->nobj, m->obj_size,
	                 m->obj_access) < 0 || (m->len && !m->payload))
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	h.magic = MOBJ__MSG_MAGIC;
	h.version = MOBJ__MSG_VERSION;
	h.type = (uint16_t)m->type;
	h.len = (uint32_t)m->len;
	h.nobj = m->nobj;
	h.obj_size = m->obj_size;
	h.obj_access = m->obj_access;
	memcpy(buf, &h, sizeof(h));
	if (m->len)
		memcpy((unsigned char *)buf + sizeof(h), m->payload, m->len);
	return (int)(sizeof(h) + m->len);
}

int mobj__msg_decode(const void *buf, size_t n, struct mobj__msg *out)
{
	struct mobj__msg_hdr h;

	if (!buf || n < sizeof(h))
		return -EPROTO;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != MOBJ__MSG_MAGIC || h.version != MOBJ__MSG_VERSION ||
	    h.reserved != 0)
		return -EPROTO;
	if (check_fields(h.type, h.len, h.nobj, h.obj_size, h.obj_access) < 0)
		return -EPROTO;
	/* The length field must tell the truth, both ways. */
	if (n - sizeof(h) != h.len)
		return -EPROTO;
	out->type = h.type;
	out->payload = (const unsigned char *)buf + sizeof(h);
	out->len = h.len;
	out->nobj = h.nobj;
	out->obj_size = h.obj_size;
	out->obj_access = h.obj_access;
	return 0;
}
