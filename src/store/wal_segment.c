/* wal_segment.c: the log's segment files: made whole before they exist, batches written at the tail. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"
#include "wal.h"

uint32_t store__wal_hdr_crc(uint64_t seg_seq, const unsigned char *hdr)
{
	unsigned char s[8];
	put_be64(s, seg_seq);
	return qfs_crc32c(qfs_crc32c(0, s, 8), hdr, WAL_BATCH_HDR - 4);
}

void store__wal_seg_name(const struct wal *w, uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%016" PRIx64 ".seg", w->dir, seq);
}

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
	const unsigned char *c = p;
	while (n > 0) {
		ssize_t k = pwrite(fd, c, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		c += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/*
 * The zeros are written, not fallocated: an fdatasync of a later batch then
 * overwrites blocks the file already owns and commits no file-system
 * metadata (an unwritten extent would need its conversion journalled at
 * every sync). Made under a temporary name and renamed once synced, so a
 * crash leaves either no segment or a whole one; recovery deletes a
 * leftover ".tmp".
 */
int store__wal_seg_create(struct wal *w, uint64_t seq, uint64_t size)
{
	char tmp[4300], path[4200];
	static const unsigned char zeros[65536];
	unsigned char hdr[WAL_SEG_HDR] = {0};
	int fd, rc = 0;

	store__wal_seg_name(w, seq, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (uint64_t off = 0; rc == 0 && off < size; off += sizeof(zeros)) {
		size_t n = size - off < sizeof(zeros) ? (size_t)(size - off) : sizeof(zeros);
		rc = write_all(fd, zeros, n, off);
	}
	memcpy(hdr, WAL_MAGIC, 8);
	put_be32(hdr + 8, WAL_VERSION);
	put_be64(hdr + 16, seq);
	put_be32(hdr + 28, qfs_crc32c(0, hdr, 28));
	if (rc == 0)
		rc = write_all(fd, hdr, sizeof(hdr), 0);
	if (rc == 0 && !w->nosync && fdatasync(fd) != 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc == 0 && !w->nosync && fsync(w->dir_fd) != 0)
		rc = -errno;
	if (rc != 0) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	return fd;
}

int store__wal_seg_push(struct wal *w, uint64_t seq, int fd, uint64_t size)
{
	if (w->n_segs == w->cap_segs) {
		size_t cap = w->cap_segs ? w->cap_segs * 2 : 8;
		struct wal_seg *s = realloc(w->segs, cap * sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		w->segs = s;
		w->cap_segs = cap;
	}
	w->segs[w->n_segs++] = (struct wal_seg){.seq = seq, .fd = fd, .size = size};
	return 0;
}

int store__wal_reserve(struct wal *w, size_t n)
{
	if (n <= w->cap_ents)
		return 0;
	size_t cap = w->cap_ents ? w->cap_ents : 1024;
	while (cap < n)
		cap *= 2;
	struct wal_pos *p = realloc(w->ents, cap * sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	w->ents = p;
	w->cap_ents = cap;
	return 0;
}

int store__wal_rec(struct wal_body *b, uint8_t type, const void *p1, size_t n1, const void *p2,
                   size_t n2)
{
	size_t len = n1 + n2, need = WAL_REC_HDR + ((len + 7) & ~(size_t)7);
	if (len > UINT32_MAX - 8)
		return -EFBIG;
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + need)
			cap *= 2;
		unsigned char *nb = realloc(b->buf, WAL_BATCH_HDR + cap);
		if (nb == NULL)
			return -ENOMEM;
		b->buf = nb;
		b->cap = cap;
	}
	unsigned char *r = b->buf + WAL_BATCH_HDR + b->len;
	memset(r, 0, need);
	r[0] = type;
	put_be32(r + 4, (uint32_t)len);
	if (n1)
		memcpy(r + WAL_REC_HDR, p1, n1);
	if (n2)
		memcpy(r + WAL_REC_HDR + n1, p2, n2);
	b->len += need;
	return 0;
}

int store__wal_state_rec(struct wal *w, struct wal_body *b)
{
	unsigned char p[56];
	put_be64(p, w->hs.term);
	put_be64(p + 8, w->hs.vote);
	put_be64(p + 16, w->hs.commit);
	put_be64(p + 24, w->base);
	put_be64(p + 32, w->base_term);
	put_be64(p + 40, w->last);
	put_be64(p + 48, w->last_term);
	return store__wal_rec(b, WAL_REC_STATE, p, sizeof(p), NULL, 0);
}

/* Seals the batch header in front of @body_len bytes of body and writes it
 * at the tail of the last segment. */
static int put_one(struct wal *w, unsigned char *buf, size_t body_len)
{
	struct wal_seg *seg = &w->segs[w->n_segs - 1];
	unsigned char *h = buf;
	put_be32(h, 0x51574231u); /* "QWB1" */
	put_be32(h + 4, (uint32_t)body_len);
	put_be64(h + 8, w->batch_seq + 1);
	put_be64(h + 16, w->durable_seq);
	put_be32(h + 24, qfs_crc32c(0, buf + WAL_BATCH_HDR, body_len));
	put_be32(h + 28, store__wal_hdr_crc(seg->seq, h));
	int rc = write_all(seg->fd, buf, WAL_BATCH_HDR + body_len, w->tail);
	if (rc != 0)
		return rc;
	w->batch_seq++;
	w->tail += WAL_BATCH_HDR + body_len;
	w->unsynced = true;
	return 0;
}

/*
 * A new segment, when the batch does not fit in what is left. The old one
 * is synced first: recovery trusts only the last segment to have a torn
 * tail, so every earlier one must be whole on disk before a later one
 * holds anything.
 */
static int roll_over(struct wal *w, size_t need, char *err, size_t errlen)
{
	struct wal_body st = {0};
	uint64_t seq = w->segs[w->n_segs - 1].seq + 1;
	int rc = store__wal_sync(w, err, errlen);
	if (rc != 0)
		return rc;
	rc = store__wal_state_rec(w, &st);
	if (rc != 0)
		return rc;
	uint64_t size = w->seg_bytes;
	/* Header, the STATE batch, this batch, and the zero header after. */
	uint64_t want = WAL_SEG_HDR + 3 * WAL_BATCH_HDR + st.len + need;
	if (size < want)
		size = (want + 4095) & ~(uint64_t)4095; /* one batch larger than a segment */
	int fd;
	if (w->spare_fd >= 0 && w->spare_seq == seq && w->spare_size >= want) {
		fd = w->spare_fd; /* made ahead, outside the lock */
		size = w->spare_size;
		w->spare_fd = -1;
	} else {
		fd = store__wal_seg_create(w, seq, size);
	}
	if (fd < 0) {
		free(st.buf);
		snprintf(err, errlen, "create log segment %" PRIu64 ": %s", seq, strerror(-fd));
		return fd;
	}
	rc = store__wal_seg_push(w, seq, fd, size);
	if (rc != 0) {
		close(fd);
		free(st.buf);
		return rc;
	}
	w->tail = WAL_SEG_HDR;
	rc = put_one(w, st.buf, st.len);
	free(st.buf);
	if (rc != 0)
		snprintf(err, errlen, "write log segment %" PRIu64 ": %s", seq, strerror(-rc));
	return rc;
}

static bool fits(const struct wal *w, size_t body_len)
{
	/* Room is kept for the zero header that ends the segment's batches. */
	return w->tail + WAL_BATCH_HDR + body_len + WAL_BATCH_HDR <= w->segs[w->n_segs - 1].size;
}

int store__wal_prepare(struct wal *w, size_t body_len, char *err, size_t errlen)
{
	if (w->failed)
		return w->failed;
	if (fits(w, body_len))
		return 0;
	int rc = store__wal_sync(w, err, errlen);
	if (rc != 0)
		return rc;
	uint64_t seq = w->segs[w->n_segs - 1].seq + 1;
	/* The STATE batch is under 128 bytes. */
	uint64_t size = w->seg_bytes, want = WAL_SEG_HDR + 4 * WAL_BATCH_HDR + 128 + body_len;
	if (size < want)
		size = (want + 4095) & ~(uint64_t)4095;
	if (w->spare_fd >= 0 && w->spare_seq == seq && w->spare_size >= want)
		return 0;
	if (w->spare_fd >= 0) {
		/* Too small for this batch: made again (seg_create renames
		 * over it). */
		close(w->spare_fd);
		w->spare_fd = -1;
	}
	int fd = store__wal_seg_create(w, seq, size);
	if (fd < 0) {
		snprintf(err, errlen, "create log segment %" PRIu64 ": %s", seq, strerror(-fd));
		return fd;
	}
	w->spare_fd = fd;
	w->spare_seq = seq;
	w->spare_size = size;
	return 0;
}

int store__wal_put_batch(struct wal *w, unsigned char *buf, size_t body_len, char *err,
                         size_t errlen)
{
	if (w->failed)
		return w->failed;
	struct wal_seg *seg = &w->segs[w->n_segs - 1];
	if (!fits(w, body_len)) {
		int rc = roll_over(w, body_len, err, errlen);
		if (rc != 0)
			return rc;
		seg = &w->segs[w->n_segs - 1];
	}
	int rc = put_one(w, buf, body_len);
	if (rc != 0)
		snprintf(err, errlen, "write log segment %" PRIu64 ": %s", seg->seq, strerror(-rc));
	return rc;
}

int store__wal_sync(struct wal *w, char *err, size_t errlen)
{
	if (w->failed)
		return w->failed;
	if (!w->unsynced)
		return 0;
	if (!w->nosync && fdatasync(w->segs[w->n_segs - 1].fd) != 0) {
		/* What reached the disk is unknown now (a failed fdatasync may
		 * have dropped the dirty pages): nothing more is written. */
		int rc = -errno;
		w->failed = rc == -ENOSPC ? -ENOSPC : -EIO;
		snprintf(err, errlen, "fdatasync of log segment %" PRIu64 ": %s",
		         w->segs[w->n_segs - 1].seq, strerror(-rc));
		return w->failed;
	}
	w->unsynced = false;
	w->durable_seq = w->batch_seq;
	return 0;
}
