/*
 * transfer.*: handing memory to another process, producer on cpu[0],
 * consumer (the peer) on cpu[1], both real processes.
 *
 *   transfer.rtt        one round trip: send an object (a few bytes of
 *                       payload with it), the peer maps it read-only,
 *                       touches one byte per page, unmaps, closes, replies
 *                       with one byte. impl mobj: mobj_send / mobj_recv +
 *                       mobj_map (with mobj_recv's seal and size checks);
 *                       impl raw: the same exchange with sendmsg/recvmsg
 *                       SCM_RIGHTS on a SOCK_SEQPACKET socketpair + mmap.
 *                       The object is created once (that is map.create).
 *   transfer.crossover  delivering N bytes the peer reads whole: impl mobj
 *                       fills an object (memcpy into a standing mapping)
 *                       and passes it, the peer maps it, sums every byte,
 *                       unmaps, replies; impl copy writes the N bytes into
 *                       an AF_UNIX stream socket, the peer reads them into
 *                       a buffer and sums them, replies. A sweep of sizes;
 *                       the crossover row is the size above which passing
 *                       is faster at every size measured (log-linear
 *                       interpolation between the last size where copying
 *                       won and the next).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mobj/mobj.h>
#include <mobj/linux.h>

#include "harness.h"

enum transfer_kind { T_MOBJ, T_RAW, T_COPY };
enum transfer_mode { RTT, PAYLOAD };

struct transfer {
	enum transfer_kind kind;
	enum transfer_mode mode;
	size_t size;
	int reps;
	int fd[2];
	int memfd;
	struct mobj *obj;
	void *map;		/* the producer's standing mapping */
	void *buf;		/* copy: buffers */
	struct mobj_chan *ch[2];
};

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static int raw_send_fd(int sock, int fd, uint64_t size)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &size, sizeof(size) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	memset(cbuf, 0, sizeof(cbuf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int raw_recv_fd(int sock, int *fd, uint64_t *size)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { size, sizeof(*size) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	                     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* What the peer does with the pages: touch one byte per page (rtt) or read
 * them all (payload). */
static uint64_t use_pages(const void *p, size_t size, enum transfer_mode mode)
{
	uint64_t s = 0;

	if (mode == PAYLOAD)
		return bh_sum(p, size);
	for (size_t i = 0; i < size; i += page_size())
		s += ((const volatile unsigned char *)p)[i];
	return s;
}

/* Before fork. */
static int transfer_prepare(struct transfer *t)
{
	int rc;

	t->fd[0] = t->fd[1] = -1;
	if (t->kind == T_MOBJ) {
		rc = mobj_chan_pair(&t->ch[0], &t->ch[1]);
		if (rc < 0)
			return rc;
	} else if (socketpair(AF_UNIX, (t->kind == T_RAW ? SOCK_SEQPACKET : SOCK_STREAM) |
	                      SOCK_CLOEXEC, 0, t->fd) < 0) {
		return -errno;
	}
	(void)rc;
	return 0;
}

static void transfer_cleanup(struct transfer *t)
{
	for (int i = 0; i < 2; i++)
		if (t->fd[i] >= 0)
			close(t->fd[i]);
	for (int i = 0; i < 2; i++)
		mobj_chan_close(t->ch[i]);
}

/* In the child. */
static int transfer_open(struct transfer *t, int side)
{
	int rc;

	if (t->fd[!side] >= 0) {
		close(t->fd[!side]);
		t->fd[!side] = -1;
	}
	mobj_chan_close(t->ch[!side]);
	t->ch[!side] = NULL;
	if (t->kind == T_COPY) {
		t->buf = mmap(NULL, t->size, PROT_READ | PROT_WRITE,
		              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (t->buf == MAP_FAILED)
			return -ENOMEM;
		bh_fill(t->buf, t->size, 5);
		return 0;
	}
	if (side == 1)
		return 0;
	if (t->kind == T_MOBJ) {
		rc = mobj_create(t->size, 0, &t->obj);
		if (rc == 0)
			rc = mobj_map(t->obj, 0, t->size, MOBJ_PROT_READ | MOBJ_PROT_WRITE,
			              &t->map);
		if (rc < 0)
			return rc;
	} else {
		t->memfd = memfd_create("raw", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (t->memfd < 0)
			return -errno;
		if (ftruncate(t->memfd, (off_t)t->size) < 0 ||
		    fcntl(t->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
			return -errno;
		t->map = mmap(NULL, t->size, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd, 0);
		if (t->map == MAP_FAILED)
			return -errno;
	}
	bh_fill(t->map, t->size, 6);
	return 0;
}

/* Producer: one round trip. */
static int transfer_exchange(struct transfer *t, const void *src)
{
	uint64_t size = t->size;
	char ack;
	int rc;

	switch (t->kind) {
	case T_COPY:
		if ((rc = bh_write_all(t->fd[0], src, t->size)) < 0)
			return rc;
		return bh_read_all(t->fd[0], &ack, 1);
	case T_RAW:
		if (t->mode == PAYLOAD)
			memcpy(t->map, src, t->size);
		if ((rc = raw_send_fd(t->fd[0], t->memfd, size)) < 0)
			return rc;
		return bh_read_all(t->fd[0], &ack, 1);
	case T_MOBJ:
		if (t->mode == PAYLOAD)
			memcpy(t->map, src, t->size);
		if ((rc = mobj_send(t->ch[0], t->obj, &size, sizeof(size))) < 0)
			return rc;
		rc = mobj_recv(t->ch[0], -1, NULL, &ack, 1);
		return rc < 0 ? rc : 0;
		break;
	}
	return -ENOSYS;
}

/* Consumer: answer one round trip. */
static int transfer_answer(struct transfer *t, uint64_t *sum)
{
	uint64_t size = 0;
	void *p;
	int fd = -1, rc;

	switch (t->kind) {
	case T_COPY:
		if ((rc = bh_read_all(t->fd[1], t->buf, t->size)) < 0)
			return rc;
		*sum += bh_sum(t->buf, t->size);
		return bh_write_all(t->fd[1], "k", 1);
	case T_RAW:
		if ((rc = raw_recv_fd(t->fd[1], &fd, &size)) < 0)
			return rc;
		p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			rc = -errno;
			close(fd);
			return rc;
		}
		*sum += use_pages(p, size, t->mode);
		munmap(p, size);
		close(fd);
		return bh_write_all(t->fd[1], "k", 1);
	case T_MOBJ: {
		struct mobj *o = NULL;

		rc = mobj_recv(t->ch[1], -1, &o, &size, sizeof(size));
		if (rc < 0)
			return rc;
		if (!o)
			return -EPROTO;
		rc = mobj_map(o, 0, mobj_size(o), MOBJ_PROT_READ, &p);
		if (rc == 0) {
			*sum += use_pages(p, t->size, t->mode);
			mobj_unmap(p, mobj_size(o));
		}
		mobj_close(o);
		if (rc < 0)
			return rc;
		return mobj_send(t->ch[1], NULL, "k", 1);
		break;
	}
	}
	return -ENOSYS;
}

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int transfer_side(struct bh_pair *pair, int side, void *arg)
{
	struct transfer *t = arg;
	uint32_t sense = 0;
	uint64_t count = bh_opts.quick ? 50 : 200, sum = 0;
	void *src = NULL;
	int rc = transfer_open(t, side);

	if (rc < 0) {
		bh_pair_fail(pair, rc, "set-up: %s", strerror(-rc));
		return rc;
	}
	if (side == 0 && t->mode == PAYLOAD) {
		src = mmap(NULL, t->size, PROT_READ | PROT_WRITE,
		           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (src == MAP_FAILED)
			return -ENOMEM;
		bh_fill(src, t->size, 7);
	}
	for (int k = -bh_opts.warmup; k < t->reps && !pair->err; k++) {
		double t0 = 0, dt, c0;

		if (side == 0)
			pair->count = count;
		bh_pair_barrier(pair, &sense);
		c0 = cpu_ns();
		if (side == 0) {
			t0 = bh_now_ns();
			for (uint64_t i = 0; i < count; i++)
				if ((rc = transfer_exchange(t, src)) < 0) {
					bh_pair_fail(pair, rc, "round trip: %s", strerror(-rc));
					return rc;
				}
		} else {
			for (uint64_t i = 0; i < pair->count; i++)
				if ((rc = transfer_answer(t, &sum)) < 0) {
					bh_pair_fail(pair, rc, "peer: %s", strerror(-rc));
					return rc;
				}
		}
		if (k >= 0) {
			/* CPU time of this side per round trip: what the exchange
			 * costs apart from waiting for the other side to wake. */
			pair->aux[side] += cpu_ns() - c0;	/* CPU ns of this side */
			pair->aux[2 + side] += (double)pair->count;	/* its round trips */
		}
		bh_pair_barrier(pair, &sense);
		if (side == 1)
			continue;
		dt = bh_now_ns() - t0;
		if (k < 0) {
			double c = (double)count * bh_opts.rep_ms * 1e6 / dt;
			count = c < 8 ? 8 : (uint64_t)c;
		} else {
			pair->samples[pair->nsamples++] = dt / (double)count / 1e3;
		}
	}
	pair->checksum = sum;
	return pair->err;
}

static const char *kind_name[] = { "mobj", "raw", "copy" };

static const char *case_of(enum transfer_mode mode)
{
	return mode == RTT ? "transfer.rtt" : "transfer.crossover";
}

/* CPU ns and round trips of each side, summed over the rounds, per pool. */
struct cpu_totals {
	double ns[2], n[2];
};

/* One pair run of @reps repetitions, pooled into @p. */
static void transfer_round(struct bh_pool *p, struct cpu_totals *cpu, enum transfer_kind kind,
                     enum transfer_mode mode, size_t size, int reps)
{
	struct transfer t = { .kind = kind, .mode = mode, .size = size, .reps = reps,
	                .memfd = -1 };
	struct bh_pair *pair = NULL;
	int rc;

	if (p->why[0])
		return;
	rc = transfer_prepare(&t);
	if (rc < 0) {
		snprintf(p->why, sizeof(p->why), "%s", rc == -ENOSYS ?
		         "mobj channels are not in this build yet" : strerror(-rc));
		return;
	}
	rc = bh_pair_run(transfer_side, &t, 300, &pair);
	transfer_cleanup(&t);
	if (rc < 0)
		snprintf(p->why, sizeof(p->why), "%s",
		         pair && pair->note[0] ? pair->note : strerror(-rc));
	else {
		bh_pool_add(p, pair);
		for (int side = 0; side < 2; side++) {
			cpu->ns[side] += pair->aux[side];
			cpu->n[side] += pair->aux[2 + side];
		}
	}
	bh_pair_free(pair);
}

/* Round trips in us for every size and kind, in interleaved rounds (so
 * noise and placement changes fall on both sides of each comparison);
 * medians into @med[size][kind]. */
static void transfer_sweep(enum transfer_mode mode, const size_t *sizes, size_t nsizes,
                     unsigned kinds, double med[][3])
{
	static struct bh_pool pool[8][3];
	static struct cpu_totals cpu[8][3];
	int rounds = bh_rounds(5, 2);
	int per = (bh_opts.reps + rounds - 1) / rounds;
	bool want[3];

	memset(pool, 0, sizeof(pool));
	memset(cpu, 0, sizeof(cpu));
	for (int k = T_MOBJ; k <= T_COPY; k++)
		want[k] = (kinds & (1u << k)) && bh_want(case_of(mode), kind_name[k]);
	for (int round = 0; round < rounds; round++)
		for (size_t s = 0; s < nsizes; s++)
			for (int k = T_MOBJ; k <= T_COPY; k++) {
				if (!want[k])
					continue;
				bh_progress("%s/%s size %zu (round %d/%d)", case_of(mode),
				            kind_name[k], sizes[s], round + 1, rounds);
				transfer_round(&pool[s][k], &cpu[s][k], (enum transfer_kind)k, mode,
				         sizes[s], per);
			}
	for (size_t s = 0; s < nsizes; s++)
		for (int k = T_MOBJ; k <= T_COPY; k++) {
			const struct cpu_totals *c = &cpu[s][k];

			med[s][k] = NAN;
			if (!want[k])
				continue;
			med[s][k] = bh_pool_record(&pool[s][k], "transfer", case_of(mode),
			                           kind_name[k], sizes[s], "us", BH_TIME, 2);
			if (!isnan(med[s][k]) && c->n[0] > 0 && c->n[1] > 0)
				bh_detail("cpu per round trip: sender %.1f us, peer %.1f us",
				          c->ns[0] / c->n[0] / 1e3, c->ns[1] / c->n[1] / 1e3);
		}
}

void bench_transfer(void)
{
	static const size_t rtt_sizes[] = { 4096, 65536, 1048576 };
	static const size_t sweep[] = { 4096, 16384, 65536, 262144, 1048576, 4194304 };
	const size_t nsweep = sizeof(sweep) / sizeof(sweep[0]);
	double med[8][3], pass[6], copy[6];	/* pass: ratio to copy; copy: 1 */
	struct bh_result r;

	transfer_sweep(RTT, rtt_sizes, 3, 1u << T_MOBJ | 1u << T_RAW, med);

	if (!bh_want("transfer.crossover", "mobj") && !bh_want("transfer.crossover", "copy"))
		return;
	transfer_sweep(PAYLOAD, sweep, nsweep, 1u << T_MOBJ | 1u << T_COPY, med);
	/* The paired ratio pass/copy per size (1 where both are equal). */
	for (size_t s = 0; s < nsweep; s++) {
		pass[s] = NAN;
		copy[s] = 1;
		if (!isnan(med[s][T_MOBJ]) && !isnan(med[s][T_COPY]))
			pass[s] = bh_ratio("transfer.crossover", "mobj", "copy", sweep[s]);
	}
	memset(&r, 0, sizeof(r));
	r.group = "transfer";
	r.case_name = "transfer.crossover";
	r.impl = "crossover";
	r.size = 0;
	r.unit = "bytes";
	r.kind = BH_COUNT;
	r.procs = 2;
	r.n = 1;
	r.p99 = NAN;
	r.median = NAN;
	/* The crossover is where passing starts to win for good: above the
	 * largest size at which copying still won (single rounds on a noisy
	 * machine can cross more than once; the first crossing would
	 * understate it). */
	ssize_t last_copy = -1, first = -1;
	for (size_t s = 0; s < nsweep; s++) {
		if (isnan(pass[s]))
			continue;
		if (first < 0)
			first = (ssize_t)s;
		if (pass[s] >= copy[s])
			last_copy = (ssize_t)s;
	}
	if (first >= 0 && last_copy < 0) {
		r.median = (double)sweep[first];
		snprintf(r.extra, sizeof(r.extra),
		         "passing wins at every size measured, from %zu", sweep[first]);
	} else if (last_copy >= 0 && (size_t)last_copy + 1 < nsweep &&
	           !isnan(pass[last_copy + 1])) {
		size_t a = (size_t)last_copy, b = a + 1;
		/* Where d = log(pass/copy) crosses 0, in log(size). */
		double d0 = log(pass[a] / copy[a]);
		double d1 = log(pass[b] / copy[b]);
		double l0 = log((double)sweep[a]), l1 = log((double)sweep[b]);

		r.median = d0 == d1 ? (double)sweep[b] :
		           exp(l0 + (l1 - l0) * d0 / (d0 - d1));
		snprintf(r.extra, sizeof(r.extra),
		         "copying wins up to %zu, passing from %zu on", sweep[a], sweep[b]);
	}
	if (isnan(r.median)) {
		if (isnan(med[nsweep - 1][T_MOBJ]))
			snprintf(r.note, sizeof(r.note), "passing (mobj) did not run");
		else
			snprintf(r.extra, sizeof(r.extra),
			         "copying was faster at every size up to %zu", sweep[nsweep - 1]);
	}
	r.min = r.max = r.median;
	bh_result_raw(&r);
}
