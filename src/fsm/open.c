/* open.c: fsm_open and fsm_close: the tree's databases, the format check, the first root. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

static int open_dbs(struct fsm *fsm, MDB_txn *txn)
{
	/* node_sessions, locks, ephemeral and orphans came after format 1 was
	 * fixed: created here when absent, empty, which is their first state. */
	static const char *const names[] = {"inodes",   "dirents",   "data",
	                                    "sessions", "meta",      "node_sessions",
	                                    "locks",    "ephemeral", "orphans"};
	MDB_dbi *dbis[] = {&fsm->inodes,   &fsm->dirents,   &fsm->data,
	                   &fsm->sessions, &fsm->meta,      &fsm->nsessions,
	                   &fsm->locks,    &fsm->ephemeral, &fsm->orphans};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = mdb_dbi_open(txn, names[i], MDB_CREATE, dbis[i]);
		if (rc != 0)
			return fsm__lmdb(fsm, rc, names[i]);
	}
	return 0;
}

/* The first tree: only the root, with fixed attributes and times 0, so
 * that every node starts from the same bytes before the first entry. */
static int init_tree(struct fsm *fsm, MDB_txn *txn)
{
	struct fsm__inode root = {
	        .a = {.ino = FSM_ROOT_INO, .mode = S_IFDIR | 0755, .nlink = 2, .version = 1},
	        .parent = FSM_ROOT_INO,
	        .next_seq = FSM__FIRST_SEQ,
	};
	MDB_stat st;
	int rc = mdb_stat(txn, fsm->inodes, &st);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "stat inodes");
	if (st.ms_entries != 0) {
		snprintf(fsm->errmsg, sizeof(fsm->errmsg), "inodes present but no %s",
		         FSM__KEY_FORMAT);
		return QFS_ECORRUPT;
	}
	rc = fsm__inode_put(fsm, txn, &root);
	if (rc == 0)
		rc = fsm__meta_put64(fsm, txn, FSM__KEY_NEXTINO, FSM_ROOT_INO + 1);
	if (rc == 0)
		rc = fsm__meta_put64(fsm, txn, FSM__KEY_APPLIED, 0);
	if (rc == 0)
		rc = fsm__meta_put64(fsm, txn, FSM__KEY_BYTES, 0);
	if (rc == 0)
		rc = fsm__meta_put64(fsm, txn, FSM__KEY_FORMAT, FSM_FORMAT_VERSION);
	return rc;
}

/*
 * Format 1 -> 2, inside fsm_open's transaction, so a crash leaves either
 * the old tree or the converted one: each inode record gains rdev (0) and
 * blocks; a regular file's one contents value becomes blocks; each stored
 * session result gains the two new attribute fields (0). Sizes, fsm.bytes,
 * versions and times stay: the converted tree is byte for byte the one a
 * format-2 build would have made from the same log (a test holds it to
 * that).
 */
static int convert_v1(struct fsm *fsm, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, err = 0;

	rc = mdb_cursor_open(txn, fsm->inodes, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor inodes");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint8_t rec[FSM__INODE_REC_SIZE] = {0};
		struct fsm__inode in;
		MDB_val r = fsm__val(rec, sizeof(rec)), d;
		uint8_t kb[8];

		if (k.mv_size != 8 || v.mv_size != FSM__INODE_REC_SIZE_V1) {
			snprintf(fsm->errmsg, sizeof(fsm->errmsg), "format 1 inode record");
			err = QFS_ECORRUPT;
			break;
		}
		memcpy(rec, v.mv_data, FSM__INODE_REC_SIZE_V1); /* rdev, blocks: 0 */
		err = fsm__inode_decode(fsm__get64(k.mv_data), &r, &in);
		if (err != 0)
			break;
		memcpy(kb, k.mv_data, 8);
		if (S_ISREG(in.a.mode)) {
			uint8_t *copy = NULL;
			MDB_val dk = fsm__val(kb, 8);
			int grc = mdb_get(txn, fsm->data, &dk, &d);
			if (grc == 0) {
				if (d.mv_size != in.a.size) {
					snprintf(fsm->errmsg, sizeof(fsm->errmsg),
					         "format 1 inode %llu: %zu bytes, size %llu",
					         (unsigned long long)in.a.ino, d.mv_size,
					         (unsigned long long)in.a.size);
					err = QFS_ECORRUPT;
					break;
				}
				/* Copied first: the deletes and puts below may
				 * free the value's pages. */
				copy = malloc(d.mv_size);
				if (copy == NULL) {
					err = fsm__oom(fsm, "convert");
					break;
				}
				memcpy(copy, d.mv_data, d.mv_size);
				grc = mdb_del(txn, fsm->data, &dk, NULL);
				err = grc ? fsm__lmdb(fsm, grc, "del contents")
				          : fsm__blocks_write(fsm, txn, &in, 0, copy, in.a.size);
				free(copy);
				if (err != 0)
					break;
			} else if (!fsm__notfound(grc)) {
				err = fsm__lmdb(fsm, grc, "get contents");
				break;
			}
		}
		fsm__inode_encode(&in, rec);
		k = fsm__val(kb, 8);
		err = fsm__lmdb(fsm, mdb_cursor_put(cur, &k, &r, MDB_CURRENT), "put inode");
		if (err != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (err != 0)
		return err;
	if (!fsm__notfound(rc))
		return fsm__lmdb(fsm, rc, "walk inodes");

	rc = mdb_cursor_open(txn, fsm->sessions, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor sessions");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint8_t rec[16 + FSM_RESULT_ENCODED_SIZE] = {0}, kb[9];
		MDB_val r = fsm__val(rec, sizeof(rec));
		if (k.mv_size < 1 || ((const uint8_t *)k.mv_data)[0] != FSM__SESS_CLIENT)
			continue; /* the (last used, client) index: "" values */
		if (k.mv_size != 9 || v.mv_size != 16 + FSM__RESULT_SIZE_V1) {
			snprintf(fsm->errmsg, sizeof(fsm->errmsg), "format 1 session record");
			err = QFS_ECORRUPT;
			break;
		}
		memcpy(rec, v.mv_data, v.mv_size); /* rdev, blocks of the result: 0 */
		memcpy(kb, k.mv_data, 9);
		k = fsm__val(kb, 9);
		err = fsm__lmdb(fsm, mdb_cursor_put(cur, &k, &r, MDB_CURRENT), "put session");
		if (err != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (err != 0)
		return err;
	if (!fsm__notfound(rc))
		return fsm__lmdb(fsm, rc, "walk sessions");
	return fsm__meta_put64(fsm, txn, FSM__KEY_FORMAT, FSM_FORMAT_VERSION);
}

int fsm_open(MDB_env *env, const struct fsm_options *opts, struct fsm **out)
{
	struct fsm *fsm = calloc(1, sizeof(*fsm));
	MDB_txn *txn;
	uint64_t format;
	int rc;

	if (fsm == NULL)
		return -ENOMEM;
	fsm->env = env;
	if (opts != NULL)
		fsm->opts = *opts;
	if (fsm->opts.max_value_size == 0)
		fsm->opts.max_value_size = FSM_DEFAULT_MAX_VALUE_SIZE;
	if (fsm->opts.session_expiry == 0)
		fsm->opts.session_expiry = FSM_DEFAULT_SESSION_EXPIRY;

	rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc != 0) {
		rc = fsm__lmdb(fsm, rc, "begin");
		free(fsm);
		return rc;
	}
	rc = open_dbs(fsm, txn);
	if (rc == 0)
		rc = fsm__meta_get64(fsm, txn, FSM__KEY_FORMAT, &format, 0);
	if (rc == 0 && format == 0)
		rc = init_tree(fsm, txn);
	else if (rc == 0 && format == 1)
		rc = convert_v1(fsm, txn);
	else if (rc == 0 && format != FSM_FORMAT_VERSION) {
		snprintf(fsm->errmsg, sizeof(fsm->errmsg),
		         "tree format %llu; this build reads formats 1 and %d",
		         (unsigned long long)format, FSM_FORMAT_VERSION);
		rc = QFS_EFORMAT;
	}
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		rc = rc ? fsm__lmdb(fsm, rc, "commit") : 0;
	} else {
		mdb_txn_abort(txn);
	}
	if (rc != 0) {
		free(fsm);
		return rc;
	}
	*out = fsm;
	return 0;
}

void fsm_close(struct fsm *fsm)
{
	free(fsm);
}

const char *fsm_errmsg(const struct fsm *fsm)
{
	return fsm->errmsg;
}
