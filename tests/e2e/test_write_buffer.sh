#!/usr/bin/env bash
# test_write_buffer.sh: the mount's budget for gathered writes (write-buffer-size,
# docs/semantics.md "Publish at close", rule 7): what happens past it. A file written past
# the budget while it stays open is published in pieces (another node reads a prefix before
# the close: the atomic replacement holds only within the budget) and is whole after the
# close; the budget is shared: a write that would pass it publishes the file gathered longest
# ago, also another one, and what fits stays gathered; an appender past it still gets EFBIG at
# the write that passes max-value-size.
. "$(dirname "$0")/lib.sh"
QFS_MAX_VALUE_SIZE=4M
QFS_CLUSTER_EXTRA="publish-delay-ms = 600000
write-buffer-size = 1M"
qfs_cluster_start 3

m1=$(qfs_mnt 1) m2=$(qfs_mnt 2) m3=$(qfs_mnt 3)
echo old >"$m1/big"
echo a-old >"$m1/a"
echo b-old >"$m1/b"

out=$(python3 - "$m1" "$m2" <<'PY'
import errno, os, sys, time
m1, m2 = sys.argv[1], sys.argv[2]
K = 1024
def size2(name):
    try:
        return os.stat(os.path.join(m2, name)).st_size
    except OSError:
        return -1
def wait_for(cond, secs=20):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()
res = []

# One file, 3 MiB in 64 KiB writes, past the 1 MiB budget, kept open.
data = bytes((i * 7 + i // 4096) % 251 for i in range(3 * K * K))
fd = os.open(os.path.join(m1, 'big'), os.O_WRONLY | os.O_TRUNC)
for off in range(0, len(data), 64 * K):
    os.write(fd, data[off:off + 64 * K])
# The pieces are published without waiting (the writes were answered at once).
wait_for(lambda: size2('big') >= 2 * K * K)
s = size2('big')
with open(os.path.join(m2, 'big'), 'rb') as f:
    seen = f.read()
res.append('prefix' if 0 < s < len(data) and data.startswith(seen) else 'size %d' % s)
os.close(fd)
with open(os.path.join(m2, 'big'), 'rb') as f:
    res.append('whole' if f.read() == data else 'not whole')

# Two files sharing the budget: a, 768 KiB, gathered first; b, 512 KiB, after it.
fa = os.open(os.path.join(m1, 'a'), os.O_WRONLY | os.O_TRUNC)
for _ in range(12):
    os.write(fa, b'a' * 64 * K)
time.sleep(0.2)
res.append('a gathered' if size2('a') == 6 else 'a size %d' % size2('a'))
fb = os.open(os.path.join(m1, 'b'), os.O_WRONLY | os.O_TRUNC)
for _ in range(8):
    os.write(fb, b'b' * 64 * K)
# b's fifth write would pass 1 MiB: a, gathered longest ago, goes; b fits and stays.
ok = wait_for(lambda: size2('a') == 768 * K)
time.sleep(0.2)
res.append('a published' if ok else 'a size %d' % size2('a'))
res.append('b gathered' if size2('b') == 6 else 'b size %d' % size2('b'))
os.close(fb)
os.close(fa)
res.append('b whole' if open(os.path.join(m2, 'b'), 'rb').read() == b'b' * 512 * K else 'b not whole')

# An appender past the budget: its pieces are in flight when it writes on, and
# the limit (4 MiB) still fails the very write that passes it.
fl = os.open(os.path.join(m1, 'log'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
n = 0
try:
    while n < 80:
        os.write(fl, b'l' * 64 * K)
        n += 1
    r = 'no error'
except OSError as e:
    r = '%s at write %d' % (errno.errorcode[e.errno], n + 1)
try:
    os.close(fl)
    r += ', close ok'
except OSError as e:
    r += ', close ' + errno.errorcode[e.errno]
res.append(r)
print('|'.join(res))
PY
)
qfs_log "python: $out"
IFS='|' read -r big_open big_closed a1 a2 b1 b2 appender <<<"$out"
check '[ "$big_open" = prefix ]' \
	"3 MiB written past the 1 MiB budget through a file kept open: node 2 reads a prefix of it before the close ($big_open)"
check '[ "$big_closed" = whole ]' "... and all 3 MiB after the close ($big_closed)"
check '[ "$a1" = "a gathered" ]' "768 KiB within the budget stay gathered: node 2 reads the old file ($a1)"
check '[ "$a2" = "a published" ]' "a write to another file that would pass the budget publishes the one gathered longest ago ($a2)"
check '[ "$b1" = "b gathered" ]' "... and the writing file, which fits, stays gathered ($b1)"
check '[ "$b2" = "b whole" ]' "... until its close ($b2)"
check '[ "$appender" = "EFBIG at write 65, close ok" ] && [ "$(stat -c %s "$m2/log")" = 4194304 ]' \
	"an appender past the budget gets EFBIG at the write that passes max-value-size, and keeps the 4 MiB before it ($appender)"
check '[ "$(cat "$m3/a" | wc -c)" = 786432 ] && [ "$(cat "$m3/big" | wc -c)" = 3145728 ]' "node 3 reads them whole too"

exit $((QFS_FAILS > 0))
