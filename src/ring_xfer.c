/*
 * Ring set-up over IPC the user owns (PipeWire's protocol, Wayland, D-Bus):
 * the same three parts as over a channel (ring_chan.c), handed to the user
 * to carry instead of sent.
 *
 *   producer  mobj_ring_export()         offer: data and pctl (read-only),
 *                                        the consumer's half of the peer
 *                                        event, meta (two part headers, pid)
 *   consumer  mobj_ring_import()         checks the offer exactly as
 *                                        mobj_ring_recv() checks its parts,
 *                                        attaches, answers: cctl (read-only)
 *                                        and meta (part header, pid)
 *   producer  mobj_ring_accept_answer()  checks the answer as
 *                                        mobj_ring_send() does; connected
 *
 * The pids stand in for mobj__os_waker_connect()'s exchange: each side
 * watches the other's (Linux: a pidfd), with the same caveat (a claimed pid
 * is unverified, and a lie only makes the liar look alive or dead). Darwin's
 * waker needs Mach semaphores the user's IPC does not carry: -ENOTSUP.
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
	uint32_t pid;                   /* the sender's process */
	uint32_t event;                 /* offer: 1 when event_fd comes too */
};
_Static_assert(sizeof(struct ring_meta) == 56, "ring meta layout");
_Static_assert(sizeof(struct ring_meta) <= MOBJ_RING_META_MAX, "ring meta");

static void xfer_clear(struct mobj_ring_xfer *x)
{
	memset(x, 0, sizeof(*x));
	x->event_fd = -1;
}

/* The pid in @m, 0 if it cannot be one. */
static int meta_pid(const struct ring_meta *m)
{
	return m->pid > 0 && m->pid <= INT32_MAX ? (int)m->pid : 0;
}

/* Watch the peer's process; one already gone counts as gone. */
static int watch(struct mobj_ring *r, int pid)
{
	int err = mobj__os_waker_watch(&r->waker, pid);

	if (err == 0)
		r->waker_set = true;
	if (err == -EPIPE) {
		r->peer_dead = true;
		mobj__ring_refresh(r);
		err = 0;
	}
	return err;
}

int mobj_ring_export(struct mobj_ring *r, struct mobj_ring_xfer *out)
{
	struct ring_meta m;
	int fd;

	if (!r || !out || !r->producer || (r->connected && !r->m))
		return -EINVAL;
#ifdef __APPLE__
	return -ENOTSUP;
#endif
	/* A peer event if the system has one and descriptors are left; the
	 * consumer's mobj_ring_fd() falls back to a thread otherwise. */
	if (!r->m && !r->xfer_event &&
	    mobj__os_pevent_split_fd(&r->pev, &fd) == 0) {
		r->xfer_event = true;
		r->xfer_fd = fd;
	}
	xfer_clear(out);
	out->objs[0] = r->data_ro;
	out->objs[1] = r->pctl_ro;
	out->sizes[0] = (size_t)r->f.cap;
	out->sizes[1] = mobj_page_size();
	out->nobjs = 2;
	out->event_fd = r->xfer_event ? r->xfer_fd : -1;
	memset(&m, 0, sizeof(m));
	mobj__ring_part_init(&m.part[0], RING_PART_DATA, (size_t)r->f.cap);
	mobj__ring_part_init(&m.part[1], RING_PART_PCTL, (size_t)r->f.cap);
	m.pid = (uint32_t)getpid();
	m.event = r->xfer_event;
	memcpy(out->meta, &m, sizeof(m));
	out->meta_len = sizeof(m);
	return 0;
}

/* The offer's parts and event; on success the consumer end in @r. */
static int import_offer(const struct mobj_ring_xfer *in, const struct ring_meta *m,
                        struct mobj_ring **r, struct mobj **cctl_ro)
{
	size_t cap = 0;
	int err, fd;

	if (in->nobjs != 2 || meta_pid(m) == 0 || m->event > 1 ||
	    (m->event != 0) != (in->event_fd >= 0) ||
	    mobj__ring_part_check(&m->part[0], in->objs[0], RING_PART_DATA,
	                          &cap) < 0 ||
	    mobj__ring_part_check(&m->part[1], in->objs[1], RING_PART_PCTL,
	                          &cap) < 0)
		return -EPROTO;
	err = mobj__ring_attach(in->objs[0], in->objs[1], r, cctl_ro);
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
	err = watch(r, meta_pid(&m));
	if (err < 0) {
		mobj_close(cctl_ro);
		mobj__ring_free(r);
		return err;
	}
	/* The end keeps the answer's object until it is closed. */
	r->pctl_ro = cctl_ro;
	xfer_clear(answer);
	answer->objs[0] = cctl_ro;
	answer->sizes[0] = mobj_page_size();
	answer->nobjs = 1;
	memset(&m, 0, sizeof(m));
	mobj__ring_part_init(&m.part[0], RING_PART_CCTL, (size_t)r->f.cap);
	m.pid = (uint32_t)getpid();
	memcpy(answer->meta, &m, sizeof(m));
	answer->meta_len = sizeof(m);
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
	if (answer->nobjs != 1 || answer->event_fd >= 0 || m.event != 0 ||
	    meta_pid(&m) == 0 || memcmp(&m.part[1], &zero, sizeof(zero)) != 0 ||
	    mobj__ring_part_check(&m.part[0], answer->objs[0], RING_PART_CCTL,
	                          &cap) < 0)
		return -EPROTO;
	if (r->m)
		return mobj__ring_multi_accept(r, answer->objs[0],
		                               meta_pid(&m));
	err = mobj__ring_accept(r, answer->objs[0]);
	if (err < 0)
		return err;
	if (r->xfer_event) {
		/* The consumer holds its half now (or never will). */
		close(r->xfer_fd);
		r->xfer_event = false;
		r->pev_set = true;
	}
	return watch(r, meta_pid(&m));
}
