/* query.c: the read side: lookup, getattr, readdir, read, readlink, xattrs, statfs. */
#include <errno.h>
#include <sys/stat.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

/* Queries return -errno for every failure (fsm_internal.h's positive
 * outcomes turn negative at this boundary). */
static int qerr(int rc)
{
	return rc > 0 ? -rc : rc;
}

int fsm_applied(struct fsm *fsm, MDB_txn *given, uint64_t *index)
{
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = fsm__meta_get64(fsm, txn, FSM__KEY_APPLIED, index, 0);
	fsm__read_done(given, txn);
	return rc;
}

int fsm_getattr(struct fsm *fsm, MDB_txn *given, uint64_t ino, struct fsm_attr *attr)
{
	struct fsm__inode in;
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = fsm__inode_get(fsm, txn, ino, &in);
	if (rc == 0)
		*attr = in.a;
	fsm__read_done(given, txn);
	return qerr(rc);
}

static int lookup(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                  struct fsm_attr *attr)
{
	struct fsm__inode dir, in;
	struct fsm__dirent de;
	int rc = fsm__dir_get(fsm, txn, parent, &dir);

	if (rc != 0)
		return rc;
	if (len == 1 && name[0] == '.') {
		*attr = dir.a;
		return 0;
	}
	if (len == 2 && name[0] == '.' && name[1] == '.') {
		rc = fsm__inode_get(fsm, txn, dir.parent, &in);
		if (rc == 0)
			*attr = in.a;
		return rc == ENOENT ? QFS_ECORRUPT : rc;
	}
	rc = fsm__check_name(name, len);
	if (rc == 0)
		rc = fsm__dirent_get(fsm, txn, parent, name, len, &de);
	if (rc == 0)
		rc = fsm__inode_get(fsm, txn, de.child, &in);
	if (rc == 0)
		*attr = in.a;
	return rc;
}

int fsm_lookup(struct fsm *fsm, MDB_txn *given, uint64_t parent, const char *name, size_t len,
               struct fsm_attr *attr)
{
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = lookup(fsm, txn, parent, name, len, attr);
	fsm__read_done(given, txn);
	return qerr(rc);
}

/*
 * Walks the (dir, 0x01, seq) keys from @cookie + 1: seqs are given in
 * increasing order when entries are added and never reused, so a cookie is
 * a position that survives any change to the directory.
 */
static int readdir(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t cookie, bool plus,
                   fsm_readdir_cb cb, void *arg)
{
	struct fsm__inode dir, in;
	struct fsm_dirent ent;
	uint8_t kb[17];
	MDB_cursor *cur;
	MDB_val k, v;
	int err = 0, rc = fsm__dir_get(fsm, txn, ino, &dir);

	if (rc != 0 || cookie == UINT64_MAX)
		return rc;
	fsm__put64(kb, ino);
	kb[8] = FSM__DIRENT_SEQ;
	fsm__put64(kb + 9, cookie + 1);
	rc = mdb_cursor_open(txn, fsm->dirents, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor dirents");
	k = fsm__val(kb, sizeof(kb));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data, *vp = v.mv_data;
		if (k.mv_size < 9 || memcmp(kp, kb, 9) != 0)
			break;
		if (k.mv_size != 17 || v.mv_size < 13 || v.mv_size > 12 + FSM_NAME_MAX) {
			err = QFS_ECORRUPT;
			break;
		}
		memset(&ent, 0, sizeof(ent));
		ent.cookie = fsm__get64(kp + 9);
		ent.ino = fsm__get64(vp);
		ent.type = fsm__get32(vp + 8);
		ent.name = (const char *)vp + 12;
		ent.name_len = v.mv_size - 12;
		if (plus) {
			err = fsm__inode_get(fsm, txn, ent.ino, &in);
			if (err != 0) {
				err = err == ENOENT ? QFS_ECORRUPT : err;
				break;
			}
			ent.attr = in.a;
		}
		if (cb(arg, &ent) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (err != 0)
		return err;
	return rc == 0 || fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "readdir");
}

int fsm_readdir(struct fsm *fsm, MDB_txn *given, uint64_t ino, uint64_t cookie, bool plus,
                fsm_readdir_cb cb, void *arg)
{
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = readdir(fsm, txn, ino, cookie, plus, cb, arg);
	fsm__read_done(given, txn);
	return qerr(rc);
}

static int read_file(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t offset, size_t size,
                     void *buf, size_t *nread)
{
	struct fsm__inode in;
	size_t n;
	int rc = fsm__inode_get(fsm, txn, ino, &in);

	*nread = 0;
	if (rc != 0)
		return rc;
	if (S_ISDIR(in.a.mode))
		return EISDIR;
	if (!S_ISREG(in.a.mode))
		return EINVAL;
	if (offset >= in.a.size)
		return 0;
	n = in.a.size - offset < size ? (size_t)(in.a.size - offset) : size;
	rc = fsm__file_read(fsm, txn, ino, offset, n, buf);
	if (rc == 0)
		*nread = n;
	return rc;
}

int fsm_read(struct fsm *fsm, MDB_txn *given, uint64_t ino, uint64_t offset, size_t size, void *buf,
             size_t *nread)
{
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = read_file(fsm, txn, ino, offset, size, buf, nread);
	fsm__read_done(given, txn);
	return qerr(rc);
}

/* Copies @v into @buf as the getxattr(2) family does: @cap 0 asks only
 * for the size, a smaller @cap is ERANGE. */
static int copy_sized(const void *src, size_t n, void *buf, size_t cap, size_t *len)
{
	*len = n;
	if (cap == 0)
		return 0;
	if (cap < n)
		return ERANGE;
	if (n)
		memcpy(buf, src, n);
	return 0;
}

static int readlink_(struct fsm *fsm, MDB_txn *txn, uint64_t ino, char *buf, size_t cap,
                     size_t *len)
{
	struct fsm__inode in;
	MDB_val v;
	int rc = fsm__inode_get(fsm, txn, ino, &in);

	*len = 0;
	if (rc != 0)
		return rc;
	if (!S_ISLNK(in.a.mode))
		return EINVAL;
	rc = fsm__target_get(fsm, txn, ino, &v);
	if (rc != 0)
		return rc;
	*len = v.mv_size;
	if (cap < v.mv_size)
		return ERANGE;
	memcpy(buf, v.mv_data, v.mv_size);
	return 0;
}

int fsm_readlink(struct fsm *fsm, MDB_txn *given, uint64_t ino, char *buf, size_t cap, size_t *len)
{
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = readlink_(fsm, txn, ino, buf, cap, len);
	fsm__read_done(given, txn);
	return qerr(rc);
}

static int getxattr(struct fsm *fsm, MDB_txn *txn, uint64_t ino, const char *name, size_t name_len,
                    void *buf, size_t cap, size_t *len)
{
	struct fsm__inode in;
	uint8_t kb[9 + FSM_XATTR_NAME_MAX];
	MDB_val k, v;
	int rc = fsm__inode_get(fsm, txn, ino, &in);

	*len = 0;
	if (rc != 0)
		return rc;
	/* A name that could never have been set is simply absent. */
	if (name_len == 0 || name_len > FSM_XATTR_NAME_MAX)
		return ENODATA;
	fsm__put64(kb, ino);
	kb[8] = FSM__DATA_XATTR;
	memcpy(kb + 9, name, name_len);
	k = fsm__val(kb, 9 + name_len);
	rc = mdb_get(txn, fsm->data, &k, &v);
	if (fsm__notfound(rc))
		return ENODATA;
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "get xattr");
	return copy_sized(v.mv_data, v.mv_size, buf, cap, len);
}

int fsm_getxattr(struct fsm *fsm, MDB_txn *given, uint64_t ino, const char *name, size_t name_len,
                 void *buf, size_t cap, size_t *len)
{
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = getxattr(fsm, txn, ino, name, name_len, buf, cap, len);
	fsm__read_done(given, txn);
	return qerr(rc);
}

static int listxattr(struct fsm *fsm, MDB_txn *txn, uint64_t ino, char *buf, size_t cap,
                     size_t *len)
{
	struct fsm__inode in;
	uint8_t kb[9];
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0;
	int rc = fsm__inode_get(fsm, txn, ino, &in);

	*len = 0;
	if (rc != 0)
		return rc;
	fsm__put64(kb, ino);
	kb[8] = FSM__DATA_XATTR;
	rc = mdb_cursor_open(txn, fsm->data, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor data");
	k = fsm__val(kb, sizeof(kb));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		size_t nl = k.mv_size - 9;
		if (k.mv_size <= 9 || memcmp(k.mv_data, kb, 9) != 0)
			break;
		if (cap != 0 && n + nl + 1 <= cap) {
			memcpy(buf + n, (const uint8_t *)k.mv_data + 9, nl);
			buf[n + nl] = '\0';
		}
		n += nl + 1;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && !fsm__notfound(rc))
		return fsm__lmdb(fsm, rc, "list xattrs");
	*len = n;
	return cap != 0 && n > cap ? ERANGE : 0;
}

int fsm_listxattr(struct fsm *fsm, MDB_txn *given, uint64_t ino, char *buf, size_t cap, size_t *len)
{
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = listxattr(fsm, txn, ino, buf, cap, len);
	fsm__read_done(given, txn);
	return qerr(rc);
}

int fsm_statfs(struct fsm *fsm, MDB_txn *given, struct fsm_statfs *st)
{
	MDB_txn *txn;
	MDB_stat ms;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_stat(txn, fsm->inodes, &ms);
	if (rc != 0)
		rc = fsm__lmdb(fsm, rc, "stat inodes");
	else
		st->files = ms.ms_entries;
	if (rc == 0)
		rc = fsm__meta_get64(fsm, txn, FSM__KEY_BYTES, &st->bytes, 0);
	if (rc == 0)
		rc = fsm__meta_get64(fsm, txn, FSM__KEY_APPLIED, &st->applied, 0);
	fsm__read_done(given, txn);
	return rc;
}
