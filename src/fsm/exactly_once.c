/* exactly_once.c: exactly-once sessions: each client's last serial and result, and their expiry. */
#include <errno.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

#define SESS_REC_SIZE (16 + FSM_RESULT_ENCODED_SIZE) /* serial, last used, result */

void fsm_result_encode(const struct fsm_result *res, uint8_t out[FSM_RESULT_ENCODED_SIZE])
{
	const struct fsm_attr *a = &res->attr;
	fsm__put32(out + 0, (uint32_t)res->err);
	fsm__put64(out + 4, a->ino);
	fsm__put32(out + 12, a->mode);
	fsm__put32(out + 16, a->uid);
	fsm__put32(out + 20, a->gid);
	fsm__put32(out + 24, a->nlink);
	fsm__put64(out + 28, a->size);
	fsm__put64(out + 36, (uint64_t)a->atime_ns);
	fsm__put64(out + 44, (uint64_t)a->mtime_ns);
	fsm__put64(out + 52, (uint64_t)a->ctime_ns);
	fsm__put64(out + 60, a->version);
	fsm__put64(out + 68, res->offset);
	fsm__put64(out + 76, a->rdev);
	fsm__put64(out + 84, a->blocks);
}

int fsm_result_decode(const uint8_t *p, size_t len, struct fsm_result *res)
{
	struct fsm_attr *a = &res->attr;
	if (len != FSM_RESULT_ENCODED_SIZE)
		return QFS_ECORRUPT;
	res->err = (int)(int32_t)fsm__get32(p + 0);
	res->duplicate = false;
	a->ino = fsm__get64(p + 4);
	a->mode = fsm__get32(p + 12);
	a->uid = fsm__get32(p + 16);
	a->gid = fsm__get32(p + 20);
	a->nlink = fsm__get32(p + 24);
	a->size = fsm__get64(p + 28);
	a->atime_ns = (int64_t)fsm__get64(p + 36);
	a->mtime_ns = (int64_t)fsm__get64(p + 44);
	a->ctime_ns = (int64_t)fsm__get64(p + 52);
	a->version = fsm__get64(p + 60);
	res->offset = fsm__get64(p + 68);
	a->rdev = fsm__get64(p + 76);
	a->blocks = fsm__get64(p + 84);
	return 0;
}

static void client_key(uint8_t kb[9], uint64_t client)
{
	kb[0] = FSM__SESS_CLIENT;
	fsm__put64(kb + 1, client);
}

static void used_key(uint8_t kb[17], uint64_t used, uint64_t client)
{
	kb[0] = FSM__SESS_USED;
	fsm__put64(kb + 1, used);
	fsm__put64(kb + 9, client);
}

/*
 * Forgets the sessions last used more than session_expiry indexes before
 * @index. The (last used, client) keys keep sessions in the order of their
 * last use, so this visits only what expires: each index touches at most
 * one session, so on average at most one expires per index. It runs at
 * every index (commands and no-ops alike), and what it removes depends on
 * @index and the tree alone: the same on every node.
 */
int fsm__session_expire(struct fsm *fsm, MDB_txn *txn, uint64_t index)
{
	uint64_t horizon;
	uint8_t kb[17], ck[9];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, corrupt = 0;

	if (index <= fsm->opts.session_expiry)
		return 0;
	horizon = index - fsm->opts.session_expiry; /* expire when last used < horizon */
	rc = mdb_cursor_open(txn, fsm->sessions, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor sessions");
	for (;;) {
		used_key(kb, 0, 0);
		k = fsm__val(kb, 1);
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0)
			break;
		if (((uint8_t *)k.mv_data)[0] != FSM__SESS_USED) {
			rc = 0; /* past the last session: done */
			break;
		}
		if (k.mv_size != 17) {
			corrupt = 1;
			break;
		}
		if (fsm__get64((uint8_t *)k.mv_data + 1) >= horizon) {
			rc = 0; /* the rest was used since the horizon */
			break;
		}
		client_key(ck, fsm__get64((uint8_t *)k.mv_data + 9));
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
		k = fsm__val(ck, sizeof(ck));
		rc = mdb_del(txn, fsm->sessions, &k, NULL);
		if (rc != 0 && !fsm__notfound(rc))
			break;
	}
	mdb_cursor_close(cur);
	if (corrupt)
		return QFS_ECORRUPT;
	return fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "expire sessions");
}

struct sess {
	uint64_t serial;
	uint64_t used;
	struct fsm_result res;
};

static int sess_get(struct fsm *fsm, MDB_txn *txn, uint64_t client, struct sess *s, int *found)
{
	uint8_t kb[9];
	MDB_val k = fsm__val(kb, sizeof(kb)), v;
	int rc;

	client_key(kb, client);
	rc = mdb_get(txn, fsm->sessions, &k, &v);
	*found = rc == 0;
	if (fsm__notfound(rc))
		return 0;
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "get session");
	if (v.mv_size != SESS_REC_SIZE)
		return QFS_ECORRUPT;
	s->serial = fsm__get64(v.mv_data);
	s->used = fsm__get64((uint8_t *)v.mv_data + 8);
	return fsm_result_decode((uint8_t *)v.mv_data + 16, FSM_RESULT_ENCODED_SIZE, &s->res);
}

/* Writes the session of @client as (serial, used at @index, @res), moving
 * its entry in the expiry order. */
static int sess_put(struct fsm *fsm, MDB_txn *txn, uint64_t client, uint64_t index, uint64_t serial,
                    const struct fsm_result *res)
{
	uint8_t kb[17], vb[SESS_REC_SIZE];
	MDB_val k, v;
	struct sess old;
	int found, rc;

	rc = sess_get(fsm, txn, client, &old, &found);
	if (rc != 0)
		return rc;
	if (found) {
		used_key(kb, old.used, client);
		k = fsm__val(kb, 17);
		rc = mdb_del(txn, fsm->sessions, &k, NULL);
		if (rc != 0 && !fsm__notfound(rc))
			return fsm__lmdb(fsm, rc, "del session order");
	}
	used_key(kb, index, client);
	k = fsm__val(kb, 17);
	v = fsm__val("", 0);
	rc = mdb_put(txn, fsm->sessions, &k, &v, 0);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "put session order");

	client_key(kb, client);
	k = fsm__val(kb, 9);
	fsm__put64(vb, serial);
	fsm__put64(vb + 8, index);
	fsm_result_encode(res, vb + 16);
	v = fsm__val(vb, sizeof(vb));
	rc = mdb_put(txn, fsm->sessions, &k, &v, 0);
	return rc ? fsm__lmdb(fsm, rc, "put session") : 0;
}

/*
 * Decides whether @c runs. *@done = 1 when it must not: its serial is the
 * session's last (@res := the stored result, duplicate) or older (@res->err
 * := QFS_ESTALE: that result is no longer kept). Either way the session
 * counts as used at @index, which keeps a retrying client's session alive.
 */
int fsm__session_check(struct fsm *fsm, MDB_txn *txn, uint64_t index, const struct wire_cmd *c,
                       struct fsm_result *res, int *done)
{
	struct sess s;
	int found, rc;

	*done = 0;
	if (c->client_id == 0)
		return 0;
	rc = sess_get(fsm, txn, c->client_id, &s, &found);
	if (rc != 0 || !found || c->serial > s.serial)
		return rc;
	*done = 1;
	if (c->serial == s.serial) {
		*res = s.res;
		res->duplicate = true;
	} else {
		memset(res, 0, sizeof(*res));
		res->err = QFS_ESTALE;
	}
	return sess_put(fsm, txn, c->client_id, index, s.serial, &s.res);
}

int fsm_session_get(struct fsm *fsm, MDB_txn *given, uint64_t client, uint64_t *serial,
                    struct fsm_result *res, bool *found)
{
	MDB_txn *txn;
	struct sess s;
	int have = 0;
	int rc = fsm__read_txn(fsm, given, &txn);
	if (rc != 0)
		return rc;
	rc = sess_get(fsm, txn, client, &s, &have);
	fsm__read_done(given, txn);
	*found = rc == 0 && have;
	if (*found) {
		*serial = s.serial;
		*res = s.res;
	}
	return rc;
}

int fsm__session_store(struct fsm *fsm, MDB_txn *txn, uint64_t index, const struct wire_cmd *c,
                       const struct fsm_result *res)
{
	if (c->client_id == 0)
		return 0;
	return sess_put(fsm, txn, c->client_id, index, c->serial, res);
}
