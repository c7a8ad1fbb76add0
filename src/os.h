/*
 * The backend contract. Every function here is implemented once per system,
 * in src/<system>/ (picked by src/meson.build from host_machine.system()).
 * The portable core (the .c files in src/) calls only these and never tests the system.
 *
 * Conventions: 0 or a negative errno, out-parameters written only on
 * success, errno never part of the result. Arguments have been validated by
 * the core (NULLs, ranges, alignment, access bits) unless a comment says
 * otherwise.
 *
 * os_types.h comes from the backend folder and defines the native handles:
 * struct mobj__os_obj (Linux: a memfd; Darwin: a memory-entry send right).
 *
 * Both backends split the work into the same files:
 *   object.c      objects and mappings, the page size and the clock
 *   chan.c        channels
 *   ring_wait.c   ring waiting: pair, wait, wake, peer liveness
 *   ring_barrier.c  the ring's asymmetric barrier (light publish, heavy sleep)
 *   ring_chan.c   a ring's waker set-up over a channel (waker_connect)
 *   ring_event.c  the pollable event of mobj_ring_fd()'s helper thread
 *   ring_pevent.c the peer event: mobj_ring_fd() with no thread
 *   ring_xfer.c   a ring's set-up over IPC the user owns: the system's own
 *                 fields of struct mobj_ring_xfer (xfer_put, xfer_take)
 *   os_types.h    the native handles
 *   backend.h     helpers shared by the backend's own files
 * Linux alone has dispose.c (closing what a peer controls on a thread of
 * its own, never in the caller's). Darwin alone has kern_error.c (kern_return_t to errno, kept for
 * mobj_strerror) and compat.h (declarations an SDK may lack: launchd's bootstrap).
 */
#ifndef MOBJ_OS_H
#define MOBJ_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "os_types.h"

/* ---- Objects and mappings ------------------------------------------------ */

/* The granule of sizes and offsets; constant for the process's life. */
size_t mobj__os_page_size(void);

/* A monotonic clock in nanoseconds: the one clock of every timeout
 * (mobj__time_left). */
uint64_t mobj__os_clock_ns(void);

/* A new read-write object of exactly @size bytes (already page rounded,
 * nonzero), fixed in size for its life. @flags: MOBJ_CREATE_* (validated);
 * @label: NULL, or a valid label (mobj_create_labeled) to show where the
 * system shows names of memory. */
int mobj__os_create(size_t size, unsigned flags, const char *label,
                    struct mobj__os_obj *out);

/* Freeze the object behind @o (idempotent; afterwards no new writable
 * mapping can be made through any handle) and return a new read-only handle
 * @ro to it. @o may itself be read-only: @ro is then a duplicate. */
int mobj__os_freeze(struct mobj__os_obj *o, size_t size, bool o_writable,
                    struct mobj__os_obj *ro);

/* Release the handle. */
void mobj__os_release(struct mobj__os_obj *o);

/* Map [off, off + len) of @o. @len is page rounded. @fixed NULL: anywhere;
 * otherwise exactly at @fixed, atomically replacing what is there (a
 * reservation made by mobj__os_reserve). -EPERM when @write and the object
 * is frozen; -EACCES when @write and the handle cannot write. */
int mobj__os_map(const struct mobj__os_obj *o, size_t off, size_t len,
                 bool write, void *fixed, void **addr);

/* Reserve @len bytes of inaccessible address space. */
int mobj__os_reserve(size_t len, void **addr);

/* Unmap [addr, addr + len) (len page rounded): a mapping or reservation. */
int mobj__os_unmap(void *addr, size_t len);

/* Validate a native handle from outside the library (a peer, a caller of
 * mobj_from_fd/mobj_from_port) against what the sender declared, and return
 * the library's own reference to it in @out (a duplicate; for a declared
 * read-only object, a read-only one). -EPROTO when it is not an acceptable
 * object of exactly @size bytes (a page multiple) with @access; -EBADF when
 * it is not an open handle at all. Does not consume @in. */
int mobj__os_import_dup(const struct mobj__os_obj *in, size_t size,
                        unsigned access, struct mobj__os_obj *out);

/* Backend-specific text for @err when the calling thread's latest failure
 * carried more detail (a Mach kern_return_t), else NULL. */
const char *mobj__os_strerror(int err);

/* ---- Channels ------------------------------------------------------------ */

/* struct mobj__os_chan (os_types.h) is one end of a message channel or a
 * listener: Linux an AF_UNIX SOCK_SEQPACKET socket, Darwin a receive port
 * plus the peer's send right. A message is one block of bytes (the wire
 * format of msg.h, at most MOBJ__MSG_WIRE_MAX) plus up to
 * MOBJ_MSG_OBJS_MAX native objects; the core encodes and validates the bytes, the backend moves them
 * and never interprets them. The core owns the uid policy and the
 * handshake: accept hands over a connection with its peer's credentials,
 * the core decides, then welcomes it (sends the HELLO) or closes it. A
 * connector waits for that HELLO with mobj__os_chan_recv, so a refused
 * peer sees -EPIPE deterministically. Timeouts are milliseconds, -1
 * forever, 0 polls; interruptions by signals are retried with the
 * remaining time. No call raises SIGPIPE. */

/* Listen on @name (non-empty; naming rules in mobj/chan.h). -EINVAL when
 * the name is too long for the system, -EADDRINUSE when a live listener
 * has it. */
int mobj__os_chan_listen(const char *name, struct mobj__os_chan *out);

/* Wait for a connection on listener @l and return it in @out with its
 * peer's credentials recorded (mobj__os_chan_peer), not yet welcomed.
 * -ETIMEDOUT. */
int mobj__os_chan_accept(struct mobj__os_chan *l, int timeout_ms,
                         struct mobj__os_chan *out);

/* Send the listener's first message, @msg (a HELLO), on a connection
 * returned by accept; on Darwin this also hands the peer the connection's
 * own port. -EPIPE when the peer has already gone. */
int mobj__os_chan_welcome(struct mobj__os_chan *c, const void *msg, size_t len);

/* One attempt to connect to the listener @name: -EAGAIN when nobody
 * listens on it (yet), or it cannot take one more connection now (the core
 * retries until its timeout ends); -ECONNREFUSED when the name is not a
 * mobj listener's; -EACCES when the system forbids it. @timeout_ms bounds
 * the attempt itself (-ETIMEDOUT). The welcome is read by the caller. */
int mobj__os_chan_connect(const char *name, int timeout_ms,
                          struct mobj__os_chan *out);

/* Two connected ends. The peer's uid is this process's; its pid is this
 * process's where the ends cannot leave it (Darwin), else (Linux, where a
 * child may take one end over fork) 0 until the first message has been
 * received, then the pid of that message's sender. */
int mobj__os_chan_pair(struct mobj__os_chan *a, struct mobj__os_chan *b);

/* Close a channel or listener; a listener removes its name. Never blocks
 * on what a peer left queued in it (Linux: the disposal thread releases
 * that, src/linux/dispose.c), but waits a bounded time (Linux: at most
 * 500 ms) for that release, so that normally the peer sees the end, and
 * the name is free, on return. */
void mobj__os_chan_close(struct mobj__os_chan *c);

/* Close a connection that never became a channel (refused, gone before
 * its welcome, or failed its set-up): as close, but never waits at all,
 * since the caller's timeout runs. */
void mobj__os_chan_discard(struct mobj__os_chan *c);

/* Send one message of @len bytes with copies of the @nobj native handles
 * @objs (0..MOBJ_MSG_OBJS_MAX; the caller keeps its own), in that order.
 * Waits at most @timeout_ms (-1: forever) while the peer's queue is full,
 * then -ETIMEDOUT with nothing sent. -EPIPE when the peer is gone; -ENOBUFS,
 * -ENOMEM. */
int mobj__os_chan_send(struct mobj__os_chan *c, const void *msg, size_t len,
                       const struct mobj__os_obj *objs, unsigned nobj,
                       int timeout_ms);

/* Receive one message into @buf (@cap bytes) and return its length; @nobj
 * is set to how many handles came with it (0..@max, in the order sent),
 * and @objs[0..nobj) are those handles, now the caller's to release. A
 * message that does not fit in @cap, or that carries more than @max handles
 * or anything else out of band, is consumed, everything it carried
 * released, and -EPROTO returned. -ETIMEDOUT; -EPIPE when the peer is gone
 * and nothing is queued. */
int mobj__os_chan_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                       size_t cap, struct mobj__os_obj *objs, unsigned max,
                       unsigned *nobj);

/* A descriptor that polls readable when recv (or accept) would not block. */
int mobj__os_chan_fd(const struct mobj__os_chan *c);

/* The peer's credentials as recorded at set-up (either pointer may be NULL). */
void mobj__os_chan_peer(const struct mobj__os_chan *c, pid_t *pid, uid_t *uid);

/* ---- Ring waiting -------------------------------------------------------- */

/*
 * struct mobj__os_waker (os_types.h) is process-local, one per ring end: how
 * this end sleeps until its peer wakes it, and how it learns that the peer
 * process is gone. The shared words live in the ring's control pages; the
 * core runs the protocol (who is waiting, Dekker fences, sequence numbers,
 * validation) and calls these only on its slow paths. No call here may block
 * longer than asked, and none may be interrupted into an error: a signal is a
 * spurious wake-up (return 0).
 *
 * Linux: futex (shared, not FUTEX_PRIVATE) on the word; a pidfd of the peer
 * for liveness. Darwin: each side waits on a Mach semaphore its *peer*
 * created, so the peer's death ends the wait with KERN_TERMINATED (-EPIPE).
 */
/* Both ends in this process: @a and @b each get a waker that wakes the
 * other. The peer counts as alive until it marks itself closed. */
int mobj__os_waker_pair(struct mobj__os_waker *a, struct mobj__os_waker *b);

/* Ends in two processes, connected by channel @c: exchange whatever the
 * backend needs through @c, in messages of its own that the core never
 * sees, and arm liveness tracking of the process at the other end. Both
 * sides call it at the same step of the ring set-up, after every mobj
 * message of the set-up has been received; @producer tells which side this
 * is (the producer sends first). Every step is bounded by @timeout_ms
 * (-ETIMEDOUT). Linux: a pidfd of each side, passed as a descriptor (pids
 * mean nothing across PID namespaces). Darwin: the semaphores. -EPIPE when
 * the peer is already gone; -EPROTO when what it sent is not what the
 * backend expects. On failure @w is left untouched. */
int mobj__os_waker_connect(struct mobj__os_waker *w, struct mobj__os_chan *c,
                           bool producer, int timeout_ms);

/* Ends in two processes connected over IPC the user owns (ring_xfer.c):
 * mobj__os_waker_connect()'s exchange in two halves, carried by the user.
 * self: what names this process to the peer, in *@fd (Linux: a pidfd of
 * it, ours to close once passed; -1 when pidfds are missing or refused).
 * adopt: the peer's claimed @pid (in its own PID namespace) and the
 * descriptor @fd it passed (-1: none; always consumed), checked as
 * waker_connect checks its message: the descriptor must be a pidfd of a
 * whole process (-EPROTO), and is watched; without one, the claimed pid
 * is (unverified: a lie only makes the liar look alive or dead, and a
 * peer in another PID namespace is then watched wrongly). -EPIPE when the
 * peer is gone already, -EPROTO for a pid that cannot be one. On failure
 * @w is left untouched. Darwin: self gives -1 (-ENOTSUP); adopt ignores
 * @pid, refuses any @fd (-EPROTO) and watches the semaphore that
 * mobj__os_xfer_take() took (-EPIPE when there is none: it was dead). */
int mobj__os_waker_self(int *fd);
int mobj__os_waker_adopt(struct mobj__os_waker *w, int pid, int fd);

/* Release what the waker holds. The core calls it only on a waker that
 * mobj__os_waker_pair(), mobj__os_waker_connect(), mobj__os_xfer_put() or
 * mobj__os_waker_adopt() set up. */
void mobj__os_waker_release(struct mobj__os_waker *w);

/* Sleep until the peer wakes us, or *@word (the peer's wake sequence,
 * mapped read-only here) no longer equals @expect, or @timeout_ms (> 0)
 * passed. May return early for no reason. Returns 0 (woken, changed, or
 * spurious), -ETIMEDOUT, or -EPIPE when the wait itself learnt the peer
 * is gone. */
int mobj__os_waker_wait(struct mobj__os_waker *w, const uint32_t *word,
                        uint32_t expect, int timeout_ms);

/* Wake the peer sleeping in mobj__os_waker_wait() on @word (our own wake
 * sequence, already incremented by the core). Each backend's os_types.h
 * defines MOBJ__OS_WAKE_SHARED: 1 when this call wakes every waiter asleep
 * on @word, whichever waker it sleeps through (Linux: a futex; a 1:N
 * producer then makes one call per wake round), 0 when it wakes only
 * @w's peer (Darwin: a semaphore per consumer, one call each). */
void mobj__os_waker_wake(struct mobj__os_waker *w, uint32_t *word);

/* false once the peer's process is gone (not merely closed). A system call
 * on Linux; the core calls it only after a sleep. */
bool mobj__os_waker_peer_alive(struct mobj__os_waker *w);

/* Wake a thread of *this* process sleeping in mobj__os_waker_wait(@w,
 * @word, ...) on the peer's word (the ring's fd helper thread, at close or
 * when its target changes). Linux: FUTEX_WAKE on @word; Darwin: signal the
 * semaphore the peer created. */
void mobj__os_waker_wake_self(struct mobj__os_waker *w, const uint32_t *word);

/* A pollable event for event loops (struct mobj__os_event, os_types.h):
 * a descriptor that polls readable while the event is set. Linux: an
 * eventfd. Darwin: e.g. a pipe or a kqueue with EVFILT_USER. set and clear
 * are idempotent, thread-safe and never block. */
int mobj__os_event_open(struct mobj__os_event *e); /* starts clear */
void mobj__os_event_set(struct mobj__os_event *e);
void mobj__os_event_clear(struct mobj__os_event *e);
int mobj__os_event_fd(const struct mobj__os_event *e);
void mobj__os_event_close(struct mobj__os_event *e);

/* A peer event (mobj_ring_fd() without a thread; struct mobj__os_pevent,
 * os_types.h): a descriptor this end polls and its peer makes readable, and
 * which also polls readable for good once the peer's half is gone (its
 * process died, or it closed the ring). Linux: one end each of an AF_UNIX
 * socketpair (ring_pevent.c). Darwin: a receive port per end watched by a
 * kqueue (EVFILT_MACHPORT), the peer holding a send right to it, and a
 * dead-name notification on our send right to the peer's port.
 * pair: both halves in this process. split: @mine here, @theirs a native
 * handle to send to the peer (then release it); the peer takes it with
 * recv, which may answer with a handle of its own (Darwin: a send right to
 * its port), which finish takes (Linux: nothing to take, 0 at once).
 * signal: make the peer's descriptor readable; never blocks, whatever the
 * peer did to its half. drain: clear ours; -EPIPE when the peer's half is
 * gone for good. Neither may block. */
int mobj__os_pevent_pair(struct mobj__os_pevent *a, struct mobj__os_pevent *b);
int mobj__os_pevent_split(struct mobj__os_pevent *mine,
                          struct mobj__os_obj *theirs);
/* Receive the ring's event message on channel @c (a backend message with
 * at most one handle, which must be a peer event's half: the channel's own
 * receive takes memory objects only): its length, *@nfd 0 or 1 (then @e
 * holds our half; Darwin: the answer went back on @c). -EPROTO for
 * anything else (what came is disposed of), -ETIMEDOUT, -EPIPE. */
int mobj__os_pevent_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                         size_t len, struct mobj__os_pevent *e, unsigned *nfd);
/* Producer, after the event message with its half went out on @c: take
 * the consumer's answer to it, if the backend has one (Darwin: a backend
 * message with a send right to the consumer's port, checked as the
 * semaphores are: our own port -EPROTO, a dead one -EPIPE). -ETIMEDOUT,
 * -EPIPE, -EPROTO; on failure @mine is left as it was. */
int mobj__os_pevent_finish(struct mobj__os_pevent *mine,
                           struct mobj__os_chan *c, int timeout_ms);
/* IPC the user owns (mobj_ring_export(), ring_xfer.c): the system's own
 * fields of struct mobj_ring_xfer, beside the objects, event_fd and meta
 * the core handles. Linux: none (put returns 0, take 0, and neither does
 * anything). Darwin: ports[] (ring.h): [0] a send right to the sender's
 * wake semaphore, [1] one to its peer event's port.
 * put: fill @x's fields from this end, making what is missing (our
 * semaphore in @w, our port in @e; idempotent); the rights stay ours (the
 * user passes copies). Returns which of @w and @e now hold something to
 * release (MOBJ__OS_XFER_*), or a negative errno.
 * take: check the peer's fields in @x and hold copies of them (the user
 * keeps @x's), as waker_connect and pevent_recv/finish check them over a
 * channel: a right missing, not a send right, no semaphore, or our own
 * sent back is -EPROTO; a dead one -EPIPE (the peer is gone). It replaces
 * what an earlier take held; on failure nothing new is held. */
#define MOBJ__OS_XFER_WAKER 1
#define MOBJ__OS_XFER_EVENT 2
struct mobj_ring_xfer;
int mobj__os_xfer_put(struct mobj__os_waker *w, struct mobj__os_pevent *e,
                      struct mobj_ring_xfer *x);
int mobj__os_xfer_take(struct mobj__os_waker *w, struct mobj__os_pevent *e,
                       const struct mobj_ring_xfer *x);
/* Let go of what mobj__os_xfer_take() took (an answer refused after it),
 * keeping what put made: the offer stays as the peer that holds it knows
 * it. Linux: nothing. Darwin: the peer's semaphore and port. */
void mobj__os_xfer_drop(struct mobj__os_waker *w, struct mobj__os_pevent *e);

/* Fill @buf with @len bytes no one can guess (the token of a 1:N ring's
 * offer, ring_xfer.c). Linux: getrandom(); Darwin: arc4random_buf(). May
 * block only while the system's random pool is not yet initialised (early
 * boot). 0, or a negative errno (Linux: -ENOSYS on kernels before 3.17). */
int mobj__os_random(void *buf, size_t len);

/* The same with a plain descriptor (IPC the user owns: mobj_ring_export()):
 * split_fd gives the peer's half as @theirs (ours to close once passed),
 * adopt_fd takes @fd (always consumed). Darwin: split -ENOTSUP, adopt
 * -EPROTO (its event travels in the ports of mobj__os_xfer_put). */
int mobj__os_pevent_split_fd(struct mobj__os_pevent *mine, int *theirs);
int mobj__os_pevent_adopt_fd(struct mobj__os_pevent *e, int fd);
void mobj__os_pevent_signal(struct mobj__os_pevent *e);
int mobj__os_pevent_drain(struct mobj__os_pevent *e);
int mobj__os_pevent_fd(const struct mobj__os_pevent *e);
void mobj__os_pevent_close(struct mobj__os_pevent *e);
/* close for a forked child's copy of an end: the half's open file
 * description is the owner's too, so drop our descriptor only (no shut
 * down, nothing read from the owner's queue). Never blocks. */
void mobj__os_pevent_drop(struct mobj__os_pevent *e);

/* A set of peer events, one descriptor for a 1:N producer's
 * mobj_ring_fd(): it polls readable while any member's descriptor does
 * (and possibly spuriously until drain). open makes an empty set (its
 * descriptor in *@fd); add and del change members (del before the
 * member's close); drain, after the members were drained, makes the set
 * stop polling readable for what they no longer say; none blocks.
 * In a fork() child the set is not its own: drop its copy (never del, nor
 * close). Linux: an epoll descriptor, level-triggered (drain does
 * nothing; the child's copy shares the owner's epoll instance, whose
 * members a del there would remove, so drop only closes the descriptor).
 * Darwin: a kqueue watching each member's kqueue (EVFILT_READ), settled
 * by drain (ring_pevent.c); not inherited by a child (drop does nothing). */
int mobj__os_pevent_set_open(int *fd);
int mobj__os_pevent_set_add(int set, const struct mobj__os_pevent *e);
void mobj__os_pevent_set_del(int set, const struct mobj__os_pevent *e);
void mobj__os_pevent_set_drain(int set);
void mobj__os_pevent_set_close(int set);
void mobj__os_pevent_set_drop(int set);

/* The ring's asymmetric barrier (ring.c, design block). light: true when
 * this process may publish a ring index with no fence, because a peer about
 * to sleep can force a full barrier on every thread of it with
 * mobj__os_barrier_heavy() (and this process can issue that call itself).
 * Decided once per process, idempotent, thread-safe. Linux: membarrier
 * GLOBAL_EXPEDITED, registered; Darwin: never (a fence on every publish).
 * heavy: a full barrier on every running thread of every light process,
 * our own included; a seq_cst fence where there is none. */
bool mobj__os_barrier_light(void);
void mobj__os_barrier_heavy(void);

/* The longest sleep the core asks of mobj__os_waker_wait() before it checks
 * mobj__os_waker_peer_alive(): bounds how late a death is noticed. */
#define MOBJ__OS_WAKER_SLICE_MS 50

#endif /* MOBJ_OS_H */
