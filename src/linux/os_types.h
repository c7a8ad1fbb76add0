/* Native handles of the Linux backend. */
#ifndef MOBJ_LINUX_OS_TYPES_H
#define MOBJ_LINUX_OS_TYPES_H

struct mobj__os_obj {
	int fd; /* a sealed memfd, close-on-exec */
};

#include <stdbool.h>
#include <sys/types.h>

struct mobj__os_chan {
	int fd;          /* AF_UNIX SOCK_SEQPACKET, close-on-exec, non-blocking */
	pid_t pid;       /* SO_PEERCRED at set-up; a listener: its creator;
	                  * a pair end: the first message's sender, 0 before */
	bool learn_pid;  /* a pair end that has not received a message yet */
	pid_t sender;    /* who sent the last message received (its
	                  * credentials, in our PID namespace; 0 unknown) */
	uid_t uid;
	unsigned forks;  /* mobj__forks() when made (see chan.c, close) */
	bool shared;     /* held by another process too: never shut down */
	char path[108];  /* a path listener's socket file, else "" */
	dev_t dev;       /* ...and its identity, so close unlinks only ours */
	ino_t ino;
};

/* One end of a ring: a pidfd on the peer process (-1 when the peer is in
 * this process, or when pidfds are missing: then @pid is polled through
 * /proc or kill(pid, 0); with neither, 0: only the peer's close is seen).
 * The futex words live in the shared control pages. */
struct mobj__os_waker {
	int pidfd;
	int pid; /* the peer's pid, 0 when the peer is in this process */
};

/* A pollable event: an eventfd (non-blocking, close-on-exec). */
struct mobj__os_event {
	int fd;
};

/* A peer event: this end's socket of an AF_UNIX socketpair
 * (ring_pevent.c), -1 when none. */
struct mobj__os_pevent {
	int fd;
};

/* Whether mobj__os_waker_wake() on a ring's wake word wakes every waiter
 * asleep on that word, whichever waker it sleeps through (os.h);
 * 1 here: FUTEX_WAKE of INT_MAX on the shared word wakes every thread
 * asleep on it. */
#define MOBJ__OS_WAKE_SHARED 1

#endif
