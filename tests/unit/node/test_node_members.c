/* test_node_members.c: snapshots, membership, transfer and the admin socket of a node cluster. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "cluster.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/net.h"
#include "quorumfs/wire_admin.h"

/* Stops follower @f and lets the leader notice: once a follower has been
 * silent for an election timeout, the leader's log no longer keeps entries
 * for it (raft_config.catch_up_entries), so a snapshot can compact them. */
static void stop_and_wait_silent(struct cluster *c, int f)
{
	stop_node(c, f);
	run_until(c, never, NULL, 2 * c->opts[f].election_ms);
}

/* A follower that missed more than the log keeps is caught up with an
 * InstallSnapshot in chunks, and restarts from the installed snapshot. */
static void test_snapshot_catch_up(void **state)
{
	struct cluster *c = *state;
	for (int i = 0; i < N_NODES; i++) {
		c->opts[i].snapshot_entries = 20;
		c->opts[i].snapshot_trailing = 5;
	}
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);
	create_many(c, leader, "early", 5);
	uint64_t f_applied = applied_of(c, f);
	stop_and_wait_silent(c, f);
	create_many(c, leader, "missed", 80);
	assert_true(run_until(c, leader_snapshotted, &leader, 10000));
	/* What f lacks is gone from the leader's log: only a snapshot helps. */
	struct node_status st;
	node_status(c->nodes[leader], &st);
	assert_true(st.first_index > f_applied + 1);

	assert_int_equal(start_node(c, f), 0);
	struct changes ch = {0};
	node_on_change(c->nodes[f], on_change, &ch);
	struct catch_up cu = {.node = f, .index = max_applied(c, f)};
	assert_true(run_until(c, caught_up, &cu, 20000));
	assert_true(snapshot_of(c, f) > 0);
	/* The install said "everything changed". */
	assert_int_equal(ch.everything, 1);
	assert_file(c, f, "early-0", "early-0");
	assert_file(c, f, "missed-79", "missed-79");

	/* Restart from the installed snapshot, and keep going. */
	stop_node(c, f);
	assert_int_equal(start_node(c, f), 0);
	assert_file(c, f, "missed-79", "missed-79");
	create_many(c, f, "later", 10);
	assert_file(c, f, "later-9", "later-9");
	assert_int_equal(barrier(c, leader), 0);
	assert_file(c, leader, "later-9", "later-9");
}

/* node_snapshot takes one at once, and the log is compacted behind it. */
static void test_snapshot_on_demand(void **state)
{
	struct cluster *c = *state;
	for (int i = 0; i < N_NODES; i++)
		c->opts[i].snapshot_trailing = 2;
	start_all(c);
	int leader = wait_leader(c);
	create_many(c, leader, "s", 10);
	assert_int_equal(snapshot_of(c, leader), 0);
	assert_int_equal(node_snapshot(c->nodes[leader]), 0);
	assert_true(run_until(c, leader_snapshotted, &leader, 10000));
	struct node_status st;
	node_status(c->nodes[leader], &st);
	assert_true(st.snapshot_index >= 11);
	assert_true(st.first_index > 1);
	/* Still answers, and restarts from it. */
	stop_node(c, leader);
	assert_int_equal(start_node(c, leader), 0);
	assert_file(c, leader, "s-9", "s-9");
}

/* Creates @count files "PREFIX-K" on node @i, each @size bytes of 'a' + K. */
static void create_big(struct cluster *c, int i, const char *prefix, int count, size_t size)
{
	char *data = malloc(size + 1);
	assert_non_null(data);
	for (int k = 0; k < count; k++) {
		char name[64];
		snprintf(name, sizeof(name), "%s-%d", prefix, k);
		memset(data, 'a' + k % 26, size);
		data[size] = '\0';
		struct wire_cmd cmd = create_cmd(name, data);
		struct submit_wait w = submit(c, i, &cmd);
		assert_int_equal(w.err, 0);
	}
	free(data);
}

/* Node @i has file @name of @size bytes of @ch. */
static void assert_big(struct cluster *c, int i, const char *name, char ch, size_t size)
{
	struct fsm_attr attr;
	assert_int_equal(node_lookup(c->nodes[i], FSM_ROOT_INO, name, strlen(name), &attr), 0);
	assert_int_equal(attr.size, size);
	char *buf = malloc(size);
	assert_non_null(buf);
	size_t off = 0;
	while (off < size) {
		size_t got = 0;
		assert_int_equal(node_read(c->nodes[i], attr.ino, off, size - off, buf + off, &got), 0);
		assert_true(got > 0);
		off += got;
	}
	for (size_t k = 0; k < size; k++)
		if (buf[k] != ch)
			fail_msg("%s: byte %zu is %d, not %d", name, k, buf[k], ch);
	free(buf);
}

/* snapshot_bytes: a few large entries take a snapshot long before
 * snapshot_entries would. With log_memory far below what the stopped
 * follower missed, it catches up from entries the leader reads back from
 * its store (the log is not compacted past them: trailing_entries). */
static void test_snapshot_by_bytes(void **state)
{
	struct cluster *c = *state;
	for (int i = 0; i < N_NODES; i++) {
		c->opts[i].snapshot_entries = 1000000;
		c->opts[i].snapshot_bytes = 256 * 1024;
		c->opts[i].log_memory = 64 * 1024;
	}
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);
	stop_node(c, f);
	create_big(c, leader, "half", 4, 48 * 1024); /* 192 KiB: no snapshot yet */
	run_for(c, 200);
	assert_int_equal(snapshot_of(c, leader), 0);
	create_big(c, leader, "more", 4, 48 * 1024); /* 384 KiB in all */
	assert_true(run_until(c, leader_snapshotted, &leader, 10000));

	assert_int_equal(start_node(c, f), 0);
	struct changes ch = {0};
	node_on_change(c->nodes[f], on_change, &ch);
	struct catch_up cu = {.node = f, .index = max_applied(c, f)};
	assert_true(run_until(c, caught_up, &cu, 20000));
	assert_int_equal(ch.everything, 0); /* from entries: no install */
	assert_true(ch.calls > 0);
	assert_big(c, f, "half-0", 'a', 48 * 1024);
	assert_big(c, f, "more-3", 'a' + 3, 48 * 1024);
}

struct member_wait {
	int leader;
	uint64_t id;
	int want; /* 1: a voter, 0: gone */
};

static bool member_state(struct cluster *c, void *arg)
{
	struct member_wait *mw = arg;
	bool found;
	bool voter = is_voter(c, mw->leader, mw->id, &found);
	return mw->want ? voter : !found;
}

/* An empty node joins: added as a learner on the leader, it catches up, is
 * promoted automatically, takes writes; then it is removed again. */
static void test_join_promote_remove(void **state)
{
	struct cluster *c = *state;
	int nj = N_NODES;
	start_all(c);
	int leader = wait_leader(c);
	create_many(c, leader, "old", 5);

	assert_int_equal(start_node(c, nj), 0);
	/* Only the leader changes membership. */
	int f = any_follower(c, leader);
	assert_int_equal(node_member_change(c->nodes[f], NODE_ADD_LEARNER, nj + 1,
	                                    c->opts[nj].peers[nj].address),
	                 QFS_ENOTLEADER);
	int64_t idx = node_member_change(c->nodes[leader], NODE_ADD_LEARNER, nj + 1,
	                                 c->opts[nj].peers[nj].address);
	assert_true(idx > 0);
	assert_int_equal(node_member_change(c->nodes[leader], NODE_ADD_LEARNER, nj + 1,
	                                    c->opts[nj].peers[nj].address) < 0,
	                 1);

	struct member_wait mw = {.leader = leader, .id = nj + 1, .want = 1};
	assert_true(run_until(c, member_state, &mw, 20000));
	struct catch_up cu = {.node = nj, .index = max_applied(c, nj)};
	assert_true(run_until(c, caught_up, &cu, 10000));
	assert_file(c, nj, "old-4", "old-4");

	/* A write through the new member. */
	struct wire_cmd cmd = create_cmd("from-new", "n");
	struct submit_wait w = submit(c, nj, &cmd);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);
	assert_int_equal(barrier(c, leader), 0);
	assert_file(c, leader, "from-new", "n");

	/* And out again. */
	leader = wait_leader(c);
	if (leader == nj) {
		assert_int_equal(node_transfer(c->nodes[leader], 1), 0);
		assert_true(run_until(c, have_leader, NULL, 10000));
		leader = agreed_leader(c);
	}
	assert_true(node_member_change(c->nodes[leader], NODE_REMOVE, nj + 1, NULL) > 0);
	mw = (struct member_wait){.leader = leader, .id = nj + 1, .want = 0};
	assert_true(run_until(c, member_state, &mw, 10000));
	stop_node(c, nj);
	cmd = create_cmd("after-remove", "r");
	assert_int_equal(submit(c, leader, &cmd).err, 0);
}

/* Leadership moves to the voter asked for. */
static void test_transfer(void **state)
{
	struct cluster *c = *state;
	start_all(c);
	int leader = wait_leader(c);
	int to = any_follower(c, leader);
	assert_int_equal(node_transfer(c->nodes[to], 0), QFS_ENOTLEADER);
	assert_int_equal(node_transfer(c->nodes[leader], (uint64_t)to + 1), 0);
	uint64_t deadline = uv_now(&c->loop) + 10000;
	while (agreed_leader(c) != to && uv_now(&c->loop) < deadline)
		uv_run(&c->loop, UV_RUN_ONCE);
	assert_int_equal(agreed_leader(c), to);
	struct wire_cmd cmd = create_cmd("moved", "m");
	assert_int_equal(submit(c, leader, &cmd).err, 0);
}

/* quorumctl's side of the admin socket, on a thread of its own: the
 * blocking client must not stall the loop that serves it. */
struct admin_call {
	char path[400];
	struct wire_admin_req req;
	int rc;
	struct wire_admin_resp resp;
	atomic_int done;
};

static void *admin_thread(void *arg)
{
	struct admin_call *ac = arg;
	uint8_t buf[WIRE_ADMIN_FRAME_MAX];
	void *resp = NULL;
	size_t resp_len = 0;
	int len = wire_admin_req_encode(&ac->req, buf, sizeof(buf));
	ac->rc = len < 0 ? len
	                 : net_admin_call(ac->path, buf, (size_t)len, WIRE_ADMIN_FRAME_MAX, 10000,
	                                  &resp, &resp_len);
	if (ac->rc == 0)
		ac->rc = wire_admin_resp_decode(resp, resp_len, &ac->resp);
	free(resp);
	atomic_store(&ac->done, 1);
	return NULL;
}

static bool admin_done(struct cluster *c, void *arg)
{
	(void)c;
	return atomic_load(&((struct admin_call *)arg)->done) != 0;
}

static void admin(struct cluster *c, int i, struct admin_call *ac)
{
	pthread_t t;
	snprintf(ac->path, sizeof(ac->path), "%s/admin.sock", c->dirs[i]);
	atomic_store(&ac->done, 0);
	assert_int_equal(pthread_create(&t, NULL, admin_thread, ac), 0);
	bool ok = run_until(c, admin_done, ac, 15000);
	pthread_join(t, NULL);
	assert_true(ok);
	assert_int_equal(ac->rc, 0);
}

/* The admin socket: status of the node asked; a membership call sent to a
 * follower is carried out by the leader. */
static void test_admin_socket(void **state)
{
	struct cluster *c = *state;
	struct admin_call ac;
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);

	memset(&ac, 0, sizeof(ac));
	ac.req.op = WIRE_ADMIN_STATUS;
	admin(c, f, &ac);
	assert_int_equal(ac.resp.err, 0);
	assert_true(ac.resp.has_status);
	assert_int_equal(ac.resp.status.id, (uint64_t)f + 1);
	assert_string_equal(ac.resp.status.role, "follower");
	assert_int_equal(ac.resp.status.leader, (uint64_t)leader + 1);
	assert_int_equal(ac.resp.status.n_members, N_NODES);

	/* The core takes a membership change only once the leader has
	 * committed an entry of its term; a barrier waits for that. */
	assert_int_equal(barrier(c, leader), 0);
	memset(&ac, 0, sizeof(ac));
	ac.req.op = WIRE_ADMIN_ADD_LEARNER;
	ac.req.id = N_NODES + 1;
	snprintf(ac.req.address, sizeof(ac.req.address), "%s",
	         c->opts[N_NODES].peers[N_NODES].address);
	admin(c, f, &ac);
	assert_int_equal(ac.resp.err, 0);
	assert_true(ac.resp.index > 0);
	bool found;
	is_voter(c, leader, N_NODES + 1, &found);
	assert_true(found);

	/* Removing an unknown member fails, with the leader's error. */
	memset(&ac, 0, sizeof(ac));
	ac.req.op = WIRE_ADMIN_REMOVE;
	ac.req.id = 42;
	admin(c, f, &ac);
	assert_true(ac.resp.err == -ENOENT || ac.resp.err == QFS_EBUSY);
}

/* Flips a byte in the middle of every snapshot file of node @i. */
static void corrupt_snapshots(struct cluster *c, int i)
{
	char dir[400], path[700];
	snprintf(dir, sizeof(dir), "%s/snapshots", c->dirs[i]);
	DIR *d = opendir(dir);
	int n = 0;
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "snap-", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "r+b");
		assert_non_null(f);
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		long size = ftell(f);
		assert_true(size > 64);
		assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
		int ch = fgetc(f);
		assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
		fputc(ch ^ 0x5a, f);
		fclose(f);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

static bool submit_fails_eio(struct cluster *c, void *arg)
{
	int i = *(int *)arg;
	struct wire_cmd cmd = create_cmd("probe", "p");
	struct submit_wait w = submit(c, i, &cmd);
	return w.err == -EIO;
}

/* A storage failure stops the node from taking part (raft_fail), loudly,
 * and fails its writes with EIO; it stays up for reads; the others go on.
 * Here: the snapshot it receives is damaged and stays so: after the
 * bounded refetches (docs/daemon.md) its install fails for good. */
static void test_storage_failure(void **state)
{
	struct cluster *c = *state;
	for (int i = 0; i < N_NODES; i++) {
		c->opts[i].snapshot_entries = 20;
		c->opts[i].snapshot_trailing = 5;
		c->opts[i].commit_timeout_ms = 1000;
	}
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);
	create_many(c, leader, "early", 5);
	/* Applied on the leader is not applied on f: wait until f has them,
	 * since they are what it must still read after its failure. */
	assert_int_equal(barrier(c, f), 0);
	stop_and_wait_silent(c, f);
	create_many(c, leader, "missed", 60);
	assert_true(run_until(c, leader_snapshotted, &leader, 10000));
	corrupt_snapshots(c, leader);

	assert_int_equal(start_node(c, f), 0);
	assert_true(run_until(c, submit_fails_eio, &f, 20000));
	/* Still up: reads and status answer. */
	assert_file(c, f, "early-0", "early-0");
	struct node_status st;
	node_status(c->nodes[f], &st);
	assert_string_not_equal(st.role, "leader");
	/* The other two still make progress. */
	struct wire_cmd cmd = create_cmd("still", "s");
	assert_int_equal(submit(c, leader, &cmd).err, 0);
}

/* A member removed, wiped and added back with an empty directory: its new
 * writes apply (its client session must not be mistaken for the one it
 * had before the wipe, whose serials the cluster remembers). */
static void test_rejoin_wiped(void **state)
{
	struct cluster *c = *state;
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);
	create_many(c, f, "before", 10);
	assert_int_equal(barrier(c, leader), 0);

	assert_true(node_member_change(c->nodes[leader], NODE_REMOVE, (uint64_t)f + 1, NULL) > 0);
	struct member_wait mw = {.leader = leader, .id = (uint64_t)f + 1, .want = 0};
	assert_true(run_until(c, member_state, &mw, 10000));
	stop_node(c, f);
	remove_tree(c->dirs[f]);

	c->opts[f].join_address = c->opts[leader].peers[leader].address;
	assert_int_equal(start_node(c, f), 0);
	int64_t idx = -1;
	for (int tries = 0; tries < 100 && idx <= 0; tries++) {
		idx = node_member_change(c->nodes[leader], NODE_ADD_LEARNER, (uint64_t)f + 1,
		                         c->opts[f].peers[f].address);
		if (idx <= 0)
			run_for(c, 50); /* the removal's entry must commit first */
	}
	assert_true(idx > 0);
	mw = (struct member_wait){.leader = leader, .id = (uint64_t)f + 1, .want = 1};
	assert_true(run_until(c, member_state, &mw, 20000));

	create_many(c, f, "after", 10);
	assert_int_equal(barrier(c, leader), 0);
	for (int k = 0; k < 10; k++) {
		char name[32];
		snprintf(name, sizeof(name), "after-%d", k);
		assert_file(c, leader, name, name);
	}
}

int main(void)
{
	qfs_log_set_level(QFS_LOG_WARN);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_snapshot_catch_up, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot_on_demand, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot_by_bytes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_join_promote_remove, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_admin_socket, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_storage_failure, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rejoin_wiped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
