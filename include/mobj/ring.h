/*
 * mobj ring: a single-producer/single-consumer byte ring over a mirrored
 * memory object, between two threads or two processes.
 *
 * The data object is mapped twice back to back on both sides, so every
 * reservation and every readable span is contiguous: a record is never split
 * at the wrap, and the zero-copy calls (reserve/commit, peek/consume) hand
 * out plain pointers into the shared pages.
 *
 * Least privilege: the producer alone can write the data and its own index;
 * the consumer maps both read-only (frozen objects, enforced by the kernel).
 * The consumer's index lives in an object the consumer creates and freezes,
 * so the producer maps it read-only and can never write it. Each side
 * validates the other's index before using it: an impossible value
 * (backwards, or beyond the capacity) is -EPROTO, never an access outside
 * the ring.
 *
 * Blocking calls take timeout_ms: 0 never blocks (-EAGAIN when the call
 * would wait), -1 waits forever, a positive value waits at most that long
 * (-ETIMEDOUT); any other negative value is -EINVAL. A side spins briefly,
 * then sleeps; the other side makes a system call to wake it only when it
 * has published that it sleeps, so a busy pair makes no system call per
 * message (see mobj_ring_stats()).
 *
 * Peer death: when the peer closes its end, or its process dies, a waiting
 * side wakes (within about 100 ms for a death without close), the consumer
 * first reads everything committed before, then gets -EPIPE. What "its
 * process" is: the process that called mobj_ring_send() or
 * mobj_ring_recv(). Linux: each side passes the other a pidfd of itself
 * during the set-up (Linux 5.3 or later), so this holds across PID
 * namespaces (a container, a sandbox) in both directions, and a pid reused
 * later cannot fool it. Without pidfds (older kernels, or pidfd_open
 * refused by a seccomp profile, EPERM or ENOSYS) the peer's pid as the
 * kernel reports it with the set-up's last message is polled instead
 * (through /proc where mounted, else kill(pid, 0): an unreaped zombie then
 * looks alive); a peer whose pid is not visible in this PID namespace is
 * then not watched, and only its close is seen, never its death. Darwin:
 * the peer's semaphores die with it. A peer that exec()s without closing
 * its end is not dead: its end stays open until that process exits.
 *
 * Without /proc (a chroot, a sandbox) rings work the same: the frozen
 * objects are enforced by their seals alone (see mobj_readonly()).
 *
 * fork(): a ring end belongs to the process that connected it (created and
 * sent it, received it, or called mobj_ring_consumer()). A child that
 * inherits an end must not use it (two producers or two consumers break
 * the ring); it may only mobj_ring_close() its copy, which frees the
 * child's memory and descriptors and leaves the ring alone: it neither
 * marks the end closed nor touches the parent's mobj_ring_fd() helper
 * (which stays in the parent). A child that simply exits does nothing to
 * the ring either. The peer keeps watching the process that connected the
 * end, not its children.
 *
 * A handle is process-local and used by one thread at a time; the two ends
 * may be used from two threads of one process (mobj_ring_consumer()).
 */
#ifndef MOBJ_RING_H
#define MOBJ_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "object.h"
#include "chan.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One end of a ring (producer or consumer). Opaque and process-local. */
struct mobj_ring;

/** Bytes a record takes in the ring besides its payload (the header). */
#define MOBJ_RING_RECORD_HEADER 8u

/**
 * Create a ring and return its producer end. Nothing is connected yet: pass
 * it to mobj_ring_send() (another process) or mobj_ring_consumer() (this
 * process) before producing; until then the data calls return -ENOTCONN.
 *
 * @param capacity  bytes; rounded up to mobj_page_size(). One page is fine.
 * @return 0, or -EINVAL (producer NULL, capacity 0 or too large), -ENOMEM,
 *         -EMFILE, -ENFILE, -ENOSPC.
 */
MOBJ_EXPORT int mobj_ring_create(size_t capacity, struct mobj_ring **producer);

/**
 * Get the consumer end of an unconnected ring in this process, for a
 * thread. The consumer maps the data and the producer's index read-only,
 * exactly as a consumer in another process does.
 *
 * @return 0, or -EINVAL (NULL argument, not a producer, already connected),
 *         -ENOMEM, -EMFILE, -ENFILE.
 */
MOBJ_EXPORT int mobj_ring_consumer(struct mobj_ring *producer,
                                   struct mobj_ring **consumer);

/**
 * Connect the unconnected @p producer to a consumer in the process at the
 * other end of channel @p c, which calls mobj_ring_recv(). Sends the
 * read-only data and producer-index objects, then waits for the consumer's
 * own (frozen) index object. Uses the channel exclusively until it returns;
 * the channel may be closed afterwards (peer death is then noticed by the
 * pidfd the consumer passed, see "Peer death" above).
 *
 * @param timeout_ms  bounds the whole set-up: every send and receive of
 *                    it (the sends, the consumer's answer and the exchange
 *                    that follows) gets what is left of it, so a consumer
 *                    that stops reading cannot hold the call longer (0:
 *                    -ETIMEDOUT unless the answer is already there and
 *                    there is room; -1: forever).
 * @return 0, or -EINVAL (NULL, not a producer, already connected), the
 *         errors of mobj_send() and mobj_recv() (-EPIPE, -ETIMEDOUT, ...),
 *         -EPROTO (the answer is not a valid consumer index object; the ring
 *         stays unconnected). A failure in the last step (the two sides
 *         learning how to watch each other's death; -EPROTO there when the
 *         consumer passed something that is not a pidfd of itself) leaves
 *         the ring connected with the consumer counted as gone (-EPIPE):
 *         close it.
 *         A consumer that dies during set-up gives -EPIPE, or 0 and then
 *         -EPIPE from the ring.
 */
MOBJ_EXPORT int mobj_ring_send(struct mobj_chan *c, struct mobj_ring *producer,
                               int timeout_ms);

/**
 * Receive a ring sent with mobj_ring_send() and return its consumer end.
 * Validates everything received (magic, version, sizes, read-only seals),
 * creates the consumer's index object, freezes it and sends it back.
 * @p timeout_ms bounds the whole set-up, as in mobj_ring_send().
 *
 * @return 0, or -EINVAL (NULL argument), the errors of mobj_recv() and
 *         mobj_send(), -EPROTO (what arrived is not a valid ring), -ENOMEM.
 */
MOBJ_EXPORT int mobj_ring_recv(struct mobj_chan *c, int timeout_ms,
                               struct mobj_ring **consumer);

/** The capacity in bytes (a multiple of mobj_page_size()); 0 for NULL. */
MOBJ_EXPORT size_t mobj_ring_capacity(const struct mobj_ring *r);

/**
 * Producer: wait until @p n bytes are free and return them, contiguous and
 * writable, in @p *p. Nothing is visible to the consumer until
 * mobj_ring_commit(). Reserving again replaces the reservation.
 *
 * @return 0, or
 *  -EINVAL    NULL argument, not a producer, bad timeout;
 *  -ENOTCONN  no consumer attached yet;
 *  -EMSGSIZE  n > capacity;
 *  -EAGAIN    timeout 0 and not enough room;  -ETIMEDOUT;
 *  -EPIPE     the consumer closed its end or died;
 *  -EPROTO    the consumer's index is impossible (the ring is then dead:
 *             every later call returns -EPROTO).
 */
MOBJ_EXPORT int mobj_ring_reserve(struct mobj_ring *r, size_t n, int timeout_ms,
                                  void **p);

/**
 * Producer: publish the first @p n bytes of the current reservation (release
 * ordering: the bytes are visible before the index). Ends the reservation.
 * Wakes the consumer only if it sleeps waiting for this much.
 * @return 0, or -EINVAL (NULL, not a producer, n larger than reserved).
 */
MOBJ_EXPORT int mobj_ring_commit(struct mobj_ring *r, size_t n);

/**
 * Consumer: wait until at least @p min bytes are readable (min 0 counts as
 * 1) and return the readable bytes, contiguous, in @p *p / @p *avail. The
 * producer's index is read again only when what the consumer last saw of it
 * does not cover @p min, so *avail (>= min) may be less than what has been
 * committed by now: a busy consumer then makes no cross-core read per
 * message. The
 * pages are read-only. A hostile producer can still change bytes it has
 * committed while you read them: copy (mobj_ring_read()) what must be
 * stable.
 *
 * @return 0, or
 *  -EINVAL    NULL argument, not a consumer, bad timeout;
 *  -EMSGSIZE  min > capacity;
 *  -EAGAIN    timeout 0 and fewer than min bytes;  -ETIMEDOUT;
 *  -EPIPE     the producer closed or died and fewer than min bytes remain;
 *  -EPROTO    the producer's index is impossible (sticky).
 */
MOBJ_EXPORT int mobj_ring_peek(struct mobj_ring *r, size_t min, int timeout_ms,
                               const void **p, size_t *avail);

/**
 * Consumer: release the first @p n readable bytes to the producer. n may be
 * at most the readable amount last returned by mobj_ring_peek() (less what
 * was consumed since).
 * @return 0, or -EINVAL (NULL, not a consumer, n too large).
 */
MOBJ_EXPORT int mobj_ring_consume(struct mobj_ring *r, size_t n);

/**
 * Producer: copy @p n bytes in, all or nothing (waits for room for all of
 * them), and commit them.
 * @return n, or the errors of mobj_ring_reserve() (-EINVAL also for p NULL
 *         with n > 0).
 */
MOBJ_EXPORT ssize_t mobj_ring_write(struct mobj_ring *r, const void *p,
                                    size_t n, int timeout_ms);

/**
 * Consumer: wait for at least 1 byte, copy out what is readable up to
 * @p cap bytes, and consume it.
 * @return the count (1..cap), or the errors of mobj_ring_peek() (-EINVAL
 *         also for p NULL or cap 0).
 */
MOBJ_EXPORT ssize_t mobj_ring_read(struct mobj_ring *r, void *p, size_t cap,
                                   int timeout_ms);

/**
 * Records: length-prefixed messages on top of the byte ring. A record is a
 * MOBJ_RING_RECORD_HEADER-byte header (uint32 length, little endian, then
 * 4 zero bytes) followed by the payload, padded to a multiple of 8 bytes,
 * so every header and payload is 8-byte aligned. A record is never split:
 * the mirror makes each one contiguous. Do not mix records and plain bytes
 * on one ring (it works, but payloads lose their alignment, and a consumer
 * reading records where bytes were written gets -EPROTO or garbage
 * records). The largest payload is mobj_ring_record_max().
 */
MOBJ_EXPORT size_t mobj_ring_record_max(const struct mobj_ring *r);

/**
 * Producer: reserve room for a record of @p len payload bytes and return the
 * payload area (8-byte aligned) in @p *p.
 * @return 0, or the errors of mobj_ring_reserve() (-EMSGSIZE when len >
 *         mobj_ring_record_max()).
 */
MOBJ_EXPORT int mobj_ring_reserve_record(struct mobj_ring *r, size_t len,
                                         int timeout_ms, void **p);

/**
 * Producer: publish the reserved record with its final payload length
 * @p len (at most what was reserved).
 * @return 0, or -EINVAL (no record reserved, len larger than reserved).
 */
MOBJ_EXPORT int mobj_ring_commit_record(struct mobj_ring *r, size_t len);

/**
 * Consumer: wait for the next record and return its payload in place.
 * @return 0, or the errors of mobj_ring_peek(); -EPROTO also when the
 *         header is impossible (length beyond what the producer committed,
 *         or its 4 zero bytes are not zero).
 */
MOBJ_EXPORT int mobj_ring_peek_record(struct mobj_ring *r, int timeout_ms,
                                      const void **p, size_t *len);

/**
 * Consumer: release the record returned by the last mobj_ring_peek_record().
 * @return 0, or -EINVAL (no record peeked).
 */
MOBJ_EXPORT int mobj_ring_consume_record(struct mobj_ring *r);

/** Producer: copy one record in and commit it. @return len, or the errors of
 *  mobj_ring_reserve_record(). */
MOBJ_EXPORT ssize_t mobj_ring_write_record(struct mobj_ring *r, const void *p,
                                           size_t len, int timeout_ms);

/**
 * Consumer: copy the next record out and consume it.
 * @return its length, or the errors of mobj_ring_peek_record(); -EMSGSIZE
 *         when it is longer than @p cap (the record stays in the ring).
 */
MOBJ_EXPORT ssize_t mobj_ring_read_record(struct mobj_ring *r, void *p,
                                          size_t cap, int timeout_ms);

/** Counters of the slow paths of one ring end, for benchmarks. Every system
 *  call the data calls make after set-up is one of these (a Linux peer
 *  check without pidfds is open, read and close of /proc/PID/stat). Not
 *  counted: the mobj_ring_fd() helper thread's sleeps and checks, and the
 *  eventfd read and wake a call makes when it returns -EAGAIN with the fd
 *  armed. */
struct mobj_ring_stats {
	uint64_t sleeps; /**< sleeps waiting for the peer (one system call each) */
	uint64_t wakes;  /**< wake-ups sent to a sleeping peer (one system call each) */
	uint64_t peer_checks; /**< liveness checks of the peer (one system call each on Linux) */
	uint64_t spins;  /**< waits that ended while spinning, with no system call */
};

/** Copy the counters of @p r. @return 0, or -EINVAL. */
MOBJ_EXPORT int mobj_ring_stats(const struct mobj_ring *r,
                                struct mobj_ring_stats *out);

/**
 * A descriptor for event loops (poll, epoll, select): it polls readable
 * when the last call on this end that returned -EAGAIN (timeout 0) would
 * now succeed, or fail for good (the peer closed or died: -EPIPE; -EPROTO).
 * It starts readable; each -EAGAIN clears and re-arms it. It may poll
 * readable spuriously: call again with timeout 0 and go back to polling on
 * -EAGAIN. Owned by the ring: do not read, write or close it.
 *
 * The peer may be another process that cannot signal our descriptors, so
 * the first call starts one helper thread for this end, which sleeps the
 * way a blocking call would (same wake-up protocol: no extra system call
 * on the peer's side) and signals a local event (Linux: an eventfd).
 * mobj_ring_close() stops it (which can take up to 50 ms while the helper
 * sleeps). The helper starts with every signal blocked, so no signal the
 * application directs at the process ever runs on it. Threads do not
 * survive fork(): a child must not use an end whose helper was started
 * before the fork (closing it is fine, see above).
 *
 * @return the descriptor, or -EINVAL (NULL), -ENOTCONN (a producer with no
 *         consumer yet), -EMFILE, -ENFILE, -ENOMEM, -EAGAIN (no thread).
 */
MOBJ_EXPORT int mobj_ring_fd(struct mobj_ring *r);

/**
 * Close this end: mark it closed in its index page and wake the peer (which
 * then gets -EPIPE once it has read everything), unmap and free. Data
 * committed before stays readable by the consumer. NULL is a no-op.
 * In a forked child that inherited the end, only the child's copy is freed
 * (see fork() above).
 */
MOBJ_EXPORT void mobj_ring_close(struct mobj_ring *r);

#ifdef __cplusplus
}
#endif

#endif /* MOBJ_RING_H */
