/* test_election.c: leader election, PreVote, CheckQuorum and the vote lease (paper 5.2,
 * dissertation 9.6, 6.2, 4.2.3). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

static void test_single_node(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 1);
	h_elect(&c, 1);
	struct raft *r = c.n[1].r;
	assert_int_equal(raft_current_term(r), 2);
	assert_int_equal(raft_leader(r), 1);
	/* The no-op of the new term (index 2) is committed once durable. */
	assert_int_equal(raft_last_index(r), 2);
	assert_int_equal(raft_entry_at(r, 2)->type, RAFT_ENTRY_NOOP);
	assert_int_equal(raft_commit_index(r), 2);
	assert_int_equal(c.n[1].applied, 2);
	assert_int_equal(raft_propose(r, "x", 1), 3);
	h_settle(&c);
	assert_int_equal(c.n[1].applied, 3);
	assert_int_equal(c.n[1].applied_types[3], RAFT_ENTRY_NORMAL);
	h_free(&c);
}

static void test_three_nodes(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	for (unsigned i = 1; i <= 3; i++) {
		assert_int_equal(raft_current_term(c.n[i].r), 2);
		assert_int_equal(raft_leader(c.n[i].r), 1);
		assert_int_equal(raft_commit_index(c.n[i].r), 2);
	}
	assert_int_equal(raft_role(c.n[2].r), RAFT_FOLLOWER);
	/* Votes were persisted: each follower's durable vote is the leader. */
	assert_int_equal(c.n[2].hs.vote, 1);
	assert_int_equal(c.n[2].hs.term, 2);
	assert_int_equal(c.n[1].n_vote_in_msgs + c.n[2].n_vote_in_msgs + c.n[3].n_vote_in_msgs, 0);
	h_free(&c);
}

static unsigned ticks_to_campaign(uint64_t seed)
{
	struct raft_config cfg;
	struct raft *r;
	struct raft_conf conf = {.n = 3};
	for (unsigned i = 0; i < 3; i++) {
		conf.servers[i].id = i + 1;
		conf.servers[i].role = RAFT_VOTER;
	}
	raft_config_default(&cfg, 1, seed);
	assert_int_equal(raft_new(&cfg, &r), 0);
	assert_int_equal(raft_bootstrap(r, &conf), 0);
	unsigned t = 0;
	while (raft_role(r) == RAFT_FOLLOWER && t < 100) {
		raft_tick(r);
		t++;
	}
	raft_free(r);
	return t;
}

/* Paper 5.2: randomized election timeouts, here from the seeded PRNG. */
static void test_randomized_timeout(void **state)
{
	unsigned seen[40] = {0}, distinct = 0;
	for (uint64_t seed = 0; seed < 200; seed++) {
		unsigned t = ticks_to_campaign(seed);
		assert_true(t >= 10 && t < 20);
		if (seen[t]++ == 0)
			distinct++;
		/* Same seed, same timeout: deterministic. */
		assert_int_equal(ticks_to_campaign(seed), t);
	}
	assert_true(distinct >= 5);
}

/* Dissertation 9.6: a partitioned server with PreVote does not raise its term. */
static void test_prevote_partitioned(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	h_isolate(&c, 3, true);
	for (int i = 0; i < 100; i++) {
		h_tick(&c, 3);
		h_settle(&c);
	}
	assert_int_equal(raft_current_term(c.n[3].r), 2);
	assert_int_equal(raft_role(c.n[3].r), RAFT_PRE_CANDIDATE);
	/* Back: it rejoins without disturbing the leader. */
	h_isolate(&c, 3, false);
	h_tick_all(&c, 4);
	assert_int_equal(raft_role(c.n[1].r), RAFT_LEADER);
	assert_int_equal(raft_current_term(c.n[1].r), 2);
	assert_int_equal(raft_role(c.n[3].r), RAFT_FOLLOWER);
	assert_int_equal(raft_leader(c.n[3].r), 1);
	h_free(&c);
}

static void no_prevote(struct raft_config *cfg)
{
	cfg->pre_vote = false;
}

/* Without PreVote the term does grow: the assertion above can fail. And the
 * lease (dissertation 4.2.3) keeps the others from granting its votes. */
static void test_lease_ignores_votes(void **state)
{
	struct h_cluster c;
	h_init_cfg(&c, 3, 3, no_prevote);
	h_elect(&c, 1);
	h_isolate(&c, 3, true);
	for (int i = 0; i < 60; i++) {
		h_tick(&c, 3);
		h_settle(&c);
	}
	raft_term t3 = raft_current_term(c.n[3].r);
	assert_true(t3 > 2);
	h_isolate(&c, 3, false);
	/* Node 3 campaigns again; 1 and 2 heard from the leader recently. */
	for (int i = 0; i < 40 && h_count(&c, RAFT_MSG_VOTE, 3, 2) == 0; i++) {
		h_tick(&c, 3);
		h_ready(&c, 3);
	}
	assert_true(h_count(&c, RAFT_MSG_VOTE, 3, 2) > 0);
	struct h_msg *v = h_find(&c, RAFT_MSG_VOTE, 3, 2);
	assert_int_equal(h_deliver_one(&c, v), 0);
	assert_int_equal(raft_current_term(c.n[2].r), 2);
	assert_int_equal(raft_leader(c.n[2].r), 1);
	assert_false(raft_has_ready(c.n[2].r)); /* not even an answer */
	h_clear_net(&c);
	/* Once the lease has expired (no leader for an election timeout), the
	 * same request is considered. */
	for (int i = 0; i < 12; i++)
		raft_tick(c.n[2].r);
	raft_tick(c.n[1].r);
	struct raft_message m = {.type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = t3 + 5};
	m.vote.last_index = 1;
	m.vote.last_term = 1;
	raft_step(c.n[2].r, &m);
	assert_int_equal(raft_current_term(c.n[2].r), t3 + 5);
	h_free(&c);
}

/* Dissertation 6.2: a leader cut off from a majority steps down. */
static void test_check_quorum(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	h_isolate(&c, 1, true);
	for (int i = 0; i < 9; i++) {
		h_tick(&c, 1);
		h_settle(&c);
	}
	assert_int_equal(raft_role(c.n[1].r), RAFT_LEADER);
	for (int i = 0; i < 12; i++) {
		h_tick(&c, 1);
		h_settle(&c);
	}
	assert_int_equal(raft_role(c.n[1].r), RAFT_FOLLOWER);
	assert_int_equal(raft_leader(c.n[1].r), RAFT_NONE);
	h_free(&c);
}

static void test_check_quorum_healthy(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	h_isolate(&c, 3, true);
	for (int i = 0; i < 50; i++) {
		h_tick(&c, 1);
		h_tick(&c, 2);
		h_settle(&c);
	}
	assert_int_equal(raft_role(c.n[1].r), RAFT_LEADER);
	h_free(&c);
}

/* Paper 5.2 / 5.4.1: one vote per term; only for an up-to-date log. */
static void test_vote_rules(void **state)
{
	struct h_cluster c;
	h_init_cfg(&c, 3, 3, no_prevote);
	struct raft *r = c.n[1].r;
	struct raft_message m = {.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 5};
	m.vote.last_index = 1;
	m.vote.last_term = 1;
	assert_int_equal(raft_step(r, &m), 0);
	h_ready(&c, 1);
	struct h_msg *resp = h_find(&c, RAFT_MSG_VOTE_RESP, 1, 2);
	assert_non_null(resp);
	assert_true(resp->m.vote_resp.granted);
	assert_true(resp->after_persist);
	assert_int_equal(c.n[1].hs.vote, 2);
	h_clear_net(&c);
	/* Same term, another candidate: refused. */
	m.from = 3;
	raft_step(r, &m);
	h_ready(&c, 1);
	resp = h_find(&c, RAFT_MSG_VOTE_RESP, 1, 3);
	assert_non_null(resp);
	assert_false(resp->m.vote_resp.granted);
	h_clear_net(&c);
	/* Next term, a log less up to date than ours (we have index 1 term 1). */
	m.term = 6;
	m.vote.last_index = 0;
	m.vote.last_term = 0;
	raft_step(r, &m);
	h_ready(&c, 1);
	resp = h_find(&c, RAFT_MSG_VOTE_RESP, 1, 3);
	assert_non_null(resp);
	assert_false(resp->m.vote_resp.granted);
	assert_int_equal(raft_current_term(r), 6);
	h_free(&c);
}

/* A leader loses its reads and its role when a higher term shows up. */
static void test_higher_term_steps_down(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	struct raft_message m = {.type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 9};
	m.append_resp.reject = true;
	raft_step(c.n[1].r, &m);
	assert_int_equal(raft_role(c.n[1].r), RAFT_FOLLOWER);
	assert_int_equal(raft_current_term(c.n[1].r), 9);
	h_free(&c);
}

/* A stale leader learns the newer term from a follower's answer. */
static void test_stale_leader_told(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	struct raft_message m = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 1};
	raft_step(c.n[2].r, &m);
	h_ready(&c, 2);
	struct h_msg *resp = h_find(&c, RAFT_MSG_APPEND_RESP, 2, 1);
	assert_non_null(resp);
	assert_int_equal(resp->m.term, 2);
	h_free(&c);
}

int raft_test_election(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_single_node),
	        cmocka_unit_test(test_three_nodes),
	        cmocka_unit_test(test_randomized_timeout),
	        cmocka_unit_test(test_prevote_partitioned),
	        cmocka_unit_test(test_lease_ignores_votes),
	        cmocka_unit_test(test_check_quorum),
	        cmocka_unit_test(test_check_quorum_healthy),
	        cmocka_unit_test(test_vote_rules),
	        cmocka_unit_test(test_higher_term_steps_down),
	        cmocka_unit_test(test_stale_leader_told),
	};
	return cmocka_run_group_tests_name("raft_election", tests, NULL, NULL);
}
