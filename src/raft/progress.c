/* progress.c: the leader's view of each server: match/next, probe/replicate/snapshot, inflight
 * window. */
#include <string.h>

#include "raft_int.h"

struct raft__progress *raft__progress(struct raft *r, raft_id id)
{
	for (unsigned i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

static void progress_init(struct raft *r, struct raft__progress *pr, raft_id id)
{
	struct raft__inflight *infl = pr->infl;
	memset(pr, 0, sizeof(*pr));
	pr->infl = infl;
	pr->id = id;
	pr->next = raft__log_last(&r->log) + 1;
	pr->state = RAFT_PROGRESS_PROBE;
	/* Not heard from yet in this term: CheckQuorum (dissertation 6.2) at the
	 * end of the first election timeout needs a majority to have answered. */
	pr->recent_active = false;
}

/* A leader starts with every follower in probe at its last index + 1
 * (paper Figure 2, "Volatile state on leaders ... reinitialized after election"). */
void raft__progress_reset_all(struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	for (unsigned i = 0; i < RAFT_MAX_SERVERS; i++)
		r->prs[i].infl = r->infl_pool[i];
	r->n_prs = c->n;
	for (unsigned i = 0; i < c->n; i++)
		progress_init(r, &r->prs[i], c->servers[i].id);
}

void raft__progress_rebuild(struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	struct raft__progress old[RAFT_MAX_SERVERS];
	unsigned n_old = r->n_prs;
	bool used[RAFT_MAX_SERVERS] = {false};
	memcpy(old, r->prs, sizeof(old));
	for (unsigned i = 0; i < c->n; i++) {
		r->prs[i].infl = NULL;
		for (unsigned j = 0; j < n_old; j++) {
			if (old[j].id == c->servers[i].id) {
				r->prs[i] = old[j];
				break;
			}
		}
	}
	/* Hand the inflight rings not kept to the new servers. */
	for (unsigned i = 0; i < c->n; i++)
		for (unsigned k = 0; k < RAFT_MAX_SERVERS; k++)
			if (r->prs[i].infl == r->infl_pool[k])
				used[k] = true;
	for (unsigned i = 0; i < c->n; i++) {
		if (r->prs[i].infl != NULL)
			continue;
		for (unsigned k = 0; k < RAFT_MAX_SERVERS; k++) {
			if (!used[k]) {
				used[k] = true;
				r->prs[i].infl = r->infl_pool[k];
				break;
			}
		}
		progress_init(r, &r->prs[i], c->servers[i].id);
	}
	r->n_prs = c->n;
}

static void inflight_clear(struct raft__progress *pr)
{
	pr->infl_start = 0;
	pr->infl_count = 0;
	pr->infl_bytes = 0;
}

/* Probe: one AppendEntries at a time until the follower's log matches. */
void raft__progress_become_probe(struct raft__progress *pr)
{
	if (pr->state == RAFT_PROGRESS_SNAPSHOT) {
		raft_index s = pr->snap_index;
		pr->next = (pr->match > s ? pr->match : s) + 1;
	} else {
		pr->next = pr->match + 1;
	}
	pr->state = RAFT_PROGRESS_PROBE;
	pr->paused = false;
	pr->snap_index = 0;
	inflight_clear(pr);
}

/* Replicate: the logs match up to match; stream optimistically (pipelining). */
void raft__progress_become_replicate(struct raft__progress *pr)
{
	pr->state = RAFT_PROGRESS_REPLICATE;
	pr->next = pr->match + 1;
	pr->paused = false;
	pr->stall_ticks = 0;
	inflight_clear(pr);
}

void raft__progress_become_snapshot(struct raft *r, struct raft__progress *pr)
{
	pr->state = RAFT_PROGRESS_SNAPSHOT;
	pr->snap_index = r->snap.index;
	pr->snap_term = r->snap.term;
	pr->snap_size = r->snap.size;
	memcpy(pr->snap_conf, r->snap_conf, r->snap_conf_len);
	pr->snap_conf_len = r->snap_conf_len;
	pr->snap_offset = 0;
	pr->snap_inflight = false;
	pr->snap_wait = 0;
	pr->paused = false;
	inflight_clear(pr);
}

bool raft__inflight_full(const struct raft *r, const struct raft__progress *pr)
{
	return pr->infl_count >= r->cfg.max_inflight_msgs ||
	       pr->infl_bytes >= r->cfg.max_inflight_bytes;
}

void raft__inflight_add(struct raft *r, struct raft__progress *pr, raft_index last, size_t bytes)
{
	unsigned cap = r->cfg.max_inflight_msgs;
	unsigned slot = (pr->infl_start + pr->infl_count) % cap;
	pr->infl[slot].last = last;
	pr->infl[slot].bytes = bytes;
	pr->infl_count++;
	pr->infl_bytes += bytes;
}

void raft__inflight_free_to(struct raft *r, struct raft__progress *pr, raft_index index)
{
	unsigned cap = r->cfg.max_inflight_msgs;
	while (pr->infl_count > 0 && pr->infl[pr->infl_start].last <= index) {
		pr->infl_bytes -= pr->infl[pr->infl_start].bytes;
		pr->infl_start = (pr->infl_start + 1) % cap;
		pr->infl_count--;
	}
}

/* Dissertation 10.2.1: the leader counts its own log only once it is durable. */
raft_index raft__match_of(const struct raft *r, raft_id id)
{
	if (id == r->cfg.id)
		return r->persisted;
	for (unsigned i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return r->prs[i].match;
	return 0;
}

/* CheckQuorum (dissertation 6.2): has a majority of the voters of the latest
 * configuration been heard from since the last check? Clears the marks. */
bool raft__quorum_active(struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	unsigned voters = 0, active = 0;
	for (unsigned i = 0; i < c->n; i++) {
		if (c->servers[i].role != RAFT_VOTER)
			continue;
		voters++;
		if (c->servers[i].id == r->cfg.id) {
			active++;
			continue;
		}
		struct raft__progress *pr = raft__progress(r, c->servers[i].id);
		if (pr != NULL && pr->recent_active)
			active++;
	}
	for (unsigned i = 0; i < r->n_prs; i++)
		r->prs[i].recent_active = false;
	return active > voters / 2;
}
