#!/usr/bin/env bash
# test_keys.sh: keys as a script sees them: every file and directory has a
# version (user.quorumfs.version, the log index of its last change), the
# same on every node, that grows with each change and cannot be set.
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

qfs_log "test_keys: all checks passed"
