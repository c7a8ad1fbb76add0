#!/bin/sh
# Run the benchmark suite from the repository root, after a build:
#   tools/bench.sh [mobj-bench options]      e.g. --quick, --filter ring.
# Default: the full suite, JSON Lines to $BUILD/bench-results/results.jsonl,
# PNG plots (gnuplot) and the table (table.txt) next to it.
# BUILD selects the build folder (default: build).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
exe=$build/bench/mobj-bench
if [ ! -x "$exe" ]; then
	echo "tools/bench.sh: $exe is not built (meson setup $build && ninja -C $build)" >&2
	exit 1
fi
out=$build/bench-results
json=$out/results.jsonl
for a in "$@"; do
	case $a in
	--json|--json=*) json= ;;
	esac
done
if [ -n "$json" ]; then
	set -- "$@" --json "$json"
fi
mkdir -p "$out"
rc=0
"$exe" "$@" >"$out/table.txt" || rc=$?
cat "$out/table.txt"
exit $rc
