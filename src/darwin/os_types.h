/* Native handles of the Darwin backend. */
#ifndef MOBJ_DARWIN_OS_TYPES_H
#define MOBJ_DARWIN_OS_TYPES_H

#include <stdbool.h>
#include <sys/types.h>

#include <mach/message.h>
#include <mach/port.h>

struct mobj__os_obj {
	/* A send right to a named memory entry (one user reference owned by
	 * this handle). Read-only handles are child entries made with
	 * VM_PROT_READ only, so the kernel refuses to map them writable. */
	mach_port_t port;
	unsigned gen;        /* mobj__darwin_gen() when made: a child of fork()
	                      * has none of the names (backend.h) */
};

/* One end of a channel, or a listener (see chan.c). */
struct mobj__os_chan {
	mach_port_t recv;    /* receive right: this end's port, or the service
	                      * port of a listener */
	mach_port_t peer;    /* send right to the peer's port; MACH_PORT_NULL
	                      * for a listener, and for a connector until the
	                      * listener's welcome brings it */
	int kq;              /* kqueue watching recv, for mobj_chan_fd() */
	bool listener;
	bool dead;           /* the kernel said the peer is gone */
	pid_t pid;           /* from the peer's audit token; a listener: its own */
	uid_t uid;           /* the peer's effective uid */
	audit_token_t token; /* the peer's whole token: every message must carry it */
	int welcome_ms;      /* accepted: what is left of accept's timeout, for
	                      * sending the welcome (-1: none) */
	unsigned gen;        /* mobj__darwin_gen() when made */
};

/* One end of a ring: the Mach semaphore this end created and signals to
 * wake its peer, and a send right to the one the peer created, which this
 * end sleeps on (MACH_PORT_NULL when zeroed). */
struct mobj__os_waker {
	mach_port_t mine;
	mach_port_t theirs;
	unsigned gen;        /* mobj__darwin_gen() when made */
};

/* A pollable event for mobj_ring_fd(): a non-blocking pipe (ring_event.c). */
struct mobj__os_event {
	int rfd;
	int wfd;
};

/* A peer event (ring_pevent.c): this end's receive port, which the peer
 * holds a send right to and sends empty messages to; a send right to the
 * peer's port, whose death a dead-name notification reports to ours; and
 * a kqueue watching ours (EVFILT_MACHPORT), plus a user event triggered
 * for good once the peer's port is known dead. */
struct mobj__os_pevent {
	mach_port_t recv;
	mach_port_t peer;    /* MACH_PORT_NULL until the peer's answer */
	int kq;
	bool watching;       /* a dead-name request on peer is armed */
	bool sendable;       /* recv also holds a send right of ours (the one
	                      * mobj_ring_export() offers) */
	bool dead;           /* the peer's port died, or it closed its end */
	unsigned gen;        /* mobj__darwin_gen() when made */
};

/* Whether mobj__os_waker_wake() on a ring's wake word wakes every waiter
 * asleep on that word, whichever waker it sleeps through (os.h);
 * 0 here: each 1:N consumer sleeps on a semaphore of its own. */
#define MOBJ__OS_WAKE_SHARED 0

#endif
