/*
 * Linux asymmetric barrier for the ring (the design block in ring.c): a
 * side publishes its index with a plain release store and no fence, and a
 * side about to sleep pays instead, with membarrier(MEMBARRIER_CMD_
 * GLOBAL_EXPEDITED). That command makes every CPU currently running a
 * thread of a process registered with MEMBARRIER_CMD_REGISTER_GLOBAL_
 * EXPEDITED execute a full barrier before it returns (an IPI), and a
 * registered thread that is not running gets one from the scheduler at its
 * next switch (kernel/sched/membarrier.c, membarrier_global_expedited()).
 * The PRIVATE commands would reach only threads sharing our mm, and a
 * ring's peer is usually another process; the non-expedited GLOBAL command
 * is synchronize_rcu(), milliseconds. Measured here: 0.2 us with no
 * registered process running elsewhere, 1 to 4 us with one spinning on
 * the other core, paid once per sleep (a futex sleep is already a system
 * call and a context switch).
 *
 * A fork()ed child starts unregistered (mm_init() clears membarrier_state),
 * so a child registers again (pthread_atfork); should that fail, its peer's
 * sleeps may last one slice too long, nothing worse (ring.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/membarrier.h>

#include "../internal.h"

static atomic_bool light;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static long membarrier(int cmd)
{
#ifdef SYS_membarrier
	return syscall(SYS_membarrier, cmd, 0, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static bool try_register(void)
{
	long cmds = membarrier(MEMBARRIER_CMD_QUERY);

	return cmds >= 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	       (cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) &&
	       membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0 &&
	       membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}

static void after_fork(void)
{
	if (atomic_load(&light) && !try_register())
		atomic_store(&light, false);
}

static void init_once(void)
{
	if (try_register()) {
		atomic_store(&light, true);
		pthread_atfork(NULL, NULL, after_fork);
	}
}

bool mobj__os_barrier_light(void)
{
	pthread_once(&once, init_once);
	return atomic_load(&light);
}

void mobj__os_barrier_heavy(void)
{
	/* Cannot fail once the query said the command exists; should it, the
	 * fence below keeps our own side ordered and the sliced sleep bounds
	 * the cost of a missed wake-up. */
	if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0)
		atomic_thread_fence(memory_order_seq_cst);
}
