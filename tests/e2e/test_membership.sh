#!/usr/bin/env bash
# test_membership.sh: membership at run time. A new node joins with
# --join on an empty data directory, is added as a learner, catches up and
# is promoted by 'quorumctl add'; a follower and then the leader itself are
# removed, and the cluster goes on.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

m1=$(qfs_mnt 1)
for i in $(seq 1 50); do echo "v$i" >"$m1/f$i"; done

# The operator's new config names node 4; the founding members keep running.
qfs_join 4 >"$QFS_TMP/join.out"
out=$(<"$QFS_TMP/join.out")
echo "$out" >&2
check '[[ "$out" == *"learner added"* ]] && [[ "$out" == *"promoted to voter"* ]]' "quorumctl add reports learner, catch-up and promotion"
check 'eventually 20 sh -c "[ \"\$(cat \"$(qfs_mnt 4)/f50\")\" = v50 ]"' "node 4 has the data written before it joined"
check '"$QUORUMCTL" -d "$(qfs_data 4)" status | grep -q "^4 .*voter"' "node 4 is a voter in its own status"

# Remove a follower: the cluster of 3 voters (1, 2 or 3, and 4) goes on.
leader=$(qfs_leader)
follower=$(((leader % 3) + 1))
check '"$QUORUMCTL" -d "$(qfs_data "$leader")" remove "$follower" >/dev/null' "remove follower $follower"
qfs_stop "$follower"
check 'echo after-remove >"$(qfs_mnt 4)/k"' "writes go on after removing a follower"

# Remove the leader itself: it steps down and the rest elect a new one.
# How long the handover takes is printed, not asserted (a test never fails
# on a time): the leader commits its removal, then sends TimeoutNow to the
# most up-to-date voter (docs/raft-core.md), so it should take about one
# round trip and an election, not an election timeout.
leader=$(qfs_leader)
t0=$(date +%s%N)
check '"$QUORUMCTL" -d "$(qfs_data "$leader")" remove "$leader" >/dev/null' "the leader $leader removes itself"
t_removed=$(date +%s%N)
# Ask node 4, a remaining member: the removed node hears no heartbeats any
# more and may go on naming itself.
leader_of_4() { qfs_status 4 | sed -n 's/.*"leader": *\([0-9]*\).*/\1/p'; }
new_leader_elected() { l=$(leader_of_4); [ -n "$l" ] && [ "$l" != 0 ] && [ "$l" != "$leader" ]; }
check 'eventually 20 new_leader_elected' "a new leader is elected"
t_elected=$(date +%s%N)
qfs_log "leader self-removal: remove returned after $(((t_removed - t0) / 1000000)) ms, node 4 names a new leader after $(((t_elected - t0) / 1000000)) ms (election-ms $(sed -n 's/^election-ms = //p' "$QFS_TMP/cluster.conf"))"
qfs_stop "$leader"
check 'eventually 20 sh -c "echo after-self-remove > \"$(qfs_mnt 4)/k\""' "the remaining two accept writes"

# The config file still lists four nodes; the cluster has two. A member
# restarted with it follows the cluster, and says so.
qfs_stop 4
qfs_start 4
check 'grep -q "differ from the cluster.s membership; following the cluster" "$QFS_TMP/log.4"' \
	"a node restarted with an outdated config file says it follows the cluster"
check 'eventually 20 sh -c "echo after-restart > \"$(qfs_mnt 4)/k\""' "and works with the cluster's membership"

exit $((QFS_FAILS > 0))
