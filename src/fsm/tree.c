/* tree.c: the building blocks of the commands: inodes, directory entries, contents, counters. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

int fsm__inode_get(struct fsm *fsm, MDB_txn *txn, uint64_t ino, struct fsm__inode *out)
{
	uint8_t kb[8];
	MDB_val k = fsm__val(kb, 8), v;
	int rc;
	fsm__put64(kb, ino);
	rc = mdb_get(txn, fsm->inodes, &k, &v);
	if (fsm__notfound(rc))
		return ENOENT;
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "get inode");
	return fsm__inode_decode(ino, &v, out);
}

int fsm__inode_put(struct fsm *fsm, MDB_txn *txn, const struct fsm__inode *in)
{
	uint8_t kb[8], vb[FSM__INODE_REC_SIZE];
	MDB_val k = fsm__val(kb, 8), v = fsm__val(vb, sizeof(vb));
	int rc;
	fsm__put64(kb, in->a.ino);
	fsm__inode_encode(in, vb);
	rc = mdb_put(txn, fsm->inodes, &k, &v, 0);
	return rc ? fsm__lmdb(fsm, rc, "put inode") : 0;
}

int fsm__dir_get(struct fsm *fsm, MDB_txn *txn, uint64_t ino, struct fsm__inode *out)
{
	int rc = fsm__inode_get(fsm, txn, ino, out);
	if (rc == 0 && !S_ISDIR(out->a.mode))
		return ENOTDIR;
	return rc;
}

void fsm__changed(const struct fsm *fsm, struct fsm__inode *in, int64_t now, int mtime)
{
	in->a.ctime_ns = now;
	if (mtime)
		in->a.mtime_ns = now;
	in->a.version = fsm->index;
}

/* Takes the next inode number from the counter in meta: numbers follow the
 * order of the log, so they are the same on every node, and never reused. */
int fsm__inode_new(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, uint32_t mode,
                   struct fsm__inode *out)
{
	return fsm__inode_new_at(fsm, txn, c, mode, 0, out);
}

int fsm__inode_new_at(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, uint32_t mode,
                      uint64_t ino, struct fsm__inode *out)
{
	int rc;

	if (ino == 0) {
		rc = fsm__meta_get64(fsm, txn, FSM__KEY_NEXTINO, &ino, FSM_ROOT_INO + 1);
		if (rc != 0)
			return rc;
		rc = fsm__meta_put64(fsm, txn, FSM__KEY_NEXTINO, ino + 1);
		if (rc != 0)
			return rc;
	}
	memset(out, 0, sizeof(*out));
	out->a.ino = ino;
	out->a.mode = mode;
	out->a.uid = c->uid;
	out->a.gid = c->gid;
	out->a.nlink = S_ISDIR(mode) ? 2 : 1;
	out->a.atime_ns = out->a.mtime_ns = out->a.ctime_ns = c->time_ns;
	out->a.version = fsm->index;
	out->next_seq = S_ISDIR(mode) ? FSM__FIRST_SEQ : 0;
	return 0;
}

static size_t name_key(uint8_t *kb, uint64_t parent, const char *name, size_t len)
{
	fsm__put64(kb, parent);
	kb[8] = FSM__DIRENT_NAME;
	memcpy(kb + 9, name, len);
	return 9 + len;
}

static void seq_key(uint8_t kb[17], uint64_t parent, uint64_t seq)
{
	fsm__put64(kb, parent);
	kb[8] = FSM__DIRENT_SEQ;
	fsm__put64(kb + 9, seq);
}

int fsm__dirent_get(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                    struct fsm__dirent *out)
{
	uint8_t kb[9 + FSM_NAME_MAX];
	MDB_val k, v;
	int rc;
	if (len > FSM_NAME_MAX)
		return ENAMETOOLONG;
	k = fsm__val(kb, name_key(kb, parent, name, len));
	rc = mdb_get(txn, fsm->dirents, &k, &v);
	if (fsm__notfound(rc))
		return ENOENT;
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "get dirent");
	if (v.mv_size != FSM__DIRENT_REC_SIZE)
		return QFS_ECORRUPT;
	out->child = fsm__get64(v.mv_data);
	out->seq = fsm__get64((uint8_t *)v.mv_data + 8);
	out->type = fsm__get32((uint8_t *)v.mv_data + 16);
	return 0;
}

/* Writes both keys of an entry: the name key for lookups and the seq key
 * that orders readdir. */
static int dirent_put(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                      uint64_t child, uint64_t seq, uint32_t type)
{
	uint8_t kb[9 + FSM_NAME_MAX], vb[12 + FSM_NAME_MAX], sk[17];
	MDB_val k = fsm__val(kb, name_key(kb, parent, name, len)), v;
	int rc;

	fsm__put64(vb, child);
	fsm__put64(vb + 8, seq);
	fsm__put32(vb + 16, type);
	v = fsm__val(vb, FSM__DIRENT_REC_SIZE);
	rc = mdb_put(txn, fsm->dirents, &k, &v, 0);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "put dirent");

	seq_key(sk, parent, seq);
	k = fsm__val(sk, sizeof(sk));
	fsm__put64(vb, child);
	fsm__put32(vb + 8, type);
	memcpy(vb + 12, name, len);
	v = fsm__val(vb, 12 + len);
	rc = mdb_put(txn, fsm->dirents, &k, &v, 0);
	return rc ? fsm__lmdb(fsm, rc, "put dirent seq") : 0;
}

int fsm__dirent_add(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *dir, const char *name,
                    size_t len, uint64_t child, uint32_t type)
{
	/* The caller writes @dir back: its next_seq moved. */
	return dirent_put(fsm, txn, dir->a.ino, name, len, child, dir->next_seq++, type);
}

int fsm__dirent_retarget(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name,
                         size_t len, const struct fsm__dirent *de, uint64_t child, uint32_t type)
{
	/* Same seq: to a listing in progress the name stays where it was. */
	return dirent_put(fsm, txn, parent, name, len, child, de->seq, type);
}

int fsm__dirent_del(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                    const struct fsm__dirent *de)
{
	uint8_t kb[9 + FSM_NAME_MAX], sk[17];
	MDB_val k = fsm__val(kb, name_key(kb, parent, name, len));
	int rc = mdb_del(txn, fsm->dirents, &k, NULL);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "del dirent");
	seq_key(sk, parent, de->seq);
	k = fsm__val(sk, sizeof(sk));
	rc = mdb_del(txn, fsm->dirents, &k, NULL);
	return rc ? fsm__lmdb(fsm, rc, "del dirent seq") : 0;
}

int fsm__dir_empty(struct fsm *fsm, MDB_txn *txn, uint64_t ino, int *empty)
{
	uint8_t kb[8];
	MDB_cursor *cur;
	MDB_val k = fsm__val(kb, 8), v;
	int rc;

	fsm__put64(kb, ino);
	rc = mdb_cursor_open(txn, fsm->dirents, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor dirents");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (fsm__notfound(rc)) {
		*empty = 1;
		return 0;
	}
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "seek dirents");
	*empty = !(k.mv_size > 8 && memcmp(k.mv_data, kb, 8) == 0);
	return 0;
}

int fsm__bytes_add(struct fsm *fsm, MDB_txn *txn, uint64_t sub, uint64_t add)
{
	uint64_t bytes;
	int rc;
	if (sub == add)
		return 0;
	rc = fsm__meta_get64(fsm, txn, FSM__KEY_BYTES, &bytes, 0);
	if (rc != 0)
		return rc;
	return fsm__meta_put64(fsm, txn, FSM__KEY_BYTES, bytes - sub + add);
}

/* Deletes an inode with its contents and extended attributes. */
int fsm__inode_drop(struct fsm *fsm, MDB_txn *txn, const struct fsm__inode *in)
{
	uint8_t kb[8];
	MDB_val k = fsm__val(kb, 8), v;
	MDB_cursor *cur;
	int rc;

	fsm__put64(kb, in->a.ino);
	rc = mdb_del(txn, fsm->inodes, &k, NULL);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "del inode");
	rc = mdb_cursor_open(txn, fsm->data, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor data");
	/* A symlink's target (ino) sorts first, then the xattrs (ino, 0, name),
	 * then the blocks (ino, 1, block). */
	for (;;) {
		/* Seek afresh after each delete rather than trust the cursor's
		 * position past a deleted item. */
		k = fsm__val(kb, 8);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0 || k.mv_size < 8 || memcmp(k.mv_data, kb, 8) != 0)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && !fsm__notfound(rc))
		return fsm__lmdb(fsm, rc, "del data");
	return S_ISDIR(in->a.mode) ? 0 : fsm__bytes_add(fsm, txn, in->a.size, 0);
}

/* One name fewer for a non-directory. With the last one a regular file
 * becomes an orphan, kept until every member let it go (orphans.c); any
 * other inode goes at once. */
int fsm__unref(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, int64_t now)
{
	in->a.nlink--;
	fsm__changed(fsm, in, now, 0);
	if (in->a.nlink == 0)
		return fsm__orphan_or_drop(fsm, txn, in);
	return fsm__inode_put(fsm, txn, in);
}

/* A symlink's target is one value under the bare inode key: it is written
 * once, with the link, and never in blocks. */
int fsm__target_get(struct fsm *fsm, MDB_txn *txn, uint64_t ino, MDB_val *out)
{
	uint8_t kb[8];
	MDB_val k = fsm__val(kb, 8);
	int rc;
	fsm__put64(kb, ino);
	rc = mdb_get(txn, fsm->data, &k, out);
	if (fsm__notfound(rc)) {
		out->mv_size = 0;
		out->mv_data = NULL;
		return 0;
	}
	return rc ? fsm__lmdb(fsm, rc, "get target") : 0;
}

int fsm__target_set(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, const void *buf,
                    size_t len)
{
	uint8_t kb[8];
	MDB_val k = fsm__val(kb, 8), v = fsm__val(buf, len);
	int rc;
	fsm__put64(kb, in->a.ino);
	rc = mdb_put(txn, fsm->data, &k, &v, 0);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "put target");
	rc = fsm__bytes_add(fsm, txn, in->a.size, len);
	in->a.size = len;
	return rc;
}
