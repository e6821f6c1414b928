/* helpers.h: a throw-away LMDB environment with a tree, and one-line commands for the fsm tests. */
#ifndef QUORUMFS_TEST_FSM_HELPERS_H
#define QUORUMFS_TEST_FSM_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "quorumfs/wire_cmd.h"
#include "quorumfs/fsm.h"

struct tenv {
	char dir[64];
	MDB_env *env;
	struct fsm *fsm;
	uint64_t index;        /* the last index given to fsm_apply */
	int64_t clock;         /* the time put into the next command */
	struct fsm_result res; /* of the last command */
};

/* Opens a fresh env in a mkdtemp directory (MDB_NOSYNC: tests only) and an
 * fsm on it. @opts may be NULL; @mapsize 0 means 1 GiB. */
void tenv_open(struct tenv *t, const struct fsm_options *opts, size_t mapsize);
/* Closes everything and removes the directory. */
void tenv_close(struct tenv *t);

/* cmocka fixtures: a fresh environment with default options in *@state,
 * closed and removed afterwards. */
int tenv_setup(void **state);
int tenv_teardown(void **state);

/* Applies @c at the next index in a txn of its own; returns res.err. The
 * time is set from the env's clock unless @c->time_ns is non-zero. */
int tenv_apply(struct tenv *t, struct wire_cmd *c);

/* A crc over every key and value of every tree database, meta included
 * but for fsm.applied: equal digests mean (practically) equal trees, and a
 * failed command must leave the digest as it was. */
uint32_t tenv_digest(struct tenv *t);
/* Asserts that the tree databases of @a and @b hold the same bytes. */
void tenv_assert_same(struct tenv *a, struct tenv *b);

/* One-line commands; each returns res.err and leaves the result in t->res. */
int t_create(struct tenv *t, uint64_t parent, const char *name, uint32_t flags, const char *data);
int t_mkdir(struct tenv *t, uint64_t parent, const char *name);
int t_symlink(struct tenv *t, uint64_t parent, const char *name, const char *target);
int t_link(struct tenv *t, uint64_t ino, uint64_t parent, const char *name);
int t_unlink(struct tenv *t, uint64_t parent, const char *name);
int t_rmdir(struct tenv *t, uint64_t parent, const char *name);
int t_rename(struct tenv *t, uint64_t sp, const char *sn, uint64_t dp, const char *dn,
             uint32_t flags);
int t_write(struct tenv *t, uint64_t ino, uint64_t off, const char *data, uint32_t flags);
int t_append(struct tenv *t, uint64_t ino, const char *data);
/* WRITEV of @n extents (borrowed) with WIRE_WRITEV_* @flags. */
int t_writev(struct tenv *t, uint64_t ino, uint32_t flags, uint64_t size,
             const struct wire_cmd_extent *ext, size_t n);
/* fsm_apply_conf at the next index, in a txn of its own; returns its rc. */
int t_conf(struct tenv *t, const uint64_t *ids, size_t n);
/* ORPHAN_RELEASE by @node of @n (<= 64) inode numbers. */
int t_release(struct tenv *t, uint64_t node, const uint64_t *inos, size_t n);
int t_mknod(struct tenv *t, uint64_t parent, const char *name, uint32_t mode, uint64_t rdev);
int t_setattr(struct tenv *t, uint64_t ino, const struct wire_cmd_attr *a);
int t_setxattr(struct tenv *t, uint64_t ino, const char *name, const char *val, uint32_t flags);
int t_removexattr(struct tenv *t, uint64_t ino, const char *name);

/* Asserts two results are equal field by field (memcmp would also
 * compare padding, which struct assignment need not copy). */
void assert_result_equal(const struct fsm_result *a, const struct fsm_result *b);

/* Queries, asserted to succeed. */
struct fsm_attr t_getattr(struct tenv *t, uint64_t ino);
/* The inode of @name in @parent, or 0 if it does not exist. */
uint64_t t_lookup(struct tenv *t, uint64_t parent, const char *name);
/* The contents of file @ino as a NUL-terminated malloc'd string (caller frees). */
char *t_read(struct tenv *t, uint64_t ino);

#endif
