#!/usr/bin/env bash
# test_caches.sh: with kernel-caches = true (and page-cache = true), a write
# on any node is read on every other node the moment it returns, 1,000 times
# in a row: contents through open+read, and size through stat, which the
# kernel may answer from its caches (docs/daemon.md, "The kernel's caches").
# The caches are true only where follower read leases make them so, so the
# cluster holds them (follower-lease-ms).
. "$(dirname "$0")/lib.sh"
QFS_HTTP=1
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

# `ls -l` on a follower asks for nothing the kernel holds: no LOOKUP of a
# name a stat just cached (READDIRPLUS would hand every name back with
# timeout 0, fuse/mount.c), and the ACL and security-label questions once
# for the whole mount instead of twice a file (ENOTSUP: the tree keeps
# user.* only, fuse/ops_xattr.c). Counted from /metrics, all errnos.
requests() { # requests I OP: FUSE requests OP node I served so far
	curl -sf --max-time 5 "http://$(qfs_http_addr "$1")/metrics" |
		awk -v op="$2" 'index($1, "quorumfs_fuse_requests_total{op=\"" op "\",") == 1 {n += $2} END {print n + 0}'
}
f=$(qfs_leader)
f=$((f % 3 + 1))
mf=$(qfs_mnt "$f")
mkdir "$m1/listing"
for i in $(seq 1 200); do echo "$i" >"$m1/listing/k$i"; done
eventually 20 test -e "$mf/listing/k200" || echo "node $f never saw listing/k200" >&2
ls_stat() { python3 -c 'import os, sys; [os.stat("%s/k%d" % (sys.argv[1], i)) for i in range(1, 201)]' "$mf/listing"; }
ls_stat
l0=$(requests "$f" lookup)
ls_stat
l1=$(requests "$f" lookup)
x0=$(requests "$f" getxattr)
p0=$(requests "$f" readdirplus)
out=$(LC_ALL=C ls -l "$mf/listing" | grep -c '^-')
l2=$(requests "$f" lookup)
x1=$(requests "$f" getxattr)
p1=$(requests "$f" readdirplus)
check '[ "$out" = 200 ]' "ls -l on node $f lists the 200 keys ($out)"
check '[ $((x1 - x0)) -le 3 ]' "ls -l of 200 keys asks for ACLs and labels at most 3 times, not twice a file ($((x1 - x0)) GETXATTR)"
check '[ $((p1 - p0)) = 0 ]' "ls -l is served by READDIR, not READDIRPLUS ($((p1 - p0)) READDIRPLUS)"
# Where this kernel caches names (Linux 6.16 and up, fuse/notify.c), the
# second round of stats asked nothing: then neither may ls -l after it.
echo "stat of 200 keys: $((l1 - l0)) LOOKUP the second time"
if [ $((l1 - l0)) -lt 20 ]; then
	check '[ $((l2 - l1)) -lt 20 ]' "ls -l right after a stat of every key looks up no name again ($((l2 - l1)) LOOKUP; the stat before it $((l1 - l0)))"
fi
check '! getfattr -n security.selinux "$mf/listing/k1" 2>/dev/null && getfattr -n security.selinux "$mf/listing/k1" 2>&1 | grep -q "not supported"' \
	"a security label reads as not supported (the tree keeps user.* only)"
acl=$(python3 - "$mf/listing/k1" <<'PY' 2>&1
import errno, os, struct, sys
# A minimal access ACL as setfacl writes it: version 2, then user::rw-,
# group::r--, other::r-- (tag, permissions, id).
value = struct.pack('<I', 2) + b''.join(struct.pack('<HHI', t, p, 0xffffffff)
                                        for t, p in ((1, 6), (4, 4), (0x20, 4)))
try:
    os.setxattr(sys.argv[1], 'system.posix_acl_access', value)
    print('set')
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
PY
)
check '[ "$acl" = EOPNOTSUPP ] || [ "$acl" = ENOTSUP ]' "setting a POSIX ACL fails with EOPNOTSUPP, not stored and ignored ($acl)"
check '[ "$(getfattr --only-values -n user.x "$mf/listing/k1" 2>&1 | grep -c "No such attribute")" = 1 ]' "a user.* attribute that is not there is still ENODATA"

exit $((QFS_FAILS > 0))
