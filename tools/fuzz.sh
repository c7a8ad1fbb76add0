#!/bin/sh
# Build the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and
# run each for its share of SECONDS (default 60 in all), starting from the
# seed corpus in tests/fuzz/corpus/<target>/. Exits non-zero when a target
# crashes or a sanitizer reports; the input is kept in build-fuzz/artifacts/.
# Reproduce one with: build-fuzz/tests/fuzz/fuzz_<target> <file>
# Run from the repository root: tools/fuzz.sh [SECONDS]
# MOBJ_FUZZ_CC: the clang to use (default clang; on macOS it must have
# libFuzzer, which Apple's has not: tools/run passes Homebrew's). fuzz_machmsg
# runs the Darwin channel's Mach message checks on every system. On macOS
# fuzz_recv is not built (it speaks raw SOCK_SEQPACKET, Linux only).
set -eu

secs=${1:-60}
case $secs in
''|*[!0-9]*) echo "usage: tools/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac
targets="msg machmsg recv ring"
[ "$(uname -s)" = Darwin ] && targets="msg machmsg ring"
build=build-fuzz
cc=${MOBJ_FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz.sh: clang is needed for libFuzzer" >&2
	exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
	CC=$cc meson setup "$build" -Dfuzz=true -Dbenchmarks=false \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$build" -j2 $(for t in $targets; do echo tests/fuzz/fuzz_$t; done) >/dev/null

n=0
for t in $targets; do n=$((n + 1)); done
each=$((secs / n))
[ "$each" -ge 1 ] || each=1

# Sanitizer reports must stop the run, so libFuzzer records them as crashes.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export UBSAN_OPTIONS

mkdir -p "$build/artifacts"
status=0
for t in $targets; do
	work="$build/corpus/$t"
	mkdir -p "$work"
	echo "fuzz_$t: ${each}s"
	if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$each" -max_len=16384 \
		-artifact_prefix="$build/artifacts/$t-" -print_final_stats=1 \
		"$work" "tests/fuzz/corpus/$t" >"$build/fuzz_$t.log" 2>&1; then
		echo "fuzz_$t: FAILED, input in $build/artifacts/, log $build/fuzz_$t.log" >&2
		tail -40 "$build/fuzz_$t.log" >&2
		status=1
	else
		grep -E '^stat::(number_of_executed_units|new_units_added)' \
			"$build/fuzz_$t.log" | sed "s/^/fuzz_$t: /"
	fi
done
exit $status
