/*
 * The channel wire format, shared by every backend (Linux: the bytes of one
 * SOCK_SEQPACKET datagram; Darwin: the inline data of one Mach message, next
 * to its port descriptor). Pure functions over bytes: no system calls, so the
 * fuzz target can drive them directly.
 *
 * One message = a fixed 32-byte header, then exactly `len` payload bytes:
 *
 *   offset size field
 *        0    4 magic       MOBJ__MSG_MAGIC
 *        4    2 version     MOBJ__MSG_VERSION
 *        6    2 type        MOBJ__MSG_DATA, or MOBJ__MSG_HELLO (the
 *                           listener's first message on an accepted channel)
 *        8    4 len         payload bytes after the header, 0..MOBJ_MSG_MAX
 *       12    4 nobj        objects carried beside the bytes: 0 or 1
 *       16    8 obj_size    the object's exact size in bytes (0 if none)
 *       24    4 obj_access  MOBJ_READ (1) or MOBJ_READ | MOBJ_WRITE (3) (0 if none)
 *       28    4 reserved    0
 *       32  len payload
 *
 * Fields are in the host's byte order: both ends run on the same machine.
 * A message is the whole datagram: its length must be exactly 32 + len.
 * The object itself travels out of band (SCM_RIGHTS, a Mach port
 * descriptor), and the transport must report how many handles came, so the
 * core can check that against nobj. A HELLO has len 0 and nobj 0.
 */
#ifndef MOBJ_MSG_H
#define MOBJ_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "mobj/chan.h"

#define MOBJ__MSG_MAGIC   0x6a626f6du /* "mobj" in little-endian memory */
#define MOBJ__MSG_VERSION 1u

enum mobj__msg_type {
	MOBJ__MSG_DATA = 1,
	MOBJ__MSG_HELLO = 2,
};

struct mobj__msg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;
	uint32_t nobj;
	uint64_t obj_size;
	uint32_t obj_access;
	uint32_t reserved;
};

_Static_assert(sizeof(struct mobj__msg_hdr) == 32, "wire header is 32 bytes");
_Static_assert(offsetof(struct mobj__msg_hdr, version) == 4, "wire layout");
_Static_assert(offsetof(struct mobj__msg_hdr, type) == 6, "wire layout");
_Static_assert(offsetof(struct mobj__msg_hdr, len) == 8, "wire layout");
_Static_assert(offsetof(struct mobj__msg_hdr, nobj) == 12, "wire layout");
_Static_assert(offsetof(struct mobj__msg_hdr, obj_size) == 16, "wire layout");
_Static_assert(offsetof(struct mobj__msg_hdr, obj_access) == 24, "wire layout");
_Static_assert(offsetof(struct mobj__msg_hdr, reserved) == 28, "wire layout");

#define MOBJ__MSG_HDR_SIZE ((size_t)sizeof(struct mobj__msg_hdr))
/* The largest valid message; a receive buffer of this size never truncates
 * one. */
#define MOBJ__MSG_WIRE_MAX (MOBJ__MSG_HDR_SIZE + MOBJ_MSG_MAX)

/* A decoded message: the payload points into the bytes that were decoded. */
struct mobj__msg {
	unsigned type;
	const unsigned char *payload;
	size_t len;
	unsigned nobj;
	uint64_t obj_size;
	unsigned obj_access;
};

/* Write the message into @buf (room for MOBJ__MSG_HDR_SIZE + @len) and
 * return its length, or -EINVAL when @len > MOBJ_MSG_MAX, the type is
 * unknown, or the object fields are inconsistent (nobj 0 with a size or
 * access, nobj 1 without, nobj > 1). */
int mobj__msg_encode(void *buf, const struct mobj__msg *m);

/* Validate and decode the @n bytes at @buf. Returns 0, or -EPROTO when they
 * are not exactly one well-formed message of this version. The checks are
 * structural: whether the object is acceptable (a memfd of that size,
 * frozen when read-only, ...) is the backend's mobj__os_import_dup. */
int mobj__msg_decode(const void *buf, size_t n, struct mobj__msg *out);

#endif /* MOBJ_MSG_H */
