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

exit $((QFS_FAILS > 0))
