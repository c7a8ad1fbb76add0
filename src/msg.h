/*
 * The channel wire format, shared by every backend (Linux: the bytes of one
 * SOCK_SEQPACKET datagram; Darwin: the inline data of one Mach message, next
 * to its port descriptors). Pure functions over bytes: no system calls, so
 * the fuzz target can drive them directly.
 *
 * One message = a 16-byte head, then max(nobj, 1) 16-byte object records,
 * then exactly `len` payload bytes:
 *
 *   offset size field
 *        0    4 magic       MOBJ__MSG_MAGIC
 *        4    2 version     MOBJ__MSG_VERSION
 *        6    2 type        MOBJ__MSG_DATA, or MOBJ__MSG_HELLO (the
 *                           listener's first message on an accepted channel)
 *        8    4 len         payload bytes after the records, 0..MOBJ_MSG_MAX
 *       12    4 nobj        objects carried beside the bytes,
 *                           0..MOBJ_MSG_OBJS_MAX
 *   16 + 16 i   8 size      object i's exact size in bytes
 *   24 + 16 i   4 access    MOBJ_READ (1) or MOBJ_READ | MOBJ_WRITE (3)
 *   28 + 16 i   4 reserved  0
 *   16 + 16 max(nobj, 1)    payload
 *
 * A message without objects still has one record, all zero, so that every
 * message starts with the same 32 bytes (MOBJ__MSG_HDR_SIZE) and one with at
 * most one object is laid out as in version 1 (which had only that record).
 * Fields are in the host's byte order: both ends run on the same machine.
 * A message is the whole datagram: its length must be exactly the records'
 * end + len. The objects travel out of band (SCM_RIGHTS, Mach port
 * descriptors), in record order, and the transport must report how many
 * handles came, so the core can check that against nobj. A HELLO has len 0
 * and nobj 0.
 */
#ifndef MOBJ_MSG_H
#define MOBJ_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "mobj/chan.h"

#define MOBJ__MSG_MAGIC   0x6a626f6du /* "mobj" in little-endian memory */
#define MOBJ__MSG_VERSION 2u

enum mobj__msg_type {
	MOBJ__MSG_DATA = 1,
	MOBJ__MSG_HELLO = 2,
};

struct mobj__msg_head {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;
	uint32_t nobj;
};

struct mobj__msg_obj {
	uint64_t size;
	uint32_t access;
	uint32_t reserved;
};

_Static_assert(sizeof(struct mobj__msg_head) == 16, "wire head is 16 bytes");
_Static_assert(offsetof(struct mobj__msg_head, version) == 4, "wire layout");
_Static_assert(offsetof(struct mobj__msg_head, type) == 6, "wire layout");
_Static_assert(offsetof(struct mobj__msg_head, len) == 8, "wire layout");
_Static_assert(offsetof(struct mobj__msg_head, nobj) == 12, "wire layout");
_Static_assert(sizeof(struct mobj__msg_obj) == 16, "wire record is 16 bytes");
_Static_assert(offsetof(struct mobj__msg_obj, access) == 8, "wire layout");
_Static_assert(offsetof(struct mobj__msg_obj, reserved) == 12, "wire layout");

#define MOBJ__MSG_HEAD_SIZE ((size_t)sizeof(struct mobj__msg_head))
#define MOBJ__MSG_OBJ_SIZE ((size_t)sizeof(struct mobj__msg_obj))
/* The head and the first record: every message has at least these. */
#define MOBJ__MSG_HDR_SIZE (MOBJ__MSG_HEAD_SIZE + MOBJ__MSG_OBJ_SIZE)
/* The largest valid message; a receive buffer of this size never truncates
 * one. */
#define MOBJ__MSG_WIRE_MAX (MOBJ__MSG_HEAD_SIZE + \
                            MOBJ_MSG_OBJS_MAX * MOBJ__MSG_OBJ_SIZE + MOBJ_MSG_MAX)

/* A decoded message: the payload points into the bytes that were decoded. */
struct mobj__msg {
	unsigned type;
	const unsigned char *payload;
	size_t len;
	unsigned nobj;
	struct {
		uint64_t size;
		unsigned access;
	} obj[MOBJ_MSG_OBJS_MAX];
};

/* Write the message into @buf (room for MOBJ__MSG_WIRE_MAX, or exactly what
 * it needs) and return its length, or -EINVAL when @len > MOBJ_MSG_MAX, the
 * type is unknown, nobj > MOBJ_MSG_OBJS_MAX, or an object's size or access
 * is invalid (0 size, access not 1 or 3). */
int mobj__msg_encode(void *buf, const struct mobj__msg *m);

/* Validate and decode the @n bytes at @buf. Returns 0, or -EPROTO when they
 * are not exactly one well-formed message of this version. The checks are
 * structural: whether each object is acceptable (a memfd of that size,
 * frozen when read-only, ...) is the backend's mobj__os_import_dup. */
int mobj__msg_decode(const void *buf, size_t n, struct mobj__msg *out);

#endif /* MOBJ_MSG_H */
