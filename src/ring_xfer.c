/*
 * Ring set-up over IPC the user owns (PipeWire's protocol, Wayland, D-Bus):
 * the same three parts as over a channel (ring_chan.c), handed to the user
 * to carry instead of sent.
 *
 *   producer  mobj_ring_export()         offer: data and pctl (read-only),
 *                                        the consumer's half of the peer
 *                                        event, a pidfd of the producer,
 *                                        meta (two part headers, pid, flags)
 *   consumer  mobj_ring_import()         checks the offer exactly as
 *                                        mobj_ring_recv() checks its parts,
 *                                        attaches, answers: cctl (read-only),
 *                                        a pidfd of the consumer, meta (part
 *                                        header, pid, flags)
 *   producer  mobj_ring_accept_answer()  checks the answer as
 *                                        mobj_ring_send() does; connected
 *
 * The pidfds and pids are mobj__os_waker_connect()'s exchange, carried by
 * the user: each side passes a pidfd of itself, which names it in any PID
 * namespace, and the other checks it as over a channel (a pidfd of a whole
 * process, else -EPROTO) and watches it. Only where pidfds are missing or
 * refused is the claimed pid watched (unverified, and meaningful only in a
 * shared PID namespace: a lie only makes the liar look alive or dead).
 * What else a system needs travels in its own fields of the struct, which
 * its backend fills and checks (mobj__os_xfer_put/take; Darwin: the wake
 * semaphores and the peer event's ports, both ways, which also stand in
 * for the pidfds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "ring_internal.h"

/* The meta bytes of an offer and of an answer. */
struct ring_meta {
	struct mobj__ring_part part[2]; /* offer: DATA, PCTL; answer: CCTL, 0 */
	uint32_t pid;                   /* the sender's, in its namespace */
	uint32_t flags;                 /* META_EVENT, META_PIDFD */
};
#define META_EVENT 1u /* offer only: event_fd comes too */
#define META_PIDFD 2u /* pidfd comes too: a pidfd of the sender */
_Static_assert(sizeof(struct ring_meta) == 56, "ring meta layout");
_Static_assert(sizeof(struct ring_meta) <= MOBJ_RING_META_MAX, "ring meta");

static void xfer_clear(struct mobj_ring_xfer *x)
{
	memset(x, 0, sizeof(*x));
	x->event_fd = -1;
	x->pidfd = -1;
}

/* Our pidfd for the peer: made once per end, kept until it is closed. */
static void self_fd(struct mobj_ring *r, struct ring_meta *m)
{
	if (r->xfer_pidfd < 0)
		(void)mobj__os_waker_self(&r->xfer_pidfd);
	m->pid = (uint32_t)getpid();
	if (r->xfer_pidfd >= 0)
		m->flags |= META_PIDFD;
}

/* The pid in @m, 0 if it cannot be one. */
static int meta_pid(const struct ring_meta *m)
{
	return m->pid > 0 && m->pid <= INT32_MAX ? (int)m->pid : 0;
}

/* Watch the peer's process, by the pidfd it passed (@in's, a copy is
 * taken) or else its claimed pid; one already gone counts as gone. */
static int watch(struct mobj_ring *r, const struct ring_meta *m,
                 const struct mobj_ring_xfer *in)
{
	int fd = -1, err;

	if (m->flags & META_PIDFD) {
		fd = fcntl(in->pidfd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return errno == EBADF ? -EPROTO : -errno;
	}
	err = mobj__os_waker_adopt(&r->waker, meta_pid(m), fd);
	if (err == 0)
		r->waker_set = true;
	if (err == -EPIPE) {
		r->peer_dead = true;
		mobj__ring_refresh(r);
		err = 0;
	}
	return err;
}

/* The system's own fields of @x, from this end (os.h). */
static int put_native(struct mobj_ring *r, struct mobj_ring_xfer *x)
{
	int held = mobj__os_xfer_put(&r->waker, &r->pev, x);

	if (held < 0)
		return held;
	if (held & MOBJ__OS_XFER_WAKER)
		r->waker_set = true;
	if (held & MOBJ__OS_XFER_EVENT)
		r->pev_set = true;
	return 0;
}

/* The peer's, from @x. Gone (-EPIPE) is for watch() to tell. */
static int take_native(struct mobj_ring *r, const struct mobj_ring_xfer *x)
{
	int err = mobj__os_xfer_take(&r->waker, &r->pev, x);

	return err == -EPIPE ? 0 : err;
}

/* 1:N producer: one more consumer, watched in its own slot by the pidfd
 * it passed (a copy), or its claimed pid. Our pidfd and the offer stay
 * for the next consumer. */
static int multi_answer(struct mobj_ring *r, const struct ring_meta *m,
                        const struct mobj_ring_xfer *answer)
{
	int fd = -1;

	if (m->flags & META_PIDFD) {
		fd = fcntl(answer->pidfd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return errno == EBADF ? -EPROTO : -errno;
	}
	return mobj__ring_multi_accept(r, answer->objs[0], meta_pid(m), fd);
}

int mobj_ring_export(struct mobj_ring *r, struct mobj_ring_xfer *out)
{
	struct mobj_ring_xfer x; /* out is written only on success */
	struct ring_meta m;
	int fd, err;

	if (!r || !out || !r->producer || (r->connected && !r->m))
		return -EINVAL;
	/* A peer event if the system has one and descriptors are left; the
	 * consumer's mobj_ring_fd() falls back to a thread otherwise. */
	if (!r->m && !r->xfer_event &&
	    mobj__os_pevent_split_fd(&r->pev, &fd) == 0) {
		r->xfer_event = true;
		r->xfer_fd = fd;
	}
#ifdef __APPLE__
	/* Darwin's waker and event are a pair of ports per end, which a 1:N
	 * producer would need per consumer (one offer serves every importer,
	 * and a departing slot's semaphore_destroy, XNU sync_sema.c, would end
	 * a shared semaphore for all): its consumers join with
	 * mobj_ring_send() or mobj_ring_consumer(). */
	if (r->m)
		return -ENOTSUP;
#endif
	if (r->m)
		mobj__ring_multi_exported(r);
	xfer_clear(&x);
	/* Linux has nothing of its own to hand out (a 1:N producer none). */
	err = r->m ? 0 : put_native(r, &x);
	if (err < 0)
		return err;
	x.objs[0] = r->data_ro;
	x.objs[1] = r->pctl_ro;
	x.sizes[0] = (size_t)r->f.cap;
	x.sizes[1] = mobj_page_size();
	x.nobjs = 2;
	x.event_fd = r->xfer_event ? r->xfer_fd : -1;
	memset(&m, 0, sizeof(m));
	mobj__ring_part_init(&m.part[0], RING_PART_DATA, (size_t)r->f.cap);
	mobj__ring_part_init(&m.part[1], RING_PART_PCTL, (size_t)r->f.cap);
	self_fd(r, &m);
	x.pidfd = r->xfer_pidfd;
	if (r->xfer_event)
		m.flags |= META_EVENT;
	memcpy(x.meta, &m, sizeof(m));
	x.meta_len = sizeof(m);
	*out = x;
	return 0;
}

/* The offer's parts and event; on success the consumer end in @r. */
static int import_offer(const struct mobj_ring_xfer *in, const struct ring_meta *m,
                        struct mobj_ring **r, struct mobj **cctl_ro)
{
	size_t cap = 0;
	int err, fd;

	if (in->nobjs != 2 || meta_pid(m) == 0 ||
	    (m->flags & ~(META_EVENT | META_PIDFD)) != 0 ||
	    ((m->flags & META_EVENT) != 0) != (in->event_fd >= 0) ||
	    ((m->flags & META_PIDFD) != 0) != (in->pidfd >= 0) ||
	    mobj__ring_part_check(&m->part[0], in->objs[0], RING_PART_DATA,
	                          &cap) < 0 ||
	    mobj__ring_part_check(&m->part[1], in->objs[1], RING_PART_PCTL,
	                          &cap) < 0)
		return -EPROTO;
	err = mobj__ring_attach(in->objs[0], in->objs[1], r, cctl_ro);
	if (err == 0 && (*r)->multi) {
		/* A 1:N producer writes on until it accepts our answer, not
		 * waiting for us: even in blocking mode, check what we read. */
		(*r)->seqlock = true;
		mobj__ring_refresh(*r);
	}
	if (err < 0 || in->event_fd < 0)
		return err;
	/* The caller keeps its descriptor: adopt a copy. */
	fd = fcntl(in->event_fd, F_DUPFD_CLOEXEC, 0);
	err = fd < 0 ? (errno == EBADF ? -EPROTO : -errno) :
	               mobj__os_pevent_adopt_fd(&(*r)->pev, fd);
	if (err == 0) {
		(*r)->pev_set = true;
		return 0;
	}
	mobj_close(*cctl_ro);
	mobj__ring_free(*r);
	return err;
}

int mobj_ring_import(const struct mobj_ring_xfer *in,
                     struct mobj_ring **consumer, struct mobj_ring_xfer *answer)
{
	struct mobj_ring_xfer a; /* answer is written only on success */
	struct ring_meta m;
	struct mobj_ring *r;
	struct mobj *cctl_ro;
	int err;

	if (!in || !consumer || !answer)
		return -EINVAL;
	if (in->meta_len != sizeof(m))
		return -EPROTO;
	memcpy(&m, in->meta, sizeof(m));
	err = import_offer(in, &m, &r, &cctl_ro);
	if (err < 0)
		return err;
	xfer_clear(&a);
	err = put_native(r, &a);
	if (err == 0)
		err = take_native(r, in);
	if (err == 0)
		err = watch(r, &m, in);
	if (err < 0) {
		mobj_close(cctl_ro);
		mobj__ring_free(r);
		return err;
	}
	/* The end keeps the answer's object until it is closed. */
	r->pctl_ro = cctl_ro;
	a.objs[0] = cctl_ro;
	a.sizes[0] = mobj_page_size();
	a.nobjs = 1;
	memset(&m, 0, sizeof(m));
	mobj__ring_part_init(&m.part[0], RING_PART_CCTL, (size_t)r->f.cap);
	self_fd(r, &m);
	a.pidfd = r->xfer_pidfd;
	memcpy(a.meta, &m, sizeof(m));
	a.meta_len = sizeof(m);
	*answer = a;
	*consumer = r;
	return 0;
}

int mobj_ring_accept_answer(struct mobj_ring *r,
                            const struct mobj_ring_xfer *answer)
{
	static const struct mobj__ring_part zero;
	struct ring_meta m;
	size_t cap;
	int err;

	if (!r || !answer || !r->producer || (r->connected && !r->m))
		return -EINVAL;
	if (answer->meta_len != sizeof(m))
		return -EPROTO;
	memcpy(&m, answer->meta, sizeof(m));
	cap = (size_t)r->f.cap;
	if (answer->nobjs != 1 || answer->event_fd >= 0 ||
	    (m.flags & ~META_PIDFD) != 0 ||
	    ((m.flags & META_PIDFD) != 0) != (answer->pidfd >= 0) ||
	    meta_pid(&m) == 0 || memcmp(&m.part[1], &zero, sizeof(zero)) != 0 ||
	    mobj__ring_part_check(&m.part[0], answer->objs[0], RING_PART_CCTL,
	                          &cap) < 0)
		return -EPROTO;
	if (r->m)
		return multi_answer(r, &m, answer);
	/* The system's own fields first (Darwin: the consumer's semaphore and
	 * port); refused, nothing new is held and the ring stays as it was. */
	err = take_native(r, answer);
	if (err < 0)
		return err;
	/* Watch first: a consumer that passed something that is not a pidfd
	 * of itself leaves the ring unconnected. */
	err = watch(r, &m, answer);
	if (err == 0)
		err = mobj__ring_accept(r, answer->objs[0]);
	if (err < 0) {
		if (r->waker_set)
			mobj__os_waker_release(&r->waker);
		r->waker_set = r->peer_dead = false;
		return err;
	}
	/* The consumer holds our pidfd now (or never will). */
	if (r->xfer_pidfd >= 0) {
		close(r->xfer_pidfd);
		r->xfer_pidfd = -1;
	}
	if (r->xfer_event) {
		/* The consumer holds its half now (or never will). */
		close(r->xfer_fd);
		r->xfer_event = false;
		r->pev_set = true;
	}
	return 0;
}
