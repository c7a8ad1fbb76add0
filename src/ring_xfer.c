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
 *
 * 1:N producers (ring_multi.c): one offer per consumer. Each export makes
 * a fresh pending offer with its own peer event (Linux: a socketpair, the
 * consumer's half in event_fd) and its own system fields (Darwin: a wake
 * semaphore and a port, since a departing slot's semaphore_destroy ends
 * the semaphore for every holder, XNU sync_sema.c), the shared objects
 * and pidfd, and an unguessable 64-bit token in the meta, which the
 * answer repeats. accept_answer finds the pending offer by its token
 * (none: -EPROTO, nothing changes; so a replayed or forged answer, or one
 * to a withdrawn offer, joins nobody), and the offer's waker and event
 * become the new slot's, in the producer's mobj_ring_fd() set. Pending
 * offers hold descriptors (Darwin: ports): at most max_consumers of them
 * (-ENOSPC), each until answered, mobj_ring_withdraw() or close. SPSC
 * offers carry no token (the meta's first 56 bytes only).
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
/* A 1:N ring's offer and answer: the same, then the offer's token. */
struct ring_meta_multi {
	struct ring_meta m;
	uint64_t token; /* never 0 */
};
_Static_assert(sizeof(struct ring_meta_multi) == 64, "ring meta layout");
_Static_assert(sizeof(struct ring_meta_multi) <= MOBJ_RING_META_MAX,
               "ring meta");

/* The meta bytes of @x in @m, the token in *@token (0: an SPSC ring's,
 * which has none). 0 or -EPROTO. */
static int meta_get(const struct mobj_ring_xfer *x, struct ring_meta *m,
                    uint64_t *token)
{
	struct ring_meta_multi mm;

	if (x->meta_len == sizeof(*m)) {
		memcpy(m, x->meta, sizeof(*m));
		*token = 0;
		return 0;
	}
	if (x->meta_len != sizeof(mm))
		return -EPROTO;
	memcpy(&mm, x->meta, sizeof(mm));
	*m = mm.m;
	*token = mm.token;
	return mm.token != 0 ? 0 : -EPROTO;
}

static void meta_put(struct mobj_ring_xfer *x, const struct ring_meta *m,
                     uint64_t token)
{
	struct ring_meta_multi mm = { *m, token };

	x->meta_len = token != 0 ? sizeof(mm) : sizeof(*m);
	memcpy(x->meta, &mm, x->meta_len);
}

/* Darwin's ports become MACH_PORT_NULL (0) too. */
static void xfer_clear(struct mobj_ring_xfer *x)
{
	memset(x, 0, sizeof(*x));
	x->event_fd = -1;
	x->pidfd = -1;
}

int mobj_ring_xfer_init(struct mobj_ring_xfer *x)
{
	if (!x)
		return -EINVAL;
	xfer_clear(x);
	return 0;
}

int mobj__ring_dup_in(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (copy < 0)
		return errno == EBADF ? -EPROTO : -errno;
	return copy;
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
		fd = mobj__ring_dup_in(in->pidfd);
		if (fd < 0)
			return fd;
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

/* 1:N producer: the consumer that answered the pending offer of @token
 * joins, in a slot of its own, with that offer's waker and event. An
 * unknown token is -EPROTO before anything is taken. */
static int multi_answer(struct mobj_ring *r, const struct ring_meta *m,
                        uint64_t token, const struct mobj_ring_xfer *answer)
{
	struct mobj__ring_offer *o = mobj__ring_multi_find(r, token);
	int err;

	if (!o)
		return -EPROTO;
	/* The system's own fields (Darwin: the consumer's semaphore and port,
	 * replacing what an earlier refused answer left); dead: the slot's
	 * waker says so. */
	err = mobj__os_xfer_take(&o->waker, &o->pev, answer);
	if (err < 0 && err != -EPIPE)
		return err;
	return mobj__ring_multi_accept(r, o, answer->objs[0], meta_pid(m),
	                               (m->flags & META_PIDFD) ? answer->pidfd
	                                                       : -1);
}

/* Producer: the parts every offer has (objects, meta, our pidfd). */
static void offer_fill(struct mobj_ring *r, struct mobj_ring_xfer *x,
                       uint64_t token)
{
	struct ring_meta m;

	x->objs[0] = r->data_ro;
	x->objs[1] = r->pctl_ro;
	x->sizes[0] = (size_t)r->f.cap;
	x->sizes[1] = mobj_page_size();
	x->nobjs = 2;
	memset(&m, 0, sizeof(m));
	mobj__ring_part_init(&m.part[0], RING_PART_DATA, (size_t)r->f.cap);
	mobj__ring_part_init(&m.part[1], RING_PART_PCTL, (size_t)r->f.cap);
	self_fd(r, &m);
	x->pidfd = r->xfer_pidfd;
	if (x->event_fd >= 0)
		m.flags |= META_EVENT;
	meta_put(x, &m, token);
}

/* 1:N producer: a fresh pending offer. */
static int multi_export(struct mobj_ring *r, struct mobj_ring_xfer *out)
{
	struct mobj_ring_xfer x;
	uint64_t token;
	int err;

	xfer_clear(&x);
	err = mobj__ring_multi_offer(r, &x, &token);
	if (err < 0)
		return err;
	mobj__ring_multi_exported(r);
	offer_fill(r, &x, token);
	*out = x;
	return 0;
}

int mobj_ring_export(struct mobj_ring *r, struct mobj_ring_xfer *out)
{
	struct mobj_ring_xfer x; /* out is written only on success */
	int fd, err;

	if (!r || !out || !r->producer || (r->connected && !r->m))
		return -EINVAL;
	if (r->m)
		return multi_export(r, out);
	/* A peer event if the system has one and descriptors are left; the
	 * consumer's mobj_ring_fd() falls back to a thread otherwise. */
	if (!r->xfer_event && mobj__os_pevent_split_fd(&r->pev, &fd) == 0) {
		r->xfer_event = true;
		r->xfer_fd = fd;
	}
	xfer_clear(&x);
	err = put_native(r, &x); /* Linux: nothing of its own */
	if (err < 0)
		return err;
	x.event_fd = r->xfer_event ? r->xfer_fd : -1;
	offer_fill(r, &x, 0);
	*out = x;
	return 0;
}

int mobj_ring_withdraw(struct mobj_ring *r, const struct mobj_ring_xfer *offer)
{
	struct ring_meta m;
	uint64_t token;

	if (!r || !offer || !r->producer || !r->m ||
	    meta_get(offer, &m, &token) < 0 || token == 0)
		return -EINVAL;
	return mobj__ring_multi_withdraw(r, token);
}

/* The offer's parts and event; on success the consumer end in @r. A
 * token comes with a 1:N ring's offers only. */
static int import_offer(const struct mobj_ring_xfer *in,
                        const struct ring_meta *m, uint64_t token,
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
	if (err < 0)
		return err;
	if ((*r)->multi != (token != 0))
		err = -EPROTO;
	if (err == 0 && in->event_fd >= 0) {
		/* The caller keeps its descriptor: adopt a copy. */
		fd = mobj__ring_dup_in(in->event_fd);
		err = fd < 0 ? fd : mobj__os_pevent_adopt_fd(&(*r)->pev, fd);
		(*r)->pev_set = err == 0;
	}
	if (err == 0 && (*r)->multi) {
		/* A 1:N producer writes on until it accepts our answer, not
		 * waiting for us: even in blocking mode, check what we read. */
		(*r)->seqlock = true;
		mobj__ring_refresh(*r);
	}
	if (err == 0)
		return 0;
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
	uint64_t token;
	int err;

	if (!in || !consumer || !answer)
		return -EINVAL;
	if (meta_get(in, &m, &token) < 0)
		return -EPROTO;
	err = import_offer(in, &m, token, &r, &cctl_ro);
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
	meta_put(&a, &m, token); /* the offer's token, repeated */
	*answer = a;
	*consumer = r;
	return 0;
}

/* An answer refused after take_native(): release what it brought (Linux:
 * the pidfd watch() adopted; Darwin: the consumer's semaphore and port),
 * not what the offer carries (@put: Darwin's semaphore, which the right
 * consumer may hold already: releasing it destroys it, and that consumer
 * would see us dead and our next accept fail). */
static void refuse(struct mobj_ring *r, bool put)
{
	mobj__os_xfer_drop(&r->waker, &r->pev);
	if (r->waker_set && !put)
		mobj__os_waker_release(&r->waker);
	r->waker_set = put;
	r->peer_dead = false;
}

int mobj_ring_accept_answer(struct mobj_ring *r,
                            const struct mobj_ring_xfer *answer)
{
	static const struct mobj__ring_part zero;
	struct ring_meta m;
	uint64_t token;
	size_t cap;
	bool put;
	int err;

	if (!r || !answer || !r->producer || (r->connected && !r->m))
		return -EINVAL;
	cap = (size_t)r->f.cap;
	/* A 1:N producer's answers carry a token, an SPSC one's none. */
	if (meta_get(answer, &m, &token) < 0 || (token != 0) != (r->m != NULL) ||
	    answer->nobjs != 1 || answer->event_fd >= 0 ||
	    (m.flags & ~META_PIDFD) != 0 ||
	    ((m.flags & META_PIDFD) != 0) != (answer->pidfd >= 0) ||
	    meta_pid(&m) == 0 || memcmp(&m.part[1], &zero, sizeof(zero)) != 0 ||
	    mobj__ring_part_check(&m.part[0], answer->objs[0], RING_PART_CCTL,
	                          &cap) < 0)
		return -EPROTO;
	if (r->m)
		return multi_answer(r, &m, token, answer);
	/* The system's own fields first (Darwin: the consumer's semaphore and
	 * port); refused, nothing new is held and the ring stays as it was. */
	put = r->waker_set; /* Darwin: our semaphore, in the offer */
	err = take_native(r, answer);
	if (err < 0)
		return err;
	/* Watch first: a consumer that passed something that is not a pidfd
	 * of itself leaves the ring unconnected. */
	err = watch(r, &m, answer);
	if (err == 0)
		err = mobj__ring_accept(r, answer->objs[0]);
	if (err < 0) {
		refuse(r, put);
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
