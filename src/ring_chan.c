/*
 * Ring set-up over a channel. Three messages, each one object and a hello:
 *
 *   producer -> consumer  kind DATA  the data object, frozen (read-only)
 *   producer -> consumer  kind PCTL  the producer's control page, frozen
 *   consumer -> producer  kind CCTL  the consumer's control page, frozen
 *
 * then both sides call mobj__os_waker_connect() (peer-death tracking; a
 * backend may exchange more there, e.g. Mach semaphores). Everything that
 * arrives is checked: the hello (magic, version, kind, capacity), that an
 * object came with it, that it is read-only, and its size; the control page
 * itself is checked again by mobj__ring_attach()/mobj__ring_accept(). A
 * wrong message is -EPROTO and everything received with it is released.
 */
#include <errno.h>
#include <string.h>

#include "mobj/chan.h"
#include "ring_internal.h"

enum { HELLO_DATA = 1, HELLO_PCTL = 2, HELLO_CCTL = 3 };

struct hello {
	uint32_t magic;   /* MOBJ__RING_MAGIC */
	uint32_t version; /* MOBJ__RING_VERSION */
	uint32_t kind;    /* HELLO_* */
	uint32_t zero;
	uint64_t capacity;
};
_Static_assert(sizeof(struct hello) == 24, "hello layout");

static int send_hello(struct mobj_chan *c, struct mobj *o, uint32_t kind,
                      size_t cap, int timeout_ms)
{
	struct hello h;

	memset(&h, 0, sizeof(h));
	h.magic = MOBJ__RING_MAGIC;
	h.version = MOBJ__RING_VERSION;
	h.kind = kind;
	h.capacity = cap;
	return mobj_send_timeout(c, o, &h, sizeof(h), timeout_ms);
}

/* Milliseconds left of @timeout_ms started at @start (ns); -1 stays -1. */
static int time_left(int timeout_ms, uint64_t start)
{
	uint64_t spent;

	if (timeout_ms <= 0)
		return timeout_ms;
	spent = (mobj__os_waker_clock_ns() - start) / 1000000u;
	return spent >= (uint64_t)timeout_ms ? 0 : timeout_ms - (int)spent;
}

/* Receive one hello of @kind with a read-only object. @cap: 0 to learn the
 * capacity from the hello (data), else the capacity it must repeat. */
static int recv_hello(struct mobj_chan *c, int timeout_ms, uint32_t kind,
                      size_t *cap, struct mobj **out)
{
	struct hello h;
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
	int err = mobj__os_waker_connect(&r->waker, c, r->producer, timeout_ms);

	if (err < 0)
		r->peer_dead = true;
	else
		r->waker_set = true;
	return err == -EPIPE ? 0 : err;
}

int mobj_ring_send(struct mobj_chan *c, struct mobj_ring *r, int timeout_ms)
{
	struct mobj *data_ro, *pctl_ro, *cctl_ro;
	uint64_t start = mobj__os_waker_clock_ns();
	size_t cap;
	int err;

	if (!c || !r || timeout_ms < -1)
		return -EINVAL;
	err = mobj__ring_export(r, &data_ro, &pctl_ro);
	if (err < 0)
		return err;
	cap = r->cap;
	err = send_hello(c, data_ro, HELLO_DATA, cap,
	                 time_left(timeout_ms, start));
	if (err == 0)
		err = send_hello(c, pctl_ro, HELLO_PCTL, cap,
		                 time_left(timeout_ms, start));
	if (err == 0)
		err = recv_hello(c, time_left(timeout_ms, start), HELLO_CCTL,
		                 &cap, &cctl_ro);
	if (err < 0)
		return err;
	err = mobj__ring_accept(r, cctl_ro);
	mobj_close(cctl_ro);
	if (err < 0)
		return err;
	return connect_waker(r, c, time_left(timeout_ms, start));
}

int mobj_ring_recv(struct mobj_chan *c, int timeout_ms,
                   struct mobj_ring **consumer)
{
	struct mobj *data_ro = NULL, *pctl_ro = NULL, *cctl_ro;
	struct mobj_ring *r;
	uint64_t start = mobj__os_waker_clock_ns();
	size_t cap = 0;
	int err;

	if (!c || !consumer || timeout_ms < -1)
		return -EINVAL;
	err = recv_hello(c, timeout_ms, HELLO_DATA, &cap, &data_ro);
	if (err == 0)
		err = recv_hello(c, time_left(timeout_ms, start), HELLO_PCTL,
		                 &cap, &pctl_ro);
	if (err == 0)
		err = mobj__ring_attach(data_ro, pctl_ro, &r, &cctl_ro);
	mobj_close(data_ro);
	mobj_close(pctl_ro);
	if (err < 0)
		return err;
	err = send_hello(c, cctl_ro, HELLO_CCTL, cap,
	                 time_left(timeout_ms, start));
	mobj_close(cctl_ro);
	if (err == 0)
		err = connect_waker(r, c, time_left(timeout_ms, start));
	if (err < 0) {
		mobj__ring_free(r);
		return err;
	}
	*consumer = r;
	return 0;
}
