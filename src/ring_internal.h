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

/* Re-reads of the peer's index before sleeping: a few microseconds, enough
 * for a busy peer on another core to catch up. */
#define MOBJ__RING_SPINS 256

static inline void mobj__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Bytes a record of @len payload bytes takes in the ring. */
static inline uint64_t mobj__ring_record_total(uint64_t len)
{
	return MOBJ_RING_RECORD_HEADER + ((len + 7) & ~(uint64_t)7);
}

struct mobj_ring {
	struct mobj_ring_fast f; /* first: the inline calls see only this */
	bool producer;
	bool connected;  /* the peer's control page is mapped */
	bool broken;     /* the peer broke the protocol: -EPROTO from now on */
	bool peer_dead;  /* the peer's process is gone */
	bool waker_set;  /* waker holds something (pair or connect worked) */
	uint32_t peer_flags; /* the peer's page's flags, read once (a hint) */
	bool pev_set;    /* pev holds our half of the peer event */
	bool fd_used;    /* mobj_ring_fd() handed out pev: -EAGAIN arms it */
	bool armed;      /* own->waiting holds our fd's registration */
	bool xfer_event; /* producer, exported: pev made, xfer_fd its peer half */
	int xfer_fd;
	int xfer_pidfd;  /* user IPC: the pidfd of ours we handed out, or -1 */
	struct mobj__os_pevent pev;
	pid_t owner;     /* the process that connected this end: only it may
	                  * mark the end closed (a forked child's copy may not) */
	size_t record_max;
	struct mobj__ring_ctl *own;         /* read-write */
	const struct mobj__ring_ctl *peer;  /* read-only mapping */
	size_t record_len;  /* payload length of the record in hand */
	/* Producer until connected: the frozen handles to hand over. */
	struct mobj *data_ro;
	struct mobj *pctl_ro;
	struct mobj__os_waker waker;
	struct mobj_ring_stats stats;
	struct mobj__ring_notify *notify; /* mobj_ring_fd()'s helper, or NULL */
	/* 1:N rings (ring_multi.c). Producer: its consumers, or NULL for an
	 * SPSC producer; rec_next: the reservation being made is a record.
	 * Consumer: multi (its producer's page says MOBJ__RING_MULTI),
	 * seqlock (it also says MOBJ__RING_OVERWRITE; in blocking mode a
	 * consumer is an SPSC consumer once it joined), and
	 * lapped: it was moved to the oldest intact data and has not said so
	 * yet (the next data call returns -EOVERFLOW). */
	struct mobj__ring_multi *m;
	bool rec_next;
	bool multi;
	bool seqlock; /* multi, overwrite mode: oldest is checked */
	bool lapped;
};

/* Recompute f.ready (and f.fence) after connected, broken or peer_dead
 * changed: the inline calls take their fast path only on a sound end. */
void mobj__ring_refresh(struct mobj_ring *r);

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

/* Disarm mobj_ring_fd()'s registration, if any (ring.c). */
void mobj__ring_disarm(struct mobj_ring *r);

/* Send the consumer its half of @pev on @c, as the RING_PART_EVENT part
 * (ring_chan.c); *@set becomes true when @pev now holds our half. Without
 * one (no descriptors left) the message goes with no handle, or, when
 * @need, nothing is sent and the error is returned. */
struct mobj_chan;
int mobj__ring_send_event(struct mobj_chan *c, struct mobj__os_pevent *pev,
                          bool *set, bool need, size_t cap, int timeout_ms);

/* The header of each part of a ring's set-up (ring_chan.c), on a channel
 * and in what mobj_ring_export() hands out (ring_xfer.c). */
enum {
	RING_PART_DATA = 1, RING_PART_PCTL = 2, RING_PART_CCTL = 3,
	RING_PART_EVENT = 4
};

struct mobj__ring_part {
	uint32_t magic;   /* MOBJ__RING_MAGIC */
	uint32_t version; /* MOBJ__RING_VERSION */
	uint32_t kind;    /* RING_PART_* */
	uint32_t zero;
	uint64_t capacity;
};
_Static_assert(sizeof(struct mobj__ring_part) == 24, "ring part layout");

void mobj__ring_part_init(struct mobj__ring_part *h, uint32_t kind, size_t cap);

/* Check a received part: header @h and object @o (present, read-only, the
 * right size). @cap: 0 to learn the capacity from the header (data), else
 * the capacity it must repeat (a control page). 0 or -EPROTO. */
int mobj__ring_part_check(const struct mobj__ring_part *h, struct mobj *o,
                          uint32_t kind, size_t *cap);

/* Map a peer's frozen control page read-only and check its header (role,
 * capacity); its flags in @flags. 0, -EPROTO or a mapping error. */
int mobj__ring_ctl_attach(struct mobj *ro, uint32_t role, size_t cap,
                          const struct mobj__ring_ctl **out, uint32_t *flags);

/* One part of a ring's set-up over a channel (ring_chan.c): send @o with
 * its header; receive one of @kind (@cap as in mobj__ring_part_check). */
int mobj__ring_send_part(struct mobj_chan *c, struct mobj *o, uint32_t kind,
                         size_t cap, int timeout_ms);
int mobj__ring_recv_part(struct mobj_chan *c, int timeout_ms, uint32_t kind,
                         size_t *cap, struct mobj **out);

/* 1:N rings (ring_multi.c): the producer's side of each joining call
 * (mobj_ring_consumer, mobj_ring_send, mobj_ring_export/accept_answer),
 * its slow reserve and wake, its fill level; freeing its consumers. */
int mobj__ring_multi_consumer(struct mobj_ring *r, struct mobj_ring **consumer);
int mobj__ring_multi_send(struct mobj_chan *c, struct mobj_ring *r,
                          int timeout_ms);
/* A 1:N producer's pending offer (mobj_ring_export()): what one consumer
 * was offered, held until its answer is accepted, it is withdrawn, or the
 * ring is closed. */
struct mobj__ring_offer {
	uint64_t token;              /* unguessable, never 0; 0: a free entry */
	struct mobj__os_waker waker; /* what xfer_put made (Darwin: a semaphore) */
	struct mobj__os_pevent pev;  /* our half of its peer event */
	bool waker_set;
	bool pev_set;
	int event_fd;                /* the consumer's half, or -1 */
};
/* A fresh pending offer: its event_fd and the system's fields in @x, its
 * token in *@token. -ENOSPC when max_consumers offers are pending. */
int mobj__ring_multi_offer(struct mobj_ring *r, struct mobj_ring_xfer *x,
                           uint64_t *token);
/* The pending offer of @token, or NULL. */
struct mobj__ring_offer *mobj__ring_multi_find(struct mobj_ring *r,
                                               uint64_t token);
/* The consumer that answered @o joins (its page @cctl_ro, its claimed
 * @pid, the @pidfd it passed or -1, not taken), moving @o's waker and
 * event into its slot; on failure @o stays pending. */
int mobj__ring_multi_accept(struct mobj_ring *r, struct mobj__ring_offer *o,
                            struct mobj *cctl_ro, int pid, int pidfd);
/* Release the pending offer of @token: 0, or -ENOENT. */
int mobj__ring_multi_withdraw(struct mobj_ring *r, uint64_t token);
/* A copy (close-on-exec) of a descriptor that came over the user's IPC:
 * -EPROTO when it is not open (ring_xfer.c). */
int mobj__ring_dup_in(int fd);
int mobj__ring_multi_reserve(struct mobj_ring *r, size_t n, int timeout_ms,
                             void **p);
void mobj__ring_multi_wake(struct mobj_ring *r);
/* A 1:N producer was exported: keep oldest from now on, for importers. */
void mobj__ring_multi_exported(struct mobj_ring *r);
/* A 1:N producer's mobj_ring_fd(): the set of its slots' peer events. */
int mobj__ring_multi_fd(struct mobj_ring *r);
ssize_t mobj__ring_multi_available(struct mobj_ring *r);
void mobj__ring_multi_refresh(struct mobj_ring *r);
void mobj__ring_multi_free(struct mobj_ring *r);

/* Consumer of a 1:N ring: the producer's index (validated, and a lap
 * moves the head to the oldest intact data, setting lapped) in *@out. */
int mobj__ring_multi_load(struct mobj_ring *r, uint64_t *out);

/* Unmap and free without marking the end closed. */
void mobj__ring_free(struct mobj_ring *r);

#endif /* MOBJ_RING_INTERNAL_H */
