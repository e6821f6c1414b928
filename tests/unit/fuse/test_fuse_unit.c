/* test_fuse_unit.c: the mount's pieces that need no kernel: error mapping and the inode table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fuse_int.h"
#include "quorumfs/errors.h"

/* docs/semantics.md, "Errors a program sees". */
static void test_errno_map(void **state)
{
	(void)state;
	assert_int_equal(qfs__errno(0, QFS__CHANGE), 0);
	assert_int_equal(qfs__errno(-EROFS, QFS__CHANGE), EROFS);
	assert_int_equal(qfs__errno(-EROFS, QFS__READ), EIO); /* reads: EIO, never EROFS */
	assert_int_equal(qfs__errno(-EIO, QFS__READ), EIO);
	assert_int_equal(qfs__errno(-ETIMEDOUT, QFS__CHANGE), ETIMEDOUT);
	assert_int_equal(qfs__errno(-EFBIG, QFS__CHANGE), EFBIG);
	assert_int_equal(qfs__errno(-ENAMETOOLONG, QFS__CHANGE), ENAMETOOLONG);
	assert_int_equal(qfs__errno(-ENOSPC, QFS__CHANGE), ENOSPC);
	assert_int_equal(qfs__errno(-ENOENT, QFS__READ), ENOENT);
	assert_int_equal(qfs__errno(-EEXIST, QFS__CHANGE), EEXIST);
	assert_int_equal(qfs__errno(QFS_ENOQUORUM, QFS__CHANGE), EROFS);
	assert_int_equal(qfs__errno(QFS_ENOQUORUM, QFS__READ), EIO);
	assert_int_equal(qfs__errno(QFS_ENOTLEADER, QFS__CHANGE), EROFS);
	assert_int_equal(qfs__errno(QFS_ESHUTDOWN, QFS__CHANGE), EIO);
	assert_int_equal(qfs__errno(QFS_ECORRUPT, QFS__READ), EIO);
	assert_int_equal(qfs__errno(QFS_EPROTO, QFS__CHANGE), EIO);
	assert_int_equal(qfs__errno(QFS_ESTORAGE, QFS__CHANGE), EIO);
	assert_int_equal(qfs__errno(-ENOSPC, QFS__CHANGE), ENOSPC); /* a full disk, to the writer */
	assert_int_equal(qfs__errno(5, QFS__CHANGE), EIO); /* a positive code is never success */
	assert_int_equal(qfs__errno(-(QFS_EBASE + 999), QFS__CHANGE), EIO);
}

static void test_check_name(void **state)
{
	(void)state;
	assert_int_equal(qfs__check_name(255), 0);
	assert_int_equal(qfs__check_name(256), -ENAMETOOLONG);
}

/* Lookup counts: an entry lives while the kernel holds it; the root never
 * enters the table; forgetting more than was looked up is harmless. */
static void test_inode_counts(void **state)
{
	struct qfs_mount m;
	(void)state;

	memset(&m, 0, sizeof(m));
	assert_int_equal(qfs__inodes_init(&m.inodes), 0);
	for (uint64_t ino = 2; ino < 5000; ino++) {
		qfs__inode_lookup(&m, ino);
		qfs__inode_lookup(&m, ino);
	}
	qfs__inode_lookup(&m, FSM_ROOT_INO);
	assert_null(qfs__inode_find(&m.inodes, FSM_ROOT_INO));
	assert_int_equal(m.inodes.count, 4998);
	assert_true(m.inodes.n_buckets >= 4998); /* it grew */
	for (uint64_t ino = 2; ino < 5000; ino++) {
		struct qfs__inode *in = qfs__inode_find(&m.inodes, ino);
		assert_non_null(in);
		assert_int_equal(in->nlookup, 2);
	}
	for (uint64_t ino = 2; ino < 5000; ino++)
		qfs__inode_forget(&m, ino, 1);
	assert_int_equal(m.inodes.count, 4998);
	for (uint64_t ino = 2; ino < 5000; ino += 2)
		qfs__inode_forget(&m, ino, 7);
	assert_int_equal(m.inodes.count, 2499);
	assert_null(qfs__inode_find(&m.inodes, 2));
	assert_non_null(qfs__inode_find(&m.inodes, 3));
	qfs__inode_forget(&m, 123456, 1); /* unknown: nothing happens */
	qfs__inodes_free(&m.inodes);
}

/* An open handle keeps the inode after the kernel forgot its name; an
 * O_TRUNC open owes a publish, a plain open does not; a release while the
 * mount stops drops what is owed and frees the inode; a lost inode stays. */
static void test_handle_lifecycle(void **state)
{
	struct qfs_mount m;
	struct qfs__handle *h, *h2;
	struct qfs__inode *in;
	(void)state;

	memset(&m, 0, sizeof(m));
	assert_int_equal(qfs__inodes_init(&m.inodes), 0);
	qfs__inode_lookup(&m, 9);
	h = qfs__handle_open(&m, 9, 0, true, true);
	assert_non_null(h);
	assert_true(qfs__handle_owes(h));
	assert_true(h->kill_suidgid);
	in = qfs__inode_find(&m.inodes, 9);
	assert_int_equal(in->nopen, 1);
	qfs__inode_forget(&m, 9, 1);
	assert_non_null(qfs__inode_find(&m.inodes, 9));

	h2 = qfs__handle_open(&m, 9, 0, false, true);
	assert_false(qfs__handle_owes(h2));
	assert_false(h2->kill_suidgid); /* only with the truncation, or a write */
	assert_int_equal(in->nopen, 2);
	m.stopping = true; /* release without a node */
	qfs__handle_release(&m, NULL, h2);
	assert_int_equal(in->nopen, 1);
	qfs__handle_release(&m, NULL, h);
	assert_null(qfs__inode_find(&m.inodes, 9));

	/* A lost inode (its last publish failed) is kept for rename and link
	 * to refuse it, after the kernel forgot it. */
	qfs__inode_lookup(&m, 10);
	qfs__inode_find(&m.inodes, 10)->lost = true;
	qfs__inode_forget(&m, 10, 1);
	assert_non_null(qfs__inode_find(&m.inodes, 10));
	qfs__inodes_free(&m.inodes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_errno_map),
	        cmocka_unit_test(test_check_name),
	        cmocka_unit_test(test_inode_counts),
	        cmocka_unit_test(test_handle_lifecycle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
