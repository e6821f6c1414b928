#!/usr/bin/env bash
# test_keys.sh: keys as a script sees them: every file and directory has a
# version (user.quorumfs.version, the log index of its last change), the
# same on every node, that grows with each change and cannot be set;
# quorumctl get/put/rm/ls without a mount, seen through every mount and the
# other way round, with exit statuses 0/1/2; put --if-absent/--if-version
# refuse a stale write and take a current one; quorumctl wait returns on a
# change made on another node (the delay is printed, never checked); a file
# with a TTL disappears on every node.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3
m1=$(qfs_mnt 1) m2=$(qfs_mnt 2) m3=$(qfs_mnt 3)

ver() { getfattr --only-values -n user.quorumfs.version "$1" 2>/dev/null; }

# Versions.
mkdir "$m1/app"
echo one >"$m1/app/db_host"
v1=$(ver "$m1/app/db_host")
check '[[ "$v1" =~ ^[0-9]+$ ]] && [ "$v1" -gt 1 ]' "a file's version is a log index ($v1)"
for m in "$m2" "$m3"; do
	check '[ "$(ver "$m/app/db_host")" = "$v1" ]' "the same version on $m ($(ver "$m/app/db_host"))"
done
vd=$(ver "$m1/app")
check '[ "$vd" -le "$v1" ]' "the directory's version ($vd) is its last entry change"
echo two >"$m2/app/db_host"
v2=$(ver "$m1/app/db_host")
check '[ "$v2" -gt "$v1" ]' "a write on node 2 moves the version on node 1 ($v1 -> $v2)"
check '[ "$(ver "$m1/app")" = "$vd" ]' "a write to a file leaves its directory's version"
err=$(setfattr -n user.quorumfs.version -v 1 "$m1/app/db_host" 2>&1)
check '[[ "$err" == *"not permitted"* ]]' "the version cannot be set ($err)"
check '[ "$(ver "$m1/app/db_host")" = "$v2" ]' "and stays"

# Keys without a mount.
ctl() { local i=$1; shift; "$QUORUMCTL" -d "$(qfs_data "$i")" "$@"; }
check '[ "$(ctl 3 get /app/db_host)" = two ]' "get on node 3 reads what a mount wrote"
v=$(ctl 2 put /app/port 5432)
check '[ "$v" -gt "$v2" ]' "put prints the new version ($v)"
for m in "$m1" "$m2" "$m3"; do
	check '[ "$(cat "$m/app/port")" = 5432 ]' "a put value reads the same through $m"
	check '[ "$(ver "$m/app/port")" = "$v" ]' "with the version put printed, on $m"
done
printf 'a\0b\nno newline' | ctl 1 put /app/bin -
check 'cmp -s <(printf "a\0b\nno newline") <(ctl 3 get /app/bin)' "get gives the bytes put from stdin, byte for byte"
check 'cmp -s <(printf "a\0b\nno newline") "$m2/app/bin"' "and so does the mount"
ctl 1 put /deep/er/key x >/dev/null
check '[ "$(cat "$m3/deep/er/key")" = x ]' "put makes the directories on the way"
check '[ "$(ctl 2 ls /app | sort | tr "\n" " ")" = "bin db_host port " ]' "ls lists a directory"
check '[ "$(ctl 2 ls / | sort | tr "\n" " ")" = "app/ deep/ " ]' "ls marks directories with /"
ctl 1 get /app/nothing >/dev/null 2>&1; rc=$?
check '[ $rc = 1 ]' "get of a missing key exits 1 ($rc)"
ctl 1 get /app >/dev/null 2>&1; rc=$?
check '[ $rc = 2 ]' "get of a directory exits 2 ($rc)"
ctl 1 rm /app/nothing 2>/dev/null; rc=$?
check '[ $rc = 1 ]' "rm of a missing key exits 1 ($rc)"
check 'ctl 3 rm /app/bin' "rm exits 0"
check 'eventually 15 test ! -e "$m1/app/bin"' "a key removed by rm is gone from the mounts"
ctl 1 bogus 2>/dev/null; rc=$?
check '[ $rc = 2 ]' "a wrong command exits 2 ($rc)"

# Conditional writes.
vp=$(ctl 1 put /app/port 6000)
out=$(ctl 2 put --if-version "$v" /app/port 7000 2>/dev/null); rc=$?
check '[ $rc = 1 ] && [ "$out" = "$vp" ]' "--if-version with a stale version is refused and prints the current one ($rc, $out)"
check '[ "$(cat "$m3/app/port")" = 6000 ]' "and writes nothing"
out=$(ctl 2 put --if-version "$vp" /app/port 7000); rc=$?
check '[ $rc = 0 ] && [ "$out" -gt "$vp" ]' "--if-version with the current version writes ($rc, $out)"
check '[ "$(cat "$m1/app/port")" = 7000 ]' "and every mount reads it"
ctl 3 put --if-absent /app/port 8000 >/dev/null 2>&1; rc=$?
check '[ $rc = 1 ]' "--if-absent on an existing key is refused ($rc)"
check 'ctl 3 put --if-absent /app/lock me >/dev/null' "--if-absent on a new key writes"
ctl 3 put --if-version 5 /app/never x >/dev/null 2>&1; rc=$?
check '[ $rc = 1 ] && [ ! -e "$m1/app/never" ]' "--if-version on a missing key is refused ($rc)"

# Waiting for change: node 2 waits on a path of its mount, node 1 writes.
# --since the version it has now: a waiter that starts late (a slow machine) still
# sees the write, and one that starts early does not return before it.
vp=$(ver "$m2/app/port")
ctl 2 wait "$m2/app/port" --since "$vp" --timeout 20 >"$QFS_TMP/wait.out" &
wpid=$!
sleep 0.5
t0=$(date +%s%N)
echo 9000 >"$m1/app/port"
wait $wpid; rc=$?
t1=$(date +%s%N)
check '[ $rc = 0 ] && [ "$(cat "$QFS_TMP/wait.out")" = "$(ver "$m1/app/port")" ]' \
	"wait on node 2 returns the version of a write on node 1 ($rc, $(cat "$QFS_TMP/wait.out"))"
echo "figure: quorumctl wait on node 2 returned $(( (t1 - t0) / 1000000 )) ms after the write on node 1 began (includes echo and the process exit)" >&2
vd=$(ver "$m1/deep")
ctl 1 wait /deep --since "$vd" --timeout 20 >"$QFS_TMP/wait2.out" &
wpid=$!
sleep 0.3
ctl 3 put /deep/er/key y >/dev/null
wait $wpid; rc=$?
check '[ $rc = 0 ] && [ "$(cat "$QFS_TMP/wait2.out")" -gt "$vd" ]' "wait on a directory returns on a change two levels under it ($rc)"
ctl 1 wait /app/port --timeout 1 >/dev/null 2>&1; rc=$?
check '[ $rc = 1 ]' "wait exits 1 on timeout ($rc)"
out=$(ctl 3 wait /app/port --since 1 --timeout 5); rc=$?
check '[ $rc = 0 ] && [ "$out" = "$(ver "$m1/app/port")" ]' "wait --since an old version returns at once ($out)"

# TTL files: the leader removes them through the log, on every node.
echo tmp >"$m1/app/session"
err=$(setfattr -n user.quorumfs.ttl -v soon "$m1/app/session" 2>&1)
check '[[ "$err" == *"Invalid argument"* ]]' "a TTL that is not whole seconds is refused ($err)"
echo keep >"$m1/app/kept"
setfattr -n user.quorumfs.ttl -v 2 "$m2/app/session"
setfattr -n user.quorumfs.ttl -v 600 "$m2/app/kept"
check '[ "$(getfattr --only-values -n user.quorumfs.ttl "$m3/app/session")" = 2 ]' "the TTL reads back on node 3"
for m in "$m1" "$m2" "$m3"; do
	check 'eventually 15 test ! -e "$m/app/session"' "a file unwritten for its TTL is gone on $m"
done
check '[ "$(cat "$m3/app/kept")" = keep ]' "a file within its TTL stays"

# Watching: one line per change, in order, through a restart of the
# watcher's own daemon.
# From the version /app has now (its last change: the TTL's removal of session), so
# a watcher that starts late still prints every change below, and no earlier one.
va=$(ver "$m3/app")
# quorumctl itself in the background, not the ctl function: $! must be the
# watcher's PID, or the kill below ends a subshell and leaves the watch running.
"$QUORUMCTL" -d "$(qfs_data 3)" watch /app --recursive --since "$va" >"$QFS_TMP/watch.out" 2>"$QFS_TMP/watch.err" &
watch_pid=$!
sleep 0.5
ctl 1 put /app/w1 a >/dev/null
echo b >"$m1/app/w1"
mkdir "$m2/app/sub"
echo c >"$m1/app/sub/deep"
check 'eventually 10 grep -q "create /app/sub/deep" "$QFS_TMP/watch.out"' "watch prints a change two levels down"
qfs_stop 3
rm "$m1/app/w1"
qfs_start 3
check 'eventually 20 grep -q "unlink /app/w1" "$QFS_TMP/watch.out"' "watch shows the change made while its daemon was down"
echo d >>"$m2/app/sub/deep"
check 'eventually 10 sh -c "[ \$(grep -c /app/sub/deep \"$QFS_TMP/watch.out\") -ge 2 ]"' "and goes on after"
kill "$watch_pid"; wait "$watch_pid" 2>/dev/null
check '[ "$(awk "{print \$1}" "$QFS_TMP/watch.out" | sort -n -c 2>&1; echo ok)" = ok ]' "watch lines are in version order"
ops=$(awk '{print $2, $3}' "$QFS_TMP/watch.out" | grep -v "^writev\|^setattr" | tr '\n' '|')
check '[[ "$ops" == "create /app/w1|"*"mkdir /app/sub|create /app/sub/deep|"*"unlink /app/w1|"* ]]' "watch prints the changes in order ($ops)"
check 'grep -q resumed "$QFS_TMP/watch.err"' "watch says it resumed ($(tr '\n' ' ' <"$QFS_TMP/watch.err"))"
ctl 1 watch /nothing/here >/dev/null 2>&1; rc=$?
check '[ $rc = 1 ]' "watch of a missing path exits 1 ($rc)"

# poll(2): POLLIN at once, as a local file; POLLPRI on a change made on
# another node.
echo p0 >"$m1/app/polled"
eventually 15 test -e "$m2/app/polled"
python3 - "$m2/app/polled" >"$QFS_TMP/poll.out" 2>&1 <<'PY' &
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN)
print("in", bool(p.poll(0)[0][1] & select.POLLIN), flush=True)
p.register(fd, select.POLLPRI)
print("quiet", p.poll(300) == [], flush=True)
os.read(fd, 100)
print("armed", flush=True)
r = p.poll(10000)
print("woke", bool(r and r[0][1] & select.POLLPRI), time.monotonic_ns(), flush=True)
PY
ppid=$!
eventually 15 grep -q armed "$QFS_TMP/poll.out"
t0=$(python3 -c 'import time; print(time.monotonic_ns())')
echo p1 >"$m1/app/polled"
wait $ppid
check 'grep -q "in True" "$QFS_TMP/poll.out"' "poll reports POLLIN at once, as on a local file"
check 'grep -q "quiet True" "$QFS_TMP/poll.out"' "poll for POLLPRI waits while nothing changes"
check 'grep -q "woke True" "$QFS_TMP/poll.out"' "poll on node 2 wakes with POLLPRI on a write on node 1 ($(tr '\n' ' ' <"$QFS_TMP/poll.out"))"
t1=$(awk '/woke/ {print $3}' "$QFS_TMP/poll.out")
[ -n "$t1" ] && echo "figure: poll on node 2 woke $(( (t1 - t0) / 1000000 )) ms after the write on node 1 began" >&2

qfs_log "test_keys: all checks passed"
exit $((QFS_FAILS > 0))
