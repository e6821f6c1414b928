#!/usr/bin/env bash
# test_five_nodes.sh: a 5-node cluster replicates to all and survives the
# loss of two nodes (a minority), including the leader.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 5

echo five >"$(qfs_mnt 3)/k"
for i in 1 2 4 5; do
	check '[ "$(cat "$(qfs_mnt $i)/k")" = five ]' "written on 3, read on $i"
done

leader=$(qfs_leader)
victim=$(((leader % 5) + 1))
qfs_kill "$leader"
qfs_kill "$victim"
alive=()
for i in 1 2 3 4 5; do
	[ "$i" != "$leader" ] && [ "$i" != "$victim" ] && alive+=("$i")
done
a=$(qfs_mnt "${alive[0]}")
check 'eventually 20 sh -c "echo three-left > \"$a/k\""' "3 of 5 accept writes after losing the leader and one more"
check '[ "$(cat "$(qfs_mnt "${alive[2]}")/k")" = three-left ]' "and replicate among themselves"

exit $((QFS_FAILS > 0))
