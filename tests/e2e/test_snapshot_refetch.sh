#!/usr/bin/env bash
# test_snapshot_refetch.sh: a node catching up by a snapshot that arrives damaged discards
# it, says why, and fetches it again (docs/daemon.md, "A snapshot that fails its checks"):
# it catches up once the leader's copy is good, instead of stopping until a restart.
#
# The damage is made at rest, in the survivors' snapshots/snap-* files: the transport
# authenticates every frame, so a byte changed on the wire ends the connection and never
# reaches the checks; bytes a disk rotted do.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

leader=$(qfs_leader)
lag=$(((leader % 3) + 1))
others=""
for i in 1 2 3; do [ "$i" = "$lag" ] || others="$others $i"; done
lm=$(qfs_mnt "$leader")
echo first >"$lm/first"
check 'eventually 10 sh -c "[ \"\$(cat \"$(qfs_mnt "$lag")/first\" 2>/dev/null)\" = first ]"' "node $lag has the first write"
qfs_stop "$lag"

# Fall behind the compacted log: more than the 1024 entries kept behind a snapshot.
for i in $(seq 1 1500); do echo "w$i" >"$lm/bulk-$((i % 50))"; done
for i in $others; do
	check '"$QUORUMCTL" -d "$(qfs_data "$i")" snapshot >/dev/null' "quorumctl snapshot on node $i"
done

# Flip (or flip back) one byte in the middle of every snapshot file of the survivors.
flip() {
	local f
	for i in $others; do
		for f in "$(qfs_data "$i")"/snapshots/snap-*; do
			[ -f "$f" ] || continue
			python3 - "$f" <<'PY' || return 1
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(0, 2)
    mid = f.tell() // 2
    f.seek(mid)
    b = f.read(1)
    f.seek(mid)
    f.write(bytes([b[0] ^ 0x5A]))
PY
		done
	done
}
check 'flip' "damage the survivors' snapshot files"

qfs_start "$lag"
check 'eventually 60 grep -q "failed its checks" "$QFS_TMP/log.$lag"' "node $lag rejects the damaged snapshot and says so"
check 'flip' "the survivors' snapshot files are good again"
km=$(qfs_mnt "$lag")
check 'eventually 60 sh -c "[ \"\$(cat \"$km/bulk-0\" 2>/dev/null)\" = w1500 ]"' "node $lag catches up by fetching the snapshot again"
check 'grep -q "installed a snapshot from the leader" "$QFS_TMP/log.$lag"' "by installing it"
check '! grep -q "STORAGE FAILURE" "$QFS_TMP/log.$lag"' "without stopping (no storage failure)"
grep "failed its checks" "$QFS_TMP/log.$lag" | head -n 3 >&2
check 'eventually 20 sh -c "echo after > \"$km/after-refetch\""' "node $lag takes writes"
check '[ "$(cat "$lm/after-refetch")" = after ]' "and the leader reads them"

exit $((QFS_FAILS > 0))
