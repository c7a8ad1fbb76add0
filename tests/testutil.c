#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* Valgrind maps and unmaps memory of its own while the test runs; under it
 * only the mappings of memory objects are counted. */
static bool under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");

	return pre && strstr(pre, "vgpreload");
}

/* The sanitizers' allocators and shadow memory map memory of their own,
 * lazily, while a test runs: under them too only memory objects count. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TU_SANITIZER true
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TU_SANITIZER true
#endif
#endif
#ifndef TU_SANITIZER
#define TU_SANITIZER false
#endif

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	bool only_memfd = under_valgrind() || TU_SANITIZER;
	char line[4096];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!only_memfd || strstr(line, "/memfd:"))
			n++;
	fclose(f);
	return n;
}

struct tu_res tu_res_now(void)
{
	struct tu_res r;

	r.fds = count_fds();
	r.maps = count_maps();
	return r;
}

void tu_res_check(struct tu_res before)
{
	struct tu_res now = tu_res_now();

	assert_int_equal(now.fds, before.fds);
	assert_int_equal(now.maps, before.maps);
}

static int status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

int tu_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 255;
	return status_code(status);
}

int tu_in_child(int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 255;
	if (pid == 0)
		_exit(fn(arg));
	return tu_wait(pid);
}

/* The test binary, as tu_helper_dispatch saw it: under valgrind,
 * /proc/self/exe is valgrind itself, so re-execute the real path when known. */
static char self_path[4096];

static const char *self_exe(void)
{
	return self_path[0] ? self_path : "/proc/self/exe";
}

pid_t tu_spawn_helper(const char *name, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	pid_t pid;

	argv[n++] = self_exe();
	argv[n++] = "--helper";
	argv[n++] = name;
	while (args && *args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		execv(self_exe(), (char *const *)argv);
		_exit(127);
	}
	return pid;
}

void tu_helper_dispatch(int argc, char **argv, const struct tu_helper *table)
{
	if (argc > 0 && !realpath(argv[0], self_path))
		self_path[0] = '\0';
	if (argc < 3 || strcmp(argv[1], "--helper") != 0)
		return;
	for (; table && table->name; table++)
		if (strcmp(table->name, argv[2]) == 0)
			exit(table->fn(argc - 3, argv + 3));
	fprintf(stderr, "unknown helper %s\n", argv[2]);
	exit(127);
}

bool tu_poke_proc_mem(void *p, unsigned char byte)
{
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = pwrite(fd, &byte, 1, (off_t)(uintptr_t)p);
	close(fd);
	return n == 1;
}

int tu_memfd(size_t size, unsigned seals)
{
	int fd = memfd_create("tu", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}
