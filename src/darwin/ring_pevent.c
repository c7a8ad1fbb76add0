/*
 * Darwin peer event for mobj_ring_fd() without a thread: each ring end owns
 * a Mach receive port, and its peer holds a send right to it. The
 * descriptor an end hands to its event loop is a kqueue watching that port
 * with EVFILT_MACHPORT (readiness only: nothing is dequeued by the kqueue),
 * so it polls readable while a message is queued:
 *
 *  - a wake: the peer sends an empty message (ID_WAKE) only when this end
 *    said it waits (ring.c), with MACH_SEND_TIMEOUT 0, so it never blocks;
 *    a full queue (limit 1) already means "will be readable";
 *  - the peer's death: each end holds a dead-name request on its send
 *    right to the peer's port, with its own port as the notify port. When
 *    the peer's process dies (or it closes its end) its receive right is
 *    destroyed and the kernel queues MACH_NOTIFY_DEAD_NAME on ours. Kernel
 *    notifications travel on send-once rights, which the queue limit does
 *    not stop (XNU ipc_mqueue_send_locked: a message to a send-once right is
 *    queued past imq_full up to the kernel's limit), so a flooding peer
 *    cannot keep it out.
 * drain() empties the queue; a dead-name notification (believed only with
 * the kernel's audit token, about exactly our peer's name) turns the end
 * dead for good, and a user event on the kqueue, triggered and never reset,
 * keeps the descriptor readable from then on, as a socket at EOF.
 *
 * Why Mach ports and not a socketpair passed as a fileport
 * (fileport_makeport/fileport_makefd): a socket can carry descriptors
 * (SCM_RIGHTS), and releasing one a hostile peer parked in our socket may
 * block in close (a FUSE file), which the Linux backend survives only with
 * its disposal thread; Darwin has none and this is about having no thread.
 * What a peer can queue on our port is destroyed with mach_msg_destroy(),
 * which releases rights and memory and never waits for anyone. And each
 * end creates its own port: no receive right (with whatever a peer armed on
 * it) ever comes from outside.
 *
 * Set-up. In-process (pair): both ports here; a closing end sends one last
 * wake before its port goes. Across processes: the producer sends a send
 * right to its port with the ring's event message (split), the consumer
 * makes its own port and answers with a send right to it (recv), the
 * producer takes that (finish). A received right is refused (-EPROTO) when
 * it names a port whose receive right this process holds and the sender is
 * another process (our signals would go to ourselves and its death would
 * never be seen, as with our own semaphore sent back); a dead one is -EPIPE.
 * What cannot be checked, as with the semaphores: that the peer owns the
 * port it sent; a lie only hides the liar's own death (its close still
 * reaches us through the ring's closed flag).
 *
 * Ports and kqueues do not survive fork(): a child drops its copy without
 * releasing anything (mobj__darwin_inherited).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/event.h>
#include <unistd.h>

#include <mach/mach.h>
#include <mach/notify.h>

#include "../internal.h"
#include "backend.h"
#include "msg_check.h"

#define ID_WAKE 0x6d6f6210

/* What drain receives: an empty wake, a notification (header, NDR, one
 * name), the audit trailer after them. Anything larger is taken off the
 * queue and destroyed by the kernel, rights included (no MACH_RCV_LARGE:
 * XNU ipc_mqueue_select_on_thread_locked dequeues it, then
 * mach_msg_receive_results -> mach_msg_receive_error frees it). */
struct pev_rcv {
	mach_msg_header_t hdr;
	unsigned char body[40];
	mach_msg_audit_trailer_t trailer;
};

#define RCV_OPTIONS (MACH_RCV_MSG | MACH_RCV_TIMEOUT | MACH_RCV_INTERRUPT | \
	MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) | \
	MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT))

/* A drain takes at most this many messages: the queue holds one wake plus
 * kernel notifications; more only if someone keeps sending as we read. */
#define DRAIN_MAX 64

/* One empty message to @dest, never waiting. MACH_SEND_TIMEOUT with 0: a
 * full queue returns MACH_SEND_TIMED_OUT at once (XNU
 * ipc_mqueue_send_locked), and the message comes back pseudo-received, the
 * destination right copied out as ours (mach_msg_trap_send ->
 * mach_msg_receive_pseudo -> ipc_kmsg_copyout_pseudo): mach_msg_destroy
 * releases it. A dead
 * destination (MACH_SEND_INVALID_DEST) copied nothing in, and the buffer as
 * written (COPY_SEND or MAKE_SEND) is left alone by mach_msg_destroy. */
static void say(mach_port_t dest, mach_msg_type_name_t disp)
{
	mach_msg_header_t h;
	mach_msg_return_t mr;

	memset(&h, 0, sizeof(h));
	h.msgh_bits = MACH_MSGH_BITS_SET(disp, 0, 0, 0);
	h.msgh_size = (mach_msg_size_t)sizeof(h);
	h.msgh_remote_port = dest;
	h.msgh_id = ID_WAKE;
	mr = mach_msg(&h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof(h), 0,
	              MACH_PORT_NULL, 0, MACH_PORT_NULL);
	if (mr != MACH_MSG_SUCCESS)
		mach_msg_destroy(&h);
}

/* The peer is gone: the descriptor polls readable for good (a user event,
 * triggered and never reset: poll() does not retrieve it). */
static void mark_dead(struct mobj__os_pevent *e)
{
	struct kevent ev;

	e->dead = true;
	EV_SET(&ev, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
	(void)kevent(e->kq, &ev, 1, NULL, 0, NULL);
}

static void reset(struct mobj__os_pevent *e)
{
	memset(e, 0, sizeof(*e));
	e->recv = MACH_PORT_NULL;
	e->peer = MACH_PORT_NULL;
	e->kq = -1;
	e->gen = mobj__darwin_gen();
}

/* This end's port, its kqueue, and one wake queued: every end starts
 * readable (ring.h: a first call tells what to wait for). */
int mobj__darwin_pevent_open(struct mobj__os_pevent *e)
{
	mach_port_limits_t lim = { .mpl_qlimit = 1 };
	struct kevent ev[2];
	kern_return_t kr;
	int err;

	reset(e);
	kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE,
	                        &e->recv);
	if (kr != KERN_SUCCESS) {
		e->recv = MACH_PORT_NULL;
		return mobj__kr(kr);
	}
	/* One queued wake is all a wake needs (XNU mach_port_set_attributes,
	 * MACH_PORT_LIMITS_INFO -> ipc_mqueue_set_qlimit_locked); best effort:
	 * the default limit of 5 only makes drain read more. */
	(void)mach_port_set_attributes(mach_task_self(), e->recv,
	                               MACH_PORT_LIMITS_INFO,
	                               (mach_port_info_t)&lim,
	                               MACH_PORT_LIMITS_INFO_COUNT);
	e->kq = kqueue();
	if (e->kq < 0) {
		err = mobj__neg_errno();
		goto fail;
	}
	(void)fcntl(e->kq, F_SETFD, FD_CLOEXEC);
	/* Readable while a message is queued on recv (XNU filt_machportattach
	 * -> filt_portattach; filt_port_filter_result looks at the queue's
	 * first message). No MACH_RCV_MSG in fflags: nothing is received. */
	EV_SET(&ev[0], e->recv, EVFILT_MACHPORT, EV_ADD, 0, 0, NULL);
	EV_SET(&ev[1], 1, EVFILT_USER, EV_ADD, 0, 0, NULL); /* mark_dead */
	if (kevent(e->kq, ev, 2, NULL, 0, NULL) < 0) {
		err = mobj__neg_errno();
		goto fail;
	}
	/* MAKE_SEND from our own receive right: no send right stays behind
	 * (XNU ipc_kmsg_copyin_header, ipc_right_copyin). */
	say(e->recv, MACH_MSG_TYPE_MAKE_SEND);
	return 0;
fail:
	if (e->kq >= 0)
		close(e->kq);
	mach_port_mod_refs(mach_task_self(), e->recv, MACH_PORT_RIGHT_RECEIVE, -1);
	reset(e);
	return err;
}

/* Ask the kernel for a dead-name notification about @e->peer on our port.
 * On a name that is dead already the request fails (XNU
 * mach_port_request_notification -> ipc_right_request_alloc:
 * KERN_INVALID_ARGUMENT without the send-possible option): then the peer
 * is gone now. A name holds one request in a task: ipc_right_request_alloc
 * replaces an earlier one and hands back its send-once right. Another of
 * our ends (or a channel) watches this port already, given us twice (an
 * offer imported twice, a peer sending its channel's port): its request
 * goes back, and the port is refused. */
int mobj__darwin_pevent_watch(struct mobj__os_pevent *e)
{
	mach_port_t prev = MACH_PORT_NULL, ours = MACH_PORT_NULL;
	mach_port_type_t type = 0;
	kern_return_t kr;

	kr = mach_port_request_notification(mach_task_self(), e->peer,
	                                    MACH_NOTIFY_DEAD_NAME, 0, e->recv,
	                                    MACH_MSG_TYPE_MAKE_SEND_ONCE, &prev);
	if (kr == KERN_SUCCESS && MACH_PORT_VALID(prev)) {
		(void)mach_port_request_notification(mach_task_self(), e->peer,
		                                     MACH_NOTIFY_DEAD_NAME, 0, prev,
		                                     MACH_MSG_TYPE_MOVE_SEND_ONCE,
		                                     &ours);
		if (MACH_PORT_VALID(ours))
			mach_port_deallocate(mach_task_self(), ours);
		return -EPROTO;
	}
	if (kr == KERN_SUCCESS) {
		e->watching = true;
		return 0;
	}
	if (mach_port_type(mach_task_self(), e->peer, &type) == KERN_SUCCESS &&
	    (type & MACH_PORT_TYPE_DEAD_NAME)) {
		mark_dead(e);
		return 0;
	}
	return mobj__kr(kr);
}

/* Whether @port, a send right just received from the peer on @c (another
 * process unless @c says otherwise), may be the peer's port: 0, -EPIPE
 * (dead in transit or since), -EPROTO (a port whose receive right we hold,
 * from another process). A refused right is released. */
static int check_peer(mach_port_t port, struct mobj__os_chan *c,
                      mach_port_t mine)
{
	mach_port_type_t type = 0;
	pid_t pid = 0;

	if (port == MACH_PORT_DEAD)
		return -EPIPE; /* XNU ipc_kmsg_copyout_port: died in transit */
	if (mach_port_type(mach_task_self(), port, &type) != KERN_SUCCESS)
		return -EPROTO;
	mobj__os_chan_peer(c, &pid, NULL);
	if (port == mine ||
	    ((type & MACH_PORT_TYPE_RECEIVE) && pid != getpid())) {
		/* One name per port in a task: ours, with one more send ref. */
		mach_port_deallocate(mach_task_self(), port);
		return -EPROTO;
	}
	if (type & MACH_PORT_TYPE_DEAD_NAME) {
		mach_port_deallocate(mach_task_self(), port);
		return -EPIPE;
	}
	return 0;
}

int mobj__os_pevent_pair(struct mobj__os_pevent *a, struct mobj__os_pevent *b)
{
	struct mobj__os_pevent x, y;
	kern_return_t kr;
	int err;

	reset(a);
	reset(b);
	err = mobj__darwin_pevent_open(&x);
	if (err < 0)
		return err;
	err = mobj__darwin_pevent_open(&y);
	if (err < 0) {
		mobj__os_pevent_close(&x);
		return err;
	}
	/* In one task a send right shares its port's name. No dead-name
	 * requests: an end here never dies alone, and its close wakes the
	 * other (mobj__os_pevent_close). */
	kr = mach_port_insert_right(mach_task_self(), y.recv, y.recv,
	                            MACH_MSG_TYPE_MAKE_SEND);
	if (kr == KERN_SUCCESS) {
		x.peer = y.recv;
		kr = mach_port_insert_right(mach_task_self(), x.recv, x.recv,
		                            MACH_MSG_TYPE_MAKE_SEND);
	}
	if (kr != KERN_SUCCESS) {
		mobj__os_pevent_close(&x);
		mobj__os_pevent_close(&y);
		return mobj__kr(kr);
	}
	y.peer = x.recv;
	*a = x;
	*b = y;
	return 0;
}

/* A send right to @e->recv in @out (released by the caller, one uref). */
static int make_send(struct mobj__os_pevent *e, struct mobj__os_obj *out)
{
	kern_return_t kr;

	kr = mach_port_insert_right(mach_task_self(), e->recv, e->recv,
	                            MACH_MSG_TYPE_MAKE_SEND);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	out->port = e->recv;
	out->gen = e->gen;
	return 0;
}

int mobj__os_pevent_split(struct mobj__os_pevent *mine,
                          struct mobj__os_obj *theirs)
{
	int err = mobj__darwin_pevent_open(mine);

	if (err == 0)
		err = make_send(mine, theirs);
	if (err < 0)
		mobj__os_pevent_close(mine);
	return err;
}

/* Consumer: the producer's port came in @port (ours now). Make our own
 * port, watch the producer's, answer with a send right to ours. */
static int adopt(struct mobj__os_pevent *e, mach_port_t port,
                 struct mobj__os_chan *c, int timeout_ms)
{
	struct mobj__os_obj ours = { MACH_PORT_NULL, 0 };
	int err;

	err = check_peer(port, c, MACH_PORT_NULL);
	if (err < 0)
		return err;
	err = mobj__darwin_pevent_open(e);
	if (err < 0) {
		mach_port_deallocate(mach_task_self(), port);
		return err;
	}
	e->peer = port;
	err = mobj__darwin_pevent_watch(e);
	if (err == 0)
		err = make_send(e, &ours);
	if (err == 0) {
		err = mobj__darwin_chan_send_port(c, ours.port, timeout_ms);
		mach_port_deallocate(mach_task_self(), ours.port);
	}
	if (err < 0)
		mobj__os_pevent_close(e);
	return err;
}

int mobj__os_pevent_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                         size_t len, struct mobj__os_pevent *e, unsigned *nfd)
{
	uint64_t start = mobj__os_clock_ns();
	struct mobj__os_obj o;
	int n, err;

	reset(e);
	n = mobj__os_chan_recv(c, timeout_ms, buf, len, &o, 1, nfd);
	if (n < 0 || *nfd == 0)
		return n;
	err = adopt(e, o.port, c, mobj__time_left(timeout_ms, start));
	if (err < 0) {
		*nfd = 0;
		return err;
	}
	return n;
}

int mobj__os_pevent_finish(struct mobj__os_pevent *mine,
                           struct mobj__os_chan *c, int timeout_ms)
{
	mach_port_t port = MACH_PORT_NULL;
	int err;

	err = mobj__darwin_chan_recv_port(c, timeout_ms, &port);
	if (err == 0)
		err = check_peer(port, c, mine->recv);
	if (err < 0)
		return err;
	mine->peer = port;
	err = mobj__darwin_pevent_watch(mine);
	if (err < 0) {
		mach_port_deallocate(mach_task_self(), port);
		mine->peer = MACH_PORT_NULL;
	}
	return err;
}

void mobj__os_pevent_signal(struct mobj__os_pevent *e)
{
	if (!e->dead && MACH_PORT_VALID(e->peer) &&
	    !mobj__darwin_inherited(e->gen))
		say(e->peer, MACH_MSG_TYPE_COPY_SEND);
}

/* One received message, checked. A dead-name notification carries one
 * more reference to the dead name (XNU ipc_port_destroy ->
 * ipc_port_dnnotify -> ipc_notify_dead_name, which leaves the request in
 * the port's table, so ipc_right_check or ipc_right_delta raise the urefs
 * of every name whose request fired), released here whoever it is about:
 * also a peer let go since it fired (ring_xfer.c replaces a refused
 * answer's), whose name that reference alone keeps.
 * The kernel sends them only for our own requests (the audit token says
 * it is the kernel's). Anything else, wakes included, is destroyed with
 * whatever rights it carries. */
static void take(struct mobj__os_pevent *e, struct pev_rcv *r)
{
	struct mobj__mach_got g;

	if (r->hdr.msgh_id == ID_WAKE ||
	    mobj__mach_check(r, sizeof(*r), 0, &g) != MOBJ__MACH_DEAD_NAME) {
		mach_msg_destroy(&r->hdr);
		return;
	}
	if (MACH_PORT_VALID(g.port[0]))
		mach_port_deallocate(mach_task_self(), g.port[0]);
	/* Not e->watching: close cancels the request before it drains, and
	 * one may have fired already. */
	if (!e->dead && MACH_PORT_VALID(e->peer) && g.port[0] == e->peer) {
		e->watching = false;
		mark_dead(e);
	}
}

/* Process what is queued in kqueue @kq, ignoring it: XNU keeps a knote
 * queued once it fired until its kqueue is processed, and poll() and
 * select() on a kqueue only count queued knotes (see the set's block at
 * the end of this file), so without this an end whose wake was received
 * by mach_msg would poll readable for good. kevent() with a zero timeout
 * (kqueue_process -> knote_process) asks each queued knote's filter
 * again: one that no longer holds (filt_machportprocess finds the port's
 * queue empty: its receive with MACH_RCV_TIMEOUT times out, without
 * MACH_RCV_MSG nothing is dequeued; filt_kqprocess finds a member's
 * kq_count 0) is left inactive, off the queue; one that holds is handed
 * back here and queued again (no EV_CLEAR: filt_userprocess keeps a
 * triggered user event triggered). Active ones fill the batch; those past
 * it stay queued, live by construction or settled by the next round. */
#define SETTLE_BATCH 64
#define SET_SETTLE_ROUNDS 17 /* ring_multi.c's 1024 members / 64, + 1 */
void mobj__darwin_kq_settle(int kq, int rounds)
{
	struct kevent out[SETTLE_BATCH];
	struct timespec zero = { 0, 0 };
	int i;

	for (i = 0; i < rounds; i++)
		if (kevent(kq, NULL, 0, out, SETTLE_BATCH, &zero) < SETTLE_BATCH)
			break;
}

int mobj__os_pevent_drain(struct mobj__os_pevent *e)
{
	struct pev_rcv r;
	mach_msg_return_t mr;
	int i;

	if (mobj__darwin_inherited(e->gen))
		return 0;
	for (i = 0; i < DRAIN_MAX; i++) {
		mr = mach_msg(&r.hdr, RCV_OPTIONS, 0, sizeof(r), e->recv, 0,
		              MACH_PORT_NULL);
		switch (mobj__mach_rcv_verdict(mr)) {
		case MOBJ__RCV_OK:
			take(e, &r);
			continue;
		case MOBJ__RCV_DESTROY:
			mach_msg_destroy(&r.hdr);
			continue;
		case MOBJ__RCV_REFUSED:
		case MOBJ__RCV_INTERRUPTED:
			continue;
		default: /* timed out: empty */
			break;
		}
		break;
	}
	/* After the queue is found empty: a message queued since is either
	 * seen by this processing or, queued on an empty queue, KNOTEs the
	 * port again (XNU ipc_mqueue_post -> filt_portevent) after it. */
	mobj__darwin_kq_settle(e->kq, 1);
	return e->dead ? -EPIPE : 0;
}

/* No more dead-name notifications about @e->peer (XNU
 * ipc_right_request_alloc with a null notify port cancels the request and
 * hands back the send-once right it held, released here). */
void mobj__darwin_pevent_unwatch(struct mobj__os_pevent *e)
{
	mach_port_t prev = MACH_PORT_NULL;

	if (e->watching)
		mach_port_request_notification(mach_task_self(), e->peer,
		                               MACH_NOTIFY_DEAD_NAME, 0,
		                               MACH_PORT_NULL,
		                               MACH_MSG_TYPE_MAKE_SEND_ONCE, &prev);
	if (MACH_PORT_VALID(prev))
		mach_port_deallocate(mach_task_self(), prev);
	e->watching = false;
}

int mobj__os_pevent_fd(const struct mobj__os_pevent *e)
{
	return e->kq;
}

void mobj__os_pevent_close(struct mobj__os_pevent *e)
{
	if (mobj__darwin_inherited(e->gen) || !MACH_PORT_VALID(e->recv)) {
		/* Made before a fork() (or never): nothing here is ours. */
		reset(e);
		return;
	}
	/* Then a notification may still be queued, holding a reference that
	 * destroying the port would not release: drain takes it. */
	mobj__darwin_pevent_unwatch(e);
	/* The peer's loop learns of our close now (across processes the
	 * dead-name notification follows). */
	mobj__os_pevent_signal(e);
	(void)mobj__os_pevent_drain(e);
	close(e->kq);
	/* A send right left under our port's name would keep the name alive
	 * as a dead name once the receive right goes. */
	if (e->sendable)
		mach_port_deallocate(mach_task_self(), e->recv);
	/* Destroys what is still queued, with its rights (XNU ipc_port_destroy
	 * -> ipc_mqueue_destroy_locked); the peer's right turns dead. */
	mach_port_mod_refs(mach_task_self(), e->recv, MACH_PORT_RIGHT_RECEIVE, -1);
	if (MACH_PORT_VALID(e->peer))
		mach_port_deallocate(mach_task_self(), e->peer);
	reset(e);
}

/* A forked child's copy of an end: ports and kqueues are not inherited
 * (the names and the descriptor number are the parent's, or nothing). */
void mobj__os_pevent_drop(struct mobj__os_pevent *e)
{
	reset(e);
}

/* Descriptors are Linux's (mobj_ring_xfer's event_fd): Darwin's peer
 * event travels as ports (ring_xfer.c). */
int mobj__os_pevent_split_fd(struct mobj__os_pevent *mine, int *theirs)
{
	(void)mine;
	*theirs = -1;
	return -ENOTSUP;
}

int mobj__os_pevent_adopt_fd(struct mobj__os_pevent *e, int fd)
{
	(void)e;
	close(fd);
	return -EPROTO;
}

/*
 * A 1:N producer's set of peer events (ring_multi.c): one kqueue watching
 * each member's kqueue descriptor with EVFILT_READ, level-triggered (no
 * EV_CLEAR), so it polls readable while any member's kqueue does: a wake
 * or a dead-name notification queued on the member's port, or its user
 * event triggered for good. Why a kqueue of kqueues rather than the
 * members' ports (EVFILT_MACHPORT) in the set directly: a member's
 * descriptor already says everything, its death included (mark_dead
 * triggers a user event of the member's own kqueue, which the set then
 * sees without knowing of it), and a member made dead before it joined
 * needs no second trigger.
 *
 * What XNU does with it (bsd/kern/kern_event.c):
 *  - kqueue_kqfilter attaches an EVFILT_READ knote on a kqueue descriptor
 *    (any other filter is EINVAL) to the member's kqf_sel.si_note, and
 *    refuses a cycle or a depth over MAX_NESTED_KQ (10) with EINVAL: the
 *    set is at level 2, the caller's own kqueue or poll() above it at 3.
 *    Levels only grow, and a parent at a level from 1 to below its
 *    child's is refused: a caller's kqueue at level 1 (watched itself,
 *    holding no kqueue) cannot take the set (ring.h says so).
 *  - filt_kqueue / filt_kqprocess: the knote is active while the member's
 *    kq_count (its queued knotes) is nonzero; knote_enqueue in the member
 *    calls kqfile_wakeup, which KNOTEs the set.
 *  - A queued knote is retired only when its kqueue is processed
 *    (kqueue_process -> knote_process: f_process returns 0, the knote is
 *    left inactive); a message received with mach_msg leaves the member's
 *    EVFILT_MACHPORT knote queued, and poll() and select() only count
 *    (kqueue_select returns kqf_count; poll_nocancel in
 *    bsd/kern/sys_generic.c registers EVFILT_READ on the descriptor, which
 *    is filt_kqprocess above). So each level is settled with a kevent()
 *    that processes it: a member's in drain, the set's in set_drain.
 *  - Closing a member's kqueue while it is in the set drops the set's
 *    knote (close -> knote_fdclose); ring_multi.c deletes first anyway.
 *  - kqueue() descriptors are FP_CLOFORK and FG_CONFINED
 *    (kqueue_internal), skipped by fdt_fork: a fork() child has no set,
 *    and the number may be another file of the child's (set_drop).
 * The set holds only our own members' kqueues: no peer can reach it.
 */
int mobj__os_pevent_set_open(int *fd)
{
	int kq = kqueue();

	if (kq < 0)
		return mobj__neg_errno();
	(void)fcntl(kq, F_SETFD, FD_CLOEXEC);
	*fd = kq;
	return 0;
}

int mobj__os_pevent_set_add(int set, const struct mobj__os_pevent *e)
{
	struct kevent ev;

	if (e->kq < 0 || mobj__darwin_inherited(e->gen))
		return -EBADF;
	EV_SET(&ev, (uintptr_t)e->kq, EVFILT_READ, EV_ADD, 0, 0, NULL);
	if (kevent(set, &ev, 1, NULL, 0, NULL) < 0)
		return mobj__neg_errno();
	return 0;
}

void mobj__os_pevent_set_del(int set, const struct mobj__os_pevent *e)
{
	struct kevent ev;

	if (e->kq < 0 || mobj__darwin_inherited(e->gen))
		return;
	EV_SET(&ev, (uintptr_t)e->kq, EVFILT_READ, EV_DELETE, 0, 0, NULL);
	(void)kevent(set, &ev, 1, NULL, 0, NULL);
}

/* Retire the set's stale knotes (members drained since): see settle. */
void mobj__os_pevent_set_drain(int set)
{
	mobj__darwin_kq_settle(set, SET_SETTLE_ROUNDS);
}

void mobj__os_pevent_set_close(int set)
{
	close(set);
}

/* Nothing of the set crossed fork(): the descriptor number is not ours. */
void mobj__os_pevent_set_drop(int set)
{
	(void)set;
}
