/* wal.h: the write-ahead log of Raft entries and hard state (segment files beside data.mdb). */
#ifndef QUORUMFS_STORE_WAL_H
#define QUORUMFS_STORE_WAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorumfs/store.h"

/*
 * The byte layout is docs/storage-format.md, "The write-ahead log". In
 * short: a directory "wal" of segment files named by a sequence number,
 * each preallocated with zeros, starting with a 32-byte header, then
 * batches (one per write call): a 32-byte batch header with two crc32c
 * (of the header, of the body) and a body of records. A batch is what one
 * pwrite puts down; a sync is one fdatasync of the segment.
 */

#define WAL_MAGIC        "QFSWAL01"
#define WAL_VERSION      1
#define WAL_SEG_HDR      32
#define WAL_BATCH_HDR    32
#define WAL_SEG_DEFAULT  (4u << 20)

/* Record types (the first byte of a record). */
enum {
	WAL_REC_ENTRY = 1,    /* index u64, term u64, type u8, 7 zero bytes, data */
	WAL_REC_HARD = 2,     /* term u64, vote u64, commit u64 */
	WAL_REC_TRUNCATE = 3, /* from u64: entries >= from are gone */
	WAL_REC_RESET = 4,    /* index u64, term u64: no entries; the base is (index, term) */
	WAL_REC_COMPACT = 5,  /* index u64, term u64: entries <= index are gone */
	WAL_REC_STATE = 6,    /* a segment's first record: hard state, base, last (7 x u64) */
};
#define WAL_REC_HDR 8 /* type u8, 3 zero bytes, payload length u32 */

/* Where entry (wal->lo + i) lives. */
struct wal_pos {
	uint64_t term;
	uint64_t seq; /* segment */
	uint64_t off; /* offset of the data in that segment's file */
	uint32_t len;
	uint8_t type;
};

struct wal_seg {
	uint64_t seq;
	int fd;
	uint64_t size; /* bytes of the file (preallocated) */
};

struct wal {
	char *dir; /* <data dir>/wal */
	int dir_fd;
	size_t seg_bytes;
	bool nosync;

	/* Everything below is under mu: the writer changes it, readers of
	 * any thread read it (and pread through the fds). */
	pthread_mutex_t mu;
	struct wal_seg *segs; /* ascending seq, contiguous; the last is written */
	size_t n_segs, cap_segs;
	uint64_t tail;       /* where the next batch goes in the last segment */
	uint64_t batch_seq;  /* of the last batch written */
	uint64_t durable_seq; /* of the last batch known on disk (fdatasync returned) */
	bool unsynced;       /* batches after durable_seq in the last segment */
	int failed;          /* a sync failed: every later write fails with it */
	/* The next segment, made ahead by store__wal_prepare outside mu, so
	 * readers never wait for its zeros and syncs; -1 when none. Writer. */
	int spare_fd;
	uint64_t spare_seq, spare_size;

	struct store_hard_state hs;
	uint64_t base, base_term; /* entry before the first; (0, 0) when none was removed */
	uint64_t last, last_term;
	struct wal_pos *ents; /* entries base+1 .. last */
	size_t cap_ents;

	/* Recovery's findings, for the log line store_open() may print. */
	uint64_t cut_seq, cut_off; /* a torn tail cut there (cut_seq 0: none) */
};

/* Opens (creating if need be) the log under @datadir, replays it, cuts a
 * torn tail; QFS_ECORRUPT on anything else that fails its checks. @err gets
 * one line on failure. */
int store__wal_open(struct wal **out, const char *datadir, size_t seg_bytes, bool nosync,
                    char *err, size_t errlen);
void store__wal_close(struct wal *w);
/* Whether a log directory exists under @datadir. */
bool store__wal_exists(const char *datadir);
/* Removes the log directory under @datadir (a half-made conversion). */
int store__wal_remove(const char *datadir);

/* Writes one batch: an optional hard state, then (if @n) entries that
 * start at e[0].index <= last + 1, preceded by a TRUNCATE record when they
 * replace a suffix. @sync: fdatasync before returning. Writer. */
int store__wal_append(struct wal *w, const struct store_entry *e, size_t n,
                      const struct store_hard_state *hs, bool sync, char *err, size_t errlen);
int store__wal_truncate(struct wal *w, uint64_t from, char *err, size_t errlen);
int store__wal_reset(struct wal *w, uint64_t index, uint64_t term, char *err, size_t errlen);
/* Records the new base and deletes the segments holding nothing above it. */
int store__wal_compact(struct wal *w, uint64_t upto, char *err, size_t errlen);
int store__wal_sync(struct wal *w, char *err, size_t errlen);

/* Readers (any thread). */
void store__wal_hard_state(struct wal *w, struct store_hard_state *out);
void store__wal_bounds(struct wal *w, uint64_t *first, uint64_t *last);
int store__wal_term(struct wal *w, uint64_t index, uint64_t *term);
int store__wal_get(struct wal *w, uint64_t from, uint64_t to, size_t max_bytes,
                   struct store_entry **out, size_t *n, char *err, size_t errlen);

/* ---- shared by the wal*.c files ---- */

/* The crc of a batch header binds it to its segment, so a batch copied or
 * left from elsewhere does not verify. */
uint32_t store__wal_hdr_crc(uint64_t seg_seq, const unsigned char *hdr);
/* Builds "<dir>/<seq>.seg" (16 hex digits) into @buf. */
void store__wal_seg_name(const struct wal *w, uint64_t seq, char *buf, size_t len);
/* Creates segment @seq of @size bytes: zeros, header, fdatasync, then
 * renamed into place and the directory synced, so a segment that exists is
 * whole. Returns its fd or a negative errno. */
int store__wal_seg_create(struct wal *w, uint64_t seq, uint64_t size);
/* Appends @seg to w->segs. */
int store__wal_seg_push(struct wal *w, uint64_t seq, int fd, uint64_t size);
/* Grows w->ents to hold @n entries. */
int store__wal_reserve(struct wal *w, size_t n);
/* Writes a batch of @body_len bytes of records (the buffer has
 * WAL_BATCH_HDR bytes of room before @body) at the tail, rolling over to a
 * new segment first when it does not fit. Does not sync. */
int store__wal_put_batch(struct wal *w, unsigned char *buf, size_t body_len, char *err,
                         size_t errlen);
/* Before store__wal_put_batch, without w->mu: if a batch of @body_len
 * bytes will not fit in the last segment, syncs it and makes the next one
 * (the slow part of a rollover: zeros, fdatasyncs), so that under the
 * lock a rollover only writes. Writer. */
int store__wal_prepare(struct wal *w, size_t body_len, char *err, size_t errlen);
/* Appends a record header and payload to a growing body buffer. */
struct wal_body {
	unsigned char *buf; /* WAL_BATCH_HDR bytes of room, then the body */
	size_t len, cap;    /* body bytes, capacity of the body */
};
int store__wal_rec(struct wal_body *b, uint8_t type, const void *p1, size_t n1, const void *p2,
                   size_t n2);
/* The STATE record that starts each segment, from w's current state. */
int store__wal_state_rec(struct wal *w, struct wal_body *b);

#endif
