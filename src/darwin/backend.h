/*
 * Internals shared by the files of the Darwin backend.
 */
#ifndef MOBJ_DARWIN_BACKEND_H
#define MOBJ_DARWIN_BACKEND_H

#include <stdbool.h>

#include <mach/mach.h>

/*
 * Translate a failed kern_return_t (or mach_msg_return_t, or bootstrap
 * error) into a negative errno: the one place where Mach errors become
 * errno values. The original is kept for the calling thread so that
 * mobj_strerror() can name it. @kr must not be KERN_SUCCESS.
 */
int mobj__kr(kern_return_t kr);

/* fork(): the child has none of its parent's port names, and a name it
 * later owns may equal one of them, so a handle made before the fork must
 * never be released in the child: mach_port_deallocate or mod_refs on a
 * name the task lacks raises a guard exception (XNU
 * mach_port_deallocate_kernel, mach_port_mod_refs:
 * mach_port_guard_exception with kGUARD_EXC_INVALID_NAME), fatal in
 * hardened processes, and on a name it reused would drop the child's own
 * right. Every handle records the generation it was made in; each fork()
 * child starts a new one (object.c, pthread_atfork). */
unsigned mobj__darwin_gen(void);
bool mobj__darwin_inherited(unsigned gen);

/* Whether @port is a read-write entry frozen in this process (object.c). */
bool mobj__darwin_frozen(mach_port_t port);

struct mobj__os_chan;

/* Pass one send right over a connected channel, outside the core's message
 * stream (the ring's semaphores). Send keeps the caller's reference
 * (COPY_SEND); receive hands over a new one. -EPROTO when the next message
 * is anything else (it is destroyed), -EPIPE, -ETIMEDOUT. */
int mobj__darwin_chan_send_port(struct mobj__os_chan *c, mach_port_t port,
                                int timeout_ms);
int mobj__darwin_chan_recv_port(struct mobj__os_chan *c, int timeout_ms,
                                mach_port_t *port);

struct mobj__os_pevent;

/* The peer event's halves (ring_pevent.c), for ring_xfer.c: open makes
 * this end's port, its kqueue and the first wake; watch arms the dead-name
 * request on @e->peer (a peer already dead marks @e dead), unwatch
 * cancels it. */
int mobj__darwin_pevent_open(struct mobj__os_pevent *e);
int mobj__darwin_pevent_watch(struct mobj__os_pevent *e);
void mobj__darwin_pevent_unwatch(struct mobj__os_pevent *e);

/* Retire the stale knotes of kqueue @kq (ring_pevent.c, where the XNU
 * functions are cited): poll() on a kqueue counts the knotes queued, and
 * one that fired stays queued until a kevent() processes it, so a kqueue
 * over a port that mach_msg emptied polls readable until this runs.
 * @rounds of 64 knotes each. */
void mobj__darwin_kq_settle(int kq, int rounds);

#endif
