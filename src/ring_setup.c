/*
 * The ring's set-up and teardown: creating an end, attaching to a peer's
 * objects, closing (the data path and the design are in ring.c).
 *
 * Objects and who writes what. Three memory objects:
 *   data  capacity bytes. Created by the producer, which maps it mirrored
 *         read-write and only then freezes it (mobj_readonly); the consumer
 *         gets the frozen read-only handle and maps it mirrored read-only.
 *   pctl  one page, the producer's control page (struct mobj__ring_ctl):
 *         the tail. Created, mapped read-write and frozen by the producer;
 *         the consumer maps it read-only.
 *   cctl  one page, the consumer's control page: the head. Created,
 *         mapped read-write and frozen by the *consumer*, whose read-only
 *         handle goes back to the producer. The producer never holds a
 *         writable handle to it, so it can never write the head, even if
 *         hostile; and the consumer never holds a writable handle to data
 *         or pctl. Freezing is the kernel's (F_SEAL_FUTURE_WRITE on Linux):
 *         no new writable mapping, mprotect upgrade or /proc/self/mem write.
 * Set-up across processes (mobj_ring_send / mobj_ring_recv, ring_chan.c):
 * producer -> consumer: data (read-only) then pctl (read-only); consumer ->
 * producer: cctl (read-only); then both arm peer-death tracking
 * (mobj__os_waker_connect). Each message carries a small header (magic,
 * version, kind, capacity) and each control page repeats magic, version,
 * role and capacity; everything is checked against the object sizes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "ring_layout.h"
#include "ring_internal.h"

static void ctl_init(struct mobj__ring_ctl *c, uint32_t role, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->magic = MOBJ__RING_MAGIC;
	c->version = MOBJ__RING_VERSION;
	c->role = role;
	c->header_size = sizeof(*c);
	c->capacity = cap;
	c->flags = mobj__os_barrier_light() ? MOBJ__RING_LIGHT : 0;
}

/* Check a peer's control page header; everything is read exactly once.
 * The flags are a hint (a lie costs the liar wake-ups), returned in @flags. */
static int ctl_check(const struct mobj__ring_ctl *c, uint32_t role, size_t cap,
                     uint32_t *flags)
{
	const volatile struct mobj__ring_ctl *v = c;
	uint32_t f = v->flags;

	/* Only a producer's page may say 1:N, and then version 2. */
	if (v->magic != MOBJ__RING_MAGIC ||
	    v->version != mobj__ring_page_version(f) || v->role != role ||
	    v->header_size != sizeof(*c) || v->capacity != cap ||
	    ((f & MOBJ__RING_MULTI) != 0 && role != MOBJ__RING_PRODUCER) ||
	    ((f & MOBJ__RING_OVERWRITE) != 0 && (f & MOBJ__RING_MULTI) == 0))
		return -EPROTO;
	*flags = f;
	return 0;
}

/* Create a control page: mapped read-write at @rw, frozen, its read-only
 * handle in @ro (the read-write handle is closed). */
static int ctl_create(uint32_t role, size_t cap, struct mobj__ring_ctl **rw,
                      struct mobj **ro)
{
	struct mobj *o;
	void *p;
	int err;

	err = mobj_create(sizeof(struct mobj__ring_ctl), 0, &o);
	if (err < 0)
		return err;
	err = mobj_map(o, 0, mobj_size(o), MOBJ_PROT_READ | MOBJ_PROT_WRITE, &p);
	if (err < 0)
		goto out;
	ctl_init(p, role, cap);
	err = mobj_readonly(o, ro);
	if (err < 0) {
		mobj_unmap(p, mobj_size(o));
		goto out;
	}
	*rw = p;
out:
	mobj_close(o);
	return err;
}

/* Map a peer's frozen control page read-only and check it. */
int mobj__ring_ctl_attach(struct mobj *ro, uint32_t role, size_t cap,
                          const struct mobj__ring_ctl **out, uint32_t *flags)
{
	void *p;
	int err;

	if (mobj_size(ro) != mobj_page_size() ||
	    mobj_size(ro) < sizeof(struct mobj__ring_ctl))
		return -EPROTO;
	err = mobj_map(ro, 0, mobj_size(ro), MOBJ_PROT_READ, &p);
	if (err < 0)
		return err;
	err = ctl_check(p, role, cap, flags);
	if (err < 0) {
		mobj_unmap(p, mobj_size(ro));
		return err;
	}
	*out = p;
	return 0;
}

static void set_capacity(struct mobj_ring *r, size_t cap)
{
	r->f.cap = cap;
	/* A record's length field is 32 bits. */
	if (cap - MOBJ_RING_RECORD_HEADER > UINT32_MAX)
		r->record_max = UINT32_MAX & ~(size_t)7;
	else
		r->record_max = cap - MOBJ_RING_RECORD_HEADER;
}

int mobj_ring_create(size_t capacity, struct mobj_ring **producer)
{
	struct mobj_ring *r;
	struct mobj *data;
	void *p;
	int err;

	if (!producer || capacity == 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->xfer_pidfd = -1;
	r->producer = true;
	r->f.role = MOBJ_RING_FAST_PRODUCER;
	err = mobj_create(capacity, 0, &data);
	if (err < 0)
		goto fail;
	set_capacity(r, mobj_size(data));
	/* Writable mirror first, then freeze: the one rule of mobj_readonly. */
	err = mobj_map_mirror(data, MOBJ_PROT_READ | MOBJ_PROT_WRITE, &p);
	if (err == 0) {
		r->f.data = p;
		err = mobj_readonly(data, &r->data_ro);
	}
	mobj_close(data);
	if (err < 0)
		goto fail;
	err = ctl_create(MOBJ__RING_PRODUCER, r->f.cap, &r->own, &r->pctl_ro);
	if (err < 0)
		goto fail;
	/* Until it connects, the creator: a forked child's copy of an
	 * exported, unconnected end must not shut its event down either. */
	r->owner = getpid();
	*producer = r;
	return 0;
fail:
	if (r->f.data)
		mobj_unmap(r->f.data, 2 * r->f.cap);
	mobj_close(r->data_ro);
	free(r);
	return err;
}

/* A consumer of a 1:N ring starts at the tail it finds (validated by its
 * first load, as every later one); its head says so before the producer
 * maps its page. */
static void join_at_tail(struct mobj_ring *r)
{
	uint64_t t = atomic_load_explicit(&r->peer->index,
	                                  memory_order_acquire);

	r->multi = true;
	r->seqlock = (r->peer_flags & MOBJ__RING_OVERWRITE) != 0;
	r->f.pos = r->f.peer_seen = r->f.published = t;
	r->f.off = t % r->f.cap;
	atomic_store_explicit(&r->own->index, t, memory_order_release);
}

int mobj__ring_attach(struct mobj *data_ro, struct mobj *pctl_ro,
                      struct mobj_ring **consumer, struct mobj **cctl_ro)
{
	struct mobj_ring *r;
	void *p;
	int err;

	if (!data_ro || !pctl_ro || !consumer || !cctl_ro)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->xfer_pidfd = -1;
	r->f.role = MOBJ_RING_FAST_CONSUMER;
	set_capacity(r, mobj_size(data_ro));
	err = mobj__ring_ctl_attach(pctl_ro, MOBJ__RING_PRODUCER, r->f.cap,
	                            &r->peer, &r->peer_flags);
	if (err < 0)
		goto fail;
	err = mobj_map_mirror(data_ro, MOBJ_PROT_READ, &p);
	if (err < 0)
		goto fail;
	r->f.data = p;
	err = ctl_create(MOBJ__RING_CONSUMER, r->f.cap, &r->own, cctl_ro);
	if (err < 0)
		goto fail;
	if (r->peer_flags & MOBJ__RING_MULTI)
		join_at_tail(r);
	r->connected = true;
	mobj__ring_refresh(r);
	r->owner = getpid();
	*consumer = r;
	return 0;
fail:
	if (r->f.data)
		mobj_unmap(r->f.data, 2 * r->f.cap);
	if (r->peer)
		mobj_unmap((void *)r->peer, mobj_page_size());
	free(r);
	return err;
}

int mobj__ring_accept(struct mobj_ring *r, struct mobj *cctl_ro)
{
	const struct mobj__ring_ctl *peer;
	uint32_t flags;
	int err;

	err = mobj__ring_ctl_attach(cctl_ro, MOBJ__RING_CONSUMER, r->f.cap,
	                            &peer, &flags);
	if (err < 0)
		return err;
	if (atomic_load_explicit(&peer->index, memory_order_acquire) != 0) {
		mobj_unmap((void *)peer, mobj_page_size());
		return -EPROTO;
	}
	r->peer = peer;
	r->peer_flags = flags;
	r->connected = true;
	mobj__ring_refresh(r);
	r->owner = getpid();
	mobj_close(r->data_ro);
	mobj_close(r->pctl_ro);
	r->data_ro = NULL;
	r->pctl_ro = NULL;
	return 0;
}

int mobj__ring_export(struct mobj_ring *r, struct mobj **data_ro,
                      struct mobj **pctl_ro)
{
	if (!r || !r->producer || r->connected)
		return -EINVAL;
	*data_ro = r->data_ro;
	*pctl_ro = r->pctl_ro;
	return 0;
}

int mobj_ring_consumer(struct mobj_ring *producer, struct mobj_ring **consumer)
{
	struct mobj_ring *c;
	struct mobj *cctl_ro;
	int err;

	if (producer && consumer && producer->m)
		return mobj__ring_multi_consumer(producer, consumer);
	if (!producer || !consumer || !producer->producer || producer->connected)
		return -EINVAL;
	err = mobj__ring_attach(producer->data_ro, producer->pctl_ro, &c,
	                        &cctl_ro);
	if (err < 0)
		return err;
	err = mobj__ring_accept(producer, cctl_ro);
	mobj_close(cctl_ro);
	if (err == 0)
		err = mobj__os_waker_pair(&producer->waker, &c->waker);
	if (err == 0)
		producer->waker_set = c->waker_set = true;
	/* Without a peer event (Darwin, or out of descriptors) mobj_ring_fd()
	 * falls back to its helper thread. */
	if (err == 0 && mobj__os_pevent_pair(&producer->pev, &c->pev) == 0)
		producer->pev_set = c->pev_set = true;
	if (err < 0) {
		mobj__ring_free(c);
		return err;
	}
	*consumer = c;
	return 0;
}

void mobj__ring_refresh(struct mobj_ring *r)
{
	/* Armed, the slow path must disarm before anything else. */
	bool sound = r->connected && !r->broken && !r->peer_dead && !r->armed &&
	             !r->seqlock;

	if (r->m) {
		mobj__ring_multi_refresh(r);
		return;
	}

	r->f.ready = !sound ? 0 : r->producer ? MOBJ__RING_PRODUCER :
	                                        MOBJ__RING_CONSUMER;
	if (!r->connected)
		return;
	r->f.own_index = (uint64_t *)&r->own->index;
	r->f.peer_waiting = (const uint32_t *)&r->peer->waiting;
	r->f.peer_polling = (const uint32_t *)&r->peer->polling;
	r->f.peer_closed = (const uint32_t *)&r->peer->closed;
	/* Light only if both can: the peer then pays with the heavy barrier
	 * before it sleeps, and so do we. */
	r->f.fence = !((r->own->flags & r->peer_flags) & MOBJ__RING_LIGHT);
}

void mobj__ring_free(struct mobj_ring *r)
{
	mobj__ring_notify_stop(r);
	if (r->m)
		mobj__ring_multi_free(r);
	if (r->f.data)
		mobj_unmap(r->f.data, 2 * r->f.cap);
	if (r->own)
		mobj_unmap(r->own, mobj_page_size());
	if (r->peer)
		mobj_unmap((void *)r->peer, mobj_page_size());
	mobj_close(r->data_ro);
	mobj_close(r->pctl_ro);
	if (r->waker_set)
		mobj__os_waker_release(&r->waker);
	/* Closing our half also tells the peer's event loop we are gone. A
	 * forked child holds a copy of the owner's socket, whose open file
	 * description is shared: it only drops its descriptor. */
	if (r->pev_set || r->xfer_event) {
		if (r->owner == getpid())
			mobj__os_pevent_close(&r->pev);
		else
			mobj__os_pevent_drop(&r->pev);
	}
	if (r->xfer_event)
		close(r->xfer_fd);
	if (r->xfer_pidfd >= 0)
		close(r->xfer_pidfd);
	free(r);
}

void mobj_ring_close(struct mobj_ring *r)
{
	if (!r)
		return;
	mobj__ring_notify_stop(r);
	/* A forked child closing its copy of the end must leave the ring to
	 * the process that still uses it: only the owner says "closed". */
	if (r->connected && r->owner == getpid()) {
		/* Everything committed is readable after close, batched or not. */
		atomic_store_explicit(&r->own->index, r->f.pos,
		                      memory_order_release);
		atomic_store_explicit(&r->own->closed, 1, memory_order_release);
		atomic_thread_fence(memory_order_seq_cst);
		atomic_fetch_add_explicit(&r->own->wake_seq, 1,
		                          memory_order_release);
		mobj__os_waker_wake(&r->waker, (uint32_t *)&r->own->wake_seq);
	}
	mobj__ring_free(r);
}

struct mobj__ring_ctl *mobj__ring_own(struct mobj_ring *r)
{
	return r->own;
}

const struct mobj__ring_ctl *mobj__ring_peer(struct mobj_ring *r)
{
	return r->peer;
}

void *mobj__ring_data(struct mobj_ring *r)
{
	return r->f.data;
}

size_t mobj_ring_capacity(const struct mobj_ring *r)
{
	return r ? (size_t)r->f.cap : 0;
}

size_t mobj_ring_record_max(const struct mobj_ring *r)
{
	return r ? r->record_max : 0;
}

int mobj_ring_stats(const struct mobj_ring *r, struct mobj_ring_stats *out)
{
	if (!r || !out)
		return -EINVAL;
	*out = r->stats;
	return 0;
}
