/* sim_workload.c: what random runs do to the cluster: proposals, reads, faults, membership. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* A random node that exists and is up (RAFT_NONE if none). */
/* A stopped process takes no calls. */
static bool running(struct sim_cluster *c, raft_id id)
{
	return id && c->nodes[id].up && c->now >= c->nodes[id].paused_until;
}

static raft_id running_leader(struct sim_cluster *c)
{
	raft_id l = sim_leader(c);
	return running(c, l) ? l : RAFT_NONE;
}

static raft_id random_up(struct sim_cluster *c)
{
	raft_id ids[SIM_MAX_NODES];
	unsigned k = 0;
	for (raft_id id = 1; id <= c->n_ids; id++)
		if (running(c, id))
			ids[k++] = id;
	return k ? ids[sim_rng_below(&c->rng, k)] : RAFT_NONE;
}

static raft_id random_down(struct sim_cluster *c)
{
	raft_id ids[SIM_MAX_NODES];
	unsigned k = 0;
	for (raft_id id = 1; id <= c->n_ids; id++)
		if (c->nodes[id].exists && !c->nodes[id].up)
			ids[k++] = id;
	return k ? ids[sim_rng_below(&c->rng, k)] : RAFT_NONE;
}

/* The leader with probability @p_leader/1000 (if there is one), else anyone. */
static raft_id pick(struct sim_cluster *c, unsigned p_leader)
{
	raft_id l = running_leader(c);
	if (l && sim_rng_permille(&c->rng, p_leader))
		return l;
	return random_up(c);
}

void sim_work_event(struct sim_cluster *c)
{
	unsigned roll = (unsigned)sim_rng_below(&c->rng, 1000);
	if (c->in_final) {
		raft_id l = running_leader(c);
		if (l && roll < 300)
			sim_propose(c, l);
		else if (roll < 400 && (l = random_up(c)))
			sim_read(c, l);
	} else if (roll < 550) {
		raft_id id = pick(c, 900);
		unsigned burst =
		        sim_rng_permille(&c->rng, 150) ? (unsigned)sim_rng_range(&c->rng, 2, 6) : 1;
		for (unsigned i = 0; id && i < burst && c->nodes[id].up; i++)
			sim_propose(c, id);
	} else if (roll < 800) {
		raft_id id = random_up(c);
		if (id)
			sim_read(c, id);
	} else if (roll < 950 && c->o.follower_lease_permille) {
		/* a local read under a lease, on any node (no draw when off, so
		 * seeds without follower leases replay as before) */
		raft_id id = random_up(c);
		if (id)
			sim_lease_read(c, id, (unsigned)sim_rng_below(&c->rng, SIM_LEASE_KEYS));
	}
	sim_schedule(c, c->now + sim_rng_range(&c->rng, 3, 25), SIM_EV_WORK, 0, 0, NULL);
}

static void change(struct sim_cluster *c)
{
	raft_id l = running_leader(c);
	if (!l)
		return;
	struct raft *r = c->nodes[l].r;
	const struct raft_conf *conf = raft_configuration(r);
	unsigned voters = raft_conf_voters(conf);
	raft_id learners[RAFT_MAX_SERVERS], vs[RAFT_MAX_SERVERS];
	unsigned nl = 0, nv = 0;
	for (unsigned i = 0; i < conf->n; i++) {
		if (conf->servers[i].role == RAFT_LEARNER)
			learners[nl++] = conf->servers[i].id;
		else
			vs[nv++] = conf->servers[i].id;
	}
	unsigned roll = (unsigned)sim_rng_below(&c->rng, 1000);
	int64_t rv = 0;
	const char *what = NULL;
	raft_id target = 0;
	if (nl && roll < 450) {
		target = learners[sim_rng_below(&c->rng, nl)];
		what = "promote";
		SIM_CORE_BEGIN();
		rv = raft_change(r, RAFT_PROMOTE, target, NULL);
		SIM_CORE_END();
	} else if (roll < 650 && c->n_ids < SIM_MAX_NODES) {
		target = c->n_ids + 1;
		char addr[32];
		snprintf(addr, sizeof(addr), "sim://%" PRIu64, target);
		what = "add learner";
		SIM_CORE_BEGIN();
		rv = raft_change(r, RAFT_ADD_LEARNER, target, addr);
		SIM_CORE_END();
		if (rv > 0)
			sim_node_start_empty(c, target);
	} else if (roll < 900 && voters > 3) {
		/* sometimes the leader itself (dissertation 4.2.2) */
		target = sim_rng_permille(&c->rng, 300) ? l : vs[sim_rng_below(&c->rng, nv)];
		what = "remove voter";
		SIM_CORE_BEGIN();
		rv = raft_change(r, RAFT_REMOVE, target, NULL);
		SIM_CORE_END();
	} else if (nl) {
		target = learners[sim_rng_below(&c->rng, nl)];
		what = "remove learner";
		SIM_CORE_BEGIN();
		rv = raft_change(r, RAFT_REMOVE, target, NULL);
		SIM_CORE_END();
	}
	if (!what)
		return;
	if (rv > 0)
		c->n_changes++;
	sim_trace(c, "n%" PRIu64 " change: %s n%" PRIu64 " = %" PRId64 " %s", l, what, target, rv,
	          rv > 0 ? "" : raft_strerror((int)rv));
	if (c->nodes[l].up)
		sim_node_ready(c, &c->nodes[l]);
}

/* Calls that must fail: membership changes and transfers on a follower, on
 * ids that are not (or already are) members; and the leader's view of its
 * followers' progress, which must not run ahead of their disks. */
static void misuse(struct sim_cluster *c)
{
	raft_id id = random_up(c);
	if (!id)
		return;
	struct raft *r = c->nodes[id].r;
	bool leader = raft_role(r) == RAFT_LEADER;
	raft_id target = (raft_id)sim_rng_below(&c->rng, SIM_MAX_NODES + 3);
	enum raft_change_kind kind = (enum raft_change_kind)sim_rng_range(&c->rng, 1, 3);
	const struct raft_conf *conf = raft_configuration(r);
	const struct raft_server *s = target ? raft_conf_get(conf, target) : NULL;
	int64_t rv = 0;
	if (!leader) {
		SIM_CORE_BEGIN();
		rv = raft_change(r, kind, target ? target : 1, "sim://x");
		SIM_CORE_END();
		if (rv > 0)
			sim_violation(c, "API contract",
			              "n%" PRIu64 " (%s) accepted a membership change", id,
			              raft_role_name(raft_role(r)));
	} else if (kind == RAFT_ADD_LEARNER && s) {
		SIM_CORE_BEGIN();
		rv = raft_change(r, kind, target, "sim://x");
		SIM_CORE_END();
		if (rv > 0)
			sim_violation(c, "API contract",
			              "leader n%" PRIu64 " adds n%" PRIu64
			              " which is already a member",
			              id, target);
	} else if (kind != RAFT_ADD_LEARNER && !s) {
		SIM_CORE_BEGIN();
		rv = raft_change(r, kind, target, NULL);
		SIM_CORE_END();
		if (rv > 0)
			sim_violation(c, "API contract",
			              "leader n%" PRIu64 " changes n%" PRIu64
			              " which is not a member",
			              id, target);
	}
	if (leader) {
		for (unsigned i = 0; i < conf->n && !c->n_violations; i++) {
			struct raft_progress_info pi;
			raft_id f = conf->servers[i].id;
			if (raft_progress(r, f, &pi) != 0 || f == id || f > SIM_MAX_NODES)
				continue;
			const struct sim_node *fn = &c->nodes[f];
			if (pi.match > raft_last_index(r) ||
			    (fn->up && raft_current_term(fn->r) == raft_current_term(r) &&
			     pi.match > sim_disk_last(&fn->disk)))
				sim_violation(c, "progress",
				              "leader n%" PRIu64 " believes n%" PRIu64
				              " matches up to %" PRIu64
				              " but its disk ends at %" PRIu64,
				              id, f, pi.match, sim_disk_last(&fn->disk));
		}
	}
	sim_node_ready(c, &c->nodes[id]);
}

static unsigned random_mask(struct sim_cluster *c)
{
	unsigned m = 0;
	for (raft_id id = 1; id <= c->n_ids; id++)
		if (sim_rng_permille(&c->rng, 500))
			m |= 1u << id;
	return m;
}

void sim_chaos_event(struct sim_cluster *c)
{
	if (c->in_final)
		return;
	unsigned roll = (unsigned)sim_rng_below(&c->rng, 1000);
	raft_id id;
	if (roll < 130) {
		id = pick(c, 500);
		if (id) {
			sim_node_crash(c, id);
			sim_schedule(c, c->now + sim_rng_range(&c->rng, 20, 600), SIM_EV_RESTART,
			             id, c->nodes[id].gen, NULL);
		}
	} else if (roll < 200) {
		if ((id = random_down(c)))
			sim_node_restart(c, id);
	} else if (roll < 280) {
		sim_net_split(c, random_mask(c));
	} else if (roll < 340) {
		raft_id a = random_up(c), b = random_up(c);
		if (a && b && a != b)
			sim_net_cut(c, a, b);
	} else if (roll < 390) {
		if ((id = random_up(c)))
			sim_net_bridge(c, random_mask(c), id);
	} else if (roll < 500) {
		sim_net_heal(c);
	} else if (roll < 570) {
		id = pick(c, 500);
		if (id)
			sim_node_set_stall(c, id, c->now + sim_rng_range(&c->rng, 10, 300));
	} else if (roll < 650) {
		change(c);
	} else if (roll < 710) {
		raft_id l = running_leader(c);
		if (l) {
			raft_id to = sim_rng_permille(&c->rng, 300) ? RAFT_NONE : random_up(c);
			SIM_CORE_BEGIN();
			int rv = raft_transfer(c->nodes[l].r, to == l ? RAFT_NONE : to);
			SIM_CORE_END();
			sim_trace(c, "n%" PRIu64 " transfer to n%" PRIu64 " = %d", l, to, rv);
			sim_node_ready(c, &c->nodes[l]);
		}
	} else if (roll < 760) {
		if ((id = random_up(c))) {
			sim_node_maybe_snapshot(c, &c->nodes[id], true);
			sim_node_ready(c, &c->nodes[id]);
		}
	} else if (roll < 810) {
		/* a stopped process (SIGSTOP, a long GC): often the leader */
		id = pick(c, 600);
		if (id) {
			c->nodes[id].paused_until = c->now + sim_rng_range(&c->rng, 50, 800);
			sim_trace(c, "n%" PRIu64 " pauses until t=%" PRIu64, id,
			          c->nodes[id].paused_until);
		}
	} else if (roll < 838) {
		/* a disk dies under a node (often the leader); a restart repairs it */
		id = pick(c, 500);
		if (id) {
			sim_node_fail(c, id);
			sim_schedule(c, c->now + sim_rng_range(&c->rng, 100, 800), SIM_EV_CRASH, id,
			             c->nodes[id].gen, NULL);
		}
	} else if (roll < 890) {
		misuse(c);
	} else if (roll < 910) {
		c->drop_permille = (unsigned)sim_rng_below(&c->rng, 250);
		sim_trace(c, "net: drop %u/1000", c->drop_permille);
	}
	sim_schedule(c, c->now + sim_rng_range(&c->rng, 20, 80), SIM_EV_CHAOS, 0, 0, NULL);
}

void sim_chaos_new_leader(struct sim_cluster *c, raft_id id)
{
	struct sim_node *n = &c->nodes[id];
	unsigned roll = (unsigned)sim_rng_below(&c->rng, 1000);
	if (roll < 100) {
		/* its disk hangs, then it dies with what it had not written */
		uint64_t hang = sim_rng_range(&c->rng, 10, 60);
		sim_node_set_stall(c, id, c->now + hang);
		sim_schedule(c, c->now + sim_rng_range(&c->rng, 1, hang), SIM_EV_CRASH, id, n->gen,
		             NULL);
	} else if (roll < 250) {
		sim_node_set_stall(c, id, c->now + sim_rng_range(&c->rng, 5, 60));
	} else if (roll < 400) {
		sim_schedule(c, c->now + sim_rng_range(&c->rng, 1, 40), SIM_EV_CRASH, id, n->gen,
		             NULL);
		sim_trace(c, "n%" PRIu64 " will crash soon", id);
	}
}

void sim_final_begin(struct sim_cluster *c)
{
	c->in_final = true;
	c->final_start = c->now;
	sim_trace(c, "FINAL PHASE: faults stop");
	if (c->o.sim_bug != SIM_BUG_NO_HEAL)
		sim_net_heal(c);
	else
		sim_net_split(c, 1u << 1 | 1u << 2); /* a minority and a majority, for good */
	c->drop_permille = 0;
	c->dup_permille = 0;
	sim_oom.permille = 0; /* memory is back too */
	for (raft_id id = 1; id <= c->n_ids; id++) {
		struct sim_node *n = &c->nodes[id];
		if (!n->exists)
			continue;
		if (n->up && n->failed)
			sim_node_crash(c, id); /* replace the failed disk, keep its data */
		if (!n->up)
			sim_node_restart(c, id);
		else if (n->stall_until > c->now)
			sim_node_set_stall(c, id, 0);
		n->paused_until = 0;
	}
}
