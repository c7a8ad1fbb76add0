/*
 * The heap: allocation patterns (many small, few huge, fragmentation, a full
 * object), pointer validation (foreign, interior, double free), the peer's
 * bounds-checked offset helper, offsets read in place by another process
 * through a read-only mapping, and that linking the heap leaves the
 * process's malloc alone.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mobj/mobj.h"
#include "mobj/heap.h"
#include "mobj/linux.h"
#include "testutil.h"

#define MiB ((size_t)1 << 20)

/* @p is a live allocation of @h and [p, p + len) lies inside its object. */
static bool inside(struct mobj_heap *h, void *p, size_t len)
{
	size_t off, size = mobj_size(mobj_heap_object(h));

	if (mobj_heap_offset(h, p, &off) < 0)
		return false;
	return off < size && len <= size - off;
}

static void fill(void *p, size_t len, unsigned seed)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		c[i] = (unsigned char)(seed * 131 + i * 7);
}

static bool check(const void *p, size_t len, unsigned seed)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i] != (unsigned char)(seed * 131 + i * 7))
			return false;
	return true;
}

/* Linking libmobj-heap must not make jemalloc the process's allocator. */
static void test_process_malloc_untouched(void **state)
{
	struct mobj_heap *h;
	void *p, *q;
	Dl_info info;
	/* What the process's global lookup binds these names to. */
	const char *names[] = { "malloc", "free", "calloc", "realloc",
	                        "posix_memalign", "malloc_usable_size" };
	size_t i;

	(void)state;
	assert_int_equal(mobj_heap_create(MiB, 0, &h), 0);
	assert_int_equal(mobj_heap_alloc(h, 100, &p), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *fn = dlsym(RTLD_DEFAULT, names[i]);

		assert_non_null(fn);
		assert_true(dladdr(fn, &info) != 0);
		assert_non_null(info.dli_fname);
		/* Normally libc; under a sanitizer, its interceptor. */
		assert_null(strstr(info.dli_fname, "mobj-heap"));
		assert_null(strstr(info.dli_fname, "jemalloc"));
	}
	/* The private jemalloc's names are not visible in the process. */
	assert_null(dlsym(RTLD_DEFAULT, "mallocx"));
	assert_null(dlsym(RTLD_DEFAULT, "mallctl"));
	assert_null(dlsym(RTLD_DEFAULT, "je_malloc"));
	/* malloc still works and still hands out memory outside the heap. */
	q = malloc(100);
	assert_non_null(q);
	assert_false(inside(h, q, 1));
	free(q);
	assert_int_equal(mobj_heap_free(h, p), 0);
	mobj_heap_close(h);
}

static void test_bad_input(void **state)
{
	struct mobj_heap *h = (struct mobj_heap *)(uintptr_t)1;
	void *p = (void *)(uintptr_t)1;
	size_t off = 7;

	(void)state;
	assert_int_equal(mobj_heap_create(0, 0, &h), -EINVAL);
	assert_int_equal(mobj_heap_create(MiB, 1, &h), -EINVAL);
	assert_int_equal(mobj_heap_create(MiB, 0, NULL), -EINVAL);
	assert_int_equal(mobj_heap_create(SIZE_MAX, 0, &h), -EINVAL);
	assert_ptr_equal(h, (struct mobj_heap *)(uintptr_t)1);
	assert_int_equal(mobj_heap_alloc(NULL, 8, &p), -EINVAL);
	assert_int_equal(mobj_heap_free(NULL, p), -EINVAL);
	assert_int_equal(mobj_heap_offset(NULL, p, &off), -EINVAL);
	assert_int_equal(mobj_heap_ptr(NULL, 0, &p), -EINVAL);
	assert_int_equal(mobj_heap_alloc_size(NULL, p, &off), -EINVAL);
	assert_null(mobj_heap_object(NULL));
	mobj_heap_close(NULL);
	assert_ptr_equal(p, (void *)(uintptr_t)1);
	assert_int_equal(off, 7);

	assert_int_equal(mobj_heap_create(MiB, 0, &h), 0);
	assert_int_equal(mobj_heap_alloc(h, 0, &p), -EINVAL);
	assert_int_equal(mobj_heap_alloc(h, 8, NULL), -EINVAL);
	assert_int_equal(mobj_heap_alloc(h, SIZE_MAX, &p), -ENOMEM);
	assert_int_equal(mobj_heap_alloc(h, 2 * MiB, &p), -ENOMEM);
	assert_int_equal(mobj_heap_free(h, NULL), -EINVAL);
	assert_ptr_equal(p, (void *)(uintptr_t)1);
	mobj_heap_close(h);
}

/* Descriptors and memory-object mappings now, after one heap has come and
 * gone. jemalloc's private metadata grows with what a test does and its
 * mappings merge and split, so the tests that work the allocator hard count
 * what a leak of ours would show: descriptors and the objects' mappings. */
static struct tu_res warm_res(void)
{
	struct mobj_heap *h;

	assert_int_equal(mobj_heap_create(MiB, 0, &h), 0);
	mobj_heap_close(h);
	return tu_res_objects();
}

static void test_object_shape(void **state)
{
	struct tu_res r;
	struct mobj_heap *h;
	struct mobj *o;

	(void)state;
	/* The first heap initialises the private jemalloc, whose own
	 * metadata mappings stay for the process's life. */
	assert_int_equal(mobj_heap_create(MiB, 0, &h), 0);
	mobj_heap_close(h);
	r = tu_res_now();
	assert_int_equal(mobj_heap_create(MiB + 1, 0, &h), 0);
	o = mobj_heap_object(h);
	assert_non_null(o);
	assert_int_equal(mobj_size(o), MiB + mobj_page_size());
	assert_int_equal(mobj_access(o), MOBJ_READ | MOBJ_WRITE);
	mobj_heap_close(h);
	tu_res_check(r);
}

static void test_many_small(void **state)
{
	enum { N = 20000 };
	struct tu_res r;
	struct mobj_heap *h;
	void **p = calloc(N, sizeof(*p));
	size_t *len = calloc(N, sizeof(*len));
	size_t i, off, usable, total = 0;
	int round;

	(void)state;
	assert_non_null(p);
	assert_non_null(len);
	assert_int_equal(mobj_heap_create(MiB, 0, &h), 0);
	mobj_heap_close(h);
	/* Descriptors and memory-object mappings only: 20,000 small blocks
	 * make jemalloc add private metadata mappings, which it keeps and
	 * which merge with their neighbours depending on where the kernel
	 * puts them (1 run in 15 under load had one more). */
	r = tu_res_objects();
	assert_int_equal(mobj_heap_create(16 * MiB, 0, &h), 0);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < N; i++) {
			len[i] = 1 + (i * 37) % 300;
			assert_int_equal(mobj_heap_alloc(h, len[i], &p[i]), 0);
			assert_true(inside(h, p[i], len[i]));
			assert_int_equal((uintptr_t)p[i] % (len[i] >= 16 ? 16 : 8), 0);
			assert_int_equal(mobj_heap_alloc_size(h, p[i], &usable), 0);
			assert_true(usable >= len[i]);
			fill(p[i], len[i], (unsigned)i);
			total += len[i];
		}
		/* Nothing overlapped: every block still holds its pattern,
		 * and owner pointers round-trip through offsets. */
		for (i = 0; i < N; i++) {
			void *back;

			assert_true(check(p[i], len[i], (unsigned)i));
			assert_int_equal(mobj_heap_offset(h, p[i], &off), 0);
			assert_int_equal(mobj_heap_ptr(h, off, &back), 0);
			assert_ptr_equal(back, p[i]);
		}
		for (i = 0; i < N; i++)
			assert_int_equal(mobj_heap_free(h, p[i]), 0);
	}
	assert_true(total > 16 * MiB / 8);
	mobj_heap_close(h);
	tu_res_objects_check(r);
	free(p);
	free(len);
}

static void test_few_huge(void **state)
{
	struct tu_res r;
	struct mobj_heap *h;
	unsigned char *a, *b, *c, *x;
	size_t size = 64 * MiB;

	(void)state;
	r = warm_res();
	assert_int_equal(mobj_heap_create(size, 0, &h), 0);
	assert_int_equal(mobj_heap_alloc(h, 20 * MiB, (void **)&a), 0);
	assert_int_equal(mobj_heap_alloc(h, 20 * MiB, (void **)&b), 0);
	assert_int_equal(mobj_heap_alloc(h, 20 * MiB, (void **)&c), 0);
	assert_true(inside(h, a, 20 * MiB));
	assert_true(inside(h, b, 20 * MiB));
	assert_true(inside(h, c, 20 * MiB));
	a[0] = 1, a[20 * MiB - 1] = 2;
	b[0] = 3, b[20 * MiB - 1] = 4;
	c[0] = 5, c[20 * MiB - 1] = 6;
	assert_int_equal(a[0] + a[20 * MiB - 1] + b[0] + b[20 * MiB - 1] +
	                 c[0] + c[20 * MiB - 1], 21);
	/* A fourth does not fit: the heap never borrows memory elsewhere. */
	assert_int_equal(mobj_heap_alloc(h, 20 * MiB, (void **)&x), -ENOMEM);
	assert_int_equal(mobj_heap_free(h, b), 0);
	assert_int_equal(mobj_heap_alloc(h, 20 * MiB, (void **)&x), 0);
	assert_true(inside(h, x, 20 * MiB));
	assert_int_equal(mobj_heap_free(h, a), 0);
	assert_int_equal(mobj_heap_free(h, c), 0);
	assert_int_equal(mobj_heap_free(h, x), 0);
	/* Freed runs merge again: most of the object in one piece. */
	assert_int_equal(mobj_heap_alloc(h, 48 * MiB, (void **)&x), 0);
	assert_true(inside(h, x, 48 * MiB));
	assert_int_equal(mobj_heap_free(h, x), 0);
	mobj_heap_close(h);
	tu_res_objects_check(r);
}

/* Fill with blocks of @len until -ENOMEM; returns how many fit. */
static size_t fill_up(struct mobj_heap *h, size_t len, void **p, size_t max)
{
	size_t n = 0;
	int err;

	while (n < max && (err = mobj_heap_alloc(h, len, &p[n])) == 0) {
		assert_true(inside(h, p[n], len));
		memset(p[n], (int)n, len);
		n++;
	}
	assert_true(n < max);
	assert_int_equal(err, -ENOMEM);
	return n;
}

static void test_full_object(void **state)
{
	struct tu_res r;
	enum { MAX = 4096 };
	struct mobj_heap *h;
	void **p = calloc(MAX, sizeof(*p));
	size_t size = 8 * MiB, blk = 64 << 10, n, n2, i;
	void *q;

	(void)state;
	r = warm_res();
	assert_non_null(p);
	assert_int_equal(mobj_heap_create(size, 0, &h), 0);
	n = fill_up(h, blk, p, MAX);
	/* Large blocks cost a page of padding each (cache-oblivious
	 * layout); still, most of the object is usable. */
	assert_true(n * blk >= size / 2);
	for (i = 0; i < n; i++) {
		unsigned char *c = p[i];

		assert_int_equal(c[0], (unsigned char)i);
		assert_int_equal(c[blk - 1], (unsigned char)i);
	}
	/* Full, yet small requests may still fit in the leftovers; what no
	 * longer fits is -ENOMEM, never memory from elsewhere. */
	assert_int_equal(mobj_heap_alloc(h, blk, &q), -ENOMEM);
	assert_int_equal(mobj_heap_free(h, p[n / 2]), 0);
	assert_int_equal(mobj_heap_alloc(h, blk, &p[n / 2]), 0);
	assert_true(inside(h, p[n / 2], blk));
	for (i = 0; i < n; i++)
		assert_int_equal(mobj_heap_free(h, p[i]), 0);
	/* Everything came back: the same number fits again. */
	n2 = fill_up(h, blk, p, MAX);
	assert_int_equal(n2, n);
	for (i = 0; i < n2; i++)
		assert_int_equal(mobj_heap_free(h, p[i]), 0);
	mobj_heap_close(h);
	free(p);
	tu_res_objects_check(r);
}

static void fragmentation_once(void)
{
	enum { MAX = 8192 };
	struct mobj_heap *h;
	void **big = calloc(MAX, sizeof(*big));
	void **small = calloc(MAX * 8, sizeof(*small));
	size_t size = 8 * MiB, blk = 32 << 10, n, i, ns = 0;
	void *q;

	assert_non_null(big);
	assert_non_null(small);
	assert_int_equal(mobj_heap_create(size, 0, &h), 0);
	n = fill_up(h, blk, big, MAX);
	/* Free every other block: half the space is free, but only in holes
	 * of one block each. */
	for (i = 0; i < n; i += 2)
		assert_int_equal(mobj_heap_free(h, big[i]), 0);
	assert_int_equal(mobj_heap_alloc(h, 4 * blk, &q), -ENOMEM);
	/* The holes are reused for smaller allocations. */
	while (ns < MAX * 8 && mobj_heap_alloc(h, 1000, &small[ns]) == 0) {
		assert_true(inside(h, small[ns], 1000));
		ns++;
	}
	assert_true(ns * 1000 >= (n / 2) * blk / 2);
	for (i = 0; i < ns; i++)
		assert_int_equal(mobj_heap_free(h, small[i]), 0);
	for (i = 1; i < n; i += 2)
		assert_int_equal(mobj_heap_free(h, big[i]), 0);
	/* All free again: the large request fits now. */
	assert_int_equal(mobj_heap_alloc(h, 4 * blk, &q), 0);
	assert_int_equal(mobj_heap_free(h, q), 0);
	mobj_heap_close(h);
	free(big);
	free(small);
}

/* Twice: the first run warms jemalloc's private metadata; the second must
 * leave no descriptor or object mapping behind. */
static void test_fragmentation(void **state)
{
	struct tu_res r;

	(void)state;
	fragmentation_once();
	r = tu_res_objects();
	fragmentation_once();
	tu_res_objects_check(r);
}

static void test_foreign_and_double_free(void **state)
{
	struct tu_res r;
	struct mobj_heap *h, *h2;
	char stack[64];
	char *p, *q, *m = malloc(64);
	void *back;
	size_t off, sz;

	(void)state;
	r = warm_res();
	assert_non_null(m);
	assert_int_equal(mobj_heap_create(MiB, 0, &h), 0);
	assert_int_equal(mobj_heap_create(MiB, 0, &h2), 0);
	assert_int_equal(mobj_heap_alloc(h, 100, (void **)&p), 0);
	assert_int_equal(mobj_heap_alloc(h2, 100, (void **)&q), 0);

	/* Foreign pointers: not inside this heap's mapping. */
	assert_int_equal(mobj_heap_free(h, stack), -EINVAL);
	assert_int_equal(mobj_heap_free(h, m), -EINVAL);
	assert_int_equal(mobj_heap_free(h, q), -EINVAL);
	assert_int_equal(mobj_heap_free(h2, p), -EINVAL);
	assert_int_equal(mobj_heap_offset(h, q, &off), -EINVAL);
	assert_int_equal(mobj_heap_alloc_size(h, m, &sz), -EINVAL);
	/* Interior pointers: inside, but not where an allocation starts. */
	assert_int_equal(mobj_heap_free(h, p + 8), -EINVAL);
	assert_int_equal(mobj_heap_free(h, p + 1), -EINVAL);
	assert_int_equal(mobj_heap_offset(h, p + 16, &off), -EINVAL);
	/* Offsets from a peer that are not live allocations. */
	assert_int_equal(mobj_heap_offset(h, p, &off), 0);
	assert_int_equal(mobj_heap_ptr(h, off + 8, &back), -EINVAL);
	assert_int_equal(mobj_heap_ptr(h, off + 3, &back), -EINVAL);
	assert_int_equal(mobj_heap_ptr(h, SIZE_MAX, &back), -EINVAL);
	assert_int_equal(mobj_heap_ptr(h, MiB, &back), -EINVAL);

	/* Double free is detected (no allocation reused the address). */
	assert_int_equal(mobj_heap_free(h, p), 0);
	assert_int_equal(mobj_heap_free(h, p), -EINVAL);
	assert_int_equal(mobj_heap_offset(h, p, &off), -EINVAL);
	assert_int_equal(mobj_heap_ptr(h, off, &back), -EINVAL);
	/* The heap is still sound afterwards. */
	assert_int_equal(mobj_heap_alloc(h, 100, (void **)&p), 0);
	assert_int_equal(mobj_heap_free(h, p), 0);

	assert_int_equal(mobj_heap_free(h2, q), 0);
	mobj_heap_close(h2);
	mobj_heap_close(h);
	free(m);
	tu_res_objects_check(r);
}

static void test_at_bounds(void **state)
{
	char map[64];
	const void *p = NULL;

	(void)state;
	memset(map, 0, sizeof(map));
	assert_int_equal(mobj_heap_at(map, sizeof(map), 0, 64, &p), 0);
	assert_ptr_equal(p, map);
	assert_int_equal(mobj_heap_at(map, sizeof(map), 60, 4, &p), 0);
	assert_ptr_equal(p, map + 60);
	assert_int_equal(mobj_heap_at(map, sizeof(map), 64, 0, &p), 0);
	p = NULL;
	assert_int_equal(mobj_heap_at(map, sizeof(map), 60, 5, &p), -EPROTO);
	assert_int_equal(mobj_heap_at(map, sizeof(map), 65, 0, &p), -EPROTO);
	assert_int_equal(mobj_heap_at(map, sizeof(map), SIZE_MAX, 2, &p), -EPROTO);
	assert_int_equal(mobj_heap_at(map, sizeof(map), 2, SIZE_MAX, &p), -EPROTO);
	assert_int_equal(mobj_heap_at(map, sizeof(map), SIZE_MAX, SIZE_MAX, &p), -EPROTO);
	assert_null(p);
	assert_int_equal(mobj_heap_at(NULL, 64, 0, 1, &p), -EINVAL);
	assert_int_equal(mobj_heap_at(map, 0, 0, 0, &p), -EINVAL);
	assert_int_equal(mobj_heap_at(map, 64, 0, 1, NULL), -EINVAL);
}

/* ---- Across processes ---------------------------------------------------- */

struct rec {
	uint64_t off, len, seed;
};

/* A peer: maps the read-only object, reads each record in place, checks it,
 * sends the offset back to be freed. Exit 0 when all was well. */
static int peer_reader(int fd, size_t size, int rfd, int wfd)
{
	struct mobj *ro;
	const unsigned char *base;
	const void *p;
	struct rec rec;
	void *w;

	/* Its own handle and its own read-only mapping, as a peer that
	 * received the object over a channel would have. */
	if (mobj_from_fd(fd, size, MOBJ_READ, &ro) < 0)
		return 11;
	if (mobj_map(ro, 0, size, MOBJ_PROT_READ, (void **)&base) < 0)
		return 12;
	/* The peer can never write the heap. */
	if (mobj_map(ro, 0, size, MOBJ_PROT_READ | MOBJ_PROT_WRITE, &w) != -EACCES)
		return 13;
	if (mprotect((void *)base, size, PROT_READ | PROT_WRITE) == 0)
		return 14;
	for (;;) {
		ssize_t n = read(rfd, &rec, sizeof(rec));

		if (n == 0)
			break;
		if (n != sizeof(rec))
			return 15;
		if (rec.len == 0) {
			/* A hostile offset: the helper refuses it. */
			if (mobj_heap_at(base, size, rec.off, 16, &p) != -EPROTO)
				return 16;
			continue;
		}
		if (mobj_heap_at(base, size, rec.off, rec.len, &p) < 0)
			return 17;
		if (!check(p, rec.len, (unsigned)rec.seed))
			return 18;
		if (write(wfd, &rec.off, sizeof(rec.off)) != sizeof(rec.off))
			return 19;
	}
	mobj_unmap((void *)base, size);
	mobj_close(ro);
	return 0;
}

static void test_offsets_across_processes(void **state)
{
	enum { N = 200 };
	struct tu_res r;
	struct mobj_heap *h;
	struct mobj *ro;
	int to[2], from[2], done = 0, i;
	struct rec rec;
	pid_t pid;

	(void)state;
	assert_int_equal(mobj_heap_create(MiB, 0, &h), 0);
	mobj_heap_close(h);
	r = tu_res_now();
	assert_int_equal(mobj_heap_create(32 * MiB, 0, &h), 0);
	assert_int_equal(mobj_readonly(mobj_heap_object(h), &ro), 0);
	/* The heap keeps working after its object is frozen. */
	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		_exit(peer_reader(mobj_fd(ro), mobj_size(ro), to[0], from[1]));
	}
	close(to[0]);
	close(from[1]);

	/* Allocated and written after the peer started: it sees them live. */
	for (i = 0; i < N; i++) {
		size_t len = i % 10 == 0 ? (size_t)(1 + i) * 10000 : 1 + (size_t)i * 13;
		void *p;
		size_t off;

		assert_int_equal(mobj_heap_alloc(h, len, &p), 0);
		fill(p, len, (unsigned)i);
		assert_int_equal(mobj_heap_offset(h, p, &off), 0);
		rec.off = off, rec.len = len, rec.seed = (uint64_t)i;
		assert_int_equal(write(to[1], &rec, sizeof(rec)), sizeof(rec));
	}
	rec.off = 32 * MiB - 8, rec.len = 0, rec.seed = 0;
	assert_int_equal(write(to[1], &rec, sizeof(rec)), sizeof(rec));
	rec.off = UINT64_MAX - 4;
	assert_int_equal(write(to[1], &rec, sizeof(rec)), sizeof(rec));
	close(to[1]);
	/* Offsets come back; the owner frees them. */
	for (;;) {
		uint64_t off;
		void *p;
		ssize_t n = read(from[0], &off, sizeof(off));

		if (n == 0)
			break;
		assert_int_equal(n, sizeof(off));
		assert_int_equal(mobj_heap_ptr(h, (size_t)off, &p), 0);
		assert_int_equal(mobj_heap_free(h, p), 0);
		done++;
	}
	close(from[0]);
	assert_int_equal(tu_wait(pid), 0);
	assert_int_equal(done, N);
	mobj_close(ro);
	mobj_heap_close(h);
	tu_res_check(r);
}

/* ---- Threads ------------------------------------------------------------- */

static void *thread_churn(void *arg)
{
	struct mobj_heap *h = arg;
	void *p[64];
	int round, i;

	for (round = 0; round < 200; round++) {
		for (i = 0; i < 64; i++)
			if (mobj_heap_alloc(h, 16 + (size_t)i * 40, &p[i]) < 0)
				return (void *)1;
		for (i = 0; i < 64; i++)
			if (mobj_heap_free(h, p[i]) < 0)
				return (void *)2;
	}
	return NULL;
}

static void threads_once(void)
{
	struct mobj_heap *h;
	pthread_t t[4];
	void *ret;
	int i;

	assert_int_equal(mobj_heap_create(16 * MiB, 0, &h), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_churn, h), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	mobj_heap_close(h);
}

/* Threads make glibc and jemalloc map memory of their own that outlives
 * them: count descriptors and the mappings of memory objects. */
static void test_threads(void **state)
{
	struct tu_res r;

	(void)state;
	threads_once();
	r = tu_res_objects();
	threads_once();
	tu_res_objects_check(r);
}

static void test_close_with_live_allocations(void **state)
{
	struct tu_res r;
	struct mobj_heap *h;
	void *p;
	int i;

	(void)state;
	assert_int_equal(mobj_heap_create(MiB, 0, &h), 0);
	mobj_heap_close(h);
	r = tu_res_now();
	for (i = 0; i < 50; i++) {
		assert_int_equal(mobj_heap_create(4 * MiB, 0, &h), 0);
		assert_int_equal(mobj_heap_alloc(h, 100, &p), 0);
		assert_int_equal(mobj_heap_alloc(h, MiB, &p), 0);
		mobj_heap_close(h);
	}
	tu_res_check(r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_malloc_untouched),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_object_shape),
		cmocka_unit_test(test_many_small),
		cmocka_unit_test(test_few_huge),
		cmocka_unit_test(test_full_object),
		cmocka_unit_test(test_fragmentation),
		cmocka_unit_test(test_foreign_and_double_free),
		cmocka_unit_test(test_at_bounds),
		cmocka_unit_test(test_offsets_across_processes),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_close_with_live_allocations),
	};

	(void)argc;
	(void)argv;
	/* A peer that dies early must fail a test, not kill the runner. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}
