/* test_scenarios.c: the scenarios that stay in C, on the simulator's clock. */

/*
 * The named scenarios (the paper's Figures 7 and 8, PreVote, CheckQuorum,
 * membership, transfer, snapshots) are trace files now (tests/sim/testdata,
 * run by sim-trace). What stays here needs what a trace does not say: the
 * simulator's own clocks and random latencies over hundreds of rounds, and
 * bounds on counts rather than a sequence of messages.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static void no_violation(struct sim_cluster *c)
{
	if (c->n_violations)
		fail_msg("seed %" PRIu64 ": %s", c->seed, c->violation);
}

static bool has_leader(struct sim_cluster *c, void *arg)
{
	(void)arg;
	return sim_leader(c) != RAFT_NONE;
}

static raft_id wait_leader(struct sim_cluster *c, uint64_t ms)
{
	sim_run_until(c, has_leader, NULL, ms);
	no_violation(c);
	raft_id l = sim_leader(c);
	assert_true(l != RAFT_NONE);
	return l;
}

struct applied_arg {
	raft_id id;
	raft_index index;
};

static bool applied_at_least(struct sim_cluster *c, void *arg)
{
	const struct applied_arg *a = arg;
	return c->nodes[a->id].up && c->nodes[a->id].sm.applied >= a->index;
}

/* Proposes @k entries on @l and waits until @l applied them. */
static void propose_and_commit(struct sim_cluster *c, raft_id l, unsigned k)
{
	int64_t idx = 0;
	for (unsigned i = 0; i < k; i++) {
		idx = sim_propose(c, l);
		assert_true(idx > 0);
		sim_run_until(c, NULL, NULL, 2);
	}
	struct applied_arg a = {l, (raft_index)idx};
	assert_true(sim_run_until(c, applied_at_least, &a, 5000));
	no_violation(c);
}

/* A 3-node cluster with @o whose follower @f is down, silent for an election
 * timeout (so the leader @l no longer keeps entries for it:
 * raft_config.catch_up_entries), while @l commits 30 entries. */
static struct sim_cluster *lagging_follower(const struct sim_opts *o, uint64_t seed, raft_id *l,
                                            raft_id *f)
{
	struct sim_cluster *c = sim_cluster_new(o, seed);
	sim_cluster_bootstrap(c, 3);
	*l = wait_leader(c, 3000);
	*f = *l % 3 + 1;
	sim_node_crash(c, *f);
	sim_run_until(c, NULL, NULL, 2ull * c->o.election_ticks * c->o.tick_ms);
	propose_and_commit(c, *l, 30);
	return c;
}

/* Stays in C: a thousand rounds of writes on the simulator's clock, checked
 * by a bound on snapshot installs, not by the sequence of its ~90 chunks.
 * FINDINGS.md, F2: a transfer that takes longer than the leader needs to
 * take its next snapshots finishes on the snapshot it started with, and the
 * follower then goes on with entries, while writes never stop. Before the
 * fix every new snapshot restarted the transfer, and the follower never
 * caught up. */
static void snapshot_transfer_outlives_new_snapshots(void **state)
{
	(void)state;
	struct sim_opts o;
	sim_opts_default(&o);
	o.nodes = 3;
	o.verbose = getenv("SIM_VERBOSE") != NULL;
	o.snap_every = 4;
	o.trailing_entries = 1;
	o.snapshot_chunk_bytes = 2; /* 88 chunks for the 176-byte snapshot */
	raft_id l, f;
	struct sim_cluster *c = lagging_follower(&o, 2024, &l, &f);
	uint64_t installs = c->n_snap_installs;
	raft_index snaps_before = c->nodes[l].snap_index;
	sim_node_restart(c, f);
	/* A write every 10 ms: a snapshot every 40 ms, a transfer needs ~88
	 * round trips. */
	bool caught_up = false;
	for (unsigned i = 0; i < 1000 && !caught_up; i++) {
		if (sim_leader(c) == l)
			sim_propose(c, l);
		sim_run_until(c, NULL, NULL, 10);
		caught_up = c->nodes[f].sm.applied >= raft_commit_index(c->nodes[l].r) - 8 &&
		            c->n_snap_installs > installs;
	}
	no_violation(c);
	printf("follower caught up after %" PRIu64 " install(s) while the leader went from "
	       "snapshot %" PRIu64 " to %" PRIu64 "\n",
	       c->n_snap_installs - installs, snaps_before, c->nodes[l].snap_index);
	assert_true(caught_up);
	assert_true(c->nodes[l].snap_index > snaps_before + 8); /* many snapshots meanwhile */
	assert_true(c->n_snap_installs - installs <= 2);
	sim_cluster_free(c);
}

/* ------------------------------------------------------------------------ */
/* Read lease (dissertation 6.4.1)                                            */

struct lease_run {
	uint64_t served_alone;        /* reads the isolated leader answered */
	uint64_t first_new_commit_at; /* when another leader committed, 0: never */
	unsigned violations;
};

/* Stays in C: the lease runs on the simulator's drifting clocks (a stepped
 * trace has none), and the second case is teeth for the checker itself.
 * Isolates the leader of a 3-node cluster whose lease lasts @permille of
 * (election_ticks - 1) ticks, asks it for a read every 2 ms while the others
 * elect a leader and commit, and reports what the simulator saw. */
static struct lease_run isolated_leader_reads(unsigned permille, uint64_t seed)
{
	struct sim_opts o;
	sim_opts_default(&o);
	o.lease_permille = permille;
	o.verbose = getenv("SIM_VERBOSE") != NULL;
	o.stop_on_violation = false;
	struct sim_cluster *c = sim_cluster_new(&o, seed);
	sim_cluster_bootstrap(c, 3);
	raft_id l = wait_leader(c, 3000);
	propose_and_commit(c, l, 2);
	/* The worst drift the simulator allows: the leader's clock runs at 0.8
	 * of real time, the followers count ticks at 1.25 times the rate. */
	for (raft_id id = 1; id <= 3; id++)
		c->nodes[id].tick_ms = id == l ? c->o.tick_ms * 5 / 4 : c->o.tick_ms * 8 / 10;
	sim_run_until(c, NULL, NULL, 50);
	struct lease_run out = {0};
	uint64_t before = c->n_reads_ok;
	sim_net_isolate(c, l);
	for (unsigned i = 0; i < 400; i++) {
		sim_read(c, l);
		sim_run_until(c, NULL, NULL, 2);
		raft_id l2 = sim_leader(c);
		if (l2 != RAFT_NONE && l2 != l && out.first_new_commit_at == 0 &&
		    raft_commit_index(c->nodes[l2].r) > raft_commit_index(c->nodes[l].r)) {
			out.first_new_commit_at = c->now;
			sim_propose(c, l2); /* and keep the others moving */
		}
	}
	out.served_alone = c->n_reads_ok - before;
	out.violations = c->n_violations;
	if (c->n_violations)
		printf("lease %u permille: %s\n", permille, c->violation);
	sim_cluster_free(c);
	return out;
}

/* The isolated leader serves reads from its lease for a while, then stops;
 * the others elect a leader and commit; no read is stale. */
static void lease_ends_before_new_leader(void **state)
{
	(void)state;
	struct lease_run r = isolated_leader_reads(600, 71);
	printf("isolated leader served %" PRIu64
	       " reads by its lease; others committed at t=%" PRIu64 " ms\n",
	       r.served_alone, r.first_new_commit_at);
	assert_int_equal(r.violations, 0);
	assert_true(r.served_alone > 0);
	assert_true(r.first_new_commit_at > 0);
}

/* Teeth: a lease three times longer than the followers' vote lease lets the
 * isolated leader answer reads after another leader committed: caught. */
static void lease_too_long_is_caught(void **state)
{
	(void)state;
	struct lease_run r = isolated_leader_reads(3000, 71);
	assert_true(r.first_new_commit_at > 0);
	assert_true(r.violations > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(snapshot_transfer_outlives_new_snapshots),
	        cmocka_unit_test(lease_ends_before_new_leader),
	        cmocka_unit_test(lease_too_long_is_caught),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
