/* test_store_wal.c: the write-ahead log's files: torn tails cut, damage refused, segments, format 1. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"

/* The newest segment file of the store in @dir, into @path. */
static int last_segment(const char *dir, char *path, size_t len, int *count)
{
	char wal[500], best[64] = "";
	snprintf(wal, sizeof(wal), "%s/wal", dir);
	DIR *d = opendir(wal);
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 4 || strcmp(de->d_name + l - 4, ".seg") != 0)
			continue;
		n++;
		if (strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	if (count)
		*count = n;
	snprintf(path, len, "%s/%s", wal, best);
	return n > 0 ? 0 : -ENOENT;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	unsigned char *b = malloc((size_t)st.st_size);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static void put_bytes(const char *path, size_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
	close(fd);
}

/* Where the written batches end in segment @b of @len bytes. */
static size_t used_end(const unsigned char *b, size_t len)
{
	while (len > 0 && b[len - 1] == 0)
		len--;
	return len;
}

/* A crash that put down only the first half of the last batch: the batch is
 * found and cut, its entry never read, and the log goes on from there. */
static void torn_tail_is_cut(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_entry *e;
	uint64_t first, last;
	char seg[600];
	size_t n, len;

	fixture_open(f, &o);
	for (uint64_t i = 1; i <= 10; i++)
		append_range(f->s, i, i, 1, 100);
	append_range(f->s, 11, 11, 1, 3000);
	fixture_close(f);
	assert_int_equal(last_segment(f->dir, seg, sizeof(seg), NULL), 0);
	unsigned char *b = slurp(seg, &len);
	size_t end = used_end(b, len);
	static const unsigned char zeros[1500];
	put_bytes(seg, end - sizeof(zeros), zeros, sizeof(zeros)); /* the second half lost */
	free(b);

	fixture_open(f, &o);
	struct store_info info;
	assert_int_equal(store_info(f->s, &info), 0);
	assert_int_equal(info.log_cut_segment, 1);
	assert_true(info.log_cut_offset > 32 && info.log_cut_offset < end);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 10);
	assert_int_equal(store_log_get(f->s, 11, 11, SIZE_MAX, &e, &n), -ENOENT);
	assert_int_equal(store_log_get(f->s, 1, 10, SIZE_MAX, &e, &n), 0);
	for (size_t i = 0; i < n; i++)
		check_entry(&e[i], i + 1, 1, 100);
	free(e);
	/* The same index written again, and kept over a reopen. */
	append_range(f->s, 11, 12, 2, 50);
	fixture_open(f, &o);
	assert_int_equal(store_info(f->s, &info), 0);
	assert_int_equal(info.log_cut_segment, 0); /* a clean open finds nothing */
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 12);
	assert_int_equal(store_log_get(f->s, 11, 12, SIZE_MAX, &e, &n), 0);
	check_entry(&e[0], 11, 2, 50);
	check_entry(&e[1], 12, 2, 50);
	free(e);

	/* Garbage after the end (a batch whose header never made it, its
	 * body did) is cut too. */
	fixture_close(f);
	b = slurp(seg, &len);
	end = (used_end(b, len) + 7) & ~(size_t)7;
	free(b);
	put_bytes(seg, end + 40, "garbage that verifies nothing", 29);
	fixture_open(f, &o);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 12);
	append_range(f->s, 13, 13, 2, 0);
	fixture_open(f, &o);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(last, 13);
}

/* One flipped bit in a batch that later batches say was on disk: the store
 * refuses to open (the node neither votes nor leads), and says where. */
static void damage_before_the_tail_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store *s = NULL;
	char seg[600], err[300];
	size_t len;

	fixture_open(f, &o);
	for (uint64_t i = 1; i <= 10; i++)
		append_range(f->s, i, i, 1, 100);
	fixture_close(f);
	assert_int_equal(last_segment(f->dir, seg, sizeof(seg), NULL), 0);
	unsigned char *b = slurp(seg, &len);
	unsigned char *hit = memmem(b, len, "entry 3", 7);
	assert_non_null(hit);
	unsigned char c = (unsigned char)(*hit ^ 0x04);
	put_bytes(seg, (size_t)(hit - b), &c, 1);
	free(b);
	assert_int_equal(store_open(f->dir, &o, &s, err, sizeof(err)), QFS_ECORRUPT);
	assert_null(s);
	assert_non_null(strstr(err, "the log is damaged"));
}

/* Damage in a segment before the last is never a tear. */
static void damage_in_an_older_segment_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store *s = NULL;
	char path[600], err[300];
	int count;
	size_t len;

	o.wal_segment_bytes = 4096;
	fixture_open(f, &o);
	for (uint64_t i = 1; i <= 60; i++)
		append_range(f->s, i, i, 1, 200);
	fixture_close(f);
	assert_int_equal(last_segment(f->dir, path, sizeof(path), &count), 0);
	assert_true(count >= 3);
	snprintf(path, sizeof(path), "%s/wal/%016x.seg", f->dir, 1);
	unsigned char *b = slurp(path, &len);
	size_t end = used_end(b, len);
	free(b);
	static const unsigned char zeros[64];
	put_bytes(path, end - 64, zeros, sizeof(zeros));
	assert_int_equal(store_open(f->dir, &o, &s, err, sizeof(err)), QFS_ECORRUPT);
	assert_non_null(strstr(err, "later segments exist"));
	/* A segment missing in the middle too. */
	snprintf(path, sizeof(path), "%s/wal/%016x.seg", f->dir, 2);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_open(f->dir, &o, &s, err, sizeof(err)), QFS_ECORRUPT);
	assert_non_null(strstr(err, "is missing"));
}

/* Batches roll over into new segments; compaction deletes the old ones
 * whole, and a reopen finds the log where it was. */
static void segments_roll_and_compaction_deletes(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_entry *e;
	uint64_t first, last, term;
	char path[600];
	int before, after;
	size_t n;

	o.wal_segment_bytes = 4096;
	fixture_open(f, &o);
	for (uint64_t i = 1; i <= 200; i += 4)
		append_range(f->s, i, i + 3, 1 + i / 50, 100);
	assert_int_equal(last_segment(f->dir, path, sizeof(path), &before), 0);
	assert_true(before > 5);
	assert_int_equal(store_log_compact(f->s, 150), 0);
	assert_int_equal(last_segment(f->dir, path, sizeof(path), &after), 0);
	assert_true(after < before);
	assert_true(after >= 1);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 151);
	fixture_open(f, &o);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 151);
	assert_int_equal(last, 200);
	assert_int_equal(store_log_term(f->s, 150, &term), 0);
	assert_int_equal(term, 1 + 149 / 50);
	assert_int_equal(store_log_get(f->s, 151, 200, SIZE_MAX, &e, &n), 0);
	assert_int_equal(n, 50);
	for (size_t i = 0; i < n; i++)
		check_entry(&e[i], 151 + i, 1 + (151 + i - (151 + i - 1) % 4) / 50, 100);
	free(e);
	/* A conflicting tail replaced across a segment boundary, then a
	 * compaction to the end: one segment stays, the log is empty. */
	append_range(f->s, 180, 190, 9, 300);
	assert_int_equal(store_log_compact(f->s, 190), 0);
	assert_int_equal(last_segment(f->dir, path, sizeof(path), &after), 0);
	assert_int_equal(after, 1);
	fixture_open(f, &o);
	assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
	assert_int_equal(first, 191);
	assert_int_equal(last, 190);
	assert_int_equal(store_log_term(f->s, 190, &term), 0);
	assert_int_equal(term, 9);
}

/* The hard state is in the log: the last one written is the one read. */
static void hard_state_survives_rollover(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_hard_state hs = {0}, got;

	o.wal_segment_bytes = 4096;
	fixture_open(f, &o);
	for (uint64_t t = 1; t <= 300; t++) {
		hs = (struct store_hard_state){t, t % 3, t * 2};
		assert_int_equal(store_hard_state_put(f->s, &hs), 0);
	}
	append_range(f->s, 1, 40, 300, 200);
	assert_int_equal(store_log_compact(f->s, 40), 0);
	fixture_open(f, &o);
	assert_int_equal(store_hard_state_get(f->s, &got), 0);
	assert_memory_equal(&got, &hs, sizeof(hs));
}

/* ---- format 1 ---- */

static void seal(const char *key, unsigned char *rec, size_t len)
{
	uint32_t c = qfs_crc32c(qfs_crc32c(0, key, strlen(key)), rec, len - 4);
	rec[len - 4] = (unsigned char)(c >> 24);
	rec[len - 3] = (unsigned char)(c >> 16);
	rec[len - 2] = (unsigned char)(c >> 8);
	rec[len - 1] = (unsigned char)c;
}

static void be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void put_v1_meta(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
	unsigned char fmt[4] = {0, 0, 0, 1}, hs[28] = {0}, base[20] = {0};
	MDB_val k = {12, "store.format"}, v = {4, fmt};
	(void)arg;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	be(hs, 7, 8);
	be(hs + 8, 2, 8);
	be(hs + 16, 25, 8);
	seal("store.hard_state", hs, sizeof(hs));
	k = (MDB_val){16, "store.hard_state"};
	v = (MDB_val){sizeof(hs), hs};
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	be(base, 20, 8);
	be(base + 8, 6, 8);
	seal("store.log_base", base, sizeof(base));
	k = (MDB_val){14, "store.log_base"};
	v = (MDB_val){sizeof(base), base};
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
}

/* Entries 21..30 of term 7 as format 1 kept them. */
static void put_v1_log(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
	int *bad = arg;
	for (uint64_t i = 21; i <= 30; i++) {
		unsigned char key[8], val[20 + 64];
		char data[64];
		size_t len = (size_t)snprintf(data, sizeof(data), "entry %llu", (unsigned long long)i);
		be(key, i, 8);
		be(val, 7, 8);
		be(val + 8, len, 4);
		val[12] = (unsigned char)(i % 3);
		val[13] = val[14] = val[15] = 0;
		memcpy(val + 20, data, len);
		uint32_t c = qfs_crc32c(qfs_crc32c(qfs_crc32c(0, key, 8), val, 16), data, len);
		be(val + 16, c, 4);
		if (*bad && i == 25)
			val[21] ^= 1;
		MDB_val k = {8, key}, v = {20 + len, val};
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
}

static void make_v1(struct fixture *f, int bad)
{
	struct store_options o = test_opts();
	fixture_open(f, &o);
	fixture_close(f);
	char wal[500];
	snprintf(wal, sizeof(wal), "%s/wal", f->dir);
	assert_int_equal(rm_rf(wal), 0); /* format 1 had none */
	raw_edit(f->dir, "meta", put_v1_meta, NULL);
	raw_edit(f->dir, "log", put_v1_log, &bad);
}

/* A directory of the old format (log in LMDB) is converted at open: the
 * same entries, base and hard state, then format 2. */
static void format1_converted_at_open(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_hard_state hs;
	struct store_info info;
	struct store_entry *e;
	uint64_t first, last, term;
	char err[300];
	size_t n;

	make_v1(f, 0);
	assert_int_equal(store_peek(f->dir, &info, err, sizeof(err)), 0);
	assert_int_equal(info.format, 1);
	for (int round = 0; round < 2; round++) {
		fixture_open(f, &o);
		assert_int_equal(store_info(f->s, &info), 0);
		assert_int_equal(info.converted_format1, round == 0);
		assert_int_equal(store_hard_state_get(f->s, &hs), 0);
		assert_int_equal(hs.term, 7);
		assert_int_equal(hs.vote, 2);
		assert_int_equal(hs.commit, 25);
		assert_int_equal(store_log_bounds(f->s, &first, &last), 0);
		assert_int_equal(first, 21);
		assert_int_equal(last, 30);
		assert_int_equal(store_log_term(f->s, 20, &term), 0);
		assert_int_equal(term, 6);
		assert_int_equal(store_log_get(f->s, 21, 30, SIZE_MAX, &e, &n), 0);
		assert_int_equal(n, 10);
		for (size_t i = 0; i < n; i++)
			check_entry(&e[i], 21 + i, 7, 0);
		free(e);
		fixture_close(f);
		assert_int_equal(store_peek(f->dir, &info, err, sizeof(err)), 0);
		assert_int_equal(info.format, 2);
	}
}

/* A damaged format-1 log is refused, and the directory stays format 1. */
static void format1_damage_refused(void **state)
{
	struct fixture *f = *state;
	struct store_options o = test_opts();
	struct store_info info;
	struct store *s = NULL;
	char err[300];

	make_v1(f, 1);
	assert_int_equal(store_open(f->dir, &o, &s, err, sizeof(err)), QFS_ECORRUPT);
	assert_non_null(strstr(err, "format-1 log entry 25"));
	assert_int_equal(store_peek(f->dir, &info, err, sizeof(err)), 0);
	assert_int_equal(info.format, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(torn_tail_is_cut),
	        T(damage_before_the_tail_refused),
	        T(damage_in_an_older_segment_refused),
	        T(segments_roll_and_compaction_deletes),
	        T(hard_state_survives_rollover),
	        T(format1_converted_at_open),
	        T(format1_damage_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
