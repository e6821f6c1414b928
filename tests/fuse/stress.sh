#!/bin/bash
# stress.sh: eight shell workers doing random file operations on one mount
# over the fake node, for SECONDS seconds; then checks the daemon is alive
# and stops cleanly. A manual tool (not in a suite): run it with the ASan
# build's daemon to shake out races and memory errors.
# Usage: stress.sh PATH/TO/qfs-fuse-testd [SECONDS]
set -u
TESTD=${1:?usage: stress.sh qfs-fuse-testd [seconds]}
DUR=${2:-30}
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
T=$(mktemp -d /tmp/qfs-fuse-stress.XXXXXX) || exit 1
mkdir -p "$T/m" "$T/d"
"$TESTD" "$T/m" "$T/d" 2>"$T/err" &
PID=$!
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	grep -qs " $T/m " /proc/mounts && fusermount3 -u -z "$T/m" 2>/dev/null
	if kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		sleep 2
		kill -KILL "$PID" 2>/dev/null
	fi
	grep -iE "sanitizer|runtime error" "$T/err" | head
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM
for _ in $(seq 100); do grep -qs " $T/m " /proc/mounts && break; sleep 0.05; done
mkdir "$T/m/w" || exit 1

worker() {
	local M=$T/m/w end=$((SECONDS + DUR)) n=0 f g d
	while [ $SECONDS -lt $end ]; do
		f=$M/f$((RANDOM % 10)) g=$M/f$((RANDOM % 10)) d=$M/d$((RANDOM % 4))
		case $((RANDOM % 14)) in
		0) echo "$1 $n" >"$f" ;;
		1) cat "$f" >/dev/null ;;
		2) echo "$1 $n" >>"$f" ;;
		3) mv "$f" "$g" ;;
		4) rm -f "$f" ;;
		5) : >"$f" ;;
		6) mkdir -p "$d/x" && cp -r "$d" "$M/copy$1" ;;
		7) rm -rf "$d" ;;
		8) ls -l "$M" >/dev/null ;;
		9) head -c $((RANDOM * 20)) /dev/urandom >"$f" ;;
		10) truncate -s $((RANDOM)) "$f" ;;
		11) mv "$d" "$M/d$((RANDOM % 4))" ;;
		12) python3 -c "
import os
fd = os.open('$f', os.O_RDWR | os.O_TRUNC)
os.write(fd, b'x' * 262144); os.pread(fd, 10, 0); os.write(fd, b'y' * 70000)
os.fsync(fd); os.close(fd)" ;;
		13) setfattr -n user.a -v "$n" "$f" ;;
		esac 2>/dev/null
		n=$((n + 1))
	done
	echo "worker $1: $n operations"
}
for w in 1 2 3 4 5 6 7 8; do worker $w & done
wait $(jobs -p | grep -v -x "$PID")
kill -0 "$PID" 2>/dev/null || { echo "FAIL: the daemon died"; exit 1; }
kill -TERM "$PID"
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
wait "$PID"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: the daemon exited $rc"; exit 1; }
echo "passed: the daemon survived and stopped cleanly"
