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

/* Another process: its descriptors are reached through /proc/PID/fd. */
static void test_info_other_process(void **state)
{
	struct tu_res r = tu_res_now();
	static char out[1 << 14];
	char args[64], want[128];
	int ready[2], hold[2], fd = -1;
	char c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mobj *o, *ro;
		void *p;

		close(ready[0]);
		close(hold[1]);
		if (mobj_create(5 * mobj_page_size(), 0, &o) < 0 ||
		    mobj_map(o, 0, 5 * mobj_page_size(), RW, &p) < 0 ||
		    mobj_readonly(o, &ro) < 0)
			_exit(1);
		fd = mobj_fd(ro);
		if (write(ready[1], &fd, sizeof(fd)) != sizeof(fd))
			_exit(2);
		(void)!read(hold[0], &c, 1); /* until the parent is done */
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	assert_int_equal(read(ready[0], &fd, sizeof(fd)), sizeof(fd));
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
	close(hold[1]);
	close(ready[0]);
	assert_int_equal(tu_wait(pid), 0);
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
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_info_no_process),
#else
		cmocka_unit_test(test_info_not_implemented),
		cmocka_unit_test(test_usage_errors),
#endif
	};

	return cmocka_run_group_tests_name("tool", tests, NULL, NULL);
}
