/*
 * One end of a ring, process-local, and the set-up steps the in-process and
 * the channel paths share (see the design block in ring.c).
 */
#ifndef MOBJ_RING_INTERNAL_H
#define MOBJ_RING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"
#include "ring_layout.h"

struct mobj_ring {
	bool producer;
	bool connected;  /* the peer's control page is mapped */
	bool broken;     /* the peer broke the protocol: -EPROTO from now on */
	bool peer_dead;  /* the peer's process is gone */
	bool in_record;  /* producer: a record is reserved; consumer: peeked */
	bool waker_set;  /* waker holds something (pair or connect worked) */
	pid_t owner;     /* the process that connected this end: only it may
	                  * mark the end closed (a forked child's copy may not) */
	size_t cap;
	size_t record_max;
	unsigned char *data;                /* mirror, 2 * cap */
	struct mobj__ring_ctl *own;         /* read-write */
	const struct mobj__ring_ctl *peer;  /* read-only mapping */
	uint64_t pos;       /* our index: the tail, or the head */
	size_t off;         /* pos % cap: where our next byte is in data */
	uint64_t peer_seen; /* the peer's index, last validated value */
	size_t reserved;    /* producer: bytes of the current reservation */
	size_t record_len;  /* payload length of the record in hand */
	/* Producer until connected: the frozen handles to hand over. */
	struct mobj *data_ro;
	struct mobj *pctl_ro;
	struct mobj__os_waker waker;
	struct mobj_ring_stats stats;
	struct mobj__ring_notify *notify; /* mobj_ring_fd()'s helper, or NULL */
};

/* Publish in our control page that we are about to sleep until the peer's
 * index reaches @target, and return the peer's wake sequence to sleep on.
 * The caller re-checks the peer's index after this (the seq_cst fence in it
 * pairs with the one in the peer's publish: one of the two sides sees the
 * other), and decrements own->waiting when it stops waiting. */
uint32_t mobj__ring_announce_wait(struct mobj_ring *r, uint64_t target);

/* Producer, not connected: the read-only handles to send (still owned by
 * the ring). */
int mobj__ring_export(struct mobj_ring *r, struct mobj **data_ro,
                      struct mobj **pctl_ro);

/* Consumer side: map what the producer sent, create the consumer's control
 * page and return its frozen read-only handle (the caller's to send and
 * close). The waker is left unarmed (in-process). */
int mobj__ring_attach(struct mobj *data_ro, struct mobj *pctl_ro,
                      struct mobj_ring **consumer, struct mobj **cctl_ro);

/* Producer side: map the consumer's control page; the ring is connected. */
int mobj__ring_accept(struct mobj_ring *r, struct mobj *cctl_ro);

/* mobj_ring_fd() (ring_fd.c): a call with timeout 0 is about to return
 * -EAGAIN waiting for the peer's index to reach @target; the helper thread
 * has seen the peer's process die; stop and free the helper (no-op without
 * one). */
void mobj__ring_notify_arm(struct mobj_ring *r, uint64_t target);
bool mobj__ring_notify_dead(const struct mobj_ring *r);
void mobj__ring_notify_stop(struct mobj_ring *r);

/* Unmap and free without marking the end closed. */
void mobj__ring_free(struct mobj_ring *r);

#endif /* MOBJ_RING_INTERNAL_H */
