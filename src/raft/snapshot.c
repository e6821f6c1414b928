/* snapshot.c: log compaction and InstallSnapshot in chunks (paper 7, Figure 13). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft_int.h"

static void set_snap(struct raft *r, raft_index index, raft_term term, const struct raft_conf *c,
                     uint64_t size)
{
	r->snap.index = index;
	r->snap.term = term;
	r->snap.conf = *c;
	r->snap.size = size;
	r->snap_conf_len = raft_conf_encode(c, r->snap_conf, sizeof(r->snap_conf));
}

/*
 * Paper 7: once the state machine is captured up to @index, the log up to
 * there can go. A trailing window stays, so that a follower a little behind
 * is caught up with entries rather than a whole snapshot.
 */
int raft_snapshot_taken(struct raft *r, raft_index index, uint64_t size, raft_index *compact_to)
{
	raft_term t;
	if (index == 0 || index > r->applied || index < r->snap.index ||
	    !raft__log_term(&r->log, index, &t))
		return -EINVAL;
	set_snap(r, index, t, raft__conf_at(r, index), size);
	raft__conf_compact(r, index);
	raft_index base = index > r->cfg.trailing_entries ? index - r->cfg.trailing_entries : 0;
	/* A transfer in progress goes on with the snapshot it started with
	 * (the caller keeps it: raft_snapshots_in_use()), and the follower
	 * will need the entries after it: keep them, or it would need yet
	 * another snapshot once installed (tests/sim FINDINGS.md, F2). */
	for (unsigned i = 0; r->role == RAFT_LEADER && i < r->n_prs; i++) {
		const struct raft__progress *pr = &r->prs[i];
		if (pr->id == r->cfg.id)
			continue;
		if (pr->state == RAFT_PROGRESS_SNAPSHOT && pr->snap_index < base)
			base = pr->snap_index;
		/* A live follower catching up with entries (typically right
		 * after an install) keeps what it still needs, within bounds:
		 * a dead or hopeless one does not hold the log. */
		bool live = pr->ticks_since_contact < r->cfg.election_ticks;
		if (pr->state != RAFT_PROGRESS_SNAPSHOT && live && pr->match >= r->log.base &&
		    pr->match < base && index - pr->match <= r->cfg.catch_up_entries)
			base = pr->match;
	}
	if (base > r->log.base)
		raft__log_compact(r, base);
	if (compact_to != NULL)
		*compact_to = r->log.base;
	return 0;
}

void raft__snapshot_chunk_msg(struct raft *r, struct raft__progress *pr, struct raft_message *m)
{
	uint64_t left = pr->snap_size - pr->snap_offset;
	uint64_t len = left < r->cfg.snapshot_chunk_bytes ? left : r->cfg.snapshot_chunk_bytes;
	memset(m, 0, sizeof(*m));
	m->type = RAFT_MSG_SNAPSHOT;
	m->to = pr->id;
	m->term = r->term;
	m->snapshot.snap_index = pr->snap_index;
	m->snapshot.snap_term = pr->snap_term;
	m->snapshot.conf.base = pr->snap_conf; /* raft_ready() copies it */
	m->snapshot.conf.len = pr->snap_conf_len;
	m->snapshot.size = pr->snap_size;
	m->snapshot.offset = pr->snap_offset;
	m->snapshot.chunk.base = NULL; /* the caller reads the bytes */
	m->snapshot.chunk.len = (size_t)len;
	m->snapshot.done = pr->snap_offset + len >= pr->snap_size;
	pr->snap_inflight = true;
	pr->snap_wait = 0;
}

unsigned raft_snapshots_in_use(const struct raft *r, raft_index *out, unsigned max)
{
	unsigned n = 0;
	if (r->snap.index != 0 && n < max)
		out[n++] = r->snap.index;
	for (unsigned i = 0; r->role == RAFT_LEADER && i < r->n_prs; i++) {
		const struct raft__progress *pr = &r->prs[i];
		bool seen = false;
		if (pr->state != RAFT_PROGRESS_SNAPSHOT || pr->snap_index == 0)
			continue;
		for (unsigned k = 0; k < n; k++)
			seen = seen || out[k] == pr->snap_index;
		if (!seen && n < max)
			out[n++] = pr->snap_index;
	}
	return n;
}

int raft__step_snapshot_resp(struct raft *r, const struct raft_message *m)
{
	const struct raft_snapshot_resp *sr = &m->snapshot_resp;
	struct raft__progress *pr = raft__progress(r, m->from);
	if (pr == NULL || m->from == r->cfg.id)
		return 0;
	pr->recent_active = true;
	pr->ticks_since_contact = 0;
	if (pr->state != RAFT_PROGRESS_SNAPSHOT || sr->snap_index != pr->snap_index)
		return 0;
	if (sr->next_offset < pr->snap_size) {
		/* Only the answer to the chunk in flight moves the transfer on: a
		 * stale answer (to a resent or duplicated chunk) that released a
		 * chunk too would multiply the chunks in flight (tests/sim
		 * FINDINGS.md, F1). The leader advances only on such answers and
		 * the follower stages in order. It can still be elsewhere: it
		 * lost its staging area (a restart: it asks for offset 0), or a
		 * late duplicate of chunk 0 started its staging area over. It
		 * then refuses the chunk with the offset it wants, and the leader
		 * goes there; a refusal asking for the offset already being sent
		 * is stale and changes nothing. */
		uint64_t left = pr->snap_size - pr->snap_offset;
		uint64_t len =
		        left < r->cfg.snapshot_chunk_bytes ? left : r->cfg.snapshot_chunk_bytes;
		bool answers_inflight =
		        pr->snap_inflight && sr->next_offset == pr->snap_offset + len;
		bool elsewhere = sr->reject && (sr->next_offset != pr->snap_offset ||
		                                (sr->next_offset == 0 && !pr->snap_inflight));
		if (answers_inflight || elsewhere) {
			pr->snap_offset = sr->next_offset;
			pr->snap_inflight = false;
		}
		return 0;
	}
	/* Installed (or older than the follower's commit): its log matches ours
	 * up to the snapshot; continue with entries. */
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	if (pr->match < pr->snap_index)
		pr->match = pr->snap_index;
	raft__progress_become_probe(pr);
	raft__maybe_commit(r);
	raft__transfer_check(r, m->from);
	return 0;
}

static void reply(struct raft *r, const struct raft_message *m, bool reject, uint64_t next)
{
	struct raft_message resp = {.type = RAFT_MSG_SNAPSHOT_RESP, .to = m->from, .term = r->term};
	resp.snapshot_resp.snap_index = m->snapshot.snap_index;
	resp.snapshot_resp.reject = reject;
	resp.snapshot_resp.next_offset = next;
	resp.snapshot_resp.last_index = raft__log_last(&r->log);
	raft__send(r, &resp);
}

/*
 * Paper Figure 13, InstallSnapshot receiver: create a staging area at offset
 * 0; write each chunk at its offset; when done, if an entry with the same
 * index and term as the snapshot's last included entry exists, retain the
 * log entries following it; otherwise discard the entire log; then reset the
 * state machine from the snapshot. Chunks that do not continue what is staged
 * are refused with the offset wanted. A snapshot no newer than our commit
 * index carries nothing we lack: answer "done" so the leader moves on.
 */
int raft__step_snapshot(struct raft *r, const struct raft_message *m)
{
	const struct raft_snapshot *s = &m->snapshot;
	struct raft_conf conf;
	if (s->snap_index == 0 || s->offset > s->size || s->chunk.len > s->size - s->offset ||
	    (s->chunk.len > 0 && s->chunk.base == NULL) ||
	    (s->done && s->offset + s->chunk.len != s->size) || s->snap_term > m->term ||
	    raft_conf_decode(s->conf.base, s->conf.len, &conf) != 0)
		return 0;
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	if (s->snap_index <= r->commit) {
		reply(r, m, false, s->size);
		return 0;
	}
	if (r->install_pending) {
		/* The install of the previous snapshot is not handed out yet;
		 * a new staging area would overwrite it. Ask to start over. */
		reply(r, m, true, 0);
		return 0;
	}
	if (s->offset != 0 && (r->recv.index != s->snap_index || s->offset != r->recv_offset)) {
		reply(r, m, true, r->recv.index == s->snap_index ? r->recv_offset : 0);
		return 0;
	}
	/* Stage the chunk: copy its bytes for rd->snapshot_chunks. */
	if (RAFT__RESERVE(r->chunks, 1) != 0)
		return -ENOMEM;
	void *data = NULL;
	if (s->chunk.len > 0) {
		data = malloc(s->chunk.len);
		if (data == NULL)
			return -ENOMEM;
		memcpy(data, s->chunk.base, s->chunk.len);
	}
	if (s->done && RAFT__RESERVE(r->hist, 1) != 0) {
		free(data);
		return -ENOMEM;
	}
	struct raft_snapshot_chunk *ch = &r->chunks.v[r->chunks.n++];
	ch->snap_index = s->snap_index;
	ch->offset = s->offset;
	ch->data.base = data;
	ch->data.len = s->chunk.len;
	if (s->offset == 0) {
		r->recv.index = s->snap_index;
		r->recv.term = s->snap_term;
		r->recv.conf = conf;
		r->recv.size = s->size;
		r->recv_offset = 0;
	}
	r->recv_offset += s->chunk.len;
	if (!s->done) {
		reply(r, m, false, r->recv_offset);
		return 0;
	}

	raft_term t;
	bool keep = s->snap_index > r->log.base && raft__log_term(&r->log, s->snap_index, &t) &&
	            t == s->snap_term;
	if (keep) {
		raft__log_compact(r, s->snap_index);
		raft__conf_compact(r, s->snap_index);
	} else {
		/* What is durable beyond our commit no longer matches. */
		raft__clip_persisted(r, r->commit);
		raft__log_reset(r, s->snap_index, s->snap_term);
		r->hist.n = 0;
		raft__conf_push(r, s->snap_index, &conf); /* reserved above */
	}
	r->commit = s->snap_index;
	if (r->applied < s->snap_index)
		r->applied = s->snap_index;
	set_snap(r, s->snap_index, s->snap_term, &conf, s->size);
	r->install_pending = true;
	r->install = r->snap;
	r->install_keep_log = keep;
	r->recv.index = 0;
	r->recv_offset = 0;
	reply(r, m, false, s->size);
	return 0;
}
