/* wal_recover.c: replays the log's segments at open; a torn tail is cut, damage before it refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"
#include "wal.h"

/*
 * What may be torn and what may not: batches are written in order, each at
 * the tail of the last segment, and the log only ever promises what an
 * fdatasync returned for. A crash (of the process or of the machine) can
 * therefore leave, at the end of the last segment, batches written since the
 * last completed fdatasync in any state: missing, cut short, some of their
 * blocks on disk and others not. Those are cut. Every batch carries the
 * sequence number of the last batch known durable when it was written
 * (durable_seq), so a later batch that verifies and names a damaged one as
 * durable proves the damage is not a tear but corruption of what was
 * promised: the open fails (QFS_ECORRUPT) and the node neither votes nor
 * leads. So does any damage in a segment before the last, which was synced
 * whole before the next one got its first batch.
 */

struct replay {
	struct wal *w;
	char *err;
	size_t errlen;
	bool term_known; /* last_term is known (not after a truncation below what is held) */
	bool started;    /* the first STATE record was read */
	uint64_t held_lo; /* index of w->ents[0]; entries held are held_lo .. last */
	size_t n_held;
};

static int corrupt(struct replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int corrupt(struct replay *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return QFS_ECORRUPT;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Drops held entries >= @from. */
static void drop_from(struct replay *r, uint64_t from)
{
	if (r->n_held > 0 && from < r->held_lo + r->n_held)
		r->n_held = from > r->held_lo ? (size_t)(from - r->held_lo) : 0;
}

/* Drops held entries <= @upto. */
static void drop_upto(struct replay *r, uint64_t upto)
{
	struct wal *w = r->w;
	if (r->n_held == 0 || upto < r->held_lo)
		return;
	size_t k = upto - r->held_lo + 1;
	if (k >= r->n_held) {
		r->n_held = 0;
		return;
	}
	memmove(w->ents, w->ents + k, (r->n_held - k) * sizeof(*w->ents));
	r->n_held -= k;
	r->held_lo = upto + 1;
}

static int rec(struct replay *r, uint64_t seq, uint64_t off, const unsigned char *p, uint8_t type,
               uint32_t len, bool first_in_seg)
{
	struct wal *w = r->w;
	if (first_in_seg != (type == WAL_REC_STATE))
		return corrupt(r, "log segment %" PRIu64 ": a STATE record out of place at %" PRIu64,
		               seq, off);
	switch (type) {
	case WAL_REC_STATE: {
		if (len != 56)
			break;
		uint64_t v[7];
		for (int i = 0; i < 7; i++)
			v[i] = get_be64(p + 8 * i);
		if (!r->started) {
			w->hs = (struct store_hard_state){v[0], v[1], v[2]};
			w->base = v[3];
			w->base_term = v[4];
			w->last = v[5];
			w->last_term = v[6];
			r->term_known = true;
			r->started = true;
			r->held_lo = w->last + 1;
			r->n_held = 0;
			if (w->base > w->last)
				return corrupt(r, "log segment %" PRIu64 ": base %" PRIu64
				                  " past last %" PRIu64, seq, w->base, w->last);
			return 0;
		}
		/* A later segment restates where the log stood: it must agree. */
		if (v[0] != w->hs.term || v[1] != w->hs.vote || v[5] != w->last)
			return corrupt(r, "log segment %" PRIu64 " does not follow the one before",
			               seq);
		return 0;
	}
	case WAL_REC_ENTRY: {
		if (len < 24)
			break;
		uint64_t index = get_be64(p), term = get_be64(p + 8);
		if (index != w->last + 1 || (r->term_known && term < w->last_term))
			return corrupt(r, "log segment %" PRIu64 ": entry %" PRIu64 " (term %" PRIu64
			                  ") after %" PRIu64 " (term %" PRIu64 ")",
			               seq, index, term, w->last, w->last_term);
		if (r->n_held == 0)
			r->held_lo = index;
		int rc = store__wal_reserve(w, r->n_held + 1);
		if (rc != 0)
			return rc;
		w->ents[r->n_held++] = (struct wal_pos){
		        .term = term, .seq = seq, .off = off + 24, .len = len - 24, .type = p[16]};
		w->last = index;
		w->last_term = term;
		r->term_known = true;
		return 0;
	}
	case WAL_REC_HARD:
		if (len != 24)
			break;
		w->hs = (struct store_hard_state){get_be64(p), get_be64(p + 8), get_be64(p + 16)};
		return 0;
	case WAL_REC_TRUNCATE: {
		if (len != 8)
			break;
		uint64_t from = get_be64(p);
		if (from <= w->base || from > w->last + 1)
			return corrupt(r, "log segment %" PRIu64 ": truncation from %" PRIu64
			                  " outside (%" PRIu64 ", %" PRIu64 "]",
			               seq, from, w->base, w->last + 1);
		drop_from(r, from);
		w->last = from - 1;
		if (r->n_held > 0 && w->last >= r->held_lo)
			w->last_term = w->ents[w->last - r->held_lo].term;
		else if (w->last == w->base)
			w->last_term = w->base_term;
		else
			r->term_known = false; /* below what is held; a COMPACT follows */
		if (r->n_held == 0)
			r->held_lo = w->last + 1;
		return 0;
	}
	case WAL_REC_RESET:
		if (len != 16)
			break;
		w->base = w->last = get_be64(p);
		w->base_term = w->last_term = get_be64(p + 8);
		r->n_held = 0;
		r->held_lo = w->last + 1;
		r->term_known = true;
		return 0;
	case WAL_REC_COMPACT: {
		if (len != 16)
			break;
		uint64_t i = get_be64(p), t = get_be64(p + 8);
		if (i > w->last)
			return corrupt(r, "log segment %" PRIu64 ": compaction to %" PRIu64
			                  " past the last entry %" PRIu64, seq, i, w->last);
		if (i > w->base) {
			w->base = i;
			w->base_term = t;
			drop_upto(r, i);
			if (w->last == i) {
				w->last_term = t;
				r->term_known = true;
			}
			if (r->n_held == 0)
				r->held_lo = w->last + 1;
		}
		return 0;
	}
	default:
		break;
	}
	return corrupt(r, "log segment %" PRIu64 ": record of type %u and %" PRIu32
	                  " bytes at %" PRIu64 " makes no sense",
	               seq, type, len, off);
}

/* The records of one verified batch body at @off in segment @seq. */
static int replay_body(struct replay *r, uint64_t seq, const unsigned char *buf, uint64_t off,
                       uint32_t body_len, bool first_in_seg)
{
	uint64_t p = off, end = off + body_len;
	while (p < end) {
		if (end - p < WAL_REC_HDR)
			return corrupt(r, "log segment %" PRIu64 ": record cut at %" PRIu64, seq, p);
		uint8_t type = buf[p];
		uint32_t len = get_be32(buf + p + 4);
		uint64_t span = WAL_REC_HDR + (((uint64_t)len + 7) & ~(uint64_t)7);
		if (span > end - p)
			return corrupt(r, "log segment %" PRIu64 ": record longer than its batch at %"
			                  PRIu64, seq, p);
		int rc = rec(r, seq, p + WAL_REC_HDR, buf + p + WAL_REC_HDR, type, len,
		             first_in_seg && p == off);
		if (rc != 0)
			return rc;
		p += span;
	}
	return 0;
}

/* Whether the batch header at @off of segment @seq verifies, with its body. */
static bool batch_ok(const unsigned char *buf, uint64_t size, uint64_t seq, uint64_t off,
                     uint32_t *body_len)
{
	const unsigned char *h = buf + off;
	if (off + WAL_BATCH_HDR > size || get_be32(h) != 0x51574231u)
		return false;
	if (get_be32(h + 28) != store__wal_hdr_crc(seq, h))
		return false;
	uint32_t len = get_be32(h + 4);
	if (len % 8 != 0 || len > size - off - WAL_BATCH_HDR)
		return false;
	if (qfs_crc32c(0, h + WAL_BATCH_HDR, len) != get_be32(h + 24))
		return false;
	*body_len = len;
	return true;
}

/*
 * The first batch at @off of the last segment that does not verify (or an
 * empty header with bytes after it): a tear, unless a verifying batch
 * further on says the batch here had been synced.
 */
static int cut_tail(struct replay *r, struct wal_seg *seg, const unsigned char *buf, uint64_t off)
{
	struct wal *w = r->w;
	uint64_t expect = w->batch_seq + 1;
	uint64_t last_nonzero = off;
	for (uint64_t p = off; p + WAL_BATCH_HDR <= seg->size; p += 8) {
		if (all_zero(buf + p, 8))
			continue;
		last_nonzero = p + 8;
		uint32_t len;
		if (p > off && batch_ok(buf, seg->size, seg->seq, p, &len) &&
		    get_be64(buf + p + 16) >= expect)
			return corrupt(r,
			               "log segment %" PRIu64 ": the batch at %" PRIu64
			               " fails its checks, but the one at %" PRIu64
			               " says it was on disk: the log is damaged",
			               seg->seq, off, p);
	}
	if (last_nonzero == off)
		return 0; /* nothing there: a clean end */
	/* Zeros over the torn bytes, so the next append starts on a clean
	 * tail and a later recovery does not meet them again. */
	static const unsigned char zeros[65536];
	for (uint64_t p = off; p < last_nonzero;) {
		size_t n = last_nonzero - p < sizeof(zeros) ? (size_t)(last_nonzero - p)
		                                            : sizeof(zeros);
		ssize_t k = pwrite(seg->fd, zeros, n, (off_t)p);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			snprintf(r->err, r->errlen, "cut the torn tail of log segment %" PRIu64 ": %s",
			         seg->seq, strerror(errno));
			return -errno;
		}
		p += (uint64_t)k;
	}
	w->cut_seq = seg->seq;
	w->cut_off = off;
	w->unsynced = true; /* the zeros are made durable below */
	return 0;
}

/* Replays segment @seg; *@end gets the offset after its last batch. */
static int replay_seg(struct replay *r, struct wal_seg *seg, bool is_last, uint64_t *end)
{
	struct wal *w = r->w;
	unsigned char *buf = malloc(seg->size ? seg->size : 1);
	int rc = 0;
	if (buf == NULL)
		return -ENOMEM;
	for (uint64_t got = 0; got < seg->size;) {
		ssize_t k = pread(seg->fd, buf + got, seg->size - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			free(buf);
			snprintf(r->err, r->errlen, "read log segment %" PRIu64 ": %s", seg->seq,
			         k == 0 ? "short file" : strerror(errno));
			return k == 0 ? QFS_ECORRUPT : -errno;
		}
		got += (uint64_t)k;
	}
	if (seg->size < WAL_SEG_HDR || memcmp(buf, WAL_MAGIC, 8) != 0 ||
	    get_be32(buf + 28) != qfs_crc32c(0, buf, 28) || get_be64(buf + 16) != seg->seq) {
		free(buf);
		return corrupt(r, "log segment %" PRIu64 ": bad header", seg->seq);
	}
	if (get_be32(buf + 8) != WAL_VERSION) {
		uint32_t v = get_be32(buf + 8);
		free(buf);
		snprintf(r->err, r->errlen,
		         "log segment %" PRIu64 ": version %" PRIu32 ", this build reads %d", seg->seq,
		         v, WAL_VERSION);
		return QFS_EFORMAT;
	}
	uint64_t off = WAL_SEG_HDR;
	bool first = true;
	for (;;) {
		uint32_t len = 0;
		if (off + WAL_BATCH_HDR > seg->size)
			break; /* full to its end */
		bool ok = batch_ok(buf, seg->size, seg->seq, off, &len);
		if (ok && r->started && get_be64(buf + off + 8) != w->batch_seq + 1)
			ok = false;
		if (!ok) {
			if (off + WAL_BATCH_HDR <= seg->size && all_zero(buf + off, WAL_BATCH_HDR) &&
			    !is_last)
				break; /* a segment's end: zeros after its last batch */
			if (!is_last) {
				rc = corrupt(r, "log segment %" PRIu64 ": the batch at %" PRIu64
				                " fails its checks, and later segments exist",
				             seg->seq, off);
				break;
			}
			rc = cut_tail(r, seg, buf, off);
			break;
		}
		rc = replay_body(r, seg->seq, buf, off + WAL_BATCH_HDR, len, first);
		if (rc != 0)
			break;
		w->batch_seq = get_be64(buf + off + 8);
		off += WAL_BATCH_HDR + len;
		first = false;
	}
	free(buf);
	*end = first ? 0 : off; /* 0: the segment holds no batch */
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The segment numbers in the directory, sorted; removes leftover ".tmp". */
static int list(struct wal *w, uint64_t **out, size_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(w->dir);
	uint64_t *v = NULL;
	size_t k = 0, cap = 0;
	struct dirent *de;
	if (d == NULL) {
		snprintf(err, errlen, "open %s: %s", w->dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		size_t len = strlen(nm);
		if (nm[0] == '.')
			continue;
		if (len > 4 && strcmp(nm + len - 4, ".tmp") == 0) {
			unlinkat(w->dir_fd, nm, 0);
			continue;
		}
		char *e;
		uint64_t seq = strtoull(nm, &e, 16);
		if (len != 20 || strcmp(e, ".seg") != 0 || seq == 0)
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[k++] = seq;
	}
	closedir(d);
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_u64);
	*out = v;
	*n = k;
	return 0;
}

/* A first segment for an empty log: its STATE record says all zero. */
static int fresh(struct wal *w, char *err, size_t errlen)
{
	struct wal_body b = {0};
	int fd = store__wal_seg_create(w, 1, w->seg_bytes);
	if (fd < 0) {
		snprintf(err, errlen, "create the first log segment: %s", strerror(-fd));
		return fd;
	}
	int rc = store__wal_seg_push(w, 1, fd, w->seg_bytes);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	w->tail = WAL_SEG_HDR;
	rc = store__wal_state_rec(w, &b);
	if (rc == 0)
		rc = store__wal_put_batch(w, b.buf, b.len, err, errlen);
	free(b.buf);
	if (rc == 0)
		rc = store__wal_sync(w, err, errlen);
	return rc;
}

int store__wal_replay(struct wal *w, char *err, size_t errlen);
int store__wal_replay(struct wal *w, char *err, size_t errlen)
{
	struct replay r = {.w = w, .err = err, .errlen = errlen};
	uint64_t *seqs = NULL, end = 0, prev_end = 0;
	size_t n = 0;
	int rc = list(w, &seqs, &n, err, errlen);
	if (rc != 0)
		return rc;
	if (n == 0) {
		free(seqs);
		return fresh(w, err, errlen);
	}
	for (size_t i = 1; i < n; i++)
		if (seqs[i] != seqs[i - 1] + 1) {
			uint64_t gap = seqs[i - 1] + 1;
			free(seqs);
			return corrupt(&r, "log segment %" PRIu64 " is missing", gap);
		}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4200];
		store__wal_seg_name(w, seqs[i], path, sizeof(path));
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0) {
			snprintf(err, errlen, "open %s: %s", path, strerror(errno));
			rc = -errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		rc = store__wal_seg_push(w, seqs[i], fd, (uint64_t)st.st_size);
		if (rc != 0) {
			close(fd);
			break;
		}
		bool is_last = i + 1 == n;
		rc = replay_seg(&r, &w->segs[w->n_segs - 1], is_last, &end);
		if (rc != 0)
			break;
		if (end == 0 && !is_last) {
			rc = corrupt(&r, "log segment %" PRIu64 " holds no batch, and later ones exist",
			             seqs[i]);
			break;
		}
		if (end == 0 && w->n_segs > 1) {
			/* Its first batch never reached the disk: it holds nothing
			 * that was promised; the one before goes on. */
			close(w->segs[--w->n_segs].fd);
			unlink(path);
			if (!w->nosync)
				fsync(w->dir_fd);
			w->tail = prev_end;
			break;
		}
		w->tail = prev_end = end;
	}
	free(seqs);
	if (rc != 0)
		return rc;
	if (!r.started) {
		/* The only segment never got its first batch: start it again. */
		struct wal_body b = {0};
		w->tail = WAL_SEG_HDR;
		rc = store__wal_state_rec(w, &b);
		if (rc == 0)
			rc = store__wal_put_batch(w, b.buf, b.len, err, errlen);
		free(b.buf);
		return rc == 0 ? store__wal_sync(w, err, errlen) : rc;
	}
	if (r.n_held > 0 && r.held_lo != w->base + 1)
		return corrupt(&r, "the log holds entries from %" PRIu64 " but its base is %" PRIu64,
		               r.held_lo, w->base);
	if (r.n_held == 0 && w->last != w->base)
		return corrupt(&r, "the log ends at %" PRIu64 " but holds nothing after %" PRIu64,
		               w->last, w->base);
	if (!r.term_known)
		return corrupt(&r, "the term of the last entry %" PRIu64 " is unknown", w->last);
	w->durable_seq = w->batch_seq;
	w->unsynced = true; /* a killed process's pages may not be on disk yet */
	return store__wal_sync(w, err, errlen);
}
