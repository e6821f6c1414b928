#!/usr/bin/env bash
# test_data_path.sh: files behave like files across nodes (docs/semantics.md,
# "Publish at close"): a regenerated file is never seen half-written, a file
# kept open is published within the delay, O_SYNC writes before they return,
# appends from two nodes never interleave, every file type exists alike
# everywhere, set-id bits go on a write by another user, sparse files read
# as zeros, a file unlinked while open stays usable, a 16 MiB file written by head works on a follower and
# one byte more fails with EFBIG at the write that passes the limit, and a
# publish that fails at close is reported there and not renamed into place.
. "$(dirname "$0")/lib.sh"
QFS_MAX_VALUE_SIZE=16M
# A 16 MiB publish is one replicated command: on a loaded machine it can
# take more than lib.sh's 3 s.
QFS_COMMIT_TIMEOUT_MS=10000
# A replacement is published by the delay after 10 x publish-delay-ms even if its
# writer is not done (docs/semantics.md, "Publish at close"): with the default 1 s,
# a 16 MiB head in 4 KiB writes on a loaded machine can pass that and be cut in two.
QFS_CLUSTER_EXTRA="publish-delay-ms = 3000"
qfs_cluster_start 3 -o allow_other
chmod 755 "$QFS_TMP" "$QFS_TMP/mnt" # another user reaches the mounts

m1=$(qfs_mnt 1) m2=$(qfs_mnt 2) m3=$(qfs_mnt 3)

# --- a shell loop regenerating a 1,000-line file, read on node 2 ----------
gen() { for i in $(seq 1000); do echo "gen $1 line $i"; done; }
gen 0 >"$m1/conf"
python3 - "$m2/conf" "$QFS_TMP/stop-reader" "$QFS_TMP/reader-started" >"$QFS_TMP/reader.out" <<'PY' &
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
open(sys.argv[3], 'w').close()
reads = bad = 0
seen = set()
while not os.path.exists(stop):
    with open(path) as f:
        lines = f.read().split('\n')
    reads += 1
    gens = {l.split()[1] for l in lines if l}
    if len(lines) != 1001 or lines[-1] != '' or len(gens) != 1:
        bad += 1
    else:
        seen |= gens
print(reads, bad, len(seen))
PY
reader=$!
eventually 10 test -e "$QFS_TMP/reader-started"
start=$(date +%s%N)
for g in 1 2 3 4 5; do gen "$g" >"$m1/conf"; done
took_ms=$((($(date +%s%N) - start) / 1000000))
sleep 0.3
touch "$QFS_TMP/stop-reader"
wait "$reader"
read -r reads bad gens <"$QFS_TMP/reader.out"
qfs_log "5 generations in ${took_ms} ms; node 2 read the file $reads times, saw $gens generations"
check '[ "${bad:-x}" = 0 ] && [ "${reads:-0}" -gt 5 ]' \
	"a reader on node 2 never sees a partial file ($reads reads, $bad partial)"
check '[ "$(tail -n 1 "$m3/conf")" = "gen 5 line 1000" ]' "the last generation is read on node 3"

# --- a file kept open is published within the delay; O_SYNC at once -------
out=$(python3 - "$m1/kept" "$m2/kept" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b'written, not closed\n')
deadline = time.time() + 30
seen = ''
while time.time() < deadline and not seen:
    try:
        seen = open(sys.argv[2]).read()
    except FileNotFoundError:
        pass # a new file enters the tree with its first publish
    time.sleep(0.1)
sfd = os.open(sys.argv[1] + '.sync', os.O_WRONLY | os.O_CREAT | os.O_SYNC, 0o644)
os.write(sfd, b'sync')
synced = open(sys.argv[2] + '.sync').read()
print(seen.strip() + '|' + synced)
os.close(fd)
os.close(sfd)
PY
)
check '[ "$out" = "written, not closed|sync" ]' \
	"a file kept open on node 1 is seen on node 2 within the delay; an O_SYNC write at once ($out)"

# --- appends from two nodes never interleave inside one write --------------
app() {
	python3 - "$1" "$2" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(200):
    os.write(fd, (sys.argv[2] * 3000 + ' %d\n' % i).encode())
os.close(fd)
PY
}
app "$m1/applog" a &
p1=$!
app "$m2/applog" b &
p2=$!
wait "$p1" "$p2"
whole=$(python3 -c "
import re, sys
lines = open(sys.argv[1]).read().split('\n')
print(len(lines) == 401 and all(re.fullmatch(r'(a{3000}|b{3000}) \d+', l) for l in lines[:-1]))
" "$m3/applog")
check '[ "$whole" = True ]' \
	"200 appends from each of two nodes: 400 whole lines"

# --- every file type, alike on every node ----------------------------------
mkfifo -m 640 "$m1/fifo"
python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$m1/sock')"
python3 -c "import os, stat; os.mknod('$m1/plain', stat.S_IFREG | 0o600)"
mknod -m 600 "$m1/null" c 1 3
mknod -m 600 "$m1/blk" b 7 0
check '[ "$(stat -c %t:%T "$m2/null" 2>&1)" = 1:3 ] && [ "$(stat -c %t:%T "$m3/blk" 2>&1)" = 7:0 ]' \
	"the devices keep their numbers (1:3, 7:0)"
check '[ "$(head -c 4 "$m2/null" | wc -c)" = 0 ]' "the character device 1:3 opened on node 2 is that node's /dev/null"
for f in fifo sock plain null blk; do
	s1=$(stat -c '%F %a %u %g %t:%T %s %Y' "$m1/$f" 2>&1)
	check '[ -e "$m1/$f" ] && [ "$s1" = "$(stat -c "%F %a %u %g %t:%T %s %Y" "$m2/$f" 2>&1)" ] && [ "$s1" = "$(stat -c "%F %a %u %g %t:%T %s %Y" "$m3/$f" 2>&1)" ]' \
		"$f exists alike on nodes 1, 2, 3 ($s1)"
done
check '[ "$(ls -l "$m1" | grep -E " (fifo|sock|plain|null|blk)$")" = "$(ls -l "$m2" | grep -E " (fifo|sock|plain|null|blk)$")" ]' \
	"ls -l shows them alike on nodes 1 and 2"
check '[ "$( (echo through >"$m2/fifo" &) ; cat "$m2/fifo")" = through ]' \
	"a FIFO made on node 1 works as a FIFO on node 2"

# --- open, unlink, read: the file stays usable through its descriptors ----
echo "still here" >"$m1/tmpfile"
out=$(python3 - "$m1/tmpfile" "$m2/tmpfile" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.unlink(sys.argv[2])          # unlinked on another node
out = [str(os.path.exists(sys.argv[1]))]
try:
    out.append(os.pread(fd, 100, 0).decode().strip())
    out.append(str(os.fstat(fd).st_size))
    os.pwrite(fd, b'STILL', 0)
    os.fsync(fd)
    out.append(os.pread(fd, 100, 0).decode().strip())
except OSError as e:
    out.append(os.strerror(e.errno))
os.close(fd)
print('|'.join(out))
PY
)
check '[ "$out" = "False|still here|11|STILL here" ]' \
	"a file unlinked on node 2 stays usable through a descriptor open on node 1 ($out)"
out=$(python3 - "$m1/tmp2" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.unlink(sys.argv[1])          # the temp-file idiom, on one node
os.write(fd, b'scratch data')
os.lseek(fd, 0, 0)
print(os.read(fd, 100).decode(), os.fstat(fd).st_nlink)
os.close(fd)
PY
)
check '[ "$out" = "scratch data 0" ]' "open, unlink, write, read back on node 1 ($out)"

# --- set-id bits: cleared by a write of another user, kept by root's -----
as_user() { setpriv --reuid=4242 --regid=4242 --clear-groups "$@"; }
echo setid >"$m1/suid"
chmod 6777 "$m1/suid"
as_user sh -c "echo more >>'$m1/suid'"
check '[ "$(stat -c %a "$m2/suid")" = 777 ]' "a write by an unprivileged user clears S_ISUID and S_ISGID (g+x)"
chmod 6777 "$m1/suid"
as_user sh -c "echo replaced >'$m1/suid'"
check '[ "$(stat -c %a "$m2/suid")" = 777 ] && [ "$(cat "$m2/suid")" = replaced ]' \
	"... and an O_TRUNC rewrite by one"
chmod 2766 "$m1/suid"
as_user sh -c "echo again >>'$m1/suid'"
check '[ "$(stat -c %a "$m2/suid")" = 2766 ]' "S_ISGID without group-execute stays"
chmod 6777 "$m1/suid"
as_user truncate -s 2 "$m1/suid"
check '[ "$(stat -c %a "$m3/suid")" = 777 ]' "a truncate by an unprivileged user clears them"
chmod 6777 "$m1/suid"
echo root >>"$m1/suid"
check '[ "$(stat -c %a "$m2/suid")" = 6777 ]' "a write by root (CAP_FSETID) keeps them"

# --- sparse files --------------------------------------------------------
truncate -s 8M "$m1/sparse"
printf X | dd of="$m1/sparse" bs=1 seek=4194304 conv=notrunc status=none
truncate -s 8M "$QFS_TMP/sparse.local"
printf X | dd of="$QFS_TMP/sparse.local" bs=1 seek=4194304 conv=notrunc status=none
check 'cmp -s "$m2/sparse" "$QFS_TMP/sparse.local"' "a sparse file reads back as zeros and its one byte on node 2"
check '[ "$(stat -c %b "$m2/sparse")" -lt 64 ]' \
	"... and its holes take no space (st_blocks $(stat -c %b "$m2/sparse") for 8 MiB)"

# --- 16 MiB on a follower: the limit, at the write that passes it ---------
leader=$(qfs_leader)
f=1
[ "$leader" = 1 ] && f=2
mf=$(qfs_mnt $f)
echo old >"$mf/big"
err=$(head -c 16777217 /dev/zero 2>&1 >"$mf/big")
check '[[ "$err" == *"File too large"* ]]' "16777217 bytes in head's writes on follower $f: EFBIG ($err)"
check '[ "$(cat "$m3/big")" = old ] && [ "$(cat "$(qfs_mnt "$leader")/big")" = old ]' "... and the old contents stay"
start=$(date +%s%N)
head -c 16777216 /dev/zero >"$mf/big"
rc=$?
took_ms=$((($(date +%s%N) - start) / 1000000))
check '[ $rc = 0 ] && [ "$(stat -c %s "$m3/big")" = 16777216 ]' "16777216 bytes on follower $f (${took_ms} ms)"
rm -f "$mf/big"

# --- a publish that fails at close is reported, and not renamed into place -
echo "the good one" >"$m3/cfg"
out=$(python3 - "$m3/cfg.tmp" "${QFS_PID[1]}" "${QFS_PID[2]}" <<'PY'
import errno, os, signal, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b'generated\n' * 100)   # gathered, answered at once
for p in sys.argv[2:]:
    os.kill(int(p), signal.SIGSTOP)  # no quorum for node 3
try:
    os.close(fd)
    r = 'close ok'
except OSError as e:
    r = 'close ' + errno.errorcode[e.errno]
for p in sys.argv[2:]:
    os.kill(int(p), signal.SIGCONT)
print(r)
PY
)
check '[[ "$out" == "close EROFS" || "$out" == "close ETIMEDOUT" ]]' "close(2) reports the failed publish ($out)"
qfs_wait_leader 30
eventually 20 test -e "$m3/cfg.tmp"
err=$(mv "$m3/cfg.tmp" "$m3/cfg" 2>&1)
check '[[ "$err" == *"Input/output error"* ]]' "mv of the file that lost its contents fails with EIO ($err)"
check '[ "$(cat "$m1/cfg")" = "the good one" ] && [ "$(cat "$m3/cfg")" = "the good one" ]' \
	"... and the old file stays in place on every node"
# Node 3 refuses writes (EROFS) until it hears a leader again: rewrite once it takes them.
check 'eventually 20 sh -c "echo regenerated >\"$m3/cfg.tmp\""' "node 3 takes the rewrite once it hears a leader"
err=$(mv "$m3/cfg.tmp" "$m3/cfg" 2>&1)
check '[ -z "$err" ] && [ "$(cat "$m2/cfg")" = regenerated ]' \
	"once rewritten, the file renames into place ($err; $(cat "$m2/cfg" 2>&1 | head -c 40))"

exit $((QFS_FAILS > 0))
