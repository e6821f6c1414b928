/* wal.c: the log's writes (append, truncate, reset, compact) and reads, over its segments. */
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
#include "quorumfs/errors.h"
#include "wal.h"

int store__wal_replay(struct wal *w, char *err, size_t errlen); /* wal_recover.c */

static void wal_path(const char *datadir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/wal", datadir);
}

bool store__wal_exists(const char *datadir)
{
	char p[4200];
	struct stat st;
	wal_path(datadir, p, sizeof(p));
	return stat(p, &st) == 0;
}

int store__wal_remove(const char *datadir)
{
	char p[4200], f[4600];
	wal_path(datadir, p, sizeof(p));
	DIR *d = opendir(p);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
			unlink(f);
		}
	closedir(d);
	return rmdir(p) == 0 ? 0 : -errno;
}

int store__wal_open(struct wal **out, const char *datadir, size_t seg_bytes, bool nosync,
                    char *err, size_t errlen)
{
	char p[4200];
	struct wal *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	pthread_mutex_init(&w->mu, NULL);
	w->dir_fd = -1;
	w->spare_fd = -1;
	w->seg_bytes = seg_bytes ? seg_bytes : WAL_SEG_DEFAULT;
	if (w->seg_bytes < 4096)
		w->seg_bytes = 4096;
	w->nosync = nosync;
	wal_path(datadir, p, sizeof(p));
	w->dir = strdup(p);
	int rc = w->dir ? 0 : -ENOMEM;
	if (rc == 0 && mkdir(p, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "create %s: %s", p, strerror(errno));
	}
	if (rc == 0) {
		w->dir_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (w->dir_fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "open %s: %s", p, strerror(errno));
		}
	}
	if (rc == 0) {
		/* The directory entry of "wal" itself must be durable before
		 * anything in it is promised. */
		int pfd = open(datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd >= 0) {
			if (!nosync)
				fsync(pfd);
			close(pfd);
		}
		rc = store__wal_replay(w, err, errlen);
	}
	if (rc != 0) {
		store__wal_close(w);
		return rc;
	}
	*out = w;
	return 0;
}

void store__wal_close(struct wal *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n_segs; i++)
		close(w->segs[i].fd);
	if (w->spare_fd >= 0)
		close(w->spare_fd); /* a whole, empty segment: the next open deletes it */
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	pthread_mutex_destroy(&w->mu);
	free(w->segs);
	free(w->ents);
	free(w->dir);
	free(w);
}

static size_t n_ents(const struct wal *w)
{
	return (size_t)(w->last - w->base);
}

/*
 * Deletes the segments before the one that holds the first entry (all but
 * the last when the log is empty), oldest first, so a crash in between
 * leaves a contiguous run that starts later. Called once the record that
 * moved the base (COMPACT, RESET) is durable: the segment that then starts
 * the replay restates the hard state, and that record says where the log
 * begins. Under w->mu.
 */
static void drop_segments(struct wal *w)
{
	uint64_t keep = n_ents(w) > 0 ? w->ents[0].seq : w->segs[w->n_segs - 1].seq;
	size_t k = 0;
	char path[4200];
	while (k + 1 < w->n_segs && w->segs[k].seq < keep) {
		store__wal_seg_name(w, w->segs[k].seq, path, sizeof(path));
		if (unlink(path) != 0)
			break; /* kept; tried again at the next compaction */
		close(w->segs[k].fd);
		k++;
	}
	if (k == 0)
		return;
	if (!w->nosync)
		fsync(w->dir_fd);
	memmove(w->segs, w->segs + k, (w->n_segs - k) * sizeof(*w->segs));
	w->n_segs -= k;
}

int store__wal_append(struct wal *w, const struct store_entry *e, size_t n,
                      const struct store_hard_state *hs, bool sync, char *err, size_t errlen)
{
	struct wal_body b = {0};
	uint64_t *offs = n ? malloc(n * sizeof(*offs)) : NULL;
	unsigned char p[24];
	int rc = 0;

	if (n && offs == NULL)
		return -ENOMEM;
	if (hs != NULL) {
		put_be64(p, hs->term);
		put_be64(p + 8, hs->vote);
		put_be64(p + 16, hs->commit);
		rc = store__wal_rec(&b, WAL_REC_HARD, p, 24, NULL, 0);
	}
	if (rc == 0 && n && e[0].index <= w->last) {
		put_be64(p, e[0].index);
		rc = store__wal_rec(&b, WAL_REC_TRUNCATE, p, 8, NULL, 0);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		memset(p, 0, sizeof(p));
		put_be64(p, e[i].index);
		put_be64(p + 8, e[i].term);
		p[16] = e[i].type;
		offs[i] = b.len + WAL_REC_HDR + 24;
		rc = store__wal_rec(&b, WAL_REC_ENTRY, p, 24, e[i].data, e[i].len);
	}
	if (rc == 0 && b.len == 0) {
		free(offs);
		return sync ? store__wal_sync(w, err, errlen) : 0;
	}
	if (rc == 0 && n) {
		/* Room for the new positions before anything is written, so
		 * the memory cannot fail once the batch is on disk. */
		size_t keep = e[0].index - 1 - w->base;
		pthread_mutex_lock(&w->mu);
		rc = store__wal_reserve(w, keep + n);
		pthread_mutex_unlock(&w->mu);
	}
	if (rc == 0)
		rc = store__wal_prepare(w, b.len, err, errlen);
	if (rc == 0) {
		pthread_mutex_lock(&w->mu);
		rc = store__wal_put_batch(w, b.buf, b.len, err, errlen);
		if (rc == 0) {
			struct wal_seg *seg = &w->segs[w->n_segs - 1];
			uint64_t body = w->tail - b.len;
			if (hs != NULL)
				w->hs = *hs;
			if (n) {
				w->last = e[0].index - 1;
				for (size_t i = 0; i < n; i++)
					w->ents[n_ents(w) + i] = (struct wal_pos){
					        .term = e[i].term,
					        .seq = seg->seq,
					        .off = body + offs[i],
					        .len = (uint32_t)e[i].len,
					        .type = e[i].type};
				w->last = e[n - 1].index;
				w->last_term = e[n - 1].term;
			}
		}
		pthread_mutex_unlock(&w->mu);
	}
	free(b.buf);
	free(offs);
	if (rc == 0 && sync)
		rc = store__wal_sync(w, err, errlen);
	return rc;
}

/* Writes one record alone and syncs it. */
static int one_record(struct wal *w, uint8_t type, const unsigned char *p, size_t len, char *err,
                      size_t errlen)
{
	struct wal_body b = {0};
	int rc = store__wal_rec(&b, type, p, len, NULL, 0);
	if (rc == 0)
		rc = store__wal_prepare(w, b.len, err, errlen);
	if (rc == 0) {
		pthread_mutex_lock(&w->mu);
		rc = store__wal_put_batch(w, b.buf, b.len, err, errlen);
		pthread_mutex_unlock(&w->mu);
	}
	free(b.buf);
	return rc == 0 ? store__wal_sync(w, err, errlen) : rc;
}

int store__wal_truncate(struct wal *w, uint64_t from, char *err, size_t errlen)
{
	unsigned char p[8];
	if (from > w->last)
		return 0;
	put_be64(p, from);
	int rc = one_record(w, WAL_REC_TRUNCATE, p, 8, err, errlen);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&w->mu);
	w->last = from - 1;
	w->last_term = w->last == w->base ? w->base_term : w->ents[n_ents(w) - 1].term;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int store__wal_reset(struct wal *w, uint64_t index, uint64_t term, char *err, size_t errlen)
{
	unsigned char p[16];
	put_be64(p, index);
	put_be64(p + 8, term);
	int rc = one_record(w, WAL_REC_RESET, p, 16, err, errlen);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&w->mu);
	w->base = w->last = index;
	w->base_term = w->last_term = term;
	drop_segments(w);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int store__wal_compact(struct wal *w, uint64_t upto, char *err, size_t errlen)
{
	unsigned char p[16];
	uint64_t term;
	if (upto <= w->base)
		return 0;
	int rc = store__wal_term(w, upto, &term);
	if (rc != 0)
		return rc;
	put_be64(p, upto);
	put_be64(p + 8, term);
	/* Durable before any segment goes: it is what tells a replay that
	 * starts at a later segment where the log now begins. */
	rc = one_record(w, WAL_REC_COMPACT, p, 16, err, errlen);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&w->mu);
	size_t k = (size_t)(upto - w->base);
	if (n_ents(w) > k)
		memmove(w->ents, w->ents + k, (n_ents(w) - k) * sizeof(*w->ents));
	w->base = upto;
	w->base_term = term;
	drop_segments(w);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void store__wal_hard_state(struct wal *w, struct store_hard_state *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->hs;
	pthread_mutex_unlock(&w->mu);
}

void store__wal_bounds(struct wal *w, uint64_t *first, uint64_t *last)
{
	pthread_mutex_lock(&w->mu);
	*first = w->base + 1;
	*last = w->last;
	pthread_mutex_unlock(&w->mu);
}

int store__wal_term(struct wal *w, uint64_t index, uint64_t *term)
{
	int rc = 0;
	pthread_mutex_lock(&w->mu);
	if (index < w->base)
		rc = QFS_ESTALE;
	else if (index > w->last)
		rc = -ENOENT;
	else if (index == w->base)
		*term = w->base_term;
	else
		*term = w->ents[index - w->base - 1].term;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

static struct wal_seg *seg_of(struct wal *w, uint64_t seq)
{
	uint64_t first = w->segs[0].seq;
	if (seq < first || seq - first >= w->n_segs)
		return NULL;
	return &w->segs[seq - first];
}

int store__wal_get(struct wal *w, uint64_t from, uint64_t to, size_t max_bytes,
                   struct store_entry **out, size_t *n, char *err, size_t errlen)
{
	int rc = 0;
	pthread_mutex_lock(&w->mu);
	if (from <= w->base) {
		pthread_mutex_unlock(&w->mu);
		return QFS_ESTALE;
	}
	if (from > w->last) {
		pthread_mutex_unlock(&w->mu);
		return -ENOENT;
	}
	if (to > w->last)
		to = w->last;
	size_t k = 0, total = 0;
	const struct wal_pos *p = &w->ents[from - w->base - 1];
	for (uint64_t i = from; i <= to; i++, k++) {
		size_t len = p[k].len;
		if (k > 0 && (len > max_bytes || total > max_bytes - len))
			break;
		total += len;
	}
	struct store_entry *res = malloc(k * sizeof(*res) + total + 1);
	if (res == NULL) {
		pthread_mutex_unlock(&w->mu);
		return -ENOMEM;
	}
	unsigned char *data = (unsigned char *)(res + k);
	for (size_t i = 0; i < k && rc == 0; i++) {
		struct wal_seg *seg = seg_of(w, p[i].seq);
		res[i] = (struct store_entry){.index = from + i,
		                              .term = p[i].term,
		                              .type = p[i].type,
		                              .data = data,
		                              .len = p[i].len};
		/* The batch's crc was checked when it was replayed or written;
		 * what is read back is the same bytes, from the page cache or
		 * from a disk that reports its own read errors. */
		for (size_t got = 0; seg != NULL && got < p[i].len;) {
			ssize_t r = pread(seg->fd, data + got, p[i].len - got,
			                  (off_t)(p[i].off + got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = r == 0 ? QFS_ECORRUPT : -errno;
				break;
			}
			got += (size_t)r;
		}
		if (seg == NULL)
			rc = QFS_ECORRUPT;
		if (rc != 0)
			snprintf(err, errlen, "log entry %" PRIu64 ": cannot be read back: %s",
			         from + i, rc == QFS_ECORRUPT ? "its segment is gone or short"
			                                      : strerror(-rc));
		data += p[i].len;
	}
	pthread_mutex_unlock(&w->mu);
	if (rc != 0) {
		free(res);
		return rc;
	}
	*out = res;
	*n = k;
	return 0;
}
