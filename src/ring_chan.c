/*
 * Ring set-up over a channel. Three messages, the ring's parts, each one
 * object and a 24-byte part header:
 *
 *   producer -> consumer  RING_PART_DATA  the data object, frozen (read-only)
 *   producer -> consumer  RING_PART_PCTL  the producer's control page, frozen
 *   consumer -> producer  RING_PART_CCTL  the consumer's control page, frozen
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

enum { RING_PART_DATA = 1, RING_PART_PCTL = 2, RING_PART_CCTL = 3 };

struct ring_part {
	uint32_t magic;   /* MOBJ__RING_MAGIC */
	uint32_t version; /* MOBJ__RING_VERSION */
	uint32_t kind;    /* RING_PART_* */
	uint32_t zero;
	uint64_t capacity;
};
_Static_assert(sizeof(struct ring_part) == 24, "ring part layout");

static int send_part(struct mobj_chan *c, struct mobj *o, uint32_t kind,
                     size_t cap, int timeout_ms)
{
	struct ring_part h;

	memset(&h, 0, sizeof(h));
	h.magic = MOBJ__RING_MAGIC;
	h.version = MOBJ__RING_VERSION;
	h.kind = kind;
	h.capacity = cap;
	return mobj_send_timeout(c, o, &h, sizeof(h), timeout_ms);
}

/* Receive one part of @kind with a read-only object. @cap: 0 to learn the
 * capacity from the header (data), else the capacity it must repeat. */
static int recv_part(struct mobj_chan *c, int timeout_ms, uint32_t kind,
                     size_t *cap, struct mobj **out)
{
	struct ring_part h;
	struct mobj *o = NULL;
	int n;

	n = mobj_recv(c, timeout_ms, &o, &h, sizeof(h));
	if (n == -EMSGSIZE)
		return -EPROTO;
	if (n < 0)
		return n;
	if (n != (int)sizeof(h) || !o || h.magic != MOBJ__RING_MAGIC ||
	    h.version != MOBJ__RING_VERSION || h.kind != kind || h.zero != 0 ||
	    mobj_access(o) != MOBJ_READ)
		goto bad;
	if (*cap == 0) {
		if (h.capacity == 0 || h.capacity != mobj_size(o) ||
		    h.capacity % mobj_page_size() != 0)
			goto bad;
		*cap = (size_t)h.capacity;
	} else if (h.capacity != *cap || mobj_size(o) != mobj_page_size()) {
		goto bad;
	}
	*out = o;
	return 0;
bad:
	mobj_close(o);
	return -EPROTO;
}

/* The peer is gone or cannot be tracked: it counts as gone. */
static int connect_waker(struct mobj_ring *r, struct mobj_chan *c,
                         int timeout_ms)
{
	int err = mobj__os_waker_connect(&r->waker, mobj__chan_os(c), r->producer,
	                                 timeout_ms);

	if (err < 0)
		r->peer_dead = true;
	else
		r->waker_set = true;
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
	err = mobj__ring_export(r, &data_ro, &pctl_ro);
	if (err < 0)
		return err;
	cap = r->cap;
	err = send_part(c, data_ro, RING_PART_DATA, cap,
	                mobj__time_left(timeout_ms, t0));
	if (err == 0)
		err = send_part(c, pctl_ro, RING_PART_PCTL, cap,
		                mobj__time_left(timeout_ms, t0));
	if (err == 0)
		err = recv_part(c, mobj__time_left(timeout_ms, t0),
		                RING_PART_CCTL, &cap, &cctl_ro);
	if (err != 0)
		return err; /* negative: send_part's and recv_part's contract */
	err = mobj__ring_accept(r, cctl_ro);
	mobj_close(cctl_ro);
	if (err < 0)
		return err;
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
	err = recv_part(c, timeout_ms, RING_PART_DATA, &cap, &data_ro);
	if (err == 0)
		err = recv_part(c, mobj__time_left(timeout_ms, t0),
		                RING_PART_PCTL, &cap, &pctl_ro);
	if (err == 0)
		err = mobj__ring_attach(data_ro, pctl_ro, &r, &cctl_ro);
	mobj_close(data_ro);
	mobj_close(pctl_ro);
	if (err < 0)
		return err;
	err = send_part(c, cctl_ro, RING_PART_CCTL, cap,
	                mobj__time_left(timeout_ms, t0));
	mobj_close(cctl_ro);
	if (err == 0)
		err = connect_waker(r, c, mobj__time_left(timeout_ms, t0));
	if (err < 0) {
		mobj__ring_free(r);
		return err;
	}
	*consumer = r;
	return 0;
}
