/* snapshot_install.c: checks a snapshot stream and loads it in place of the tree, in one txn. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "fsm_internal.h"
#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"
#include "snapshot.h"

/*
 * One parser serves both verification (fsm == NULL: values are read and
 * dropped) and loading (values go straight into space reserved in LMDB, so
 * a large file is never held in memory twice). Everything the stream
 * declares is bounded before it is used; the CRC, checked last, catches
 * what the bounds cannot.
 */
struct parse {
	struct fsm *fsm; /* NULL: verify only */
	MDB_txn *txn;
	fsm_snapshot_read_fn read;
	void *arg;
	uint64_t off; /* where the next read starts */
	uint32_t crc;
	uint64_t applied;
	int seen_applied, seen_format;
	uint8_t prev[FSM__SNAP_KEY_MAX]; /* the last key, to check the order */
	size_t prev_len;
	int prev_db;
	const char *why; /* the check that failed, for fsm_snapshot_check_fd */
};

static int corrupt(struct parse *p, const char *why)
{
	p->why = why;
	if (p->fsm != NULL)
		snprintf(p->fsm->errmsg, sizeof(p->fsm->errmsg), "snapshot: %s", why);
	return QFS_ECORRUPT;
}

/* Reads exactly @n bytes (an early end is corruption) and adds them to the CRC. */
static int get(struct parse *p, void *buf, size_t n)
{
	uint8_t *b = buf;
	size_t got = 0;
	while (got < n) {
		long r = p->read(p->arg, b + got, n - got, p->off);
		if (r < 0)
			return (int)r;
		if (r == 0 || (size_t)r > n - got)
			return corrupt(p, "short stream");
		got += (size_t)r;
		p->off += (uint64_t)r;
	}
	p->crc = qfs_crc32c(p->crc, buf, n);
	return 0;
}

static int lmdb_err(struct parse *p, int rc, const char *what)
{
	return fsm__lmdb(p->fsm, rc, what);
}

/* Empties the tree: the databases of the fsm, and its meta keys
 * (only those: the rest of "meta" belongs to src/store). */
static int clear_tree(struct parse *p)
{
	struct fsm *fsm = p->fsm;
	MDB_dbi dbis[] = {fsm->inodes,    fsm->dirents, fsm->data,      fsm->sessions,
	                  fsm->nsessions, fsm->locks,   fsm->ephemeral, fsm->orphans};
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
		rc = mdb_drop(p->txn, dbis[i], 0);
		if (rc != 0)
			return lmdb_err(p, rc, "snapshot drop");
	}
	rc = mdb_cursor_open(p->txn, fsm->meta, &cur);
	if (rc != 0)
		return lmdb_err(p, rc, "snapshot meta");
	for (;;) {
		k = fsm__val(FSM__META_PREFIX, sizeof(FSM__META_PREFIX) - 1);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0 || k.mv_size < sizeof(FSM__META_PREFIX) - 1 ||
		    memcmp(k.mv_data, FSM__META_PREFIX, sizeof(FSM__META_PREFIX) - 1) != 0)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || fsm__notfound(rc) ? 0 : lmdb_err(p, rc, "snapshot meta");
}

static MDB_dbi dbi_of(struct fsm *fsm, int db)
{
	MDB_dbi dbis[] = {0,
	                  fsm->inodes,
	                  fsm->dirents,
	                  fsm->data,
	                  fsm->sessions,
	                  fsm->meta,
	                  fsm->orphans,
	                  0,
	                  fsm->nsessions,
	                  fsm->locks,
	                  fsm->ephemeral};
	return dbis[db];
}

/* Per-database shape checks, beyond what the CRC covers: a record of the
 * wrong size would otherwise surface later as a corrupt tree. */
static int check_record(struct parse *p, int db, const uint8_t *key, size_t klen, uint32_t vlen)
{
	size_t plen = sizeof(FSM__META_PREFIX) - 1;
	if (db == FSM__SNAP_INODES && (klen != 8 || vlen != FSM__INODE_REC_SIZE))
		return corrupt(p, "inode record");
	if ((db == FSM__SNAP_DIRENTS || db == FSM__SNAP_DATA) && klen < 8)
		return corrupt(p, "short key");
	if ((db == FSM__SNAP_NSESSIONS && (klen != 8 || vlen != 36)) ||
	    (db == FSM__SNAP_LOCKS && (klen != 33 || vlen != 29)) ||
	    (db == FSM__SNAP_EPHEMERAL && (klen != 16 || vlen != 8)))
		return corrupt(p, "coordination record");
	/* An orphan's holders (or, under inode 0, the members): whole ids. */
	if (db == FSM__SNAP_ORPHANS && (klen != 8 || vlen == 0 || vlen % 8 != 0))
		return corrupt(p, "orphan record");
	/* A block is at most FSM_BLOCK_SIZE bytes, and never empty: reads and
	 * writes rely on it. */
	if (db == FSM__SNAP_DATA && klen > 8 && key[8] == FSM__DATA_BLOCK &&
	    (klen != FSM__BLOCK_KEY || vlen == 0 || vlen > FSM_BLOCK_SIZE))
		return corrupt(p, "block record");
	if (db == FSM__SNAP_META) {
		if (klen < plen || memcmp(key, FSM__META_PREFIX, plen) != 0)
			return corrupt(p, "meta key outside fsm.");
		if (vlen != 8)
			return corrupt(p, "meta value");
	}
	/* Strictly increasing keys within a database, databases in order:
	 * what LMDB's MDB_APPEND needs, and what makes the bytes canonical. */
	if (db < p->prev_db)
		return corrupt(p, "databases out of order");
	if (db == p->prev_db) {
		size_t m = klen < p->prev_len ? klen : p->prev_len;
		int c = memcmp(key, p->prev, m);
		if (c < 0 || (c == 0 && klen <= p->prev_len))
			return corrupt(p, "keys out of order");
	}
	memcpy(p->prev, key, klen);
	p->prev_len = klen;
	p->prev_db = db;
	return 0;
}

/* Reads a value of @vlen bytes: into LMDB when loading, else dropped. */
static int value(struct parse *p, int db, const uint8_t *key, size_t klen, uint32_t vlen,
                 uint8_t *meta8)
{
	uint8_t scratch[16384];
	MDB_val k = fsm__val(key, klen), v = fsm__val(NULL, vlen);
	int rc;

	if (p->fsm == NULL || db == FSM__SNAP_META) {
		/* Meta values are 8 bytes: kept for the applied/format checks. */
		for (uint32_t left = vlen; left > 0;) {
			size_t n = left < sizeof(scratch) ? left : sizeof(scratch);
			rc = get(p, scratch, n);
			if (rc != 0)
				return rc;
			left -= (uint32_t)n;
		}
		if (db == FSM__SNAP_META)
			memcpy(meta8, scratch, 8);
		if (p->fsm == NULL || db != FSM__SNAP_META)
			return 0;
		v = fsm__val(meta8, 8);
		rc = mdb_put(p->txn, p->fsm->meta, &k, &v, 0);
		return rc ? lmdb_err(p, rc, "snapshot put") : 0;
	}
	/* The tree databases were emptied and keys come in order, so
	 * each record appends. */
	rc = mdb_put(p->txn, dbi_of(p->fsm, db), &k, &v, MDB_APPEND | MDB_RESERVE);
	if (store_lmdb_error(rc) == -EEXIST)
		return corrupt(p, "keys out of order");
	if (rc != 0)
		return lmdb_err(p, rc, "snapshot put");
	return get(p, v.mv_data, vlen);
}

static int meta_seen(struct parse *p, const uint8_t *key, size_t klen, const uint8_t *val)
{
	if (klen == strlen(FSM__KEY_APPLIED) && memcmp(key, FSM__KEY_APPLIED, klen) == 0) {
		if (fsm__get64(val) != p->applied)
			return corrupt(p, "fsm.applied differs from the header");
		p->seen_applied = 1;
	}
	if (klen == strlen(FSM__KEY_FORMAT) && memcmp(key, FSM__KEY_FORMAT, klen) == 0) {
		if (fsm__get64(val) != FSM_FORMAT_VERSION) {
			p->why = "another format version";
			return QFS_EFORMAT;
		}
		p->seen_format = 1;
	}
	return 0;
}

static int parse(struct parse *p)
{
	uint8_t h[FSM__SNAP_HEADER], key[FSM__SNAP_KEY_MAX], meta8[8], t[12], extra;
	uint64_t count = 0;
	uint32_t crc;
	int rc;

	rc = get(p, h, sizeof(h));
	if (rc != 0)
		return rc;
	if (memcmp(h, FSM__SNAP_MAGIC, 8) != 0)
		return corrupt(p, "bad magic");
	if (fsm__get32(h + 8) != FSM_FORMAT_VERSION) {
		p->why = "another format version";
		return QFS_EFORMAT;
	}
	p->applied = fsm__get64(h + 16);
	if (p->fsm != NULL && (rc = clear_tree(p)) != 0)
		return rc;

	for (;;) {
		uint8_t rh[FSM__SNAP_REC_HEADER];
		size_t klen;
		uint32_t vlen;
		rc = get(p, rh, 1);
		if (rc != 0)
			return rc;
		if (rh[0] == FSM__SNAP_END)
			break;
		if (!fsm__snap_known_db(rh[0]))
			return corrupt(p, "bad record tag");
		rc = get(p, rh + 1, FSM__SNAP_REC_HEADER - 1);
		if (rc != 0)
			return rc;
		klen = (size_t)rh[1] << 8 | rh[2];
		vlen = fsm__get32(rh + 3);
		if (klen == 0 || klen > FSM__SNAP_KEY_MAX || vlen > FSM_SNAPSHOT_VALUE_MAX)
			return corrupt(p, "record bounds");
		rc = get(p, key, klen);
		if (rc == 0)
			rc = check_record(p, rh[0], key, klen, vlen);
		if (rc == 0)
			rc = value(p, rh[0], key, klen, vlen, meta8);
		if (rc == 0 && rh[0] == FSM__SNAP_META)
			rc = meta_seen(p, key, klen, meta8);
		if (rc != 0)
			return rc;
		count++;
	}
	rc = get(p, t, 8);
	if (rc != 0)
		return rc;
	crc = p->crc;
	rc = get(p, t + 8, 4);
	if (rc != 0)
		return rc;
	if (fsm__get32(t + 8) != crc)
		return corrupt(p, "checksum mismatch");
	if (fsm__get64(t) != count)
		return corrupt(p, "record count");
	if (p->read(p->arg, &extra, 1, p->off) != 0)
		return corrupt(p, "bytes after the trailer");
	if (!p->seen_applied || !p->seen_format)
		return corrupt(p, "fsm.applied or fsm.format missing");
	return 0;
}

/* One pass over the stream: verify only (@fsm NULL), or load into @txn.
 * @why, if not NULL: the failed check's text, or NULL. */
static int run(struct fsm *fsm, MDB_txn *txn, fsm_snapshot_read_fn read, void *arg,
               uint64_t *applied, const char **why)
{
	struct parse p = {.fsm = fsm, .txn = txn, .read = read, .arg = arg};
	int rc = parse(&p);
	if (rc == 0 && applied != NULL)
		*applied = p.applied;
	if (why != NULL)
		*why = rc == 0 ? NULL : p.why;
	return rc;
}

int fsm_snapshot_verify(fsm_snapshot_read_fn read, void *arg, uint64_t *applied)
{
	return run(NULL, NULL, read, arg, applied, NULL);
}

int fsm_snapshot_install(struct fsm *fsm, MDB_txn *txn, fsm_snapshot_read_fn read, void *arg,
                         uint64_t *applied)
{
	/* Verify first: a damaged snapshot then costs no writes, nor a map
	 * grown, nor space reserved, for a length that was garbage. */
	int rc = run(NULL, NULL, read, arg, NULL, NULL);
	if (rc != 0) {
		snprintf(fsm->errmsg, sizeof(fsm->errmsg), "snapshot fails verification");
		return rc;
	}
	return run(fsm, txn, read, arg, applied, NULL);
}

static long fd_read(void *arg, void *buf, size_t cap, uint64_t off)
{
	const int *fd = arg;
	ssize_t n;
	do
		n = pread(*fd, buf, cap, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : (long)n;
}

int fsm_snapshot_verify_fd(int fd, uint64_t *applied)
{
	return fsm_snapshot_verify(fd_read, &fd, applied);
}

int fsm_snapshot_check_fd(int fd, uint64_t *applied, const char **why)
{
	int rc = run(NULL, NULL, fd_read, &fd, applied, why);
	if (rc != 0 && *why == NULL)
		*why = qfs_strerror(rc); /* the reader's own error */
	return rc;
}

int fsm_snapshot_install_fd(struct fsm *fsm, MDB_txn *txn, int fd, uint64_t *applied)
{
	return fsm_snapshot_install(fsm, txn, fd_read, &fd, applied);
}
