#!/bin/bash
# cluster.sh: three real nodes (Raft on loopback, LMDB), each with its mount,
# driven by shell tools from this process. Usage: cluster.sh PATH/TO/qfs-fuse-noded
# Exit 0: passed; 1: failed; 77: skipped (no usable /dev/fuse).
# Whatever happens, the trap resumes and stops the daemons by PID, unmounts
# and removes the temporary directories.
set -u

NODED=${1:?usage: cluster.sh qfs-fuse-noded}
MAX=1048576

if [ ! -c /dev/fuse ] || ! [ -r /dev/fuse ] || ! [ -w /dev/fuse ] ||
	! command -v fusermount3 >/dev/null; then
	echo "SKIP: /dev/fuse or fusermount3 not usable"
	exit 77
fi

TMP=$(mktemp -d /tmp/qfs-fuse-cluster.XXXXXX) || exit 1
PIDS=(0 "" "" "")
WATCHDOG=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	for i in 1 2 3; do
		p=${PIDS[$i]}
		[ -n "$p" ] && kill -CONT "$p" 2>/dev/null
	done
	for i in 1 2 3; do
		grep -qs " $TMP/m$i " /proc/mounts && { fusermount3 -u "$TMP/m$i" 2>/dev/null ||
			fusermount3 -u -z "$TMP/m$i" 2>/dev/null; }
	done
	for i in 1 2 3; do
		p=${PIDS[$i]}
		[ -n "$p" ] || continue
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for i in 1 2 3; do
		grep -qs " $TMP/m$i " /proc/mounts && fusermount3 -u -z "$TMP/m$i" 2>/dev/null
	done
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 1' INT TERM

if command -v python3 >/dev/null; then
	PORTS=$(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(",".join(str(x.getsockname()[1]) for x in s))')
else
	b=$((20000 + RANDOM % 20000))
	PORTS="$b,$((b + 1)),$((b + 2))"
fi

start() { # start I: node I with its mount at $TMP/mI
	mkdir -p "$TMP/m$1" "$TMP/d$1"
	"$NODED" "$1" "$TMP/m$1" "$TMP/d$1" "$PORTS" "$MAX" 2>>"$TMP/noded$1.err" &
	PIDS[$1]=$!
}
for i in 1 2 3; do start $i; done
for i in 1 2 3; do
	for _ in $(seq 100); do grep -qs " $TMP/m$i " /proc/mounts && break; sleep 0.05; done
	if ! grep -qs " $TMP/m$i " /proc/mounts; then
		cat "$TMP/noded$i.err"
		echo "FAIL: node $i did not mount"
		exit 1
	fi
done
(exec >/dev/null 2>&1; sleep 110; kill -TERM $$) &
WATCHDOG=$!

M1=$TMP/m1 M2=$TMP/m2 M3=$TMP/m3
# A leader first: a write succeeds once one is elected.
for _ in $(seq 100); do mkdir "$M1/ready" 2>/dev/null && break; sleep 0.1; done

. "$(dirname "${BASH_SOURCE[0]}")/assert.sh"

ok "a leader was elected (mkdir succeeded)" test -d "$M1/ready"
eq "mkdir on node 1 seen on node 3" "$(test -d "$M3/ready" && echo yes)" "yes"

# Linearizable: once the write returned on one node, a read on any node sees it.
echo 'db.example.internal' >"$M1/db_host"
eq "echo on node 1, cat on node 2 at once" "$(cat "$M2/db_host")" "db.example.internal"
eq "... and on node 3" "$(cat "$M3/db_host")" "db.example.internal"
for v in 1 2 3 4 5 6 7 8 9 10; do
	i=$(((v % 3) + 1)) j=$((((v + 1) % 3) + 1))
	echo "value $v" >"$TMP/m$i/rotating"
	got=$(cat "$TMP/m$j/rotating")
	[ "$got" == "value $v" ] || fail "write on node $i, read on node $j: got '$got'"
done
eq "10 writes, each read back at once on another node" "$failures" "0"

echo old >"$M2/swap.tmp"
echo current >"$M2/swap"
echo next >"$M3/swap.tmp"
ok "mv over a file on node 3" mv "$M3/swap.tmp" "$M3/swap"
eq "node 1 sees the renamed contents" "$(cat "$M1/swap")" "next"
ok "the temporary name is gone on node 2" test ! -e "$M2/swap.tmp"

mkdir -p "$TMP/tree"
for d in 1 2 3 4 5; do
	mkdir "$TMP/tree/d$d"
	for f in $(seq 10); do echo "$d/$f" >"$TMP/tree/d$d/f$f"; done
done
ok "cp -r of a 50-file tree on node 1" cp -r "$TMP/tree" "$M1/tree"
ok "diff -r on node 2" diff -r "$TMP/tree" "$M2/tree"
ok "mv of the directory on node 3" mv "$M3/tree" "$M3/tree2"
ok "diff -r of the moved tree on node 1" diff -r "$TMP/tree" "$M1/tree2"
ok "rm -r on node 2" rm -r "$M2/tree2"
ok "gone on node 3" test ! -e "$M3/tree2"

for i in 1 2 3; do
	(for k in $(seq 30); do echo "$i-$k" >>"$TMP/m$i/log"; done) &
done
wait $(jobs -p | grep -v "^$WATCHDOG\$" | grep -v -F -x -e "${PIDS[1]}" -e "${PIDS[2]}" -e "${PIDS[3]}") 2>/dev/null
eq ">> from three nodes: no line lost (node 1)" "$(wc -l <"$M1/log")" "90"
eq "every line whole (node 3)" "$(grep -c '^[1-3]-[0-9]*$' "$M3/log")" "90"

# `echo v > f` replaces atomically: a reader on another node never sees the
# file empty, however the two interleave.
echo v0 >"$M1/hot"
(for k in $(seq 150); do echo "v$k" >"$M1/hot"; done) &
WRITER=$!
empties=0 reads=0
while kill -0 "$WRITER" 2>/dev/null; do
	got=$(cat "$M2/hot")
	reads=$((reads + 1))
	[ -z "$got" ] && empties=$((empties + 1))
done
wait "$WRITER"
eq "echo > f on node 1 never seen empty on node 2 ($reads reads)" "$empties" "0"
(for k in $(seq 150); do echo "w$k" >"$M1/hot"; done) &
WRITER=$!
empties=0 reads=0
while kill -0 "$WRITER" 2>/dev/null; do
	got=$(cat "$M1/hot")
	reads=$((reads + 1))
	[ -z "$got" ] && empties=$((empties + 1))
done
wait "$WRITER"
eq "... nor on node 1 itself ($reads reads)" "$empties" "0"
eq "the last value" "$(cat "$M3/hot")" "w150"

echo contents >"$M1/trunc"
: >"$M1/trunc"
# Published at its RELEASE, which the kernel sends right after the close
# (docs/semantics.md, "The truncation of `: > f`"): node 1 sees it at once,
# node 2 once that commit is in.
eq ": > f on node 1: empty on node 1 as soon as it returned" "$(stat -c %s "$M1/trunc")" "0"
for _ in $(seq 50); do [ "$(stat -c %s "$M2/trunc")" = 0 ] && break; sleep 0.1; done
eq "... and on node 2 right after" "$(stat -c %s "$M2/trunc")" "0"
ok "truncate -s 2 on node 3" truncate -s 2 "$M3/trunc"
eq "size on node 1" "$(stat -c %s "$M1/trunc")" "2"

ok "setfattr on node 1" setfattr -n user.owner -v ops "$M1/db_host"
eq "getfattr on node 2" "$(getfattr -n user.owner --only-values "$M2/db_host")" "ops"
ok "chmod on node 2" chmod 640 "$M2/db_host"
eq "mode on node 3" "$(stat -c %a "$M3/db_host")" "640"
ok "ln -s on node 3" ln -s db_host "$M3/alias"
eq "readlink on node 1" "$(readlink "$M1/alias")" "db_host"

if command -v python3 >/dev/null; then
	echo before >"$M1/watched"
	eq "a reader holding the file open on node 2 sees a write from node 1" \
		"$(python3 - "$M2/watched" "$M1/watched" <<'PY'
import sys, time
f = open(sys.argv[1], 'rb')
a = f.read()
with open(sys.argv[2], 'w') as w:
    w.write('after\n')
time.sleep(0.5)
f.seek(0)
print(a.decode().strip(), '|', f.read().decode().strip())
PY
)" "before | after"
fi

fails_with "EFBIG above max_value_size" "File too large" \
	bash -c "head -c 2000000 /dev/zero >'$M2/big'"
long256=$(printf 'y%.0s' $(seq 256))
fails_with "ENAMETOOLONG" "File name too long" bash -c "echo >'$M3/$long256'"

# No quorum: node 1 alone. A change through a descriptor opened before
# fails with EROFS (at the write, or at the fsync that publishes it); anything by path fails with EIO, because the path walk
# (lookups, and getattrs for the permission checks) is made of linearizable
# reads; within the commit timeouts, and none hangs. (Nothing touches the
# stopped nodes' mounts: their daemons cannot answer.)
echo before >"$M1/nq"
if command -v python3 >/dev/null; then
	eq "no quorum: write on an open fd | echo by path | cat | within the timeouts" \
		"$(python3 - "$M1" "${PIDS[2]}" "${PIDS[3]}" <<'PY'
import errno, os, signal, sys, time
m, others = sys.argv[1], [int(p) for p in sys.argv[2:]]
def err(f):
    try:
        f()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
fd = os.open(m + '/nq', os.O_WRONLY)
for p in others:
    os.kill(p, signal.SIGSTOP)
t0 = time.time()
# EROFS if no leader took it; ETIMEDOUT if the old leader proposed it and
# could not commit it (outcome unknown): both are right. The write(2)
# fails if the node knew already; else it was gathered, and the fsync
# that publishes it fails.
w = err(lambda: os.write(fd, b'x'))
if w == 'ok':
    w = err(lambda: os.fsync(fd))
out = ['EROFS|ETIMEDOUT' if w in ('EROFS', 'ETIMEDOUT') else w]
def by_path():
    with open(m + '/nq2', 'w') as f:
        f.write('x')
out.append(err(by_path))
out.append(err(lambda: open(m + '/db_host').read()))
out.append('yes' if time.time() - t0 < 15 else 'took %.1f s' % (time.time() - t0))
for p in others:
    os.kill(p, signal.SIGCONT)
os.close(fd)
print(' | '.join(out))
PY
)" "EROFS|ETIMEDOUT | EIO | EIO | yes"
fi
kill -CONT "${PIDS[2]}" "${PIDS[3]}"
for _ in $(seq 100); do echo back >"$M1/nq" 2>/dev/null && break; sleep 0.1; done
eq "after the partition heals, writes work" "$(cat "$M3/nq")" "back"

# Stopping a daemon while a request waits for the cluster: the request is
# answered (an error), the daemon exits 0 and leaves no mount behind.
kill -STOP "${PIDS[2]}" "${PIDS[3]}"
# Python, so that an error of the open, the write, the fsync or the close
# counts (bash ignores a redirection's close); the daemon is stopped only
# once the writer waits in a FUSE request (or has its answer already): on a
# loaded machine a writer that had not reached the mount yet would write
# into the bare mount point after the unmount and find no error.
python3 - "$M1/parked" >"$TMP/parked.rc" 2>"$TMP/parked.err" <<'PY' &
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b'parked\n')
    os.fsync(fd)
    os.close(fd)
    print('ok')
except OSError as e:
    print(errno.errorcode[e.errno])
PY
BG=$!
for _ in $(seq 200); do
	grep -q fuse "/proc/$BG/wchan" 2>/dev/null && break
	kill -0 "$BG" 2>/dev/null || break
	sleep 0.05
done
kill -TERM "${PIDS[1]}"
for _ in $(seq 100); do kill -0 "${PIDS[1]}" 2>/dev/null || break; sleep 0.05; done
if kill -0 "${PIDS[1]}" 2>/dev/null; then
	fail "node 1 did not stop with a request parked"
else
	wait "${PIDS[1]}"
	eq "node 1 stops with a request parked, exit 0" "$?" "0"
	PIDS[1]=
fi
for _ in $(seq 100); do kill -0 "$BG" 2>/dev/null || break; sleep 0.05; done
wait "$BG" 2>/dev/null
parked=$(cat "$TMP/parked.rc" 2>/dev/null)
case $parked in
'' | ok) fail "the parked write was answered with an error: got '$parked'" ;;
*) ok "the parked write was answered with an error ($parked)" true ;;
esac
grep -qs " $M1 " /proc/mounts && fail "mount 1 is still there"
kill -CONT "${PIDS[2]}" "${PIDS[3]}"

for i in 2 3; do
	kill -TERM "${PIDS[$i]}"
done
for i in 2 3; do
	p=${PIDS[$i]}
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$p" 2>/dev/null; then
		fail "node $i did not stop on SIGTERM"
	else
		wait "$p"
		eq "node $i exits 0" "$?" "0"
		PIDS[$i]=
	fi
	grep -qs " $TMP/m$i " /proc/mounts && fail "mount $i is still there"
done

if [ "$failures" -ne 0 ]; then
	echo "$failures of $n checks failed"
	for i in 1 2 3; do echo "--- node $i"; tail -15 "$TMP/noded$i.err"; done
	exit 1
fi
echo "all $n checks passed"
exit 0
