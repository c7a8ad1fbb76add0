/*
 * Encoding and validation of the channel wire format (see msg.h). Every
 * field is copied out with memcpy, so the input may be unaligned, short or
 * hostile: nothing is read beyond @n bytes and every field a receiver acts
 * on is range-checked here.
 */
#include <errno.h>
#include <string.h>

#include "msg.h"

static int check_head(unsigned type, size_t len, unsigned nobj)
{
	if (type != MOBJ__MSG_DATA && type != MOBJ__MSG_HELLO)
		return -1;
	if (len > MOBJ_MSG_MAX || nobj > MOBJ_MSG_OBJS_MAX)
		return -1;
	if (type == MOBJ__MSG_HELLO && (len != 0 || nobj != 0))
		return -1;
	return 0;
}

static int check_obj(uint64_t size, unsigned access)
{
	if (size == 0 || (uint64_t)(size_t)size != size)
		return -1;
	if (access != MOBJ_READ && access != (MOBJ_READ | MOBJ_WRITE))
		return -1;
	return 0;
}

static size_t records(unsigned nobj)
{
	return MOBJ__MSG_OBJ_SIZE * (nobj ? nobj : 1);
}

int mobj__msg_encode(void *buf, const struct mobj__msg *m)
{
	unsigned char *out = buf;
	struct mobj__msg_head h;
	struct mobj__msg_obj r;
	size_t at;
	unsigned i;

	if (check_head(m->type, m->len, m->nobj) < 0 || (m->len && !m->payload))
		return -EINVAL;
	for (i = 0; i < m->nobj; i++)
		if (check_obj(m->obj[i].size, m->obj[i].access) < 0)
			return -EINVAL;
	memset(&h, 0, sizeof(h));
	h.magic = MOBJ__MSG_MAGIC;
	h.version = MOBJ__MSG_VERSION;
	h.type = (uint16_t)m->type;
	h.len = (uint32_t)m->len;
	h.nobj = m->nobj;
	memcpy(out, &h, sizeof(h));
	memset(out + sizeof(h), 0, records(m->nobj));
	for (i = 0, at = sizeof(h); i < m->nobj; i++, at += sizeof(r)) {
		memset(&r, 0, sizeof(r));
		r.size = m->obj[i].size;
		r.access = m->obj[i].access;
		memcpy(out + at, &r, sizeof(r));
	}
	at = sizeof(h) + records(m->nobj);
	if (m->len)
		memcpy(out + at, m->payload, m->len);
	return (int)(at + m->len);
}

int mobj__msg_decode(const void *buf, size_t n, struct mobj__msg *out)
{
	const unsigned char *in = buf;
	struct mobj__msg_head h;
	struct mobj__msg_obj r;
	size_t at;
	unsigned i;

	if (!buf || n < MOBJ__MSG_HDR_SIZE)
		return -EPROTO;
	memcpy(&h, in, sizeof(h));
	if (h.magic != MOBJ__MSG_MAGIC || h.version != MOBJ__MSG_VERSION ||
	    check_head(h.type, h.len, h.nobj) < 0)
		return -EPROTO;
	at = sizeof(h) + records(h.nobj);
	/* The length field must tell the truth, both ways. */
	if (n < at || n - at != h.len)
		return -EPROTO;
	for (i = 0; i < (h.nobj ? h.nobj : 1); i++) {
		memcpy(&r, in + sizeof(h) + i * sizeof(r), sizeof(r));
		if (r.reserved != 0)
			return -EPROTO;
		if (h.nobj == 0 ? r.size != 0 || r.access != 0 :
		                  check_obj(r.size, r.access) < 0)
			return -EPROTO;
		if (h.nobj) {
			out->obj[i].size = r.size;
			out->obj[i].access = r.access;
		}
	}
	out->type = h.type;
	out->payload = in + at;
	out->len = h.len;
	out->nobj = h.nobj;
	return 0;
}
