/* test_transfer.c: leadership transfer with TimeoutNow (dissertation 3.10). */

/* The transfer to a caught-up follower is tests/sim/testdata/transfer.txt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

/* A lagging target is caught up first; TimeoutNow follows. */
static void test_transfer_lagging(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	c.n[3].up = false;
	for (int i = 0; i < 5; i++)
		raft_propose(c.n[1].r, "x", 1);
	h_settle(&c);
	c.n[3].up = true;
	assert_int_equal(raft_transfer(c.n[1].r, 3), 0);
	h_ready(&c, 1);
	assert_int_equal(h_count(&c, RAFT_MSG_TIMEOUT_NOW, 1, 3), 0);
	for (int i = 0; i < 30 && raft_role(c.n[3].r) != RAFT_LEADER; i++) {
		h_tick(&c, 1);
		h_settle(&c);
	}
	assert_int_equal(raft_role(c.n[3].r), RAFT_LEADER);
	assert_int_equal(raft_last_index(c.n[3].r), 8);
	h_free(&c);
}

/* Without an answer from the target the transfer ends after an election timeout. */
static void test_transfer_abort(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	c.n[2].up = false;
	assert_int_equal(raft_transfer(c.n[1].r, 2), 0);
	assert_int_equal(raft_propose(c.n[1].r, "x", 1), RAFT_EBUSY);
	for (int i = 0; i < 10; i++) {
		h_tick(&c, 1);
		h_tick(&c, 3);
		h_settle(&c);
	}
	assert_int_equal(raft_role(c.n[1].r), RAFT_LEADER);
	assert_true(raft_propose(c.n[1].r, "x", 1) > 0);
	h_free(&c);
}

static void test_transfer_errors(void **state)
{
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	assert_int_equal(raft_transfer(c.n[2].r, 3), RAFT_ENOTLEADER);
	assert_int_equal(raft_transfer(c.n[1].r, 9), RAFT_ENOTFOUND);
	assert_int_equal(raft_transfer(c.n[1].r, 1), 0);
	assert_true(raft_propose(c.n[1].r, "x", 1) > 0); /* nothing under way */
	/* RAFT_NONE: the most up-to-date voter. */
	h_settle(&c);
	c.n[2].up = false;
	raft_propose(c.n[1].r, "x", 1);
	h_settle(&c);
	c.n[2].up = true;
	assert_int_equal(raft_transfer(c.n[1].r, RAFT_NONE), 0);
	h_ready(&c, 1);
	assert_int_equal(h_count(&c, RAFT_MSG_TIMEOUT_NOW, 1, 3), 1);
	h_free(&c);
}

int raft_test_transfer(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_transfer_lagging),
	        cmocka_unit_test(test_transfer_abort),
	        cmocka_unit_test(test_transfer_errors),
	};
	return cmocka_run_group_tests_name("raft_transfer", tests, NULL, NULL);
}
