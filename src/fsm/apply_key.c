/* apply_key.c: PUT_IF (a CREATE that holds only at one version) and the expiry of TTL files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsm_internal.h"

/*
 * The condition is checked here, in apply, so it holds at the entry's index
 * on every node alike: two scripts that both read version V and both put
 * with --if-version V see one of them win and the other ECANCELED.
 */
int fsm__apply_put_if(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res)
{
	struct fsm__dirent de;
	struct fsm__inode in;
	struct wire_cmd create = *c;
	int rc = fsm__check_name(c->name, c->name_len);
	if (rc != 0)
		return rc;
	rc = fsm__dirent_get(fsm, txn, c->parent, c->name, c->name_len, &de);
	if (rc != 0)
		return rc; /* ENOENT: no such key, so not at that version */
	if (de.type == S_IFDIR)
		return EISDIR;
	if (de.type != S_IFREG)
		return EINVAL;
	rc = fsm__inode_get(fsm, txn, de.child, &in);
	if (rc != 0)
		return rc;
	if (in.a.version != c->offset)
		return ECANCELED;
	create.type = WIRE_CMD_CREATE;
	create.flags = WIRE_CREATE_TRUNC;
	return fsm__apply_create(fsm, txn, &create, res);
}

/*
 * TTL_EXPIRE: the leader saw the file unwritten for longer than its TTL at
 * version c->offset. Any change since (a write, a chmod, a new TTL) moved the
 * version, and then the file stays: the leader looks again.
 */
int fsm__apply_ttl_expire(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                          struct fsm_result *res)
{
	struct fsm__inode in;
	uint64_t removed = 0;
	int rc = fsm__inode_get(fsm, txn, c->ino, &in);
	if (rc != 0)
		return rc;
	if (!S_ISREG(in.a.mode))
		return EINVAL;
	if (in.a.version != c->offset)
		return ECANCELED;
	rc = fsm__unlink_names(fsm, txn, c->ino, c, &removed);
	if (rc != 0)
		return rc;
	res->attr = in.a;
	res->attr.nlink = 0;
	res->attr.size = removed; /* names removed, as SESSION_EXPIRE reports */
	return 0;
}

/* Parses a TTL value: decimal seconds, 1 .. 10^9, nothing else. */
int fsm_ttl_parse(const void *value, size_t len, uint64_t *seconds)
{
	const char *p = value;
	uint64_t v = 0;
	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v == 0 || v > 1000000000)
		return -EINVAL;
	*seconds = v;
	return 0;
}

int fsm_ttl_scan(struct fsm *fsm, MDB_txn *txn, fsm_ttl_cb cb, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, fsm->inodes, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "inodes cursor");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct fsm__inode in;
		char val[16];
		size_t len = 0;
		uint64_t ttl;
		if (k.mv_size != 8 || fsm__inode_decode(fsm__get64(k.mv_data), &v, &in) != 0 ||
		    !S_ISREG(in.a.mode))
			continue;
		if (fsm_getxattr(fsm, txn, in.a.ino, FSM_TTL_XATTR, strlen(FSM_TTL_XATTR), val,
		                 sizeof(val), &len) != 0 ||
		    fsm_ttl_parse(val, len, &ttl) != 0)
			continue;
		if (cb(arg, &in.a, ttl) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "inodes cursor");
}
