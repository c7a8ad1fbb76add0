/*
 * The two references of ring.throughput and ring.latency.oneway, written
 * here so that nothing but the essentials is measured.
 *
 * bare   the classic hand-written SPSC ring: a mirrored data mapping (so a
 *        message is never split), a 64-bit free-running index per side on
 *        its own cache lines, each side caching the last index it read from
 *        the other and re-reading it only when the cached value does not
 *        cover the message; one release store per message per side; it
 *        busy-polls and never sleeps, and trusts its peer (no validation).
 *        What a ring costs when it does nothing a library must do.
 *
 * limit  no messages at all: the producer copies the bytes of @count
 *        messages into one half of a shared buffer of the ring's capacity
 *        with one memcpy per half, publishes that half with one release
 *        store, and goes on with the other half while the consumer reads
 *        (sums) the first; one synchronization per half ring and side. The
 *        same bytes between the same two cores: the most any ring can move
 *        here, whatever its message size. In ring.latency.oneway (one
 *        message in flight: the next is sent only after the receipt of the
 *        previous one) it is one message-sized slot and one sequence word:
 *        the bytes and a flag crossing from one core to the other, nothing
 *        else.
 *
 * Both spin with bh_wait_pause(), which yields the core when the two sides
 * share one, so they also run (slowly) on one core.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "ring_impl.h"

/* Indices on their own 128-byte lines (adjacent-line prefetch). */
struct ref_ctl {
	_Alignas(128) uint64_t prod;	/* bare: tail; limit: halves filled */
	_Alignas(128) uint64_t cons;	/* bare: head; limit: halves emptied */
};

/* This process's side (each side of a pair is its own process). */
static struct {
	uint64_t pos;		/* own index: bytes (bare) or halves (limit) */
	uint64_t peer_seen;	/* the peer's index, last read */
	void *src;		/* limit producer: a half of the source bytes */
} self;

static void *shared_anon(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	               -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* @cap bytes mapped twice back to back (x->priv, 2 * cap long). */
static int mirror_map(struct xport *x)
{
	int fd = memfd_create("bench-bare", MFD_CLOEXEC);
	char *base;
	int err = 0;

	if (fd < 0)
		return -errno;
	base = mmap(NULL, 2 * x->cap, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ftruncate(fd, (off_t)x->cap) < 0 || base == MAP_FAILED)
		err = -errno;
	for (int i = 0; !err && i < 2; i++)
		if (mmap(base + i * x->cap, x->cap, PROT_READ | PROT_WRITE,
		         MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) == MAP_FAILED)
			err = -errno;
	close(fd);
	if (err) {
		if (base != MAP_FAILED)
			munmap(base, 2 * x->cap);
		return err;
	}
	x->priv = base;
	return 0;
}

static int ref_prepare(struct xport *x, bool mirrored)
{
	x->shm_len = sizeof(struct ref_ctl);
	x->shm = shared_anon(x->shm_len);
	if (!x->shm)
		return -ENOMEM;
	if (mirrored)
		return mirror_map(x);
	x->priv = shared_anon(x->cap);
	return x->priv ? 0 : -ENOMEM;
}

static void ref_cleanup(struct xport *x, bool mirrored)
{
	if (x->priv)
		munmap(x->priv, mirrored ? 2 * x->cap : x->cap);
	if (x->shm)
		munmap(x->shm, x->shm_len);
	x->priv = x->shm = NULL;
}

static int ref_open(struct xport *x, int side)
{
	memset(&self, 0, sizeof(self));
	x->side = side;
	return 0;
}

static void ref_close(struct xport *x)
{
	if (self.src)
		munmap(self.src, x->cap / 2);
	self.src = NULL;
}

/* ---- bare ----------------------------------------------------------------- */

static int bare_prepare(struct xport *x)
{
	return ref_prepare(x, true);
}

static void bare_cleanup(struct xport *x)
{
	ref_cleanup(x, true);
}

static int bare_send(struct xport *x, const void *src)
{
	struct ref_ctl *c = x->shm;
	char *data = x->priv;

	while (self.pos + x->msg - self.peer_seen > x->cap) {
		self.peer_seen = __atomic_load_n(&c->cons, __ATOMIC_ACQUIRE);
		if (self.pos + x->msg - self.peer_seen > x->cap)
			bh_wait_pause();
	}
	memcpy(data + (self.pos & (x->cap - 1)), src, x->msg);
	self.pos += x->msg;
	__atomic_store_n(&c->prod, self.pos, __ATOMIC_RELEASE);
	return 0;
}

static int bare_recv(struct xport *x, uint64_t *first, uint64_t *sum)
{
	struct ref_ctl *c = x->shm;
	const char *p;

	while (self.peer_seen - self.pos < x->msg) {
		self.peer_seen = __atomic_load_n(&c->prod, __ATOMIC_ACQUIRE);
		if (self.peer_seen - self.pos < x->msg)
			bh_wait_pause();
	}
	p = (const char *)x->priv + (self.pos & (x->cap - 1));
	memcpy(first, p, sizeof(*first));
	*sum += bh_sum(p, x->msg);
	self.pos += x->msg;
	__atomic_store_n(&c->cons, self.pos, __ATOMIC_RELEASE);
	return 0;
}

const struct xport_ops xport_bare = {
	.name = "bare", .prepare = bare_prepare, .open = ref_open, .send = bare_send,
	.recv = bare_recv, .close = ref_close, .cleanup = bare_cleanup,
};

/* ---- limit ---------------------------------------------------------------- */

static int limit_prepare(struct xport *x)
{
	return ref_prepare(x, false);
}

static void limit_cleanup(struct xport *x)
{
	ref_cleanup(x, false);
}

static int limit_send_bytes(struct xport *x, const void *src, uint64_t count)
{
	struct ref_ctl *c = x->shm;
	size_t half = x->cap / 2;
	uint64_t left = count * x->msg;

	if (!self.src) {
		/* The source: the message repeated over half a ring. */
		self.src = mmap(NULL, half, PROT_READ | PROT_WRITE,
		                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (self.src == MAP_FAILED) {
			self.src = NULL;
			return -ENOMEM;
		}
		for (size_t o = 0; o < half; o += x->msg)
			memcpy((char *)self.src + o, src, half - o < x->msg ? half - o : x->msg);
	}
	while (left) {
		size_t n = left < half ? (size_t)left : half;
		uint64_t k = self.pos;

		/* Half k reuses the buffer of half k - 2: wait until it is read. */
		while (k >= 2 && self.peer_seen + 1 < k) {
			self.peer_seen = __atomic_load_n(&c->cons, __ATOMIC_ACQUIRE);
			if (self.peer_seen + 1 < k)
				bh_wait_pause();
		}
		memcpy((char *)x->priv + (k & 1) * half, self.src, n);
		self.pos = k + 1;
		__atomic_store_n(&c->prod, self.pos, __ATOMIC_RELEASE);
		left -= n;
	}
	return 0;
}

static int limit_recv_bytes(struct xport *x, uint64_t count, uint64_t *sum)
{
	struct ref_ctl *c = x->shm;
	size_t half = x->cap / 2;
	uint64_t left = count * x->msg;

	while (left) {
		size_t n = left < half ? (size_t)left : half;
		uint64_t k = self.pos;

		while (self.peer_seen <= k) {
			self.peer_seen = __atomic_load_n(&c->prod, __ATOMIC_ACQUIRE);
			if (self.peer_seen <= k)
				bh_wait_pause();
		}
		*sum += bh_sum((const char *)x->priv + (k & 1) * half, n);
		self.pos = k + 1;
		__atomic_store_n(&c->cons, self.pos, __ATOMIC_RELEASE);
		left -= n;
	}
	return 0;
}

/* One message in flight (latency): the slot is free again once the
 * receipt of the previous message came back, so no index of the consumer's
 * is needed. */
static int limit_send(struct xport *x, const void *src)
{
	struct ref_ctl *c = x->shm;

	memcpy(x->priv, src, x->msg);
	__atomic_store_n(&c->prod, ++self.pos, __ATOMIC_RELEASE);
	return 0;
}

static int limit_recv(struct xport *x, uint64_t *first, uint64_t *sum)
{
	struct ref_ctl *c = x->shm;

	while (__atomic_load_n(&c->prod, __ATOMIC_ACQUIRE) == self.pos)
		bh_wait_pause();
	self.pos++;
	memcpy(first, x->priv, sizeof(*first));
	*sum += bh_sum(x->priv, x->msg);
	return 0;
}

const struct xport_ops xport_limit = {
	.name = "limit", .prepare = limit_prepare, .open = ref_open,
	.send = limit_send, .recv = limit_recv,
	.send_bytes = limit_send_bytes, .recv_bytes = limit_recv_bytes,
	.close = ref_close, .cleanup = limit_cleanup,
};
