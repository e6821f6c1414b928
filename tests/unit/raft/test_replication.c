/* test_replication.c: log replication, batching, pipelining, conflict repair, fast backtracking,
 * Figure 8. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

static void assert_logs_equal(struct h_cluster *c, raft_id a, raft_id b)
{
	struct raft *ra = c->n[a].r, *rb = c->n[b].r;
	assert_int_equal(raft_last_index(ra), raft_last_index(rb));
	for (raft_index i = raft_first_index(ra); i <= raft_last_index(ra); i++) {
		const struct raft_entry *ea = raft_entry_at(ra, i), *eb = raft_entry_at(rb, i);
		assert_non_null(ea);
		assert_non_null(eb);
		assert_int_equal(ea->term, eb->term);
		assert_int_equal(ea->type, eb->type);
		assert_int_equal(ea->data.len, eb->data.len);
		if (ea->data.len)
			assert_memory_equal(ea->data.base, eb->data.base, ea->data.len);
	}
}

/* Paper 5.3: entries are replicated and committed on a majority, then applied everywhere. */
static void test_replicate(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	for (int i = 0; i < 10; i++) {
		char buf[16];
		snprintf(buf, sizeof(buf), "cmd-%d", i);
		assert_true(raft_propose(c.n[1].r, buf, strlen(buf)) > 0);
		h_settle(&c);
	}
	h_tick_all(&c, 3);
	for (unsigned i = 1; i <= 3; i++) {
		assert_int_equal(raft_commit_index(c.n[i].r), 12);
		assert_int_equal(c.n[i].applied, 12);
	}
	assert_logs_equal(&c, 1, 2);
	assert_logs_equal(&c, 1, 3);
	assert_int_equal(raft_propose(c.n[2].r, "x", 1), RAFT_ENOTLEADER);
	struct raft_progress_info pi;
	assert_int_equal(raft_progress(c.n[1].r, 2, &pi), 0);
	assert_int_equal(pi.match, 12);
	assert_int_equal(pi.next, 13);
	assert_int_equal(pi.state, 1);
	assert_int_equal(raft_progress(c.n[1].r, 9, &pi), RAFT_ENOTFOUND);
	assert_int_equal(raft_progress(c.n[2].r, 1, &pi), RAFT_ENOTLEADER);
	h_free(&c);
}

/* Batching: everything proposed since the last batch goes in one AppendEntries. */
static void test_batching(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	for (int i = 0; i < 5; i++)
		assert_true(raft_propose(c.n[1].r, "abc", 3) > 0);
	h_ready(&c, 1);
	assert_int_equal(h_count(&c, RAFT_MSG_APPEND, 1, 2), 1);
	assert_int_equal(h_count(&c, RAFT_MSG_APPEND, 1, 3), 1);
	struct sim_mail *m = h_find(&c, RAFT_MSG_APPEND, 1, 2);
	assert_int_equal(m->m.append.n_entries, 5);
	assert_false(m->after_persist); /* the leader does not wait for its disk */
	h_settle(&c);
	assert_int_equal(raft_commit_index(c.n[2].r), 7);
	h_free(&c);
}

static void small_msgs(struct raft_config *cfg)
{
	cfg->max_msg_bytes = 250;
	cfg->max_inflight_msgs = 3;
	cfg->max_inflight_bytes = 100000;
}

/* max_msg_bytes bounds a message; max_inflight_msgs bounds the pipeline. */
static void test_pipeline_bounds(void **state)
{
	struct h_cluster c;
	char data[100] = {0};
	h_init_cfg(&c, 3, 3, small_msgs);
	h_elect(&c, 1);
	for (int i = 0; i < 20; i++)
		raft_propose(c.n[1].r, data, sizeof(data));
	h_ready(&c, 1);
	/* Pipelined: three messages of two entries each, then the window is full. */
	assert_int_equal(h_count(&c, RAFT_MSG_APPEND, 1, 2), 3);
	for (size_t i = 0; i < c.nq; i++)
		if (c.q[i].m.type == RAFT_MSG_APPEND)
			assert_int_equal(c.q[i].m.append.n_entries, 2);
	h_ready(&c, 1);
	assert_int_equal(h_count(&c, RAFT_MSG_APPEND, 1, 2), 3);
	struct raft_progress_info pi;
	raft_progress(c.n[1].r, 2, &pi);
	assert_int_equal(pi.next, 3 + 6);
	/* Everything arrives eventually. */
	h_settle(&c);
	h_tick_all(&c, 3);
	assert_int_equal(raft_commit_index(c.n[3].r), 22);
	h_free(&c);
}

static void byte_bound(struct raft_config *cfg)
{
	cfg->max_msg_bytes = 1000;
	cfg->max_inflight_msgs = 100;
	cfg->max_inflight_bytes = 450;
}

static void test_inflight_bytes(void **state)
{
	struct h_cluster c;
	char data[100] = {0};
	h_init_cfg(&c, 3, 3, byte_bound);
	h_elect(&c, 1);
	for (int i = 0; i < 20; i++) {
		raft_propose(c.n[1].r, data, sizeof(data));
		h_ready(&c, 1);
	}
	/* 4 entries (400 bytes) fit under 450; one more would pass it. */
	size_t bytes = 0;
	for (size_t i = 0; i < c.nq; i++)
		if (c.q[i].m.type == RAFT_MSG_APPEND && c.q[i].m.to == 2)
			for (unsigned k = 0; k < c.q[i].m.append.n_entries; k++)
				bytes += c.q[i].m.append.entries[k].data.len;
	assert_true(bytes >= 400 && bytes <= 500);
	h_settle(&c);
	h_tick_all(&c, 3);
	assert_int_equal(raft_commit_index(c.n[2].r), 22);
	h_free(&c);
}

static void no_cq(struct raft_config *cfg)
{
	cfg->check_quorum = false;
}

/* Paper 5.3: a follower's conflicting uncommitted suffix is replaced. */
static void test_conflict_repair(void **state)
{
	struct h_cluster c;
	h_init_cfg(&c, 3, 3, no_cq);
	h_elect(&c, 1);
	h_isolate(&c, 1, true);
	for (int i = 0; i < 5; i++)
		raft_propose(c.n[1].r, "old", 3); /* never committed */
	h_settle(&c);
	assert_int_equal(raft_last_index(c.n[1].r), 7);
	h_elect(&c, 2);
	raft_propose(c.n[2].r, "new", 3);
	h_settle(&c);
	assert_int_equal(raft_commit_index(c.n[2].r), 4);
	h_isolate(&c, 1, false);
	h_tick_all(&c, 4);
	assert_int_equal(raft_role(c.n[1].r), RAFT_FOLLOWER);
	assert_logs_equal(&c, 1, 2);
	assert_int_equal(raft_entry_at(c.n[1].r, 4)->data.len, 3);
	assert_memory_equal(raft_entry_at(c.n[1].r, 4)->data.base, "new", 3);
	assert_int_equal(c.n[1].applied, 4);
	h_free(&c);
}

/* Paper 5.3 conflict hint: a long divergent suffix costs a rejection per
 * term, not one per entry. */
static void test_fast_backtracking(void **state)
{
	struct h_cluster c;
	h_init_cfg(&c, 3, 3, no_cq);
	h_elect(&c, 1);
	/* Node 1 (term 2) appends 50 entries nobody gets. */
	h_isolate(&c, 1, true);
	for (int i = 0; i < 50; i++)
		raft_propose(c.n[1].r, "old", 3);
	h_settle(&c);
	/* Node 2 (term 3) appends 60 entries, on node 3 too. */
	h_elect(&c, 2);
	for (int i = 0; i < 60; i++)
		raft_propose(c.n[2].r, "new", 3);
	h_settle(&c);
	assert_int_equal(raft_last_index(c.n[3].r), 63);
	/* Node 3 leads term 4 with node 1's vote; it starts node 1 at 64. */
	h_isolate(&c, 2, true);
	h_isolate(&c, 1, false);
	c.cut[1][2] = c.cut[2][1] = true;
	unsigned rejects = 0;
	for (int round = 0; round < 300; round++) {
		if (raft_role(c.n[3].r) != RAFT_LEADER)
			h_tick(&c, 3);
		bool any = h_ready_all(&c);
		for (size_t i = 0; i < c.nq; i++)
			if (c.q[i].m.type == RAFT_MSG_APPEND_RESP && c.q[i].m.from == 1 &&
			    c.q[i].m.append_resp.reject)
				rejects++;
		if (h_deliver(&c) == 0 && !any && raft_role(c.n[3].r) == RAFT_LEADER)
			break;
		if (round % 5 == 0)
			h_tick(&c, 3);
	}
	assert_int_equal(raft_role(c.n[3].r), RAFT_LEADER);
	assert_true(rejects >= 1 && rejects <= 3);
	assert_logs_equal(&c, 1, 3);
	h_free(&c);
}

/* A follower whose log is too short says so: hint_term 0, hint_index its last + 1. */
static void test_short_follower_hint(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 1);
	struct raft_message m = {.type = RAFT_MSG_APPEND, .from = 2, .to = 1, .term = 3};
	m.append.prev_index = 9;
	m.append.prev_term = 3;
	assert_int_equal(raft_step(c.n[1].r, &m), 0);
	h_ready(&c, 1);
	struct sim_mail *resp = h_find(&c, RAFT_MSG_APPEND_RESP, 1, 2);
	assert_non_null(resp);
	assert_true(resp->m.append_resp.reject);
	assert_int_equal(resp->m.append_resp.index, 9);
	assert_int_equal(resp->m.append_resp.hint_term, 0);
	assert_int_equal(resp->m.append_resp.hint_index, 2);
	assert_int_equal(resp->m.append_resp.last_index, 1);
	h_free(&c);
}

/* Heartbeats keep a pipeline intact; a lost last AppendEntries is resent once
 * the follower answers heartbeats without progress. */
static void test_lost_append_resent(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	raft_propose(c.n[1].r, "a", 1);
	h_ready(&c, 1);
	/* Lose the append to node 2. */
	struct sim_mail *m = h_find(&c, RAFT_MSG_APPEND, 1, 2);
	assert_non_null(m);
	h_remove(&c, (size_t)(m - c.q));
	h_settle(&c);
	assert_int_equal(raft_commit_index(c.n[1].r), 3); /* 1 and 3 */
	assert_int_equal(raft_last_index(c.n[2].r), 2);
	h_tick_all(&c, 12);
	assert_int_equal(raft_last_index(c.n[2].r), 3);
	assert_int_equal(c.n[2].applied, 3);
	/* A reordered heartbeat did not move the follower back to probe. */
	struct raft_progress_info pi;
	raft_progress(c.n[1].r, 3, &pi);
	assert_int_equal(pi.state, 1);
	h_free(&c);
}

void raft_figure8(void **state);

int raft_test_replication(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_replicate),
	        cmocka_unit_test(test_batching),
	        cmocka_unit_test(test_pipeline_bounds),
	        cmocka_unit_test(test_inflight_bytes),
	        cmocka_unit_test(test_conflict_repair),
	        cmocka_unit_test(test_fast_backtracking),
	        cmocka_unit_test(test_short_follower_hint),
	        cmocka_unit_test(test_lost_append_resent),
	        cmocka_unit_test(raft_figure8),
	};
	return cmocka_run_group_tests_name("raft_replication", tests, NULL, NULL);
}
