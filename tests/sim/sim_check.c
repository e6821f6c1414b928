/* sim_check.c: the Raft safety and liveness invariants, checked as the simulation runs. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define UNKNOWN_TERM UINT64_MAX

void sim_check_init(struct sim_check *k)
{
	memset(k, 0, sizeof(*k));
}

void sim_check_free(struct sim_check *k)
{
	for (size_t i = 0; i < k->n_index; i++)
		free(k->recs[i]);
	free(k->recs);
	free(k->n_recs);
	free(k->term_leader);
	free(k->commits);
	free(k->props);
	free(k->payloads);
	memset(k, 0, sizeof(*k));
}

static void grow_index(struct sim_check *k, raft_index i)
{
	if (i < k->n_index)
		return;
	size_t n = (size_t)i * 2 + 64;
	k->recs = sim_xrealloc(k->recs, n * sizeof(*k->recs));
	k->n_recs = sim_xrealloc(k->n_recs, n);
	for (size_t j = k->n_index; j < n; j++) {
		k->recs[j] = NULL;
		k->n_recs[j] = 0;
	}
	k->n_index = n;
}

static void grow_commits(struct sim_check *k, raft_index i)
{
	if (i < k->n_commits)
		return;
	size_t n = (size_t)i * 2 + 64;
	k->commits = sim_xrealloc(k->commits, n * sizeof(*k->commits));
	memset(k->commits + k->n_commits, 0, (n - k->n_commits) * sizeof(*k->commits));
	k->n_commits = n;
}

static const struct sim_commit *committed(const struct sim_check *k, raft_index i)
{
	return i < k->n_commits && k->commits[i].valid ? &k->commits[i] : NULL;
}

/* Log matching (paper Figure 3): one (index, term) names one entry and one
 * history. Recording, for every (index, term) ever stored anywhere, the entry
 * and the term before it makes "same index and term => identical prefix" a
 * check on each stored entry alone (by induction on the index). */
static void check_one(struct sim_cluster *c, struct sim_node *n, const struct raft_entry *e,
                      raft_term prev_term)
{
	struct sim_check *k = &c->chk;
	uint64_t h = sim_entry_hash(e);
	if (prev_term != UNKNOWN_TERM && e->term < prev_term) {
		sim_violation(c, "log terms increase",
		              "n%" PRIu64 " stores %" PRIu64 "/t%" PRIu64
		              " after an entry of term %" PRIu64,
		              n->id, e->index, e->term, prev_term);
		return;
	}
	grow_index(k, e->index);
	struct sim_logrec *recs = k->recs[e->index];
	for (unsigned j = 0; j < k->n_recs[e->index]; j++) {
		struct sim_logrec *r = &recs[j];
		if (r->term != e->term)
			continue;
		if (r->hash != h || r->type != e->type)
			sim_violation(c, "log matching",
			              "n%" PRIu64 " stores %" PRIu64 "/t%" PRIu64
			              " with other contents than another log's entry of that index "
			              "and term",
			              n->id, e->index, e->term);
		else if (prev_term != UNKNOWN_TERM && r->prev_term != UNKNOWN_TERM &&
		         r->prev_term != prev_term)
			sim_violation(c, "log matching",
			              "n%" PRIu64 " has %" PRIu64 "/t%" PRIu64
			              " after an entry of term %" PRIu64
			              ", another log has it after term %" PRIu64,
			              n->id, e->index, e->term, prev_term, r->prev_term);
		else if (r->prev_term == UNKNOWN_TERM)
			r->prev_term = prev_term;
		return;
	}
	unsigned m = k->n_recs[e->index];
	if (m == 255)
		return;
	recs = sim_xrealloc(recs, (m + 1) * sizeof(*recs));
	recs[m] = (struct sim_logrec){
	        .term = e->term, .prev_term = prev_term, .hash = h, .type = e->type};
	k->recs[e->index] = recs;
	k->n_recs[e->index] = (uint8_t)(m + 1);
}

void sim_check_entries(struct sim_cluster *c, struct sim_node *n, const struct raft_entry *e,
                       unsigned count)
{
	for (unsigned i = 0; i < count && !c->n_violations; i++) {
		raft_term prev = UNKNOWN_TERM;
		if (e[i].index == 1) {
			prev = 0;
		} else if (i > 0) {
			if (e[i - 1].index + 1 != e[i].index) {
				sim_violation(c, "ready contract",
				              "n%" PRIu64 ": rd->entries not consecutive (%" PRIu64
				              " then %" PRIu64 ")",
				              n->id, e[i - 1].index, e[i].index);
				return;
			}
			prev = e[i - 1].term;
		} else if (n->r) {
			const struct raft_entry *p = raft_entry_at(n->r, e[i].index - 1);
			if (p)
				prev = p->term;
		}
		check_one(c, n, &e[i], prev);
	}
}

/* A committed entry is never removed from a log that holds it by a leader
 * of the term that committed it or a later one (paper 5.4: such a leader
 * holds the entry, so it cannot conflict). Checked as a batch reaches the
 * disk. A stale leader of an earlier term may still overwrite it on a node
 * that was not part of the committing majority (it stays on that majority),
 * and a log that never held it may hold another entry at that index. */
void sim_check_truncate(struct sim_cluster *c, struct sim_node *n, const struct sim_batch *b)
{
	struct sim_check *k = &c->chk;
	for (unsigned i = 0; i < b->n_entries; i++) {
		const struct raft_entry *e = &b->entries[i];
		const struct sim_commit *cm = committed(k, e->index);
		if (!cm || cm->term == e->term || b->term < cm->in_term)
			continue;
		const struct raft_entry *old = sim_disk_entry(&n->disk, e->index);
		if (old && old->term == cm->term) {
			sim_violation(c, "committed entry lost",
			              "n%" PRIu64 " replaces the committed %" PRIu64 "/t%" PRIu64
			              " (applied by n%" PRIu64 ") in its log by %" PRIu64
			              "/t%" PRIu64,
			              n->id, e->index, cm->term, cm->by, e->index, e->term);
			return;
		}
	}
}

void sim_check_scan(struct sim_cluster *c, struct sim_node *n)
{
	if (!n->up)
		return;
	raft_index first = raft_first_index(n->r), last = raft_last_index(n->r);
	raft_term prev = UNKNOWN_TERM;
	for (raft_index i = first; i <= last && i && !c->n_violations; i++) {
		const struct raft_entry *e = raft_entry_at(n->r, i);
		if (!e || e->index != i) {
			sim_violation(c, "raft_entry_at",
			              "n%" PRIu64 ": no entry %" PRIu64
			              " in memory though first=%" PRIu64 " last=%" PRIu64,
			              n->id, i, first, last);
			return;
		}
		/* A released entry's data is on the node's disk (raft.h). */
		const struct raft_entry *d =
		        e->data.base == NULL && e->data.len ? sim_disk_entry(&n->disk, i) : e;
		if (!d || d->term != e->term) {
			sim_violation(c, "released entry",
			              "n%" PRIu64 ": entry %" PRIu64 "/t%" PRIu64
			              " released from memory is not on its disk",
			              n->id, i, e->term);
			return;
		}
		check_one(c, n, d, i == 1 ? 0 : prev);
		prev = e->term;
	}
}

/* Adds @h to the set; false if it was there. */
static bool payload_insert(struct sim_check *k, uint64_t h)
{
	h |= 1; /* 0 marks an empty slot */
	if ((k->n_payloads + 1) * 2 > k->cap_payloads) {
		size_t cap = k->cap_payloads ? k->cap_payloads * 2 : 1024;
		uint64_t *t = calloc(cap, sizeof(*t));
		if (!t)
			abort();
		for (size_t i = 0; i < k->cap_payloads; i++) {
			uint64_t v = k->payloads[i];
			if (!v)
				continue;
			size_t j = (size_t)(sim_mix(v) & (cap - 1));
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = v;
		}
		free(k->payloads);
		k->payloads = t;
		k->cap_payloads = cap;
	}
	size_t j = (size_t)(sim_mix(h) & (k->cap_payloads - 1));
	while (k->payloads[j]) {
		if (k->payloads[j] == h)
			return false;
		j = (j + 1) & (k->cap_payloads - 1);
	}
	k->payloads[j] = h;
	k->n_payloads++;
	return true;
}

void sim_check_apply(struct sim_cluster *c, struct sim_node *n, const struct raft_entry *e,
                     uint64_t chain)
{
	struct sim_check *k = &c->chk;
	grow_commits(k, e->index);
	struct sim_commit *cm = &k->commits[e->index];
	uint64_t h = sim_entry_hash(e);
	if (cm->valid) {
		if (cm->term != e->term || cm->hash != h)
			sim_violation(c, "state machine safety",
			              "n%" PRIu64 " applies %" PRIu64 "/t%" PRIu64 " but n%" PRIu64
			              " applied %" PRIu64 "/t%" PRIu64 " (another entry)",
			              n->id, e->index, e->term, cm->by, e->index, cm->term);
		else if (cm->chain != chain)
			sim_violation(c, "state machine safety",
			              "n%" PRIu64 " reaches index %" PRIu64
			              " with another history of applied entries than n%" PRIu64,
			              n->id, e->index, cm->by);
		return;
	}
	*cm = (struct sim_commit){.valid = true,
	                          .term = e->term,
	                          .hash = h,
	                          .chain = chain,
	                          .by = n->id,
	                          .in_term = raft_current_term(n->r),
	                          .conf_hash = sim_conf_hash(&n->sm.conf)};
	c->n_committed++;
	/* every proposal has a unique payload: committed twice means the core
	 * duplicated an entry */
	if (e->type == RAFT_ENTRY_NORMAL && !c->o.repeated_payloads && !payload_insert(k, h))
		sim_violation(c, "no duplicate",
		              "the command committed at %" PRIu64 "/t%" PRIu64
		              " was already committed at another index",
		              e->index, e->term);
	if (e->index > k->max_applied)
		k->max_applied = e->index;
}

void sim_check_install(struct sim_cluster *c, struct sim_node *n)
{
	const struct sim_commit *cm = committed(&c->chk, n->sm.applied);
	if (!cm)
		sim_violation(c, "snapshot install",
		              "n%" PRIu64 " installs a snapshot at %" PRIu64
		              " that no node ever applied up to",
		              n->id, n->sm.applied);
	else if (cm->chain != n->sm.chain || cm->term != n->sm.applied_term)
		sim_violation(c, "snapshot install",
		              "n%" PRIu64 " installs a snapshot at %" PRIu64
		              " whose state differs from the committed history",
		              n->id, n->sm.applied);
	else if (cm->conf_hash != sim_conf_hash(&n->sm.conf))
		sim_violation(c, "snapshot configuration",
		              "n%" PRIu64 " installs snapshot %" PRIu64
		              " with a configuration of %u"
		              " servers that is not the one in effect at that index",
		              n->id, n->sm.applied, n->sm.conf.n);
}

/* Leader completeness (paper 5.4.1): the leader of a term holds every entry
 * committed in an earlier term. (A leader elected late for an old term, whose
 * vote replies were slow, owes nothing to the terms after it.) */
static void check_leader_complete(struct sim_cluster *c, struct sim_node *n, raft_term term)
{
	struct sim_check *k = &c->chk;
	raft_index first = raft_first_index(n->r), last = raft_last_index(n->r);
	for (raft_index i = first ? first : 1; i < k->n_commits && i <= k->max_applied; i++) {
		const struct sim_commit *cm = &k->commits[i];
		if (!cm->valid || cm->in_term >= term)
			continue;
		const struct raft_entry *e = i <= last ? raft_entry_at(n->r, i) : NULL;
		if (!e || e->term != cm->term) {
			sim_violation(
			        c, "leader completeness",
			        "n%" PRIu64 " leads term %" PRIu64 " without the committed %" PRIu64
			        "/t%" PRIu64 " (applied by n%" PRIu64 "; its log: first %" PRIu64
			        " last %" PRIu64 ", has t%" PRIu64 " there)",
			        n->id, term, i, cm->term, cm->by, first, last, e ? e->term : 0);
			return;
		}
	}
}

/* The highest index of term @term in @d's durable log (0 if none). */
static raft_index durable_of_term(const struct sim_disk *d, raft_term term)
{
	for (size_t i = d->n; i-- > 0;) {
		if (d->log[i].term == term)
			return d->log[i].index;
		if (d->log[i].term < term)
			return 0;
	}
	return d->has_snap && d->snap.term == term ? d->snap.index : 0;
}

/*
 * The commit rule (paper 5.4.2 and Figure 8): a leader of term T moves its
 * commit index to N only when an entry of term T at or after N is stored
 * (durably) on a majority of the voters of its configuration; replicas of
 * older terms' entries never count. Checked against the simulated disks, the
 * moment a leader's commit index passes what any node has applied.
 */
static void check_commit_rule(struct sim_cluster *c, struct sim_node *n, raft_term term,
                              raft_index commit)
{
	const struct raft_entry *e = raft_entry_at(n->r, commit);
	if (e && e->term != term) {
		c->n_old_commits++;
		sim_trace(c,
		          "n%" PRIu64 " (leader of term %" PRIu64 ") commits up to %" PRIu64
		          " of term %" PRIu64,
		          n->id, term, commit, e->term);
	}
	if (commit <= c->chk.applied_before_step || c->o.no_commit_rule)
		return; /* committed before, by someone */
	const struct raft_conf *conf = raft_configuration(n->r);
	raft_index have[RAFT_MAX_SERVERS];
	unsigned voters = 0, ok = 0;
	for (unsigned i = 0; i < conf->n; i++) {
		if (conf->servers[i].role != RAFT_VOTER)
			continue;
		raft_id id = conf->servers[i].id;
		voters++;
		if (id > SIM_MAX_NODES || !c->nodes[id].exists)
			continue;
		have[ok++] = durable_of_term(&c->nodes[id].disk, term);
	}
	unsigned need = voters / 2 + 1, at_least = 0;
	for (unsigned i = 0; i < ok; i++)
		if (have[i] >= commit)
			at_least++;
	if (at_least < need)
		sim_violation(c, "commit rule",
		              "n%" PRIu64 " (leader of term %" PRIu64 ") commits up to %" PRIu64
		              " (an entry of term %" PRIu64
		              ") but only %u of %u voters have an entry "
		              "of term %" PRIu64 " at or after it on disk",
		              n->id, term, commit, e ? e->term : 0, at_least, voters, term);
}

static bool only_voter_is(const struct raft_conf *conf, raft_id id)
{
	for (unsigned i = 0; i < conf->n; i++)
		if (conf->servers[i].role == RAFT_VOTER)
			return conf->servers[i].id == id;
	return false;
}

/* Paper 5.2: a candidate wins with votes from a majority of the voters of
 * its configuration. Votes are durable before they are sent (checked on
 * send), so right after the election a majority of the voters' disks say
 * (term, vote = the leader), or have moved on to a later term since. */
static void check_vote_quorum(struct sim_cluster *c, struct sim_node *n, raft_term term)
{
	const struct raft_conf *conf = raft_configuration(n->r);
	unsigned voters = 0, votes = 0;
	for (unsigned i = 0; i < conf->n; i++) {
		if (conf->servers[i].role != RAFT_VOTER)
			continue;
		voters++;
		raft_id id = conf->servers[i].id;
		if (id > SIM_MAX_NODES || !c->nodes[id].exists)
			continue;
		const struct raft_hard_state *hs = &c->nodes[id].disk.hs;
		if (hs->term > term || (hs->term == term && hs->vote == n->id))
			votes++;
	}
	/* The only voter wins by its own vote at once, before the batch that
	 * stores it: no vote was sent, so none can be forgotten, and what it
	 * commits is checked on disk (the commit rule), its vote with it. */
	if (voters == 1 && votes == 0 && conf->n > 0 && only_voter_is(conf, n->id))
		votes = 1;
	if (votes < voters / 2 + 1)
		sim_violation(c, "vote quorum",
		              "n%" PRIu64 " leads term %" PRIu64 " but only %u of its %u voters' "
		              "disks hold a vote for it in that term",
		              n->id, term, votes, voters);
}

void sim_check_step(struct sim_cluster *c)
{
	struct sim_check *k = &c->chk;
	for (raft_id id = 1; id <= c->n_ids && !c->n_violations; id++) {
		struct sim_node *n = &c->nodes[id];
		if (!n->up)
			continue;
		enum raft_role role = raft_role(n->r);
		raft_term term = raft_current_term(n->r);
		if (n->failed && role != RAFT_FOLLOWER)
			sim_violation(c, "storage failure",
			              "n%" PRIu64 " is %s in term %" PRIu64 " after raft_fail()",
			              id, raft_role_name(role), term);
		raft_index commit = raft_commit_index(n->r);
		if (commit > k->max_commit_seen)
			k->max_commit_seen = commit;
		if (commit < n->seen_commit)
			sim_violation(c, "commit monotonic",
			              "n%" PRIu64 " commit index went from %" PRIu64
			              " back to %" PRIu64,
			              id, n->seen_commit, commit);
		raft_id lead = raft_leader(n->r);
		if (role != RAFT_LEADER && lead &&
		    (term >= k->n_terms || k->term_leader[term] != lead))
			sim_violation(c, "leader identity",
			              "n%" PRIu64 " believes n%" PRIu64 " leads term %" PRIu64
			              " but that term's leader is n%" PRIu64,
			              id, lead, term, term < k->n_terms ? k->term_leader[term] : 0);
		if (role == RAFT_LEADER && commit > n->seen_commit && n->seen_role == RAFT_LEADER &&
		    n->seen_term == term)
			check_commit_rule(c, n, term, commit);
		n->seen_commit = commit;
		if (term < n->seen_term)
			sim_violation(c, "term monotonic",
			              "n%" PRIu64 " went from term %" PRIu64 " back to %" PRIu64,
			              id, n->seen_term, term);
		if (role == RAFT_LEADER && (n->seen_role != RAFT_LEADER || n->seen_term != term)) {
			if (term >= k->n_terms) {
				size_t m = (size_t)term * 2 + 16;
				k->term_leader =
				        sim_xrealloc(k->term_leader, m * sizeof(*k->term_leader));
				memset(k->term_leader + k->n_terms, 0,
				       (m - k->n_terms) * sizeof(*k->term_leader));
				k->n_terms = m;
			}
			if (k->term_leader[term] && k->term_leader[term] != id) {
				sim_violation(c, "election safety",
				              "n%" PRIu64 " and n%" PRIu64
				              " both lead term %" PRIu64,
				              k->term_leader[term], id, term);
			} else {
				k->term_leader[term] = id;
				c->n_elections++;
				c->new_leader = id;
				sim_trace(c, "n%" PRIu64 " becomes leader of term %" PRIu64, id,
				          term);
				check_leader_complete(c, n, term);
				check_vote_quorum(c, n, term);
			}
		}
		n->seen_role = role;
		n->seen_term = term;
	}
	if (c->step % 64 == 0 && c->n_ids && !c->n_violations) {
		k->scan_next = k->scan_next % c->n_ids + 1;
		sim_check_scan(c, &c->nodes[k->scan_next]);
	}
}

/* Raft paper Figure 2: a server answers an RPC only with what is on stable
 * storage. Checked as the message leaves the node, against its disk. */
void sim_check_send(struct sim_cluster *c, struct sim_node *n, const struct raft_message *m)
{
	if (m->type == RAFT_MSG_SNAPSHOT) {
		/* paper Figure 13: the snapshot carries the configuration as of
		 * its last included index */
		struct raft_conf conf;
		const struct sim_commit *cm = committed(&c->chk, m->snapshot.snap_index);
		if (raft_conf_decode(m->snapshot.conf.base, m->snapshot.conf.len, &conf) != 0)
			sim_violation(c, "snapshot configuration",
			              "n%" PRIu64 " sends snapshot %" PRIu64
			              " whose configuration does not decode",
			              n->id, m->snapshot.snap_index);
		else if (cm && cm->conf_hash != sim_conf_hash(&conf))
			sim_violation(c, "snapshot configuration",
			              "n%" PRIu64 " sends snapshot %" PRIu64
			              " with a configuration of %u"
			              " servers that is not the one in effect at that index",
			              n->id, m->snapshot.snap_index, conf.n);
	}
	/* docs/architecture.md, rule 1, raft_fail(): a node whose storage failed stops
	 * voting, campaigning and leading for good */
	if (n->failed && (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_APPEND ||
	                  m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_SNAPSHOT ||
	                  m->type == RAFT_MSG_TIMEOUT_NOW ||
	                  (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.granted) ||
	                  (m->type == RAFT_MSG_APPEND_RESP && !m->append_resp.reject)))
		sim_violation(c, "storage failure",
		              "n%" PRIu64 " sends %s to n%" PRIu64 " after raft_fail()", n->id,
		              raft_msg_type_name(m->type), m->to);
	if (m->type == RAFT_MSG_APPEND_RESP && !m->append_resp.reject) {
		raft_index d = sim_disk_last(&n->disk);
		if (m->append_resp.index > d)
			sim_violation(c, "durability",
			              "n%" PRIu64 " acknowledges index %" PRIu64 " to n%" PRIu64
			              " but its disk holds only up to %" PRIu64,
			              n->id, m->append_resp.index, m->to, d);
	} else if (m->type == RAFT_MSG_SNAPSHOT_RESP && !m->snapshot_resp.reject &&
	           m->snapshot_resp.last_index >= m->snapshot_resp.snap_index &&
	           sim_disk_last(&n->disk) < m->snapshot_resp.snap_index) {
		/* it claims the snapshot installed: the install must be durable */
		sim_violation(c, "durability",
		              "n%" PRIu64 " reports snapshot %" PRIu64 " installed (last %" PRIu64
		              ") to n%" PRIu64 " but its disk holds only up to %" PRIu64,
		              n->id, m->snapshot_resp.snap_index, m->snapshot_resp.last_index,
		              m->to, sim_disk_last(&n->disk));
	} else if (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.granted &&
	           !m->vote_resp.pre_vote) {
		const struct raft_hard_state *hs = &n->disk.hs;
		if (hs->term < m->term || (hs->term == m->term && hs->vote != m->to))
			sim_violation(c, "durability",
			              "n%" PRIu64 " grants its vote in term %" PRIu64
			              " to n%" PRIu64 " but its disk says term %" PRIu64
			              " vote n%" PRIu64,
			              n->id, m->term, m->to, hs->term, hs->vote);
	}
}

void sim_check_read_answer(struct sim_cluster *c, struct sim_node *n,
                           const struct raft_read_state *rs)
{
	for (unsigned i = 0; i < n->n_reads; i++) {
		struct sim_read *rd = &n->reads[i];
		if (rd->ctx != rs->ctx || rd->answered)
			continue;
		if (rs->status != 0) {
			n->reads[i] = n->reads[--n->n_reads];
			return;
		}
		/* Dissertation 6.4: the read index covers every entry committed
		 * before the read was asked for. */
		if (rs->index < rd->min_commit)
			sim_violation(c, "linearizable read",
			              "n%" PRIu64 " read ctx %" PRIu64 " (asked at step %" PRIu64
			              ") answered with index %" PRIu64 " < commit %" PRIu64
			              " seen when asked",
			              n->id, rs->ctx, rd->step, rs->index, rd->min_commit);
		rd->answered = true;
		rd->index = rs->index;
		return;
	}
}

void sim_check_serve_reads(struct sim_cluster *c, struct sim_node *n)
{
	for (unsigned i = 0; i < n->n_reads;) {
		struct sim_read *rd = &n->reads[i];
		bool early = c->o.sim_bug == SIM_BUG_EARLY_READ;
		if (!rd->answered || (n->sm.applied < rd->index && !early)) {
			i++;
			continue;
		}
		const struct sim_commit *cm = committed(&c->chk, n->sm.applied);
		if (n->sm.applied < rd->min_commit || !cm || cm->chain != n->sm.chain)
			sim_violation(
			        c, "linearizable read",
			        "n%" PRIu64 " serves read ctx %" PRIu64 " from applied %" PRIu64
			        " which misses entries committed before the request (%" PRIu64 ")",
			        n->id, rd->ctx, n->sm.applied, rd->min_commit);
		c->n_reads_ok++;
		n->reads[i] = n->reads[--n->n_reads];
	}
}

void sim_check_proposal(struct sim_cluster *c, raft_id node, raft_term term, raft_index index,
                        uint64_t hash)
{
	struct sim_check *k = &c->chk;
	if (k->n_props == k->cap_props) {
		k->cap_props = k->cap_props ? k->cap_props * 2 : 64;
		k->props = sim_xrealloc(k->props, k->cap_props * sizeof(*k->props));
	}
	k->props[k->n_props++] = (struct sim_proposal){.node = node,
	                                               .term = term,
	                                               .index = index,
	                                               .hash = hash,
	                                               .final_phase = c->in_final,
	                                               .time = c->now};
}

/* Resolves proposals against the committed record; returns how many stay
 * pending at a node that still leads the term they were proposed in. */
static unsigned settle_proposals(struct sim_cluster *c, const struct sim_proposal **stuck,
                                 bool *final_committed)
{
	struct sim_check *k = &c->chk;
	unsigned n_stuck = 0;
	*final_committed = false;
	for (size_t i = 0; i < k->n_props; i++) {
		struct sim_proposal *p = &k->props[i];
		if (p->state == 0) {
			const struct sim_commit *cm = committed(k, p->index);
			if (cm) {
				p->state = (cm->term == p->term && cm->hash == p->hash) ? 1 : 2;
				if (p->state == 2)
					k->n_dropped++;
			}
		}
		if (p->state == 1 && p->final_phase)
			*final_committed = true;
		if (p->state != 0)
			continue;
		struct sim_node *n = &c->nodes[p->node];
		/* a young one may still commit; the bound is about old ones */
		uint64_t young = 10ull * c->o.election_ticks * c->o.tick_ms;
		if (n->up && raft_role(n->r) == RAFT_LEADER && raft_current_term(n->r) == p->term &&
		    c->now - p->time > young) {
			if (!n_stuck)
				*stuck = p;
			n_stuck++;
		}
	}
	return n_stuck;
}

bool sim_check_converged(struct sim_cluster *c, bool report)
{
	const struct sim_proposal *stuck = NULL;
	bool final_committed;
	unsigned n_stuck = settle_proposals(c, &stuck, &final_committed);
	raft_id l = sim_leader(c);
	if (!l) {
		if (report)
			sim_violation(c, "liveness",
			              "no leader %" PRIu64 " ms after faults stopped",
			              c->now - c->final_start);
		return false;
	}
	struct raft *r = c->nodes[l].r;
	raft_index commit = raft_commit_index(r);
	if (n_stuck) {
		if (report)
			sim_violation(c, "liveness",
			              "%u proposals at leader n%" PRIu64 " still pending %" PRIu64
			              " ms after faults stopped, e.g. index %" PRIu64
			              " of term %" PRIu64 " (leader commit %" PRIu64 ")",
			              n_stuck, l, c->now - c->final_start, stuck->index,
			              stuck->term, commit);
		return false;
	}
	/* a stale leader (partitioned before the heal) does not count */
	const struct raft_conf *members = raft_configuration(r);
	for (unsigned i = 0; i < members->n; i++) {
		raft_id id = members->servers[i].id;
		struct sim_node *o = &c->nodes[id];
		if (id <= SIM_MAX_NODES && o->up &&
		    raft_current_term(o->r) > raft_current_term(r)) {
			if (report)
				sim_violation(c, "liveness",
				              "n%" PRIu64 " leads term %" PRIu64 " but n%" PRIu64
				              " is in term %" PRIu64 " %" PRIu64
				              " ms after faults stopped",
				              l, raft_current_term(r), id, raft_current_term(o->r),
				              c->now - c->final_start);
			return false;
		}
	}
	/* no committed entry was lost on the way */
	check_leader_complete(c, &c->nodes[l], raft_current_term(r));
	if (c->n_violations)
		return false;
	const struct raft_conf *conf = raft_configuration(r);
	for (unsigned i = 0; i < conf->n; i++) {
		raft_id id = conf->servers[i].id;
		if (id > SIM_MAX_NODES || !c->nodes[id].exists)
			continue;
		struct sim_node *n = &c->nodes[id];
		if (!n->up || n->sm.applied < commit) {
			if (report)
				sim_violation(c, "liveness",
				              "n%" PRIu64 " (member) applied %" PRIu64
				              " but leader n%" PRIu64 " committed %" PRIu64
				              " %" PRIu64 " ms after faults stopped",
				              id, n->up ? n->sm.applied : 0, l, commit,
				              c->now - c->final_start);
			return false;
		}
	}
	if (!final_committed || commit < raft_last_index(r)) {
		if (report)
			sim_violation(c, "liveness",
			              "leader n%" PRIu64 " of term %" PRIu64 " commits %" PRIu64
			              " of %" PRIu64 " and no new proposal committed %" PRIu64
			              " ms after faults stopped",
			              l, raft_current_term(r), commit, raft_last_index(r),
			              c->now - c->final_start);
		return false;
	}
	return true;
}
