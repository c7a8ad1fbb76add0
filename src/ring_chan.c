/*
 * Ring set-up over a channel. Three messages, the ring's parts, each one
 * object and a 24-byte part header:
 *
 *   producer -> consumer  RING_PART_DATA  the data object, frozen (read-only)
 *   producer -> consumer  RING_PART_PCTL  the producer's control page, frozen
 *   consumer -> producer  RING_PART_CCTL  the consumer's control page, frozen
 *   producer -> consumer  RING_PART_EVENT the consumer's half of the peer
 *                                         event, or no handle (a raw
 *                                         backend message, see send_event)
 *   consumer -> producer  (backend)       its answer to the event, where
 *                                         the backend has one (Darwin: a
 *                                         send right to its own port)
 *
 * then both sides call mobj__os_waker_connect() (peer-death tracking; a
 * backend may exchange more there, e.g. Mach semaphores). Everything that
 * arrives is checked: the header (magic, version, kind, capacity), that an
 * object came with it, that it is read-only, and its size; the control page
 * itself is checked again by mobj__ring_attach()/mobj__ring_accept(). A
 * wrong message is -EPROTO and everything received with it is released.
 */
#include <errno.h>
#include <string.h>

#include "mobj/chan.h"
#include "ring_internal.h"

void mobj__ring_part_init(struct mobj__ring_part *h, uint32_t kind, size_t cap)
{
	memset(h, 0, sizeof(*h));
	h->magic = MOBJ__RING_MAGIC;
	h->version = MOBJ__RING_VERSION;
	h->kind = kind;
	h->capacity = cap;
}

int mobj__ring_part_check(const struct mobj__ring_part *h, struct mobj *o,
                          uint32_t kind, size_t *cap)
{
	if (!o || h->magic != MOBJ__RING_MAGIC ||
	    h->version != MOBJ__RING_VERSION || h->kind != kind ||
	    h->zero != 0 || mobj_access(o) != MOBJ_READ)
		return -EPROTO;
	if (*cap == 0) {
		if (h->capacity == 0 || h->capacity != mobj_size(o) ||
		    h->capacity % mobj_page_size() != 0)
			return -EPROTO;
		*cap = (size_t)h->capacity;
	} else if (h->capacity != *cap || mobj_size(o) != mobj_page_size()) {
		return -EPROTO;
	}
	return 0;
}

int mobj__ring_send_part(struct mobj_chan *c, struct mobj *o, uint32_t kind,
                         size_t cap, int timeout_ms)
{
	struct mobj__ring_part h;

	mobj__ring_part_init(&h, kind, cap);
	return mobj_send_timeout(c, o, &h, sizeof(h), timeout_ms);
}

/* Receive one part of @kind with a read-only object. @cap: 0 to learn the
 * capacity from the header (data), else the capacity it must repeat. */
int mobj__ring_recv_part(struct mobj_chan *c, int timeout_ms, uint32_t kind,
                         size_t *cap, struct mobj **out)
{
	struct mobj__ring_part h;
	struct mobj *o = NULL;
	int n;

	n = mobj_recv(c, timeout_ms, &o, &h, sizeof(h));
	if (n == -EMSGSIZE)
		return -EPROTO;
	if (n < 0)
		return n;
	if (n != (int)sizeof(h) || mobj__ring_part_check(&h, o, kind, cap) < 0) {
		mobj_close(o);
		return -EPROTO;
	}
	*out = o;
	return 0;
}

/* Producer (SPSC or a 1:N slot): send the consumer its half of the peer event (mobj_ring_fd()
 * with no thread), or the same message with no handle when the backend
 * has none (the consumer then falls back to a helper thread), and take
 * the consumer's answer where the backend has one. The message is the
 * backend's raw kind, never a mobj message. */
int mobj__ring_send_event(struct mobj_chan *c, struct mobj__os_pevent *pev,
                          bool *set, bool need, size_t cap, int timeout_ms)
{
	uint64_t t0 = mobj__os_clock_ns();
	struct mobj__os_obj theirs;
	struct mobj__ring_part h;
	bool have;
	int err;

	err = mobj__os_pevent_split(pev, &theirs);
	if (err < 0 && need)
		return err;
	have = err == 0;
	mobj__ring_part_init(&h, RING_PART_EVENT, cap);
	err = mobj__os_chan_send(mobj__chan_os(c), &h, sizeof(h),
	                         have ? &theirs : NULL, have ? 1 : 0, timeout_ms);
	if (have) {
		mobj__os_release(&theirs);
		if (err == 0)
			err = mobj__os_pevent_finish(pev, mobj__chan_os(c),
			                             mobj__time_left(timeout_ms, t0));
		if (err == 0)
			*set = true;
		else
			mobj__os_pevent_close(pev);
	}
	return err;
}

/* Consumer: the producer's RING_PART_EVENT, checked like every part. */
static int recv_event(struct mobj_ring *r, struct mobj_chan *c, int timeout_ms)
{
	struct mobj__ring_part h;
	unsigned nfd = 0;
	int n;

	n = mobj__os_pevent_recv(mobj__chan_os(c), timeout_ms, &h, sizeof(h),
	                         &r->pev, &nfd);
	if (n < 0)
		return n;
	if (nfd)
		r->pev_set = true;
	if (n != (int)sizeof(h) || h.magic != MOBJ__RING_MAGIC ||
	    h.version != MOBJ__RING_VERSION || h.kind != RING_PART_EVENT ||
	    h.zero != 0 || h.capacity != r->f.cap)
		return -EPROTO;
	return 0;
}

/* The peer is gone or cannot be tracked: it counts as gone. */
static int connect_waker(struct mobj_ring *r, struct mobj_chan *c,
                         int timeout_ms)
{
	int err = mobj__os_waker_connect(&r->waker, mobj__chan_os(c), r->producer,
	                                 timeout_ms);

	if (err < 0) {
		r->peer_dead = true;
		mobj__ring_refresh(r);
	} else {
		r->waker_set = true;
	}
	return err == -EPIPE ? 0 : err;
}

int mobj_ring_send(struct mobj_chan *c, struct mobj_ring *r, int timeout_ms)
{
	struct mobj *data_ro, *pctl_ro, *cctl_ro;
	uint64_t t0 = mobj__os_clock_ns();
	size_t cap;
	int err;

	if (!c || !r || mobj__bad_timeout(timeout_ms))
		return -EINVAL;
	if (r->m)
		return mobj__ring_multi_send(c, r, timeout_ms);
	err = mobj__ring_export(r, &data_ro, &pctl_ro);
	if (err < 0)
		return err;
	cap = (size_t)r->f.cap;
	err = mobj__ring_send_part(c, data_ro, RING_PART_DATA, cap,
	                mobj__time_left(timeout_ms, t0));
	if (err == 0)
		err = mobj__ring_send_part(c, pctl_ro, RING_PART_PCTL, cap,
		                mobj__time_left(timeout_ms, t0));
	if (err == 0)
		err = mobj__ring_recv_part(c, mobj__time_left(timeout_ms, t0),
		                RING_PART_CCTL, &cap, &cctl_ro);
	if (err != 0)
		return err; /* negative: send_part's and recv_part's contract */
	err = mobj__ring_accept(r, cctl_ro);
	mobj_close(cctl_ro);
	if (err < 0)
		return err;
	/* Connected from here on: a failure leaves the peer counted gone. */
	err = mobj__ring_send_event(c, &r->pev, &r->pev_set, false,
	                            (size_t)r->f.cap,
	                            mobj__time_left(timeout_ms, t0));
	if (err < 0) {
		r->peer_dead = true;
		mobj__ring_refresh(r);
		return err == -EPIPE ? 0 : err;
	}
	return connect_waker(r, c, mobj__time_left(timeout_ms, t0));
}

int mobj_ring_recv(struct mobj_chan *c, int timeout_ms,
                   struct mobj_ring **consumer)
{
	struct mobj *data_ro = NULL, *pctl_ro = NULL, *cctl_ro;
	struct mobj_ring *r;
	uint64_t t0 = mobj__os_clock_ns();
	size_t cap = 0;
	int err;

	if (!c || !consumer || mobj__bad_timeout(timeout_ms))
		return -EINVAL;
	err = mobj__ring_recv_part(c, timeout_ms, RING_PART_DATA, &cap,
	                           &data_ro);
	if (err == 0)
		err = mobj__ring_recv_part(c, mobj__time_left(timeout_ms, t0),
		                RING_PART_PCTL, &cap, &pctl_ro);
	if (err == 0)
		err = mobj__ring_attach(data_ro, pctl_ro, &r, &cctl_ro);
	mobj_close(data_ro);
	mobj_close(pctl_ro);
	if (err < 0)
		return err;
	err = mobj__ring_send_part(c, cctl_ro, RING_PART_CCTL, cap,
	                mobj__time_left(timeout_ms, t0));
	mobj_close(cctl_ro);
	if (err == 0)
		err = recv_event(r, c, mobj__time_left(timeout_ms, t0));
	if (err == 0)
		err = connect_waker(r, c, mobj__time_left(timeout_ms, t0));
	if (err < 0) {
		mobj__ring_free(r);
		return err;
	}
	*consumer = r;
	return 0;
}
