/* mountpoint.h: find and clear a FUSE mount left behind by a killed daemon. */
#ifndef QUORUMFS_CMD_MOUNTPOINT_H
#define QUORUMFS_CMD_MOUNTPOINT_H

#include <stddef.h>

/*
 * qfs_fuse_mounted_at - is a FUSE file system mounted at @path (absolute,
 * canonical)? Reads /proc/self/mountinfo; never touches the mount itself.
 * Returns 1, 0, or -errno.
 */
int qfs_fuse_mounted_at(const char *path);

/*
 * qfs_clear_stale_mount - if a FUSE mount whose daemon is gone is left at
 * @path ("Transport endpoint is not connected"), unmount it lazily.
 * Returns 0 (nothing mounted), 1 (a dead mount was cleared), -EBUSY (a live
 * or hung mount is there; @err says which), or another -errno.
 */
int qfs_clear_stale_mount(const char *path, char *err, size_t errlen);

#endif
