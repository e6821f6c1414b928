/* test_store.c: opening and refusing data directories, hard state, meta, snapshot metadata, errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "quorumfs/errors.h"

/* Reads a whole file, so a refused directory can be shown unchanged. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Opens @f's directory expecting @want, checks the message names @needle and
 * that data.mdb is byte for byte what it was before. */
static void expect_refused(struct fixture *f, const struct store_options *o, int want,
                           const char *needle)
{
	char path[512], err[256] = "";
	size_t n1, n2;
	char *before, *after;
	struct store *s = NULL;

	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	before = slurp(path, &n1);
	assert_int_equal(store_open(f->dir, o, &s, err, sizeof(err)), want);
	assert_null(s);
	if (strstr(err, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, needle);
	assert_non_null(strstr(err, f->dir));
	after = slurp(path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);
}

static void fresh_store_needs_identity(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store *s = NULL;
	char err[256];

	o.node_id = 0;
	assert_int_equal(store_open(f->dir, &o, &s, err, sizeof(err)), QFS_ECONFIG);
	assert_non_null(strstr(err, "node id"));
	o = test_opts();
	memset(o.cluster_id, 0, sizeof(o.cluster_id));
	assert_int_equal(store_open(f->dir, &o, &s, err, sizeof(err)), QFS_ECONFIG);
	assert_int_equal(store_open(f->dir, NULL, &s, err, sizeof(err)), QFS_ECONFIG);
	assert_null(s);
	/* Nothing half-made stays behind: a proper open still creates. */
	o = test_opts();
	fixture_open(f, &o);
}

static void reopen_keeps_everything(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_hard_state hs = {7, 3, 42}, got;
	struct store_snapshot_meta sm = {40, 6, (void *)"members:1,2,3", 13}, sg;
	struct store_entry *e;
	struct store_info info;
	uint64_t first, last;
	size_t n, len;
	void *v;

	fixture_open(f, &o);
	append_range(f->s, 1, 50, 6, 0);
	assert_int_equal(store_hard_state_put(f->s, &hs), 0);
	assert_int_equal(store_meta_put(f->s, "node.membership", "abc", 3), 0);
	assert_int_equal(store_snapshot_meta_put(f->s, &sm), 0);
	fixture_close(f);

	/* An open with wildcards (offline tool) learns the identity. */
	memset(&o, 0, sizeof(o));
	fixture_open(f, &o);
	assert_int_equal(store_info(f->s, &info), 0);
	assert_int_equal(info.node_id, 1);
	assert_int_equal(info.cluster_id[0], 0x11);
	assert_int_equal(info.format, 2);
	assert_int_equal(store_hard_state_get(f->s, &got), 0);
	assert_memory_equal(&got, &hs, sizeof(hs));
	assert_int_equal(store_meta_get(f->s, "node.membership", &v, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "abc", 3);
	free(v);
	assert_int_equal(store_snapshot_meta_get(f->s, &sg), 0);
	assert_int_equal(sg.index, 40);
	assert_int_equal(sg.term, 6);
	assert_int_equal(sg.conf_len, 13);
	assert_memory_equal(sg.conf, "members:1,2,3", 13);
	free(sg.conf);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 50);
	assert_int_equal(store_log_get(f->s, 1, 50, SIZE_MAX, &e, &n), 0);
	assert_int_equal(n, 50);
	for (size_t i = 0; i < n; i++)
		check_entry(&e[i], i + 1, 6, 0);
	free(e);
}

static void refuses_other_node_and_cluster(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();

	fixture_open(f, &o);
	append_range(f->s, 1, 3, 1, 0);
	fixture_close(f);
	o.node_id = 2;
	expect_refused(f, &o, QFS_EMISMATCH, "belongs to node 1, not 2");
	o = test_opts();
	o.cluster_id[15] = 0x12;
	expect_refused(f, &o, QFS_EMISMATCH, "belongs to cluster 1111");
	o = test_opts();
	fixture_open(f, &o);
}

static void put_format(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
	unsigned char v[4] = {0, 0, 0, *(unsigned char *)arg};
	MDB_val k = {12, "store.format"}, val = {4, v};
	assert_int_equal(mdb_put(txn, dbi, &k, &val, 0), 0);
}

static void refuses_other_format(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	unsigned char version = 3;

	fixture_open(f, &o);
	fixture_close(f);
	raw_edit(f->dir, "meta", put_format, &version);
	expect_refused(f, &o, QFS_EFORMAT, "format version 3, this build reads 1 and 2");
	version = 0;
	raw_edit(f->dir, "meta", put_format, &version);
	expect_refused(f, &o, QFS_EFORMAT, "format version 0");
}

static void put_foreign(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
	MDB_val k = {3, "key"}, v = {5, "value"};
	(void)arg;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
}

static void refuses_corrupt_and_foreign_files(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	char path[512];
	int fd;

	/* Garbage where data.mdb should be. */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(write(fd, "this is not an LMDB file, not at all.....\n", 42), 42);
	close(fd);
	expect_refused(f, &o, QFS_ECORRUPT, "not a readable LMDB file");

	/* An LMDB environment of some other program. */
	assert_int_equal(unlink(path), 0);
	raw_edit(f->dir, "other", put_foreign, NULL);
	expect_refused(f, &o, QFS_EFORMAT, "not a quorumfs store");
}

static void second_open_is_busy(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store *s2 = NULL;
	char err[256];

	fixture_open(f, &o);
	assert_int_equal(store_open(f->dir, &o, &s2, err, sizeof(err)), QFS_EBUSY);
	assert_null(s2);
	assert_non_null(strstr(err, "in use"));
}

static void hard_state_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_hard_state hs, zero = {0, 0, 0};

	fixture_open(f, &o);
	assert_int_equal(store_hard_state_get(f->s, &hs), 0);
	assert_memory_equal(&hs, &zero, sizeof(hs));
	for (uint64_t t = 1; t <= 5; t++) {
		struct store_hard_state w = {t, t % 3, t * 10};
		assert_int_equal(store_hard_state_put(f->s, &w), 0);
		assert_int_equal(store_hard_state_get(f->s, &hs), 0);
		assert_memory_equal(&hs, &w, sizeof(hs));
	}
}

static void meta_raw_keys(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	char longkey[402];
	size_t len;
	void *v;

	fixture_open(f, &o);
	assert_int_equal(store_meta_get(f->s, "fsm.applied", &v, &len), -ENOENT);
	assert_int_equal(store_meta_put(f->s, "fsm.applied", "\0\0\0\0\0\0\0\5", 8), 0);
	assert_int_equal(store_meta_get(f->s, "fsm.applied", &v, &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(v, "\0\0\0\0\0\0\0\5", 8);
	free(v);
	assert_int_equal(store_meta_put(f->s, "node.empty", "", 0), 0);
	assert_int_equal(store_meta_get(f->s, "node.empty", &v, &len), 0);
	assert_int_equal(len, 0);
	free(v);
	/* The store's own keys are readable but not writable by others. */
	assert_int_equal(store_meta_get(f->s, "store.format", &v, &len), 0);
	assert_int_equal(len, 4);
	free(v);
	assert_int_equal(store_meta_put(f->s, "store.format", "x", 1), -EPERM);
	assert_int_equal(store_meta_put(f->s, "", "x", 1), -EINVAL);
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = 0;
	assert_int_equal(store_meta_put(f->s, longkey, "x", 1), -EINVAL);
	longkey[400] = 0;
	assert_int_equal(store_meta_put(f->s, longkey, "x", 1), 0);
}

static int del_cb(MDB_txn *txn, void *arg)
{
	struct store *s = arg;
	assert_int_equal(store_txn_meta_del(s, txn, "store.node_id"), -EPERM);
	assert_int_equal(store_txn_meta_del(s, txn, "fsm.none"), -ENOENT);
	return store_txn_meta_del(s, txn, "fsm.x");
}

static void meta_delete(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	size_t len;
	void *v;

	fixture_open(f, &o);
	assert_int_equal(store_meta_put(f->s, "fsm.x", "1", 1), 0);
	assert_int_equal(store_write(f->s, del_cb, f->s), 0);
	assert_int_equal(store_meta_get(f->s, "fsm.x", &v, &len), -ENOENT);
}

static void snapshot_meta_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_snapshot_meta sm = {100, 4, NULL, 0}, got;

	fixture_open(f, &o);
	assert_int_equal(store_snapshot_meta_get(f->s, &got), -ENOENT);
	assert_int_equal(store_snapshot_meta_put(f->s, &sm), 0);
	assert_int_equal(store_snapshot_meta_get(f->s, &got), 0);
	assert_int_equal(got.index, 100);
	assert_int_equal(got.term, 4);
	assert_int_equal(got.conf_len, 0);
	assert_null(got.conf);
	sm.index = 200;
	sm.conf = "conf";
	sm.conf_len = 4;
	assert_int_equal(store_snapshot_meta_put(f->s, &sm), 0);
	assert_int_equal(store_snapshot_meta_get(f->s, &got), 0);
	assert_int_equal(got.index, 200);
	assert_memory_equal(got.conf, "conf", 4);
	free(got.conf);
}

struct group {
	struct store *s;
	int runs;
};

static int group_cb(MDB_txn *txn, void *arg)
{
	struct group *g = arg;
	int rc;

	g->runs++;
	rc = store_txn_meta_put(g->s, txn, "fsm.applied", "1", 1);
	/* A failing callback (after writing) must leave nothing behind. */
	return rc == 0 && g->runs == 1 ? -EINTR : rc;
}

static void failed_callback_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct group g = {NULL, 0};
	struct store_hard_state hs;
	uint64_t first, last;
	size_t len;
	void *v;
	char err[64];

	fixture_open(f, &o);
	g.s = f->s;
	assert_int_equal(store_write(f->s, group_cb, &g), -EINTR);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_meta_get(f->s, "fsm.applied", &v, &len), -ENOENT);
	assert_int_equal(store_hard_state_get(f->s, &hs), 0);
	assert_int_equal(hs.term, 0);
	/* The same callback commits the second time. */
	assert_int_equal(store_write(f->s, group_cb, &g), 0);
	assert_int_equal(store_meta_get(f->s, "fsm.applied", &v, &len), 0);
	free(v);
	store_errmsg(f->s, err, sizeof(err));
}

static void lmdb_errors_translate(void **state)
{
	(void)state;
	assert_int_equal(store_lmdb_error(0), 0);
	assert_int_equal(store_lmdb_error(MDB_NOTFOUND), -ENOENT);
	assert_int_equal(store_lmdb_error(MDB_KEYEXIST), -EEXIST);
	assert_int_equal(store_lmdb_error(MDB_MAP_FULL), QFS_EMAPFULL);
	assert_int_equal(store_lmdb_error(MDB_CORRUPTED), QFS_ECORRUPT);
	assert_int_equal(store_lmdb_error(MDB_PAGE_NOTFOUND), QFS_ECORRUPT);
	assert_int_equal(store_lmdb_error(MDB_INVALID), QFS_ECORRUPT);
	assert_int_equal(store_lmdb_error(MDB_VERSION_MISMATCH), QFS_EFORMAT);
	assert_int_equal(store_lmdb_error(MDB_PANIC), QFS_ESTORAGE);
	assert_int_equal(store_lmdb_error(MDB_TXN_FULL), -E2BIG);
	assert_int_equal(store_lmdb_error(MDB_READERS_FULL), -EAGAIN);
	assert_int_equal(store_lmdb_error(MDB_DBS_FULL), -EMFILE);
	assert_int_equal(store_lmdb_error(MDB_BAD_TXN), -EINVAL);
	assert_int_equal(store_lmdb_error(ENOSPC), -ENOSPC);
	assert_int_equal(store_lmdb_error(EIO), -EIO);
	/* The map-full code is a project code, never an errno. */
	assert_false(qfs_is_errno(QFS_EMAPFULL));
	assert_string_not_equal(qfs_strerror(QFS_EMAPFULL), "unknown error");
}

static int count_dbs(MDB_txn *txn, void *arg)
{
	/* src/fsm opens its databases inside a store_write() callback. */
	static const char *names[] = {"inodes", "dirents", "data", "sessions"};
	MDB_dbi dbi;
	(void)arg;
	for (int i = 0; i < 4; i++) {
		int mrc = mdb_dbi_open(txn, names[i], MDB_CREATE, &dbi);
		if (mrc != 0)
			return store_lmdb_error(mrc);
	}
	return 0;
}

static void fsm_databases_fit(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();

	unsigned readers = 0;

	o.max_readers = 64;
	fixture_open(f, &o);
	assert_int_equal(store_write(f->s, count_dbs, NULL), 0);
	fixture_open(f, &o);
	assert_int_equal(store_write(f->s, count_dbs, NULL), 0);
	/* The environment handed to fsm_open() is the configured one. */
	assert_non_null(store_env(f->s));
	assert_int_equal(mdb_env_get_maxreaders(store_env(f->s), &readers), 0);
	assert_int_equal(readers, 64);
}

struct peek {
	struct store *s;
	size_t len;
	uint64_t first, last, term;
};

static int peek_cb(MDB_txn *txn, void *arg)
{
	struct peek *p = arg;
	const void *v;
	int rc = store_txn_meta_get(p->s, txn, "node.x", &v, &p->len);

	/* The log's readers take no transaction and work inside one. */
	if (rc == 0)
		rc = store_log_bounds(p->s, &p->first, &p->last);
	if (rc == 0)
		rc = store_log_term(p->s, p->last, &p->term);
	return rc;
}

static int fail_cb(MDB_txn *txn, void *arg)
{
	(void)txn;
	(void)arg;
	return -ENOTSUP;
}

static void read_callbacks_and_sync(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct peek p;

	o.unsafe_nosync = true;
	fixture_open(f, &o);
	p.s = f->s;
	assert_int_equal(store_read(f->s, peek_cb, &p), -ENOENT);
	assert_int_equal(store_meta_put(f->s, "node.x", "12345", 5), 0);
	append_range(f->s, 1, 4, 3, 0);
	assert_int_equal(store_read(f->s, peek_cb, &p), 0);
	assert_int_equal(p.len, 5);
	assert_int_equal(p.first, 1);
	assert_int_equal(p.last, 4);
	assert_int_equal(p.term, 3);
	/* A callback's own code comes back unchanged, from both kinds. */
	assert_int_equal(store_read(f->s, fail_cb, NULL), -ENOTSUP);
	assert_int_equal(store_write(f->s, fail_cb, NULL), -ENOTSUP);
	assert_int_equal(store_sync(f->s), 0);
	store_close(NULL);
}

/* quorumctl backup reads a directory's identity beside its daemon, read-only
 * and without the lock; a directory with no store says so. */
static void peek_reads_identity(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_info info;
	char err[256], other[512];

	fixture_open(f, &o);
	fixture_close(f); /* LMDB: one environment per file per process */
	assert_int_equal(store_peek(f->dir, &info, err, sizeof(err)), 0);
	assert_int_equal(info.node_id, o.node_id);
	assert_memory_equal(info.cluster_id, o.cluster_id, STORE_CLUSTER_ID_LEN);
	assert_true(info.format > 0);
	fixture_open(f, &o); /* still opens: the peek left no lock behind */

	snprintf(other, sizeof(other), "%s/none", f->root);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(store_peek(other, &info, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no store"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(fresh_store_needs_identity),
	        T(reopen_keeps_everything),
	        T(refuses_other_node_and_cluster),
	        T(refuses_other_format),
	        T(refuses_corrupt_and_foreign_files),
	        T(second_open_is_busy),
	        T(hard_state_roundtrip),
	        T(meta_raw_keys),
	        T(meta_delete),
	        T(snapshot_meta_roundtrip),
	        T(failed_callback_leaves_nothing),
	        T(lmdb_errors_translate),
	        T(fsm_databases_fit),
	        T(read_callbacks_and_sync),
	        T(peek_reads_identity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
