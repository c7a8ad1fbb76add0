/*
 * The documented channel wire header (src/msg.h), rebuilt here from the
 * documentation so the hostile-peer tests (test_chan on Linux, test_darwin
 * on macOS) also check that the format is what it says.
 */
#ifndef MOBJ_TEST_WIRE_H
#define MOBJ_TEST_WIRE_H

#include <stdint.h>

struct wire {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;
	uint32_t nobj;
	uint64_t obj_size;
	uint32_t obj_access;
	uint32_t reserved;
};
_Static_assert(sizeof(struct wire) == 32, "wire header");

/* The head and the first object record (src/msg.h); a message of several
 * objects adds one struct wire_obj per further object after this. */
struct wire_obj {
	uint64_t size;
	uint32_t access;
	uint32_t reserved;
};

/* A DATA header: version 2, type 1, the given fields, reserved 0. */
static inline struct wire hdr(uint32_t len, uint32_t nobj, uint64_t size,
                              uint32_t access)
{
	struct wire w = {
		.magic = 0x6a626f6d, .version = 2, .type = 1, .len = len,
		.nobj = nobj, .obj_size = size, .obj_access = access,
	};
	return w;
}

#endif
