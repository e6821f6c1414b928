#!/usr/bin/env bash
# test_restart.sh: the whole cluster stopped and restarted brings back every
# file, directory, link and attribute; SIGTERM unmounts cleanly.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

m1=$(qfs_mnt 1)
mkdir -p "$m1/etc/app"
printf 'a=1\nb=2\n' >"$m1/etc/app/conf"
chmod 600 "$m1/etc/app/conf"
ln -s conf "$m1/etc/app/current"
ln "$m1/etc/app/conf" "$m1/etc/app/hard"
setfattr -n user.rev -v 7 "$m1/etc/app/conf"
touch -d '2020-01-02 03:04:05' "$m1/etc/app/conf"
before=$(cd "$m1" && find . -printf '%p %s %m %n %T@ %y %l\n' | sort)

for i in 1 2 3; do qfs_stop "$i"; done
check '! qfs_is_mounted "$(qfs_mnt 1)" && ! qfs_is_mounted "$(qfs_mnt 2)"' "SIGTERM unmounts"
for i in 1 2 3; do qfs_start "$i"; done
qfs_wait_leader 30 || fail "no leader after the restart"

for i in 1 2 3; do
	after=$(cd "$(qfs_mnt "$i")" && find . -printf '%p %s %m %n %T@ %y %l\n' | sort)
	check '[ "$before" = "$after" ]' "node $i has every name, size, mode, link count and mtime back"
done
check '[ "$(getfattr --only-values -n user.rev "$(qfs_mnt 2)/etc/app/conf" 2>/dev/null)" = 7 ]' "xattrs survive"
check '[ "$(cat "$(qfs_mnt 3)/etc/app/current")" = "$(printf "a=1\nb=2")" ]' "contents survive"
check 'echo more >"$(qfs_mnt 2)/after-restart"' "the restarted cluster accepts writes"

exit $((QFS_FAILS > 0))
