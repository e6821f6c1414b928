/* test_fsm_snapshot.c: snapshot stream and install: round trips, chunking, damage refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "quorumfs/errors.h"

#define ROOT FSM_ROOT_INO

/* A tree with something of every kind: files small and large, a hard
 * link, directories, a symlink, xattrs, sessions. */
static void build(struct tenv *t)
{
	static char big[1 << 20];
	struct wire_cmd c = {.type = WIRE_CMD_CREATE,
	                     .parent = ROOT,
	                     .name = "big",
	                     .name_len = 3,
	                     .data = big,
	                     .data_len = sizeof(big),
	                     .client_id = 4,
	                     .serial = 1};
	uint64_t d, f;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 31 + i / 4096);
	assert_int_equal(tenv_apply(t, &c), 0);
	assert_int_equal(t_mkdir(t, ROOT, "etc"), 0);
	d = t->res.attr.ino;
	assert_int_equal(t_create(t, d, "hosts", 0, "127.0.0.1 localhost\n"), 0);
	f = t->res.attr.ino;
	assert_int_equal(t_link(t, f, ROOT, "hosts.link"), 0);
	assert_int_equal(t_symlink(t, ROOT, "h", "etc/hosts"), 0);
	assert_int_equal(t_setxattr(t, f, "user.mime", "text/plain", 0), 0);
	assert_int_equal(t_setxattr(t, d, "user.owner", "ops", 0), 0);
	assert_int_equal(t_mkdir(t, d, "empty"), 0);
	for (int i = 0; i < 50; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%02d", i);
		assert_int_equal(t_create(t, d, name, 0, name), 0);
	}
	c = (struct wire_cmd){.type = WIRE_CMD_UNLINK,
	                      .parent = d,
	                      .name = "f07",
	                      .name_len = 3,
	                      .client_id = 5,
	                      .serial = 9};
	assert_int_equal(tenv_apply(t, &c), 0);
}

/* The whole stream, taken in chunks of at most @chunk bytes. */
static uint8_t *stream(struct tenv *t, MDB_txn *txn, size_t chunk, size_t *len)
{
	struct fsm_snapshot *s;
	uint8_t *buf = malloc(chunk), *all = NULL;
	size_t n = 0, got, cap = 0;
	uint64_t applied;
	bool done = false;

	assert_int_equal(fsm_snapshot_begin(t->fsm, txn, &s, &applied), 0);
	if (txn == NULL)
		assert_int_equal(applied, t->index);
	while (!done) {
		assert_int_equal(fsm_snapshot_next_chunk(s, buf, chunk, &got, &done), 0);
		assert_true(got <= chunk);
		assert_true(got > 0 || done);
		if (n + got + 1 > cap) {
			cap = 2 * (n + got + 1);
			all = realloc(all, cap);
		}
		memcpy(all + n, buf, got);
		n += got;
	}
	/* After the end: nothing more. */
	assert_int_equal(fsm_snapshot_next_chunk(s, buf, chunk, &got, &done), 0);
	assert_true(got == 0 && done);
	fsm_snapshot_end(s);
	free(buf);
	*len = n;
	return all;
}

struct mem {
	const uint8_t *p;
	size_t n, step;
};

/* Gives at most @step bytes per call, as a network would. */
static long mem_read(void *arg, void *buf, size_t cap, uint64_t off)
{
	struct mem *m = arg;
	size_t k = off < m->n ? m->n - (size_t)off : 0;
	if (k > cap)
		k = cap;
	if (k > m->step)
		k = m->step;
	memcpy(buf, m->p + off, k);
	return (long)k;
}

static int install(struct tenv *t, const uint8_t *p, size_t n, size_t step, uint64_t *applied)
{
	struct mem m = {p, n, step};
	MDB_txn *txn;
	int rc;
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	rc = fsm_snapshot_install(t->fsm, txn, mem_read, &m, applied);
	if (rc == 0)
		assert_int_equal(mdb_txn_commit(txn), 0);
	else
		mdb_txn_abort(txn);
	return rc;
}

/* A key of src/store's in "meta", which an install must leave alone. */
static void put_store_key(struct tenv *t)
{
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k = {4, "term"}, v = {3, "abc"};
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static int has_store_key(struct tenv *t)
{
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k = {4, "term"}, v;
	int rc;
	assert_int_equal(mdb_txn_begin(t->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	rc = mdb_get(txn, meta, &k, &v);
	mdb_txn_abort(txn);
	return rc == 0 && v.mv_size == 3 && memcmp(v.mv_data, "abc", 3) == 0;
}

static void roundtrip(void **state)
{
	struct tenv a, b;
	uint8_t *s1, *s2, *s3;
	size_t n1, n2, n3;
	uint64_t applied = 0;
	(void)state;

	tenv_open(&a, NULL, 0);
	tenv_open(&b, NULL, 0);
	build(&a);
	put_store_key(&a);
	/* Chunk size changes the chunks, never the bytes. */
	s1 = stream(&a, NULL, 1 << 20, &n1);
	s2 = stream(&a, NULL, 7, &n2);
	s3 = stream(&a, NULL, 1, &n3);
	assert_true(n1 == n2 && n1 == n3);
	assert_memory_equal(s1, s2, n1);
	assert_memory_equal(s1, s3, n1);
	assert_memory_equal(s1, "qfstree\0", 8);

	/* B has a tree of its own, and a store key: after the install the
	 * tree is A's, exactly, and the store key is still there. */
	assert_int_equal(t_mkdir(&b, ROOT, "leftover"), 0);
	put_store_key(&b);
	assert_int_equal(install(&b, s1, n1, 3000, &applied), 0);
	assert_int_equal(applied, a.index);
	tenv_assert_same(&a, &b);
	assert_true(has_store_key(&b));
	assert_int_equal(t_lookup(&b, ROOT, "leftover"), 0);

	/* Both go on from there alike. */
	b.index = a.index;
	b.clock = a.clock;
	assert_int_equal(t_create(&a, ROOT, "next", 0, "n"), 0);
	assert_int_equal(t_create(&b, ROOT, "next", 0, "n"), 0);
	tenv_assert_same(&a, &b);

	/* And the snapshot of B is byte for byte the snapshot of A. */
	free(s2);
	free(s3);
	s2 = stream(&a, NULL, 4096, &n2);
	s3 = stream(&b, NULL, 4096, &n3);
	assert_int_equal(n2, n3);
	assert_memory_equal(s2, s3, n2);
	free(s1);
	free(s2);
	free(s3);
	tenv_close(&a);
	tenv_close(&b);
}

/* Any damaged byte, any truncation, anything appended: refused, and the
 * tree the caller had is still there after the abort. */
static void damage_is_refused(void **state)
{
	struct tenv a, b;
	uint8_t *s, *m;
	size_t n;
	uint32_t before;
	(void)state;

	tenv_open(&a, NULL, 0);
	tenv_open(&b, NULL, 0);
	build(&a);
	s = stream(&a, NULL, 65536, &n);
	m = malloc(n + 1);
	assert_int_equal(t_mkdir(&b, ROOT, "mine"), 0);
	before = tenv_digest(&b);

	/* Flip one bit at positions spread over the whole stream. */
	for (size_t pos = 0; pos < n; pos += 1 + pos / 3) {
		int rc;
		memcpy(m, s, n);
		m[pos] ^= 0x10;
		rc = install(&b, m, n, n, NULL);
		assert_true(rc == QFS_ECORRUPT || rc == QFS_EFORMAT);
	}
	memcpy(m, s, n);
	m[n - 1] ^= 1; /* the CRC itself */
	assert_int_equal(install(&b, m, n, n, NULL), QFS_ECORRUPT);
	memcpy(m, s, n);
	m[9] ^= 0x01; /* the format version */
	assert_int_equal(install(&b, m, n, n, NULL), QFS_EFORMAT);
	for (size_t cut = 0; cut < n; cut += 1 + cut / 2)
		assert_int_equal(install(&b, s, cut, n, NULL), QFS_ECORRUPT);
	assert_int_equal(install(&b, s, n - 1, n, NULL), QFS_ECORRUPT);
	memcpy(m, s, n);
	m[n] = 0;
	assert_int_equal(install(&b, m, n + 1, n, NULL), QFS_ECORRUPT);
	assert_string_not_equal(fsm_errmsg(b.fsm), "");

	assert_int_equal(tenv_digest(&b), before);
	assert_int_equal(t_lookup(&b, ROOT, "mine") != 0, 1);
	free(s);
	free(m);
	tenv_close(&a);
	tenv_close(&b);
}

/* A declared value length beyond the bound is refused before any
 * allocation or reservation. */
static void huge_lengths_are_refused(void **state)
{
	struct tenv b;
	uint8_t s[24 + 7 + 8] = "qfstree";
	(void)state;
	s[11] = FSM_FORMAT_VERSION;
	s[24] = 1; /* an inodes record */
	s[26] = 8; /* key length 8 */
	s[27] = 0xff;
	s[28] = 0xff;
	s[29] = 0xff;
	s[30] = 0xff; /* value length 4 GiB - 1 */
	tenv_open(&b, NULL, 0);
	assert_int_equal(install(&b, s, sizeof(s), sizeof(s), NULL), QFS_ECORRUPT);
	s[26] = 0x02; /* key length 512 + 8 */
	s[25] = 0x02;
	assert_int_equal(install(&b, s, sizeof(s), sizeof(s), NULL), QFS_ECORRUPT);
	tenv_close(&b);
}

/* The staging-file path: chunks written to a file as they come, verified,
 * then installed in one transaction. */
static void install_from_file(void **state)
{
	struct tenv a, b;
	char path[] = "/tmp/qfs-snap-XXXXXX";
	uint8_t *s;
	size_t n;
	uint64_t applied = 0;
	MDB_txn *txn;
	int fd;
	(void)state;

	tenv_open(&a, NULL, 0);
	tenv_open(&b, NULL, 0);
	build(&a);
	s = stream(&a, NULL, 65536, &n);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, s, n), (ssize_t)n);
	assert_int_equal(fsm_snapshot_verify_fd(fd, &applied), 0);
	assert_int_equal(applied, a.index);
	assert_int_equal(mdb_txn_begin(b.env, NULL, 0, &txn), 0);
	assert_int_equal(fsm_snapshot_install_fd(b.fsm, txn, fd, &applied), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	tenv_assert_same(&a, &b);
	/* Sessions travel with the tree: a submit the snapshot applied is
	 * answered from them on the installing node. */
	uint64_t serial = 0;
	struct fsm_result res;
	bool found = false;
	assert_int_equal(fsm_session_get(b.fsm, NULL, 4, &serial, &res, &found), 0);
	assert_true(found);
	assert_int_equal(serial, 1);

	/* A damaged file fails verification; install never starts. */
	s[n / 2] ^= 0x40;
	assert_int_equal(pwrite(fd, s, n, 0), (ssize_t)n);
	assert_int_equal(fsm_snapshot_verify_fd(fd, NULL), QFS_ECORRUPT);
	/* ... and says which check failed, for the node's log line. */
	const char *why = NULL;
	assert_int_equal(fsm_snapshot_check_fd(fd, NULL, &why), QFS_ECORRUPT);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
	assert_int_equal(mdb_txn_begin(b.env, NULL, 0, &txn), 0);
	assert_int_equal(fsm_snapshot_install_fd(b.fsm, txn, fd, NULL), QFS_ECORRUPT);
	mdb_txn_abort(txn);
	tenv_assert_same(&a, &b);
	close(fd);
	free(s);
	tenv_close(&a);
	tenv_close(&b);
}

/* A snapshot is the tree as of its read transaction: later applies do not
 * leak into a stream already begun. */
static void snapshot_is_consistent(void **state)
{
	struct tenv a, b, c;
	struct fsm_snapshot *s;
	uint8_t *bytes = NULL, buf[4096];
	size_t n = 0, got;
	bool done = false;
	int i = 0;
	(void)state;

	tenv_open(&a, NULL, 0);
	tenv_open(&b, NULL, 0);
	tenv_open(&c, NULL, 0);
	build(&a);
	build(&c); /* c stays at the snapshot's point */
	assert_int_equal(fsm_snapshot_begin(a.fsm, NULL, &s, NULL), 0);
	while (!done) {
		char name[16];
		assert_int_equal(fsm_snapshot_next_chunk(s, buf, sizeof(buf), &got, &done), 0);
		bytes = realloc(bytes, n + got);
		memcpy(bytes + n, buf, got);
		n += got;
		/* Changes between chunks, including to what is being read. */
		snprintf(name, sizeof(name), "late%d", i++);
		assert_int_equal(t_create(&a, ROOT, name, 0, "x"), 0);
		assert_int_equal(t_write(&a, 2, 0, "overwritten", WIRE_WRITE_TRUNCATE), 0);
	}
	fsm_snapshot_end(s);
	assert_int_equal(install(&b, bytes, n, n, NULL), 0);
	tenv_assert_same(&b, &c);
	free(bytes);
	tenv_close(&a);
	tenv_close(&b);
	tenv_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(roundtrip),
	        cmocka_unit_test(damage_is_refused),
	        cmocka_unit_test(huge_lengths_are_refused),
	        cmocka_unit_test(install_from_file),
	        cmocka_unit_test(snapshot_is_consistent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
