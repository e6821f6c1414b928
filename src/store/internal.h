/* internal.h: the store's private state and the helpers its files share. */
#ifndef QUORUMFS_STORE_INTERNAL_H
#define QUORUMFS_STORE_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "quorumfs/store.h"

/* Format version written to "store.format"; bump on any layout change.
 * 1: the Raft log and hard state in LMDB; 2: in the write-ahead log (wal/),
 * converted from 1 at open (legacy.c). */
#define STORE_FORMAT 2

/* The store's own keys in "meta" (documented in docs/storage-format.md). */
#define KEY_FORMAT     "store.format"
#define KEY_NODE_ID    "store.node_id"
#define KEY_CLUSTER_ID "store.cluster_id"
#define KEY_HARD_STATE "store.hard_state"
#define KEY_LOG_BASE   "store.log_base"
#define KEY_SNAPSHOT   "store.snapshot"


struct store {
	MDB_env *env;
	MDB_dbi meta; /* valid for the environment's life once opened */
	MDB_dbi log;   /* format 1's log, open only to convert it */
	bool legacy;   /* the directory is format 1 until converted */
	bool converted; /* this open converted it */
	struct wal *wal; /* the Raft log and hard state (wal.h) */
	size_t wal_segment_bytes;
	/* Serializes writers of the log (one at a time, as LMDB's). */
	pthread_mutex_t log_lock;
	int lock_fd; /* flock'ed "quorumfs.lock": one opener per directory */
	char *dir;

	uint64_t node_id; /* as recorded in the directory */
	uint8_t cluster_id[STORE_CLUSTER_ID_LEN];

	size_t max_map_size;
	size_t compact_batch;
	size_t prealloc_bytes;  /* 0: off */
	unsigned prealloc_skip; /* commits to wait after a failed preallocation */
	bool nosync;

	/* Held shared by every transaction of this process and exclusive to
	 * remap: mdb_env_set_mapsize() may not run while any is open. */
	pthread_rwlock_t map_lock;
	/* Serializes writers in this process (LMDB allows one at a time). */
	pthread_mutex_t write_lock;
	_Atomic unsigned map_grows; /* atomic: store_info() may run inside a writer */
	/* Commits of this process, and how many of them were lazy (no meta
	 * sync); atomic for store_info(), written under write_lock. */
	_Atomic uint64_t commits, lazy_commits;
	/* The last commit was lazy: its meta page may still be only in the
	 * page cache. Under write_lock; store_close() syncs it. */
	bool meta_unsynced;

	pthread_mutex_t err_lock;
	char err[256]; /* latest failure's text, under err_lock */
};

/* Records the text of a failure in s->err; returns @rc so callers can
 * `return store__fail(s, rc, ...)`. */
int store__fail(struct store *s, int rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Translates an LMDB code and, if it is a failure, records "@what: text". */
int store__mdb_fail(struct store *s, int mdb_rc, const char *what);

/* Translates and records the failure of a commit. EIO while the file system
 * is (nearly) full is LMDB's report of a short write that ran out of space:
 * that becomes -ENOSPC, which the caller can recover from. */
int store__commit_error(struct store *s, int mdb_rc, const char *what);

/* Grows the map (doubling, up to max_map_size) or adopts a size another
 * process set (@need_adopt). Takes map_lock exclusively: call it holding no
 * transaction. Returns 0, -ENOSPC, or a translated error. */
int store__grow_map(struct store *s, bool adopt_only);

/* Keeps the data file extended ahead of its used pages. Writer, no txn open. */
void store__prealloc(struct store *s);

/* Big-endian codecs for keys and values. */
static inline void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static inline uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Meta records of the store end with a crc32c of the key and the bytes before
 * it, so a record moved, cut or flipped is detected. */
void store__seal(const char *key, unsigned char *rec, size_t len_with_crc);
bool store__sealed_ok(const char *key, const unsigned char *rec, size_t len_with_crc);

/* Reads a sealed record of exactly @len bytes under @key into @out.
 * Returns 0, -ENOENT, QFS_ECORRUPT, translated LMDB errors. */
int store__get_sealed(struct store *s, MDB_txn *txn, const char *key, unsigned char *out,
                      size_t len);
/* Writes a raw record under a key (store.* keys allowed). */
int store__put_raw(struct store *s, MDB_txn *txn, const char *key, const void *val, size_t len);

/* Moves a format-1 directory's log and hard state into the (empty) write-
 * ahead log, then drops them from LMDB and records format 2 (legacy.c). */
int store__convert_v1(struct store *s);

#endif
