/* test_fsm_rename.c: RENAME: move, replace, NOREPLACE, EXCHANGE, and its errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "helpers.h"

#define ROOT FSM_ROOT_INO

#define ASSERT_FAILS(t, err, call)                                                                 \
	do {                                                                                       \
		uint32_t before_ = tenv_digest(t);                                                 \
		assert_int_equal((call), -(err));                                                  \
		assert_int_equal(tenv_digest(t), before_);                                         \
	} while (0)

static uint64_t mkfile(struct tenv *t, uint64_t dir, const char *name, const char *data)
{
	assert_int_equal(t_create(t, dir, name, WIRE_CREATE_EXCL, data), 0);
	return t->res.attr.ino;
}

static uint64_t mkdir_(struct tenv *t, uint64_t dir, const char *name)
{
	assert_int_equal(t_mkdir(t, dir, name), 0);
	return t->res.attr.ino;
}

static void assert_contents(struct tenv *t, uint64_t ino, const char *want)
{
	char *s = t_read(t, ino);
	assert_string_equal(s, want);
	free(s);
}

static void move_within_and_across(void **state)
{
	struct tenv *t = *state;
	uint64_t f = mkfile(t, ROOT, "a", "A"), d = mkdir_(t, ROOT, "d");
	uint64_t rv = t_getattr(t, ROOT).version;

	assert_int_equal(t_rename(t, ROOT, "a", ROOT, "b", 0), 0);
	assert_true(t->res.attr.ino == f && t->res.attr.ctime_ns == t->clock);
	assert_int_equal(t_lookup(t, ROOT, "a"), 0);
	assert_int_equal(t_lookup(t, ROOT, "b"), f);
	assert_int_equal(t_getattr(t, ROOT).version, rv + 1); /* one record, once */

	assert_int_equal(t_rename(t, ROOT, "b", d, "c", 0), 0);
	assert_int_equal(t_lookup(t, d, "c"), f);
	assert_int_equal(t_getattr(t, d).mtime_ns, t->clock);
	assert_int_equal(t_getattr(t, ROOT).mtime_ns, t->clock);
	assert_int_equal(t_getattr(t, d).nlink, 2); /* files do not count */
	assert_contents(t, f, "A");
}

/* A non-empty directory moves in one command; its children follow, and
 * the link counts and ".." follow the move. */
static void move_directory_with_contents(void **state)
{
	struct tenv *t = *state;
	uint64_t a = mkdir_(t, ROOT, "a"), b = mkdir_(t, ROOT, "b");
	uint64_t sub = mkdir_(t, a, "sub"), f = mkfile(t, sub, "f", "x");
	struct fsm_attr p;

	assert_int_equal(t_getattr(t, a).nlink, 3);
	assert_int_equal(t_rename(t, a, "sub", b, "moved", 0), 0);
	assert_int_equal(t_getattr(t, a).nlink, 2);
	assert_int_equal(t_getattr(t, b).nlink, 3);
	assert_int_equal(t_lookup(t, t_lookup(t, b, "moved"), "f"), f);
	assert_int_equal(fsm_lookup(t->fsm, NULL, sub, "..", 2, &p), 0);
	assert_int_equal(p.ino, b);
	/* Into the root and back to the same directory: counts stay right. */
	assert_int_equal(t_rename(t, b, "moved", ROOT, "top", 0), 0);
	assert_int_equal(t_getattr(t, ROOT).nlink, 5);
	assert_int_equal(t_rename(t, ROOT, "top", ROOT, "top2", 0), 0);
	assert_int_equal(t_getattr(t, ROOT).nlink, 5);
}

static void replace_rules(void **state)
{
	struct tenv *t = *state;
	uint64_t f = mkfile(t, ROOT, "f", "new"), g = mkfile(t, ROOT, "g", "old");
	uint64_t d = mkdir_(t, ROOT, "d"), e = mkdir_(t, ROOT, "e"), full = mkdir_(t, ROOT, "full");
	struct fsm_attr a;
	struct fsm_statfs st;

	mkfile(t, full, "x", NULL);
	/* A file replaces a file: the old one is gone with its data. */
	assert_int_equal(t_rename(t, ROOT, "f", ROOT, "g", 0), 0);
	assert_int_equal(t_lookup(t, ROOT, "g"), f);
	assert_int_equal(fsm_getattr(t->fsm, NULL, g, &a), -ENOENT);
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_int_equal(st.bytes, 3);
	/* A directory replaces an empty directory only. */
	ASSERT_FAILS(t, ENOTEMPTY, t_rename(t, ROOT, "d", ROOT, "full", 0));
	ASSERT_FAILS(t, ENOTDIR, t_rename(t, ROOT, "d", ROOT, "g", 0));
	ASSERT_FAILS(t, EISDIR, t_rename(t, ROOT, "g", ROOT, "d", 0));
	assert_int_equal(t_getattr(t, ROOT).nlink, 5);
	assert_int_equal(t_rename(t, ROOT, "d", ROOT, "e", 0), 0);
	assert_int_equal(t_lookup(t, ROOT, "e"), d);
	assert_int_equal(fsm_getattr(t->fsm, NULL, e, &a), -ENOENT);
	assert_int_equal(t_getattr(t, ROOT).nlink, 4);
	/* Replacing one link of a file with two keeps the file. */
	assert_int_equal(t_link(t, f, ROOT, "h"), 0);
	mkfile(t, ROOT, "k", "k");
	assert_int_equal(t_rename(t, ROOT, "k", ROOT, "h", 0), 0);
	assert_int_equal(t_getattr(t, f).nlink, 1);
	assert_contents(t, f, "new");
}

static void noreplace_and_exchange(void **state)
{
	struct tenv *t = *state;
	uint64_t f = mkfile(t, ROOT, "f", "F"), d = mkdir_(t, ROOT, "d");
	uint64_t g = mkfile(t, d, "g", "G"), sub = mkdir_(t, d, "sub");
	struct fsm_attr p;

	ASSERT_FAILS(t, EEXIST, t_rename(t, ROOT, "f", d, "g", WIRE_RENAME_NOREPLACE));
	ASSERT_FAILS(t, EEXIST, t_rename(t, ROOT, "f", ROOT, "f", WIRE_RENAME_NOREPLACE));
	assert_int_equal(t_rename(t, ROOT, "f", d, "h", WIRE_RENAME_NOREPLACE), 0);
	assert_int_equal(t_lookup(t, d, "h"), f);

	ASSERT_FAILS(t, ENOENT, t_rename(t, d, "h", d, "nope", WIRE_RENAME_EXCHANGE));
	ASSERT_FAILS(t, EINVAL,
	             t_rename(t, d, "h", d, "g", WIRE_RENAME_EXCHANGE | WIRE_RENAME_NOREPLACE));
	assert_int_equal(t_rename(t, d, "h", d, "g", WIRE_RENAME_EXCHANGE), 0);
	assert_int_equal(t_lookup(t, d, "h"), g);
	assert_int_equal(t_lookup(t, d, "g"), f);
	assert_contents(t, t_lookup(t, d, "g"), "F");

	/* A file and a directory across two directories: counts and ".." swap. */
	assert_int_equal(t_rename(t, d, "sub", ROOT, "top", 0), 0);
	mkfile(t, d, "file", "z");
	assert_int_equal(t_getattr(t, ROOT).nlink, 4);
	assert_int_equal(t_getattr(t, d).nlink, 2);
	assert_int_equal(t_rename(t, ROOT, "top", d, "file", WIRE_RENAME_EXCHANGE), 0);
	assert_int_equal(t_lookup(t, d, "file"), sub);
	assert_int_equal(t_getattr(t, ROOT).nlink, 3);
	assert_int_equal(t_getattr(t, d).nlink, 3);
	assert_int_equal(fsm_lookup(t->fsm, NULL, sub, "..", 2, &p), 0);
	assert_int_equal(p.ino, d);
	/* Exchange keeps the names' places in a listing (no new cookie). */
}

static void into_own_subtree(void **state)
{
	struct tenv *t = *state;
	uint64_t a = mkdir_(t, ROOT, "a"), b = mkdir_(t, a, "b"), c = mkdir_(t, b, "c");
	(void)c;
	ASSERT_FAILS(t, EINVAL, t_rename(t, ROOT, "a", a, "x", 0));
	ASSERT_FAILS(t, EINVAL, t_rename(t, ROOT, "a", c, "x", 0));
	ASSERT_FAILS(t, EINVAL, t_rename(t, ROOT, "a", b, "c", 0));
	ASSERT_FAILS(t, EINVAL, t_rename(t, ROOT, "a", c, "x", WIRE_RENAME_NOREPLACE));
	/* EXCHANGE checks both directions. */
	ASSERT_FAILS(t, EINVAL, t_rename(t, b, "c", ROOT, "a", WIRE_RENAME_EXCHANGE));
	ASSERT_FAILS(t, EINVAL, t_rename(t, ROOT, "a", b, "c", WIRE_RENAME_EXCHANGE));
	/* Up the tree is fine. */
	assert_int_equal(t_rename(t, b, "c", ROOT, "c", 0), 0);
}

static void same_inode_is_a_no_op(void **state)
{
	struct tenv *t = *state;
	uint64_t f = mkfile(t, ROOT, "f", "F");
	assert_int_equal(t_link(t, f, ROOT, "g"), 0);
	uint32_t before = tenv_digest(t);
	/* Two links of one file: rename(2) does nothing and succeeds. */
	assert_int_equal(t_rename(t, ROOT, "f", ROOT, "g", 0), 0);
	assert_int_equal(t->res.attr.ino, f);
	assert_int_equal(t_rename(t, ROOT, "f", ROOT, "f", 0), 0);
	assert_int_equal(t_rename(t, ROOT, "f", ROOT, "g", WIRE_RENAME_EXCHANGE), 0);
	assert_int_equal(tenv_digest(t), before);
	assert_int_equal(t_lookup(t, ROOT, "f"), f);
	assert_int_equal(t_lookup(t, ROOT, "g"), f);
}

static void errors(void **state)
{
	struct tenv *t = *state;
	uint64_t f = mkfile(t, ROOT, "f", NULL);
	char longname[FSM_NAME_MAX + 2];

	memset(longname, 'n', sizeof(longname));
	longname[FSM_NAME_MAX + 1] = '\0';
	ASSERT_FAILS(t, ENOENT, t_rename(t, ROOT, "nope", ROOT, "x", 0));
	ASSERT_FAILS(t, ENOENT, t_rename(t, 99, "f", ROOT, "x", 0));
	ASSERT_FAILS(t, ENOENT, t_rename(t, ROOT, "f", 99, "x", 0));
	ASSERT_FAILS(t, ENOTDIR, t_rename(t, ROOT, "f", f, "x", 0));
	ASSERT_FAILS(t, ENOTDIR, t_rename(t, f, "x", ROOT, "y", 0));
	ASSERT_FAILS(t, ENAMETOOLONG, t_rename(t, ROOT, "f", ROOT, longname, 0));
	ASSERT_FAILS(t, EINVAL, t_rename(t, ROOT, "f", ROOT, "a/b", 0));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tenv_setup, tenv_teardown)
	const struct CMUnitTest tests[] = {
	        T(move_within_and_across),
	        T(move_directory_with_contents),
	        T(replace_rules),
	        T(noreplace_and_exchange),
	        T(into_own_subtree),
	        T(same_inode_is_a_no_op),
	        T(errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
