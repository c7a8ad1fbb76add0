/*
 * The mobj tool: `mobj info` run on this test process finds the objects it
 * created (handles, sizes, access, seals, mappings, mirrors, objects mapped
 * after their handle was closed), and usage errors exit 2.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mobj/mobj.h"
#ifdef __linux__
#include "mobj/linux.h"
#endif
#include "testutil.h"

#define RW (MOBJ_PROT_READ | MOBJ_PROT_WRITE)

static const char *tool(void)
{
	const char *t = getenv("MOBJ_TOOL");

	assert_non_null(t);
	return t;
}

/* Runs the tool with @args; its stdout+stderr into @buf; the exit code. */
static int run(const char *args, char *buf, size_t cap)
{
	char cmd[512];
	size_t n = 0, r;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", tool(), args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n + 1 < cap && (r = fread(buf + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	buf[n] = 0;
	st = pclose(p);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

#ifdef __linux__
/* `mobj info` reads /proc (tools/mobj/info_linux.c); elsewhere it says it is not
 * implemented, which test_info_not_implemented checks. */

/* The line of the output that starts with "  fd N:". */
static const char *fd_line(const char *out, int fd, char *line, size_t cap)
{
	char key[32];
	const char *s, *e;

	snprintf(key, sizeof(key), "  fd %d: ", fd);
	s = strstr(out, key);
	if (!s)
		return NULL;
	e = strchr(s, '\n');
	snprintf(line, cap, "%.*s", (int)(e ? e - s : (ptrdiff_t)strlen(s)), s);
	return line;
}

static void test_info_own_process(void **state)
{
	struct tu_res r = tu_res_now();
	static char out[1 << 16];
	char args[64], line[512], want[128];
	struct mobj *rw, *frozen, *ro, *mir, *gone;
	struct stat st;
	void *p, *m, *g;
	size_t ps = mobj_page_size();

	(void)state;
	assert_int_equal(mobj_create_labeled(3 * ps, 0, "rw-3", &rw), 0);
	assert_int_equal(mobj_map(rw, ps, ps, RW, &p), 0);
	assert_int_equal(mobj_create(1 << 20, 0, &frozen), 0);
	assert_int_equal(mobj_readonly(frozen, &ro), 0);
	assert_int_equal(mobj_create(4 * ps, 0, &mir), 0);
	assert_int_equal(mobj_map_mirror(mir, RW, &m), 0);
	assert_int_equal(mobj_create_labeled(2 * ps, 0, "gone:frame-7", &gone), 0);
	assert_int_equal(mobj_map(gone, 0, 2 * ps, MOBJ_PROT_READ, &g), 0);
	assert_int_equal(fstat(mobj_fd(gone), &st), 0);
	mobj_close(gone);

	snprintf(args, sizeof(args), "info %d", (int)getpid());
	assert_int_equal(run(args, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "process %d: 4 mobj handles", (int)getpid());
	assert_non_null(strstr(out, want));

	/* A writable object, mapped at one page of offset. */
	assert_non_null(fd_line(out, mobj_fd(rw), line, sizeof(line)));
	assert_non_null(strstr(line, ": label rw-3, inode "));
	snprintf(want, sizeof(want), "size %zu KiB, read-write, seals shrink,grow\n", 3 * ps / 1024);
	assert_non_null(strstr(strstr(out, line), want));
	snprintf(want, sizeof(want), "    mapped %p-0x%lx rw-s offset %zu (%zu bytes)",
	         p, (unsigned long)((char *)p + ps), ps, ps);
	assert_non_null(strstr(out, want));

	/* A frozen object and its read-only handle: the same inode. */
	assert_non_null(fd_line(out, mobj_fd(frozen), line, sizeof(line)));
	assert_non_null(strstr(line, "size 1 MiB, read-write, seals seal,shrink,grow,future-write (frozen)"));
	assert_non_null(fd_line(out, mobj_fd(ro), line, sizeof(line)));
	assert_non_null(strstr(line, "size 1 MiB, read-only, seals seal,shrink,grow,future-write (frozen)"));
	snprintf(want, sizeof(want), "    same object as fd %d",
	         mobj_fd(frozen) < mobj_fd(ro) ? mobj_fd(frozen) : mobj_fd(ro));
	assert_non_null(strstr(out, want));

	/* A mirror: one line, two copies. */
	snprintf(want, sizeof(want), "    mapped %p-0x%lx rw-s mirror (2 x %zu bytes)",
	         m, (unsigned long)((char *)m + 8 * ps), 4 * ps);
	assert_non_null(strstr(out, want));

	/* Mapped, handle closed. */
	assert_non_null(strstr(out, "mapped without a handle:\n"));
	/* Size and seals only where /proc/PID/map_files may be opened. */
	snprintf(want, sizeof(want), "  inode %llu: label gone:frame-7, size %zu KiB, seals shrink,grow\n",
	         (unsigned long long)st.st_ino, 2 * ps / 1024);
	snprintf(line, sizeof(line), "  inode %llu: label gone:frame-7, size ?, seals ?\n",
	         (unsigned long long)st.st_ino);
	assert_true(strstr(out, want) || strstr(out, line));
	snprintf(want, sizeof(want), "    mapped %p-0x%lx r--s offset 0 (%zu bytes)",
	         g, (unsigned long)((char *)g + 2 * ps), 2 * ps);
	assert_non_null(strstr(out, want));

	assert_int_equal(mobj_unmap(g, 2 * ps), 0);
	assert_int_equal(mobj_unmap(m, 8 * ps), 0);
	assert_int_equal(mobj_unmap(p, ps), 0);
	mobj_close(mir);
	mobj_close(ro);
	mobj_close(frozen);
	mobj_close(rw);
	assert_int_equal(run(args, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "process %d: 0 mobj handles\n", (int)getpid());
	assert_string_equal(out, want);
	tu_res_check(r);
}

/* A child that runs @fn, hands the parent its int result in *@val and
 * stays until the parent closes *@hold, then runs @done and exits with
 * @fn's result. */
struct held {
	int (*fn)(void *arg, int *val);
	void (*done)(void *arg);
	void *arg;
};

static pid_t hold_child(const struct held *h, int *val, int *hold)
{
	int ready[2], wait_on[2], rc;
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(wait_on), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(wait_on[1]);
		rc = h->fn(h->arg, val);
		if (write(ready[1], val, sizeof(*val)) != sizeof(*val))
			_exit(2);
		(void)!read(wait_on[0], &c, 1); /* until the parent is done */
		if (h->done)
			h->done(h->arg);
		_exit(rc);
	}
	close(ready[1]);
	close(wait_on[0]);
	assert_int_equal(read(ready[0], val, sizeof(*val)), sizeof(*val));
	close(ready[0]);
	*hold = wait_on[1];
	return pid;
}

static int hold_frozen(void *arg, int *fd)
{
	struct mobj *o, *ro;
	void *p;

	(void)arg;
	if (mobj_create(5 * mobj_page_size(), 0, &o) < 0 ||
	    mobj_map(o, 0, 5 * mobj_page_size(), RW, &p) < 0 ||
	    mobj_readonly(o, &ro) < 0)
		return 1;
	*fd = mobj_fd(ro);
	return 0;
}

/* Another process: its descriptors are reached through /proc/PID/fd. */
static void test_info_other_process(void **state)
{
	struct tu_res r = tu_res_now();
	static const struct held h = { hold_frozen, NULL, NULL };
	static char out[1 << 14];
	char args[64], want[128];
	int hold, fd = -1;
	pid_t pid;

	(void)state;
	pid = hold_child(&h, &fd, &hold);
	snprintf(args, sizeof(args), "info %d", (int)pid);
	assert_int_equal(run(args, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "process %d: 2 mobj handles\n", (int)pid);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "  fd %d: ", fd);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "size %zu KiB, read-only, seals "
	         "seal,shrink,grow,future-write (frozen)", 5 * mobj_page_size() / 1024);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "rw-s offset 0"));
	close(hold);
	assert_int_equal(tu_wait(pid), 0);
	tu_res_check(r);
}

/* A 1:N ring's pages: the producer's (1:N, its tail) and each consumer's
 * (its head), read-only where the producer maps them. */
static void test_info_ring_consumers(void **state)
{
	struct tu_res r = tu_res_now();
	static char out[1 << 16];
	struct mobj_ring *p, *c[2];
	char args[64], want[128], buf[8];
	const char *s;
	int i, n = 0;

	(void)state;
	assert_int_equal(mobj_ring_create_multi(4096, 2, MOBJ_RING_OVERWRITE,
	                                        &p), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(mobj_ring_consumer(p, &c[i]), 0);
	assert_int_equal(mobj_ring_write(p, "abc", 3, 0), 3);
	assert_int_equal(mobj_ring_read(c[0], buf, sizeof(buf), 0), 3);
	snprintf(args, sizeof(args), "info %d", (int)getpid());
	assert_int_equal(run(args, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "ring producer page: capacity %zu, tail 3, "
	         "1:N, overwrite\n", mobj_ring_capacity(p));
	assert_non_null(strstr(out, want));
	/* Each consumer page: mapped by its consumer and by the producer. */
	snprintf(want, sizeof(want), "r--s offset 0 (%zu bytes)\n    ring "
	         "consumer page: capacity %zu, head 3\n", mobj_page_size(),
	         mobj_ring_capacity(p));
	assert_non_null(strstr(out, want));
	for (s = out; (s = strstr(s, "ring consumer page:")); s++)
		n++;
	assert_int_equal(n, 4);
	for (i = 0; i < 2; i++)
		mobj_ring_close(c[i]);
	mobj_ring_close(p);
	tu_res_check(r);
}

/* A process maps a file whose path it chose: over 511 bytes (the tool's
 * old line buffer), with a forged maps line from byte 511 of its line on,
 * whose permissions field is a terminal escape and whose name is a mobj
 * object's. The tool must see one mapping of a plain file (not listed),
 * never the invented one, and print no byte it has not validated. */
#define FORGED "7f0000000000-7f0000002000 \x1b[1A 00000000 00:01 424242 "
#define FORGED_FILE "memfd:mobj (deleted)"

struct crafted {
	char base[64];
	char path[1024];
	int ndirs;
	char dirs[8][1024];
};

/* The line of /proc/self/maps that maps @addr, or "". */
static void maps_line(void *addr, char *line, size_t cap)
{
	char key[32], *l = NULL;
	size_t n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	line[0] = 0;
	if (!f)
		return;
	snprintf(key, sizeof(key), "%lx-", (unsigned long)addr);
	while (getline(&l, &n, f) > 0)
		if (strncmp(l, key, strlen(key)) == 0)
			snprintf(line, cap, "%s", l);
	free(l);
	fclose(f);
}

/* In the child: map a file, then rename it so that its maps line carries
 * FORGED at byte 511. 0, or the step that failed. */
static int craft(struct crafted *c, void **addr)
{
	char line[2048], tmp[1100], *path_at;
	size_t cur, target;
	int fd;

	snprintf(c->base, sizeof(c->base), "/tmp/mobj-tool-%d", (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s/f", c->base);
	if (mkdir(c->base, 0700) < 0)
		return 10;
	fd = open(tmp, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return 11;
	*addr = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (*addr == MAP_FAILED)
		return 12;
	maps_line(*addr, line, sizeof(line));
	path_at = strchr(line, '/');
	if (!path_at)
		return 13;
	/* The path starts at the same column whatever it is. */
	target = 511 - (size_t)(path_at - line);
	snprintf(c->path, sizeof(c->path), "%s", c->base);
	cur = strlen(c->path);
	c->ndirs = 0;
	while (target - cur > 200) {
		snprintf(c->path + cur, sizeof(c->path) - cur, "/%0150d", 0);
		cur += 151;
		snprintf(c->dirs[c->ndirs++], sizeof(c->dirs[0]), "%s", c->path);
		if (mkdir(c->path, 0700) < 0)
			return 14;
	}
	c->path[cur++] = '/';
	while (cur < target)
		c->path[cur++] = 'b';
	snprintf(c->path + cur, sizeof(c->path) - cur, "%s", FORGED);
	snprintf(c->dirs[c->ndirs++], sizeof(c->dirs[0]), "%s", c->path);
	if (mkdir(c->path, 0700) < 0)
		return 15;
	strcat(c->path, "/" FORGED_FILE);
	if (rename(tmp, c->path) < 0)
		return 16;
	maps_line(*addr, line, sizeof(line));
	if (strlen(line) < 520 || strncmp(line + 511, FORGED, strlen(FORGED)) != 0)
		return 17;
	/* And an object whose label (any memfd name) is a terminal escape,
	 * held until the child exits. */
	if (memfd_create("mobj:\x1b[31mred", MFD_CLOEXEC) < 0)
		return 18;
	return 0;
}

static void uncraft(struct crafted *c)
{
	unlink(c->path);
	while (c->ndirs > 0)
		rmdir(c->dirs[--c->ndirs]);
	rmdir(c->base);
}

static struct crafted crafted;

static int hold_crafted(void *arg, int *rc)
{
	void *addr;

	(void)arg;
	*rc = craft(&crafted, &addr);
	return *rc;
}

static void drop_crafted(void *arg)
{
	(void)arg;
	uncraft(&crafted);
}

static void test_info_crafted_maps_path(void **state)
{
	struct tu_res r = tu_res_now();
	static const struct held h = { hold_crafted, drop_crafted, NULL };
	static char out[1 << 16];
	char args[64];
	int hold, rc = -1;
	pid_t pid;
	size_t i;

	(void)state;
	pid = hold_child(&h, &rc, &hold);
	if (rc == 0) {
		snprintf(args, sizeof(args), "info %d", (int)pid);
		assert_int_equal(run(args, out, sizeof(out)), 0);
	}
	close(hold);
	assert_int_equal(tu_wait(pid), rc);
	assert_int_equal(rc, 0);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 && out[i] != '\n')
			fail_msg("control byte 0x%02x at %zu in:\n%s", out[i], i, out);
	if (strstr(out, "7f0000000000"))
		fail_msg("an invented mapping:\n%s", out);
	if (!strstr(out, "label \\x1b[31mred, "))
		fail_msg("the label, escaped, is missing:\n%s", out);
	tu_res_check(r);
}

#else
static void test_info_not_implemented(void **state)
{
	static char out[1 << 12];
	char args[64];

	(void)state;
	snprintf(args, sizeof(args), "info %d", (int)getpid());
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "not implemented"));
}
#endif

static void test_usage_errors(void **state)
{
	static char out[1 << 14];

	(void)state;
	assert_int_equal(run("", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "missing command"));
	assert_int_equal(run("frobnicate", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "unknown command 'frobnicate'"));
	assert_int_equal(run("info", out, sizeof(out)), 2);
	assert_int_equal(run("info 1 2", out, sizeof(out)), 2);
	assert_int_equal(run("info -5", out, sizeof(out)), 2);
	assert_int_equal(run("info 12abc", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "'12abc' is not a process id"));
	assert_int_equal(run("info 99999999999", out, sizeof(out)), 2);
	assert_int_equal(run("--help", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: mobj"));
	assert_non_null(strstr(out, "exit status:"));
	if (strstr(out, "  demo ")) {
		assert_int_equal(run("demo abc", out, sizeof(out)), 2);
		assert_non_null(strstr(out, "'abc' is not a record count"));
		assert_int_equal(run("demo 0", out, sizeof(out)), 2);
		assert_int_equal(run("demo 5 6", out, sizeof(out)), 2);
	}
	assert_int_equal(run("version", out, sizeof(out)), 0);
	assert_non_null(strstr(out, MOBJ_VERSION_STRING));
}

#ifdef __linux__
static void test_info_no_process(void **state)
{
	static char out[1 << 12];
	char args[64];
	pid_t pid = fork();

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(tu_wait(pid), 0);
	/* A pid that just died and was reaped (reuse this fast is unlikely). */
	snprintf(args, sizeof(args), "info %d", (int)pid);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "no process"));
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef __linux__
		cmocka_unit_test(test_info_own_process),
		cmocka_unit_test(test_info_other_process),
		cmocka_unit_test(test_info_ring_consumers),
		cmocka_unit_test(test_info_crafted_maps_path),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_info_no_process),
#else
		cmocka_unit_test(test_info_not_implemented),
		cmocka_unit_test(test_usage_errors),
#endif
	};

	return cmocka_run_group_tests_name("tool", tests, NULL, NULL);
}
