#!/usr/bin/env bash
# test_mmap.sh [page-cache]: mmap(MAP_SHARED) works, at the daemon's
# defaults (direct I/O for read(2) and write(2), the mapping through the
# page cache: FUSE_DIRECT_IO_ALLOW_MMAP, fuse/init_ext.c) and with
# page-cache = true (no direct I/O at all): a key is read through a shared
# mapping on a follower; a write through a mapping reaches every other node
# at msync, and at close without msync; a mapping taken after another
# node's write shows it; and a descriptor kept open reads every write
# another node completed, 200 times in a row (docs/semantics.md, "Shared
# mappings").
. "$(dirname "$0")/lib.sh"
if [ "${1:-}" = page-cache ]; then
	QFS_CLUSTER_EXTRA="page-cache = true"
elif ! python3 -c 'import sys; v = tuple(map(int, sys.argv[1].split(".")[:2])); sys.exit(v < (6, 6))' "$(uname -r)"; then
	echo "skip: Linux $(uname -r) has no FUSE_DIRECT_IO_ALLOW_MMAP (6.6 and up): shared mappings need page-cache = true"
	exit 77
fi
qfs_cluster_start 3

m1=$(qfs_mnt 1) m2=$(qfs_mnt 2) m3=$(qfs_mnt 3)

# --- a shared read-only mapping of a key, on another node -----------------
echo 'db.example.internal' >"$m1/db_host"
got=$(python3 - "$m2/db_host" <<'PY' 2>&1
import mmap, sys
with open(sys.argv[1], 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
    sys.stdout.write(m[:].decode())
    m.close()
PY
)
check '[ "$got" = "db.example.internal" ]' "a shared mapping on node 2 reads the key ($got)"

# --- a write through a shared mapping, msync, then other nodes read it ----
printf 'AAAAAAAAAA' >"$m1/mapped"
out=$(python3 - "$m2/mapped" <<'PY' 2>&1
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 10, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:10] = b'BBBBBBBBBB'
m.flush()  # msync(MS_SYNC): published before it returns
print('flushed')
m.close()
os.close(fd)
PY
)
check '[ "$out" = flushed ]' "msync of a shared writable mapping on node 2 succeeds ($out)"
check '[ "$(cat "$m3/mapped")" = BBBBBBBBBB ]' "node 3 reads the mapped write after msync ($(cat "$m3/mapped"))"
check '[ "$(cat "$m1/mapped")" = BBBBBBBBBB ]' "node 1 reads it too"
check '[ "$(cat "$m2/mapped")" = BBBBBBBBBB ]' "node 2, which wrote through the mapping, reads it with read(2)"

# --- ... and without msync: munmap, close: close publishes it -------------
out=$(python3 - "$m3/mapped" <<'PY' 2>&1
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 10, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[2:5] = b'ccc'
m.close()
os.close(fd)  # FLUSH writes the dirty pages back, then publishes them
print('closed')
PY
)
check '[ "$out" = closed ]' "munmap and close of a written mapping on node 3 succeed ($out)"
check '[ "$(cat "$m1/mapped")" = BBcccBBBBB ]' "node 1 reads the mapped write after close ($(cat "$m1/mapped"))"
check '[ "$(cat "$m2/mapped")" = BBcccBBBBB ]' "node 2, which mapped the file before, reads it too"

# --- a mapping taken after another node's write shows that write ----------
printf 'XXXXXXXXXX' >"$m1/mapped"
got=$(python3 - "$m2/mapped" <<'PY' 2>&1
import mmap, sys
with open(sys.argv[1], 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
    sys.stdout.write(m[:].decode())
PY
)
check '[ "$got" = XXXXXXXXXX ]' "a new mapping on node 2 shows node 1's later write ($got)"

# --- a descriptor kept open on each follower reads every completed write ---
# The same size each time, so only the new mtime tells the kernel that its
# cached pages are stale.
out=$(python3 - "$m1/kept" "$m2/kept" "$m3/kept" <<'PY' 2>&1
import os, sys
w, r2, r3 = sys.argv[1:4]
with open(w, 'w') as f:
    f.write('value 0000')
fds = [os.open(p, os.O_RDONLY) for p in (r2, r3)]
bad = 0
for i in range(1, 201):
    want = 'value %04d' % i
    with open(w, 'w') as f:
        f.write(want)
    for fd in fds:
        got = os.pread(fd, 64, 0).decode()
        if got != want:
            bad += 1
            if bad <= 3:
                print('write %d: read %r, wanted %r' % (i, got, want))
print('stale reads:', bad)
PY
)
check '[ "$(echo "$out" | tail -n1)" = "stale reads: 0" ]' \
	"200 writes on node 1, each read at once through descriptors kept open on nodes 2 and 3 ($out)"

exit $((QFS_FAILS > 0))
