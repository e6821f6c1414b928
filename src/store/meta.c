/* meta.c: the "meta" database: snapshot metadata and the raw keys of the layers above. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"

#define KEY_MAX  400         /* well under LMDB's 511-byte key limit */
#define CONF_MAX (16u << 20) /* a membership blob is tiny; bound it anyway */

#define SNAP_HDR (2 * 8 + 4 + 4) /* index, term, conf_len, crc; then conf */

static uint32_t seal_crc(const char *key, const unsigned char *rec, size_t n)
{
	return qfs_crc32c(qfs_crc32c(0, key, strlen(key)), rec, n);
}

void store__seal(const char *key, unsigned char *rec, size_t len)
{
	put_be32(rec + len - 4, seal_crc(key, rec, len - 4));
}

bool store__sealed_ok(const char *key, const unsigned char *rec, size_t len)
{
	return len >= 4 && get_be32(rec + len - 4) == seal_crc(key, rec, len - 4);
}

static MDB_val key_val(const char *key)
{
	MDB_val k = {strlen(key), (void *)key};
	return k;
}

static int check_key(const char *key, bool writing)
{
	size_t n = key ? strlen(key) : 0;

	if (n == 0 || n > KEY_MAX)
		return -EINVAL;
	if (writing && strncmp(key, "store.", 6) == 0)
		return -EPERM;
	return 0;
}

int store__put_raw(struct store *s, MDB_txn *txn, const char *key, const void *val, size_t len)
{
	MDB_val k = key_val(key), v = {len, (void *)val};
	int mrc = mdb_put(txn, s->meta, &k, &v, 0);
	return store__mdb_fail(s, mrc, key);
}

int store__get_sealed(struct store *s, MDB_txn *txn, const char *key, unsigned char *out,
                      size_t len)
{
	MDB_val k = key_val(key), v;
	int mrc = mdb_get(txn, s->meta, &k, &v);

	if (mrc == MDB_NOTFOUND)
		return -ENOENT;
	if (mrc != 0)
		return store__mdb_fail(s, mrc, key);
	if (v.mv_size != len || !store__sealed_ok(key, v.mv_data, len))
		return store__fail(s, QFS_ECORRUPT, "meta %s: bad size or checksum", key);
	memcpy(out, v.mv_data, len);
	return 0;
}

/* ---- raw keys ---- */

int store_txn_meta_put(struct store *s, MDB_txn *txn, const char *key, const void *val, size_t len)
{
	int rc = check_key(key, true);

	if (rc != 0)
		return store__fail(s, rc, "meta put: key reserved, empty or too long");
	return store__put_raw(s, txn, key, val, len);
}

int store_txn_meta_get(struct store *s, MDB_txn *txn, const char *key, const void **val,
                       size_t *len)
{
	MDB_val k, v;
	int mrc, rc = check_key(key, false);

	if (rc != 0)
		return rc;
	k = key_val(key);
	mrc = mdb_get(txn, s->meta, &k, &v);
	if (mrc == MDB_NOTFOUND)
		return -ENOENT;
	if (mrc != 0)
		return store__mdb_fail(s, mrc, key);
	*val = v.mv_data;
	*len = v.mv_size;
	return 0;
}

int store_txn_meta_del(struct store *s, MDB_txn *txn, const char *key)
{
	MDB_val k;
	int mrc, rc = check_key(key, true);

	if (rc != 0)
		return rc;
	k = key_val(key);
	mrc = mdb_del(txn, s->meta, &k, NULL);
	if (mrc == MDB_NOTFOUND)
		return -ENOENT;
	return store__mdb_fail(s, mrc, key);
}

struct meta_get {
	struct store *s;
	const char *key;
	void *val;
	size_t len;
};

static int meta_get_cb(MDB_txn *txn, void *arg)
{
	struct meta_get *g = arg;
	const void *v;
	int rc = store_txn_meta_get(g->s, txn, g->key, &v, &g->len);

	if (rc != 0)
		return rc;
	g->val = malloc(g->len ? g->len : 1);
	if (g->val == NULL)
		return -ENOMEM;
	memcpy(g->val, v, g->len);
	return 0;
}

int store_meta_get(struct store *s, const char *key, void **val, size_t *len)
{
	struct meta_get g = {s, key, NULL, 0};
	int rc = store_read(s, meta_get_cb, &g);

	if (rc == 0) {
		*val = g.val;
		*len = g.len;
	}
	return rc;
}

struct meta_put {
	struct store *s;
	const char *key;
	const void *val;
	size_t len;
};

static int meta_put_cb(MDB_txn *txn, void *arg)
{
	struct meta_put *p = arg;
	return store_txn_meta_put(p->s, txn, p->key, p->val, p->len);
}

int store_meta_put(struct store *s, const char *key, const void *val, size_t len)
{
	struct meta_put p = {s, key, val, len};
	return store_write(s, meta_put_cb, &p);
}

/* ---- snapshot metadata ---- */

int store_txn_snapshot_meta_put(struct store *s, MDB_txn *txn, const struct store_snapshot_meta *sm)
{
	MDB_val k = key_val(KEY_SNAPSHOT), v;
	unsigned char *rec;
	uint32_t crc;
	int mrc;

	if (sm->conf_len > CONF_MAX)
		return store__fail(s, -EFBIG, "snapshot conf of %zu bytes", sm->conf_len);
	/* MDB_RESERVE: build the record in place, no bounce buffer. */
	v.mv_size = SNAP_HDR + sm->conf_len;
	v.mv_data = NULL;
	mrc = mdb_put(txn, s->meta, &k, &v, MDB_RESERVE);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, KEY_SNAPSHOT);
	rec = v.mv_data;
	put_be64(rec, sm->index);
	put_be64(rec + 8, sm->term);
	put_be32(rec + 16, (uint32_t)sm->conf_len);
	if (sm->conf_len > 0)
		memcpy(rec + SNAP_HDR, sm->conf, sm->conf_len);
	/* The checksum covers key, header and conf, and sits in the header. */
	crc = qfs_crc32c(0, KEY_SNAPSHOT, strlen(KEY_SNAPSHOT));
	crc = qfs_crc32c(crc, rec, 20);
	crc = qfs_crc32c(crc, rec + SNAP_HDR, sm->conf_len);
	put_be32(rec + 20, crc);
	return 0;
}

struct snap_arg {
	struct store *s;
	struct store_snapshot_meta *sm;
	const struct store_snapshot_meta *in;
};

static int snap_put_cb(MDB_txn *txn, void *arg)
{
	struct snap_arg *a = arg;
	return store_txn_snapshot_meta_put(a->s, txn, a->in);
}

int store_snapshot_meta_put(struct store *s, const struct store_snapshot_meta *sm)
{
	struct snap_arg a = {s, NULL, sm};
	return store_write(s, snap_put_cb, &a);
}

static int snap_get_cb(MDB_txn *txn, void *arg)
{
	struct snap_arg *a = arg;
	MDB_val k = key_val(KEY_SNAPSHOT), v;
	const unsigned char *rec;
	uint32_t crc, len;
	int mrc = mdb_get(txn, a->s->meta, &k, &v);

	if (mrc == MDB_NOTFOUND)
		return -ENOENT;
	if (mrc != 0)
		return store__mdb_fail(a->s, mrc, KEY_SNAPSHOT);
	rec = v.mv_data;
	if (v.mv_size < SNAP_HDR)
		goto corrupt;
	len = get_be32(rec + 16);
	if (v.mv_size != SNAP_HDR + (size_t)len)
		goto corrupt;
	crc = qfs_crc32c(0, KEY_SNAPSHOT, strlen(KEY_SNAPSHOT));
	crc = qfs_crc32c(crc, rec, 20);
	crc = qfs_crc32c(crc, rec + SNAP_HDR, len);
	if (crc != get_be32(rec + 20))
		goto corrupt;
	a->sm->index = get_be64(rec);
	a->sm->term = get_be64(rec + 8);
	a->sm->conf_len = len;
	a->sm->conf = NULL;
	if (len > 0) {
		a->sm->conf = malloc(len);
		if (a->sm->conf == NULL)
			return -ENOMEM;
		memcpy(a->sm->conf, rec + SNAP_HDR, len);
	}
	return 0;
corrupt:
	return store__fail(a->s, QFS_ECORRUPT, "meta %s: bad size or checksum", KEY_SNAPSHOT);
}

int store_snapshot_meta_get(struct store *s, struct store_snapshot_meta *out)
{
	struct store_snapshot_meta sm;
	struct snap_arg a = {s, &sm, NULL};
	int rc = store_read(s, snap_get_cb, &a);

	if (rc == 0)
		*out = sm;
	return rc;
}
