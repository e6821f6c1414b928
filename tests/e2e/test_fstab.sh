#!/usr/bin/env bash
# test_fstab.sh: a node mounted from an fstab line through mount.fuse3
# (`mount --fstab FILE MOUNTPOINT`, the way `mount -a` does it at boot)
# serves the cluster's tree as soon as mount returns, and fusermount3 -u
# stops its daemon cleanly.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ] || ! command -v mount.fuse3 >/dev/null; then
	echo "skip: mount --fstab needs root and mount.fuse3" >&2
	exit 77
fi
qfs_cluster_start 3

m1=$(qfs_mnt 1) m3=$(qfs_mnt 3)
echo before >"$m1/before"
# Node 3 leaves the harness and comes back through mount(8).
qfs_stop 3
echo while-away >"$m1/while-away"

# The "fuse" type with PROGRAM#SOURCE: mount.fuse3 runs PROGRAM SOURCE
# MOUNTPOINT -o OPTIONS. An installed quorumfs is "SOURCE MOUNTPOINT
# fuse.quorumfs OPTIONS" (docs/operations.md); the build tree's is not on
# the PATH that mount gives its helpers.
fstab=$QFS_TMP/fstab
printf '%s#%s %s fuse id=3,data_dir=%s,pid_file=%s,log_file=%s,_netdev 0 0\n' \
	"$QUORUMFS" "$QFS_TMP/cluster.conf" "$m3" "$(qfs_data 3)" "$QFS_TMP/pid.3" \
	"$QFS_TMP/log.3" >"$fstab"
check 'mount --fstab "$fstab" "$m3" 2>>"$QFS_TMP/log.3"' "mount --fstab mounts node 3"
pid=$(cat "$QFS_TMP/pid.3" 2>/dev/null)
[ -n "$pid" ] && QFS_PID[3]=$pid # the cleanup stops it if the test fails
check 'qfs_is_mounted "$m3"' "node 3 is mounted when mount returns"
check '[ "$(cat "$m3/before" 2>/dev/null)" = before ]' "node 3 serves what it had"
check 'eventually 10 grep -qx while-away "$m3/while-away"' "node 3 catches up on what it missed"
check 'echo from-fstab >"$m3/from-fstab"' "a write through the fstab mount is acknowledged"
check '[ "$(cat "$m1/from-fstab" 2>/dev/null)" = from-fstab ]' "node 1 reads it"
check '"$QUORUMCTL" -d "$(qfs_data 3)" status | grep -q "^node: *3$"' "quorumctl finds the fstab-mounted node"

check 'fusermount3 -u "$m3"' "fusermount3 -u unmounts node 3"
check 'eventually 10 bash -c "! kill -0 $pid"' "its daemon exits"
check '! qfs_is_mounted "$m3"' "no mount is left"
unset "QFS_PID[3]"
check 'echo after >"$m1/after"' "the two others still form a quorum"
exit $((QFS_FAILS > 0))
