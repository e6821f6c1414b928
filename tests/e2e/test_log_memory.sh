#!/usr/bin/env bash
# test_log_memory.sh: a node keeps only log-memory bytes of its log in
# memory (docs/operations.md, "Leadership and snapshots"). A follower that
# was away while many times that was written catches up from entries the
# leader reads back from its data directory, and a watch over that history
# sees every change. The daemons' anonymous memory is printed, not asserted.
. "$(dirname "$0")/lib.sh"
QFS_MAX_VALUE_SIZE=1M QFS_CLUSTER_EXTRA="log-memory = 1M" qfs_cluster_start 3
ctl() { local i=$1; shift; "$QUORUMCTL" -d "$(qfs_data "$i")" "$@"; }
anon() { awk '/^RssAnon/ { print $2 }' "/proc/${QFS_PID[$1]}/status"; }
leader=$(qfs_leader)
away=$((leader % 3 + 1))
m=$(qfs_mnt "$leader")
mkdir "$m/big"
v0=$(ctl "$leader" status --json | jq -r .applied)

qfs_stop "$away"
n=12 # 12 x 768 KiB = 9 MiB, nine times log-memory
for i in $(seq 1 $n); do
	head -c 786432 /dev/urandom >"$QFS_TMP/src.$i"
	cp "$QFS_TMP/src.$i" "$m/big/f$i" || fail "write f$i on the leader"
done
qfs_log "anonymous memory after $n publishes of 768 KiB: $(for i in 1 2 3; do [ -n "${QFS_PID[$i]:-}" ] && printf 'node %d %s KiB  ' "$i" "$(anon "$i")"; done)"

qfs_start "$away"
all_there() {
	local i
	for i in $(seq 1 $n); do
		cmp -s "$QFS_TMP/src.$i" "$(qfs_mnt "$away")/big/f$i" || return 1
	done
}
check 'eventually 60 all_there' "node $away, away while 9 MiB were written, has every file byte for byte"
st=$(ctl "$away" status --json)
check '[ "$(echo "$st" | jq -r .snapshot_index)" = 0 ]' "it caught up from log entries, not a snapshot"
check '! grep -q "cannot read entries" "$QFS_TMP/log.$leader"' "the leader read every released entry back from its log"

# The history since v0 is mostly released entries: a watch from there
# reads them back from the log too.
# quorumctl itself, not the ctl function: $! must be the watcher, or the trap's
# kill ends a subshell and leaves the watch running after the test.
"$QUORUMCTL" -d "$(qfs_data "$leader")" watch /big --since "$v0" >"$QFS_TMP/watch.out" 2>"$QFS_TMP/watch.err" &
watch_pid=$!
trap 'rc=$?; kill "$watch_pid" 2>/dev/null; (exit $rc); qfs_cleanup' EXIT
watch_has_all() {
	local i
	for i in $(seq 1 $n); do
		grep -q " /big/f$i\$" "$QFS_TMP/watch.out" || return 1
	done
}
check 'eventually 20 watch_has_all' "a watch over the released history shows every file"
[ -s "$QFS_TMP/watch.err" ] && qfs_log "watch: $(head -c 300 "$QFS_TMP/watch.err")"
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
qfs_log "anonymous memory at the end: $(for i in 1 2 3; do printf 'node %d %s KiB  ' "$i" "$(anon "$i")"; done)"
exit $((QFS_FAILS > 0))
