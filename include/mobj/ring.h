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
 * reserve, commit, peek and consume are inline (the end of this header):
 * per message they touch only this end's state and, when this end has run
 * out of what it knows of the peer, call out of line. By default every
 * commit and consume publishes at once (a store, no fence where the system
 * allows: Linux); mobj_ring_set_batch() defers publishing like io_uring's
 * submit, mobj_ring_flush() forces it.
 *
 * Peer death: when the peer closes its end, or its process dies, a waiting
 * side wakes (within about 100 ms for a death without close), the consumer
 * first reads everything committed before, then gets -EPIPE. What "its
 * process" is: the process that called mobj_ring_send() or
 * mobj_ring_recv() (or mobj_ring_export()/mobj_ring_import()). Linux: each
 * side passes the other a pidfd of itself during the set-up (Linux 5.3 or
 * later; over the user's IPC, in struct mobj_ring_xfer), so this holds
 * across PID
 * namespaces (a container, a sandbox) in both directions, and a pid reused
 * later cannot fool it. Without pidfds (older kernels, or pidfd_open
 * refused by a seccomp profile, EPERM or ENOSYS) the peer's pid as the
 * kernel reports it with the set-up's last message (over the user's IPC:
 * as the peer claims it) is polled instead
 * (through /proc where mounted, else kill(pid, 0): an unreaped zombie then
 * looks alive); a peer whose pid is not visible in this PID namespace is
 * then not watched, and only its close is seen, never its death. Darwin:
 * the peer's semaphores die with it. A peer that exec()s without closing
 * its end is not dead: its end stays open until that process exits (on
 * Darwin it is dead: exec() runs the new image in a new task and
 * terminates the old one, its semaphores and ports with it, XNU
 * __mac_execve -> task_terminate_internal).
 *
 * Without /proc (a chroot, a sandbox) rings work the same: the frozen
 * objects are enforced by their seals alone (see mobj_readonly()).
 *
 * fork(): a ring end belongs to the process that connected it (created and
 * sent it, received it, or called mobj_ring_consumer()). A child that
 * inherits an end must not use it (two producers or two consumers break
 * the ring); it may only mobj_ring_close() its copy, which frees the
 * child's memory and descriptors and leaves the ring alone: it neither
 * marks the end closed, nor publishes what it committed or consumed
 * (batched or not), nor shuts down the descriptor mobj_ring_fd() gives
 * (Linux: the end's socket, whose file the child's copy shares), nor
 * touches the parent's mobj_ring_fd() helper thread (which stays in the
 * parent). The same holds for an exported producer that has not accepted
 * its answer yet. A child that simply exits does nothing to
 * the ring either. The peer keeps watching the process that connected the
 * end, not its children.
 *
 * A handle is process-local and used by one thread at a time; the two ends
 * may be used from two threads of one process (mobj_ring_consumer()).
 *
 * One producer, many consumers: mobj_ring_create_multi() makes a 1:N ring
 * whose consumers use the same calls (see there for what differs).
 */
#ifndef MOBJ_RING_H
#define MOBJ_RING_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "object.h"
#include "chan.h"

#ifdef __APPLE__
#include <mach/port.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** One end of a ring (producer or consumer). Process-local; opaque except
 *  for the struct mobj_ring_fast it starts with (see the end). */
struct mobj_ring;

/* reserve, commit, peek and consume are static inline functions (the fast
 * path section at the end); the library also exports each under its name,
 * for bindings and for code built with MOBJ_RING_INLINE defined to extern. */
#ifndef MOBJ_RING_INLINE
#define MOBJ_RING_INLINE static inline
#endif

/** Bytes a record takes in the ring besides its payload (the header). */
#define MOBJ_RING_RECORD_HEADER 8u

/**
 * Create a ring and return its producer end. Nothing is connected yet: pass
 * it to mobj_ring_send() (another process) or mobj_ring_consumer() (this
 * process) before producing; until then the data calls return -ENOTCONN.
 *
 * @param capacity  bytes; rounded up to mobj_page_size(). One page is fine;
 *                  for throughput, room for at least four messages and about
 *                  512 KiB to 1 MiB (bench/README.md, ring.capacity: below
 *                  256 KiB a hand-written ring moves 0.5x-0.9x of its best,
 *                  above the L2 size it falls again).
 * @return 0, or -EINVAL (producer NULL, capacity 0 or too large), -ENOMEM,
 *         -EMFILE, -ENFILE, -ENOSPC.
 */
MOBJ_EXPORT int mobj_ring_create(size_t capacity, struct mobj_ring **producer);

/** mobj_ring_create_multi() flag: the producer never waits for consumers. */
#define MOBJ_RING_OVERWRITE 1u

/**
 * Create a 1:N ring (fan-out) and return its producer end: one producer,
 * up to @p max_consumers consumers, each reading every byte through its
 * own read-only view.
 *
 * Joining. Each consumer joins with the calls of the SPSC ring, any number
 * of times on the same producer: mobj_ring_send() (one per consumer, each
 * over its own channel; the other side calls mobj_ring_recv()),
 * mobj_ring_consumer() (a consumer in this process, for a thread), and
 * mobj_ring_export()/mobj_ring_accept_answer() (each export makes a fresh
 * offer for one consumer, with its own peer event and token; its answer
 * is one more consumer). A consumer joins at the
 * producer's tail as it finds it: it reads what is committed after it
 * joined. One consumer more than @p max_consumers (counting those still
 * live) is -ENOSPC from the joining call. The producer is usable at once;
 * with no consumer it writes freely (nobody to wait for).
 *
 * Consumers use the data calls unchanged (peek/consume, read, the record
 * calls, available, fd). The producer uses reserve/commit, write, the
 * record calls, write_some, flush, available (the free space: the minimum
 * over live consumers, or the capacity with MOBJ_RING_OVERWRITE), fd and
 * mobj_ring_set_batch(). Batching publishes as in SPSC: at the batch size,
 * at flush and close, before the producer waits for room, and at once
 * when a consumer spins, or sleeps (or is armed for its descriptor)
 * waiting for bytes the commit holds back; a consumer woken already, or
 * waiting for more than was committed, does not stop the deferral. With
 * two or more live consumers each deferring commit reads every live
 * consumer's page, out of line (a program built against ring.h before
 * this release publishes every commit there, as it did: correct, no
 * gain; the benchmark ring.fanout, mobj-1:N+b, measures it). In
 * overwrite mode a reservation that moves `oldest` past the published
 * tail publishes first (a consumer takes an `oldest` ahead of the tail
 * for a lie).
 *
 * mobj_ring_fd() with no thread (Linux): each consumer, however it
 * joined, shares a peer event with the producer, as an SPSC ring's ends
 * do (an importer's came in its offer); the consumer's descriptor is its
 * half, the producer's an epoll descriptor over its halves (one per
 * consumer). A timeout-0 call that returns -EAGAIN registers (the
 * producer: as waiting for the first consumer that holds it back); the
 * descriptor then polls readable when that call would succeed, when the
 * peer (for the producer: any consumer) closes or dies, and possibly
 * spuriously. A join (or an export) that cannot make its consumer's peer
 * event fails (-EMFILE, -ENFILE, -ENOMEM; nothing is left behind) rather
 * than add a consumer the producer's descriptor would never hear from; so
 * does the producer's mobj_ring_fd() when its set cannot take every
 * consumer (the next call tries again). Darwin's producer's
 * descriptor is a kqueue watching its halves' kqueues (below).
 *
 * @p flags 0: the producer waits for the slowest live consumer (reserve
 * blocks by the timeout rules). MOBJ_RING_OVERWRITE: the producer never
 * waits; a consumer that fell a whole ring behind is *lapped*: its next
 * data call (peek, read, the record calls, or the consume of bytes it
 * peeked before the lap) returns -EOVERFLOW, exactly once per lap, having
 * moved it to the oldest intact data, at a record start when the producer
 * writes only records (the producer publishes that index, `oldest`, in its
 * control page before it overwrites anything older).
 *
 * Reading in place (a seqlock), overwrite mode: the bytes mobj_ring_peek()
 * or mobj_ring_peek_record() returns may be overwritten while the consumer
 * reads them. mobj_ring_consume() and mobj_ring_consume_record() check
 * after the reading, with an acquire fence and a load of `oldest` (a cache
 * line of its own in the producer's page), that none of the peeked bytes
 * were overwritten, and return -EOVERFLOW (consuming nothing, the consumer
 * moved on) when some may have been: act on what you read only after
 * consume returned 0, or copy with mobj_ring_read() /
 * mobj_ring_read_record(), which return -EOVERFLOW the same way. Blocking
 * mode checks only in consumers that joined with mobj_ring_import() (the
 * producer writes on, not waiting for them, until it accepts the answer;
 * an exported producer keeps `oldest`, its reserve out of line): the
 * producer never reserves bytes a consumer it knows has not consumed (one
 * it dropped as dead or lying is no longer waited for), so the others,
 * once joined, run the SPSC consumer's inline path, and a producer never
 * exported the SPSC producer's inline reserve.
 *
 * Darwin (cross-compiled, never run here): every way of joining gives
 * each consumer slot its own semaphore pair (semaphore_create per slot or
 * per offer, XNU osfmk/kern/sync_sema.c) and its own peer event (a port
 * and kqueue per slot), so the consumer's mobj_ring_fd() needs no thread;
 * per consumer because a slot destroys its semaphore when its consumer
 * departs, and semaphore_destroy ends it for every holder (a consumer's
 * death reaches the producer as KERN_TERMINATED because
 * semaphore_destroy_all runs at task teardown). The producer's
 * mobj_ring_fd() is a kqueue watching each slot's kqueue (EVFILT_READ,
 * level-triggered), no thread either. XNU orders nested kqueues by level
 * (kqueue_kqfilter): once a consumer joined, kevent() cannot add this one
 * to a kqueue of yours that is watched itself (by poll(), ever, or by
 * another kqueue) and holds no kqueue (EINVAL); poll(), select() and any
 * other kqueue take it.
 *
 * Departure and death. A consumer that closes stops holding the producer
 * back at once; one whose process dies, within about 100 ms of a producer
 * waiting for it (its pid is checked after each silent 50 ms slice);
 * neither disturbs the other consumers. In overwrite mode nobody holds the
 * producer back: a dead consumer's slot is freed when a joining call needs
 * it or mobj_ring_consumer_stats() looks at it. The producer's close or
 * death reaches every consumer: all committed data, then -EPIPE.
 *
 * Least privilege: the producer maps the data read-write, its own control
 * page read-write and each consumer's control page read-only. Each
 * consumer maps the data and the producer's page read-only and its own
 * page read-write (it creates and freezes it, as an SPSC consumer does);
 * it never maps another consumer's page, and learns nothing of the others
 * but the producer's waiting state. A consumer index that is impossible
 * (backwards or past the tail) makes the producer drop that consumer
 * (state MOBJ_RING_BROKEN in mobj_ring_consumer_stats(); the producer's
 * own calls go on), never touch memory outside the ring; in blocking mode a consumer that lies
 * ahead only loses its own data (the producer waits for the honest ones),
 * and one that lies behind (or stops reading) holds the producer as a slow
 * consumer does: that is what flag 0 asks for; use a timeout, or
 * MOBJ_RING_OVERWRITE, when a consumer may not be trusted to keep up.
 * As with an SPSC peer, a consumer that claims to sleep can cost the
 * producer a wake-up (a system call) per commit, nothing more.
 *
 * @return 0, or -EINVAL (producer NULL, capacity 0 or too large,
 *         max_consumers 0 or above 1024, unknown flags), -ENOMEM, -EMFILE,
 *         -ENFILE, -ENOSPC.
 */
MOBJ_EXPORT int mobj_ring_create_multi(size_t capacity, unsigned max_consumers,
                                       unsigned flags,
                                       struct mobj_ring **producer);

/** A consumer slot's state (mobj_ring_consumer_stats()). */
#define MOBJ_RING_LIVE 1   /**< joined and reading */
#define MOBJ_RING_CLOSED 2 /**< closed its end */
#define MOBJ_RING_DEAD 3   /**< its process died */
#define MOBJ_RING_BROKEN 4 /**< published an impossible index: dropped */

/** What the producer of a 1:N ring knows of one consumer. */
struct mobj_ring_consumer_stats {
	uint64_t head;   /**< bytes consumed, as the producer last saw */
	uint64_t lag;    /**< the producer's tail minus head */
	uint64_t waits;  /**< producer sleeps waiting for it (blocking mode) */
	int state;       /**< MOBJ_RING_LIVE, _CLOSED, _DEAD or _BROKEN */
	int pid;         /**< its process, 0 in this process or unknown */
};

/**
 * Producer of a 1:N ring: the state of consumer slot @p i (0 ..
 * max_consumers - 1). A departed consumer's slot keeps its last state
 * until another consumer joins in its place. mobj_ring_stats() on the
 * producer gives the totals (its sleeps, the wakes it sent, its checks).
 * Refreshes what it reports (reads each consumer's index, and checks the
 * consumer's process when @p i is the one asked).
 * @return 0, or -EINVAL (NULL, not a 1:N producer, i out of range),
 *         -ENOENT (no consumer ever joined in slot i).
 */
MOBJ_EXPORT int mobj_ring_consumer_stats(struct mobj_ring *producer,
                                         unsigned i,
                                         struct mobj_ring_consumer_stats *out);

/**
 * Get the consumer end of an unconnected ring in this process, for a
 * thread. The consumer maps the data and the producer's index read-only,
 * exactly as a consumer in another process does.
 *
 * @return 0, or -EINVAL (NULL argument, not a producer, already connected),
 *         -ENOMEM, -EMFILE, -ENFILE; -ENOSPC (a 1:N ring with
 *         max_consumers live consumers; it may be called any time).
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
 *         -EPIPE from the ring. 1:N ring: any number of times, one
 *         consumer each; -ENOSPC when max_consumers are live (nothing
 *         sent); a consumer lost in the last step is counted as dead.
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

/** The most meta bytes a struct mobj_ring_xfer carries. */
#define MOBJ_RING_META_MAX 64u

/**
 * Set-up over IPC the user owns (PipeWire's protocol, Wayland, D-Bus, XPC,
 * Mojo...), instead of mobj_ring_send()/mobj_ring_recv() over a mobj
 * channel: what one end hands to the other. Carry, in one message or
 * several:
 *  - each of the @c nobjs objects, as its native handle with its size,
 *    rebuilt on arrival with the checks mobj_recv() applies. Linux:
 *    mobj_fd(), with SCM_RIGHTS, rebuilt with mobj_from_fd(fd, size,
 *    MOBJ_READ, ...). Darwin: mobj_port() (mobj/darwin.h) as a send right
 *    (MACH_MSG_TYPE_COPY_SEND), rebuilt with mobj_from_port(port, size,
 *    MOBJ_READ, ...);
 *  - Linux: @c event_fd when it is not -1 (SCM_RIGHTS too), in an offer;
 *  - Linux: @c pidfd when it is not -1 (a pidfd of the sending process,
 *    SCM_RIGHTS too);
 *  - Darwin: both @c ports, in an offer and in an answer, as send rights
 *    (COPY_SEND; an XPC mach_send right, a Mojo PlatformHandle, a port
 *    descriptor), put in the rebuilt struct as the names that arrived
 *    (MACH_PORT_DEAD if one died in transit); event_fd and pidfd are -1;
 *  - the @c meta_len bytes of @c meta, as they are.
 * Each side learns of the other's death as over a channel ("Peer death"
 * above). Darwin: by the semaphore of ports[0], which dies with its task.
 * Linux: by the pidfd the other passed, checked on arrival (a pidfd of a
 * whole process, else -EPROTO), so this holds across PID namespaces. Only
 * where the sender could not make one (pidfd_open missing or refused) does
 * the receiver watch the pid the meta claims, unverified, and meaningful
 * only when both share a PID namespace. Unlike a mobj channel, the user's
 * IPC gives no kernel credentials, so nothing checks that the pidfd names
 * the process that sent it: a peer that lies can only make itself look
 * alive or dead.
 * Everything that arrives is checked again by the receiving call, exactly
 * as mobj_ring_recv()/mobj_ring_send() check their parts; the least
 * privilege split is the same (only read-only objects travel).
 * Rebuild what arrived into a struct made empty by mobj_ring_xfer_init():
 * a zeroed struct says "descriptor 0" in event_fd and pidfd (-EPROTO).
 * The meta bytes of a 1:N ring's offer carry a token no one else can
 * guess (64 random bits); its answer repeats it. Treat it as the
 * capability it is: whoever has it can answer that offer.
 */
struct mobj_ring_xfer {
	struct mobj *objs[2];  /**< read-only memory objects */
	size_t sizes[2];       /**< their sizes */
	unsigned nobjs;        /**< 2 in an offer, 1 in an answer */
	int event_fd;          /**< Linux: a descriptor to pass too, or -1 */
	int pidfd;             /**< Linux: a pidfd of the sender to pass too, or -1 */
#ifdef __APPLE__
	/** Darwin: send rights to pass too: [0] the sender's wake semaphore
	 *  (its death wakes the peer), [1] its peer event's port (what
	 *  mobj_ring_fd() polls, with no thread). */
	mach_port_t ports[2];
#endif
	unsigned char meta[MOBJ_RING_META_MAX]; /**< bytes to pass as they are */
	size_t meta_len;
};

/**
 * Producer, unconnected: fill @p offer with what the consumer needs. The
 * objects, the descriptors and the ports stay owned by the ring (valid
 * until mobj_ring_accept_answer() or mobj_ring_close()): pass copies
 * (sending with SCM_RIGHTS or COPY_SEND makes them). Calling it again gives
 * the same offer. 1:N ring: at any time; each call makes a fresh offer
 * for one consumer, pending until its answer is accepted: its own peer
 * event (Linux: event_fd; Darwin: ports[1]) and wake semaphore (Darwin:
 * ports[0]), so every importer's mobj_ring_fd() needs no thread and the
 * producer's covers it, and a token in the meta bytes. Its descriptors
 * and ports stay owned by the ring until the offer is answered,
 * withdrawn (mobj_ring_withdraw(), for a client that went away) or the
 * ring is closed; the shared objects and pidfd until mobj_ring_close().
 * At most max_consumers offers are pending at once.
 * @return 0, or -EINVAL (NULL, not a producer, already connected),
 *         -ENOMEM, -EMFILE (Darwin: the semaphore, port and kqueue are
 *         made here); 1:N ring: -ENOSPC (max_consumers offers pending).
 *         Darwin: -EBADF in a fork() child for an offer its parent
 *         made (its ports' names are the parent's).
 */
MOBJ_EXPORT int mobj_ring_export(struct mobj_ring *producer,
                                 struct mobj_ring_xfer *offer);

/**
 * Consumer: build the consumer end from an @p offer rebuilt from what
 * arrived (objects from their handles, event_fd and pidfd as received or
 * -1, Darwin's ports as received, the meta bytes), and fill @p answer with
 * what goes back to the producer. Nothing in @p offer is taken: close its
 * objects and descriptors, and deallocate its ports, after the call. The
 * answer's object, pidfd and ports are owned by the consumer end (valid
 * until mobj_ring_close()). The end is usable at once; the producer's data
 * calls work once it has accepted the answer.
 * @return 0, or -EINVAL (NULL argument), -EPROTO (the offer is not a valid
 *         ring: a header, size, access, role or pid that does not fit, a
 *         descriptor that is not a peer event's half or not a pidfd of a
 *         whole process, or one missing that the meta announces; Darwin: a
 *         port missing, not a send right, a [0] that is no semaphore,
 *         one of our own sent back, or a [1] that another end of this
 *         process watches already: an offer imported twice), -ENOMEM,
 *         -EMFILE, -ENFILE. A producer whose process is already gone
 *         (Darwin: a port dead in transit, its semaphore terminated) gives
 *         0 and then -EPIPE from the ring.
 *         An offer of a 1:N ring is for one consumer: import each once
 *         (the producer accepts one answer per offer).
 */
MOBJ_EXPORT int mobj_ring_import(const struct mobj_ring_xfer *offer,
                                 struct mobj_ring **consumer,
                                 struct mobj_ring_xfer *answer);

/**
 * Producer: connect to the consumer from its @p answer (rebuilt as for
 * mobj_ring_import(); nothing in it is taken). The exported objects are
 * released.
 * @return 0, or -EINVAL (NULL, not a producer, already connected), -EPROTO
 *         (not a valid answer, checked as mobj_ring_import() checks an
 *         offer, its pidfd and ports included; the ring stays
 *         unconnected), -ENOMEM, -EMFILE. A consumer whose process is
 *         already gone gives 0 and then -EPIPE from the ring. 1:N ring:
 *         the answer to a pending offer (found by its token) is one more
 *         consumer, with that offer's event and semaphore; -EPROTO (and
 *         nothing changes) for an answer whose token no pending offer has
 *         (unknown, already answered, withdrawn) or that fails a check
 *         above (its offer stays pending for the honest answer); -ENOSPC
 *         when max_consumers are live; a consumer already gone is counted
 *         as dead. Darwin: -EBADF in a fork() child for an answer to
 *         an offer its parent made (as mobj_ring_export()).
 */
MOBJ_EXPORT int mobj_ring_accept_answer(struct mobj_ring *producer,
                                        const struct mobj_ring_xfer *answer);

/**
 * Producer of a 1:N ring: drop the pending @p offer (as mobj_ring_export()
 * filled it, or a copy with the same meta bytes), e.g. when the client it
 * was for went away. Its descriptors (Darwin: its semaphore and port) are
 * released at once, so call it only once the user's IPC no longer sends
 * them; an answer to it is -EPROTO from then on (a consumer that imported
 * it never joins: close it). An SPSC producer has one
 * offer, released when it is answered or the ring is closed: -EINVAL.
 * @return 0, or -EINVAL (NULL, not a 1:N producer, not a 1:N ring's
 *         offer), -ENOENT (no such offer pending: answered, withdrawn, or
 *         not this ring's).
 */
MOBJ_EXPORT int mobj_ring_withdraw(struct mobj_ring *producer,
                                   const struct mobj_ring_xfer *offer);

/**
 * Make @p x an empty struct mobj_ring_xfer: no objects, event_fd and pidfd
 * -1, Darwin's ports MACH_PORT_NULL, no meta bytes. Start every struct
 * rebuilt from what arrived with it (a zeroed struct says "fd 0" in
 * event_fd and pidfd, which the receiving call refuses with -EPROTO).
 * @return 0, or -EINVAL (NULL).
 */
MOBJ_EXPORT int mobj_ring_xfer_init(struct mobj_ring_xfer *x);

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
 * Inline (the fast path section at the end of this header).
 */
MOBJ_RING_INLINE int mobj_ring_reserve(struct mobj_ring *r, size_t n, int timeout_ms,
                                       void **p);

/**
 * Producer: commit the first @p n bytes of the current reservation and
 * publish them (release ordering: the bytes are visible before the index),
 * unless mobj_ring_set_batch() defers publishing. Ends the reservation.
 * Wakes the consumer only if it sleeps waiting for this much.
 * @return 0, or -EINVAL (NULL, not a producer, n larger than reserved).
 * Inline (the fast path section at the end of this header).
 */
MOBJ_RING_INLINE int mobj_ring_commit(struct mobj_ring *r, size_t n);

/**
 * Batching: publish this end's index only once @p bytes of progress are
 * unpublished (producer: committed bytes; consumer: consumed bytes), like
 * filling io_uring SQEs before one submit. 0 (the default) publishes every
 * commit and consume. A batching end still publishes at once when the peer
 * sleeps or spins waiting for it (a 1:N producer: any live consumer, see
 * mobj_ring_create_multi()), whenever it is about to wait itself
 * (a reserve that finds the ring full, a peek that finds it empty, with any
 * timeout), on mobj_ring_flush() and on mobj_ring_close(). So a pair of
 * ends never waits on unpublished progress, but progress made just before
 * this end stops calling the ring (while the peer is busy elsewhere) stays
 * unseen until mobj_ring_flush(): call it before going idle. Setting 0
 * publishes what is pending. May be called at any time.
 *
 * @param bytes  at most the capacity.
 * @return 0, or -EINVAL (NULL, bytes > capacity).
 */
MOBJ_EXPORT int mobj_ring_set_batch(struct mobj_ring *r, size_t bytes);

/**
 * Publish this end's unpublished progress now (mobj_ring_set_batch()): the
 * producer's committed bytes become readable, the consumer's consumed bytes
 * become free, and a peer that sleeps waiting for them is woken. Cheap when
 * nothing is pending (no shared write).
 * @return 0, or -EINVAL (NULL), -ENOTCONN (no consumer attached yet),
 *         -EPROTO (the end is dead).
 */
MOBJ_EXPORT int mobj_ring_flush(struct mobj_ring *r);

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
 *  -EPROTO    the producer's index is impossible (sticky);
 *  -EOVERFLOW 1:N ring, this consumer was lapped: it now stands at the
 *             oldest intact data (once per lap; mobj_ring_create_multi()).
 * Inline (the fast path section at the end of this header).
 */
MOBJ_RING_INLINE int mobj_ring_peek(struct mobj_ring *r, size_t min,
                                    int timeout_ms, const void **p,
                                    size_t *avail);

/**
 * Consumer: release the first @p n readable bytes to the producer (published
 * at once unless mobj_ring_set_batch() defers it). n may be at most the
 * readable amount last returned by mobj_ring_peek() (less what was consumed
 * since).
 * @return 0, or -EINVAL (NULL, not a consumer, n too large), -EOVERFLOW
 *         (1:N ring: some peeked bytes may have been overwritten while
 *         read; nothing consumed, see mobj_ring_create_multi()).
 * Inline (the fast path section at the end of this header).
 */
MOBJ_RING_INLINE int mobj_ring_consume(struct mobj_ring *r, size_t n);

/**
 * Producer: copy @p n bytes in, all or nothing (waits for room for all of
 * them), and commit them.
 * @return n, or the errors of mobj_ring_reserve() (-EINVAL also for p NULL
 *         with n > 0).
 */
MOBJ_EXPORT ssize_t mobj_ring_write(struct mobj_ring *r, const void *p,
                                    size_t n, int timeout_ms);

/**
 * Producer: wait (by the timeout rules) until at least 1 byte is free, then
 * copy in as many of the @p n bytes as fit, and commit them. For streams
 * that can take a partial write; mobj_ring_write() is all or nothing.
 * @return the count written (1..n; 0 when n is 0), or the errors of
 *         mobj_ring_reserve() (-EAGAIN: timeout 0 and the ring is full;
 *         -EINVAL also for p NULL with n > 0). Never -EMSGSIZE: n may
 *         exceed the capacity.
 */
MOBJ_EXPORT ssize_t mobj_ring_write_some(struct mobj_ring *r, const void *p,
                                         size_t n, int timeout_ms);

/**
 * The fill level now, without waiting (what spa's get_read_index gives
 * PipeWire for rate matching): the producer's free bytes, or the
 * consumer's readable bytes. Reads (and validates) the peer's index once.
 * Counts only what the peer has published (mobj_ring_set_batch()).
 * @return the count (0..capacity), or -EINVAL (NULL), -ENOTCONN (a
 *         producer with no consumer yet), -EPIPE (producer: the consumer
 *         closed or died; consumer: the producer closed or died and nothing
 *         is left to read; a death without close is noticed by a waiting
 *         call, not by this one), -EPROTO (the peer's index is impossible;
 *         the end is then dead).
 */
MOBJ_EXPORT ssize_t mobj_ring_available(struct mobj_ring *r);

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
 *  check without pidfds is open, read and close of /proc/PID/stat; on
 *  Linux a sleep is two calls, membarrier and futex, and a wake two when
 *  the peer polls mobj_ring_fd(), futex and a one-byte send). Not counted:
 *  the mobj_ring_fd() helper thread's sleeps and checks (where there is
 *  one), and the drain of the descriptor (a recv, or an eventfd read and
 *  wake) a call makes when it returns -EAGAIN with the descriptor in use. */
struct mobj_ring_stats {
	uint64_t sleeps; /**< sleeps waiting for the peer */
	uint64_t wakes;  /**< wake-ups sent to a sleeping or polling peer (a
	                  *   1:N producer: each consumer woken; on Linux
	                  *   one futex call wakes all of a round's) */
	uint64_t peer_checks; /**< liveness checks of the peer (one system call each on Linux) */
	uint64_t spins;  /**< waits that ended while spinning, with no system call */
};

/** Copy the counters of @p r. @return 0, or -EINVAL. */
MOBJ_EXPORT int mobj_ring_stats(const struct mobj_ring *r,
                                struct mobj_ring_stats *out);

/**
 * A descriptor for event loops (poll, epoll, select, kqueue): it polls
 * readable when the last call on this end that returned -EAGAIN (timeout 0)
 * would now succeed, or fail for good (the peer closed or died: -EPIPE;
 * -EPROTO). It starts readable; each -EAGAIN clears and re-arms it. It may
 * poll readable spuriously: call again with timeout 0 and go back to
 * polling on -EAGAIN. Owned by the ring: do not read, write or close it.
 *
 * No thread where set-up made a peer event (every way of connecting does,
 * descriptors and ports permitting): a -EAGAIN registers in this
 * end's control page as a waiter (the protocol of a blocking call, without
 * the sleep), and the peer signals only a registered waiter whose target it
 * reached. Linux: the descriptor is this end's half of a socketpair
 * exchanged at set-up; the peer sends one byte; the peer's process dying
 * closes its half. Darwin: the descriptor is a kqueue watching this end's
 * own Mach port (EVFILT_MACHPORT), to which the peer sends an empty
 * message; the peer's process dying destroys its port, and the dead-name
 * notification lands on ours. Either way the death makes the descriptor
 * readable for good. Costs one descriptor (Darwin: and one port) per end,
 * made at set-up whether or not this is called.
 *
 * Otherwise (no descriptor or port was left at set-up; Linux, an offer
 * imported without its event_fd) the first call starts one helper thread
 * for this end, which sleeps the way a blocking call would and signals a
 * local event; mobj_ring_close() stops it (up to 50 ms). The helper starts
 * with every signal blocked, so no signal the application directs at the
 * process ever runs on it. Threads do not survive fork(): a child must not
 * use an end whose helper was started before the fork (closing it is fine,
 * see fork() above).
 *
 * @return the descriptor, or -EINVAL (NULL), -ENOTCONN (a producer with no
 *         consumer yet), -EMFILE, -ENFILE, -ENOMEM, -EAGAIN (no thread).
 *         A 1:N producer's descriptor is a set over its consumers' peer
 *         events (mobj_ring_create_multi()).
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

/* ---- The inline fast path ---------------------------------------------- */

/**
 * The per-message state of a ring end, which a struct mobj_ring starts
 * with, published (as liburing publishes struct io_uring) so that reserve,
 * commit, peek and consume run inline with no call: every check that does
 * not depend on the peer was made once, when the end was connected, and is
 * summed up in @c ready; the peer's index is read and validated only in the
 * out-of-line calls (mobj_ring_slow_*), exactly as before. Not an API:
 * never read or write a field; the layout changes only with the library's
 * soname, except for fields added at the end (the library allocates the
 * struct, and a binary built before a field never reads it).
 */
struct mobj_ring_fast {
	unsigned char *data;          /* the mirror, 2 * cap bytes */
	uint64_t *own_index;          /* our index in our control page */
	const uint32_t *peer_waiting; /* the peer sleeps (a count) */
	const uint32_t *peer_polling; /* the peer spins (set when we batch) */
	const uint32_t *peer_closed;  /* the peer closed its end */
	uint64_t pos;       /* our index: the tail, or the head */
	uint64_t peer_seen; /* the peer's index, last validated value */
	uint64_t published; /* what *own_index holds */
	uint64_t batch;     /* publish once pos - published >= batch */
	uint64_t cap;       /* capacity in bytes */
	uint64_t off;       /* pos % cap */
	uint64_t reserved;  /* producer: bytes of the current reservation */
	uint32_t ready;     /* role when connected and sound, else 0 */
	uint32_t fence;     /* publish with a seq_cst fence (no heavy barrier) */
	uint32_t in_record; /* a record is reserved (peeked) */
	uint32_t role;      /* MOBJ_RING_FAST_PRODUCER or _CONSUMER */
	/* Last, so binaries built before it never read it: a 1:N producer
	 * whose peer_waiting points at a local 1 (not one consumer's page).
	 * Such binaries publish every commit there; this header sends a
	 * publish that batching may defer to mobj_ring_slow_wake(). */
	uint32_t fan;
};

/** Values of struct mobj_ring_fast's role and ready. */
#define MOBJ_RING_FAST_PRODUCER 1u
#define MOBJ_RING_FAST_CONSUMER 2u

/**
 * The out-of-line half of mobj_ring_reserve() (same contract): every
 * argument check, the peer's index, waiting. Not for direct use.
 */
MOBJ_EXPORT int mobj_ring_slow_reserve(struct mobj_ring *r, size_t n,
                                       int timeout_ms, void **p);

/**
 * The out-of-line half of mobj_ring_peek() (same contract). Not for direct
 * use.
 */
MOBJ_EXPORT int mobj_ring_slow_peek(struct mobj_ring *r, size_t min,
                                    int timeout_ms, const void **p,
                                    size_t *avail);

/**
 * The out-of-line half of mobj_ring_consume() (same contract), for ends
 * the inline call does not serve (a consumer of a 1:N ring: the seqlock
 * check). Not for direct use.
 */
MOBJ_EXPORT int mobj_ring_slow_consume(struct mobj_ring *r, size_t n);

/**
 * After a publish that saw the peer waiting: wake it if it waits for what
 * was published (one system call at most; a 1:N producer: one per wake
 * round on Linux, one per consumer on Darwin, and a send per consumer
 * armed for its descriptor). A 1:N producer with two or more consumers
 * (f->fan) also comes here before a publish that batching may defer:
 * it publishes (and wakes) only when some consumer waits or spins. Not
 * for direct use.
 */
MOBJ_EXPORT void mobj_ring_slow_wake(struct mobj_ring *r);

/* After commit or consume moved f->pos: publish it unless batching defers
 * it (@force: publish anyway). The design block of src/ring.c proves that
 * no wake-up is lost with the fence or, when light, the compiler barrier.
 * f->fan is read only where batching would defer but the peer's words say
 * it waits or spins, and shares the one out-of-line call: an SPSC end
 * that does not batch, or defers, runs the instructions it ran before. */
static inline void mobj_ring__publish(struct mobj_ring_fast *f,
                                      struct mobj_ring *r, int force)
{
	if (!force && f->pos - f->published < f->batch) {
		if (!__atomic_load_n(f->peer_waiting, __ATOMIC_RELAXED) &&
		    !__atomic_load_n(f->peer_polling, __ATOMIC_RELAXED))
			return;
		if (f->fan) { /* a 1:N producer decides out of line */
			mobj_ring_slow_wake(r);
			return;
		}
	}
	__atomic_store_n(f->own_index, f->pos, __ATOMIC_RELEASE);
	f->published = f->pos;
	if (f->fence)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(f->peer_waiting, __ATOMIC_RELAXED))
		mobj_ring_slow_wake(r);
}

/* Commit or consume @n bytes: advance f->pos (and f->off == pos % cap,
 * without a division) and publish. */
static inline int mobj_ring__advance(struct mobj_ring_fast *f,
                                     struct mobj_ring *r, size_t n)
{
	f->in_record = 0;
	if (n == 0)
		return 0;
	f->pos += n;
	f->off += n;
	if (f->off >= f->cap)
		f->off -= f->cap;
	mobj_ring__publish(f, r, 0);
	return 0;
}

MOBJ_RING_INLINE int mobj_ring_reserve(struct mobj_ring *r, size_t n, int timeout_ms,
                                       void **p)
{
	struct mobj_ring_fast *f = (struct mobj_ring_fast *)r;

	if (r && f->ready == MOBJ_RING_FAST_PRODUCER && p && timeout_ms >= -1 &&
	    n <= f->cap && f->pos + n - f->peer_seen <= f->cap &&
	    !__atomic_load_n(f->peer_closed, __ATOMIC_RELAXED)) {
		f->reserved = n;
		f->in_record = 0;
		*p = f->data + f->off;
		return 0;
	}
	return mobj_ring_slow_reserve(r, n, timeout_ms, p);
}

MOBJ_RING_INLINE int mobj_ring_commit(struct mobj_ring *r, size_t n)
{
	struct mobj_ring_fast *f = (struct mobj_ring_fast *)r;

	if (!r || f->role != MOBJ_RING_FAST_PRODUCER || n > f->reserved)
		return -EINVAL;
	f->reserved = 0;
	return mobj_ring__advance(f, r, n);
}

MOBJ_RING_INLINE int mobj_ring_peek(struct mobj_ring *r, size_t min,
                                    int timeout_ms, const void **p,
                                    size_t *avail)
{
	struct mobj_ring_fast *f = (struct mobj_ring_fast *)r;

	if (r && f->ready == MOBJ_RING_FAST_CONSUMER && p && avail &&
	    timeout_ms >= -1 && min <= f->cap &&
	    f->peer_seen - f->pos >= (min ? min : 1)) {
		f->in_record = 0;
		*p = f->data + f->off;
		*avail = (size_t)(f->peer_seen - f->pos);
		return 0;
	}
	return mobj_ring_slow_peek(r, min, timeout_ms, p, avail);
}

MOBJ_RING_INLINE int mobj_ring_consume(struct mobj_ring *r, size_t n)
{
	struct mobj_ring_fast *f = (struct mobj_ring_fast *)r;

	if (!r || f->role != MOBJ_RING_FAST_CONSUMER || n > f->peer_seen - f->pos)
		return -EINVAL;
	if (f->ready != MOBJ_RING_FAST_CONSUMER)
		return mobj_ring_slow_consume(r, n);
	return mobj_ring__advance(f, r, n);
}

#ifdef __cplusplus
}
#endif

#endif /* MOBJ_RING_H */
