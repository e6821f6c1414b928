/* coord.c: node sessions, locks and ephemeral files: the apply of commands 20..24 and their queries. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"
#include "quorumfs/fsm_coord.h"

/*
 * Records (docs/storage-format.md, "Coordination"):
 *   node_sessions: node(8) -> session(8) keepalive_index(8) lease_ms(4)
 *                  nonce(8) time_ns(8)
 *   locks:         ino(8) node(8) owner(8) kind(1) start(8)
 *                  -> end(8) type(1) pid(4) fh(8) token(8)
 *   ephemeral:     node(8) ino(8) -> session(8)
 * kind is 1 for flock, 0 for fcntl/OFD: the two never conflict (Linux keeps
 * them apart too). Locks of one inode are adjacent, so a conflict check
 * reads only that inode's.
 */
#define SESS_REC   36
#define LOCK_KEY   33
#define LOCK_REC   29
#define EPH_KEY    16
#define KIND_FLOCK 1

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

static void lock_key(uint8_t k[LOCK_KEY], const struct fsm_lock *l)
{
	fsm__put64(k, l->ino);
	fsm__put64(k + 8, l->node);
	fsm__put64(k + 16, l->owner);
	k[24] = (l->flags & WIRE_LOCK_FLOCK) ? KIND_FLOCK : 0;
	fsm__put64(k + 25, l->start);
}

static int lock_decode(const MDB_val *k, const MDB_val *v, struct fsm_lock *l)
{
	const uint8_t *kp = k->mv_data, *vp = v->mv_data;
	if (k->mv_size != LOCK_KEY || v->mv_size != LOCK_REC)
		return QFS_ECORRUPT;
	l->ino = fsm__get64(kp);
	l->node = fsm__get64(kp + 8);
	l->owner = fsm__get64(kp + 16);
	l->start = fsm__get64(kp + 25);
	l->end = fsm__get64(vp);
	l->flags = (vp[8] & WIRE_LOCK_TYPE) | (kp[24] == KIND_FLOCK ? WIRE_LOCK_FLOCK : 0);
	l->pid = fsm__get32(vp + 9);
	l->fh = fsm__get64(vp + 13);
	l->token = fsm__get64(vp + 21);
	return 0;
}

static int lock_put(struct fsm *fsm, MDB_txn *txn, const struct fsm_lock *l)
{
	uint8_t kb[LOCK_KEY], vb[LOCK_REC];
	lock_key(kb, l);
	fsm__put64(vb, l->end);
	vb[8] = (uint8_t)(l->flags & WIRE_LOCK_TYPE);
	fsm__put32(vb + 9, l->pid);
	fsm__put64(vb + 13, l->fh);
	fsm__put64(vb + 21, l->token);
	MDB_val k = fsm__val(kb, sizeof(kb)), v = fsm__val(vb, sizeof(vb));
	int rc = mdb_put(txn, fsm->locks, &k, &v, 0);
	return rc ? fsm__lmdb(fsm, rc, "put lock") : 0;
}

static int lock_del(struct fsm *fsm, MDB_txn *txn, const struct fsm_lock *l)
{
	uint8_t kb[LOCK_KEY];
	lock_key(kb, l);
	MDB_val k = fsm__val(kb, sizeof(kb));
	int rc = mdb_del(txn, fsm->locks, &k, NULL);
	return rc ? fsm__lmdb(fsm, rc, "del lock") : 0;
}

static void sess_decode(uint64_t node, const MDB_val *v, struct fsm_node_session *s)
{
	const uint8_t *p = v->mv_data;
	s->node = node;
	s->session = fsm__get64(p);
	s->keepalive_index = fsm__get64(p + 8);
	s->lease_ms = fsm__get32(p + 16);
	s->nonce = fsm__get64(p + 20);
	s->time_ns = (int64_t)fsm__get64(p + 28);
}

/* 0 and *@s, ENOENT (positive: no session), or a storage error. */
static int sess_get(struct fsm *fsm, MDB_txn *txn, uint64_t node, struct fsm_node_session *s)
{
	uint8_t kb[8];
	fsm__put64(kb, node);
	MDB_val k = fsm__val(kb, 8), v;
	int rc = mdb_get(txn, fsm->nsessions, &k, &v);
	if (fsm__notfound(rc))
		return ENOENT;
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "get node session");
	if (v.mv_size != SESS_REC)
		return QFS_ECORRUPT;
	sess_decode(node, &v, s);
	return 0;
}

static int sess_put(struct fsm *fsm, MDB_txn *txn, const struct fsm_node_session *s)
{
	uint8_t kb[8], vb[SESS_REC];
	fsm__put64(kb, s->node);
	fsm__put64(vb, s->session);
	fsm__put64(vb + 8, s->keepalive_index);
	fsm__put32(vb + 16, s->lease_ms);
	fsm__put64(vb + 20, s->nonce);
	fsm__put64(vb + 28, (uint64_t)s->time_ns);
	MDB_val k = fsm__val(kb, 8), v = fsm__val(vb, SESS_REC);
	int rc = mdb_put(txn, fsm->nsessions, &k, &v, 0);
	return rc ? fsm__lmdb(fsm, rc, "put node session") : 0;
}

/* Is @session the current session of @node? 0 yes, ENOLCK no. */
static int sess_current(struct fsm *fsm, MDB_txn *txn, uint64_t node, uint64_t session)
{
	struct fsm_node_session s;
	int rc = sess_get(fsm, txn, node, &s);
	if (rc < 0)
		return rc;
	return rc == 0 && s.session == session && session != 0 ? 0 : ENOLCK;
}

/* ------------------------------------------------------------------------ */
/* Walking an inode's locks                                                 */

/* Calls @fn for each lock of @ino; @fn returns 0 to go on, 1 to stop, or
 * an error. Copies each record out, so @fn may write (not to this db). */
typedef int (*lock_fn)(void *arg, const struct fsm_lock *l);

static int each_lock(struct fsm *fsm, MDB_txn *txn, uint64_t ino, lock_fn fn, void *arg)
{
	uint8_t kb[8];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_SET_RANGE;

	fsm__put64(kb, ino);
	k = fsm__val(kb, 8);
	rc = mdb_cursor_open(txn, fsm->locks, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "locks cursor");
	for (;;) {
		struct fsm_lock l;
		rc = mdb_cursor_get(cur, &k, &v, op);
		op = MDB_NEXT;
		if (fsm__notfound(rc)) {
			rc = 0;
			break;
		}
		if (rc != 0) {
			rc = fsm__lmdb(fsm, rc, "locks cursor");
			break;
		}
		if (k.mv_size < 8 || fsm__get64(k.mv_data) != ino)
			break;
		rc = lock_decode(&k, &v, &l);
		if (rc == 0)
			rc = fn(arg, &l);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 1 ? 0 : rc;
}

static int overlaps(const struct fsm_lock *a, const struct fsm_lock *b)
{
	return a->start <= b->end && b->start <= a->end;
}

static int same_kind(const struct fsm_lock *a, const struct fsm_lock *b)
{
	return (a->flags & WIRE_LOCK_FLOCK) == (b->flags & WIRE_LOCK_FLOCK);
}

/* Does @held stand in the way of @want? The same owner never conflicts
 * with itself: its new lock replaces what it held in the range. */
static int conflicts(const struct fsm_lock *want, const struct fsm_lock *held)
{
	if (held->node == want->node && held->owner == want->owner)
		return 0;
	if (!same_kind(want, held) || !overlaps(want, held))
		return 0;
	return (want->flags & WIRE_LOCK_TYPE) == WIRE_LOCK_WRITE ||
	       (held->flags & WIRE_LOCK_TYPE) == WIRE_LOCK_WRITE;
}

struct test_ctx {
	const struct fsm_lock *want;
	struct fsm_lock *holder;
	int found;
};

static int test_one(void *arg, const struct fsm_lock *l)
{
	struct test_ctx *t = arg;
	if (!conflicts(t->want, l))
		return 0;
	*t->holder = *l;
	t->found = 1;
	return 1;
}

/* A bounded list of locks, collected before the writes that change them. */
struct lock_list {
	struct fsm_lock *v;
	size_t n, cap;
	struct fsm *fsm;
};

static int list_add(struct lock_list *ls, const struct fsm_lock *l)
{
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 16;
		struct fsm_lock *v = realloc(ls->v, cap * sizeof(*v));
		if (v == NULL)
			return fsm__oom(ls->fsm, "lock list");
		ls->v = v;
		ls->cap = cap;
	}
	ls->v[ls->n++] = *l;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* LOCK                                                                     */

struct mine_ctx {
	const struct fsm_lock *want;
	struct lock_list *ls;
};

static int collect_mine(void *arg, const struct fsm_lock *l)
{
	struct mine_ctx *m = arg;
	if (l->node != m->want->node || l->owner != m->want->owner || !same_kind(l, m->want) ||
	    !overlaps(l, m->want))
		return 0;
	return list_add(m->ls, l);
}

/* POSIX: a lock (or an unlock) by an owner replaces what the owner held in
 * its range; the parts of older locks outside it stay, with their tokens. */
static int replace_range(struct fsm *fsm, MDB_txn *txn, const struct fsm_lock *want)
{
	struct lock_list ls = {.fsm = fsm};
	struct mine_ctx m = {want, &ls};
	int rc = each_lock(fsm, txn, want->ino, collect_mine, &m);

	for (size_t i = 0; rc == 0 && i < ls.n; i++) {
		struct fsm_lock old = ls.v[i], piece = ls.v[i];
		rc = lock_del(fsm, txn, &old);
		if (rc == 0 && old.start < want->start) {
			piece.end = want->start - 1;
			rc = lock_put(fsm, txn, &piece);
		}
		if (rc == 0 && old.end > want->end) {
			piece = old;
			piece.start = want->end + 1;
			rc = lock_put(fsm, txn, &piece);
		}
	}
	free(ls.v);
	return rc;
}

static int apply_lock(struct fsm *fsm, MDB_txn *txn, uint64_t index, const struct wire_cmd *c,
                      struct fsm_result *res)
{
	struct fsm_lock want = {
	        .ino = c->ino,
	        .node = c->co.node,
	        .owner = c->co.owner,
	        .fh = c->co.fh,
	        .start = c->co.start,
	        .end = c->co.end,
	        .token = index,
	        .pid = c->co.pid,
	        .flags = c->flags,
	};
	uint32_t type = c->flags & WIRE_LOCK_TYPE;
	struct fsm__inode in;
	int rc;

	if (c->flags & WIRE_LOCK_FLOCK) {
		want.start = 0;
		want.end = WIRE_LOCK_END_MAX;
	}
	if (type == WIRE_LOCK_TYPE || want.start > want.end || want.end > WIRE_LOCK_END_MAX ||
	    c->co.node == 0)
		return EINVAL;
	if (type != WIRE_LOCK_UNLOCK) {
		struct fsm_lock holder;
		struct test_ctx t = {&want, &holder, 0};
		rc = sess_current(fsm, txn, c->co.node, c->co.session);
		if (rc != 0)
			return rc;
		rc = fsm__inode_get(fsm, txn, c->ino, &in);
		if (rc != 0)
			return rc;
		rc = each_lock(fsm, txn, c->ino, test_one, &t);
		if (rc != 0)
			return rc;
		if (t.found)
			return EAGAIN;
	}
	/* An unlock needs no session: whatever of it is still held goes. */
	rc = replace_range(fsm, txn, &want);
	if (rc == 0 && type != WIRE_LOCK_UNLOCK)
		rc = lock_put(fsm, txn, &want);
	if (rc != 0)
		return rc;
	res->attr.ino = c->ino;
	res->offset = type != WIRE_LOCK_UNLOCK ? index : 0;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* UNLOCK_HANDLE                                                            */

struct handle_ctx {
	const struct wire_cmd *c;
	struct lock_list *ls;
};

static int collect_handle(void *arg, const struct fsm_lock *l)
{
	struct handle_ctx *h = arg;
	if (l->node != h->c->co.node)
		return 0;
	if (l->fh == h->c->co.fh ||
	    (h->c->co.owner != 0 && l->owner == h->c->co.owner && (l->flags & WIRE_LOCK_FLOCK)))
		return list_add(h->ls, l);
	return 0;
}

static int apply_unlock_handle(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                               struct fsm_result *res)
{
	struct lock_list ls = {.fsm = fsm};
	struct handle_ctx h = {c, &ls};
	int rc = each_lock(fsm, txn, c->ino, collect_handle, &h);
	for (size_t i = 0; rc == 0 && i < ls.n; i++)
		rc = lock_del(fsm, txn, &ls.v[i]);
	free(ls.v);
	if (rc != 0)
		return rc;
	res->attr.ino = c->ino;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Ending a session                                                         */

/* Removes every lock of @node: the whole locks database is read, which is
 * small (locks held now, not files). Collected first, then deleted. */
static int drop_node_locks(struct fsm *fsm, MDB_txn *txn, uint64_t node)
{
	struct lock_list ls = {.fsm = fsm};
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, fsm->locks, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "locks cursor");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct fsm_lock l;
		rc = lock_decode(&k, &v, &l);
		if (rc == 0 && l.node == node)
			rc = list_add(&ls, &l);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (fsm__notfound(rc))
		rc = 0;
	else if (rc > 0)
		rc = fsm__lmdb(fsm, rc, "locks cursor");
	for (size_t i = 0; rc == 0 && i < ls.n; i++)
		rc = lock_del(fsm, txn, &ls.v[i]);
	free(ls.v);
	return rc;
}

struct name_ref {
	uint64_t parent;
	size_t len;
	char name[FSM_NAME_MAX];
};

static int has_ino(const uint64_t *inos, size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (inos[i] == ino)
			return 1;
	return 0;
}

/* The names of the inodes in @inos, found by one pass over the directory
 * entries (there is no inode -> name index; a session ends rarely). */
static int find_names(struct fsm *fsm, MDB_txn *txn, const uint64_t *inos, size_t n_inos,
                      struct name_ref **out, size_t *n_out)
{
	struct name_ref *v = NULL;
	size_t n = 0, cap = 0;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = mdb_cursor_open(txn, fsm->dirents, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "dirents cursor");
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *kp = k.mv_data;
		if (k.mv_size < 10 || k.mv_size > 9 + FSM_NAME_MAX || kp[8] != FSM__DIRENT_NAME ||
		    d.mv_size < 8 || !has_ino(inos, n_inos, fsm__get64(d.mv_data)))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct name_ref *nv = realloc(v, nc * sizeof(*nv));
			if (nv == NULL) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		v[n].parent = fsm__get64(kp);
		v[n].len = k.mv_size - 9;
		memcpy(v[n].name, kp + 9, v[n].len);
		n++;
	}
	mdb_cursor_close(cur);
	if (rc == -ENOMEM) {
		free(v);
		return fsm__oom(fsm, "ephemeral names");
	}
	if (!fsm__notfound(rc)) {
		free(v);
		return fsm__lmdb(fsm, rc, "dirents cursor");
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* Removes the ephemeral files of @node: each name of each, as UNLINK would,
 * at @c's time. *@removed counts the names removed. */
static int drop_node_ephemeral(struct fsm *fsm, MDB_txn *txn, uint64_t node,
                               const struct wire_cmd *c, uint64_t *removed)
{
	uint64_t *inos = NULL;
	size_t n = 0, cap = 0, n_names = 0;
	struct name_ref *names = NULL;
	uint8_t kb[8];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	fsm__put64(kb, node);
	k = fsm__val(kb, 8);
	rc = mdb_cursor_open(txn, fsm->ephemeral, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "ephemeral cursor");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == EPH_KEY && fsm__get64(k.mv_data) == node;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			uint64_t *ni = realloc(inos, nc * sizeof(*ni));
			if (ni == NULL) {
				rc = -ENOMEM;
				break;
			}
			inos = ni;
			cap = nc;
		}
		inos[n++] = fsm__get64((uint8_t *)k.mv_data + 8);
	}
	mdb_cursor_close(cur);
	if (rc == -ENOMEM) {
		free(inos);
		return fsm__oom(fsm, "ephemeral list");
	}
	rc = rc == 0 || fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "ephemeral cursor");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint8_t ek[EPH_KEY];
		fsm__put64(ek, node);
		fsm__put64(ek + 8, inos[i]);
		MDB_val dk = fsm__val(ek, sizeof(ek));
		rc = mdb_del(txn, fsm->ephemeral, &dk, NULL);
		rc = rc ? fsm__lmdb(fsm, rc, "del ephemeral") : 0;
	}
	if (rc == 0 && n)
		rc = find_names(fsm, txn, inos, n, &names, &n_names);
	for (size_t i = 0; rc == 0 && i < n_names; i++) {
		struct wire_cmd u = {
		        .type = WIRE_CMD_UNLINK,
		        .time_ns = c->time_ns,
		        .parent = names[i].parent,
		        .name = names[i].name,
		        .name_len = names[i].len,
		};
		struct fsm_result ur = {0};
		rc = fsm__apply_unlink(fsm, txn, &u, &ur);
		if (rc > 0)
			rc = 0; /* gone meanwhile: nothing to remove */
		else if (rc == 0)
			(*removed)++;
	}
	free(names);
	free(inos);
	return rc;
}

int fsm__unlink_names(struct fsm *fsm, MDB_txn *txn, uint64_t ino, const struct wire_cmd *c,
                      uint64_t *removed)
{
	struct name_ref *names = NULL;
	size_t n_names = 0;
	int rc = find_names(fsm, txn, &ino, 1, &names, &n_names);
	for (size_t i = 0; rc == 0 && i < n_names; i++) {
		struct wire_cmd u = {.type = WIRE_CMD_UNLINK,
		                     .time_ns = c->time_ns,
		                     .parent = names[i].parent,
		                     .name = names[i].name,
		                     .name_len = names[i].len};
		struct fsm_result ur = {0};
		rc = fsm__apply_unlink(fsm, txn, &u, &ur);
		if (rc > 0)
			rc = 0;
		else if (rc == 0)
			(*removed)++;
	}
	free(names);
	return rc;
}

/* Releases everything @node's session held, at this one index. */
static int end_session(struct fsm *fsm, MDB_txn *txn, uint64_t node, const struct wire_cmd *c,
                       struct fsm_result *res)
{
	int rc = drop_node_locks(fsm, txn, node);
	if (rc == 0)
		rc = drop_node_ephemeral(fsm, txn, node, c, &res->attr.size);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* SESSION_KEEPALIVE, SESSION_EXPIRE, EPHEMERAL                              */

static int apply_keepalive(struct fsm *fsm, MDB_txn *txn, uint64_t index,
                           const struct wire_cmd *c, struct fsm_result *res)
{
	struct fsm_node_session s;
	int rc;

	if (c->co.node == 0)
		return EINVAL;
	rc = sess_get(fsm, txn, c->co.node, &s);
	if (rc < 0)
		return rc;
	if (c->co.session == 0) {
		/* A node opens a session when it starts: whatever its former
		 * session held was its former life's, and ends now. */
		if (rc == 0 && (rc = end_session(fsm, txn, c->co.node, c, res)) != 0)
			return rc;
		s.node = c->co.node;
		s.session = index;
	} else if (rc != 0 || s.session != c->co.session) {
		return ESTALE;
	}
	s.keepalive_index = index;
	s.lease_ms = c->mode;
	s.nonce = c->offset;
	s.time_ns = c->time_ns;
	rc = sess_put(fsm, txn, &s);
	if (rc == 0)
		res->offset = s.session;
	return rc;
}

static int apply_expire(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                        struct fsm_result *res)
{
	struct fsm_node_session s;
	int rc = sess_get(fsm, txn, c->co.node, &s);
	if (rc < 0)
		return rc;
	/* Only the session, and the keepalive, that the leader saw lapse: a
	 * keepalive applied since (or a new session) wins the race. */
	if (rc != 0 || s.session != c->co.session || s.keepalive_index != c->offset)
		return ESTALE;
	rc = end_session(fsm, txn, c->co.node, c, res);
	if (rc == 0) {
		uint8_t kb[8];
		fsm__put64(kb, c->co.node);
		MDB_val k = fsm__val(kb, 8);
		rc = mdb_del(txn, fsm->nsessions, &k, NULL);
		rc = rc ? fsm__lmdb(fsm, rc, "del node session") : 0;
	}
	return rc;
}

static int apply_ephemeral(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                           struct fsm_result *res)
{
	struct fsm__inode in;
	uint8_t kb[EPH_KEY], vb[8];
	int rc = sess_current(fsm, txn, c->co.node, c->co.session);
	if (rc != 0)
		return rc;
	rc = fsm__inode_get(fsm, txn, c->ino, &in);
	if (rc != 0)
		return rc;
	if (!S_ISREG(in.a.mode))
		return EINVAL;
	fsm__put64(kb, c->co.node);
	fsm__put64(kb + 8, c->ino);
	fsm__put64(vb, c->co.session);
	MDB_val k = fsm__val(kb, sizeof(kb)), v = fsm__val(vb, 8);
	rc = mdb_put(txn, fsm->ephemeral, &k, &v, 0);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "put ephemeral");
	res->attr = in.a;
	return 0;
}

int fsm__apply_coord(struct fsm *fsm, MDB_txn *txn, uint64_t index, const struct wire_cmd *c,
                     struct fsm_result *res)
{
	switch (c->type) {
	case WIRE_CMD_SESSION_KEEPALIVE:
		return apply_keepalive(fsm, txn, index, c, res);
	case WIRE_CMD_SESSION_EXPIRE:
		return apply_expire(fsm, txn, c, res);
	case WIRE_CMD_LOCK:
		return apply_lock(fsm, txn, index, c, res);
	case WIRE_CMD_UNLOCK_HANDLE:
		return apply_unlock_handle(fsm, txn, c, res);
	case WIRE_CMD_EPHEMERAL:
		return apply_ephemeral(fsm, txn, c, res);
	default:
		return EINVAL;
	}
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */

int fsm_lock_test(struct fsm *fsm, MDB_txn *txn, const struct fsm_lock *want,
                  struct fsm_lock *holder)
{
	struct fsm_lock w = *want;
	struct test_ctx t = {&w, holder, 0};
	MDB_txn *rt;
	int rc;

	if (w.flags & WIRE_LOCK_FLOCK) {
		w.start = 0;
		w.end = WIRE_LOCK_END_MAX;
	}
	rc = fsm__read_txn(fsm, txn, &rt);
	if (rc != 0)
		return rc;
	rc = each_lock(fsm, rt, w.ino, test_one, &t);
	fsm__read_done(txn, rt);
	if (rc != 0)
		return rc;
	return t.found ? 0 : -ENOENT;
}

struct newest_ctx {
	uint64_t node;
	struct fsm_lock *out;
	int found;
};

static int newest_one(void *arg, const struct fsm_lock *l)
{
	struct newest_ctx *t = arg;
	if (t->node != 0 && l->node != t->node)
		return 0;
	if (!t->found || l->token > t->out->token) {
		*t->out = *l;
		t->found = 1;
	}
	return 0;
}

int fsm_lock_newest(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t node,
                    struct fsm_lock *out)
{
	struct newest_ctx t = {node, out, 0};
	MDB_txn *rt;
	int rc = fsm__read_txn(fsm, txn, &rt);
	if (rc != 0)
		return rc;
	rc = each_lock(fsm, rt, ino, newest_one, &t);
	fsm__read_done(txn, rt);
	if (rc != 0)
		return rc;
	return t.found ? 0 : -ENODATA;
}

int fsm_sessions(struct fsm *fsm, MDB_txn *txn, fsm_session_cb cb, void *arg)
{
	MDB_txn *rt;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = fsm__read_txn(fsm, txn, &rt);
	if (rc != 0)
		return rc;
	rc = mdb_cursor_open(rt, fsm->nsessions, &cur);
	if (rc != 0) {
		fsm__read_done(txn, rt);
		return fsm__lmdb(fsm, rc, "node sessions cursor");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct fsm_node_session s;
		if (k.mv_size != 8 || v.mv_size != SESS_REC) {
			rc = QFS_ECORRUPT;
			break;
		}
		sess_decode(fsm__get64(k.mv_data), &v, &s);
		if (cb(arg, &s) != 0) {
			rc = 0; /* the callback stopped the walk */
			break;
		}
	}
	mdb_cursor_close(cur);
	fsm__read_done(txn, rt);
	if (rc == 0 || fsm__notfound(rc))
		return 0;
	return rc == QFS_ECORRUPT ? rc : fsm__lmdb(fsm, rc, "node sessions cursor");
}

int fsm_ephemeral_node(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t *node)
{
	MDB_txn *rt;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = fsm__read_txn(fsm, txn, &rt);
	if (rc != 0)
		return rc;
	rc = mdb_cursor_open(rt, fsm->ephemeral, &cur);
	if (rc != 0) {
		fsm__read_done(txn, rt);
		return fsm__lmdb(fsm, rc, "ephemeral cursor");
	}
	/* Keyed by node first: a node's files go together when it ends. The
	 * table holds only marked files, so reading it whole is cheap. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size == EPH_KEY && fsm__get64((uint8_t *)k.mv_data + 8) == ino) {
			*node = fsm__get64(k.mv_data);
			break;
		}
	}
	mdb_cursor_close(cur);
	fsm__read_done(txn, rt);
	if (rc == 0)
		return 0;
	return fsm__notfound(rc) ? -ENODATA : fsm__lmdb(fsm, rc, "ephemeral cursor");
}
