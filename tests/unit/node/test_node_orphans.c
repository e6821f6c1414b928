/* test_node_orphans.c: a file unlinked while open on one node stays there until its last close. */
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

/* The mount of one node, as far as the node asks: the one inode it holds
 * open, 0 for none. */
struct mount {
	uint64_t open_ino;
};

static bool is_open(void *arg, uint64_t ino)
{
	struct mount *m = arg;
	return m->open_ino != 0 && m->open_ino == ino;
}

struct gone {
	uint64_t ino;
	int node; /* -1: every running node */
};

/* Whether @g->ino is freed on the node(s): getattr gives ENOENT. */
static bool freed(struct cluster *c, void *arg)
{
	struct gone *g = arg;
	for (int i = 0; i < N_NODES; i++) {
		struct fsm_attr a;
		if (c->nodes[i] == NULL || (g->node >= 0 && g->node != i))
			continue;
		if (node_getattr(c->nodes[i], g->ino, &a) != -ENOENT)
			return false;
	}
	return true;
}

struct held_by {
	uint64_t ino;
	int only; /* the node that alone still holds it */
};

/* Every node agrees that @h->ino is an orphan held by node @only alone. */
static bool held_only_by(struct cluster *c, void *arg)
{
	struct held_by *h = arg;
	for (int i = 0; i < N_NODES; i++) {
		bool held;
		struct fsm_attr a;
		if (c->nodes[i] == NULL)
			continue;
		if (node_getattr(c->nodes[i], h->ino, &a) != 0 || a.nlink != 0)
			return false;
		for (int j = 0; j < N_NODES; j++) {
			if (c->nodes[j] == NULL)
				continue;
			assert_int_equal(node_orphan_held(c->nodes[j], h->ino, &held), 0);
			if (held != (j == h->only))
				return false;
		}
	}
	return true;
}

static uint64_t create_on(struct cluster *c, int i, const char *name, const char *data)
{
	struct wire_cmd cmd = create_cmd(name, data);
	struct submit_wait w = submit(c, i, &cmd);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);
	return w.res.attr.ino;
}

static void unlink_on(struct cluster *c, int i, const char *name)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_UNLINK,
	                       .parent = FSM_ROOT_INO,
	                       .name = name,
	                       .name_len = strlen(name)};
	struct submit_wait w = submit(c, i, &cmd);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);
}

/* Open on node A, unlinked through node B: every other node releases at
 * once, A keeps reading and writing it by number, and its last close frees
 * it on every node. */
static void test_open_unlink_then_last_close(void **state)
{
	struct cluster *c = *state;
	struct mount m = {0};
	char buf[32];
	size_t got;

	start_all(c);
	int leader = wait_leader(c);
	int a = any_follower(c, leader), b = leader;
	node_set_open_fn(c->nodes[a], is_open, &m);
	uint64_t ino = create_on(c, b, "tmp", "temp contents");
	m.open_ino = ino;
	unlink_on(c, b, "tmp");

	struct held_by h = {ino, a};
	assert_true(run_until(c, held_only_by, &h, 5000));
	/* Node A still reads and writes it by number. */
	assert_int_equal(node_read(c->nodes[a], ino, 0, sizeof(buf), buf, &got), 0);
	assert_true(got == 13 && memcmp(buf, "temp contents", 13) == 0);
	struct wire_cmd_extent e = {0, "TEMP", 4};
	struct wire_cmd wv = {.type = WIRE_CMD_WRITEV, .ino = ino, .extents = &e, .n_extents = 1};
	struct submit_wait w = submit(c, a, &wv);
	assert_true(w.err == 0 && w.res.err == 0);
	/* A release of a file with names, at a close, is harmless. */
	uint64_t other = create_on(c, a, "kept", "k");
	node_orphan_release(c->nodes[a], other);
	run_for(c, 200);
	assert_file(c, a, "kept", "k");
	assert_true(held_only_by(c, &h));

	/* The last close on A. */
	m.open_ino = 0;
	node_orphan_release(c->nodes[a], ino);
	struct gone g = {ino, -1};
	assert_true(run_until(c, freed, &g, 5000));
	struct fsm_statfs st;
	assert_int_equal(node_statfs(c->nodes[a], &st), 0);
	assert_int_equal(st.bytes, 1); /* "kept" only */
}

/* A node that crashed (stopped) with the file open releases it when it
 * starts again: it holds nothing open then. */
static void test_restart_releases(void **state)
{
	struct cluster *c = *state;
	struct mount m = {0};

	start_all(c);
	int leader = wait_leader(c);
	int a = any_follower(c, leader);
	node_set_open_fn(c->nodes[a], is_open, &m);
	uint64_t ino = create_on(c, leader, "f", "data");
	m.open_ino = ino;
	unlink_on(c, leader, "f");
	struct held_by h = {ino, a};
	assert_true(run_until(c, held_only_by, &h, 5000));

	stop_node(c, a);
	assert_int_equal(start_node(c, a), 0);
	struct gone g = {ino, -1};
	assert_true(run_until(c, freed, &g, 10000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_open_unlink_then_last_close, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_restart_releases, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
