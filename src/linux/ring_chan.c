/*
 * Linux ring set-up across processes: each side sends its pid over the
 * channel, the producer first, and opens a pidfd on the peer's. The
 * channel's SO_PEERCRED pid is no use: for a mobj_chan_pair() it names the
 * process that made the pair, on both ends. The claim is not verified, and
 * need not be: a peer that lies can only make itself look alive (as it
 * could by idling) or dead (ending its own ring). A pidfd pins the pid at
 * once, so pid reuse after that point cannot fool us, and a peer that died
 * just before shows as ESRCH or, later, as a readable pidfd.
 *
 * The message is the backend's own (8 bytes: magic, pid), never seen by
 * the core: it is not in msg.h's format, so a mobj_recv() that met it by
 * mistake would reject it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../internal.h"
#include "backend.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

struct pid_msg {
	uint32_t magic; /* PID_MAGIC */
	int32_t pid;
};
#define PID_MAGIC 0x70626f6du /* "mobp" */

static int send_pid(struct mobj__os_chan *c, int timeout_ms)
{
	struct pid_msg mine = { PID_MAGIC, (int32_t)getpid() };

	return mobj__os_chan_send(c, &mine, sizeof(mine), NULL, timeout_ms);
}

/* The peer's pid, or -EPROTO when the message is anything else. */
static int recv_pid(struct mobj__os_chan *c, int timeout_ms, pid_t *pid)
{
	struct mobj__os_obj obj;
	struct pid_msg theirs;
	unsigned nobj = 0;
	int n;

	n = mobj__os_chan_recv(c, timeout_ms, &theirs, sizeof(theirs), &obj,
	                       &nobj);
	if (n < 0)
		return n;
	if (nobj) {
		mobj__os_release(&obj);
		return -EPROTO;
	}
	if (n != (int)sizeof(theirs) || theirs.magic != PID_MAGIC ||
	    theirs.pid <= 0)
		return -EPROTO;
	*pid = theirs.pid;
	return 0;
}

int mobj__os_waker_connect(struct mobj__os_waker *w, struct mobj__os_chan *c,
                           bool producer, int timeout_ms)
{
	uint64_t start = mobj__os_clock_ns();
	pid_t pid = 0;
	int fd, err;

	if (producer) {
		err = send_pid(c, timeout_ms);
		if (err == 0)
			err = recv_pid(c, mobj__time_left(timeout_ms, start), &pid);
	} else {
		err = recv_pid(c, timeout_ms, &pid);
		if (err == 0)
			err = send_pid(c, mobj__time_left(timeout_ms, start));
	}
	if (err < 0)
		return err;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno == ESRCH)
		return -EPIPE;
	if (fd < 0 && errno != ENOSYS)
		return mobj__neg_errno();
	/* pidfd_open gives close-on-exec descriptors. Without pidfds (Linux
	 * before 5.3, valgrind) the pid itself is polled: weaker, as a reused
	 * pid or an unreaped zombie looks alive. */
	w->pidfd = fd;
	w->pid = pid;
	return 0;
}
