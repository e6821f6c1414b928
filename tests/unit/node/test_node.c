/* test_node.c: a cluster of three nodes: writes, reads, failures, restarts. */
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
#include "quorumfs/log.h"

/* Bootstrap, elect, write on the leader and through a follower, read the
 * result everywhere after a barrier. */
static void test_write_and_read_everywhere(void **state)
{
	struct cluster *c = *state;
	start_all(c);
	int leader = wait_leader(c);
	int follower = any_follower(c, leader);

	struct wire_cmd cmd = create_cmd("a", "hello");
	struct submit_wait w = submit(c, leader, &cmd);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);
	assert_true(w.res.attr.ino > FSM_ROOT_INO);
	uint64_t ino = w.res.attr.ino;

	/* Through a follower: forwarded to the leader, completed on apply. */
	struct wire_cmd wr = {.type = WIRE_CMD_WRITE,
	                      .ino = ino,
	                      .offset = 0,
	                      .flags = WIRE_WRITE_TRUNCATE,
	                      .data = "world!",
	                      .data_len = 6};
	w = submit(c, follower, &wr);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);
	assert_int_equal(w.res.attr.size, 6);
	/* Completed on the follower only once applied there: visible at once. */
	assert_file(c, follower, "a", "world!");

	/* The command's own error comes back in res.err. */
	struct wire_cmd dup = create_cmd("a", "x");
	dup.flags = WIRE_CREATE_EXCL;
	w = submit(c, follower, &dup);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, -EEXIST);

	for (int i = 0; i < N_NODES; i++) {
		assert_int_equal(barrier(c, i), 0);
		assert_file(c, i, "a", "world!");
	}
}

/* Many submits at once from every node: all complete, each exactly once,
 * and all nodes agree afterwards. */
static void test_many_concurrent_submits(void **state)
{
	struct cluster *c = *state;
	enum { PER_NODE = 40 };
	struct submit_wait w[N_NODES][PER_NODE];
	char names[N_NODES][PER_NODE][16];
	start_all(c);
	wait_leader(c);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < N_NODES; i++)
		for (int k = 0; k < PER_NODE; k++) {
			snprintf(names[i][k], sizeof(names[i][k]), "f%d-%d", i, k);
			struct wire_cmd cmd = create_cmd(names[i][k], names[i][k]);
			assert_int_equal(node_submit(c->nodes[i], &cmd, submit_done, &w[i][k]), 0);
		}
	for (int i = 0; i < N_NODES; i++)
		for (int k = 0; k < PER_NODE; k++) {
			assert_true(run_until(c, submit_finished, &w[i][k], 10000));
			assert_int_equal(w[i][k].err, 0);
			assert_int_equal(w[i][k].res.err, 0);
		}
	for (int i = 0; i < N_NODES; i++) {
		assert_int_equal(barrier(c, i), 0);
		struct fsm_statfs st;
		assert_int_equal(node_statfs(c->nodes[i], &st), 0);
		assert_int_equal(st.files, 1 + N_NODES * PER_NODE);
		assert_file(c, i, "f2-39", "f2-39");
	}
}

/* The leader stops; the other two elect and take writes; the old leader
 * restarts on its directory and catches up. */
static void test_leader_stop_and_restart(void **state)
{
	struct cluster *c = *state;
	start_all(c);
	int old = wait_leader(c);
	struct wire_cmd cmd = create_cmd("before", "1");
	assert_int_equal(submit(c, old, &cmd).err, 0);
	struct node_status st;
	node_status(c->nodes[old], &st);
	uint64_t old_term = st.term;

	stop_node(c, old);
	int leader = wait_leader(c);
	assert_int_not_equal(leader, old);
	node_status(c->nodes[leader], &st);
	assert_true(st.term > old_term);

	int follower = any_follower(c, leader);
	cmd = create_cmd("after", "2");
	struct submit_wait w = submit(c, follower, &cmd);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);

	assert_int_equal(start_node(c, old), 0);
	struct catch_up cu = {.node = old, .index = max_applied(c, old)};
	assert_true(run_until(c, caught_up, &cu, 10000));
	assert_file(c, old, "before", "1");
	assert_file(c, old, "after", "2");
	/* And it takes part again: a barrier and a write through it. */
	assert_int_equal(barrier(c, old), 0);
	cmd = create_cmd("again", "3");
	assert_int_equal(submit(c, old, &cmd).err, 0);
	assert_file(c, old, "again", "3");
}

/* Without a quorum: barriers fail with EIO, writes with EROFS or
 * ETIMEDOUT, within the commit timeout; never a hang. */
static void test_no_quorum(void **state)
{
	struct cluster *c = *state;
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);
	for (int i = 0; i < N_NODES; i++)
		if (i != f)
			stop_node(c, i);
	/* Let the survivor forget its leader. */
	run_for(c, 600);
	assert_int_equal(barrier(c, f), -EIO);
	struct wire_cmd cmd = create_cmd("lost", "x");
	struct submit_wait w = submit(c, f, &cmd);
	assert_true(w.err == -EROFS || w.err == -ETIMEDOUT);
}

/* A command beyond max_value_size is refused before it is proposed. */
static void test_efbig(void **state)
{
	struct cluster *c = *state;
	c->opts[0].max_value_size = 1024;
	assert_int_equal(start_node(c, 0), 0);
	size_t len = 64 << 10;
	char *big = calloc(1, len + 1);
	assert_non_null(big);
	memset(big, 'x', len);
	struct wire_cmd cmd = create_cmd("big", big);
	struct submit_wait w = {0};
	assert_int_equal(node_submit(c->nodes[0], &cmd, submit_done, &w), -EFBIG);
	free(big);
	run_for(c, 50);
	assert_false(w.done);
}

/* stale_reads: the barrier holds at once. */
static void test_stale_reads(void **state)
{
	struct cluster *c = *state;
	struct barrier_wait w = {0};
	c->opts[0].stale_reads = true;
	assert_int_equal(start_node(c, 0), 0);
	assert_int_equal(node_read_barrier(c->nodes[0], barrier_done, &w), 1);
	run_for(c, 50);
	assert_false(w.done);
}

/* A node with the wrong cluster key gets nothing from the cluster. */
static void test_wrong_key(void **state)
{
	struct cluster *c = *state;
	c->opts[2].cluster_key[0] ^= 0xff;
	start_all(c);
	/* Nodes 1 and 2 elect between them; node 3 never hears a leader. */
	uint64_t deadline = uv_now(&c->loop) + 10000;
	int leader = -1;
	while (leader < 0 && uv_now(&c->loop) < deadline) {
		uv_run(&c->loop, UV_RUN_ONCE);
		struct node_status st;
		node_status(c->nodes[0], &st);
		if (st.leader != 0 && st.leader != 3) {
			struct node_status sl;
			node_status(c->nodes[st.leader - 1], &sl);
			if (strcmp(sl.role, "leader") == 0)
				leader = (int)st.leader - 1;
		}
	}
	assert_true(leader == 0 || leader == 1);
	struct wire_cmd cmd = create_cmd("secret", "s");
	assert_int_equal(submit(c, leader, &cmd).err, 0);
	run_for(c, 500);
	struct node_status st;
	node_status(c->nodes[2], &st);
	assert_int_not_equal(st.leader, (uint64_t)leader + 1);
	struct fsm_attr attr;
	assert_int_equal(node_lookup(c->nodes[2], FSM_ROOT_INO, "secret", 6, &attr), -ENOENT);
	assert_true(applied_of(c, 2) < applied_of(c, leader));
}

/* Every node stops and starts again on its directory: the tree, the log
 * and the membership come back, and writes go on. */
static void test_full_restart(void **state)
{
	struct cluster *c = *state;
	start_all(c);
	int leader = wait_leader(c);
	create_many(c, leader, "one", 10);
	/* Every node has applied them before it stops... */
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(barrier(c, i), 0);
	for (int i = 0; i < N_NODES; i++)
		stop_node(c, i);
	/* ...so each has them at once after it starts, before any election. */
	start_all(c);
	for (int i = 0; i < N_NODES; i++)
		assert_file(c, i, "one-9", "one-9");
	leader = wait_leader(c);
	create_many(c, any_follower(c, leader), "two", 10);
	for (int i = 0; i < N_NODES; i++) {
		assert_int_equal(barrier(c, i), 0);
		assert_file(c, i, "two-9", "two-9");
	}
}

/* The change hook runs on every node for a change made anywhere. */
static void test_change_hook(void **state)
{
	struct cluster *c = *state;
	struct changes ch[N_NODES];
	memset(ch, 0, sizeof(ch));
	start_all(c);
	int leader = wait_leader(c);
	/* Let the bootstrap and no-op entries apply everywhere first. */
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(barrier(c, i), 0);
	for (int i = 0; i < N_NODES; i++)
		node_on_change(c->nodes[i], on_change, &ch[i]);
	struct wire_cmd cmd = create_cmd("watched", "w");
	struct submit_wait w = submit(c, leader, &cmd);
	assert_int_equal(w.err, 0);
	for (int i = 0; i < N_NODES; i++) {
		assert_true(run_until(c, change_seen, &ch[i], 10000));
		assert_int_equal(ch[i].ino, w.res.attr.ino);
		assert_int_equal(ch[i].parent, FSM_ROOT_INO);
		assert_string_equal(ch[i].name, "watched");
	}
}

/* A one-member cluster whose disk (here: its map) fills up: writes fail
 * with ENOSPC or ETIMEDOUT, never hang; the node stays up and still
 * answers reads and its status; it stops cleanly. */
static void test_disk_full(void **state)
{
	struct cluster *c = *state;
	c->opts[0].n_peers = 1;
	c->opts[0].max_map_bytes = 2u << 20;
	c->opts[0].commit_timeout_ms = 1000;
	assert_int_equal(start_node(c, 0), 0);
	assert_int_equal(wait_leader(c), 0);
	struct wire_cmd cmd = create_cmd("first", "1");
	assert_int_equal(submit(c, 0, &cmd).err, 0);

	size_t len = 256 << 10;
	char *big = malloc(len + 1);
	assert_non_null(big);
	memset(big, 'b', len);
	big[len] = '\0';
	int err = 0, k;
	for (k = 0; k < 64 && err == 0; k++) {
		char name[32];
		snprintf(name, sizeof(name), "big-%d", k);
		cmd = create_cmd(name, big);
		struct submit_wait w = submit(c, 0, &cmd);
		err = w.err;
		if (err == 0)
			assert_int_equal(w.res.err, 0);
	}
	free(big);
	assert_true(err == -ENOSPC || err == -ETIMEDOUT);
	/* Once the writer saw it, new writes are refused at once. */
	cmd = create_cmd("more", "m");
	struct submit_wait w = submit(c, 0, &cmd);
	assert_true(w.err == -ENOSPC || w.err == -ETIMEDOUT);
	assert_file(c, 0, "first", "1");
	struct node_status st;
	node_status(c->nodes[0], &st);
	assert_int_equal(st.id, 1);
}

/* node_start refuses, with a reason: a directory in use, a directory of
 * another node, a listen address in use. */
static void test_start_errors(void **state)
{
	struct cluster *c = *state;
	struct node *extra = NULL;
	char err[256] = "";
	assert_int_equal(start_node(c, 0), 0);

	/* The same directory twice. */
	assert_int_equal(node_start(&c->loop, &c->opts[0], &extra, err, sizeof(err)), QFS_EBUSY);
	assert_null(extra);
	assert_true(strlen(err) > 0);
	stop_node(c, 0);

	/* Node 2 on node 1's directory. */
	struct node_options o = c->opts[1];
	o.data_dir = c->dirs[0];
	err[0] = '\0';
	assert_int_equal(node_start(&c->loop, &o, &extra, err, sizeof(err)), QFS_EMISMATCH);
	assert_true(strlen(err) > 0);

	/* Node 2's port taken (by node 1 listening there). */
	o = c->opts[0];
	snprintf(o.peers[0].address, NODE_ADDRESS_MAX, "%s", c->opts[0].peers[1].address);
	assert_int_equal(start_node(c, 1), 0);
	err[0] = '\0';
	assert_int_equal(node_start(&c->loop, &o, &extra, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "listening"));
	/* The failed start closes its handles on the loop; running it frees
	 * them (the teardown checks the loop closes). */
	run_for(c, 50);
	/* The directory is free again. */
	assert_int_equal(start_node(c, 0), 0);
}

/* Submits through a follower while the leader goes away: retried with the
 * same serials, each command applies at most once, and each one reported
 * applied is in the file exactly once. */
static void test_exactly_once_across_leader_loss(void **state)
{
	struct cluster *c = *state;
	enum { N = 60 };
	struct submit_wait w[N];
	char data[N][8];
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);
	struct wire_cmd cmd = create_cmd("log", "");
	struct submit_wait cw = submit(c, f, &cmd);
	assert_int_equal(cw.err, 0);
	uint64_t ino = cw.res.attr.ino;

	memset(w, 0, sizeof(w));
	for (int k = 0; k < N; k++) {
		snprintf(data[k], sizeof(data[k]), "<%d>", k);
		struct wire_cmd ap = {.type = WIRE_CMD_APPEND,
		                      .ino = ino,
		                      .data = data[k],
		                      .data_len = strlen(data[k])};
		assert_int_equal(node_submit(c->nodes[f], &ap, submit_done, &w[k]), 0);
		/* Some reach the old leader and commit, some are on their
		 * way when it stops, some go out after. */
		if (k == N / 3)
			run_for(c, 2);
		if (k == N / 2)
			stop_node(c, leader);
	}
	for (int k = 0; k < N; k++) {
		assert_true(run_until(c, submit_finished, &w[k], 15000));
		assert_true(w[k].err == 0 || w[k].err == -ETIMEDOUT);
	}
	assert_int_equal(barrier(c, f), 0);
	char buf[N * 8 + 1];
	size_t got = 0;
	assert_int_equal(node_read(c->nodes[f], ino, 0, sizeof(buf) - 1, buf, &got), 0);
	buf[got] = '\0';
	int ok = 0;
	for (int k = 0; k < N; k++) {
		const char *p = strstr(buf, data[k]);
		if (p != NULL)
			assert_null(strstr(p + 1, data[k])); /* never twice */
		if (w[k].err == 0 && w[k].res.err == 0) {
			assert_non_null(p); /* reported applied: it is there */
			ok++;
		}
	}
	assert_true(ok > 0);
}

/* The status renders as JSON naming every member. */
static void test_status_json(void **state)
{
	struct cluster *c = *state;
	char buf[4096];
	start_all(c);
	int leader = wait_leader(c);
	struct node_status st;
	node_status(c->nodes[leader], &st);
	assert_int_equal(st.n_members, N_NODES);
	size_t len = node_status_json(&st, buf, sizeof(buf));
	assert_true(len < sizeof(buf));
	assert_non_null(strstr(buf, "\"role\":\"leader\""));
	assert_non_null(strstr(buf, "\"members\":[{\"id\":1,"));
}

int main(void)
{
	qfs_log_set_level(QFS_LOG_WARN);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_write_and_read_everywhere, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_many_concurrent_submits, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_leader_stop_and_restart, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_quorum, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_efbig, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stale_reads, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_full_restart, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_change_hook, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exactly_once_across_leader_loss, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
