#!/usr/bin/env bash
# test_one_node.sh: a cluster of a single voter with follower-lease-ms set
# works. No one asks it for a lease, and after it wins it waits out leases an
# earlier leader could have granted (docs/raft-core.md, "Follower read
# leases", rule 4); hearing from no one, it learns the time from its own
# ticks only. Before that was so, every change and read failed with EIO.
. "$(dirname "$0")/lib.sh"
QFS_CLUSTER_EXTRA="follower-lease-ms = 400"
qfs_cluster_start 1
m=$(qfs_mnt 1)

check 'echo one >"$m/k"' "a write on a one-node cluster with follower-lease-ms = 400"
check '[ "$(cat "$m/k")" = one ]' "read back"
check 'mkdir "$m/d" && ls "$m" | grep -qx d' "mkdir and ls"

# Again after a restart: a new term, a new wait after winning.
qfs_stop 1
qfs_start 1
qfs_wait_leader 30
check '[ "$(cat "$m/k" 2>&1)" = one ]' "read back after a restart"
check 'echo two >"$m/k" && [ "$(cat "$m/k")" = two ]' "written and read after a restart"

[ $QFS_FAILS -eq 0 ]
