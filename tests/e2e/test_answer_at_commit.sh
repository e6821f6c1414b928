#!/usr/bin/env bash
# test_answer_at_commit.sh: a write to an existing file is answered once it
# is committed, before its apply (src/node/answer.c), and no read anywhere
# can tell: read back at once through the writer's mount and every other
# mount, it is there, on the leader's mount, a follower's, and a mount with
# stale_reads (whose reads take no ReadIndex round and so must wait for the
# apply of what that node answered). quorumfs_answers_at_commit_total
# shows the answers were given at commit; an O_APPEND write is not one.
. "$(dirname "$0")/lib.sh"
QFS_HTTP=1
qfs_cluster_start 3

N=20
metric() { qfs_metric "$1" quorumfs_answers_at_commit_total; }

rounds() { qfs_rounds "$N" "$1" "$2"; } # tests/e2e/lib.sh

leader=$(qfs_leader)
follower=1
[ "$follower" = "$leader" ] && follower=2
for w in "$leader" "$follower"; do
	echo first >"$(qfs_mnt "$w")/f$w" # a CREATE: answered at its apply
	before=$(metric "$w")
	bad=$(rounds "$w" "f$w")
	after=$(metric "$w")
	check '[ "$bad" = 0 ]' "node $w: each of $N overwrites is read back at once on every node ($bad stale reads)"
	# Most writes, not all: a write committed behind an entry that may
	# remove an inode (a session keepalive, say) waits for the apply.
	check '[ $((${after:-0} - ${before:-0})) -ge $((N / 2)) ]' \
		"node $w: the overwrites were answered at commit ($before -> $after)"
done

# O_APPEND: where it lands depends on the tree, so it waits for the apply.
before=$(metric "$leader")
echo more >>"$(qfs_mnt "$leader")/f$leader"
after=$(metric "$leader")
check '[ "$before" = "$after" ]' "an O_APPEND write is answered at its apply ($before -> $after)"
for j in 1 2 3; do
	check '[ "$(cat "$(qfs_mnt "$j")/f$leader")" = "$(printf "round %d from node %d\nmore" "$N" "$leader")" ]' \
		"node $j reads the appended line at once"
done

# A stale_reads mount: its reads wait only for the apply of what its node
# answered at commit, which is what keeps its own writes visible to it.
s=$((6 - leader - follower)) # the third node
qfs_stop "$s"
qfs_start "$s" -o stale_reads
eventually 30 sh -c "[ \"\$(cat '$(qfs_mnt "$s")/f$leader' 2>/dev/null | tail -n 1)\" = more ]" ||
	fail "node $s (stale_reads) caught up after its restart"
echo first >"$(qfs_mnt "$s")/s"
before=$(metric "$s")
bad=$(rounds "$s" s)
after=$(metric "$s")
check '[ "$bad" = 0 ]' "stale_reads node $s: each overwrite is read back at once on every node ($bad stale reads)"
check '[ $((${after:-0} - ${before:-0})) -ge $((N / 2)) ]' \
	"stale_reads node $s: the overwrites were answered at commit ($before -> $after)"

[ $QFS_FAILS -eq 0 ]
