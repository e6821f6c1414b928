/* errors.h: the project's error codes and their one translation to text. */
#ifndef QUORUMFS_ERRORS_H
#define QUORUMFS_ERRORS_H

/*
 * Every function that can fail returns 0 (or a non-negative count) on success
 * and a negative int on failure: -errno where one fits (-ENOMEM, -ENOSPC,
 * -EIO, ...), otherwise one of the codes below, which live in a reserved
 * range far from any errno value so the two never collide. The ranges:
 *
 *   -1 .. -(QFS_EBASE - 1)    -errno
 *   QFS_EBASE + 1 ..          QFS_E* below (negated)
 *   -30001 .. -30099          RAFT_E* of the consensus core (RAFT_ERROR_LAST in quorumfs/raft.h,
 *                             which includes only libc, so it cannot use these)
 *
 * LMDB's codes never leave src/store: store_lmdb_error() translates them into
 * these ranges, in one table. qfs_strerror() has text for every range.
 */
#define QFS_EBASE 20000

enum qfs_error {
	QFS_ENOTLEADER = -(QFS_EBASE + 1), /* this node is not the leader */
	QFS_ECORRUPT = -(QFS_EBASE + 2),   /* stored data failed a check */
	QFS_EFORMAT = -(QFS_EBASE + 3),    /* data directory of another format version */
	QFS_EMISMATCH = -(QFS_EBASE + 4),  /* data directory of another cluster or node */
	QFS_EPROTO = -(QFS_EBASE + 5),     /* malformed message or frame */
	QFS_EAUTH = -(QFS_EBASE + 6),      /* peer failed the cluster-key handshake */
	QFS_ESHUTDOWN = -(QFS_EBASE + 7),  /* the node is stopping */
	QFS_ENOQUORUM = -(QFS_EBASE + 8),  /* no leader or no quorum */
	QFS_EBUSY = -(QFS_EBASE + 9),      /* a conflicting operation is in progress */
	QFS_ESTALE = -(QFS_EBASE + 10),    /* request refers to a superseded state */
	QFS_ECONFIG = -(QFS_EBASE + 11),   /* invalid configuration */
	QFS_ESTORAGE = -(QFS_EBASE + 12),  /* the storage failed; node stopped voting */
	/* The store's memory map is full. Only inside a store_write() callback,
	 * which returns it unchanged: store_write() then grows the map and runs
	 * the callback again, so it never reaches store_write()'s caller. */
	QFS_EMAPFULL = -(QFS_EBASE + 13),
	QFS_ELAST = -(QFS_EBASE + 14),
};

/*
 * qfs_strerror - text for an error code.
 * @err: a negative error code (-errno, QFS_E* or RAFT_E*); 0 gives "success".
 * Returns a static string; never NULL, also for unknown codes.
 */
const char *qfs_strerror(int err);

/*
 * qfs_is_errno - tell a -errno value from a project code.
 * Returns 1 if @err is a negated errno value, 0 otherwise.
 */
int qfs_is_errno(int err);

#endif
