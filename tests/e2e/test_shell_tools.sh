#!/usr/bin/env bash
# test_shell_tools.sh: what a user does with shell tools on one node is what
# every other node shows: contents, sizes, modes, times, links, xattrs.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

m1=$(qfs_mnt 1) m2=$(qfs_mnt 2) m3=$(qfs_mnt 3)

# echo on one node, cat on the others.
echo 'db.example.internal' >"$m1/db_host"
check '[ "$(cat "$m2/db_host")" = db.example.internal ]' "echo on 1, cat on 2"
check '[ "$(cat "$m3/db_host")" = db.example.internal ]' "echo on 1, cat on 3"

# Replacing a value: the old one is gone everywhere (no stale cache).
echo 'db2.example.internal' >"$m2/db_host"
check '[ "$(cat "$m1/db_host")" = db2.example.internal ]' "overwrite on 2 seen on 1"
check '[ "$(cat "$m3/db_host")" = db2.example.internal ]' "overwrite on 2 seen on 3"

# >> appends.
echo one >"$m1/log"
echo two >>"$m2/log"
echo three >>"$m3/log"
check '[ "$(cat "$m1/log")" = "$(printf "one\ntwo\nthree")" ]' ">> from three nodes, in order"

# Binary data with NUL bytes, byte for byte.
printf 'a\000b\000\377\001end' >"$m3/bin"
check 'cmp -s <(printf "a\000b\000\377\001end") "$m1/bin"' "printf of NUL bytes read back exactly"
check '[ "$(stat -c %s "$m2/bin")" = 9 ]' "binary file size"

# mkdir -p of a deep tree.
deep=$(printf 'd%d/' $(seq 1 40))
mkdir -p "$m1/$deep"
echo bottom >"$m1/${deep}leaf"
check '[ "$(cat "$m3/${deep}leaf")" = bottom ]' "mkdir -p 40 levels deep"

# cp -r of a tree of a few hundred files.
src=$(mktemp -d)
for d in $(seq 1 10); do
	mkdir -p "$src/tree/dir$d"
	for f in $(seq 1 30); do echo "file $d/$f" >"$src/tree/dir$d/f$f"; done
done
cp -r "$src/tree" "$m2/tree"
check '[ "$(find "$m3/tree" -type f | wc -l)" = 300 ]' "cp -r of 300 files listed on 3"
check 'diff -r "$src/tree" "$m1/tree" >/dev/null' "cp -r tree identical on 1"
rm -rf "$src"

# mv over an existing file (atomic replace) and of a non-empty directory.
echo new >"$m1/cfg.tmp"
echo old >"$m1/cfg"
mv "$m1/cfg.tmp" "$m1/cfg"
check '[ "$(cat "$m2/cfg")" = new ] && [ ! -e "$m2/cfg.tmp" ]' "mv over a file"
mv "$m2/tree" "$m2/tree2"
check '[ -f "$m3/tree2/dir5/f7" ] && [ ! -e "$m3/tree" ]' "mv of a non-empty directory"

# rm -r.
rm -r "$m3/tree2"
check '[ ! -e "$m1/tree2" ]' "rm -r of the tree"

# sed -i (write a temp file, rename over the original).
printf 'port=80\nhost=a\n' >"$m1/app.conf"
sed -i 's/port=80/port=8080/' "$m2/app.conf"
check '[ "$(head -1 "$m3/app.conf")" = port=8080 ]' "sed -i on 2 seen on 3"

# truncate, chmod, ln -s, ln.
echo 0123456789 >"$m1/t"
truncate -s 4 "$m2/t"
check '[ "$(cat "$m3/t")" = 0123 ]' "truncate -s 4"
truncate -s 8 "$m3/t"
check 'cmp -s <(printf "0123\000\000\000\000") "$m1/t"' "truncate up zero-fills"
chmod 640 "$m1/t"
check '[ "$(stat -c %a "$m2/t")" = 640 ]' "chmod"
ln -s ../db_host "$m1/link"
mkdir -p "$m1/sub"
ln -s ../db_host "$m1/sub/link"
check '[ "$(readlink "$m3/sub/link")" = ../db_host ] && [ "$(cat "$m3/sub/link")" = db2.example.internal ]' "ln -s"
ln "$m2/db_host" "$m2/hard"
check '[ "$(stat -c %h "$m3/db_host")" = 2 ] && [ "$(cat "$m3/hard")" = db2.example.internal ]' "ln (hard link)"

# Extended attributes.
setfattr -n user.owner -v team-a "$m1/db_host"
check '[ "$(getfattr --only-values -n user.owner "$m3/db_host" 2>/dev/null)" = team-a ]' "setfattr / getfattr"

# ": > f" truncates, also with no write after it: at once through this node;
# on the others once the handle's release commits it, which close() does not
# wait for (docs/semantics.md, "Truncation at open"). truncate -s 0 is the
# form that returns after the commit.
: >"$m1/log"
check '[ "$(stat -c %s "$m1/log")" = 0 ]' ": > f empties the file at once through the same node"
check 'eventually 15 sh -c "[ \"\$(stat -c %s \"$m2/log\")\" = 0 ]"' ": > f empties it on the others too"
echo refill >"$m1/t0"
truncate -s 0 "$m1/t0"
check '[ "$(stat -c %s "$m3/t0")" = 0 ]' "truncate -s 0 is visible on another node when it returns"

# A reader never sees a mix of an old and a new value: cat reads until EOF in
# several read(2) calls, while another node replaces the file with values of
# other lengths.
# (The file exists first: a new file is created empty, then written.)
echo short >"$m1/flip"
eventually 15 test -s "$m2/flip"
(for i in $(seq 1 150); do echo short >"$m1/flip"; echo a-much-much-longer-value >"$m1/flip"; done) &
writer=$!
mixed=0
for i in $(seq 1 300); do
	v=$(cat "$m2/flip")
	case "$v" in short | a-much-much-longer-value) ;; *) mixed=$((mixed + 1)); qfs_log "mixed read: '$v'" ;; esac
done
wait $writer
check '[ $mixed = 0 ]' "300 cats during 300 replacements on another node read whole values only"

# ls -l agrees on every node: names, sizes, modes, link counts, owners, mtimes.
listing() { (cd "$1" && find . -printf '%p %s %m %n %U %G %T@ %y\n' | sort); }
check '[ "$(listing "$m1")" = "$(listing "$m2")" ]' "node 1 and 2 list the same metadata"
check '[ "$(listing "$m1")" = "$(listing "$m3")" ]' "node 1 and 3 list the same metadata"

exit $((QFS_FAILS > 0))
