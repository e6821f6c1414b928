/* apply_xattr.c: SETXATTR and REMOVEXATTR, for the user.* namespace only. */
#include <errno.h>
#include <sys/stat.h>

#include "fsm_internal.h"

#define USER_PREFIX     "user."
#define USER_PREFIX_LEN 5
#define LIST_MAX        65536 /* XATTR_LIST_MAX: listxattr must always fit */

/*
 * Only user.* attributes are kept: other namespaces (security.*, system.*
 * ACLs, trusted.*) would mean checks the tree cannot make the same on every
 * node, so they are ENOTSUP and the kernel falls back to mode bits.
 */
static int check_xattr_name(const char *name, size_t len)
{
	if (len == 0 || len > FSM_XATTR_NAME_MAX)
		return ERANGE;
	if (memchr(name, '\0', len) != NULL)
		return EINVAL;
	if (len < USER_PREFIX_LEN || memcmp(name, USER_PREFIX, USER_PREFIX_LEN) != 0)
		return ENOTSUP;
	return len == USER_PREFIX_LEN ? EINVAL : 0;
}

static size_t xattr_key(uint8_t *kb, uint64_t ino, const char *name, size_t len)
{
	fsm__put64(kb, ino);
	kb[8] = FSM__DATA_XATTR;
	memcpy(kb + 9, name, len);
	return 9 + len;
}

/* The inode an xattr command acts on. user.* attributes belong to files
 * and directories only (xattr(7)): EPERM for symlinks. */
static int target(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, struct fsm__inode *in)
{
	int rc = check_xattr_name(c->name, c->name_len);
	if (rc == 0)
		rc = fsm__inode_get(fsm, txn, c->ino, in);
	if (rc == 0 && !S_ISREG(in->a.mode) && !S_ISDIR(in->a.mode))
		rc = EPERM;
	return rc;
}

/* Sum of (name length + 1) over the attributes of @ino: what listxattr
 * returns, which must stay within LIST_MAX. */
static int list_size(struct fsm *fsm, MDB_txn *txn, uint64_t ino, size_t *total)
{
	uint8_t kb[9];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*total = 0;
	fsm__put64(kb, ino);
	kb[8] = FSM__DATA_XATTR;
	rc = mdb_cursor_open(txn, fsm->data, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor data");
	k = fsm__val(kb, sizeof(kb));
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size > 9 && memcmp(k.mv_data, kb, 9) == 0) {
		*total += k.mv_size - 9 + 1;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == 0 || fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "list xattrs");
}

int fsm__apply_setxattr(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                        struct fsm_result *res)
{
	struct fsm__inode in;
	uint8_t kb[9 + FSM_XATTR_NAME_MAX];
	MDB_val k, v;
	size_t total;
	int exists, rc;

	if ((c->flags & WIRE_XATTR_CREATE) && (c->flags & WIRE_XATTR_REPLACE))
		return EINVAL;
	rc = target(fsm, txn, c, &in);
	if (rc != 0)
		return rc;
	if (c->data_len > FSM_XATTR_SIZE_MAX || c->data_len > fsm->opts.max_value_size)
		return E2BIG;
	k = fsm__val(kb, xattr_key(kb, c->ino, c->name, c->name_len));
	rc = mdb_get(txn, fsm->data, &k, &v);
	if (rc != 0 && !fsm__notfound(rc))
		return fsm__lmdb(fsm, rc, "get xattr");
	exists = rc == 0;
	if (exists && (c->flags & WIRE_XATTR_CREATE))
		return EEXIST;
	if (!exists && (c->flags & WIRE_XATTR_REPLACE))
		return ENODATA;
	if (!exists) {
		rc = list_size(fsm, txn, c->ino, &total);
		if (rc != 0)
			return rc;
		if (total + c->name_len + 1 > LIST_MAX)
			return ENOSPC; /* as a file system out of xattr space */
	}
	v = fsm__val(c->data_len ? c->data : "", c->data_len);
	rc = mdb_put(txn, fsm->data, &k, &v, 0);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "put xattr");
	fsm__changed(fsm, &in, c->time_ns, 0);
	res->attr = in.a;
	return fsm__inode_put(fsm, txn, &in);
}

int fsm__apply_removexattr(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                           struct fsm_result *res)
{
	struct fsm__inode in;
	uint8_t kb[9 + FSM_XATTR_NAME_MAX];
	MDB_val k;
	int rc = target(fsm, txn, c, &in);

	if (rc != 0)
		return rc;
	k = fsm__val(kb, xattr_key(kb, c->ino, c->name, c->name_len));
	rc = mdb_del(txn, fsm->data, &k, NULL);
	if (fsm__notfound(rc))
		return ENODATA;
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "del xattr");
	fsm__changed(fsm, &in, c->time_ns, 0);
	res->attr = in.a;
	return fsm__inode_put(fsm, txn, &in);
}
