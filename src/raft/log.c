/* log.c: the in-memory log from the last compaction point on, and its durability bookkeeping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft_int.h"

raft_index raft__log_last(const struct raft__log *l)
{
	return l->base + l->n;
}

raft_term raft__log_last_term(const struct raft__log *l)
{
	return l->n ? l->e[l->n - 1].term : l->base_term;
}

bool raft__log_term(const struct raft__log *l, raft_index i, raft_term *t)
{
	if (i == l->base) {
		*t = l->base_term;
		return true;
	}
	if (i < l->base || i > l->base + l->n) {
		*t = 0;
		return false;
	}
	*t = l->e[i - l->base - 1].term;
	return true;
}

struct raft_entry *raft__log_get(const struct raft__log *l, raft_index i)
{
	if (i <= l->base || i > l->base + l->n)
		return NULL;
	return &l->e[i - l->base - 1];
}

int raft__log_reserve(struct raft__log *l, size_t more)
{
	if (l->n + more <= l->cap)
		return 0;
	size_t cap = l->cap ? l->cap : 64;
	while (cap < l->n + more)
		cap *= 2;
	struct raft_entry *e = realloc(l->e, cap * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	l->e = e;
	l->cap = cap;
	return 0;
}

void raft__log_push(struct raft__log *l, const struct raft_entry *e)
{
	l->e[l->n++] = *e;
	if (e->data.base != NULL)
		l->bytes += e->data.len;
}

/* Frees @e's data, if it still has any (freed at the next advance if a batch is out). */
static void drop_data(struct raft *r, struct raft_entry *e)
{
	if (e->data.base == NULL)
		return;
	r->log.bytes -= e->data.len;
	raft__free_data(r, e->data.base);
	e->data.base = NULL;
}

void raft__clip_persisted(struct raft *r, raft_index index)
{
	if (r->persisted > index)
		r->persisted = index;
	for (size_t i = 0; i < r->claims.n; i++)
		if (r->claims.v[i].claim > index)
			r->claims.v[i].claim = index;
}

/*
 * Paper Figure 2, AppendEntries receiver rule 3: "If an existing entry
 * conflicts with a new one (same index but different terms), delete the
 * existing entry and all that follow it." What is durable from @from on no
 * longer matches, so outstanding batches' claims are clipped to from - 1.
 */
void raft__log_truncate(struct raft *r, raft_index from)
{
	struct raft__log *l = &r->log;
	if (from <= l->base || from > raft__log_last(l))
		return;
	for (raft_index i = from; i <= raft__log_last(l); i++)
		drop_data(r, raft__log_get(l, i));
	l->n = from - l->base - 1;
	/* Released entries are applied, hence committed, hence never in a
	 * truncated suffix (Figure 2 deletes only conflicting entries, and a
	 * committed one never conflicts: 5.4); clamp all the same. */
	if (l->released >= from)
		l->released = from - 1;
	if (r->unstable > from)
		r->unstable = from;
	raft__clip_persisted(r, from - 1);
	raft__conf_truncate(r, from);
}

void raft__log_compact(struct raft *r, raft_index upto)
{
	struct raft__log *l = &r->log;
	if (upto <= l->base)
		return;
	if (upto > raft__log_last(l))
		upto = raft__log_last(l);
	size_t drop = upto - l->base;
	raft_term t = l->e[drop - 1].term;
	for (size_t i = 0; i < drop; i++)
		drop_data(r, &l->e[i]);
	memmove(l->e, l->e + drop, (l->n - drop) * sizeof(*l->e));
	l->n -= drop;
	l->base = upto;
	l->base_term = t;
	if (l->released < upto)
		l->released = upto;
}

void raft__log_reset(struct raft *r, raft_index index, raft_term term)
{
	struct raft__log *l = &r->log;
	for (size_t i = 0; i < l->n; i++)
		drop_data(r, &l->e[i]);
	l->n = 0;
	l->base = index;
	l->base_term = term;
	l->released = index;
	l->bytes = 0;
	r->unstable = index + 1;
}

/*
 * The log's memory is bounded by what the caller asks, not by the snapshot
 * interval: an entry that is durable here (persisted) and handed out for
 * apply (applied) is in the caller's store, which serves it again when a
 * follower needs it (raft.h, "Released entries"). Oldest first: a follower
 * that lags a little needs the newest, and they stay.
 */
void raft_log_release(struct raft *r, size_t keep_bytes)
{
	struct raft__log *l = &r->log;
	if (l->bytes <= keep_bytes)
		return;
	raft_index upto = r->applied < r->persisted ? r->applied : r->persisted;
	if (upto > raft__log_last(l))
		upto = raft__log_last(l);
	if (l->released < l->base)
		l->released = l->base;
	while (l->bytes > keep_bytes && l->released < upto) {
		l->released++;
		drop_data(r, raft__log_get(l, l->released));
	}
}

size_t raft_log_bytes(const struct raft *r)
{
	return r->log.bytes;
}
