/* test_touch.c: the touch set of every command type, from its bytes, as the node computes it at
 * receipt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quorumfs/wire_cmd.h"
#include "quorumfs/wire_touch.h"

#define INO    42
#define PARENT 7
#define NEWP   9

static const struct wire_cmd_extent one_extent[] = {{0, "x", 1}};

/* A command of @type with the fields it uses set (ino 42, parent 7 "a",
 * new parent 9 "b"), so that it encodes. */
static struct wire_cmd sample(int type)
{
	struct wire_cmd c = {
	        .type = (enum wire_cmd_type)type,
	        .client_id = 5,
	        .serial = 1,
	        .ino = INO,
	        .parent = PARENT,
	        .name = "a",
	        .name_len = 1,
	        .new_parent = NEWP,
	        .new_name = "b",
	        .new_name_len = 1,
	        .mode = 0100644,
	        .data = "v",
	        .data_len = 1,
	};
	switch (type) {
	case WIRE_CMD_WRITEV:
		c.extents = one_extent;
		c.n_extents = 1;
		break;
	case WIRE_CMD_ORPHAN_RELEASE:
		c.data = "\0\0\0\0\0\0\0\x07";
		c.data_len = 8;
		c.co.node = 2;
		break;
	case WIRE_CMD_MKDIR:
		c.mode = 040755;
		break;
	case WIRE_CMD_MKNOD:
		c.mode = 010644;
		break;
	case WIRE_CMD_SESSION_KEEPALIVE:
	case WIRE_CMD_SESSION_EXPIRE:
	case WIRE_CMD_LOCK:
	case WIRE_CMD_EPHEMERAL:
		c.co.node = 2;
		c.co.session = 11;
		break;
	default:
		break;
	}
	return c;
}

/* The touch set of @c after a trip through its bytes (what a follower has). */
static void touch_of(const struct wire_cmd *c, uint8_t *buf, size_t cap, struct wire_touch *t)
{
	size_t len = 0;
	assert_int_equal(wire_cmd_encode(c, buf, cap, &len), 0);
	assert_int_equal(wire_touch_bytes(buf, len, t), 0);
}

static bool has_ino(const struct wire_touch *t, uint64_t ino, bool data)
{
	for (unsigned i = 0; i < t->n_inos; i++)
		if (t->inos[i].ino == ino)
			return t->inos[i].data == data;
	return false;
}

static bool has_name(const struct wire_touch *t, uint64_t parent, const char *name, unsigned flags)
{
	for (unsigned i = 0; i < t->n_names; i++)
		if (t->names[i].parent == parent && t->names[i].name_len == strlen(name) &&
		    memcmp(t->names[i].name, name, strlen(name)) == 0)
			return t->names[i].flags == flags;
	return false;
}

/* What each type must touch. */
struct expect {
	int type;
	bool all;
	unsigned n_inos, n_names;
	struct wire_touch_ino inos[WIRE_TOUCH_INOS_MAX];
	struct {
		uint64_t parent;
		const char *name;
		unsigned flags;
	} names[WIRE_TOUCH_NAMES_MAX];
};

#define RENAME_FLAGS (WIRE_TOUCH_SET | WIRE_TOUCH_DROP | WIRE_TOUCH_CHILD)

static const struct expect table[] = {
        {WIRE_CMD_CREATE, false, 1, 1, {{PARENT, false}}, {{PARENT, "a", WIRE_TOUCH_SET}}},
        {WIRE_CMD_CREATE_WRITEV,
         false,
         2,
         1,
         {{PARENT, false}, {INO, true}},
         {{PARENT, "a", WIRE_TOUCH_SET | WIRE_TOUCH_CHILD | WIRE_TOUCH_CHILD_DATA}}},
        {WIRE_CMD_WRITE, false, 1, 0, {{INO, true}}, {{0}}},
        {WIRE_CMD_APPEND, false, 1, 0, {{INO, true}}, {{0}}},
        {WIRE_CMD_SETATTR, false, 1, 0, {{INO, false}}, {{0}}},
        {WIRE_CMD_MKDIR, false, 1, 1, {{PARENT, false}}, {{PARENT, "a", WIRE_TOUCH_SET}}},
        {WIRE_CMD_UNLINK, false, 1, 1, {{PARENT, false}}, {{PARENT, "a", WIRE_TOUCH_DROP}}},
        {WIRE_CMD_RMDIR, false, 1, 1, {{PARENT, false}}, {{PARENT, "a", WIRE_TOUCH_DROP}}},
        {WIRE_CMD_RENAME,
         false,
         2,
         2,
         {{PARENT, false}, {NEWP, false}},
         {{PARENT, "a", RENAME_FLAGS}, {NEWP, "b", RENAME_FLAGS}}},
        {WIRE_CMD_SYMLINK, false, 1, 1, {{PARENT, false}}, {{PARENT, "a", WIRE_TOUCH_SET}}},
        {WIRE_CMD_LINK,
         false,
         2,
         1,
         {{INO, false}, {PARENT, false}},
         {{PARENT, "a", WIRE_TOUCH_SET}}},
        {WIRE_CMD_SETXATTR, false, 1, 0, {{INO, false}}, {{0}}},
        {WIRE_CMD_REMOVEXATTR, false, 1, 0, {{INO, false}}, {{0}}},
        {WIRE_CMD_WRITEV, false, 1, 0, {{INO, true}}, {{0}}},
        {WIRE_CMD_MKNOD, false, 1, 1, {{PARENT, false}}, {{PARENT, "a", WIRE_TOUCH_SET}}},
        {WIRE_CMD_ORPHAN_RELEASE, false, 0, 0, {{0}}, {{0}}},
        {WIRE_CMD_VERIFY, false, 0, 0, {{0}}, {{0}}},
        {WIRE_CMD_SESSION_KEEPALIVE, false, 0, 0, {{0}}, {{0}}}, /* session 11: a renewal */
        {WIRE_CMD_SESSION_EXPIRE, true, 0, 0, {{0}}, {{0}}},
        {WIRE_CMD_LOCK, false, 1, 0, {{INO, false}}, {{0}}},
        {WIRE_CMD_UNLOCK_HANDLE, false, 1, 0, {{INO, false}}, {{0}}},
        {WIRE_CMD_EPHEMERAL, false, 1, 0, {{INO, false}}, {{0}}},
        {WIRE_CMD_PUT_IF,
         false,
         1,
         1,
         {{PARENT, false}},
         {{PARENT, "a", WIRE_TOUCH_CHILD | WIRE_TOUCH_CHILD_DATA}}},
        {WIRE_CMD_TTL_EXPIRE, true, 0, 0, {{0}}, {{0}}},
};

static const struct expect *expected(int type)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].type == type)
			return &table[i];
	return NULL;
}

static void check(const struct wire_touch *t, const struct expect *e)
{
	assert_int_equal(t->all, e->all);
	if (e->all)
		return;
	assert_int_equal(t->n_inos, e->n_inos);
	assert_int_equal(t->n_names, e->n_names);
	for (unsigned i = 0; i < e->n_inos; i++)
		assert_true(has_ino(t, e->inos[i].ino, e->inos[i].data));
	for (unsigned i = 0; i < e->n_names; i++)
		assert_true(has_name(t, e->names[i].parent, e->names[i].name, e->names[i].flags));
}

/* Every type the codec takes (any number that encodes) has its row: a new
 * command fails here until its touch set is written (touch.c); until then
 * it would be "all", safe but dropping every cache at each entry. */
static void test_every_type(void **state)
{
	uint8_t buf[512];
	unsigned seen = 0;
	(void)state;
	for (int type = 1; type < 64; type++) {
		struct wire_cmd c = sample(type);
		size_t len = 0;
		if (wire_cmd_encode(&c, buf, sizeof(buf), &len) != 0) {
			assert_null(expected(type));
			continue;
		}
		const struct expect *e = expected(type);
		if (e == NULL)
			fail_msg("command type %d (%s) has no touch set in the test: write it in "
			         "src/wire/touch.c and here",
			         type, wire_cmd_type_name(type));
		struct wire_touch t;
		assert_int_equal(wire_touch_bytes(buf, len, &t), 0);
		check(&t, e);
		seen++;
	}
	assert_int_equal(seen, sizeof(table) / sizeof(table[0]));
	/* The header's ranges are covered, whatever encodes. */
	for (int type = 1; type <= WIRE_CMD_TYPE_MAX; type++)
		assert_non_null(expected(type));
	for (int type = WIRE_CMD_COORD_MIN; type <= WIRE_CMD_COORD_MAX; type++)
		assert_non_null(expected(type));
}

/* The variants whose set depends on a field. */
static void test_field_dependent(void **state)
{
	uint8_t buf[512];
	struct wire_touch t;
	struct wire_cmd c;
	(void)state;

	c = sample(WIRE_CMD_CREATE);
	c.flags = WIRE_CREATE_TRUNC; /* `echo v > f` replacing an existing file */
	touch_of(&c, buf, sizeof(buf), &t);
	assert_false(t.all);
	assert_true(has_name(&t, PARENT, "a",
	                     WIRE_TOUCH_SET | WIRE_TOUCH_CHILD | WIRE_TOUCH_CHILD_DATA));

	c = sample(WIRE_CMD_SETATTR);
	c.attr.valid = WIRE_ATTR_SIZE; /* truncate: the pages are stale */
	touch_of(&c, buf, sizeof(buf), &t);
	assert_true(has_ino(&t, INO, true));
	c.attr.valid = WIRE_ATTR_MODE; /* chmod: attributes only */
	touch_of(&c, buf, sizeof(buf), &t);
	assert_true(has_ino(&t, INO, false));

	c = sample(WIRE_CMD_SESSION_KEEPALIVE);
	c.co.session = 0; /* a new session ends the old one's ephemeral files */
	touch_of(&c, buf, sizeof(buf), &t);
	assert_true(t.all);

	c = sample(WIRE_CMD_RENAME);
	c.new_parent = PARENT; /* within one directory: the parent once */
	touch_of(&c, buf, sizeof(buf), &t);
	assert_int_equal(t.n_inos, 1);
	assert_int_equal(t.n_names, 2);
	assert_true(has_name(&t, PARENT, "b", RENAME_FLAGS));
}

/* Bytes that do not decode: nothing is known, everything is stale. */
static void test_garbage_is_all(void **state)
{
	static const uint8_t junk[] = {0x93, 0x01, 0x7f, 0x00};
	struct wire_touch t;
	(void)state;
	assert_int_equal(wire_touch_bytes(junk, sizeof(junk), &t), 0);
	assert_true(t.all);
	assert_int_equal(wire_touch_bytes(NULL, 0, &t), 0);
	assert_true(t.all);
}

/* The names borrow from the bytes: no copy, so the set lives as the entry. */
static void test_names_borrow(void **state)
{
	uint8_t buf[512];
	struct wire_touch t;
	struct wire_cmd c = sample(WIRE_CMD_UNLINK);
	(void)state;
	touch_of(&c, buf, sizeof(buf), &t);
	assert_true((const uint8_t *)t.names[0].name >= buf &&
	            (const uint8_t *)t.names[0].name < buf + sizeof(buf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_type),
	        cmocka_unit_test(test_field_dependent),
	        cmocka_unit_test(test_garbage_is_all),
	        cmocka_unit_test(test_names_borrow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
