/*
 * heap-example: large variable-size messages between two processes with no
 * copy, using a heap inside a memory object and two rings of offsets.
 *
 *   producer                                consumer
 *   heap = mobj_heap_create(64 MiB)
 *   send read-only view of the heap  ---->  map it read-only
 *   ring "out" (offsets)             ---->  consumer end of "out"
 *   producer end of "back"           <----  ring "back" (offsets to free)
 *   loop: alloc in heap, fill,
 *         write {off, len} to "out"  ---->  read in place, verify,
 *                                            write off to "back"
 *         read offsets from "back",  <----
 *         free them
 *
 * The message bytes are written once, by the producer, into the heap, and
 * read once, by the consumer, from the same pages; only 16-byte descriptors
 * travel through the rings. The consumer treats every offset as hostile
 * (mobj_heap_at() bounds-checks it) and the producer frees only offsets that
 * are live allocations (mobj_heap_ptr() checks).
 *
 * Usage: heap-example [MESSAGES]   (default 20000). Exit 0 when every
 * message arrived intact and every block came back and was freed; 1
 * otherwise.
 */
/* clock_gettime, fork under -std=c11. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mobj/mobj.h"
#include "mobj/ring.h"
#include "mobj/heap.h"

#define HEAP_SIZE ((size_t)64 << 20)
#define RING_SIZE ((size_t)64 << 10)
#define MAX_IN_FLIGHT 1024 /* "back" can always take every returned offset */
#define TIMEOUT_MS 10000

struct desc {
	uint64_t off;
	uint64_t len; /* 0: end of stream */
};

/* Every message starts with its sequence number and length, then a pattern
 * derived from them, so the consumer can check every byte it reads. */
struct msg_head {
	uint64_t seq;
	uint64_t len;
};

static size_t msg_len(uint64_t seq)
{
	/* Mostly 1..64 KiB, every 50th message 1..4 MiB. */
	uint64_t x = seq * 2654435761u;

	if (seq % 50 == 0)
		return sizeof(struct msg_head) + (size_t)(x % (4u << 20)) + 1;
	return sizeof(struct msg_head) + (size_t)(x % (64u << 10)) + 1;
}

static unsigned char pattern(uint64_t seq, size_t i)
{
	return (unsigned char)(seq * 31 + i * 7 + (i >> 8));
}

static int fail(const char *who, const char *what, int err)
{
	fprintf(stderr, "heap-example: %s: %s: %s\n", who, what,
	        mobj_strerror(err));
	return 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- consumer ------------------------------------------------------------ */

static int consumer(struct mobj_chan *c)
{
	struct mobj *ro = NULL;
	struct mobj_ring *in = NULL, *back = NULL;
	const unsigned char *base = NULL;
	size_t size = 0;
	uint64_t seq = 0, bytes = 0;
	char tag[8];
	int err, rc = 1;

	err = mobj_recv(c, TIMEOUT_MS, &ro, tag, sizeof(tag));
	if (err < 0 || !ro)
		return fail("consumer", "receive heap", err < 0 ? err : -EPROTO);
	size = mobj_size(ro);
	err = mobj_map(ro, 0, size, MOBJ_PROT_READ, (void **)&base);
	if (err < 0)
		goto out_fail_map;
	err = mobj_ring_recv(c, TIMEOUT_MS, &in);
	if (err < 0) {
		fail("consumer", "receive ring", err);
		goto out;
	}
	err = mobj_ring_create(RING_SIZE, &back);
	if (err == 0)
		err = mobj_ring_send(c, back, TIMEOUT_MS);
	if (err < 0) {
		fail("consumer", "send return ring", err);
		goto out;
	}
	for (;;) {
		struct desc d;
		const unsigned char *p;
		const struct msg_head *head;
		ssize_t n = mobj_ring_read_record(in, &d, sizeof(d), TIMEOUT_MS);
		size_t i;

		if (n < 0) {
			fail("consumer", "read descriptor", (int)n);
			goto out;
		}
		if (n != sizeof(d)) {
			fprintf(stderr, "heap-example: consumer: short descriptor\n");
			goto out;
		}
		if (d.len == 0)
			break;
		/* Never trust an offset: check it lies inside the mapping. */
		err = mobj_heap_at(base, size, d.off, d.len, (const void **)&p);
		if (err < 0 || d.len < sizeof(*head)) {
			fail("consumer", "descriptor outside the heap", -EPROTO);
			goto out;
		}
		head = (const struct msg_head *)(const void *)p;
		if (head->seq != seq || head->len != d.len) {
			fprintf(stderr, "heap-example: consumer: message %" PRIu64
			        " has header seq %" PRIu64 " len %" PRIu64 "\n",
			        seq, head->seq, head->len);
			goto out;
		}
		for (i = sizeof(*head); i < d.len; i++)
			if (p[i] != pattern(seq, i)) {
				fprintf(stderr, "heap-example: consumer: message %"
				        PRIu64 " corrupt at byte %zu\n", seq, i);
				goto out;
			}
		bytes += d.len;
		seq++;
		n = mobj_ring_write_record(back, &d.off, sizeof(d.off), TIMEOUT_MS);
		if (n < 0) {
			fail("consumer", "return offset", (int)n);
			goto out;
		}
	}
	printf("[consumer] %" PRIu64 " messages, %.1f MiB read in place from "
	       "the read-only heap, every byte verified\n", seq,
	       (double)bytes / (1 << 20));
	rc = 0;
out:
	mobj_ring_close(back);
	mobj_ring_close(in);
	mobj_unmap((void *)base, size);
	mobj_close(ro);
	return rc;
out_fail_map:
	mobj_close(ro);
	return fail("consumer", "map heap read-only", err);
}

/* ---- producer ------------------------------------------------------------ */

/* Take returned offsets from "back" and free them; wait for at least
 * @min of them. */
static int reclaim(struct mobj_heap *h, struct mobj_ring *back, unsigned min,
                   unsigned *in_flight)
{
	unsigned got = 0;

	for (;;) {
		uint64_t off;
		void *p;
		ssize_t n = mobj_ring_read_record(back, &off, sizeof(off),
		                                  got < min ? TIMEOUT_MS : 0);
		int err;

		/* Nothing more for now; or the consumer has finished and
		 * closed its end, after everything it returned was read. */
		if (n == -EAGAIN || (n == -EPIPE && got >= min))
			return 0;
		if (n < 0)
			return (int)n;
		if (n != sizeof(off))
			return -EPROTO;
		err = mobj_heap_ptr(h, (size_t)off, &p);
		if (err == 0)
			err = mobj_heap_free(h, p);
		if (err < 0)
			return -EPROTO; /* the consumer returned a bogus offset */
		got++;
		(*in_flight)--;
	}
}

static int producer(struct mobj_chan *c, uint64_t count)
{
	struct mobj_heap *h = NULL;
	struct mobj *ro = NULL;
	struct mobj_ring *out = NULL, *back = NULL;
	unsigned in_flight = 0, waits = 0;
	uint64_t seq, bytes = 0;
	struct desc d;
	double t0;
	int err, rc = 0;

	err = mobj_heap_create(HEAP_SIZE, 0, &h);
	if (err < 0)
		return fail("producer", "create heap", err);
	/* The heap mapped its object writable at creation; freezing the
	 * object now stops every other writer, the heap keeps working. */
	err = mobj_readonly(mobj_heap_object(h), &ro);
	if (err == 0)
		err = mobj_send(c, ro, "heap", 4);
	mobj_close(ro);
	if (err < 0) {
		fail("producer", "send heap", err);
		goto out;
	}
	err = mobj_ring_create(RING_SIZE, &out);
	if (err == 0)
		err = mobj_ring_send(c, out, TIMEOUT_MS);
	if (err == 0)
		err = mobj_ring_recv(c, TIMEOUT_MS, &back);
	if (err < 0) {
		fail("producer", "set up rings", err);
		goto out;
	}
	printf("[producer] heap of %zu MiB shared read-only; %" PRIu64
	       " messages of up to 4 MiB, offsets through rings of %zu KiB\n",
	       HEAP_SIZE >> 20, count, RING_SIZE >> 10);
	t0 = now();
	for (seq = 0; seq < count; seq++) {
		size_t len = msg_len(seq), i, off;
		unsigned char *p;
		struct msg_head head = { seq, len };

		err = reclaim(h, back, in_flight >= MAX_IN_FLIGHT, &in_flight);
		while (err == 0 &&
		       (err = mobj_heap_alloc(h, len, (void **)&p)) == -ENOMEM) {
			/* Heap full: wait for the consumer to give some back. */
			if (!in_flight)
				break;
			waits++;
			err = reclaim(h, back, 1, &in_flight);
		}
		if (err < 0) {
			fail("producer", "allocate", err);
			goto out;
		}
		memcpy(p, &head, sizeof(head));
		for (i = sizeof(head); i < len; i++)
			p[i] = pattern(seq, i);
		mobj_heap_offset(h, p, &off);
		d.off = off;
		d.len = len;
		err = (int)mobj_ring_write_record(out, &d, sizeof(d), TIMEOUT_MS);
		if (err < 0) {
			fail("producer", "send descriptor", err);
			goto out;
		}
		in_flight++;
		bytes += len;
	}
	d.off = 0;
	d.len = 0;
	err = (int)mobj_ring_write_record(out, &d, sizeof(d), TIMEOUT_MS);
	while (err >= 0 && in_flight)
		err = reclaim(h, back, 1, &in_flight);
	if (err < 0) {
		fail("producer", "collect returned blocks", err);
		goto out;
	}
	printf("[producer] %.1f MiB in %.2f s (%.0f MiB/s, including filling "
	       "and checking every byte); the heap filled up %u times; "
	       "all blocks returned and freed\n",
	       (double)bytes / (1 << 20), now() - t0,
	       (double)bytes / (1 << 20) / (now() - t0), waits);
	err = 0;
out:
	mobj_ring_close(back);
	mobj_ring_close(out);
	mobj_heap_close(h);
	return rc ? rc : err < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct mobj_chan *a, *b;
	uint64_t count = 20000;
	pid_t pid;
	int err, rc, st;

	if (argc > 2 || (argc == 2 && (count = strtoull(argv[1], NULL, 10)) == 0)) {
		fprintf(stderr, "usage: heap-example [MESSAGES]\n");
		return 2;
	}
	/* Line by line, so the two processes' lines interleave whole. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	err = mobj_chan_pair(&a, &b);
	if (err < 0)
		return fail("main", "channel pair", err);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fail("main", "fork", -errno);
	if (pid == 0) {
		mobj_chan_close(a);
		rc = consumer(b);
		mobj_chan_close(b);
		fflush(NULL);
		_exit(rc);
	}
	mobj_chan_close(b);
	rc = producer(a, count);
	mobj_chan_close(a);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "heap-example: consumer failed\n");
		rc = 1;
	}
	if (rc == 0)
		printf("heap-example: ok\n");
	return rc;
}
