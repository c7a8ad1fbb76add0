/*
 * The benchmark harness: options, pinning, statistics, the placement probe,
 * the producer/consumer process pair, and every output (table, ratios,
 * goals, JSON Lines, gnuplot PNGs). See harness.h for the model.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

struct bh_opts bh_opts = {
	.reps = 7,
	.warmup = 1,
	.rep_ms = 100,
	.cpu = { 0, 1 },
	.ncpu = 2,
	.syscall_counter = "auto",
};

struct bh_placement bh_place = { .cpu_a = -1, .cpu_b = -1, .rtt_ns = NAN };

#define MAX_RESULTS 512
static struct bh_result results[MAX_RESULTS];
static int nresults;
static bool progress_tty;
static double suite_t0;
static char load_start[64];
static volatile pid_t pair_pid[2] = { -1, -1 };
static double last_rtt = NAN;
void (*bh_signal_hook)(void);

static void on_signal(int sig)
{
	for (int i = 0; i < 2; i++)
		if (pair_pid[i] > 0)
			kill(pair_pid[i], SIGKILL);
	if (bh_signal_hook)
		bh_signal_hook();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: mobj-bench [--quick] [--filter SUBSTRING] [--json FILE] [--no-plots]\n"
"                  [--cpus A,B] [--reps N] [--syscalls auto|perf|strace] [--strict] [--list]\n"
"  --quick          fewer and shorter repetitions (CI)\n"
"  --filter S       run only cases whose \"case/impl\" contains S (or any\n"
"                   of several, comma-separated: S1,S2)\n"
"  --json FILE      write JSON Lines (one object per result) to FILE, and PNG\n"
"                   plots next to it (gnuplot, when installed)\n"
"  --no-plots       no PNG plots\n"
"  --cpus A,B       producer core A, consumer core B (default 0,1)\n"
"  --reps N         measured repetitions per result\n"
"  --syscalls M     how ring.syscalls counts: perf (tracepoint), strace\n"
"                   (ptrace), auto (default: perf where it works, else strace)\n"
"  --strict         exit 1 when any result could not run (CI; what the\n"
"                   build left out or the machine does not allow now,\n"
"                   \"not built: ...\", \"skipped: ...\", does not count)\n"
"  --list           print the case names and exit\n");
}

static const char *case_list[] = {
	"placement.pingpong", "map.create", "map.map", "map.firsttouch", "map.mirror", "map.readonly",
	"map.unmap", "transfer.rtt", "transfer.crossover", "ring.throughput",
	"ring.latency.oneway", "ring.syscalls", "ring.capacity.1K", "ring.capacity.64K",
	"ring.inplace", "ring.fanout", "ring.fanout.producer", "heap.message",
};

/* The 1-minute load average: other work on these cores moves the numbers. */
static void read_load(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(buf, cap, "?");
	if (f) {
		if (fscanf(f, "%63s", buf) != 1)
			snprintf(buf, cap, "?");
		fclose(f);
	}
}

void bh_init(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "filter", required_argument, NULL, 'f' },
		{ "json", required_argument, NULL, 'j' },
		{ "no-plots", no_argument, NULL, 'P' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' },
		{ "syscalls", required_argument, NULL, 's' },
		{ "list", no_argument, NULL, 'l' },
		{ "strict", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, reps = 0;
	cpu_set_t set;

	while ((c = getopt_long(argc, argv, "qf:j:Pc:r:s:lSh", lo, NULL)) != -1) {
		switch (c) {
		case 'q': bh_opts.quick = true; break;
		case 'f': bh_opts.filter = optarg; break;
		case 'j': bh_opts.json = optarg; break;
		case 'P': bh_opts.no_plots = true; break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &bh_opts.cpu[0], &bh_opts.cpu[1]) != 2) {
				usage(stderr);
				exit(2);
			}
			break;
		case 'r': reps = atoi(optarg); break;
		case 's':
			if (strcmp(optarg, "auto") && strcmp(optarg, "perf") &&
			    strcmp(optarg, "strace")) {
				usage(stderr);
				exit(2);
			}
			bh_opts.syscall_counter = optarg;
			break;
		case 'l': bh_opts.list = true; break;
		case 'S': bh_opts.strict = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc) {
		usage(stderr);
		exit(2);
	}
	if (bh_opts.list) {
		for (size_t i = 0; i < sizeof(case_list) / sizeof(case_list[0]); i++)
			printf("%s\n", case_list[i]);
		exit(0);
	}
	if (bh_opts.quick) {
		bh_opts.reps = 3;
		bh_opts.rep_ms = 40;
	}
	if (reps > 0)
		bh_opts.reps = reps < BH_MAX_SAMPLES ? reps : BH_MAX_SAMPLES;

	/* Two cores when we may use two; otherwise both sides share one and
	 * every row says so through the placement. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		bh_opts.ncpu = CPU_COUNT(&set);
		if (!CPU_ISSET(bh_opts.cpu[0], &set) || !CPU_ISSET(bh_opts.cpu[1], &set)) {
			int k = 0;
			for (int i = 0; i < CPU_SETSIZE && k < 2; i++)
				if (CPU_ISSET(i, &set))
					bh_opts.cpu[k++] = i;
			if (k < 2)
				bh_opts.cpu[1] = bh_opts.cpu[0];
		}
	}
	progress_tty = isatty(2);
	suite_t0 = bh_now_ns();
	read_load(load_start, sizeof(load_start));
	/* A peer that dies must not kill the suite. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

bool bh_want(const char *case_name, const char *impl)
{
	char key[128];

	if (!bh_opts.filter)
		return true;
	snprintf(key, sizeof(key), "%s/%s", case_name, impl ? impl : "");
	if (!bh_opts.filter[0])
		return true;
	/* Comma-separated substrings, any of which selects: several impls
	 * then run in the same interleaved rounds, so their ratios are
	 * paired as in the full suite. */
	for (const char *f = bh_opts.filter; *f;) {
		size_t n = strcspn(f, ",");
		char one[128];

		snprintf(one, sizeof(one), "%.*s", (int)(n < 127 ? n : 127), f);
		if (n && strstr(key, one))
			return true;
		f += n + (f[n] == ',');
	}
	return false;
}

int bh_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	return 0;
}

void bh_progress(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, progress_tty ? "\r\033[K[%5.1fs] " : "[%5.1fs] ",
	        (bh_now_ns() - suite_t0) / 1e9);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (!progress_tty)
		fputc('\n', stderr);
	fflush(stderr);
}

void bh_wait_pause(void)
{
	if (bh_opts.cpu[0] == bh_opts.cpu[1])
		sched_yield();
	else
		bh_relax();
}

uint64_t bh_sum(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t s = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		s += w;
	}
	for (; i < n; i++)
		s += b[i];
	return s;
}

int bh_write_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int bh_read_all(int fd, void *p, size_t n)
{
	char *b = p;

	while (n) {
		ssize_t r = read(fd, b, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EPIPE;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

void bh_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed + i * 131);
}

const char *bh_size_str(size_t size, char buf[24])
{
	if (size >= (1u << 20) && size % (1u << 20) == 0)
		snprintf(buf, 24, "%zuM", size >> 20);
	else if (size >= 1024 && size % 1024 == 0)
		snprintf(buf, 24, "%zuK", size >> 10);
	else
		snprintf(buf, 24, "%zu", size);
	return buf;
}

/* ---- Statistics and results --------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void bh_stats(double *v, int n, struct bh_result *r, bool with_p99)
{
	r->n = n;
	r->p99 = NAN;
	if (n <= 0) {
		r->median = r->min = r->max = NAN;
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	r->min = v[0];
	r->max = v[n - 1];
	r->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	if (with_p99) {
		int i = (int)ceil(0.99 * n) - 1;
		r->p99 = v[i < 0 ? 0 : i];
	}
}

static struct bh_result *new_result(void)
{
	if (nresults == MAX_RESULTS) {
		fprintf(stderr, "mobj-bench: too many results\n");
		exit(1);
	}
	return &results[nresults++];
}

static struct bh_result *new_keyed(const char *group, const char *case_name,
                                   const char *impl, size_t size, const char *unit)
{
	struct bh_result *r = new_result();

	*r = (struct bh_result){ .group = group, .case_name = case_name,
	                         .impl = impl, .size = size, .unit = unit };
	return r;
}

void bh_result_raw(const struct bh_result *r)
{
	struct bh_result *n = new_result();

	*n = *r;
	n->rtt_ns = r->procs == 2 ? last_rtt : NAN;
}

void bh_result(const char *group, const char *case_name, const char *impl,
               size_t size, const char *unit, enum bh_kind kind, int procs,
               double *samples, int n, bool with_p99)
{
	struct bh_result *r = new_keyed(group, case_name, impl, size, unit);

	r->kind = kind;
	r->procs = procs;
	r->rtt_ns = procs == 2 ? last_rtt : NAN;
	bh_stats(samples, n, r, with_p99);
}

void bh_note(const char *group, const char *case_name, const char *impl,
             size_t size, const char *unit, const char *fmt, ...)
{
	struct bh_result *r = new_keyed(group, case_name, impl, size, unit);
	va_list ap;

	r->median = r->min = r->max = r->p99 = r->rtt_ns = NAN;
	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
	bh_progress("%s/%s: %s", case_name, impl, r->note);
	if (progress_tty)
		fputc('\n', stderr);
}

void bh_detail(const char *fmt, ...)
{
	va_list ap;

	if (!nresults)
		return;
	va_start(ap, fmt);
	vsnprintf(results[nresults - 1].extra, sizeof(results[0].extra), fmt, ap);
	va_end(ap);
}

static const struct bh_result *find(const char *case_name, const char *impl,
                                    size_t size)
{
	for (int i = 0; i < nresults; i++) {
		const struct bh_result *r = &results[i];
		if (!strcmp(r->case_name, case_name) && !strcmp(r->impl, impl) &&
		    r->size == size && !r->note[0] && !isnan(r->median))
			return r;
	}
	return NULL;
}

/* ---- Process pairs -------------------------------------------------------- */

void bh_pair_barrier(struct bh_pair *pair, uint32_t *local_sense)
{
	uint32_t s = *local_sense ^ 1;

	*local_sense = s;
	if (__atomic_fetch_add(&pair->arrive, 1, __ATOMIC_ACQ_REL) == 1) {
		__atomic_store_n(&pair->arrive, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&pair->sense, s, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&pair->sense, __ATOMIC_ACQUIRE) != s) {
		bh_wait_pause();
		if (__atomic_load_n(&pair->err, __ATOMIC_RELAXED))
			return;
	}
}

void bh_pair_fail(struct bh_pair *pair, int err, const char *fmt, ...)
{
	va_list ap;
	int zero = 0;

	if (!__atomic_compare_exchange_n(&pair->err, &zero, err ? err : -EIO, false,
	                                 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vsnprintf(pair->note, sizeof(pair->note), fmt, ap);
	va_end(ap);
}

void bh_set_pair_rtt(double rtt_ns)
{
	last_rtt = rtt_ns;
}

/* A short cache-line ping-pong between the pair, before its work: the
 * placement these two processes actually had. */
static void pair_pingpong(struct bh_pair *pair, int side)
{
	enum { CHUNKS = 5, ROUNDS = 400 };
	double v[CHUNKS];
	struct bh_result r;

	if (bh_opts.cpu[0] == bh_opts.cpu[1])
		return;
	for (int c = 0; c < CHUNKS; c++) {
		double t0 = bh_now_ns();

		for (uint32_t i = 0; i < ROUNDS; i++) {
			uint32_t want = (uint32_t)(c * ROUNDS + (int)i) * 2 + (uint32_t)side;

			while (__atomic_load_n(&pair->pingpong, __ATOMIC_ACQUIRE) != want) {
				bh_relax();
				if (pair->err)
					return;
			}
			__atomic_store_n(&pair->pingpong, want + 1, __ATOMIC_RELEASE);
		}
		v[c] = (bh_now_ns() - t0) / ROUNDS;
	}
	if (side == 0) {
		memset(&r, 0, sizeof(r));
		bh_stats(v, CHUNKS, &r, false);
		pair->rtt_ns = r.median;
	}
}

void bh_pair_free(struct bh_pair *pair)
{
	if (pair)
		munmap(pair, sizeof(*pair));
}

int bh_pair_run(bh_side_fn fn, void *arg, double timeout_s, struct bh_pair **out)
{
	struct bh_pair *pair;
	pid_t pid[2] = { -1, -1 };
	int alive = 0, err = 0;
	double t0;

	pair = mmap(NULL, sizeof(*pair), PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pair == MAP_FAILED)
		return -errno;
	*out = pair;
	fflush(NULL);
	for (int side = 0; side < 2; side++) {
		pid[side] = fork();
		if (pid[side] < 0) {
			err = -errno;
			bh_pair_fail(pair, err, "fork: %s", strerror(-err));
			break;
		}
		if (pid[side] == 0) {
			int rc;

			/* The peer dies with the suite, however it ends. */
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(1);
			rc = bh_pin(bh_opts.cpu[side]);
			if (rc < 0) {
				bh_pair_fail(pair, rc, "sched_setaffinity(%d): %s",
				             bh_opts.cpu[side], strerror(-rc));
			} else {
				pair_pingpong(pair, side);
				rc = fn(pair, side, arg);
			}
			if (rc < 0 && !pair->err)
				bh_pair_fail(pair, rc, "side %d failed: %s", side, strerror(-rc));
			_exit(rc < 0 ? 1 : 0);
		}
		pair_pid[side] = pid[side];
		alive++;
	}
	t0 = bh_now_ns();
	while (alive > 0) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);

		if (p > 0) {
			for (int side = 0; side < 2; side++) {
				if (p != pid[side])
					continue;
				pid[side] = -1;
				pair_pid[side] = -1;
				alive--;
				if (WIFSIGNALED(status))
					bh_pair_fail(pair, -ECHILD, "side %d killed by signal %d",
					             side, WTERMSIG(status));
				else if (WEXITSTATUS(status))
					bh_pair_fail(pair, -ECHILD, "side %d exited with %d",
					             side, WEXITSTATUS(status));
			}
			/* One side gone: the other must not wait for it forever. */
			if (pair->err)
				for (int side = 0; side < 2; side++)
					if (pid[side] > 0)
						kill(pid[side], SIGKILL);
			continue;
		}
		if (p < 0 && errno != EINTR)
			break;
		if ((bh_now_ns() - t0) / 1e9 > timeout_s) {
			bh_pair_fail(pair, -ETIMEDOUT, "timed out after %.0f s", timeout_s);
			for (int side = 0; side < 2; side++)
				if (pid[side] > 0)
					kill(pid[side], SIGKILL);
		}
		usleep(2000);
	}
	if (!pair->err && !err)
		last_rtt = pair->rtt_ns;
	return pair->err ? pair->err : err;
}

int bh_rounds(int full, int quick)
{
	return bh_opts.quick ? quick : full;
}

void bh_pool_add_samples(struct bh_pool *p, const double *v, int n, double rtt_ns)
{
	static double tmp[BH_MAX_SAMPLES];
	struct bh_result r;
	int k0 = p->n;

	for (int k = 0; k < n && p->n < BH_MAX_SAMPLES; k++)
		p->s[p->n++] = v[k];
	if (p->nrtt < 16)
		p->rtt[p->nrtt++] = rtt_ns;
	if (p->nround < 16 && p->n > k0) {
		memcpy(tmp, p->s + k0, sizeof(double) * (size_t)(p->n - k0));
		memset(&r, 0, sizeof(r));
		bh_stats(tmp, p->n - k0, &r, false);
		p->round_med[p->nround++] = r.median;
	}
}

void bh_pool_add(struct bh_pool *p, const struct bh_pair *pair)
{
	bh_pool_add_samples(p, pair->samples, pair->nsamples, pair->rtt_ns);
}

double bh_pool_record(struct bh_pool *p, const char *group, const char *case_name,
                      const char *impl, size_t size, const char *unit,
                      enum bh_kind kind, int procs)
{
	struct bh_result r;

	if (p->why[0]) {
		bh_note(group, case_name, impl, size, unit, "%s", p->why);
		return NAN;
	}
	memset(&r, 0, sizeof(r));
	bh_stats(p->rtt, p->nrtt, &r, false);
	last_rtt = procs == 2 ? r.median : NAN;
	bh_result(group, case_name, impl, size, unit, kind, procs, p->s, p->n,
	          kind == BH_TIME && !strcmp(unit, "ns"));
	memcpy(results[nresults - 1].round_med, p->round_med, sizeof(p->round_med));
	results[nresults - 1].nround = p->nround;
	return results[nresults - 1].median;
}

/* ---- Placement probe ----------------------------------------------------- */

#define PROBE_ROUNDS 2000

struct probe_line {
	_Alignas(64) volatile uint32_t v;
};

static int probe_side(struct bh_pair *pair, int side, void *arg)
{
	struct probe_line *line = arg;
	uint32_t sense = 0;
	int chunks = bh_opts.quick ? 21 : 51;

	bh_pair_barrier(pair, &sense);
	for (int c = 0; c < chunks; c++) {
		double t0 = bh_now_ns();

		for (uint32_t i = 0; i < PROBE_ROUNDS; i++) {
			uint32_t want = (c * PROBE_ROUNDS + i) * 2 + (uint32_t)side;

			while (__atomic_load_n(&line->v, __ATOMIC_ACQUIRE) != want) {
				bh_relax();
				if (pair->err)
					return -EIO;
			}
			__atomic_store_n(&line->v, want + 1, __ATOMIC_RELEASE);
		}
		if (side == 0 && pair->nsamples < BH_MAX_SAMPLES)
			pair->samples[pair->nsamples++] = (bh_now_ns() - t0) / PROBE_ROUNDS;
	}
	return 0;
}

void bh_probe_placement(void)
{
	struct bh_pair *pair = NULL;
	struct probe_line *line;
	struct bh_result r;
	int rc;

	bh_place.cpu_a = bh_opts.cpu[0];
	bh_place.cpu_b = bh_opts.cpu[1];
	bh_place.same_core = bh_opts.cpu[0] == bh_opts.cpu[1];
	if (bh_place.same_core) {
		/* Spinning ping-pong on one core measures the scheduler. */
		bh_note("placement", "placement.pingpong", "cacheline", 64, "ns",
		        "one usable core: producer and consumer share cpu %d",
		        bh_opts.cpu[0]);
		return;
	}
	line = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	            -1, 0);
	if (line == MAP_FAILED)
		return;
	line->v = 0;
	bh_progress("placement: cache-line ping-pong cpu %d <-> cpu %d",
	            bh_opts.cpu[0], bh_opts.cpu[1]);
	rc = bh_pair_run(probe_side, line, 30, &pair);
	if (rc < 0) {
		bh_note("placement", "placement.pingpong", "cacheline", 64, "ns",
		        "%s", pair ? pair->note : strerror(-rc));
	} else {
		/* Chunk 0 is the warm-up. */
		memset(&r, 0, sizeof(r));
		bh_stats(pair->samples + 1, pair->nsamples - 1, &r, false);
		bh_place.rtt_ns = r.median;
		bh_place.rtt_min_ns = r.min;
		bh_place.rtt_max_ns = r.max;
		bh_result("placement", "placement.pingpong", "cacheline", 64, "ns",
		          BH_TIME, 2, pair->samples + 1, pair->nsamples - 1, false);
	}
	bh_pair_free(pair);
	munmap(line, 4096);
}

/* ---- Output ---------------------------------------------------------------- */

static void fmt_num(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "-");
	else if (v != 0 && fabs(v) < 0.01)
		snprintf(buf, cap, "%.4f", v);
	else if (fabs(v) < 10)
		snprintf(buf, cap, "%.3f", v);
	else if (fabs(v) < 1000)
		snprintf(buf, cap, "%.1f", v);
	else
		snprintf(buf, cap, "%.0f", v);
}

static void print_table(FILE *f)
{
	const char *last = "";
	char sz[24], a[32], b[32], c[32], d[32], pp[32];

	fprintf(f, "\n%-20s %-12s %6s %12s %12s %12s %12s %5s %6s  %s\n", "case",
	        "impl", "size", "median", "min", "max", "p99", "n", "pp ns", "unit");
	for (int i = 0; i < nresults; i++) {
		const struct bh_result *r = &results[i];

		if (strcmp(last, r->case_name))
			fprintf(f, "%s\n", "-------------------------------------------"
			        "--------------------------------------------------------");
		last = r->case_name;
		bh_size_str(r->size, sz);
		if (r->note[0]) {
			fprintf(f, "%-20s %-12s %6s  (did not run: %s)\n", r->case_name,
			        r->impl, sz, r->note);
			continue;
		}
		fmt_num(a, sizeof(a), r->median);
		fmt_num(b, sizeof(b), r->min);
		fmt_num(c, sizeof(c), r->max);
		fmt_num(d, sizeof(d), r->p99);
		if (r->procs == 2 && !isnan(r->rtt_ns))
			snprintf(pp, sizeof(pp), "%.0f", r->rtt_ns);
		else
			snprintf(pp, sizeof(pp), "-");
		fprintf(f, "%-20s %-12s %6s %12s %12s %12s %12s %5d %6s  %s%s%s\n",
		        r->case_name, r->impl, sz, a, b, c, d, r->n, pp, r->unit,
		        r->extra[0] ? "  " : "", r->extra);
	}
}

static bool is_subject(const char *impl)
{
	return !strncmp(impl, "mobj", 4);
}

/* @s relative to @r: the median (min, max, n) of the per-round ratios when
 * both ran in the same rounds (paired), else the ratio of the medians. */
static void ratio_stats(const struct bh_result *s, const struct bh_result *r,
                        bool *paired, struct bh_result *m)
{
	double v[16];

	memset(m, 0, sizeof(*m));
	*paired = s->nround >= 2 && s->nround == r->nround;
	if (!*paired) {
		m->median = m->min = m->max = s->median / r->median;
		m->n = 1;
		m->p99 = NAN;
		return;
	}
	for (int i = 0; i < s->nround; i++)
		v[i] = s->round_med[i] / r->round_med[i];
	bh_stats(v, s->nround, m, false);
}

static double ratio_of(const struct bh_result *s, const struct bh_result *r,
                       bool *paired)
{
	struct bh_result m;

	ratio_stats(s, r, paired, &m);
	return m.median;
}

double bh_ratio(const char *case_name, const char *a, const char *b, size_t size)
{
	const struct bh_result *x = find(case_name, a, size), *y = find(case_name, b, size);
	bool paired;

	if (!x || !y || y->median == 0)
		return NAN;
	return ratio_of(x, y, &paired);
}

/* The scenario an impl name ends with ("-busy", "-sleep", "-idle"), or "". */
static const char *scenario(const char *impl)
{
	static const char *const sfx[] = { "-busy", "-sleep", "-idle" };
	size_t n = strlen(impl);

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t k = strlen(sfx[i]);
		if (n > k && !strcmp(impl + n - k, sfx[i]))
			return sfx[i];
	}
	return "";
}

/* "mobj-busy" compares with "spa-busy" only, "mobj" and "mobj-copy" with
 * every impl that has no scenario. */
static bool comparable(const char *subject, const char *ref)
{
	return !strcmp(scenario(subject), scenario(ref));
}

/* Does the row of reference @r pair with the row of subject @s? */
static bool pairs_with(const struct bh_result *s, const struct bh_result *r)
{
	return !r->note[0] && !is_subject(r->impl) && r->size == s->size &&
	       comparable(s->impl, r->impl) && !strcmp(r->case_name, s->case_name) &&
	       !isnan(r->median) && r->median != 0;
}

static bool is_subject_row(const struct bh_result *s)
{
	return !s->note[0] && is_subject(s->impl) && !isnan(s->median);
}

static void print_ratios(FILE *f)
{
	const char *last = "";
	char sz[24];

	fprintf(f, "\nratios, same run (time and count: lower is better; "
	        "MB/s: higher is better);\nmedian of the per-round ratios where both "
	        "ran in the same rounds, * = ratio of the medians\n");
	for (int i = 0; i < nresults; i++) {
		const struct bh_result *s = &results[i];
		bool any = false;

		if (!is_subject_row(s))
			continue;
		for (int j = 0; j < nresults; j++) {
			const struct bh_result *r = &results[j];

			if (!pairs_with(s, r))
				continue;
			if (!any) {
				if (strcmp(last, s->case_name))
					fprintf(f, "  %s\n", s->case_name);
				last = s->case_name;
				fprintf(f, "    %-6s", bh_size_str(s->size, sz));
				any = true;
			}
			{
				bool paired;
				double x = ratio_of(s, r, &paired);

				fprintf(f, "  %s/%s = %.2fx%s", s->impl, r->impl, x,
				        paired ? "" : "*");
			}
		}
		if (any)
			fputc('\n', f);
	}
}

/* The goals the README reports against: targets, not assertions. */
struct goal {
	const char *text;
	const char *case_name;
	size_t size;
	const char *num, *den;	/* den NULL: the measured value itself */
	bool at_least;
	double target;
};

/* The ring's goals are issue 13's table: against spa, against what the two
 * cores can move at all (limit) and a hand-written ring (bare), iceoryx at
 * large messages, and no system call while both sides are busy. */
static const struct goal goals[] = {
	{ "ring throughput >= 4x spa at 64 B", "ring.throughput", 64, "mobj", "spa", true, 4 },
	{ "ring throughput >= 0.25x limit at 64 B", "ring.throughput", 64, "mobj", "limit", true, 0.25 },
	{ "ring throughput >= 2x spa at 1 KiB", "ring.throughput", 1024, "mobj", "spa", true, 2 },
	{ "ring throughput >= 0.6x limit at 1 KiB", "ring.throughput", 1024, "mobj", "limit", true, 0.6 },
	{ "ring throughput >= 0.85x limit at 64 KiB", "ring.throughput", 65536, "mobj", "limit", true, 0.85 },
	{ "ring throughput >= 0.85x limit at 1 MiB", "ring.throughput", 1048576, "mobj", "limit", true, 0.85 },
	{ "ring throughput >= 1.5x iceoryx at 64 KiB", "ring.throughput", 65536, "mobj", "iceoryx", true, 1.5 },
	{ "ring throughput >= 1.2x iceoryx at 1 MiB", "ring.throughput", 1048576, "mobj", "iceoryx", true, 1.2 },
	{ "ring throughput >= 1.0x bare at 64 B", "ring.throughput", 64, "mobj", "bare", true, 1.0 },
	{ "ring throughput >= 1.0x bare at 1 KiB", "ring.throughput", 1024, "mobj", "bare", true, 1.0 },
	{ "ring throughput >= 1.0x bare at 64 KiB", "ring.throughput", 65536, "mobj", "bare", true, 1.0 },
	{ "ring throughput >= 1.0x bare at 1 MiB", "ring.throughput", 1048576, "mobj", "bare", true, 1.0 },
	{ "one-way latency 64 B p50 <= 1.1x bare", "ring.latency.oneway", 64, "mobj", "bare", false, 1.1 },
	{ "one-way latency 64 B p50 <= 0.7x spa", "ring.latency.oneway", 64, "mobj", "spa", false, 0.7 },
	{ "map.mirror <= 1.3x raw", "map.mirror", 1048576, "mobj", "raw", false, 1.3 },
	{ "transfer.rtt <= 1.3x raw", "transfer.rtt", 65536, "mobj", "raw", false, 1.3 },
	{ "syscalls/msg, both ring sides busy < 0.001", "ring.syscalls", 64, "mobj-busy", NULL, false, 0.001 },
};

/* The note of a row that could not run, or NULL. */
static const char *find_note(const char *case_name, const char *impl, size_t size)
{
	for (int i = 0; i < nresults; i++) {
		const struct bh_result *r = &results[i];
		if (!strcmp(r->case_name, case_name) && !strcmp(r->impl, impl) &&
		    r->size == size && r->note[0])
			return r->note;
	}
	return NULL;
}

static int goal_eval(const struct goal *g, double *ratio, const char **why)
{
	const struct bh_result *n = find(g->case_name, g->num, g->size);
	const struct bh_result *d = g->den ? find(g->case_name, g->den, g->size) : NULL;

	*why = NULL;
	if (!n) {
		*why = g->num;
		return -1;
	}
	if (g->den && !d) {
		*why = g->den;
		return -1;
	}
	if (d) {
		bool paired;
		*ratio = ratio_of(n, d, &paired);
	} else {
		*ratio = n->median;
	}
	if (g->at_least)
		return *ratio >= g->target;
	/* A ratio may equal its bound; a count must stay below it. */
	return d ? *ratio <= g->target : *ratio < g->target;
}

/* How far a missed goal is: the factor the measured value must improve by. */
static double goal_shortfall(const struct goal *g, double ratio)
{
	if (g->at_least)
		return ratio > 0 ? g->target / ratio : INFINITY;
	return g->target > 0 ? ratio / g->target : INFINITY;
}

static void print_goals(FILE *f)
{
	fprintf(f, "\ngoals (targets from one run, not assertions)\n");
	fprintf(f, "  %-46s %-18s %10s  %s\n", "goal", "ratio", "measured", "verdict");
	for (size_t i = 0; i < sizeof(goals) / sizeof(goals[0]); i++) {
		const struct goal *g = &goals[i];
		char what[48];
		const char *why;
		double ratio;
		int ok = goal_eval(g, &ratio, &why);

		if (g->den)
			snprintf(what, sizeof(what), "%s/%s", g->num, g->den);
		else
			snprintf(what, sizeof(what), "%s", g->num);
		if (ok < 0) {
			const char *note = find_note(g->case_name, why, g->size);

			if (note)
				fprintf(f, "  %-46s %-18s %10s  not measured (%s: %s)\n",
				        g->text, what, "-", why, note);
			else
				fprintf(f, "  %-46s %-18s %10s  not in this run\n",
				        g->text, what, "-");
		}
		else if (ok)
			fprintf(f, g->den ? "  %-46s %-18s %9.2fx  met\n" :
			        "  %-46s %-18s %10.4f  met\n", g->text, what, ratio);
		else
			fprintf(f, g->den ? "  %-46s %-18s %9.2fx  missed, %.2fx short\n" :
			        "  %-46s %-18s %10.4f  missed, %.2fx over\n", g->text, what,
			        ratio, goal_shortfall(g, ratio));
	}
}

static void json_kv_str(FILE *f, const char *key, const char *v);
static void json_kv_num(FILE *f, const char *key, double v);

/* Every ratio of the ratios section as a JSON Line (group "ratio", impl
 * "mobj/spa", unit "ratio"; min/max over the rounds when paired). */
static void json_ratios(FILE *f)
{
	for (int i = 0; i < nresults; i++) {
		const struct bh_result *s = &results[i];

		if (!is_subject_row(s))
			continue;
		for (int j = 0; j < nresults; j++) {
			const struct bh_result *r = &results[j];
			struct bh_result m;
			char what[80];
			bool paired;

			if (!pairs_with(s, r))
				continue;
			ratio_stats(s, r, &paired, &m);
			snprintf(what, sizeof(what), "%s/%s", s->impl, r->impl);
			fputc('{', f);
			json_kv_str(f, "group", "ratio");
			json_kv_str(f, "case", s->case_name);
			json_kv_str(f, "impl", what);
			fprintf(f, ",\"size\":%zu", s->size);
			json_kv_str(f, "unit", "ratio");
			json_kv_num(f, "median", m.median);
			json_kv_num(f, "min", m.min);
			json_kv_num(f, "max", m.max);
			fprintf(f, ",\"n\":%d,\"paired\":%s", m.n, paired ? "true" : "false");
			json_kv_str(f, "of", s->unit);
			fputs(",\"quick\":", f);
			fputs(bh_opts.quick ? "true" : "false", f);
			fputs("}\n", f);
		}
	}
}

/* Goals as JSON Lines too (group "goal", unit "ratio"), for tools that
 * report against them. */
static void json_goals(FILE *f)
{
	for (size_t i = 0; i < sizeof(goals) / sizeof(goals[0]); i++) {
		const struct goal *g = &goals[i];
		char what[48];
		const char *why;
		double ratio = NAN;
		int ok = goal_eval(g, &ratio, &why);

		snprintf(what, sizeof(what), "%s%s%s", g->num, g->den ? "/" : "",
		         g->den ? g->den : "");
		fputc('{', f);
		json_kv_str(f, "group", "goal");
		json_kv_str(f, "case", g->case_name);
		json_kv_str(f, "impl", what);
		fprintf(f, ",\"size\":%zu", g->size);
		json_kv_str(f, "unit", g->den ? "ratio" : "syscalls/msg");
		json_kv_num(f, "median", ok < 0 ? NAN : ratio);
		json_kv_num(f, "min", ok < 0 ? NAN : ratio);
		json_kv_num(f, "max", ok < 0 ? NAN : ratio);
		fprintf(f, ",\"n\":%d", ok < 0 ? 0 : 1);
		json_kv_str(f, "goal", g->text);
		json_kv_num(f, "target", g->target);
		fprintf(f, ",\"met\":%s", ok < 0 ? "null" : ok ? "true" : "false");
		if (ok < 0)
			json_kv_str(f, "note", "not measured in this run");
		fputs("}\n", f);
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

/* ,"key":value - every key but the first ("group", written by hand). */
static void json_kv_str(FILE *f, const char *key, const char *v)
{
	if (strcmp(key, "group"))
		fputc(',', f);
	fprintf(f, "\"%s\":", key);
	json_str(f, v);
}

static void json_kv_num(FILE *f, const char *key, double v)
{
	fprintf(f, ",\"%s\":", key);
	json_num(f, v);
}

static int write_json(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "mobj-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < nresults; i++) {
		const struct bh_result *r = &results[i];

		fputc('{', f);
		json_kv_str(f, "group", r->group);
		json_kv_str(f, "case", r->case_name);
		json_kv_str(f, "impl", r->impl);
		fprintf(f, ",\"size\":%zu", r->size);
		json_kv_str(f, "unit", r->unit);
		json_kv_num(f, "median", r->median);
		json_kv_num(f, "min", r->min);
		json_kv_num(f, "max", r->max);
		fprintf(f, ",\"n\":%d", r->n);
		if (!isnan(r->p99))
			json_kv_num(f, "p99", r->p99);
		if (r->procs == 2) {
			fprintf(f, ",\"placement\":{\"producer_cpu\":%d,\"consumer_cpu\":%d",
			        bh_opts.cpu[0], bh_opts.cpu[1]);
			json_kv_num(f, "pingpong_rtt_ns", r->rtt_ns);
		} else {
			fprintf(f, ",\"placement\":{\"cpu\":%d", bh_opts.cpu[0]);
		}
		json_kv_num(f, "suite_pingpong_rtt_ns", bh_place.rtt_ns);
		fputc('}', f);
		if (r->note[0])
			json_kv_str(f, "note", r->note);
		if (r->extra[0])
			json_kv_str(f, "detail", r->extra);
		fputs(",\"quick\":", f);
		fputs(bh_opts.quick ? "true" : "false", f);
		fputs("}\n", f);
	}
	json_ratios(f);
	json_goals(f);
	return fclose(f) == 0 ? 0 : -1;
}

/* One PNG per case that was measured at three sizes or more: a line per impl
 * against size, log-log. */
/* ring.latency.oneway: median and p99 per impl, bars on a log scale. */
static int plot_latency(const char *dir, int made)
{
	char dat[4200], gp[4200], png[4200], cmd[8600];
	int rows = 0;
	FILE *g;

	snprintf(dat, sizeof(dat), "%s/ring.latency.oneway.dat", dir);
	snprintf(gp, sizeof(gp), "%s/ring.latency.oneway.gp", dir);
	snprintf(png, sizeof(png), "%s/ring.latency.oneway.png", dir);
	g = fopen(dat, "w");
	if (!g)
		return 0;
	for (int i = 0; i < nresults; i++) {
		const struct bh_result *r = &results[i];

		if (strcmp(r->case_name, "ring.latency.oneway") || r->note[0])
			continue;
		fprintf(g, "%s %g %g\n", r->impl, r->median, r->p99);
		rows++;
	}
	fclose(g);
	if (!rows)
		return 0;
	g = fopen(gp, "w");
	if (!g)
		return 0;
	fprintf(g, "set terminal pngcairo size 900,560 noenhanced\n"
	        "set output '%s'\n"
	        "set title 'ring.latency.oneway, 64 B (cores %d->%d)'\n"
	        "set style data histograms\nset style fill solid 0.8 border -1\n"
	        "set logscale y\nset grid ytics\nset xtics rotate by -30\n"
	        "set ylabel 'ns (log)'\nset yrange [10:*]\n"
	        "plot '%s' using 2:xtic(1) title 'median', '' using 3 title 'p99'\n",
	        png, bh_opts.cpu[0], bh_opts.cpu[1], dat);
	fclose(g);
	snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>&1", gp);
	if (system(cmd) != 0) {
		printf("\nplots: gnuplot failed on %s\n", gp);
		return 0;
	}
	printf("%s%s", made ? ", " : "\nplots: ", png);
	return 1;
}

static void write_plots(const char *json)
{
	static const char *plotted[] = { "ring.throughput", "ring.capacity.1K",
	                                 "ring.capacity.64K", "transfer.crossover",
	                                 "transfer.rtt", "heap.message", "ring.inplace" };
	char dir[4096], *slash;
	int made = 0;

	if (bh_opts.no_plots)
		return;
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		printf("\nplots: gnuplot is not installed, no PNGs (apt-get install gnuplot-nox)\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s", json);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");

	for (size_t k = 0; k < sizeof(plotted) / sizeof(plotted[0]); k++) {
		const char *cn = plotted[k];
		const char *impls[16];
		int nimpl = 0, nsizes = 0;
		const char *unit = "";
		char gp[4200], dat[4200], png[4200], cmd[8600];
		FILE *g;

		for (int i = 0; i < nresults; i++) {
			const struct bh_result *r = &results[i];
			bool seen = false;

			if (strcmp(r->case_name, cn) || r->note[0] || r->size == 0)
				continue;
			unit = r->unit;
			nsizes++;
			for (int j = 0; j < nimpl; j++)
				seen |= !strcmp(impls[j], r->impl);
			if (!seen && nimpl < 16)
				impls[nimpl++] = r->impl;
		}
		if (nimpl == 0 || nsizes / nimpl < 3)
			continue;
		snprintf(dat, sizeof(dat), "%s/%s.dat", dir, cn);
		snprintf(gp, sizeof(gp), "%s/%s.gp", dir, cn);
		snprintf(png, sizeof(png), "%s/%s.png", dir, cn);
		g = fopen(dat, "w");
		if (!g)
			continue;
		for (int j = 0; j < nimpl; j++) {
			fprintf(g, "# %s\n", impls[j]);
			for (int i = 0; i < nresults; i++) {
				const struct bh_result *r = &results[i];
				if (!strcmp(r->case_name, cn) && !strcmp(r->impl, impls[j]) &&
				    !r->note[0])
					fprintf(g, "%zu %g %g %g\n", r->size, r->median, r->min, r->max);
			}
			fprintf(g, "\n\n");
		}
		fclose(g);
		g = fopen(gp, "w");
		if (!g)
			continue;
		fprintf(g, "set terminal pngcairo size 900,560 noenhanced\n"
		        "set output '%s'\n"
		        "set title '%s (cores %d->%d, ping-pong %.0f ns)'\n"
		        "set logscale xy\nset grid\nset key outside right\n"
		        "set xlabel 'size (bytes)'\nset ylabel '%s (median, min..max)'\n"
		        "plot ", png, cn, bh_opts.cpu[0], bh_opts.cpu[1],
		        isnan(bh_place.rtt_ns) ? 0.0 : bh_place.rtt_ns, unit);
		for (int j = 0; j < nimpl; j++)
			fprintf(g, "%s'%s' index %d using 1:2:3:4 with yerrorlines title '%s'",
			        j ? ", " : "", dat, j, impls[j]);
		fprintf(g, "\n");
		fclose(g);
		snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>&1", gp);
		if (system(cmd) == 0) {
			printf("%s%s", made ? ", " : "\nplots: ", png);
			made++;
		} else {
			printf("\nplots: gnuplot failed on %s\n", gp);
		}
	}
	made += plot_latency(dir, made);
	if (made)
		printf("\n");
}

static int case_rank(const char *name)
{
	for (size_t i = 0; i < sizeof(case_list) / sizeof(case_list[0]); i++)
		if (!strcmp(case_list[i], name))
			return (int)i;
	return (int)(sizeof(case_list) / sizeof(case_list[0]));
}

/* The table reads best case by case, in the suite's order; within a case,
 * results keep the order they were measured in. */
static void sort_results(void)
{
	static struct bh_result tmp[MAX_RESULTS];
	int k = 0, nranks = case_rank("") + 1;

	for (int rank = 0; rank <= nranks; rank++)
		for (int i = 0; i < nresults; i++)
			if (case_rank(results[i].case_name) == rank ||
			    (rank == nranks && case_rank(results[i].case_name) > nranks))
				tmp[k++] = results[i];
	memcpy(results, tmp, sizeof(results[0]) * (size_t)k);
}

/* mkdir -p of the folder holding @path. */
static void make_parent(const char *path)
{
	char d[4096];

	snprintf(d, sizeof(d), "%s", path);
	for (char *p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(d, 0755);
		*p = '/';
	}
}

int bh_finish(void)
{
	int measured = 0;

	sort_results();

	if (progress_tty)
		fprintf(stderr, "\r\033[K");
	bh_progress("done in %.1f s", (bh_now_ns() - suite_t0) / 1e9);
	if (progress_tty)
		fputc('\n', stderr);
	for (int i = 0; i < nresults; i++)
		measured += !results[i].note[0];

	printf("\nmobj-bench %s run, %d repetitions per result (+%d warm-up)\n",
	       bh_opts.quick ? "quick" : "full", bh_opts.reps, bh_opts.warmup);
	if (bh_place.same_core)
		printf("placement: producer and consumer share cpu %d (one usable core)\n",
		       bh_place.cpu_a);
	else if (bh_place.cpu_a >= 0)
		printf("placement: producer cpu %d, consumer cpu %d, cache-line "
		       "round trip %.0f ns (min %.0f, max %.0f)\n",
		       bh_place.cpu_a, bh_place.cpu_b, bh_place.rtt_ns,
		       bh_place.rtt_min_ns, bh_place.rtt_max_ns);
	{
		char load_end[64];

		read_load(load_end, sizeof(load_end));
		printf("load average (1 min): %s at start, %s at end, on %d usable cores\n",
		       load_start, load_end, bh_opts.ncpu);
	}
	{
		double lo = INFINITY, hi = 0;

		for (int i = 0; i < nresults; i++)
			if (results[i].procs == 2 && !isnan(results[i].rtt_ns)) {
				lo = fmin(lo, results[i].rtt_ns);
				hi = fmax(hi, results[i].rtt_ns);
			}
		if (hi > 0 && hi > 2 * lo)
			printf("placement changed during the run: the pairs' ping-pong went "
			       "from %.0f to %.0f ns (column pp ns); cross-core rows mix "
			       "placements, pooled over rounds where it says so\n", lo, hi);
	}
	print_table(stdout);
	print_ratios(stdout);
	print_goals(stdout);
	if (bh_opts.json) {
		make_parent(bh_opts.json);
		if (write_json(bh_opts.json) == 0)
			printf("\njson: %s\n", bh_opts.json);
		write_plots(bh_opts.json);
	}
	if (bh_opts.strict) {
		int failed = 0;

		/* What this build leaves out is not a failure, nor what the
		 * machine does not allow now ("skipped: ..."), nor one core
		 * (the placement probe's note). */
		for (int i = 0; i < nresults; i++)
			failed += results[i].note[0] &&
			          strncmp(results[i].note, "not built", 9) &&
			          strncmp(results[i].note, "skipped:", 8) &&
			          strcmp(results[i].group, "placement");
		if (failed) {
			printf("\n--strict: %d result(s) did not run\n", failed);
			return 1;
		}
	}
	return measured ? 0 : 1;
}
