/*
 * The ring's shared layout: what lives in the control pages, and the
 * internal entry points the set-up code and the tests share.
 *
 * Each side owns one control page (its own memory object, one page): the
 * producer's holds the tail, the consumer's the head. The owner maps it
 * read-write and freezes it before the peer sees it, so the peer can only
 * map it read-only. A page is a plain struct of fixed-width types; the
 * fields each side writes at run time sit on their own 128-byte line (two
 * cache lines, for adjacent-line prefetchers), so the index the peer polls
 * never shares a line with anything else that moves.
 */
#ifndef MOBJ_RING_LAYOUT_H
#define MOBJ_RING_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mobj/ring.h"

#define MOBJ__RING_MAGIC 0x72626f6du /* "mobr" in memory on little endian */
#define MOBJ__RING_VERSION 1u
#define MOBJ__RING_PRODUCER 1u
#define MOBJ__RING_CONSUMER 2u
#define MOBJ__RING_LIGHT 1u /* flags */
/* Producer's page of a 1:N ring (ring_multi.c): consumers join at the
 * tail, check `oldest` after reading, and never trust a tail that runs
 * more than the capacity past it. OVERWRITE: the producer never waits. */
#define MOBJ__RING_MULTI 2u
#define MOBJ__RING_OVERWRITE 4u
/* A 1:N producer's page says version 2: a consumer built before 1:N rings
 * checks version 1 only, and would otherwise take the page for an SPSC
 * producer's (joining at head 0, never checking oldest: an overwrite-mode
 * ring would hand it overwritten bytes). Every other page says 1, so SPSC
 * peers of every version still meet. */
#define MOBJ__RING_VERSION_MULTI 2u

/* The version a page with @flags must say (mobj__ring_ctl's, below). */
static inline uint32_t mobj__ring_page_version(uint32_t flags)
{
	return (flags & MOBJ__RING_MULTI) ? MOBJ__RING_VERSION_MULTI :
	                                    MOBJ__RING_VERSION;
}
_Static_assert(MOBJ__RING_PRODUCER == MOBJ_RING_FAST_PRODUCER &&
               MOBJ__RING_CONSUMER == MOBJ_RING_FAST_CONSUMER,
               "a ring end's role is its fast path's ready value");

struct mobj__ring_ctl {
	/* Written once by the owner before the page is shared; read once by
	 * the peer at set-up and checked, never trusted again. */
	uint32_t magic;       /* MOBJ__RING_MAGIC */
	uint32_t version;     /* MOBJ__RING_VERSION */
	uint32_t role;        /* MOBJ__RING_PRODUCER or MOBJ__RING_CONSUMER */
	uint32_t header_size; /* sizeof(struct mobj__ring_ctl) */
	uint64_t capacity;    /* bytes in the data object */
	/* MOBJ__RING_LIGHT: the owner's process can publish with no fence
	 * and issue the heavy barrier (ring.c, design block). Zero in pages
	 * of older versions of the library, which fence every publish. */
	uint32_t flags;
	uint8_t pad0[100];
	/* Producer: bytes ever committed (tail). Consumer: bytes ever
	 * consumed (head). Free running, never wraps in practice (2^64 bytes).
	 * Store-release by the owner, load-acquire by the peer. */
	_Atomic uint64_t index;
	/* Producer of a 1:N ring: the oldest index whose bytes are intact (a
	 * record start when the producer writes records only). Stored before
	 * the producer overwrites anything older (the seqlock of ring_multi.c);
	 * never decreases. Zero and unused otherwise. */
	uint8_t pad1a[56];
	/* On a line of its own: an overwrite-mode consumer loads it after
	 * every read, and the producer stores index for every commit. */
	_Atomic uint64_t oldest;
	uint8_t pad1[56];
	/* Bumped by the owner each time it wakes the peer (the futex word the
	 * peer sleeps on); closed is set once by mobj_ring_close(). */
	_Atomic uint32_t wake_seq;
	_Atomic uint32_t closed;
	uint8_t pad2[120];
	/* Nonzero while the owner may sleep (a count of its sleeping threads):
	 * it waits for the peer's index to reach wait_target, and it saw the
	 * peer's wake_seq equal to wait_seq when it started. */
	_Atomic uint32_t waiting;
	_Atomic uint32_t wait_seq;
	_Atomic uint64_t wait_target;
	/* polling: nonzero while the owner spins waiting for the peer, so a
	 * peer that batches publishes at once (written only when batching
	 * says the peer batches). batching: the owner defers publishing its
	 * index (mobj_ring_set_batch()). Hints for latency, never trusted. */
	_Atomic uint32_t polling;
	_Atomic uint32_t batching;
	/* armed: nonzero while the owner's waiting count includes a
	 * registration of mobj_ring_fd() (nobody sleeps for it): a wake must
	 * also signal the owner's peer event. A hint, like the rest. */
	_Atomic uint32_t armed;
	uint8_t pad3[100];
};

_Static_assert(offsetof(struct mobj__ring_ctl, magic) == 0, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, version) == 4, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, role) == 8, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, header_size) == 12, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, capacity) == 16, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, flags) == 24, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, index) == 128, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, oldest) == 192, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, wake_seq) == 256, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, closed) == 260, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, waiting) == 384, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, wait_seq) == 388, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, wait_target) == 392, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, polling) == 400, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, batching) == 404, "ring layout");
_Static_assert(offsetof(struct mobj__ring_ctl, armed) == 408, "ring layout");
_Static_assert(sizeof(struct mobj__ring_ctl) == 512, "ring layout");
/* Shared between processes, so the atomics must be lock-free (address
 * free) and plain-sized. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "ring atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4,
               "ring atomics must be plain-sized");

/* The header of a record in the data area: the payload length as a
 * little-endian uint32, then 4 zero bytes. The ring writes and reads it as
 * bytes (a ring that mixed plain bytes in is not aligned); the struct
 * documents the layout. */
struct mobj__ring_record {
	uint32_t len; /* payload bytes, little endian */
	uint32_t zero;
};
_Static_assert(sizeof(struct mobj__ring_record) == MOBJ_RING_RECORD_HEADER,
               "record header");

/* For tests: this end's own control page (read-write), the peer's (read-only
 * mapping) and the data mirror. NULL before the ring is connected. */
struct mobj__ring_ctl *mobj__ring_own(struct mobj_ring *r);
const struct mobj__ring_ctl *mobj__ring_peer(struct mobj_ring *r);
void *mobj__ring_data(struct mobj_ring *r);

#endif /* MOBJ_RING_LAYOUT_H */
