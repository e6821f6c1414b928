/* sim_cluster.c: the discrete-event loop of one simulated cluster, and one whole random run. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void sim_opts_default(struct sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->nodes = 3;
	o->steps = 10000;
	o->stop_on_violation = true;
	o->election_ticks = 10;
	o->heartbeat_ticks = 1;
	o->snapshot_chunk_bytes = 32;
	o->trailing_entries = 4;
	o->max_msg_bytes = 256;
	o->max_inflight_msgs = 4;
	o->tick_ms = 10;
	o->net_min = 1;
	o->net_max = 8;
	o->disk_min = 1;
	o->disk_max = 6;
	o->lease_permille = ~0u; /* scenarios freeze clocks: no boot vote lease */
}

void sim_opts_random(struct sim_opts *o, unsigned nodes, uint64_t steps)
{
	sim_opts_default(o);
	o->nodes = nodes;
	o->steps = steps;
	o->random_faults = o->random_work = o->final_phase = true;
	o->lease_permille = 0; /* chosen per seed */
	o->follower_lease_permille = ~0u;
	/* chosen per seed */
	o->heartbeat_ticks = 0;
	o->snapshot_chunk_bytes = 0;
	o->trailing_entries = 0;
	o->max_msg_bytes = 0;
	o->max_inflight_msgs = 0;
	o->net_max = 0;
	o->disk_max = 0;
}

struct sim_cluster *sim_cluster_new(const struct sim_opts *o, uint64_t seed)
{
	struct sim_cluster *c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->seed = seed;
	c->o = *o;
	sim_rng_seed(&c->rng, sim_mix(seed ^ 0x51u));
	struct sim_rng *g = &c->rng;
	/* what the options leave at 0 is chosen from the seed */
	/* drawn even when fixed, so that `--nodes K` with the K a seed drew
	 * replays that seed exactly */
	unsigned drawn = 3 + (unsigned)sim_rng_below(g, 5);
	if (!c->o.nodes)
		c->o.nodes = drawn;
	if (!c->o.election_ticks)
		c->o.election_ticks = 10;
	if (!c->o.heartbeat_ticks)
		c->o.heartbeat_ticks = sim_rng_permille(g, 500) ? 1 : 2;
	if (!c->o.snapshot_chunk_bytes)
		c->o.snapshot_chunk_bytes = sim_rng_range(g, 16, 64);
	if (!c->o.trailing_entries)
		c->o.trailing_entries = sim_rng_range(g, 1, 8);
	if (!c->o.max_msg_bytes)
		c->o.max_msg_bytes = sim_rng_permille(g, 500) ? sim_rng_range(g, 16, 64)
		                                              : sim_rng_range(g, 64, 1024);
	if (!c->o.max_inflight_msgs)
		c->o.max_inflight_msgs = (unsigned)sim_rng_range(g, 1, 8);
	if (c->o.random_faults) {
		/* a few seeds without PreVote or CheckQuorum: liveness may suffer
		 * under faults (the final phase has none), safety may not */
		c->o.no_pre_vote = sim_rng_permille(g, 100);
		c->o.no_check_quorum = sim_rng_permille(g, 100);
		c->o.election_ticks = (unsigned)sim_rng_range(g, 5, 15);
		c->o.promote_lag = sim_rng_range(g, 1, 20);
		/* sometimes a byte budget smaller than one entry: progress anyway */
		if (sim_rng_permille(g, 100))
			c->o.max_inflight_bytes = sim_rng_range(g, 1, 24);
		c->o.heartbeat_ticks = (unsigned)sim_rng_range(g, 1, 3);
	}
	if (c->o.extreme) {
		/* the smallest legal settings: one-byte chunks and messages, one
		 * message in flight, no trailing entries, elections every 3 ticks */
		c->o.snapshot_chunk_bytes = 1;
		c->o.max_msg_bytes = 1;
		c->o.max_inflight_msgs = 1;
		c->o.max_inflight_bytes = 1;
		c->o.trailing_entries = 0;
		c->o.election_ticks = 3;
		c->o.heartbeat_ticks = 1;
		c->o.promote_lag = 1;
	}
	if (!c->o.tick_ms)
		c->o.tick_ms = 10;
	if (!c->o.lease_permille)
		/* not drawn from c->rng, so that every seed replays as before */
		c->o.lease_permille = sim_mix(seed ^ 0x1ea5eu) % 4 ? 600 : ~0u;
	if (c->o.follower_lease_permille == ~0u)
		c->o.follower_lease_permille =
		        c->o.lease_permille != ~0u && sim_mix(seed ^ 0xf01eau) % 2 ? 1000 : 0;
	if (!c->o.net_max) {
		c->o.net_min = 1;
		c->o.net_max = (unsigned)sim_rng_range(g, 2, 12);
	}
	if (!c->o.disk_max) {
		c->o.disk_min = 1;
		c->o.disk_max = (unsigned)sim_rng_range(g, 1, 10);
	}
	if (c->o.random_faults) {
		c->drop_permille = (unsigned)sim_rng_below(g, 100);
		c->dup_permille = (unsigned)sim_rng_below(g, 30);
	}
	if (c->o.drop_permille)
		c->drop_permille = c->o.drop_permille == ~0u ? 0 : c->o.drop_permille;
	if (c->o.dup_permille)
		c->dup_permille = c->o.dup_permille == ~0u ? 0 : c->o.dup_permille;
	for (int a = 0; a <= SIM_MAX_NODES; a++)
		for (int b = 0; b <= SIM_MAX_NODES; b++)
			c->link[a][b] = true;
	sim_check_init(&c->chk);
	sim_oom.permille = c->o.oom_permille;
	sim_oom.armed = false;
	sim_oom.n_failed = 0;
	sim_rng_seed(&sim_oom.rng, sim_mix(seed ^ 0x00aull));
	return c;
}

void sim_cluster_free(struct sim_cluster *c)
{
	if (!c)
		return;
	for (raft_id id = 1; id <= SIM_MAX_NODES; id++) {
		struct sim_node *n = &c->nodes[id];
		if (n->up)
			sim_node_crash(c, id);
		sim_disk_free(&n->disk);
		sim_stage_free(&n->stage);
		free(n->reads);
		free(n->lreads);
	}
	sim_heap_free(&c->heap);
	sim_mail_clear(c);
	free(c->mail);
	sim_check_free(&c->chk);
	sim_oom.permille = 0;
	free(c);
}

void sim_schedule(struct sim_cluster *c, uint64_t at, uint8_t type, raft_id node, uint64_t gen,
                  struct raft_message *msg)
{
	struct sim_event e = {
	        .time = at, .seq = c->seq++, .type = type, .node = node, .gen = gen, .msg = msg};
	sim_heap_push(&c->heap, &e);
}

void sim_trace(struct sim_cluster *c, const char *fmt, ...)
{
	if (!c->o.verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	printf("[t=%6" PRIu64 " s=%6" PRIu64 "] ", c->now, c->step);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

void sim_violation(struct sim_cluster *c, const char *invariant, const char *fmt, ...)
{
	char detail[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (c->o.verbose)
		printf("[t=%6" PRIu64 " s=%6" PRIu64 "] VIOLATION %s: %s\n", c->now, c->step,
		       invariant, detail);
	if (c->n_violations++)
		return;
	c->violation_step = c->step;
	snprintf(c->violation, sizeof(c->violation),
	         "invariant \"%s\" broken at step %" PRIu64 " (t=%" PRIu64 " ms): %s", invariant,
	         c->step, c->now, detail);
}

uint64_t sim_digest(const struct sim_cluster *c)
{
	uint64_t h = sim_mix(c->step) ^ sim_mix(c->now + 1) ^ sim_mix(c->n_msgs + 2);
	for (raft_id id = 1; id <= c->n_ids; id++) {
		const struct sim_node *n = &c->nodes[id];
		uint64_t v[5] = {n->up, n->sm.applied, n->sm.chain, n->disk.hs.term,
		                 n->up ? raft_commit_index(n->r) : 0};
		h = sim_hash(v, sizeof(v), h);
	}
	return h;
}

raft_id sim_leader(const struct sim_cluster *c)
{
	raft_id best = RAFT_NONE;
	raft_term term = 0;
	for (raft_id id = 1; id <= c->n_ids; id++) {
		const struct sim_node *n = &c->nodes[id];
		if (n->up && raft_role(n->r) == RAFT_LEADER && raft_current_term(n->r) >= term) {
			best = id;
			term = raft_current_term(n->r);
		}
	}
	return best;
}

struct raft *sim_core(struct sim_cluster *c, raft_id id)
{
	return id && id <= SIM_MAX_NODES && c->nodes[id].up ? c->nodes[id].r : NULL;
}

bool sim_cluster_step(struct sim_cluster *c)
{
	struct sim_event ev;
	if (!sim_heap_pop(&c->heap, &ev))
		return false;
	if (ev.time > c->now)
		c->now = ev.time;
	c->step++;
	c->chk.applied_before_step = c->chk.max_applied;
	struct sim_node *n = ev.node <= SIM_MAX_NODES ? &c->nodes[ev.node] : NULL;
	if (n && n->up && c->now < n->paused_until &&
	    (ev.type == SIM_EV_TICK || ev.type == SIM_EV_DELIVER || ev.type == SIM_EV_DISK)) {
		/* a stopped process: what arrives waits in its socket buffer */
		ev.time = n->paused_until;
		ev.seq = c->seq++;
		sim_heap_push(&c->heap, &ev);
		return true;
	}
	switch (ev.type) {
	case SIM_EV_TICK:
		if (n->up && n->gen == ev.gen)
			sim_node_tick(c, n);
		break;
	case SIM_EV_DELIVER:
		sim_net_deliver(c, ev.msg);
		break;
	case SIM_EV_DISK:
		if (n->up && n->gen == ev.gen)
			sim_node_disk_event(c, n);
		break;
	case SIM_EV_RESTART:
		if (!n->up && n->gen == ev.gen)
			sim_node_restart(c, ev.node);
		break;
	case SIM_EV_CHAOS:
		sim_chaos_event(c);
		break;
	case SIM_EV_WORK:
		sim_work_event(c);
		break;
	case SIM_EV_CRASH:
		if (n->up && n->gen == ev.gen) {
			sim_node_crash(c, ev.node);
			sim_schedule(c, c->now + sim_rng_range(&c->rng, 20, 400), SIM_EV_RESTART,
			             ev.node, n->gen, NULL);
		}
		break;
	default:
		break;
	}
	c->new_leader = RAFT_NONE;
	sim_check_step(c);
	if (c->new_leader && c->o.random_faults && !c->in_final)
		sim_chaos_new_leader(c, c->new_leader);
	return true;
}

bool sim_run_until(struct sim_cluster *c, bool (*pred)(struct sim_cluster *, void *), void *arg,
                   uint64_t ms)
{
	uint64_t end = c->now + ms;
	if (pred && pred(c, arg))
		return true;
	while (c->heap.n && c->heap.ev[0].time <= end) {
		if (c->n_violations && c->o.stop_on_violation)
			return false;
		sim_cluster_step(c);
		if (pred && pred(c, arg))
			return true;
	}
	if (c->now < end)
		c->now = end;
	return false;
}

unsigned sim_run_random(struct sim_cluster *c)
{
	sim_trace(c,
	          "seed %" PRIu64 ": %u nodes, election %u, hb %u, prevote %d, checkquorum %d, "
	          "chunk %zu, trailing %" PRIu64
	          ", msg bytes %zu, inflight %u, net %u-%u ms, disk %u-%u ms, drop %u/1000, dup "
	          "%u/1000",
	          c->seed, c->o.nodes, c->o.election_ticks, c->o.heartbeat_ticks, !c->o.no_pre_vote,
	          !c->o.no_check_quorum, c->o.snapshot_chunk_bytes, c->o.trailing_entries,
	          c->o.max_msg_bytes, c->o.max_inflight_msgs, c->o.net_min, c->o.net_max,
	          c->o.disk_min, c->o.disk_max, c->drop_permille, c->dup_permille);
	sim_cluster_bootstrap(c, c->o.nodes);
	if (c->o.random_faults)
		sim_schedule(c, 50, SIM_EV_CHAOS, 0, 0, NULL);
	if (c->o.random_work)
		sim_schedule(c, 5, SIM_EV_WORK, 0, 0, NULL);
	while (c->step < c->o.steps && !c->n_violations && sim_cluster_step(c))
		;
	if (c->o.final_phase && !c->n_violations) {
		sim_final_begin(c);
		if (!c->o.random_work)
			sim_schedule(c, c->now + 5, SIM_EV_WORK, 0, 0, NULL);
		uint64_t bound = 200ull * c->o.election_ticks * c->o.tick_ms;
		uint64_t next_check = c->now;
		bool done = false;
		while (!c->n_violations && c->now < c->final_start + bound && sim_cluster_step(c)) {
			if (c->now >= next_check) {
				next_check = c->now + 20;
				if (sim_check_converged(c, false)) {
					done = true;
					break;
				}
			}
		}
		if (!done && !c->n_violations)
			sim_check_converged(c, true);
	}
	for (raft_id id = 1; id <= c->n_ids && !c->n_violations; id++)
		sim_check_scan(c, &c->nodes[id]);
	sim_trace(
	        c,
	        "end: %" PRIu64 " steps, %" PRIu64 " ms, %" PRIu64 " msgs, %" PRIu64
	        " elections, %" PRIu64 " crashes, %" PRIu64 " committed, %" PRIu64
	        " snapshot installs (%" PRIu64 " chunks), %" PRIu64 " changes, %" PRIu64
	        " reads, %" PRIu64 " proposals dropped by leader changes, %" PRIu64
	        " allocations failed, at most %u snapshot chunks and %u appends (inflight limit %u)"
	        " in flight to one node",
	        c->step, c->now, c->n_msgs, c->n_elections, c->n_crashes, c->n_committed,
	        c->n_snap_installs, c->n_chunks, c->n_changes, c->n_reads_ok, c->chk.n_dropped,
	        sim_oom.n_failed, c->max_chunks_in_flight, c->max_appends_in_flight,
	        c->o.max_inflight_msgs);
	return c->n_violations ? 1 : 0;
}
