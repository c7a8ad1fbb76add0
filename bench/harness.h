/*
 * The benchmark harness shared by every mobj benchmark.
 *
 * A case measures one thing (group "map", case "map.mirror", impl "mobj",
 * size 0) a few times and hands the samples to bh_result(), which keeps the
 * median, min, max (and p99 for latencies). At the end bh_finish() prints a
 * table, the ratios against the reference impl of the same run, the goals
 * (met/missed), and writes JSON Lines and gnuplot PNGs when asked.
 *
 * Cross-process cases run as two forked children pinned to two different
 * cores (bh_pair_run): the producer on bh_opts.cpu[0], the consumer on
 * bh_opts.cpu[1]; they meet at barriers in a shared control page. The core
 * placement probe (a cache-line ping-pong between the same two cores) runs
 * once per suite, and a short one at the start of every pair, and is
 * attached to every result, because on small VMs cross-core numbers move by
 * up to 10x with placement (the hypervisor moves vCPUs): compare only
 * results from the same run.
 */
#ifndef MOBJ_BENCH_HARNESS_H
#define MOBJ_BENCH_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BH_MAX_SAMPLES 20000

struct bh_opts {
	bool quick;
	const char *filter;	/* substring of "case/impl", or NULL */
	const char *json;	/* JSON Lines output, or NULL */
	bool no_plots;
	bool list;		/* print case names and exit */
	bool strict;		/* exit 1 when any result could not run */
	int reps;		/* measured repetitions per result */
	int warmup;		/* discarded repetitions */
	double rep_ms;		/* target duration of one repetition */
	int cpu[2];		/* producer core, consumer core */
	int ncpu;		/* usable cores (1: both sides share one) */
	const char *syscall_counter;	/* ring.syscalls: auto, perf, strace */
};

extern struct bh_opts bh_opts;

struct bh_placement {
	int cpu_a, cpu_b;
	double rtt_ns;		/* cache-line round trip, median */
	double rtt_min_ns, rtt_max_ns;
	bool same_core;
};

extern struct bh_placement bh_place;

/* Parse the command line (exits on --help or a bad option). */
void bh_init(int argc, char **argv);

/* Should the case/impl run under --filter? */
bool bh_want(const char *case_name, const char *impl);

/* Monotonic time in nanoseconds. */
static inline double bh_now_ns(void);

/* Pin the calling thread (and the process, when it has one thread) to @cpu. */
int bh_pin(int cpu);

/* Progress on stderr (a single line that overwrites itself on a tty). */
void bh_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Measure the ping-pong placement between bh_opts.cpu[0] and cpu[1]. */
void bh_probe_placement(void);

/* What a result measures, so the harness knows which direction is better. */
enum bh_kind {
	BH_TIME,	/* lower is better (ns, us) */
	BH_RATE,	/* higher is better (MB/s) */
	BH_COUNT,	/* lower is better, not a time (syscalls/msg, bytes) */
};

struct bh_result {
	const char *group, *case_name, *impl;
	size_t size;
	const char *unit;
	enum bh_kind kind;
	double median, min, max, p99;	/* p99 NAN when not measured */
	int n;
	int procs;			/* 1: one process on cpu[0]; 2: cpu[0] -> cpu[1] */
	double rtt_ns;			/* procs 2: ping-pong of the pair(s) measured */
	double round_med[16];		/* medians per round, when run in rounds */
	int nround;
	char note[192];			/* non-empty: could not run, why */
	char extra[256];		/* free text for the table ("cores 0->1") */
};

/* Compute median/min/max (and p99 when @with_p99) from @n samples (sorted
 * in place) and record the result. */
void bh_result(const char *group, const char *case_name, const char *impl,
               size_t size, const char *unit, enum bh_kind kind, int procs,
               double *samples, int n, bool with_p99);

/* Record a result computed elsewhere (e.g. in a child process). */
void bh_result_raw(const struct bh_result *r);

/* @a relative to @b (case, size): paired per round when both ran in the
 * same rounds, else the ratio of the medians; NAN when either is missing. */
double bh_ratio(const char *case_name, const char *a, const char *b, size_t size);

/* Add free text to the last result (the table's last column, JSON "detail"). */
void bh_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Record that @impl could not run, and why. */
void bh_note(const char *group, const char *case_name, const char *impl,
             size_t size, const char *unit, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Print the table, ratios and goals; write JSON and plots. Returns the exit
 * status for main (0 unless nothing ran). */
int bh_finish(void);

/* Sort @v and fill median/min/max/p99 into @r. */
void bh_stats(double *v, int n, struct bh_result *r, bool with_p99);

/* ---- Cross-process pairs ------------------------------------------------- */

/*
 * A shared control page for a producer and a consumer process. Both children
 * get it (MAP_SHARED before fork). bh_pair_barrier() is a two-party
 * sense-reversing barrier (spinning, with sched_yield when the two share a
 * core). Results go back through the page.
 */
struct bh_pair {
	_Alignas(64) volatile uint32_t arrive;
	volatile uint32_t sense;
	_Alignas(64) volatile uint64_t count;	/* messages per repetition */
	volatile uint64_t acked;		/* consumer progress (latency) */
	_Alignas(64) volatile uint32_t pingpong;	/* placement ping-pong line */
	double rtt_ns;				/* its round trip, this pair */
	_Alignas(64) volatile int err;		/* first failure, negative errno */
	char note[192];
	volatile uint64_t checksum;
	int nsamples;
	double samples[BH_MAX_SAMPLES];		/* written by one side */
	double aux[64];				/* case specific */
};

/* Runs in each child; @side is 0 (producer, on cpu[0]) or 1 (consumer, on
 * cpu[1]). Returns 0 or a negative errno (with pair->note set). */
typedef int (*bh_side_fn)(struct bh_pair *pair, int side, void *arg);

/* Fork the two sides, wait for both (with a timeout in seconds), return 0 or
 * the first error; @pair is fresh and zeroed for each call. On error
 * pair->note says why. The caller unmaps with bh_pair_free(). */
int bh_pair_run(bh_side_fn fn, void *arg, double timeout_s, struct bh_pair **pair);
void bh_pair_free(struct bh_pair *pair);
/* The ping-pong round trip the next two-process result gets (bh_pair_run
 * sets it to its pair's; set it when a result pools several pairs). */
void bh_set_pair_rtt(double rtt_ns);
void bh_pair_barrier(struct bh_pair *pair, uint32_t *local_sense);
void bh_pair_fail(struct bh_pair *pair, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Called from the SIGINT/SIGTERM/SIGHUP handler after the pair children
 * are killed, before the suite dies: stop daemons. Async-signal-safe only. */
extern void (*bh_signal_hook)(void);

/*
 * Samples of one impl and size pooled over several pair runs (rounds): each
 * round adds its samples and its pair's ping-pong; a failure stops the
 * pool and becomes the row's note.
 */
struct bh_pool {
	double s[BH_MAX_SAMPLES];
	int n;
	double rtt[16];
	int nrtt;
	double round_med[16];	/* each round's median: paired ratios */
	int nround;
	char why[200];	/* non-empty: failed, no more rounds */
};

/* Add what @pair measured (pair->samples) to @p as one round. */
void bh_pool_add(struct bh_pool *p, const struct bh_pair *pair);
/* Add one round of @n samples measured by a pair with ping-pong @rtt_ns. */
void bh_pool_add_samples(struct bh_pool *p, const double *v, int n, double rtt_ns);

/* Rounds for cases that run in rounds: the ratios of two impls are then
 * the median of their per-round ratios (paired: both ran within the same
 * few hundred milliseconds, under the same placement and load). */
int bh_rounds(int full, int quick);
/* Record @p as a result (or its note); returns the median, or NAN. */
double bh_pool_record(struct bh_pool *p, const char *group, const char *case_name,
                      const char *impl, size_t size, const char *unit,
                      enum bh_kind kind, int procs);

/* Pause in a spin loop. */
static inline void bh_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Pause while waiting for the other process: yield the core when both
 * share one, so the wait does not burn the peer's time slice. */
void bh_wait_pause(void);

/* A cheap checksum that reads every byte (8 at a time): what a consumer
 * "uses" of each message. */
uint64_t bh_sum(const void *p, size_t n);

/* write(2)/read(2) all @n bytes, retrying on EINTR; 0, -errno, or -EPIPE
 * (read: end of file). */
int bh_write_all(int fd, const void *p, size_t n);
int bh_read_all(int fd, void *p, size_t n);

/* Fill @n bytes with a pattern. */
void bh_fill(void *p, size_t n, uint64_t seed);

/* Human size: "64", "1K", "64K", "1M". */
const char *bh_size_str(size_t size, char buf[24]);

#include <time.h>
static inline double bh_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Cases, one function per group (bench_*.c). */
void bench_map(void);
void bench_ring(void);
void bench_fanout(void);
void bench_transfer(void);
void bench_heap(void);

#endif /* MOBJ_BENCH_HARNESS_H */
