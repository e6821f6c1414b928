/* test_store_sync.c: which commits sync what: durable commits, STORE_NO_META_SYNC ones, close.
 *
 * This executable defines pwrite() and fdatasync() itself, so LMDB's calls
 * (liblmdb is a shared library) land here: each is counted, then made as the
 * system call. LMDB writes a commit's meta page with pwrite(), through a
 * descriptor opened O_DSYNC for a durable commit and through the ordinary
 * one under MDB_NOMETASYNC; its data pages go out with writev() (and
 * pwrite()) and one fdatasync(). So the counts show exactly which flushes a commit waited for.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"
#include "quorumfs/errors.h"

static unsigned dsync_writes; /* meta page pwrite()s through an O_DSYNC descriptor */
static unsigned plain_writes; /* meta page pwrite()s through any other */
static unsigned datasyncs;    /* fdatasync()s */

/* Interposed: the names must be the C library's, not a redirected alias. */
ssize_t test_pwrite(int fd, const void *buf, size_t n, off_t off) __asm__("pwrite");
int test_fdatasync(int fd) __asm__("fdatasync");

/* LMDB's two meta pages are the file's first two pages; it also writes a
 * data page with pwrite() now and then (one not next to the others), which
 * is not counted. */
ssize_t test_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int fl = fcntl(fd, F_GETFL);
	if (off < 2 * sysconf(_SC_PAGESIZE)) {
		if (fl >= 0 && (fl & O_DSYNC) == O_DSYNC)
			dsync_writes++;
		else
			plain_writes++;
	}
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

int test_fdatasync(int fd)
{
	datasyncs++;
	return (int)syscall(SYS_fdatasync, fd);
}

static void reset_counts(void)
{
	dsync_writes = plain_writes = datasyncs = 0;
}

static struct store_options sync_opts(void)
{
	struct store_options o = test_opts();
	o.no_prealloc = true; /* its own fdatasync would blur the counts */
	return o;
}

struct put {
	struct store *s;
	const char *key;
	uint64_t val;
	unsigned runs;
	unsigned env_flags; /* mdb_env_get_flags() seen inside the callback */
};

static int put_cb(MDB_txn *txn, void *arg)
{
	struct put *p = arg;
	p->runs++;
	mdb_env_get_flags(mdb_txn_env(txn), &p->env_flags);
	return store_txn_meta_put(p->s, txn, p->key, &p->val, sizeof(p->val));
}

static void put(struct store *s, const char *key, uint64_t val, unsigned flags)
{
	struct put p = {.s = s, .key = key, .val = val};
	assert_int_equal(store_write_flags(s, put_cb, &p, flags), 0);
	assert_int_equal(p.env_flags & MDB_NOMETASYNC, 0);
}

static uint64_t get(struct store *s, const char *key)
{
	void *v;
	size_t len;
	uint64_t x;
	assert_int_equal(store_meta_get(s, key, &v, &len), 0);
	assert_int_equal(len, sizeof(x));
	memcpy(&x, v, sizeof(x));
	free(v);
	return x;
}

static unsigned env_flags(struct store *s)
{
	unsigned fl = 0;
	assert_int_equal(mdb_env_get_flags(store_env(s), &fl), 0);
	return fl;
}

/* The interposition works at all: a durable commit is one fdatasync of the
 * data pages and one synchronous write of the meta page, as documented. */
static void durable_commit_syncs_twice(void **state)
{
	struct fixture *f = *state;
	struct store_options o = sync_opts();

	fixture_open(f, &o);
	reset_counts();
	put(f->s, "test.a", 1, 0);
	assert_int_equal(datasyncs, 1);
	assert_int_equal(dsync_writes, 1);
	assert_int_equal(plain_writes, 0);
	reset_counts();
	put(f->s, "test.a", 2, 0); /* store_write() is flags 0 */
	struct put p = {.s = f->s, .key = "test.a", .val = 3};
	assert_int_equal(store_write(f->s, put_cb, &p), 0);
	assert_int_equal(datasyncs, 2);
	assert_int_equal(dsync_writes, 2);
	assert_int_equal(plain_writes, 0);
}

/* STORE_NO_META_SYNC: the data pages are still synced, the meta page is
 * written without O_DSYNC, the environment's flag is back off afterwards,
 * and the next durable commit's fdatasync covers the lazy one. */
static void lazy_commit_skips_the_meta_sync(void **state)
{
	struct fixture *f = *state;
	struct store_options o = sync_opts();
	struct store_info info;

	fixture_open(f, &o);
	assert_int_equal(env_flags(f->s) & MDB_NOMETASYNC, 0);
	reset_counts();
	put(f->s, "test.lazy", 7, STORE_NO_META_SYNC);
	assert_int_equal(datasyncs, 1);
	assert_int_equal(dsync_writes, 0);
	assert_int_equal(plain_writes, 1);
	assert_int_equal(env_flags(f->s) & MDB_NOMETASYNC, 0);
	/* Visible at once, to readers of this process. */
	assert_int_equal(get(f->s, "test.lazy"), 7);

	/* Several in a row: each still one fdatasync, no synchronous write. */
	reset_counts();
	for (uint64_t i = 0; i < 5; i++)
		put(f->s, "test.lazy", 100 + i, STORE_NO_META_SYNC);
	assert_int_equal(datasyncs, 5);
	assert_int_equal(dsync_writes, 0);
	assert_int_equal(plain_writes, 5);

	/* The durable commit after them: its fdatasync runs after their meta
	 * writes, so it flushes them, then its own meta page is synchronous. */
	reset_counts();
	put(f->s, "test.durable", 8, 0);
	assert_int_equal(datasyncs, 1);
	assert_int_equal(dsync_writes, 1);
	assert_int_equal(plain_writes, 0);
	assert_int_equal(env_flags(f->s) & MDB_NOMETASYNC, 0);

	assert_int_equal(store_info(f->s, &info), 0);
	assert_int_equal(info.commits, 7);
	assert_int_equal(info.lazy_commits, 6);

	/* Closing after a durable commit flushes nothing more. */
	reset_counts();
	fixture_close(f);
	assert_int_equal(datasyncs, 0);
	fixture_open(f, &o);
	assert_int_equal(get(f->s, "test.lazy"), 104);
	assert_int_equal(get(f->s, "test.durable"), 8);
}

/* A clean close after a lazy commit syncs its meta page, so a stop followed
 * by a machine crash loses nothing; the data is there after reopening. */
static void close_after_lazy_commit_syncs(void **state)
{
	struct fixture *f = *state;
	struct store_options o = sync_opts();

	fixture_open(f, &o);
	put(f->s, "test.k", 41, 0);
	put(f->s, "test.k", 42, STORE_NO_META_SYNC);
	reset_counts();
	fixture_close(f);
	assert_int_equal(datasyncs, 1);
	fixture_open(f, &o);
	assert_int_equal(get(f->s, "test.k"), 42);

	/* store_sync() makes a lazy commit durable the same way. */
	put(f->s, "test.k", 43, STORE_NO_META_SYNC);
	reset_counts();
	assert_int_equal(store_sync(f->s), 0);
	assert_int_equal(datasyncs, 1);
	fixture_close(f);
	fixture_open(f, &o);
	assert_int_equal(get(f->s, "test.k"), 43);
}

static int fail_cb(MDB_txn *txn, void *arg)
{
	(void)txn;
	(*(unsigned *)arg)++;
	return -ENOTSUP;
}

/* Unknown flags are refused before the callback runs; a failed lazy
 * callback commits nothing and leaves the flag off. */
static void flags_checked_and_failures_clean(void **state)
{
	struct fixture *f = *state;
	struct store_options o = sync_opts();
	unsigned runs = 0;

	fixture_open(f, &o);
	assert_int_equal(store_write_flags(f->s, fail_cb, &runs, 0x2), -EINVAL);
	assert_int_equal(runs, 0);
	reset_counts();
	assert_int_equal(store_write_flags(f->s, fail_cb, &runs, STORE_NO_META_SYNC), -ENOTSUP);
	assert_int_equal(runs, 1);
	assert_int_equal(datasyncs + dsync_writes + plain_writes, 0);
	assert_int_equal(env_flags(f->s) & MDB_NOMETASYNC, 0);
}

struct big {
	struct store *s;
	unsigned i;
	unsigned runs;
	unsigned env_flags;
};

static int big_cb(MDB_txn *txn, void *arg)
{
	struct big *b = arg;
	static char blob[700000]; /* 171 pages: two do not fit in 1 MiB */
	char key[32];

	b->runs++;
	mdb_env_get_flags(mdb_txn_env(txn), &b->env_flags);
	memset(blob, (int)b->i, sizeof(blob));
	snprintf(key, sizeof(key), "test.big%u", b->i);
	return store_txn_meta_put(b->s, txn, key, blob, sizeof(blob));
}

/* A lazy write that fills the map is retried after growth like any other,
 * and the flag is never left on. */
static void lazy_commit_survives_map_growth(void **state)
{
	struct fixture *f = *state;
	struct store_options o = sync_opts();
	struct store_info info;
	unsigned runs = 0;

	o.initial_map_size = 1 << 20;
	fixture_open(f, &o);
	for (unsigned i = 0; i < 4; i++) {
		struct big b = {.s = f->s, .i = i};
		assert_int_equal(store_write_flags(f->s, big_cb, &b, STORE_NO_META_SYNC), 0);
		assert_int_equal(b.env_flags & MDB_NOMETASYNC, 0);
		assert_int_equal(env_flags(f->s) & MDB_NOMETASYNC, 0);
		runs += b.runs;
	}
	assert_int_equal(store_info(f->s, &info), 0);
	assert_true(info.map_grows > 0);
	assert_true(runs > 4); /* some callback ran again after a growth */
	assert_int_equal(info.lazy_commits, 4);
	fixture_close(f);
	fixture_open(f, &o);
	void *v;
	size_t len;
	assert_int_equal(store_meta_get(f->s, "test.big3", &v, &len), 0);
	assert_int_equal(len, 700000);
	assert_int_equal(((unsigned char *)v)[len - 1], 3);
	free(v);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(durable_commit_syncs_twice),      T(lazy_commit_skips_the_meta_sync),
	        T(close_after_lazy_commit_syncs),   T(flags_checked_and_failures_clean),
	        T(lazy_commit_survives_map_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
