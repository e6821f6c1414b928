/* harness.c: 1-5 raft cores driven by hand, on the simulator's one ready loop (tests/sim). */
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

/* What the tests read of each batch, besides what the simulator keeps. */
static void on_ready(struct sim_cluster *s, struct sim_node *sn, const struct raft_ready *rd,
                     void *arg)
{
	(void)s;
	struct h_cluster *c = arg;
	struct h_node *n = &c->n[sn->id];
	n->last_batch = rd->id;
	for (unsigned i = 0; i < rd->n_msgs; i++) {
		const struct raft_message *m = &rd->msgs[i];
		if (m->type == RAFT_MSG_APPEND_RESP)
			n->n_append_resp_in_msgs++;
		if ((m->type == RAFT_MSG_VOTE && !m->vote.pre_vote) ||
		    (m->type == RAFT_MSG_VOTE_RESP && !m->vote_resp.pre_vote &&
		     m->vote_resp.granted))
			n->n_vote_in_msgs++;
	}
	for (unsigned i = 0; i < rd->n_committed; i++)
		if (rd->committed[i].index < H_MAX_LOG)
			n->applied_types[rd->committed[i].index] = rd->committed[i].type;
	for (unsigned i = 0; i < rd->n_reads && n->n_reads < 64; i++)
		n->reads[n->n_reads++] = rd->reads[i];
	if (rd->snapshot_install) {
		n->installed = true;
		n->keep_log = rd->snapshot_keep_log;
		n->installed_index = rd->snapshot_install->index;
	}
}

/* Refreshes the copies the tests read, and fails on any violation. */
static void sync_view(struct h_cluster *c)
{
	struct sim_cluster *s = c->sim;
	if (s->n_violations)
		fail_msg("the simulator's checks: %s", s->violation);
	c->q = s->mail;
	c->nq = s->n_mail;
	for (unsigned i = 1; i <= c->count; i++) {
		c->n[i].hs = s->nodes[i].disk.hs;
		c->n[i].applied = s->nodes[i].sm.applied;
	}
}

void h_init_cfg(struct h_cluster *c, unsigned count, unsigned voters,
                void (*tweak)(struct raft_config *cfg))
{
	memset(c, 0, sizeof(*c));
	c->count = count;
	struct sim_opts o;
	sim_opts_default(&o);
	o.nodes = count;
	o.stepped = true;
	o.repeated_payloads = true; /* the tests propose "x" many times */
	o.snap_every = (raft_index)-1;
	o.stop_on_violation = false;
	c->sim = sim_cluster_new(&o, 1);
	c->sim->on_ready = on_ready;
	c->sim->on_ready_arg = c;
	struct raft_conf conf = {0};
	for (unsigned i = 1; i <= voters; i++) {
		conf.servers[conf.n].id = i;
		conf.servers[conf.n].role = RAFT_VOTER;
		snprintf(conf.servers[conf.n].address, RAFT_ADDRESS_MAX, "127.0.0.1:%u", 7000 + i);
		conf.n++;
	}
	for (unsigned i = 1; i <= count; i++) {
		struct raft_config cfg = h_config(i);
		if (tweak)
			tweak(&cfg);
		struct sim_node *sn = sim_node_create(c->sim, i, &cfg);
		assert_non_null(sn);
		c->n[i].r = sn->r;
		c->n[i].up = true;
		if (i <= voters)
			assert_int_equal(raft_bootstrap(sn->r, &conf), 0);
	}
	sync_view(c);
}

void h_init(struct h_cluster *c, unsigned count, unsigned voters)
{
	h_init_cfg(c, count, voters, NULL);
}

void h_clear_net(struct h_cluster *c)
{
	sim_mail_clear(c->sim);
	sync_view(c);
}

void h_free(struct h_cluster *c)
{
	sync_view(c);
	sim_cluster_free(c->sim);
	c->sim = NULL;
}

bool h_ready(struct h_cluster *c, raft_id id)
{
	struct sim_node *sn = &c->sim->nodes[id];
	bool any = sim_node_ready_one(c->sim, sn);
	if (any && !c->n[id].hold_persist)
		sim_node_persist(c->sim, sn);
	sync_view(c);
	return any;
}

void h_persist(struct h_cluster *c, raft_id id)
{
	sim_node_persist(c->sim, &c->sim->nodes[id]);
	sync_view(c);
}

void h_snapshot(struct h_cluster *c, raft_id id)
{
	sim_node_maybe_snapshot(c->sim, &c->sim->nodes[id], true);
	sync_view(c);
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

/* Delivers (or drops) mailbox message @i, which leaves the mailbox. */
static int deliver_at(struct h_cluster *c, size_t i)
{
	if (blocked(c, &c->sim->mail[i].m)) {
		sim_mail_drop(c->sim, i);
		return 0;
	}
	c->delivered[c->sim->mail[i].m.type]++;
	return sim_mail_deliver(c->sim, i, NULL);
}

int h_deliver_one(struct h_cluster *c, struct sim_mail *m)
{
	int rv = deliver_at(c, (size_t)(m - c->sim->mail));
	sync_view(c);
	return rv;
}

size_t h_deliver(struct h_cluster *c)
{
	/* raft_step() sends nothing itself: what arrives now was queued before */
	size_t n = c->sim->n_mail;
	for (size_t k = 0; k < n; k++)
		deliver_at(c, 0);
	sync_view(c);
	return n;
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
	for (size_t i = 0; i < c->sim->n_mail; i++) {
		const struct raft_message *m = &c->sim->mail[i].m;
		if ((type == 0 || m->type == type) && (from == 0 || m->from == from) &&
		    (to == 0 || m->to == to))
			k++;
	}
	return k;
}

struct sim_mail *h_find(struct h_cluster *c, int type, raft_id from, raft_id to)
{
	for (size_t i = 0; i < c->sim->n_mail; i++) {
		const struct raft_message *m = &c->sim->mail[i].m;
		if ((type == 0 || m->type == type) && (from == 0 || m->from == from) &&
		    (to == 0 || m->to == to))
			return &c->sim->mail[i];
	}
	return NULL;
}

void h_remove(struct h_cluster *c, size_t i)
{
	sim_mail_drop(c->sim, i);
	sync_view(c);
}
