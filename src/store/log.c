/* log.c: the store's log and hard state API, over the write-ahead log (wal*.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "quorumfs/errors.h"
#include "wal.h"

/* Records a failure of the log with the text the wal gave. */
static int wal_fail(struct store *s, int rc, const char *what, const char *why)
{
	if (rc == 0)
		return 0;
	return store__fail(s, rc, "%s: %s", what, why[0] ? why : qfs_strerror(rc));
}

static int check_batch(struct store *s, const struct store_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].len > STORE_ENTRY_MAX)
			return store__fail(s, -EFBIG, "entry %" PRIu64 " of %zu bytes", e[i].index,
			                   e[i].len);
		if (i == 0)
			continue;
		if (e[i].index != e[i - 1].index + 1 || e[i].term < e[i - 1].term)
			return store__fail(s, -EINVAL,
			                   "entry %" PRIu64 " (term %" PRIu64
			                   ") does not follow %" PRIu64 " (term %" PRIu64 ")",
			                   e[i].index, e[i].term, e[i - 1].index, e[i - 1].term);
	}
	return e[0].index == 0 ? store__fail(s, -EINVAL, "entry index 0") : 0;
}

int store_append_flags(struct store *s, const struct store_entry *e, size_t n,
                       const struct store_hard_state *hs, unsigned flags)
{
	char why[200] = "";
	uint64_t first, last, prev_term;
	int rc = 0;

	if (flags & ~STORE_LOG_NO_SYNC)
		return store__fail(s, -EINVAL, "store_append_flags: unknown flags %#x", flags);
	pthread_mutex_lock(&s->log_lock);
	if (n > 0) {
		rc = check_batch(s, e, n);
		store__wal_bounds(s->wal, &first, &last);
		if (rc == 0 && (e[0].index < first || e[0].index > last + 1))
			rc = store__fail(s, -EINVAL,
			                 "append at %" PRIu64 " outside the log [%" PRIu64
			                 ", %" PRIu64 "+1]",
			                 e[0].index, first, last);
		if (rc == 0 && store__wal_term(s->wal, e[0].index - 1, &prev_term) == 0 &&
		    e[0].term < prev_term)
			rc = store__fail(s, -EINVAL, "entry %" PRIu64 " has term %" PRIu64 " < %" PRIu64,
			                 e[0].index, e[0].term, prev_term);
	}
	if (rc == 0)
		rc = wal_fail(s,
		              store__wal_append(s->wal, e, n, hs, !(flags & STORE_LOG_NO_SYNC), why,
		                                sizeof(why)),
		              "log append", why);
	pthread_mutex_unlock(&s->log_lock);
	return rc;
}

int store_append(struct store *s, const struct store_entry *e, size_t n,
                 const struct store_hard_state *hs)
{
	return store_append_flags(s, e, n, hs, 0);
}

int store_log_sync(struct store *s)
{
	char why[200] = "";
	pthread_mutex_lock(&s->log_lock);
	int rc = wal_fail(s, store__wal_sync(s->wal, why, sizeof(why)), "log sync", why);
	pthread_mutex_unlock(&s->log_lock);
	return rc;
}

int store_hard_state_get(struct store *s, struct store_hard_state *out)
{
	store__wal_hard_state(s->wal, out);
	return 0;
}

int store_hard_state_put(struct store *s, const struct store_hard_state *hs)
{
	return store_append(s, NULL, 0, hs);
}

int store_log_bounds(struct store *s, uint64_t *first, uint64_t *last)
{
	store__wal_bounds(s->wal, first, last);
	return 0;
}

int store_log_term(struct store *s, uint64_t index, uint64_t *term)
{
	return store__wal_term(s->wal, index, term);
}

int store_log_get(struct store *s, uint64_t from, uint64_t to, size_t max_bytes,
                  struct store_entry **out, size_t *n)
{
	char why[200] = "";
	if (from == 0 || from > to)
		return store__fail(s, -EINVAL, "log get [%" PRIu64 ", %" PRIu64 "]", from, to);
	int rc = store__wal_get(s->wal, from, to, max_bytes, out, n, why, sizeof(why));
	if (rc == QFS_ESTALE || rc == -ENOENT)
		return rc;
	return wal_fail(s, rc, "log get", why);
}

int store_log_truncate_suffix(struct store *s, uint64_t from)
{
	char why[200] = "";
	uint64_t first, last;
	int rc;
	pthread_mutex_lock(&s->log_lock);
	store__wal_bounds(s->wal, &first, &last);
	if (from < first)
		rc = store__fail(s, -EINVAL,
		                 "truncate from %" PRIu64 ", at or below the base %" PRIu64, from,
		                 first - 1);
	else
		rc = wal_fail(s, store__wal_truncate(s->wal, from, why, sizeof(why)),
		              "log truncate", why);
	pthread_mutex_unlock(&s->log_lock);
	return rc;
}

int store_log_reset(struct store *s, uint64_t index, uint64_t term)
{
	char why[200] = "";
	pthread_mutex_lock(&s->log_lock);
	int rc = wal_fail(s, store__wal_reset(s->wal, index, term, why, sizeof(why)), "log reset",
	                  why);
	pthread_mutex_unlock(&s->log_lock);
	return rc;
}

/*
 * The tree must not need what compaction removes: applies are committed
 * without their meta page's sync (STORE_NO_META_SYNC), and a machine crash
 * may undo the last such commit, which the log then replays. So the
 * environment is synced first, if its last commit was lazy: after that the
 * tree is durable at an applied index >= @upto (compaction follows a
 * snapshot of the applied tree).
 */
int store_log_compact(struct store *s, uint64_t upto)
{
	char why[200] = "";
	uint64_t first, last;
	int rc = 0;

	pthread_mutex_lock(&s->write_lock);
	if (s->meta_unsynced && !s->nosync) {
		rc = store_sync(s);
		if (rc == 0)
			s->meta_unsynced = false;
	}
	pthread_mutex_unlock(&s->write_lock);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&s->log_lock);
	store__wal_bounds(s->wal, &first, &last);
	if (upto > last)
		rc = store__fail(s, -EINVAL, "compact to %" PRIu64 ", past the last index %" PRIu64,
		                 upto, last);
	else
		rc = wal_fail(s, store__wal_compact(s->wal, upto, why, sizeof(why)), "log compact",
		              why);
	pthread_mutex_unlock(&s->log_lock);
	return rc;
}
