#!/usr/bin/env bash
# test_hooks.sh: the role hooks. on-leader and on-follower run through
# /bin/sh -c on every role change with QUORUMFS_NODE, QUORUMFS_ROLE,
# QUORUMFS_TERM and QUORUMFS_LEADER; here on-leader records itself and then
# fails (its exit status is logged), on-follower records itself and then
# hangs (it is killed after hook-timeout-ms, logged). Neither delays the
# node: writes go on while followers' hooks hang; a new leader's hook runs
# with the new term.
. "$(dirname "$0")/lib.sh"
HOOKDIR=$(mktemp -d /tmp/qfs-hooks.XXXXXX)
trap 'qfs_cleanup; rm -rf "$HOOKDIR"' EXIT
export QFS_HOOK_OUT=$HOOKDIR/ran
QFS_CLUSTER_EXTRA='on-leader = echo "$QUORUMFS_NODE $QUORUMFS_ROLE $QUORUMFS_TERM $QUORUMFS_LEADER" >>"$QFS_HOOK_OUT"; exit 3
on-follower = echo "$QUORUMFS_NODE $QUORUMFS_ROLE $QUORUMFS_TERM $QUORUMFS_LEADER" >>"$QFS_HOOK_OUT"; sleep 30
hook-timeout-ms = 1000'
qfs_cluster_start 3
leader=$(qfs_leader)
term=$(qfs_status "$leader" | jq -r .term)

check 'eventually 10 grep -q "^$leader leader $term $leader\$" "$QFS_HOOK_OUT"' \
	"on-leader ran on node $leader with its role, term and leader"
for i in 1 2 3; do
	[ "$i" = "$leader" ] && continue
	check 'eventually 10 grep -q "^$i follower $term $leader\$" "$QFS_HOOK_OUT"' \
		"on-follower ran on node $i with leader $leader"
done

# While the followers' hooks hang, the cluster answers at once.
m=$(qfs_mnt 1)
start=$(date +%s%N)
echo during >"$m/k"
took=$((($(date +%s%N) - start) / 1000000))
check '[ "$(cat "$(qfs_mnt 2)/k")" = during ]' "a write while hooks hang is read on node 2"
qfs_log "the write took ${took} ms while the hooks hung"
check 'eventually 10 grep -q "hook on-leader failed: exit status 3" "$QFS_TMP/log.$leader"' \
	"the failing on-leader is logged with its status"
for i in 1 2 3; do
	[ "$i" = "$leader" ] && continue
	check 'eventually 10 grep -q "hook on-follower still ran after 1000 ms: killed" "$QFS_TMP/log.$i"' \
		"node $i: the hanging on-follower is killed after hook-timeout-ms"
done
hung() { for p in $(pgrep -x sleep); do grep -qz "QFS_HOOK_OUT=$QFS_HOOK_OUT" "/proc/$p/environ" 2>/dev/null && echo "$p"; done; }
check '[ -z "$(hung)" ]' "no hook process is left running"

# A new leader's hook, with the new term.
qfs_kill "$leader"
other_leader() { local l; l=$(qfs_leader) && [ "$l" != "$leader" ]; }
check 'eventually 20 other_leader' "a new leader after killing $leader"
nl=$(qfs_leader)
nt=$(qfs_status "$nl" | jq -r .term)
check '[ "$nt" -gt "$term" ]' "in a later term ($nt > $term)"
check 'eventually 10 grep -q "^$nl leader $nt $nl\$" "$QFS_HOOK_OUT"' "on-leader ran on the new leader $nl in term $nt"
for i in 1 2 3; do
	[ "$i" = "$leader" ] || [ "$i" = "$nl" ] && continue
	check 'eventually 10 grep -q "^$i follower $nt $nl\$" "$QFS_HOOK_OUT"' "on-follower ran on node $i for the new leader"
done
exit $((QFS_FAILS > 0))
