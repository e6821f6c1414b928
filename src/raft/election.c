/* election.c: roles, timers, PreVote, RequestVote, CheckQuorum and leadership transfer. */
#include <errno.h>
#include <string.h>

#include "raft_int.h"

/* Paper 5.2: "election timeouts are chosen randomly from a fixed interval";
 * here [e, 2e) ticks, drawn from the seeded PRNG. */
void raft__reset_timeout(struct raft *r)
{
	unsigned e = r->cfg.election_ticks;
	r->timeout = e + (unsigned)(raft__rand(r) % e);
	r->election_elapsed = 0;
}

static void set_role(struct raft *r, enum raft_role role, raft_id leader)
{
	if (r->role != role || r->leader != leader)
		r->soft_changed = true;
	r->role = role;
	r->leader = leader;
}

void raft__become_follower(struct raft *r, raft_term term, raft_id leader)
{
	if (r->role == RAFT_LEADER) {
		/* Dissertation 6.4: reads waiting on this leader can no longer be
		 * confirmed. */
		raft__reads_fail(r, RAFT_ELEADERLOST);
		r->transferee = RAFT_NONE;
	}
	if (term != r->term) {
		r->term = term;
		r->vote = RAFT_NONE;
	}
	set_role(r, RAFT_FOLLOWER, leader);
	r->heartbeat_elapsed = 0;
	raft__reset_timeout(r);
}

/*
 * A server that is not a voter of its latest configuration never campaigns
 * (dissertation 4.2.2: removed servers; 4.2.1: learners do not vote), nor
 * does one whose storage failed.
 */
bool raft__promotable(const struct raft *r)
{
	return !r->failed && raft__is_voter(raft__conf(r), r->cfg.id);
}

static void record_vote(struct raft *r, raft_id id, bool granted)
{
	for (unsigned i = 0; i < r->n_votes; i++)
		if (r->votes[i].id == id)
			return; /* the first answer counts */
	if (r->n_votes == RAFT_MAX_SERVERS)
		return;
	r->votes[r->n_votes].id = id;
	r->votes[r->n_votes].granted = granted;
	r->n_votes++;
}

/* 1: won, -1: lost, 0: pending; majorities of the latest configuration's voters. */
static int tally(const struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	unsigned voters = raft_conf_voters(c), yes = 0, no = 0;
	for (unsigned i = 0; i < r->n_votes; i++) {
		if (!raft__is_voter(c, r->votes[i].id))
			continue;
		if (r->votes[i].granted)
			yes++;
		else
			no++;
	}
	if (yes > voters / 2)
		return 1;
	if (no > voters / 2 || no >= voters - voters / 2)
		return -1;
	return 0;
}

/*
 * Paper 5.2: a candidate increments its term, votes for itself and asks
 * every other server. PreVote (dissertation 9.6) first asks, without changing
 * any state, whether the others would vote, so a server that cannot win (for
 * instance one returning from a partition) does not disrupt the cluster by
 * raising the term. A campaign started by TimeoutNow skips the PreVote
 * (dissertation 3.10) and says so, to override the others' leader lease.
 */
void raft__campaign(struct raft *r, bool pre_vote, bool transfer)
{
	const struct raft_conf *c = raft__conf(r);
	raft_term term;
	if (raft__reserve_msgs(r, c->n) != 0)
		return; /* out of memory: try again at the next timeout */
	if (pre_vote) {
		set_role(r, RAFT_PRE_CANDIDATE, RAFT_NONE);
		term = r->term + 1;
	} else {
		set_role(r, RAFT_CANDIDATE, RAFT_NONE);
		r->term++;
		r->vote = r->cfg.id;
		term = r->term;
	}
	raft__reset_timeout(r);
	r->n_votes = 0;
	record_vote(r, r->cfg.id, true);
	if (tally(r) == 1) { /* a single voter */
		if (pre_vote)
			raft__campaign(r, false, transfer);
		else
			raft__become_leader(r);
		return;
	}
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		if (s->role != RAFT_VOTER || s->id == r->cfg.id)
			continue;
		struct raft_message m = {.type = RAFT_MSG_VOTE, .to = s->id, .term = term};
		m.vote.pre_vote = pre_vote;
		m.vote.transfer = transfer;
		m.vote.last_index = raft__log_last(&r->log);
		m.vote.last_term = raft__log_last_term(&r->log);
		raft__send(r, &m);
	}
}

/*
 * Paper 5.2 and 5.4.1: grant a vote to at most one candidate per term, and
 * only to one whose log is at least as up-to-date as ours. A PreVote is
 * granted under the same conditions for the term the candidate would use,
 * without recording anything (dissertation 9.6).
 */
int raft__step_vote(struct raft *r, const struct raft_message *m)
{
	const struct raft_vote *v = &m->vote;
	raft_term last_term = raft__log_last_term(&r->log);
	raft_index last = raft__log_last(&r->log);
	bool up_to_date =
	        v->last_term > last_term || (v->last_term == last_term && v->last_index >= last);
	bool can_vote = r->vote == m->from || (r->vote == RAFT_NONE && r->leader == RAFT_NONE) ||
	                (v->pre_vote && m->term > r->term);
	bool grant = can_vote && up_to_date && !r->failed;
	struct raft_message resp = {.type = RAFT_MSG_VOTE_RESP, .to = m->from};
	resp.term = grant && v->pre_vote ? m->term : r->term;
	resp.vote_resp.pre_vote = v->pre_vote;
	resp.vote_resp.granted = grant;
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	if (grant && !v->pre_vote) {
		r->vote = m->from;
		/* Figure 2: a follower that grants a vote restarts its timer. */
		raft__reset_timeout(r);
	}
	raft__send(r, &resp);
	return 0;
}

int raft__step_vote_resp(struct raft *r, const struct raft_message *m)
{
	bool pre = m->vote_resp.pre_vote;
	if ((pre && r->role != RAFT_PRE_CANDIDATE) || (!pre && r->role != RAFT_CANDIDATE))
		return 0;
	/* A granted PreVote answer carries our future term; anything else is of
	 * our current term here (higher terms were handled by the caller). */
	if (pre && m->vote_resp.granted && m->term != r->term + 1)
		return 0;
	if (!(pre && m->vote_resp.granted) && m->term != r->term)
		return 0;
	record_vote(r, m->from, m->vote_resp.granted);
	switch (tally(r)) {
	case 1:
		if (pre)
			raft__campaign(r, false, false);
		else
			raft__become_leader(r);
		break;
	case -1:
		raft__become_follower(r, r->term, RAFT_NONE);
		break;
	}
	return 0;
}

/*
 * Paper 5.2 and dissertation 6.4: a new leader appends a no-op entry of its
 * term, so it can commit (Figure 8 rule) and learn the commit index at once.
 */
void raft__become_leader(struct raft *r)
{
	set_role(r, RAFT_LEADER, r->cfg.id);
	r->heartbeat_elapsed = 0;
	r->election_elapsed = 0;
	r->transferee = RAFT_NONE;
	r->transfer_elapsed = 0;
	r->transferred_in_term = false;
	r->n_stamps = 0;
	r->seq = 0;
	r->bcast_seq = 0;
	r->committed_in_term = false;
	r->hb_due = false;
	raft__fl_lead(r);
	raft__progress_reset_all(r);
	if (raft__leader_append(r, RAFT_ENTRY_NOOP, NULL, 0) < 0) {
		/* Out of memory: without a no-op the leader could not commit in
		 * its term; step down and let the next election try again. */
		raft__become_follower(r, r->term, RAFT_NONE);
		return;
	}
	raft__maybe_commit(r);
}

void raft__tick_election(struct raft *r)
{
	r->election_elapsed++;
	if (r->election_elapsed < r->timeout)
		return;
	r->election_elapsed = 0;
	if (!raft__promotable(r)) {
		raft__reset_timeout(r);
		return;
	}
	raft__campaign(r, r->cfg.pre_vote, false);
}

void raft__tick_leader(struct raft *r)
{
	for (unsigned i = 0; i < r->n_prs; i++) {
		struct raft__progress *pr = &r->prs[i];
		pr->ticks_since_contact++;
		if (pr->state == RAFT_PROGRESS_REPLICATE && pr->match < raft__log_last(&r->log))
			pr->stall_ticks++;
		if (pr->state == RAFT_PROGRESS_SNAPSHOT && pr->snap_inflight)
			pr->snap_wait++;
	}
	r->heartbeat_elapsed++;
	if (r->heartbeat_elapsed >= r->cfg.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		r->hb_due = true;
		/* One chunk in flight; resend it if unanswered for a heartbeat
		 * interval (the message or its answer may have been lost). */
		for (unsigned i = 0; i < r->n_prs; i++) {
			struct raft__progress *pr = &r->prs[i];
			if (pr->state == RAFT_PROGRESS_SNAPSHOT && pr->snap_inflight &&
			    pr->snap_wait >= r->cfg.heartbeat_ticks)
				pr->snap_inflight = false;
		}
	}
	if (r->transferee != RAFT_NONE && ++r->transfer_elapsed >= r->cfg.election_ticks) {
		/* Dissertation 3.10: abort a transfer that did not complete
		 * within an election timeout, and accept proposals again. */
		r->transferee = RAFT_NONE;
	}
	r->election_elapsed++;
	if (r->election_elapsed >= r->cfg.election_ticks) {
		r->election_elapsed = 0;
		/* CheckQuorum (dissertation 6.2): a leader that has not heard from
		 * a majority within an election timeout steps down, so clients can
		 * find the real leader and its lease expires. */
		if (r->cfg.check_quorum && !raft__quorum_active(r)) {
			raft__become_follower(r, r->term, RAFT_NONE);
			return;
		}
	}
}

/* Dissertation 3.10: TimeoutNow makes the target start an election at once,
 * skipping PreVote and overriding the others' lease. */
int raft__step_timeout_now(struct raft *r, const struct raft_message *m)
{
	if (r->role == RAFT_LEADER || !raft__promotable(r))
		return 0;
	raft__campaign(r, false, true);
	return 0;
}

void raft__transfer_check(struct raft *r, raft_id id)
{
	if (r->role != RAFT_LEADER || r->transferee != id)
		return;
	struct raft__progress *pr = raft__progress(r, id);
	if (pr == NULL || pr->match != raft__log_last(&r->log))
		return;
	struct raft_message m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = id, .term = r->term};
	raft__send(r, &m);
}

int raft_transfer(struct raft *r, raft_id to)
{
	if (r->failed)
		return RAFT_EFAILED;
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transferee != RAFT_NONE)
		return RAFT_EBUSY;
	const struct raft_conf *c = raft__conf(r);
	if (to == RAFT_NONE) {
		raft_index best = 0;
		for (unsigned i = 0; i < c->n; i++) {
			const struct raft_server *s = &c->servers[i];
			if (s->role != RAFT_VOTER || s->id == r->cfg.id)
				continue;
			struct raft__progress *pr = raft__progress(r, s->id);
			if (pr != NULL && (to == RAFT_NONE || pr->match > best)) {
				to = s->id;
				best = pr->match;
			}
		}
		if (to == RAFT_NONE)
			return RAFT_ENOTFOUND;
	}
	if (to == r->cfg.id)
		return 0; /* already the leader */
	if (!raft__is_voter(c, to))
		return RAFT_ENOTFOUND;
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	r->transferee = to;
	r->transfer_elapsed = 0;
	/* Its TimeoutNow overrides the vote lease the read lease rests on,
	 * and may arrive after the transfer was given up here. */
	r->transferred_in_term = true;
	/* Catching up happens through normal replication; TimeoutNow goes out
	 * once the target's match reaches our last index. */
	raft__transfer_check(r, to);
	return 0;
}
