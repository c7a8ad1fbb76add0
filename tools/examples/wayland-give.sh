#!/bin/sh
# Run `wayland-pool give` against a real weston: headless, pixman renderer
# (it reads the pool's pixels to composite), desktop shell (kiosk-shell
# never repaints a 64x64 toplevel it configured to the output's size), in a
# fresh XDG_RUNTIME_DIR; weston is started and stopped by its pid, and the
# shell's helper clients leave with its socket.
# Usage: wayland-give.sh WESTON WAYLAND-POOL
set -u
weston=$1
client=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/mobj-weston.XXXXXX") || exit 1
chmod 700 "$dir"
sock=mobj-weston-$$
XDG_RUNTIME_DIR=$dir "$weston" --backend=headless-backend.so --use-pixman \
	--socket="$sock" --idle-time=0 \
	--log="$dir/weston.log" &
pid=$!
i=0
while [ ! -S "$dir/$sock" ] && [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if [ -S "$dir/$sock" ]; then
	XDG_RUNTIME_DIR=$dir WAYLAND_DISPLAY=$sock timeout 60 "$client" give
	rc=$?
else
	echo "wayland-give: weston did not start" >&2
	rc=1
fi
kill "$pid" 2>/dev/null
wait "$pid"
[ $rc -ne 0 ] && cat "$dir/weston.log" >&2
rm -rf "$dir"
exit $rc
