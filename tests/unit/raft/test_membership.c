/* test_membership.c: single-server changes, learners, promotion, removal (dissertation 4). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

static void lag_cfg(struct raft_config *cfg)
{
	cfg->promote_lag = 3;
}

static void test_add_learner_promote(void **state)
{
	struct h_cluster c;
	h_init_cfg(&c, 4, 3, lag_cfg);
	h_elect(&c, 1);
	struct raft *l = c.n[1].r;
	assert_int_equal(raft_change(c.n[2].r, RAFT_ADD_LEARNER, 4, "x"), RAFT_ENOTLEADER);
	c.n[4].up = false;
	int64_t idx = raft_change(l, RAFT_ADD_LEARNER, 4, "127.0.0.1:7004");
	assert_true(idx > 0);
	/* In effect at once, uncommitted; a second change waits. */
	assert_int_equal(raft_conf_get(raft_configuration(l), 4)->role, RAFT_LEARNER);
	assert_int_equal(raft_change(l, RAFT_ADD_LEARNER, 5, ""), RAFT_EBUSY);
	h_settle(&c);
	assert_true(raft_commit_index(l) >= (raft_index)idx);
	assert_int_equal(raft_change(l, RAFT_ADD_LEARNER, 4, ""), RAFT_EEXIST);
	/* Far behind: not promoted. */
	for (int i = 0; i < 10; i++)
		raft_propose(l, "x", 1);
	h_settle(&c);
	assert_int_equal(raft_change(l, RAFT_PROMOTE, 4, NULL), RAFT_ENOTCAUGHTUP);
	assert_int_equal(raft_change(l, RAFT_PROMOTE, 9, NULL), RAFT_ENOTFOUND);
	/* The learner catches up; it never campaigns. */
	c.n[4].up = true;
	h_tick_all(&c, 30);
	assert_int_equal(raft_last_index(c.n[4].r), raft_last_index(l));
	assert_int_equal(raft_role(c.n[4].r), RAFT_FOLLOWER);
	assert_string_equal(raft_conf_get(raft_configuration(c.n[4].r), 4)->address,
	                    "127.0.0.1:7004");
	idx = raft_change(l, RAFT_PROMOTE, 4, NULL);
	assert_true(idx > 0);
	assert_int_equal(raft_change(l, RAFT_PROMOTE, 4, NULL), RAFT_EBUSY);
	h_tick_all(&c, 3);
	assert_int_equal(raft_conf_voters(raft_configuration(c.n[4].r)), 4);
	assert_int_equal(raft_change(l, RAFT_PROMOTE, 4, NULL), RAFT_EEXIST);
	/* Four voters: the leader and one follower are no longer a majority. */
	c.n[3].up = false;
	c.n[4].up = false;
	raft_index before = raft_commit_index(l);
	raft_propose(l, "y", 1);
	h_settle(&c);
	assert_int_equal(raft_commit_index(l), before);
	h_free(&c);
}

/* Learners receive entries but do not count toward commit nor vote. */
static void test_learner_does_not_count(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 2);
	h_elect(&c, 1);
	assert_true(raft_change(c.n[1].r, RAFT_ADD_LEARNER, 3, "") > 0);
	h_tick_all(&c, 3);
	c.n[2].up = false;
	raft_index before = raft_commit_index(c.n[1].r);
	raft_propose(c.n[1].r, "x", 1);
	h_tick_all(&c, 3);
	assert_int_equal(raft_last_index(c.n[3].r), raft_last_index(c.n[1].r));
	assert_int_equal(raft_commit_index(c.n[1].r), before);
	/* The learner never campaigns. */
	raft_term t = raft_current_term(c.n[3].r);
	for (int i = 0; i < 100; i++)
		raft_tick(c.n[3].r);
	assert_int_equal(raft_role(c.n[3].r), RAFT_FOLLOWER);
	assert_int_equal(raft_current_term(c.n[3].r), t);
	assert_false(raft_has_ready(c.n[3].r) && h_count(&c, RAFT_MSG_VOTE, 3, 0));
	h_free(&c);
}

static void test_remove_follower(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	assert_int_equal(raft_change(c.n[1].r, RAFT_REMOVE, 9, NULL), RAFT_ENOTFOUND);
	assert_true(raft_change(c.n[1].r, RAFT_REMOVE, 3, NULL) > 0);
	h_tick_all(&c, 3);
	assert_null(raft_conf_get(raft_configuration(c.n[1].r), 3));
	assert_null(raft_conf_get(raft_configuration(c.n[2].r), 3));
	/* Dissertation 4.2.3: the removed server no longer hears from the
	 * leader (it may never learn of its removal); its campaigns do not
	 * disrupt the others, who are in their lease. */
	raft_term t = raft_current_term(c.n[1].r);
	h_tick_all(&c, 100);
	assert_int_equal(raft_role(c.n[1].r), RAFT_LEADER);
	assert_int_equal(raft_current_term(c.n[1].r), t);
	assert_int_equal(raft_current_term(c.n[2].r), t);
	assert_true(c.delivered[RAFT_MSG_VOTE] > 0); /* it did try */
	c.n[3].up = false;
	raft_index idx = (raft_index)raft_propose(c.n[1].r, "x", 1);
	h_settle(&c);
	assert_int_equal(raft_commit_index(c.n[1].r), idx);
	struct raft_progress_info pi;
	assert_int_equal(raft_progress(c.n[1].r, 3, &pi), RAFT_ENOTFOUND);
	h_free(&c);
}

/* Dissertation 4.2.2: a leader removing itself leads, not counting itself,
 * until the change commits, then steps down. */
static void test_remove_self(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	c.n[2].up = false;
	int64_t idx = raft_change(c.n[1].r, RAFT_REMOVE, 1, NULL);
	assert_true(idx > 0);
	h_settle(&c);
	/* New configuration {2, 3}: node 3 alone is not a majority of it. */
	assert_int_equal(raft_role(c.n[1].r), RAFT_LEADER);
	assert_true(raft_commit_index(c.n[1].r) < (raft_index)idx);
	c.n[2].up = true;
	h_tick_all(&c, 10);
	assert_true(raft_commit_index(c.n[2].r) >= (raft_index)idx);
	assert_int_equal(raft_role(c.n[1].r), RAFT_FOLLOWER);
	/* The others elect a new leader; the old one never campaigns. */
	h_tick_all(&c, 60);
	raft_id l = h_leader(&c);
	assert_true(l == 2 || l == 3);
	assert_int_equal(raft_role(c.n[1].r), RAFT_FOLLOWER);
	h_free(&c);
}

/* Dissertation 4.1: a truncated uncommitted configuration entry reverts. */
static void test_conf_truncation_reverts(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 0);
	struct raft *r = c.n[1].r;
	uint8_t b1[256], b2[256];
	struct raft_conf c1 = {.n = 2}, c2;
	for (unsigned i = 0; i < 2; i++) {
		c1.servers[i].id = i + 1;
		c1.servers[i].role = RAFT_VOTER;
	}
	c2 = c1;
	c2.servers[2].id = 3;
	c2.servers[2].role = RAFT_LEARNER;
	c2.n = 3;
	struct raft_entry e[2] = {
	        {.term = 1, .index = 1, .type = RAFT_ENTRY_CONF},
	        {.term = 2, .index = 2, .type = RAFT_ENTRY_CONF},
	};
	e[0].data.base = b1;
	e[0].data.len = raft_conf_encode(&c1, b1, sizeof(b1));
	e[1].data.base = b2;
	e[1].data.len = raft_conf_encode(&c2, b2, sizeof(b2));
	struct raft_message m = {.type = RAFT_MSG_APPEND, .from = 2, .to = 1, .term = 2};
	m.append.entries = e;
	m.append.n_entries = 2;
	m.append.commit = 1;
	raft_step(r, &m);
	assert_int_equal(raft_configuration(r)->n, 3);
	struct raft_entry f = {.term = 3, .index = 2, .type = RAFT_ENTRY_NOOP};
	m.term = 3;
	m.append.prev_index = 1;
	m.append.prev_term = 1;
	m.append.entries = &f;
	m.append.n_entries = 1;
	raft_step(r, &m);
	assert_int_equal(raft_configuration(r)->n, 2);
	struct raft_ready rd;
	raft_ready(r, &rd);
	assert_non_null(rd.conf);
	assert_int_equal(rd.conf->n, 2);
	raft_advance(r, &rd);
	/* A malformed configuration entry makes the whole append ignored. */
	e[1].index = 3;
	e[1].term = 3;
	e[1].data.len = 3;
	m.append.prev_index = 2;
	m.append.prev_term = 3;
	m.append.entries = &e[1];
	raft_step(r, &m);
	assert_int_equal(raft_last_index(r), 2);
	h_free(&c);
}

static void test_change_rules(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	c.drop_type = RAFT_MSG_APPEND_RESP;
	h_elect(&c, 1);
	/* Not yet committed an entry of its term: refused (raft-dev 2015 fix). */
	assert_int_equal(raft_change(c.n[1].r, RAFT_ADD_LEARNER, 4, ""), RAFT_EBUSY);
	c.drop_type = 0;
	h_tick_all(&c, 12);
	assert_true(raft_change(c.n[1].r, RAFT_ADD_LEARNER, 4, "") > 0);
	h_settle(&c);
	assert_int_equal(raft_change(c.n[1].r, RAFT_ADD_LEARNER, 0, ""), -EINVAL);
	char longaddr[100];
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[99] = 0;
	assert_int_equal(raft_change(c.n[1].r, RAFT_ADD_LEARNER, 5, longaddr), -EINVAL);
	/* During a transfer: refused. */
	raft_transfer(c.n[1].r, 2);
	assert_int_equal(raft_change(c.n[1].r, RAFT_ADD_LEARNER, 6, ""), RAFT_EBUSY);
	h_free(&c);
}

int raft_test_membership(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_add_learner_promote),
	        cmocka_unit_test(test_learner_does_not_count),
	        cmocka_unit_test(test_remove_follower),
	        cmocka_unit_test(test_remove_self),
	        cmocka_unit_test(test_conf_truncation_reverts),
	        cmocka_unit_test(test_change_rules),
	};
	return cmocka_run_group_tests_name("raft_membership", tests, NULL, NULL);
}
