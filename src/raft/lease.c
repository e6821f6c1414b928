/* lease.c: the leader's read lease (dissertation 6.4.1) and the vote lease that backs it. */
#include <stdbool.h>
#include <stdint.h>

#include "raft_int.h"

void raft_set_now(struct raft *r, uint64_t now)
{
	/* A monotonic clock: never let a smaller value shorten what is stamped. */
	if (now > r->now)
		r->now = now;
	r->now_fresh = now >= r->now;
	r->clock_set = true;
}

void raft__now_consumed(struct raft *r)
{
	r->now_fresh = false;
}

void raft__lease_stamp(struct raft *r, uint64_t first)
{
	if (r->cfg.lease_duration == 0 || !r->clock_set || first > r->seq)
		return; /* no lease, no time to stamp with, or nothing was sent */
	/* r->now is the last time set, so at most the real send time: a lease
	 * counted from it ends early, never late. */
	r->stamps[r->stamp_pos].seq = first;
	r->stamps[r->stamp_pos].time = r->now;
	r->stamp_pos = (r->stamp_pos + 1) % RAFT__STAMPS;
	if (r->n_stamps < RAFT__STAMPS)
		r->n_stamps++;
}

/* When the message of @seq was sent, at the latest: the stamp of the round
 * it belongs to. False if that round is older than the ring remembers. */
static bool sent_at(const struct raft *r, uint64_t seq, uint64_t *time)
{
	for (unsigned k = 0; k < r->n_stamps; k++) {
		unsigned i = (r->stamp_pos + RAFT__STAMPS - 1 - k) % RAFT__STAMPS;
		if (r->stamps[i].seq <= seq) {
			*time = r->stamps[i].time;
			return true;
		}
	}
	return false;
}

bool raft__lease_valid(const struct raft *r)
{
	return raft__lease_end(r) > r->now;
}

uint64_t raft__lease_end(const struct raft *r)
{
	if (r->cfg.lease_duration == 0 || !r->cfg.check_quorum || r->role != RAFT_LEADER ||
	    !r->committed_in_term || !r->now_fresh || r->transferred_in_term)
		return 0;
	uint64_t q = raft__quorum_seq(r);
	if (q == 0)
		return 0;
	if (q == UINT64_MAX)
		return UINT64_MAX; /* the only voter: no one else can lead */
	uint64_t t;
	if (!sent_at(r, q, &t))
		return 0;
	return t + r->cfg.lease_duration;
}

/*
 * Dissertation 4.2.3: a server that heard from a leader within the election
 * timeout ignores (pre)vote requests, so that a removed or partitioned server
 * cannot disrupt a healthy cluster; TimeoutNow campaigns override this. As in
 * etcd, the lease goes with CheckQuorum: without it a leader that lost its
 * majority would never step down, and its lease would never end.
 *
 * With the read lease on, a server also ignores them for an election timeout
 * after it starts: it may have echoed a leader's heartbeat just before it
 * crashed, and that leader still counts on it.
 */
bool raft__in_vote_lease(const struct raft *r)
{
	if (!r->cfg.check_quorum || r->election_elapsed >= r->cfg.election_ticks)
		return false;
	if (r->leader != RAFT_NONE)
		return true;
	return r->cfg.lease_duration != 0 && r->boot_ticks < r->cfg.election_ticks;
}
