/*
 * 1:N rings (fan-out): one producer, up to max consumers, each with its
 * own control page (the contract is in ring.h, mobj_ring_create_multi()).
 *
 * Objects. The data object and the producer's control page (pctl) are the
 * SPSC ring's, shared read-only by every consumer; each consumer creates,
 * maps read-write and freezes its own control page (cctl) exactly as an
 * SPSC consumer does, and the producer maps each cctl read-only in a slot.
 * A consumer never sees another's page.
 *
 * Indices. tail and each head are the SPSC ring's (ring.c). A consumer
 * joins at the tail it finds. Blocking mode: the producer may reserve n
 * bytes only when every live consumer's head >= tail + n - capacity; it
 * validates each head (monotonic, <= tail) and drops a consumer whose head
 * is impossible (BROKEN) instead of failing itself. Overwrite mode: it
 * never reads a head for flow control.
 *
 * Blocking mode never overwrites unconsumed bytes of a live consumer, so
 * it has no seqlock: its consumers are SPSC consumers once joined (inline
 * peek and consume), and the producer reserves inline against peer_seen,
 * the lowest head it saw (stale is conservative: heads only grow).
 *
 * oldest (overwrite mode: a seqlock over the data). Before the producer
 * hands out a reservation [pos, pos + n), which overwrites the bytes of
 * indices below lost = pos + n - capacity, it stores oldest = the first
 * record start at or after lost (lost itself once a plain reservation was
 * made), then a release fence, then writes. A consumer that read bytes [h,
 * ...) checks, after an acquire fence, that oldest <= h: a write of a byte
 * it read belongs to a reservation whose lost > h, and seeing that write
 * means seeing its oldest (fence-fence synchronisation, as seqlock readers
 * do; the bytes are read with plain loads, a race the C model does not
 * bless and every seqlock relies on, and only the reader's checked result
 * is used). A consumer whose head is below oldest was lapped: it moves to
 * oldest and reports -EOVERFLOW once (ring.c, multi_load). The producer
 * finds record starts by walking the headers it wrote itself (its own,
 * writable-only-by-it data), amortised one header per record.
 *
 * Waiting and waking: the SPSC Dekker protocol (ring.c) per pair. Every
 * consumer sleeps on pctl's wake_seq and announces in its own page; the
 * producer's publish (inline; f.peer_waiting is the one live consumer's
 * waiting word, or a local 1 with two or more, so every publish comes
 * here) looks at each live consumer's page, bumps wake_seq once when any
 * waits for what was published, and wakes each of those whose
 * announcement was not woken yet, older ones included: a bump reaches
 * only futex sleepers, not a consumer's own semaphore (Darwin) nor an
 * armed peer event (wants_wake). On Linux one FUTEX_WAKE per round wakes
 * every futex sleeper (MOBJ__OS_WAKE_SHARED); Darwin signals each woken
 * consumer's semaphore.
 * Batching with two or more consumers: the inline publish cannot tell
 * from one word whether anyone waits, so f.fan sends a commit that
 * batching would defer here before it publishes (mobj_ring_slow_wake with
 * published != pos): it defers unless a consumer polls or waits for a
 * target the held-back bytes reach (consumers_busy), else publishes and
 * wakes in one go. Why no wake-up is lost with N consumers: ring.c.
 * The producer waits for one laggard at a time: it announces in pctl with
 * the laggard's wake_seq and sleeps on it; another consumer that happens to
 * match wakes it spuriously, nothing worse. The producer publishes with a
 * fence unless it and every consumer are light; it sleeps with the heavy
 * barrier when it is light, which covers light and fenced consumers alike.
 *
 * Joining over the user's IPC (ring_xfer.c): each mobj_ring_export() makes
 * a pending offer (struct mobj__ring_offer) with its own peer event and
 * waker (Darwin: a semaphore and port of its own, as a slot must have:
 * semaphore_destroy at departure ends it for every holder), named by a
 * random token; the answer that repeats it moves them into a slot, so an
 * importer's slot is like any other. At most max offers are pending, so
 * what unanswered offers hold is bounded; withdraw and close release them.
 *
 * Pollable descriptors: each slot holds our half of a peer event with its
 * consumer (ring_pevent.c), signalled when that consumer is armed; the
 * producer's mobj_ring_fd() is a set over the halves (Linux: epoll;
 * Darwin: a kqueue of the halves' kqueues), and
 * its timeout-0 reserve that finds no room arms for the first laggard
 * (arm_room), which signals its half when it consumed enough.
 *
 * Death. Each slot holds a waker for its consumer's process; after every
 * silent slice of a producer's sleep (MOBJ__OS_WAKER_SLICE_MS) all live
 * consumers are checked, and a joining call that finds no free slot checks
 * them before it says -ENOSPC.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mobj/chan.h"
#include "ring_internal.h"

#define MAX_CONSUMERS 1024u

struct slot {
	const struct mobj__ring_ctl *ctl; /* read-only; NULL when not live */
	struct mobj__os_waker waker;
	bool waker_set;
	struct mobj__os_pevent pev; /* our half of its peer event */
	bool pev_set;
	int state; /* 0: never used, else MOBJ_RING_LIVE ... */
	int pid;
	uint32_t flags;
	uint64_t head;  /* last validated */
	uint64_t waits;
	uint32_t served; /* the wait_seq of the last announcement woken */
	bool served_set;
};

struct mobj__ring_multi {
	unsigned max;
	bool overwrite;
	bool plain;      /* a plain reservation was made: oldest is a byte */
	bool marks;      /* oldest is kept: overwrite mode, or exported (an
	                  * importer reads before we know of it) */
	uint32_t one;    /* 1: what f.peer_waiting points at */
	uint32_t zero;   /* 0: f.peer_polling and f.peer_closed */
	uint64_t rec;    /* the oldest record start known (walking) */
	uint64_t oldest; /* what pctl's oldest says */
	unsigned nlive;  /* live slots, listed in live[] (by refresh) */
	struct slot **live;
	int set;         /* mobj_ring_fd(): the set of the slots' events, or -1 */
	struct mobj__ring_offer *offer; /* max entries: pending offers */
	struct slot slot[];
};

int mobj_ring_create_multi(size_t capacity, unsigned max_consumers,
                           unsigned flags, struct mobj_ring **producer)
{
	struct mobj__ring_multi *m;
	struct mobj_ring *r;
	int err;

	if (!producer || max_consumers == 0 || max_consumers > MAX_CONSUMERS ||
	    (flags & ~MOBJ_RING_OVERWRITE) != 0)
		return -EINVAL;
	m = calloc(1, sizeof(*m) + max_consumers * sizeof(m->slot[0]));
	if (m) {
		m->offer = calloc(max_consumers, sizeof(m->offer[0]));
		m->live = calloc(max_consumers, sizeof(m->live[0]));
	}
	err = m && m->offer && m->live ? mobj_ring_create(capacity, &r) :
	                                 -ENOMEM;
	if (err < 0) {
		if (m) {
			free(m->offer);
			free(m->live);
		}
		free(m);
		return err;
	}
	m->max = max_consumers;
	m->set = -1;
	m->overwrite = (flags & MOBJ_RING_OVERWRITE) != 0;
	m->marks = m->overwrite;
	m->one = 1;
	r->m = m;
	/* No consumer has mapped the page yet: still written once. */
	r->own->flags |= MOBJ__RING_MULTI |
	                 (m->overwrite ? MOBJ__RING_OVERWRITE : 0);
	r->own->version = mobj__ring_page_version(r->own->flags);
	r->connected = true;
	mobj__ring_refresh(r);
	*producer = r;
	return 0;
}

void mobj__ring_multi_refresh(struct mobj_ring *r)
{
	struct mobj__ring_multi *m = r->m;
	bool light = (r->own->flags & MOBJ__RING_LIGHT) != 0;
	const struct mobj__ring_ctl *only = NULL;
	unsigned i, live = 0;

	for (i = 0; i < m->max; i++) {
		/* Freeing departs slots without changing their state: a slot
		 * whose page is gone counts as gone. */
		if (m->slot[i].state != MOBJ_RING_LIVE || !m->slot[i].ctl)
			continue;
		m->live[live++] = &m->slot[i];
		only = m->slot[i].ctl;
		if (!(m->slot[i].flags & MOBJ__RING_LIGHT))
			light = false;
	}
	/* Blocking mode: the inline reserve's check against peer_seen (the
	 * lowest head seen, stale is conservative) is the flow control, as
	 * in SPSC. Marking oldest: every reserve out of line. */
	r->f.ready = (!m->marks && !r->broken && !r->armed) ?
	                     MOBJ__RING_PRODUCER : 0;
	r->f.own_index = (uint64_t *)&r->own->index;
	m->nlive = live;
	/* A publish looks for sleepers: with one consumer its page's waiting
	 * count (as in SPSC), else every page: f.peer_waiting points at a
	 * local 1, so every publish comes to mobj__ring_multi_wake, and so
	 * does, before publishing, a publish that batching may defer (f.fan),
	 * made only when a consumer waits or spins. A binary built before
	 * f.fan publishes every commit instead: correct, no gain. With none
	 * live, every commit is published: a consumer joins at a published
	 * tail, and reads nothing committed long before it. */
	r->f.peer_waiting = live == 1 ? (uint32_t *)&only->waiting : &m->one;
	r->f.peer_polling = live == 1 ? (uint32_t *)&only->polling : &m->zero;
	r->f.peer_closed = &m->zero;
	r->f.fence = !light;
	r->f.fan = live >= 2;
}

/* Release what slot @s holds (its page, waker and peer event) as @state. */
static void slot_release(struct mobj_ring *r, struct slot *s, int state)
{
	s->state = state;
	if (s->ctl)
		mobj_unmap((void *)s->ctl, mobj_page_size());
	s->ctl = NULL;
	if (s->waker_set)
		mobj__os_waker_release(&s->waker);
	s->waker_set = false;
	if (s->pev_set) {
		/* A forked child's copy shares the owner's socket (and, on
		 * Linux, its epoll set, which a del would empty). */
		if (r->owner == getpid()) {
			if (r->m->set >= 0)
				mobj__os_pevent_set_del(r->m->set, &s->pev);
			mobj__os_pevent_close(&s->pev);
		} else {
			mobj__os_pevent_drop(&s->pev);
		}
	}
	s->pev_set = false;
}

static void depart(struct mobj_ring *r, struct slot *s, int state)
{
	slot_release(r, s, state);
	mobj__ring_refresh(r); /* f.peer_waiting may have pointed at its page */
}

/* Read and validate a live consumer's head; an impossible one (backwards,
 * past what we published) drops the consumer, as does its close. */
static void slot_poll(struct mobj_ring *r, struct slot *s)
{
	uint64_t v;

	if (s->state != MOBJ_RING_LIVE)
		return;
	v = atomic_load_explicit(&s->ctl->index, memory_order_acquire);
	if (v < s->head || v > r->f.published) {
		depart(r, s, MOBJ_RING_BROKEN);
		return;
	}
	s->head = v;
	if (atomic_load_explicit(&s->ctl->closed, memory_order_acquire))
		depart(r, s, MOBJ_RING_CLOSED);
}

/* After a silent slice, or before refusing a consumer: who died. */
static void check_alive(struct mobj_ring *r)
{
	struct mobj__ring_multi *m = r->m;
	unsigned i;

	for (i = 0; i < m->max; i++) {
		struct slot *s = &m->slot[i];

		if (s->state != MOBJ_RING_LIVE || !s->waker_set)
			continue;
		r->stats.peer_checks++;
		if (!mobj__os_waker_peer_alive(&s->waker))
			depart(r, s, MOBJ_RING_DEAD);
	}
}

/* Poll every live consumer; f.peer_seen becomes the lowest head (our tail
 * when none is live). The first live consumer whose head is below @need,
 * or NULL. */
static struct slot *laggard(struct mobj_ring *r, uint64_t need)
{
	struct mobj__ring_multi *m = r->m;
	struct slot *lag = NULL;
	uint64_t min = r->f.pos;
	unsigned i;

	for (i = 0; i < m->max; i++) {
		struct slot *s = &m->slot[i];

		slot_poll(r, s);
		if (s->state != MOBJ_RING_LIVE)
			continue;
		if (s->head < min)
			min = s->head;
		if (s->head < need && !lag)
			lag = s;
	}
	r->f.peer_seen = min;
	return lag;
}

/* W1..W3 of ring.c, waiting for @s: its wake sequence to sleep on. */
static uint32_t announce(struct mobj_ring *r, struct slot *s, uint64_t need)
{
	uint32_t seq;

	seq = atomic_load_explicit(&s->ctl->wake_seq, memory_order_acquire);
	atomic_store_explicit(&r->own->wait_seq, seq, memory_order_relaxed);
	atomic_store_explicit(&r->own->wait_target, need, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->own->waiting, 1, memory_order_seq_cst);
	if (r->own->flags & MOBJ__RING_LIGHT)
		mobj__os_barrier_heavy();
	else
		atomic_thread_fence(memory_order_seq_cst);
	return seq;
}

/* One sliced sleep on laggard @s (W4, W5), then what it taught us. */
static void sleep_on(struct mobj_ring *r, struct slot *s, uint64_t need,
                     int slice)
{
	uint32_t seq = announce(r, s, need);
	int rc = 0;

	slot_poll(r, s);
	if (s->state == MOBJ_RING_LIVE && s->head < need) {
		r->stats.sleeps++;
		s->waits++;
		rc = mobj__os_waker_wait(&s->waker,
		                         (const uint32_t *)&s->ctl->wake_seq,
		                         seq, slice);
	}
	atomic_fetch_sub_explicit(&r->own->waiting, 1, memory_order_relaxed);
	if (rc == -EPIPE && s->state == MOBJ_RING_LIVE)
		depart(r, s, MOBJ_RING_DEAD);
	else if (rc == -ETIMEDOUT)
		check_alive(r);
}

/* Clear every slot's event; a consumer whose half is gone for good (its
 * process died or it closed) departs: its head is final. */
static void drain_slots(struct mobj_ring *r)
{
	struct mobj__ring_multi *m = r->m;
	unsigned i;

	for (i = 0; i < m->max; i++) {
		struct slot *s = &m->slot[i];

		if (s->state == MOBJ_RING_LIVE && s->pev_set &&
		    mobj__os_pevent_drain(&s->pev) == -EPIPE)
			depart(r, s, MOBJ_RING_DEAD);
	}
	if (m->set >= 0)
		mobj__os_pevent_set_drain(m->set);
}

/* A call with timeout 0 found no room and mobj_ring_fd() is in use (the
 * SPSC arm() of ring.c, per laggard): register in pctl as waiting for the
 * first laggard, whose next consume that reaches @need signals its event.
 * Heads only grow, so the first laggard only moves on: at most one round
 * per slot. 0 when there is room after all. */
static int arm_room(struct mobj_ring *r, uint64_t need)
{
	struct slot *s, *again;

	drain_slots(r);
	for (s = laggard(r, need); s; s = again) {
		atomic_store_explicit(&r->own->armed, 1, memory_order_relaxed);
		(void)announce(r, s, need);
		r->armed = true;
		mobj__ring_refresh(r);
		again = laggard(r, need);
		if (again == s)
			return -EAGAIN;
		mobj__ring_disarm(r);
	}
	return 0;
}

/* Spin a little until every live consumer's head is >= @need, telling
 * batching consumers that we do (pctl's polling, as SPSC's spin_peer), so
 * they publish at once: the first laggard left, or NULL. */
static struct slot *spin_room(struct mobj_ring *r, uint64_t need)
{
	struct mobj__ring_multi *m = r->m;
	struct slot *s = laggard(r, need);
	bool poll = false;
	unsigned k;
	int i;

	for (k = 0; s && k < m->nlive; k++)
		if (atomic_load_explicit(&m->live[k]->ctl->batching,
		                         memory_order_relaxed))
			poll = true;
	if (poll)
		atomic_store_explicit(&r->own->polling, 1, memory_order_relaxed);
	for (i = 0; s && i < MOBJ__RING_SPINS; i++) {
		mobj__cpu_relax();
		s = laggard(r, need);
	}
	if (poll)
		atomic_store_explicit(&r->own->polling, 0, memory_order_relaxed);
	if (!s && i > 0)
		r->stats.spins++;
	return s;
}

/* Blocking mode: wait until every live consumer's head is >= @need. */
static int wait_room(struct mobj_ring *r, uint64_t need, int timeout_ms)
{
	uint64_t start = timeout_ms > 0 ? mobj__os_clock_ns() : 0;
	struct slot *s = timeout_ms != 0 ? spin_room(r, need) :
	                                   laggard(r, need);
	int slice;

	while (s) {
		if (timeout_ms == 0)
			return r->fd_used ? arm_room(r, need) : -EAGAIN;
		slice = MOBJ__OS_WAKER_SLICE_MS;
		if (timeout_ms > 0) {
			int left = mobj__time_left(timeout_ms, start);

			if (left == 0)
				return -ETIMEDOUT;
			if (left < slice)
				slice = left;
		}
		sleep_on(r, s, need, slice);
		s = laggard(r, need);
	}
	return 0;
}

/* Before a reservation of @n bytes at our tail: publish the oldest index
 * left intact (the seqlock's write side, see the design block). */
static void mark_oldest(struct mobj_ring *r, uint64_t n, bool rec)
{
	struct mobj__ring_multi *m = r->m;
	const unsigned char *h;
	uint64_t lost, o;

	if (!rec)
		m->plain = true;
	if (r->f.pos + n <= r->f.cap)
		return;
	lost = r->f.pos + n - r->f.cap;
	if (lost <= m->oldest)
		return;
	o = lost;
	if (!m->plain) {
		/* Records tile [rec, pos): our own headers say how. */
		for (o = m->rec; o < lost;) {
			h = r->f.data + o % r->f.cap;
			o += mobj__ring_record_total((uint64_t)h[0] |
			                             (uint64_t)h[1] << 8 |
			                             (uint64_t)h[2] << 16 |
			                             (uint64_t)h[3] << 24);
		}
		if (o > r->f.pos) { /* a record committed as plain bytes */
			m->plain = true;
			o = lost;
		}
		m->rec = o;
	}
	/* oldest may never pass the tail consumers see (they would take
	 * the tail for a lie): a batching producer publishes first. */
	if (o > r->f.published)
		mobj_ring__publish(&r->f, r, 1);
	m->oldest = o;
	atomic_store_explicit(&r->own->oldest, o, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

int mobj__ring_multi_reserve(struct mobj_ring *r, size_t n, int timeout_ms,
                             void **p)
{
	bool rec = r->rec_next;
	int err;

	r->rec_next = false;
	mobj__ring_disarm(r);
	if (!p)
		return -EINVAL;
	if (n > r->f.cap)
		return -EMSGSIZE;
	if (r->m->overwrite) {
		r->f.peer_seen = r->f.pos;
	} else if (r->f.pos + n - r->f.peer_seen > r->f.cap) {
		/* Never wait with progress unpublished (batching): a
		 * consumer may be waiting for it. */
		if (r->f.published != r->f.pos)
			mobj_ring__publish(&r->f, r, 1);
		err = wait_room(r, r->f.pos + n - r->f.cap, timeout_ms);
		if (err < 0)
			return err;
	}
	if (r->m->marks)
		mark_oldest(r, n, rec);
	r->f.reserved = n;
	r->f.in_record = 0;
	*p = r->f.data + r->f.off;
	return 0;
}

/* Whether @s announced a wait that @r's publish reached and that was not
 * woken yet. SPSC wakes only an announcement of the current wake_seq
 * (after the bump the sleeper cannot block on the old value); here a bump
 * made for one consumer leaves the others' announcements older while they
 * still wait: on their own semaphore (Darwin), or for their peer event
 * (armed, no sleep at all), which only the wake below signals. So each
 * slot remembers the announcement it was last woken for, when its next
 * one must name a later sequence: the round bumps wake_seq from @seq to
 * seq + 1 before its first wake, so an announcement of seq or older is
 * past for good. One that already names seq + 1 (made after this round's
 * bump) is woken but not remembered: the consumer may announce again
 * before the next bump, with the same seq + 1, and that wait must not be
 * taken for this one (it would never be woken: a descriptor silent for
 * good). The cost is at most one spare wake. */
static bool wants_wake(struct mobj_ring *r, struct slot *s, uint32_t seq)
{
	const struct mobj__ring_ctl *c = s->ctl;
	uint32_t ws;

	if (s->state != MOBJ_RING_LIVE ||
	    !atomic_load_explicit(&c->waiting, memory_order_relaxed) ||
	    r->f.published < atomic_load_explicit(&c->wait_target,
	                                          memory_order_relaxed))
		return false;
	ws = atomic_load_explicit(&c->wait_seq, memory_order_relaxed);
	if (ws != seq && s->served_set && ws == s->served)
		return false;
	s->served = ws;
	s->served_set = ws != seq + 1;
	return true;
}

/* Whether publishing now gains a live consumer something, so that a
 * batching producer should not defer: it spins (polling), or it waits
 * (asleep, or armed for its descriptor) for a target that what we hold
 * back reaches. A waiter whose target is published already was woken (or
 * will see it at W4) and has not run yet, which on a busy shared core
 * lasts a scheduling slice: publishing every commit meanwhile helps
 * nobody. One whose target lies beyond our tail gains nothing either.
 * Every word is a relaxed hint: the next commit looks again. */
static bool consumers_busy(const struct mobj_ring *r)
{
	const struct mobj__ring_multi *m = r->m;
	uint64_t t;
	unsigned i;

	for (i = 0; i < m->nlive; i++) {
		const struct mobj__ring_ctl *c = m->live[i]->ctl;

		if (atomic_load_explicit(&c->polling, memory_order_relaxed))
			return true;
		if (!atomic_load_explicit(&c->waiting, memory_order_relaxed))
			continue;
		t = atomic_load_explicit(&c->wait_target, memory_order_relaxed);
		if (t > r->f.published && t <= r->f.pos)
			return true;
	}
	return false;
}

/* K3 for every consumer: one bump of our wake sequence serves all, and
 * where one wake on the word reaches every sleeper (MOBJ__OS_WAKE_SHARED,
 * Linux: FUTEX_WAKE of INT_MAX) one call does too; each armed peer event
 * is still signalled on its own. */
void mobj__ring_multi_wake(struct mobj_ring *r)
{
	struct mobj__ring_multi *m = r->m;
	uint32_t *word = (uint32_t *)&r->own->wake_seq;
	uint32_t seq = atomic_load_explicit(&r->own->wake_seq,
	                                    memory_order_relaxed);
	bool bumped = false;
	unsigned i;

	if (r->f.published != r->f.pos) {
		/* f.fan: a publish batching may defer (ring.h); K1 and K2 of
		 * its publish here, then K3 for every consumer below. */
		if (!consumers_busy(r))
			return;
		atomic_store_explicit((_Atomic uint64_t *)r->f.own_index,
		                      r->f.pos, memory_order_release);
		r->f.published = r->f.pos;
		if (r->f.fence)
			atomic_thread_fence(memory_order_seq_cst);
		else
			atomic_signal_fence(memory_order_seq_cst);
	}
	for (i = 0; i < m->nlive; i++) {
		struct slot *s = m->live[i];

		if (!wants_wake(r, s, seq))
			continue;
		if (!bumped) {
			atomic_fetch_add_explicit(&r->own->wake_seq, 1,
			                          memory_order_release);
			if (MOBJ__OS_WAKE_SHARED)
				mobj__os_waker_wake(&s->waker, word);
		}
		bumped = true;
		if (!MOBJ__OS_WAKE_SHARED)
			mobj__os_waker_wake(&s->waker, word);
		if (s->pev_set &&
		    atomic_load_explicit(&s->ctl->armed, memory_order_relaxed))
			mobj__os_pevent_signal(&s->pev);
		r->stats.wakes++;
	}
}

ssize_t mobj__ring_multi_available(struct mobj_ring *r)
{
	if (r->m->overwrite)
		return (ssize_t)r->f.cap;
	(void)laggard(r, 0);
	if (r->f.pos - r->f.peer_seen >= r->f.cap)
		return 0;
	return (ssize_t)(r->f.cap - (r->f.pos - r->f.peer_seen));
}

/* A new slot's event joins the producer's set, if mobj_ring_fd() made
 * one. Every slot has an event (a join that cannot make one fails), and
 * one left out of the set would never wake the producer's descriptor: a
 * failure here fails the join. */
static int add_to_set(struct mobj_ring *r, struct slot *s)
{
	if (r->m->set < 0 || !s->pev_set)
		return 0;
	return mobj__os_pevent_set_add(r->m->set, &s->pev);
}

void mobj__ring_multi_exported(struct mobj_ring *r)
{
	/* The record walk starts here: a record start (between reservations)
	 * and at or below the tail any importer finds. */
	if (!r->m->marks)
		r->m->rec = r->f.published;
	r->m->marks = true;
	mobj__ring_refresh(r);
}

int mobj__ring_multi_fd(struct mobj_ring *r)
{
	struct mobj__ring_multi *m = r->m;
	unsigned i;
	int err;

	if (m->set < 0) {
		err = mobj__os_pevent_set_open(&m->set);
		for (i = 0; err == 0 && i < m->max; i++)
			if (m->slot[i].state == MOBJ_RING_LIVE)
				err = add_to_set(r, &m->slot[i]);
		if (err < 0) {
			/* Nothing half made: the next call tries again. */
			if (m->set >= 0)
				mobj__os_pevent_set_close(m->set);
			m->set = -1;
			return err;
		}
	}
	r->fd_used = true;
	return m->set;
}

/* A slot for one more consumer, or NULL: -ENOSPC. */
static struct slot *free_slot(struct mobj_ring *r)
{
	struct mobj__ring_multi *m = r->m;
	unsigned i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < m->max; i++) {
			slot_poll(r, &m->slot[i]);
			if (m->slot[i].state != MOBJ_RING_LIVE)
				return &m->slot[i];
		}
		check_alive(r);
	}
	return NULL;
}

/* A joining consumer's page, mapped and checked, not yet in a slot. */
struct joiner {
	const struct mobj__ring_ctl *ctl;
	uint32_t flags;
	uint64_t head;
};

/* Map and check a joining consumer's page; nothing else changes. */
static int joiner_attach(struct mobj_ring *r, struct mobj *cctl_ro,
                         struct joiner *j)
{
	int err = mobj__ring_ctl_attach(cctl_ro, MOBJ__RING_CONSUMER,
	                                (size_t)r->f.cap, &j->ctl, &j->flags);

	if (err < 0)
		return err;
	/* It joined at a tail we published. */
	j->head = atomic_load_explicit(&j->ctl->index, memory_order_acquire);
	if (j->head > r->f.published ||
	    atomic_load_explicit(&j->ctl->closed, memory_order_acquire)) {
		mobj_unmap((void *)j->ctl, mobj_page_size());
		return -EPROTO;
	}
	return 0;
}

/* The joiner becomes slot @s's live consumer. */
static void slot_fill(struct mobj_ring *r, struct slot *s,
                      const struct joiner *j)
{
	memset(s, 0, sizeof(*s));
	s->ctl = j->ctl;
	s->flags = j->flags;
	s->head = j->head;
	s->state = MOBJ_RING_LIVE;
	if (j->head < r->f.peer_seen)
		r->f.peer_seen = j->head;
	mobj__ring_refresh(r);
}

/* Map a joining consumer's page into a free slot. */
static int slot_accept(struct mobj_ring *r, struct mobj *cctl_ro,
                       struct slot **out)
{
	struct slot *s = free_slot(r);
	struct joiner j;
	int err;

	if (!s)
		return -ENOSPC;
	err = joiner_attach(r, cctl_ro, &j);
	if (err < 0)
		return err;
	slot_fill(r, s, &j);
	*out = s;
	return 0;
}

int mobj__ring_multi_consumer(struct mobj_ring *r, struct mobj_ring **consumer)
{
	struct mobj_ring *c;
	struct mobj *cctl_ro;
	struct slot *s;
	int err;

	if (!free_slot(r))
		return -ENOSPC;
	err = mobj__ring_attach(r->data_ro, r->pctl_ro, &c, &cctl_ro);
	if (err < 0)
		return err;
	err = slot_accept(r, cctl_ro, &s);
	mobj_close(cctl_ro);
	if (err == 0) {
		err = mobj__os_waker_pair(&s->waker, &c->waker);
		if (err < 0)
			depart(r, s, MOBJ_RING_CLOSED);
	}
	if (err < 0) {
		mobj__ring_free(c);
		return err;
	}
	s->waker_set = c->waker_set = true;
	err = mobj__os_pevent_pair(&s->pev, &c->pev);
	s->pev_set = c->pev_set = err == 0;
	if (err == 0)
		err = add_to_set(r, s);
	if (err < 0) {
		depart(r, s, MOBJ_RING_CLOSED);
		mobj__ring_free(c);
		return err;
	}
	*consumer = c;
	return 0;
}

/* Release a pending offer's handles; the entry becomes free. A forked
 * child's copy shares the owner's sockets: it only drops its descriptors. */
static void offer_drop(struct mobj_ring *r, struct mobj__ring_offer *o)
{
	if (o->pev_set && r->owner == getpid())
		mobj__os_pevent_close(&o->pev);
	else if (o->pev_set)
		mobj__os_pevent_drop(&o->pev);
	if (o->event_fd >= 0)
		close(o->event_fd);
	if (o->waker_set)
		mobj__os_waker_release(&o->waker);
	memset(o, 0, sizeof(*o));
}

struct mobj__ring_offer *mobj__ring_multi_find(struct mobj_ring *r,
                                               uint64_t token)
{
	unsigned i;

	for (i = 0; token != 0 && i < r->m->max; i++)
		if (r->m->offer[i].token == token)
			return &r->m->offer[i];
	return NULL;
}

/* A token no pending offer has, never 0. */
static int new_token(struct mobj_ring *r, uint64_t *out)
{
	uint64_t t = 0;
	int err;

	while (t == 0 || mobj__ring_multi_find(r, t)) {
		err = mobj__os_random(&t, sizeof(t));
		if (err < 0)
			return err;
	}
	*out = t;
	return 0;
}

int mobj__ring_multi_offer(struct mobj_ring *r, struct mobj_ring_xfer *x,
                           uint64_t *token)
{
	struct mobj__ring_offer *o = NULL;
	unsigned i;
	int held, split, fd;

	for (i = 0; !o && i < r->m->max; i++)
		if (r->m->offer[i].token == 0)
			o = &r->m->offer[i];
	if (!o)
		return -ENOSPC;
	held = new_token(r, token);
	if (held < 0)
		return held;
	memset(o, 0, sizeof(*o));
	o->event_fd = -1;
	/* The peer event: Linux's a socketpair (-ENOTSUP on Darwin, whose
	 * event goes in xfer_put's ports). Every offer must have one (see
	 * add_to_set). */
	split = mobj__os_pevent_split_fd(&o->pev, &fd);
	if (split == 0) {
		o->pev_set = true;
		o->event_fd = fd;
	}
	held = mobj__os_xfer_put(&o->waker, &o->pev, x);
	if (held >= 0) {
		o->waker_set = (held & MOBJ__OS_XFER_WAKER) != 0;
		o->pev_set = o->pev_set || (held & MOBJ__OS_XFER_EVENT) != 0;
		if (!o->pev_set)
			held = split < 0 ? split : -ENOTSUP;
	}
	if (held < 0) {
		offer_drop(r, o);
		return held;
	}
	x->event_fd = o->event_fd;
	o->token = *token;
	return 0;
}

int mobj__ring_multi_withdraw(struct mobj_ring *r, uint64_t token)
{
	struct mobj__ring_offer *o = mobj__ring_multi_find(r, token);

	if (!o)
		return -ENOENT;
	offer_drop(r, o);
	return 0;
}

int mobj__ring_multi_accept(struct mobj_ring *r, struct mobj__ring_offer *o,
                            struct mobj *cctl_ro, int pid, int pidfd)
{
	struct mobj__os_waker w = o->waker;
	struct slot *s = free_slot(r);
	struct joiner j;
	int err = 0, fd = -1;
	bool in_set;

	if (!s)
		return -ENOSPC;
	err = joiner_attach(r, cctl_ro, &j);
	if (err < 0)
		return err;
	/* The offer's event joins the producer's set first (members are
	 * named by descriptor, which the move below keeps): a failure leaves
	 * the offer pending, as every failure here does. */
	in_set = r->m->set >= 0 && o->pev_set;
	if (in_set)
		err = mobj__os_pevent_set_add(r->m->set, &o->pev);
	if (err == 0 && pidfd >= 0) {
		fd = mobj__ring_dup_in(pidfd);
		err = fd < 0 ? fd : 0;
	}
	/* adopt takes fd, and adds to what xfer_put made only what is new
	 * (Linux: the pidfd; Darwin: nothing, it watches the semaphore
	 * xfer_take took into @o): on failure @w holds nothing of its own. */
	if (err == 0)
		err = mobj__os_waker_adopt(&w, pid, fd);
	if (err < 0 && err != -EPIPE) {
		if (in_set)
			mobj__os_pevent_set_del(r->m->set, &o->pev);
		mobj_unmap((void *)j.ctl, mobj_page_size());
		return err;
	}
	slot_fill(r, s, &j);
	/* Gone already (-EPIPE): adopt left @w as xfer_put made it. */
	s->waker = w;
	s->waker_set = err == 0 || o->waker_set;
	s->pev = o->pev;
	s->pev_set = o->pev_set;
	s->pid = pid;
	o->pev_set = o->waker_set = false; /* moved */
	offer_drop(r, o);                  /* the consumer's half: it has it */
	if (err == -EPIPE)
		depart(r, s, MOBJ_RING_DEAD);
	return 0;
}

int mobj__ring_multi_send(struct mobj_chan *c, struct mobj_ring *r,
                          int timeout_ms)
{
	struct mobj *cctl_ro;
	uint64_t t0 = mobj__os_clock_ns();
	size_t cap = (size_t)r->f.cap;
	struct slot *s;
	int err;

	if (!free_slot(r))
		return -ENOSPC;
	err = mobj__ring_send_part(c, r->data_ro, RING_PART_DATA, cap,
	                           timeout_ms);
	if (err == 0)
		err = mobj__ring_send_part(c, r->pctl_ro, RING_PART_PCTL, cap,
		                           mobj__time_left(timeout_ms, t0));
	if (err == 0)
		err = mobj__ring_recv_part(c, mobj__time_left(timeout_ms, t0),
		                           RING_PART_CCTL, &cap, &cctl_ro);
	if (err != 0)
		return err;
	err = slot_accept(r, cctl_ro, &s);
	mobj_close(cctl_ro);
	if (err < 0)
		return err;
	err = mobj__ring_send_event(c, &s->pev, &s->pev_set, true, cap,
	                            mobj__time_left(timeout_ms, t0));
	if (err == 0)
		err = add_to_set(r, s);
	if (err == 0)
		err = mobj__os_waker_connect(&s->waker, mobj__chan_os(c), true,
		                             mobj__time_left(timeout_ms, t0));
	if (err < 0) {
		depart(r, s, MOBJ_RING_DEAD);
		return err == -EPIPE ? 0 : err;
	}
	s->waker_set = true;
#ifdef __linux__
	s->pid = s->waker.pid; /* what the consumer said (mobj info shows it) */
#endif
	return 0;
}

int mobj_ring_consumer_stats(struct mobj_ring *r, unsigned i,
                             struct mobj_ring_consumer_stats *out)
{
	struct slot *s;

	if (!r || !r->m || !out || i >= r->m->max)
		return -EINVAL;
	s = &r->m->slot[i];
	if (s->state == 0)
		return -ENOENT;
	slot_poll(r, s);
	if (s->state == MOBJ_RING_LIVE && s->waker_set &&
	    !mobj__os_waker_peer_alive(&s->waker))
		depart(r, s, MOBJ_RING_DEAD);
	memset(out, 0, sizeof(*out));
	out->head = s->head;
	out->lag = r->f.published - s->head;
	out->waits = s->waits;
	out->state = s->state;
	out->pid = s->pid;
	return 0;
}

void mobj__ring_multi_free(struct mobj_ring *r)
{
	struct mobj__ring_multi *m = r->m;
	unsigned i;

	for (i = 0; i < m->max; i++) {
		/* mobj_ring_close() woke the consumers through the futex;
		 * Darwin's semaphores are per consumer. */
		if (m->slot[i].waker_set && !MOBJ__OS_WAKE_SHARED)
			mobj__os_waker_wake(&m->slot[i].waker,
			                    (uint32_t *)&r->own->wake_seq);
		/* Not depart: its refresh reads our control page, which a
		 * fork() child lacks on Darwin (mapped VM_INHERIT_NONE), and
		 * nothing reads r->f after this. */
		slot_release(r, &m->slot[i], m->slot[i].state);
	}
	if (m->set >= 0 && r->owner == getpid())
		mobj__os_pevent_set_close(m->set);
	else if (m->set >= 0)
		mobj__os_pevent_set_drop(m->set);
	for (i = 0; i < m->max; i++)
		if (m->offer[i].token != 0)
			offer_drop(r, &m->offer[i]);
	free(m->offer);
	free(m->live);
	free(m);
	r->m = NULL;
}
