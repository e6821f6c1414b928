#!/usr/bin/env bash
# test_write_errors.sh: errors of the write path are never silent (docs/semantics.md,
# "A failed publish"): a publish made by the delay for a file kept open that fails (no
# quorum) is reported by the next fsync(2), write(2) or close(2) of its descriptor, once;
# and a node whose data directory's disk is really full (fault-disk, tests/fault, under
# node 3) fails write(2) at once with ENOSPC, stays up, and takes writes again once space
# is back.
. "$(dirname "$0")/lib.sh"
DISK=${QFS_FAULT_DISK:-$QFS_BUILD/tests/fault/fault-disk}
QFS_CLUSTER_EXTRA="publish-delay-ms = 200"
qfs_cluster_start 3
[ -x "$DISK" ] || { fail "fault-disk not built at $DISK"; exit 1; }

m1=$(qfs_mnt 1) m3=$(qfs_mnt 3)

# --- a failed publish by the delay is reported by the next fsync, write, close ---
leader=$(qfs_leader)
f=1
[ "$leader" = 1 ] && f=2
others=()
for i in 1 2 3; do [ "$i" != "$f" ] && others+=("${QFS_PID[$i]}"); done
mf=$(qfs_mnt $f)
for n in s w c; do echo committed >"$mf/$n"; done
out=$(python3 - "$mf" "$QFS_TMP/log.$f" "${others[@]}" <<'PY'
import errno, os, signal, sys, time
mf, log, others = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
def err(fn):
    try:
        fn()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
fds = {n: os.open(os.path.join(mf, n), os.O_WRONLY | os.O_APPEND) for n in 'swc'}
for p in others:
    os.kill(p, signal.SIGSTOP)       # node f is out of contact from now on
try:
    for n, fd in fds.items():        # gathered (out of contact for less than the
        os.write(fd, b'lost\n')      # commit timeout); the delay publishes them
    # Wait until the three delayed publishes failed (the commit timeout, 3 s).
    end = time.time() + 30
    while time.time() < end and sum('written to inode' in l and 'failed:' in l
                                    for l in open(log)) < 3:
        time.sleep(0.1)
finally:
    for p in others:
        os.kill(p, signal.SIGCONT)
# Back in contact: a commit through node f works again.
end = time.time() + 30
while time.time() < end:
    try:
        with open(os.path.join(mf, 'probe'), 'w') as p:
            p.write('x')
        break
    except OSError:
        time.sleep(0.2)
r = [err(lambda: os.fsync(fds['s'])), err(lambda: os.fsync(fds['s']))]
r += [err(lambda: os.write(fds['w'], b'next\n')), err(lambda: os.write(fds['w'], b'next\n'))]
r += [err(lambda: os.close(fds['c']))]
r += [err(lambda: os.close(fds['s'])), err(lambda: os.close(fds['w']))]
print(' '.join(r))
PY
)
read -r fs1 fs2 w1 w2 c1 cs cw <<<"$out"
qfs_log "after the delay's publish failed: fsync $fs1, $fs2; write $w1, $w2; close $c1 ($out)"
lost() { [ "$1" = EROFS ] || [ "$1" = ETIMEDOUT ]; }
check 'lost "$fs1" && [ "$fs2" = ok ]' \
	"fsync reports the delay's failed publish (EROFS or ETIMEDOUT), and only once ($fs1, then $fs2)"
check 'lost "$w1" && [ "$w2" = ok ]' "so does the next write(2), and the one after it is taken ($w1, then $w2)"
check 'lost "$c1"' "so does close(2) ($c1)"
check '[ "$cs" = ok ] && [ "$cw" = ok ]' "the errors were reported once: the later closes succeed ($cs, $cw)"
check '[ "$(cat "$m3/w")" = "committed
next" ] || [ "$(cat "$m3/w")" = "committed
lost
next" ]' "the write taken after the error is published ($(cat "$m3/w" | tr '\n' '|'))"

# --- ENOSPC at write(2) through a real full disk under node 3 --------------
# Node 3's data directory moves onto fault-disk (a FUSE passthrough over the old one).
DISK_PID=""
trap 'rc=$?
if [ -n "$DISK_PID" ]; then
	[ -n "${QFS_PID[3]:-}" ] && { kill -KILL "${QFS_PID[3]}"; wait "${QFS_PID[3]}"; unset "QFS_PID[3]"; }
	qfs_unmount "$m3"
	fusermount3 -u "$(qfs_data 3)" 2>/dev/null || fusermount3 -u -z "$(qfs_data 3)"
	kill -KILL "$DISK_PID"; wait "$DISK_PID"
fi 2>/dev/null
(exit $rc); qfs_cleanup; qfs_watchdog_stop' EXIT
qfs_stop 3
mv "$(qfs_data 3)" "$QFS_TMP/disk3"
mkdir "$(qfs_data 3)"
mkfifo "$QFS_TMP/disk3.ctl"
"$DISK" "$QFS_TMP/disk3" "$(qfs_data 3)" --control "$QFS_TMP/disk3.ctl" >"$QFS_TMP/disk3.out" 2>&1 &
DISK_PID=$!
exec 7<>"$QFS_TMP/disk3.ctl"
eventually 20 grep -q '^ready' "$QFS_TMP/disk3.out" || { fail "fault-disk did not start"; exit 1; }
qfs_start 3
echo on-disk >"$m1/probe3"
check 'eventually 30 test "$(cat "$m3/probe3")" = on-disk' "node 3 runs on fault-disk and follows"
echo before >"$m3/f"

out=$(python3 - "$m3/f" "$m1/trigger" "$QFS_TMP/log.3" "$QFS_TMP/disk3.ctl" "$QFS_TMP/disk3.out" <<'PY'
import errno, os, sys, time
f, trigger, log, ctl, ctlout = sys.argv[1:]
n = 0
def disk(cmd):
    global n
    n += 1
    with open(ctl, 'w') as c:
        c.write('c%d %s\n' % (n, cmd))
    end = time.time() + 20
    while time.time() < end:
        if any(l.startswith('c%d ' % n) for l in open(ctlout)):
            return
        time.sleep(0.05)
    raise SystemExit('fault-disk did not answer ' + cmd)
def err(fn):
    try:
        fn()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
fd = os.open(f, os.O_WRONLY | os.O_APPEND)   # a log writer, open before the disk fills
disk('full')
# An entry node 3 must store: its writer meets the full disk.
with open(trigger, 'w') as t:
    t.write('while node 3 is full\n')
end = time.time() + 30
while time.time() < end and 'disk is full' not in open(log).read():
    time.sleep(0.1)
r = [err(lambda: os.write(fd, b'full\n'))]
disk('ok')
# The writer retries every 500 ms: writes are taken again once it stored the batch.
end = time.time() + 30
w = 'none'
while time.time() < end:
    w = err(lambda: os.write(fd, b'after\n'))
    if w == 'ok':
        break
    time.sleep(0.2)
r += [w, err(lambda: os.close(fd))]
print(' '.join(r))
PY
)
read -r full after closed <<<"$out"
qfs_log "write on the full disk: $full; once freed: $after, close $closed ($out)"
check '[ "$full" = ENOSPC ]' "write(2) on node 3 fails at once with ENOSPC while its disk is full ($full)"
check 'kill -0 "${QFS_PID[3]}"' "node 3 stays up"
check '[ "$after" = ok ] && [ "$closed" = ok ]' "once space is back, node 3 takes writes again ($after, close $closed)"
check 'eventually 20 test "$(cat "$m1/f")" = "before
after"' "... and they reach node 1, without the refused one ($(cat "$m1/f" | tr '\n' '|'))"

exit $((QFS_FAILS > 0))
