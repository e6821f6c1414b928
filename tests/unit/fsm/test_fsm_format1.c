/* test_fsm_format1.c: fsm_open converts a format-1 tree into exactly the tree format 2 makes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "helpers.h"
#include "quorumfs/errors.h"

#define ROOT FSM_ROOT_INO

static const char *const dbs[] = {"inodes", "dirents", "data", "sessions", "meta"};

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Format 1's bytes (docs/storage-format.md, "Format 1"), from a format-2
 * tree: 72-byte inode records, a regular file's contents as one value
 * under its bare inode key (absent when empty, zeros where format 2 has a
 * hole), 76-byte stored results, fsm.format 1. */
static void write_format1(struct tenv *from, MDB_env *to)
{
	MDB_txn *rt, *wt;
	assert_int_equal(mdb_txn_begin(from->env, NULL, MDB_RDONLY, &rt), 0);
	assert_int_equal(mdb_txn_begin(to, NULL, 0, &wt), 0);
	MDB_dbi in_inodes;
	assert_int_equal(mdb_dbi_open(rt, "inodes", 0, &in_inodes), 0);
	for (int d = 0; d < 5; d++) {
		MDB_dbi src, dst;
		MDB_cursor *cur;
		MDB_val k, v;
		assert_int_equal(mdb_dbi_open(rt, dbs[d], 0, &src), 0);
		assert_int_equal(mdb_dbi_open(wt, dbs[d], MDB_CREATE, &dst), 0);
		assert_int_equal(mdb_cursor_open(rt, src, &cur), 0);
		while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
			MDB_val nv = v;
			const uint8_t *kp = k.mv_data;
			if (d == 0) {
				assert_int_equal(v.mv_size, 88);
				nv.mv_size = 72;
				uint32_t mode = (uint32_t)(get64(v.mv_data) >> 32);
				uint64_t size = get64((const uint8_t *)v.mv_data + 16);
				if (S_ISREG(mode) && size > 0) {
					/* The whole contents, holes as zeros. */
					uint8_t *all = calloc(1, size);
					MDB_dbi data;
					MDB_cursor *bc;
					MDB_val bk, bv;
					uint8_t key[9];
					memcpy(key, kp, 8);
					key[8] = 1;
					assert_int_equal(mdb_dbi_open(rt, "data", 0, &data), 0);
					assert_int_equal(mdb_cursor_open(rt, data, &bc), 0);
					bk = (MDB_val){9, key};
					int rc = mdb_cursor_get(bc, &bk, &bv, MDB_SET_RANGE);
					for (; rc == 0 && bk.mv_size == 17 &&
					       memcmp(bk.mv_data, key, 9) == 0;
					     rc = mdb_cursor_get(bc, &bk, &bv, MDB_NEXT))
						memcpy(all + get64((const uint8_t *)bk.mv_data +
						                   9) * FSM_BLOCK_SIZE,
						       bv.mv_data, bv.mv_size);
					mdb_cursor_close(bc);
					MDB_dbi ddst;
					assert_int_equal(
					        mdb_dbi_open(wt, "data", MDB_CREATE, &ddst), 0);
					MDB_val ck = {8, (void *)kp}, cv = {size, all};
					assert_int_equal(mdb_put(wt, ddst, &ck, &cv, 0), 0);
					free(all);
				}
			}
			if (d == 2 && k.mv_size == 17 && kp[8] == 1)
				continue; /* blocks: written whole above */
			if (d == 3 && kp[0] == 0) {
				assert_int_equal(v.mv_size, 16 + 92);
				nv.mv_size = 16 + 76;
			}
			if (d == 4 && k.mv_size == 10 && memcmp(kp, "fsm.format", 10) == 0) {
				static const uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1};
				nv = (MDB_val){8, (void *)one};
			}
			assert_int_equal(mdb_put(wt, dst, &k, &nv, 0), 0);
		}
		mdb_cursor_close(cur);
	}
	/* Databases that later builds add when absent: empty here, so the
	 * digest (which walks them) can compare before and after an open. */
	static const char *const later[] = {"node_sessions", "locks", "ephemeral", "orphans"};
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		MDB_dbi dbi;
		assert_int_equal(mdb_dbi_open(wt, later[i], MDB_CREATE, &dbi), 0);
	}
	assert_int_equal(mdb_txn_commit(wt), 0);
	mdb_txn_abort(rt);
}

/* An env like tenv_open's, without an fsm yet. */
static void env_only(struct tenv *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/qfs-fsm-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(mdb_env_create(&t->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(t->env, 10), 0);
	assert_int_equal(mdb_env_set_mapsize(t->env, (size_t)1 << 30), 0);
	assert_int_equal(mdb_env_open(t->env, t->dir, MDB_NOSYNC | MDB_NOMETASYNC, 0600), 0);
}

/* A tree with every kind of record format 1 had: files (empty, small, over
 * many blocks), a symlink, a directory, xattrs, a session. */
static void build(struct tenv *a)
{
	static char big[3 * FSM_BLOCK_SIZE + 100];
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 23);
	assert_int_equal(t_create(a, ROOT, "small", 0, "hello"), 0);
	assert_int_equal(t_create(a, ROOT, "big", 0, big), 0);
	assert_int_equal(t_create(a, ROOT, "empty", 0, NULL), 0);
	assert_int_equal(t_mkdir(a, ROOT, "d"), 0);
	uint64_t d = a->res.attr.ino;
	assert_int_equal(t_symlink(a, d, "l", "../small"), 0);
	assert_int_equal(t_setxattr(a, ROOT, "user.k", "v", 0), 0);
	assert_int_equal(t_create(a, d, "sparse", 0, "x"), 0);
	/* A write across a block boundary. No hole: format 1 stored holes as
	 * zeros, which the conversion keeps as stored bytes, so a tree with
	 * holes converts to the same contents but not the same records. */
	static char across[FSM_BLOCK_SIZE * 2];
	memset(across, '0', sizeof(across) - 1);
	assert_int_equal(t_write(a, a->res.attr.ino, 1, across, 0), 0);
	struct wire_cmd c = {.type = WIRE_CMD_CREATE,
	                     .parent = ROOT,
	                     .name = "sess",
	                     .name_len = 4,
	                     .mode = 0600,
	                     .client_id = 7,
	                     .serial = 3,
	                     .data = "s",
	                     .data_len = 1};
	assert_int_equal(tenv_apply(a, &c), 0);
}

static void format1_tree_is_converted(void **state)
{
	(void)state;
	struct tenv a, b;
	tenv_open(&a, NULL, 0);
	build(&a);
	env_only(&b);
	write_format1(&a, b.env);
	assert_int_equal(fsm_open(b.env, NULL, &b.fsm), 0);
	b.index = a.index;
	b.clock = a.clock;

	/* Byte for byte the tree format 2 made; the session's stored result
	 * gains rdev and blocks as 0 (a format-1 build did not know them). */
	struct fsm_result dup;
	{
		struct wire_cmd c = {.type = WIRE_CMD_CREATE,
		                     .parent = ROOT,
		                     .name = "sess",
		                     .name_len = 4,
		                     .mode = 0600,
		                     .client_id = 7,
		                     .serial = 3,
		                     .data = "s",
		                     .data_len = 1};
		assert_int_equal(tenv_apply(&b, &c), 0);
		dup = b.res;
		assert_true(dup.duplicate);
		assert_int_equal(dup.attr.blocks, 0);
		c.time_ns = 0;
		assert_int_equal(tenv_apply(&a, &c), 0);
		assert_true(a.res.duplicate);
		assert_int_equal(a.res.attr.blocks, 1);
	}
	char *small = t_read(&b, t_lookup(&b, ROOT, "small"));
	assert_string_equal(small, "hello");
	free(small);
	char *s = t_read(&b, t_lookup(&b, ROOT, "big"));
	assert_int_equal(strlen(s), 3 * FSM_BLOCK_SIZE + 99);
	assert_int_equal(s[FSM_BLOCK_SIZE * 2 + 5], 'a' + (FSM_BLOCK_SIZE * 2 + 5) % 23);
	free(s);
	struct fsm_attr big = t_getattr(&b, t_lookup(&b, ROOT, "big"));
	assert_int_equal(big.blocks, t_getattr(&a, t_lookup(&a, ROOT, "big")).blocks);
	assert_int_equal(big.blocks, 3 * 8 + 1);
	char target[16];
	size_t n;
	assert_int_equal(fsm_readlink(b.fsm, NULL, t_lookup(&b, t_lookup(&b, ROOT, "d"), "l"),
	                              target, sizeof(target), &n),
	                 0);
	assert_int_equal(n, 8);
	struct fsm_statfs sa, sb;
	assert_int_equal(fsm_statfs(a.fsm, NULL, &sa), 0);
	assert_int_equal(fsm_statfs(b.fsm, NULL, &sb), 0);
	assert_true(sa.bytes == sb.bytes && sa.files == sb.files);

	/* The same later commands give the same tree on both (client 7's next
	 * command replaces the stored results that differ in blocks). */
	for (struct tenv *t = &a; t; t = t == &a ? &b : NULL) {
		assert_int_equal(t_unlink(t, ROOT, "sess"), 0);
		struct wire_cmd c = {.type = WIRE_CMD_UNLINK,
		                     .parent = ROOT,
		                     .name = "x",
		                     .name_len = 1,
		                     .client_id = 7,
		                     .serial = 4};
		assert_int_equal(tenv_apply(t, &c), -ENOENT);
		assert_int_equal(t_write(t, t_lookup(t, ROOT, "big"), 5, "XYZ", 0), 0);
	}
	tenv_assert_same(&a, &b);
	/* Opening again finds format 2 and changes nothing. */
	uint32_t before = tenv_digest(&b);
	struct fsm *again;
	assert_int_equal(fsm_open(b.env, NULL, &again), 0);
	fsm_close(again);
	assert_int_equal(tenv_digest(&b), before);
	tenv_close(&a);
	tenv_close(&b);
}

/* A format-1 tree that does not hold together is refused, and left as it
 * was: the conversion is one transaction. */
static void broken_format1_tree_is_refused_unchanged(void **state)
{
	(void)state;
	struct tenv a, b;
	MDB_txn *txn;
	MDB_dbi data;
	struct fsm *f;
	tenv_open(&a, NULL, 0);
	build(&a);
	env_only(&b);
	write_format1(&a, b.env);
	/* The small file's contents one byte short of its size. */
	uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 2};
	MDB_val k = {8, key}, v = {4, "hell"};
	assert_int_equal(mdb_txn_begin(b.env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "data", 0, &data), 0);
	assert_int_equal(mdb_put(txn, data, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	uint32_t before = tenv_digest(&b);
	assert_int_equal(fsm_open(b.env, NULL, &f), QFS_ECORRUPT);
	assert_int_equal(tenv_digest(&b), before);
	tenv_close(&a);
	tenv_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(format1_tree_is_converted),
	        cmocka_unit_test(broken_format1_tree_is_refused_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
