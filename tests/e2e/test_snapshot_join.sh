#!/usr/bin/env bash
# test_snapshot_join.sh: a node that joins after the members restarted gets
# their snapshot whole. The size the core announces for a snapshot was not in
# the store: a restarted leader announced 0 bytes, and the joining node
# received an empty stream six times and stopped (the 5-node soak met it).
. "$(dirname "$0")/lib.sh"
QFS_HTTP=1
QFS_CLUSTER_EXTRA="snapshot-every = 200" qfs_cluster_start 3
m1=$(qfs_mnt 1)
# Past the trailing window (1024 entries) behind the last snapshot, so that a
# new node cannot be caught up from the log.
for i in $(seq 1 1600); do echo "v$i" >"$m1/f$i"; done
check 'eventually 20 grep -q "snapshot at" "$QFS_TMP/log.1" "$QFS_TMP/log.2" "$QFS_TMP/log.3"' \
	"the members took a snapshot"

# Every member restarts, so whichever leads sends a snapshot it did not take
# in this run.
for i in 1 2 3; do qfs_stop "$i"; done
for i in 1 2 3; do qfs_start "$i"; done
qfs_wait_leader 30 || fail "no leader after the restarts"

qfs_join 4 "http-address = $(qfs_http_addr 4)" >"$QFS_TMP/join.out"
out=$(<"$QFS_TMP/join.out")
echo "$out" >&2
check '[[ "$out" == *"promoted to voter"* ]]' "node 4 is added and promoted"
check 'eventually 20 sh -c "[ \"\$(cat \"$(qfs_mnt 4)/f1600\" 2>/dev/null)\" = v1600 ]"' \
	"node 4 has the data written before it joined"
installed=$(qfs_metric 4 quorumfs_snapshots_installed_total)
check '[ "${installed:-0}" -ge 1 ]' "node 4 installed a snapshot, which is what this test is about ($installed)"
check '! grep -q "failed its checks" "$QFS_TMP/log.4"' \
	"no snapshot it received failed its checks ($(grep -m1 "failed its checks" "$QFS_TMP/log.4"))"
exit $((QFS_FAILS > 0))
