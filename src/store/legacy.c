/* legacy.c: converts a format-1 directory (Raft log and hard state in LMDB) to the write-ahead log. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "internal.h"
#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"
#include "wal.h"

/*
 * Format 1 kept each entry in the "log" database: key the 8-byte big-endian
 * index, value term u64 | len u32 | type u8 | 3 zero bytes | crc32c u32 |
 * data, the crc over key, the first 16 bytes and the data; the hard state
 * and the log's base in sealed "meta" records. Read here once, checked as
 * format 1 checked them, and written to the log; then the old records go
 * and the format becomes 2 in one durable LMDB commit. A crash before that
 * commit leaves format 1 and a half-made log directory, which the next open
 * removes and makes again: the conversion is redone, never half-trusted.
 */

#define V1_HDR   20
#define V1_CHUNK 4096 /* entries per read transaction and per append */

static int v1_decode(struct store *s, const MDB_val *k, const MDB_val *v, struct store_entry *e)
{
	const unsigned char *p = v->mv_data;
	if (k->mv_size != 8 || v->mv_size < V1_HDR)
		return store__fail(s, QFS_ECORRUPT, "format-1 log: a record of bad size");
	uint64_t index = get_be64(k->mv_data);
	uint32_t len = get_be32(p + 8);
	uint32_t crc = qfs_crc32c(qfs_crc32c(0, k->mv_data, 8), p, 16);
	if ((size_t)len != v->mv_size - V1_HDR || p[13] || p[14] || p[15] ||
	    qfs_crc32c(crc, p + V1_HDR, len) != get_be32(p + 16))
		return store__fail(s, QFS_ECORRUPT,
		                   "format-1 log entry %" PRIu64 ": bad header or checksum", index);
	*e = (struct store_entry){
	        .index = index, .term = get_be64(p), .type = p[12], .data = p + V1_HDR, .len = len};
	return 0;
}

struct v1_read {
	struct store *s;
	uint64_t from; /* next index to read */
	bool head;     /* first call: hard state and base too */
	struct store_hard_state hs;
	uint64_t base, base_term;
	struct store_entry e[V1_CHUNK];
	unsigned char *copy; /* the chunk's data, copied out */
	size_t n;
};

static int v1_read_cb(MDB_txn *txn, void *arg)
{
	struct v1_read *r = arg;
	struct store *s = r->s;
	unsigned char rec[28], key[8];
	MDB_cursor *c;
	MDB_val k = {8, key}, v;
	int rc, mrc;

	if (r->head) {
		rc = store__get_sealed(s, txn, KEY_HARD_STATE, rec, 28);
		if (rc == 0)
			r->hs = (struct store_hard_state){get_be64(rec), get_be64(rec + 8),
			                                  get_be64(rec + 16)};
		else if (rc != -ENOENT)
			return rc;
		rc = store__get_sealed(s, txn, KEY_LOG_BASE, rec, 20);
		if (rc == 0) {
			r->base = get_be64(rec);
			r->base_term = get_be64(rec + 8);
		} else if (rc != -ENOENT) {
			return rc;
		}
		r->from = r->base + 1;
	}
	free(r->copy);
	r->copy = NULL;
	r->n = 0;
	mrc = mdb_cursor_open(txn, s->log, &c);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "format-1 log cursor");
	size_t total = 0;
	put_be64(key, r->from);
	MDB_cursor_op op = MDB_SET_KEY;
	rc = 0;
	while (r->n < V1_CHUNK && (mrc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		rc = v1_decode(s, &k, &v, &r->e[r->n]);
		if (rc == 0 && r->e[r->n].index != r->from + r->n)
			rc = store__fail(s, QFS_ECORRUPT, "format-1 log: entry %" PRIu64 " missing",
			                 r->from + r->n);
		if (rc != 0)
			break;
		total += r->e[r->n].len;
		r->n++;
	}
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = store__mdb_fail(s, mrc, "format-1 log read");
	if (rc == 0 && r->n == 0 && r->head) {
		/* An empty log, or one that does not start after its base. */
		mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		if (mrc == 0)
			rc = store__fail(s, QFS_ECORRUPT, "format-1 log does not start after its base");
	}
	if (rc == 0 && (r->copy = malloc(total + 1)) == NULL)
		rc = -ENOMEM;
	for (size_t i = 0, off = 0; rc == 0 && i < r->n; i++) {
		memcpy(r->copy + off, r->e[i].data, r->e[i].len);
		r->e[i].data = r->copy + off;
		off += r->e[i].len;
	}
	mdb_cursor_close(c);
	return rc;
}

static int v1_finish_cb(MDB_txn *txn, void *arg)
{
	struct store *s = arg;
	unsigned char fmt[4];
	int mrc = mdb_drop(txn, s->log, 1);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "drop the format-1 log");
	MDB_val k1 = {strlen(KEY_HARD_STATE), KEY_HARD_STATE}, k2 = {strlen(KEY_LOG_BASE),
	                                                              KEY_LOG_BASE};
	mrc = mdb_del(txn, s->meta, &k1, NULL);
	if (mrc == 0 || mrc == MDB_NOTFOUND)
		mrc = mdb_del(txn, s->meta, &k2, NULL);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return store__mdb_fail(s, mrc, "drop the format-1 records");
	put_be32(fmt, STORE_FORMAT);
	return store__put_raw(s, txn, KEY_FORMAT, fmt, sizeof(fmt));
}

int store__convert_v1(struct store *s)
{
	struct v1_read *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return -ENOMEM;
	r->s = s;
	r->head = true;
	rc = store_read(s, v1_read_cb, r);
	if (rc == 0 && r->base > 0)
		rc = store_log_reset(s, r->base, r->base_term);
	if (rc == 0)
		rc = store_append_flags(s, NULL, 0, &r->hs, STORE_LOG_NO_SYNC);
	r->head = false;
	while (rc == 0 && r->n > 0) {
		rc = store_append_flags(s, r->e, r->n, NULL, STORE_LOG_NO_SYNC);
		r->from += r->n;
		if (rc == 0)
			rc = store_read(s, v1_read_cb, r);
	}
	free(r->copy);
	free(r);
	if (rc == 0)
		rc = store_log_sync(s);
	if (rc == 0)
		rc = store_write(s, v1_finish_cb, s);
	return rc;
}
