/* log.c: the "log" database: Raft entries under 8-byte big-endian indexes, checksummed. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "internal.h"
#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"

/*
 * Value: term u64 | len u32 | type u8 | 3 zero bytes | crc32c u32 | data.
 * The crc covers the 8-byte key, the 16 header bytes before it, and the data,
 * so an entry cut short, flipped, or stored under the wrong index fails.
 */
static uint32_t entry_crc(const unsigned char key[8], const unsigned char *hdr, const void *data,
                          size_t len)
{
	uint32_t crc = qfs_crc32c(0, key, 8);
	crc = qfs_crc32c(crc, hdr, 16);
	return qfs_crc32c(crc, data, len);
}

/* Checks the entry at @k/@v and points @e into it (valid while the txn is). */
static int decode(struct store *s, const MDB_val *k, const MDB_val *v, struct store_entry *e)
{
	const unsigned char *p = v->mv_data;
	uint64_t index;
	uint32_t len;

	if (k->mv_size != 8)
		return store__fail(s, QFS_ECORRUPT, "log key of %zu bytes", k->mv_size);
	index = get_be64(k->mv_data);
	if (v->mv_size < LOG_HDR)
		return store__fail(s, QFS_ECORRUPT, "log entry %" PRIu64 ": %zu bytes, short",
		                   index, v->mv_size);
	len = get_be32(p + 8);
	if ((size_t)len != v->mv_size - LOG_HDR || p[13] || p[14] || p[15])
		return store__fail(s, QFS_ECORRUPT, "log entry %" PRIu64 ": bad header", index);
	if (entry_crc(k->mv_data, p, p + LOG_HDR, len) != get_be32(p + 16))
		return store__fail(s, QFS_ECORRUPT, "log entry %" PRIu64 ": checksum mismatch",
		                   index);
	e->index = index;
	e->term = get_be64(p);
	e->type = p[12];
	e->data = p + LOG_HDR;
	e->len = len;
	return 0;
}

int store_txn_log_bounds(struct store *s, MDB_txn *txn, uint64_t *first, uint64_t *last)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t base, base_term, lo, hi;
	int mrc, rc;

	rc = store__log_base(s, txn, &base, &base_term);
	if (rc != 0)
		return rc;
	mrc = mdb_cursor_open(txn, s->log, &c);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "log cursor");
	mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	if (mrc == MDB_NOTFOUND) {
		mdb_cursor_close(c);
		*first = base + 1;
		*last = base;
		return 0;
	}
	if (mrc != 0 || k.mv_size != 8)
		goto fail;
	lo = get_be64(k.mv_data);
	mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (mrc != 0 || k.mv_size != 8)
		goto fail;
	hi = get_be64(k.mv_data);
	mdb_cursor_close(c);
	/* Compaction and reset move the base in the same transaction as they
	 * delete, so the log always starts right after it. */
	if (lo != base + 1)
		return store__fail(s, QFS_ECORRUPT, "log starts at %" PRIu64 ", base is %" PRIu64,
		                   lo, base);
	*first = lo;
	*last = hi;
	return 0;
fail:
	mdb_cursor_close(c);
	if (mrc == 0)
		return store__fail(s, QFS_ECORRUPT, "log key of %zu bytes", k.mv_size);
	return store__mdb_fail(s, mrc, "log bounds");
}

int store_txn_log_term(struct store *s, MDB_txn *txn, uint64_t index, uint64_t *term)
{
	unsigned char key[8];
	MDB_val k = {8, key}, v;
	struct store_entry e;
	uint64_t base, base_term;
	int mrc, rc;

	rc = store__log_base(s, txn, &base, &base_term);
	if (rc != 0)
		return rc;
	if (index == base) {
		*term = base_term;
		return 0;
	}
	if (index < base)
		return QFS_ESTALE;
	put_be64(key, index);
	mrc = mdb_get(txn, s->log, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return -ENOENT;
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "log get");
	rc = decode(s, &k, &v, &e);
	if (rc == 0)
		*term = e.term;
	return rc;
}

/* Deletes entries >= @from, from the end back, so the cursor never has to
 * step past an entry it just deleted. */
static int delete_suffix(struct store *s, MDB_txn *txn, uint64_t from)
{
	MDB_cursor *c;
	MDB_val k, v;
	int mrc;

	mrc = mdb_cursor_open(txn, s->log, &c);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "log cursor");
	while ((mrc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0) {
		if (k.mv_size != 8) {
			mdb_cursor_close(c);
			return store__fail(s, QFS_ECORRUPT, "log key of %zu bytes", k.mv_size);
		}
		if (get_be64(k.mv_data) < from)
			break;
		mrc = mdb_cursor_del(c, 0);
		if (mrc != 0)
			break;
	}
	mdb_cursor_close(c);
	return mrc == MDB_NOTFOUND ? 0 : store__mdb_fail(s, mrc, "log truncate");
}

int store_txn_log_truncate_suffix(struct store *s, MDB_txn *txn, uint64_t from)
{
	uint64_t base, base_term;
	int rc = store__log_base(s, txn, &base, &base_term);

	if (rc != 0)
		return rc;
	if (from <= base)
		return store__fail(s, -EINVAL,
		                   "truncate from %" PRIu64 ", at or below the base %" PRIu64, from,
		                   base);
	return delete_suffix(s, txn, from);
}

int store_txn_log_reset(struct store *s, MDB_txn *txn, uint64_t index, uint64_t term)
{
	int mrc = mdb_drop(txn, s->log, 0);

	if (mrc != 0)
		return store__mdb_fail(s, mrc, "log reset");
	return store__log_base_put(s, txn, index, term);
}

static int check_batch(struct store *s, const struct store_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].len > STORE_ENTRY_MAX)
			return store__fail(s, -EFBIG, "entry %" PRIu64 " of %zu bytes", e[i].index,
			                   e[i].len);
		if (i == 0)
			continue;
		if (e[i].index != e[i - 1].index + 1 || e[i].term < e[i - 1].term)
			return store__fail(s, -EINVAL,
			                   "entry %" PRIu64 " (term %" PRIu64
			                   ") does not follow %" PRIu64 " (term %" PRIu64 ")",
			                   e[i].index, e[i].term, e[i - 1].index, e[i - 1].term);
	}
	return e[0].index == 0 ? store__fail(s, -EINVAL, "entry index 0") : 0;
}

int store_txn_log_append(struct store *s, MDB_txn *txn, const struct store_entry *e, size_t n)
{
	uint64_t first, last, prev_term;
	unsigned char key[8], *p;
	MDB_cursor *c;
	MDB_val k = {8, key}, v;
	int mrc = 0, rc;

	if (n == 0)
		return 0;
	rc = check_batch(s, e, n);
	if (rc == 0)
		rc = store_txn_log_bounds(s, txn, &first, &last);
	if (rc != 0)
		return rc;
	if (e[0].index < first || e[0].index > last + 1)
		return store__fail(s, -EINVAL,
		                   "append at %" PRIu64 " outside the log [%" PRIu64 ", %" PRIu64
		                   "+1]",
		                   e[0].index, first, last);
	if (e[0].index <= last) {
		rc = delete_suffix(s, txn, e[0].index);
		if (rc != 0)
			return rc;
	}
	rc = store_txn_log_term(s, txn, e[0].index - 1, &prev_term);
	if (rc != 0)
		return rc;
	if (e[0].term < prev_term)
		return store__fail(s, -EINVAL, "entry %" PRIu64 " has term %" PRIu64 " < %" PRIu64,
		                   e[0].index, e[0].term, prev_term);

	mrc = mdb_cursor_open(txn, s->log, &c);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "log cursor");
	for (size_t i = 0; i < n && mrc == 0; i++) {
		put_be64(key, e[i].index);
		v.mv_size = LOG_HDR + e[i].len;
		v.mv_data = NULL;
		/* Keys only grow: MDB_APPEND skips the search and fills pages
		 * completely; MDB_RESERVE lets us build the value in place. */
		mrc = mdb_cursor_put(c, &k, &v, MDB_APPEND | MDB_RESERVE);
		if (mrc != 0)
			break;
		p = v.mv_data;
		put_be64(p, e[i].term);
		put_be32(p + 8, (uint32_t)e[i].len);
		p[12] = e[i].type;
		p[13] = p[14] = p[15] = 0;
		if (e[i].len > 0)
			memcpy(p + LOG_HDR, e[i].data, e[i].len);
		put_be32(p + 16, entry_crc(key, p, p + LOG_HDR, e[i].len));
	}
	mdb_cursor_close(c);
	return store__mdb_fail(s, mrc, "log append");
}

struct append_arg {
	struct store *s;
	const struct store_entry *e;
	size_t n;
	const struct store_hard_state *hs;
};

static int append_cb(MDB_txn *txn, void *arg)
{
	struct append_arg *a = arg;
	int rc = store_txn_log_append(a->s, txn, a->e, a->n);

	if (rc == 0 && a->hs != NULL)
		rc = store_txn_hard_state_put(a->s, txn, a->hs);
	return rc;
}

int store_append(struct store *s, const struct store_entry *e, size_t n,
                 const struct store_hard_state *hs)
{
	struct append_arg a = {s, e, n, hs};
	return store_write(s, append_cb, &a);
}

struct bounds_arg {
	struct store *s;
	uint64_t a, b;
	uint64_t *out;
};

static int bounds_cb(MDB_txn *txn, void *arg)
{
	struct bounds_arg *a = arg;
	return store_txn_log_bounds(a->s, txn, &a->a, &a->b);
}

int store_log_bounds(struct store *s, uint64_t *first, uint64_t *last)
{
	struct bounds_arg a = {s, 0, 0, NULL};
	int rc = store_read(s, bounds_cb, &a);

	if (rc == 0) {
		*first = a.a;
		*last = a.b;
	}
	return rc;
}

static int term_cb(MDB_txn *txn, void *arg)
{
	struct bounds_arg *a = arg;
	return store_txn_log_term(a->s, txn, a->a, a->out);
}

int store_log_term(struct store *s, uint64_t index, uint64_t *term)
{
	struct bounds_arg a = {s, index, 0, term};
	return store_read(s, term_cb, &a);
}

struct get_arg {
	struct store *s;
	uint64_t from, to;
	size_t max_bytes;
	struct store_entry *out;
	size_t n;
};

static int get_cb(MDB_txn *txn, void *arg)
{
	struct get_arg *g = arg;
	struct store_entry *tmp = NULL, *res;
	uint64_t base, base_term, want;
	size_t n = 0, cap = 0, total = 0;
	unsigned char key[8], *data;
	MDB_cursor *c;
	MDB_val k = {8, key}, v;
	MDB_cursor_op op = MDB_SET_KEY;
	int mrc, rc;

	rc = store__log_base(g->s, txn, &base, &base_term);
	if (rc != 0)
		return rc;
	if (g->from <= base)
		return QFS_ESTALE;
	mrc = mdb_cursor_open(txn, g->s->log, &c);
	if (mrc != 0)
		return store__mdb_fail(g->s, mrc, "log cursor");
	put_be64(key, g->from);
	for (want = g->from; want <= g->to; want++, op = MDB_NEXT) {
		struct store_entry e;
		mrc = mdb_cursor_get(c, &k, &v, op);
		if (mrc == MDB_NOTFOUND && want > g->from)
			break; /* past the last index: @to is clamped */
		if (mrc == MDB_NOTFOUND) {
			rc = -ENOENT;
			break;
		}
		if (mrc != 0) {
			rc = store__mdb_fail(g->s, mrc, "log get");
			break;
		}
		rc = decode(g->s, &k, &v, &e);
		if (rc == 0 && e.index != want)
			rc = store__fail(g->s, QFS_ECORRUPT, "log entry %" PRIu64 " missing", want);
		if (rc != 0)
			break;
		if (n > 0 && (e.len > g->max_bytes || total > g->max_bytes - e.len))
			break;
		if (n == cap) {
			struct store_entry *t;
			cap = cap ? cap * 2 : 16;
			t = realloc(tmp, cap * sizeof(*tmp));
			if (t == NULL) {
				rc = -ENOMEM;
				break;
			}
			tmp = t;
		}
		tmp[n++] = e;
		total += e.len;
	}
	mdb_cursor_close(c);
	if (rc != 0) {
		free(tmp);
		return rc;
	}
	/* One allocation holds the array and the data behind it, so the
	 * caller frees everything with one free(). */
	res = malloc(n * sizeof(*res) + total + 1);
	if (res == NULL) {
		free(tmp);
		return -ENOMEM;
	}
	data = (unsigned char *)(res + n);
	for (size_t i = 0; i < n; i++) {
		res[i] = tmp[i];
		if (tmp[i].len > 0)
			memcpy(data, tmp[i].data, tmp[i].len);
		res[i].data = data;
		data += tmp[i].len;
	}
	free(tmp);
	g->out = res;
	g->n = n;
	return 0;
}

int store_log_get(struct store *s, uint64_t from, uint64_t to, size_t max_bytes,
                  struct store_entry **out, size_t *n)
{
	struct get_arg g = {s, from, to, max_bytes, NULL, 0};
	int rc;

	if (from == 0 || from > to)
		return store__fail(s, -EINVAL, "log get [%" PRIu64 ", %" PRIu64 "]", from, to);
	rc = store_read(s, get_cb, &g);
	if (rc == 0) {
		*out = g.out;
		*n = g.n;
	}
	return rc;
}

struct trunc_arg {
	struct store *s;
	uint64_t from;
};

static int trunc_cb(MDB_txn *txn, void *arg)
{
	struct trunc_arg *a = arg;
	return store_txn_log_truncate_suffix(a->s, txn, a->from);
}

int store_log_truncate_suffix(struct store *s, uint64_t from)
{
	struct trunc_arg a = {s, from};
	return store_write(s, trunc_cb, &a);
}

struct compact_arg {
	struct store *s;
	uint64_t upto;
	bool done;
};

/* One batch: deletes from the first entry up to @upto or the batch size,
 * moving the base along, in the same transaction. Re-runnable. */
static int compact_cb(MDB_txn *txn, void *arg)
{
	struct compact_arg *a = arg;
	struct store *s = a->s;
	uint64_t first, last, end, end_term;
	MDB_cursor *c;
	MDB_val k, v;
	int mrc, rc;

	a->done = false;
	rc = store_txn_log_bounds(s, txn, &first, &last);
	if (rc != 0)
		return rc;
	if (a->upto < first) {
		a->done = true;
		return 0;
	}
	if (a->upto > last)
		return store__fail(s, -EINVAL,
		                   "compact to %" PRIu64 ", past the last index %" PRIu64, a->upto,
		                   last);
	end = a->upto - first < s->compact_batch ? a->upto : first + s->compact_batch - 1;
	rc = store_txn_log_term(s, txn, end, &end_term);
	if (rc != 0)
		return rc;
	mrc = mdb_cursor_open(txn, s->log, &c);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "log cursor");
	while ((mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
		if (k.mv_size != 8 || get_be64(k.mv_data) > end)
			break;
		mrc = mdb_cursor_del(c, 0);
		if (mrc != 0)
			break;
	}
	mdb_cursor_close(c);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return store__mdb_fail(s, mrc, "log compact");
	rc = store__log_base_put(s, txn, end, end_term);
	a->done = end == a->upto;
	return rc;
}

int store_log_compact(struct store *s, uint64_t upto)
{
	struct compact_arg a = {s, upto, false};
	int rc;

	do
		rc = store_write(s, compact_cb, &a);
	while (rc == 0 && !a.done);
	return rc;
}
