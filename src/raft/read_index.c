/* read_index.c: linearizable reads without log writes (ReadIndex, dissertation 6.4). */
#include <errno.h>
#include <stdint.h>

#include "raft_int.h"

static void answer(struct raft *r, const struct raft__read *rd, raft_index index, int status)
{
	if (rd->from == RAFT_NONE) {
		struct raft_read_state *s = &r->ready_reads.v[r->ready_reads.n++];
		s->ctx = rd->ctx;
		s->index = index;
		s->status = status;
	} else {
		struct raft_message m = {
		        .type = RAFT_MSG_READ_INDEX_RESP, .to = rd->from, .term = r->term};
		m.read_index_resp.ctx = rd->ctx;
		m.read_index_resp.index = index;
		m.read_index_resp.status = status;
		raft__send(r, &m);
	}
}

/* Room to answer every pending read at once without failing. */
static int reserve_answers(struct raft *r, size_t extra)
{
	if (RAFT__RESERVE(r->ready_reads, r->reads.n + extra) != 0)
		return -ENOMEM;
	return raft__reserve_msgs(r, (unsigned)(r->reads.n + extra));
}

uint64_t raft__quorum_seq(const struct raft *r)
{
	const struct raft_conf *c = raft__conf(r);
	uint64_t acked[RAFT_MAX_SERVERS];
	unsigned n = 0;
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		if (s->role != RAFT_VOTER)
			continue;
		if (s->id == r->cfg.id) {
			acked[n++] = UINT64_MAX;
		} else {
			const struct raft__progress *pr = raft__progress((struct raft *)r, s->id);
			acked[n++] = pr ? pr->acked_seq : 0;
		}
	}
	if (n == 0)
		return 0;
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && acked[j - 1] < acked[j]; j--) {
			uint64_t t = acked[j];
			acked[j] = acked[j - 1];
			acked[j - 1] = t;
		}
	return acked[n / 2];
}

/*
 * Dissertation 6.4, step 3: "the leader ... sends a new round of heartbeats
 * to all other members; once it receives acknowledgments from a majority, it
 * knows it was still the leader when the read was registered." With the seq
 * echo: a read registered when the next seq to send was S is confirmed once
 * a majority of voters (the leader included) echoed a seq >= S.
 */
void raft__reads_confirm(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->reads.n == 0)
		return;
	uint64_t q = raft__quorum_seq(r);
	if (q == 0)
		return;
	if (reserve_answers(r, 0) != 0)
		return; /* try again at the next echo */
	size_t keep = 0;
	for (size_t i = 0; i < r->reads.n; i++) {
		struct raft__read *rd = &r->reads.v[i];
		if (rd->registered && rd->seq <= q)
			answer(r, rd, rd->index, 0);
		else
			r->reads.v[keep++] = *rd;
	}
	r->reads.n = keep;
}

/* Dissertation 6.4, steps 1-2: the read index is the commit index, once the
 * leader has committed an entry of its term (its no-op); before that it does
 * not know the latest commit index, so reads wait. */
void raft__reads_on_commit(struct raft *r)
{
	for (size_t i = 0; i < r->reads.n; i++) {
		struct raft__read *rd = &r->reads.v[i];
		if (!rd->registered) {
			rd->registered = true;
			rd->index = r->commit;
			rd->seq = r->seq + 1;
		}
	}
	raft__reads_confirm(r);
}

bool raft__reads_need_round(const struct raft *r)
{
	for (size_t i = 0; i < r->reads.n; i++)
		if (r->reads.v[i].registered && r->reads.v[i].seq > r->bcast_seq)
			return true;
	return false;
}

void raft__reads_fail(struct raft *r, int status)
{
	if (reserve_answers(r, 0) != 0) {
		r->reads.n = 0; /* the callers' timeouts cover them */
		return;
	}
	for (size_t i = 0; i < r->reads.n; i++)
		answer(r, &r->reads.v[i], 0,
		       r->reads.v[i].from == RAFT_NONE ? status : RAFT_ENOTLEADER);
	r->reads.n = 0;
}

static int leader_read(struct raft *r, uint64_t ctx, raft_id from)
{
	if (RAFT__RESERVE(r->reads, 1) != 0 || reserve_answers(r, 1) != 0)
		return -ENOMEM;
	struct raft__read *rd = &r->reads.v[r->reads.n++];
	rd->ctx = ctx;
	rd->from = from;
	rd->index = 0;
	rd->seq = 0;
	rd->registered = false;
	if (raft__lease_valid(r)) {
		/* Dissertation 6.4.1: under the lease no other leader can exist,
		 * so the commit index is the read index without a round. */
		r->reads.n--;
		answer(r, rd, r->commit, 0);
		return 0;
	}
	if (r->committed_in_term)
		raft__reads_on_commit(r); /* a single voter confirms at once */
	return 0;
}

int raft__read_local(struct raft *r, uint64_t ctx)
{
	if (r->role == RAFT_LEADER)
		return leader_read(r, ctx, RAFT_NONE);
	if (r->leader == RAFT_NONE)
		return RAFT_ENOLEADER;
	/* Dissertation 6.4: a follower asks the leader for the read index. */
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	struct raft_message m = {.type = RAFT_MSG_READ_INDEX, .to = r->leader, .term = r->term};
	m.read_index.ctx = ctx;
	raft__send(r, &m);
	return 0;
}

int raft__step_read_index(struct raft *r, const struct raft_message *m)
{
	if (r->role == RAFT_LEADER)
		return leader_read(r, m->read_index.ctx, m->from);
	if (raft__reserve_msgs(r, 1) != 0)
		return -ENOMEM;
	struct raft_message resp = {
	        .type = RAFT_MSG_READ_INDEX_RESP, .to = m->from, .term = r->term};
	resp.read_index_resp.ctx = m->read_index.ctx;
	resp.read_index_resp.status = RAFT_ENOTLEADER;
	raft__send(r, &resp);
	return 0;
}

int raft__step_read_index_resp(struct raft *r, const struct raft_message *m)
{
	if (RAFT__RESERVE(r->ready_reads, 1) != 0)
		return -ENOMEM;
	struct raft_read_state *s = &r->ready_reads.v[r->ready_reads.n++];
	s->ctx = m->read_index_resp.ctx;
	s->index = m->read_index_resp.index;
	s->status = m->read_index_resp.status;
	if (s->status != 0 && s->status != RAFT_ENOTLEADER)
		s->status = RAFT_ENOTLEADER;
	return 0;
}
