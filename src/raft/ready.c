/* ready.c: the ready batch (persist, send, apply, advance, persisted) and its bookkeeping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft_int.h"

static struct raft_hard_state hard_state(const struct raft *r)
{
	struct raft_hard_state hs = {.term = r->term, .vote = r->vote, .commit = r->commit};
	return hs;
}

static bool hs_changed(const struct raft *r)
{
	struct raft_hard_state hs = hard_state(r);
	return hs.term != r->hs_reported.term || hs.vote != r->hs_reported.vote ||
	       hs.commit != r->hs_reported.commit;
}

static raft_index unstable_from(const struct raft *r)
{
	return r->unstable > r->log.base + 1 ? r->unstable : r->log.base + 1;
}

/* Committed entries are handed out only once durable locally: a follower's
 * (or leader's) apply never runs ahead of its own disk. */
static raft_index apply_to(const struct raft *r)
{
	raft_index to = r->commit < r->persisted ? r->commit : r->persisted;
	raft_index last = raft__log_last(&r->log);
	return to < last ? to : last;
}

bool raft_has_ready(const struct raft *r)
{
	if (r->ready_reads.n || r->soft_changed || r->conf_changed)
		return true;
	if (r->failed)
		return false;
	return hs_changed(r) || r->chunks.n || r->install_pending ||
	       unstable_from(r) <= raft__log_last(&r->log) || r->out.n || r->out_after.n ||
	       raft__leader_has_msgs(r) || r->applied < apply_to(r);
}

static void *dup_array(const void *src, size_t n, size_t size)
{
	if (n == 0)
		return NULL;
	void *p = malloc(n * size);
	if (p != NULL)
		memcpy(p, src, n * size);
	return p;
}

/* AppendEntries built by the leader point into the log, which may move
 * before raft_advance(): give them a copy of their entry arrays. On failure
 * drop them, which Raft tolerates as message loss. */
static void own_msg_entries(struct raft *r)
{
	size_t total = 0;
	for (size_t i = 0; i < r->out.n; i++)
		if (r->out.v[i].type == RAFT_MSG_APPEND)
			total += r->out.v[i].append.n_entries;
	if (total == 0)
		return;
	struct raft_entry *e = malloc(total * sizeof(*e));
	if (e == NULL) {
		size_t keep = 0;
		for (size_t i = 0; i < r->out.n; i++)
			if (r->out.v[i].type != RAFT_MSG_APPEND ||
			    r->out.v[i].append.n_entries == 0)
				r->out.v[keep++] = r->out.v[i];
		r->out.n = keep;
		return;
	}
	r->batch.msg_entries = e;
	for (size_t i = 0; i < r->out.n; i++) {
		struct raft_append *a = &r->out.v[i].append;
		if (r->out.v[i].type != RAFT_MSG_APPEND || a->n_entries == 0)
			continue;
		memcpy(e, a->entries, a->n_entries * sizeof(*e));
		a->entries = e;
		e += a->n_entries;
	}
}

/* A chunk's configuration points into its follower's progress, which a
 * configuration change may move before the batch is advanced: copy them all
 * into one buffer the batch owns. */
static void own_snapshot_conf(struct raft *r)
{
	size_t total = 0;
	for (size_t i = 0; i < r->out.n; i++)
		if (r->out.v[i].type == RAFT_MSG_SNAPSHOT)
			total += r->out.v[i].snapshot.conf.len + 1;
	if (total == 0)
		return;
	uint8_t *buf = malloc(total);
	r->batch.snap_conf = buf;
	size_t keep = 0, used = 0;
	for (size_t i = 0; i < r->out.n; i++) {
		struct raft_message *m = &r->out.v[i];
		if (m->type == RAFT_MSG_SNAPSHOT) {
			if (buf == NULL)
				continue; /* out of memory: lost, resent later */
			memcpy(buf + used, m->snapshot.conf.base, m->snapshot.conf.len);
			m->snapshot.conf.base = buf + used;
			used += m->snapshot.conf.len + 1;
		}
		r->out.v[keep++] = *m;
	}
	r->out.n = keep;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
	if (r->batch.out)
		raft_advance(r, rd); /* contract broken: do not leak */
	memset(rd, 0, sizeof(*rd));
	memset(&r->batch, 0, sizeof(r->batch));
	r->batch.out = true;
	rd->id = ++r->next_batch;

	rd->soft_state_changed = r->soft_changed;
	r->soft_changed = false;
	if (r->ready_reads.n) {
		rd->reads = r->batch.reads = r->ready_reads.v;
		rd->n_reads = (unsigned)r->ready_reads.n;
		memset(&r->ready_reads, 0, sizeof(r->ready_reads));
	}
	if (r->conf_changed) {
		r->batch.conf = dup_array(raft__conf(r), 1, sizeof(struct raft_conf));
		if (r->batch.conf != NULL) {
			rd->conf = r->batch.conf;
			r->conf_changed = false;
		}
	}
	if (r->failed)
		return;

	/* 1. persist */
	if (RAFT__RESERVE(r->claims, 1) != 0)
		return; /* an empty batch; everything waits for the next one */
	raft_index last = raft__log_last(&r->log);
	raft_index from = unstable_from(r);
	if (from <= last) {
		r->batch.entries = dup_array(raft__log_get(&r->log, from), last - from + 1,
		                             sizeof(struct raft_entry));
		if (r->batch.entries == NULL)
			return;
		rd->entries = r->batch.entries;
		rd->n_entries = (unsigned)(last - from + 1);
	}
	if (r->install_pending) {
		r->batch.install = dup_array(&r->install, 1, sizeof(r->install));
		if (r->batch.install == NULL) {
			free(r->batch.entries);
			r->batch.entries = NULL;
			rd->entries = NULL;
			rd->n_entries = 0;
			return;
		}
		rd->snapshot_install = r->batch.install;
		rd->snapshot_keep_log = r->install_keep_log;
		r->install_pending = false;
	}
	r->unstable = last + 1;
	if (hs_changed(r)) {
		rd->hard_state_changed = true;
		r->hs_reported = hard_state(r);
	}
	rd->hard_state = r->hs_reported;
	if (r->chunks.n) {
		rd->snapshot_chunks = r->batch.chunks = r->chunks.v;
		rd->n_snapshot_chunks = r->batch.n_chunks = (unsigned)r->chunks.n;
		memset(&r->chunks, 0, sizeof(r->chunks));
	}
	/* Once this batch is durable, the log is durable up to here. */
	r->claims.v[r->claims.n].id = rd->id;
	r->claims.v[r->claims.n].claim = last;
	r->claims.n++;

	/* 2. send: built now, so one AppendEntries carries everything proposed
	 * since the last batch (batching). */
	raft__build_leader_msgs(r, &r->out.v, &r->out.n, &r->out.cap);
	for (size_t i = 0; i < r->out.n; i++)
		r->out.v[i].from = r->cfg.id;
	own_msg_entries(r);
	own_snapshot_conf(r);
	if (r->out.n) {
		rd->msgs = r->batch.msgs = r->out.v;
		rd->n_msgs = (unsigned)r->out.n;
		memset(&r->out, 0, sizeof(r->out));
	}
	if (r->out_after.n) {
		rd->msgs_after_persist = r->batch.after = r->out_after.v;
		rd->n_msgs_after_persist = (unsigned)r->out_after.n;
		memset(&r->out_after, 0, sizeof(r->out_after));
	}

	/* 3. apply */
	raft_index to = apply_to(r);
	if (r->applied < to) {
		r->batch.committed = dup_array(raft__log_get(&r->log, r->applied + 1),
		                               to - r->applied, sizeof(struct raft_entry));
		if (r->batch.committed != NULL) {
			rd->committed = r->batch.committed;
			rd->n_committed = (unsigned)(to - r->applied);
			r->applied = to;
		}
	}
	raft__now_consumed(r);
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
	struct raft__batch *b = &r->batch;
	(void)rd;
	free(b->entries);
	free(b->committed);
	free(b->msg_entries);
	free(b->msgs);
	free(b->after);
	free(b->reads);
	for (unsigned i = 0; i < b->n_chunks; i++)
		free(b->chunks[i].data.base);
	free(b->chunks);
	free(b->install);
	free(b->conf);
	free(b->snap_conf);
	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < r->garbage.n; i++)
		free(r->garbage.v[i]);
	r->garbage.n = 0;
}

/*
 * Dissertation 10.2.1: the leader may send before its own write is durable,
 * but counts itself toward commit only once it is. Batches are reported in
 * order; the last one covered gives the durable index (already clipped if a
 * later truncation made part of it stale).
 */
void raft_persisted(struct raft *r, uint64_t id)
{
	size_t k = 0;
	while (k < r->claims.n && r->claims.v[k].id <= id) {
		r->persisted = r->claims.v[k].claim;
		k++;
	}
	if (k == 0)
		return;
	memmove(r->claims.v, r->claims.v + k, (r->claims.n - k) * sizeof(*r->claims.v));
	r->claims.n -= k;
	if (r->failed)
		return;
	raft__maybe_commit(r);
}
