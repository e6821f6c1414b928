/* test_answer.c: which committed commands src/node/answer.c lets the node answer before their apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../../../src/node/node_int.h"
#include "quorumfs/wire_cmd.h"

#define VMAX 1000u /* max_value_size of the views below */

/* A view in which everything but the command itself allows an early answer. */
static struct node__commit_view good_view(void)
{
	struct node__commit_view v = {
	        .max_value_size = VMAX,
	        .removal_pending = false,
	        .serial_unknown = false,
	        .last_serial = 4,
	        .file_exists = true,
	        .file_mode = S_IFREG | 0644,
	};
	return v;
}

/* Encodes @c and decodes it into @out (backed by @buf), as the node sees a
 * committed entry: WRITEV extents then come raw. */
static void round_trip(const struct wire_cmd *c, uint8_t *buf, size_t cap, struct wire_cmd *out)
{
	size_t len = 0;
	assert_true(wire_cmd_encoded_max(c) <= cap);
	assert_int_equal(wire_cmd_encode(c, buf, cap, &len), 0);
	assert_int_equal(wire_cmd_decode(buf, len, out), 0);
}

static struct wire_cmd writev(uint32_t flags, const struct wire_cmd_extent *e, size_t n)
{
	struct wire_cmd c = {.type = WIRE_CMD_WRITEV, .client_id = 9, .serial = 5, .ino = 7,
	                     .flags = flags, .extents = e, .n_extents = n};
	return c;
}

/* `echo v > f` on a file that exists: a truncating WRITEV, answered at commit. */
static void test_writev_of_existing_file(void **state)
{
	static const char data[] = "v\n";
	struct wire_cmd_extent e = {.offset = 0, .data = data, .len = 2};
	struct wire_cmd c = writev(WIRE_WRITEV_TRUNCATE, &e, 1), d;
	struct node__commit_view v = good_view();
	uint8_t buf[256];
	(void)state;
	assert_true(node__answer_at_commit(&c, &v));
	round_trip(&c, buf, sizeof(buf), &d);
	assert_true(node__answer_at_commit(&d, &v));
	/* `: > f`: a truncation alone is a fixed outcome too. */
	c = writev(WIRE_WRITEV_TRUNCATE, NULL, 0);
	round_trip(&c, buf, sizeof(buf), &d);
	assert_true(node__answer_at_commit(&d, &v));
}

/* What the node knows at commit can each make it wait for the apply. */
static void test_what_the_node_knows(void **state)
{
	static const char data[] = "abc";
	struct wire_cmd_extent e = {.offset = 10, .data = data, .len = 3};
	struct wire_cmd c = writev(0, &e, 1);
	struct node__commit_view v;
	(void)state;

	v = good_view();
	v.removal_pending = true; /* an unlink, rename, ... committed before it */
	assert_false(node__answer_at_commit(&c, &v));
	v = good_view();
	v.serial_unknown = true; /* a snapshot install may hold this serial */
	assert_false(node__answer_at_commit(&c, &v));
	v = good_view();
	v.file_exists = false; /* ENOENT at apply */
	assert_false(node__answer_at_commit(&c, &v));
	v = good_view();
	v.file_mode = S_IFDIR | 0755; /* EISDIR */
	assert_false(node__answer_at_commit(&c, &v));
	v = good_view();
	v.file_mode = S_IFLNK | 0777; /* EINVAL */
	assert_false(node__answer_at_commit(&c, &v));
	/* The session's last serial is this one (a duplicate: the stored
	 * result) or later (QFS_ESTALE): the apply would not run it. */
	v = good_view();
	v.last_serial = 5;
	assert_false(node__answer_at_commit(&c, &v));
	v.last_serial = 6;
	assert_false(node__answer_at_commit(&c, &v));
	v.last_serial = 4;
	assert_true(node__answer_at_commit(&c, &v));
}

/* EFBIG and EINVAL as fsm__apply_writev decides them, from the command alone. */
static void test_writev_bounds(void **state)
{
	static char data[VMAX + 1];
	struct wire_cmd_extent e = {.offset = VMAX - 10, .data = data, .len = 10};
	struct wire_cmd_extent two[2] = {{.offset = 0, .data = data, .len = 600},
	                                 {.offset = 600, .data = data, .len = 401}};
	struct node__commit_view v = good_view();
	struct wire_cmd c, d;
	uint8_t buf[4096];
	(void)state;

	c = writev(0, &e, 1); /* ends at max_value_size exactly */
	round_trip(&c, buf, sizeof(buf), &d);
	assert_true(node__answer_at_commit(&d, &v));
	e.len = 11; /* one byte past it */
	c = writev(0, &e, 1);
	round_trip(&c, buf, sizeof(buf), &d);
	assert_false(node__answer_at_commit(&d, &v));
	c = writev(0, two, 2); /* each fits, together they do not */
	round_trip(&c, buf, sizeof(buf), &d);
	assert_false(node__answer_at_commit(&d, &v));

	c = writev(WIRE_WRITEV_SET_SIZE, NULL, 0);
	c.size = VMAX;
	round_trip(&c, buf, sizeof(buf), &d);
	assert_true(node__answer_at_commit(&d, &v));
	c.size = VMAX + 1;
	round_trip(&c, buf, sizeof(buf), &d);
	assert_false(node__answer_at_commit(&d, &v));

	/* O_APPEND: where it lands, and so EFBIG, depends on the size it finds. */
	e.len = 1;
	c = writev(WIRE_WRITEV_APPEND, &e, 1);
	round_trip(&c, buf, sizeof(buf), &d);
	assert_false(node__answer_at_commit(&d, &v));
	/* Nothing to do at all: EINVAL. */
	c = writev(0, NULL, 0);
	assert_false(node__answer_at_commit(&c, &v));
}

static void test_write(void **state)
{
	static char data[16];
	struct wire_cmd c = {.type = WIRE_CMD_WRITE, .client_id = 9, .serial = 5, .ino = 7,
	                     .offset = VMAX - 16, .data = data, .data_len = 16};
	struct node__commit_view v = good_view();
	(void)state;
	assert_true(node__answer_at_commit(&c, &v));
	c.offset++;
	assert_false(node__answer_at_commit(&c, &v));
}

/* A command whose result depends on the tree always waits for its apply. */
static void test_tree_commands_wait(void **state)
{
	static const enum wire_cmd_type types[] = {
	        WIRE_CMD_CREATE,  WIRE_CMD_APPEND,  WIRE_CMD_SETATTR, WIRE_CMD_MKDIR,
	        WIRE_CMD_UNLINK,  WIRE_CMD_RMDIR,   WIRE_CMD_RENAME,  WIRE_CMD_SYMLINK,
	        WIRE_CMD_LINK,    WIRE_CMD_SETXATTR, WIRE_CMD_REMOVEXATTR, WIRE_CMD_MKNOD,
	        WIRE_CMD_ORPHAN_RELEASE, WIRE_CMD_LOCK, WIRE_CMD_UNLOCK_HANDLE,
	        WIRE_CMD_EPHEMERAL, WIRE_CMD_SESSION_KEEPALIVE, WIRE_CMD_PUT_IF,
	        WIRE_CMD_TTL_EXPIRE, WIRE_CMD_VERIFY,
	};
	struct node__commit_view v = good_view();
	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct wire_cmd c = {.type = types[i], .client_id = 9, .serial = 5, .ino = 7,
		                     .parent = 1, .name = "f", .name_len = 1};
		assert_false(node__answer_at_commit(&c, &v));
	}
}

static int keeps(enum wire_cmd_type t)
{
	struct wire_cmd c = {.type = t, .ino = 7, .parent = 1, .name = "f", .name_len = 1,
	                     .new_parent = 1, .new_name = "g", .new_name_len = 1,
	                     .mode = 0644, .data = "x", .data_len = 1};
	static const char d[] = "x";
	struct wire_cmd_extent e = {.offset = 0, .data = d, .len = 1};
	uint8_t buf[512];
	size_t len = 0;
	if (t == WIRE_CMD_WRITEV) {
		c.extents = &e;
		c.n_extents = 1;
		c.data = NULL;
		c.data_len = 0;
	}
	if (t == WIRE_CMD_ORPHAN_RELEASE) {
		c.data = "\7\0\0\0\0\0\0\0"; /* one inode number */
		c.data_len = 8;
	}
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), 0);
	return node__entry_keeps_inodes(RAFT_ENTRY_NORMAL, buf, len);
}

/* Which earlier entries make later commands wait: those that can remove an
 * inode (or whose effect on inodes is not known). */
static void test_entries_that_remove(void **state)
{
	(void)state;
	assert_true(keeps(WIRE_CMD_WRITEV));
	assert_true(keeps(WIRE_CMD_WRITE));
	assert_true(keeps(WIRE_CMD_CREATE));
	assert_true(keeps(WIRE_CMD_MKDIR));
	assert_true(keeps(WIRE_CMD_SETXATTR));
	assert_false(keeps(WIRE_CMD_UNLINK));
	assert_false(keeps(WIRE_CMD_RMDIR));
	assert_false(keeps(WIRE_CMD_RENAME));
	assert_false(keeps(WIRE_CMD_ORPHAN_RELEASE));
	assert_false(keeps(WIRE_CMD_SESSION_EXPIRE));
	assert_false(keeps(WIRE_CMD_SESSION_KEEPALIVE));
	assert_false(keeps(WIRE_CMD_TTL_EXPIRE));
	assert_false(keeps(WIRE_CMD_PUT_IF));
	/* A leader's no-op changes nothing; a configuration may free the
	 * orphans of a removed member; bytes that do not decode are unknown. */
	assert_true(node__entry_keeps_inodes(RAFT_ENTRY_NOOP, NULL, 0));
	assert_false(node__entry_keeps_inodes(RAFT_ENTRY_CONF, "\x01", 1));
	assert_false(node__entry_keeps_inodes(RAFT_ENTRY_NORMAL, "\xc1\xc1", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_writev_of_existing_file),
	        cmocka_unit_test(test_what_the_node_knows),
	        cmocka_unit_test(test_writev_bounds),
	        cmocka_unit_test(test_write),
	        cmocka_unit_test(test_tree_commands_wait),
	        cmocka_unit_test(test_entries_that_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
