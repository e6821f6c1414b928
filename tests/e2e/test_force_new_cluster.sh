#!/usr/bin/env bash
# test_force_new_cluster.sh: two of three nodes are lost for good; the last
# one, stopped, is made the only member by quorumctl force-new-cluster,
# comes back with every file and says so loudly; two fresh nodes are then
# added back with quorumctl add and get the whole tree.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

m1=$(qfs_mnt 1)
mkdir -p "$m1/etc"
for i in $(seq 1 40); do echo "v$i" >"$m1/etc/f$i"; done
head -c 200000 /dev/urandom >"$m1/blob"
# The write tried without a quorum may sit in node 1's log: force-new-cluster
# commits what the log holds (as etcd's does), so it may come back; the
# listing leaves it and what node 1 writes alone out.
listing() {
	(cd "$1" && find . -printf '%p %s %m %y\n' | sort && find . -type f -exec md5sum {} + | sort) |
		grep -v 'no-quorum\|alone'
}
# Every node has applied all of it before the two machines burn.
eventually 10 grep -qx v40 "$(qfs_mnt 2)/etc/f40"
eventually 10 grep -qx v40 "$(qfs_mnt 3)/etc/f40"
before=$(listing "$m1")

for i in 2 3; do
	qfs_kill "$i"
	rm -rf "$(qfs_data "$i")"
done
# A program that checks its close: a shell's `echo x > f` restores its stdout
# with dup2, which drops the close's error (docs/semantics.md, "A failed
# publish"), so it "succeeded" whenever the node still held its lease.
check '! timeout 20 python3 -c "import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b\"x\\n\")
os.close(fd)" "$m1/no-quorum" 2>/dev/null' "without a majority, writes fail (at the write or at close)"

out=$("$QUORUMCTL" -d "$(qfs_data 1)" force-new-cluster 2>&1)
check '[[ "$out" == *"stop its quorumfs daemon first"* ]]' "force-new-cluster refuses a running node ($out)"
qfs_stop 1
out=$("$QUORUMCTL" -d "$(qfs_data 1)" force-new-cluster 2>&1)
rc=$?
echo "$out" >&2
check '[ $rc -eq 0 ] && [[ "$out" == *"only member"* ]]' "force-new-cluster on the stopped node"
qfs_start 1
check 'qfs_wait_leader 20' "node 1 alone elects itself"
check 'grep -q "FORCED NEW CLUSTER" "$QFS_TMP/log.1"' "the daemon says loudly that its cluster was forced"
check '[ "$(listing "$m1")" = "$before" ]' "node 1 has every file back"
check 'echo alone >"$m1/alone"' "node 1 alone takes writes"
check '"$QUORUMCTL" -d "$(qfs_data 1)" status | grep -c voter | grep -qx 1' "one voter"

# Fresh machines 4 and 5 join the new cluster.
port1=$(sed -n '/^\[node 1\]/{n;s/^address = //p}' "$QFS_TMP/cluster.conf")
for i in 4 5; do
	p=$(($(qfs_base_port) + i))
	printf '[node %d]\naddress = 127.0.0.1:%d\n' "$i" "$p" >>"$QFS_TMP/cluster.conf"
	mkdir -p "$(qfs_mnt "$i")" "$(qfs_data "$i")"
	qfs_start "$i" --join "$port1"
	check '"$QUORUMCTL" -d "$(qfs_data 1)" add $i 127.0.0.1:$p --timeout 60 >&2' "add node $i back"
done
check '"$QUORUMCTL" -d "$(qfs_data 1)" status | grep -c voter | grep -qx 3' "three voters again"
check 'eventually 20 grep -qx alone "$(qfs_mnt 5)/alone"' "node 5 has what node 1 wrote alone"
after=$(listing "$(qfs_mnt 4)")
check '[ "$after" = "$before" ]' "node 4 has every file of the old cluster"
check 'echo three >"$(qfs_mnt 4)/three" && eventually 10 grep -qx three "$m1/three"' \
	"the grown cluster takes writes"
exit $((QFS_FAILS > 0))
