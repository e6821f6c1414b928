/* fsm.h: the file-tree state machine: applies commands on LMDB, answers queries, snapshots. */
#ifndef QUORUMFS_FSM_H
#define QUORUMFS_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

/*
 * The tree lives in named databases of an LMDB environment opened by
 * src/store: "inodes", "dirents", "data", "sessions", "orphans", the
 * coordination ones ("node_sessions", "locks", "ephemeral"), and the keys of
 * "meta" that start with "fsm." (docs/storage-format.md has every byte).
 * Commands (quorumfs/wire_cmd.h) are applied inside the caller's write
 * transaction, so applying an entry and moving "applied" forward commit
 * together. Apply reads no clock and no randomness: the same log gives the
 * same databases, byte for byte, on every node (docs/semantics-fsm.md).
 *
 * Threading: after fsm_open() a struct fsm holds the database handles, the
 * options and an error text, nothing else, so queries may run on any thread
 * that has its own read transaction; apply and install need the caller's
 * single write transaction.
 *
 * Error codes. Functions return 0 on success and a negative code otherwise;
 * LMDB's codes come translated by src/store (store_lmdb_error()):
 *  - QFS_EMAPFULL: the LMDB map is full. Abort the transaction, grow the map
 *    and run the same calls again (store_write() does): nothing in memory
 *    changed, so a re-run gives the same result.
 *  - -E2BIG: too many dirty pages in one transaction. Abort, then re-run
 *    with fewer commands per transaction.
 *  - -ENOSPC, -EIO, -ENOMEM, ...: LMDB's errno values (and malloc's), negated.
 *  - QFS_ECORRUPT: a stored record or a snapshot failed a check.
 *  - QFS_EFORMAT: the tree has another format version (fsm_open only).
 *  - QFS_ESTORAGE, -EINVAL, -EAGAIN: any other LMDB failure.
 * fsm_errmsg() says more about the last such failure.
 */

/* Format version of the tree databases and snapshots ("fsm.format").
 * 2: contents in blocks, inode records with rdev and blocks. fsm_open
 * converts a format-1 tree (docs/storage-format.md, "Format 1"). */
#define FSM_FORMAT_VERSION 2

/* Bytes of contents in one stored block: an LMDB page (4096) less its
 * 16-byte header, so a full block is exactly one overflow page
 * (docs/storage-format.md has the measurements behind it). */
#define FSM_BLOCK_SIZE 4080

#define FSM_ROOT_INO       1
#define FSM_NAME_MAX       255   /* bytes in a name (NAME_MAX) */
#define FSM_TARGET_MAX     4095  /* bytes in a symlink target (PATH_MAX - 1) */
#define FSM_XATTR_NAME_MAX 255   /* XATTR_NAME_MAX */
#define FSM_XATTR_SIZE_MAX 65536 /* XATTR_SIZE_MAX */
#define FSM_NLINK_MAX      65000 /* LINK beyond it: EMLINK */

#define FSM_DEFAULT_MAX_VALUE_SIZE (16u << 20)
#define FSM_DEFAULT_SESSION_EXPIRY 100000
#define FSM_SNAPSHOT_VALUE_MAX     (1u << 30) /* a snapshot record's value bound */

/* Options. They change results, so every node of a cluster must use the
 * same values. A zero field takes its default. */
struct fsm_options {
	uint64_t max_value_size; /* bytes of one file; beyond: EFBIG. 16 MiB */
	uint64_t session_expiry; /* a session unused for more than this many log
	                            indexes is forgotten. 100000 */
};

/* The attributes of an inode, as stored. */
struct fsm_attr {
	uint64_t ino;
	uint32_t mode; /* file type (S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK,
	                  S_IFCHR, S_IFBLK) | permission bits */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink; /* files: names (0: an orphan); directories: 2 + subdirectories */
	uint64_t size;  /* files: bytes; symlinks: target length; directories: 0 */
	int64_t atime_ns;
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint64_t version; /* the log index of the last change of this inode (attrs,
	                     contents, entries if a directory, xattrs); the root
	                     starts at 1 (made by fsm_open, before any entry) */
	uint64_t rdev;    /* S_IFCHR, S_IFBLK: the device number; others 0 */
	uint64_t blocks;  /* 512-byte units the stored contents take (st_blocks):
	                     a hole takes none, so blocks * 512 may be < size */
};

/* What applying a command gave. */
struct fsm_result {
	int err;              /* 0, or the command's own error as -errno (-ENOENT, ...);
	                         QFS_EPROTO if the entry does not decode, QFS_ESTALE if
	                         its serial is older than its session's last */
	bool duplicate;       /* the session already had this serial: the stored
	                         result is returned and nothing was applied again */
	struct fsm_attr attr; /* if err == 0: the inode the command acted on, after
	                         it (UNLINK, RMDIR: the removed inode, nlink after;
	                         RENAME: the moved inode; LINK: the linked inode) */
	uint64_t offset;      /* WRITE, APPEND: the offset the data was written at;
	                         WRITEV: where its first extent went */
};

/* A fixed-size, endian-neutral encoding of a result (how sessions store it). */
#define FSM_RESULT_ENCODED_SIZE 92
void fsm_result_encode(const struct fsm_result *res, uint8_t out[FSM_RESULT_ENCODED_SIZE]);
/* Returns 0, or QFS_ECORRUPT if @len is not FSM_RESULT_ENCODED_SIZE.
 * @res->duplicate is set to false. */
int fsm_result_decode(const uint8_t *buf, size_t len, struct fsm_result *res);

struct fsm;

/*
 * fsm_open - open the tree in @env, creating its databases and the root
 * directory (inode 1, mode 040755, uid 0, gid 0, all times 0: the same on
 * every node) if absent.
 * @env: borrowed; opened by the caller with room for 9 more named databases
 *       (mdb_env_set_maxdbs); must outlive the fsm.
 * @opts: copied; NULL for the defaults.
 * @out: set to a new handle, freed by fsm_close().
 * Runs its own write transaction: the calling thread must not hold one.
 * Returns 0, -ENOMEM, QFS_EFORMAT, QFS_ECORRUPT, or a storage error.
 */
int fsm_open(MDB_env *env, const struct fsm_options *opts, struct fsm **out);

/* TTL files (docs/semantics.md): a regular file whose xattr FSM_TTL_XATTR
 * holds decimal seconds is removed, by the leader's TTL_EXPIRE command, once
 * its mtime is that much older than the leader's clock. */
#define FSM_TTL_XATTR "user.quorumfs.ttl"

/* fsm_ttl_parse - 0 and *@seconds if @value (@len bytes) is a TTL: decimal
 * seconds from 1 to 10^9, no sign, space or newline; -EINVAL otherwise. */
int fsm_ttl_parse(const void *value, size_t len, uint64_t *seconds);

/* Called for each TTL file; returns non-zero to stop. @attr is borrowed. */
typedef int (*fsm_ttl_cb)(void *arg, const struct fsm_attr *attr, uint64_t ttl_s);

/*
 * fsm_ttl_scan - call @cb for every regular file with a valid TTL, in inode
 * order, inside @txn (a read transaction is enough). One pass over the
 * inodes and one lookup each: O(files). Returns 0 or a storage error.
 */
int fsm_ttl_scan(struct fsm *fsm, MDB_txn *txn, fsm_ttl_cb cb, void *arg);

/* fsm_close - free the handle (the databases stay open in the env). NULL is fine. */
void fsm_close(struct fsm *fsm);

/* fsm_errmsg - text of the last storage failure seen by @fsm; "" if none.
 * Storage in @fsm; written by whichever call failed, so read it on the
 * thread that saw the failure, before other calls on @fsm. */
const char *fsm_errmsg(const struct fsm *fsm);

/*
 * fsm_apply - decode and apply the command of log entry @index.
 * @txn: the caller's write transaction; the change and "fsm.applied" =
 *       @index are written in it, and commit or vanish with it.
 * @cmd, @len: the entry's data, borrowed (wire_cmd_decode format). Not a
 *       pointer LMDB returned in @txn: such values die at the txn's next
 *       update (a page spill frees them), and apply updates.
 * Index gaps are allowed (after a snapshot install); every index the log
 * has should reach either fsm_apply or fsm_apply_noop.
 * @res: set to the outcome.
 * Deterministic; keeps no state outside @txn, so after an abort (e.g. on
 * QFS_EMAPFULL) the same call can simply run again.
 * Before the command, sessions unused for more than session_expiry indexes
 * are forgotten (docs/semantics-fsm.md, "Sessions").
 * Returns 0 when the entry was applied, whatever the command's own outcome
 * (which is in @res->err: an entry that does not decode is applied as a
 * failed command, so every node moves past it alike); QFS_ESTALE if @index
 * <= fsm.applied (refused, nothing written); or a storage error (abort the
 * transaction).
 */
int fsm_apply(struct fsm *fsm, MDB_txn *txn, uint64_t index, const void *cmd, size_t len,
              struct fsm_result *res);

/*
 * fsm_apply_noop - move "applied" to @index for an entry that holds no
 * command (a Raft no-op or membership entry). Expires sessions like
 * fsm_apply, so that every index counts the same on every node.
 * Returns 0, QFS_ESTALE if @index <= fsm.applied, or a storage error.
 */
int fsm_apply_noop(struct fsm *fsm, MDB_txn *txn, uint64_t index);

/*
 * fsm_apply_conf - like fsm_apply_noop, for a configuration entry whose
 * members (voters and learners) are @ids[0..@n): the tree keeps them, so
 * that a regular file losing its last name waits for each of them to
 * release it (docs/semantics-fsm.md, "Orphans"), and every member not in
 * @ids is dropped from the holders of every orphan (an orphan left with
 * none is freed). @ids: borrowed, any order, duplicates ignored.
 * Returns 0, QFS_ESTALE if @index <= fsm.applied, -EINVAL if @n >
 * FSM_MEMBERS_MAX, or a storage error.
 */
int fsm_apply_conf(struct fsm *fsm, MDB_txn *txn, uint64_t index, const uint64_t *ids, size_t n);

/* Most members a configuration may have for the tree. */
#define FSM_MEMBERS_MAX 64

/*
 * Queries. @txn: a read (or write) transaction of the caller, or NULL to
 * use a read-only transaction of the call's own (the calling thread must
 * then hold no other read transaction of @env unless it was opened with
 * MDB_NOTLS). Results are copied into the caller's memory; nothing returned
 * points into LMDB. Errors: -errno of the lookup (below) or a storage error.
 */

/*
 * fsm_session_get - the session of @client as the tree holds it: the last
 * serial it applied and that command's result (what a retry of it is
 * answered with). Read-only: it does not count as a use of the session.
 * The node uses it after installing a snapshot, for the submits whose
 * entries the snapshot applied (they were never applied here one by one).
 * @found: set to whether the session exists (it may have expired).
 * Returns 0, QFS_ECORRUPT (the stored record), or a storage error.
 */
int fsm_session_get(struct fsm *fsm, MDB_txn *txn, uint64_t client, uint64_t *serial,
                    struct fsm_result *res, bool *found);

/* fsm_applied - the index of the last applied entry (0 at first). */
int fsm_applied(struct fsm *fsm, MDB_txn *txn, uint64_t *index);

/* fsm_getattr - @ino's attributes. -ENOENT. */
int fsm_getattr(struct fsm *fsm, MDB_txn *txn, uint64_t ino, struct fsm_attr *attr);

/* fsm_lookup - the entry @name (@len bytes) of directory @parent. "." is
 * @parent itself, ".." its parent (the root's is the root).
 * -ENOENT, -ENOTDIR, -ENAMETOOLONG, -EINVAL (a name with '/' or NUL). */
int fsm_lookup(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
               struct fsm_attr *attr);

/* One directory entry, given to a readdir callback. */
struct fsm_dirent {
	const char *name; /* borrowed for the callback's duration; not NUL-terminated */
	size_t name_len;
	uint64_t ino;
	uint32_t type;        /* the S_IFMT bits of the entry's mode */
	uint64_t cookie;      /* pass to fsm_readdir to continue after this entry */
	struct fsm_attr attr; /* only if fsm_readdir was asked for it (plus) */
};

/* Returns 0 to go on, non-zero to stop (e.g. the reply buffer is full:
 * the entry is then not consumed; continue from the previous cookie). */
typedef int (*fsm_readdir_cb)(void *arg, const struct fsm_dirent *ent);

/*
 * fsm_readdir - call @cb for the entries of directory @ino that follow
 * @cookie (0: from the start), in cookie order. "." and ".." are not
 * reported, and cookies 1 and 2 are never given to entries, so a FUSE layer
 * can use them for "." and "..".
 * Cookies stay valid while the directory changes: an entry present for the
 * whole listing is reported exactly once; one added or removed meanwhile may
 * or may not be (POSIX readdir). A renamed entry counts as removed + added.
 * @plus: also fill each entry's attr.
 * Returns 0 (also when @cb stopped early), -ENOENT, -ENOTDIR.
 */
int fsm_readdir(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t cookie, bool plus,
                fsm_readdir_cb cb, void *arg);

/* fsm_read - copy up to @size bytes of file @ino from @offset into @buf;
 * *@nread is the count (0 at or past the end); holes read as zeros. -ENOENT, -EISDIR, -EINVAL
 * (not a regular file). */
int fsm_read(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t offset, size_t size, void *buf,
             size_t *nread);

/* fsm_readlink - copy symlink @ino's target into @buf (no NUL added);
 * *@len is the target's full length, even if it exceeded @cap (then
 * -ERANGE). -ENOENT, -EINVAL (not a symlink). */
int fsm_readlink(struct fsm *fsm, MDB_txn *txn, uint64_t ino, char *buf, size_t cap, size_t *len);

/* fsm_getxattr - value of attribute @name of @ino. @cap 0: only *@len is
 * set (the size query of getxattr(2)). -ENODATA, -ERANGE (@cap too small),
 * -ENOENT. */
int fsm_getxattr(struct fsm *fsm, MDB_txn *txn, uint64_t ino, const char *name, size_t name_len,
                 void *buf, size_t cap, size_t *len);

/* fsm_listxattr - the names of @ino's attributes, each NUL-terminated, in
 * byte order. @cap 0: only *@len. -ERANGE, -ENOENT. */
int fsm_listxattr(struct fsm *fsm, MDB_txn *txn, uint64_t ino, char *buf, size_t cap, size_t *len);

/*
 * fsm_orphan_holders - the members that have not released orphan @ino yet.
 * An orphan is a regular file with no name left (nlink 0) that some member
 * may still hold open; fsm_getattr, fsm_read and the commands by inode
 * number keep working on it until the last release frees it.
 * @ids, @cap: up to @cap ids, ascending; *@n is their full count.
 * Returns 0, -ENOENT (not an orphan), or a storage error.
 */
int fsm_orphan_holders(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t *ids, size_t cap,
                       size_t *n);

/*
 * fsm_orphans_held - the orphans that member @node holds, ascending, after
 * inode @after (0: from the first): up to @cap into @inos, *@n of them
 * (fewer than @cap: there are no more). Returns 0 or a storage error.
 */
int fsm_orphans_held(struct fsm *fsm, MDB_txn *txn, uint64_t node, uint64_t after, uint64_t *inos,
                     size_t cap, size_t *n);

struct fsm_statfs {
	uint64_t files;   /* inodes in the tree, root included */
	uint64_t bytes;   /* sum of the sizes of files and symlinks (holes count) */
	uint64_t applied; /* fsm.applied of the transaction read */
};

int fsm_statfs(struct fsm *fsm, MDB_txn *txn, struct fsm_statfs *st);

/*
 * Snapshots: the byte format is in docs/storage-format.md. A snapshot
 * is one consistent read transaction over the tree databases.
 */
struct fsm_snapshot;

/*
 * fsm_snapshot_begin - start streaming the tree as of @txn's view.
 * @txn: a read transaction of the caller (borrowed: keep it open until
 *       fsm_snapshot_end), or NULL to open one owned by the snapshot (then
 *       the env should have MDB_NOTLS if this thread reads meanwhile, or the
 *       snapshot is read from another thread).
 * @out: a new snapshot, freed by fsm_snapshot_end().
 * @applied: if not NULL, set to the index the snapshot holds.
 * Returns 0, -ENOMEM or a storage error.
 */
int fsm_snapshot_begin(struct fsm *fsm, MDB_txn *txn, struct fsm_snapshot **out, uint64_t *applied);

/*
 * fsm_snapshot_next_chunk - copy the next bytes of the stream into @buf.
 * @cap: any size >= 1; chunks never exceed it.
 * *@len: bytes written; *@done: true once the last byte has been given
 * (then *@len may be 0, and later calls give 0 bytes).
 * Returns 0 or a storage error (then stop and call fsm_snapshot_end).
 */
int fsm_snapshot_next_chunk(struct fsm_snapshot *snap, void *buf, size_t cap, size_t *len,
                            bool *done);

/* fsm_snapshot_end - end the read (aborting its own transaction) and free. NULL is fine. */
void fsm_snapshot_end(struct fsm_snapshot *snap);

/* Supplies snapshot bytes: up to @cap into @buf from offset @off of the
 * stream (like pread(2)); returns the count, 0 at the end, or a negative
 * error (which the install then returns). The stream is read twice. */
typedef long (*fsm_snapshot_read_fn)(void *arg, void *buf, size_t cap, uint64_t off);

/*
 * fsm_snapshot_verify - check a whole snapshot stream (magic, format, record
 * order and bounds, the trailer's CRC-32C) without writing anything.
 * @applied: if not NULL, set to the snapshot's index.
 * Returns 0, QFS_ECORRUPT (bad magic, record, bound or checksum; short
 * input), QFS_EFORMAT (another format version), or the reader's error.
 */
int fsm_snapshot_verify(fsm_snapshot_read_fn read, void *arg, uint64_t *applied);

/*
 * fsm_snapshot_install - replace the whole tree with a snapshot, inside the
 * caller's write transaction @txn. The whole stream is verified first
 * (fsm_snapshot_verify()), so a damaged snapshot costs no writes; then the
 * tree databases are emptied, the records loaded, "fsm.applied" set to the
 * snapshot's index. On any error abort @txn and the old tree stays.
 * @applied: if not NULL, set to the installed index.
 * Returns what fsm_snapshot_verify() returns, or a storage error.
 */
int fsm_snapshot_install(struct fsm *fsm, MDB_txn *txn, fsm_snapshot_read_fn read, void *arg,
                         uint64_t *applied);

/* The same from a file (a staging file the caller filled with the chunks as
 * they came), read with pread(2) from offset 0. */
int fsm_snapshot_verify_fd(int fd, uint64_t *applied);
/* fsm_snapshot_verify_fd, and on QFS_ECORRUPT or QFS_EFORMAT, *@why says
 * which check failed (a static string: "checksum mismatch", "short stream",
 * "another format version", ...), for the log line of a node that then
 * fetches the snapshot again. */
int fsm_snapshot_check_fd(int fd, uint64_t *applied, const char **why);
int fsm_snapshot_install_fd(struct fsm *fsm, MDB_txn *txn, int fd, uint64_t *applied);

#endif
