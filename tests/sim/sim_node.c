/* sim_node.c: a simulated node's lifetime: start, tick, crash, restart, propose, read. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct raft_config sim_node_config(struct sim_cluster *c, raft_id id)
{
	struct sim_node *n = &c->nodes[id];
	struct raft_config cfg;
	/* each incarnation of each node gets its own seed, derived from the run's */
	raft_config_default(&cfg, id, sim_mix(c->seed * 131 + id * 7919 + n->gen));
	cfg.election_ticks = c->o.election_ticks;
	cfg.heartbeat_ticks = c->o.heartbeat_ticks;
	cfg.snapshot_chunk_bytes = c->o.snapshot_chunk_bytes;
	cfg.trailing_entries = c->o.trailing_entries;
	cfg.max_msg_bytes = c->o.max_msg_bytes;
	cfg.max_inflight_msgs = c->o.max_inflight_msgs;
	cfg.max_inflight_bytes = c->o.max_inflight_bytes
	                                 ? c->o.max_inflight_bytes
	                                 : c->o.max_msg_bytes * c->o.max_inflight_msgs * 2;
	cfg.promote_lag = c->o.promote_lag ? c->o.promote_lag : 8;
	cfg.pre_vote = !c->o.no_pre_vote;
	cfg.check_quorum = !c->o.no_check_quorum;
	/* Clocks drift by 0.8x to 1.25x (prepare()): a follower counts its
	 * election timeout in as little as 0.8 of the nominal time, and a
	 * leader's clock may run at 0.8 of real time, so a lease of 0.64 of
	 * (election_ticks - 1) ticks is the longest that is safe here. */
	if (c->o.lease_permille != ~0u)
		cfg.lease_duration = (uint64_t)(c->o.election_ticks - 1) * c->o.tick_ms *
		                     c->o.lease_permille / 1000;
	/* Follower leases rest on the leader's: the same drift, 0.8x to 1.25x,
	 * so one clock runs at most 1.5625 times as fast as another. */
	if (c->o.lease_permille != ~0u && c->o.follower_lease_permille &&
	    c->o.follower_lease_permille != ~0u) {
		cfg.follower_lease = (uint64_t)(c->o.election_ticks - 1) * c->o.tick_ms *
		                     c->o.follower_lease_permille / 1000;
		cfg.clock_drift_permille = 563;
	}
	return cfg;
}

static struct sim_node *prepare(struct sim_cluster *c, raft_id id)
{
	if (id == 0 || id > SIM_MAX_NODES) {
		sim_violation(c, "simulator", "node id %" PRIu64 " out of range", id);
		return NULL;
	}
	struct sim_node *n = &c->nodes[id];
	n->id = id;
	n->exists = true;
	if (id > c->n_ids)
		c->n_ids = (unsigned)id;
	if (!n->tick_ms) {
		n->tick_ms = c->o.tick_ms;
		/* clocks drift: safety must not depend on them */
		if (c->o.random_faults && sim_rng_permille(&c->rng, 500))
			n->tick_ms = (unsigned)sim_rng_range(&c->rng, c->o.tick_ms * 8 / 10,
			                                     c->o.tick_ms * 5 / 4);
	}
	if (!n->snap_every)
		n->snap_every = c->o.snap_every ? c->o.snap_every : sim_rng_range(&c->rng, 4, 40);
	n->gen++;
	if (!n->cfg_fixed)
		n->cfg = sim_node_config(c, id);
	int rv = raft_new(&n->cfg, &n->r);
	if (rv != 0) {
		sim_violation(c, "raft_new", "n%" PRIu64 ": raft_new = %d (%s)", id, rv,
		              raft_strerror(rv));
		return NULL;
	}
	n->up = true;
	n->last_rd_id = 0;
	n->seen_role = RAFT_FOLLOWER;
	n->seen_term = 0;
	n->seen_commit = 0;
	n->disk_free_at = c->now;
	/* ticks of different nodes interleave, with a random phase */
	uint64_t phase = 1 + sim_rng_below(&c->rng, c->o.tick_ms);
	if (!c->o.stepped)
		sim_schedule(c, c->now + phase, SIM_EV_TICK, id, n->gen, NULL);
	return n;
}

struct sim_node *sim_node_create(struct sim_cluster *c, raft_id id, const struct raft_config *cfg)
{
	if (cfg && id && id <= SIM_MAX_NODES) {
		c->nodes[id].cfg = *cfg;
		c->nodes[id].cfg_fixed = true;
	}
	struct sim_node *n = prepare(c, id);
	if (n)
		n->last_hs = n->disk.hs;
	return n;
}

/* Makes everything pending durable at once (bootstrap is done before the
 * node joins the network). */
static void flush(struct sim_cluster *c, struct sim_node *n)
{
	for (struct sim_batch *b = n->pend; b; b = b->next)
		b->done_time = c->now;
	n->disk_free_at = c->now;
	sim_node_disk_event(c, n);
}

void sim_cluster_bootstrap(struct sim_cluster *c, unsigned count)
{
	struct raft_conf conf;
	memset(&conf, 0, sizeof(conf));
	for (unsigned i = 0; i < count; i++) {
		conf.servers[i].id = i + 1;
		conf.servers[i].role = RAFT_VOTER;
		snprintf(conf.servers[i].address, RAFT_ADDRESS_MAX, "sim://%u", i + 1);
	}
	conf.n = count;
	for (unsigned i = 1; i <= count; i++) {
		struct sim_node *n = prepare(c, i);
		if (!n)
			return;
		int rv = raft_bootstrap(n->r, &conf);
		if (rv != 0) {
			sim_violation(c, "raft_bootstrap", "n%u: %d (%s)", i, rv,
			              raft_strerror(rv));
			return;
		}
		sim_node_ready(c, n);
		flush(c, n);
	}
}

void sim_node_start_empty(struct sim_cluster *c, raft_id id)
{
	struct sim_node *n = prepare(c, id);
	if (n)
		sim_node_ready(c, n);
}

void sim_node_start_restored(struct sim_cluster *c, raft_id id, const struct raft_hard_state *hs,
                             const struct raft_entry *entries, unsigned count)
{
	struct sim_node *n = &c->nodes[id];
	struct sim_disk *d = &n->disk;
	d->hs = *hs;
	d->n = 0;
	if (count) {
		d->cap = count;
		d->log = sim_xrealloc(d->log, count * sizeof(*d->log));
		for (unsigned i = 0; i < count; i++) {
			d->log[i] = entries[i];
			d->log[i].data.base = sim_memdup(entries[i].data.base, entries[i].data.len);
			if (!d->log[i].data.base)
				d->log[i].data.len = 0;
		}
		d->n = count;
	}
	n->id = id;
	n->exists = true;
	n->up = false;
	sim_node_restart(c, id);
}

void sim_serve_push(struct sim_node *n, struct sim_snap s)
{
	raft_index in_use[SIM_SERVE_MAX];
	unsigned k = raft_snapshots_in_use(n->r, in_use, SIM_SERVE_MAX);
	struct sim_snap keep[SIM_SERVE_MAX] = {s};
	unsigned n_keep = 1;
	for (unsigned i = 0; i < SIM_SERVE_MAX; i++) {
		struct sim_snap *o = &n->serve[i];
		bool used = false;
		for (unsigned j = 0; j < k; j++)
			used = used || (o->bytes && in_use[j] == o->index && o->index != s.index);
		if (used && n_keep < SIM_SERVE_MAX)
			keep[n_keep++] = *o;
		else
			free(o->bytes);
	}
	memcpy(n->serve, keep, sizeof(keep));
}

void sim_node_now(struct sim_cluster *c, struct sim_node *n)
{
	if (c->o.stepped) {
		/* A stepped run has no real time: a node's clock is the ticks it
		 * counted, so a trace drifts clocks by ticking nodes unevenly. */
		if (c->o.lease_permille != ~0u)
			raft_set_now(n->r, n->ticks * c->o.tick_ms);
		return;
	}
	raft_set_now(n->r, c->now * c->o.tick_ms / n->tick_ms);
}

void sim_node_tick(struct sim_cluster *c, struct sim_node *n)
{
	if (!n->frozen) {
		sim_node_now(c, n); /* as the daemon does (src/node/driver.c) */
		SIM_CORE_BEGIN();
		raft_tick(n->r);
		SIM_CORE_END();
		sim_node_ready(c, n);
		sim_node_maybe_snapshot(c, n, false);
		sim_node_ready(c, n);
	}
	if (!c->o.stepped)
		sim_schedule(c, c->now + n->tick_ms, SIM_EV_TICK, n->id, n->gen, NULL);
}

void sim_node_crash(struct sim_cluster *c, raft_id id)
{
	struct sim_node *n = &c->nodes[id];
	if (!n->up)
		return;
	sim_trace(c, "n%" PRIu64 " CRASHES (%s, term %" PRIu64 ", disk last %" PRIu64 ")", id,
	          raft_role_name(raft_role(n->r)), raft_current_term(n->r),
	          sim_disk_last(&n->disk));
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
	n->gen++; /* its pending events die with it */
	while (n->pend) {
		struct sim_batch *b = n->pend;
		n->pend = b->next;
		sim_batch_free(b);
	}
	n->pend_tail = NULL;
	n->n_reads = 0;
	n->n_lreads = 0; /* reads in flight die with the process */
	memset(n->lcached, 0, sizeof(n->lcached)); /* and the kernel's cache */
	n->stall_until = 0;
	n->paused_until = 0;
	n->failed = false;
	for (int i = 0; i < SIM_SERVE_MAX; i++) {
		free(n->serve[i].bytes);
		n->serve[i] = (struct sim_snap){0};
	}
	sim_stage_free(&n->stage);
	if (c->o.sim_bug == SIM_BUG_LYING_DISK) {
		struct sim_disk *d = &n->disk;
		for (int k = 0;
		     k < 2 && d->n > 1 && (!d->has_snap || d->log[d->n - 1].index > d->snap.index);
		     k++)
			free(d->log[--d->n].data.base);
		d->hs.vote = RAFT_NONE;
		if (d->hs.commit > sim_disk_last(d))
			d->hs.commit = sim_disk_last(d);
	}
	c->n_crashes++;
}

void sim_node_restart(struct sim_cluster *c, raft_id id)
{
	struct sim_node *n = &c->nodes[id];
	if (n->up)
		return;
	struct sim_disk *d = &n->disk;
	n = prepare(c, id);
	if (!n)
		return;
	sim_sm_init(&n->sm);
	n->snap_index = 0;
	n->last_hs = d->hs;
	sim_stage_copy(&n->stage, &d->stage);
	size_t k = 0;
	if (d->has_snap) {
		if (sim_sm_decode(&n->sm, d->snap_bytes, d->snap.size) != 0) {
			sim_violation(c, "simulator", "n%" PRIu64 ": own snapshot does not decode",
			              id);
			return;
		}
		n->sm.conf = d->snap.conf;
		n->snap_index = d->snap.index;
		n->serve[0] = (struct sim_snap){.index = d->snap.index,
		                                .size = d->snap.size,
		                                .bytes = sim_memdup(d->snap_bytes, d->snap.size)};
		while (k < d->n && d->log[k].index <= d->snap.index)
			k++;
	}
	bool any = d->hs.term || d->n || d->has_snap;
	sim_trace(c,
	          "n%" PRIu64 " restarts: term %" PRIu64 " vote %" PRIu64 " commit %" PRIu64
	          ", snapshot %" PRIu64 ", log %" PRIu64 "..%" PRIu64,
	          id, d->hs.term, d->hs.vote, d->hs.commit, d->has_snap ? d->snap.index : 0,
	          k < d->n ? d->log[k].index : 0, sim_disk_last(d));
	if (any) {
		int rv = raft_restore(n->r, &d->hs, d->has_snap ? &d->snap : NULL, d->log + k,
		                      (unsigned)(d->n - k));
		if (rv != 0) {
			sim_violation(c, "raft_restore",
			              "n%" PRIu64 ": raft_restore of its durable state = %d (%s)",
			              id, rv, raft_strerror(rv));
			return;
		}
	}
	n->seen_term = raft_current_term(n->r);
	n->seen_commit = raft_commit_index(n->r);
	sim_node_ready(c, n);
}

void sim_node_set_stall(struct sim_cluster *c, raft_id id, uint64_t until)
{
	struct sim_node *n = &c->nodes[id];
	if (!n->up || n->failed)
		return; /* a failed disk stays failed until the node restarts */
	n->stall_until = until;
	sim_trace(c, "n%" PRIu64 " disk %s", id, until ? "stalls" : "resumes");
	if (until < UINT64_MAX / 2 && !c->o.stepped)
		sim_schedule(c, until > c->now ? until : c->now, SIM_EV_DISK, id, n->gen, NULL);
}

void sim_node_fail(struct sim_cluster *c, raft_id id)
{
	struct sim_node *n = &c->nodes[id];
	if (!n->up || n->failed)
		return;
	sim_trace(c, "n%" PRIu64 " DISK FAILS: raft_fail (%s, term %" PRIu64 ")", id,
	          raft_role_name(raft_role(n->r)), raft_current_term(n->r));
	n->failed = true;
	n->stall_until = UINT64_MAX; /* nothing more becomes durable */
	raft_fail(n->r);
	sim_node_ready(c, n);
}

int64_t sim_propose(struct sim_cluster *c, raft_id id)
{
	struct sim_node *n = &c->nodes[id];
	if (!n->up)
		return RAFT_ENOTLEADER;
	char buf[96];
	int len = snprintf(buf, sizeof(buf), "n%" PRIu64 "-p%" PRIu64 "-", id, ++n->n_proposed);
	unsigned pad = (unsigned)sim_rng_below(&c->rng, 24);
	for (unsigned i = 0; i < pad && len < (int)sizeof(buf); i++)
		buf[len++] = (char)('a' + sim_rng_below(&c->rng, 26));
	raft_term term = raft_current_term(n->r);
	SIM_CORE_BEGIN();
	int64_t idx = raft_propose(n->r, buf, (size_t)len);
	SIM_CORE_END();
	if (idx > 0 && raft_role(n->r) != RAFT_LEADER)
		sim_violation(c, "API contract",
		              "n%" PRIu64 " (%s) accepted a proposal at %" PRId64, id,
		              raft_role_name(raft_role(n->r)), idx);
	if (idx > 0) {
		struct raft_entry e = {.term = term,
		                       .index = (raft_index)idx,
		                       .type = RAFT_ENTRY_NORMAL,
		                       .data = {buf, (size_t)len}};
		sim_check_proposal(c, id, term, (raft_index)idx, sim_entry_hash(&e));
		sim_trace(c, "n%" PRIu64 " proposes %.*s at %" PRId64 "/t%" PRIu64, id, len, buf,
		          idx, term);
	}
	sim_node_ready(c, n);
	return idx;
}

int sim_read(struct sim_cluster *c, raft_id id)
{
	struct sim_node *n = &c->nodes[id];
	if (!n->up)
		return RAFT_ENOLEADER;
	/* the highest commit index any node has right now */
	raft_index seen = c->chk.max_commit_seen;
	for (raft_id j = 1; j <= c->n_ids; j++)
		if (c->nodes[j].up && raft_commit_index(c->nodes[j].r) > seen)
			seen = raft_commit_index(c->nodes[j].r);
	c->chk.max_commit_seen = seen;
	uint64_t ctx = ++n->next_ctx;
	SIM_CORE_BEGIN();
	sim_node_now(c, n);
	int rv = raft_read_index(n->r, ctx);
	SIM_CORE_END();
	if (rv == 0) {
		if (n->n_reads == n->cap_reads) {
			n->cap_reads = n->cap_reads ? n->cap_reads * 2 : 8;
			n->reads = sim_xrealloc(n->reads, n->cap_reads * sizeof(*n->reads));
		}
		if (n->n_reads < 64)
			n->reads[n->n_reads++] =
			        (struct sim_read){.ctx = ctx, .min_commit = seen, .step = c->step};
		sim_trace(c, "n%" PRIu64 " read ctx %" PRIu64 " (commit seen %" PRIu64 ")", id, ctx,
		          seen);
	}
	if (!c->o.stepped) /* a stepped driver takes the batch when it says */
		sim_node_ready(c, n);
	return rv;
}
