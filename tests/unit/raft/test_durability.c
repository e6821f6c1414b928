/* test_durability.c: the ready contract: what waits for the disk, and what the leader counts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

/* Paper Figure 2: acknowledgements and votes promise what is on disk. */
static void test_acks_after_persist(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	for (int i = 0; i < 5; i++) {
		raft_propose(c.n[1].r, "x", 1);
		h_settle(&c);
	}
	for (unsigned i = 1; i <= 3; i++) {
		assert_int_equal(c.n[i].n_append_resp_in_msgs, 0);
		assert_int_equal(c.n[i].n_vote_in_msgs, 0);
	}
	assert_true(c.delivered[RAFT_MSG_APPEND_RESP] >= 10);
	/* A follower's ack comes in the batch that holds the entries. */
	raft_propose(c.n[1].r, "y", 1);
	h_ready(&c, 1);
	h_deliver(&c);
	struct raft_ready rd;
	raft_ready(c.n[2].r, &rd);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.n_msgs_after_persist, 1);
	assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_APPEND_RESP);
	assert_int_equal(rd.msgs_after_persist[0].append_resp.index, rd.entries[0].index);
	for (unsigned i = 0; i < rd.n_msgs; i++)
		assert_int_not_equal(rd.msgs[i].type, RAFT_MSG_APPEND_RESP);
	raft_advance(c.n[2].r, &rd);
	h_free(&c);
}

/* A candidate's own vote requests wait for its durable vote for itself. */
static void test_candidate_votes_after_persist(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	struct raft *r = c.n[1].r;
	while (raft_role(r) == RAFT_FOLLOWER)
		raft_tick(r);
	/* PreVote requests go now: they promise nothing. */
	h_ready(&c, 1);
	struct sim_mail *pv = h_find(&c, RAFT_MSG_VOTE, 1, 2);
	assert_non_null(pv);
	assert_true(pv->m.vote.pre_vote);
	assert_false(pv->after_persist);
	h_deliver(&c);
	h_ready(&c, 2);
	h_deliver(&c);
	assert_int_equal(raft_role(r), RAFT_CANDIDATE);
	struct raft_ready rd;
	raft_ready(r, &rd);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.vote, 1);
	assert_int_equal(rd.n_msgs_after_persist, 2);
	for (unsigned i = 0; i < rd.n_msgs_after_persist; i++) {
		assert_int_equal(rd.msgs_after_persist[i].type, RAFT_MSG_VOTE);
		assert_false(rd.msgs_after_persist[i].vote.pre_vote);
	}
	for (unsigned i = 0; i < rd.n_msgs; i++)
		assert_int_not_equal(rd.msgs[i].type, RAFT_MSG_VOTE);
	raft_advance(r, &rd);
	h_free(&c);
}

/* Dissertation 10.2.1: the leader counts itself only once its log is durable. */
static void test_leader_counts_self_when_durable(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	c.n[3].up = false;
	c.n[1].hold_persist = true;
	raft_index idx = (raft_index)raft_propose(c.n[1].r, "x", 1);
	h_settle(&c);
	/* Node 2 acknowledged; the leader's own write is not durable. */
	struct raft_progress_info pi;
	raft_progress(c.n[1].r, 2, &pi);
	assert_int_equal(pi.match, idx);
	assert_true(raft_persisted_index(c.n[1].r) < idx);
	assert_int_equal(raft_commit_index(c.n[1].r), idx - 1);
	h_persist(&c, 1);
	assert_int_equal(raft_persisted_index(c.n[1].r), idx);
	assert_int_equal(raft_commit_index(c.n[1].r), idx);
	c.n[1].hold_persist = false;
	h_settle(&c);
	assert_int_equal(c.n[1].applied, idx);
	h_free(&c);
}

/* Committed entries are handed out only once durable locally. */
static void test_apply_waits_for_persist(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 1);
	struct raft *r = c.n[1].r;
	struct raft_ready rd;
	raft_ready(r, &rd); /* the bootstrap entry, committed, not yet durable */
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.n_committed, 0);
	raft_advance(r, &rd);
	assert_false(raft_has_ready(r));
	raft_persisted(r, rd.id);
	assert_true(raft_has_ready(r));
	raft_ready(r, &rd);
	assert_int_equal(rd.n_committed, 1);
	assert_int_equal(rd.committed[0].type, RAFT_ENTRY_CONF);
	raft_advance(r, &rd);
	h_free(&c);
}

static struct raft_message append(raft_term term, raft_index prev, raft_term prev_term,
                                  struct raft_entry *e, unsigned n, raft_index commit)
{
	struct raft_message m = {.type = RAFT_MSG_APPEND, .from = 2, .to = 1, .term = term};
	m.append.prev_index = prev;
	m.append.prev_term = prev_term;
	m.append.entries = e;
	m.append.n_entries = n;
	m.append.commit = commit;
	return m;
}

/* A later batch truncates at k: earlier batches' durable claims stop at k - 1. */
static void test_truncation_clips_claims(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 0); /* an empty, non-voting core */
	struct raft *r = c.n[1].r;
	struct raft_entry e[5];
	for (unsigned i = 0; i < 5; i++)
		e[i] = (struct raft_entry){.term = 2, .index = i + 1, .type = RAFT_ENTRY_NOOP};
	struct raft_message m = append(2, 0, 0, e, 5, 0);
	assert_int_equal(raft_step(r, &m), 0);
	struct raft_ready rd1, rd2;
	raft_ready(r, &rd1);
	assert_int_equal(rd1.n_entries, 5);
	raft_advance(r, &rd1);
	/* Term 3: entries 4 and 5 are replaced. */
	struct raft_entry f[2] = {{.term = 3, .index = 4, .type = RAFT_ENTRY_NOOP},
	                          {.term = 3, .index = 5, .type = RAFT_ENTRY_NOOP}};
	m = append(3, 3, 2, f, 2, 0);
	assert_int_equal(raft_step(r, &m), 0);
	raft_ready(r, &rd2);
	assert_int_equal(rd2.n_entries, 2);
	assert_int_equal(rd2.entries[0].index, 4);
	assert_int_equal(rd2.entries[0].term, 3);
	raft_advance(r, &rd2);
	raft_persisted(r, rd1.id);
	assert_int_equal(raft_persisted_index(r), 3);
	raft_persisted(r, rd2.id);
	assert_int_equal(raft_persisted_index(r), 5);
	h_free(&c);
}

/* Commit from the leader is applied only up to what is durable. */
static void test_follower_commit_beyond_persisted(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 0);
	struct raft *r = c.n[1].r;
	struct raft_entry e[3];
	for (unsigned i = 0; i < 3; i++)
		e[i] = (struct raft_entry){.term = 2, .index = i + 1, .type = RAFT_ENTRY_NOOP};
	struct raft_message m = append(2, 0, 0, e, 3, 3);
	raft_step(r, &m);
	assert_int_equal(raft_commit_index(r), 3);
	struct raft_ready rd;
	raft_ready(r, &rd);
	assert_int_equal(rd.n_committed, 0);
	assert_int_equal(rd.hard_state.commit, 3);
	raft_advance(r, &rd);
	raft_persisted(r, rd.id);
	raft_ready(r, &rd);
	assert_int_equal(rd.n_committed, 3);
	raft_advance(r, &rd);
	h_free(&c);
}

/* raft_fail(): no more votes, campaigns or leadership. */
static void test_fail(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	assert_int_equal(raft_read_index(c.n[1].r, 5), 0);
	raft_fail(c.n[1].r);
	assert_int_equal(raft_role(c.n[1].r), RAFT_FOLLOWER);
	assert_int_equal(raft_propose(c.n[1].r, "x", 1), RAFT_EFAILED);
	assert_int_equal(raft_read_index(c.n[1].r, 6), RAFT_EFAILED);
	struct raft_message m = {.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 9};
	assert_int_equal(raft_step(c.n[1].r, &m), RAFT_EFAILED);
	for (int i = 0; i < 50; i++)
		raft_tick(c.n[1].r);
	assert_int_equal(raft_role(c.n[1].r), RAFT_FOLLOWER);
	assert_int_equal(raft_current_term(c.n[1].r), 2);
	h_ready(&c, 1);
	assert_int_equal(c.n[1].n_reads, 1);
	assert_int_equal(c.n[1].reads[0].status, RAFT_ELEADERLOST);
	assert_int_equal(c.nq, 0);
	h_free(&c);
}

/* Restore: the durable state comes back, nothing to persist again. */
static void test_restore(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	raft_propose(c.n[1].r, "abc", 3);
	h_settle(&c);
	struct raft *r = c.n[2].r;
	struct raft_hard_state hs = c.n[2].hs;
	unsigned n = (unsigned)raft_last_index(r);
	struct raft_entry e[8];
	for (unsigned i = 0; i < n; i++)
		e[i] = *raft_entry_at(r, i + 1);
	struct raft_config cfg = h_config(2);
	struct raft *r2;
	assert_int_equal(raft_new(&cfg, &r2), 0);
	assert_int_equal(raft_restore(r2, &hs, NULL, e, n), 0);
	assert_int_equal(raft_last_index(r2), n);
	assert_int_equal(raft_persisted_index(r2), n);
	assert_int_equal(raft_current_term(r2), 2);
	assert_int_equal(raft_configuration(r2)->n, 3);
	assert_int_equal(raft_restore(r2, &hs, NULL, e, n), -EINVAL); /* not fresh */
	struct raft_ready rd;
	raft_ready(r2, &rd);
	assert_false(rd.hard_state_changed);
	assert_int_equal(rd.n_entries, 0);
	assert_int_equal(rd.n_committed, n); /* applied again from 1: caller skips */
	raft_advance(r2, &rd);
	raft_free(r2);
	/* A gap is refused. */
	assert_int_equal(raft_new(&cfg, &r2), 0);
	e[1].index = 7;
	assert_int_equal(raft_restore(r2, &hs, NULL, e, n), -EINVAL);
	assert_int_equal(raft_bootstrap(r2, raft_configuration(c.n[1].r)), 0);
	assert_int_equal(raft_bootstrap(r2, raft_configuration(c.n[1].r)), -EINVAL);
	raft_free(r2);
	h_free(&c);
}

int raft_test_durability(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_acks_after_persist),
	        cmocka_unit_test(test_candidate_votes_after_persist),
	        cmocka_unit_test(test_leader_counts_self_when_durable),
	        cmocka_unit_test(test_apply_waits_for_persist),
	        cmocka_unit_test(test_truncation_clips_claims),
	        cmocka_unit_test(test_follower_commit_beyond_persisted),
	        cmocka_unit_test(test_fail),
	        cmocka_unit_test(test_restore),
	};
	return cmocka_run_group_tests_name("raft_durability", tests, NULL, NULL);
}
