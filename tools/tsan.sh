#!/bin/sh
# tools/tsan.sh: build the ring with ThreadSanitizer in build-tsan/ and run
# its test suite; exits non-zero on any failure or TSan report. Run from the
# repository root (tools/run test calls it). Uses clang when present, else
# the default compiler (gcc's TSan works too).
#
# TSan cannot see futex or cross-process synchronisation. The ring's
# threaded tests synchronise only through C11 atomics (plus pthread in the
# mobj_ring_fd helper), and in the forked tests TSan tracks no address shared
# between the processes, so the suite runs clean. The heap (jemalloc, its own
# --no-undefined shared library) and the benchmarks are not part of it.
set -eu
dir=build-tsan
if [ ! -f "$dir/build.ninja" ]; then
	cc=
	command -v clang >/dev/null 2>&1 && cc=clang
	CC=${cc:-${CC:-cc}} meson setup "$dir" -Dwerror=true \
		-Db_sanitize=thread -Db_lundef=false \
		-Dheap=disabled -Dbenchmarks=false
fi
ninja -C "$dir" -j2
# halt_on_error: any report fails the run, not only a crash.
# die_after_fork=0: the library's disposal thread (src/linux/dispose.c)
# makes every test process multi-threaded, and a forked child that closes a
# channel starts a disposal thread of its own, which glibc supports and TSan
# by default refuses.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 ${TSAN_OPTIONS:-}" \
	meson test -C "$dir" --suite ring --print-errorlogs
