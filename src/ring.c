/*
 * The mirrored SPSC ring.
 *
 * Set-up and teardown are in ring_setup.c, with the objects and who
 * writes what. 1:N rings (one producer, many consumers) are in
 * ring_multi.c; their consumers use this file's calls: in blocking mode
 * exactly as an SPSC consumer once joined (nothing is overwritten unread,
 * so the fast path stays on), in overwrite mode with a different check of
 * the tail (mobj__ring_multi_load) and the seqlock check after reading
 * (overwritten()).
 *
 * Indices. tail (in pctl) counts bytes ever committed, head (in cctl) bytes
 * ever consumed; 64-bit, free running, never wrapped. The byte at index i
 * lives at data[i % capacity]. Invariant: head <= tail <= head + capacity.
 * Each side keeps its own index locally (its page is its own, but the local
 * copy is what it trusts) and the last validated value of the peer's.
 * A peer index is accepted only if it is monotonic and keeps the invariant:
 *   consumer: tail' >= tail_seen and tail' - head <= capacity
 *   producer: head' >= head_seen and head' <= tail
 * Anything else is -EPROTO, and the end is dead (every later call -EPROTO):
 * no offset is ever computed from an unvalidated value, so a lie cannot
 * cause an access outside the mapping.
 *
 * Wrap-around. The data object is mapped twice back to back, so the n <=
 * capacity bytes at offset o = i % capacity are data[o .. o + n), contiguous
 * even when they cross the end of the first copy: reserve(n) and peek() hand
 * out plain pointers and a record is never split. Records are an 8-byte
 * header (little-endian length, 4 zero bytes) plus the payload padded to 8
 * bytes, so they stay aligned (capacity is a page multiple); the consumer
 * reads a header once and accepts it only if the whole record lies within
 * what the producer committed.
 *
 * Ordering. The producer fills bytes, then store-releases the tail; the
 * consumer load-acquires the tail, then reads bytes (and symmetrically for
 * the head and the space it frees). Nothing else is needed on the fast path.
 *
 * The fast path. reserve, commit, peek and consume are static inline in
 * ring.h, over struct mobj_ring_fast at the start of the handle: what the
 * peer cannot change was checked once at connection and is summed up in
 * f.ready (cleared when the end breaks or the peer dies); the inline code
 * uses only our own state and the last validated peer index (peer_seen),
 * plus relaxed loads of the peer's closed and waiting words, which decide
 * nothing but whether to go out of line. Everything that reads the peer's
 * index (and so validates it), waits or wakes is out of line here
 * (mobj_ring_slow_*). ring_inline.c exports the inline calls too.
 *
 * Committing and publishing. commit/consume move our local index (pos);
 * publishing stores it into our control page (published = pos). By default
 * (batch 0) every commit and consume publishes. With mobj_ring_set_batch(r,
 * b) a side publishes only when pos - published >= b, when the peer waits
 * (peer.waiting) or spins (peer.polling, written only when we batch), when
 * this side is about to wait itself (every wait starts by publishing, so two
 * sides never wait on each other's unpublished progress), on
 * mobj_ring_flush() and on close. What stays unpublished when the user stops
 * calling is the user's to flush, as with io_uring_submit().
 *
 * Waiting and waking (Dekker, no lost wake-up, no system call when busy).
 * A side that must wait first publishes, spins briefly re-reading the
 * peer's index, then:
 *   W1 seq = peer.wake_seq                      (acquire)
 *   W2 own.wait_seq = seq; own.wait_target = target; own.waiting += 1
 *   W3 barrier: fence(seq_cst), or when light: the heavy barrier
 *   W4 re-check the peer's index and closed flag; done if satisfied
 *   W5 sleep on peer.wake_seq while it still equals seq (futex / semaphore),
 *      at most MOBJ__OS_WAKER_SLICE_MS, then go to W1
 * and the other side, each time it publishes its index (or its closed flag):
 *   K1 store index (release)
 *   K2 fence(seq_cst), or when light: only a compiler barrier
 *   K3 if peer.waiting and index >= peer.wait_target and
 *         peer.wait_seq == own.wake_seq:
 *        own.wake_seq += 1; wake
 * Light: both pages say MOBJ__RING_LIGHT (both processes can take and
 * issue the heavy barrier, Linux membarrier GLOBAL_EXPEDITED, ring_barrier.c).
 * The fence in K2 was the price of every message (a locked instruction that
 * waits for the message's cache lines); the heavy barrier moves it to the
 * side that is about to sleep, a system call already.
 * Proof, fenced: the two seq_cst fences are totally ordered. If W3 comes
 * first, K3 sees W2; if K2 comes first, W4 sees K1.
 * Proof, light: the heavy barrier at W3 puts a full barrier B into the
 * waker's instruction stream, between two of its instructions, and returns
 * only after B (W2 is globally visible before it starts). If B falls before
 * K3, K3 is after B and so sees W2. If B falls after K3, K1 (before K3 in
 * program order, and the compiler barrier keeps it there) was made visible
 * by B, so W4 sees it. So in both modes K3 sees the waiter or W4 sees the
 * index. In the first case K3 sees waiting = 1 and the current target, bumps
 * wake_seq and wakes: the sleeper is asleep (woken) or not yet (W5 compares
 * wake_seq with the seq read at W1, before W2, so the bump is seen and it
 * does not sleep). Hence a waiter never sleeps through a publish, and a
 * busy side never makes a system call: it sees waiting = 0 (or a target it
 * has not reached) and returns. Unpublished (batched) progress is not
 * waited for by the waker either way: the waker's own next publish (at the
 * threshold, its next commit seeing peer.waiting, its own wait, flush or
 * close) is a K1..K3 like any other. The wait_seq test sends one wake per
 * sleep: after the bump the sleeper cannot block on the old value, so the
 * commits made while it is being scheduled back in need no system call
 * either. A waiter takes its count back out of waiting when it returns (a
 * counter, because the mobj_ring_fd() helper thread may wait at the same
 * time, ring_fd.c); a stale nonzero value only costs a spare wake.
 * N consumers (ring_multi.c). Each consumer runs W1..W5 against pctl as
 * an SPSC consumer does, announcing in its own page; every publish of a
 * 1:N producer (peer_waiting points at a local 1: inline commits, flush,
 * close, the publish before it waits) is followed by K3 for every live
 * consumer, each pairing with that consumer's W3 exactly as above, so
 * the proof holds per consumer: K3 sees consumer i's announcement or its
 * W4 sees the index. One bump of wake_seq serves all: a consumer that read
 * the old value at W1 cannot sleep on it after the bump, and on Linux the
 * one FUTEX_WAKE that follows reaches every sleeper on the word. With two
 * or more consumers a deferrable commit (f.fan) reads each consumer's
 * polling, waiting and wait_target first, and defers unless publishing
 * now reaches a target; a deferral is not a publish, so it needs no K3,
 * and the deferred bytes reach the consumers with the producer's next
 * publish, which is a K1..K3 like any other (as in SPSC: the threshold,
 * a later commit that sees a waiter, its own wait, flush or close).
 * Everything the peer writes here (waiting, polling, targets, sequences,
 * its flags) only decides whether and how we make a wake-up call: a lie
 * costs the liar a slice of latency or us a system call, never memory
 * safety; and since sleeps are sliced, even a wake-up lost to a lie (or to
 * a failed membarrier) delays a waiter by at most one slice.
 *
 * Peer death. close() sets closed and wakes unconditionally. A process that
 * dies without closing cannot wake anyone, so sleeps are sliced and, after a
 * slice that ended without a wake, the backend is asked whether the peer
 * process still lives (Linux: a pidfd on the pid the peer sent at set-up;
 * Darwin: the semaphore the peer created dies with it, which also ends the
 * sleep at once). Once the peer is closed or dead, the consumer re-reads
 * the tail (final now) and gets -EPIPE only when fewer than the wanted
 * bytes remain; the producer gets -EPIPE at once.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "internal.h"
#include "ring_layout.h"
#include "ring_internal.h"

/* Mark the end broken (-EPROTO from now on). */
static int broken(struct mobj_ring *r)
{
	r->broken = true;
	mobj__ring_refresh(r);
	return -EPROTO;
}

/* Consumer of a 1:N ring: the tail and the producer's oldest intact
 * index (ring_multi.c). The tail may run ahead of our head by more than
 * the capacity (we were lapped); it may not run ahead of oldest by more,
 * nor oldest ahead of it (oldest is stored before the tail that follows:
 * re-read the tail when a stale one is behind). A lap moves our head to
 * oldest, publishes it, and leaves -EOVERFLOW for the next data call. */
int mobj__ring_multi_load(struct mobj_ring *r, uint64_t *out)
{
	const struct mobj__ring_ctl *p = r->peer;
	uint64_t v = atomic_load_explicit(&p->index, memory_order_acquire);
	uint64_t o = atomic_load_explicit(&p->oldest, memory_order_acquire);

	if (o > v)
		v = atomic_load_explicit(&p->index, memory_order_acquire);
	if (v < r->f.peer_seen || o > v || v - o > r->f.cap)
		return broken(r);
	if (o > r->f.pos) {
		r->f.pos = o;
		r->f.off = o % r->f.cap;
		r->f.in_record = 0;
		r->lapped = true;
		r->f.peer_seen = v;
		mobj_ring__publish(&r->f, r, 1);
	}
	r->f.peer_seen = v;
	*out = v;
	return 0;
}

/* Load the peer's index and validate it against the invariant. */
static int load_peer(struct mobj_ring *r, uint64_t *out)
{
	uint64_t v;

	if (r->seqlock)
		return mobj__ring_multi_load(r, out);
	v = atomic_load_explicit(&r->peer->index, memory_order_acquire);
	if (v < r->f.peer_seen)
		return broken(r);
	if (r->producer ? v > r->f.pos : v - r->f.pos > r->f.cap)
		return broken(r);
	r->f.peer_seen = v;
	*out = v;
	return 0;
}

/* Whether the peer's index reached @target (*@reached), or a negative
 * errno: -EPIPE when it never will, -EPROTO. */
static int peer_reached(struct mobj_ring *r, uint64_t target, bool *reached)
{
	uint64_t v;
	int err;

	err = load_peer(r, &v);
	if (err < 0)
		return err;
	*reached = v >= target;
	if (*reached ||
	    (!r->peer_dead && !(r->notify && mobj__ring_notify_dead(r)) &&
	     !atomic_load_explicit(&r->peer->closed, memory_order_acquire)))
		return 0;
	/* The peer will not move again: its index is final now (closed was
	 * stored after it, and acquired above). */
	err = load_peer(r, &v);
	if (err < 0)
		return err;
	*reached = v >= target;
	return *reached ? 0 : -EPIPE;
}

uint32_t mobj__ring_announce_wait(struct mobj_ring *r, uint64_t target)
{
	uint32_t seq;

	seq = atomic_load_explicit(&r->peer->wake_seq, memory_order_acquire);
	atomic_store_explicit(&r->own->wait_seq, seq, memory_order_relaxed);
	atomic_store_explicit(&r->own->wait_target, target, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->own->waiting, 1, memory_order_seq_cst);
	/* W3: the peer publishes with no fence when light. */
	if (r->f.fence)
		atomic_thread_fence(memory_order_seq_cst);
	else
		mobj__os_barrier_heavy();
	return seq;
}

/* K3 after a publish that saw the peer waiting: wake it if it waits for
 * what we published. */
void mobj_ring_slow_wake(struct mobj_ring *r)
{
	if (!r || !r->connected)
		return;
	if (r->m) {
		mobj__ring_multi_wake(r);
		return;
	}
	/* One wake per sleep: once wake_seq moved past what the sleeper saw,
	 * its futex wait cannot block, so further wakes would be wasted. */
	if (r->f.published >= atomic_load_explicit(&r->peer->wait_target,
	                                           memory_order_relaxed) &&
	    atomic_load_explicit(&r->peer->wait_seq, memory_order_relaxed) ==
	    atomic_load_explicit(&r->own->wake_seq, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&r->own->wake_seq, 1,
		                          memory_order_release);
		mobj__os_waker_wake(&r->waker, (uint32_t *)&r->own->wake_seq);
		if (r->pev_set && atomic_load_explicit(&r->peer->armed,
		                                       memory_order_relaxed))
			mobj__os_pevent_signal(&r->pev);
		r->stats.wakes++;
	}
}

/* Spin a little re-reading the peer's index, telling a batching peer that
 * we do (so it publishes at once). */
static int spin_peer(struct mobj_ring *r, uint64_t target, bool *reached)
{
	bool poll = atomic_load_explicit(&r->peer->batching,
	                                 memory_order_relaxed) != 0;
	int i, err = 0;

	if (poll)
		atomic_store_explicit(&r->own->polling, 1, memory_order_relaxed);
	for (i = 0; i < MOBJ__RING_SPINS; i++) {
		mobj__cpu_relax();
		err = peer_reached(r, target, reached);
		if (err < 0 || *reached)
			break;
	}
	if (poll)
		atomic_store_explicit(&r->own->polling, 0, memory_order_relaxed);
	if (err == 0 && *reached)
		r->stats.spins++;
	return err;
}

/* One sliced sleep's aftermath: learn whether the peer died. */
static void after_sleep(struct mobj_ring *r, int rc)
{
	if (rc == -EPIPE) {
		r->peer_dead = true;
	} else if (rc == -ETIMEDOUT) {
		/* A dead peer never wakes us: ask only after a silent slice. */
		r->stats.peer_checks++;
		if (!mobj__os_waker_peer_alive(&r->waker))
			r->peer_dead = true;
	}
	if (r->peer_dead)
		mobj__ring_refresh(r);
}

/* W1..W5 until the peer's index reaches @target (see the design block). */
static int sleep_peer(struct mobj_ring *r, uint64_t target, int timeout_ms)
{
	uint64_t start = 0;
	uint32_t seq;
	bool reached;
	int err, slice, rc;

	if (timeout_ms > 0)
		start = mobj__os_clock_ns();
	for (;;) {
		seq = mobj__ring_announce_wait(r, target);
		err = peer_reached(r, target, &reached);
		if (err < 0 || reached)
			break;
		slice = MOBJ__OS_WAKER_SLICE_MS;
		if (timeout_ms > 0) {
			int left = mobj__time_left(timeout_ms, start);

			if (left == 0) {
				err = -ETIMEDOUT;
				break;
			}
			if (left < slice)
				slice = left;
		}
		r->stats.sleeps++;
		rc = mobj__os_waker_wait(&r->waker,
		                         (const uint32_t *)&r->peer->wake_seq,
		                         seq, slice);
		atomic_fetch_sub_explicit(&r->own->waiting, 1,
		                          memory_order_relaxed);
		after_sleep(r, rc);
		/* Look before announcing again: the heavy barrier is the price
		 * of going to sleep, and must not delay a wake-up. */
		err = peer_reached(r, target, &reached);
		if (err < 0 || reached)
			return err;
	}
	atomic_fetch_sub_explicit(&r->own->waiting, 1, memory_order_relaxed);
	return err;
}

void mobj__ring_disarm(struct mobj_ring *r)
{
	if (!r->armed)
		return;
	r->armed = false;
	atomic_store_explicit(&r->own->armed, 0, memory_order_relaxed);
	atomic_fetch_sub_explicit(&r->own->waiting, 1, memory_order_relaxed);
	mobj__ring_refresh(r);
}

/* A call with timeout 0 found too little, and mobj_ring_fd() is in use:
 * register in our page as a waiter (W1..W4, nobody sleeps) so that the
 * peer's next publish that reaches @target signals our peer event. Clear
 * the event first, so it polls readable only for news after this. 0 when
 * W4 finds the target reached after all. */
static int arm(struct mobj_ring *r, uint64_t target)
{
	bool reached;
	int err;

	if (mobj__os_pevent_drain(&r->pev) == -EPIPE) {
		/* Every copy of the peer's half is closed: its process is
		 * gone (or it closed the ring). Its index is final. */
		r->peer_dead = true;
		mobj__ring_refresh(r);
		err = peer_reached(r, target, &reached);
		return err;
	}
	atomic_store_explicit(&r->own->armed, 1, memory_order_relaxed);
	(void)mobj__ring_announce_wait(r, target);
	r->armed = true;
	mobj__ring_refresh(r);
	err = peer_reached(r, target, &reached);
	if (err < 0 || reached) {
		mobj__ring_disarm(r);
		return err;
	}
	return -EAGAIN;
}

/* Wait until the peer's index reaches @target. */
static int wait_peer(struct mobj_ring *r, uint64_t target, int timeout_ms)
{
	bool reached;
	int err;

	mobj__ring_disarm(r);

	/* Never wait with progress of our own unpublished: the peer may be
	 * waiting for it. */
	if (r->f.published != r->f.pos)
		mobj_ring__publish(&r->f, r, 1);
	err = peer_reached(r, target, &reached);
	if (err < 0 || reached)
		return err;
	if (timeout_ms == 0) {
		if (r->fd_used)
			return arm(r, target);
		if (r->notify)
			mobj__ring_notify_arm(r, target);
		return -EAGAIN;
	}
	err = spin_peer(r, target, &reached);
	if (err < 0 || reached)
		return err;
	return sleep_peer(r, target, timeout_ms);
}

/* 0 when @r is a connected, unbroken end. */
static int check_end(const struct mobj_ring *r)
{
	if (!r)
		return -EINVAL;
	if (!r->connected)
		return -ENOTCONN;
	if (r->broken)
		return -EPROTO;
	return 0;
}

/* The entry checks every data call shares: 0 when @r is a connected,
 * unbroken end of the right side. */
static int check_data_call(const struct mobj_ring *r, bool producer,
                           int timeout_ms)
{
	if (!r || r->producer != producer || mobj__bad_timeout(timeout_ms))
		return -EINVAL;
	return check_end(r);
}

int mobj_ring_flush(struct mobj_ring *r)
{
	int err = check_end(r);

	if (err < 0)
		return err;
	if (r->f.published != r->f.pos)
		mobj_ring__publish(&r->f, r, 1);
	return 0;
}

int mobj_ring_set_batch(struct mobj_ring *r, size_t bytes)
{
	if (!r || bytes > r->f.cap)
		return -EINVAL;
	r->f.batch = bytes;
	atomic_store_explicit(&r->own->batching, bytes != 0,
	                      memory_order_relaxed);
	if (bytes == 0 && r->connected && !r->broken &&
	    r->f.published != r->f.pos)
		mobj_ring__publish(&r->f, r, 1);
	return 0;
}

/* ---- Producer ------------------------------------------------------------ */

int mobj_ring_slow_reserve(struct mobj_ring *r, size_t n, int timeout_ms,
                           void **p)
{
	int err = check_data_call(r, true, timeout_ms);

	if (err < 0)
		return err;
	if (r->m)
		return mobj__ring_multi_reserve(r, n, timeout_ms, p);
	mobj__ring_disarm(r);
	if (!p)
		return -EINVAL;
	if (n > r->f.cap)
		return -EMSGSIZE;
	if (r->peer_dead ||
	    atomic_load_explicit(&r->peer->closed, memory_order_relaxed))
		return -EPIPE;
	if (r->f.pos + n - r->f.peer_seen > r->f.cap) {
		err = wait_peer(r, r->f.pos + n - r->f.cap, timeout_ms);
		if (err < 0)
			return err;
	}
	r->f.reserved = n;
	r->f.in_record = 0;
	*p = r->f.data + r->f.off;
	return 0;
}

/* The copying producer calls: reserve (a span or a record), copy, commit. */
static ssize_t copy_in(struct mobj_ring *r, const void *p, size_t n,
                       int timeout_ms, bool record)
{
	void *dst;
	int err;

	if (!p && n > 0)
		return -EINVAL;
	err = record ? mobj_ring_reserve_record(r, n, timeout_ms, &dst) :
	               mobj_ring_reserve(r, n, timeout_ms, &dst);
	if (err < 0)
		return err;
	if (n > 0)
		memcpy(dst, p, n);
	if (record)
		mobj_ring_commit_record(r, n);
	else
		mobj_ring_commit(r, n);
	return (ssize_t)n;
}

ssize_t mobj_ring_write(struct mobj_ring *r, const void *p, size_t n,
                        int timeout_ms)
{
	return copy_in(r, p, n, timeout_ms, false);
}

int mobj_ring_reserve_record(struct mobj_ring *r, size_t len, int timeout_ms,
                             void **p)
{
	void *dst;
	int err = check_data_call(r, true, timeout_ms);

	if (err < 0)
		return err;
	if (!p)
		return -EINVAL;
	if (len > r->record_max)
		return -EMSGSIZE;
	r->rec_next = true;
	err = mobj_ring_reserve(r, (size_t)mobj__ring_record_total(len),
	                        timeout_ms, &dst);
	r->rec_next = false; /* the inline path leaves it set */
	if (err < 0)
		return err;
	r->f.in_record = 1;
	r->record_len = len;
	*p = (char *)dst + MOBJ_RING_RECORD_HEADER;
	return 0;
}

int mobj_ring_commit_record(struct mobj_ring *r, size_t len)
{
	unsigned char h[MOBJ_RING_RECORD_HEADER] = {
		(unsigned char)len, (unsigned char)(len >> 8),
		(unsigned char)(len >> 16), (unsigned char)(len >> 24), 0, 0, 0, 0
	};

	if (!r || !r->producer || !r->f.in_record || len > r->record_len)
		return -EINVAL;
	/* Bytes, little endian: a ring that mixed plain bytes in is not
	 * 8-byte aligned. */
	memcpy(r->f.data + r->f.off, h, sizeof(h));
	return mobj_ring_commit(r, (size_t)mobj__ring_record_total(len));
}

ssize_t mobj_ring_write_record(struct mobj_ring *r, const void *p, size_t len,
                               int timeout_ms)
{
	return copy_in(r, p, len, timeout_ms, true);
}

/* 1:N consumer, after reading bytes from our head on (the seqlock's read
 * side, ring_multi.c): 0 when none of them was overwritten; otherwise move
 * to the oldest intact data and return -EOVERFLOW (this lap reported). */
static int overwritten(struct mobj_ring *r)
{
	uint64_t v;
	int err;

	if (!r->seqlock || r->broken)
		return 0;
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&r->peer->oldest, memory_order_relaxed) <=
	    r->f.pos)
		return 0;
	err = load_peer(r, &v);
	if (err < 0)
		return err;
	r->lapped = false;
	r->f.in_record = 0;
	return -EOVERFLOW;
}

/* ---- Consumer ------------------------------------------------------------ */

int mobj_ring_slow_peek(struct mobj_ring *r, size_t min, int timeout_ms,
                        const void **p, size_t *avail)
{
	uint64_t tail;
	int err = check_data_call(r, false, timeout_ms);

	if (err < 0)
		return err;
	mobj__ring_disarm(r);
	if (!p || !avail)
		return -EINVAL;
	if (min == 0)
		min = 1;
	if (min > r->f.cap)
		return -EMSGSIZE;
	r->f.in_record = 0;
	/* What we already know of the tail may cover the request: then the
	 * producer's cache line stays where it is (the producer writes it for
	 * every commit; loading it per message moves it across cores). */
	if (r->f.peer_seen - r->f.pos < min) {
		err = load_peer(r, &tail);
		if (err < 0)
			return err;
		if (tail - r->f.pos < min) {
			err = wait_peer(r, r->f.pos + min, timeout_ms);
			if (err < 0)
				return err;
		}
	}
	if (r->lapped) {
		r->lapped = false;
		return -EOVERFLOW;
	}
	*p = r->f.data + r->f.off;
	*avail = (size_t)(r->f.peer_seen - r->f.pos);
	return 0;
}

ssize_t mobj_ring_read(struct mobj_ring *r, void *p, size_t cap, int timeout_ms)
{
	const void *src;
	size_t avail;
	int err;

	if (!p || cap == 0)
		return -EINVAL;
	err = mobj_ring_peek(r, 1, timeout_ms, &src, &avail);
	if (err < 0)
		return err;
	if (avail > cap)
		avail = cap;
	memcpy(p, src, avail);
	err = mobj_ring_consume(r, avail);
	return err < 0 ? err : (ssize_t)avail;
}

int mobj_ring_peek_record(struct mobj_ring *r, int timeout_ms, const void **p,
                          size_t *len)
{
	const volatile unsigned char *h;
	const void *src;
	size_t avail;
	uint32_t n;
	int err;

	if (!p || !len)
		return -EINVAL;
	err = mobj_ring_peek(r, MOBJ_RING_RECORD_HEADER, timeout_ms, &src,
	                     &avail);
	if (err < 0)
		return err;
	/* The producer may rewrite the header under us: read it once, byte
	 * by byte (it is unaligned if plain bytes were mixed in). */
	h = src;
	n = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
	    (uint32_t)h[3] << 24;
	/* The 4 bytes after the length are zero: read as one 64-bit length,
	 * a header is never more than 32 bits. */
	if ((h[4] | h[5] | h[6] | h[7]) != 0 || n > r->record_max ||
	    mobj__ring_record_total(n) > avail) {
		/* Overwritten under us (1:N), or a lie. */
		err = overwritten(r);
		return err < 0 ? err : broken(r);
	}
	r->f.in_record = 1;
	r->record_len = n;
	*p = (const char *)src + MOBJ_RING_RECORD_HEADER;
	*len = n;
	return 0;
}

int mobj_ring_slow_consume(struct mobj_ring *r, size_t n)
{
	int err;

	if (!r || r->producer || n > r->f.peer_seen - r->f.pos)
		return -EINVAL;
	if (n > 0) {
		err = overwritten(r);
		if (err < 0)
			return err;
	}
	return mobj_ring__advance(&r->f, r, n);
}

int mobj_ring_consume_record(struct mobj_ring *r)
{
	uint64_t n;

	if (!r || r->producer || !r->f.in_record)
		return -EINVAL;
	n = mobj__ring_record_total(r->record_len);
	return mobj_ring_consume(r, (size_t)n);
}

ssize_t mobj_ring_read_record(struct mobj_ring *r, void *p, size_t cap,
                              int timeout_ms)
{
	const void *src;
	size_t len;
	int err;

	if (!p && cap > 0)
		return -EINVAL;
	err = mobj_ring_peek_record(r, timeout_ms, &src, &len);
	if (err < 0)
		return err;
	if (len > cap)
		return -EMSGSIZE;
	if (len > 0)
		memcpy(p, src, len);
	err = mobj_ring_consume_record(r);
	return err < 0 ? err : (ssize_t)len;
}

/* ---- Fill level and partial writes -------------------------------------- */

ssize_t mobj_ring_available(struct mobj_ring *r)
{
	uint64_t v;
	int err = check_end(r);

	if (err < 0)
		return err;
	if (r->m)
		return mobj__ring_multi_available(r);
	err = load_peer(r, &v);
	if (err < 0)
		return err;
	if (r->producer) {
		if (r->peer_dead ||
		    atomic_load_explicit(&r->peer->closed, memory_order_acquire))
			return -EPIPE;
		return (ssize_t)(r->f.cap - (r->f.pos - v));
	}
	if (v == r->f.pos) {
		/* Closed is stored after the final index: re-read. */
		if (!r->peer_dead &&
		    !atomic_load_explicit(&r->peer->closed, memory_order_acquire))
			return 0;
		err = load_peer(r, &v);
		if (err < 0)
			return err;
		if (v == r->f.pos)
			return -EPIPE;
	}
	return (ssize_t)(v - r->f.pos);
}

ssize_t mobj_ring_write_some(struct mobj_ring *r, const void *p, size_t n,
                             int timeout_ms)
{
	uint64_t v;
	size_t room;
	void *dst;
	int err = check_data_call(r, true, timeout_ms);

	if (err < 0)
		return err;
	if (!p && n > 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	/* What we know of the head may understate the room: look again
	 * (a 1:N producer looks in its reserve). */
	if (!r->m && n > r->f.cap - (r->f.pos - r->f.peer_seen)) {
		err = load_peer(r, &v);
		if (err < 0)
			return err;
	}
	err = mobj_ring_reserve(r, 1, timeout_ms, &dst);
	if (err < 0)
		return err;
	room = (size_t)(r->f.cap - (r->f.pos - r->f.peer_seen));
	if (n > room)
		n = room;
	/* A 1:N producer marks what the whole span overwrites. */
	if (r->m) {
		err = mobj_ring_reserve(r, n, 0, &dst);
		if (err < 0)
			return err;
	}
	memcpy(dst, p, n);
	r->f.reserved = n;
	mobj_ring_commit(r, n);
	return (ssize_t)n;
}
