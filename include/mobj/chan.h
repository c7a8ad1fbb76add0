/*
 * mobj channels: pass memory objects (and a small payload) between
 * processes. Linux: AF_UNIX SOCK_SEQPACKET with SCM_RIGHTS. Darwin: Mach
 * messages with port descriptors, names through the bootstrap server.
 *
 * Every message carries a payload of 0..MOBJ_MSG_MAX bytes and 0 to
 * MOBJ_MSG_OBJS_MAX memory objects (mobj_send()/mobj_recv() are the forms
 * for at most one, mobj_sendv()/mobj_recvv() for several). Each received
 * object is accepted only after the same checks as mobj_from_fd() /
 * mobj_from_port(): anything else is -EPROTO, every handle that arrived
 * with the message is released, and the channel stays usable. With the
 * environment variable MOBJ_DEBUG set, each refusal logs why to stderr.
 *
 * On Linux each message is one SOCK_SEQPACKET datagram: a 16-byte head
 * (magic, version, type, payload length, object count), one 16-byte record
 * per object (size, access; one zero record when there is none), then the
 * payload, with the objects as SCM_RIGHTS descriptors in record order
 * (layout in src/msg.h and tools/doc/wire.md). A listener's first message
 * on every accepted connection is a header-only HELLO.
 *
 * What bounds each call, whatever a peer does. mobj_chan_accept(),
 * mobj_chan_connect(), mobj_recv() and mobj_send_timeout() return within
 * their timeout (plus scheduling delays); mobj_chan_listen() and
 * mobj_chan_pair() never wait for a peer; mobj_chan_close() waits at most
 * 500 ms (Linux). A peer cannot stretch any of them with what it sends:
 * on Linux, descriptors that arrive with a refused or malformed message
 * (which may block on close for as long as their owner likes: a TCP
 * socket with SO_LINGER, a FUSE file), and a closed channel's socket when
 * something is still queued in it or another process may hold it (a fork
 * since it was made), are closed by a thread of the library, started on
 * first need with every signal blocked, never by the caller; a memory file,
 * and a channel that is ours alone with nothing queued, are closed at once.
 * Until that thread has closed them they stay open in this process;
 * should it be stuck on one close (a FUSE server that never answers),
 * later ones wait behind it, still without blocking any caller. Once it
 * runs, the process is multi-threaded (which, e.g., unshare(CLONE_NEWUSER)
 * refuses).
 * mobj_send() (timeout -1) waits as long as the peer's queue stays full.
 */
#ifndef MOBJ_CHAN_H
#define MOBJ_CHAN_H

#include <stddef.h>
#include <sys/types.h>

#include "object.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest payload of one message, in bytes. */
#define MOBJ_MSG_MAX 4096

/** Most memory objects one message carries (mobj_sendv(), mobj_recvv()). */
#define MOBJ_MSG_OBJS_MAX 16

/** For mobj_chan_allow_uid(): accept peers of every uid. */
#define MOBJ_ANY_UID ((uid_t)-1)

/** A channel end, or a listener. Opaque and process-local. */
struct mobj_chan;

/**
 * Listen on @p name.
 *
 * Linux: a name starting with '/' is a filesystem socket path, created with
 * mode 0600; a stale socket left by a dead listener is replaced, a live one
 * (or a file that is not a socket) is -EADDRINUSE, also when two processes
 * race for one new path: exactly one of them gets it. (The socket is bound
 * under a temporary name, ".mobj-PID-N", in the same directory and linked
 * into place once it listens.) Any other name is the abstract address "\0"
 * followed by the name's bytes, nothing added. Darwin: a bootstrap service
 * name; one another live process checked in is -EADDRINUSE, -EACCES means
 * the sandbox forbids checking in names.
 *
 * The listener accepts only peers whose effective uid is the caller's
 * effective uid (the uid the kernel reports for a peer, and checks access
 * with), unless mobj_chan_allow_uid() says otherwise.
 *
 * Demand launch: a service need not run before its first client.
 * Linux: when a service manager passed this process a socket named @p name
 * (systemd socket activation: LISTEN_PID is this process, and @p name is
 * one of LISTEN_FDNAMES), that socket is adopted instead of binding one,
 * once per process; it must be a listening AF_UNIX SOCK_SEQPACKET socket
 * bound to @p name's address, else -EPROTO. So
 * `systemd-socket-activate --seqpacket -l @NAME --fdname=NAME prog NAME`,
 * or a .socket unit with ListenSequentialPacket=@NAME and
 * FileDescriptorName=NAME, starts prog on the first mobj_chan_connect(NAME).
 * The socket file of such a path listener is the manager's: closing does
 * not unlink it. Darwin: bootstrap_check_in() of a name that a launchd
 * plist declares under MachServices is how launchd demand-launches; nothing
 * changes here (tools/examples/launchd/).
 *
 * @return 0, or -EINVAL (NULL or empty name, name too long: 107 bytes at
 *         most on Linux), -EPROTO (Linux: the socket passed for @p name
 *         is not a listening SOCK_SEQPACKET socket bound to it),
 *         -EADDRINUSE, -EACCES (no permission on the
 *         directory), -ENOENT (the directory does not exist), -ENOTDIR,
 *         -ELOOP and the other errors of looking up a path, -EMFILE,
 *         -ENFILE, -ENOMEM.
 */
MOBJ_EXPORT int mobj_chan_listen(const char *name, struct mobj_chan **out);

/**
 * Also accept peers of effective uid @p uid on listener @p l (MOBJ_ANY_UID: everyone).
 * Applies to peers accepted from then on. Up to 16 distinct uids.
 * @return 0, or -EINVAL (not a listener), -ENOSPC (too many uids).
 */
MOBJ_EXPORT int mobj_chan_allow_uid(struct mobj_chan *l, uid_t uid);

/**
 * Wait for a peer on listener @p l and return the connected channel.
 * A peer whose uid is not allowed is disconnected and never gets a working
 * channel; accept goes on waiting for the next peer within the timeout.
 * Once the timeout has passed, a refused peer ends the call with -ETIMEDOUT
 * (so timeout 0 examines one pending peer per call, and peers that keep
 * connecting cannot hold accept past its timeout).
 *
 * @param timeout_ms  milliseconds; 0 polls; -1 waits forever; below -1 is
 *                    -EINVAL.
 * @return 0, or -EINVAL, -ETIMEDOUT, -EMFILE, -ENFILE, -ENOMEM.
 */
MOBJ_EXPORT int mobj_chan_accept(struct mobj_chan *l, int timeout_ms,
                                 struct mobj_chan **out);

/**
 * Connect to the listener named @p name (same naming rule as
 * mobj_chan_listen()), retrying until it exists or the timeout ends, then
 * wait (within the same timeout) until the listener has accepted this peer:
 * the call returns only with a channel the listener accepted, so with
 * timeout 0 it succeeds only if the listener accepted at once.
 * The listener's identity is not checked here: anyone may listen on a name
 * first (an abstract name in particular, which has no permissions). Check
 * mobj_chan_peer() before sending anything that matters.
 *
 * @return 0, or -EINVAL (also a timeout below -1), -ETIMEDOUT (nobody
 *         listening or accepting in time), -ECONNREFUSED (timeout 0 and nobody listening), -EPIPE (the
 *         listener refused this peer, or closed), -EACCES (the socket file's
 *         mode forbids it), -EPROTO (the listener does not speak this
 *         protocol), -ENOENT, -ENOTDIR and the other errors of looking
 *         up a path, -EMFILE, -ENFILE, -ENOMEM. A socket of another type
 *         on that name is -ECONNREFUSED (a path) or -ETIMEDOUT (an
 *         abstract name: it never answers the HELLO).
 */
MOBJ_EXPORT int mobj_chan_connect(const char *name, int timeout_ms,
                                  struct mobj_chan **out);

/**
 * A connected pair, for a parent and the child it forks (each closes the end
 * it does not use). Linux: a socketpair; the descriptors are close-on-exec;
 * mobj_chan_peer() names the other end's process only once a message from
 * it has arrived (see there).
 * Darwin: two Mach ports, which fork() does not carry into the child: there
 * the pair only joins threads of one process, and a child is reached
 * through mobj_chan_listen() / mobj_chan_connect().
 * @return 0, or -EINVAL, -EMFILE, -ENFILE, -ENOMEM.
 */
MOBJ_EXPORT int mobj_chan_pair(struct mobj_chan **a, struct mobj_chan **b);

/**
 * Close a channel or listener (a path listener unlinks its socket). NULL:
 * no-op. Linux: a channel no other process can hold (no fork since it was
 * made) is shut down first, so that nothing can arrive, and closed here if
 * nothing is queued. Otherwise the library's disposal thread releases it
 * and what a peer left in it (see the top of this file); this waits at
 * most 500 ms for that, so that normally, on return, the peer sees the end
 * and an abstract name can be listened on again.
 */
MOBJ_EXPORT void mobj_chan_close(struct mobj_chan *c);

/**
 * Send @p len bytes of @p data and, if @p o is not NULL, the object @p o
 * (the caller keeps its own handle; the peer gets the same access as @p o).
 * Never raises SIGPIPE. Blocks while the peer's receive queue is full (the
 * system's limit on queued messages); it does not wait for the peer to
 * receive.
 *
 * @return 0, or -EINVAL (NULL channel, a listener, data NULL with len > 0),
 *         -EMSGSIZE (len > MOBJ_MSG_MAX), -EPIPE (the peer is gone),
 *         -ENOMEM, -ENOBUFS, -EPERM (Darwin: @p o is a read-write handle
 *         of a frozen object, which the receiver could map writable
 *         there; send the read-only handle from mobj_readonly()).
 */
MOBJ_EXPORT int mobj_send(struct mobj_chan *c, struct mobj *o,
                          const void *data, size_t len);

/**
 * mobj_send() that waits at most @p timeout_ms for room in the peer's
 * receive queue: a peer that stops reading cannot hold the sender forever.
 * mobj_send() is mobj_send_timeout() with -1.
 *
 * @param timeout_ms  0 never waits; -1 waits forever.
 * @return 0, the errors of mobj_send(), or -ETIMEDOUT (the queue stayed
 *         full; nothing was sent), -EINVAL (timeout_ms < -1).
 */
MOBJ_EXPORT int mobj_send_timeout(struct mobj_chan *c, struct mobj *o,
                                  const void *data, size_t len, int timeout_ms);

/**
 * Receive one message: its payload into @p buf and its object into @p *o.
 *
 * @param o    receives the object, or NULL when the message had none. May be
 *             NULL when no object is expected: one that arrives anyway is
 *             released and the call fails with -EPROTO, as does a message
 *             of several objects (mobj_recvv() takes those).
 * @param buf  room for @p cap bytes (may be NULL when cap is 0).
 * @return the payload length (0..MOBJ_MSG_MAX), or
 *  -EINVAL     NULL channel, a listener, buf NULL with cap > 0, a timeout
 *              below -1;
 *  -ETIMEDOUT  nothing within timeout_ms (0 polls, -1 waits forever);
 *  -EPIPE      the peer is gone and every message it sent has been read;
 *  -EPROTO     a malformed or unacceptable message (consumed, its handles
 *              released; the channel stays usable);
 *  -EMSGSIZE   the payload is larger than cap (the message is consumed and
 *              its object released);
 *  -EMFILE, -ENFILE, -ENOMEM  no room to keep the received object (the
 *              message is consumed and its object released).
 */
MOBJ_EXPORT int mobj_recv(struct mobj_chan *c, int timeout_ms, struct mobj **o,
                          void *buf, size_t cap);

/**
 * Send @p len bytes of @p data with the @p nobjs objects @p objs[0..nobjs)
 * in one message: the peer receives all of them or none (mobj_recvv()).
 * Each keeps the caller's handle and arrives with the same access. A
 * message of at most one object is also what mobj_recv() takes.
 *
 * @param objs    NULL when @p nobjs is 0; no element may be NULL (the
 *                same object twice is allowed: it arrives twice).
 * @param nobjs   0..MOBJ_MSG_OBJS_MAX.
 * @return 0, or the errors of mobj_send(); -EINVAL also for objs NULL with
 *         nobjs > 0 or a NULL element, -EMSGSIZE also for nobjs >
 *         MOBJ_MSG_OBJS_MAX.
 */
MOBJ_EXPORT int mobj_sendv(struct mobj_chan *c, struct mobj *const *objs,
                           size_t nobjs, const void *data, size_t len);

/** mobj_sendv() with a timeout, as mobj_send_timeout(). */
MOBJ_EXPORT int mobj_sendv_timeout(struct mobj_chan *c, struct mobj *const *objs,
                                   size_t nobjs, const void *data, size_t len,
                                   int timeout_ms);

/**
 * Receive one message with any number of objects: its payload into @p buf,
 * its objects into @p objs[0..*nobjs), in the order they were sent.
 *
 * Every object is checked before any is handed over: if one is refused,
 * all are released and the call is -EPROTO.
 *
 * @param objs    room for @p cap handles (may be NULL when cap is 0).
 * @param nobjs   receives how many objects came (0..cap).
 * @param buf     room for @p buflen bytes (may be NULL when buflen is 0).
 * @return the payload length (0..MOBJ_MSG_MAX), or the errors of
 *  mobj_recv(); -EINVAL also for nobjs NULL or objs NULL with cap > 0;
 *  -EMSGSIZE also when the message carried more than @p cap objects (it is
 *  consumed, every handle it carried released, and the channel stays
 *  usable).
 */
MOBJ_EXPORT int mobj_recvv(struct mobj_chan *c, int timeout_ms,
                           struct mobj **objs, size_t cap, size_t *nobjs,
                           void *buf, size_t buflen);

/**
 * A descriptor that polls readable when mobj_recv() (or, on a listener,
 * mobj_chan_accept()) would not block, for event loops. Owned by the
 * channel: do not close it, read from it, duplicate it or pass it on
 * (Linux: mobj_chan_close() may shut the socket down).
 * @return the descriptor, or -EINVAL.
 */
MOBJ_EXPORT int mobj_chan_fd(const struct mobj_chan *c);

/**
 * The peer's process id and user id, as the kernel reported them when the
 * channel was set up (Linux SO_PEERCRED, Darwin audit token). Either
 * pointer may be NULL.
 *
 * Which process that is: for mobj_chan_accept(), the process that called
 * mobj_chan_connect(); for mobj_chan_connect(), the one that called
 * mobj_chan_listen(). A process that got its end by fork() (or as a passed
 * descriptor) is not seen: the pid stays the one recorded at set-up.
 * The pid is translated into the caller's PID namespace; 0 when the peer is
 * not visible there.
 *
 * A mobj_chan_pair() end on Linux (where fork() carries the ends into a
 * child): the kernel records the pair's creator on both ends, which names
 * the wrong process as soon as one end moves to a child. So the pid is 0
 * until the first message has been received on this end, and from then on
 * the pid of the process that sent that message (from its SCM_CREDENTIALS,
 * which the kernel fills in; still 0 if that sender is not visible in the
 * caller's PID namespace; a sender with CAP_SYS_ADMIN may state another
 * pid there, as it may for SO_PEERCRED by connecting on behalf of another). The uid stays the pair creator's effective uid.
 * On Darwin a pair never leaves its process, and both are this process's.
 * @return 0, or -EINVAL (NULL channel, or a listener).
 */
MOBJ_EXPORT int mobj_chan_peer(const struct mobj_chan *c, pid_t *pid, uid_t *uid);

#ifdef __cplusplus
}
#endif

#endif /* MOBJ_CHAN_H */
