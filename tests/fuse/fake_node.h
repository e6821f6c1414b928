/* fake_node.h: a one-member "cluster" for testing the mount: node.h over a real fsm, no Raft. */
#ifndef QFS_TEST_FAKE_NODE_H
#define QFS_TEST_FAKE_NODE_H

#include <stdint.h>

#include <uv.h>

#include "quorumfs/node.h"

/*
 * fake_node_open - open (creating) an LMDB environment in @dir with a tree.
 * node_submit() applies each command in a write transaction of its own on the
 * next loop iteration (a 0 ms timer: never from inside the call), then calls
 * the change callback and the submit callback. Barriers are always ready.
 * @max_value_size: 0 for the fsm default. Returns 0 or a negative error.
 */
int fake_node_open(uv_loop_t *loop, const char *dir, uint64_t max_value_size, struct node **out);

/* fake_node_fail_writes - make every later submit fail with @err (0: stop
 * failing), as a node without quorum (-EROFS) or a full disk (-ENOSPC) does. */
void fake_node_fail_writes(struct node *n, int err);

/* fake_node_close - fail what is queued with QFS_ESHUTDOWN, close the timer,
 * the tree and the environment; the node is freed in the timer's close
 * callback, so run the loop once more. */
void fake_node_close(struct node *n);

#endif
