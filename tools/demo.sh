#!/bin/sh
# tools/demo.sh [RECORDS]: build the mobj tool and run `mobj demo`, the
# two-process demonstration (records through a mirrored ring, then a
# read-only view whose every write attempt is refused). Runs from the
# repository root; uses build/ (configured here if it does not exist yet).
# Exit status: that of `mobj demo` (0 ok, 1 a check failed, 2 usage).
set -eu
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
	meson setup build -Dwerror=true >/dev/null
fi
# Only the tool: the demo does not need the rest of the tree.
ninja -C build tools/mobj/mobj >/dev/null
exec build/tools/mobj/mobj demo "$@"
