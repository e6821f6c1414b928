#!/usr/bin/env bash
# test_failover.sh: a write on a follower is readable on the leader the
# moment it returns; kill -9 of the leader leaves a working cluster; the
# killed node restarts, remounts and catches up, also from a snapshot when
# it fell behind the compacted log.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

leader=$(qfs_leader)
follower=$(((leader % 3) + 1))
lm=$(qfs_mnt "$leader") fm=$(qfs_mnt "$follower")

# Read-your-write across nodes: once echo returns on a follower, the leader has it.
for i in $(seq 1 20); do
	echo "v$i" >"$fm/k"
	v=$(cat "$lm/k")
	[ "$v" = "v$i" ] || { fail "write $i on follower $follower: leader read '$v'"; break; }
done
check '[ "$(cat "$lm/k")" = v20 ]' "20 writes on follower $follower each readable on leader $leader at once"

# kill -9 the leader; the survivors elect a leader and accept writes.
qfs_log "killing leader $leader"
qfs_kill "$leader"
survivor=$(((leader % 3) + 1))
other=$((((leader + 1) % 3) + 1))
sm=$(qfs_mnt "$survivor")
check 'eventually 20 sh -c "echo after > \"$sm/after-kill\""' "survivors accept writes after the leader's kill -9"
check '[ "$(cat "$(qfs_mnt "$other")/after-kill")" = after ]' "the other survivor reads it"

# Fall far behind: more writes than the 1024 entries the log keeps behind a
# snapshot, then a snapshot on each survivor compacts the log past the dead node.
for i in $(seq 1 1500); do echo "w$i" >"$sm/bulk-$((i % 50))"; done
new_leader=$(qfs_leader)
check '"$QUORUMCTL" -d "$(qfs_data "$new_leader")" snapshot >/dev/null' "quorumctl snapshot on the new leader"
check '"$QUORUMCTL" -d "$(qfs_data "$other")" snapshot >/dev/null || true' "and on the other survivor"

# Restart the killed node on its old data directory: it remounts and catches up.
qfs_start "$leader"
km=$(qfs_mnt "$leader")
check 'eventually 30 sh -c "[ \"\$(cat \"$km/bulk-0\" 2>/dev/null)\" = w1500 ]"' "the restarted node caught up"
check 'grep -q "installed a snapshot from the leader" "$QFS_TMP/log.$leader"' "by installing a snapshot (it was behind the compacted log)"
check '[ "$(cat "$km/after-kill")" = after ]' "and has the write made while it was dead"
check 'diff <(cd "$km" && find . | sort) <(cd "$sm" && find . | sort) >/dev/null' "its tree lists the same names"

exit $((QFS_FAILS > 0))
