/* open.c: fsm_open and fsm_close: the tree's databases, the format check, the first root. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

static int open_dbs(struct fsm *fsm, MDB_txn *txn)
{
	/* node_sessions, locks and ephemeral came after format 1 was fixed:
	 * created here when absent, empty, which is their first state. */
	static const char *const names[] = {"inodes",   "dirents",       "data",
	                                    "sessions", "meta",          "node_sessions",
	                                    "locks",    "ephemeral"};
	MDB_dbi *dbis[] = {&fsm->inodes,   &fsm->dirents, &fsm->data,
	                   &fsm->sessions, &fsm->meta,    &fsm->nsessions,
	                   &fsm->locks,    &fsm->ephemeral};
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
	else if (rc == 0 && format != FSM_FORMAT_VERSION)
		rc = QFS_EFORMAT;
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
