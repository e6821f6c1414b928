/* harness.c: a tiny in-test cluster of raft cores with a hand-driven message shuttle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

struct raft_config h_config(raft_id id)
{
	struct raft_config cfg;
	raft_config_default(&cfg, id, 1000 + id);
	cfg.election_ticks = 10;
	cfg.heartbeat_ticks = 2;
	return cfg;
}

void h_init_cfg(struct h_cluster *c, unsigned count, unsigned voters,
                void (*tweak)(struct raft_config *cfg))
{
	memset(c, 0, sizeof(*c));
	c->count = count;
	struct raft_conf conf = {0};
	for (unsigned i = 1; i <= voters; i++) {
		conf.servers[conf.n].id = i;
		conf.servers[conf.n].role = RAFT_VOTER;
		snprintf(conf.servers[conf.n].address, RAFT_ADDRESS_MAX, "127.0.0.1:%u", 7000 + i);
		conf.n++;
	}
	for (unsigned i = 1; i <= count; i++) {
		struct h_node *n = &c->n[i];
		struct raft_config cfg = h_config(i);
		if (tweak)
			tweak(&cfg);
		assert_int_equal(raft_new(&cfg, &n->r), 0);
		n->up = true;
		if (i <= voters)
			assert_int_equal(raft_bootstrap(n->r, &conf), 0);
	}
}

void h_init(struct h_cluster *c, unsigned count, unsigned voters)
{
	h_init_cfg(c, count, voters, NULL);
}

void h_msg_free(struct h_msg *m)
{
	if (m->entries) {
		for (unsigned i = 0; i < m->m.append.n_entries; i++)
			free(m->entries[i].data.base);
		free(m->entries);
	}
	free(m->chunk);
	free(m->conf);
	memset(m, 0, sizeof(*m));
}

void h_clear_net(struct h_cluster *c)
{
	for (size_t i = 0; i < c->nq; i++)
		h_msg_free(&c->q[i]);
	c->nq = 0;
}

void h_free(struct h_cluster *c)
{
	h_clear_net(c);
	free(c->q);
	for (unsigned i = 1; i <= c->count; i++)
		raft_free(c->n[i].r);
}

static void queue(struct h_cluster *c, raft_id from, const struct raft_message *m, bool after)
{
	if (c->nq == c->capq) {
		c->capq = c->capq ? c->capq * 2 : 64;
		c->q = realloc(c->q, c->capq * sizeof(*c->q));
		assert_non_null(c->q);
	}
	struct h_msg *h = &c->q[c->nq++];
	memset(h, 0, sizeof(*h));
	h->m = *m;
	h->after_persist = after;
	assert_int_equal(m->from, from);
	if (m->type == RAFT_MSG_APPEND && m->append.n_entries) {
		unsigned n = m->append.n_entries;
		h->entries = calloc(n, sizeof(*h->entries));
		for (unsigned i = 0; i < n; i++) {
			h->entries[i] = m->append.entries[i];
			size_t len = m->append.entries[i].data.len;
			h->entries[i].data.base = len ? malloc(len) : NULL;
			if (len)
				memcpy(h->entries[i].data.base, m->append.entries[i].data.base,
				       len);
		}
		h->m.append.entries = h->entries;
	}
	if (m->type == RAFT_MSG_SNAPSHOT) {
		struct h_node *src = &c->n[from];
		size_t len = m->snapshot.chunk.len;
		assert_null(m->snapshot.chunk.base);
		assert_true(m->snapshot.offset + len <= src->snap_size);
		h->chunk = malloc(len ? len : 1);
		memcpy(h->chunk, src->snap_data + m->snapshot.offset, len);
		h->m.snapshot.chunk.base = h->chunk;
		h->conf = malloc(m->snapshot.conf.len);
		memcpy(h->conf, m->snapshot.conf.base, m->snapshot.conf.len);
		h->m.snapshot.conf.base = h->conf;
	}
}

bool h_ready(struct h_cluster *c, raft_id id)
{
	struct h_node *n = &c->n[id];
	struct raft_ready rd;
	if (!raft_has_ready(n->r))
		return false;
	raft_ready(n->r, &rd);
	assert_true(rd.id == n->last_batch + 1);
	n->last_batch = rd.id;
	/* 1. persist */
	if (rd.hard_state_changed)
		n->hs = rd.hard_state;
	for (unsigned i = 0; i < rd.n_snapshot_chunks; i++) {
		const struct raft_snapshot_chunk *ch = &rd.snapshot_chunks[i];
		if (ch->offset == 0)
			n->staged_len = 0;
		assert_int_equal(ch->offset, n->staged_len);
		memcpy(n->staged + ch->offset, ch->data.base, ch->data.len);
		n->staged_len += ch->data.len;
	}
	if (rd.snapshot_install) {
		n->installed = true;
		n->keep_log = rd.snapshot_keep_log;
		n->installed_index = rd.snapshot_install->index;
		assert_int_equal(rd.snapshot_install->size, n->staged_len);
		memcpy(n->snap_data, n->staged, n->staged_len);
		n->snap_size = n->staged_len;
		n->applied = rd.snapshot_install->index;
		if (!rd.snapshot_keep_log)
			n->log_last = rd.snapshot_install->index;
	}
	for (unsigned i = 0; i < rd.n_entries; i++) {
		const struct raft_entry *e = &rd.entries[i];
		assert_true(e->index < H_MAX_LOG);
		if (i == 0)
			assert_true(e->index <= n->log_last + 1);
		n->log[e->index] = *e;
		n->log[e->index].data.base = NULL;
		n->log_last = e->index;
	}
	/* 2. send */
	for (unsigned i = 0; i < rd.n_msgs; i++) {
		const struct raft_message *m = &rd.msgs[i];
		if (m->type == RAFT_MSG_APPEND_RESP)
			n->n_append_resp_in_msgs++;
		if ((m->type == RAFT_MSG_VOTE && !m->vote.pre_vote) ||
		    (m->type == RAFT_MSG_VOTE_RESP && !m->vote_resp.pre_vote &&
		     m->vote_resp.granted))
			n->n_vote_in_msgs++;
		queue(c, id, m, false);
	}
	for (unsigned i = 0; i < rd.n_msgs_after_persist; i++)
		queue(c, id, &rd.msgs_after_persist[i], true);
	/* 3. apply */
	for (unsigned i = 0; i < rd.n_committed; i++) {
		const struct raft_entry *e = &rd.committed[i];
		assert_int_equal(e->index, n->applied + 1);
		assert_true(e->index <= n->log_last);
		n->applied = e->index;
		n->applied_types[e->index] = e->type;
	}
	for (unsigned i = 0; i < rd.n_reads && n->n_reads < 64; i++)
		n->reads[n->n_reads++] = rd.reads[i];
	raft_advance(n->r, &rd);
	/* 5. durable */
	if (!n->hold_persist)
		raft_persisted(n->r, rd.id);
	return true;
}

bool h_ready_all(struct h_cluster *c)
{
	bool any = false;
	for (unsigned i = 1; i <= c->count; i++)
		any |= h_ready(c, i);
	return any;
}

static bool blocked(struct h_cluster *c, const struct raft_message *m)
{
	if (m->to == 0 || m->to > c->count)
		return true;
	if (!c->n[m->from].up || !c->n[m->to].up)
		return true;
	if (c->cut[m->from][m->to])
		return true;
	return c->drop_type != 0 && m->type == c->drop_type;
}

int h_deliver_one(struct h_cluster *c, struct h_msg *m)
{
	if (blocked(c, &m->m))
		return 0;
	c->delivered[m->m.type]++;
	return raft_step(c->n[m->m.to].r, &m->m);
}

size_t h_deliver(struct h_cluster *c)
{
	struct h_msg *q = c->q;
	size_t nq = c->nq;
	c->q = NULL;
	c->nq = c->capq = 0;
	for (size_t i = 0; i < nq; i++) {
		h_deliver_one(c, &q[i]);
		h_msg_free(&q[i]);
	}
	free(q);
	return nq;
}

void h_settle(struct h_cluster *c)
{
	for (int round = 0; round < 1000; round++) {
		bool any = h_ready_all(c);
		if (h_deliver(c) == 0 && !any)
			return;
	}
	fail_msg("cluster did not settle");
}

void h_tick(struct h_cluster *c, raft_id id)
{
	if (c->n[id].up)
		raft_tick(c->n[id].r);
}

void h_tick_all(struct h_cluster *c, unsigned ticks)
{
	for (unsigned t = 0; t < ticks; t++) {
		for (unsigned i = 1; i <= c->count; i++)
			h_tick(c, i);
		h_settle(c);
	}
}

void h_elect(struct h_cluster *c, raft_id id)
{
	for (int i = 0; i < 100 && raft_role(c->n[id].r) == RAFT_FOLLOWER; i++)
		h_tick(c, id);
	h_settle(c);
	assert_int_equal(raft_role(c->n[id].r), RAFT_LEADER);
}

raft_id h_leader(struct h_cluster *c)
{
	raft_id leader = RAFT_NONE;
	raft_term term = 0;
	for (unsigned i = 1; i <= c->count; i++) {
		if (!c->n[i].up || raft_role(c->n[i].r) != RAFT_LEADER)
			continue;
		if (raft_current_term(c->n[i].r) >= term) {
			term = raft_current_term(c->n[i].r);
			leader = i;
		}
	}
	return leader;
}

void h_isolate(struct h_cluster *c, raft_id id, bool isolated)
{
	for (unsigned i = 1; i <= c->count; i++) {
		c->cut[id][i] = isolated;
		c->cut[i][id] = isolated;
	}
}

unsigned h_count(struct h_cluster *c, int type, raft_id from, raft_id to)
{
	unsigned k = 0;
	for (size_t i = 0; i < c->nq; i++) {
		const struct raft_message *m = &c->q[i].m;
		if ((type == 0 || m->type == type) && (from == 0 || m->from == from) &&
		    (to == 0 || m->to == to))
			k++;
	}
	return k;
}

struct h_msg *h_find(struct h_cluster *c, int type, raft_id from, raft_id to)
{
	for (size_t i = 0; i < c->nq; i++) {
		const struct raft_message *m = &c->q[i].m;
		if ((type == 0 || m->type == type) && (from == 0 || m->from == from) &&
		    (to == 0 || m->to == to))
			return &c->q[i];
	}
	return NULL;
}

void h_remove(struct h_cluster *c, size_t i)
{
	h_msg_free(&c->q[i]);
	memmove(&c->q[i], &c->q[i + 1], (c->nq - i - 1) * sizeof(*c->q));
	c->nq--;
}
