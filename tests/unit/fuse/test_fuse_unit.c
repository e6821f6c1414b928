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

/* DESIGN.md, "Errors a user sees". */
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
 * O_TRUNC open counts as a pending truncation; only full chunks in sequence
 * are buffered, by one handle of the inode at a time. */
static void test_handle_truncation_and_buffer(void **state)
{
	static char chunk[131072];
	struct qfs_mount m;
	struct qfs__handle *h, *h2;
	struct qfs__inode *in;
	size_t len;
	char *buf;
	(void)state;

	memset(&m, 0, sizeof(m));
	assert_int_equal(qfs__inodes_init(&m.inodes), 0);
	qfs__inode_lookup(&m, 9);
	h = qfs__handle_open(&m, 9, 0, true);
	assert_non_null(h);
	in = qfs__inode_find(&m.inodes, 9);
	assert_int_equal(in->nopen, 1);
	assert_int_equal(in->n_pending, 1);
	qfs__inode_forget(&m, 9, 1);
	assert_non_null(qfs__inode_find(&m.inodes, 9));

	assert_true(qfs__handle_can_buffer(&m, h, 0, sizeof(chunk)));
	assert_int_equal(qfs__handle_buffer(&m, h, chunk, sizeof(chunk)), 0);
	assert_ptr_equal(in->buffering, h);
	assert_int_equal(m.buffered, sizeof(chunk));
	assert_false(qfs__handle_can_buffer(&m, h, 100, sizeof(chunk)));   /* out of sequence */
	assert_false(qfs__handle_can_buffer(&m, h, sizeof(chunk), 4096));  /* not a full chunk */
	assert_false(qfs__handle_can_buffer(&m, h, sizeof(chunk), 70000)); /* not whole pages */
	assert_true(qfs__handle_can_buffer(&m, h, sizeof(chunk), sizeof(chunk)));
	m.opts.max_value_size = sizeof(chunk) + 4096; /* beyond the maximum */
	assert_false(qfs__handle_can_buffer(&m, h, sizeof(chunk), sizeof(chunk)));
	m.opts.max_value_size = 0;

	/* Another handle, with O_TRUNC too, does not stop the buffering one,
	 * and does not buffer while that one does. */
	h2 = qfs__handle_open(&m, 9, 0, true);
	assert_true(qfs__handle_can_buffer(&m, h, sizeof(chunk), sizeof(chunk)));
	assert_false(qfs__handle_can_buffer(&m, h2, 0, sizeof(chunk)));
	assert_int_equal(in->n_pending, 2);
	m.stopping = true;
	qfs__handle_release(&m, NULL, h2);
	m.stopping = false;

	buf = qfs__handle_take_buffer(&m, h, &len);
	assert_int_equal(len, sizeof(chunk));
	free(buf);
	assert_int_equal(m.buffered, 0);
	assert_null(in->buffering);
	qfs__handle_take_trunc(&m, h);
	assert_int_equal(in->n_pending, 0);
	assert_false(qfs__handle_can_buffer(&m, h, 0, sizeof(chunk))); /* nothing owed */
	m.stopping = true;                                             /* release without a node */
	qfs__handle_release(&m, NULL, h);
	assert_null(qfs__inode_find(&m.inodes, 9));
	qfs__inodes_free(&m.inodes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_errno_map),
	        cmocka_unit_test(test_check_name),
	        cmocka_unit_test(test_inode_counts),
	        cmocka_unit_test(test_handle_truncation_and_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
