/*
 * The mirrored SPSC ring: argument checking, the timeout and error
 * contract, wrap-around, 1 GiB streams through every API pair between
 * threads and between processes (every byte checked), records small and
 * large, one-page rings, least privilege (neither side can write what the
 * other owns), hostile indices and record headers (-EPROTO, no access out of
 * bounds), and a producer killed with SIGKILL mid-stream.
 *
 * MOBJ_RING_STREAM_MB overrides the stream length (default 1024; 32 under
 * valgrind).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mobj/mobj.h"
#ifdef __linux__
#include <fcntl.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "mobj/linux.h"
#include "rawmsg.h"
#endif
#include "ring_layout.h"
#include "ring_internal.h"
#include "testutil.h"

/* Generous bound for every blocking call of a test: a hang fails the test
 * with -ETIMEDOUT instead of hitting the meson timeout. */
#define T_MS 5000

static size_t page(void)
{
	return mobj_page_size();
}

/* ---- A reproducible byte stream ----------------------------------------- */

/* Stream byte i is pattern[i % PATTERN]; PATTERN is prime, so a block that
 * is lost, repeated or shifted by any amount shorter than the pattern shows
 * up as a mismatch. */
#define PATTERN 1048573u
#define PATTERN_SLACK (8u << 20)
static unsigned char *pattern;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Three threads meet here once (macOS has no pthread_barrier_t). */
static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t warm_cond = PTHREAD_COND_INITIALIZER;
static int warm_count;

static void warm_meet(void)
{
	pthread_mutex_lock(&warm_lock);
	if (++warm_count == 3)
		pthread_cond_broadcast(&warm_cond);
	while (warm_count < 3)
		pthread_cond_wait(&warm_cond, &warm_lock);
	pthread_mutex_unlock(&warm_lock);
}

static void *warm_up(void *arg)
{
	void *volatile m = malloc(64); /* volatile: keep the malloc */

	warm_meet();
	free(m);
	return arg;
}

static int pattern_setup(void **state)
{
	uint64_t s = 0x9e3779b97f4a7c15u;
	pthread_t t[2];
	size_t i;

	(void)state;
	/* The library's disposal thread first (tu_res_now starts it), so
	 * that the stacks cached below stay free for the tests' threads. */
	tu_res_now();
	/* Threads leave cached stacks and arenas mapped for good: let that
	 * happen for as many threads as a test runs at once (two) before any
	 * test counts mappings. */
	for (i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, warm_up, NULL) != 0)
			return -1;
	warm_meet();
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pattern = malloc(PATTERN + PATTERN_SLACK);
	if (!pattern)
		return -1;
	for (i = 0; i < PATTERN; i++)
		pattern[i] = (unsigned char)(rnd(&s) >> 24);
	for (; i < PATTERN + PATTERN_SLACK; i++)
		pattern[i] = pattern[i - PATTERN];
	return 0;
}

static int pattern_teardown(void **state)
{
	(void)state;
	free(pattern);
	return 0;
}

static const unsigned char *at(uint64_t pos)
{
	return pattern + pos % PATTERN;
}

static uint64_t stream_bytes(void)
{
	const char *e = getenv("MOBJ_RING_STREAM_MB");
	const char *pre = getenv("LD_PRELOAD");

	if (e)
		return strtoull(e, NULL, 10) << 20;
	/* Valgrind runs this some 50 times slower: 1 GiB would take an
	 * hour, 32 MiB still wraps a 256 KiB ring hundreds of times. */
	if (pre && strstr(pre, "vgpreload"))
		return (uint64_t)32 << 20;
	return (uint64_t)1024 << 20;
}

enum api { API_RESERVE, API_WRITE, API_RECORD, API_WRITE_SOME };

/* Bytes of batching both ends of a stream use (mobj_ring_set_batch), at
 * most a quarter of the ring. */
static size_t stream_batch;

static size_t batch_for(const struct mobj_ring *r)
{
	size_t q = mobj_ring_capacity(r) / 4;

	return stream_batch < q ? stream_batch : q;
}

struct stream {
	struct mobj_ring *r;
	enum api api;
	uint64_t total;    /* bytes (payload bytes for records) */
	uint64_t seed;
	int err;           /* 0, a negative errno, or a positive line number */
};

/* A record length: mostly small, some medium, a few as large as allowed. */
static size_t record_len(uint64_t *s, size_t max)
{
	uint64_t x = rnd(s), k = x % 100;

	if (k < 70)
		return (size_t)(x >> 8) % 65 < max ? (size_t)(x >> 8) % 65 : max;
	if (k < 95)
		return (size_t)((x >> 8) % (max < 4096 ? max + 1 : 4097));
	return max - (size_t)((x >> 8) % 64 < max ? (x >> 8) % 64 : 0);
}

static size_t chunk_len(uint64_t *s, size_t cap)
{
	uint64_t x = rnd(s);

	/* Half small, half anything up to the capacity. */
	if (x & 1)
		return 1 + (size_t)((x >> 1) % 256);
	return 1 + (size_t)((x >> 1) % cap);
}

#define FAIL(e) do { st->err = (e); return NULL; } while (0)

static void *produce(void *arg)
{
	struct stream *st = arg;
	size_t cap = mobj_ring_capacity(st->r), max = mobj_ring_record_max(st->r);
	uint64_t s = st->seed, pos = 0, seq = 0;
	ssize_t w;
	void *p;
	int err;

	while (pos < st->total) {
		size_t n = chunk_len(&s, cap);

		if (n > st->total - pos)
			n = (size_t)(st->total - pos);
		switch (st->api) {
		case API_RESERVE:
			err = mobj_ring_reserve(st->r, n, T_MS, &p);
			if (err < 0)
				FAIL(err);
			memcpy(p, at(pos), n);
			if (mobj_ring_commit(st->r, n) < 0)
				FAIL(__LINE__);
			break;
		case API_WRITE:
			w = mobj_ring_write(st->r, at(pos), n, T_MS);
			if (w != (ssize_t)n)
				FAIL(w < 0 ? (int)w : __LINE__);
			break;
		case API_WRITE_SOME:
			/* Ask for more than the chunk; take what fits. */
			n = n * 2 < st->total - pos ? n * 2 : (size_t)(st->total - pos);
			w = mobj_ring_write_some(st->r, at(pos), n, T_MS);
			if (w <= 0 || (size_t)w > n)
				FAIL(w < 0 ? (int)w : __LINE__);
			n = (size_t)w;
			break;
		case API_RECORD:
			n = record_len(&s, max);
			if (seq++ & 1) {
				w = mobj_ring_write_record(st->r, at(pos), n, T_MS);
				if (w != (ssize_t)n)
					FAIL(w < 0 ? (int)w : __LINE__);
			} else {
				/* Reserve more than needed, commit n. */
				size_t extra = n < max ? 1 : 0;

				err = mobj_ring_reserve_record(st->r, n + extra,
				                               T_MS, &p);
				if (err < 0)
					FAIL(err);
				if ((uintptr_t)p % 8 != 0)
					FAIL(__LINE__);
				memcpy(p, at(pos), n);
				if (mobj_ring_commit_record(st->r, n) < 0)
					FAIL(__LINE__);
			}
			break;
		}
		pos += n;
	}
	st->err = 0;
	return NULL;
}

static void *consume(void *arg)
{
	struct stream *st = arg;
	size_t cap = mobj_ring_capacity(st->r), max = mobj_ring_record_max(st->r);
	uint64_t s = st->seed, pos = 0, seq = 0;
	unsigned char *buf = malloc(cap);
	const void *p;
	size_t avail, n, k;
	ssize_t got;
	int err;

	if (!buf)
		FAIL(-ENOMEM);
	while (pos < st->total) {
		switch (st->api) {
		case API_RESERVE:
			err = mobj_ring_peek(st->r, 1, T_MS, &p, &avail);
			if (err < 0)
				goto fail;
			k = chunk_len(&s, cap);
			if (k > avail)
				k = avail;
			if (k > st->total - pos ||
			    memcmp(p, at(pos), k) != 0) {
				err = __LINE__;
				goto fail;
			}
			if (mobj_ring_consume(st->r, k) < 0) {
				err = __LINE__;
				goto fail;
			}
			pos += k;
			break;
		case API_WRITE:
		case API_WRITE_SOME:
			k = chunk_len(&s, cap);
			got = mobj_ring_read(st->r, buf, k, T_MS);
			if (got < 0) {
				err = (int)got;
				goto fail;
			}
			if (got == 0 || (size_t)got > k ||
			    (uint64_t)got > st->total - pos ||
			    memcmp(buf, at(pos), (size_t)got) != 0) {
				err = __LINE__;
				goto fail;
			}
			pos += (uint64_t)got;
			break;
		case API_RECORD:
			/* The producer's length sequence, replayed (its loop
			 * head draws a chunk length first). */
			(void)chunk_len(&s, cap);
			n = record_len(&s, max);
			if (seq++ & 1) {
				got = mobj_ring_read_record(st->r, buf, cap, T_MS);
				if (got < 0) {
					err = (int)got;
					goto fail;
				}
				if ((size_t)got != n || memcmp(buf, at(pos), n)) {
					err = __LINE__;
					goto fail;
				}
			} else {
				err = mobj_ring_peek_record(st->r, T_MS, &p, &k);
				if (err < 0)
					goto fail;
				if (k != n || (uintptr_t)p % 8 != 0 ||
				    memcmp(p, at(pos), n) != 0 ||
				    mobj_ring_consume_record(st->r) < 0) {
					err = __LINE__;
					goto fail;
				}
			}
			pos += n;
			break;
		}
	}
	free(buf);
	st->err = 0;
	return NULL;
fail:
	free(buf);
	FAIL(err);
}

static void stream_threads(size_t cap, enum api api, uint64_t total)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	struct stream ps, cs;
	pthread_t t;
	const void *q;
	size_t avail;

	assert_int_equal(mobj_ring_create(cap, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_set_batch(p, batch_for(p)), 0);
	assert_int_equal(mobj_ring_set_batch(c, batch_for(c)), 0);
	ps = (struct stream){ p, api, total, 0x1234567u + api, -1 };
	cs = (struct stream){ c, api, total, 0x1234567u + api, -1 };
	assert_int_equal(pthread_create(&t, NULL, produce, &ps), 0);
	consume(&cs);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(ps.err, 0);
	assert_int_equal(cs.err, 0);
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_peek(c, 1, T_MS, &q, &avail), -EPIPE);
	mobj_ring_close(c);
	tu_res_check(res);
}

static void test_stream_threads_reserve(void **s)
{
	(void)s;
	stream_threads(256 << 10, API_RESERVE, stream_bytes());
}

static void test_stream_threads_write(void **s)
{
	(void)s;
	stream_threads(256 << 10, API_WRITE, stream_bytes());
}

static void test_stream_threads_records(void **s)
{
	(void)s;
	stream_threads(256 << 10, API_RECORD, stream_bytes());
}

static void test_stream_threads_one_page(void **s)
{
	(void)s;
	stream_threads(1, API_RESERVE, stream_bytes() / 16);
	stream_threads(1, API_WRITE, stream_bytes() / 16);
	stream_threads(1, API_RECORD, stream_bytes() / 16);
}

/* ---- Basics ------------------------------------------------------------- */

static void test_create_bad_input(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c, *x = (struct mobj_ring *)(uintptr_t)1;
	struct mobj_ring_stats st;
	const void *q;
	void *w;
	size_t avail;
	char b[8];

	(void)state;
	assert_int_equal(mobj_ring_create(0, &x), -EINVAL);
	assert_int_equal(mobj_ring_create(page(), NULL), -EINVAL);
	assert_int_equal(mobj_ring_create(SIZE_MAX, &x), -EINVAL);
	assert_ptr_equal(x, (struct mobj_ring *)(uintptr_t)1);
	assert_int_equal(mobj_ring_capacity(NULL), 0);
	assert_int_equal(mobj_ring_consumer(NULL, &x), -EINVAL);
	assert_int_equal(mobj_ring_reserve(NULL, 1, 0, &w), -EINVAL);
	assert_int_equal(mobj_ring_commit(NULL, 0), -EINVAL);
	assert_int_equal(mobj_ring_peek(NULL, 1, 0, &q, &avail), -EINVAL);
	assert_int_equal(mobj_ring_consume(NULL, 0), -EINVAL);
	assert_int_equal(mobj_ring_write(NULL, b, 1, 0), -EINVAL);
	assert_int_equal(mobj_ring_read(NULL, b, 1, 0), -EINVAL);
	assert_int_equal(mobj_ring_stats(NULL, &st), -EINVAL);
	mobj_ring_close(NULL);

	assert_int_equal(mobj_ring_create(1, &p), 0);
	assert_int_equal(mobj_ring_capacity(p), page());
	assert_int_equal(mobj_ring_record_max(p), page() - 8);
	/* Nobody to produce for yet. */
	assert_int_equal(mobj_ring_reserve(p, 1, 0, &w), -ENOTCONN);
	assert_int_equal(mobj_ring_write(p, b, 1, 0), -ENOTCONN);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_capacity(c), page());
	assert_int_equal(mobj_ring_consumer(p, &x), -EINVAL);
	assert_int_equal(mobj_ring_consumer(c, &x), -EINVAL);
	/* Each end does only its own half. */
	assert_int_equal(mobj_ring_reserve(c, 1, 0, &w), -EINVAL);
	assert_int_equal(mobj_ring_write(c, b, 1, 0), -EINVAL);
	assert_int_equal(mobj_ring_peek(p, 1, 0, &q, &avail), -EINVAL);
	assert_int_equal(mobj_ring_read(p, b, 1, 0), -EINVAL);
	assert_int_equal(mobj_ring_consume(p, 0), -EINVAL);
	assert_int_equal(mobj_ring_commit(c, 0), -EINVAL);
	/* Bad timeouts, sizes and commits. */
	assert_int_equal(mobj_ring_reserve(p, 1, -2, &w), -EINVAL);
	assert_int_equal(mobj_ring_peek(c, 1, -5, &q, &avail), -EINVAL);
	assert_int_equal(mobj_ring_reserve(p, page() + 1, 0, &w), -EMSGSIZE);
	assert_int_equal(mobj_ring_write(p, b, page() + 1, 0), -EMSGSIZE);
	assert_int_equal(mobj_ring_peek(c, page() + 1, 0, &q, &avail), -EMSGSIZE);
	assert_int_equal(mobj_ring_reserve_record(p, page() - 7, 0, &w), -EMSGSIZE);
	assert_int_equal(mobj_ring_commit(p, 1), -EINVAL);
	assert_int_equal(mobj_ring_commit_record(p, 0), -EINVAL);
	assert_int_equal(mobj_ring_consume(c, 1), -EINVAL);
	assert_int_equal(mobj_ring_consume_record(c), -EINVAL);
	assert_int_equal(mobj_ring_read(c, NULL, 1, 0), -EINVAL);
	assert_int_equal(mobj_ring_read(c, b, 0, 0), -EINVAL);
	assert_int_equal(mobj_ring_reserve(p, 4, 0, &w), 0);
	assert_int_equal(mobj_ring_commit(p, 5), -EINVAL);
	assert_int_equal(mobj_ring_commit(p, 4), 0);
	assert_int_equal(mobj_ring_commit(p, 1), -EINVAL);
	assert_int_equal(mobj_ring_stats(p, &st), 0);
	/* Sizes near SIZE_MAX: refused before any arithmetic on them. */
	assert_int_equal(mobj_ring_reserve(p, SIZE_MAX, 0, &w), -EMSGSIZE);
	assert_int_equal(mobj_ring_reserve(p, SIZE_MAX - page() + 1, 0, &w), -EMSGSIZE);
	assert_int_equal(mobj_ring_write(p, b, SIZE_MAX, 0), -EMSGSIZE);
	assert_int_equal(mobj_ring_reserve_record(p, SIZE_MAX, 0, &w), -EMSGSIZE);
	assert_int_equal(mobj_ring_reserve_record(p, SIZE_MAX - 7, 0, &w), -EMSGSIZE);
	assert_int_equal(mobj_ring_write_record(p, b, SIZE_MAX - 3, 0), -EMSGSIZE);
	assert_int_equal(mobj_ring_commit(p, SIZE_MAX), -EINVAL);
	assert_int_equal(mobj_ring_peek(c, SIZE_MAX, 0, &q, &avail), -EMSGSIZE);
	assert_int_equal(mobj_ring_consume(c, SIZE_MAX), -EINVAL);
	assert_int_equal(mobj_ring_read(c, b, SIZE_MAX, 0), 4);
	assert_int_equal(mobj_ring_read(c, b, SIZE_MAX, 0), -EAGAIN);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

static void test_timeouts(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	unsigned char b[64];
	const void *q;
	size_t avail;
	void *w;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	/* Empty: 0 never blocks, a short timeout times out. */
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), -EAGAIN);
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), -EAGAIN);
	assert_int_equal(mobj_ring_peek_record(c, 0, &q, &avail), -EAGAIN);
	assert_int_equal(mobj_ring_peek(c, 1, 20, &q, &avail), -ETIMEDOUT);
	/* Full: the same for the producer. */
	assert_int_equal(mobj_ring_reserve(p, page(), 0, &w), 0);
	assert_int_equal(mobj_ring_commit(p, page()), 0);
	assert_int_equal(mobj_ring_reserve(p, 1, 0, &w), -EAGAIN);
	assert_int_equal(mobj_ring_write(p, b, 1, 0), -EAGAIN);
	assert_int_equal(mobj_ring_reserve(p, 1, 20, &w), -ETIMEDOUT);
	assert_int_equal(mobj_ring_reserve(p, 0, 0, &w), 0);
	/* Some room: exactly what was freed. */
	assert_int_equal(mobj_ring_peek(c, page(), 0, &q, &avail), 0);
	assert_int_equal(avail, page());
	assert_int_equal(mobj_ring_consume(c, 10), 0);
	assert_int_equal(mobj_ring_reserve(p, 11, 0, &w), -EAGAIN);
	assert_int_equal(mobj_ring_reserve(p, 10, 0, &w), 0);
	/* Wanting more than there is. */
	assert_int_equal(mobj_ring_peek(c, page() - 9, 0, &q, &avail), -EAGAIN);
	assert_int_equal(mobj_ring_peek(c, page() - 10, 0, &q, &avail), 0);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* Every reservation is contiguous, including across the end of the first
 * copy, and what the consumer sees there is what was written. */
static void test_wrap_contiguous(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	size_t cap = 2 * page(), off, i;
	unsigned char *w;
	const unsigned char *q;
	size_t avail;

	(void)state;
	assert_int_equal(mobj_ring_create(cap, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	for (off = 1; off < cap; off += cap / 3 + 1) {
		/* Move both indices to off (mod cap), then fill the ring. */
		assert_int_equal(mobj_ring_reserve(p, off, 0, (void **)&w), 0);
		memset(w, 0, off);
		assert_int_equal(mobj_ring_commit(p, off), 0);
		assert_int_equal(mobj_ring_peek(c, off, 0, (const void **)&q, &avail), 0);
		assert_int_equal(mobj_ring_consume(c, off), 0);
		assert_int_equal(mobj_ring_reserve(p, cap, 0, (void **)&w), 0);
		for (i = 0; i < cap; i++)
			w[i] = (unsigned char)(i * 7 + off);
		assert_int_equal(mobj_ring_commit(p, cap), 0);
		assert_int_equal(mobj_ring_peek(c, cap, 0, (const void **)&q, &avail), 0);
		assert_int_equal(avail, cap);
		for (i = 0; i < cap; i++)
			assert_int_equal(q[i], (unsigned char)(i * 7 + off));
		assert_int_equal(mobj_ring_consume(c, cap), 0);
	}
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

static void test_records_basic(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	unsigned char buf[16];
	const void *q;
	size_t len;
	void *w;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_write_record(p, "", 0, 0), 0);
	assert_int_equal(mobj_ring_write_record(p, "hello", 5, 0), 5);
	assert_int_equal(mobj_ring_write_record(p, "0123456789abcdefXYZ", 19, 0), 19);
	/* The largest record fills the ring by itself. */
	assert_int_equal(mobj_ring_reserve_record(p, mobj_ring_record_max(p), 0, &w), -EAGAIN);
	assert_int_equal(mobj_ring_read_record(c, buf, sizeof(buf), 0), 0);
	assert_int_equal(mobj_ring_read_record(c, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	/* Too small a buffer: -EMSGSIZE, and the record stays. */
	assert_int_equal(mobj_ring_read_record(c, buf, sizeof(buf), 0), -EMSGSIZE);
	assert_int_equal(mobj_ring_peek_record(c, 0, &q, &len), 0);
	assert_int_equal(len, 19);
	assert_memory_equal(q, "0123456789abcdefXYZ", 19);
	assert_int_equal(mobj_ring_consume_record(c), 0);
	assert_int_equal(mobj_ring_consume_record(c), -EINVAL);
	assert_int_equal(mobj_ring_reserve_record(p, mobj_ring_record_max(p), 0, &w), 0);
	memset(w, 0xab, mobj_ring_record_max(p));
	assert_int_equal(mobj_ring_commit_record(p, mobj_ring_record_max(p) + 1), -EINVAL);
	assert_int_equal(mobj_ring_commit_record(p, mobj_ring_record_max(p)), 0);
	assert_int_equal(mobj_ring_peek_record(c, 0, &q, &len), 0);
	assert_int_equal(len, mobj_ring_record_max(p));
	assert_int_equal(((const unsigned char *)q)[len - 1], 0xab);
	assert_int_equal(mobj_ring_consume_record(c), 0);
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_peek_record(c, T_MS, &q, &len), -EPIPE);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* Close: the consumer reads everything committed, then -EPIPE; the producer
 * gets -EPIPE once the consumer closed. */
static void test_close_semantics(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	unsigned char b[300];
	const void *q;
	size_t avail;
	void *w;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_write(p, at(0), 200, 0), 200);
	assert_int_equal(mobj_ring_reserve(p, 50, 0, &w), 0); /* never committed */
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_peek(c, 201, T_MS, &q, &avail), -EPIPE);
	assert_int_equal(mobj_ring_read(c, b, 150, T_MS), 150);
	assert_int_equal(mobj_ring_read(c, b + 150, 150, 0), 50);
	assert_memory_equal(b, at(0), 200);
	assert_int_equal(mobj_ring_read(c, b, 1, 0), -EPIPE);
	assert_int_equal(mobj_ring_read(c, b, 1, T_MS), -EPIPE);
	mobj_ring_close(c);

	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	mobj_ring_close(c);
	assert_int_equal(mobj_ring_write(p, b, 1, T_MS), -EPIPE);
	assert_int_equal(mobj_ring_reserve(p, 1, 0, &w), -EPIPE);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* A producer blocked on a full ring is woken by the consumer's close. */
static void *close_later(void *arg)
{
	struct timespec ts = { 0, 30 * 1000000 };

	nanosleep(&ts, NULL);
	mobj_ring_close(arg);
	return NULL;
}

static void test_close_wakes_sleeper(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	const void *q;
	size_t avail;
	pthread_t t;
	void *w;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_reserve(p, page(), 0, &w), 0);
	assert_int_equal(mobj_ring_commit(p, page()), 0);
	assert_int_equal(pthread_create(&t, NULL, close_later, c), 0);
	assert_int_equal(mobj_ring_reserve(p, 1, -1, &w), -EPIPE);
	assert_int_equal(pthread_join(t, NULL), 0);
	mobj_ring_close(p);

	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(pthread_create(&t, NULL, close_later, p), 0);
	assert_int_equal(mobj_ring_peek(c, 1, -1, &q, &avail), -EPIPE);
	assert_int_equal(pthread_join(t, NULL), 0);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* No system call when nobody sleeps; exactly one wake for one sleeper,
 * sent when its target is reached (not before, not again). */
struct peek_arg {
	struct mobj_ring *c;
	size_t min;
	int rc;
};

static void *peek_min(void *arg)
{
	struct peek_arg *a = arg;
	const void *q;
	size_t avail;

	a->rc = mobj_ring_peek(a->c, a->min, T_MS, &q, &avail);
	return NULL;
}

static void test_wakes_only_sleepers(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	struct mobj_ring_stats st, cst;
	struct peek_arg arg;
	unsigned char b[4096];
	pthread_t t;
	int i;

	(void)state;
	assert_int_equal(mobj_ring_create(64 << 10, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(mobj_ring_write(p, b, 64, 0), 64);
		assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), 64);
	}
	assert_int_equal(mobj_ring_stats(p, &st), 0);
	assert_int_equal(st.wakes + st.sleeps + st.peer_checks, 0);
	assert_int_equal(mobj_ring_stats(c, &st), 0);
	assert_int_equal(st.wakes + st.sleeps + st.peer_checks, 0);

	arg.c = c;
	arg.min = 100;
	arg.rc = 1;
	assert_int_equal(pthread_create(&t, NULL, peek_min, &arg), 0);
	while (atomic_load(&mobj__ring_own(c)->waiting) == 0)
		sched_yield();
	for (i = 0; i < 20; i++)
		assert_int_equal(mobj_ring_write(p, b, 10, 0), 10);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(arg.rc, 0);
	assert_int_equal(mobj_ring_stats(p, &st), 0);
	assert_true(st.wakes <= 1);
	/* Unless the writes fell between two of the sleeper's 50 ms slices
	 * (this thread descheduled that long), it was woken once. */
	assert_int_equal(mobj_ring_stats(c, &cst), 0);
	if (cst.sleeps == 1)
		assert_int_equal(st.wakes, 1);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

static pid_t fork_producer(size_t cap, void (*child_fn)(struct mobj_ring *, void *),
                           void *arg, struct mobj_ring **consumer);
static void stream_fork(size_t cap, enum api api, uint64_t total);

/* ---- Batching ----------------------------------------------------------- */

static void test_batch_bad_input(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;

	(void)state;
	assert_int_equal(mobj_ring_set_batch(NULL, 0), -EINVAL);
	assert_int_equal(mobj_ring_flush(NULL), -EINVAL);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_flush(p), -ENOTCONN);
	assert_int_equal(mobj_ring_set_batch(p, page() + 1), -EINVAL);
	assert_int_equal(mobj_ring_set_batch(p, page()), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_flush(p), 0);
	assert_int_equal(mobj_ring_flush(c), 0);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* Both directions: unpublished until the threshold or a flush. */
static void test_batch_flush(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	unsigned char b[64];
	const void *q;
	size_t avail;

	(void)state;
	assert_int_equal(mobj_ring_create(64 << 10, &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_set_batch(p, 1000), 0);
	assert_int_equal(mobj_ring_set_batch(c, 1000), 0);
	assert_int_equal(mobj_ring_write(p, b, 64, 0), 64);
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), -EAGAIN);
	assert_int_equal(mobj_ring_flush(p), 0);
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), 0);
	assert_int_equal(avail, 64);
	assert_int_equal(mobj_ring_consume(c, 64), 0);
	assert_int_equal(atomic_load(&mobj__ring_peer(p)->index), 0);
	assert_int_equal(mobj_ring_flush(c), 0);
	assert_int_equal(atomic_load(&mobj__ring_peer(p)->index), 64);
	/* The threshold publishes by itself. */
	for (int i = 0; i < 15; i++)
		assert_int_equal(mobj_ring_write(p, b, 64, 0), 64);
	assert_int_equal(atomic_load(&mobj__ring_own(p)->index), 64);
	assert_int_equal(mobj_ring_write(p, b, 64, 0), 64);
	assert_int_equal(atomic_load(&mobj__ring_own(p)->index), 64 + 1024);
	/* Batch 0 publishes what is pending. */
	assert_int_equal(mobj_ring_write(p, b, 64, 0), 64);
	assert_int_equal(mobj_ring_set_batch(p, 0), 0);
	assert_int_equal(atomic_load(&mobj__ring_own(p)->index), 64 + 1088);
	/* Close publishes too. */
	assert_int_equal(mobj_ring_set_batch(p, 1000), 0);
	assert_int_equal(mobj_ring_write(p, b, 64, 0), 64);
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_peek(c, 1152, 0, &q, &avail), 0);
	assert_int_equal(avail, 1152);
	assert_int_equal(mobj_ring_consume(c, 1152), 0);
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), -EPIPE);
	mobj_ring_close(c);
	tu_res_check(res);
}

struct read_arg {
	struct mobj_ring *c;
	size_t want;
	unsigned char buf[512];
	ssize_t got;
};

static void *read_all(void *arg)
{
	struct read_arg *a = arg;
	ssize_t n;

	a->got = 0;
	while ((size_t)a->got < a->want) {
		n = mobj_ring_read(a->c, a->buf + a->got, a->want - a->got, T_MS);
		if (n < 0) {
			a->got = n;
			return NULL;
		}
		a->got += n;
	}
	return NULL;
}

/* The producer commits without flushing, then blocks on a full ring: the
 * wait publishes first, so the consumer gets everything and frees room. */
static void test_batch_never_strands(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	struct read_arg a;
	unsigned char b[300];
	const void *q;
	size_t avail, i;
	pthread_t t;
	void *w;

	(void)state;
	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i * 7 + 1);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_set_batch(p, page()), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(mobj_ring_write(p, b + 100 * i, 100, 0), 100);
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), -EAGAIN);
	a.c = c;
	a.want = sizeof(b);
	assert_int_equal(pthread_create(&t, NULL, read_all, &a), 0);
	assert_int_equal(mobj_ring_reserve(p, page(), T_MS, &w), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.got, (ssize_t)sizeof(b));
	assert_memory_equal(a.buf, b, sizeof(b));
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* A batching producer publishes at once to a consumer that said it waits. */
static void test_batch_publishes_to_sleeper(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	struct mobj_ring_stats st;
	struct peek_arg arg;
	unsigned char b[16] = { 0 };
	pthread_t t;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(mobj_ring_set_batch(p, page()), 0);
	arg.c = c;
	arg.min = 1;
	arg.rc = 1;
	assert_int_equal(pthread_create(&t, NULL, peek_min, &arg), 0);
	while (atomic_load(&mobj__ring_own(c)->waiting) == 0)
		sched_yield();
	assert_int_equal(mobj_ring_write(p, b, sizeof(b), 0), sizeof(b));
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(arg.rc, 0);
	/* Woken, not found by a slice running out. */
	assert_int_equal(mobj_ring_stats(c, &st), 0);
	assert_int_equal(st.peer_checks, 0);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* Where the kernel offers the heavy barrier, publishing takes no fence. */
static void test_light_publish(void **state)
{
	struct mobj_ring *p, *c;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_int_equal(p->f.fence, !mobj__os_barrier_light());
	assert_int_equal(c->f.fence, !mobj__os_barrier_light());
#ifdef __linux__
	if (!getenv("MOBJ_TEST_NO_MEMBARRIER") &&
	    !(getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload")))
		assert_true(mobj__os_barrier_light());
#endif
	mobj_ring_close(p);
	mobj_ring_close(c);
}

static void test_stream_threads_write_some(void **s)
{
	(void)s;
	stream_threads(64 << 10, API_WRITE_SOME, stream_bytes() / 4);
}

static void test_stream_threads_batched(void **s)
{
	(void)s;
	stream_batch = 16 << 10;
	stream_threads(256 << 10, API_RESERVE, stream_bytes() / 4);
	stream_threads(page(), API_RECORD, stream_bytes() / 16);
	stream_batch = 0;
}

static void test_stream_fork_batched(void **s)
{
	(void)s;
	stream_batch = 16 << 10;
	stream_fork(256 << 10, API_WRITE, stream_bytes() / 4);
	stream_fork(page(), API_RECORD, stream_bytes() / 16);
	stream_batch = 0;
}

/* Across processes: the producer commits without flushing, then blocks.
 * batch_pipe[0]: child -> parent "committed"; [1]: parent -> child "go". */
static int batch_pipe[2][2];

static void child_batch_block(struct mobj_ring *p, void *arg)
{
	unsigned char b[100];
	char x = 0;
	void *w;
	int i;

	(void)arg;
	memset(b, 0x5a, sizeof(b));
	if (mobj_ring_set_batch(p, mobj_ring_capacity(p)) < 0)
		_exit(4);
	for (i = 0; i < 3; i++)
		if (mobj_ring_write_record(p, b, sizeof(b), 0) != sizeof(b))
			_exit(5);
	if (write(batch_pipe[0][1], &x, 1) != 1 ||
	    read(batch_pipe[1][0], &x, 1) != 1)
		_exit(7);
	if (mobj_ring_reserve(p, mobj_ring_capacity(p), T_MS, &w) < 0)
		_exit(6);
	mobj_ring_close(p);
	_exit(0);
}

static void test_batch_never_strands_processes(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *c;
	unsigned char b[128], want[100];
	const void *q;
	size_t avail;
	char x = 0;
	pid_t pid;
	int i;

	(void)state;
	memset(want, 0x5a, sizeof(want));
	assert_int_equal(pipe(batch_pipe[0]), 0);
	assert_int_equal(pipe(batch_pipe[1]), 0);
	pid = fork_producer(page(), child_batch_block, NULL, &c);
	assert_int_equal(read(batch_pipe[0][0], &x, 1), 1);
	/* Committed, not published: */
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), -EAGAIN);
	assert_int_equal(write(batch_pipe[1][1], &x, 1), 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(mobj_ring_read_record(c, b, sizeof(b), T_MS),
		                 100);
		assert_memory_equal(b, want, sizeof(want));
	}
	assert_int_equal(tu_wait(pid), 0);
	mobj_ring_close(c);
	for (i = 0; i < 4; i++)
		close(batch_pipe[i / 2][i % 2]);
	tu_res_check(res);
}

/* ---- Fill level and partial writes -------------------------------------- */

static void test_available(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	unsigned char b[256] = { 0 };
	const void *q;
	size_t avail, cap;

	(void)state;
	assert_int_equal(mobj_ring_available(NULL), -EINVAL);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_available(p), -ENOTCONN);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	cap = mobj_ring_capacity(p);
	assert_int_equal(mobj_ring_available(p), cap);
	assert_int_equal(mobj_ring_available(c), 0);
	assert_int_equal(mobj_ring_write(p, b, 100, 0), 100);
	assert_int_equal(mobj_ring_available(p), cap - 100);
	assert_int_equal(mobj_ring_available(c), 100);
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), 0);
	assert_int_equal(mobj_ring_consume(c, 40), 0);
	assert_int_equal(mobj_ring_available(c), 60);
	assert_int_equal(mobj_ring_available(p), cap - 60);
	/* Only what is published counts. */
	assert_int_equal(mobj_ring_set_batch(p, cap), 0);
	assert_int_equal(mobj_ring_write(p, b, 8, 0), 8);
	assert_int_equal(mobj_ring_available(c), 60);
	assert_int_equal(mobj_ring_flush(p), 0);
	assert_int_equal(mobj_ring_available(c), 68);
	/* Closed: the rest stays readable, then -EPIPE. */
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_available(c), 68);
	assert_int_equal(mobj_ring_peek(c, 68, 0, &q, &avail), 0);
	assert_int_equal(mobj_ring_consume(c, 68), 0);
	assert_int_equal(mobj_ring_available(c), -EPIPE);
	mobj_ring_close(c);

	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	mobj_ring_close(c);
	assert_int_equal(mobj_ring_available(p), -EPIPE);
	mobj_ring_close(p);
	tu_res_check(res);
}

static void test_available_hostile(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	/* The producer claims more than the capacity: */
	atomic_store(&mobj__ring_own(p)->index, page() + 8);
	assert_int_equal(mobj_ring_available(c), -EPROTO);
	assert_int_equal(mobj_ring_available(c), -EPROTO);
	/* A consumer index beyond the tail: */
	atomic_store(&mobj__ring_own(c)->index, 8);
	assert_int_equal(mobj_ring_available(p), -EPROTO);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

static void test_write_some(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	unsigned char *b, *out;
	size_t cap, i;
	uint64_t t0;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	cap = mobj_ring_capacity(p);
	b = malloc(cap + 100);
	out = malloc(cap + 100);
	assert_non_null(b);
	assert_non_null(out);
	for (i = 0; i < cap + 100; i++)
		b[i] = (unsigned char)(i * 13 + 5);
	assert_int_equal(mobj_ring_write_some(NULL, b, 1, 0), -EINVAL);
	assert_int_equal(mobj_ring_write_some(c, b, 1, 0), -EINVAL);
	assert_int_equal(mobj_ring_write_some(p, NULL, 1, 0), -EINVAL);
	assert_int_equal(mobj_ring_write_some(p, b, 1, -2), -EINVAL);
	assert_int_equal(mobj_ring_write_some(p, b, 0, 0), 0);
	/* More than the capacity: as much as fits. */
	assert_int_equal(mobj_ring_write_some(p, b, cap + 100, 0), cap);
	assert_int_equal(mobj_ring_write_some(p, b, 10, 0), -EAGAIN);
	t0 = mobj__os_clock_ns();
	assert_int_equal(mobj_ring_write_some(p, b, 10, 300), -ETIMEDOUT);
	assert_true(mobj__os_clock_ns() - t0 < 2000000000ull);
	assert_int_equal(mobj_ring_read(c, out, 50, 0), 50);
	assert_int_equal(mobj_ring_write_some(p, b + cap, 100, 0), 50);
	for (i = 50; i < cap + 50;) {
		ssize_t got = mobj_ring_read(c, out + i, cap + 50 - i, 0);

		assert_true(got > 0);
		i += (size_t)got;
	}
	assert_int_equal(mobj_ring_read(c, out, 1, 0), -EAGAIN);
	assert_memory_equal(out, b, cap);
	assert_memory_equal(out + cap, b + cap, 50);
	mobj_ring_close(c);
	assert_int_equal(mobj_ring_write_some(p, b, 10, 0), -EPIPE);
	mobj_ring_close(p);
	free(b);
	free(out);
	tu_res_check(res);
}

/* ---- Least privilege ---------------------------------------------------- */

struct privs {
	struct mobj_ring *p, *c;
};

static int check_privs(void *arg)
{
	struct privs *v = arg;
	unsigned char *cdata = mobj__ring_data(v->c);
	size_t cap = mobj_ring_capacity(v->c);
	int rc;

	/* The consumer's views of the data (both copies) and of the tail. */
	if ((rc = tu_cannot_write(cdata)) != 0)
		return 10 + rc;
	if ((rc = tu_cannot_write(cdata + cap)) != 0)
		return 20 + rc;
	if ((rc = tu_cannot_write(mobj__ring_peer(v->c))) != 0)
		return 30 + rc;
	/* The producer's view of the head. */
	if ((rc = tu_cannot_write(mobj__ring_peer(v->p))) != 0)
		return 40 + rc;
	/* And what each side owns stays writable. */
	if (!tu_poke_mem(mobj__ring_own(v->c), 'M'))
		return 50;
	if (!tu_poke_mem(mobj__ring_data(v->p), 1))
		return 51;
	return 0;
}

static void test_least_privilege(void **state)
{
	struct tu_res res = tu_res_now();
	struct privs v;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &v.p), 0);
	assert_int_equal(mobj_ring_consumer(v.p, &v.c), 0);
	assert_int_equal(check_privs(&v), 0);
#ifdef __linux__
	/* Darwin: a forked child inherits no mapping (VM_INHERIT_NONE);
	 * test_least_privilege_processes is the cross-process check. */
	assert_int_equal(tu_in_child(check_privs, &v), 0);
#endif
	mobj_ring_close(v.p);
	mobj_ring_close(v.c);
	tu_res_check(res);
}

/* ---- Hostile peers ------------------------------------------------------ */

static void test_hostile_producer_index(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	struct mobj__ring_ctl *pc;
	unsigned char b[16];
	const void *q;
	size_t avail, cap, i;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_int_equal(mobj_ring_create(page(), &p), 0);
		assert_int_equal(mobj_ring_consumer(p, &c), 0);
		cap = mobj_ring_capacity(p);
		pc = mobj__ring_own(p);
		assert_int_equal(mobj_ring_write(p, b, 16, 0), 16);
		assert_int_equal(mobj_ring_read(c, b, 8, 0), 8);
		switch (i) {
		case 0: /* beyond the capacity */
			atomic_store(&pc->index, 8 + cap + 1);
			break;
		case 1: /* backwards, behind the head */
			atomic_store(&pc->index, 4);
			break;
		case 2: /* backwards, still ahead of the head */
			atomic_store(&pc->index, 12);
			break;
		case 3: /* absurd */
			atomic_store(&pc->index, UINT64_MAX);
			break;
		}
		/* The 8 bytes the consumer already saw are still readable
		 * without looking at the index again; asking for more makes it
		 * look, and the lie is found. */
		assert_int_equal(mobj_ring_peek(c, 8, 0, &q, &avail), 0);
		assert_int_equal(avail, 8);
		assert_int_equal(mobj_ring_peek(c, 9, 0, &q, &avail), -EPROTO);
		/* Sticky, on every call, even after the index looks sane. */
		atomic_store(&pc->index, 16);
		assert_int_equal(mobj_ring_read(c, b, 8, T_MS), -EPROTO);
		assert_int_equal(mobj_ring_peek_record(c, 0, &q, &avail), -EPROTO);
		mobj_ring_close(p);
		mobj_ring_close(c);
	}
	/* A lie discovered while sleeping. */
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	atomic_store(&mobj__ring_own(p)->index, 3 * page());
	assert_int_equal(mobj_ring_peek(c, 1, T_MS, &q, &avail), -EPROTO);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

static void test_hostile_consumer_index(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	struct mobj__ring_ctl *cc;
	unsigned char b[16] = { 0 };
	void *w;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(mobj_ring_create(page(), &p), 0);
		assert_int_equal(mobj_ring_consumer(p, &c), 0);
		cc = mobj__ring_own(c);
		assert_int_equal(mobj_ring_reserve(p, page(), 0, &w), 0);
		assert_int_equal(mobj_ring_commit(p, page()), 0);
		/* Head beyond the tail (would claim free space that is not),
		 * or absurd. */
		atomic_store(&cc->index, i ? UINT64_MAX : page() + 1);
		assert_int_equal(mobj_ring_write(p, b, 16, 0), -EPROTO);
		atomic_store(&cc->index, 0);
		assert_int_equal(mobj_ring_reserve(p, 1, 0, &w), -EPROTO);
		mobj_ring_close(p);
		mobj_ring_close(c);
	}
	/* Backwards. */
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	cc = mobj__ring_own(c);
	assert_int_equal(mobj_ring_reserve(p, page(), 0, &w), 0);
	assert_int_equal(mobj_ring_commit(p, page()), 0);
	assert_int_equal(mobj_ring_read(c, b, 16, 0), 16);
	assert_int_equal(mobj_ring_write(p, b, 16, 0), 16);
	atomic_store(&cc->index, 8);
	assert_int_equal(mobj_ring_write(p, b, 1, T_MS), -EPROTO);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* A record header that claims more than the producer committed, or (case
 * 3, regression: the 4 zero bytes were not checked, so a header that reads
 * as a 64-bit length near UINT64_MAX passed as a short record) that is not
 * a 32-bit length followed by zeros. */
static void test_hostile_record_header(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	uint32_t h[4] = { 0 };
	unsigned char b[64];
	const void *q;
	size_t len;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_int_equal(mobj_ring_create(page(), &p), 0);
		assert_int_equal(mobj_ring_consumer(p, &c), 0);
		h[0] = i == 0 ? 9 : i == 1 ? UINT32_MAX : i == 2 ? (uint32_t)page() : 8;
		h[1] = i == 3 ? UINT32_MAX : 0;
		assert_int_equal(mobj_ring_write(p, h, 16, 0), 16);
		assert_int_equal(mobj_ring_peek_record(c, 0, &q, &len), -EPROTO);
		assert_int_equal(mobj_ring_read_record(c, b, sizeof(b), 0), -EPROTO);
		mobj_ring_close(p);
		mobj_ring_close(c);
	}
	tu_res_check(res);
}

/* The peer rewrites every other field of its own control page at will: the
 * header (read once at set-up, never again) and the wait fields (they only
 * decide whether we make a wake-up call). Nothing breaks and nothing hangs
 * past a timeout. */
static void test_hostile_control_fields(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	struct mobj__ring_ctl *pc, *cc;
	struct mobj_ring_stats st;
	unsigned char b[64];
	const void *q;
	size_t avail;
	int i;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	pc = mobj__ring_own(p);
	cc = mobj__ring_own(c);
	/* Headers rewritten after set-up. */
	pc->magic = cc->magic = 0;
	pc->version = cc->version = 99;
	pc->role = cc->role = 7;
	pc->header_size = cc->header_size = 0;
	pc->capacity = cc->capacity = UINT64_MAX;
	/* Wait fields that claim a sleeper which wants every wake. */
	for (i = 0; i < 2; i++) {
		struct mobj__ring_ctl *x = i ? cc : pc, *y = i ? pc : cc;

		atomic_store(&x->waiting, UINT32_MAX);
		atomic_store(&x->wait_target, 0);
		atomic_store(&x->wait_seq, atomic_load(&y->wake_seq));
		atomic_store(&x->wake_seq, 0xdeadbeef);
	}
	for (i = 0; i < 100; i++) {
		assert_int_equal(mobj_ring_write(p, "0123456789", 10, 0), 10);
		assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), 10);
		assert_memory_equal(b, "0123456789", 10);
	}
	/* One wake per sleep it claims: a liar's wait_seq that stays behind
	 * costs one system call, not one per message. */
	assert_int_equal(mobj_ring_stats(p, &st), 0);
	assert_true(st.wakes <= 1);
	/* A wake sequence that keeps moving only shortens our sleeps. */
	atomic_store(&pc->wake_seq, 1);
	assert_int_equal(mobj_ring_peek(c, 1, 30, &q, &avail), -ETIMEDOUT);
	/* closed, set and taken back: what was committed is still read. */
	assert_int_equal(mobj_ring_write(p, "ab", 2, 0), 2);
	atomic_store(&pc->closed, 1);
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), 0);
	assert_int_equal(avail, 2);
	assert_int_equal(mobj_ring_peek(c, 3, T_MS, &q, &avail), -EPIPE);
	atomic_store(&pc->closed, 0);
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), 2);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* ---- Processes, over a channel ----------------------------------------- */

/* Fork a child that creates a ring of @cap bytes, sends it over a channel
 * (tu_fork_chan: a pair on Linux, a name on Darwin) and runs @child_fn with
 * its producer end (the test's stream state is inherited); this process
 * receives the consumer end. Returns the pid. */
static pid_t fork_producer(size_t cap, void (*child_fn)(struct mobj_ring *, void *),
                           void *arg, struct mobj_ring **consumer)
{
	struct mobj_chan *c;
	struct mobj_ring *p;
	pid_t pid;

	pid = tu_fork_chan(&c);
	if (pid == 0) {
		if (mobj_ring_create(cap, &p) < 0 ||
		    mobj_ring_set_batch(p, batch_for(p)) < 0 ||
		    mobj_ring_send(c, p, T_MS) < 0)
			_exit(2);
		/* The ring outlives the channel. */
		mobj_chan_close(c);
		child_fn(p, arg);
		_exit(3);
	}
	assert_int_equal(mobj_ring_recv(c, T_MS, consumer), 0);
	mobj_chan_close(c);
	return pid;
}

static void child_stream(struct mobj_ring *p, void *arg)
{
	struct stream *st = arg;

	st->r = p;
	produce(st);
	mobj_ring_close(p);
	_exit(st->err == 0 ? 0 : 1);
}

static void stream_fork(size_t cap, enum api api, uint64_t total)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *c;
	struct stream ps, cs;
	const void *q;
	size_t avail;
	pid_t pid;

	ps = (struct stream){ NULL, api, total, 0xabcdefu + api, -1 };
	cs = ps;
	pid = fork_producer(cap, child_stream, &ps, &c);
	assert_int_equal(mobj_ring_capacity(c), mobj__page_round(cap));
	assert_int_equal(mobj_ring_set_batch(c, batch_for(c)), 0);
	cs.r = c;
	consume(&cs);
	assert_int_equal(cs.err, 0);
	assert_int_equal(mobj_ring_peek(c, 1, T_MS, &q, &avail), -EPIPE);
	assert_int_equal(tu_wait(pid), 0);
	mobj_ring_close(c);
	tu_res_check(res);
}

static void test_stream_fork_reserve(void **s)
{
	(void)s;
	stream_fork(256 << 10, API_RESERVE, stream_bytes());
}

static void test_stream_fork_write(void **s)
{
	(void)s;
	stream_fork(256 << 10, API_WRITE, stream_bytes());
}

static void test_stream_fork_records(void **s)
{
	(void)s;
	stream_fork(256 << 10, API_RECORD, stream_bytes());
}

static void test_stream_fork_one_page(void **s)
{
	(void)s;
	stream_fork(1, API_RECORD, stream_bytes() / 16);
}

/* The producer streams until it is killed with SIGKILL (no close): the
 * consumer reads every byte committed before, verified, then gets -EPIPE,
 * from a blocking call that could have waited 5 s. */
static void child_stream_forever(struct mobj_ring *p, void *arg)
{
	struct stream *st = arg;

	st->r = p;
	st->total = UINT64_MAX;
	produce(st);
	_exit(1);
}

static void test_producer_killed(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *c;
	struct stream ps;
	unsigned char *buf = malloc(64 << 10);
	uint64_t pos = 0, t0, t1;
	struct timespec ts;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_non_null(buf);
	ps = (struct stream){ NULL, API_WRITE, 0, 42, -1 };
	pid = fork_producer(64 << 10, child_stream_forever, &ps, &c);
	while (pos < (4u << 20)) {
		n = mobj_ring_read(c, buf, 64 << 10, T_MS);
		assert_true(n > 0);
		assert_memory_equal(buf, at(pos), (size_t)n);
		pos += (uint64_t)n;
	}
	/* Mid-stream: the child is writing, or blocked on a full ring. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (;;) {
		n = mobj_ring_read(c, buf, 64 << 10, T_MS);
		if (n < 0)
			break;
		assert_memory_equal(buf, at(pos), (size_t)n);
		pos += (uint64_t)n;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	assert_int_equal(n, -EPIPE);
	/* Functional bound only: far below the 5 s the call could wait. */
	assert_true(t1 - t0 < T_MS);
	print_message("      producer killed: -EPIPE %llu ms after its death "
	              "was reaped, %llu bytes read in all\n",
	              (unsigned long long)(t1 - t0), (unsigned long long)pos);
	assert_int_equal(mobj_ring_read(c, buf, 1, 0), -EPIPE);
	mobj_ring_close(c);
	free(buf);
	tu_res_check(res);
}

/* The consumer dies (SIGKILL) while the producer is blocked on a full ring:
 * the producer gets -EPIPE. The producer is this process, the consumer a
 * forked child that receives the ring over the channel. */
static void test_consumer_killed(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *ch;
	struct mobj_ring *p, *c;
	unsigned char buf[4096];
	ssize_t n;
	pid_t pid;

	(void)state;
	pid = tu_fork_chan(&ch);
	if (pid == 0) {
		if (mobj_ring_recv(ch, T_MS, &c) < 0)
			_exit(2);
		mobj_chan_close(ch);
		if (mobj_ring_read(c, buf, sizeof(buf), T_MS) <= 0)
			_exit(3);
		raise(SIGKILL);
		_exit(4);
	}
	assert_int_equal(mobj_ring_create(64 << 10, &p), 0);
	assert_int_equal(mobj_ring_send(ch, p, T_MS), 0);
	mobj_chan_close(ch);
	do
		n = mobj_ring_write(p, at(0), sizeof(buf), T_MS);
	while (n > 0);
	assert_int_equal(n, -EPIPE);
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* Least privilege across processes: the consumer process cannot write the
 * data or the tail, by any route. */
static void child_idle(struct mobj_ring *p, void *arg)
{
	(void)arg;
	mobj_ring_write(p, "x", 1, T_MS);
	/* Wait for the consumer's close (or death), then go. */
	while (mobj_ring_write(p, "x", 1, T_MS) > 0)
		;
	mobj_ring_close(p);
	_exit(0);
}

static void test_least_privilege_processes(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *c;
	unsigned char *d;
	pid_t pid;

	(void)state;
	pid = fork_producer(page(), child_idle, NULL, &c);
	d = mobj__ring_data(c);
	assert_int_equal(tu_cannot_write(d), 0);
	assert_int_equal(tu_cannot_write(d + page()), 0);
	assert_int_equal(tu_cannot_write(mobj__ring_peer(c)), 0);
	assert_true(tu_poke_mem(mobj__ring_own(c), 'M'));
	mobj_ring_close(c);
	assert_int_equal(tu_wait(pid), 0);
	tu_res_check(res);
}

/* ---- Hostile set-up messages -------------------------------------------- */

struct hello {
	uint32_t magic, version, kind, zero;
	uint64_t capacity;
};

static struct hello hello(uint32_t kind, uint64_t cap)
{
	struct hello h = { MOBJ__RING_MAGIC, MOBJ__RING_VERSION, kind, 0, cap };

	return h;
}

/* A frozen object of @size, optionally with a control page header that
 * says @version and @flags. */
static struct mobj *frozen_page(size_t size, uint32_t role, uint64_t cap,
                                uint32_t magic, uint32_t version,
                                uint32_t flags)
{
	struct mobj *o, *ro;
	struct mobj__ring_ctl *ctl;

	assert_int_equal(mobj_create(size, 0, &o), 0);
	if (role) {
		assert_int_equal(mobj_map(o, 0, size, MOBJ_PROT_READ | MOBJ_PROT_WRITE,
		                          (void **)&ctl), 0);
		ctl->magic = magic;
		ctl->version = version;
		ctl->flags = flags;
		ctl->role = role;
		ctl->header_size = sizeof(*ctl);
		ctl->capacity = cap;
		assert_int_equal(mobj_unmap(ctl, size), 0);
	}
	assert_int_equal(mobj_readonly(o, &ro), 0);
	mobj_close(o);
	return ro;
}

static struct mobj *frozen(size_t size, uint32_t role, uint64_t cap,
                           uint32_t magic)
{
	return frozen_page(size, role, cap, magic, MOBJ__RING_VERSION, 0);
}

enum bad_setup {
	BAD_NO_OBJECT, BAD_MAGIC, BAD_KIND, BAD_SIZE, BAD_WRITABLE,
	BAD_CTL_MAGIC, BAD_CTL_ROLE, BAD_CTL_CAP, BAD_CTL_SIZE, BAD_SHORT,
	BAD_CTL_PAGE_CAP, /* the hello is right, the page's own field not */
	BAD_ODD_DATA,     /* an imported data object that is no page multiple */
	/* 1:N pages say version 2 (a consumer built before 1:N rings would
	 * take a version-1 one for an SPSC producer's): each mismatch, and
	 * overwrite without 1:N. */
	BAD_CTL_MULTI_V1, BAD_CTL_SPSC_V2, BAD_CTL_OVERWRITE_ONLY,
	BAD_COUNT
};

static void send_bad_setup(struct mobj_chan *a, enum bad_setup bad)
{
	size_t cap = 2 * page();
	struct hello h = hello(1, cap);
	struct mobj *data, *ctl, *rw = NULL;

	data = frozen(cap, 0, 0, 0);
	ctl = frozen(page(), MOBJ__RING_PRODUCER,
	             bad == BAD_CTL_PAGE_CAP ? cap + page() : cap,
	             bad == BAD_CTL_MAGIC ? 0xdead : MOBJ__RING_MAGIC);
	switch (bad) {
	case BAD_NO_OBJECT:
		assert_int_equal(mobj_send(a, NULL, &h, sizeof(h)), 0);
		break;
	case BAD_MAGIC:
		h.magic ^= 1;
		assert_int_equal(mobj_send(a, data, &h, sizeof(h)), 0);
		break;
	case BAD_KIND:
		h.kind = 2;
		assert_int_equal(mobj_send(a, data, &h, sizeof(h)), 0);
		break;
	case BAD_SIZE:
		h.capacity = page();
		assert_int_equal(mobj_send(a, data, &h, sizeof(h)), 0);
		break;
	case BAD_WRITABLE:
		assert_int_equal(mobj_create(cap, 0, &rw), 0);
		assert_int_equal(mobj_send(a, rw, &h, sizeof(h)), 0);
		break;
	case BAD_SHORT:
		assert_int_equal(mobj_send(a, data, &h, sizeof(h) - 1), 0);
		break;
#ifdef __linux__
	case BAD_ODD_DATA: {
		int fd = tu_memfd(cap + 100, F_SEAL_SHRINK | F_SEAL_GROW |
		                  F_SEAL_FUTURE_WRITE);

		assert_int_equal(mobj_from_fd(fd, cap + 100, MOBJ_READ, &rw), 0);
		close(fd);
		h.capacity = cap + 100;
		assert_int_equal(mobj_send(a, rw, &h, sizeof(h)), 0);
		break;
	}
#else
	case BAD_ODD_DATA: /* Darwin imports no foreign sizes: as BAD_SIZE */
		h.capacity = page();
		assert_int_equal(mobj_send(a, data, &h, sizeof(h)), 0);
		break;
#endif
	default:
		assert_int_equal(mobj_send(a, data, &h, sizeof(h)), 0);
		h = hello(2, bad == BAD_CTL_CAP ? cap + page() : cap);
		if (bad == BAD_CTL_ROLE) {
			mobj_close(ctl);
			ctl = frozen(page(), MOBJ__RING_CONSUMER, cap,
			             MOBJ__RING_MAGIC);
		} else if (bad == BAD_CTL_SIZE) {
			mobj_close(ctl);
			ctl = frozen(2 * page(), MOBJ__RING_PRODUCER, cap,
			             MOBJ__RING_MAGIC);
		} else if (bad >= BAD_CTL_MULTI_V1) {
			static const uint32_t v[] = { 1, 2, 1 };
			static const uint32_t f[] = {
				MOBJ__RING_MULTI, 0, MOBJ__RING_OVERWRITE
			};
			unsigned k = (unsigned)(bad - BAD_CTL_MULTI_V1);

			mobj_close(ctl);
			ctl = frozen_page(page(), MOBJ__RING_PRODUCER, cap,
			                  MOBJ__RING_MAGIC, v[k], f[k]);
		}
		assert_int_equal(mobj_send(a, ctl, &h, sizeof(h)), 0);
		break;
	}
	mobj_close(rw);
	mobj_close(data);
	mobj_close(ctl);
}

static void test_hostile_setup(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *a, *b;
	struct mobj_ring *c = NULL;
	int bad;

	(void)state;
	for (bad = 0; bad < BAD_COUNT; bad++) {
		assert_int_equal(mobj_chan_pair(&a, &b), 0);
		send_bad_setup(a, bad);
		assert_int_equal(mobj_ring_recv(b, T_MS, &c), -EPROTO);
		assert_null(c);
		mobj_chan_close(a);
		mobj_chan_close(b);
	}
	/* Nobody there. */
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_ring_recv(b, 0, &c), -ETIMEDOUT);
	mobj_chan_close(a);
	assert_int_equal(mobj_ring_recv(b, T_MS, &c), -EPIPE);
	mobj_chan_close(b);
	tu_res_check(res);
}

/* The consumer's answer is checked too; the producer stays unconnected. */
#ifdef __linux__
/* The producer's last set-up part, the consumer's half of the peer event,
 * is checked like the others: a memory object there is -EPROTO. */
static void test_hostile_event_part(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *a, *b;
	struct mobj_ring *p, *c;
	struct mobj *d, *pc, *o;
	struct mobj__ring_part e;
	struct mobj__os_obj raw;
	struct hello h;
	unsigned char msg[64];

	(void)state;
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj__ring_export(p, &d, &pc), 0);
	h = hello(RING_PART_DATA, page());
	assert_int_equal(mobj_send(a, d, &h, sizeof(h)), 0);
	h = hello(RING_PART_PCTL, page());
	assert_int_equal(mobj_send(a, pc, &h, sizeof(h)), 0);
	mobj__ring_part_init(&e, RING_PART_EVENT, page());
	raw.fd = mobj_fd(d);
	assert_int_equal(mobj__os_chan_send(mobj__chan_os(a), &e, sizeof(e), &raw,
	                                    1, T_MS), 0);
	assert_int_equal(mobj_ring_recv(b, T_MS, &c), -EPROTO);
	/* What the consumer answered before it met the lie. */
	assert_int_equal(mobj_recv(a, 0, &o, msg, sizeof(msg)), (int)sizeof(h));
	mobj_close(o);
	mobj_ring_close(p);
	mobj_chan_close(a);
	mobj_chan_close(b);
	tu_res_check(res);
}
#endif

static void test_hostile_setup_answer(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *a, *b;
	struct mobj_ring *p, *c;
	struct mobj *o;
	struct hello h;
	unsigned char msg[64];
	int i, n;

	(void)state;
	for (i = 0; i < 6; i++) {
		assert_int_equal(mobj_chan_pair(&a, &b), 0);
		assert_int_equal(mobj_ring_create(page(), &p), 0);
		/* Queue the answer first: mobj_ring_send reads it after
		 * sending its two messages. */
		h = hello(3, page());
		if (i == 0)
			h.kind = 1;
		if (i == 1)
			h.capacity = 2 * page();
		/* i == 4: the hello says the capacity, the page another. */
		o = frozen(page(), i == 2 ? MOBJ__RING_PRODUCER : MOBJ__RING_CONSUMER,
		           i == 4 ? 2 * page() : page(), MOBJ__RING_MAGIC);
		if (i == 3) {
			/* Writable: the consumer must freeze its page. */
			mobj_close(o);
			assert_int_equal(mobj_create(page(), 0, &o), 0);
		}
		if (i == 5) {
			/* A head that has moved before anything was written. */
			struct mobj__ring_ctl *ctl;
			struct mobj *rw;

			mobj_close(o);
			assert_int_equal(mobj_create(page(), 0, &rw), 0);
			assert_int_equal(mobj_map(rw, 0, page(), MOBJ_PROT_READ |
			                          MOBJ_PROT_WRITE, (void **)&ctl), 0);
			ctl->magic = MOBJ__RING_MAGIC;
			ctl->version = MOBJ__RING_VERSION;
			ctl->role = MOBJ__RING_CONSUMER;
			ctl->header_size = sizeof(*ctl);
			ctl->capacity = page();
			atomic_store(&ctl->index, 8);
			assert_int_equal(mobj_unmap(ctl, page()), 0);
			assert_int_equal(mobj_readonly(rw, &o), 0);
			mobj_close(rw);
		}
		assert_int_equal(mobj_send(b, o, &h, sizeof(h)), 0);
		mobj_close(o);
		assert_int_equal(mobj_ring_send(a, p, T_MS), -EPROTO);
		assert_int_equal(mobj_ring_write(p, "x", 1, 0), -ENOTCONN);
		/* Drain what it sent. */
		for (n = 0; n < 2; n++) {
			assert_int_equal(mobj_recv(b, 0, &o, msg, sizeof(msg)),
			                 (int)sizeof(h));
			mobj_close(o);
		}
		mobj_ring_close(p);
		mobj_chan_close(a);
		mobj_chan_close(b);
	}
	/* No answer (yet): timeout 0 does not wait for one. */
	assert_int_equal(mobj_chan_pair(&a, &b), 0);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_send(a, p, 0), -ETIMEDOUT);
	assert_int_equal(mobj_ring_write(p, "x", 1, 0), -ENOTCONN);
	mobj_ring_close(p);
	mobj_chan_close(a);
	/* Its messages are fine, but the producer is gone. */
	assert_int_equal(mobj_ring_recv(b, 0, &c), -EPIPE);
	mobj_chan_close(b);
	tu_res_check(res);
}

/* ---- The pollable descriptor -------------------------------------------- */

static int poll_in(int fd, int timeout_ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	int n = poll(&pfd, 1, timeout_ms);

	return n > 0 && (pfd.revents & POLLIN);
}

static void test_fd_threads(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p, *c;
	unsigned char b[64];
	const void *q;
	size_t avail;
	void *w;
	int cfd, pfd;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_fd(NULL), -EINVAL);
	assert_int_equal(mobj_ring_fd(p), -ENOTCONN);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	cfd = mobj_ring_fd(c);
	pfd = mobj_ring_fd(p);
	assert_true(cfd >= 0 && pfd >= 0);
	assert_int_equal(mobj_ring_fd(c), cfd);
	/* Starts readable; -EAGAIN arms it. */
	assert_true(poll_in(cfd, 0));
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), -EAGAIN);
	assert_false(poll_in(cfd, 0));
	assert_int_equal(mobj_ring_write(p, "abc", 3, 0), 3);
	assert_true(poll_in(cfd, T_MS));
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), 3);
	/* Waiting for more than one byte. */
	assert_int_equal(mobj_ring_peek(c, 10, 0, &q, &avail), -EAGAIN);
	assert_int_equal(mobj_ring_write(p, "abcde", 5, 0), 5);
	assert_int_equal(mobj_ring_write(p, "abcde", 5, 0), 5);
	assert_true(poll_in(cfd, T_MS));
	assert_int_equal(mobj_ring_peek(c, 10, 0, &q, &avail), 0);
	/* The producer's side: room. */
	assert_true(poll_in(pfd, 0));
	assert_int_equal(mobj_ring_reserve(p, page(), 0, &w), -EAGAIN);
	assert_false(poll_in(pfd, 0));
	assert_int_equal(mobj_ring_consume(c, 10), 0);
	assert_true(poll_in(pfd, T_MS));
	assert_int_equal(mobj_ring_reserve(p, page(), 0, &w), 0);
	/* The peer's close makes it readable, and the call says -EPIPE. */
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), -EAGAIN);
	mobj_ring_close(p);
	assert_true(poll_in(cfd, T_MS));
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), -EPIPE);
	mobj_ring_close(c);
	tu_res_check(res);
}

#ifdef __linux__
#define MANY_PAIRS 500

/* Which of the @n registered ends poll readable now: ready[i] set. */
static int epoll_ready(int ep, bool *ready, int n)
{
	struct epoll_event ev[64];
	int got, i, total = 0;

	memset(ready, 0, sizeof(*ready) * (size_t)n);
	/* Level-triggered: one pass over everything that is ready. */
	for (;;) {
		got = epoll_wait(ep, ev, 64, 0);
		assert_true(got >= 0);
		for (i = 0; i < got; i++) {
			if (ready[ev[i].data.u32])
				return total;
			ready[ev[i].data.u32] = true;
			total++;
		}
		if (got < 64)
			return total;
	}
}

/* 1,000 pollable ring ends in one epoll set, and not one library thread:
 * each end's descriptor is its half of a socketpair its peer signals only
 * when this end said it waits. */
static void test_fd_many_no_thread(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *p[MANY_PAIRS], *c[MANY_PAIRS];
	static bool ready[2 * MANY_PAIRS];
	struct rlimit rl;
	struct epoll_event ev;
	unsigned char *b;
	const void *q;
	size_t avail, cap = page();
	void *w;
	int ep, i, threads = tu_count_threads();

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4 * MANY_PAIRS + 64) {
		assert_true(rl.rlim_max >= 4 * MANY_PAIRS + 64);
		rl.rlim_cur = 4 * MANY_PAIRS + 64;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	b = calloc(1, cap);
	assert_non_null(b);
	ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(ep >= 0);
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_int_equal(mobj_ring_create(cap, &p[i]), 0);
		assert_int_equal(mobj_ring_consumer(p[i], &c[i]), 0);
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)(2 * i);
		assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, mobj_ring_fd(p[i]), &ev), 0);
		ev.data.u32 = (uint32_t)(2 * i + 1);
		assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, mobj_ring_fd(c[i]), &ev), 0);
	}
	assert_int_equal(tu_count_threads(), threads);
	/* Every end starts readable. */
	assert_int_equal(epoll_ready(ep, ready, 2 * MANY_PAIRS), 2 * MANY_PAIRS);
	/* Consumers wait on empty rings, then producers fill them and wait
	 * for room: exactly the consumers are readable. */
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_int_equal(mobj_ring_peek(c[i], 1, 0, &q, &avail), -EAGAIN);
		assert_int_equal(mobj_ring_write(p[i], b, cap, 0), (ssize_t)cap);
		assert_int_equal(mobj_ring_reserve(p[i], 1, 0, &w), -EAGAIN);
	}
	assert_int_equal(epoll_ready(ep, ready, 2 * MANY_PAIRS), MANY_PAIRS);
	for (i = 0; i < MANY_PAIRS; i++)
		assert_true(ready[2 * i + 1] && !ready[2 * i]);
	/* Consumers drain and wait again: exactly the producers. */
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_int_equal(mobj_ring_peek(c[i], cap, 0, &q, &avail), 0);
		assert_int_equal(mobj_ring_consume(c[i], cap), 0);
		assert_int_equal(mobj_ring_peek(c[i], 1, 0, &q, &avail), -EAGAIN);
	}
	assert_int_equal(epoll_ready(ep, ready, 2 * MANY_PAIRS), MANY_PAIRS);
	for (i = 0; i < MANY_PAIRS; i++)
		assert_true(ready[2 * i] && !ready[2 * i + 1]);
	/* A producer's close wakes its consumer's loop. */
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_int_equal(mobj_ring_reserve(p[i], 1, 0, &w), 0);
		mobj_ring_close(p[i]);
	}
	assert_int_equal(epoll_ready(ep, ready, 2 * MANY_PAIRS), MANY_PAIRS);
	for (i = 0; i < MANY_PAIRS; i++) {
		assert_true(ready[2 * i + 1]);
		assert_int_equal(mobj_ring_peek(c[i], 1, 0, &q, &avail), -EPIPE);
		mobj_ring_close(c[i]);
	}
	assert_int_equal(tu_count_threads(), threads);
	close(ep);
	free(b);
	tu_res_check(res);
}
#endif /* __linux__: epoll and /proc/self/task; test_darwin has the Darwin twin */

#ifdef __linux__
/* A peer cannot park descriptors in our event socket (releasing one could
 * block us): it refuses them, and where the kernel cannot (before 6.16)
 * the drain disposes of what came. */
static void test_fd_event_refuses_descriptors(void **state)
{
	struct tu_res res = tu_res_now();
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct mobj_ring *p, *c;
	struct mobj *o;
	struct msghdr mh;
	char x = 'x';
	struct iovec iov = { &x, 1 };
	const void *q;
	size_t avail;
	int fd, pass = -1;
	socklen_t len = sizeof(pass);
	ssize_t n;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_consumer(p, &c), 0);
	assert_true(mobj_ring_fd(c) >= 0);
	assert_int_equal(mobj_create(page(), 0, &o), 0);
	fd = mobj_fd(o);
	memset(&cm, 0, sizeof(cm));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.h), &fd, sizeof(fd));
	/* What the producer's process could send on its half: refused where
	 * the kernel has SO_PASSRIGHTS (83, Linux 6.16), which must be off. */
	n = sendmsg(p->pev.fd, &mh, MSG_DONTWAIT);
	if (getsockopt(mobj_ring_fd(c), SOL_SOCKET, 83, &pass, &len) == 0) {
		assert_int_equal(pass, 0);
		assert_true(n < 0 && errno == EPERM);
	}
	assert_int_equal(mobj_ring_peek(c, 1, 0, &q, &avail), -EAGAIN);
	mobj_close(o);
	mobj_ring_close(p);
	mobj_ring_close(c);
	tu_res_check(res);
}
#endif

static void child_write_then_die(struct mobj_ring *p, void *arg)
{
	struct timespec ts = { 0, 50 * 1000000 };

	(void)arg;
	nanosleep(&ts, NULL);
	mobj_ring_write(p, "hello", 5, T_MS);
	nanosleep(&ts, NULL);
	raise(SIGKILL);
}

/* Across processes, with no thread: data from the other process, then its
 * death, both make the descriptor readable. */
static void test_fd_processes(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring *c;
	unsigned char b[64];
	int fd;
	pid_t pid;

	(void)state;
#ifdef __linux__
	int threads = tu_count_threads();
#endif

	pid = fork_producer(page(), child_write_then_die, NULL, &c);
	fd = mobj_ring_fd(c);
	assert_true(fd >= 0);
#ifdef __linux__
	assert_int_equal(tu_count_threads(), threads);
#endif
	while (mobj_ring_read(c, b, sizeof(b), 0) == -EAGAIN)
		assert_true(poll_in(fd, T_MS));
	assert_memory_equal(b, "hello", 5);
	while (mobj_ring_read(c, b, sizeof(b), 0) == -EAGAIN)
		assert_true(poll_in(fd, T_MS));
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), -EPIPE);
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
	mobj_ring_close(c);
	tu_res_check(res);
}

/* ---- Set-up over IPC the user owns --------------------------------------- */

#ifdef __linux__
/* The producer in a child: offer, answer, "hello", then SIGKILL. */
static void xfer_child(int sock)
{
	struct mobj_ring_xfer offer, answer;
	struct mobj_ring *p;
	char x;

	if (mobj_ring_create(page(), &p) < 0 || mobj_ring_export(p, &offer) < 0 ||
	    tu_xfer_send(sock, &offer) < 0 || tu_xfer_recv(sock, &answer) < 0 ||
	    mobj_ring_accept_answer(p, &answer) < 0)
		_exit(2);
	tu_xfer_release(&answer);
	if (mobj_ring_write(p, "hello", 5, T_MS) != 5 || read(sock, &x, 1) != 1)
		_exit(3);
	raise(SIGKILL);
}

/* A ring set up over a raw socketpair the test owns; the producer's death
 * is seen by a blocking call (watched pid) or by the descriptor (the peer
 * event's hang-up), with no thread. */
static void xfer_over_socketpair(bool poll_fd)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_xfer offer, answer;
	struct mobj_ring *c;
	struct mobj *rw;
	unsigned char b[64];
	int sv[2], fd, threads = tu_count_threads();
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		xfer_child(sv[1]);
	}
	close(sv[1]);
	assert_int_equal(tu_xfer_recv(sv[0], &offer), 0);
	/* Least privilege: what travels cannot be taken read-write. */
	assert_int_equal(mobj_from_fd(mobj_fd(offer.objs[0]), offer.sizes[0],
	                              MOBJ_READ | MOBJ_WRITE, &rw), -EPROTO);
	assert_int_equal(mobj_ring_import(&offer, &c, &answer), 0);
	tu_xfer_release(&offer);
	assert_int_equal(mobj_access(answer.objs[0]), MOBJ_READ);
	assert_int_equal(tu_xfer_send(sv[0], &answer), 0);
	fd = mobj_ring_fd(c);
	assert_true(fd >= 0);
	assert_int_equal(tu_count_threads(), threads);
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), T_MS), 5);
	assert_memory_equal(b, "hello", 5);
	assert_int_equal(write(sv[0], "k", 1), 1);
	if (poll_fd) {
		while (mobj_ring_read(c, b, sizeof(b), 0) == -EAGAIN)
			assert_true(poll_in(fd, T_MS));
		assert_int_equal(mobj_ring_read(c, b, sizeof(b), 0), -EPIPE);
	} else {
		assert_int_equal(mobj_ring_read(c, b, sizeof(b), T_MS), -EPIPE);
	}
	assert_int_equal(tu_wait(pid), 128 + SIGKILL);
	mobj_ring_close(c);
	close(sv[0]);
	tu_res_check(res);
}

static void test_xfer_socketpair_blocking(void **state)
{
	(void)state;
	xfer_over_socketpair(false);
}

static void test_xfer_socketpair_fd(void **state)
{
	(void)state;
	xfer_over_socketpair(true);
}

/* Everything an offer or answer says is checked, as over a channel. */
static void test_xfer_hostile(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_xfer offer, bad, answer;
	struct mobj_ring *p, *c = NULL;
	struct mobj *rw;
	unsigned char b[8];
	int i, pp[2];

	(void)state;
	assert_int_equal(mobj_ring_export(NULL, &offer), -EINVAL);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_export(p, NULL), -EINVAL);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	assert_int_equal(offer.nobjs, 2);
	assert_true(offer.event_fd >= 0);
	assert_true(offer.pidfd >= 0);
	assert_int_equal(mobj_ring_import(NULL, &c, &answer), -EINVAL);
	assert_int_equal(mobj_create(page(), 0, &rw), 0);
	assert_int_equal(pipe(pp), 0);
	for (i = 0; i < 13; i++) {
		bad = offer;
		switch (i) {
		case 0: bad.meta_len--; break;
		case 1: bad.meta[8]++; break;              /* data's kind */
		case 2: bad.meta[16]++; break;             /* data's capacity */
		case 3: memset(bad.meta + 48, 0, 4); break; /* pid 0 */
		case 4: bad.event_fd = -1; break;          /* announced, missing */
		case 5: bad.event_fd = pp[0]; break;       /* not a peer event */
		case 6: bad.objs[0] = offer.objs[1]; bad.objs[1] = offer.objs[0]; break;
		case 7: bad.objs[1] = rw; break;           /* writable */
		case 8: bad.nobjs = 1; break;
		case 9: bad.meta[52] = 2; break;           /* event flag */
		case 10: bad.pidfd = pp[0]; break;         /* not a pidfd */
		case 11: bad.pidfd = -1; break;            /* announced, missing */
		case 12: bad.meta[52] = 4 | 2 | 1; break;  /* unknown flag */
		}
		assert_int_equal(mobj_ring_import(&bad, &c, &answer), -EPROTO);
	}
	assert_int_equal(mobj_ring_import(&offer, &c, &answer), 0);
	assert_int_equal(mobj_ring_accept_answer(p, NULL), -EINVAL);
	assert_true(answer.pidfd >= 0);
	for (i = 0; i < 7; i++) {
		bad = answer;
		switch (i) {
		case 0: bad.meta_len = 0; break;
		case 1: bad.meta[24] = 1; break;           /* second part not zero */
		case 2: bad.event_fd = pp[0]; break;
		case 3: bad.objs[0] = rw; break;
		case 4: bad.meta[8] = RING_PART_PCTL; break;
		case 5: bad.pidfd = pp[0]; break;          /* not a pidfd */
		case 6: bad.pidfd = -1; break;             /* announced, missing */
		}
		assert_int_equal(mobj_ring_accept_answer(p, &bad), -EPROTO);
		assert_int_equal(mobj_ring_write(p, "x", 1, 0), -ENOTCONN);
	}
	assert_int_equal(mobj_ring_accept_answer(p, &answer), 0);
	assert_int_equal(mobj_ring_accept_answer(p, &answer), -EINVAL);
	assert_int_equal(mobj_ring_write(p, "abc", 3, 0), 3);
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), T_MS), 3);
	mobj_ring_close(p);
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), T_MS), -EPIPE);
	mobj_ring_close(c);
	mobj_close(rw);
	close(pp[0]);
	close(pp[1]);
	tu_res_check(res);
}

/* ---- Promises from other angles: PID namespaces, fork, no /proc -------- */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Milliseconds on the monotonic clock. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* What a process that dies without mobj_ring_close() leaves behind: the
 * end is not marked closed. Its memory is freed all the same, so that a
 * leak checker in the dying child has nothing to report. */
static void die_without_closing(struct mobj_ring *r)
{
	mobj__ring_free(r);
}

/* The peer of @r died without closing: a consumer reads -EPIPE, a
 * @producer that fills the ring writes -EPIPE, long before the 5 s timeout. */
static void peer_death_seen(struct mobj_ring *r, bool producer)
{
	unsigned char b[16];
	uint64_t t0 = now_ms();
	ssize_t n;

	if (producer) {
		do
			n = mobj_ring_write(r, at(0), page() / 2, T_MS);
		while (n > 0);
	} else {
		n = mobj_ring_read(r, b, sizeof(b), T_MS);
	}
	assert_int_equal(n, -EPIPE);
	assert_true(now_ms() - t0 < T_MS / 2);
}

/* Runs @fn with a channel end in a grandchild that is pid 1 of a new PID
 * namespace (as in a container or a sandbox); this process gets the other
 * end in @mine. Returns the middle child's pid: its exit status is the
 * grandchild's, 77 when the kernel has no PID namespaces. */
static pid_t fork_in_pidns(int (*fn)(struct mobj_chan *), struct mobj_chan **mine)
{
	struct mobj_chan *c;
	pid_t pid, g;

	pid = tu_fork_chan(&c);
	if (pid == 0) {
		if (unshare(CLONE_NEWPID) < 0)
			_exit(errno == EINVAL ? 77 : 76);
		g = fork();
		if (g == 0)
			_exit(getpid() == 1 ? fn(c) : 75);
		mobj_chan_close(c);
		_exit(g < 0 ? 74 : tu_wait(g));
	}
	*mine = c;
	return pid;
}

static int pidns_producer(struct mobj_chan *c)
{
	struct mobj_ring *p;

	if (mobj_ring_create(page(), &p) != 0)
		return 10;
	if (mobj_ring_send(c, p, T_MS) != 0)
		return 11;
	mobj_chan_close(c);
	if (mobj_ring_write(p, "hello", 5, T_MS) != 5)
		return 12;
	die_without_closing(p);
	return 0;
}

/* Regression (each side sent its getpid() and the peer opened a pidfd on
 * that number in its own namespace: a producer in a new PID namespace got
 * -EPIPE from its first write, and its consumer tracked whatever process
 * had that number here, so the producer's death was never seen). */
static void test_ring_producer_in_pid_namespace(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *ch;
	struct mobj_ring *c;
	unsigned char b[16];
	int err, status;
	pid_t pid;

	(void)state;
	pid = fork_in_pidns(pidns_producer, &ch);
	err = mobj_ring_recv(ch, T_MS, &c);
	mobj_chan_close(ch);
	if (err == -EPIPE && (status = tu_wait(pid)) == 77) {
		print_message("skipped: no PID namespaces in this kernel\n");
		skip();
	}
	assert_int_equal(err, 0);
	assert_int_equal(tu_wait(pid), 0);
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), T_MS), 5);
	assert_memory_equal(b, "hello", 5);
	peer_death_seen(c, false);
	mobj_ring_close(c);
	tu_res_check(res);
}

static int pidns_consumer(struct mobj_chan *c)
{
	struct mobj_ring *r;
	unsigned char b[16];

	if (mobj_ring_recv(c, T_MS, &r) != 0)
		return 10;
	mobj_chan_close(c);
	if (mobj_ring_read(r, b, sizeof(b), T_MS) != 5)
		return 11;
	die_without_closing(r);
	return 0;
}

/* The same with the consumer in the namespace: the producer, blocked on a
 * full ring, learns of the consumer's death. */
static void test_ring_consumer_in_pid_namespace(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *ch;
	struct mobj_ring *p;
	int err;
	pid_t pid;

	(void)state;
	pid = fork_in_pidns(pidns_consumer, &ch);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	err = mobj_ring_send(ch, p, T_MS);
	mobj_chan_close(ch);
	if (err == -EPIPE && tu_wait(pid) == 77) {
		mobj_ring_close(p);
		print_message("skipped: no PID namespaces in this kernel\n");
		skip();
	}
	assert_int_equal(err, 0);
	assert_int_equal(mobj_ring_write(p, "hello", 5, T_MS), 5);
	assert_int_equal(tu_wait(pid), 0);
	peer_death_seen(p, true);
	mobj_ring_close(p);
	tu_res_check(res);
}

/* The waker exchange of the Linux backend (src/linux/ring_chan.c): 16
 * bytes and, with WAKER_PIDFD, one descriptor, a pidfd of the sender. */
struct waker_msg {
	uint32_t magic;
	uint32_t flags;
	int32_t pid;
	uint32_t zero;
};
#define WAKER_MAGIC 0x77626f6du /* "mobw" */
#define WAKER_PIDFD 1u

enum lie {
	LIE_NONE,        /* the truth: a pidfd of this process */
	LIE_NOT_PIDFD,   /* a memfd where the pidfd should be */
	LIE_NO_FD,       /* says a pidfd comes, sends none */
	LIE_OTHER,       /* a pidfd of another process (our parent) */
	LIE_MAGIC,
	LIE_FLAGS,       /* an unknown flag */
	LIE_COUNT
};

/* Send on @c the waker message of a peer that lies as @lie says. */
static void send_waker(struct mobj_chan *c, enum lie lie)
{
	struct waker_msg w = { WAKER_MAGIC, WAKER_PIDFD, (int32_t)getpid(), 0 };
	struct mobj *junk = NULL;
	int fd = -1;

	switch (lie) {
	case LIE_NONE:
		fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		break;
	case LIE_NOT_PIDFD:
		assert_int_equal(mobj_create(page(), 0, &junk), 0);
		fd = dup(mobj_fd(junk));
		break;
	case LIE_NO_FD:
		break;
	case LIE_OTHER:
		fd = (int)syscall(SYS_pidfd_open, getppid(), 0);
		break;
	case LIE_MAGIC:
		w.magic ^= 1;
		fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		break;
	default:
		w.flags |= 2;
		fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		break;
	}
	if (lie != LIE_NO_FD)
		assert_true(fd >= 0);
	assert_int_equal(raw_send(mobj_chan_fd(c), &w, sizeof(w), &fd,
	                          fd >= 0 ? 1 : 0), 0);
	if (fd >= 0)
		close(fd);
	mobj_close(junk);
}

/* Play one side of the set-up by hand on @c, queued before the real other
 * side runs: the objects that side expects (@consumer: the consumer's
 * control page; else the data and the producer's control page), then a
 * waker message that lies as @lie says. */
static void queue_side(struct mobj_chan *c, bool consumer, enum lie lie)
{
	struct hello h;
	struct mobj *o;

	if (consumer) {
		h = hello(3, page());
		o = frozen(page(), MOBJ__RING_CONSUMER, page(), MOBJ__RING_MAGIC);
		assert_int_equal(mobj_send(c, o, &h, sizeof(h)), 0);
		mobj_close(o);
	} else {
		h = hello(1, page());
		o = frozen(page(), 0, 0, 0);
		assert_int_equal(mobj_send(c, o, &h, sizeof(h)), 0);
		mobj_close(o);
		h = hello(2, page());
		o = frozen(page(), MOBJ__RING_PRODUCER, page(), MOBJ__RING_MAGIC);
		assert_int_equal(mobj_send(c, o, &h, sizeof(h)), 0);
		mobj_close(o);
		/* The peer event part, with no socket (allowed: the consumer's
		 * mobj_ring_fd() then has a helper thread). */
		h = hello(RING_PART_EVENT, page());
		assert_int_equal(raw_send(mobj_chan_fd(c), &h, sizeof(h), NULL, 0),
		                 0);
	}
	send_waker(c, lie);
}

/* Receive and drop @n set-up messages (each with its object) on @c, then
 * whatever else is queued until the peer is gone. */
static void drain_side(struct mobj_chan *c, int n)
{
	unsigned char msg[64];
	struct mobj *o;
	int i, got;

	for (i = 0; i < n; i++) {
		assert_int_equal(mobj_recv(c, 0, &o, msg, sizeof(msg)),
		                 (int)sizeof(struct hello));
		mobj_close(o);
	}
	do
		got = mobj_recv(c, 0, NULL, msg, sizeof(msg));
	while (got == -EPROTO);
	assert_int_equal(got, -EPIPE);
}

/* A peer that lies about who it is: -EPROTO from mobj_ring_send (the
 * producer is then connected, with its peer counted as gone) and from
 * mobj_ring_recv (no ring). The truth, told by hand the same way, is
 * accepted. */
static void test_ring_lying_peer_pidfd(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_chan *a, *b;
	struct mobj_ring *p, *c;
	int lie, fd, err;

	(void)state;
	fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd < 0) {
		print_message("skipped: no pidfd_open here (%s)\n", strerror(errno));
		skip();
	}
	close(fd);
	for (lie = 0; lie < LIE_COUNT; lie++) {
		/* A lying consumer. */
		assert_int_equal(mobj_chan_pair(&a, &b), 0);
		assert_int_equal(mobj_ring_create(page(), &p), 0);
		queue_side(b, true, (enum lie)lie);
		if (mobj_ring_send(a, p, T_MS) != (lie == LIE_NONE ? 0 : -EPROTO))
			fail_msg("lie %d to the producer: wrong answer", lie);
		assert_int_equal(mobj_ring_write(p, "x", 1, 0),
		                 lie == LIE_NONE ? 1 : -EPIPE);
		mobj_ring_close(p);
		mobj_chan_close(a);
		drain_side(b, 2);
		mobj_chan_close(b);
		/* A lying producer. */
		assert_int_equal(mobj_chan_pair(&a, &b), 0);
		queue_side(a, false, (enum lie)lie);
		c = NULL;
		err = mobj_ring_recv(b, T_MS, &c);
		if (err != (lie == LIE_NONE ? 0 : -EPROTO))
			fail_msg("lie %d to the consumer: %d", lie, err);
		assert_true(lie == LIE_NONE ? c != NULL : c == NULL);
		mobj_ring_close(c);
		mobj_chan_close(b);
		drain_side(a, 1);
		mobj_chan_close(a);
	}
	tu_res_check(res);
}

/* A forked child that closes the ring ends it inherited, with or without a
 * helper thread started by mobj_ring_fd() before the fork. */
struct fork_close {
	struct mobj_ring *p, *c;
};

static int child_closes(void *arg)
{
	struct fork_close *f = arg;

	mobj_ring_close(f->p);
	mobj_ring_close(f->c);
	return 0;
}

/* Wait for @pid at most @ms; kill it (status 128 + SIGKILL) if it hangs. */
static int wait_bounded(pid_t pid, int ms)
{
	uint64_t t0 = now_ms();
	struct timespec ts = { 0, 10 * 1000000 };
	int status;

	while (now_ms() - t0 < (uint64_t)ms) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			       128 + WTERMSIG(status);
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	return tu_wait(pid) + 1000;
}

/* Regression (mobj_ring_close() in a forked child stored "closed" into the
 * shared control page: the parent's next write was -EPIPE; with a
 * mobj_ring_fd() helper running, the child's close joined a thread that
 * does not exist in the child, and hung). The child's close leaves the
 * parent's ring alone. */
static void test_ring_fork_child_close(void **state)
{
	struct tu_res res = tu_res_now();
	struct fork_close f;
	unsigned char b[8];
	int with_fd, fd;
	pid_t pid;

	(void)state;
	for (with_fd = 0; with_fd < 2; with_fd++) {
		assert_int_equal(mobj_ring_create(page(), &f.p), 0);
		assert_int_equal(mobj_ring_consumer(f.p, &f.c), 0);
		fd = -1;
		if (with_fd) {
			fd = mobj_ring_fd(f.c);
			assert_true(fd >= 0);
			assert_true(mobj_ring_fd(f.p) >= 0);
			assert_int_equal(mobj_ring_read(f.c, b, 1, 0), -EAGAIN);
		}
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(child_closes(&f));
		assert_int_equal(wait_bounded(pid, T_MS), 0);
		assert_int_equal(mobj_ring_write(f.p, "abc", 3, 0), 3);
		if (with_fd)
			assert_true(poll_in(fd, T_MS));
		assert_int_equal(mobj_ring_read(f.c, b, sizeof(b), 0), 3);
		mobj_ring_close(f.p);
		assert_int_equal(mobj_ring_read(f.c, b, sizeof(b), T_MS), -EPIPE);
		mobj_ring_close(f.c);
	}
	tu_res_check(res);
}

/* Regression (a child's close of its inherited ends shut down the ring's
 * event socket, whose open file description it shares with the parent:
 * the parent's mobj_ring_fd() then polled readable for good and the
 * consumer saw its peer gone; and published the producer's batched index).
 * The child's close leaves the parent's event socket and batch alone. */
static void test_ring_fork_child_close_event(void **state)
{
	struct tu_res res = tu_res_now();
	struct fork_close f;
	unsigned char b[8];
	int cfd, pfd;
	pid_t pid;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &f.p), 0);
	assert_int_equal(mobj_ring_consumer(f.p, &f.c), 0);
	assert_int_equal(mobj_ring_set_batch(f.p, page()), 0);
	assert_int_equal(mobj_ring_write(f.p, "ab", 2, 0), 2);
	cfd = mobj_ring_fd(f.c);
	pfd = mobj_ring_fd(f.p);
	assert_true(cfd >= 0 && pfd >= 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_closes(&f));
	assert_int_equal(wait_bounded(pid, T_MS), 0);
	/* Nothing published by the child, and the consumer's socket is not
	 * at its end: it arms and polls quiet. */
	assert_int_equal(mobj_ring_read(f.c, b, sizeof(b), 0), -EAGAIN);
	assert_false(poll_in(cfd, 0));
	/* The producer's flush still reaches it through the socket. */
	assert_int_equal(mobj_ring_flush(f.p), 0);
	assert_true(poll_in(cfd, T_MS));
	assert_int_equal(mobj_ring_read(f.c, b, sizeof(b), 0), 2);
	assert_memory_equal(b, "ab", 2);
	assert_int_equal(mobj_ring_read(f.c, b, sizeof(b), 0), -EAGAIN);
	assert_false(poll_in(cfd, 0));
	mobj_ring_close(f.p);
	assert_true(poll_in(cfd, T_MS));
	assert_int_equal(mobj_ring_read(f.c, b, sizeof(b), 0), -EPIPE);
	mobj_ring_close(f.c);
	tu_res_check(res);
}

/* fork_in_pidns() for a ring set up over a raw socketpair: @fn gets one
 * end, this process the other in *@mine. */
static pid_t fork_in_pidns_sock(int (*fn)(int), int *mine)
{
	int sv[2];
	pid_t pid, g;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		if (unshare(CLONE_NEWPID) < 0)
			_exit(errno == EINVAL ? 77 : 76);
		g = fork();
		if (g == 0)
			_exit(getpid() == 1 ? fn(sv[1]) : 75);
		close(sv[1]);
		_exit(g < 0 ? 74 : tu_wait(g));
	}
	close(sv[1]);
	*mine = sv[0];
	return pid;
}

/* The producer of test_xfer_producer_in_pid_namespace: pid 1 of a new PID
 * namespace, set up over the raw socket @sock, writes and dies without
 * closing. */
static int pidns_xfer_producer(int sock)
{
	struct mobj_ring_xfer offer, answer;
	struct mobj_ring *p;

	if (mobj_ring_create(page(), &p) != 0 || mobj_ring_export(p, &offer) != 0)
		return 10;
	if (tu_xfer_send(sock, &offer) != 0 || tu_xfer_recv(sock, &answer) != 0)
		return 11;
	if (mobj_ring_accept_answer(p, &answer) != 0)
		return 12;
	tu_xfer_release(&answer);
	if (mobj_ring_write(p, "hello", 5, T_MS) != 5)
		return 13;
	close(sock);
	die_without_closing(p);
	return 0;
}

/* Regression (the set-up over the user's IPC passed each side's getpid()
 * and the peer watched that number in its own namespace: a producer in a
 * new PID namespace got -EPIPE from its first write, and the consumer
 * watched its own namespace's pid 1, so the producer's death was never
 * seen). Each side now passes a pidfd of itself in the xfer. */
static void test_xfer_producer_in_pid_namespace(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_xfer offer, answer;
	struct mobj_ring *c;
	unsigned char b[16];
	int sock, err;
	pid_t pid;

	(void)state;
	pid = fork_in_pidns_sock(pidns_xfer_producer, &sock);
	err = tu_xfer_recv(sock, &offer);
	if (err != 0 && tu_wait(pid) == 77) {
		print_message("skipped: no PID namespaces in this kernel\n");
		close(sock);
		skip();
	}
	assert_int_equal(err, 0);
	assert_true(offer.pidfd >= 0);
	assert_int_equal(mobj_ring_import(&offer, &c, &answer), 0);
	tu_xfer_release(&offer);
	assert_true(answer.pidfd >= 0);
	assert_int_equal(tu_xfer_send(sock, &answer), 0);
	assert_int_equal(mobj_ring_read(c, b, sizeof(b), T_MS), 5);
	assert_memory_equal(b, "hello", 5);
	/* The producer's write worked: it watches us rightly too. */
	assert_int_equal(tu_wait(pid), 0);
	peer_death_seen(c, false);
	mobj_ring_close(c);
	close(sock);
	tu_res_check(res);
}

static int pidns_xfer_consumer(int sock)
{
	struct mobj_ring_xfer offer, answer;
	struct mobj_ring *c;
	unsigned char b[16];

	if (tu_xfer_recv(sock, &offer) != 0)
		return 10;
	if (mobj_ring_import(&offer, &c, &answer) != 0)
		return 11;
	tu_xfer_release(&offer);
	if (tu_xfer_send(sock, &answer) != 0)
		return 12;
	close(sock);
	if (mobj_ring_read(c, b, sizeof(b), T_MS) != 5)
		return 13;
	die_without_closing(c);
	return 0;
}

/* The same with the consumer in the namespace: the producer, blocked on a
 * full ring, learns of the consumer's death. */
static void test_xfer_consumer_in_pid_namespace(void **state)
{
	struct tu_res res = tu_res_now();
	struct mobj_ring_xfer offer, answer;
	struct mobj_ring *p;
	int sock, err;
	pid_t pid;

	(void)state;
	pid = fork_in_pidns_sock(pidns_xfer_consumer, &sock);
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_export(p, &offer), 0);
	assert_true(offer.pidfd >= 0);
	err = tu_xfer_send(sock, &offer);
	if (err == 0)
		err = tu_xfer_recv(sock, &answer);
	if (err != 0 && tu_wait(pid) == 77) {
		mobj_ring_close(p);
		close(sock);
		print_message("skipped: no PID namespaces in this kernel\n");
		skip();
	}
	assert_int_equal(err, 0);
	assert_true(answer.pidfd >= 0);
	assert_int_equal(mobj_ring_accept_answer(p, &answer), 0);
	tu_xfer_release(&answer);
	assert_int_equal(mobj_ring_write(p, "hello", 5, T_MS), 5);
	assert_int_equal(tu_wait(pid), 0);
	peer_death_seen(p, true);
	mobj_ring_close(p);
	close(sock);
	tu_res_check(res);
}

/* For the tests that run in a child (no cmocka there): fork a producer
 * that sends a ring over a pair, writes "hello" and exits without closing
 * (status 0 when the write worked). This process gets the consumer end in
 * @c and the producer's pid in @pid. Returns 0 or what failed. */
static int fork_hello_producer(struct mobj_ring **c, pid_t *pid)
{
	struct mobj_chan *ch, *other;
	struct mobj_ring *p;
	int err;

	err = mobj_chan_pair(&ch, &other);
	if (err != 0)
		return err;
	fflush(NULL);
	*pid = fork();
	if (*pid == 0) {
		mobj_chan_close(other);
		if (mobj_ring_create(page(), &p) != 0 ||
		    mobj_ring_send(ch, p, T_MS) != 0)
			_exit(1);
		err = mobj_ring_write(p, "hello", 5, T_MS) == 5 ? 0 : 2;
		mobj_chan_close(ch);
		die_without_closing(p);
		_exit(err);
	}
	mobj_chan_close(ch);
	err = *pid < 0 ? -ECHILD : mobj_ring_recv(other, T_MS, c);
	mobj_chan_close(other);
	return err;
}

/* Regression (without /proc mobj_readonly() failed, so mobj_ring_create()
 * did): a ring in threads and one across processes, in a child whose /proc
 * is gone; the consumer still cannot write what it must not. */
static int noproc_ring(void)
{
	struct mobj_ring *p, *c;
	unsigned char b[8], *d;
	pid_t pid;

	if (mobj_ring_create(page(), &p) != 0)
		return 10;
	if (mobj_ring_consumer(p, &c) != 0)
		return 11;
	if (mobj_ring_write(p, "abc", 3, T_MS) != 3 ||
	    mobj_ring_read(c, b, sizeof(b), T_MS) != 3)
		return 12;
	d = mobj__ring_data(c);
	if (tu_cannot_write(d) || tu_cannot_write(d + page()) ||
	    tu_cannot_write(mobj__ring_peer(c)) || tu_cannot_write(mobj__ring_peer(p)))
		return 13;
	mobj_ring_close(p);
	mobj_ring_close(c);
	/* Across processes: the child produces and dies without closing. */
	if (fork_hello_producer(&c, &pid) != 0)
		return 15;
	d = mobj__ring_data(c);
	if (tu_cannot_write(d) || tu_cannot_write(mobj__ring_peer(c)))
		return 16;
	if (tu_wait(pid) != 0)
		return 17;
	if (mobj_ring_read(c, b, sizeof(b), T_MS) != 5 ||
	    mobj_ring_read(c, b, sizeof(b), T_MS) != -EPIPE)
		return 18;
	mobj_ring_close(c);
	return 0;
}

static int noproc_case(void *arg)
{
	(void)arg;
	return noproc_ring();
}

static void test_ring_without_proc(void **state)
{
	(void)state;
	assert_int_equal(tu_in_child_without_proc(noproc_case, NULL), 0);
}

/* A seccomp filter that makes pidfd_open fail with EPERM, as some container
 * profiles do. */
#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef TEST_AUDIT_ARCH
#include <linux/audit.h>

static int refuse_pidfd_open(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -1;
	return syscall(SYS_pidfd_open, getpid(), 0) < 0 && errno == EPERM ? 0 : -1;
}

static int eperm_case(void *arg)
{
	struct tu_res r;
	struct mobj_ring *c;
	unsigned char b[8];
	pid_t pid;
	int err;

	(void)arg;
	if (refuse_pidfd_open() < 0)
		return 77; /* no seccomp filters, or no pidfd_open to refuse */
	r = tu_res_now();
	err = fork_hello_producer(&c, &pid);
	if (err != 0) {
		fprintf(stderr, "pidfd_open EPERM: ring_recv %d\n", err);
		return 11;
	}
	if (tu_wait(pid) != 0)
		return 12;
	if (mobj_ring_read(c, b, sizeof(b), T_MS) != 5 ||
	    mobj_ring_read(c, b, sizeof(b), T_MS) != -EPIPE)
		return 13;
	mobj_ring_close(c);
	return tu_res_same(r, tu_res_now()) ? 0 : 14;
}

/* Regression (pidfd_open refused with EPERM, as by some container seccomp
 * profiles, failed the ring's set-up instead of falling back as for
 * ENOSYS). Both sides are filtered; the producer's death is still seen. */
/* eperm_case as pid 1 of a new PID namespace that kept its parent's
 * /proc, as `unshare -p -f` does: /proc/PID there names the parent
 * namespace's PID, another process. */
static int eperm_in_pidns(void *arg)
{
	pid_t g;

	if (unshare(CLONE_NEWPID) < 0)
		return errno == EINVAL ? 77 : 76;
	fflush(NULL);
	g = fork();
	if (g == 0)
		_exit(eperm_case(arg));
	return g < 0 ? 74 : tu_wait(g);
}

static void test_ring_pidfd_open_eperm(void **state)
{
	int rc = tu_in_child(eperm_case, NULL);

	(void)state;
	if (rc == 77) {
		print_message("skipped: cannot make pidfd_open fail with EPERM "
		              "here (no seccomp filters, or no pidfd_open)\n");
		skip();
	}
	assert_int_equal(rc, 0);
}

/* Regression (without pidfds the peer's pid was polled in /proc even where
 * /proc numbers processes for another PID namespace: the consumer watched
 * whatever process had that number there, and never saw its producer die). */
static void test_ring_pidfd_open_eperm_in_pid_namespace(void **state)
{
	int rc = tu_in_child(eperm_in_pidns, NULL);

	(void)state;
	if (rc == 77) {
		print_message("skipped: no PID namespaces, seccomp filters or "
		              "pidfd_open here\n");
		skip();
	}
	assert_int_equal(rc, 0);
}
#endif /* TEST_AUDIT_ARCH */

static volatile sig_atomic_t usr1_tid;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_tid = (sig_atomic_t)syscall(SYS_gettid);
}

/* Regression (the mobj_ring_fd() helper thread started with the caller's
 * signal mask, so a process-directed signal the application blocks in its
 * own threads ran its handler on the library's thread). */
static int signal_case(void *arg)
{
	struct tu_res r;
	struct sigaction sa;
	struct mobj_ring *p, *c;
	struct timespec ts = { 0, 0 };
	sigset_t set;
	int sig;

	(void)arg;
	r = tu_res_objects();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	if (mobj_ring_create(page(), &p) != 0 || mobj_ring_consumer(p, &c) != 0)
		return 10;
	if (mobj_ring_fd(c) < 0)
		return 11;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	kill(getpid(), SIGUSR1);
	ts.tv_nsec = 100 * 1000000;
	nanosleep(&ts, NULL);
	if (usr1_tid != 0)
		return 12; /* delivered to the helper thread */
	ts.tv_sec = 5;
	ts.tv_nsec = 0;
	sig = sigtimedwait(&set, NULL, &ts);
	if (sig != SIGUSR1)
		return 13;
	mobj_ring_close(p);
	mobj_ring_close(c);
	/* Memory objects only: the helper's stack outlives it. */
	return tu_res_same(r, tu_res_objects()) ? 0 : 14;
}

static void test_ring_fd_helper_blocks_signals(void **state)
{
	(void)state;
	assert_int_equal(tu_in_child(signal_case, NULL), 0);
}
#endif /* __linux__ */

static void test_layout_frozen(void **state)
{
	(void)state;
	/* The shared layout is an ABI between processes (and versions). */
	assert_int_equal(offsetof(struct mobj__ring_ctl, index), 128);
	assert_int_equal(offsetof(struct mobj__ring_ctl, wake_seq), 256);
	assert_int_equal(offsetof(struct mobj__ring_ctl, closed), 260);
	assert_int_equal(offsetof(struct mobj__ring_ctl, waiting), 384);
	assert_int_equal(offsetof(struct mobj__ring_ctl, wait_seq), 388);
	assert_int_equal(offsetof(struct mobj__ring_ctl, wait_target), 392);
	assert_int_equal(sizeof(struct mobj__ring_ctl), 512);
	assert_int_equal(MOBJ__RING_MAGIC, 0x72626f6du);
	assert_int_equal(MOBJ__RING_VERSION, 1);
	assert_int_equal(MOBJ__RING_VERSION_MULTI, 2);
}

/* What each kind of producer's page says: an SPSC producer's version 1
 * (peers built before 1:N rings still meet it), a 1:N producer's version 2
 * with its flags (such peers refuse it). */
static void test_page_versions(void **state)
{
	struct mobj_ring *p, *m, *c;

	(void)state;
	assert_int_equal(mobj_ring_create(page(), &p), 0);
	assert_int_equal(mobj_ring_create_multi(page(), 2, MOBJ_RING_OVERWRITE,
	                                        &m), 0);
	assert_int_equal(mobj_ring_consumer(m, &c), 0);
	assert_int_equal(mobj__ring_own(p)->version, 1);
	assert_int_equal(mobj__ring_own(p)->flags & ~MOBJ__RING_LIGHT, 0);
	assert_int_equal(mobj__ring_own(m)->version, 2);
	assert_int_equal(mobj__ring_own(m)->flags & ~MOBJ__RING_LIGHT,
	                 MOBJ__RING_MULTI | MOBJ__RING_OVERWRITE);
	/* A consumer's page is never 1:N, whatever its producer. */
	assert_int_equal(mobj__ring_own(c)->version, 1);
	mobj_ring_close(c);
	mobj_ring_close(m);
	mobj_ring_close(p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_frozen),
		cmocka_unit_test(test_page_versions),
		cmocka_unit_test(test_create_bad_input),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_wrap_contiguous),
		cmocka_unit_test(test_records_basic),
		cmocka_unit_test(test_close_semantics),
		cmocka_unit_test(test_close_wakes_sleeper),
		cmocka_unit_test(test_wakes_only_sleepers),
		cmocka_unit_test(test_batch_bad_input),
		cmocka_unit_test(test_batch_flush),
		cmocka_unit_test(test_batch_never_strands),
		cmocka_unit_test(test_batch_publishes_to_sleeper),
		cmocka_unit_test(test_batch_never_strands_processes),
		cmocka_unit_test(test_light_publish),
		cmocka_unit_test(test_stream_threads_batched),
		cmocka_unit_test(test_stream_threads_write_some),
		cmocka_unit_test(test_stream_fork_batched),
		cmocka_unit_test(test_available),
		cmocka_unit_test(test_available_hostile),
		cmocka_unit_test(test_write_some),
		cmocka_unit_test(test_least_privilege),
		cmocka_unit_test(test_hostile_producer_index),
		cmocka_unit_test(test_hostile_consumer_index),
		cmocka_unit_test(test_hostile_record_header),
		cmocka_unit_test(test_hostile_control_fields),
		cmocka_unit_test(test_stream_threads_reserve),
		cmocka_unit_test(test_stream_threads_write),
		cmocka_unit_test(test_stream_threads_records),
		cmocka_unit_test(test_stream_threads_one_page),
		cmocka_unit_test(test_stream_fork_reserve),
		cmocka_unit_test(test_stream_fork_write),
		cmocka_unit_test(test_stream_fork_records),
		cmocka_unit_test(test_stream_fork_one_page),
		cmocka_unit_test(test_producer_killed),
		cmocka_unit_test(test_consumer_killed),
		cmocka_unit_test(test_least_privilege_processes),
		cmocka_unit_test(test_hostile_setup),
		cmocka_unit_test(test_hostile_setup_answer),
#ifdef __linux__
		cmocka_unit_test(test_hostile_event_part),
#endif
		cmocka_unit_test(test_fd_threads),
		cmocka_unit_test(test_fd_processes),
#ifdef __linux__
		cmocka_unit_test(test_fd_many_no_thread),
		cmocka_unit_test(test_fd_event_refuses_descriptors),
		cmocka_unit_test(test_xfer_socketpair_blocking),
		cmocka_unit_test(test_xfer_socketpair_fd),
		cmocka_unit_test(test_xfer_hostile),
		cmocka_unit_test(test_ring_producer_in_pid_namespace),
		cmocka_unit_test(test_ring_consumer_in_pid_namespace),
		cmocka_unit_test(test_ring_lying_peer_pidfd),
		cmocka_unit_test(test_ring_fork_child_close),
		cmocka_unit_test(test_ring_fork_child_close_event),
		cmocka_unit_test(test_xfer_producer_in_pid_namespace),
		cmocka_unit_test(test_xfer_consumer_in_pid_namespace),
		cmocka_unit_test(test_ring_without_proc),
#ifdef TEST_AUDIT_ARCH
		cmocka_unit_test(test_ring_pidfd_open_eperm),
		cmocka_unit_test(test_ring_pidfd_open_eperm_in_pid_namespace),
#endif
		cmocka_unit_test(test_ring_fd_helper_blocks_signals),
#endif
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests_name("ring", tests, pattern_setup,
	                                   pattern_teardown);
}
