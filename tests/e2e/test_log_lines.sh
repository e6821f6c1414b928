#!/usr/bin/env bash
# test_log_lines.sh: each log line names its source once. A 3-node run (start,
# kill a node, restart it) must not give a line such as
# "info node 1: node 1: recovered term 2 ...": every daemon's prefix says which
# node it is, and no layer below names that node again.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

echo one >"$(qfs_mnt 1)/f"
victim=$(qfs_leader)
qfs_kill "$victim"
qfs_wait_leader 30 || fail "no leader after node $victim was killed"
other=$((victim % 3 + 1))
check 'echo two >"$(qfs_mnt "$other")/f"' "the rest of the cluster takes a write"
qfs_start "$victim"
check 'eventually 20 grep -qx two "$(qfs_mnt "$victim")/f"' "the restarted node catches up"
# A few more heartbeats' worth of lines (connections, the new term).
sleep 1

# doubled FILE ID: the lines of node ID's log that name "node ID" twice, or
# repeat the text before their first ": " right after it.
doubled() {
	awk -v id="$2" '
		/^[0-9T:.-]+Z (debug|info|warn|error) / {
			n = gsub("(^|[^0-9])node " id "([^0-9]|$)", "&")
			rest = $0
			sub(/^[^ ]+ [^ ]+ /, "", rest)
			p = index(rest, ": ")
			src = substr(rest, 1, p - 1)
			if (n > 1 || (p > 0 && index(substr(rest, p + 2), src ": ") == 1))
				print
		}' "$1"
}

for i in 1 2 3; do
	log="$QFS_TMP/log.$i"
	check '[ -s "$log" ] && grep -q "^[0-9T:.-]*Z info node $i: " "$log"' \
		"node $i logs, each line with its prefix"
	bad=$(doubled "$log" "$i")
	check '[ -z "$bad" ]' "no line of node $i names it twice${bad:+: $bad}"
done
check 'grep -q "info node $victim: recovered term" "$QFS_TMP/log.$victim"' \
	"the restarted node says what it recovered, once prefixed"
check 'grep -q "info node $other net: connected to node $victim (" "$QFS_TMP/log.$other"' \
	"the transport names its source and the peer, each once"

# A storage failure's line carries the store's own message, not only the
# errno's text: damage a log entry of node 3 (flip the first byte of a marker
# that only a write put there) and start it again, in the foreground.
marker="qfs-log-lines-marker-$$-$RANDOM"
echo "$marker" >"$(qfs_mnt 1)/damage"
# Entries after it, so the damaged one is not the last, which store_open
# checks itself: the node finds this one when it reads its log back.
for f in a b c; do echo "$f" >"$(qfs_mnt 1)/after-$f"; done
check 'eventually 20 grep -qx c "$(qfs_mnt 3)/after-c"' "node 3 has the marker and what follows"
qfs_stop 3
data3=$(qfs_data 3)
# The log is in wal/*.seg (docs/storage-format.md); the tree in data.mdb holds the
# marker too, as the file's contents, and is left alone.
hits=$(grep -HobUa "$marker" "$data3"/wal/*.seg | cut -d: -f1,2)
check '[ -n "$hits" ]' "the marker is in node 3's log"
for hit in $hits; do
	printf 'Q' | dd of="${hit%:*}" bs=1 seek="${hit##*:}" conv=notrunc status=none
done
timeout 20 "$QUORUMFS" -f -c "$QFS_TMP/cluster.conf" -i 3 -d "$data3" "$(qfs_mnt 3)" \
	>"$QFS_TMP/damaged.3" 2>&1
rc=$?
qfs_unmount "$(qfs_mnt 3)"
check '[ $rc -ne 0 ] && [ $rc -ne 124 ]' "a damaged log stops the daemon at start (exit $rc)"
line=$(grep ' error node 3: ' "$QFS_TMP/damaged.3")
check '[[ $line == *"log segment "*"the batch at "*"fails its checks"*"the log is damaged"* ]]' \
	"the line says which segment and batch failed its checks${line:+: $line}"
check '[ -z "$(doubled "$QFS_TMP/damaged.3" 3)" ]' "and names node 3 once"

# The check itself must catch a doubled prefix.
printf '2026-01-01T00:00:00.000Z info node 1: node 1: recovered term 2\n' >"$QFS_TMP/bad.log"
check '[ -n "$(doubled "$QFS_TMP/bad.log" 1)" ]' "a doubled prefix is caught"
printf '2026-01-01T00:00:00.000Z info node 1 net: node 1 net: connected\n' >"$QFS_TMP/bad.log"
check '[ -n "$(doubled "$QFS_TMP/bad.log" 1)" ]' "a doubled source is caught"
printf '2026-01-01T00:00:00.000Z info node 1 net: connected to node 2 (x:1)\n' >"$QFS_TMP/ok.log"
check '[ -z "$(doubled "$QFS_TMP/ok.log" 1)" ]' "naming another node is not doubling"

exit $((QFS_FAILS > 0))
