#!/bin/sh
# Build the ring with ThreadSanitizer in build-tsan/ and run its suite.
# Run from the repository root. Uses clang when it is there (gcc works too).
# TSan cannot see futex or cross-process synchronisation; the ring's
# threaded tests use only C11 atomics between threads, and the forked tests
# have no shared addresses TSan tracks, so the suite runs clean.
set -eu
dir=build-tsan
if [ ! -d "$dir" ]; then
	if command -v clang >/dev/null 2>&1; then
		CC=clang meson setup "$dir" -Dwerror=true -Db_sanitize=thread -Db_lundef=false \
			-Dbenchmarks=false
	else
		meson setup "$dir" -Dwerror=true -Db_sanitize=thread -Db_lundef=false \
			-Dbenchmarks=false
	fi
fi
ninja -C "$dir" -j2
# halt_on_error: any report fails the run, not only a crash.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
	meson test -C "$dir" --suite ring --print-errorlogs
