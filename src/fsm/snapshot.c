/* snapshot.c: streams a consistent read transaction of the tree as self-checking chunks. */
#include <errno.h>
#include <stdlib.h>

#include "fsm_internal.h"
#include "quorumfs/crc32c.h"
#include "snapshot.h"

struct seg {
	const uint8_t *p;
	size_t n;
};

struct fsm_snapshot {
	struct fsm *fsm;
	MDB_txn *txn;
	int own_txn;
	MDB_cursor *cur;
	int db;         /* enum fsm__snap_db being walked; 0 before the first */
	int positioned; /* the cursor has a current item in @db */
	int trailer;    /* the trailer is built (it is the last thing sent) */
	uint64_t applied;
	uint64_t count;                 /* records so far */
	uint32_t crc;                   /* over every byte built so far */
	uint8_t head[FSM__SNAP_HEADER]; /* the header, a record header or the trailer */
	struct seg segs[3];             /* bytes built but not yet handed out */
	int nseg, iseg;
};

static MDB_dbi dbi_of(struct fsm *fsm, int db)
{
	switch (db) {
	case FSM__SNAP_INODES:
		return fsm->inodes;
	case FSM__SNAP_DIRENTS:
		return fsm->dirents;
	case FSM__SNAP_DATA:
		return fsm->data;
	case FSM__SNAP_SESSIONS:
		return fsm->sessions;
	case FSM__SNAP_ORPHANS:
		return fsm->orphans;
	case FSM__SNAP_NSESSIONS:
		return fsm->nsessions;
	case FSM__SNAP_LOCKS:
		return fsm->locks;
	case FSM__SNAP_EPHEMERAL:
		return fsm->ephemeral;
	default:
		return fsm->meta;
	}
}

/* Queues @n bytes at @p to be sent, counting them into the CRC now. */
static void queue(struct fsm_snapshot *s, const void *p, size_t n)
{
	s->segs[s->nseg].p = p;
	s->segs[s->nseg].n = n;
	s->nseg++;
	s->crc = qfs_crc32c(s->crc, p, n);
}

int fsm_snapshot_begin(struct fsm *fsm, MDB_txn *txn, struct fsm_snapshot **out, uint64_t *applied)
{
	struct fsm_snapshot *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return fsm__oom(fsm, "snapshot");
	s->fsm = fsm;
	s->own_txn = txn == NULL;
	rc = fsm__read_txn(fsm, txn, &s->txn);
	if (rc == 0)
		rc = fsm__meta_get64(fsm, s->txn, FSM__KEY_APPLIED, &s->applied, 0);
	if (rc != 0) {
		fsm_snapshot_end(s);
		return rc;
	}
	memcpy(s->head, FSM__SNAP_MAGIC, 8);
	fsm__put32(s->head + 8, FSM_FORMAT_VERSION);
	fsm__put32(s->head + 12, 0);
	fsm__put64(s->head + 16, s->applied);
	queue(s, s->head, FSM__SNAP_HEADER);
	if (applied != NULL)
		*applied = s->applied;
	*out = s;
	return 0;
}

static int is_fsm_meta(const MDB_val *k)
{
	size_t n = sizeof(FSM__META_PREFIX) - 1;
	return k->mv_size >= n && memcmp(k->mv_data, FSM__META_PREFIX, n) == 0;
}

/* Moves to the next key of the stream: *@found = 0 at the end of @s->db. */
static int step(struct fsm_snapshot *s, MDB_val *k, MDB_val *v, int *found)
{
	int rc;
	if (!s->positioned && s->db == FSM__SNAP_META) {
		*k = fsm__val(FSM__META_PREFIX, sizeof(FSM__META_PREFIX) - 1);
		rc = mdb_cursor_get(s->cur, k, v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(s->cur, k, v, s->positioned ? MDB_NEXT : MDB_FIRST);
	}
	s->positioned = 1;
	if (fsm__notfound(rc) || (rc == 0 && s->db == FSM__SNAP_META && !is_fsm_meta(k))) {
		*found = 0;
		return 0;
	}
	if (rc != 0)
		return fsm__lmdb(s->fsm, rc, "snapshot cursor");
	*found = 1;
	return 0;
}

/* Builds the next record, or the trailer after the last database. */
static int advance(struct fsm_snapshot *s)
{
	MDB_val k, v;
	int found = 0, rc;

	s->nseg = s->iseg = 0;
	while (!found) {
		if (s->cur == NULL) {
			int next = fsm__snap_next_db(s->db);
			if (next == 0) {
				s->head[0] = FSM__SNAP_END;
				fsm__put64(s->head + 1, s->count);
				queue(s, s->head, 9);
				fsm__put32(s->head + 9, s->crc);
				queue(s, s->head + 9, 4); /* its own CRC update is moot */
				s->trailer = 1;
				return 0;
			}
			s->db = next;
			s->positioned = 0;
			rc = mdb_cursor_open(s->txn, dbi_of(s->fsm, s->db), &s->cur);
			if (rc != 0) {
				s->cur = NULL;
				return fsm__lmdb(s->fsm, rc, "snapshot cursor");
			}
		}
		rc = step(s, &k, &v, &found);
		if (rc != 0)
			return rc;
		if (!found) {
			mdb_cursor_close(s->cur);
			s->cur = NULL;
		}
	}
	s->head[0] = (uint8_t)s->db;
	s->head[1] = (uint8_t)(k.mv_size >> 8);
	s->head[2] = (uint8_t)k.mv_size;
	fsm__put32(s->head + 3, (uint32_t)v.mv_size);
	queue(s, s->head, FSM__SNAP_REC_HEADER);
	queue(s, k.mv_data, k.mv_size); /* valid while the read txn is */
	queue(s, v.mv_data, v.mv_size);
	s->count++;
	return 0;
}

int fsm_snapshot_next_chunk(struct fsm_snapshot *s, void *buf, size_t cap, size_t *len, bool *done)
{
	uint8_t *out = buf;
	*len = 0;
	*done = false;
	while (*len < cap) {
		if (s->iseg == s->nseg) {
			int rc;
			if (s->trailer) {
				*done = true;
				return 0;
			}
			rc = advance(s);
			if (rc != 0)
				return rc;
			continue;
		}
		struct seg *g = &s->segs[s->iseg];
		size_t n = g->n < cap - *len ? g->n : cap - *len;
		if (n)
			memcpy(out + *len, g->p, n);
		*len += n;
		g->p += n;
		g->n -= n;
		if (g->n == 0)
			s->iseg++;
	}
	*done = s->trailer && s->iseg == s->nseg;
	return 0;
}

void fsm_snapshot_end(struct fsm_snapshot *s)
{
	if (s == NULL)
		return;
	if (s->cur != NULL)
		mdb_cursor_close(s->cur);
	if (s->own_txn && s->txn != NULL)
		mdb_txn_abort(s->txn);
	free(s);
}
