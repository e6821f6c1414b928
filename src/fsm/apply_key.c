/* apply_key.c: PUT_IF, the conditional put of quorumctl: a CREATE that holds only at one version. */
#include <errno.h>
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
