/*
 * The mirrored SPSC ring.
 *
 * Set-up and teardown are in ring_setup.c, with the objects and who
 * writes what.
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
 * Waiting and waking (Dekker, no lost wake-up, no system call when busy).
 * A side that must wait first spins briefly re-reading the peer's index,
 * then:
 *   W1 seq = peer.wake_seq                      (acquire)
 *   W2 own.wait_seq = seq; own.wait_target = target; own.waiting += 1
 *   W3 fence(seq_cst)
 *   W4 re-check the peer's index and closed flag; done if satisfied
 *   W5 sleep on peer.wake_seq while it still equals seq (futex / semaphore),
 *      at most MOBJ__OS_WAKER_SLICE_MS, then go to W1
 * and the other side, after publishing its index (or its closed flag):
 *   K1 store index (release)
 *   K2 fence(seq_cst)
 *   K3 if peer.waiting and index >= peer.wait_target and
 *         peer.wait_seq == own.wake_seq:
 *        own.wake_seq += 1; wake
 * The two seq_cst fences are totally ordered. If W3 comes first, K3 sees
 * waiting = 1 and the current target, bumps wake_seq and wakes: the sleeper
 * either is asleep (woken) or not yet (W5 compares wake_seq with the seq read
 * at W1, which happened before W2, so the bump is seen and it does not
 * sleep). If K2 comes first, W4 sees the new index. So a waiter never sleeps
 * through progress, and a side that is busy never makes a system call: it
 * sees waiting = 0 (or a target it has not reached) and returns. The
 * wait_seq test sends one wake per sleep: after the bump the sleeper cannot
 * block on the old value, so the commits made while it is being scheduled
 * back in need no system call either. A waiter takes its count back out
 * of waiting when it returns (a counter, because the mobj_ring_fd() helper
 * thread may wait at the same time, ring_fd.c); a stale nonzero value only
 * costs a spare wake. Everything the peer writes here (waiting, targets,
 * sequences) only decides whether we make a wake-up call: a lie costs the
 * liar a slice of latency or us a system call, never memory safety.
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

/* Re-reads of the peer's index before sleeping: a few microseconds, enough
 * for a busy peer on another core to catch up. */
#define SPINS 256

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Advance our index by @n (<= cap) and its offset in the data, without a
 * division: off == pos % cap always. */
static void advance(struct mobj_ring *r, size_t n)
{
	r->pos += n;
	r->off += n;
	if (r->off >= r->cap)
		r->off -= r->cap;
}

/* Load the peer's index and validate it against the invariant. */
static int load_peer(struct mobj_ring *r, uint64_t *out)
{
	uint64_t v = atomic_load_explicit(&r->peer->index, memory_order_acquire);

	if (v < r->peer_seen)
		goto bad;
	if (r->producer ? v > r->pos : v - r->pos > r->cap)
		goto bad;
	r->peer_seen = v;
	*out = v;
	return 0;
bad:
	r->broken = true;
	return -EPROTO;
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
	atomic_thread_fence(memory_order_seq_cst);
	return seq;
}

/* Wait until the peer's index reaches @target (see the design block). */
static int wait_peer(struct mobj_ring *r, uint64_t target, int timeout_ms)
{
	uint64_t start = 0;
	uint32_t seq;
	bool reached;
	int err, i, slice, rc;

	err = peer_reached(r, target, &reached);
	if (err < 0 || reached)
		return err;
	if (timeout_ms == 0) {
		if (r->notify)
			mobj__ring_notify_arm(r, target);
		return -EAGAIN;
	}
	for (i = 0; i < SPINS; i++) {
		cpu_relax();
		err = peer_reached(r, target, &reached);
		if (err < 0)
			return err;
		if (reached) {
			r->stats.spins++;
			return 0;
		}
	}
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
		if (rc == -EPIPE) {
			r->peer_dead = true;
		} else if (rc == -ETIMEDOUT) {
			/* A dead peer never wakes us: ask only after a
			 * silent slice. */
			r->stats.peer_checks++;
			if (!mobj__os_waker_peer_alive(&r->waker))
				r->peer_dead = true;
		}
	}
	atomic_fetch_sub_explicit(&r->own->waiting, 1, memory_order_relaxed);
	return err;
}

/* Publish our index and wake the peer if it waits for this much. */
static void publish(struct mobj_ring *r)
{
	atomic_store_explicit(&r->own->index, r->pos, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	/* One wake per sleep: once wake_seq moved past what the sleeper saw,
	 * its futex wait cannot block, so further wakes would be wasted. */
	if (atomic_load_explicit(&r->peer->waiting, memory_order_relaxed) &&
	    r->pos >= atomic_load_explicit(&r->peer->wait_target,
	                                   memory_order_relaxed) &&
	    atomic_load_explicit(&r->peer->wait_seq, memory_order_relaxed) ==
	    atomic_load_explicit(&r->own->wake_seq, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&r->own->wake_seq, 1,
		                          memory_order_release);
		mobj__os_waker_wake(&r->waker, (uint32_t *)&r->own->wake_seq);
		r->stats.wakes++;
	}
}

/* ---- Producer ------------------------------------------------------------ */

/* The entry checks every data call shares: 0 when @r is a connected,
 * unbroken end of the right side. */
static int check_data_call(const struct mobj_ring *r, bool producer,
                           int timeout_ms)
{
	if (!r || r->producer != producer || mobj__bad_timeout(timeout_ms))
		return -EINVAL;
	if (!r->connected)
		return -ENOTCONN;
	if (r->broken)
		return -EPROTO;
	return 0;
}

int mobj_ring_reserve(struct mobj_ring *r, size_t n, int timeout_ms, void **p)
{
	int err = check_data_call(r, true, timeout_ms);

	if (err < 0)
		return err;
	if (!p)
		return -EINVAL;
	if (n > r->cap)
		return -EMSGSIZE;
	if (r->peer_dead ||
	    atomic_load_explicit(&r->peer->closed, memory_order_relaxed))
		return -EPIPE;
	if (r->pos + n - r->peer_seen > r->cap) {
		err = wait_peer(r, r->pos + n - r->cap, timeout_ms);
		if (err < 0)
			return err;
	}
	r->reserved = n;
	r->in_record = false;
	*p = r->data + r->off;
	return 0;
}

int mobj_ring_commit(struct mobj_ring *r, size_t n)
{
	if (!r || !r->producer || n > r->reserved)
		return -EINVAL;
	r->reserved = 0;
	r->in_record = false;
	if (n == 0)
		return 0;
	advance(r, n);
	publish(r);
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

static uint64_t record_total(uint64_t len)
{
	return MOBJ_RING_RECORD_HEADER + ((len + 7) & ~(uint64_t)7);
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
	err = mobj_ring_reserve(r, (size_t)record_total(len), timeout_ms, &dst);
	if (err < 0)
		return err;
	r->in_record = true;
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

	if (!r || !r->producer || !r->in_record || len > r->record_len)
		return -EINVAL;
	/* Bytes, little endian: a ring that mixed plain bytes in is not
	 * 8-byte aligned. */
	memcpy(r->data + r->off, h, sizeof(h));
	return mobj_ring_commit(r, (size_t)record_total(len));
}

ssize_t mobj_ring_write_record(struct mobj_ring *r, const void *p, size_t len,
                               int timeout_ms)
{
	return copy_in(r, p, len, timeout_ms, true);
}

/* ---- Consumer ------------------------------------------------------------ */

int mobj_ring_peek(struct mobj_ring *r, size_t min, int timeout_ms,
                   const void **p, size_t *avail)
{
	uint64_t tail;
	int err = check_data_call(r, false, timeout_ms);

	if (err < 0)
		return err;
	if (!p || !avail)
		return -EINVAL;
	if (min == 0)
		min = 1;
	if (min > r->cap)
		return -EMSGSIZE;
	r->in_record = false;
	/* What we already know of the tail may cover the request: then the
	 * producer's cache line stays where it is (the producer writes it for
	 * every commit; loading it per message moves it across cores). */
	if (r->peer_seen - r->pos < min) {
		err = load_peer(r, &tail);
		if (err < 0)
			return err;
		if (tail - r->pos < min) {
			err = wait_peer(r, r->pos + min, timeout_ms);
			if (err < 0)
				return err;
		}
	}
	*p = r->data + r->off;
	*avail = (size_t)(r->peer_seen - r->pos);
	return 0;
}

int mobj_ring_consume(struct mobj_ring *r, size_t n)
{
	if (!r || r->producer || !r->connected || n > r->peer_seen - r->pos)
		return -EINVAL;
	r->in_record = false;
	if (n == 0)
		return 0;
	advance(r, n);
	publish(r);
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
	mobj_ring_consume(r, avail);
	return (ssize_t)avail;
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
	    record_total(n) > avail) {
		r->broken = true;
		return -EPROTO;
	}
	r->in_record = true;
	r->record_len = n;
	*p = (const char *)src + MOBJ_RING_RECORD_HEADER;
	*len = n;
	return 0;
}

int mobj_ring_consume_record(struct mobj_ring *r)
{
	if (!r || r->producer || !r->in_record)
		return -EINVAL;
	return mobj_ring_consume(r, (size_t)record_total(r->record_len));
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
	mobj_ring_consume_record(r);
	return (ssize_t)len;
}
