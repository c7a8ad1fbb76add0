/*
 * Channels: the portable half. Encodes and validates messages (msg.h),
 * applies the listener's uid policy and the connection handshake, and turns
 * a received native handle into a struct mobj through exactly the checks of
 * mobj_from_fd()/mobj_from_port() (mobj__import_dup). The backend only
 * moves bytes and handles.
 *
 * Handshake: a listener's accept takes a connection, reads the peer's uid
 * as the kernel recorded it, and either sends a HELLO message or closes the
 * connection. A connector does not return from mobj_chan_connect() before
 * it has read that HELLO, so a refused peer always gets -EPIPE there and
 * never holds a channel that seemed to work.
 *
 * Receiving: everything about a message is checked before anything is
 * handed to the caller; on any failure every handle that came with it is
 * released and the message is gone, so the next call reads the next
 * message.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mobj/chan.h"
#include "msg.h"

#define ALLOW_MAX 16
/* How often a connector looks again for a listener that is not there yet. */
#define CONNECT_RETRY_MS 5

struct mobj_chan {
	struct mobj__os_chan os;
	bool listener;
	bool any_uid;
	unsigned nallow;
	uid_t allow[ALLOW_MAX];
};

static int chan_new(struct mobj__os_chan *os, bool listener,
                    struct mobj_chan **out)
{
	struct mobj_chan *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->os = *os;
	c->listener = listener;
	*out = c;
	return 0;
}

static bool bad_name(const char *name)
{
	return !name || name[0] == '\0';
}

int mobj_chan_listen(const char *name, struct mobj_chan **out)
{
	struct mobj__os_chan os;
	int err;

	if (bad_name(name) || !out)
		return -EINVAL;
	err = mobj__os_chan_listen(name, &os);
	if (err < 0)
		return err;
	err = chan_new(&os, true, out);
	if (err < 0)
		mobj__os_chan_close(&os);
	return err;
}

int mobj_chan_allow_uid(struct mobj_chan *l, uid_t uid)
{
	unsigned i;

	if (!l || !l->listener)
		return -EINVAL;
	if (uid == MOBJ_ANY_UID) {
		l->any_uid = true;
		return 0;
	}
	for (i = 0; i < l->nallow; i++)
		if (l->allow[i] == uid)
			return 0;
	if (l->nallow == ALLOW_MAX)
		return -ENOSPC;
	l->allow[l->nallow++] = uid;
	return 0;
}

/* @uid is what the kernel recorded for the peer: its *effective* uid
 * (SO_PEERCRED, the audit token), so it is compared with ours. With
 * getuid() a set-uid listener would accept every process of the user who
 * started it, and refuse its own kind. */
static bool uid_allowed(const struct mobj_chan *l, uid_t uid)
{
	unsigned i;

	if (l->any_uid || uid == geteuid())
		return true;
	for (i = 0; i < l->nallow; i++)
		if (l->allow[i] == uid)
			return true;
	return false;
}

int mobj_chan_accept(struct mobj_chan *l, int timeout_ms, struct mobj_chan **out)
{
	unsigned char hello[MOBJ__MSG_HDR_SIZE];
	struct mobj__msg m = { .type = MOBJ__MSG_HELLO };
	struct mobj__os_chan os;
	uint64_t start;
	uid_t uid;
	int n, err;

	if (!l || !l->listener || !out || mobj__bad_timeout(timeout_ms))
		return -EINVAL;
	n = mobj__msg_encode(hello, &m);
	if (n < 0)
		return n;
	start = mobj__os_clock_ns();
	for (;;) {
		err = mobj__os_chan_accept(&l->os, mobj__time_left(timeout_ms, start), &os);
		if (err < 0)
			return err;
		mobj__os_chan_peer(&os, NULL, &uid);
		if (uid_allowed(l, uid)) {
			err = mobj__os_chan_welcome(&os, hello, (size_t)n);
			if (err == 0)
				err = chan_new(&os, false, out);
			if (err == 0)
				return 0;
			if (err != -EPIPE) {
				mobj__os_chan_discard(&os);
				return err;
			}
		}
		/* Refused, or gone before it was welcomed: the next one, but
		 * only within the timeout, since peers that keep connecting
		 * (refused ones cost nothing) would always have one pending. */
		mobj__os_chan_discard(&os);
		if (mobj__time_left(timeout_ms, start) == 0)
			return -ETIMEDOUT;
	}
}

/* Read the listener's HELLO: anything else is a protocol error. */
static int await_hello(struct mobj__os_chan *os, int timeout_ms)
{
	unsigned char buf[MOBJ__MSG_HDR_SIZE];
	struct mobj__msg m;
	unsigned nobj = 0;
	int n;

	n = mobj__os_chan_recv(os, timeout_ms, buf, sizeof(buf), NULL, 0, &nobj);
	if (n < 0)
		return n;
	if (mobj__msg_decode(buf, (size_t)n, &m) < 0 || m.type != MOBJ__MSG_HELLO)
		return -EPROTO;
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Connect, trying again while nobody listens (yet) until the timeout ends:
 * a listener may start after its clients. */
static int connect_retry(const char *name, int timeout_ms, uint64_t start,
                         struct mobj__os_chan *os)
{
	int err, left;

	for (;;) {
		err = mobj__os_chan_connect(name, mobj__time_left(timeout_ms, start),
		                            os);
		if (err != -EAGAIN)
			break;
		left = mobj__time_left(timeout_ms, start);
		if (left == 0) {
			err = -ETIMEDOUT;
			break;
		}
		sleep_ms(left < 0 || left > CONNECT_RETRY_MS ? CONNECT_RETRY_MS : left);
	}
	/* A poll that finds nobody is refused, as a socket connect is. */
	return err == -ETIMEDOUT && timeout_ms == 0 ? -ECONNREFUSED : err;
}

int mobj_chan_connect(const char *name, int timeout_ms, struct mobj_chan **out)
{
	struct mobj__os_chan os;
	uint64_t start;
	int err;

	if (bad_name(name) || !out || mobj__bad_timeout(timeout_ms))
		return -EINVAL;
	start = mobj__os_clock_ns();
	err = connect_retry(name, timeout_ms, start, &os);
	if (err < 0)
		return err;
	err = await_hello(&os, mobj__time_left(timeout_ms, start));
	if (err == 0)
		err = chan_new(&os, false, out);
	if (err < 0)
		mobj__os_chan_discard(&os);
	return err;
}

int mobj_chan_pair(struct mobj_chan **a, struct mobj_chan **b)
{
	struct mobj__os_chan oa, ob;
	struct mobj_chan *ca;
	int err;

	if (!a || !b || a == b)
		return -EINVAL;
	err = mobj__os_chan_pair(&oa, &ob);
	if (err < 0)
		return err;
	err = chan_new(&oa, false, &ca);
	if (err < 0) {
		mobj__os_chan_close(&oa);
		mobj__os_chan_close(&ob);
		return err;
	}
	err = chan_new(&ob, false, b);
	if (err < 0) {
		mobj_chan_close(ca);
		mobj__os_chan_close(&ob);
		return err;
	}
	*a = ca;
	return 0;
}

void mobj_chan_close(struct mobj_chan *c)
{
	if (!c)
		return;
	mobj__os_chan_close(&c->os);
	free(c);
}

int mobj_send(struct mobj_chan *c, struct mobj *o, const void *data, size_t len)
{
	return mobj_send_timeout(c, o, data, len, -1);
}

int mobj_send_timeout(struct mobj_chan *c, struct mobj *o, const void *data,
                      size_t len, int timeout_ms)
{
	return mobj_sendv_timeout(c, o ? &o : NULL, o ? 1 : 0, data, len,
	                          timeout_ms);
}

int mobj_sendv(struct mobj_chan *c, struct mobj *const *objs, size_t nobjs,
               const void *data, size_t len)
{
	return mobj_sendv_timeout(c, objs, nobjs, data, len, -1);
}

int mobj_sendv_timeout(struct mobj_chan *c, struct mobj *const *objs,
                       size_t nobjs, const void *data, size_t len,
                       int timeout_ms)
{
	unsigned char wire[MOBJ__MSG_WIRE_MAX];
	struct mobj__os_obj os[MOBJ_MSG_OBJS_MAX];
	struct mobj__msg m = { .type = MOBJ__MSG_DATA };
	size_t i;
	int n;

	if (!c || c->listener || (!data && len) || (!objs && nobjs) ||
	    mobj__bad_timeout(timeout_ms))
		return -EINVAL;
	if (len > MOBJ_MSG_MAX || nobjs > MOBJ_MSG_OBJS_MAX)
		return -EMSGSIZE;
	for (i = 0; i < nobjs; i++) {
		if (!objs[i])
			return -EINVAL;
		m.obj[i].size = objs[i]->size;
		m.obj[i].access = objs[i]->access;
		os[i] = objs[i]->os;
	}
	m.payload = data;
	m.len = len;
	m.nobj = (unsigned)nobjs;
	n = mobj__msg_encode(wire, &m);
	if (n < 0)
		return n;
	return mobj__os_chan_send(&c->os, wire, (size_t)n, os, m.nobj, timeout_ms);
}

/* Decode and check what arrived, then import every object; on failure
 * everything imported so far is closed (the caller releases @os). */
static int take_message(const unsigned char *wire, int n,
                        const struct mobj__os_obj *os, unsigned nos,
                        size_t cap, int too_many, size_t buflen,
                        struct mobj__msg *m, struct mobj **got)
{
	unsigned i;
	int err;

	err = mobj__msg_decode(wire, (size_t)n, m);
	if (err == 0 && (m->type != MOBJ__MSG_DATA || m->nobj != nos)) {
		mobj__refused("a message", m->type != MOBJ__MSG_DATA ?
		              "not a data message" :
		              "its header does not count the handles that came");
		return -EPROTO;
	}
	if (err < 0) {
		mobj__refused("a message", "malformed (magic, version, lengths "
		              "or object records)");
		return err;
	}
	if (m->nobj > cap) {
		if (too_many == -EPROTO)
			mobj__refused("a message", "more objects than the "
			              "receiver takes");
		return too_many;
	}
	if (m->len > buflen)
		return -EMSGSIZE;
	for (i = 0; i < m->nobj; i++) {
		err = mobj__import_dup(&os[i], (size_t)m->obj[i].size,
		                       m->obj[i].access, &got[i]);
		if (err < 0) {
			while (i)
				mobj_close(got[--i]);
			return err == -EBADF || err == -EINVAL ? -EPROTO : err;
		}
	}
	return 0;
}

/* mobj_recvv(), where a message of more than @cap objects is @too_many. */
static int recv_objs(struct mobj_chan *c, int timeout_ms, struct mobj **objs,
                     size_t cap, int too_many, size_t *nobjs, void *buf,
                     size_t buflen)
{
	unsigned char wire[MOBJ__MSG_WIRE_MAX];
	struct mobj__os_obj os[MOBJ_MSG_OBJS_MAX];
	struct mobj *got[MOBJ_MSG_OBJS_MAX];
	struct mobj__msg m;
	unsigned nos = 0, i;
	int n, err;

	if (!c || c->listener || (!buf && buflen) || (!objs && cap) || !nobjs ||
	    mobj__bad_timeout(timeout_ms))
		return -EINVAL;
	n = mobj__os_chan_recv(&c->os, timeout_ms, wire, sizeof(wire), os,
	                       MOBJ_MSG_OBJS_MAX, &nos);
	if (n < 0)
		return n;
	err = take_message(wire, n, os, nos, cap, too_many, buflen, &m, got);
	for (i = 0; i < nos; i++)
		mobj__os_release(&os[i]);
	if (err < 0)
		return err;
	if (m.len)
		memcpy(buf, m.payload, m.len);
	for (i = 0; i < m.nobj; i++)
		objs[i] = got[i];
	*nobjs = m.nobj;
	return (int)m.len;
}

int mobj_recvv(struct mobj_chan *c, int timeout_ms, struct mobj **objs,
               size_t cap, size_t *nobjs, void *buf, size_t buflen)
{
	return recv_objs(c, timeout_ms, objs, cap, -EMSGSIZE, nobjs, buf, buflen);
}

/* The one-object form: an object it cannot take (none asked for, or
 * several) is -EPROTO, as before several objects per message existed. */
int mobj_recv(struct mobj_chan *c, int timeout_ms, struct mobj **o, void *buf,
              size_t cap)
{
	struct mobj *got = NULL;
	size_t n = 0;
	int len;

	len = recv_objs(c, timeout_ms, &got, o ? 1 : 0, -EPROTO, &n, buf, cap);
	if (len < 0)
		return len;
	if (o)
		*o = n ? got : NULL;
	return len;
}

int mobj_chan_fd(const struct mobj_chan *c)
{
	return c ? mobj__os_chan_fd(&c->os) : -EINVAL;
}

int mobj_chan_peer(const struct mobj_chan *c, pid_t *pid, uid_t *uid)
{
	if (!c || c->listener)
		return -EINVAL;
	mobj__os_chan_peer(&c->os, pid, uid);
	return 0;
}

struct mobj__os_chan *mobj__chan_os(struct mobj_chan *c)
{
	return &c->os;
}
