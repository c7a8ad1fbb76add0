/*
 * Darwin channels: Mach messages between two receive ports, names through
 * the bootstrap server (launchd).
 *
 * A channel end owns a receive right (its own port) and a send right to
 * its peer's port. A listener owns the service port of
 * bootstrap_check_in(). Three kinds of message, told apart by msgh_id,
 * share one layout: header, body, exactly MSG_PORTS port descriptors (the
 * rights that travel first, in order, then MACH_PORT_NULL names: XNU's
 * ipc_kmsg_copyin_port_descriptor() passes a null name through untouched),
 * a 32-bit length, then that many bytes of msg.h wire format, which this
 * file moves and never reads:
 *
 *   CONNECT  connector -> service port: a send right to the connector's
 *            port (MAKE_SEND), no bytes. The listener reads the sender's
 *            audit token from the trailer: the peer's pid and euid.
 *   WELCOME  listener -> connector, once the core has accepted the peer: a
 *            send right to the connection's own port, plus the HELLO bytes.
 *            Until it arrives the connector has no peer port; its first
 *            receive takes the port out of the message and hands the core
 *            only the bytes.
 *   DATA     either way: the bytes, and 0..MOBJ_MSG_OBJS_MAX memory entries
 *            (COPY_SEND: the sender keeps its reference).
 *   PORT     either way, for the backend's own use (the ring's
 *            semaphores): one send right, no bytes; never seen by the core.
 *
 * Receiving validates like Mojo: the complex bit and descriptor count,
 * each descriptor's type and disposition and their order, the sizes, the
 * trailer (all in msg_check.c, a pure function that also runs on Linux),
 * then here the id expected in this state and the sender's whole audit
 * token against the peer's (a pid alone can be reused). Anything unexpected is
 * mach_msg_destroy()ed, so none of its rights leak, and reported -EPROTO;
 * the next message is read by the next call.
 *
 * Peer death: a dead-name notification on the peer's port, and (for a
 * connector, whose peer port comes late, and for a pair) a no-senders
 * notification on its own port requested with sync=1 once the first send
 * right is out. Both are
 * queued after every message the peer sent before it died, so -EPIPE comes
 * only when all of those have been read. Anyone holding a send right can
 * forge a notification: only those whose audit token is the kernel's are
 * believed. A dead-name notification carries one extra reference to the
 * dead name, released at once; the handle's own at close.
 *
 * Receive rights are released with mach_port_mod_refs(RECEIVE, -1), never
 * mach_port_deallocate (a guarded exception on a receive-only name).
 *
 * mobj_chan_fd() is a kqueue watching the receive port with
 * EVFILT_MACHPORT (readiness only, nothing is dequeued by it), plus a user
 * event triggered once the peer is known gone. Every receive settles it
 * (mobj__darwin_kq_settle): XNU's kqueue_select counts queued knotes, and
 * one stays queued after mach_msg emptied the port until kevent() runs. Ports and
 * kqueues do not survive fork(): mobj_chan_pair() works between threads of
 * one process; a parent and child meet through a name.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/event.h>
#include <fcntl.h>
#include <unistd.h>

#include <mach/mach.h>
#include <mach/notify.h>

#include "../internal.h"
#include "../msg.h"
#include "backend.h"
#include "compat.h"
#include "msg_check.h"

#define ID_CONNECT 0x6d6f6201
#define ID_WELCOME 0x6d6f6202
#define ID_DATA    0x6d6f6203
#define ID_PORT    0x6d6f6204 /* backend-private: one send right, no bytes */

/* The one message layout, sent and received. */
#define MSG_PORTS MOBJ_MSG_OBJS_MAX
struct chan_msg {
	mach_msg_header_t hdr;
	mach_msg_body_t body;
	mach_msg_port_descriptor_t port[MSG_PORTS];
	uint32_t len;
	unsigned char data[MOBJ__MSG_WIRE_MAX];
};

_Static_assert(sizeof(mach_msg_header_t) == 24, "Mach header layout");
_Static_assert(offsetof(struct chan_msg, body) == 24, "message layout");
_Static_assert(offsetof(struct chan_msg, port) == 28, "message layout");
_Static_assert(sizeof(mach_msg_port_descriptor_t) == 12, "descriptor layout");
_Static_assert(offsetof(struct chan_msg, len) == 28 + 12 * MSG_PORTS,
               "message layout");
_Static_assert(offsetof(struct chan_msg, data) == 32 + 12 * MSG_PORTS,
               "message layout");

#define MSG_FIXED ((mach_msg_size_t)offsetof(struct chan_msg, data))

/* msg_check.c checks received messages against its own copy of this
 * layout, static-asserted there against Apple's types. */
_Static_assert(MSG_PORTS == MOBJ__MACH_CHAN_PORTS, "descriptor count");
_Static_assert(MSG_FIXED == MOBJ__MACH_CHAN_FIXED, "message layout");

/* Receive buffer: the largest message, then room for the audit trailer
 * (it sits at round_msg(msgh_size), inside this for any valid message). */
struct chan_rcv {
	struct chan_msg m;
	mach_msg_audit_trailer_t trailer;
	/* A kernel notification is smaller than a message; nothing larger
	 * than this buffer is ever dequeued whole (no MACH_RCV_LARGE: the
	 * kernel destroys it, rights included). */
};

#define RCV_OPTIONS (MACH_RCV_MSG | \
	MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) | \
	MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT))

/* ---- Ports ---------------------------------------------------------------- */

static void release_recv(mach_port_t *p)
{
	if (MACH_PORT_VALID(*p))
		mach_port_mod_refs(mach_task_self(), *p, MACH_PORT_RIGHT_RECEIVE, -1);
	*p = MACH_PORT_NULL;
}

static void release_send(mach_port_t *p)
{
	if (MACH_PORT_VALID(*p))
		mach_port_deallocate(mach_task_self(), *p);
	*p = MACH_PORT_NULL;
}

static int new_recv(mach_port_t *out)
{
	mach_port_limits_t lim = { .mpl_qlimit = MACH_PORT_QLIMIT_MAX };
	mach_port_t p = MACH_PORT_NULL;
	kern_return_t kr;

	kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &p);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	/* The default queue holds 5 messages; a socket buffers far more, and
	 * one thread may send several before reading. Best effort. */
	mach_port_set_attributes(mach_task_self(), p, MACH_PORT_LIMITS_INFO,
	                         (mach_port_info_t)&lim, MACH_PORT_LIMITS_INFO_COUNT);
	*out = p;
	return 0;
}

/* Ask the kernel to send notification @id about @name to @c->recv. */
static kern_return_t notify(struct mobj__os_chan *c, mach_port_t name,
                            mach_msg_id_t id, mach_port_mscount_t sync)
{
	mach_port_t prev = MACH_PORT_NULL;
	kern_return_t kr;

	kr = mach_port_request_notification(mach_task_self(), name, id, sync,
	                                    c->recv, MACH_MSG_TYPE_MAKE_SEND_ONCE,
	                                    &prev);
	if (MACH_PORT_VALID(prev))
		mach_port_deallocate(mach_task_self(), prev);
	return kr;
}

/* The peer is gone: from now on mobj_recv() never blocks, so the fd must
 * poll readable for good, as a socket whose peer hung up does. The message
 * that told us is consumed; a user event on the kqueue, triggered and
 * never reset (poll() does not retrieve it), stands in for it. */
static void mark_dead(struct mobj__os_chan *c)
{
	struct kevent ev;

	c->dead = true;
	if (c->kq >= 0) {
		EV_SET(&ev, 1, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
		kevent(c->kq, &ev, 1, NULL, 0, NULL);
	}
}

/* Record @peer (a send right this end now owns) and watch it die. */
static void set_peer(struct mobj__os_chan *c, mach_port_t peer)
{
	mach_port_type_t type = 0;

	c->peer = peer;
	if (notify(c, peer, MACH_NOTIFY_DEAD_NAME, 0) != KERN_SUCCESS &&
	    (mach_port_type(mach_task_self(), peer, &type) != KERN_SUCCESS ||
	     (type & MACH_PORT_TYPE_DEAD_NAME)))
		mark_dead(c);
}

static void set_peer_token(struct mobj__os_chan *c, const audit_token_t *t)
{
	c->token = *t;
	c->pid = (pid_t)t->val[5];
	c->uid = (uid_t)t->val[1]; /* the effective uid */
}

/* A kqueue that polls readable while @c->recv has a message queued. */
static int open_kq(struct mobj__os_chan *c)
{
	struct kevent ev[2];
	int kq, err;

	kq = kqueue();
	if (kq < 0)
		return mobj__neg_errno();
	fcntl(kq, F_SETFD, FD_CLOEXEC);
	EV_SET(&ev[0], c->recv, EVFILT_MACHPORT, EV_ADD, 0, 0, NULL);
	EV_SET(&ev[1], 1, EVFILT_USER, EV_ADD, 0, 0, NULL); /* see mark_dead */
	if (kevent(kq, ev, 2, NULL, 0, NULL) < 0) {
		err = mobj__neg_errno();
		close(kq);
		return err;
	}
	c->kq = kq;
	return 0;
}

static void init_chan(struct mobj__os_chan *c)
{
	memset(c, 0, sizeof(*c));
	c->recv = MACH_PORT_NULL;
	c->peer = MACH_PORT_NULL;
	c->kq = -1;
	c->welcome_ms = -1;
	c->gen = mobj__darwin_gen();
}

static int rcv_checked(struct mobj__os_chan *c, int timeout_ms,
                       struct chan_rcv *r, struct mobj__mach_got *g);
static int notification(struct mobj__os_chan *c, struct chan_rcv *r, int kind,
                        const struct mobj__mach_got *g);

/* Stop dead-name notifications about @c->peer: ask for none (XNU
 * ipc_right_request_alloc with a null notify port cancels the request and
 * hands back the send-once right it held, released here). */
static void cancel_dead_name(struct mobj__os_chan *c)
{
	mach_port_t prev = MACH_PORT_NULL;

	if (!MACH_PORT_VALID(c->peer))
		return;
	mach_port_request_notification(mach_task_self(), c->peer,
	                               MACH_NOTIFY_DEAD_NAME, 0, MACH_PORT_NULL,
	                               MACH_MSG_TYPE_MAKE_SEND_ONCE, &prev);
	if (MACH_PORT_VALID(prev))
		mach_port_deallocate(mach_task_self(), prev);
}

/* Empty the queue before the port goes: a dead-name notification still
 * queued holds a reference to the dead name that destroying the message
 * would not release; everything else is destroyed with its rights. A peer
 * that keeps sending must not hold close for ever: with no dead-name
 * notification requested any more, only the messages queued now can hold
 * one, so exactly that many are drained (mach_port_get_attributes,
 * MACH_PORT_RECEIVE_STATUS: mps_msgcount, the queue's imq_msgcount in XNU
 * mach_port_get_status_helper); what comes later dies with the port,
 * rights included (XNU ipc_port_destroy -> ipc_mqueue_destroy_locked). */
static void drain(struct mobj__os_chan *c)
{
	mach_port_status_t st;
	mach_msg_type_number_t n = MACH_PORT_RECEIVE_STATUS_COUNT;
	struct mobj__mach_got g;
	struct chan_rcv r;
	natural_t left;
	int kind;

	cancel_dead_name(c);
	if (mach_port_get_attributes(mach_task_self(), c->recv,
	                             MACH_PORT_RECEIVE_STATUS,
	                             (mach_port_info_t)&st, &n) != KERN_SUCCESS)
		st.mps_msgcount = MACH_PORT_QLIMIT_MAX;
	for (left = st.mps_msgcount; left > 0; left--) {
		kind = rcv_checked(c, 0, &r, &g);
		if (kind == -EPROTO)
			continue; /* refused and destroyed */
		if (kind < 0)
			break; /* empty */
		if (kind == MOBJ__MACH_CHAN)
			mach_msg_destroy(&r.m.hdr);
		else
			notification(c, &r, kind, &g);
	}
}

void mobj__os_chan_close(struct mobj__os_chan *c)
{
	if (mobj__darwin_inherited(c->gen)) {
		/* Made before a fork(): the ports are the parent's, and a
		 * kqueue is not inherited by a child of fork(), so the fd
		 * number may now be one of the child's own files. */
		c->kq = -1;
		c->recv = c->peer = MACH_PORT_NULL;
		return;
	}
	if (MACH_PORT_VALID(c->recv) && !c->listener)
		drain(c);
	if (c->kq >= 0)
		close(c->kq);
	c->kq = -1;
	release_send(&c->peer);
	/* Destroys every message still queued, with its rights, and turns
	 * the peer's send right into a dead name (its notification). */
	release_recv(&c->recv);
}

void mobj__os_chan_discard(struct mobj__os_chan *c)
{
	mobj__os_chan_close(c);
}

/* ---- Sending -------------------------------------------------------------- */

/* Send one message to @dest. @port travels with @disp (MACH_PORT_NULL:
 * nothing). @timeout_ms < 0 blocks while the queue is full. */
static int send_msg(mach_port_t dest, mach_msg_id_t id,
                    const mach_port_t *ports, unsigned nports,
                    mach_msg_type_name_t disp, const void *data, size_t len,
                    int timeout_ms)
{
	struct chan_msg m;
	mach_msg_option_t opt = MACH_SEND_MSG;
	mach_msg_return_t mr;
	unsigned i;

	if (len > sizeof(m.data))
		return -EMSGSIZE;
	memset(&m, 0, MSG_FIXED);
	m.hdr.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0,
	                                     MACH_MSGH_BITS_COMPLEX);
	m.hdr.msgh_size = round_msg(MSG_FIXED + len);
	m.hdr.msgh_remote_port = dest;
	m.hdr.msgh_local_port = MACH_PORT_NULL;
	m.hdr.msgh_id = id;
	m.body.msgh_descriptor_count = MSG_PORTS;
	for (i = 0; i < MSG_PORTS; i++) {
		m.port[i].name = i < nports ? ports[i] : MACH_PORT_NULL;
		m.port[i].disposition = disp;
		m.port[i].type = MACH_MSG_PORT_DESCRIPTOR;
	}
	m.len = (uint32_t)len;
	if (len)
		memcpy(m.data, data, len);
	memset(m.data + len, 0, m.hdr.msgh_size - MSG_FIXED - len);
	if (timeout_ms >= 0)
		opt |= MACH_SEND_TIMEOUT;
	mr = mach_msg(&m.hdr, opt, m.hdr.msgh_size, 0, MACH_PORT_NULL,
	              timeout_ms >= 0 ? (mach_msg_timeout_t)timeout_ms :
	              MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
	if (mr == MACH_MSG_SUCCESS)
		return 0;
	/* Any failure after the kernel took the message in (timed out,
	 * interrupted, or the destination died while we waited for room:
	 * MACH_SEND_INVALID_DEST too) hands it back pseudo-received, its
	 * rights rewritten as ours to release (XNU mach_msg_trap_send ->
	 * mach_msg_receive_pseudo -> ipc_kmsg_copyout_pseudo). A failure
	 * before that left the buffer as we wrote it, with COPY_SEND and
	 * MAKE_SEND only, which mach_msg_destroy leaves alone. So destroying
	 * it is right in every case. */
	mach_msg_destroy(&m.hdr);
	if (mr == MACH_SEND_INVALID_DEST)
		return -EPIPE; /* nothing was sent: the peer's port is gone */
	return mobj__kr(mr);
}

int mobj__os_chan_send(struct mobj__os_chan *c, const void *msg, size_t len,
                       const struct mobj__os_obj *objs, unsigned nobj,
                       int timeout_ms)
{
	mach_port_t ports[MSG_PORTS];
	unsigned i;

	if (c->dead || !MACH_PORT_VALID(c->peer))
		return -EPIPE;
	if (nobj > MSG_PORTS)
		return -EINVAL;
	/* The freeze is this process's (object.c): a read-write entry sent
	 * now could be mapped writable by the receiver. Send the read-only
	 * handle instead. */
	for (i = 0; i < nobj; i++) {
		if (mobj__darwin_frozen(objs[i].port))
			return -EPERM;
		ports[i] = objs[i].port;
	}
	return send_msg(c->peer, ID_DATA, ports, nobj, MACH_MSG_TYPE_COPY_SEND,
	                msg, len, timeout_ms);
}

/* The WELCOME goes to the connector's own fresh port, whose queue is empty
 * unless the connector filled it on purpose; without a timeout such a
 * connector would hold accept for ever (XNU ipc_mqueue_send_locked: a full
 * queue blocks the sender until MACH_SEND_TIMEOUT). So it is sent within
 * what is left of accept's timeout, and never longer than WELCOME_MS
 * (accept with no timeout must still move on to the next connector): a
 * connector that does not take it counts as gone (-EPIPE). */
#define WELCOME_MS 1000

int mobj__os_chan_welcome(struct mobj__os_chan *c, const void *msg, size_t len)
{
	int ms = c->welcome_ms, err;

	if (c->dead)
		return -EPIPE;
	if (ms < 0 || ms > WELCOME_MS)
		ms = WELCOME_MS;
	err = send_msg(c->peer, ID_WELCOME, &c->recv, 1, MACH_MSG_TYPE_MAKE_SEND,
	               msg, len, ms);
	return err == -ETIMEDOUT ? -EPIPE : err;
}

/* ---- Receiving ------------------------------------------------------------ */

/* A received channel message, checked (msg_check.c). */
struct got {
	mach_msg_id_t id;
	mach_port_t port;    /* the first descriptor's send right, or NULL */
	unsigned nports;     /* how many descriptors carry a right (first) */
	const unsigned char *data;
	size_t len;
	audit_token_t token;
};

_Static_assert(sizeof(audit_token_t) ==
               sizeof(((struct mobj__mach_got *)0)->token), "audit token");

/* MACH_RCV_INTERRUPT: without it libsystem's mach_msg() restarts an
 * interrupted receive with the whole timeout again, so a signal arriving
 * more often than the timeout (an interval timer) would keep a timed
 * receive from ever timing out. Restarted here with what is left. */
static kern_return_t rcv_raw(struct mobj__os_chan *c, int timeout_ms,
                             struct chan_rcv *r)
{
	uint64_t start = mobj__os_clock_ns();
	mach_msg_option_t opt;
	mach_msg_return_t mr;
	int left = timeout_ms;

	for (;;) {
		opt = RCV_OPTIONS | MACH_RCV_INTERRUPT;
		if (left >= 0)
			opt |= MACH_RCV_TIMEOUT;
		mr = mach_msg(&r->m.hdr, opt, 0, sizeof(*r), c->recv,
		              left >= 0 ? (mach_msg_timeout_t)left :
		              MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
		if (mr != MACH_RCV_INTERRUPTED)
			return mr;
		left = mobj__time_left(timeout_ms, start);
	}
}

/* Receive one message into @r and check it with mobj__mach_check(): its
 * kind (> 0, @g filled) or a negative errno. Whatever is refused is
 * destroyed here with its rights. MACH_RCV_BODY_ERROR (with whatever
 * special bits) means the kernel copied the message out with the rights
 * that made it (XNU ipc_kmsg_copyout_descriptors, then
 * mach_msg_receive_results hands it over with ipc_kmsg_put_to_user): it is
 * destroyed, and it is the peer's doing, -EPROTO. A header error or a
 * too-large message left nothing to destroy (mach_msg_receive_error,
 * ipc_mqueue_receive_results). */
static int rcv_checked(struct mobj__os_chan *c, int timeout_ms,
                       struct chan_rcv *r, struct mobj__mach_got *g)
{
	mach_msg_return_t mr;
	int kind;

	mr = rcv_raw(c, timeout_ms, r);
	switch (mobj__mach_rcv_verdict(mr)) {
	case MOBJ__RCV_OK:
		break;
	case MOBJ__RCV_TIMED_OUT:
		return -ETIMEDOUT;
	case MOBJ__RCV_DESTROY:
		mobj__refused("a Mach message", "its rights could not be "
		              "received (MACH_RCV_BODY_ERROR)");
		mach_msg_destroy(&r->m.hdr);
		return -EPROTO;
	case MOBJ__RCV_REFUSED:
		mobj__refused("a Mach message", "too large or a bad header: "
		              "the kernel dropped it");
		return -EPROTO;
	default:
		kind = mobj__kr(mr);
		return kind < 0 ? kind : -EIO;
	}
	kind = mobj__mach_check(r, sizeof(*r), MOBJ__MSG_WIRE_MAX, g);
	if (kind < 0) {
		mobj__refused("a Mach message", "not the channel's layout "
		              "(header, descriptors, sizes or trailer)");
		mach_msg_destroy(&r->m.hdr);
	}
	return kind;
}

/* A kernel notification (mobj__mach_check believed it: simple, the
 * kernel's token) about this channel's peer: -EPIPE, the peer is gone. A
 * dead-name notification about another name is a stray: -EPROTO. */
static int notification(struct mobj__os_chan *c, struct chan_rcv *r, int kind,
                        const struct mobj__mach_got *g)
{
	if (kind == MOBJ__MACH_DEAD_NAME) {
		if (g->port[0] != c->peer || !MACH_PORT_VALID(c->peer)) {
			mach_msg_destroy(&r->m.hdr);
			return -EPROTO;
		}
		/* The notification carries its own reference to the dead
		 * name (XNU ipc_port_destroy -> ipc_notify_dead_name; the
		 * entry's urefs were raised in ipc_right_check). */
		mach_port_deallocate(mach_task_self(), c->peer);
	}
	mark_dead(c);
	return -EPIPE;
}

/* Receive one message of the channel's layout; on success (0) the
 * descriptor's right belongs to the caller (in @g->port). Kernel
 * notifications are consumed here. */
static int recv_msg(struct mobj__os_chan *c, int timeout_ms,
                    struct chan_rcv *r, struct got *g)
{
	struct mobj__mach_got mg;
	int kind;

	kind = rcv_checked(c, timeout_ms, r, &mg);
	/* mobj_chan_fd() must stop polling readable once the queue is empty
	 * (a message queued since keeps its knote active). */
	if (c->kq >= 0)
		mobj__darwin_kq_settle(c->kq, 1);
	if (kind == -ETIMEDOUT)
		return c->dead ? -EPIPE : -ETIMEDOUT;
	if (kind == MOBJ__MACH_DEAD_NAME || kind == MOBJ__MACH_NO_SENDERS)
		return notification(c, r, kind, &mg);
	if (kind != MOBJ__MACH_CHAN)
		return kind < 0 ? kind : -EPROTO;
	g->id = mg.id;
	g->port = mg.port[0];
	g->nports = mg.nports;
	g->data = mg.data;
	g->len = mg.len;
	memcpy(&g->token, mg.token, sizeof(g->token));
	return 0;
}

int mobj__os_chan_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                       size_t cap, struct mobj__os_obj *objs, unsigned max,
                       unsigned *nobj)
{
	struct chan_rcv r;
	struct got g;
	unsigned i;
	int err;

	/* Once the peer is known dead, only what is already queued is left:
	 * never wait for more. */
	err = recv_msg(c, c->dead ? 0 : timeout_ms, &r, &g);
	if (err < 0)
		return err;
	if (g.len > cap)
		goto reject;
	if (!MACH_PORT_VALID(c->peer)) {
		/* A connector's first message: the WELCOME with the
		 * connection's port; the core gets only the bytes. */
		if (g.id != ID_WELCOME || !MACH_PORT_VALID(g.port) ||
		    g.nports != 1)
			goto reject;
		set_peer_token(c, &g.token);
		set_peer(c, g.port);
		memcpy(buf, g.data, g.len);
		*nobj = 0;
		return (int)g.len;
	}
	if (g.id != ID_DATA || g.nports > max ||
	    memcmp(&g.token, &c->token, sizeof(c->token)) != 0)
		goto reject;
	for (i = 0; i < g.nports; i++)
		if (r.m.port[i].name == MACH_PORT_DEAD)
			goto reject;
	if (g.len)
		memcpy(buf, g.data, g.len);
	*nobj = g.nports;
	for (i = 0; i < g.nports; i++) {
		objs[i].port = r.m.port[i].name;
		objs[i].gen = mobj__darwin_gen();
	}
	return (int)g.len;
reject:
	mach_msg_destroy(&r.m.hdr);
	return -EPROTO;
}

int mobj__darwin_chan_send_port(struct mobj__os_chan *c, mach_port_t port,
                                int timeout_ms)
{
	if (c->dead || !MACH_PORT_VALID(c->peer))
		return -EPIPE;
	return send_msg(c->peer, ID_PORT, &port, 1, MACH_MSG_TYPE_COPY_SEND, NULL,
	                0, timeout_ms);
}

int mobj__darwin_chan_recv_port(struct mobj__os_chan *c, int timeout_ms,
                                mach_port_t *port)
{
	struct chan_rcv r;
	struct got g;
	int err;

	if (!MACH_PORT_VALID(c->peer))
		return -EPIPE;
	err = recv_msg(c, c->dead ? 0 : timeout_ms, &r, &g);
	if (err < 0)
		return err;
	if (g.id != ID_PORT || g.len != 0 || g.nports != 1 ||
	    memcmp(&g.token, &c->token, sizeof(c->token)) != 0) {
		mach_msg_destroy(&r.m.hdr);
		return -EPROTO;
	}
	/* A right whose port died in transit arrives as MACH_PORT_DEAD (XNU
	 * ipc_kmsg_copyout_port_descriptor -> ipc_kmsg_copyout_port): the
	 * peer's semaphore died with the peer, which is gone. */
	if (g.port == MACH_PORT_DEAD)
		return -EPIPE;
	*port = g.port;
	return 0;
}

/* ---- Set-up ---------------------------------------------------------------- */

static int copy_name(const char *name, name_t out)
{
	size_t n = strlen(name);

	if (n >= sizeof(name_t))
		return -EINVAL;
	memcpy(out, name, n + 1);
	return 0;
}

/* launchd answers BOOTSTRAP_NOT_PRIVILEGED both to a sandboxed caller and
 * to a check-in of a name some other live process checked in (launchd's
 * job_mig_check_in, launchd_core_logic.c: the service's job is not the
 * caller's). A name that looks up is in use; one that does not, and still
 * may not be checked in, is the sandbox saying no. */
static bool name_in_use(const name_t svc)
{
	mach_port_t p = MACH_PORT_NULL;

	if (bootstrap_look_up(bootstrap_port, svc, &p) != KERN_SUCCESS)
		return false;
	release_send(&p);
	return true;
}

int mobj__os_chan_listen(const char *name, struct mobj__os_chan *out)
{
	struct mobj__os_chan c;
	name_t svc;
	kern_return_t kr;
	int err;

	err = copy_name(name, svc);
	if (err < 0)
		return err;
	init_chan(&c);
	kr = bootstrap_check_in(bootstrap_port, svc, &c.recv);
	if (kr == BOOTSTRAP_NOT_PRIVILEGED && name_in_use(svc))
		return -EADDRINUSE;
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	c.listener = true;
	c.pid = getpid();
	c.uid = geteuid();
	err = open_kq(&c);
	if (err < 0) {
		mobj__os_chan_close(&c);
		return err;
	}
	*out = c;
	return 0;
}

int mobj__os_chan_accept(struct mobj__os_chan *l, int timeout_ms,
                         struct mobj__os_chan *out)
{
	uint64_t start = mobj__os_clock_ns();
	struct mobj__os_chan c;
	struct chan_rcv r;
	struct got g;
	int err, left;

	for (;;) {
		left = mobj__time_left(timeout_ms, start);
		err = recv_msg(l, left, &r, &g);
		if (err == 0 && (g.id != ID_CONNECT || g.len != 0 ||
		                 !MACH_PORT_VALID(g.port) || g.nports != 1)) {
			mach_msg_destroy(&r.m.hdr);
			err = -EPROTO;
		}
		if (err == -EPROTO) {
			/* A stray message, destroyed: keep waiting, but only
			 * within the timeout (a sender that keeps the queue
			 * full of them must not hold accept). */
			if (left == 0)
				return -ETIMEDOUT;
			continue;
		}
		if (err < 0)
			return err;
		init_chan(&c);
		set_peer_token(&c, &g.token);
		err = new_recv(&c.recv);
		if (err == 0)
			err = open_kq(&c);
		if (err < 0) {
			mach_msg_destroy(&r.m.hdr);
			mobj__os_chan_close(&c);
			return err;
		}
		set_peer(&c, g.port);
		c.welcome_ms = mobj__time_left(timeout_ms, start);
		*out = c;
		return 0;
	}
}

int mobj__os_chan_connect(const char *name, int timeout_ms,
                          struct mobj__os_chan *out)
{
	struct mobj__os_chan c;
	mach_port_t svc = MACH_PORT_NULL;
	name_t n;
	kern_return_t kr;
	int err;

	err = copy_name(name, n);
	if (err < 0)
		return err;
	kr = bootstrap_look_up(bootstrap_port, n, &svc);
	if (kr == BOOTSTRAP_UNKNOWN_SERVICE)
		return -EAGAIN; /* nobody listens (yet) */
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	init_chan(&c);
	err = new_recv(&c.recv);
	if (err == 0)
		err = open_kq(&c);
	if (err == 0)
		err = send_msg(svc, ID_CONNECT, &c.recv, 1, MACH_MSG_TYPE_MAKE_SEND,
		               NULL, 0, timeout_ms);
	release_send(&svc);
	if (err == -EPIPE)
		err = -EAGAIN; /* a stale name whose listener died */
	if (err == 0) {
		/* The listener now holds the only send right to our port:
		 * when it goes (refused, or the listener died) the kernel
		 * tells us. sync=1, as that right is already out. */
		kr = notify(&c, c.recv, MACH_NOTIFY_NO_SENDERS, 1);
		if (kr != KERN_SUCCESS)
			err = mobj__kr(kr);
	}
	if (err < 0) {
		mobj__os_chan_close(&c);
		return err;
	}
	*out = c;
	return 0;
}

/* Give @x a send right to @y's port, as its peer. In one task the send
 * right shares the name of the port's receive right. */
static int link_to(struct mobj__os_chan *x, const struct mobj__os_chan *y)
{
	kern_return_t kr;

	kr = mach_port_insert_right(mach_task_self(), y->recv, y->recv,
	                            MACH_MSG_TYPE_MAKE_SEND);
	if (kr != KERN_SUCCESS)
		return mobj__kr(kr);
	set_peer(x, y->recv);
	return 0;
}

int mobj__os_chan_pair(struct mobj__os_chan *a, struct mobj__os_chan *b)
{
	struct mobj__os_chan ca, cb;
	mach_msg_type_number_t n = TASK_AUDIT_TOKEN_COUNT;
	audit_token_t self;
	kern_return_t kr;
	int err;

	init_chan(&ca);
	init_chan(&cb);
	err = new_recv(&ca.recv);
	if (err == 0)
		err = new_recv(&cb.recv);
	if (err == 0)
		err = open_kq(&ca);
	if (err == 0)
		err = open_kq(&cb);
	if (err == 0)
		err = link_to(&ca, &cb);
	if (err == 0)
		err = link_to(&cb, &ca);
	if (err < 0)
		goto fail;
	/* Both peers' ports live in this task, where a dead-name request on
	 * a name that also holds the receive right may be refused: each end
	 * also learns of the other's close when its one send right goes. */
	kr = notify(&ca, ca.recv, MACH_NOTIFY_NO_SENDERS, 1);
	if (kr == KERN_SUCCESS)
		kr = notify(&cb, cb.recv, MACH_NOTIFY_NO_SENDERS, 1);
	if (kr != KERN_SUCCESS) {
		err = mobj__kr(kr);
		goto fail;
	}
	/* Both ends are this task: messages carry its own audit token. */
	kr = task_info(mach_task_self(), TASK_AUDIT_TOKEN, (task_info_t)&self, &n);
	if (kr != KERN_SUCCESS) {
		err = mobj__kr(kr);
		goto fail;
	}
	set_peer_token(&ca, &self);
	set_peer_token(&cb, &self);
	*a = ca;
	*b = cb;
	return 0;
fail:
	mobj__os_chan_close(&ca);
	mobj__os_chan_close(&cb);
	return err;
}

int mobj__os_chan_fd(const struct mobj__os_chan *c)
{
	return c->kq >= 0 ? c->kq : -EINVAL;
}

void mobj__os_chan_peer(const struct mobj__os_chan *c, pid_t *pid, uid_t *uid)
{
	if (pid)
		*pid = c->pid;
	if (uid)
		*uid = c->uid;
}
