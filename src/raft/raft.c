/* raft.c: lifetime, the step dispatcher with the term rules, inputs, and queries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft_int.h"

const char *raft_strerror(int err)
{
#define RAFT__TEXT(code, text)                                                       \
	case code:                                                                   \
		return text;
	switch (err) {
	case 0:
		return "success";
		RAFT_ERROR_TEXTS(RAFT__TEXT)
	case -ENOMEM:
		return "out of memory";
	case -EINVAL:
		return "invalid argument";
	}
#undef RAFT__TEXT
	return "unknown error";
}

const char *raft_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_PRE_CANDIDATE:
		return "pre-candidate";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	}
	return "unknown";
}

const char *raft_msg_type_name(int type)
{
	static const char *const names[] = {
	        [RAFT_MSG_APPEND] = "append",
	        [RAFT_MSG_APPEND_RESP] = "append_resp",
	        [RAFT_MSG_HEARTBEAT] = "heartbeat",
	        [RAFT_MSG_HEARTBEAT_RESP] = "heartbeat_resp",
	        [RAFT_MSG_VOTE] = "vote",
	        [RAFT_MSG_VOTE_RESP] = "vote_resp",
	        [RAFT_MSG_SNAPSHOT] = "snapshot",
	        [RAFT_MSG_SNAPSHOT_RESP] = "snapshot_resp",
	        [RAFT_MSG_TIMEOUT_NOW] = "timeout_now",
	        [RAFT_MSG_READ_INDEX] = "read_index",
	        [RAFT_MSG_READ_INDEX_RESP] = "read_index_resp",
	};
	if (type <= 0 || type >= RAFT_MSG_TYPE_LAST)
		return "unknown";
	return names[type];
}

void raft_config_default(struct raft_config *cfg, raft_id id, uint64_t seed)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->id = id;
	cfg->seed = seed;
	cfg->election_ticks = 10;
	cfg->heartbeat_ticks = 1;
	cfg->pre_vote = true;
	cfg->check_quorum = true;
	cfg->max_inflight_msgs = 256;
	cfg->max_inflight_bytes = 8u << 20;
	cfg->max_msg_bytes = 1u << 20;
	cfg->snapshot_chunk_bytes = 1u << 20;
	cfg->trailing_entries = 1024;
	cfg->catch_up_entries = 65536;
	cfg->promote_lag = 64;
}

/* splitmix64 (Steele, Lea, Flood 2014): the core's only source of randomness. */
uint64_t raft__rand(struct raft *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int raft__vec_grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 8;
	while (c < need)
		c *= 2;
	void *p = realloc(*v, c * size);
	if (p == NULL)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

/* Entry data may still be borrowed by the batch out: free it at advance. */
void raft__free_data(struct raft *r, void *p)
{
	if (p == NULL)
		return;
	if (!r->batch.out) {
		free(p);
		return;
	}
	if (RAFT__RESERVE(r->garbage, 1) != 0) {
		/* Out of memory: leak rather than free what the caller may
		 * still be reading from the batch. */
		return;
	}
	r->garbage.v[r->garbage.n++] = p;
}

/* Messages that promise durable state wait for the persist step of their
 * batch (paper Figure 2, "Persistent state"; docs/raft-core.md, "The ready contract"). */
static bool after_persist(const struct raft_message *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND_RESP:
	case RAFT_MSG_SNAPSHOT_RESP:
		return true;
	case RAFT_MSG_VOTE:
		return !m->vote.pre_vote;
	case RAFT_MSG_VOTE_RESP:
		return !m->vote_resp.pre_vote;
	}
	return false;
}

int raft__reserve_msgs(struct raft *r, unsigned n)
{
	if (RAFT__RESERVE(r->out, n) != 0 || RAFT__RESERVE(r->out_after, n) != 0)
		return -ENOMEM;
	return 0;
}

int raft__send(struct raft *r, const struct raft_message *m)
{
	struct raft_message c = *m;
	c.from = r->cfg.id;
	if (after_persist(m)) {
		if (RAFT__RESERVE(r->out_after, 1) != 0)
			return -ENOMEM;
		r->out_after.v[r->out_after.n++] = c;
	} else {
		if (RAFT__RESERVE(r->out, 1) != 0)
			return -ENOMEM;
		r->out.v[r->out.n++] = c;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */

int raft_new(const struct raft_config *cfg, struct raft **out)
{
	if (cfg == NULL || out == NULL || cfg->id == RAFT_NONE || cfg->election_ticks < 1 ||
	    cfg->heartbeat_ticks < 1 || cfg->max_inflight_msgs < 1 || cfg->max_msg_bytes < 1 ||
	    cfg->max_inflight_bytes < 1 || cfg->snapshot_chunk_bytes < 1)
		return -EINVAL;
	struct raft *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->cfg = *cfg;
	for (unsigned i = 0; i < RAFT_MAX_SERVERS; i++) {
		r->infl_pool[i] = calloc(cfg->max_inflight_msgs, sizeof(struct raft__inflight));
		if (r->infl_pool[i] == NULL) {
			raft_free(r);
			return -ENOMEM;
		}
	}
	r->rng = cfg->seed;
	r->role = RAFT_FOLLOWER;
	r->unstable = 1;
	raft__reset_timeout(r);
	*out = r;
	return 0;
}

void raft_free(struct raft *r)
{
	if (r == NULL)
		return;
	raft_advance(r, NULL);
	for (size_t i = 0; i < r->log.n; i++)
		free(r->log.e[i].data.base);
	free(r->log.e);
	for (size_t i = 0; i < r->chunks.n; i++)
		free(r->chunks.v[i].data.base);
	free(r->chunks.v);
	free(r->claims.v);
	free(r->hist.v);
	free(r->reads.v);
	free(r->out.v);
	free(r->out_after.v);
	free(r->ready_reads.v);
	free(r->garbage.v);
	for (unsigned i = 0; i < RAFT_MAX_SERVERS; i++)
		free(r->infl_pool[i]);
	free(r);
}

static bool fresh(const struct raft *r)
{
	return r->term == 0 && r->vote == RAFT_NONE && raft__log_last(&r->log) == 0 &&
	       r->hist.n == 0 && r->snap.index == 0;
}

static bool conf_valid(const struct raft_conf *c)
{
	uint8_t buf[2 + RAFT_MAX_SERVERS * (10 + RAFT_ADDRESS_MAX)];
	struct raft_conf d;
	if (c->n > RAFT_MAX_SERVERS || raft_conf_voters(c) == 0)
		return false;
	for (unsigned i = 0; i < c->n; i++)
		if (memchr(c->servers[i].address, 0, RAFT_ADDRESS_MAX) == NULL)
			return false;
	size_t len = raft_conf_encode(c, buf, sizeof(buf));
	return len <= sizeof(buf) && raft_conf_decode(buf, len, &d) == 0;
}

int raft_bootstrap(struct raft *r, const struct raft_conf *conf)
{
	uint8_t buf[2 + RAFT_MAX_SERVERS * (10 + RAFT_ADDRESS_MAX)];
	if (!fresh(r) || conf == NULL || !conf_valid(conf))
		return -EINVAL;
	size_t len = raft_conf_encode(conf, buf, sizeof(buf));
	struct raft_entry e = {.term = 1, .index = 1, .type = RAFT_ENTRY_CONF};
	if (raft__log_reserve(&r->log, 1) != 0 || RAFT__RESERVE(r->hist, 1) != 0)
		return -ENOMEM;
	e.data.base = malloc(len);
	if (e.data.base == NULL)
		return -ENOMEM;
	memcpy(e.data.base, buf, len);
	e.data.len = len;
	raft__log_push(&r->log, &e);
	raft__conf_push(r, 1, conf);
	r->term = 1;
	r->commit = 1;
	return 0;
}

int raft_restore(struct raft *r, const struct raft_hard_state *hs,
                 const struct raft_snapshot_meta *snap, const struct raft_entry *entries,
                 unsigned n)
{
	if (!fresh(r) || hs == NULL || (n > 0 && entries == NULL))
		return -EINVAL;
	raft_index base = snap ? snap->index : 0;
	raft_term t = snap ? snap->term : 0;
	if (snap && (snap->index == 0 || snap->term > hs->term || snap->conf.n > RAFT_MAX_SERVERS))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (entries[i].index != base + 1 + i || entries[i].term < t ||
		    entries[i].term > hs->term || entries[i].type > RAFT_ENTRY_CONF ||
		    (entries[i].data.len && entries[i].data.base == NULL))
			return -EINVAL;
		t = entries[i].term;
	}
	if (raft__log_reserve(&r->log, n) != 0 || RAFT__RESERVE(r->hist, n + 1) != 0)
		return -ENOMEM;
	void **copies = calloc(n ? n : 1, sizeof(void *));
	if (copies == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (entries[i].data.len == 0)
			continue;
		copies[i] = malloc(entries[i].data.len);
		if (copies[i] == NULL) {
			for (unsigned j = 0; j < i; j++)
				free(copies[j]);
			free(copies);
			return -ENOMEM;
		}
		memcpy(copies[i], entries[i].data.base, entries[i].data.len);
	}
	r->log.base = base;
	r->log.base_term = snap ? snap->term : 0;
	for (unsigned i = 0; i < n; i++) {
		struct raft_entry e = entries[i];
		e.data.base = copies[i];
		raft__log_push(&r->log, &e);
	}
	free(copies);
	if (snap) {
		r->snap = *snap;
		r->snap_conf_len =
		        raft_conf_encode(&snap->conf, r->snap_conf, sizeof(r->snap_conf));
		raft__conf_push(r, snap->index, &snap->conf);
	}
	raft__conf_scan(r, r->log.e, r->log.n);
	r->term = hs->term;
	r->vote = hs->vote;
	raft_index last = raft__log_last(&r->log);
	r->commit = hs->commit < last ? hs->commit : last;
	if (r->commit < base)
		r->commit = base;
	r->hs_reported = *hs;
	r->hs_reported.commit = r->commit;
	r->unstable = last + 1;
	r->persisted = last;
	r->applied = base;
	return 0;
}

void raft_fail(struct raft *r)
{
	if (r->failed)
		return;
	if (r->role == RAFT_LEADER)
		raft__reads_fail(r, RAFT_ELEADERLOST);
	r->failed = true;
	if (r->role != RAFT_FOLLOWER || r->leader != RAFT_NONE)
		r->soft_changed = true;
	r->role = RAFT_FOLLOWER;
	r->leader = RAFT_NONE;
	r->transferee = RAFT_NONE;
	r->out.n = 0;
	r->out_after.n = 0;
}

/* ------------------------------------------------------------------------ */
/* Inputs                                                                    */

/* Like raft_step() and raft_ready(), a tick counts a time set right before
 * it as fresh and uses it up only at its end (raft_set_now()): a leader with
 * no one to hear from (a single voter) learns the time only here, and its
 * wait of rule 4 (follower_lease.c) must start and end on it. */
void raft_tick(struct raft *r)
{
#ifdef RAFT_BROKEN_LEASE
	if (raft_broken_lease == 6)
		raft__now_consumed(r); /* teeth: the time is used up first */
#endif
	if (r->failed) {
		raft__now_consumed(r);
		return;
	}
	if (r->boot_ticks < r->cfg.election_ticks)
		r->boot_ticks++;
	if (r->role == RAFT_LEADER)
		raft__tick_leader(r);
	else
		raft__tick_election(r);
	/* A holder's lease or a new leader's wait may have ended (follower_lease.c). */
	if (r->role == RAFT_LEADER && r->cfg.follower_lease)
		raft__maybe_commit(r);
	raft__now_consumed(r);
}

static int stale_term(struct raft *r, const struct raft_message *m)
{
	struct raft_message resp = {.to = m->from, .term = r->term};
	if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT) {
		/* Tell an old leader about the newer term, or it would never
		 * learn it: with PreVote and the lease nobody else would. */
		resp.type = RAFT_MSG_APPEND_RESP;
		resp.append_resp.reject = true;
		return raft__send(r, &resp);
	}
	if (m->type == RAFT_MSG_VOTE && m->vote.pre_vote) {
		resp.type = RAFT_MSG_VOTE_RESP;
		resp.vote_resp.pre_vote = true;
		return raft__send(r, &resp);
	}
	return 0;
}

static int step(struct raft *r, const struct raft_message *m)
{
	if (r->failed)
		return RAFT_EFAILED;
	if (m == NULL || m->to != r->cfg.id || m->from == RAFT_NONE || m->from == r->cfg.id ||
	    m->type < RAFT_MSG_APPEND || m->type >= RAFT_MSG_TYPE_LAST)
		return 0;
	bool from_leader = m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
	                   m->type == RAFT_MSG_SNAPSHOT;

	/* Paper Figure 2, "Rules for all servers": a higher term makes us a
	 * follower of that term; a lower one is stale. */
	if (m->term > r->term) {
		if (m->type == RAFT_MSG_VOTE && !m->vote.transfer && raft__in_vote_lease(r))
			return 0;
		bool keep_term = (m->type == RAFT_MSG_VOTE && m->vote.pre_vote) ||
		                 (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.pre_vote &&
		                  m->vote_resp.granted);
		if (!keep_term) {
			if (raft__reserve_msgs(r, 1) != 0)
				return -ENOMEM;
			raft__become_follower(r, m->term, from_leader ? m->from : RAFT_NONE);
		}
	} else if (m->term < r->term) {
		return stale_term(r, m);
	}

	switch (m->type) {
	case RAFT_MSG_VOTE:
		return raft__step_vote(r, m);
	case RAFT_MSG_VOTE_RESP:
		return raft__step_vote_resp(r, m);
	case RAFT_MSG_APPEND:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAPSHOT:
		if (r->role == RAFT_LEADER)
			return 0; /* two leaders in one term: impossible (5.2) */
		if (r->role != RAFT_FOLLOWER || r->leader != m->from)
			raft__become_follower(r, m->term, m->from);
		r->election_elapsed = 0;
		if (m->type == RAFT_MSG_APPEND) {
			raft__fl_on_grant(r, m->from, &m->append.grant);
			return raft__step_append(r, m);
		}
		if (m->type == RAFT_MSG_HEARTBEAT) {
			raft__fl_on_grant(r, m->from, &m->heartbeat.grant);
			return raft__step_heartbeat(r, m);
		}
		return raft__step_snapshot(r, m);
	case RAFT_MSG_APPEND_RESP:
		return r->role == RAFT_LEADER ? raft__step_append_resp(r, m) : 0;
	case RAFT_MSG_HEARTBEAT_RESP:
		return r->role == RAFT_LEADER ? raft__step_heartbeat_resp(r, m) : 0;
	case RAFT_MSG_SNAPSHOT_RESP:
		return r->role == RAFT_LEADER ? raft__step_snapshot_resp(r, m) : 0;
	case RAFT_MSG_TIMEOUT_NOW:
		return m->from == r->leader ? raft__step_timeout_now(r, m) : 0;
	case RAFT_MSG_READ_INDEX:
		return raft__step_read_index(r, m);
	case RAFT_MSG_READ_INDEX_RESP:
		return r->role != RAFT_LEADER ? raft__step_read_index_resp(r, m) : 0;
	}
	return 0;
}

int raft_step(struct raft *r, const struct raft_message *m)
{
	int rc = step(r, m);
	raft__now_consumed(r);
	return rc;
}

int64_t raft_propose(struct raft *r, const void *data, size_t len)
{
	if (r->failed)
		return RAFT_EFAILED;
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	/* Dissertation 3.10: proposals wait while leadership is handed over. */
	if (r->transferee != RAFT_NONE)
		return RAFT_EBUSY;
	if (len > 0 && data == NULL)
		return -EINVAL;
	/* A commit held back by follower leases (follower_lease.c) may move
	 * now and step a removed leader down: before the append, not after. */
	raft__maybe_commit(r);
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	int64_t index = raft__leader_append(r, RAFT_ENTRY_NORMAL, data, len);
	if (index > 0)
		raft__maybe_commit(r);
	return index;
}

int raft_read_index(struct raft *r, uint64_t ctx)
{
	int rc = r->failed ? RAFT_EFAILED : raft__read_local(r, ctx);
	raft__now_consumed(r);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */

raft_id raft_self(const struct raft *r)
{
	return r->cfg.id;
}

enum raft_role raft_role(const struct raft *r)
{
	return r->role;
}

raft_term raft_current_term(const struct raft *r)
{
	return r->term;
}

raft_id raft_leader(const struct raft *r)
{
	return r->leader;
}

raft_index raft_commit_index(const struct raft *r)
{
	return r->commit;
}

raft_index raft_last_index(const struct raft *r)
{
	return raft__log_last(&r->log);
}

raft_index raft_first_index(const struct raft *r)
{
	return r->log.base + 1;
}

raft_index raft_persisted_index(const struct raft *r)
{
	return r->persisted;
}

const struct raft_conf *raft_configuration(const struct raft *r)
{
	return raft__conf(r);
}

const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index)
{
	return raft__log_get(&r->log, index);
}

int raft_progress(const struct raft *r, raft_id id, struct raft_progress_info *out)
{
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	const struct raft_server *s = raft_conf_get(raft__conf(r), id);
	memset(out, 0, sizeof(*out));
	if (id == r->cfg.id) {
		out->id = id;
		out->role = s ? s->role : RAFT_VOTER;
		out->match = r->persisted;
		out->next = raft__log_last(&r->log) + 1;
		out->state = RAFT_PROGRESS_REPLICATE;
		return 0;
	}
	if (s == NULL)
		return RAFT_ENOTFOUND;
	for (unsigned i = 0; i < r->n_prs; i++) {
		const struct raft__progress *pr = &r->prs[i];
		if (pr->id != id)
			continue;
		out->id = id;
		out->role = s->role;
		out->match = pr->match;
		out->next = pr->next;
		out->ticks_since_contact = pr->ticks_since_contact;
		out->state = pr->state;
		return 0;
	}
	return RAFT_ENOTFOUND;
}
