/* fsm_coord.h: the tree's coordination state: node sessions, locks, ephemeral files. */
#ifndef QUORUMFS_FSM_COORD_H
#define QUORUMFS_FSM_COORD_H

#include <stdint.h>

#include <lmdb.h>

#include "quorumfs/fsm.h"

/*
 * Every node holds one session in the tree, opened by its first
 * SESSION_KEEPALIVE and kept by the ones after. Locks and ephemeral files
 * belong to a node's session; SESSION_EXPIRE (proposed by a leader that saw
 * no keepalive for the lease) and a new session of the same node end it and
 * release all of it at that one index on every node. The commands are in
 * quorumfs/wire_cmd.h (20..29), the records in docs/storage-format.md, the
 * promise in docs/semantics.md ("Locks").
 *
 * Outcomes of the commands (fsm_result.err):
 *   SESSION_KEEPALIVE: 0 (res.offset: the session id), -ESTALE (that
 *       session is gone: open a new one), -EINVAL (node 0);
 *   SESSION_EXPIRE: 0 (res.attr.size: ephemeral files removed), -ESTALE
 *       (the session moved on: a keepalive came first, or it is gone);
 *   LOCK: 0 (res.offset: the fencing token, the entry's index; 0 for an
 *       unlock), -EAGAIN (another owner holds a conflicting lock), -ENOLCK
 *       (not the node's current session), -ENOENT, -EINVAL;
 *   UNLOCK_HANDLE: 0;
 *   EPHEMERAL: 0, -ENOLCK, -ENOENT, -EINVAL (not a regular file).
 * For LOCK and UNLOCK_HANDLE res.attr.ino is the inode; for the session
 * commands it is 0.
 */

/* One lock as stored. Ranges are inclusive; a flock lock spans it all. */
struct fsm_lock {
	uint64_t ino;
	uint64_t node;
	uint64_t owner;
	uint64_t fh;
	uint64_t start;
	uint64_t end; /* WIRE_LOCK_END_MAX: to the end of the file */
	uint64_t token; /* the index of the entry that granted it */
	uint32_t pid;
	uint32_t flags; /* WIRE_LOCK_READ or _WRITE, | WIRE_LOCK_FLOCK */
};

struct fsm_node_session {
	uint64_t node;
	uint64_t session;         /* the index of the keepalive that opened it */
	uint64_t keepalive_index; /* the index of its latest keepalive */
	uint64_t nonce;           /* what that keepalive carried (the node's clock) */
	uint32_t lease_ms;
	int64_t time_ns; /* that keepalive's time stamp */
};

/*
 * fsm_lock_test - the F_GETLK question: a lock that conflicts with @want
 * (its ino, node, owner, range and flags; type READ or WRITE).
 * Returns 0 and *@holder, -ENOENT (nothing conflicts), or a storage error.
 */
int fsm_lock_test(struct fsm *fsm, MDB_txn *txn, const struct fsm_lock *want,
                  struct fsm_lock *holder);

/*
 * fsm_lock_newest - the lock on @ino with the greatest token among those held
 * from node @node, or among all with @node 0. The fencing token is asked with
 * this node's id, never answered with another node's lock: a holder whose lock
 * was taken from it (its node's session expired) must not read the new
 * holder's, larger, token and fence with it.
 * Returns 0 and *@out, -ENODATA (no such lock on @ino), or a storage error.
 */
int fsm_lock_newest(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t node,
                    struct fsm_lock *out);

/* Called for each node session in node order; non-zero stops. */
typedef int (*fsm_session_cb)(void *arg, const struct fsm_node_session *s);

/* fsm_sessions - list the node sessions. Returns 0 or a storage error. */
int fsm_sessions(struct fsm *fsm, MDB_txn *txn, fsm_session_cb cb, void *arg);

/* fsm_ephemeral_node - the node whose session @ino is ephemeral to.
 * Returns 0 and *@node, -ENODATA, or a storage error. */
int fsm_ephemeral_node(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t *node);

#endif
