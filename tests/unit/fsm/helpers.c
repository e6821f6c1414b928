/* helpers.c: a throw-away LMDB environment with a tree, and one-line commands for the fsm tests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "quorumfs/crc32c.h"

void tenv_open(struct tenv *t, const struct fsm_options *opts, size_t mapsize)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/qfs-fsm-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(mdb_env_create(&t->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(t->env, 10), 0);
	assert_int_equal(mdb_env_set_mapsize(t->env, mapsize ? mapsize : (size_t)1 << 30), 0);
	/* No fsync: test speed only; the daemon never opens the env so. */
	assert_int_equal(mdb_env_open(t->env, t->dir, MDB_NOSYNC | MDB_NOMETASYNC, 0600), 0);
	assert_int_equal(fsm_open(t->env, opts, &t->fsm), 0);
	t->clock = 1000;
}

void tenv_close(struct tenv *t)
{
	char path[128];
	fsm_close(t->fsm);
	mdb_env_close(t->env);
	snprintf(path, sizeof(path), "%s/data.mdb", t->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", t->dir);
	unlink(path);
	rmdir(t->dir);
}

int tenv_apply(struct tenv *t, struct wire_cmd *c)
{
	size_t cap = wire_cmd_encoded_max(c), len;
	uint8_t *buf = malloc(cap);
	MDB_txn *txn;

	if (c->time_ns == 0)
		c->time_ns = t->clock += 1000;
	assert_int_equal(wire_cmd_encode(c, buf, cap, &len), 0);
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	assert_int_equal(fsm_apply(t->fsm, txn, ++t->index, buf, len, &t->res), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	free(buf);
	return t->res.err;
}

static const char *const db_names[] = {"inodes",        "dirents", "data",      "sessions", "meta",
                                       "node_sessions", "locks",   "ephemeral", "orphans"};

/* Calls @fn on every key/value of every tree database, in order. */
static void walk(struct tenv *t, void (*fn)(void *, int, const MDB_val *, const MDB_val *),
                 void *arg)
{
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(t->env, NULL, MDB_RDONLY, &txn), 0);
	for (int i = 0; i < (int)(sizeof(db_names) / sizeof(db_names[0])); i++) {
		MDB_dbi dbi;
		MDB_cursor *cur;
		MDB_val k, v;
		assert_int_equal(mdb_dbi_open(txn, db_names[i], 0, &dbi), 0);
		assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
		while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
			fn(arg, i, &k, &v);
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

static void digest_fn(void *arg, int db, const MDB_val *k, const MDB_val *v)
{
	uint32_t *crc = arg;
	if (db == 4 && k->mv_size == 11 && memcmp(k->mv_data, "fsm.applied", 11) == 0)
		return;
	uint8_t b = (uint8_t)db;
	uint64_t n[2] = {k->mv_size, v->mv_size};
	*crc = qfs_crc32c(*crc, &b, 1);
	*crc = qfs_crc32c(*crc, n, sizeof(n));
	*crc = qfs_crc32c(*crc, k->mv_data, k->mv_size);
	*crc = qfs_crc32c(*crc, v->mv_data, v->mv_size);
}

uint32_t tenv_digest(struct tenv *t)
{
	uint32_t crc = 0;
	walk(t, digest_fn, &crc);
	return crc;
}

/* Record-by-record comparison, so a failure names the first difference. */
struct dump {
	size_t n, cap;
	struct rec {
		int db;
		MDB_val k, v;
	} * r;
};

static void dump_fn(void *arg, int db, const MDB_val *k, const MDB_val *v)
{
	struct dump *d = arg;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 1024;
		d->r = realloc(d->r, d->cap * sizeof(*d->r));
	}
	d->r[d->n].db = db;
	d->r[d->n].k.mv_size = k->mv_size;
	d->r[d->n].k.mv_data = malloc(k->mv_size + 1);
	memcpy(d->r[d->n].k.mv_data, k->mv_data, k->mv_size);
	d->r[d->n].v.mv_size = v->mv_size;
	d->r[d->n].v.mv_data = malloc(v->mv_size + 1);
	memcpy(d->r[d->n].v.mv_data, v->mv_data, v->mv_size);
	d->n++;
}

static void dump_free(struct dump *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->r[i].k.mv_data);
		free(d->r[i].v.mv_data);
	}
	free(d->r);
}

void tenv_assert_same(struct tenv *a, struct tenv *b)
{
	struct dump da = {0}, db = {0};
	walk(a, dump_fn, &da);
	walk(b, dump_fn, &db);
	for (size_t i = 0; i < da.n && i < db.n; i++) {
		const struct rec *x = &da.r[i], *y = &db.r[i];
		if (x->db != y->db || x->k.mv_size != y->k.mv_size ||
		    x->v.mv_size != y->v.mv_size ||
		    memcmp(x->k.mv_data, y->k.mv_data, x->k.mv_size) != 0 ||
		    memcmp(x->v.mv_data, y->v.mv_data, x->v.mv_size) != 0)
			fail_msg("record %zu differs (db %s vs %s)", i, db_names[x->db],
			         db_names[y->db]);
	}
	assert_int_equal(da.n, db.n);
	dump_free(&da);
	dump_free(&db);
}

int t_create(struct tenv *t, uint64_t parent, const char *name, uint32_t flags, const char *data)
{
	struct wire_cmd c = {.type = WIRE_CMD_CREATE,
	                     .parent = parent,
	                     .name = name,
	                     .name_len = strlen(name),
	                     .mode = 0644,
	                     .flags = flags,
	                     .data = data,
	                     .data_len = data ? strlen(data) : 0,
	                     .uid = 1000,
	                     .gid = 100};
	return tenv_apply(t, &c);
}

int t_mkdir(struct tenv *t, uint64_t parent, const char *name)
{
	struct wire_cmd c = {.type = WIRE_CMD_MKDIR,
	                     .parent = parent,
	                     .name = name,
	                     .name_len = strlen(name),
	                     .mode = 0755,
	                     .uid = 1000,
	                     .gid = 100};
	return tenv_apply(t, &c);
}

int t_symlink(struct tenv *t, uint64_t parent, const char *name, const char *target)
{
	struct wire_cmd c = {.type = WIRE_CMD_SYMLINK,
	                     .parent = parent,
	                     .name = name,
	                     .name_len = strlen(name),
	                     .data = target,
	                     .data_len = strlen(target)};
	return tenv_apply(t, &c);
}

int t_link(struct tenv *t, uint64_t ino, uint64_t parent, const char *name)
{
	struct wire_cmd c = {.type = WIRE_CMD_LINK,
	                     .ino = ino,
	                     .parent = parent,
	                     .name = name,
	                     .name_len = strlen(name)};
	return tenv_apply(t, &c);
}

int t_unlink(struct tenv *t, uint64_t parent, const char *name)
{
	struct wire_cmd c = {
	        .type = WIRE_CMD_UNLINK, .parent = parent, .name = name, .name_len = strlen(name)};
	return tenv_apply(t, &c);
}

int t_rmdir(struct tenv *t, uint64_t parent, const char *name)
{
	struct wire_cmd c = {
	        .type = WIRE_CMD_RMDIR, .parent = parent, .name = name, .name_len = strlen(name)};
	return tenv_apply(t, &c);
}

int t_rename(struct tenv *t, uint64_t sp, const char *sn, uint64_t dp, const char *dn,
             uint32_t flags)
{
	struct wire_cmd c = {.type = WIRE_CMD_RENAME,
	                     .parent = sp,
	                     .name = sn,
	                     .name_len = strlen(sn),
	                     .new_parent = dp,
	                     .new_name = dn,
	                     .new_name_len = strlen(dn),
	                     .flags = flags};
	return tenv_apply(t, &c);
}

int t_write(struct tenv *t, uint64_t ino, uint64_t off, const char *data, uint32_t flags)
{
	struct wire_cmd c = {.type = WIRE_CMD_WRITE,
	                     .ino = ino,
	                     .offset = off,
	                     .data = data,
	                     .data_len = strlen(data),
	                     .flags = flags};
	return tenv_apply(t, &c);
}

int t_writev(struct tenv *t, uint64_t ino, uint32_t flags, uint64_t size,
             const struct wire_cmd_extent *ext, size_t n)
{
	struct wire_cmd c = {.type = WIRE_CMD_WRITEV,
	                     .ino = ino,
	                     .flags = flags,
	                     .size = size,
	                     .extents = ext,
	                     .n_extents = n};
	return tenv_apply(t, &c);
}

int t_mknod(struct tenv *t, uint64_t parent, const char *name, uint32_t mode, uint64_t rdev)
{
	struct wire_cmd c = {.type = WIRE_CMD_MKNOD,
	                     .parent = parent,
	                     .name = name,
	                     .name_len = strlen(name),
	                     .mode = mode,
	                     .rdev = rdev,
	                     .uid = 1000,
	                     .gid = 100};
	return tenv_apply(t, &c);
}

int t_conf(struct tenv *t, const uint64_t *ids, size_t n)
{
	MDB_txn *txn;
	int rc;
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	rc = fsm_apply_conf(t->fsm, txn, ++t->index, ids, n);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return rc;
}

int t_release(struct tenv *t, uint64_t node, const uint64_t *inos, size_t n)
{
	uint8_t buf[8 * 64];
	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 8; b++)
			buf[8 * i + b] = (uint8_t)(inos[i] >> (56 - 8 * b));
	struct wire_cmd c = {.type = WIRE_CMD_ORPHAN_RELEASE, .data = buf, .data_len = 8 * n};
	c.co.node = node;
	return tenv_apply(t, &c);
}

int t_append(struct tenv *t, uint64_t ino, const char *data)
{
	struct wire_cmd c = {
	        .type = WIRE_CMD_APPEND, .ino = ino, .data = data, .data_len = strlen(data)};
	return tenv_apply(t, &c);
}

int t_setattr(struct tenv *t, uint64_t ino, const struct wire_cmd_attr *a)
{
	struct wire_cmd c = {.type = WIRE_CMD_SETATTR, .ino = ino, .attr = *a};
	return tenv_apply(t, &c);
}

int t_setxattr(struct tenv *t, uint64_t ino, const char *name, const char *val, uint32_t flags)
{
	struct wire_cmd c = {.type = WIRE_CMD_SETXATTR,
	                     .ino = ino,
	                     .name = name,
	                     .name_len = strlen(name),
	                     .data = val,
	                     .data_len = strlen(val),
	                     .flags = flags};
	return tenv_apply(t, &c);
}

int t_removexattr(struct tenv *t, uint64_t ino, const char *name)
{
	struct wire_cmd c = {
	        .type = WIRE_CMD_REMOVEXATTR, .ino = ino, .name = name, .name_len = strlen(name)};
	return tenv_apply(t, &c);
}

_Static_assert(sizeof(struct fsm_attr) == 80, "struct fsm_attr has no padding to compare");

void assert_result_equal(const struct fsm_result *a, const struct fsm_result *b)
{
	assert_int_equal(a->err, b->err);
	assert_int_equal(a->duplicate, b->duplicate);
	assert_memory_equal(&a->attr, &b->attr, sizeof(a->attr)); /* no padding inside */
	assert_int_equal(a->offset, b->offset);
}

struct fsm_attr t_getattr(struct tenv *t, uint64_t ino)
{
	struct fsm_attr a;
	assert_int_equal(fsm_getattr(t->fsm, NULL, ino, &a), 0);
	return a;
}

uint64_t t_lookup(struct tenv *t, uint64_t parent, const char *name)
{
	struct fsm_attr a;
	int rc = fsm_lookup(t->fsm, NULL, parent, name, strlen(name), &a);
	if (rc == -ENOENT)
		return 0;
	assert_int_equal(rc, 0);
	return a.ino;
}

char *t_read(struct tenv *t, uint64_t ino)
{
	struct fsm_attr a = t_getattr(t, ino);
	char *buf = malloc(a.size + 16);
	size_t n;
	assert_int_equal(fsm_read(t->fsm, NULL, ino, 0, a.size + 10, buf, &n), 0);
	assert_int_equal(n, a.size);
	buf[n] = '\0';
	return buf;
}

int tenv_setup(void **state)
{
	struct tenv *t = malloc(sizeof(*t));
	if (t == NULL)
		return -1;
	tenv_open(t, NULL, 0);
	*state = t;
	return 0;
}

int tenv_teardown(void **state)
{
	tenv_close(*state);
	free(*state);
	return 0;
}
