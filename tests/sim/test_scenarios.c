/* test_scenarios.c: named Raft scenarios (Figures 7 and 8, PreVote, CheckQuorum, ...). */
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

static struct sim_cluster *cluster(unsigned nodes, uint64_t seed)
{
	struct sim_opts o;
	sim_opts_default(&o);
	o.nodes = nodes;
	o.verbose = getenv("SIM_VERBOSE") != NULL;
	struct sim_cluster *c = sim_cluster_new(&o, seed);
	if (nodes)
		sim_cluster_bootstrap(c, nodes);
	return c;
}

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

/* True once node *arg has campaigned (pre-candidate or candidate). */
struct campaign_arg {
	raft_id id;
	bool seen;
};

static bool campaigned(struct sim_cluster *c, void *arg)
{
	struct campaign_arg *a = arg;
	struct raft *r = sim_core(c, a->id);
	if (r && (raft_role(r) == RAFT_PRE_CANDIDATE || raft_role(r) == RAFT_CANDIDATE))
		a->seen = true;
	return false; /* run the whole time */
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

/* Every up node in @l's configuration has applied everything @l committed,
 * and @l committed its whole log. */
static bool converged(struct sim_cluster *c, void *arg)
{
	raft_id l = (raft_id)(uintptr_t)arg;
	struct raft *r = sim_core(c, l);
	if (!r || raft_role(r) != RAFT_LEADER)
		return false;
	raft_index commit = raft_commit_index(r);
	if (commit < raft_last_index(r))
		return false;
	const struct raft_conf *conf = raft_configuration(r);
	for (unsigned i = 0; i < conf->n; i++) {
		const struct sim_node *n = &c->nodes[conf->servers[i].id];
		if (!n->up || n->sm.applied < commit)
			return false;
	}
	return true;
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

/* ------------------------------------------------------------------------ */
/* Raft paper, Figure 7                                                       */

/* The leader (term 8) and followers (a)-(f) of Figure 7, indices 1..12. */
static const raft_term fig7_logs[7][12] = {
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6},       /* leader, 10 entries */
        {1, 1, 1, 4, 4, 5, 5, 6, 6},          /* (a) 9: missing one */
        {1, 1, 1, 4},                         /* (b) 4: missing many */
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},    /* (c) 11: an extra uncommitted entry */
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, /* (d) 12: extra entries of term 7 */
        {1, 1, 1, 4, 4, 4, 4},                /* (e) 7: missing and extra */
        {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},    /* (f) 11: terms 2, 3 nobody else has */
};
static const unsigned fig7_len[7] = {10, 9, 4, 11, 12, 7, 11};

static void fig7_followers_repaired(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(0, 7);
	struct raft_conf conf;
	sim_conf_voters(&conf, 7);
	struct raft_hard_state hs = {.term = 7, .vote = RAFT_NONE, .commit = 1};
	for (raft_id id = 1; id <= 7; id++) {
		struct raft_entry *log =
		        sim_log_from_terms(&conf, fig7_logs[id - 1], fig7_len[id - 1], "fig7");
		sim_node_start_restored(c, id, &hs, log, fig7_len[id - 1]);
		sim_entries_free(log, fig7_len[id - 1]);
		c->nodes[id].frozen = id != 1; /* only the leader-to-be times out */
	}
	/* (c) and (d) have logs the leader cannot beat; keep them away until
	 * the leader of term 8 is elected by itself, (a), (b), (e) and (f). */
	sim_net_isolate(c, 4);
	sim_net_isolate(c, 5);
	raft_id l = wait_leader(c, 3000);
	assert_int_equal(l, 1);
	assert_int_equal(raft_current_term(c->nodes[1].r), 8);
	sim_net_heal(c);
	for (raft_id id = 2; id <= 7; id++)
		c->nodes[id].frozen = false;
	propose_and_commit(c, 1, 1);
	assert_true(sim_run_until(c, converged, (void *)(uintptr_t)1, 5000));
	no_violation(c);
	struct raft *lr = c->nodes[1].r;
	assert_int_equal(raft_role(lr), RAFT_LEADER);
	assert_int_equal(raft_current_term(lr), 8);
	/* indices 1..10 keep the leader's terms; everyone's log is the leader's */
	for (raft_index i = 1; i <= 10; i++)
		assert_int_equal(raft_entry_at(lr, i)->term, fig7_logs[0][i - 1]);
	for (raft_id id = 2; id <= 7; id++) {
		struct raft *r = c->nodes[id].r;
		assert_int_equal(raft_last_index(r), raft_last_index(lr));
		for (raft_index i = raft_first_index(r); i <= raft_last_index(lr); i++)
			assert_int_equal(raft_entry_at(r, i)->term, raft_entry_at(lr, i)->term);
	}
	sim_cluster_free(c);
}

/* ------------------------------------------------------------------------ */
/* Raft paper, Figure 8 (the scenario itself is in sim_fig8.c)               */

static void fig8_correct_core_waits(void **state)
{
	(void)state;
	struct sim_fig8_result r;
	sim_fig8(getenv("SIM_VERBOSE") != NULL, false, &r);
	if (r.violations)
		fail_msg("%s", r.violation);
	assert_false(r.old_entry_committed);
	assert_true(r.s5_led);
	assert_true(r.converged);
}

/* ------------------------------------------------------------------------ */
/* PreVote and CheckQuorum                                                    */

/* Dissertation 9.6: a server that was partitioned away does not raise its
 * term, so when it comes back the healthy leader keeps leading. */
static void prevote_protects_leader(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(3, 96);
	raft_id l = wait_leader(c, 3000);
	propose_and_commit(c, l, 3);
	raft_term t = raft_current_term(c->nodes[l].r);
	raft_id f = l % 3 + 1;
	sim_net_isolate(c, f);
	struct campaign_arg ca = {f, false};
	sim_run_until(c, campaigned, &ca, 3000); /* many election timeouts */
	no_violation(c);
	assert_true(ca.seen); /* it did try */
	assert_int_equal(raft_current_term(c->nodes[f].r), t);
	sim_net_heal(c);
	sim_run_until(c, NULL, NULL, 2000);
	no_violation(c);
	assert_int_equal(sim_leader(c), l);
	assert_int_equal(raft_current_term(c->nodes[l].r), t);
	assert_int_equal(raft_current_term(c->nodes[f].r), t);
	assert_int_equal(raft_leader(c->nodes[f].r), l);
	sim_cluster_free(c);
}

static bool not_leader(struct sim_cluster *c, void *arg)
{
	struct raft *r = sim_core(c, (raft_id)(uintptr_t)arg);
	return r && raft_role(r) != RAFT_LEADER;
}

/* Dissertation 6.2: a leader that cannot reach a majority steps down within
 * about two election timeouts; the others elect a new one. */
static void check_quorum_isolated_leader_steps_down(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(5, 62);
	raft_id l = wait_leader(c, 3000);
	propose_and_commit(c, l, 2);
	raft_term t = raft_current_term(c->nodes[l].r);
	sim_net_isolate(c, l);
	uint64_t start = c->now;
	/* election timeout in [e, 2e) ticks of tick_ms */
	uint64_t bound = 2ull * 2 * c->o.election_ticks * c->o.tick_ms;
	assert_true(sim_run_until(c, not_leader, (void *)(uintptr_t)l, bound));
	printf("isolated leader stepped down after %" PRIu64 " ms (bound %" PRIu64 ")\n",
	       c->now - start, bound);
	raft_id l2 = wait_leader(c, 3000);
	assert_true(l2 != l);
	assert_true(raft_current_term(c->nodes[l2].r) > t);
	sim_cluster_free(c);
}

/* ------------------------------------------------------------------------ */
/* Membership                                                                 */

static bool change_committed(struct sim_cluster *c, void *arg)
{
	const struct applied_arg *a = arg;
	struct raft *r = sim_core(c, a->id);
	return r && raft_commit_index(r) >= a->index;
}

/* Dissertation 4.2.3: a server removed from the configuration, which never
 * hears of it and keeps timing out, cannot disrupt the cluster. */
static void removed_server_cannot_disrupt(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(4, 423);
	raft_id l = wait_leader(c, 3000);
	propose_and_commit(c, l, 2);
	raft_id gone = l % 4 + 1;
	sim_net_isolate(c, gone);
	int64_t idx = raft_change(c->nodes[l].r, RAFT_REMOVE, gone, NULL);
	assert_true(idx > 0);
	sim_node_ready(c, &c->nodes[l]);
	struct applied_arg a = {l, (raft_index)idx};
	assert_true(sim_run_until(c, change_committed, &a, 3000));
	raft_term t = raft_current_term(c->nodes[l].r);
	sim_run_until(c, NULL, NULL, 1000);
	sim_net_heal(c); /* it comes back, still believing it is a voter */
	struct campaign_arg ca = {gone, false};
	sim_run_until(c, campaigned, &ca, 4000);
	no_violation(c);
	assert_true(ca.seen); /* it kept campaigning */
	assert_int_equal(sim_leader(c), l);
	assert_int_equal(raft_current_term(c->nodes[l].r), t);
	assert_null(raft_conf_get(raft_configuration(c->nodes[l].r), gone));
	propose_and_commit(c, l, 2);
	sim_cluster_free(c);
}

static bool is_leader(struct sim_cluster *c, void *arg)
{
	struct raft *r = sim_core(c, (raft_id)(uintptr_t)arg);
	return r && raft_role(r) == RAFT_LEADER;
}

/* Dissertation 3.10: TimeoutNow makes the target leader at once, term + 1. */
static void leadership_transfer(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(3, 310);
	raft_id l = wait_leader(c, 3000);
	propose_and_commit(c, l, 3);
	raft_term t = raft_current_term(c->nodes[l].r);
	raft_id to = l % 3 + 1;
	assert_int_equal(raft_transfer(c->nodes[l].r, to), 0);
	sim_node_ready(c, &c->nodes[l]);
	assert_true(sim_run_until(c, is_leader, (void *)(uintptr_t)to, 2000));
	no_violation(c);
	assert_int_equal(raft_current_term(c->nodes[to].r), t + 1);
	assert_int_not_equal(raft_role(c->nodes[l].r), RAFT_LEADER);
	propose_and_commit(c, to, 1);
	sim_cluster_free(c);
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

/* Paper section 7: a follower behind the leader's compacted log is caught up
 * with InstallSnapshot, in several chunks. */
static void snapshot_catch_up_in_chunks(void **state)
{
	(void)state;
	struct sim_opts o;
	sim_opts_default(&o);
	o.nodes = 3;
	o.verbose = getenv("SIM_VERBOSE") != NULL;
	o.snap_every = 5;
	o.trailing_entries = 2;
	o.snapshot_chunk_bytes = 16;
	raft_id l, f;
	struct sim_cluster *c = lagging_follower(&o, 7007, &l, &f);
	assert_true(raft_first_index(c->nodes[l].r) > c->nodes[f].disk.n + 1);
	uint64_t chunks = c->n_chunks;
	sim_node_restart(c, f);
	assert_true(sim_run_until(c, converged, (void *)(uintptr_t)l, 5000));
	no_violation(c);
	assert_true(c->n_snap_installs >= 1);
	assert_true(c->n_chunks - chunks >= (SIM_SM_BYTES + 15) / 16);
	printf("follower caught up by %" PRIu64 " snapshot install(s), %" PRIu64 " chunks\n",
	       c->n_snap_installs, c->n_chunks - chunks);
	sim_cluster_free(c);
}

/* A follower whose disk is slower than the leader's resend timer catches up
 * by snapshot. raft-core.md: "At most one chunk is in flight per follower; if
 * unanswered for heartbeat_ticks it is sent again." The resends are fine; the
 * chunks in flight must not multiply (FINDINGS.md, "snapshot chunks
 * multiply", resolved). */
static void snapshot_to_slow_disk(void **state)
{
	(void)state;
	struct sim_opts o;
	sim_opts_default(&o);
	o.nodes = 3;
	o.verbose = getenv("SIM_VERBOSE") != NULL;
	o.snap_every = 5;
	o.trailing_entries = 1;
	o.snapshot_chunk_bytes = 8;
	o.disk_min = 40; /* each staged chunk is durable (and answered) after 40-60 ms */
	o.disk_max = 60;
	raft_id l, f;
	struct sim_cluster *c = lagging_follower(&o, 11, &l, &f);
	c->max_chunks_in_flight = 0;
	uint64_t chunks = c->n_chunks;
	sim_node_restart(c, f);
	assert_true(sim_run_until(c, converged, (void *)(uintptr_t)l, 20000));
	no_violation(c);
	printf("caught up; %" PRIu64 " chunks staged for a %d-byte snapshot in 8-byte chunks; "
	       "at most %u chunks in flight to it\n",
	       c->n_chunks - chunks, SIM_SM_BYTES, c->max_chunks_in_flight);
	/* one chunk, plus one resend per heartbeat while an answer waits for the
	 * 60 ms disk: 1 + 60 / 10 + 1 (73 before the fix of F1) */
	assert_true(c->max_chunks_in_flight <= 8);
	sim_cluster_free(c);
}

/* FINDINGS.md, F2: a transfer that takes longer than the leader needs to
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

static bool learner_promoted(struct sim_cluster *c, void *arg)
{
	struct applied_arg *a = arg;
	raft_id l = sim_leader(c);
	if (!l)
		return false;
	struct raft *r = c->nodes[l].r;
	if (!a->index) {
		int64_t idx = raft_change(r, RAFT_PROMOTE, a->id, NULL);
		if (idx == RAFT_ENOTCAUGHTUP || idx == RAFT_EBUSY)
			return false;
		assert_true(idx > 0);
		a->index = (raft_index)idx;
		sim_node_ready(c, &c->nodes[l]);
	}
	const struct raft_server *s = raft_conf_get(raft_configuration(r), a->id);
	return s && s->role == RAFT_VOTER && raft_commit_index(r) >= a->index;
}

/* Dissertation 4.2.1: a new server joins as a learner, catches up, and is
 * promoted only then (until then raft_change says RAFT_ENOTCAUGHTUP). */
static void learner_added_caught_up_promoted(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(3, 421);
	raft_id l = wait_leader(c, 3000);
	propose_and_commit(c, l, 40);
	int64_t idx = raft_change(c->nodes[l].r, RAFT_ADD_LEARNER, 4, "sim://4");
	assert_true(idx > 0);
	sim_node_ready(c, &c->nodes[l]);
	sim_node_start_empty(c, 4);
	sim_net_isolate(c, 4);
	struct applied_arg added = {l, (raft_index)idx};
	assert_true(sim_run_until(c, change_committed, &added, 3000));
	/* not caught up: it has nothing yet */
	assert_int_equal(raft_change(c->nodes[l].r, RAFT_PROMOTE, 4, NULL), RAFT_ENOTCAUGHTUP);
	sim_net_heal(c);
	struct applied_arg a = {4, 0};
	assert_true(sim_run_until(c, learner_promoted, &a, 5000));
	no_violation(c);
	l = sim_leader(c);
	assert_int_equal(raft_conf_voters(raft_configuration(c->nodes[l].r)), 4);
	propose_and_commit(c, l, 2);
	assert_true(sim_run_until(c, converged, (void *)(uintptr_t)l, 3000));
	no_violation(c);
	sim_cluster_free(c);
}

static bool other_leader(struct sim_cluster *c, void *arg)
{
	raft_id old = (raft_id)(uintptr_t)arg;
	raft_id l = sim_leader(c);
	return l && l != old;
}

/* Dissertation 4.2.2: a leader removing itself leads until the change
 * commits, then steps down; the others elect a leader among themselves. */
static void leader_removes_itself(void **state)
{
	(void)state;
	struct sim_cluster *c = cluster(4, 422);
	raft_id l = wait_leader(c, 3000);
	propose_and_commit(c, l, 3);
	int64_t idx = raft_change(c->nodes[l].r, RAFT_REMOVE, l, NULL);
	assert_true(idx > 0);
	sim_node_ready(c, &c->nodes[l]);
	assert_true(sim_run_until(c, other_leader, (void *)(uintptr_t)l, 5000));
	no_violation(c);
	raft_id l2 = sim_leader(c);
	assert_true(raft_commit_index(c->nodes[l2].r) >= (raft_index)idx);
	assert_null(raft_conf_get(raft_configuration(c->nodes[l2].r), l));
	assert_int_not_equal(raft_role(c->nodes[l].r), RAFT_LEADER);
	propose_and_commit(c, l2, 2);
	sim_run_until(c, NULL, NULL, 1000);
	no_violation(c);
	assert_int_equal(sim_leader(c), l2);
	sim_cluster_free(c);
}

/* ------------------------------------------------------------------------ */
/* Read lease (dissertation 6.4.1)                                            */

struct lease_run {
	uint64_t served_alone;        /* reads the isolated leader answered */
	uint64_t first_new_commit_at; /* when another leader committed, 0: never */
	unsigned violations;
};

/* Isolates the leader of a 3-node cluster whose lease lasts @permille of
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
	        cmocka_unit_test(fig7_followers_repaired),
	        cmocka_unit_test(fig8_correct_core_waits),
	        cmocka_unit_test(prevote_protects_leader),
	        cmocka_unit_test(check_quorum_isolated_leader_steps_down),
	        cmocka_unit_test(removed_server_cannot_disrupt),
	        cmocka_unit_test(leadership_transfer),
	        cmocka_unit_test(snapshot_catch_up_in_chunks),
	        cmocka_unit_test(snapshot_to_slow_disk),
	        cmocka_unit_test(snapshot_transfer_outlives_new_snapshots),
	        cmocka_unit_test(learner_added_caught_up_promoted),
	        cmocka_unit_test(leader_removes_itself),
	        cmocka_unit_test(lease_ends_before_new_leader),
	        cmocka_unit_test(lease_too_long_is_caught),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
