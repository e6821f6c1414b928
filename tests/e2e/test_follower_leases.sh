#!/usr/bin/env bash
# test_follower_leases.sh: with follower-lease-ms set, a follower answers
# linearizable reads from its own tree under its lease (counted in
# quorumfs_follower_lease_reads_total, no round to the leader), and still
# never returns a value older than a write that returned before the read
# began: each of N writes, on the leader's mount and on a follower's, is
# read back on every mount the moment close(2) returns.
. "$(dirname "$0")/lib.sh"
QFS_HTTP=1
QFS_CLUSTER_EXTRA="follower-lease-ms = 400"
qfs_cluster_start 3

N=200
metric() { qfs_metric "$1" quorumfs_follower_lease_reads_total; }

rounds() { qfs_rounds "$N" "$1" "$2"; } # tests/e2e/lib.sh

leader=$(qfs_leader)
follower=1
[ "$follower" = "$leader" ] && follower=2
other=$((6 - leader - follower))
m1=$(metric "$follower")
m2=$(metric "$other")
before=$((${m1:-0} + ${m2:-0}))
for w in "$leader" "$follower"; do
	echo first >"$(qfs_mnt "$w")/f$w"
	bad=$(rounds "$w" "f$w")
	check '[ "$bad" = 0 ]' "node $w: each of $N writes is read on every node the moment it returns ($bad stale reads)"
done
m1=$(metric "$follower")
m2=$(metric "$other")
after=$((${m1:-0} + ${m2:-0}))
check '[ $((after - before)) -ge $N ]' \
	"the followers passed read barriers under their lease ($before -> $after)"

# A follower cut off: its lease ends, writes go on after at most the lease.
kill -STOP "${QFS_PID[$other]}"
trap 'kill -CONT "${QFS_PID[$other]}" 2>/dev/null; qfs_cleanup; qfs_watchdog_stop' EXIT
start=$(date +%s%N)
echo after-stop >"$(qfs_mnt "$leader")/g"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
qfs_log "a write with a lease holder stopped took $ms ms (follower-lease-ms = 400)"
check '[ "$(cat "$(qfs_mnt "$follower")/g")" = after-stop ]' "the other follower reads it at once"
kill -CONT "${QFS_PID[$other]}"
reads_g() { [ "$(cat "$(qfs_mnt "$other")/g" 2>/dev/null)" = after-stop ]; }
check 'eventually 20 reads_g' "the stopped follower reads it once it runs again"

# The rolling-upgrade guard (docs/raft-core.md, "Follower read leases", rule 9): while one voter runs without follower
# leases (as an older daemon would), the leader grants none, and no follower serves from one.
sed 's/^follower-lease-ms.*/follower-lease-ms = 0/' "$QFS_TMP/cluster.conf" >"$QFS_TMP/cluster-off.conf"
qfs_stop "$other"
qfs_start "$other" -c "$QFS_TMP/cluster-off.conf"
qfs_wait_leader 30
leader=$(qfs_leader)
reader=$((6 - leader - other)) # a follower with follower leases on
[ "$leader" = "$other" ] && reader=$follower
sleep 1 # every lease granted before has ended
m_before=$(metric "$reader")
for k in $(seq 1 50); do cat "$(qfs_mnt "$reader")/g" >/dev/null; done
m_after=$(metric "$reader")
check '[ "${m_after:-0}" = "${m_before:-0}" ]' \
	"no lease reads on node $reader while node $other runs without follower leases (${m_before:-0} -> ${m_after:-0})"
# Back on: the grants come back.
qfs_stop "$other"
qfs_start "$other"
qfs_wait_leader 30
leased() {
	local a b l f
	l=$(qfs_leader)
	for f in 1 2 3; do [ "$f" != "$l" ] && break; done
	a=$(metric "$f")
	cat "$(qfs_mnt "$f")/g" >/dev/null
	b=$(metric "$f")
	[ "${b:-0}" -gt "${a:-0}" ]
}
check 'eventually 20 leased' "with every voter on follower leases again, a follower reads under its lease"

[ $QFS_FAILS -eq 0 ]
