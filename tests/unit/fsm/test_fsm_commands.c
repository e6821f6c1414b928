/* test_fsm_commands.c: every command's effect on the tree, and every errno it can give. */
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

/* Applies a command expected to fail with @err, and checks it changed
 * nothing but fsm.applied. */
#define ASSERT_FAILS(t, err, call)                                                                 \
	do {                                                                                       \
		uint32_t before_ = tenv_digest(t);                                                 \
		assert_int_equal((call), -(err));                                                  \
		assert_int_equal((t)->res.attr.ino, 0);                                            \
		assert_int_equal(tenv_digest(t), before_);                                         \
	} while (0)

static void open_makes_a_root(void **state)
{
	struct tenv *t = *state;
	struct fsm_attr a = t_getattr(t, ROOT);
	struct fsm_statfs st;
	uint64_t applied = 99;
	uint32_t d = tenv_digest(t);
	struct fsm *again;

	assert_int_equal(a.mode, S_IFDIR | 0755);
	assert_true(a.nlink == 2 && a.uid == 0 && a.gid == 0 && a.size == 0 && a.version == 1);
	assert_true(a.atime_ns == 0 && a.mtime_ns == 0 && a.ctime_ns == 0);
	assert_int_equal(fsm_applied(t->fsm, NULL, &applied), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_true(st.files == 1 && st.bytes == 0 && st.applied == 0);
	/* Opening again finds the tree and changes nothing. */
	assert_int_equal(fsm_open(t->env, NULL, &again), 0);
	fsm_close(again);
	assert_int_equal(tenv_digest(t), d);
	assert_string_equal(fsm_errmsg(t->fsm), "");
}

static void open_refuses_another_format(void **state)
{
	struct tenv *t = *state;
	MDB_txn *txn;
	MDB_dbi meta;
	uint8_t v[8] = {0, 0, 0, 0, 0, 0, 0, FSM_FORMAT_VERSION + 1};
	MDB_val k = {10, "fsm.format"}, d = {8, v};
	struct fsm *f;

	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_put(txn, meta, &k, &d, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(fsm_open(t->env, NULL, &f), QFS_EFORMAT);
}

static void create_new_file(void **state)
{
	struct tenv *t = *state;
	struct fsm_attr a, root;
	struct fsm_statfs st;
	char *s;

	assert_int_equal(t_create(t, ROOT, "f", 0, "hello"), 0);
	a = t->res.attr;
	assert_int_equal(a.ino, 2);
	assert_int_equal(a.mode, S_IFREG | 0644);
	assert_true(a.uid == 1000 && a.gid == 100 && a.nlink == 1 && a.size == 5);
	assert_true(a.version == 1 && a.mtime_ns == t->clock && a.ctime_ns == t->clock);
	{
		struct fsm_attr g = t_getattr(t, 2);
		assert_memory_equal(&a, &g, sizeof(a));
	}
	s = t_read(t, 2);
	assert_string_equal(s, "hello");
	free(s);
	root = t_getattr(t, ROOT);
	assert_true(root.mtime_ns == t->clock && root.version == t->index && root.nlink == 2);
	assert_int_equal(t_lookup(t, ROOT, "f"), 2);
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_true(st.files == 2 && st.bytes == 5 && st.applied == 1);
	/* Inode numbers are never reused. */
	assert_int_equal(t_unlink(t, ROOT, "f"), 0);
	assert_int_equal(t_create(t, ROOT, "f", 0, NULL), 0);
	assert_int_equal(t->res.attr.ino, 3);
}

static void create_existing_name(void **state)
{
	struct tenv *t = *state;
	struct fsm_attr a;
	char *s;

	assert_int_equal(t_create(t, ROOT, "f", 0, "old"), 0);
	a = t->res.attr;
	ASSERT_FAILS(t, EEXIST, t_create(t, ROOT, "f", WIRE_CREATE_EXCL, NULL));
	/* Without O_EXCL: the file is opened as it is. */
	assert_int_equal(t_create(t, ROOT, "f", 0, NULL), 0);
	assert_memory_equal(&t->res.attr, &a, sizeof(a));
	/* Data without O_TRUNC would be lost: refused. */
	ASSERT_FAILS(t, EEXIST, t_create(t, ROOT, "f", 0, "new"));
	/* O_TRUNC: the contents are replaced in the same command. */
	assert_int_equal(t_create(t, ROOT, "f", WIRE_CREATE_TRUNC, "new!"), 0);
	assert_true(t->res.attr.ino == a.ino && t->res.attr.size == 4);
	/* A version is the log index of the last change, not a count. */
	assert_int_equal(t->res.attr.version, t->index);
	assert_true(t->res.attr.version > a.version + 1);
	s = t_read(t, a.ino);
	assert_string_equal(s, "new!");
	free(s);

	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	ASSERT_FAILS(t, EISDIR, t_create(t, ROOT, "d", 0, NULL));
	assert_int_equal(t_symlink(t, ROOT, "l", "f"), 0);
	ASSERT_FAILS(t, EEXIST, t_create(t, ROOT, "l", 0, NULL));
}

static void create_errors(void **state)
{
	struct tenv *t = *state;
	struct wire_cmd c = {.type = WIRE_CMD_CREATE,
	                     .parent = ROOT,
	                     .name = "x",
	                     .name_len = 1,
	                     .mode = S_IFDIR | 0755};

	ASSERT_FAILS(t, ENOENT, t_create(t, 77, "f", 0, NULL));
	assert_int_equal(t_create(t, ROOT, "file", 0, NULL), 0);
	ASSERT_FAILS(t, ENOTDIR, t_create(t, t->res.attr.ino, "f", 0, NULL));
	ASSERT_FAILS(t, EINVAL, tenv_apply(t, &c)); /* not a regular file */
	c.mode = S_IFCHR | 0600;
	ASSERT_FAILS(t, EINVAL, tenv_apply(t, &c));
}

static void write_at_offsets(void **state)
{
	struct tenv *t = *state;
	uint64_t ino;
	struct fsm_statfs st;
	char *s;
	char buf[16];
	size_t n;

	assert_int_equal(t_create(t, ROOT, "f", 0, "abcdef"), 0);
	ino = t->res.attr.ino;
	assert_int_equal(t_write(t, ino, 2, "XY", 0), 0);
	assert_true(t->res.offset == 2 && t->res.attr.size == 6 && t->res.attr.version == 2);
	s = t_read(t, ino);
	assert_string_equal(s, "abXYef");
	free(s);
	/* Past the end: the gap reads as zeros. */
	assert_int_equal(t_write(t, ino, 8, "Z", 0), 0);
	assert_int_equal(t->res.attr.size, 9);
	assert_int_equal(fsm_read(t->fsm, NULL, ino, 0, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "abXYef\0\0Z", 9);
	assert_int_equal(fsm_read(t->fsm, NULL, ino, 7, 100, buf, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fsm_read(t->fsm, NULL, ino, 9, 100, buf, &n), 0);
	assert_int_equal(n, 0);
	/* `echo v > f`: truncate and write in one command. */
	assert_int_equal(t_write(t, ino, 0, "v\n", WIRE_WRITE_TRUNCATE), 0);
	s = t_read(t, ino);
	assert_string_equal(s, "v\n");
	free(s);
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_int_equal(st.bytes, 2);
	/* A write of nothing changes nothing, not even the version. */
	assert_int_equal(t_write(t, ino, 100, "", 0), 0);
	assert_true(t->res.attr.size == 2 && t->res.attr.version == t_getattr(t, ino).version);
	/* `: > f`: truncate with no data. */
	assert_int_equal(t_write(t, ino, 0, "", WIRE_WRITE_TRUNCATE), 0);
	assert_int_equal(t_getattr(t, ino).size, 0);
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_int_equal(st.bytes, 0);
}

static void write_errors(void **state)
{
	struct tenv *t = *state;
	uint64_t f;
	assert_int_equal(t_create(t, ROOT, "f", 0, "x"), 0);
	f = t->res.attr.ino;
	ASSERT_FAILS(t, ENOENT, t_write(t, 99, 0, "a", 0));
	ASSERT_FAILS(t, EISDIR, t_write(t, ROOT, 0, "a", 0));
	assert_int_equal(t_symlink(t, ROOT, "l", "f"), 0);
	ASSERT_FAILS(t, EINVAL, t_write(t, t->res.attr.ino, 0, "a", 0));
	ASSERT_FAILS(t, EFBIG, t_write(t, f, FSM_DEFAULT_MAX_VALUE_SIZE, "a", 0));
	ASSERT_FAILS(t, EFBIG, t_write(t, f, UINT64_MAX, "a", 0)); /* no overflow */
	assert_int_equal(t_write(t, f, FSM_DEFAULT_MAX_VALUE_SIZE - 1, "a", 0), 0);
	assert_int_equal(t->res.attr.size, FSM_DEFAULT_MAX_VALUE_SIZE);
}

static void append_at_end(void **state)
{
	struct tenv *t = *state;
	uint64_t f;
	char *s;

	assert_int_equal(t_create(t, ROOT, "log", 0, "a"), 0);
	f = t->res.attr.ino;
	assert_int_equal(t_append(t, f, "bc"), 0);
	assert_true(t->res.offset == 1 && t->res.attr.size == 3);
	assert_int_equal(t_write(t, f, 5, "X", 0), 0); /* someone else extends it */
	assert_int_equal(t_append(t, f, "d"), 0);
	assert_int_equal(t->res.offset, 6);
	s = t_read(t, f);
	assert_memory_equal(s, "abc\0\0Xd", 7);
	free(s);
	assert_int_equal(t_append(t, f, ""), 0);
	assert_true(t->res.offset == 7 && t->res.attr.size == 7);

	ASSERT_FAILS(t, ENOENT, t_append(t, 99, "a"));
	ASSERT_FAILS(t, EISDIR, t_append(t, ROOT, "a"));
	assert_int_equal(t_write(t, f, FSM_DEFAULT_MAX_VALUE_SIZE - 2, "zz", 0), 0);
	ASSERT_FAILS(t, EFBIG, t_append(t, f, "a"));
}

static void setattr_fields(void **state)
{
	struct tenv *t = *state;
	struct wire_cmd_attr a = {0};
	struct fsm_attr before, after;
	uint64_t f;
	char buf[8];
	size_t n;

	assert_int_equal(t_create(t, ROOT, "f", 0, "abcdef"), 0);
	f = t->res.attr.ino;
	before = t->res.attr;

	a.valid = WIRE_ATTR_MODE | WIRE_ATTR_UID | WIRE_ATTR_GID;
	a.mode = S_IFDIR | 04711; /* the type bits are ignored */
	a.uid = 7;
	a.gid = 8;
	assert_int_equal(t_setattr(t, f, &a), 0);
	after = t->res.attr;
	assert_true(after.mode == (S_IFREG | 04711) && after.uid == 7 && after.gid == 8);
	assert_true(after.ctime_ns == t->clock && after.mtime_ns == before.mtime_ns);
	assert_int_equal(after.version, before.version + 1);

	/* Truncate, then zero-extend. */
	a.valid = WIRE_ATTR_SIZE;
	a.size = 2;
	assert_int_equal(t_setattr(t, f, &a), 0);
	assert_true(t->res.attr.size == 2 && t->res.attr.mtime_ns == t->clock);
	a.size = 5;
	assert_int_equal(t_setattr(t, f, &a), 0);
	assert_int_equal(fsm_read(t->fsm, NULL, f, 0, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "ab\0\0\0", 5);

	/* Explicit times, and "now" = the command's time. */
	a.valid = WIRE_ATTR_ATIME | WIRE_ATTR_MTIME | WIRE_ATTR_CTIME;
	a.atime_ns = -1;
	a.mtime_ns = 123;
	a.ctime_ns = 456;
	assert_int_equal(t_setattr(t, f, &a), 0);
	after = t->res.attr;
	assert_true(after.atime_ns == -1 && after.mtime_ns == 123 && after.ctime_ns == 456);
	a.valid = WIRE_ATTR_ATIME_NOW | WIRE_ATTR_MTIME_NOW;
	assert_int_equal(t_setattr(t, f, &a), 0);
	after = t->res.attr;
	assert_true(after.atime_ns == t->clock && after.mtime_ns == t->clock);

	/* An empty mask changes nothing. */
	a.valid = 0;
	before = t_getattr(t, f);
	assert_int_equal(t_setattr(t, f, &a), 0);
	assert_memory_equal(&t->res.attr, &before, sizeof(before));

	a.valid = WIRE_ATTR_SIZE;
	a.size = 1;
	ASSERT_FAILS(t, EISDIR, t_setattr(t, ROOT, &a));
	assert_int_equal(t_symlink(t, ROOT, "l", "f"), 0);
	ASSERT_FAILS(t, EINVAL, t_setattr(t, t->res.attr.ino, &a));
	a.size = FSM_DEFAULT_MAX_VALUE_SIZE + 1;
	ASSERT_FAILS(t, EFBIG, t_setattr(t, f, &a));
	ASSERT_FAILS(t, ENOENT, t_setattr(t, 99, &a));
}

static void mkdir_and_rmdir(void **state)
{
	struct tenv *t = *state;
	uint64_t d, e, f;
	struct fsm_attr a;

	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	d = t->res.attr.ino;
	assert_true(t->res.attr.mode == (S_IFDIR | 0755) && t->res.attr.nlink == 2);
	assert_int_equal(t_getattr(t, ROOT).nlink, 3);
	ASSERT_FAILS(t, EEXIST, t_mkdir(t, ROOT, "d"));
	ASSERT_FAILS(t, ENOENT, t_mkdir(t, 99, "x"));
	assert_int_equal(t_mkdir(t, d, "e"), 0);
	e = t->res.attr.ino;
	assert_int_equal(t_getattr(t, d).nlink, 3);
	assert_int_equal(fsm_lookup(t->fsm, NULL, e, "..", 2, &a), 0);
	assert_int_equal(a.ino, d);
	assert_int_equal(fsm_lookup(t->fsm, NULL, ROOT, "..", 2, &a), 0);
	assert_int_equal(a.ino, ROOT);

	ASSERT_FAILS(t, ENOTEMPTY, t_rmdir(t, ROOT, "d"));
	assert_int_equal(t_create(t, d, "f", 0, NULL), 0);
	f = t->res.attr.ino;
	ASSERT_FAILS(t, ENOTDIR, t_rmdir(t, d, "f"));
	ASSERT_FAILS(t, ENOTDIR, t_mkdir(t, f, "x"));
	ASSERT_FAILS(t, ENOENT, t_rmdir(t, d, "nope"));
	ASSERT_FAILS(t, EINVAL, t_rmdir(t, d, "."));
	ASSERT_FAILS(t, EINVAL, t_rmdir(t, d, ".."));

	assert_int_equal(t_rmdir(t, d, "e"), 0);
	assert_true(t->res.attr.ino == e && t->res.attr.nlink == 0);
	assert_int_equal(fsm_getattr(t->fsm, NULL, e, &a), -ENOENT);
	assert_int_equal(t_getattr(t, d).nlink, 2);
	assert_int_equal(t_unlink(t, d, "f"), 0);
	assert_int_equal(t_rmdir(t, ROOT, "d"), 0);
	assert_int_equal(t_getattr(t, ROOT).nlink, 2);
}

static void unlink_and_link(void **state)
{
	struct tenv *t = *state;
	struct fsm_statfs st;
	struct fsm_attr a;
	uint64_t f, d;
	char *s;

	assert_int_equal(t_create(t, ROOT, "f", 0, "data"), 0);
	f = t->res.attr.ino;
	assert_int_equal(t_setxattr(t, f, "user.k", "v", 0), 0);
	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	d = t->res.attr.ino;
	assert_int_equal(t_link(t, f, d, "g"), 0);
	assert_true(t->res.attr.ino == f && t->res.attr.nlink == 2);
	assert_int_equal(t_getattr(t, d).version, t->index);

	ASSERT_FAILS(t, EPERM, t_link(t, d, ROOT, "dd"));
	ASSERT_FAILS(t, EEXIST, t_link(t, f, ROOT, "d"));
	ASSERT_FAILS(t, ENOENT, t_link(t, 99, ROOT, "x"));
	ASSERT_FAILS(t, ENOTDIR, t_link(t, f, f, "x"));
	ASSERT_FAILS(t, EISDIR, t_unlink(t, ROOT, "d"));
	ASSERT_FAILS(t, ENOENT, t_unlink(t, ROOT, "nope"));
	ASSERT_FAILS(t, ENOTDIR, t_unlink(t, f, "x"));

	/* One name goes; the file stays under the other. */
	assert_int_equal(t_unlink(t, ROOT, "f"), 0);
	assert_true(t->res.attr.ino == f && t->res.attr.nlink == 1);
	s = t_read(t, f);
	assert_string_equal(s, "data");
	free(s);
	assert_int_equal(t_lookup(t, ROOT, "f"), 0);
	/* The last name takes contents and xattrs along. */
	assert_int_equal(t_unlink(t, d, "g"), 0);
	assert_int_equal(t->res.attr.nlink, 0);
	assert_int_equal(fsm_getattr(t->fsm, NULL, f, &a), -ENOENT);
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_true(st.files == 2 && st.bytes == 0);
	assert_int_equal(t_rmdir(t, ROOT, "d"), 0);
	/* Nothing of f is left: the tree is the fresh one but for counters. */
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_int_equal(st.files, 1);
}

static void symlink_and_readlink(void **state)
{
	struct tenv *t = *state;
	char buf[FSM_TARGET_MAX + 2];
	size_t n;
	uint64_t l;

	assert_int_equal(t_symlink(t, ROOT, "l", "../some/where"), 0);
	l = t->res.attr.ino;
	assert_true(t->res.attr.mode == (S_IFLNK | 0777) && t->res.attr.size == 13);
	assert_int_equal(fsm_readlink(t->fsm, NULL, l, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 13);
	assert_memory_equal(buf, "../some/where", 13);
	assert_int_equal(fsm_readlink(t->fsm, NULL, l, buf, 4, &n), -ERANGE);
	assert_int_equal(n, 13);
	assert_int_equal(fsm_readlink(t->fsm, NULL, ROOT, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(fsm_read(t->fsm, NULL, l, 0, 4, buf, &n), -EINVAL);

	ASSERT_FAILS(t, EEXIST, t_symlink(t, ROOT, "l", "x"));
	ASSERT_FAILS(t, ENOENT, t_symlink(t, ROOT, "m", ""));
	memset(buf, 'a', FSM_TARGET_MAX + 1);
	buf[FSM_TARGET_MAX + 1] = '\0';
	ASSERT_FAILS(t, ENAMETOOLONG, t_symlink(t, ROOT, "m", buf));
	buf[FSM_TARGET_MAX] = '\0';
	assert_int_equal(t_symlink(t, ROOT, "m", buf), 0);
	assert_int_equal(t->res.attr.size, FSM_TARGET_MAX);
}

static void xattrs(void **state)
{
	struct tenv *t = *state;
	char buf[256], big[FSM_XATTR_SIZE_MAX + 2], name[FSM_XATTR_NAME_MAX + 2];
	size_t n;
	uint64_t f, v;

	assert_int_equal(t_create(t, ROOT, "f", 0, NULL), 0);
	f = t->res.attr.ino;
	v = t->res.attr.version;
	assert_int_equal(t_setxattr(t, f, "user.b", "2", 0), 0);
	assert_int_equal(t->res.attr.version, v + 1);
	assert_int_equal(t_setxattr(t, f, "user.a", "1", WIRE_XATTR_CREATE), 0);
	assert_int_equal(t_setxattr(t, f, "user.a", "one", WIRE_XATTR_REPLACE), 0);
	assert_int_equal(fsm_getxattr(t->fsm, NULL, f, "user.a", 6, NULL, 0, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(fsm_getxattr(t->fsm, NULL, f, "user.a", 6, buf, 2, &n), -ERANGE);
	assert_int_equal(fsm_getxattr(t->fsm, NULL, f, "user.a", 6, buf, sizeof(buf), &n), 0);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(fsm_listxattr(t->fsm, NULL, f, NULL, 0, &n), 0);
	assert_int_equal(n, 14);
	assert_int_equal(fsm_listxattr(t->fsm, NULL, f, buf, 5, &n), -ERANGE);
	assert_int_equal(fsm_listxattr(t->fsm, NULL, f, buf, sizeof(buf), &n), 0);
	assert_memory_equal(buf, "user.a\0user.b\0", 14);
	assert_int_equal(fsm_getxattr(t->fsm, NULL, f, "user.zz", 7, buf, 9, &n), -ENODATA);
	assert_int_equal(fsm_getxattr(t->fsm, NULL, 99, "user.a", 6, buf, 9, &n), -ENOENT);

	ASSERT_FAILS(t, EEXIST, t_setxattr(t, f, "user.a", "x", WIRE_XATTR_CREATE));
	ASSERT_FAILS(t, ENODATA, t_setxattr(t, f, "user.c", "x", WIRE_XATTR_REPLACE));
	ASSERT_FAILS(t, EINVAL,
	             t_setxattr(t, f, "user.c", "x", WIRE_XATTR_CREATE | WIRE_XATTR_REPLACE));
	ASSERT_FAILS(t, ENOTSUP, t_setxattr(t, f, "security.selinux", "x", 0));
	ASSERT_FAILS(t, ENOTSUP, t_setxattr(t, f, "trusted.x", "x", 0));
	ASSERT_FAILS(t, ENOTSUP, t_removexattr(t, f, "system.posix_acl_access"));
	ASSERT_FAILS(t, EINVAL, t_setxattr(t, f, "user.", "x", 0));
	ASSERT_FAILS(t, ENOENT, t_setxattr(t, 99, "user.a", "x", 0));
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[FSM_XATTR_NAME_MAX + 1] = '\0';
	ASSERT_FAILS(t, ERANGE, t_setxattr(t, f, name, "x", 0));
	name[FSM_XATTR_NAME_MAX] = '\0';
	assert_int_equal(t_setxattr(t, f, name, "x", 0), 0);
	memset(big, 'v', sizeof(big));
	big[FSM_XATTR_SIZE_MAX + 1] = '\0';
	ASSERT_FAILS(t, E2BIG, t_setxattr(t, f, "user.big", big, 0));
	big[FSM_XATTR_SIZE_MAX] = '\0';
	assert_int_equal(t_setxattr(t, f, "user.big", big, 0), 0);
	assert_int_equal(t_setxattr(t, f, "user.empty", "", 0), 0);
	assert_int_equal(fsm_getxattr(t->fsm, NULL, f, "user.empty", 10, buf, 9, &n), 0);
	assert_int_equal(n, 0);
	/* Directories have them too; symlinks do not (xattr(7)). */
	assert_int_equal(t_setxattr(t, ROOT, "user.a", "r", 0), 0);
	assert_int_equal(t_symlink(t, ROOT, "l", "f"), 0);
	ASSERT_FAILS(t, EPERM, t_setxattr(t, t->res.attr.ino, "user.a", "x", 0));

	assert_int_equal(t_removexattr(t, f, "user.a"), 0);
	ASSERT_FAILS(t, ENODATA, t_removexattr(t, f, "user.a"));
	assert_int_equal(fsm_getxattr(t->fsm, NULL, f, "user.a", 6, buf, 9, &n), -ENODATA);
}

/* The list of names stays within what listxattr(2) can return. */
static void xattr_list_bound(void **state)
{
	struct tenv *t = *state;
	char name[300];
	int i, rc = 0;
	for (i = 0; i < 1000 && rc == 0; i++) {
		snprintf(name, sizeof(name), "user.%0200d", i);
		rc = t_setxattr(t, ROOT, name, "", 0);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(i - 1, 65536 / 206); /* names of 205 bytes + NUL */
}

/* The errors that need an unusual command or a lot of links. */
static void rare_errors(void **state)
{
	struct tenv *t = *state;
	struct wire_cmd mk = {.type = WIRE_CMD_MKDIR,
	                      .parent = ROOT,
	                      .name = "x",
	                      .name_len = 1,
	                      .mode = S_IFREG | 0644};
	struct wire_cmd sl = {.type = WIRE_CMD_SYMLINK,
	                      .parent = ROOT,
	                      .name = "s",
	                      .name_len = 1,
	                      .data = "a\0b",
	                      .data_len = 3};
	struct wire_cmd ln = {.type = WIRE_CMD_LINK, .parent = ROOT};
	struct fsm_result res;
	MDB_txn *txn;
	char name[16];
	uint8_t buf[64];
	size_t len;
	uint64_t f;

	ASSERT_FAILS(t, EINVAL, tenv_apply(t, &mk));
	ASSERT_FAILS(t, EINVAL, tenv_apply(t, &sl));
	assert_int_equal(t_append(t, ROOT, ""), -EISDIR);
	assert_int_equal(t_symlink(t, ROOT, "l", "x"), 0);
	ASSERT_FAILS(t, EINVAL, t_append(t, t->res.attr.ino, "a"));

	/* Links up to FSM_NLINK_MAX, in one transaction for speed. */
	assert_int_equal(t_create(t, ROOT, "f", 0, NULL), 0);
	f = t->res.attr.ino;
	ln.ino = f;
	ln.name = name;
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	for (int i = 1; i < FSM_NLINK_MAX; i++) {
		ln.name_len = (size_t)snprintf(name, sizeof(name), "l%d", i);
		assert_int_equal(wire_cmd_encode(&ln, buf, sizeof(buf), &len), 0);
		assert_int_equal(fsm_apply(t->fsm, txn, ++t->index, buf, len, &res), 0);
		assert_int_equal(res.err, 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(t_getattr(t, f).nlink, FSM_NLINK_MAX);
	ASSERT_FAILS(t, EMLINK, t_link(t, f, ROOT, "one-more"));
}

static void name_limits(void **state)
{
	struct tenv *t = *state;
	char name[FSM_NAME_MAX + 2];
	struct wire_cmd c = {.type = WIRE_CMD_MKDIR, .parent = ROOT, .name = "a\0b", .name_len = 3};
	struct fsm_attr a;

	memset(name, 'n', sizeof(name));
	name[FSM_NAME_MAX + 1] = '\0';
	ASSERT_FAILS(t, ENAMETOOLONG, t_create(t, ROOT, name, 0, NULL));
	ASSERT_FAILS(t, ENAMETOOLONG, t_mkdir(t, ROOT, name));
	assert_int_equal(fsm_lookup(t->fsm, NULL, ROOT, name, strlen(name), &a), -ENAMETOOLONG);
	name[FSM_NAME_MAX] = '\0';
	assert_int_equal(t_create(t, ROOT, name, 0, NULL), 0);
	assert_int_equal(t_lookup(t, ROOT, name), t->res.attr.ino);
	ASSERT_FAILS(t, EINVAL, t_create(t, ROOT, "", 0, NULL));
	ASSERT_FAILS(t, EINVAL, t_create(t, ROOT, "a/b", 0, NULL));
	ASSERT_FAILS(t, EINVAL, t_mkdir(t, ROOT, "."));
	ASSERT_FAILS(t, EINVAL, t_symlink(t, ROOT, "..", "x"));
	ASSERT_FAILS(t, EINVAL, t_rename(t, ROOT, name, ROOT, "..", 0));
	ASSERT_FAILS(t, EINVAL, tenv_apply(t, &c));
	assert_int_equal(fsm_lookup(t->fsm, NULL, ROOT, "a/b", 3, &a), -EINVAL);
	assert_int_equal(fsm_lookup(t->fsm, NULL, ROOT, ".", 1, &a), 0);
	assert_int_equal(a.ino, ROOT);
}

static void value_limits(void **state)
{
	struct tenv t;
	struct fsm_options o = {.max_value_size = 10};
	struct wire_cmd_attr a = {.valid = WIRE_ATTR_SIZE, .size = 11};
	uint64_t f;
	(void)state;

	tenv_open(&t, &o, 0);
	ASSERT_FAILS(&t, EFBIG, t_create(&t, ROOT, "f", 0, "0123456789a"));
	assert_int_equal(t_create(&t, ROOT, "f", 0, "0123456789"), 0);
	f = t.res.attr.ino;
	ASSERT_FAILS(&t, EFBIG, t_create(&t, ROOT, "f", WIRE_CREATE_TRUNC, "0123456789a"));
	ASSERT_FAILS(&t, EFBIG, t_write(&t, f, 10, "a", 0));
	ASSERT_FAILS(&t, EFBIG, t_write(&t, f, 0, "0123456789a", WIRE_WRITE_TRUNCATE));
	ASSERT_FAILS(&t, EFBIG, t_append(&t, f, "a"));
	ASSERT_FAILS(&t, EFBIG, t_setattr(&t, f, &a));
	ASSERT_FAILS(&t, E2BIG, t_setxattr(&t, f, "user.x", "0123456789a", 0));
	a.size = 10;
	assert_int_equal(t_setattr(&t, f, &a), 0);
	assert_int_equal(t_write(&t, f, 0, "abc", WIRE_WRITE_TRUNCATE), 0);
	assert_int_equal(t_append(&t, f, "0123456"), 0);
	tenv_close(&t);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tenv_setup, tenv_teardown)
	const struct CMUnitTest tests[] = {
	        T(open_makes_a_root),
	        T(open_refuses_another_format),
	        T(create_new_file),
	        T(create_existing_name),
	        T(create_errors),
	        T(write_at_offsets),
	        T(write_errors),
	        T(append_at_end),
	        T(setattr_fields),
	        T(mkdir_and_rmdir),
	        T(unlink_and_link),
	        T(symlink_and_readlink),
	        T(xattrs),
	        T(xattr_list_bound),
	        T(rare_errors),
	        T(name_limits),
	        cmocka_unit_test(value_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
