#!/usr/bin/env bash
# test_locks.sh: flock and fcntl locks hold across nodes. Three nodes take
# turns through one flock 15 times each and the critical sections never
# overlap; flock -n on another node fails while the lock is held; a waiter
# gives up cleanly when interrupted; the fencing token grows; SQLite works on
# one database from two nodes; the lock of a killed node goes to a waiter on
# another node once the lease has passed, and the killed node's ephemeral
# file disappears everywhere; OFD locks belong to the open file; a node without
# a majority refuses locks (ENOLCK) once its lease may have run out.
. "$(dirname "$0")/lib.sh"
QFS_SESSION_LEASE_MS=2000
qfs_cluster_start 3 || exit 1

m1=$(qfs_mnt 1) m2=$(qfs_mnt 2) m3=$(qfs_mnt 3)
declare -a BG=()
bg_cleanup() {
	local r=$? p
	for p in "${BG[@]}"; do
		pkill -KILL -P "$p" 2>/dev/null # the command flock runs, by its parent
		kill -KILL "$p" 2>/dev/null
	done
	return $r
}
trap 'bg_cleanup; qfs_cleanup' EXIT

token() { getfattr --absolute-names -n user.quorumfs.lock.token --only-values "$1" 2>/dev/null; }

# --- mutual exclusion: 3 nodes x 15 critical sections --------------------------
touch "$m1/deploy"
eventually 10 test -e "$m3/deploy" || fail "the lock file reached node 3"
log=$QFS_TMP/sections.log
t_start=$(date +%s%N)
for i in 1 2 3; do
	m=$(qfs_mnt "$i")
	(
		for k in $(seq 15); do
			flock "$m/deploy" sh -c "echo \"enter \$(date +%s%N) $i.$k\" >>'$log'; sleep 0.01; echo \"exit \$(date +%s%N) $i.$k\" >>'$log'"
		done
	) &
	BG+=($!)
done
for p in "${BG[@]}"; do wait "$p"; done
BG=()
qfs_log "45 flock sections (10 ms each) from 3 nodes took $((($(date +%s%N) - t_start) / 1000000)) ms"
# The log's lines come from inside the sections, so in a correct run they
# alternate enter/exit of the same section, with times that never go back.
bad=$(awk '
	$1 == "enter" { if (inside) { print "overlap at " $3; exit } inside = 1; who = $3; if ($2 < last) { print "time back at " $3; exit } last = $2 }
	$1 == "exit"  { if (!inside || $3 != who) { print "exit without enter at " $3; exit } inside = 0; if ($2 < last) { print "time back at " $3; exit } last = $2 }
' "$log")
check '[ -z "$bad" ]' "45 critical sections through one flock from 3 nodes never overlap ${bad:+($bad)}"
check '[ "$(grep -c ^enter "$log")" = 45 ]' "all 45 sections ran ($(grep -c ^enter "$log"))"

# --- non-blocking, interrupt, token ---------------------------------------------
# The holder holds until told to let go (a file appears), however slow the machine.
flock "$m1/deploy" sh -c "while [ ! -e '$QFS_TMP/release' ]; do sleep 0.05; done" &
BG+=($!)
eventually 15 sh -c "getfattr --absolute-names -n user.quorumfs.lock.holder --only-values '$m2/deploy' 2>/dev/null | grep -q node=1" ||
	fail "node 2 sees node 1 hold the lock"
t1=$(token "$m1/deploy")
err=$(getfattr --absolute-names -n user.quorumfs.lock.token --only-values "$m2/deploy" 2>&1)
check '[[ "$err" == *"No such attribute"* ]]' "node 2, which holds no lock there, reads no fencing token, not node 1's ($err)"
flock -n "$m2/deploy" true
check '[ $? = 1 ]' "flock -n on node 2 fails while node 1 holds the lock"
start=$(date +%s%N)
flock -w 0.5 "$m3/deploy" true
rc=$?
took=$((($(date +%s%N) - start) / 1000000))
check '[ $rc = 1 ]' "a waiter on node 3 interrupted by its timeout gives up (EINTR), after ${took} ms"
holder=$(getfattr --absolute-names -n user.quorumfs.lock.holder --only-values "$m3/deploy" 2>/dev/null)
check '[[ "$holder" == node=1* ]]' "the holder is node 1 ($holder)"
(
	flock "$m2/deploy" true
	echo $? >"$QFS_TMP/blocked.rc"
) &
BG+=($!)
sleep 0.3
check '[ ! -e "$QFS_TMP/blocked.rc" ]' "a flock on node 2 waits while node 1 holds the lock"
touch "$QFS_TMP/release"
eventually 20 test -s "$QFS_TMP/blocked.rc"
check '[ "$(cat "$QFS_TMP/blocked.rc" 2>/dev/null)" = 0 ]' "the waiting flock on node 2 gets the lock when node 1 releases it"
flock "$m2/deploy" sh -c "getfattr --absolute-names -n user.quorumfs.lock.token --only-values '$m2/deploy' >'$QFS_TMP/t2'"
t2=$(cat "$QFS_TMP/t2")
check '[ -n "$t1" ] && [ -n "$t2" ] && [ "$t2" -gt "$t1" ]' "fencing tokens grow ($t1, then $t2)"
for p in "${BG[@]}"; do wait "$p"; done
BG=()
# (RELEASE, which ends a flock lock, comes after close(2) returned: a moment.)
check 'eventually 15 flock -n "$m3/deploy" true' "nothing left held: flock -n on node 3 succeeds"

# fcntl locks (python, where there is one): F_SETLK conflict and F_GETLK.
if command -v python3 >/dev/null; then
	flock "$m1/deploy" true # keep flock and fcntl apart: fcntl on another file
	touch "$m1/rec"
	eventually 10 test -e "$m2/rec"
	python3 -c "
import fcntl, time, sys, os
f = open('$m1/rec', 'r+')
fcntl.lockf(f, fcntl.LOCK_EX, 10, 0)
open('$QFS_TMP/rec.held', 'w').close()
while not os.path.exists('$QFS_TMP/rec.release'):
    time.sleep(0.05)" &
	BG+=($!)
	eventually 10 test -e "$QFS_TMP/rec.held"
	out=$(python3 -c "
import fcntl, struct, errno
f = open('$m2/rec', 'r+')
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 2)
    print('granted')
except OSError as e:
    print(errno.errorcode[e.errno])
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 20)
print('disjoint')
r = fcntl.fcntl(f, fcntl.F_GETLK, struct.pack('hhqqixxxx', fcntl.F_WRLCK, 0, 0, 5, 0))
t, w, s, l, p = struct.unpack('hhqqixxxx', r)
print('getlk', 'write' if t == fcntl.F_WRLCK else t, s, l, p)")
	touch "$QFS_TMP/rec.release"
	check '[[ "$out" == EAGAIN*disjoint*"getlk write 0 10 0"* ]]' "fcntl: an overlapping range fails with EAGAIN, a disjoint one is granted, F_GETLK shows the remote holder with pid 0 ($(echo $out))"
	for p in "${BG[@]}"; do wait "$p"; done
	BG=()
	# OFD locks (F_OFD_SETLK): owned by the open file, not the process.
	out=$(python3 -c "
import fcntl, struct, errno, os
lk = lambda t, s, l: struct.pack('hhqqixxxx', t, 0, s, l, 0)
a = os.open('$m1/rec', os.O_RDWR)
b = os.open('$m1/rec', os.O_RDWR)
c = os.open('$m3/rec', os.O_RDWR)
fcntl.fcntl(a, fcntl.F_OFD_SETLK, lk(fcntl.F_WRLCK, 0, 10))
res = []
for fd in (b, c):
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lk(fcntl.F_WRLCK, 5, 1))
        res.append('granted')
    except OSError as e:
        res.append(errno.errorcode[e.errno])
os.close(a)
# The last close releases the lock, but the kernel sends RELEASE after close(2)
# returned: wait for it (F_OFD_SETLKW), bounded by an alarm.
import signal
signal.alarm(10)
fcntl.fcntl(c, fcntl.F_OFD_SETLKW, lk(fcntl.F_WRLCK, 5, 1))
res.append('after-close')
print(' '.join(res))")
	check '[ "$out" = "EAGAIN EAGAIN after-close" ]' "OFD locks: another open file on the same node and one on node 3 are refused; the close releases ($out)"
fi

# An uncontended lock and unlock on a follower, for the record (not a check).
f=$(qfs_mnt "$( [ "$(qfs_leader)" = 2 ] && echo 3 || echo 2)")
t_start=$(date +%s%N)
for k in $(seq 50); do flock -n "$f/deploy" true; done
qfs_log "50 uncontended flock -n on a follower: $((($(date +%s%N) - t_start) / 50000)) us each (process start included)"

# --- SQLite from two nodes at once ----------------------------------------------
if command -v sqlite3 >/dev/null; then
	t_start=$(date +%s%N)
	sqlite3 "$m1/app.db" 'create table t(node integer, n integer);' || fail "create the table"
	eventually 10 test -s "$m2/app.db"
	for i in 1 2; do
		m=$(qfs_mnt "$i")
		(
			for k in $(seq 40); do
				sqlite3 -cmd '.timeout 20000' "$m/app.db" "insert into t values($i, $k);" ||
					echo "insert $i.$k failed" >>"$QFS_TMP/sqlite.err"
			done
		) &
		BG+=($!)
	done
	for p in "${BG[@]}"; do wait "$p"; done
	BG=()
	qfs_log "80 SQLite inserts from 2 nodes at once took $((($(date +%s%N) - t_start) / 1000000)) ms"
	check '[ ! -s "$QFS_TMP/sqlite.err" ]' "every insert succeeded $(head -3 "$QFS_TMP/sqlite.err" 2>/dev/null)"
	rows=$(sqlite3 "$m3/app.db" 'select count(*), count(distinct node*100+n) from t;')
	check '[ "$rows" = "80|80" ]' "all 80 rows are there, read on node 3 ($rows)"
	ic=$(sqlite3 "$m2/app.db" 'pragma integrity_check;')
	check '[ "$ic" = ok ]' "PRAGMA integrity_check: $ic"
else
	qfs_log "skip: no sqlite3"
fi

# --- a killed holder's lock goes to a waiter after the lease; ephemeral files ----
touch "$m3/eph" "$m3/stays"
setfattr -n user.quorumfs.ephemeral -v 1 "$m3/eph" || fail "setfattr user.quorumfs.ephemeral"
check '[ "$(getfattr --absolute-names -n user.quorumfs.ephemeral --only-values "$m1/eph" 2>/dev/null)" = 1 ]' "node 1 sees the file marked ephemeral"
flock "$m3/deploy" sleep 60 &
holder_pid=$!
BG+=($holder_pid)
eventually 15 sh -c "getfattr --absolute-names -n user.quorumfs.lock.holder --only-values '$m1/deploy' 2>/dev/null | grep -q node=3" ||
	fail "node 3 holds the lock"
flock "$m1/deploy" sh -c "date +%s%N >'$QFS_TMP/got'" &
waiter=$!
BG+=($waiter)
sleep 0.3
check '[ ! -e "$QFS_TMP/got" ]' "the waiter on node 1 waits while node 3 holds the lock"
killed=$(date +%s%N)
qfs_kill 3
qfs_log "node 3 killed with the lock held"
if eventually 20 test -s "$QFS_TMP/got"; then
	ms=$((($(cat "$QFS_TMP/got") - killed) / 1000000))
	qfs_log "the waiter on node 1 got the lock ${ms} ms after node 3 was killed (lease 2000 ms)"
	check '[ $ms -ge 500 ]' "not before node 3's lease could have run out (${ms} ms)"
else
	fail "the waiter on node 1 got the lock after node 3 was killed"
fi
check 'eventually 10 sh -c "[ ! -e \"$m1/eph\" ] && [ ! -e \"$m2/eph\" ]"' "node 3's ephemeral file is gone on nodes 1 and 2"
check '[ -e "$m1/stays" ] && [ -e "$m2/stays" ]' "its other file stays"
pkill -KILL -P "$holder_pid" 2>/dev/null
kill -KILL "$holder_pid" 2>/dev/null
qfs_start 3
check 'eventually 20 sh -c "[ -e \"$m3/stays\" ] && [ ! -e \"$m3/eph\" ]"' "restarted node 3 does not have it either"
check 'eventually 10 flock -n "$m3/deploy" true' "node 3 takes the lock again after its restart"

# --- a node without a majority stops granting once its lease may have run out ---
exec 5<"$m3/deploy" # opened while a path walk still works (it needs a quorum)
kill -STOP "${QFS_PID[1]}" "${QFS_PID[2]}"
qfs_log "nodes 1 and 2 stopped; node 3 alone"
sleep 2.5 # the lease (2000 ms) since node 3's last keepalive has surely passed
start=$(date +%s%N)
err=$(flock -n 5 2>&1)
took=$((($(date +%s%N) - start) / 1000000))
check '[[ "$err" == *"No locks available"* ]]' "node 3 without a majority refuses a lock with ENOLCK ($err), after ${took} ms"
kill -CONT "${QFS_PID[1]}" "${QFS_PID[2]}"
exec 5<&-
check 'eventually 20 flock -n "$m3/deploy" true' "node 3 grants again once the others are back"

[ $QFS_FAILS -eq 0 ]
