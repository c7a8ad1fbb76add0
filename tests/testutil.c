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
#include <time.h>
#include <unistd.h>

#include "mobj/ring.h"
#include "testutil.h"

/* Open descriptors: /dev/fd lists them on Linux (a link to /proc/self/fd)
 * and on macOS (fdesc); without it, every descriptor number is asked. */
static int count_fds(void)
{
	DIR *d = opendir("/dev/fd");
	struct dirent *e;
	int n = 0, fd, max;

	if (d) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		return n - 1; /* the directory's own descriptor */
	}
	max = getdtablesize();
	for (fd = 0; fd < max; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

struct tu_res tu_res_now(void)
{
	struct tu_res r;

	tu__settle();
	r.fds = count_fds();
	r.maps = tu__count_maps();
	r.ports = tu__count_ports();
	return r;
}

static void res_equal(struct tu_res now, struct tu_res before)
{
	assert_int_equal(now.fds, before.fds);
	assert_int_equal(now.maps, before.maps);
	assert_int_equal(now.ports, before.ports);
}

void tu_res_check(struct tu_res before)
{
	res_equal(tu_res_now(), before);
}

bool tu_res_same(struct tu_res before, struct tu_res now)
{
	return now.fds == before.fds && now.maps == before.maps &&
	       now.ports == before.ports;
}

struct tu_res tu_res_objects(void)
{
	struct tu_res r = tu_res_now();

	r.maps = tu__count_object_maps();
	return r;
}

void tu_res_objects_check(struct tu_res before)
{
	res_equal(tu_res_objects(), before);
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

bool tu_wait_flag(volatile int *flag, int timeout_ms)
{
	int i;

	for (i = 0; i < timeout_ms / 10; i++) {
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE))
			return true;
		usleep(10000);
	}
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
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
	return self_path[0] ? self_path : tu__self_exe();
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

int tu_cannot_write(const void *addr)
{
	void *a = (void *)(uintptr_t)addr;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (mprotect(a, page, PROT_READ | PROT_WRITE) == 0)
		return 1;
	if (tu_poke_mem(a, 1))
		return 2;
	return 0;
}

uint64_t tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

pid_t tu_fork_parked_consumer(struct mobj_chan **c)
{
	struct mobj_ring *r;
	pid_t pid = tu_fork_chan(c);

	if (pid == 0) {
		if (mobj_ring_recv(*c, 10000, &r) < 0)
			_exit(10);
		alarm(20);
		for (;;)
			pause();
	}
	return pid;
}
