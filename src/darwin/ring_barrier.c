/*
 * Darwin has no cross-process asymmetric barrier (no membarrier; the
 * FlushProcessWriteBuffers-style tricks reach one task only), so both ring
 * sides keep the seq_cst fence on every publish (ring.c, design block).
 */
#include <stdatomic.h>
#include <stdbool.h>

#include "../internal.h"

bool mobj__os_barrier_light(void)
{
	return false;
}

void mobj__os_barrier_heavy(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}
