/*
 * Helpers shared by the test programs: resource counting (every test that
 * touches descriptors or mappings checks that none leaked) and running a
 * function in a real child process.
 */
#ifndef MOBJ_TESTUTIL_H
#define MOBJ_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Open descriptors and mapping lines of this process right now. */
struct tu_res {
	int fds;
	int maps;
};
struct tu_res tu_res_now(void);

/* Fails the current cmocka test when descriptors or mappings differ from
 * @before. */
void tu_res_check(struct tu_res before);

/* Runs @fn(@arg) in a forked child and returns its exit status (or 128 +
 * signal number when it died of a signal). The child never returns into the
 * test runner. */
int tu_in_child(int (*fn)(void *arg), void *arg);

/* Re-executes this test binary as a helper: argv becomes
 * {self, "--helper", name, args...}. Returns the child's pid, or -1. */
pid_t tu_spawn_helper(const char *name, const char *const *args);

/* Waits for @pid; exit status or 128 + signal. */
int tu_wait(pid_t pid);

/* If argv names a helper, runs it from @table and exits; otherwise returns.
 * Call it first in main(): it also records the binary tu_spawn_helper runs. */
struct tu_helper {
	const char *name;
	int (*fn)(int argc, char **argv);
};
void tu_helper_dispatch(int argc, char **argv, const struct tu_helper *table);

/* A memfd of @size bytes with @seals added (0: none), as another program
 * might make one; fails the current test if it cannot. */
int tu_memfd(size_t size, unsigned seals);

/* Writes one byte at @p through /proc/self/mem; true if the write went
 * through. */
bool tu_poke_proc_mem(void *p, unsigned char byte);

#endif
