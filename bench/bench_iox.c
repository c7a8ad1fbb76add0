/*
 * iceoryx as a transport (Debian's iceoryx 2.0 C binding): publisher and
 * subscriber in two processes, zero-copy (loan, fill, publish; take, read in
 * place, release); the publisher blocks (WAIT_FOR_CONSUMER / BLOCK_PRODUCER,
 * iceoryx's own back-off) when the queue is full, so nothing is dropped.
 *
 * How the subscriber waits when nothing is queued:
 *   iceoryx        as the mobj ring and the bench's spa do, and as a reader
 *                  who wants low latency runs iceoryx: poll
 *                  iox_sub_take_chunk MOBJ_RING_SPINS times (the ring's own
 *                  spin count, from src/ring.c via meson), then sleep in the
 *                  WaitSet until the publisher's notification;
 *   iceoryx-block  the WaitSet at once: iceoryx's documented event loop,
 *                  which pays a wake-up whenever the subscriber caught up.
 *
 * RouDi, iceoryx's daemon, is started here with a config of our own (pools
 * big enough for 1 MiB messages), waited for ("RouDi is ready for clients"
 * in its log), and always stopped: by iox_stop(), at exit, and from the
 * SIGINT/SIGTERM handler; PR_SET_PDEATHSIG stops it if the suite is killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iceoryx_binding_c/api.h>

#include "harness.h"
#include "ring_impl.h"

static volatile pid_t roudi_pid = -1;
static char roudi_dir[64];
static char roudi_cfg[128], roudi_log[128];
/* The shared-memory segments RouDi reported ("shared memory [name]"): it
 * leaves them behind when it exits, we remove them. */
static char roudi_shm[4][64];

static const char roudi_config[] =
	"[general]\nversion = 1\n\n[[segment]]\n\n"
	"[[segment.mempool]]\nsize = 256\ncount = 1024\n\n"
	"[[segment.mempool]]\nsize = 2048\ncount = 1024\n\n"
	"[[segment.mempool]]\nsize = 81920\ncount = 300\n\n"
	"[[segment.mempool]]\nsize = 1114112\ncount = 40\n";

bool iox_available(void)
{
	return access("/usr/bin/iox-roudi", X_OK) == 0 ||
	       system("command -v iox-roudi >/dev/null 2>&1") == 0;
}

/* Signal-safe: kill, waitpid, usleep, unlink, rmdir only. */
static void stop_roudi(void)
{
	pid_t pid = roudi_pid;
	char path[96];

	if (pid > 0) {
		roudi_pid = -1;
		kill(pid, SIGTERM);
		for (int i = 0; i < 500 && waitpid(pid, NULL, WNOHANG) != pid; i++)
			usleep(10000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	for (int i = 0; i < 4; i++) {
		if (!roudi_shm[i][0])
			continue;
		memcpy(path, "/dev/shm/", 9);
		memcpy(path + 9, roudi_shm[i], strlen(roudi_shm[i]) + 1);
		unlink(path);
		roudi_shm[i][0] = 0;
	}
	if (roudi_dir[0]) {
		unlink(roudi_cfg);
		unlink(roudi_log);
		rmdir(roudi_dir);
		roudi_dir[0] = 0;
	}
}

void iox_stop(void)
{
	stop_roudi();
}

/* Remember the segment names RouDi logs while it starts. */
static void note_segments(const char *line)
{
	const char *p = strstr(line, "shared memory [");
	size_t n;

	if (!p)
		return;
	p += strlen("shared memory [");
	n = strcspn(p, "]/");
	if (n == 0 || n >= sizeof(roudi_shm[0]) || p[n] != ']')
		return;
	for (int i = 0; i < 4; i++) {
		if (!strncmp(roudi_shm[i], p, n) && !roudi_shm[i][n])
			return;
		if (!roudi_shm[i][0]) {
			memcpy(roudi_shm[i], p, n);
			roudi_shm[i][n] = 0;
			return;
		}
	}
}

/* The first fatal or error line of RouDi's log, without colours and time
 * stamp (else its last line). */
static void log_reason(const char *log, char *out, size_t cap)
{
	char l[512], *p, *q;
	FILE *f = fopen(log, "r");

	snprintf(out, cap, "no log");
	if (!f)
		return;
	while (fgets(l, sizeof(l), f)) {
		bool bad = strstr(l, "Fatal") || strstr(l, "Error");

		/* Drop ANSI colour sequences. */
		for (p = q = l; *p; p++) {
			if (*p == '\033') {
				while (*p && *p != 'm')
					p++;
				if (!*p)
					break;
				continue;
			}
			*q++ = *p;
		}
		*q = 0;
		l[strcspn(l, "\n")] = 0;
		p = strstr(l, "]: ");
		p = p ? p + 3 : l;
		if (*p)
			snprintf(out, cap, "%s", p);
		if (bad)
			break;
	}
	fclose(f);
}

static int start_once(char *why, size_t cap);

/* Start RouDi; while another suite's RouDi holds the machine-wide lock,
 * wait for it (up to about 30 s). */
int iox_start(char *why, size_t cap)
{
	int rc;

	for (int attempt = 0; attempt < 15; attempt++) {
		rc = start_once(why, cap);
		if (rc != -EBUSY)
			return rc;
		bh_progress("another iox-roudi is running; waiting for it to end");
		sleep(2);
	}
	/* Not this build's fault: --strict lets a "skipped:" row pass. */
	snprintf(why, cap, "skipped: another suite's iox-roudi held the machine-wide "
	         "lock for 30 s");
	return rc;
}

static int start_once(char *why, size_t cap)
{
	static bool hooked;
	char *cfg = roudi_cfg, *log = roudi_log, line[512];
	FILE *f;
	pid_t pid;
	int fd;

	if (roudi_pid > 0)
		return 0;
	if (!iox_available()) {
		snprintf(why, cap, "iox-roudi is not installed");
		return -ENOENT;
	}
	if (!hooked) {
		atexit(iox_stop);
		bh_signal_hook = stop_roudi;
		hooked = true;
	}
	snprintf(roudi_dir, sizeof(roudi_dir), "/tmp/mobj-bench-XXXXXX");
	if (!mkdtemp(roudi_dir)) {
		snprintf(why, cap, "mkdtemp: %s", strerror(errno));
		roudi_dir[0] = 0;
		return -errno;
	}
	snprintf(cfg, sizeof(roudi_cfg), "%s/roudi.toml", roudi_dir);
	snprintf(log, sizeof(roudi_log), "%s/roudi.log", roudi_dir);
	f = fopen(cfg, "w");
	if (!f || fputs(roudi_config, f) < 0 || fclose(f) != 0) {
		snprintf(why, cap, "writing %s failed", cfg);
		iox_stop();
		return -EIO;
	}
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, cap, "%s: %s", log, strerror(errno));
		iox_stop();
		return -EIO;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fd);
		snprintf(why, cap, "fork: %s", strerror(errno));
		iox_stop();
		return -EAGAIN;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("iox-roudi", "iox-roudi", "-c", cfg, "-m", "off", "-k", "2", "-l", "info",
		       (char *)NULL);
		_exit(127);
	}
	close(fd);
	roudi_pid = pid;
	for (int i = 0; i < 1000; i++) {	/* 10 s */
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			bool busy;

			roudi_pid = -1;
			log_reason(log, line, sizeof(line));
			busy = strstr(line, "acquire lock") != NULL;
			snprintf(why, cap, "iox-roudi %s at start: %.120s",
			         WIFSIGNALED(status) ? "aborted" : "exited", line);
			iox_stop();
			/* Another RouDi (another suite) holds the machine-wide lock. */
			return busy ? -EBUSY : -ECHILD;
		}
		f = fopen(log, "r");
		if (f) {
			bool ready = false;
			while (fgets(line, sizeof(line), f)) {
				note_segments(line);
				ready |= strstr(line, "RouDi is ready") != NULL;
			}
			fclose(f);
			if (ready)
				return 0;
		}
		usleep(10000);
	}
	snprintf(why, cap, "iox-roudi did not become ready in 10 s");
	iox_stop();
	return -ETIMEDOUT;
}

/* ---- The transport ------------------------------------------------------- */

struct iox_state {
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_ws_storage_t ws_storage;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
	char event[32];
};

static struct iox_state st;
static int run_no;

static int iox_prepare(struct xport *x)
{
	run_no++;
	if (roudi_pid <= 0) {
		snprintf(x->note, sizeof(x->note), "RouDi is not running");
		return -ENOENT;
	}
	return 0;
}

static int iox_open(struct xport *x, int side)
{
	char name[64];
	double t0 = bh_now_ns();

	x->side = side;
	x->priv = &st;
	/* The run gets a fresh event name so a late chunk of a previous run
	 * can never arrive here. */
	snprintf(st.event, sizeof(st.event), "m%zu_%d_%d", x->msg, (int)getppid(),
	         run_no);
	snprintf(name, sizeof(name), "mobjbench_%s_%d", side ? "sub" : "pub",
	         (int)getpid());
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(name);
	if (side == 0) {
		iox_pub_options_t o;

		iox_pub_options_init(&o);
		o.historyCapacity = 0;
		o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
		st.pub = iox_pub_init(&st.pub_storage, "mobj", "bench", st.event, &o);
		while (!iox_pub_has_subscribers(st.pub)) {
			if (bh_now_ns() - t0 > 10e9)
				return -ETIMEDOUT;
			usleep(1000);
		}
	} else {
		iox_sub_options_t o;

		iox_sub_options_init(&o);
		/* Room for the queue plus what both sides hold, in the pool for
		 * this size (see roudi_config). */
		o.queueCapacity = x->msg > 65536 ? 16 : 256;
		o.historyRequest = 0;
		o.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
		st.sub = iox_sub_init(&st.sub_storage, "mobj", "bench", st.event, &o);
		st.ws = iox_ws_init(&st.ws_storage);
		if (iox_ws_attach_subscriber_state(st.ws, st.sub, SubscriberState_HAS_DATA,
		                                   0, NULL) != WaitSetResult_SUCCESS)
			return -EIO;
		while (iox_sub_get_subscription_state(st.sub) != SubscribeState_SUBSCRIBED) {
			if (bh_now_ns() - t0 > 10e9)
				return -ETIMEDOUT;
			usleep(1000);
		}
	}
	return 0;
}

static int iox_send(struct xport *x, const void *src)
{
	void *chunk;
	enum iox_AllocationResult r;

	while ((r = iox_pub_loan_chunk(st.pub, &chunk, (uint32_t)x->msg)) !=
	       AllocationResult_SUCCESS) {
		if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS &&
		    r != AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL)
			return -ENOMEM;
		bh_relax();
	}
	memcpy(chunk, src, x->msg);
	iox_pub_publish_chunk(st.pub, chunk);
	return 0;
}

/* Take the next chunk, polling @spins more times before each WaitSet
 * sleep. */
static int iox_take(const void **p, int spins)
{
	for (;;) {
		iox_notification_info_t info[2];
		uint64_t missed;

		for (int i = 0; i <= spins; i++) {
			enum iox_ChunkReceiveResult r = iox_sub_take_chunk(st.sub, p);

			if (r == ChunkReceiveResult_SUCCESS)
				return 0;
			if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
				return -EIO;
			if (i < spins)
				bh_relax();
		}
		iox_ws_wait(st.ws, info, 2, &missed);
	}
}

static int iox_recv_with(struct xport *x, uint64_t *first, uint64_t *sum, int spins)
{
	const void *p;
	int rc = iox_take(&p, spins);

	if (rc < 0)
		return rc;
	memcpy(first, p, sizeof(*first));
	*sum += bh_sum(p, x->msg);
	iox_sub_release_chunk(st.sub, p);
	return 0;
}

static int iox_recv(struct xport *x, uint64_t *first, uint64_t *sum)
{
	return iox_recv_with(x, first, sum, MOBJ_RING_SPINS);
}

static int iox_recv_block(struct xport *x, uint64_t *first, uint64_t *sum)
{
	return iox_recv_with(x, first, sum, 0);
}

static void iox_close(struct xport *x)
{
	if (x->side == 0) {
		iox_pub_deinit(st.pub);
	} else {
		iox_ws_detach_subscriber_state(st.ws, st.sub, SubscriberState_HAS_DATA);
		iox_ws_deinit(st.ws);
		iox_sub_deinit(st.sub);
	}
	iox_runtime_shutdown();
}

/* The two differ only in how the subscriber waits. */
#define IOX_OPS(impl, recv_fn) { .name = impl, .prepare = iox_prepare, \
	.open = iox_open, .send = iox_send, .recv = recv_fn, .close = iox_close }

const struct xport_ops xport_iceoryx = IOX_OPS("iceoryx", iox_recv);
const struct xport_ops xport_iceoryx_block = IOX_OPS("iceoryx-block", iox_recv_block);
