/* test_node.c: in-process clusters of real nodes (one uv loop, loopback TCP, real LMDB). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/net.h"
#include "quorumfs/node.h"
#include "quorumfs/wire_admin.h"

#define N_NODES 3 /* the founding members */
#define N_SLOTS 4 /* and one that joins later */

struct cluster {
	uv_loop_t loop;
	uv_timer_t wake; /* keeps uv_run(UV_RUN_ONCE) from blocking for long */
	char base[256];
	struct node_options opts[N_SLOTS];
	char dirs[N_SLOTS][300];
	struct node *nodes[N_SLOTS];
	uint8_t key[NODE_KEY_BYTES];
	int leftover; /* handles still open after every node stopped */
};

/* ---- helpers ---------------------------------------------------------- */

/*
 * A port nobody listens on, below the kernel's ephemeral range (32768 and
 * up by default): a port taken from that range could be handed to one of
 * the nodes' own outgoing connections before the node that owns it listens.
 */
static uint16_t free_port(void)
{
	static unsigned seed;
	if (seed == 0)
		seed = (unsigned)getpid() * 2654435761u ^ (unsigned)uv_hrtime();
	for (int tries = 0; tries < 1000; tries++) {
		seed = seed * 1103515245u + 12345u;
		uint16_t port = (uint16_t)(20000 + (seed >> 8) % 12000);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_port = htons(port),
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		assert_true(fd >= 0);
		int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (rc == 0)
			return port;
	}
	fail_msg("no free port in 20000..31999");
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void on_wake(uv_timer_t *t)
{
	(void)t;
}

typedef bool (*pred_fn)(struct cluster *c, void *arg);

/* Runs the loop until @pred holds; false after @ms milliseconds. */
static bool run_until(struct cluster *c, pred_fn pred, void *arg, unsigned ms)
{
	uint64_t deadline = uv_now(&c->loop) + ms;
	while (!pred(c, arg)) {
		if (uv_now(&c->loop) >= deadline)
			return false;
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	return true;
}

static bool never(struct cluster *c, void *arg)
{
	(void)c;
	(void)arg;
	return false;
}

/* Runs the loop for @ms milliseconds. */
static void run_for(struct cluster *c, unsigned ms)
{
	run_until(c, never, NULL, ms);
}

static int start_node(struct cluster *c, int i)
{
	char err[256] = "";
	int rc = node_start(&c->loop, &c->opts[i], &c->nodes[i], err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "node_start %d: %s (%s)\n", i + 1, qfs_strerror(rc), err);
	return rc;
}

static void stopped(void *arg)
{
	*(int *)arg += 1;
}

static bool flag_set(struct cluster *c, void *arg)
{
	(void)c;
	return *(int *)arg != 0;
}

static void stop_node(struct cluster *c, int i)
{
	int done = 0;
	if (c->nodes[i] == NULL)
		return;
	node_stop(c->nodes[i], stopped, &done);
	assert_true(run_until(c, flag_set, &done, 10000));
	c->nodes[i] = NULL;
}

static int setup(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	uint16_t ports[N_SLOTS];
	assert_non_null(c);
	snprintf(c->base, sizeof(c->base), "/tmp/qfs-node-test-XXXXXX");
	assert_non_null(mkdtemp(c->base));
	assert_int_equal(uv_loop_init(&c->loop), 0);
	uv_timer_init(&c->loop, &c->wake);
	uv_timer_start(&c->wake, on_wake, 10, 10);
	for (int i = 0; i < NODE_KEY_BYTES; i++)
		c->key[i] = (uint8_t)(i * 7 + 1);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < N_SLOTS; i++) {
		bool dup;
		do {
			ports[i] = free_port();
			dup = false;
			for (int j = 0; j < i; j++)
				dup = dup || ports[j] == ports[i];
		} while (dup);
	}
	for (int i = 0; i < N_SLOTS; i++) {
		struct node_options *o = &c->opts[i];
		snprintf(c->dirs[i], sizeof(c->dirs[i]), "%s/n%d", c->base, i + 1);
		o->id = (uint64_t)i + 1;
		o->data_dir = c->dirs[i];
		o->cluster_name = "test-cluster";
		memcpy(o->cluster_key, c->key, NODE_KEY_BYTES);
		o->heartbeat_ms = 20;
		o->election_ms = 200;
		o->commit_timeout_ms = 3000;
		o->max_value_size = 1 << 20;
		o->n_peers = N_NODES;
		for (int j = 0; j < N_NODES; j++) {
			o->peers[j].id = (uint64_t)j + 1;
			snprintf(o->peers[j].address, NODE_ADDRESS_MAX, "127.0.0.1:%u", ports[j]);
		}
	}
	/* The joiner: names itself among the peers (its listen address) and
	 * never bootstraps. */
	struct node_options *j = &c->opts[N_NODES];
	j->n_peers = N_NODES + 1;
	j->peers[N_NODES].id = N_NODES + 1;
	snprintf(j->peers[N_NODES].address, NODE_ADDRESS_MAX, "127.0.0.1:%u", ports[N_NODES]);
	j->join_address = c->opts[0].peers[0].address;
	*state = c;
	return 0;
}

/* Closes what is left; counts what the nodes left open (should be none). */
static void close_walk(uv_handle_t *h, void *arg)
{
	struct cluster *c = arg;
	if (uv_is_closing(h))
		return;
	if (h != (uv_handle_t *)&c->wake)
		c->leftover++;
	uv_close(h, NULL);
}

/* Also runs after a failed test: stops what runs and removes the dirs. */
static int teardown(void **state)
{
	struct cluster *c = *state;
	for (int i = 0; i < N_SLOTS; i++)
		if (c->nodes[i] != NULL) {
			int done = 0;
			node_stop(c->nodes[i], stopped, &done);
			run_until(c, flag_set, &done, 10000);
		}
	uv_run(&c->loop, UV_RUN_NOWAIT); /* let pending close callbacks run */
	uv_walk(&c->loop, close_walk, c);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&c->loop);
	int leftover = c->leftover;
	nftw(c->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(c);
	assert_int_equal(rc, 0);
	assert_int_equal(leftover, 0);
	return 0;
}

/* The leader all running nodes agree on, as a node index; -1 if none. */
static int agreed_leader(struct cluster *c)
{
	uint64_t leader = 0, term = 0;
	int n = 0;
	for (int i = 0; i < N_NODES; i++) {
		struct node_status st;
		if (c->nodes[i] == NULL)
			continue;
		node_status(c->nodes[i], &st);
		if (st.leader == 0 || (n > 0 && (st.leader != leader || st.term != term)))
			return -1;
		leader = st.leader;
		term = st.term;
		n++;
	}
	if (n == 0 || c->nodes[leader - 1] == NULL)
		return -1;
	struct node_status st;
	node_status(c->nodes[leader - 1], &st);
	return strcmp(st.role, "leader") == 0 ? (int)leader - 1 : -1;
}

static bool have_leader(struct cluster *c, void *arg)
{
	(void)arg;
	return agreed_leader(c) >= 0;
}

static int wait_leader(struct cluster *c)
{
	assert_true(run_until(c, have_leader, NULL, 10000));
	return agreed_leader(c);
}

struct submit_wait {
	bool done;
	int err;
	struct fsm_result res;
};

static void submit_done(void *arg, int err, const struct fsm_result *res)
{
	struct submit_wait *w = arg;
	assert_false(w->done); /* exactly once */
	w->done = true;
	w->err = err;
	if (res != NULL)
		w->res = *res;
}

static bool submit_finished(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct submit_wait *)arg)->done;
}

/* Submits @cmd on node @i and waits for its callback. */
static struct submit_wait submit(struct cluster *c, int i, const struct wire_cmd *cmd)
{
	struct submit_wait w = {0};
	assert_int_equal(node_submit(c->nodes[i], cmd, submit_done, &w), 0);
	assert_false(w.done); /* never from inside the call */
	assert_true(run_until(c, submit_finished, &w, 10000));
	return w;
}

static struct wire_cmd create_cmd(const char *name, const char *data)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_CREATE,
	                       .parent = FSM_ROOT_INO,
	                       .name = name,
	                       .name_len = strlen(name),
	                       .mode = 0100644,
	                       .data = data,
	                       .data_len = strlen(data)};
	return cmd;
}

struct barrier_wait {
	bool done;
	int err;
};

static void barrier_done(void *arg, int err)
{
	struct barrier_wait *w = arg;
	assert_false(w->done);
	w->done = true;
	w->err = err;
}

static bool barrier_finished(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct barrier_wait *)arg)->done;
}

/* A read barrier on node @i; returns its result. */
static int barrier(struct cluster *c, int i)
{
	struct barrier_wait w = {0};
	int rc = node_read_barrier(c->nodes[i], barrier_done, &w);
	if (rc == 1)
		return 0;
	assert_int_equal(rc, 0);
	assert_false(w.done);
	assert_true(run_until(c, barrier_finished, &w, 10000));
	return w.err;
}

/* Asserts that node @i has file @name with contents @want. */
static void assert_file(struct cluster *c, int i, const char *name, const char *want)
{
	struct fsm_attr attr;
	char buf[256];
	size_t got = 0;
	assert_int_equal(node_lookup(c->nodes[i], FSM_ROOT_INO, name, strlen(name), &attr), 0);
	assert_int_equal(attr.size, strlen(want));
	assert_int_equal(node_read(c->nodes[i], attr.ino, 0, sizeof(buf), buf, &got), 0);
	assert_int_equal(got, strlen(want));
	assert_memory_equal(buf, want, got);
}

static int any_follower(struct cluster *c, int leader)
{
	for (int i = 0; i < N_NODES; i++)
		if (i != leader && c->nodes[i] != NULL)
			return i;
	return -1;
}

static uint64_t applied_of(struct cluster *c, int i)
{
	struct node_status st;
	node_status(c->nodes[i], &st);
	return st.applied;
}

/* The highest applied index among the running nodes but @except: a write
 * completes on the node that made it, which may apply before the leader. */
static uint64_t max_applied(struct cluster *c, int except)
{
	uint64_t m = 0;
	for (int i = 0; i < N_SLOTS; i++)
		if (i != except && c->nodes[i] != NULL && applied_of(c, i) > m)
			m = applied_of(c, i);
	return m;
}

struct catch_up {
	int node;
	uint64_t index;
};

static bool caught_up(struct cluster *c, void *arg)
{
	struct catch_up *cu = arg;
	return applied_of(c, cu->node) >= cu->index;
}

static void start_all(struct cluster *c)
{
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(start_node(c, i), 0);
}

/* ---- tests ------------------------------------------------------------ */

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

struct changes {
	int calls;
	int everything; /* calls with ino 0: the tree was replaced */
	uint64_t ino, parent;
	char name[64];
};

static void on_change(void *arg, uint64_t ino, uint64_t parent, const char *name, size_t len)
{
	struct changes *ch = arg;
	ch->calls++;
	if (ino == 0)
		ch->everything++;
	ch->ino = ino;
	ch->parent = parent;
	snprintf(ch->name, sizeof(ch->name), "%.*s", (int)len, name ? name : "");
}

/* Submits @count creates named prefix-k on node @i, all at once. */
static void create_many(struct cluster *c, int i, const char *prefix, int count)
{
	struct submit_wait *w = calloc((size_t)count, sizeof(*w));
	char name[32];
	assert_non_null(w);
	for (int k = 0; k < count; k++) {
		snprintf(name, sizeof(name), "%s-%d", prefix, k);
		struct wire_cmd cmd = create_cmd(name, name);
		assert_int_equal(node_submit(c->nodes[i], &cmd, submit_done, &w[k]), 0);
	}
	for (int k = 0; k < count; k++) {
		assert_true(run_until(c, submit_finished, &w[k], 10000));
		assert_int_equal(w[k].err, 0);
		assert_int_equal(w[k].res.err, 0);
	}
	free(w);
}

static uint64_t snapshot_of(struct cluster *c, int i)
{
	struct node_status st;
	node_status(c->nodes[i], &st);
	return st.snapshot_index;
}

static bool leader_snapshotted(struct cluster *c, void *arg)
{
	return snapshot_of(c, *(int *)arg) > 0;
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
	stop_node(c, f);
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

static bool change_seen(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct changes *)arg)->calls > 0;
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

static bool is_voter(struct cluster *c, int leader, uint64_t id, bool *found)
{
	struct node_status st;
	node_status(c->nodes[leader], &st);
	*found = false;
	for (unsigned i = 0; i < st.n_members; i++)
		if (st.members[i].id == id) {
			*found = true;
			return st.members[i].voter;
		}
	return false;
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
 * Here: the snapshot it receives is damaged, so its install fails. */
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
	stop_node(c, f);
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
	        cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot_catch_up, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_full_restart, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_change_hook, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_join_promote_remove, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_snapshot_on_demand, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_admin_socket, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_storage_failure, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_exactly_once_across_leader_loss, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
