/* test_store_log.c: the log: append, conflicts, reads, compaction, checksums, map growth, disk
 * full. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "quorumfs/errors.h"

static void get_all(struct store *s, uint64_t from, uint64_t to, struct store_entry **e, size_t *n)
{
	int rc = store_log_get(s, from, to, SIZE_MAX, e, n);
	if (rc != 0)
		fail_msg("store_log_get(%llu, %llu) = %d", (unsigned long long)from,
		         (unsigned long long)to, rc);
}

static void append_and_read(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_entry *e;
	uint64_t first, last, term;
	size_t n;

	fixture_open(f, &o);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 0);
	assert_int_equal(store_log_term(f->s, 0, &term), 0);
	assert_int_equal(term, 0);
	assert_int_equal(store_append(f->s, NULL, 0, NULL), 0);
	append_range(f->s, 1, 60, 1, 0);
	append_range(f->s, 61, 100, 2, 100);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 100);
	assert_int_equal(store_log_term(f->s, 60, &term), 0);
	assert_int_equal(term, 1);
	assert_int_equal(store_log_term(f->s, 61, &term), 0);
	assert_int_equal(term, 2);
	assert_int_equal(store_log_term(f->s, 101, &term), -ENOENT);

	get_all(f->s, 1, 100, &e, &n);
	assert_int_equal(n, 100);
	for (size_t i = 0; i < n; i++)
		check_entry(&e[i], i + 1, i < 60 ? 1 : 2, i < 60 ? 0 : 100);
	free(e);
	/* @to past the end is clamped; a range in the middle is exact. */
	get_all(f->s, 95, 1000, &e, &n);
	assert_int_equal(n, 6);
	check_entry(&e[5], 100, 2, 100);
	free(e);
	get_all(f->s, 61, 61, &e, &n);
	assert_int_equal(n, 1);
	check_entry(&e[0], 61, 2, 100);
	free(e);
	/* max_bytes: whole entries only, but never none. */
	assert_int_equal(store_log_get(f->s, 61, 100, 250, &e, &n), 0);
	assert_int_equal(n, 2);
	free(e);
	assert_int_equal(store_log_get(f->s, 61, 100, 1, &e, &n), 0);
	assert_int_equal(n, 1);
	check_entry(&e[0], 61, 2, 100);
	free(e);
	assert_int_equal(store_log_get(f->s, 101, 200, SIZE_MAX, &e, &n), -ENOENT);
	assert_int_equal(store_log_get(f->s, 0, 5, SIZE_MAX, &e, &n), -EINVAL);
	assert_int_equal(store_log_get(f->s, 6, 5, SIZE_MAX, &e, &n), -EINVAL);
}

static void conflicting_append_truncates(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_entry *e;
	uint64_t first, last;
	size_t n;

	fixture_open(f, &o);
	append_range(f->s, 1, 10, 1, 0);
	/* A new leader's entries 6..8 replace 6..10 (Figure 2, step 3). */
	append_range(f->s, 6, 8, 2, 10);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 8);
	get_all(f->s, 1, 8, &e, &n);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < 5; i++)
		check_entry(&e[i], i + 1, 1, 0);
	for (size_t i = 5; i < 8; i++)
		check_entry(&e[i], i + 1, 2, 10);
	free(e);
	/* Rewriting at the very first index replaces everything. */
	append_range(f->s, 1, 2, 3, 0);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 2);
}

static void bad_appends_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_entry e[2] = {{5, 1, 0, "x", 1}, {6, 1, 0, "y", 1}};
	uint64_t first, last;
	char msg[256];

	fixture_open(f, &o);
	append_range(f->s, 1, 3, 2, 0);
	/* A gap. */
	assert_int_equal(store_append(f->s, e, 1, NULL), -EINVAL);
	assert_non_null(strstr(store_errmsg(f->s, msg, sizeof(msg)), "outside the log"));
	/* Index 0. */
	e[0].index = 0;
	assert_int_equal(store_append(f->s, e, 1, NULL), -EINVAL);
	/* Not consecutive. */
	e[0].index = 4;
	e[1].index = 6;
	assert_int_equal(store_append(f->s, e, 2, NULL), -EINVAL);
	/* A term lower than the previous entry's, within and across batches. */
	e[0].term = 2;
	e[1].index = 5;
	e[1].term = 1;
	assert_int_equal(store_append(f->s, e, 2, NULL), -EINVAL);
	e[0].term = 1;
	assert_int_equal(store_append(f->s, e, 1, NULL), -EINVAL);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 3);
}

static void truncate_suffix(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	uint64_t first, last;

	fixture_open(f, &o);
	append_range(f->s, 1, 20, 1, 0);
	assert_int_equal(store_log_truncate_suffix(f->s, 15), 0);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 14);
	assert_int_equal(store_log_truncate_suffix(f->s, 100), 0);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 14);
	assert_int_equal(store_log_truncate_suffix(f->s, 0), -EINVAL);
	assert_int_equal(store_log_truncate_suffix(f->s, 1), 0);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 0);
	append_range(f->s, 1, 2, 1, 0);
}

static void compaction_in_batches(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_entry *e;
	uint64_t first, last, term;
	size_t n;

	o.compact_batch = 7; /* crosses many batch boundaries */
	fixture_open(f, &o);
	append_range(f->s, 1, 50, 1, 0);
	append_range(f->s, 51, 100, 2, 0);
	assert_int_equal(store_log_compact(f->s, 55), 0);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 56);
	assert_int_equal(last, 100);
	/* The base keeps its term for Raft's consistency check. */
	assert_int_equal(store_log_term(f->s, 55, &term), 0);
	assert_int_equal(term, 2);
	assert_int_equal(store_log_term(f->s, 54, &term), QFS_ESTALE);
	assert_int_equal(store_log_get(f->s, 55, 60, SIZE_MAX, &e, &n), QFS_ESTALE);
	get_all(f->s, 56, 100, &e, &n);
	assert_int_equal(n, 45);
	check_entry(&e[0], 56, 2, 0);
	free(e);
	/* At or below the base: nothing to do. Past the end: refused. */
	assert_int_equal(store_log_compact(f->s, 30), 0);
	assert_int_equal(store_log_compact(f->s, 101), -EINVAL);
	/* Appending below the first index is refused. */
	{
		struct store_entry x = {50, 2, 0, "x", 1};
		assert_int_equal(store_append(f->s, &x, 1, NULL), -EINVAL);
	}
	/* Survives a reopen; then compact everything. */
	fixture_open(f, &o);
	assert_int_equal(store_log_compact(f->s, 100), 0);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 101);
	assert_int_equal(last, 100);
	assert_int_equal(store_log_term(f->s, 100, &term), 0);
	assert_int_equal(term, 2);
	append_range(f->s, 101, 105, 3, 0);
	get_all(f->s, 101, 105, &e, &n);
	assert_int_equal(n, 5);
	free(e);
}

static void reset_for_snapshot(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	uint64_t first, last, term;

	fixture_open(f, &o);
	append_range(f->s, 1, 30, 1, 0);
	assert_int_equal(store_log_reset(f->s, 1000, 5), 0);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 1001);
	assert_int_equal(last, 1000);
	assert_int_equal(store_log_term(f->s, 1000, &term), 0);
	assert_int_equal(term, 5);
	append_range(f->s, 1001, 1003, 5, 0);
	assert_int_equal(store_log_truncate_suffix(f->s, 1000), -EINVAL);
}

struct reader {
	struct store *s;
	volatile int stop;
	int reads, errors;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	while (!r->stop) {
		uint64_t first, last;
		struct store_entry *e;
		size_t n;
		if (store_log_bounds(r->s, &first, &last) != 0) {
			r->errors++;
			continue;
		}
		if (last >= first) {
			if (store_log_get(r->s, last > 3 ? last - 3 : first, last, SIZE_MAX, &e,
			                  &n) != 0)
				r->errors++;
			else
				free(e);
		}
		/* And LMDB's readers, which the map's growth must wait for. */
		void *v;
		size_t len;
		int rc = store_meta_get(r->s, "node.big.1", &v, &len);
		if (rc == 0)
			free(v);
		else if (rc != -ENOENT)
			r->errors++;
		r->reads++;
	}
	return NULL;
}

struct big {
	struct store *s;
	uint64_t from;
	size_t count, len;
	int runs;
	char *buf;
};

static int big_cb(MDB_txn *txn, void *arg)
{
	struct big *b = arg;
	b->runs++;
	for (size_t i = 0; i < b->count; i++) {
		char key[32];
		snprintf(key, sizeof(key), "node.big.%zu", (size_t)b->from + i);
		int rc = store_txn_meta_put(b->s, txn, key, b->buf, b->len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void map_grows_under_readers(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_info info;
	struct reader r[2];
	pthread_t th[2];
	struct store_entry *e;
	uint64_t first, last;
	size_t n, total = 0;
	struct big b;

	o.initial_map_size = 1 << 20; /* tiny, so growth comes early */
	o.unsafe_nosync = true;       /* growth is what is tested, not the disk */
	o.no_prealloc = true;
	fixture_open(f, &o);
	assert_int_equal(store_info(f->s, &info), 0);
	assert_int_equal(info.map_size, 1 << 20);

	for (int i = 0; i < 2; i++) {
		r[i] = (struct reader){f->s, 0, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, read_loop, &r[i]), 0);
	}
	/* One transaction far larger than the map: store_write must grow it
	 * several times, re-running the callback each time. */
	b = (struct big){f->s, 1, 64, 64 << 10, 0, malloc(64 << 10)};
	assert_non_null(b.buf);
	memset(b.buf, 'q', b.len);
	assert_int_equal(store_write(f->s, big_cb, &b), 0);
	assert_true(b.runs > 1);
	total += b.count * b.len;
	/* Then many ordinary transactions, past 20 MiB, and a log beside. */
	append_range(f->s, 1, 100, 1, 0);
	b.len = 16 << 10;
	b.count = 16;
	for (b.from = 65; total < (20u << 20); b.from += 16) {
		assert_int_equal(store_write(f->s, big_cb, &b), 0);
		total += 16 * (16 << 10);
	}
	for (int i = 0; i < 2; i++) {
		r[i].stop = 1;
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].errors, 0);
		assert_true(r[i].reads > 0);
	}
	free(b.buf);
	assert_int_equal(store_info(f->s, &info), 0);
	assert_true(info.map_size > (20u << 20));
	assert_true(info.map_grows >= 5);
	assert_true(info.used_bytes > (20u << 20));

	/* Everything reads back, also after a reopen, which keeps the size. */
	fixture_open(f, &o);
	assert_int_equal(store_info(f->s, &info), 0);
	assert_true(info.map_size > (20u << 20));
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 100);
	get_all(f->s, 1, 100, &e, &n);
	assert_int_equal(n, 100);
	free(e);
	for (uint64_t i = 1; i < b.from; i++) {
		char key[32];
		void *v;
		size_t len;
		snprintf(key, sizeof(key), "node.big.%llu", (unsigned long long)i);
		assert_int_equal(store_meta_get(f->s, key, &v, &len), 0);
		assert_int_equal(len, i <= 64 ? 64 << 10 : 16 << 10);
		free(v);
	}
}

static void map_limit_gives_enospc(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	uint64_t first, last, i;
	struct store_entry *e;
	size_t n;
	char msg[256], buf[8192];
	int rc = 0;

	o.initial_map_size = 1 << 20;
	o.max_map_size = 4 << 20;
	o.unsafe_nosync = true;
	o.no_prealloc = true;
	fixture_open(f, &o);
	memset(buf, 'z', sizeof(buf));
	for (i = 1; i < 10000; i++) {
		char key[32];
		snprintf(key, sizeof(key), "node.k.%llu", (unsigned long long)i);
		rc = store_meta_put(f->s, key, buf, sizeof(buf));
		if (rc != 0)
			break;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_non_null(strstr(store_errmsg(f->s, msg, sizeof(msg)), "max_map_size"));
	/* The log is not in the map: it goes on. */
	append_range(f->s, 1, 10, 1, 8192);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 10);
	get_all(f->s, last, last, &e, &n);
	free(e);
	/* A larger limit lets the same store go on. */
	o.max_map_size = 0;
	fixture_open(f, &o);
	assert_int_equal(store_meta_put(f->s, "node.k.more", buf, sizeof(buf)), 0);
}

/* Mounts a tmpfs of @mib MiB at root/mnt; false if this system forbids it. */
static bool mount_tmpfs(struct fixture *f, int mib)
{
	char path[300], opts[32];

	snprintf(path, sizeof(path), "%s/mnt", f->root);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(opts, sizeof(opts), "size=%dm", mib);
	if (mount("tmpfs", path, "tmpfs", 0, opts) != 0)
		return false;
	f->mnt = strdup(path);
	snprintf(f->dir, sizeof(f->dir), "%s/data", path);
	return true;
}

static void disk_full_then_recovers(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	char filler[300], buf[32 << 10];
	struct store_entry *e;
	uint64_t first, last, i;
	size_t n;
	int fd, rc = 0;

	if (!mount_tmpfs(f, 8)) {
		print_message("cannot mount a tmpfs here (%s): skipped\n", strerror(errno));
		skip();
	}
	o.prealloc_bytes = 1 << 20; /* on, and small: it must not hide ENOSPC */
	o.wal_segment_bytes = 256 << 10; /* many segments: a new one meets ENOSPC */
	fixture_open(f, &o);
	/* 2 MiB to free later, as an operator would. */
	snprintf(filler, sizeof(filler), "%s/filler", f->mnt);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	memset(buf, 'f', sizeof(buf));
	for (int k = 0; k < 64; k++)
		assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);

	memset(buf, 'd', sizeof(buf));
	for (i = 1; i < 1000; i++) {
		struct store_entry x = {i, 1, 0, buf, sizeof(buf)};
		struct store_hard_state hs = {1, 1, i};
		rc = store_append(f->s, &x, 1, &hs);
		if (rc != 0)
			break;
	}
	assert_int_equal(rc, -ENOSPC);
	print_message("disk full after %llu entries: %s\n", (unsigned long long)i,
	              store_errmsg(f->s, buf, 200));
	memset(buf, 'd', sizeof(buf));
	/* Still consistent and readable; still refusing while full. */
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, i - 1);
	assert_true(last > 10);
	{
		struct store_entry x = {last + 1, 1, 0, buf, sizeof(buf)};
		assert_int_equal(store_append(f->s, &x, 1, NULL), -ENOSPC);
	}
	/* Space freed: the same store goes on. */
	assert_int_equal(unlink(filler), 0);
	for (uint64_t k = last + 1; k <= last + 10; k++) {
		struct store_entry x = {k, 1, 0, buf, sizeof(buf)};
		assert_int_equal(store_append(f->s, &x, 1, NULL), 0);
	}
	/* And a reopen finds every entry intact. */
	fixture_open(f, &o);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, i + 9);
	for (uint64_t k = 1; k <= last; k += n) {
		get_all(f->s, k, last, &e, &n);
		for (size_t j = 0; j < n; j++) {
			assert_int_equal(e[j].index, k + j);
			assert_memory_equal(e[j].data, buf, sizeof(buf));
		}
		free(e);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(append_and_read),
	        T(conflicting_append_truncates),
	        T(bad_appends_refused),
	        T(truncate_suffix),
	        T(compaction_in_batches),
	        T(reset_for_snapshot),
	        T(map_grows_under_readers),
	        T(map_limit_gives_enospc),
	        T(disk_full_then_recovers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
