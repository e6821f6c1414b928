/* helpers.c: fixtures, tree removal and raw LMDB edits for the store tests. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "helpers.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 ? 0 : -errno;
}

int rm_rf(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/qfs-store-XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(f->root) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/data", f->root);
	*state = f;
	return 0;
}

int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	if (f->mnt != NULL) {
		umount2(f->mnt, MNT_DETACH);
		free(f->mnt);
	}
	rm_rf(f->root);
	free(f);
	return 0;
}

struct store_options test_opts(void)
{
	struct store_options o;

	memset(&o, 0, sizeof(o));
	o.node_id = 1;
	memset(o.cluster_id, 0x11, sizeof(o.cluster_id));
	return o;
}

void fixture_open(struct fixture *f, const struct store_options *o)
{
	char err[256] = "";
	int rc;

	store_close(f->s);
	f->s = NULL;
	rc = store_open(f->dir, o, &f->s, err, sizeof(err));
	if (rc != 0)
		fail_msg("store_open(%s): %d %s", f->dir, rc, err);
}

void fixture_close(struct fixture *f)
{
	store_close(f->s);
	f->s = NULL;
}

void raw_edit(const char *dir, const char *dbname, raw_edit_fn fn, void *arg)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, STORE_MAX_DBS);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, dbname, MDB_CREATE, &dbi), 0);
	fn(txn, dbi, arg);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static size_t fill(char *buf, uint64_t index, size_t len)
{
	size_t n = (size_t)snprintf(buf, 64, "entry %llu", (unsigned long long)index);
	if (len == 0)
		return n;
	for (size_t i = n; i < len; i++)
		buf[i] = (char)('a' + (index + i) % 26);
	return len;
}

void append_range(struct store *s, uint64_t from, uint64_t to, uint64_t term, size_t len)
{
	size_t n = (size_t)(to - from + 1);
	struct store_entry *e = calloc(n, sizeof(*e));
	char *buf = malloc(n * (len + 64));

	assert_non_null(e);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++) {
		char *p = buf + i * (len + 64);
		e[i].index = from + i;
		e[i].term = term;
		e[i].type = (uint8_t)(e[i].index % 3);
		e[i].len = fill(p, e[i].index, len);
		e[i].data = p;
	}
	assert_int_equal(store_append(s, e, n, NULL), 0);
	free(buf);
	free(e);
}

void check_entry(const struct store_entry *e, uint64_t index, uint64_t term, size_t len)
{
	char buf[(1 << 17) + 64];
	size_t n;

	assert_true(len <= (1 << 17));
	n = fill(buf, index, len);
	assert_int_equal(e->index, index);
	assert_int_equal(e->term, term);
	assert_int_equal(e->type, index % 3);
	assert_int_equal(e->len, n);
	assert_memory_equal(e->data, buf, n);
}
