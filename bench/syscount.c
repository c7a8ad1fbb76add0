/*
 * Counting a process's system calls over a window (ring.syscalls).
 *
 * perf    a perf counter on the raw_syscalls:sys_enter tracepoint for each
 *         thread of the process (a transport's library may run threads of
 *         its own: iceoryx does), opened by the process for itself and
 *         enabled only around the window: exact, and it costs nothing while
 *         no call is made.
 * strace  where tracepoints are missing (no tracefs, no perf events): the
 *         process starts `strace -f -c -p <itself>` before the window and
 *         stops it (SIGINT, strace detaches and writes its summary) after;
 *         the calls of the window are strace's total minus what an empty
 *         window counts (polling for the attach, the kill, the wait). Needs
 *         ptrace rights over oneself (root, or Yama scope 0/1 with
 *         PR_SET_PTRACER as here). Every traced call stops the process for
 *         the tracer, so calls get slower; when both sides are busy (the
 *         case the goal is about) the ring makes next to no calls, so the
 *         slowdown changes the count little; bench/README.md has the
 *         comparison of the two methods on one machine.
 * --syscalls auto (default) takes perf where it opens, else strace.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "ring_impl.h"

static int perf_open(pid_t tid)
{
	struct perf_event_attr a;
	char buf[32];
	FILE *f;
	long id;
	int fd;

	f = fopen("/sys/kernel/tracing/events/raw_syscalls/sys_enter/id", "r");
	if (!f)
		f = fopen("/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id", "r");
	if (!f)
		return -ENOENT;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	id = strtol(buf, NULL, 10);
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = (uint64_t)id;
	a.disabled = 1;
	fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A counter per thread of this process, the calling thread's first. */
static int perf_open_all(struct syscount *c)
{
	struct dirent *e;
	DIR *d;
	int rc = perf_open(0);

	if (rc < 0)
		return rc;
	c->perf_fd[c->nperf++] = rc;
	d = opendir("/proc/self/task");
	if (!d)
		return 0;
	while ((e = readdir(d)) && c->nperf < SYSCOUNT_THREADS) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid <= 0 || tid == (pid_t)syscall(SYS_gettid))
			continue;
		rc = perf_open(tid);
		if (rc >= 0)
			c->perf_fd[c->nperf++] = rc;
	}
	closedir(d);
	return 0;
}

static bool strace_installed(void)
{
	return system("command -v strace >/dev/null 2>&1") == 0;
}

/* Is this process traced? (TracerPid in /proc/self/status) */
static bool traced(void)
{
	char line[128];
	bool yes = false;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "TracerPid:", 10)) {
			yes = atoi(line + 10) != 0;
			break;
		}
	fclose(f);
	return yes;
}

static int strace_attach(struct syscount *c)
{
	char pid[24];
	pid_t self = getpid(), t;

	snprintf(c->out, sizeof(c->out), "/tmp/mobj-bench-strace-%d.txt", (int)self);
	snprintf(pid, sizeof(pid), "%d", (int)self);
	fflush(NULL);
	t = fork();
	if (t < 0)
		return -errno;
	if (t == 0) {
		cpu_set_t all;
		int null = open("/dev/null", O_WRONLY);

		/* Not on the traced side's core only: it spins there. */
		CPU_ZERO(&all);
		CPU_SET(bh_opts.cpu[0], &all);
		CPU_SET(bh_opts.cpu[1], &all);
		sched_setaffinity(0, sizeof(all), &all);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("strace", "strace", "-f", "-c", "-U", "calls,name", "-o", c->out,
		       "-p", pid, (char *)NULL);
		_exit(127);
	}
	c->tracer = t;
	prctl(PR_SET_PTRACER, (unsigned long)t, 0, 0, 0);
	for (int i = 0; i < 5000 && !traced(); i++) {	/* 5 s */
		if (waitpid(t, NULL, WNOHANG) == t) {
			c->tracer = -1;
			return -EPERM;
		}
		usleep(1000);
	}
	if (!traced()) {
		kill(t, SIGKILL);
		waitpid(t, NULL, 0);
		c->tracer = -1;
		return -ETIMEDOUT;
	}
	return 0;
}

/* Stop the tracer; the calls it counted, or -errno. */
static int64_t strace_detach(struct syscount *c)
{
	char line[160];
	int64_t calls = -EIO;
	FILE *f;

	if (c->tracer <= 0)
		return -ECHILD;
	kill(c->tracer, SIGINT);
	waitpid(c->tracer, NULL, 0);
	c->tracer = -1;
	f = fopen(c->out, "r");
	if (!f)
		return -errno;
	/* "-U calls,name": "<calls> <name>" rows, the last one "<n> total";
	 * no calls at all leaves the table empty. */
	calls = 0;
	while (fgets(line, sizeof(line), f)) {
		long long n;
		char name[64];

		if (sscanf(line, " %lld %63s", &n, name) == 2 && !strcmp(name, "total"))
			calls = n;
	}
	fclose(f);
	unlink(c->out);
	return calls;
}

int syscount_open(struct syscount *c, char *why, size_t cap)
{
	const char *m = bh_opts.syscall_counter ? bh_opts.syscall_counter : "auto";
	int rc = -ENOENT;

	memset(c, 0, sizeof(*c));
	c->tracer = -1;
	if (strcmp(m, "strace")) {
		rc = perf_open_all(c);
		if (rc >= 0)
			return 0;
		if (!strcmp(m, "perf")) {
			snprintf(why, cap, "perf_event_open(raw_syscalls:sys_enter): %s",
			         strerror(-rc));
			return rc;
		}
	}
	if (!strace_installed()) {
		snprintf(why, cap, "no perf tracepoint (%s) and strace is not installed",
		         strerror(-rc));
		return -ENOENT;
	}
	c->use_strace = true;
	/* What an empty window counts: the attach and the detach. */
	rc = syscount_arm(c);
	if (rc == 0) {
		int64_t n = syscount_stop(c);

		if (n < 0)
			rc = (int)n;
		c->baseline = n < 0 ? 0 : n;
	}
	if (rc < 0)
		snprintf(why, cap, "strace -p %d: %s (ptrace not allowed?)", (int)getpid(),
		         strerror(-rc));
	return rc;
}

int syscount_arm(struct syscount *c)
{
	if (c->use_strace)
		return strace_attach(c);
	for (int i = 0; i < c->nperf; i++)
		ioctl(c->perf_fd[i], PERF_EVENT_IOC_RESET, 0);
	return 0;
}

void syscount_start(struct syscount *c)
{
	if (c->use_strace)
		return;
	/* This thread's counter last: no enabling ioctl is counted. */
	for (int i = c->nperf - 1; i >= 0; i--)
		ioctl(c->perf_fd[i], PERF_EVENT_IOC_ENABLE, 0);
}

int64_t syscount_stop(struct syscount *c)
{
	uint64_t n = 0;
	int64_t s;

	if (c->use_strace) {
		s = strace_detach(c);
		if (s < 0)
			return s;
		return s > c->baseline ? s - c->baseline : 0;
	}
	/* This thread's counter first: of the disabling ioctls only that
	 * first one entered while counting, and it is not the window's. */
	for (int i = 0; i < c->nperf; i++)
		ioctl(c->perf_fd[i], PERF_EVENT_IOC_DISABLE, 0);
	for (int i = 0; i < c->nperf; i++) {
		uint64_t v;

		if (read(c->perf_fd[i], &v, sizeof(v)) != sizeof(v))
			return -EIO;
		n += v;
	}
	return n > 0 ? (int64_t)n - 1 : 0;
}

void syscount_close(struct syscount *c)
{
	if (c->tracer > 0) {
		kill(c->tracer, SIGKILL);
		waitpid(c->tracer, NULL, 0);
		unlink(c->out);
	}
	for (int i = 0; i < c->nperf; i++)
		close(c->perf_fd[i]);
	c->nperf = 0;
	c->tracer = -1;
}

const char *syscount_method(const struct syscount *c)
{
	return c->use_strace ? "strace -c (ptrace), empty-window baseline subtracted" :
	       "perf raw_syscalls:sys_enter";
}
