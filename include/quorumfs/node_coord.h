/* node_coord.h: cluster-wide locks and ephemeral files as the mount asks for them; node sessions. */
#ifndef QUORUMFS_NODE_COORD_H
#define QUORUMFS_NODE_COORD_H

/*
 * Each node keeps one session in the replicated tree (quorumfs/fsm_coord.h):
 * it opens it when it starts and renews it every lease/3 through the log.
 * The leader proposes the expiry of a session whose keepalives it has not
 * seen applied for the lease (counted on its own clock, from no earlier than
 * when it became leader); the expiry releases the session's locks and
 * removes its ephemeral files at one index everywhere. The node itself
 * counts the lease from when it SENT its last keepalive that applied, so it
 * knows its session may be gone before any leader can end it, and then
 * refuses new locks (ENOLCK) until a keepalive applies again.
 *
 * Same threading and callback rules as quorumfs/node.h.
 */

#include <stdbool.h>
#include <stdint.h>

#include "quorumfs/fsm_coord.h"
#include "quorumfs/node.h"

#define NODE_DEFAULT_SESSION_LEASE_MS 15000

/* A lock request: as struct fsm_lock (flags: WIRE_LOCK_*; WIRE_LOCK_UNLOCK
 * removes the owner's locks in the range), without the node, which is this
 * one, and the token, which the grant gives. */
struct node_lock_req {
	uint64_t ino;
	uint64_t owner;
	uint64_t fh;
	uint64_t start;
	uint64_t end;
	uint32_t pid;
	uint32_t flags;
};

/* @err: 0 (granted; @token its fencing token, 0 for an unlock), -EAGAIN (a
 * conflicting lock is held), -ENOLCK (this node's session is not open or
 * may have expired), -ENOENT, or an error of node_result_fn. */
typedef void (*node_lock_fn)(void *arg, int err, uint64_t token);

/*
 * node_lock - propose @r for this node's session. Waits (up to the commit
 * timeout) for a session being opened; fails -ENOLCK at once when the
 * session may have expired. Returns 0 (@cb will run) or a negative error.
 */
int node_lock(struct node *n, const struct node_lock_req *r, node_lock_fn cb, void *arg);

/*
 * node_unlock_handle - a handle was released: drop this node's locks on
 * @ino taken through @fh, and the flock locks of @owner (0: none). Retried
 * until applied or the session changes; @cb (may be NULL) runs once with
 * the outcome. Returns 0 or a negative error (then @cb does not run).
 */
int node_unlock_handle(struct node *n, uint64_t ino, uint64_t owner, uint64_t fh,
                       node_done_fn cb, void *arg);

/*
 * node_set_ephemeral - mark @ino to be removed when this node's session
 * ends. @cb as for node_submit (res->err: -ENOLCK, -EINVAL, -ENOENT).
 */
int node_set_ephemeral(struct node *n, uint64_t ino, node_result_fn cb, void *arg);

/* Local queries (after a barrier for a linearizable answer), as fsm_lock_test,
 * fsm_lock_newest (of this node's locks with @this_node, else of all) and
 * fsm_ephemeral_node; @want->node is set here. */
int node_lock_test(struct node *n, const struct fsm_lock *want, struct fsm_lock *holder);
int node_lock_newest(struct node *n, uint64_t ino, bool this_node, struct fsm_lock *out);
int node_ephemeral_node(struct node *n, uint64_t ino, uint64_t *node);

/* This node's id. */
uint64_t node_id(const struct node *n);

/*
 * Called on the loop when an applied entry may have released locks on @ino
 * (0: on any inode: a session ended): waiting lock requests try again.
 */
typedef void (*node_lock_change_fn)(void *arg, uint64_t ino);
void node_on_lock_change(struct node *n, node_lock_change_fn fn, void *arg);

#endif
