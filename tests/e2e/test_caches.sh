#!/usr/bin/env bash
# test_caches.sh: with kernel-caches = true (and page-cache = true), a write
# on any node is read on every other node the moment it returns, 1,000 times
# in a row: contents through open+read, and size through stat, which the
# kernel may answer from its caches (docs/daemon.md, "The kernel's caches").
# The caches are true only where follower read leases make them so, so the
# cluster holds them (follower-lease-ms).
. "$(dirname "$0")/lib.sh"
QFS_CLUSTER_EXTRA="follower-lease-ms = 400
kernel-caches = true
page-cache = true"
qfs_cluster_start 3

m1=$(qfs_mnt 1) m2=$(qfs_mnt 2) m3=$(qfs_mnt 3)
out=$(python3 - "$m1" "$m2" "$m3" <<'PY' 2>&1
import os, sys
mounts = sys.argv[1:4]
name = 'key'
with open(os.path.join(mounts[0], name), 'w') as f:
    f.write('start')
# Warm every node's caches: names, attributes and pages.
for m in mounts:
    with open(os.path.join(m, name)) as f:
        f.read()
bad = 0
for i in range(1000):
    w = i % 3
    want = 'value %d ' % i + 'x' * (i % 7)  # the size changes too
    with open(os.path.join(mounts[w], name), 'w') as f:
        f.write(want)
    for r in range(3):
        if r == w:
            continue
        p = os.path.join(mounts[r], name)
        size = os.stat(p).st_size
        with open(p) as f:
            got = f.read()
        if got != want or size != len(want):
            bad += 1
            if bad <= 3:
                print('write %d on node %d: node %d read %r (size %d), wanted %r'
                      % (i, w + 1, r + 1, got, size, want))
print('stale reads:', bad)
PY
)
check '[ "$(echo "$out" | tail -n1)" = "stale reads: 0" ]' \
	"1,000 writes on rotating nodes, each read at once on the two others with the caches on ($out)"

# Names, which the kernel caches too once it takes the epoch increment that
# drops them all without a lock (fuse/notify.c): a rename on one node is seen
# at once on the two others, whose kernels had the old name cached.
out=$(python3 - "$m1" "$m2" "$m3" <<'PY' 2>&1
import os, sys
mounts = sys.argv[1:4]
d = 'names'
os.mkdir(os.path.join(mounts[0], d))
cur = 'a'
with open(os.path.join(mounts[0], d, cur), 'w') as f:
    f.write('x')
for m in mounts:
    os.stat(os.path.join(m, d, cur))
bad = 0
for i in range(300):
    w = i % 3
    new = 'b' if cur == 'a' else 'a'
    os.rename(os.path.join(mounts[w], d, cur), os.path.join(mounts[w], d, new))
    for r in range(3):
        if r == w:
            continue
        seen_new = os.path.exists(os.path.join(mounts[r], d, new))
        seen_old = os.path.exists(os.path.join(mounts[r], d, cur))
        if not seen_new or seen_old:
            bad += 1
            if bad <= 3:
                print('rename %d on node %d: node %d sees %s %s, %s %s'
                      % (i, w + 1, r + 1, new, seen_new, cur, seen_old))
        os.stat(os.path.join(mounts[r], d, new))  # cache the new name
    cur = new
print('stale names:', bad)
PY
)
check '[ "$(echo "$out" | tail -n1)" = "stale names: 0" ]' \
	"300 renames on rotating nodes, each seen at once on the two others with names cached ($out)"

exit $((QFS_FAILS > 0))
