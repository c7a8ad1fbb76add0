/*
 * Darwin channels: Mach messages between two receive ports, names through
 * the bootstrap server (launchd).
 *
 * A channel end owns a receive right (its own port) and a send right to
 * its peer's port. A listener owns the service port of
 * bootstrap_check_in(). Three kinds of message, told apart by msgh_id,
 * share one layout: header, body, exactly one port descriptor (the name is
 * MACH_PORT_NULL when nothing travels), a 32-bit length, then that many
 * bytes of msg.h wire format, which this file moves and never reads:
 *
 *   CONNECT  connector -> service port: a send right to the connector's
 *            port (MAKE_SEND), no bytes. The listener reads the sender's
 *            audit token from the trailer: the peer's pid and euid.
 *   WELCOME  listener -> connector, once the core has accepted the peer: a
 *            send right to the connection's own port, plus the HELLO bytes.
 *            Until it arrives the connector has no peer port; its first
 *            receive takes the port out of the message and hands the core
 *            only the bytes.
 *   DATA     either way: the bytes, and a memory entry (COPY_SEND: the
 *            sender keeps its reference) or MACH_PORT_NULL.
 *   PORT     either way, for the backend's own use (the ring's
 *            semaphores): one send right, no bytes; never seen by the core.
 *
 * Receiving validates like Mojo: the id expected in this state, the
 * complex bit and descriptor count, the descriptor's type and disposition,
 * the sizes, the trailer, and the sender's whole audit token against the
 * peer's (a pid alone can be reused). Anything unexpected is
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
 * event triggered once the peer is known gone. Ports and
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

#define ID_CONNECT 0x6d6f6201
#define ID_WELCOME 0x6d6f6202
#define ID_DATA    0x6d6f6203
#define ID_PORT    0x6d6f6204 /* backend-private: one send right, no bytes */

/* The one message layout, sent and received. */
struct chan_msg {
	mach_msg_header_t hdr;
	mach_msg_body_t body;
	mach_msg_port_descriptor_t port;
	uint32_t len;
	unsigned char data[MOBJ__MSG_WIRE_MAX];
};

_Static_assert(sizeof(mach_msg_header_t) == 24, "Mach header layout");
_Static_assert(offsetof(struct chan_msg, body) == 24, "message layout");
_Static_assert(offsetof(struct chan_msg, port) == 28, "message layout");
_Static_assert(sizeof(mach_msg_port_descriptor_t) == 12, "descriptor layout");
_Static_assert(offsetof(struct chan_msg, len) == 40, "message layout");
_Static_assert(offsetof(struct chan_msg, data) == 44, "message layout");

#define MSG_FIXED ((mach_msg_size_t)offsetof(struct chan_msg, data))

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

static const audit_token_t kernel_token = KERNEL_AUDIT_TOKEN_VALUE;

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
		return errno ? -errno : -EIO;
	fcntl(kq, F_SETFD, FD_CLOEXEC);
	EV_SET(&ev[0], c->recv, EVFILT_MACHPORT, EV_ADD, 0, 0, NULL);
	EV_SET(&ev[1], 1, EVFILT_USER, EV_ADD, 0, 0, NULL); /* see mark_dead */
	if (kevent(kq, ev, 2, NULL, 0, NULL) < 0) {
		err = errno ? -errno : -EIO;
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
}

static kern_return_t rcv_raw(struct mobj__os_chan *c, int timeout_ms,
                             struct chan_rcv *r);
static int notification(struct mobj__os_chan *c, struct chan_rcv *r,
                        const mach_msg_audit_trailer_t *t);
static const mach_msg_audit_trailer_t *trailer_of(const struct chan_rcv *r);

/* Empty the queue before the port goes: a dead-name notification still
 * queued holds a reference to the dead name that destroying the message
 * would not release; everything else is destroyed with its rights. */
static void drain(struct mobj__os_chan *c)
{
	struct chan_rcv r;

	while (rcv_raw(c, 0, &r) == MACH_MSG_SUCCESS)
		if (notification(c, &r, trailer_of(&r)) != -EPIPE)
			mach_msg_destroy(&r.m.hdr);
}

void mobj__os_chan_close(struct mobj__os_chan *c)
{
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

/* ---- Sending -------------------------------------------------------------- */

/* Send one message to @dest. @port travels with @disp (MACH_PORT_NULL:
 * nothing). @timeout_ms < 0 blocks while the queue is full. */
static int send_msg(mach_port_t dest, mach_msg_id_t id, mach_port_t port,
                    mach_msg_type_name_t disp, const void *data, size_t len,
                    int timeout_ms)
{
	struct chan_msg m;
	mach_msg_option_t opt = MACH_SEND_MSG;
	mach_msg_return_t mr;

	if (len > sizeof(m.data))
		return -EMSGSIZE;
	memset(&m, 0, MSG_FIXED);
	m.hdr.msgh_bits = MACH_MSGH_BITS_SET(MACH_MSG_TYPE_COPY_SEND, 0, 0,
	                                     MACH_MSGH_BITS_COMPLEX);
	m.hdr.msgh_size = round_msg(MSG_FIXED + len);
	m.hdr.msgh_remote_port = dest;
	m.hdr.msgh_local_port = MACH_PORT_NULL;
	m.hdr.msgh_id = id;
	m.body.msgh_descriptor_count = 1;
	m.port.name = port;
	m.port.disposition = disp;
	m.port.type = MACH_MSG_PORT_DESCRIPTOR;
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
	/* Timed out or interrupted: the message came back with its rights
	 * (a send right made by MAKE_SEND among them): destroy it. */
	if (mr == MACH_SEND_TIMED_OUT || mr == MACH_SEND_INTERRUPTED)
		mach_msg_destroy(&m.hdr);
	if (mr == MACH_SEND_INVALID_DEST)
		return -EPIPE; /* nothing was sent: the peer's port is gone */
	return mobj__kr(mr);
}

int mobj__os_chan_send(struct mobj__os_chan *c, const void *msg, size_t len,
                       const struct mobj__os_obj *obj, int timeout_ms)
{
	if (c->dead || !MACH_PORT_VALID(c->peer))
		return -EPIPE;
	/* The freeze is this process's (object.c): a read-write entry sent
	 * now could be mapped writable by the receiver. Send the read-only
	 * handle instead. */
	if (obj && mobj__darwin_frozen(obj->port))
		return -EPERM;
	return send_msg(c->peer, ID_DATA, obj ? obj->port : MACH_PORT_NULL,
	                MACH_MSG_TYPE_COPY_SEND, msg, len, timeout_ms);
}

int mobj__os_chan_welcome(struct mobj__os_chan *c, const void *msg, size_t len)
{
	if (c->dead)
		return -EPIPE;
	return send_msg(c->peer, ID_WELCOME, c->recv, MACH_MSG_TYPE_MAKE_SEND,
	                msg, len, -1);
}

/* ---- Receiving ------------------------------------------------------------ */

/* A received message, checked against the layout. */
struct got {
	mach_msg_id_t id;
	mach_port_t port;    /* the descriptor's send right, or MACH_PORT_NULL */
	const unsigned char *data;
	size_t len;
	const audit_token_t *token;
};

static bool is_kernel(const audit_token_t *t)
{
	return memcmp(t, &kernel_token, sizeof(*t)) == 0;
}

/* The trailer of a received message, or NULL when it is not the audit
 * trailer asked for. */
static const mach_msg_audit_trailer_t *trailer_of(const struct chan_rcv *r)
{
	const mach_msg_audit_trailer_t *t;
	mach_msg_size_t at = round_msg(r->m.hdr.msgh_size);

	if (at > sizeof(r->m) ||
	    at + sizeof(*t) > sizeof(*r))
		return NULL;
	t = (const mach_msg_audit_trailer_t *)((const char *)r + at);
	if (t->msgh_trailer_type != MACH_MSG_TRAILER_FORMAT_0 ||
	    t->msgh_trailer_size < sizeof(*t))
		return NULL;
	return t;
}

/* A kernel notification about this channel's peer? (-EPIPE: the peer is
 * gone; 0: not a notification; -EPROTO: a forged or stray one, to be
 * destroyed.) */
static int notification(struct mobj__os_chan *c, struct chan_rcv *r,
                        const mach_msg_audit_trailer_t *t)
{
	mach_msg_header_t *h = &r->m.hdr;

	if (h->msgh_id != MACH_NOTIFY_DEAD_NAME &&
	    h->msgh_id != MACH_NOTIFY_NO_SENDERS)
		return 0;
	if (!t || !is_kernel(&t->msgh_audit) ||
	    (h->msgh_bits & MACH_MSGH_BITS_COMPLEX))
		return -EPROTO;
	if (h->msgh_id == MACH_NOTIFY_DEAD_NAME) {
		const mach_dead_name_notification_t *n = (const void *)h;

		if (h->msgh_size < offsetof(mach_dead_name_notification_t, trailer) ||
		    n->not_port != c->peer || !MACH_PORT_VALID(c->peer))
			return -EPROTO;
		/* The notification's own reference to the dead name. */
		mach_port_deallocate(mach_task_self(), c->peer);
	} else if (h->msgh_size < offsetof(mach_no_senders_notification_t, trailer)) {
		return -EPROTO;
	}
	mark_dead(c);
	return -EPIPE;
}

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

/* Receive one message from @c->recv and check its shape; on success the
 * descriptor's right belongs to the caller (in @g->port). Kernel
 * notifications are consumed here. */
static int recv_msg(struct mobj__os_chan *c, int timeout_ms,
                    struct chan_rcv *r, struct got *g)
{
	const mach_msg_audit_trailer_t *t;
	mach_msg_header_t *h = &r->m.hdr;
	mach_msg_return_t mr;
	int err;

	mr = rcv_raw(c, timeout_ms, r);
	if (mr == MACH_RCV_TIMED_OUT)
		return c->dead ? -EPIPE : -ETIMEDOUT;
	if (mr == MACH_RCV_TOO_LARGE)
		return -EPROTO; /* dequeued and destroyed by the kernel */
	if (mr != MACH_MSG_SUCCESS)
		return mobj__kr(mr);

	t = trailer_of(r);
	err = notification(c, r, t);
	if (err == -EPIPE)
		return err;
	if (err < 0)
		goto reject;
	if (!t || h->msgh_size < MSG_FIXED || h->msgh_size > sizeof(r->m) ||
	    !(h->msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
	    MACH_MSGH_BITS_REMOTE(h->msgh_bits) != 0 ||
	    r->m.body.msgh_descriptor_count != 1 ||
	    r->m.port.type != MACH_MSG_PORT_DESCRIPTOR ||
	    r->m.port.disposition != MACH_MSG_TYPE_PORT_SEND ||
	    r->m.len > MOBJ__MSG_WIRE_MAX ||
	    round_msg(MSG_FIXED + r->m.len) != h->msgh_size)
		goto reject;
	g->id = h->msgh_id;
	g->port = r->m.port.name;
	g->data = r->m.data;
	g->len = r->m.len;
	g->token = &t->msgh_audit;
	return 0;
reject:
	mach_msg_destroy(h);
	return -EPROTO;
}

int mobj__os_chan_recv(struct mobj__os_chan *c, int timeout_ms, void *buf,
                       size_t cap, struct mobj__os_obj *obj, unsigned *nobj)
{
	struct chan_rcv r;
	struct got g;
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
		if (g.id != ID_WELCOME || !MACH_PORT_VALID(g.port))
			goto reject;
		set_peer_token(c, g.token);
		set_peer(c, g.port);
		memcpy(buf, g.data, g.len);
		*nobj = 0;
		return (int)g.len;
	}
	if (g.id != ID_DATA ||
	    memcmp(g.token, &c->token, sizeof(c->token)) != 0 ||
	    g.port == MACH_PORT_DEAD)
		goto reject;
	if (g.len)
		memcpy(buf, g.data, g.len);
	*nobj = g.port != MACH_PORT_NULL;
	if (*nobj)
		obj->port = g.port;
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
	return send_msg(c->peer, ID_PORT, port, MACH_MSG_TYPE_COPY_SEND, NULL, 0,
	                timeout_ms);
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
	if (g.id != ID_PORT || g.len != 0 || !MACH_PORT_VALID(g.port) ||
	    memcmp(g.token, &c->token, sizeof(c->token)) != 0) {
		mach_msg_destroy(&r.m.hdr);
		return -EPROTO;
	}
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
	int err;

	for (;;) {
		err = recv_msg(l, mobj__time_left(timeout_ms, start), &r, &g);
		if (err == -EPROTO)
			continue; /* a stray message, destroyed: keep waiting */
		if (err < 0)
			return err;
		if (g.id != ID_CONNECT || g.len != 0 || !MACH_PORT_VALID(g.port)) {
			mach_msg_destroy(&r.m.hdr);
			continue;
		}
		init_chan(&c);
		set_peer_token(&c, g.token);
		err = new_recv(&c.recv);
		if (err == 0)
			err = open_kq(&c);
		if (err < 0) {
			mach_msg_destroy(&r.m.hdr);
			mobj__os_chan_close(&c);
			return err;
		}
		set_peer(&c, g.port);
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
		err = send_msg(svc, ID_CONNECT, c.recv, MACH_MSG_TYPE_MAKE_SEND,
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
