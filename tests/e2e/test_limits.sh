#!/usr/bin/env bash
# test_limits.sh: the limits a user can hit give the errors the table of
# docs/semantics.md ("Errors a program sees") promises, and lose nothing:
# EFBIG past the maximum value size, ENAMETOOLONG past 255 bytes,
# EPERM/ENOTSUP for what is not supported.
. "$(dirname "$0")/lib.sh"
QFS_MAX_VALUE_SIZE=64K
qfs_cluster_start 3

m1=$(qfs_mnt 1) m2=$(qfs_mnt 2)
max=$((64 * 1024))

# A value of exactly the maximum size works and reads back whole elsewhere.
head -c $max /dev/urandom >/tmp/qfs-limits.$$
cp /tmp/qfs-limits.$$ "$m1/big"
check 'cmp -s /tmp/qfs-limits.$$ "$m2/big"' "a value of exactly max-value-size round-trips"

# One byte more: EFBIG, and the old value is untouched.
head -c $((max + 1)) /dev/urandom >/tmp/qfs-limits-over.$$
err=$(cp /tmp/qfs-limits-over.$$ "$m1/big" 2>&1)
check '[[ "$err" == *"too large"* ]]' "one byte over max-value-size fails with EFBIG ($err)"
check 'cmp -s /tmp/qfs-limits.$$ "$m2/big"' "the old value survives a refused oversize write"
err=$(head -c $((max + 1)) /dev/zero 2>&1 >"$m1/new-big")
check '[[ "$err" == *"too large"* ]]' "an oversize new file fails with EFBIG"
err=$(truncate -s $((max + 1)) "$m1/big" 2>&1)
check '[[ "$err" == *"too large"* ]]' "truncate beyond the maximum fails with EFBIG"
err=$(printf x 2>&1 >>"$m1/big")
check '[[ "$err" == *"too large"* ]]' "appending beyond the maximum fails with EFBIG"
rm -f /tmp/qfs-limits.$$ /tmp/qfs-limits-over.$$

# Names: 255 bytes work, 256 fail with ENAMETOOLONG.
n255=$(printf 'n%.0s' $(seq 1 255))
echo ok >"$m1/$n255"
check '[ "$(cat "$m2/$n255")" = ok ]' "a 255-byte name works"
err=$(echo no 2>&1 >"$m1/${n255}x")
check '[[ "$err" == *"File name too long"* ]]' "a 256-byte name fails with ENAMETOOLONG"
err=$(mkdir "$m1/${n255}x" 2>&1)
check '[[ "$err" == *"File name too long"* ]]' "mkdir of a 256-byte name fails with ENAMETOOLONG"

# Not supported is said, never a silent success.
err=$(setfattr -n trusted.x -v 1 "$m1/big" 2>&1)
check '[ -n "$err" ]' "a non-user xattr namespace is refused ($err)"

# Ordinary POSIX errors.
err=$(rmdir "$m1" 2>&1; mkdir "$m1/d"; echo x >"$m1/d/f"; rmdir "$m1/d" 2>&1)
check '[[ "$err" == *"not empty"* ]]' "rmdir of a non-empty directory: ENOTEMPTY"
err=$(mv "$m1/d" "$m1/d/inside" 2>&1)
check '[ -n "$err" ] && [ -d "$m2/d" ]' "mv of a directory into itself is refused"

exit $((QFS_FAILS > 0))
