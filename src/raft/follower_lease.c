/* follower_lease.c: follower read leases: grants, the wait for every holder, a new leader's wait. */

/*
 * The rules (docs/raft-core.md, "Follower read leases", which gives their
 * sources and the simulator's proof of each):
 *
 * 1. Grant: a follower asks with each answer, stamped with its own clock
 *    when it built it (a). The leader, under its own read lease, records at
 *    receipt (its time l) that it waits for that follower until l + D, and
 *    says in its next messages which stamp it granted. The follower holds
 *    until a + D * 1000 / (1000 + drift) by its own clock: since a came
 *    before l, that ends, in real time, before the leader stops waiting.
 * 2. Visibility waits for every holder: the leader's commit index (what any
 *    node applies) never passes the match index of a server it still waits
 *    for. So a write is complete only once every holder acknowledged it.
 * 3. Ack after marking: the node's side (raft_read_lease()).
 * 4. A new leader makes nothing visible for D * (1000 + drift) / 1000 after
 *    it won: leases the old leader granted (only under its own lease, which
 *    ended before anyone else could win) have ended by then.
 * 5. Volatile: nothing of this is persisted; a restarted server holds none.
 * 6. A holder that stops answering costs writers at most D: then the leader
 *    stops waiting for it. A follower is granted only while it has
 *    acknowledged everything visible, so a lagging one never holds writes.
 * 7. Every voter honours them: the leader grants only while every voter of
 *    its latest configuration has asked within the last D. Only a server
 *    that runs these rules with D set asks, and any voter may lead next: a
 *    leader that does not wait out the old leases (rule 4), an older daemon
 *    or one with D = 0, would make writes visible that a holder does not
 *    show. One that stops asking (restarted without them) ends the grants
 *    within D.
 * 8. The leader holds too: nothing becomes visible before the leader
 *    itself has the entry durable (r->persisted), which its caller reports
 *    only after it marked the entry and dropped what the entry makes stale
 *    in its caches (rule 3, the node's side). A majority of acknowledgements
 *    without the leader's own would let a write complete while the
 *    leader's kernel still answers the old value from its cache.
 */
#include <stdbool.h>
#include <stdint.h>

#include "raft_int.h"

#ifdef RAFT_BROKEN_LEASE
/* Deliberately wrong variants, for the simulator's teeth (tests/sim). */
int raft_broken_lease;
#define BROKEN(k) (raft_broken_lease == (k))
#else
#define BROKEN(k) false
#endif

static bool on(const struct raft *r)
{
	return r->cfg.follower_lease != 0 && r->cfg.lease_duration != 0;
}

void raft__fl_ask(const struct raft *r, struct raft_lease_ask *ask)
{
	/* r->now is the last time set: at most the real time of building,
	 * which is before the send. An old value only shortens the lease. */
	ask->ask = on(r) && r->clock_set;
	ask->stamp = ask->ask ? r->now : 0;
}

static struct raft__holder *holder(struct raft *r, raft_id id)
{
	for (unsigned i = 0; i < r->n_holders; i++)
		if (r->holders[i].id == id)
			return &r->holders[i];
	return NULL;
}

/* Rule 7: every voter but this one asked within the last D. */
static bool all_voters_ask(struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	if (BROKEN(5))
		return true;
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		if (s->id == r->cfg.id || !raft__is_voter(c, s->id))
			continue;
		const struct raft__progress *pr = raft__progress(r, s->id);
		if (pr == NULL || pr->asked_at == 0 || pr->asked_at + r->cfg.follower_lease <= r->now)
			return false;
	}
	return true;
}

void raft__fl_on_ask(struct raft *r, raft_id from, const struct raft_lease_ask *ask)
{
	if (!on(r) || !ask->ask || r->role != RAFT_LEADER || !r->now_fresh)
		return; /* l must be the time of receipt, not an older one */
	struct raft__progress *pr = raft__progress(r, from);
	if (pr != NULL)
		pr->asked_at = r->now;
	if (!all_voters_ask(r))
		return;
	/* Rule 4: only under the leader's own lease, so that no grant is made
	 * once another leader can have been elected. */
	if (!raft__lease_valid(r))
		return;
	/* Rule 6: only a follower that holds everything visible, so that a
	 * lagging or snapshotting one never holds writes back. */
	if (pr == NULL || pr->state != RAFT_PROGRESS_REPLICATE || pr->match < r->commit)
		return;
	struct raft__holder *h = holder(r, from);
	if (h == NULL) {
		/* Drop the slots of leases that ended, then take a new one. */
		unsigned k = 0;
		for (unsigned i = 0; i < r->n_holders; i++)
			if (r->holders[i].until > r->now)
				r->holders[k++] = r->holders[i];
		r->n_holders = k;
		if (r->n_holders == RAFT_MAX_SERVERS)
			return;
		h = &r->holders[r->n_holders++];
		h->id = from;
		h->until = 0;
	}
	uint64_t until = r->now + r->cfg.follower_lease;
	if (until > h->until)
		h->until = until;
	h->stamp = ask->stamp;
}

void raft__fl_grant(const struct raft *r, raft_id to, struct raft_lease_grant *g)
{
	g->duration = 0;
	g->stamp = 0;
	g->commit = 0;
	if (!on(r) || r->role != RAFT_LEADER)
		return;
	for (unsigned i = 0; i < r->n_holders; i++) {
		const struct raft__holder *h = &r->holders[i];
		if (h->id != to || h->until <= r->now)
			continue;
		g->duration = r->cfg.follower_lease;
		g->stamp = h->stamp;
		/* Everything visible now: the holder's reads wait for it, which
		 * covers what became visible while the leader did not wait. */
		g->commit = r->commit;
	}
}

void raft__fl_on_grant(struct raft *r, raft_id from, const struct raft_lease_grant *g)
{
	if (!on(r) || g->duration == 0 || r->role != RAFT_FOLLOWER || r->leader != from)
		return;
	if (!r->clock_set || g->stamp > r->now)
		return; /* a stamp from our future: not ours */
	uint64_t hold = g->duration * 1000 / (1000 + r->cfg.clock_drift_permille);
	uint64_t until = g->stamp + hold;
	if (BROKEN(1))
		until = g->stamp + 3 * g->duration; /* stretched past the drift bound */
	if (BROKEN(2))
		until = r->now + hold; /* measured from receipt */
	if (r->fl_term != r->term || r->fl_leader != from) {
		r->fl_term = r->term;
		r->fl_leader = from;
		r->fl_until = 0;
		r->fl_commit = 0;
	}
	if (until > r->fl_until)
		r->fl_until = until;
	if (g->commit > r->fl_commit)
		r->fl_commit = g->commit;
}

void raft__fl_lead(struct raft *r)
{
	r->n_holders = 0;
	r->lead_wait_known = false;
	r->lead_wait_until = 0;
}

raft_index raft__fl_visible(struct raft *r, raft_index n)
{
	if (!on(r))
		return n;
	if (!BROKEN(4)) {
		if (!r->lead_wait_known) {
			if (!r->now_fresh)
				return r->commit; /* start counting at a time known fresh */
			r->lead_wait_known = true;
			r->lead_wait_until =
			        r->now + r->cfg.follower_lease *
			                         (1000 + (uint64_t)r->cfg.clock_drift_permille) / 1000;
		}
		/* An old r->now only makes the wait longer. */
		if (r->now < r->lead_wait_until)
			return r->commit;
	}
	if (BROKEN(3))
		return n;
	/* Rule 8: the leader is a holder of its own. */
	if (!BROKEN(7) && r->persisted < n)
		n = r->persisted;
	for (unsigned i = 0; i < r->n_holders; i++) {
		const struct raft__holder *h = &r->holders[i];
		if (h->until <= r->now)
			continue; /* ended: stop waiting for it (an old now waits longer) */
		raft_index m = raft__match_of(r, h->id); /* 0 for a removed server */
		if (m < n)
			n = m;
	}
	return n > r->commit ? n : r->commit;
}

bool raft_read_lease(const struct raft *r, raft_index *floor)
{
	if (r->failed || !r->now_fresh)
		return false;
	if (r->role == RAFT_LEADER) {
		if (!raft__lease_valid(r))
			return false;
		if (floor)
			*floor = r->commit;
		return true;
	}
	if (!on(r) || r->role != RAFT_FOLLOWER || r->fl_term != r->term || r->term == 0 ||
	    r->leader == RAFT_NONE || r->leader != r->fl_leader || r->now >= r->fl_until)
		return false;
	if (floor)
		*floor = r->fl_commit;
	return true;
}

uint64_t raft_read_lease_end(const struct raft *r)
{
	if (!raft_read_lease(r, NULL))
		return 0;
	return r->role == RAFT_LEADER ? raft__lease_end(r) : r->fl_until;
}
