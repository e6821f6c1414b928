/* test_fsm_orphans.c: unlinked files wait for every member's release; removed members never block.
 */
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

static const uint64_t three[] = {3, 1, 2};

static uint64_t bytes(struct tenv *t)
{
	struct fsm_statfs st;
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	return st.bytes;
}

static size_t holders(struct tenv *t, uint64_t ino, uint64_t *ids)
{
	size_t n = 0;
	int rc = fsm_orphan_holders(t->fsm, NULL, ino, ids, 8, &n);
	return rc == -ENOENT ? 0 : (assert_int_equal(rc, 0), n);
}

/* A file unlinked while the members may hold it: no name, but readable
 * and writable by number until the last of them releases it. */
static void unlinked_file_waits_for_every_member(void **state)
{
	struct tenv *t = *state;
	uint64_t ids[8], f;
	char buf[16];
	size_t n;

	assert_int_equal(t_conf(t, three, 3), 0);
	assert_int_equal(t_create(t, ROOT, "tmp", 0, "scratch"), 0);
	f = t->res.attr.ino;
	assert_int_equal(t_unlink(t, ROOT, "tmp"), 0);
	assert_int_equal(t->res.attr.nlink, 0);
	assert_int_equal(t_lookup(t, ROOT, "tmp"), 0);
	assert_int_equal(holders(t, f, ids), 3);
	assert_true(ids[0] == 1 && ids[1] == 2 && ids[2] == 3);
	/* By number: attributes, reads, writes, truncation. */
	assert_int_equal(t_getattr(t, f).nlink, 0);
	struct wire_cmd_extent e = {7, "!", 1};
	assert_int_equal(t_writev(t, f, 0, 0, &e, 1), 0);
	assert_int_equal(fsm_read(t->fsm, NULL, f, 0, sizeof(buf), buf, &n), 0);
	assert_true(n == 8 && memcmp(buf, "scratch!", 8) == 0);
	assert_int_equal(bytes(t), 8);
	/* It cannot get a name back (linkat of an unlinked file: ENOENT). */
	assert_int_equal(t_link(t, f, ROOT, "again"), -ENOENT);

	uint64_t one = f;
	assert_int_equal(t_release(t, 2, &one, 1), 0);
	assert_int_equal(t_release(t, 2, &one, 1), 0); /* twice: ignored */
	assert_int_equal(t_release(t, 9, &one, 1), 0); /* not a holder: ignored */
	assert_int_equal(holders(t, f, ids), 2);
	assert_int_equal(t_release(t, 1, &one, 1), 0);
	assert_int_equal(t_getattr(t, f).size, 8); /* node 3 still holds it */
	assert_int_equal(t_release(t, 3, &one, 1), 0);
	struct fsm_attr a;
	assert_int_equal(fsm_getattr(t->fsm, NULL, f, &a), -ENOENT);
	assert_int_equal(holders(t, f, ids), 0);
	assert_int_equal(bytes(t), 0);
}

/* A rename over a file orphans the replaced one; other kinds of inode and
 * files with names left go as before. */
static void rename_over_and_other_types(void **state)
{
	struct tenv *t = *state;
	uint64_t ids[8];

	assert_int_equal(t_conf(t, three, 3), 0);
	assert_int_equal(t_create(t, ROOT, "old", 0, "old contents"), 0);
	uint64_t old = t->res.attr.ino;
	assert_int_equal(t_create(t, ROOT, "new", 0, "new"), 0);
	assert_int_equal(t_rename(t, ROOT, "new", ROOT, "old", 0), 0);
	assert_int_equal(holders(t, old, ids), 3);
	assert_int_equal(t_getattr(t, old).size, 12);
	/* Two names: the first unlink leaves no orphan. */
	assert_int_equal(t_create(t, ROOT, "a", 0, "x"), 0);
	uint64_t a = t->res.attr.ino;
	assert_int_equal(t_link(t, a, ROOT, "b"), 0);
	assert_int_equal(t_unlink(t, ROOT, "a"), 0);
	assert_int_equal(holders(t, a, ids), 0);
	/* A symlink or a FIFO has nothing to keep open in the tree. */
	assert_int_equal(t_symlink(t, ROOT, "l", "target"), 0);
	uint64_t l = t->res.attr.ino;
	assert_int_equal(t_unlink(t, ROOT, "l"), 0);
	struct fsm_attr at;
	assert_int_equal(fsm_getattr(t->fsm, NULL, l, &at), -ENOENT);
	assert_int_equal(t_mknod(t, ROOT, "p", S_IFIFO | 0600, 0), 0);
	uint64_t p = t->res.attr.ino;
	assert_int_equal(t_unlink(t, ROOT, "p"), 0);
	assert_int_equal(fsm_getattr(t->fsm, NULL, p, &at), -ENOENT);

	uint64_t list[8], after = 0;
	size_t n;
	assert_int_equal(fsm_orphans_held(t->fsm, NULL, 2, after, list, 8, &n), 0);
	assert_true(n == 1 && list[0] == old);
	assert_int_equal(fsm_orphans_held(t->fsm, NULL, 7, after, list, 8, &n), 0);
	assert_int_equal(n, 0);
}

/* A member removed from the configuration is dropped from every holder set
 * at that entry: nothing waits for a node that is gone. */
static void removed_member_never_blocks(void **state)
{
	struct tenv *t = *state;
	uint64_t ids[8], f, g;
	static const uint64_t two[] = {1, 3}, four[] = {1, 3, 4};

	assert_int_equal(t_conf(t, three, 3), 0);
	assert_int_equal(t_create(t, ROOT, "f", 0, "f"), 0);
	f = t->res.attr.ino;
	assert_int_equal(t_create(t, ROOT, "g", 0, "g"), 0);
	g = t->res.attr.ino;
	assert_int_equal(t_unlink(t, ROOT, "f"), 0);
	assert_int_equal(t_unlink(t, ROOT, "g"), 0);
	uint64_t both[] = {f, g};
	assert_int_equal(t_release(t, 1, both, 2), 0);
	assert_int_equal(t_release(t, 3, &g, 1), 0);
	/* g waits for 2 only; f for 2 and 3. Node 2 leaves: g is freed, f
	 * waits for 3. */
	assert_int_equal(t_conf(t, two, 2), 0);
	struct fsm_attr a;
	assert_int_equal(fsm_getattr(t->fsm, NULL, g, &a), -ENOENT);
	assert_int_equal(holders(t, f, ids), 1);
	assert_int_equal(ids[0], 3);
	/* A member added later holds only what is unlinked after it joined. */
	assert_int_equal(t_conf(t, four, 3), 0);
	assert_int_equal(holders(t, f, ids), 1);
	assert_int_equal(t_release(t, 3, &f, 1), 0);
	assert_int_equal(fsm_getattr(t->fsm, NULL, f, &a), -ENOENT);
	assert_int_equal(bytes(t), 0);
	static uint64_t many[FSM_MEMBERS_MAX + 1];
	assert_int_equal(t_conf(t, many, FSM_MEMBERS_MAX + 1), -EINVAL);
}

/* Without a configuration the tree has nobody to wait for. */
static void without_configuration_unlink_frees(void **state)
{
	struct tenv *t = *state;
	struct fsm_attr a;
	assert_int_equal(t_create(t, ROOT, "f", 0, "x"), 0);
	uint64_t f = t->res.attr.ino;
	assert_int_equal(t_unlink(t, ROOT, "f"), 0);
	assert_int_equal(fsm_getattr(t->fsm, NULL, f, &a), -ENOENT);
}

/* Orphans and the members travel in snapshots. */
static long mem_read(void *arg, void *buf, size_t cap, uint64_t off)
{
	uint8_t **p = arg;
	size_t len = (size_t)(p[1] - p[0]);
	size_t k = off < len ? len - (size_t)off : 0;
	if (k > cap)
		k = cap;
	memcpy(buf, p[0] + off, k);
	return (long)k;
}

static void orphans_travel_in_snapshots(void **state)
{
	struct tenv *t = *state, b;
	struct fsm_snapshot *s;
	static uint8_t snap[1 << 16];
	size_t len = 0, got;
	bool done = false;
	uint64_t ids[8];
	MDB_txn *txn;

	assert_int_equal(t_conf(t, three, 3), 0);
	assert_int_equal(t_create(t, ROOT, "f", 0, "kept"), 0);
	uint64_t f = t->res.attr.ino;
	assert_int_equal(t_unlink(t, ROOT, "f"), 0);
	assert_int_equal(fsm_snapshot_begin(t->fsm, NULL, &s, NULL), 0);
	while (!done) {
		assert_int_equal(
		        fsm_snapshot_next_chunk(s, snap + len, sizeof(snap) - len, &got, &done), 0);
		len += got;
	}
	fsm_snapshot_end(s);
	tenv_open(&b, NULL, 0);
	uint8_t *cur[2] = {snap, snap + len};
	assert_int_equal(mdb_txn_begin(b.env, NULL, 0, &txn), 0);
	assert_int_equal(fsm_snapshot_install(b.fsm, txn, mem_read, cur, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	tenv_assert_same(t, &b);
	assert_int_equal(holders(&b, f, ids), 3);
	b.index = t->index;
	/* The members came too: an unlink there waits as well. */
	assert_int_equal(t_create(&b, ROOT, "g", 0, "g"), 0);
	uint64_t g = b.res.attr.ino;
	assert_int_equal(t_unlink(&b, ROOT, "g"), 0);
	assert_int_equal(holders(&b, g, ids), 3);
	tenv_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(unlinked_file_waits_for_every_member, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(rename_over_and_other_types, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(removed_member_never_blocks, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(without_configuration_unlink_frees, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(orphans_travel_in_snapshots, tenv_setup,
	                                        tenv_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
