/*
 * `mobj demo`: two processes, one channel between them.
 *
 * 1. The producer streams records of varying length through a mirrored
 *    ring. Records run across the physical end of the ring all the time;
 *    the consumer reads each one in place, in one piece, and checks it.
 * 2. The producer fills an object, freezes it and sends the consumer a
 *    read-only handle. The consumer checks the contents, then tries every
 *    way it has to write them and prints how each one is refused.
 *
 * Linux only (the write attempts are Linux system calls).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mobj/mobj.h"
#include "mobj/ring.h"
#include "mobj/linux.h"
#include "demo.h"

#define RING_SIZE ((size_t)64 << 10)
#define VIEW_SIZE ((size_t)1 << 20)
#define TIMEOUT_MS 10000

static FILE *out, *err_out;

static int fail(const char *who, const char *what, int err)
{
	fprintf(err_out, "mobj demo: %s: %s: %s\n", who, what,
	        mobj_strerror(err));
	return 1;
}

static size_t record_len(uint64_t seq)
{
	return 8 + (size_t)((seq * 2654435761u) % 4000);
}

static unsigned char pattern(uint64_t seq, size_t i)
{
	return (unsigned char)(seq * 13 + i * 5);
}

static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- consumer ------------------------------------------------------------ */

static int consume_records(struct mobj_ring *in, uint64_t count)
{
	uint64_t seq, bytes = 0, wrapped = 0, pos = 0;
	size_t cap = mobj_ring_capacity(in);

	for (seq = 0; seq < count; seq++) {
		const unsigned char *p;
		size_t len, i, want = record_len(seq), used;
		int err = mobj_ring_peek_record(in, TIMEOUT_MS,
		                                (const void **)&p, &len);

		if (err < 0)
			return fail("consumer", "read record", err);
		if (len != want) {
			fprintf(err_out, "mobj demo: consumer: record %" PRIu64
			        " has %zu bytes, expected %zu\n", seq, len, want);
			return 1;
		}
		for (i = 0; i < len; i++)
			if (p[i] != pattern(seq, i)) {
				fprintf(err_out, "mobj demo: consumer: record %"
				        PRIu64 " corrupt at byte %zu\n", seq, i);
				return 1;
			}
		/* Where the record sits in the ring: header + padded payload. */
		used = MOBJ_RING_RECORD_HEADER + ((len + 7) & ~(size_t)7);
		if (pos % cap + used > cap)
			wrapped++;
		pos += used;
		bytes += len;
		mobj_ring_consume_record(in);
	}
	fprintf(out, "[consumer] %" PRIu64 " records (%.1f MiB) verified, read "
	        "in place; %" PRIu64 " of them ran across the end of the "
	        "ring and still arrived in one piece (the mirror)\n",
	        count, (double)bytes / (1 << 20), wrapped);
	return 0;
}

static const char *errno_name(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case EFAULT: return "EFAULT";
	default: return "error";
	}
}

/* @err: 0 when the attempt worked, else the negative errno it failed with
 * (the mobj text for mobj calls, the system's for system calls). */
static int report(const char *attempt, int err)
{
	if (err < 0)
		fprintf(out, "[consumer]   %-46s refused: %s (%s)\n", attempt,
		        errno_name(-err), !strncmp(attempt, "mobj_", 5) ?
		        mobj_strerror(err) : strerror(-err));
	else
		fprintf(out, "[consumer]   %-46s SUCCEEDED - must not happen\n",
		        attempt);
	return err >= 0;
}

static int neg_errno(int ret)
{
	return ret < 0 ? -errno : 0;
}

/* Every way the consumer has to write the view; returns how many worked. */
static int try_writes(struct mobj *ro, unsigned char *map, size_t size)
{
	char path[64];
	int fd = mobj_fd(ro), bad = 0, e, rw, mem;
	void *w;

	fprintf(out, "[consumer] trying to write the read-only view:\n");
	e = mobj_map(ro, 0, size, MOBJ_PROT_READ | MOBJ_PROT_WRITE, &w);
	if (e == 0)
		mobj_unmap(w, size);
	bad += report("mobj_map(MOBJ_PROT_WRITE)", e);

	w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e = w == MAP_FAILED ? -errno : 0;
	if (e == 0)
		munmap(w, size);
	bad += report("mmap(PROT_WRITE, MAP_SHARED) of the fd", e);

	bad += report("mprotect(PROT_WRITE) of the mapping",
	              neg_errno(mprotect(map, size, PROT_READ | PROT_WRITE)));
	bad += report("pwrite() to the fd", neg_errno((int)pwrite(fd, "x", 1, 0)));

	/* Anyone holding an fd can reopen it read-write through /proc: the
	 * seals, not the open mode, are the boundary. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rw = open(path, O_RDWR | O_CLOEXEC);
	if (rw >= 0) {
		fprintf(out, "[consumer]   reopened /proc/self/fd/%d read-write "
		        "(allowed), then:\n", fd);
		w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
		e = w == MAP_FAILED ? -errno : 0;
		if (e == 0)
			munmap(w, size);
		bad += report("  mmap(PROT_WRITE, MAP_SHARED)", e);
		bad += report("  pwrite()", neg_errno((int)pwrite(rw, "x", 1, 0)));
		bad += report("  ftruncate() to shrink it (SIGBUS attack)",
		              neg_errno(ftruncate(rw, 0)));
		bad += report("  ftruncate() to grow it",
		              neg_errno(ftruncate(rw, (off_t)size * 2)));
		bad += report("  fcntl(F_ADD_SEALS) (the seals are sealed)",
		              neg_errno(fcntl(rw, F_ADD_SEALS, F_SEAL_WRITE)));
		close(rw);
	} else {
		report("reopen /proc/self/fd/N read-write", -errno);
	}

	mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	e = mem < 0 ? -errno : 0;
	if (mem >= 0) {
		e = neg_errno((int)pwrite(mem, "x", 1, (off_t)(uintptr_t)map));
		close(mem);
	}
	bad += report("pwrite() to /proc/self/mem at the mapping", e);
	return bad;
}

static int consumer(struct mobj_chan *c, uint64_t count)
{
	struct mobj_ring *in = NULL;
	struct mobj *ro = NULL;
	unsigned char *map = NULL;
	uint64_t sum = 0;
	int err, rc = 1;

	err = mobj_ring_recv(c, TIMEOUT_MS, &in);
	if (err < 0)
		return fail("consumer", "receive ring", err);
	if (consume_records(in, count))
		goto out;
	err = mobj_recv(c, TIMEOUT_MS, &ro, &sum, sizeof(sum));
	if (err != (int)sizeof(sum) || !ro) {
		fail("consumer", "receive view", err < 0 ? err : -EPROTO);
		goto out;
	}
	err = mobj_map(ro, 0, mobj_size(ro), MOBJ_PROT_READ, (void **)&map);
	if (err < 0) {
		fail("consumer", "map view", err);
		goto out;
	}
	if (checksum(map, mobj_size(ro)) != sum) {
		fprintf(err_out, "mobj demo: consumer: view checksum mismatch\n");
		goto out;
	}
	fprintf(out, "[consumer] read-only view of %zu KiB received, mapped, "
	        "contents verified (access: %s)\n", mobj_size(ro) >> 10,
	        mobj_access(ro) & MOBJ_WRITE ? "read-write" : "read-only");
	if (try_writes(ro, map, mobj_size(ro)) != 0)
		goto out;
	if (checksum(map, mobj_size(ro)) != sum) {
		fprintf(err_out, "mobj demo: consumer: view changed\n");
		goto out;
	}
	fprintf(out, "[consumer] every write refused; contents unchanged\n");
	rc = 0;
out:
	if (map)
		mobj_unmap(map, mobj_size(ro));
	mobj_close(ro);
	mobj_ring_close(in);
	return rc;
}

/* ---- producer ------------------------------------------------------------ */

static int producer(struct mobj_chan *c, uint64_t count)
{
	struct mobj_ring *r = NULL;
	struct mobj_ring_stats st;
	struct mobj *o = NULL, *ro = NULL;
	unsigned char *p = NULL;
	uint64_t seq, bytes = 0, sum;
	double t0, dt;
	size_t i;
	int err;

	err = mobj_ring_create(RING_SIZE, &r);
	if (err == 0)
		err = mobj_ring_send(c, r, TIMEOUT_MS);
	if (err < 0) {
		fail("producer", "set up ring", err);
		goto out;
	}
	fprintf(out, "[producer] mirrored ring of %zu KiB; streaming %" PRIu64
	        " records of 8..4007 bytes\n", mobj_ring_capacity(r) >> 10,
	        count);
	t0 = now();
	for (seq = 0; seq < count; seq++) {
		size_t len = record_len(seq);
		unsigned char *w;

		err = mobj_ring_reserve_record(r, len, TIMEOUT_MS, (void **)&w);
		if (err < 0) {
			fail("producer", "reserve record", err);
			goto out;
		}
		for (i = 0; i < len; i++)
			w[i] = pattern(seq, i);
		mobj_ring_commit_record(r, len);
		bytes += len;
	}
	dt = now() - t0;
	mobj_ring_stats(r, &st);
	fprintf(out, "[producer] %.1f MiB in %.3f s (%.0f MiB/s); producer "
	        "slept %" PRIu64 " times, woke the consumer %" PRIu64 " times\n",
	        (double)bytes / (1 << 20), dt, (double)bytes / (1 << 20) / dt,
	        st.sleeps, st.wakes);

	err = mobj_create(VIEW_SIZE, 0, &o);
	if (err == 0)
		err = mobj_map(o, 0, VIEW_SIZE, MOBJ_PROT_READ | MOBJ_PROT_WRITE,
		               (void **)&p);
	if (err < 0) {
		fail("producer", "create view", err);
		goto out;
	}
	for (i = 0; i < VIEW_SIZE; i++)
		p[i] = (unsigned char)(i * 31 + (i >> 12));
	sum = checksum(p, VIEW_SIZE);
	err = mobj_readonly(o, &ro);
	if (err == 0)
		err = mobj_send(c, ro, &sum, sizeof(sum));
	if (err < 0) {
		fail("producer", "send read-only view", err);
		goto out;
	}
	fprintf(out, "[producer] sent a read-only view of a %zu KiB object "
	        "(frozen: no new writable mapping by anyone)\n", VIEW_SIZE >> 10);
	/* Wait for the consumer's verdict (it closes the channel). */
	err = mobj_recv(c, TIMEOUT_MS, NULL, NULL, 0);
	if (err != -EPIPE && err < 0)
		fail("producer", "wait for consumer", err);
	err = 0;
	/* Our writable mapping, made before the freeze, still works. */
	p[0] ^= 1;
out:
	if (p)
		mobj_unmap(p, VIEW_SIZE);
	mobj_close(ro);
	mobj_close(o);
	mobj_ring_close(r);
	return err < 0 ? 1 : 0;
}

int mobj_tool_demo(unsigned long records, FILE *o, FILE *e)
{
	struct mobj_chan *a, *b;
	pid_t pid;
	int err, rc, st;

	out = o;
	err_out = e;
	err = mobj_chan_pair(&a, &b);
	if (err < 0)
		return fail("demo", "channel pair", err);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fail("demo", "fork", -errno);
	if (pid == 0) {
		mobj_chan_close(a);
		rc = consumer(b, records);
		mobj_chan_close(b);
		fflush(NULL);
		_exit(rc);
	}
	mobj_chan_close(b);
	fprintf(out, "mobj demo: producer pid %d, consumer pid %d\n",
	        (int)getpid(), (int)pid);
	fflush(out);
	rc = producer(a, records);
	mobj_chan_close(a);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(err_out, "mobj demo: the consumer failed\n");
		rc = 1;
	}
	fprintf(out, "mobj demo: %s\n", rc ? "FAILED" : "ok");
	return rc;
}
