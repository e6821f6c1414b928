#!/usr/bin/env bash
# test_backup.sh: quorumctl backup takes a consistent, checksummed copy of a
# running node's tree; quorumctl restore makes every member of a new 3-node
# cluster from that one file, and the new cluster has every file back (and
# nothing written after the backup); a damaged backup is refused.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

m1=$(qfs_mnt 1)
mkdir -p "$m1/etc/app" "$m1/empty"
printf 'a=1\nb=2\n' >"$m1/etc/app/conf"
chmod 640 "$m1/etc/app/conf"
ln -s conf "$m1/etc/app/current"
setfattr -n user.rev -v 7 "$m1/etc/app/conf"
head -c 300000 /dev/urandom >"$m1/blob"
for i in $(seq 1 30); do echo "v$i" >"$m1/etc/f$i"; done
listing() { (cd "$1" && find . -printf '%p %s %m %y %l\n' | sort && find . -type f -exec md5sum {} + | sort); }
before=$(listing "$m1")

# From a follower: any running member can be backed up.
leader=$(qfs_leader)
src=$(((leader % 3) + 1))
backup=$QFS_TMP/cluster.backup
out=$("$QUORUMCTL" -d "$(qfs_data "$src")" backup "$backup" 2>&1)
rc=$?
echo "$out" >&2
check '[ $rc -eq 0 ] && [ -s "$backup" ]' "quorumctl backup writes the file"
check '[[ "$out" == *"at index "* ]]' "it says which index it holds"
echo late >"$m1/after-backup"

# A damaged copy is refused before anything is created.
cp "$backup" "$QFS_TMP/bad.backup"
size=$(stat -c %s "$backup")
# Flip every bit of the middle byte (writing a fixed byte changed nothing when
# the byte already was that one: a clean-clone run met it).
python3 - "$QFS_TMP/bad.backup" $((size / 2)) <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2])); b = f.read(1)
    f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xFF]))
PY
check '! cmp -s "$backup" "$QFS_TMP/bad.backup"' "the copy is damaged"
out=$("$QUORUMCTL" restore "$QFS_TMP/bad.backup" -c "$QFS_TMP/cluster.conf" -i 1 -d "$QFS_TMP/bad" 2>&1)
rc=$?
check '[ $rc -ne 0 ] && [[ "$out" == *"not a whole quorumfs backup"* ]] && [ ! -e "$QFS_TMP/bad" ]' \
	"a damaged backup is refused, nothing created ($out)"
out=$("$QUORUMCTL" restore "$backup" -c "$QFS_TMP/cluster.conf" -i 1 -d "$(qfs_data 1)" 2>&1)
check '[[ "$out" == *"never overwrites"* ]]' "restore never writes into an existing data directory ($out)"

# The old cluster goes; a new one, another name and other ports, comes from the file.
for i in 1 2 3; do qfs_stop "$i"; done
base=$(qfs_base_port)
{
	echo "[cluster]"
	echo "name = restored"
	echo "key-file = cluster.key"
	echo "election-ms = 500"
	echo "commit-timeout-ms = 3000"
	echo "max-value-size = 1M"
	for i in 1 2 3; do printf '[node %d]\naddress = 127.0.0.1:%d\n' "$i" $((base + 5 + i)); done
} >"$QFS_TMP/cluster.conf"
for i in 1 2 3; do
	rm -rf "$(qfs_data "$i")"
	check '"$QUORUMCTL" restore "$backup" -c "$QFS_TMP/cluster.conf" -i $i -d "$(qfs_data $i)" >&2' \
		"restore node $i of the new cluster"
done
for i in 1 2 3; do qfs_start "$i"; done
check 'qfs_wait_leader 30' "the restored cluster elects a leader"
for i in 1 2 3; do
	after=$(listing "$(qfs_mnt "$i")")
	check '[ "$before" = "$after" ]' "node $i has every file, link, mode and byte of the backup"
done
check '[ "$(getfattr --only-values -n user.rev "$(qfs_mnt 2)/etc/app/conf" 2>/dev/null)" = 7 ]' "xattrs are back"
check '[ ! -e "$(qfs_mnt 3)/after-backup" ]' "what was written after the backup is not"
check 'echo new >"$(qfs_mnt 2)/new" && eventually 10 grep -qx new "$(qfs_mnt 3)/new"' \
	"the new cluster takes writes and replicates them"
check '"$QUORUMCTL" -d "$(qfs_data 1)" status | grep -c voter | grep -qx 3' "three voters"
exit $((QFS_FAILS > 0))
