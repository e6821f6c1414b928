#!/usr/bin/env bash
# test_status_files.sh: the read-only files of .quorumfs/ at the root of every
# mount: status, members and leader name the same leader on every node; they
# refuse every change with EPERM; the name cannot be made as a key; they
# still answer on a node that lost its quorum, and then say so, with the
# dead members' last contact as "never" or "lost N s ago", never "0 ms ago".
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

leader=$(qfs_leader)
check '[ -n "$leader" ]' "a leader ($leader)"
for i in 1 2 3; do
	m=$(qfs_mnt "$i")
	st=$(cat "$m/.quorumfs/status")
	check '[ "$(echo "$st" | jq -r .id)" = "$i" ]' "node $i: status names itself"
	check 'eventually 15 sh -c "[ \"\$(jq -r .leader \"$m/.quorumfs/status\")\" = $leader ]"' \
		"node $i: status names leader $leader"
	check '[ "$(jq -r .quorate "$m/.quorumfs/status")" = true ]' "node $i: quorate"
	check '[ "$(jq -r ".commit >= 1 and .applied >= 1" "$m/.quorumfs/status")" = true ]' \
		"node $i: commit and applied index"
	check '[ "$(wc -l <"$m/.quorumfs/members")" = 3 ]' "node $i: members has 3 lines"
	check '[ "$(awk "\$3 == \"leader\"" "$m/.quorumfs/members" | wc -l)" = 1 ]' \
		"node $i: members marks one leader"
	check '[ "$(awk "{print \$1}" "$m/.quorumfs/leader")" = "$leader" ]' "node $i: leader file"
	check 'grep -q "127.0.0.1:" "$m/.quorumfs/leader"' "node $i: leader file has the address"
done
m=$(qfs_mnt "$leader")
check '[ "$(awk "\$1 != $leader {print \$NF}" "$m/.quorumfs/members" | sort -u)" = ago ]' \
	"the leader's members file shows each follower's contact in ms ($(cat "$m/.quorumfs/members" | tr '\n' '|'))"
check '[ "$(ls "$m/.quorumfs" | tr "\n" " ")" = "leader members status " ]' "ls .quorumfs lists the three files"

# Read-only, and reserved.
m1=$(qfs_mnt 1)
err=$( (echo x >"$m1/.quorumfs/status") 2>&1)
check '[[ "$err" == *"Operation not permitted"* ]]' "writing status fails with EPERM ($err)"
err=$(touch "$m1/.quorumfs/new" 2>&1)
check '[[ "$err" == *"Operation not permitted"* ]]' "creating a file in .quorumfs fails with EPERM ($err)"
err=$(rm -f "$m1/.quorumfs/leader" 2>&1)
check '[[ "$err" == *"Operation not permitted"* ]]' "removing a status file fails with EPERM ($err)"
err=$(chmod 666 "$m1/.quorumfs/members" 2>&1)
check '[[ "$err" == *"Operation not permitted"* ]]' "chmod fails with EPERM ($err)"
err=$(rmdir "$m1/.quorumfs" 2>&1)
check '[[ "$err" == *"Operation not permitted"* ]]' "rmdir .quorumfs fails with EPERM ($err)"
echo v >"$m1/k"
err=$(mv "$m1/k" "$m1/.quorumfs" 2>&1)
check '[[ "$err" == *"Operation not permitted"* ]]' "moving a key into .quorumfs is refused ($err)"
mkdir "$m1/d"
err=$(mv -T "$m1/d" "$m1/.quorumfs" 2>&1)
check '[[ "$err" == *"Operation not permitted"* ]]' "renaming a directory to .quorumfs fails with EPERM ($err)"
check '[ -d "$m1/d" ]' "and the directory is still there"
check '[ "$(cat "$m1/k")" = v ]' "and the key is still there"
check '! flock -n "$m1/.quorumfs/status" true 2>/dev/null' "a status file cannot be locked"
# Keys without a mount cannot make it either.
out=$("$QUORUMCTL" -d "$(qfs_data 1)" put /.quorumfs/x v 2>&1)
rc=$?
check '[ $rc = 2 ] && [[ "$out" == *"not permitted"* ]]' "quorumctl put /.quorumfs/x fails with EPERM ($rc: $out)"
out=$("$QUORUMCTL" -d "$(qfs_data 1)" put //.quorumfs v 2>&1)
check '[ $? = 2 ]' "and so does put //.quorumfs ($out)"
mkdir "$m1/sub"
check 'mkdir "$m1/sub/.quorumfs"' "a .quorumfs below the root is an ordinary key"
check '[ -d "$(qfs_mnt 2)/sub/.quorumfs" ]' "and is seen on node 2"

# Without a quorum: two nodes stopped, the survivor's files still answer.
others=$(for i in 1 2 3; do [ "$i" != 3 ] && echo "$i"; done)
for i in $others; do qfs_kill "$i"; done
m3=$(qfs_mnt 3)
check 'eventually 10 sh -c "[ \"\$(timeout 2 jq -r .quorate \"$m3/.quorumfs/status\")\" = false ]"' \
	"without a quorum, node 3's status answers and says quorate: false"
members=$(timeout 20 cat "$m3/.quorumfs/members")
check '[ $? = 0 ] && [ -n "$members" ]' "members answers without a quorum (a read of the tree would fail with EIO)"
check '! grep -q " 0 ms ago" <<<"$members"' "no dead member shows as 0 ms ago ($(tr '\n' '|' <<<"$members"))"
check '[ "$(grep -cE "(never|lost [0-9]+ s ago)\$" <<<"$members")" = 2 ]' \
	"both dead members show as never or lost ($(tr '\n' '|' <<<"$members"))"
check '[ -n "$(timeout 5 cat "$m3/.quorumfs/leader")" ]' "leader answers without a quorum"

# A new leader's view of a dead member: start node 1 again; 1 and 3 elect a
# leader; node 2 stays dead: its contact reads never or lost, not 0 ms ago.
qfs_start 1
check 'qfs_wait_leader 20' "nodes 1 and 3 elect a leader"
leader=$(qfs_leader)
ml=$(qfs_mnt "$leader")
eventually 10 sh -c "[ \"\$(jq -r .quorate \"$ml/.quorumfs/status\")\" = true ]"
line=$(awk '$1 == 2' "$ml/.quorumfs/members")
check '[[ "$line" == *never || "$line" == *"s ago" && "$line" != *" ms ago" ]]' \
	"the new leader $leader shows dead node 2 as never or lost ($line)"
txt=$("$QUORUMCTL" -d "$(qfs_data "$leader")" status | awk '$1 == 2')
check '[[ "$txt" != *" 0 ms ago"* && ( "$txt" == *never* || "$txt" == *lost* ) ]]' \
	"quorumctl status on the new leader agrees ($txt)"

exit $((QFS_FAILS > 0))
