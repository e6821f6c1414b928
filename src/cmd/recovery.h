/* recovery.h: quorumctl's backup, restore and force-new-cluster commands. */
#ifndef QUORUMFS_CMD_RECOVERY_H
#define QUORUMFS_CMD_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Each prints what it did to stdout and returns 0, or a negative code with
 * one line in @err saying why and what state things are in.
 */

/* A checksummed snapshot of the tree of the running node on @data_dir,
 * with its cluster id and index, written to @file (atomically). */
int qfs_ctl_backup(const char *data_dir, const char *file, int timeout_s, char *err, size_t errlen);

/* Creates @data_dir (absent or empty) as node @id of the new cluster that
 * @config describes, with the tree of backup @file; every member of the new
 * cluster is restored from the same file. */
int qfs_ctl_restore(const char *file, const char *config, uint64_t id, const char *data_dir,
                    char *err, size_t errlen);

/* Makes the stopped node on @data_dir the only member of its cluster, with
 * its data: after a majority is lost for good. */
int qfs_ctl_force_new_cluster(const char *data_dir, char *err, size_t errlen);

#endif
