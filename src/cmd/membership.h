/* membership.h: quorumctl add, remove and transfer (membership.c). */
#ifndef QUORUMFS_CMD_MEMBERSHIP_H
#define QUORUMFS_CMD_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Each returns once its change is committed (exit status 0), refuses at once
 * what cannot work (1, nothing changed), or says after @timeout_s seconds
 * that the change is proposed but not known committed, and what the node
 * sees (3). Messages go to stdout and stderr.
 */
int qfs_ctl_add(const char *data_dir, uint64_t id, const char *address, int timeout_s);
/* @force: remove even if the voters left would not be a reachable majority. */
int qfs_ctl_remove(const char *data_dir, uint64_t id, bool force, int timeout_s);
/* @to: 0 for the most up-to-date voter. */
int qfs_ctl_transfer(const char *data_dir, uint64_t to, int timeout_s);

#endif
