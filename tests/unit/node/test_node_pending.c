/* test_node_pending.c: pending marks: a node marks what a durable entry touches and holds its
 * acknowledgement (on the leader, its own count) until its touch callback's ticket is done; reads
 * of a marked inode wait for the apply. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"
#include "quorumfs/errors.h"

/* A touch callback that records what it was told and holds every
 * acknowledgement (a ticket per call) until the test says done. */
struct toucher {
	int calls;
	bool saw_root;
	uint64_t ticket;
};

static uint64_t on_touch(void *arg, const uint64_t *inos, size_t n, bool all, bool names)
{
	(void)names;
	struct toucher *t = arg;
	t->calls++;
	for (size_t i = 0; i < n; i++)
		if (inos[i] == FSM_ROOT_INO)
			t->saw_root = true;
	(void)all;
	return ++t->ticket;
}

static bool touched(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct toucher *)arg)->saw_root;
}

/* Three founding members, all applied up to their no-ops; returns the
 * leader, and in *@f1, *@f2 the followers. */
static int start_three(struct cluster *c, int *f1, int *f2)
{
	/* The writes here wait, on purpose, for as long as a test holds an
	 * acknowledgement, then for an election perhaps: far from a timeout
	 * on a slow machine. */
	for (int i = 0; i < N_NODES; i++)
		c->opts[i].commit_timeout_ms = 30000;
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(start_node(c, i), 0);
	int leader = wait_leader(c);
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(barrier(c, i), 0);
	*f1 = (leader + 1) % N_NODES;
	*f2 = (leader + 2) % N_NODES;
	return leader;
}

/* The follower whose vote the leader needs marks the new file's parent
 * before it acknowledges, and the write cannot complete until the marking
 * is done: the ack waits for it (docs/daemon.md, "Pending marks"). */
static void test_ack_waits_for_marking(void **state)
{
	struct cluster *c = *state;
	int f1, f2;
	int leader = start_three(c, &f1, &f2);
	struct toucher t = {0};
	stop_node(c, f2); /* the leader now needs f1's ack for every commit */
	node_on_touch(c->nodes[f1], on_touch, &t);

	struct wire_cmd cmd = create_cmd("held", "h");
	struct submit_wait w = {0};
	assert_int_equal(node_submit(c->nodes[leader], &cmd, submit_done, &w), 0);
	assert_true(run_until(c, touched, &t, 10000));
	/* Durable on both, acknowledged by neither follower: not committed. */
	run_for(c, 600);
	assert_false(w.done);
	uint64_t before = applied_of(c, f1);

	/* A read of the marked directory on f1 waits for the apply; one of an
	 * inode nothing touches does not. */
	struct barrier_wait bw = {0};
	assert_int_equal(node_wait_pending(c->nodes[f1], FSM_ROOT_INO, barrier_done, &bw), 0);
	assert_int_equal(node_wait_pending(c->nodes[f1], 987654, barrier_done, &bw), 1);
	run_for(c, 100);
	assert_false(bw.done);

	node_touch_done(c->nodes[f1], t.ticket);
	assert_true(run_until(c, submit_finished, &w, 30000));
	assert_int_equal(w.err, 0);
	assert_true(run_until(c, barrier_finished, &bw, 30000));
	assert_int_equal(bw.err, 0);
	assert_true(applied_of(c, f1) > before);
	assert_file(c, f1, "held", "h");
	node_on_touch(c->nodes[f1], NULL, NULL);
}

/* The leader marks too (follower_lease.c, rule 8): with both followers
 * acknowledging at once, a write does not complete until the leader's own
 * ticket is done, for until then the leader's kernel may still answer the
 * old value from its cache. Without the rule two acknowledgements commit
 * it. */
static void test_leader_counts_after_marking(void **state)
{
	struct cluster *c = *state;
	for (int i = 0; i < N_NODES; i++)
		c->opts[i].follower_lease_ms = 400;
	int f1, f2;
	int leader = start_three(c, &f1, &f2);
	(void)f1;
	(void)f2;
	struct toucher t = {0};
	node_on_touch(c->nodes[leader], on_touch, &t);
	struct wire_cmd cmd = create_cmd("leader-held", "l");
	struct submit_wait w = {0};
	assert_int_equal(node_submit(c->nodes[leader], &cmd, submit_done, &w), 0);
	assert_true(run_until(c, touched, &t, 10000));
	run_for(c, 600);
	assert_false(w.done);
	node_touch_done(c->nodes[leader], t.ticket);
	assert_true(run_until(c, submit_finished, &w, 30000));
	assert_int_equal(w.err, 0);
	node_on_touch(c->nodes[leader], NULL, NULL);
}

static bool touched_twice(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct toucher *)arg)->calls >= 2;
}

static bool applied_past(struct cluster *c, void *arg)
{
	uint64_t *want = arg; /* [0] node index, [1] index */
	return applied_of(c, (int)want[0]) >= want[1];
}

/* A name that an earlier entry, not yet applied, changes may not point in
 * the tree at what a later entry changes: x is renamed to y, then y is
 * unlinked, and when the unlink is marked the tree still has x, so the
 * name y finds nothing. The unlink then marks everything, so a read of the
 * file by its inode (an fstat through an open descriptor) waits for the
 * unlink's apply once the rename is applied; without that, nothing marked
 * the file at the unlink's index and the read answered nlink 1 after the
 * unlink could complete. */
static void test_name_changed_by_pending_entry(void **state)
{
	struct cluster *c = *state;
	int f1, f2;
	int leader = start_three(c, &f1, &f2);
	struct wire_cmd mk = create_cmd("x", "v");
	assert_int_equal(submit(c, leader, &mk).err, 0);
	assert_int_equal(barrier(c, f1), 0);
	struct fsm_attr a;
	assert_int_equal(node_lookup(c->nodes[f1], FSM_ROOT_INO, "x", 1, &a), 0);
	stop_node(c, f2); /* every commit needs f1's ack */
	struct toucher t = {0};
	node_on_touch(c->nodes[f1], on_touch, &t);

	struct wire_cmd mv = {.type = WIRE_CMD_RENAME, .parent = FSM_ROOT_INO, .name = "x",
	                      .name_len = 1, .new_parent = FSM_ROOT_INO, .new_name = "y",
	                      .new_name_len = 1};
	struct wire_cmd rm = {.type = WIRE_CMD_UNLINK, .parent = FSM_ROOT_INO, .name = "y",
	                      .name_len = 1};
	struct submit_wait w1 = {0}, w2 = {0};
	uint64_t before = applied_of(c, f1);
	assert_int_equal(node_submit(c->nodes[leader], &mv, submit_done, &w1), 0);
	assert_true(run_until(c, touched, &t, 10000) || t.calls >= 1);
	assert_int_equal(node_submit(c->nodes[leader], &rm, submit_done, &w2), 0);
	assert_true(run_until(c, touched_twice, &t, 10000));

	/* The rename's acknowledgement goes: it commits and f1 applies it;
	 * the unlink's stays held, so the unlink is not applied on f1. */
	node_touch_done(c->nodes[f1], 1);
	uint64_t want[2] = {(uint64_t)f1, before + 1};
	assert_true(run_until(c, applied_past, want, 30000));
	assert_true(run_until(c, submit_finished, &w1, 30000));
	assert_int_equal(w1.err, 0);

	struct barrier_wait bw = {0};
	assert_int_equal(node_wait_pending(c->nodes[f1], a.ino, barrier_done, &bw), 0);
	node_touch_done(c->nodes[f1], t.ticket);
	assert_true(run_until(c, submit_finished, &w2, 30000));
	assert_int_equal(w2.err, 0);
	assert_true(run_until(c, barrier_finished, &bw, 30000));
	assert_int_equal(bw.err, 0);
	node_on_touch(c->nodes[f1], NULL, NULL);
}

/* Clearing the callback sends what it still held: a mount that goes away
 * never leaves its node unable to acknowledge. */
static void test_clearing_sends_held(void **state)
{
	struct cluster *c = *state;
	int f1, f2;
	int leader = start_three(c, &f1, &f2);
	struct toucher t = {0};
	stop_node(c, f2);
	node_on_touch(c->nodes[f1], on_touch, &t);
	struct wire_cmd cmd = create_cmd("released", "r");
	struct submit_wait w = {0};
	assert_int_equal(node_submit(c->nodes[leader], &cmd, submit_done, &w), 0);
	assert_true(run_until(c, touched, &t, 10000));
	run_for(c, 300);
	assert_false(w.done);
	node_on_touch(c->nodes[f1], NULL, NULL);
	assert_true(run_until(c, submit_finished, &w, 30000));
	assert_int_equal(w.err, 0);
}

/* A callback that asks for no wait (ticket 0) costs nothing: writes
 * complete as before, and nothing stays pending once applied. */
static void test_no_ticket_no_wait(void **state)
{
	struct cluster *c = *state;
	int f1, f2;
	int leader = start_three(c, &f1, &f2);
	(void)f2;
	for (int i = 0; i < 5; i++) {
		struct wire_cmd cmd = create_cmd(i % 2 ? "a" : "b", "x");
		assert_int_equal(submit(c, leader, &cmd).err, 0);
	}
	assert_int_equal(barrier(c, f1), 0);
	struct barrier_wait bw = {0};
	assert_int_equal(node_wait_pending(c->nodes[f1], FSM_ROOT_INO, barrier_done, &bw), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_ack_waits_for_marking, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_leader_counts_after_marking, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_name_changed_by_pending_entry, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_clearing_sends_held, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_ticket_no_wait, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
