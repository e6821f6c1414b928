/* test_leases.c: follower read leases on the simulator's drifting clocks: a new leader's wait, a cut-off holder's cost. */

/*
 * Stays in C, like the leader-lease scenarios of test_scenarios.c: the
 * leases run on each node's own clock (0.8x to 1.25x of real time), which a
 * stepped trace does not have. Built twice: against the core (every case
 * must pass) and, as sim-lease-broken-new-leader, against the core whose
 * new leader does not wait out the old leases (RAFT_BROKEN_LEASE, variant
 * 4), where the first case must fail: the random runs rarely keep an old
 * lease alive long enough to meet a new leader's first writes, this one does.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "sim.h"

#ifdef RAFT_BROKEN_LEASE
extern int raft_broken_lease;
#endif

static raft_id wait_leader(struct sim_cluster *c, uint64_t ms)
{
	for (uint64_t t = 0; t < ms && sim_leader(c) == RAFT_NONE; t++)
		sim_run_until(c, NULL, NULL, 1);
	raft_id l = sim_leader(c);
	assert_true(l != RAFT_NONE);
	return l;
}

static struct sim_cluster *cluster(unsigned nodes, unsigned follower_permille, uint64_t seed)
{
	struct sim_opts o;
	sim_opts_default(&o);
	o.nodes = nodes;
	o.lease_permille = 600;
	o.follower_lease_permille = follower_permille;
	o.stop_on_violation = false;
	o.verbose = getenv("SIM_VERBOSE") != NULL;
	struct sim_cluster *c = sim_cluster_new(&o, seed);
	sim_cluster_bootstrap(c, nodes);
	return c;
}

/* Commits @k writes through @l and lets them reach every follower. A new
 * leader commits nothing for D and the drift margin after it won (rule 4). */
static void writes(struct sim_cluster *c, raft_id l, unsigned k)
{
	int64_t idx = 0;
	for (unsigned i = 0; i < k; i++) {
		idx = sim_propose(c, l);
		assert_true(idx > 0);
		sim_run_until(c, NULL, NULL, 5);
	}
	for (unsigned t = 0; t < 5000 && raft_commit_index(c->nodes[l].r) < (raft_index)idx; t++)
		sim_run_until(c, NULL, NULL, 1);
	assert_true(raft_commit_index(c->nodes[l].r) >= (raft_index)idx);
	sim_run_until(c, NULL, NULL, 50);
}

/* Waits until @f holds a lease (a local read is served). */
static void wait_lease(struct sim_cluster *c, raft_id f)
{
	unsigned k = 0;
	while (k++ < 200 && !sim_lease_read(c, f, 0))
		sim_run_until(c, NULL, NULL, 5);
	assert_true(k <= 200);
}

struct wait_run {
	uint64_t old_reads;   /* local reads the cut-off holder served after the cut */
	uint64_t new_commits; /* writes the new leader committed meanwhile */
	unsigned violations;
};

/*
 * Rule 4: five nodes; the leader L and one holder F are cut off from the
 * other three, which elect a new leader and write every key. F keeps
 * serving local reads while its lease lasts, which must end (in real time)
 * before the new leader makes any write visible. The worst drift: F's clock
 * slow (its lease lasts longest), the majority's fast (they elect and count
 * their wait soonest). D is three election timeouts, so that F's lease
 * outlives the election.
 */
static struct wait_run new_leader_waits(uint64_t seed, bool mixed)
{
	struct sim_cluster *c = cluster(5, 3000, seed);
	raft_id l = wait_leader(c, 5000);
	writes(c, l, 8);
	raft_id f = l % 5 + 1;
	/* Mixed: the three that will elect the new leader run without follower
	 * leases (an older daemon, or follower-lease-ms = 0), restarted so. */
	for (raft_id id = 1; mixed && id <= 5; id++) {
		if (id == l || id == f)
			continue;
		struct sim_node *n = &c->nodes[id];
		n->cfg = sim_node_config(c, id);
		n->cfg.follower_lease = 0;
		n->cfg_fixed = true;
		sim_node_crash(c, id);
		sim_node_restart(c, id);
	}
	if (mixed)
		sim_run_until(c, NULL, NULL, 500);
	for (raft_id id = 1; id <= 5; id++)
		c->nodes[id].tick_ms = id == f ? c->o.tick_ms * 5 / 4
		                               : id == l ? c->o.tick_ms : c->o.tick_ms * 8 / 10;
	/* F must hold a lease now, renewed on its slow clock. */
	sim_run_until(c, NULL, NULL, 60);
	if (mixed)
		sim_run_until(c, NULL, NULL, 500); /* time enough for any grant */
	else
		wait_lease(c, f);
	struct wait_run out = {0};
	uint64_t before = c->n_lease_reads_ok;
	for (raft_id a = 1; a <= 5; a++)
		for (raft_id b = 1; b <= 5; b++)
			if ((a == l || a == f) != (b == l || b == f))
				sim_net_cut(c, a, b);
	raft_index base = 0;
	for (unsigned i = 0; i < 600; i++) {
		sim_lease_read(c, f, i % SIM_LEASE_KEYS);
		raft_id l2 = sim_leader(c);
		if (l2 != RAFT_NONE && l2 != l && l2 != f) {
			if (!base)
				base = raft_commit_index(c->nodes[l2].r);
			sim_propose(c, l2);
		}
		sim_run_until(c, NULL, NULL, 1);
	}
	raft_id l2 = sim_leader(c);
	if (l2 != RAFT_NONE && l2 != l && l2 != f && base)
		out.new_commits = raft_commit_index(c->nodes[l2].r) - base;
	out.old_reads = c->n_lease_reads_ok - before;
	out.violations = c->n_violations;
	printf("cut-off holder n%" PRIu64 " served %" PRIu64
	       " local reads after the cut; the new leader committed %" PRIu64 " entries%s%s\n",
	       f, out.old_reads, out.new_commits, c->n_violations ? ": " : "",
	       c->n_violations ? c->violation : "");
	sim_cluster_free(c);
	return out;
}

static void old_leases_end_before_new_writes(void **state)
{
	(void)state;
	unsigned violations = 0;
	uint64_t old_reads = 0, commits = 0;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct wait_run r = new_leader_waits(seed, false);
		violations += r.violations;
		old_reads += r.old_reads;
		commits += r.new_commits;
	}
	assert_int_equal(violations, 0);
	assert_true(old_reads > 0); /* the lease was exercised after the cut ... */
	assert_true(commits > 0);   /* ... and the new leader wrote */
}

/*
 * The rolling-upgrade guard (docs/raft-core.md, rule 9): the same cut, in a cluster where the
 * three nodes that elect the new leader run without follower leases. They
 * never ask, so the old leader grants nothing, and the cut-off F serves no
 * local read: without the guard (broken variant 5) F holds a lease, the new
 * leader does not wait it out, and F's reads are caught as stale.
 */
static void mixed_cluster_grants_nothing(void **state)
{
	(void)state;
	unsigned violations = 0;
	uint64_t old_reads = 0, commits = 0;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct wait_run r = new_leader_waits(seed, true);
		violations += r.violations;
		old_reads += r.old_reads;
		commits += r.new_commits;
	}
	assert_int_equal(violations, 0);
	assert_true(commits > 0); /* the new leader wrote */
#ifndef RAFT_BROKEN_LEASE
	assert_int_equal(old_reads, 0); /* and no lease was granted */
#endif
}

/*
 * Rule 6: a holder cut off from the leader holds writes back until the
 * leader stops waiting for it, at most D after its last grant. Three nodes,
 * D = (election_ticks - 1) ticks: prints the longest a write took to commit
 * before and after the cut (simulated ms) and asserts the bound.
 */
static void cut_off_holder_costs_at_most_d(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(3, 1000, 7);
	raft_id l = wait_leader(c, 5000);
	writes(c, l, 8);
	raft_id f = l % 3 + 1;
	uint64_t d = c->nodes[l].cfg.follower_lease;
	wait_lease(c, f);
	uint64_t worst_before = 0, worst_after = 0;
	for (unsigned phase = 0; phase < 2; phase++) {
		if (phase == 1)
			sim_net_isolate(c, f);
		for (unsigned i = 0; i < 30; i++) {
			int64_t idx = sim_propose(c, l);
			assert_true(idx > 0);
			uint64_t t0 = c->now;
			while (raft_commit_index(c->nodes[l].r) < (raft_index)idx && c->now - t0 < 5000)
				sim_run_until(c, NULL, NULL, 1);
			uint64_t took = c->now - t0;
			if (phase == 0 && took > worst_before)
				worst_before = took;
			if (phase == 1 && took > worst_after)
				worst_after = took;
		}
	}
	printf("D = %" PRIu64 " ms of the leader's clock; longest commit: %" PRIu64
	       " ms with every holder up, %" PRIu64 " ms once one is cut off\n",
	       d, worst_before, worst_after);
	assert_int_equal(c->n_violations, 0);
	assert_true(worst_after > worst_before); /* the cut cost something ... */
	/* ... and at most D of the leader's clock (which may run at 0.8 of real
	 * time), plus a tick to notice and a round trip. */
	assert_true(worst_after <= d * 5 / 4 + c->o.tick_ms + 2 * c->o.net_max + 10);
	sim_cluster_free(c);
}

/*
 * A single voter with follower leases on: no one asks, so nothing is
 * granted, and its wait after winning (rule 4) must start and end on the
 * time its ticks give it, for it hears from no one else: its writes commit.
 * Against the core whose tick uses the time up before it counts (variant
 * 6) they never do: what a one-node cluster with follower-lease-ms set met
 * as EIO on every change.
 */
static void single_voter_commits(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(1, 3000, 11);
	raft_id l = wait_leader(c, 5000);
	writes(c, l, 3);
	if (c->n_violations)
		printf("violation: %s\n", c->violation);
	assert_int_equal(c->n_violations, 0);
	sim_cluster_free(c);
}

/*
 * The leader's kernel cache (sim_lease.c): it answers reads of every key
 * from its cache, then its disk stalls while the followers store and
 * acknowledge a new write. Two acknowledgements are a majority without the
 * leader's own, but the write must not become visible (and so complete)
 * before the leader has marked it, which it does only when its own disk
 * has it: until then the leader's cache still holds the old answer. Against
 * the core that counts only the majority (variant 7) the leader's cached
 * answer is caught as stale.
 */
static void leader_marks_before_visible(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(3, 3000, 21);
	raft_id l = wait_leader(c, 5000);
	writes(c, l, 8);
	for (unsigned k = 0; k < SIM_LEASE_KEYS; k++)
		assert_true(sim_lease_read(c, l, k));
	sim_run_until(c, NULL, NULL, 5);
	struct sim_node *ln = &c->nodes[l];
	ln->stall_until = c->now + 300;
	int64_t idx = sim_propose(c, l);
	assert_true(idx > 0);
	for (unsigned t = 0; t < 250; t++) {
		for (unsigned k = 0; k < SIM_LEASE_KEYS; k++)
			sim_lease_read(c, l, k);
		sim_run_until(c, NULL, NULL, 1);
	}
	for (unsigned t = 0; t < 2000 && raft_commit_index(ln->r) < (raft_index)idx; t++)
		sim_run_until(c, NULL, NULL, 1);
	printf("leader n%" PRIu64 ": write %" PRId64 " committed at %" PRIu64 "%s%s\n", l, idx,
	       (uint64_t)raft_commit_index(ln->r), c->n_violations ? "; " : "",
	       c->n_violations ? c->violation : "");
	assert_true(raft_commit_index(ln->r) >= (raft_index)idx);
	assert_int_equal(c->n_violations, 0);
	sim_cluster_free(c);
}

int main(void)
{
#ifdef RAFT_BROKEN_LEASE
	/* SIM_BROKEN_LEASE=5: the leader grants without every voter asking;
	 * 6: a tick uses up the time before it counts; 7: what the leader has
	 * not marked becomes visible. */
	const char *v = getenv("SIM_BROKEN_LEASE");
	raft_broken_lease = v ? atoi(v) : 4;
	const struct CMUnitTest tests[] = {
	        raft_broken_lease == 5   ? (struct CMUnitTest)cmocka_unit_test(mixed_cluster_grants_nothing)
	        : raft_broken_lease == 6 ? (struct CMUnitTest)cmocka_unit_test(single_voter_commits)
	        : raft_broken_lease == 7 ? (struct CMUnitTest)cmocka_unit_test(leader_marks_before_visible)
	                                 : (struct CMUnitTest)cmocka_unit_test(old_leases_end_before_new_writes),
	};
	(void)cut_off_holder_costs_at_most_d;
#else
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(old_leases_end_before_new_writes),
	        cmocka_unit_test(mixed_cluster_grants_nothing),
	        cmocka_unit_test(cut_off_holder_costs_at_most_d),
	        cmocka_unit_test(single_voter_commits),
	        cmocka_unit_test(leader_marks_before_visible),
	};
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}
