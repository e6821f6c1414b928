#!/usr/bin/env bash
# test_follower_leases.sh: with follower-lease-ms set, a follower answers
# linearizable reads from its own tree under its lease (counted in
# quorumfs_follower_lease_reads_total, no round to the leader), and still
# never returns a value older than a write that returned before the read
# began: each of N writes, on the leader's mount and on a follower's, is
# read back on every mount the moment close(2) returns.
. "$(dirname "$0")/lib.sh"
QFS_HTTP=1
QFS_CLUSTER_EXTRA="follower-lease-ms = 400"
qfs_cluster_start 3

N=200
metric() {
	curl -sf --max-time 5 "http://$(qfs_http_addr "$1")/metrics" |
		awk '$1 == "quorumfs_follower_lease_reads_total" {print $2}'
}

# rounds W NAME: N writes of NAME through node W's mount, each read back
# on every node in the same process the moment close(2) returns; prints
# the number of reads that did not see it.
rounds() {
	python3 - "$N" "$1" "$2" "$(qfs_mnt "$1")" "$(qfs_mnt 1)" "$(qfs_mnt 2)" "$(qfs_mnt 3)" <<'PY'
import sys
n, w, name, mine, others = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
bad = 0
for i in range(1, n + 1):
    want = "round %d from node %s\n" % (i, w)
    with open(mine + "/" + name, "w") as f:
        f.write(want)
    for m in others:
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
other=$((6 - leader - follower))
m1=$(metric "$follower")
m2=$(metric "$other")
before=$((${m1:-0} + ${m2:-0}))
for w in "$leader" "$follower"; do
	echo first >"$(qfs_mnt "$w")/f$w"
	bad=$(rounds "$w" "f$w")
	check '[ "$bad" = 0 ]' "node $w: each of $N writes is read on every node the moment it returns ($bad stale reads)"
done
m1=$(metric "$follower")
m2=$(metric "$other")
after=$((${m1:-0} + ${m2:-0}))
check '[ $((after - before)) -ge $N ]' \
	"the followers passed read barriers under their lease ($before -> $after)"

# A follower cut off: its lease ends, writes go on after at most the lease.
kill -STOP "${QFS_PID[$other]}"
trap 'kill -CONT "${QFS_PID[$other]}" 2>/dev/null; qfs_cleanup; qfs_watchdog_stop' EXIT
start=$(date +%s%N)
echo after-stop >"$(qfs_mnt "$leader")/g"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
qfs_log "a write with a lease holder stopped took $ms ms (follower-lease-ms = 400)"
check '[ "$(cat "$(qfs_mnt "$follower")/g")" = after-stop ]' "the other follower reads it at once"
kill -CONT "${QFS_PID[$other]}"
reads_g() { [ "$(cat "$(qfs_mnt "$other")/g" 2>/dev/null)" = after-stop ]; }
check 'eventually 20 reads_g' "the stopped follower reads it once it runs again"

[ $QFS_FAILS -eq 0 ]
