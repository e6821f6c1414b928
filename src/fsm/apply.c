/* apply.c: fsm_apply: one log entry -> session check, command, "applied", in the caller's txn. */
#include <errno.h>
#include <stdio.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

typedef int (*apply_fn)(struct fsm *, MDB_txn *, const struct wire_cmd *, struct fsm_result *);

static const apply_fn apply_fns[WIRE_CMD_TYPE_MAX + 1] = {
        [WIRE_CMD_CREATE] = fsm__apply_create,
        [WIRE_CMD_WRITE] = fsm__apply_write,
        [WIRE_CMD_APPEND] = fsm__apply_append,
        [WIRE_CMD_SETATTR] = fsm__apply_setattr,
        [WIRE_CMD_MKDIR] = fsm__apply_mkdir,
        [WIRE_CMD_UNLINK] = fsm__apply_unlink,
        [WIRE_CMD_RMDIR] = fsm__apply_rmdir,
        [WIRE_CMD_RENAME] = fsm__apply_rename,
        [WIRE_CMD_SYMLINK] = fsm__apply_symlink,
        [WIRE_CMD_LINK] = fsm__apply_link,
        [WIRE_CMD_SETXATTR] = fsm__apply_setxattr,
        [WIRE_CMD_REMOVEXATTR] = fsm__apply_removexattr,
        [WIRE_CMD_WRITEV] = fsm__apply_writev,
        [WIRE_CMD_MKNOD] = fsm__apply_mknod,
        [WIRE_CMD_ORPHAN_RELEASE] = fsm__apply_orphan_release,
        [WIRE_CMD_CREATE_WRITEV] = fsm__apply_create_writev,
};

/* What every index does first: refuse to go backwards, then expire sessions. */
static int enter(struct fsm *fsm, MDB_txn *txn, uint64_t index)
{
	uint64_t applied;
	int rc = fsm__meta_get64(fsm, txn, FSM__KEY_APPLIED, &applied, 0);
	if (rc != 0)
		return rc;
	if (index <= applied) {
		snprintf(fsm->errmsg, sizeof(fsm->errmsg),
		         "entry %llu refused: %llu already applied", (unsigned long long)index,
		         (unsigned long long)applied);
		return QFS_ESTALE;
	}
	return fsm__session_expire(fsm, txn, index);
}

static int run(struct fsm *fsm, MDB_txn *txn, uint64_t index, const struct wire_cmd *c,
               struct fsm_result *res)
{
	int done, rc;

	rc = fsm__session_check(fsm, txn, index, c, res, &done);
	if (rc != 0 || done)
		return rc;
	if (c->type >= WIRE_CMD_COORD_MIN && c->type <= WIRE_CMD_COORD_MAX)
		rc = fsm__apply_coord(fsm, txn, index, c, res);
	else if (c->type == WIRE_CMD_PUT_IF)
		rc = fsm__apply_put_if(fsm, txn, c, res);
	else if (c->type == WIRE_CMD_TTL_EXPIRE)
		rc = fsm__apply_ttl_expire(fsm, txn, c, res);
	else
		rc = apply_fns[c->type](fsm, txn, c, res);
	if (rc < 0)
		return rc;
	if (rc > 0) {
		/* The command failed as a command; it wrote nothing (see
		 * fsm_internal.h) and its outcome is remembered like any. */
		memset(res, 0, sizeof(*res));
		res->err = -rc;
	}
	return fsm__session_store(fsm, txn, index, c, res);
}

int fsm_apply(struct fsm *fsm, MDB_txn *txn, uint64_t index, const void *cmd, size_t len,
              struct fsm_result *res)
{
	struct wire_cmd c;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = enter(fsm, txn, index);
	if (rc != 0)
		return rc;
	if (wire_cmd_decode(cmd, len, &c) != 0) {
		/* Committed but meaningless: every node fails it the same way
		 * and moves on, rather than stopping the cluster on it. */
		res->err = QFS_EPROTO;
	} else {
		fsm->index = index;
		rc = run(fsm, txn, index, &c, res);
		fsm->index = 0;
		if (rc != 0)
			return rc;
	}
	return fsm__meta_put64(fsm, txn, FSM__KEY_APPLIED, index);
}

int fsm_apply_conf(struct fsm *fsm, MDB_txn *txn, uint64_t index, const uint64_t *ids, size_t n)
{
	int rc = enter(fsm, txn, index);
	if (rc == 0)
		rc = fsm__orphans_conf(fsm, txn, ids, n);
	if (rc != 0)
		return rc;
	return fsm__meta_put64(fsm, txn, FSM__KEY_APPLIED, index);
}

int fsm_apply_noop(struct fsm *fsm, MDB_txn *txn, uint64_t index)
{
	int rc = enter(fsm, txn, index);
	if (rc != 0)
		return rc;
	return fsm__meta_put64(fsm, txn, FSM__KEY_APPLIED, index);
}
