#!/bin/sh
# Run the benchmark suite from the repository root, after a build:
#   tools/bench.sh [mobj-bench options]      e.g. --quick, --filter ring.
#   tools/bench.sh --publish [options]       the full suite, then
#       bench/results-md.py --publish: bench/results/ and the tables in
#       bench/README.md come from this run (the prose around them is kept)
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
publish=
if [ "${1:-}" = --publish ]; then
	publish=1
	shift
fi
out=$build/bench-results
json=$out/results.jsonl
for a in "$@"; do
	case $a in
	--json|--json=*)
		[ -z "$publish" ] || { echo "tools/bench.sh: --publish writes $json itself" >&2; exit 2; }
		json= ;;
	--quick|--filter|--filter=*)
		[ -z "$publish" ] || { echo "tools/bench.sh: --publish needs the full suite" >&2; exit 2; } ;;
	esac
done
if [ -n "$json" ]; then
	set -- "$@" --json "$json"
fi
mkdir -p "$out"
rm -f "$out"/*.png
rc=0
"$exe" "$@" >"$out/table.txt" || rc=$?
cat "$out/table.txt"
if [ -n "$publish" ] && [ "$rc" -eq 0 ]; then
	python3 bench/results-md.py --publish "$out" || rc=$?
fi
exit $rc
