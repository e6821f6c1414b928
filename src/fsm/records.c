/* records.c: byte layouts of inode records and meta values, LMDB failures' text, name rules. */
#include <errno.h>
#include <stdio.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

int fsm__lmdb(struct fsm *fsm, int rc, const char *what)
{
	int err = store_lmdb_error(rc);

	if (err != 0)
		snprintf(fsm->errmsg, sizeof(fsm->errmsg), "%s: %s", what, mdb_strerror(rc));
	return err;
}

int fsm__oom(struct fsm *fsm, const char *what)
{
	snprintf(fsm->errmsg, sizeof(fsm->errmsg), "%s: out of memory", what);
	return -ENOMEM;
}

void fsm__inode_encode(const struct fsm__inode *in, uint8_t out[FSM__INODE_REC_SIZE])
{
	fsm__put32(out + 0, in->a.mode);
	fsm__put32(out + 4, in->a.uid);
	fsm__put32(out + 8, in->a.gid);
	fsm__put32(out + 12, in->a.nlink);
	fsm__put64(out + 16, in->a.size);
	fsm__put64(out + 24, (uint64_t)in->a.atime_ns);
	fsm__put64(out + 32, (uint64_t)in->a.mtime_ns);
	fsm__put64(out + 40, (uint64_t)in->a.ctime_ns);
	fsm__put64(out + 48, in->a.version);
	fsm__put64(out + 56, in->parent);
	fsm__put64(out + 64, in->next_seq);
	fsm__put64(out + 72, in->a.rdev);
	fsm__put64(out + 80, in->a.blocks);
}

int fsm__inode_decode(uint64_t ino, const MDB_val *v, struct fsm__inode *out)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size != FSM__INODE_REC_SIZE)
		return QFS_ECORRUPT;
	out->a.rdev = fsm__get64(p + 72);
	out->a.blocks = fsm__get64(p + 80);
	out->a.ino = ino;
	out->a.mode = fsm__get32(p + 0);
	out->a.uid = fsm__get32(p + 4);
	out->a.gid = fsm__get32(p + 8);
	out->a.nlink = fsm__get32(p + 12);
	out->a.size = fsm__get64(p + 16);
	out->a.atime_ns = (int64_t)fsm__get64(p + 24);
	out->a.mtime_ns = (int64_t)fsm__get64(p + 32);
	out->a.ctime_ns = (int64_t)fsm__get64(p + 40);
	out->a.version = fsm__get64(p + 48);
	out->parent = fsm__get64(p + 56);
	out->next_seq = fsm__get64(p + 64);
	return 0;
}

int fsm__meta_get64(struct fsm *fsm, MDB_txn *txn, const char *key, uint64_t *v, uint64_t dflt)
{
	MDB_val k = fsm__val(key, strlen(key)), d;
	int rc = mdb_get(txn, fsm->meta, &k, &d);
	if (fsm__notfound(rc)) {
		*v = dflt;
		return 0;
	}
	if (rc != 0)
		return fsm__lmdb(fsm, rc, key);
	if (d.mv_size != 8) {
		snprintf(fsm->errmsg, sizeof(fsm->errmsg), "%s: %zu bytes, not 8", key, d.mv_size);
		return QFS_ECORRUPT;
	}
	*v = fsm__get64(d.mv_data);
	return 0;
}

int fsm__meta_put64(struct fsm *fsm, MDB_txn *txn, const char *key, uint64_t v)
{
	uint8_t b[8];
	MDB_val k = fsm__val(key, strlen(key)), d = fsm__val(b, 8);
	int rc;
	fsm__put64(b, v);
	rc = mdb_put(txn, fsm->meta, &k, &d, 0);
	return rc ? fsm__lmdb(fsm, rc, key) : 0;
}

int fsm__check_name(const char *name, size_t len)
{
	if (len > FSM_NAME_MAX)
		return ENAMETOOLONG;
	if (len == 0 || memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL)
		return EINVAL;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return EINVAL;
	return 0;
}

int fsm__read_txn(struct fsm *fsm, MDB_txn *given, MDB_txn **txn)
{
	int rc;
	if (given != NULL) {
		*txn = given;
		return 0;
	}
	rc = mdb_txn_begin(fsm->env, NULL, MDB_RDONLY, txn);
	return rc ? fsm__lmdb(fsm, rc, "begin read") : 0;
}

void fsm__read_done(MDB_txn *given, MDB_txn *txn)
{
	if (given == NULL && txn != NULL)
		mdb_txn_abort(txn);
}
