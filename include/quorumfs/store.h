/* store.h: a node's durable state: the Raft log and hard state (a write-ahead log), the LMDB environment. */
#ifndef QUORUMFS_STORE_H
#define QUORUMFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

/*
 * One store is one data directory (see docs/storage-format.md for every
 * byte on disk): a write-ahead log of segment files ("wal/") that holds the
 * Raft log and the hard state, and one LMDB environment that holds the
 * store's "meta" database and up to STORE_MAX_DBS named databases in all,
 * so src/fsm opens its own ("inodes", "dirents", "data", "sessions") inside
 * the write transactions that store_write() hands out.
 *
 * Errors: every function that can fail returns 0 (or a count) on success and
 * a negative code otherwise: -errno, or QFS_E* from quorumfs/errors.h. LMDB's
 * own codes never leave this module except through store_lmdb_error(), which
 * is the one place they are translated.
 *
 * Threading: a store may be used from several threads at once, with one rule
 * inherited from LMDB: one write transaction at a time. store_write() and
 * every function documented as "writer" take an internal writer mutex, so
 * concurrent callers queue rather than break, but the design is one writer
 * thread (the daemon's sync worker). Readers ("any thread") run in their own
 * short read-only transactions and never wait for the writer, except while
 * the map grows (see store_write()).
 *
 * Lifetime: data that points into a transaction (store_txn_meta_get) lives
 * only as long as that transaction, as in LMDB. Everything else a reader
 * returns is copied out before its transaction ends.
 */

#define STORE_MAX_DBS        16 /* named databases the environment accepts */
#define STORE_CLUSTER_ID_LEN 16 /* bytes of a cluster id (a UUID's bytes) */

/*
 * QFS_EMAPFULL (quorumfs/errors.h) - the memory map is full. Returned only
 * inside a store_write() callback (by store_txn_* helpers, and by
 * store_lmdb_error() for LMDB's map-full code); the callback must return it
 * unchanged at once. store_write() then aborts the transaction, grows the map
 * and runs the callback again: this code never reaches store_write()'s caller.
 */

struct store;

struct store_options {
	/* This node's id. Required (non-zero) to create a fresh store; on an
	 * existing one it must match the recorded id, or 0 to accept any (for
	 * offline tools that only inspect a directory). */
	uint64_t node_id;
	/* The cluster's id. Required (not all zero) to create a fresh store; on
	 * an existing one it must match, or be all zero to accept any. */
	uint8_t cluster_id[STORE_CLUSTER_ID_LEN];
	/* Map size to start with, bytes; 0 means 64 MiB. The map never shrinks
	 * below what the file already records. Tests set it tiny (e.g. 1 MiB) to
	 * exercise growth. */
	size_t initial_map_size;
	/* The map never grows past this, bytes; 0 means 1 TiB. A write that
	 * needs more fails with -ENOSPC. */
	size_t max_map_size;
	/* Concurrent read transactions; 0 means 126 (LMDB's default). */
	unsigned max_readers;
	/* Log entries deleted per transaction by store_log_compact(); 0 means
	 * 8192. Tests make it small to cross batch boundaries. */
	size_t compact_batch;
	/* How far ahead of the used pages the data file is kept extended with
	 * written zeros (so LMDB's data-page fdatasync overwrites blocks and
	 * commits no file-system journal); 0 means 8 MiB. Ignored if no_prealloc. */
	size_t prealloc_bytes;
	bool no_prealloc;
	/*
	 * UNSAFE, for tests and benchmarks only: open LMDB with MDB_NOSYNC, so a
	 * commit returns before anything reaches the disk. A crash of the
	 * machine (not of the process) then loses recent transactions or
	 * corrupts the file. Never set in a daemon that acknowledges writes.
	 */
	bool unsafe_nosync;
	/* Bytes of a log segment file, preallocated with zeros; 0 means
	 * 4 MiB. Tests make it small to cross segment boundaries. */
	size_t wal_segment_bytes;
};

/* Raft's persistent state besides the log (Raft paper, Figure 2). */
struct store_hard_state {
	uint64_t term;   /* latest term this node has seen */
	uint64_t vote;   /* node voted for in term, 0 if none */
	uint64_t commit; /* highest index known committed (may lag; a hint) */
};

/*
 * One log entry. The store does not interpret type or data. In arguments the
 * data is borrowed for the call; in results it points into the same
 * allocation as the array (see store_log_get()).
 */
struct store_entry {
	uint64_t index; /* >= 1; consecutive entries have consecutive indexes */
	uint64_t term;  /* non-decreasing along the log */
	uint8_t type;
	const void *data;
	size_t len; /* bytes at data; at most STORE_ENTRY_MAX */
};

#define STORE_ENTRY_MAX ((size_t)UINT32_MAX - 64) /* largest entry data, bytes */

/* Metadata of the latest snapshot, kept in "meta" by whoever makes them. */
struct store_snapshot_meta {
	uint64_t index; /* last log index the snapshot covers */
	uint64_t term;  /* term of that entry */
	void *conf;     /* opaque membership blob, may be NULL when conf_len is 0 */
	size_t conf_len;
};

/* What store_info() reports. */
struct store_info {
	uint64_t node_id;
	uint8_t cluster_id[STORE_CLUSTER_ID_LEN];
	uint32_t format;   /* format version of the directory */
	size_t map_size;   /* current map size, bytes */
	size_t used_bytes; /* pages in use up to the highest one, bytes */
	size_t page_size;
	unsigned map_grows;    /* times this process grew the map */
	uint64_t commits;      /* store_write*() commits of this process */
	uint64_t lazy_commits; /* of which with STORE_NO_META_SYNC */
	/* What this open found in the log: a torn tail it cut (segment and
	 * offset; 0 if none), a format-1 directory it converted. */
	uint64_t log_cut_segment, log_cut_offset;
	bool converted_format1;
};

/* The callback store_write() runs inside one write transaction. */
typedef int (*store_write_fn)(MDB_txn *txn, void *arg);
/* The callback store_read() runs inside one read-only transaction. */
typedef int (*store_read_fn)(MDB_txn *txn, void *arg);

/*
 * store_open - open the store in @dir, creating the directory and a fresh
 * store if there is none.
 * @dir: data directory (created with mode 0700 if missing; its parent must
 *       exist). Borrowed.
 * @opts: options, borrowed; NULL only to open an existing store with
 *        defaults and no identity check.
 * @out: receives the store on success, untouched on failure. Free it with
 *       store_close().
 * @errbuf, @errlen: on failure, one line saying why (may be NULL/0).
 *
 * A directory of a newer (or older) format, of another cluster or node, with
 * a file LMDB cannot read, or holding an LMDB environment that is not a
 * quorumfs store is refused and left exactly as it was. Stale reader slots of
 * killed processes are cleared (mdb_reader_check). The directory is locked
 * (flock on "quorumfs.lock") so a second open of it, in this or another
 * process, fails instead of sharing the environment.
 *
 * Returns 0, or:
 *   QFS_ECONFIG   fresh directory but node_id or cluster_id missing; bad option
 *   QFS_EFORMAT   another format version (of the store or of LMDB)
 *   QFS_EMISMATCH another cluster id or node id
 *   QFS_ECORRUPT  a file or record that fails its checks; not a quorumfs store
 *   QFS_EBUSY     the directory is open elsewhere
 *   -ENOMEM, -ENOSPC, -EACCES, -ENOENT, -EIO ... from the system
 * Threading: any thread; the store is usable from any thread afterwards.
 */
int store_open(const char *dir, const struct store_options *opts, struct store **out, char *errbuf,
               size_t errlen);

/*
 * store_peek - read the identity of the store in @dir (node id, cluster id,
 * format, into @out; the map figures stay 0) without locking it, in a
 * read-only view, so it works while a daemon has the store open: LMDB lets
 * another process read beside the writer. For offline tools (quorumctl
 * backup). Never writes to @dir.
 * Returns 0, -ENOENT (no store there), QFS_EFORMAT, QFS_ECORRUPT, -EACCES...
 * Threading: any thread; never for a directory this process has open.
 */
int store_peek(const char *dir, struct store_info *out, char *errbuf, size_t errlen);

/*
 * store_close - close the environment and free @s (NULL is a no-op).
 * No other call may be running or follow on @s. Everything committed is
 * durable already, except the meta page of a last STORE_NO_META_SYNC commit,
 * which is flushed here (with unsafe_nosync nothing is).
 */
void store_close(struct store *s);

/*
 * store_errmsg - copy the text of the latest failure of any call on @s into
 * @buf (at most @len bytes, NUL-terminated). Returns @buf. The text adds
 * context to the code the call returned, e.g. "log entry 42: checksum
 * mismatch". Threading: any thread (the copy is taken under a lock).
 */
const char *store_errmsg(struct store *s, char *buf, size_t len);

/*
 * store_info - fill @out with the identity and map figures of @s.
 * Returns 0 or a negative error. Threading: any thread.
 */
int store_info(struct store *s, struct store_info *out);

/*
 * store_lmdb_error - translate an LMDB return code into this project's codes.
 * This is the one place LMDB codes are translated (one table, in
 * src/store/error.c; docs/storage-format.md, "Errors", lists it): every
 * caller of an mdb_* function outside src/store (src/fsm, inside a
 * store_write() or store_read() callback) passes the return through this and
 * compares with the translation (-ENOENT for "not found", -EEXIST for "key
 * exists"), never with LMDB's codes. 0 stays 0; a positive errno e becomes
 * -e; the map filling up becomes QFS_EMAPFULL (store_write() grows and
 * retries); a transaction too large -E2BIG; the rest -EAGAIN, -EINVAL,
 * -EMFILE, QFS_ECORRUPT, QFS_EFORMAT or QFS_ESTORAGE, and -EIO for a code
 * newer than the table.
 * Pure; any thread.
 */
int store_lmdb_error(int mdb_rc);

/*
 * store_write - run @fn(txn, @arg) inside one write transaction and commit
 * it durably (fdatasync of the data pages, then a synchronous write of the
 * meta page, LMDB's default; see docs/storage-format.md).
 * @fn: returns 0 to commit, or a negative code to abort; that code is then
 *      returned. It must use @txn only through store_txn_* and mdb_* calls
 *      (no other store call, no other transaction), must not keep @txn or
 *      data read through it, and must be re-runnable: if the map fills up
 *      (QFS_EMAPFULL from any call, or a full map at commit), the
 *      transaction is aborted, the map grows (doubles, up to max_map_size)
 *      and @fn runs again from the start, on a fresh transaction.
 * @arg: passed through, borrowed.
 *
 * This is the unit of group commit: the daemon appends log entries, applies
 * committed commands and advances its applied index in one call.
 * Growing the map needs every read transaction of this process to be over,
 * so it waits for running store_read() callbacks; after a commit that leaves
 * the map three quarters full it grows early, only if no reader is running.
 *
 * Returns 0 once committed and durable (see store_write_flags() for a
 * commit that is not), else nothing of @fn stays:
 *   whatever @fn returned (negative),
 *   -ENOSPC       the disk is full, or the map reached max_map_size; the
 *                 store stays consistent and usable once space is freed
 *   -EIO          the disk failed the write or the sync
 *   QFS_ESTORAGE  LMDB declared the environment unusable (it panicked); every
 *                 later write fails the same way: reopen after a restart
 *   QFS_ECORRUPT, -ENOMEM, -E2BIG (one transaction too large)
 * Threading: writer (one at a time; concurrent calls queue).
 */
int store_write(struct store *s, store_write_fn fn, void *arg);

/* Flags of store_write_flags(). */
#define STORE_NO_META_SYNC 0x1u /* commit without waiting for the meta page */

/*
 * store_write_flags - store_write() with a choice of durability.
 * @flags: 0 (exactly store_write()) or STORE_NO_META_SYNC: commit with
 *         LMDB's MDB_NOMETASYNC. The transaction's pages are written and
 *         fdatasync'ed as always; the meta page that names the new root is
 *         then written without waiting for the disk (one device flush
 *         instead of two). The commit is atomic, consistent and isolated,
 *         and survives a crash of the process (the meta page is in the page
 *         cache when the call returns), but a crash of the machine may undo
 *         it: it is durable only once a later commit with flags 0,
 *         store_sync() or store_close() returned (their fdatasync flushes the
 *         earlier meta page too). A machine crash undoes at most the last
 *         commit, and only if it was one of these: each commit's fdatasync
 *         also flushes the meta page of the one before, which is what lets
 *         LMDB reuse that commit's free pages. Never MDB_NOSYNC, with which a
 *         machine crash can leave a meta page naming pages never written.
 *         For transactions whose loss a restart repairs by itself (the
 *         daemon's applies: the entries are durable in the log, and applied
 *         moves in the same transaction as the tree, so the node applies them
 *         again); never for what was promised to a peer or acknowledged.
 * Environment flags are process-wide: the flag is switched on just before
 * the commit and off right after, under the writer lock. Only a commit reads
 * it and commits are serialized, so concurrent readers are unaffected.
 * Returns as store_write(), plus -EINVAL (unknown flags; @fn never runs).
 * Threading: writer (one at a time; concurrent calls queue).
 */
int store_write_flags(struct store *s, store_write_fn fn, void *arg, unsigned flags);

/*
 * store_read - run @fn(txn, @arg) inside one read-only transaction (a
 * consistent snapshot of the last commit), then end it.
 * @fn: returns 0 or a negative code, which is returned. Data read through
 *      @txn is valid only inside @fn: copy what must outlive it. A long @fn
 *      (e.g. streaming a snapshot) blocks map growth if the map fills up in
 *      the meantime, and keeps LMDB from reusing pages freed since it began.
 *      @fn must not call store_write() or wrappers of it.
 * Returns @fn's result, or -EAGAIN (no free reader slot), QFS_ECORRUPT, ...
 * Threading: any thread, many at once.
 */
int store_read(struct store *s, store_read_fn fn, void *arg);

/*
 * store_sync - force everything committed to disk: with unsafe_nosync
 * (benchmarks that measure sync costs apart), and after a STORE_NO_META_SYNC
 * commit (one fdatasync makes it durable). Returns 0, -EIO. Threading: any
 * thread.
 */
int store_sync(struct store *s);

/*
 * store_env - the LMDB environment of @s, borrowed (valid until store_close()).
 * For opening src/fsm at startup (fsm_open() begins one write transaction of
 * its own), before any other thread uses the store. After that, every
 * transaction must come from store_read() or store_write(), and be passed
 * down (fsm's queries take a given transaction): growing the map unmaps and
 * remaps the file, which a transaction begun on the environment behind the
 * store's back could still be reading; the store cannot see such a
 * transaction, so it would crash the process, not fail cleanly.
 * Threading: any thread.
 */
MDB_env *store_env(struct store *s);

/* ---- Hard state and log (the write-ahead log; docs/storage-format.md) ---- */

/*
 * The log lives outside LMDB: nothing of it is in a transaction, and none of
 * these functions may be called inside a store_write() or store_read()
 * callback except the readers (store_hard_state_get, store_log_bounds,
 * store_log_term, store_log_get), which take no transaction and may be
 * called anywhere. Writers ("log writer") are serialized by a lock of their
 * own, apart from store_write()'s.
 *
 * Durability: every writer returns once what it wrote is on disk (one
 * fdatasync of the segment written), except store_append_flags() with
 * STORE_LOG_NO_SYNC, whose write is durable once a later writer without the
 * flag, or store_log_sync(), returned. Readers see a write as soon as its
 * call returned, durable or not: the caller decides what it promises.
 *
 * A log that fails its checks when the store opens (damage anywhere but a
 * torn tail, which is cut) makes store_open() fail with QFS_ECORRUPT: a node
 * never votes or leads on a log it cannot trust.
 */

/*
 * store_hard_state_get - the hard state last written (all zero on a fresh
 * store) into @out. Returns 0. Any thread.
 */
int store_hard_state_get(struct store *s, struct store_hard_state *out);

/* store_hard_state_put - as store_append(s, NULL, 0, hs). Log writer. */
int store_hard_state_put(struct store *s, const struct store_hard_state *hs);

/*
 * store_append - write @n entries (copied) and, if @hs is not NULL, the hard
 * state (first), as one batch with one fdatasync.
 * @e: entries with consecutive indexes and non-decreasing terms, borrowed.
 *     e[0].index must lie in [first, last + 1] of the log (see
 *     store_log_bounds()). When e[0].index <= last, the suffix from e[0].index
 *     on is replaced, in the same batch: the entries given replace a
 *     conflicting tail (Raft paper, Figure 2, AppendEntries step 3). A crash
 *     leaves either the old suffix or a prefix of the new one, never a mix.
 * Returns 0 (also for n == 0), or:
 *   -EINVAL  index 0, a gap, an index before the log's first, indexes not
 *            consecutive, a term lower than the previous entry's
 *   -EFBIG   an entry larger than STORE_ENTRY_MAX
 *   -ENOSPC  no room for a new segment (nothing written; try again later)
 *   -EIO     the disk failed the write or the sync; after a failed sync
 *            every later write fails (the disk's state is unknown)
 *   -ENOMEM
 * Log writer.
 */
int store_append(struct store *s, const struct store_entry *e, size_t n,
                 const struct store_hard_state *hs);

/* Flags of store_append_flags(). */
#define STORE_LOG_NO_SYNC 0x1u /* write, but leave the fdatasync to a later call */

/*
 * store_append_flags - store_append() with a choice of durability: with
 * STORE_LOG_NO_SYNC the batch is written but not synced (several batches,
 * then one store_log_sync(): group commit). As store_append(), plus -EINVAL
 * for unknown flags. Log writer.
 */
int store_append_flags(struct store *s, const struct store_entry *e, size_t n,
                       const struct store_hard_state *hs, unsigned flags);

/* store_log_sync - make every batch written so far durable (one fdatasync,
 * none if there is nothing to sync). Returns 0, -EIO. Log writer. */
int store_log_sync(struct store *s);

/*
 * store_log_bounds - the log's first and last index.
 * An empty log reports first = base + 1 and last = base, where base is the
 * index of the last entry removed by compaction or reset (0 if none), so
 * "last + 1" is always where the next entry goes. Returns 0. Any thread.
 */
int store_log_bounds(struct store *s, uint64_t *first, uint64_t *last);

/*
 * store_log_term - the term of entry @index, into @term. Also answers for
 * the base (the entry before the first), whose term compaction or reset
 * recorded, so Raft's log-matching check works at the log's start.
 * Returns 0, QFS_ESTALE (index below the base: compacted away), -ENOENT
 * (index past the last). Any thread.
 */
int store_log_term(struct store *s, uint64_t index, uint64_t *term);

/*
 * store_log_get - copy entries @from..@to (inclusive) out of the log.
 * @to: clamped to the last index.
 * @max_bytes: stop before the entry whose data would bring the total over
 *             this; at least one entry is returned all the same. SIZE_MAX
 *             for no limit.
 * @out: receives an array of *@n entries whose data point into the same
 *       allocation: transferred, release everything with one free(*out).
 *       Untouched on failure.
 * Every batch's checksum was verified when the store opened or when it was
 * written; the bytes are read back from the segment files.
 * Returns 0, or:
 *   QFS_ESTALE    @from is at or below the base (compacted away)
 *   -ENOENT       @from is past the last index
 *   -EINVAL       @from > @to, or @from == 0
 *   QFS_ECORRUPT  a segment file is gone or short
 *   -ENOMEM, -EIO.
 * Any thread.
 */
int store_log_get(struct store *s, uint64_t from, uint64_t to, size_t max_bytes,
                  struct store_entry **out, size_t *n);

/*
 * store_log_truncate_suffix - delete every entry with index >= @from
 * (nothing if there is none), durably. @from must be above the base.
 * Returns 0, -EINVAL (@from <= base), store_append()'s errors. Log writer.
 */
int store_log_truncate_suffix(struct store *s, uint64_t from);

/*
 * store_log_compact - delete every entry with index <= @upto, recording the
 * term of entry @upto as the new base, durably; then the segment files that
 * hold nothing after the base are deleted. The tree must be durable at an
 * applied index >= @upto first: the LMDB environment is synced here if its
 * last commit skipped its meta page's sync. Compacting to an index at or
 * below the base does nothing.
 * Returns 0, -EINVAL (@upto past the last index), store_append()'s and
 * store_sync()'s errors. Log writer.
 */
int store_log_compact(struct store *s, uint64_t upto);

/*
 * store_log_reset - delete the whole log and set the base to (@index,
 * @term), durably, so the next entry appended must be @index + 1. For
 * installing a snapshot: call it after the store_write() that installed the
 * tree and recorded the snapshot's metadata returned (durably). A crash in
 * between is repaired by store_open(): a log that does not hold the
 * recorded snapshot's last entry with its term is reset to it.
 * Returns 0, store_append()'s errors. Log writer.
 */
int store_log_reset(struct store *s, uint64_t index, uint64_t term);

/* ---- Raw metadata for the layers above ---- */

/*
 * store_txn_meta_put - set @key (a NUL-terminated string, 1..400 bytes) to the
 * @len bytes at @val (copied) in the "meta" database. Keys starting with
 * "store." belong to this module; src/fsm uses "fsm.", src/node "node.".
 * Returns 0, -EINVAL (key empty or too long), -EPERM (a "store." key),
 * QFS_EMAPFULL, translated LMDB errors. Writer, in a store_write() callback.
 */
int store_txn_meta_put(struct store *s, MDB_txn *txn, const char *key, const void *val, size_t len);

/*
 * store_txn_meta_get - find @key in @txn. *@val points into the transaction:
 * borrowed, valid until the transaction ends (LMDB's rule); *@len its size.
 * Returns 0, -ENOENT (no such key), -EINVAL (bad key), translated LMDB
 * errors. Inside any callback.
 */
int store_txn_meta_get(struct store *s, MDB_txn *txn, const char *key, const void **val,
                       size_t *len);

/*
 * store_txn_meta_del - delete @key. Returns 0, -ENOENT, -EINVAL, -EPERM,
 * translated LMDB errors. Writer, in a store_write() callback.
 */
int store_txn_meta_del(struct store *s, MDB_txn *txn, const char *key);

/*
 * store_meta_get - copy the value of @key out: *@val is malloc'd and
 * transferred (free() it; a zero-length value still gets a 1-byte allocation),
 * *@len its size. Returns as store_txn_meta_get, plus -ENOMEM. Any thread.
 */
int store_meta_get(struct store *s, const char *key, void **val, size_t *len);

/* store_meta_put - as store_txn_meta_put in its own durable transaction. Writer. */
int store_meta_put(struct store *s, const char *key, const void *val, size_t len);

/* ---- Snapshot metadata ---- */

/*
 * store_txn_snapshot_meta_put - record @sm (index, term and conf copied) in @txn.
 * Returns 0, -EFBIG (conf over 16 MiB), QFS_EMAPFULL, translated LMDB
 * errors. Writer, in a store_write() callback.
 */
int store_txn_snapshot_meta_put(struct store *s, MDB_txn *txn,
                                const struct store_snapshot_meta *sm);

/* store_snapshot_meta_put - as above in its own durable transaction. Writer. */
int store_snapshot_meta_put(struct store *s, const struct store_snapshot_meta *sm);

/*
 * store_snapshot_meta_get - read the snapshot metadata into @out. out->conf
 * is malloc'd and transferred (free() it), NULL when conf_len is 0.
 * Returns 0, -ENOENT (no snapshot recorded), QFS_ECORRUPT, -ENOMEM. Any thread.
 */
int store_snapshot_meta_get(struct store *s, struct store_snapshot_meta *out);

#endif
