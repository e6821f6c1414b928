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
metric() {
	curl -sf --max-time 5 "http://$(qfs_http_addr "$1")/metrics" |
		awk '$1 == "quorumfs_answers_at_commit_total" {print $2}'
}

# rounds W NAME: N overwrites of NAME through node W's mount, each read back
# on every node (W's first) in the same process the moment close(2)
# returns, so a read that did not wait for the apply would see the round
# before; prints the number of reads that did not match.
rounds() {
	python3 - "$N" "$1" "$2" "$(qfs_mnt "$1")" "$(qfs_mnt 1)" "$(qfs_mnt 2)" "$(qfs_mnt 3)" <<'PY'
import sys
n, w, name, mine, others = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
bad = 0
for i in range(1, n + 1):
    want = "round %d from node %s\n" % (i, w)
    with open(mine + "/" + name, "w") as f:
        f.write(want)
    for m in [mine] + others:
        with open(m + "/" + name) as f:
            got = f.read()
        if got != want:
            print("%s read %r after round %d" % (m, got, i), file=sys.stderr)
            bad += 1
print(bad)
PY
}

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
