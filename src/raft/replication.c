/* replication.c: AppendEntries and heartbeats on both sides, and the leader's commit rule. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft_int.h"

/* ------------------------------------------------------------------------ */
/* Follower side                                                            */

static void reply_append(struct raft *r, const struct raft_message *m, bool reject,
                         raft_index index, raft_index hint_index, raft_term hint_term)
{
	struct raft_message resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from, .term = r->term};
	resp.append_resp.reject = reject;
	resp.append_resp.index = index;
	resp.append_resp.last_index = raft__log_last(&r->log);
	resp.append_resp.hint_index = hint_index;
	resp.append_resp.hint_term = hint_term;
	resp.append_resp.seq = m->type == RAFT_MSG_APPEND ? m->append.seq : 0;
	raft__fl_ask(r, &resp.append_resp.lease);
	raft__send(r, &resp);
}

static bool append_well_formed(const struct raft_message *m)
{
	const struct raft_append *a = &m->append;
	raft_term t = a->prev_term;
	if (a->n_entries > 0 && a->entries == NULL)
		return false;
	for (unsigned i = 0; i < a->n_entries; i++) {
		const struct raft_entry *e = &a->entries[i];
		if (e->index != a->prev_index + 1 + i || e->term < t || e->term > m->term ||
		    e->type > RAFT_ENTRY_CONF || (e->data.len > 0 && e->data.base == NULL))
			return false;
		if (e->type == RAFT_ENTRY_CONF) {
			struct raft_conf c;
			if (raft_conf_decode(e->data.base, e->data.len, &c) != 0)
				return false;
		}
		t = e->term;
	}
	return a->prev_term <= m->term;
}

/*
 * Paper Figure 2, AppendEntries receiver: reject unless the log holds
 * prev_index with prev_term; delete a conflicting suffix; append what is new;
 * commit = min(leaderCommit, index of last new entry). A rejection carries
 * the conflict hint of paper 5.3 ("the term of the conflicting entry and the
 * first index it stores for that term") so the leader can skip a whole term
 * per round trip.
 */
int raft__step_append(struct raft *r, const struct raft_message *m)
{
	const struct raft_append *a = &m->append;
	if (!append_well_formed(m))
		return 0;
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	raft_index prev = a->prev_index;
	raft_term prev_term = a->prev_term;
	const struct raft_entry *ents = a->entries;
	unsigned n = a->n_entries;

	/* Entries up to our commit index are known to match the leader's
	 * (leader completeness, paper 5.4): skip them, which also covers a
	 * prev_index compacted away behind a snapshot. */
	if (prev < r->commit) {
		raft_index skip = r->commit - prev;
		if (skip >= n) {
			reply_append(r, m, false, r->commit, 0, 0);
			return 0;
		}
		prev = r->commit;
		prev_term = ents[skip - 1].term;
		ents += skip;
		n -= (unsigned)skip;
	}

	raft_term t;
	if (!raft__log_term(&r->log, prev, &t) || t != prev_term) {
		raft_index last = raft__log_last(&r->log);
		if (prev > last) {
			reply_append(r, m, true, a->prev_index, last + 1, 0);
		} else {
			raft_index first = prev;
			raft_term ft;
			while (first > r->log.base + 1 && raft__log_term(&r->log, first - 1, &ft) &&
			       ft == t)
				first--;
			reply_append(r, m, true, a->prev_index, first, t);
		}
		return 0;
	}

	/* Find the first entry that is new or conflicts. */
	unsigned k = 0;
	for (; k < n; k++) {
		raft_term et;
		if (!raft__log_term(&r->log, ents[k].index, &et))
			break; /* beyond our last */
		if (et != ents[k].term)
			break;
	}
	if (k < n) {
		/* Copy first, so that a failed allocation leaves the log as it was. */
		if (raft__log_reserve(&r->log, n - k) != 0)
			return -ENOMEM;
		void **copies = calloc(n - k, sizeof(void *));
		if (copies == NULL)
			return -ENOMEM;
		for (unsigned i = k; i < n; i++) {
			if (ents[i].data.len == 0)
				continue;
			copies[i - k] = malloc(ents[i].data.len);
			if (copies[i - k] == NULL) {
				for (unsigned j = 0; j < i - k; j++)
					free(copies[j]);
				free(copies);
				return -ENOMEM;
			}
			memcpy(copies[i - k], ents[i].data.base, ents[i].data.len);
		}
		if (ents[k].index <= raft__log_last(&r->log)) {
			if (ents[k].index <= r->commit) {
				/* Never happens with a correct leader (5.4): refuse
				 * rather than lose a committed entry. */
				for (unsigned j = 0; j < n - k; j++)
					free(copies[j]);
				free(copies);
				return 0;
			}
			raft__log_truncate(r, ents[k].index);
		}
		for (unsigned i = k; i < n; i++) {
			struct raft_entry e = ents[i];
			e.data.base = copies[i - k];
			raft__log_push(&r->log, &e);
		}
		free(copies);
		raft__conf_scan(r, raft__log_get(&r->log, ents[k].index), n - k);
	}
	raft_index last_new = prev + n;
	raft_index c = a->commit < last_new ? a->commit : last_new;
	if (c > r->commit)
		r->commit = c;
	reply_append(r, m, false, last_new, 0, 0);
	return 0;
}

int raft__step_heartbeat(struct raft *r, const struct raft_message *m)
{
	/* The leader sends min(its commit, our match), all of which we hold
	 * matching; clamp to our log anyway. */
	raft_index c = m->heartbeat.commit;
	raft_index last = raft__log_last(&r->log);
	if (c > last)
		c = last;
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	if (c > r->commit)
		r->commit = c;
	struct raft_message resp = {
	        .type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from, .term = r->term};
	resp.heartbeat_resp.seq = m->heartbeat.seq;
	raft__fl_ask(r, &resp.heartbeat_resp.lease);
	raft__send(r, &resp);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Leader side                                                              */

/* The removed leader tells the others the commit index one last time, and
 * hands leadership to the most up-to-date voter (dissertation 3.10) so the
 * cluster does not wait an election timeout. */
static void step_down_removed(struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	raft_id best = RAFT_NONE;
	raft_index best_match = 0;
	if (raft__reserve_msgs(r, c->n + 1) == 0) {
		for (unsigned i = 0; i < r->n_prs; i++) {
			struct raft__progress *pr = &r->prs[i];
			if (pr->id == r->cfg.id)
				continue;
			struct raft_message m = {
			        .type = RAFT_MSG_HEARTBEAT, .to = pr->id, .term = r->term};
			m.heartbeat.commit = r->commit < pr->match ? r->commit : pr->match;
			m.heartbeat.seq = ++r->seq;
			raft__send(r, &m);
			if (raft__is_voter(c, pr->id) && pr->match > best_match) {
				best = pr->id;
				best_match = pr->match;
			}
		}
		if (best != RAFT_NONE && best_match == raft__log_last(&r->log)) {
			struct raft_message m = {
			        .type = RAFT_MSG_TIMEOUT_NOW, .to = best, .term = r->term};
			raft__send(r, &m);
		}
	}
	raft__become_follower(r, r->term, RAFT_NONE);
}

/*
 * Paper 5.3-5.4.2 and Figure 8: the leader commits the highest index N that a
 * majority of voters hold, but only if log[N].term == currentTerm; entries of
 * older terms are committed indirectly, by the Log Matching Property. The
 * leader counts itself only up to what it has made durable (10.2.1), and not
 * at all while it is removing itself (dissertation 4.2.2).
 */
void raft__maybe_commit(struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	raft_index m[RAFT_MAX_SERVERS];
	unsigned n = 0;
	if (r->role != RAFT_LEADER)
		return;
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].role == RAFT_VOTER)
			m[n++] = raft__match_of(r, c->servers[i].id);
	if (n == 0)
		return;
	/* Sort descending; the (n/2)-th is held by a majority. */
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && m[j - 1] < m[j]; j--) {
			raft_index t = m[j];
			m[j] = m[j - 1];
			m[j - 1] = t;
		}
	raft_index N = m[n / 2];
	raft_term t;
	if (N <= r->commit || !raft__log_term(&r->log, N, &t))
		return;
#ifdef RAFT_BROKEN_COMMIT_RULE
	/* Deliberately wrong (for the simulator): counts replicas of an entry
	 * of an older term, the scenario of paper Figure 8. */
	(void)t;
#else
	if (t != r->term)
		return;
#endif
	/* Follower read leases: not past a holder's match, and nothing in a new
	 * leader's first D (follower_lease.c, rules 2 and 4). Any index up to N
	 * is held by a majority, so a smaller one is as safe to commit. */
	N = raft__fl_visible(r, N);
	if (N <= r->commit)
		return;
	r->commit = N;
	if (!r->committed_in_term) {
		raft_term ct;
		if (raft__log_term(&r->log, r->commit, &ct) && ct == r->term) {
			r->committed_in_term = true;
			raft__reads_on_commit(r);
		}
	}
	/* Dissertation 4.2.2: a leader removed from the configuration steps
	 * down once the configuration entry that removed it is committed. */
	if (raft_conf_get(c, r->cfg.id) == NULL && raft__conf_index(r) <= r->commit)
		step_down_removed(r);
}

int64_t raft__leader_append(struct raft *r, uint8_t type, const void *data, size_t len)
{
	struct raft_entry e = {.term = r->term, .index = raft__log_last(&r->log) + 1, .type = type};
	if (raft__log_reserve(&r->log, 1) != 0)
		return -ENOMEM;
	if (len > 0) {
		e.data.base = malloc(len);
		if (e.data.base == NULL)
			return -ENOMEM;
		memcpy(e.data.base, data, len);
		e.data.len = len;
	}
	raft__log_push(&r->log, &e);
	return (int64_t)e.index;
}

/* Paper 5.3 with the conflict hint: where to probe next after a rejection. */
static raft_index backtrack(struct raft *r, const struct raft__progress *pr,
                            const struct raft_append_resp *ar)
{
	raft_index rejected = ar->index, next;
	if (ar->hint_term == 0) {
		next = ar->hint_index; /* the follower's log ends before rejected */
	} else {
		/* If we hold entries of hint_term, the follower's entries of that
		 * term up to our last one match ours: resume after it. Otherwise
		 * the follower's whole run of hint_term must go. */
		raft_index i = rejected;
		raft_term t;
		if (i > raft__log_last(&r->log))
			i = raft__log_last(&r->log);
		while (i > r->log.base && raft__log_term(&r->log, i, &t) && t > ar->hint_term)
			i--;
		if (raft__log_term(&r->log, i, &t) && t == ar->hint_term && i > r->log.base)
			next = i + 1;
		else
			next = ar->hint_index;
	}
	if (next > rejected)
		next = rejected;
	if (next < pr->match + 1)
		next = pr->match + 1;
	return next;
}

static void contact(struct raft__progress *pr, uint64_t seq)
{
	pr->recent_active = true;
	pr->ticks_since_contact = 0;
	if (seq > pr->acked_seq)
		pr->acked_seq = seq;
}

int raft__step_append_resp(struct raft *r, const struct raft_message *m)
{
	const struct raft_append_resp *ar = &m->append_resp;
	struct raft__progress *pr = raft__progress(r, m->from);
	if (pr == NULL || m->from == r->cfg.id)
		return 0;
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	contact(pr, ar->seq);
	raft__reads_confirm(r);
	if (ar->reject) {
		if (pr->state == RAFT_PROGRESS_REPLICATE) {
			if (ar->index <= pr->match)
				return 0; /* stale */
			raft_index next = backtrack(r, pr, ar);
			raft__progress_become_probe(pr);
			pr->next = next;
		} else if (pr->state == RAFT_PROGRESS_PROBE) {
			if (ar->index != pr->next - 1)
				return 0; /* stale */
			pr->next = backtrack(r, pr, ar);
			pr->paused = false;
		}
		return 0;
	}
	if (ar->index > raft__log_last(&r->log))
		return 0; /* not something we sent */
	bool moved = ar->index > pr->match;
	if (moved) {
		pr->match = ar->index;
		pr->stall_ticks = 0;
	}
	if (pr->next <= pr->match)
		pr->next = pr->match + 1;
	switch (pr->state) {
	case RAFT_PROGRESS_PROBE:
		raft__progress_become_replicate(pr);
		break;
	case RAFT_PROGRESS_SNAPSHOT:
		if (pr->match >= pr->snap_index)
			raft__progress_become_probe(pr);
		break;
	case RAFT_PROGRESS_REPLICATE:
		raft__inflight_free_to(r, pr, pr->match);
		break;
	}
	raft__fl_on_ask(r, m->from, &ar->lease);
	if (moved)
		raft__maybe_commit(r);
	if (r->role == RAFT_LEADER)
		raft__transfer_check(r, m->from);
	return 0;
}

int raft__step_heartbeat_resp(struct raft *r, const struct raft_message *m)
{
	struct raft__progress *pr = raft__progress(r, m->from);
	if (pr == NULL || m->from == r->cfg.id)
		return 0;
	contact(pr, m->heartbeat_resp.seq);
	raft__fl_on_ask(r, m->from, &m->heartbeat_resp.lease);
	if (pr->state == RAFT_PROGRESS_PROBE) {
		pr->paused = false;
	} else if (pr->state == RAFT_PROGRESS_REPLICATE && pr->match < raft__log_last(&r->log) &&
	           pr->stall_ticks >= r->cfg.election_ticks / 2 + 1) {
		/* The follower answers heartbeats but its match has not moved
		 * for a while although it is behind: an AppendEntries (or its
		 * answer) was lost. Probe again from match + 1. */
		raft__progress_become_probe(pr);
	}
	raft__reads_confirm(r);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Building the leader's messages at raft_ready() time (batching)          */

struct out {
	struct raft_message **v;
	size_t *n, *cap;
};

static struct raft_message *out_push(struct out *o)
{
	if (raft__vec_grow((void **)o->v, o->cap, *o->n + 1, sizeof(**o->v)) != 0)
		return NULL;
	struct raft_message *m = &(*o->v)[(*o->n)++];
	memset(m, 0, sizeof(*m));
	return m;
}

/* One AppendEntries from pr->next, up to @budget bytes of entries (at least
 * one entry). Entries point into the log; raft_ready() copies the array. */
static struct raft_message *append_msg(struct raft *r, struct out *o, struct raft__progress *pr,
                                       size_t budget, size_t *bytes)
{
	struct raft_message *m = out_push(o);
	if (m == NULL)
		return NULL;
	raft_index last = raft__log_last(&r->log);
	m->type = RAFT_MSG_APPEND;
	m->to = pr->id;
	m->term = r->term;
	m->append.prev_index = pr->next - 1;
	raft__log_term(&r->log, pr->next - 1, &m->append.prev_term);
	m->append.seq = ++r->seq;
	*bytes = 0;
	unsigned n = 0;
	for (raft_index i = pr->next; i <= last; i++) {
		size_t len = raft__log_get(&r->log, i)->data.len;
		if (n > 0 && *bytes + len > budget)
			break;
		*bytes += len;
		n++;
	}
	m->append.n_entries = n;
	m->append.entries = n ? raft__log_get(&r->log, pr->next) : NULL;
	raft_index sent_last = pr->next - 1 + n;
	/* The follower commits min(this, its last new entry) (Figure 2). */
	m->append.commit = r->commit;
	raft_index told = r->commit < sent_last ? r->commit : sent_last;
	if (told > pr->commit_sent)
		pr->commit_sent = told;
	raft__fl_grant(r, pr->id, &m->append.grant);
	return m;
}

static bool needs_snapshot(const struct raft *r, const struct raft__progress *pr)
{
	return pr->next - 1 < r->log.base;
}

static int send_to(struct raft *r, struct out *o, struct raft__progress *pr, bool *sent)
{
	raft_index last = raft__log_last(&r->log);
	size_t bytes;
	*sent = false;
	if ((pr->state == RAFT_PROGRESS_PROBE || pr->state == RAFT_PROGRESS_REPLICATE) &&
	    needs_snapshot(r, pr)) {
		if (r->snap.index == 0)
			return 0; /* cannot happen: the log base is always a snapshot */
		raft__progress_become_snapshot(r, pr);
	}
	switch (pr->state) {
	case RAFT_PROGRESS_PROBE:
		if (pr->paused || (pr->next > last && pr->match >= last))
			return 0;
		if (append_msg(r, o, pr, r->cfg.max_msg_bytes, &bytes) == NULL)
			return -ENOMEM;
		pr->paused = true;
		*sent = true;
		return 0;
	case RAFT_PROGRESS_REPLICATE:
		/* Pipelining: several AppendEntries in flight, bounded by
		 * messages and bytes; each carries everything proposed since
		 * the last one, up to max_msg_bytes (batching). */
		while (pr->next <= last && !raft__inflight_full(r, pr)) {
			size_t budget = r->cfg.max_msg_bytes;
			size_t room = r->cfg.max_inflight_bytes - pr->infl_bytes;
			if (room < budget)
				budget = room;
			struct raft_message *m = append_msg(r, o, pr, budget, &bytes);
			if (m == NULL)
				return -ENOMEM;
			raft_index sent_last = pr->next - 1 + m->append.n_entries;
			raft__inflight_add(r, pr, sent_last, bytes);
			pr->next = sent_last + 1;
			*sent = true;
		}
		return 0;
	case RAFT_PROGRESS_SNAPSHOT:
		if (!pr->snap_inflight) {
			struct raft_message *m = out_push(o);
			if (m == NULL)
				return -ENOMEM;
			raft__snapshot_chunk_msg(r, pr, m);
			*sent = true;
		}
		return 0;
	}
	return 0;
}

static int heartbeat_to(struct raft *r, struct out *o, struct raft__progress *pr)
{
	struct raft_message *m = out_push(o);
	if (m == NULL)
		return -ENOMEM;
	m->type = RAFT_MSG_HEARTBEAT;
	m->to = pr->id;
	m->term = r->term;
	m->heartbeat.commit = r->commit < pr->match ? r->commit : pr->match;
	m->heartbeat.seq = ++r->seq;
	if (m->heartbeat.commit > pr->commit_sent)
		pr->commit_sent = m->heartbeat.commit;
	raft__fl_grant(r, pr->id, &m->heartbeat.grant);
	return 0;
}

/* True if @pr has something that send_to() would send now. */
static bool can_send(const struct raft *r, const struct raft__progress *pr)
{
	raft_index last = raft__log_last(&r->log);
	if (pr->state != RAFT_PROGRESS_SNAPSHOT && needs_snapshot(r, pr))
		return r->snap.index != 0;
	switch (pr->state) {
	case RAFT_PROGRESS_PROBE:
		return !pr->paused && !(pr->next > last && pr->match >= last);
	case RAFT_PROGRESS_REPLICATE:
		return pr->next <= last && !raft__inflight_full(r, pr);
	case RAFT_PROGRESS_SNAPSHOT:
		return !pr->snap_inflight;
	}
	return false;
}

static bool commit_news(const struct raft *r, const struct raft__progress *pr)
{
	raft_index c = r->commit < pr->match ? r->commit : pr->match;
	return c > pr->commit_sent;
}

bool raft__leader_has_msgs(const struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return false;
	if (r->hb_due || raft__reads_need_round(r))
		return true;
	for (unsigned i = 0; i < r->n_prs; i++) {
		const struct raft__progress *pr = &r->prs[i];
		if (pr->id != r->cfg.id && (can_send(r, pr) || commit_news(r, pr)))
			return true;
	}
	return false;
}

int raft__build_leader_msgs(struct raft *r, struct raft_message **msgs, size_t *n, size_t *cap)
{
	struct out o = {msgs, n, cap};
	if (r->role != RAFT_LEADER)
		return 0;
	/* A heartbeat round: due by the timer, or asked for by waiting reads
	 * (dissertation 6.4: one round confirms every read registered before). */
	bool hb = r->hb_due || raft__reads_need_round(r);
	uint64_t first = r->seq + 1;
	r->hb_due = false;
	if (hb)
		r->bcast_seq = r->seq + 1;
	for (unsigned i = 0; i < r->n_prs; i++) {
		struct raft__progress *pr = &r->prs[i];
		bool sent;
		if (pr->id == r->cfg.id)
			continue;
		int rv = send_to(r, &o, pr, &sent);
		if (rv != 0)
			return rv;
		/* Heartbeats, not empty appends: reordered, they cannot reset a
		 * pipeline. A follower also learns of a commit this way. */
		if (hb || (!sent && commit_news(r, pr))) {
			rv = heartbeat_to(r, &o, pr);
			if (rv != 0)
				return rv;
		}
	}
	raft__lease_stamp(r, first);
	return 0;
}
