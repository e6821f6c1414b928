/* orphans.c: unlinked regular files kept for the members that may hold them open, until released.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

/*
 * A regular file that loses its last name is not deleted: the tree cannot
 * know which nodes hold it open, so it keeps it (nlink 0, contents and all)
 * with the set of members that have not released it yet, under its inode
 * number in "orphans". Each member releases it (ORPHAN_RELEASE) once it has
 * no handle of it; the last release frees it. The set starts as the
 * configuration's members, which the tree learns at every configuration
 * entry (fsm_apply_conf), kept under key 0; a member removed from the
 * configuration is dropped from every set at that entry, so nothing waits
 * for a node that is gone. Everything here follows the log alone.
 */

#define MEMBERS_KEY 0 /* no inode has number 0 */

static void key_of(uint8_t kb[8], uint64_t ino)
{
	fsm__put64(kb, ino);
}

/* Reads the id set under @ino into @ids (at most FSM_MEMBERS_MAX); *@n 0
 * when absent. */
static int set_get(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t *ids, size_t *n)
{
	uint8_t kb[8];
	MDB_val k = fsm__val(kb, 8), v;
	int rc;

	key_of(kb, ino);
	*n = 0;
	rc = mdb_get(txn, fsm->orphans, &k, &v);
	if (fsm__notfound(rc))
		return 0;
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "get orphan");
	if (v.mv_size == 0 || v.mv_size % 8 != 0 || v.mv_size / 8 > FSM_MEMBERS_MAX) {
		snprintf(fsm->errmsg, sizeof(fsm->errmsg), "orphan record of %zu bytes", v.mv_size);
		return QFS_ECORRUPT;
	}
	*n = v.mv_size / 8;
	for (size_t i = 0; i < *n; i++)
		ids[i] = fsm__get64((const uint8_t *)v.mv_data + 8 * i);
	return 0;
}

/* Writes the set, or deletes the key when it is empty. */
static int set_put(struct fsm *fsm, MDB_txn *txn, uint64_t ino, const uint64_t *ids, size_t n)
{
	uint8_t kb[8], vb[8 * FSM_MEMBERS_MAX];
	MDB_val k = fsm__val(kb, 8), v = fsm__val(vb, 8 * n);
	int rc;

	key_of(kb, ino);
	if (n == 0) {
		rc = mdb_del(txn, fsm->orphans, &k, NULL);
		return rc == 0 || fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "del orphan");
	}
	for (size_t i = 0; i < n; i++)
		fsm__put64(vb + 8 * i, ids[i]);
	rc = mdb_put(txn, fsm->orphans, &k, &v, 0);
	return rc ? fsm__lmdb(fsm, rc, "put orphan") : 0;
}

/* The last holder let go: the inode, its blocks and xattrs go. */
static int free_orphan(struct fsm *fsm, MDB_txn *txn, uint64_t ino)
{
	struct fsm__inode in;
	int rc = set_put(fsm, txn, ino, NULL, 0);
	if (rc == 0)
		rc = fsm__inode_get(fsm, txn, ino, &in);
	if (rc == ENOENT) {
		snprintf(fsm->errmsg, sizeof(fsm->errmsg), "orphan %llu has no inode",
		         (unsigned long long)ino);
		return QFS_ECORRUPT;
	}
	return rc ? rc : fsm__inode_drop(fsm, txn, &in);
}

int fsm__orphan_or_drop(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in)
{
	uint64_t members[FSM_MEMBERS_MAX];
	size_t n;
	int rc;

	if (!S_ISREG(in->a.mode))
		return fsm__inode_drop(fsm, txn, in);
	rc = set_get(fsm, txn, MEMBERS_KEY, members, &n);
	if (rc != 0)
		return rc;
	/* No configuration seen yet (a tree used without a cluster, or one
	 * whose last configuration entry predates orphans): nobody to wait
	 * for. */
	if (n == 0)
		return fsm__inode_drop(fsm, txn, in);
	rc = fsm__inode_put(fsm, txn, in);
	return rc ? rc : set_put(fsm, txn, in->a.ino, members, n);
}

/* Removes @id from @ids; returns whether it was there. */
static int set_remove(uint64_t *ids, size_t *n, uint64_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (ids[i] == id) {
			memmove(ids + i, ids + i + 1, (*n - i - 1) * sizeof(*ids));
			(*n)--;
			return 1;
		}
	return 0;
}

int fsm__apply_orphan_release(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                              struct fsm_result *res)
{
	uint64_t holders[FSM_MEMBERS_MAX];
	size_t n;
	int rc;

	if (c->data_len == 0 || c->data_len % 8 != 0)
		return EINVAL; /* the decoder refuses it; never trust it */
	/* Nothing can fail as a command from here on: each number either is
	 * an orphan this node holds or is ignored. */
	for (size_t i = 0; i < c->data_len; i += 8) {
		uint64_t ino = fsm__get64((const uint8_t *)c->data + i);
		if (ino == MEMBERS_KEY)
			continue;
		rc = set_get(fsm, txn, ino, holders, &n);
		if (rc != 0)
			return rc;
		if (!set_remove(holders, &n, c->co.node))
			continue;
		rc = n ? set_put(fsm, txn, ino, holders, n) : free_orphan(fsm, txn, ino);
		if (rc != 0)
			return rc;
	}
	memset(&res->attr, 0, sizeof(res->attr));
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int fsm__orphans_conf(struct fsm *fsm, MDB_txn *txn, const uint64_t *ids, size_t n)
{
	uint64_t members[FSM_MEMBERS_MAX], holders[FSM_MEMBERS_MAX];
	size_t m = 0, h;
	uint64_t next = 1;
	MDB_cursor *cur;
	int rc, err = 0;

	if (n > FSM_MEMBERS_MAX)
		return -EINVAL;
	/* Sorted, without duplicates: the same bytes on every node whatever
	 * order the configuration lists its servers in. */
	memcpy(members, ids, n * sizeof(*ids));
	qsort(members, n, sizeof(*members), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || members[m - 1] != members[i])
			members[m++] = members[i];
	rc = set_put(fsm, txn, MEMBERS_KEY, members, m);
	if (rc != 0)
		return rc;

	/* Every orphan forgets the holders that are no longer members. */
	rc = mdb_cursor_open(txn, fsm->orphans, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor orphans");
	for (;;) {
		uint8_t kb[8];
		MDB_val k = fsm__val(kb, 8), v;
		uint64_t ino;
		int changed = 0;

		/* Seek afresh each time: the puts and deletes below move things. */
		key_of(kb, next);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0)
			break;
		if (k.mv_size != 8) {
			snprintf(fsm->errmsg, sizeof(fsm->errmsg), "orphans: a key not 8 bytes");
			err = QFS_ECORRUPT;
			break;
		}
		ino = fsm__get64(k.mv_data);
		next = ino + 1;
		err = set_get(fsm, txn, ino, holders, &h);
		if (err != 0)
			break;
		for (size_t i = 0; i < h;) {
			if (bsearch(&holders[i], members, m, sizeof(*members), cmp_u64) == NULL) {
				set_remove(holders, &h, holders[i]);
				changed = 1;
			} else {
				i++;
			}
		}
		if (!changed)
			continue;
		err = h ? set_put(fsm, txn, ino, holders, h) : free_orphan(fsm, txn, ino);
		if (err != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (err != 0)
		return err;
	return fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "walk orphans");
}

int fsm_orphan_holders(struct fsm *fsm, MDB_txn *given, uint64_t ino, uint64_t *ids, size_t cap,
                       size_t *n)
{
	uint64_t all[FSM_MEMBERS_MAX];
	MDB_txn *txn;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	*n = 0;
	rc = ino == MEMBERS_KEY ? -ENOENT : set_get(fsm, txn, ino, all, n);
	fsm__read_done(given, txn);
	if (rc != 0)
		return rc;
	if (*n == 0)
		return -ENOENT;
	memcpy(ids, all, (*n < cap ? *n : cap) * sizeof(*ids));
	return 0;
}

int fsm_orphans_held(struct fsm *fsm, MDB_txn *given, uint64_t node, uint64_t after, uint64_t *inos,
                     size_t cap, size_t *n)
{
	uint64_t holders[FSM_MEMBERS_MAX];
	MDB_cursor *cur;
	MDB_txn *txn;
	size_t h;
	int rc = fsm__read_txn(fsm, given, &txn);

	*n = 0;
	if (rc != 0)
		return rc;
	rc = mdb_cursor_open(txn, fsm->orphans, &cur);
	if (rc != 0) {
		fsm__read_done(given, txn);
		return fsm__lmdb(fsm, rc, "cursor orphans");
	}
	uint8_t kb[8];
	MDB_val k = fsm__val(kb, 8), v;
	key_of(kb, after + 1);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *n < cap;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t ino = k.mv_size == 8 ? fsm__get64(k.mv_data) : 0;
		if (ino == MEMBERS_KEY)
			continue;
		h = v.mv_size / 8 < FSM_MEMBERS_MAX ? v.mv_size / 8 : FSM_MEMBERS_MAX;
		for (size_t i = 0; i < h; i++)
			holders[i] = fsm__get64((const uint8_t *)v.mv_data + 8 * i);
		for (size_t i = 0; i < h; i++)
			if (holders[i] == node) {
				inos[(*n)++] = ino;
				break;
			}
	}
	mdb_cursor_close(cur);
	fsm__read_done(given, txn);
	return rc == 0 || fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "walk orphans");
}
