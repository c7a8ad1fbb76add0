/*
 * mobj-bench: what a mirror, a read-only view, a handle transfer and a ring
 * cost on this machine, against what one would use instead. See harness.h
 * and the "Benchmarks" section of docs/DESIGN.md.
 */
#include <stdio.h>

#include "harness.h"

int main(int argc, char **argv)
{
	bh_init(argc, argv);
	bh_probe_placement();
	bench_map();
	bench_transfer();
	bench_ring();
	bench_fanout();
#ifdef HAVE_MOBJ_HEAP
	bench_heap();
#else
	if (bh_want("heap.message", "mobj-heap"))
		bh_note("heap", "heap.message", "mobj-heap", 0, "MB/s",
		        "not built: the mobj heap (jemalloc) is not in this build");
#endif
	return bh_finish();
}
