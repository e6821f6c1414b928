/* fsm_internal.h: what the files of src/fsm share: the handle, record layouts and tree helpers. */
#ifndef QUORUMFS_FSM_INTERNAL_H
#define QUORUMFS_FSM_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <lmdb.h>

#include "quorumfs/wire_cmd.h"
#include "quorumfs/fsm.h"
#include "quorumfs/store.h"

/*
 * Return convention inside src/fsm: 0 is success, a POSITIVE errno is the
 * command's own outcome (ENOENT, EEXIST, ...: it goes into fsm_result.err,
 * negated, and the entry still counts as applied), a NEGATIVE value is a
 * storage failure that makes the caller abort the transaction. The sign
 * keeps the two apart even where the same errno could mean either.
 *
 * A command checks everything that can make it fail before its first
 * write, so a failed command leaves the transaction as it found it (the
 * caller batches many commands in one transaction).
 */

struct fsm {
	MDB_env *env;
	MDB_dbi inodes;          /* ino -> inode record */
	MDB_dbi dirents;         /* (parent, name) -> child; (parent, seq) -> entry */
	MDB_dbi data;            /* (ino, block) -> contents; ino -> symlink target;
	                            (ino, xattr name) -> value */
	MDB_dbi sessions;        /* client -> session; (last used, client) -> "" */
	MDB_dbi meta;            /* shared with src/store; we own the "fsm." keys */
	MDB_dbi nsessions;       /* node -> its session (coord.c) */
	MDB_dbi locks;           /* (ino, node, owner, kind, start) -> lock */
	MDB_dbi ephemeral;       /* (node, ino) -> session */
	MDB_dbi orphans;         /* ino -> holders; 0 -> the members (orphans.c) */
	struct fsm_options opts; /* defaults filled in */
	uint64_t index;          /* the log index fsm_apply is applying, 0 outside
	                            it: what a change stamps as the inode's version.
	                            Written only by the single writer thread. */
	char errmsg[256];
};

/* Meta keys (docs/storage-format.md). */
#define FSM__KEY_FORMAT  "fsm.format"
#define FSM__KEY_APPLIED "fsm.applied"
#define FSM__KEY_NEXTINO "fsm.next_ino"
#define FSM__KEY_BYTES   "fsm.bytes"
#define FSM__META_PREFIX "fsm."

/* Key tags: the byte after the leading 8-byte number. */
#define FSM__DIRENT_NAME 0x00 /* dirents: parent, 0x00, name */
#define FSM__DIRENT_SEQ  0x01 /* dirents: parent, 0x01, seq */
#define FSM__DATA_XATTR  0x00 /* data: ino, 0x00, xattr name */
#define FSM__DATA_BLOCK  0x01 /* data: ino, 0x01, block (8): at most FSM_BLOCK_SIZE bytes */
#define FSM__BLOCK_KEY   17
#define FSM__SESS_CLIENT 0x00 /* sessions: 0x00, client */
#define FSM__SESS_USED   0x01 /* sessions: 0x01, last used index, client */

/* The first sequence number of a directory's entries: 1 and 2 are left
 * to "." and ".." in a FUSE layer's readdir offsets. */
#define FSM__FIRST_SEQ 3

/* An inode as stored: the public attributes plus directory bookkeeping. */
struct fsm__inode {
	struct fsm_attr a;
	uint64_t parent;   /* directories: the one directory holding it (root: 1); others: 0 */
	uint64_t next_seq; /* directories: the seq the next entry gets; others: 0 */
};
#define FSM__INODE_REC_SIZE    88
#define FSM__INODE_REC_SIZE_V1 72 /* format 1: no rdev, no blocks */
#define FSM__RESULT_SIZE_V1    76 /* format 1's stored results: no rdev, no blocks */

/* A name entry as stored. */
struct fsm__dirent {
	uint64_t child;
	uint64_t seq;
	uint32_t type; /* S_IFMT bits of the child's mode */
};
#define FSM__DIRENT_REC_SIZE 20

/* Big-endian integers: keys sort numerically with LMDB's default memcmp,
 * and the bytes are the same on every architecture. */
static inline void fsm__put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t fsm__get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void fsm__put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint32_t fsm__get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline MDB_val fsm__val(const void *p, size_t n)
{
	MDB_val v = {n, (void *)p};
	return v;
}

/* LMDB's "no such key", as src/store's one table of LMDB codes says it. */
static inline bool fsm__notfound(int mdb_rc)
{
	return store_lmdb_error(mdb_rc) == -ENOENT;
}

/* records.c */
/* Translates an mdb_* return (store_lmdb_error()) and, for a failure,
 * records "@what: LMDB's text" for fsm_errmsg(). 0 stays 0. */
int fsm__lmdb(struct fsm *fsm, int rc, const char *what);
int fsm__oom(struct fsm *fsm, const char *what);
void fsm__inode_encode(const struct fsm__inode *in, uint8_t out[FSM__INODE_REC_SIZE]);
int fsm__inode_decode(uint64_t ino, const MDB_val *v, struct fsm__inode *out);
int fsm__meta_get64(struct fsm *fsm, MDB_txn *txn, const char *key, uint64_t *v, uint64_t dflt);
int fsm__meta_put64(struct fsm *fsm, MDB_txn *txn, const char *key, uint64_t v);
int fsm__check_name(const char *name, size_t len);
int fsm__read_txn(struct fsm *fsm, MDB_txn *given, MDB_txn **txn);
void fsm__read_done(MDB_txn *given, MDB_txn *txn);

/* tree.c: the building blocks of the commands. Positive errno = outcome. */
int fsm__inode_get(struct fsm *fsm, MDB_txn *txn, uint64_t ino, struct fsm__inode *out);
int fsm__inode_put(struct fsm *fsm, MDB_txn *txn, const struct fsm__inode *in);
int fsm__dir_get(struct fsm *fsm, MDB_txn *txn, uint64_t ino, struct fsm__inode *out);
int fsm__inode_new(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, uint32_t mode,
                   struct fsm__inode *out);
/* As fsm__inode_new, with inode number @ino (0: the counter's next); the
 * caller checked that @ino was reserved and is unused. */
int fsm__inode_new_at(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, uint32_t mode,
                      uint64_t ino, struct fsm__inode *out);
int fsm__dirent_get(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                    struct fsm__dirent *out);
int fsm__dirent_add(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *dir, const char *name,
                    size_t len, uint64_t child, uint32_t type);
int fsm__dirent_del(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                    const struct fsm__dirent *de);
int fsm__dirent_retarget(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name,
                         size_t len, const struct fsm__dirent *de, uint64_t child, uint32_t type);
int fsm__dir_empty(struct fsm *fsm, MDB_txn *txn, uint64_t ino, int *empty);
int fsm__inode_drop(struct fsm *fsm, MDB_txn *txn, const struct fsm__inode *in);
int fsm__unref(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, int64_t now);
int fsm__target_get(struct fsm *fsm, MDB_txn *txn, uint64_t ino, MDB_val *out);
int fsm__target_set(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, const void *buf,
                    size_t len);

/* blocks.c: a regular file's contents, in blocks (docs/storage-format.md).
 * Invariant: no stored byte lies at or past the file's size; a missing
 * block, or the part of a block past its stored length, reads as zeros.
 * These keep in->a.size, in->a.blocks and fsm.bytes right; the caller
 * sets times and writes @in back. Bounds (max_value_size) are the
 * caller's. */
int fsm__file_resize(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, uint64_t size);
int fsm__file_write(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, uint64_t off,
                    const void *buf, size_t len);
int fsm__file_read(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t off, size_t len,
                   void *buf);
/* The block store alone: writes @len bytes at @off, keeps in->a.blocks
 * right, touches neither size nor fsm.bytes (for the format-1 conversion). */
int fsm__blocks_write(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, uint64_t off,
                      const uint8_t *buf, size_t len);
int fsm__bytes_add(struct fsm *fsm, MDB_txn *txn, uint64_t sub, uint64_t add);
/* Stamps @in as changed by the entry being applied: ctime (and mtime if
 * @mtime) = @now, version = fsm->index. */
void fsm__changed(const struct fsm *fsm, struct fsm__inode *in, int64_t now, int mtime);

/* orphans.c */
int fsm__orphan_or_drop(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in);
int fsm__orphans_conf(struct fsm *fsm, MDB_txn *txn, const uint64_t *ids, size_t n);
int fsm__apply_orphan_release(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                              struct fsm_result *res);

/* exactly_once.c */
int fsm__session_expire(struct fsm *fsm, MDB_txn *txn, uint64_t index);
int fsm__session_check(struct fsm *fsm, MDB_txn *txn, uint64_t index, const struct wire_cmd *c,
                       struct fsm_result *res, int *done);
int fsm__session_store(struct fsm *fsm, MDB_txn *txn, uint64_t index, const struct wire_cmd *c,
                       const struct fsm_result *res);

/* coord.c: the coordination commands (WIRE_CMD_COORD_MIN..MAX); the
 * lock's token is @index. */
int fsm__apply_coord(struct fsm *fsm, MDB_txn *txn, uint64_t index, const struct wire_cmd *c,
                     struct fsm_result *res);

/* apply_*.c: one function per command; fill res on success. */
/* coord.c: removes every name of @ino as UNLINK at @c's time (a pass over
 * all directory entries: there is no inode -> name index); counts them. */
int fsm__unlink_names(struct fsm *fsm, MDB_txn *txn, uint64_t ino, const struct wire_cmd *c,
                      uint64_t *removed);

/* apply_key.c */
int fsm__apply_ttl_expire(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                          struct fsm_result *res);
int fsm__apply_put_if(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res);
int fsm__apply_create(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res);
int fsm__apply_write(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                     struct fsm_result *res);
int fsm__apply_append(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res);
int fsm__apply_setattr(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                       struct fsm_result *res);
int fsm__apply_mkdir(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                     struct fsm_result *res);
int fsm__apply_mknod(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                     struct fsm_result *res);
int fsm__apply_writev(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res);
int fsm__apply_create_writev(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                             struct fsm_result *res);
int fsm__apply_symlink(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                       struct fsm_result *res);
int fsm__apply_link(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                    struct fsm_result *res);
int fsm__apply_unlink(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res);
int fsm__apply_rmdir(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                     struct fsm_result *res);
int fsm__apply_rename(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res);
int fsm__apply_setxattr(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                        struct fsm_result *res);
int fsm__apply_removexattr(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                           struct fsm_result *res);

#endif
