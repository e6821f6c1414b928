/* test_read.c: ReadIndex (dissertation 6.4): single node, three nodes, old echoes, a new
 * leader, the lease, failure. */

/* Reads batched in one round, and a follower's read forwarded to the leader,
 * are tests/sim/testdata/read_index.txt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

static void test_read_single_node(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 1);
	h_elect(&c, 1);
	assert_int_equal(raft_read_index(c.n[1].r, 42), 0);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 1);
	assert_int_equal(c.n[1].reads[0].ctx, 42);
	assert_int_equal(c.n[1].reads[0].status, 0);
	assert_int_equal(c.n[1].reads[0].index, raft_commit_index(c.n[1].r));
	assert_int_equal(c.nq, 0); /* no heartbeat round needed */
	h_free(&c);
}

/* Three nodes: a read is answered only after a majority echoed a heartbeat
 * sent after it was registered. */
static void test_read_three_nodes(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	raft_index commit = raft_commit_index(c.n[1].r);
	assert_int_equal(raft_read_index(c.n[1].r, 7), 0);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 0);
	assert_int_equal(h_count(&c, RAFT_MSG_HEARTBEAT, 1, 2), 1);
	assert_int_equal(h_count(&c, RAFT_MSG_HEARTBEAT, 1, 3), 1);
	/* Cut node 3: node 2 alone with the leader is a majority. */
	c.n[3].up = false;
	h_settle(&c);
	assert_int_equal(c.n[1].n_reads, 1);
	assert_int_equal(c.n[1].reads[0].ctx, 7);
	assert_int_equal(c.n[1].reads[0].index, commit);
	/* With no follower answering, no read is confirmed. */
	c.n[2].up = false;
	assert_int_equal(raft_read_index(c.n[1].r, 8), 0);
	h_settle(&c);
	h_tick(&c, 1);
	h_settle(&c);
	assert_int_equal(c.n[1].n_reads, 1);
	h_free(&c);
}

/* An echo of a heartbeat sent before the read does not confirm it. */
static void test_read_old_echo(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	h_tick(&c, 1);
	h_tick(&c, 1); /* heartbeat round due */
	h_ready(&c, 1);
	assert_int_equal(h_count(&c, RAFT_MSG_HEARTBEAT, 1, 0), 2);
	h_deliver(&c);
	h_ready_all(&c); /* the echoes are on the way */
	assert_int_equal(raft_read_index(c.n[1].r, 9), 0);
	h_deliver(&c); /* old echoes arrive */
	assert_false(c.n[1].n_reads);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 0);
	h_settle(&c);
	assert_int_equal(c.n[1].n_reads, 1);
	h_free(&c);
}

/* A new leader answers reads only once it committed an entry of its term. */
static void test_read_waits_for_term_commit(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	c.drop_type = RAFT_MSG_APPEND_RESP;
	h_elect(&c, 1);
	assert_int_equal(raft_commit_index(c.n[1].r), 1);
	assert_int_equal(raft_read_index(c.n[1].r, 3), 0);
	h_settle(&c);
	h_tick(&c, 1);
	h_tick(&c, 1);
	h_settle(&c);
	assert_int_equal(c.n[1].n_reads, 0);
	c.drop_type = 0;
	h_tick_all(&c, 20);
	assert_int_equal(c.n[1].n_reads, 1);
	assert_int_equal(c.n[1].reads[0].index, 2);
	h_free(&c);
}

static void test_read_no_leader(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	assert_int_equal(raft_read_index(c.n[2].r, 1), RAFT_ENOLEADER);
	/* A non-leader asked by a follower says so. */
	struct raft_message m = {.type = RAFT_MSG_READ_INDEX, .from = 3, .to = 2, .term = 1};
	m.read_index.ctx = 5;
	raft_step(c.n[2].r, &m);
	h_ready(&c, 2);
	struct sim_mail *resp = h_find(&c, RAFT_MSG_READ_INDEX_RESP, 2, 3);
	assert_non_null(resp);
	assert_int_equal(resp->m.read_index_resp.status, RAFT_ENOTLEADER);
	h_free(&c);
}

/* Pending reads fail when leadership is lost. */
static void test_read_leader_lost(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	assert_int_equal(raft_read_index(c.n[1].r, 11), 0);
	struct raft_message fwd = {.type = RAFT_MSG_READ_INDEX, .from = 2, .to = 1, .term = 2};
	fwd.read_index.ctx = 12;
	raft_step(c.n[1].r, &fwd);
	struct raft_message m = {.type = RAFT_MSG_HEARTBEAT, .from = 3, .to = 1, .term = 5};
	raft_step(c.n[1].r, &m);
	assert_int_equal(raft_role(c.n[1].r), RAFT_FOLLOWER);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 1);
	assert_int_equal(c.n[1].reads[0].ctx, 11);
	assert_int_equal(c.n[1].reads[0].status, RAFT_ELEADERLOST);
	struct sim_mail *resp = h_find(&c, RAFT_MSG_READ_INDEX_RESP, 1, 2);
	assert_non_null(resp);
	assert_int_equal(resp->m.read_index_resp.ctx, 12);
	assert_int_not_equal(resp->m.read_index_resp.status, 0);
	h_free(&c);
}

static void lease_cfg(struct raft_config *cfg)
{
	cfg->lease_duration = 1000;
}

/* Dissertation 6.4.1: while a majority's echo of a message stamped less than
 * lease_duration ago is in, the leader answers at once, but only with a time
 * set right before the call, and never after it started a transfer. */
static void test_read_lease(void **state)
{
	struct h_cluster c;
	h_init_cfg(&c, 3, 3, lease_cfg);
	for (unsigned i = 0; i < h_config(2).election_ticks; i++) {
		raft_tick(c.n[2].r); /* past their vote lease after start */
		raft_tick(c.n[3].r);
	}
	h_elect(&c, 1); /* no time was ever set: nothing stamped */
	struct raft *r = c.n[1].r;
	raft_set_now(r, 100);
	assert_int_equal(raft_read_index(r, 1), 0);
	raft_set_now(r, 100);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 0);
	assert_int_equal(h_count(&c, RAFT_MSG_HEARTBEAT, 1, 0), 2); /* a round */
	h_settle(&c);
	assert_int_equal(c.n[1].n_reads, 1);

	/* The round stamped at 100 was echoed: a lease until 1100. */
	raft_set_now(r, 900);
	assert_int_equal(raft_read_index(r, 2), 0);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 2);
	assert_int_equal(c.n[1].reads[1].ctx, 2);
	assert_int_equal(c.n[1].reads[1].index, raft_commit_index(r));
	assert_int_equal(h_count(&c, RAFT_MSG_HEARTBEAT, 1, 0), 0);

	/* No time given right before the call: a round. */
	assert_int_equal(raft_read_index(r, 3), 0);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 2);
	assert_int_equal(h_count(&c, RAFT_MSG_HEARTBEAT, 1, 0), 2);
	h_clear_net(&c);

	/* A follower's request under the lease is answered at once. */
	struct raft_message m = {
	        .type = RAFT_MSG_READ_INDEX, .from = 2, .to = 1, .term = raft_current_term(r)};
	m.read_index.ctx = 77;
	raft_set_now(r, 1000);
	assert_int_equal(raft_step(r, &m), 0);
	h_ready(&c, 1);
	struct sim_mail *resp = h_find(&c, RAFT_MSG_READ_INDEX_RESP, 1, 2);
	assert_non_null(resp);
	assert_int_equal(resp->m.read_index_resp.status, 0);
	assert_int_equal(h_count(&c, RAFT_MSG_HEARTBEAT, 1, 0), 0);
	h_clear_net(&c);

	/* Past the lease: a round again. */
	raft_set_now(r, 1100);
	assert_int_equal(raft_read_index(r, 4), 0);
	h_ready(&c, 1);
	assert_int_equal(h_count(&c, RAFT_MSG_HEARTBEAT, 1, 0), 2);
	raft_set_now(r, 1100);
	h_settle(&c); /* echoed: a lease until 2100 */
	assert_int_equal(c.n[1].n_reads, 4);
	raft_set_now(r, 1200);
	assert_int_equal(raft_read_index(r, 5), 0);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 5);

	/* A transfer's TimeoutNow overrides the followers' vote lease. */
	h_isolate(&c, 2, true);
	h_isolate(&c, 3, true);
	assert_int_equal(raft_transfer(r, 2), 0);
	raft_set_now(r, 1300);
	assert_int_equal(raft_read_index(r, 6), 0);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 5);
	h_free(&c);
}

/* With the read lease on, a server that just started ignores votes for an
 * election timeout: it may have echoed a leader just before it crashed. */
static void test_lease_boot_ignores_votes(void **state)
{
	struct h_cluster c;
	h_init_cfg(&c, 3, 3, lease_cfg);
	struct raft *r = c.n[2].r;
	struct raft_message m = {.type = RAFT_MSG_VOTE, .from = 3, .to = 2, .term = 5};
	m.vote.last_index = 100;
	m.vote.last_term = 4;
	assert_int_equal(raft_step(r, &m), 0);
	assert_int_equal(raft_current_term(r), 1);
	for (unsigned i = 0; i < h_config(2).election_ticks; i++)
		raft_tick(r);
	assert_int_equal(raft_step(r, &m), 0);
	assert_int_equal(raft_current_term(r), 5);
	h_free(&c);
}

int raft_test_read(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_read_single_node),
	        cmocka_unit_test(test_read_three_nodes),
	        cmocka_unit_test(test_read_old_echo),
	        cmocka_unit_test(test_read_waits_for_term_commit),
	        cmocka_unit_test(test_read_no_leader),
	        cmocka_unit_test(test_read_leader_lost),
	        cmocka_unit_test(test_read_lease),
	        cmocka_unit_test(test_lease_boot_ignores_votes),
	};
	return cmocka_run_group_tests_name("raft_read", tests, NULL, NULL);
}
