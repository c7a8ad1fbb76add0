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
	return bh_finish();
}
