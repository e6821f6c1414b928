/* peer_samples.h: one or more sample Raft messages of every type, for codec tests and fuzz seeds.
 */
#ifndef QUORUMFS_TESTS_PEER_SAMPLES_H
#define QUORUMFS_TESTS_PEER_SAMPLES_H

#include <stdbool.h>

#include "quorumfs/raft.h"

#define PEER_SAMPLES_MAX 32

/* Fills @out (room for PEER_SAMPLES_MAX) with samples pointing into static
 * storage; every enum raft_msg_type appears at least once. Returns the count. */
unsigned peer_samples(struct raft_message *out);

/* Deep equality of two messages, byte fields compared by content. */
bool peer_msg_equal(const struct raft_message *a, const struct raft_message *b);

#endif
