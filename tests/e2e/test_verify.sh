#!/usr/bin/env bash
# test_verify.sh: the periodic cross-replica check. With verify-interval
# short, the leader proposes checks and every node hashes its tree at the
# same index to the same value. Then one follower's tree is corrupted on
# purpose (stopped, one byte of a file's contents changed in its LMDB tree
# with mdb_dump/mdb_load, restarted): the next check finds it, the leader
# logs it loudly, counts it in /metrics and shows it in its status.
. "$(dirname "$0")/lib.sh"
for t in mdb_dump mdb_load; do
	command -v "$t" >/dev/null || { echo "$t is missing (lmdb-utils): scripts/install-deps.sh" >&2; exit 1; }
done
QFS_HTTP=1
QFS_CLUSTER_EXTRA='verify-interval = 1s'
qfs_cluster_start 3
leader=$(qfs_leader)
echo hello >"$(qfs_mnt "$leader")/k"
check '[ "$(cat "$(qfs_mnt 1)/k")" = hello ]' "written"

# Healthy: the same hash everywhere, at the same index.
hashes() { grep -ho "cross-replica check at index $1: tree hash [0-9a-f]*" "$QFS_TMP"/log.* | awk '{print $NF}' | sort -u; }
first_check() { grep -o "cross-replica check at index [0-9]*:" "$QFS_TMP/log.$leader" | tail -1 | grep -o "[0-9]*"; }
check 'eventually 10 first_check' "the leader proposed a check"
idx=$(first_check)
three() { [ "$(grep -l "cross-replica check at index $idx:" "$QFS_TMP"/log.* | wc -l)" = 3 ]; }
check 'eventually 10 three' "all three nodes hashed their tree at index $idx"
check '[ "$(hashes "$idx" | wc -l)" = 1 ]' "to the same hash ($(hashes "$idx" | tr '\n' ' '))"
check '[ "$(qfs_status "$leader" | jq .verify_mismatches)" = 0 ]' "no mismatch in the leader's status"
check '[ "$(qfs_status "$leader" | jq ".verify_index >= $idx")" = true ]' "the leader's status shows the check"

# Corrupt a follower's copy of k: "hello" becomes "jello" in its LMDB tree.
victim=$(for i in 1 2 3; do [ "$i" != "$leader" ] && echo "$i"; done | head -1)
qfs_stop "$victim"
d=$(qfs_data "$victim")
mdb_dump -s data "$d" >"$QFS_TMP/data.dump"
check 'grep -q 68656c6c6f0a "$QFS_TMP/data.dump"' "the victim's data database holds hello"
sed -i 's/68656c6c6f0a/6a656c6c6f0a/' "$QFS_TMP/data.dump"
check 'mdb_load -s data -f "$QFS_TMP/data.dump" "$d"' "mdb_load into node $victim's tree"
check 'mdb_dump -s data "$d" | grep -q 6a656c6c6f0a' "node $victim's tree now says jello"
qfs_start "$victim"
qfs_log "node $victim now reads: $(timeout 5 cat "$(qfs_mnt "$victim")/k" 2>&1)"

found() { grep -q "CROSS-REPLICA CHECK FAILED at index [0-9]*: node $victim's tree" "$QFS_TMP/log.$leader"; }
check 'eventually 20 found' "the leader logs the mismatch loudly, naming node $victim"
grep "CROSS-REPLICA" "$QFS_TMP/log.$leader" | head -1 >&2
check '[ "$(qfs_status "$leader" | jq ".verify_mismatches >= 1")" = true ]' "the leader's status counts it"
check 'curl -sf --max-time 5 "http://$(qfs_http_addr "$leader")/metrics" | grep -qE "^quorumfs_verify_mismatches_total [1-9]"' \
	"and /metrics counts it"
m=$(qfs_mnt "$leader")
check 'jq -e ".verify_mismatches >= 1" "$m/.quorumfs/status" >/dev/null' "and .quorumfs/status shows it"
exit $((QFS_FAILS > 0))
