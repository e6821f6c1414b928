#!/usr/bin/env bash
# test_new_file.sh: a new file and its contents are one commit (docs/semantics.md, "A new file at
# its first publish"): `echo v > new` moves the commit index by one, on the leader's mount and on a
# follower's; the new file is read whole on every node once close returns; what this node does
# with the file while it is being created sees it; O_EXCL from three nodes at once lets exactly
# one win; creates of one name from two nodes at once leave one whole file, the same everywhere.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

leader=$(qfs_leader)
follower=$((leader % 3 + 1))
commit() { jq -r .commit "$(qfs_mnt "$1")/.quorumfs/status"; }

# The first create of a mount reserves its inode numbers (one commit more).
for i in 1 2 3; do echo warm >"$(qfs_mnt "$i")/warm.$i"; done

# One commit each. Background entries (session keepalives) may land in
# between, so the smallest step of five is the one that counts.
for i in $leader $follower; do
	m=$(qfs_mnt "$i")
	best=99
	for r in 1 2 3 4 5; do
		c0=$(commit "$leader")
		echo "v$r" >"$m/new.$i.$r"
		c1=$(commit "$leader")
		[ $((c1 - c0)) -lt $best ] && best=$((c1 - c0))
	done
	check '[ $best = 1 ]' "node $i: echo v > new moves the commit index by one ($best)"
	for j in 1 2 3; do
		check '[ "$(cat "$(qfs_mnt "$j")/new.$i.5")" = v5 ]' "node $i's new file is read on node $j"
	done
done

# Written in many pieces, read whole on the others the moment close returns.
m1=$(qfs_mnt 1)
head -c 300000 /dev/urandom >"$QFS_TMP/big"
cp "$QFS_TMP/big" "$m1/big.copy"
for j in 2 3; do
	check 'cmp -s "$QFS_TMP/big" "$(qfs_mnt "$j")/big.copy"' "a 300 kB new file is whole on node $j"
done
check '[ "$(stat -c %U "$(qfs_mnt 2)/big.copy")" = "$(id -un)" ]' "owned by its creator"

# While a file is open and being created, this node sees it: stat, ls, a
# second open; the rest of what is written still arrives.
exec 3>"$m1/open"
echo a >&3
check '[ -f "$m1/open" ]' "stat sees a file still being created"
check 'ls "$m1" | grep -qx open' "ls lists it"
check '[ "$(cat "$m1/open")" = a ]' "a second open reads what it has so far"
echo b >&3
exec 3>&-
check '[ "$(cat "$(qfs_mnt 3)/open")" = "$(printf "a\nb")" ]' "and node 3 reads all of it after close"

# Created with nothing written: there at close, on every node.
: >"$m1/empty"
check '[ -f "$(qfs_mnt 2)/empty" ] && [ ! -s "$(qfs_mnt 2)/empty" ]' ": > empty is on node 2 at once"
python3 -c "open('$m1/py', 'w').close()"
check '[ -f "$m1/py" ]' "open+close: the file is there on its node"
check 'eventually 10 test -f "$(qfs_mnt 3)/py"' "and on node 3 once released"

# O_EXCL from three nodes at once: exactly one wins each name.
race() { # race FLAGS NAME: each node opens NAME with FLAGS at the same moment
	local go="$QFS_TMP/go.$2" pids=() i
	for i in 1 2 3; do
		python3 - "$(qfs_mnt "$i")/$2" "$go" "$i" "$1" >"$QFS_TMP/race.$2.$i" 2>&1 <<'PY' &
import os, sys, time
path, go, me, kind = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
flags = os.O_WRONLY | os.O_CREAT
flags |= {"excl": os.O_EXCL, "trunc": os.O_TRUNC, "append": os.O_APPEND}[kind]
while not os.path.exists(go):
    time.sleep(0.001)
try:
    fd = os.open(path, flags, 0o644)
except FileExistsError:
    print("lost")
    sys.exit(0)
os.write(fd, ("node %s\n" % me).encode())
os.close(fd)
print("won")
PY
		pids+=($!)
	done
	sleep 0.3
	touch "$go"
	wait "${pids[@]}"
}
for r in 1 2 3 4 5; do
	race excl "excl.$r"
	won=$(cat "$QFS_TMP"/race.excl.$r.* | grep -c won)
	check '[ "$won" = 1 ]' "O_EXCL round $r: one of three nodes wins ($(cat "$QFS_TMP"/race.excl.$r.* | tr "\n" " "))"
	w=$(grep -l won "$QFS_TMP"/race.excl.$r.* | sed 's/.*\.//')
	for j in 1 2 3; do
		check '[ "$(cat "$(qfs_mnt "$j")/excl.$r")" = "node $w" ]' "round $r: node $j reads the winner's line"
	done
done

# Without O_EXCL every open succeeds; a create that finds the name made
# first by another node writes that file: replaced whole (O_TRUNC), or
# appended to (O_APPEND), and every node reads the same.
for r in 1 2 3; do
	race trunc "trunc.$r"
	check '[ "$(cat "$QFS_TMP"/race.trunc.$r.* | grep -c won)" = 3 ]' "O_TRUNC round $r: every open succeeds"
	v=$(cat "$(qfs_mnt 1)/trunc.$r")
	check '[[ "$v" =~ ^node\ [123]$ ]]' "round $r: one whole line ($v)"
	for j in 2 3; do
		check '[ "$(cat "$(qfs_mnt "$j")/trunc.$r")" = "$v" ]' "round $r: node $j reads the same"
	done
	race append "append.$r"
	check '[ "$(sort "$(qfs_mnt 2)/append.$r" | tr "\n" " ")" = "node 1 node 2 node 3 " ]' \
		"O_APPEND round $r: every node's line is there ($(tr "\n" " " <"$(qfs_mnt 2)/append.$r"))"
done

# Whether a race above met the other node's file first is up to timing;
# the log says how often it did.
qfs_log "creates that met a file made first: $(cat "$QFS_TMP"/log.* | grep -c 'met a file made first')"
qfs_log "done: $QFS_FAILS failure(s)"
[ "$QFS_FAILS" = 0 ]
