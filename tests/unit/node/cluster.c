/* cluster.c: in-process clusters of real nodes (one uv loop, loopback TCP, real LMDB). */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
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

#include "cluster.h"
#include "quorumfs/errors.h"

/*
 * A port nobody listens on, below the kernel's ephemeral range (32768 and
 * up by default): a port taken from that range could be handed to one of
 * the nodes' own outgoing connections before the node that owns it listens.
 */
uint16_t free_port(void)
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

void remove_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_wake(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until @pred holds; false after @ms milliseconds. */
bool run_until(struct cluster *c, pred_fn pred, void *arg, unsigned ms)
{
	uint64_t deadline = uv_now(&c->loop) + ms;
	while (!pred(c, arg)) {
		if (uv_now(&c->loop) >= deadline)
			return false;
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	return true;
}

bool never(struct cluster *c, void *arg)
{
	(void)c;
	(void)arg;
	return false;
}

/* Runs the loop for @ms milliseconds. */
void run_for(struct cluster *c, unsigned ms)
{
	run_until(c, never, NULL, ms);
}

int start_node(struct cluster *c, int i)
{
	char err[256] = "";
	int rc = node_start(&c->loop, &c->opts[i], &c->nodes[i], err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "node_start %d: %s (%s)\n", i + 1, qfs_strerror(rc), err);
	return rc;
}

void stopped(void *arg)
{
	*(int *)arg += 1;
}

bool flag_set(struct cluster *c, void *arg)
{
	(void)c;
	return *(int *)arg != 0;
}

void stop_node(struct cluster *c, int i)
{
	int done = 0;
	if (c->nodes[i] == NULL)
		return;
	node_stop(c->nodes[i], stopped, &done);
	assert_true(run_until(c, flag_set, &done, 10000));
	c->nodes[i] = NULL;
}

int setup(void **state)
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
int teardown(void **state)
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
int agreed_leader(struct cluster *c)
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

bool have_leader(struct cluster *c, void *arg)
{
	(void)arg;
	return agreed_leader(c) >= 0;
}

int wait_leader(struct cluster *c)
{
	assert_true(run_until(c, have_leader, NULL, 10000));
	return agreed_leader(c);
}

void submit_done(void *arg, int err, const struct fsm_result *res)
{
	struct submit_wait *w = arg;
	assert_false(w->done); /* exactly once */
	w->done = true;
	w->err = err;
	if (res != NULL)
		w->res = *res;
}

bool submit_finished(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct submit_wait *)arg)->done;
}

/* Submits @cmd on node @i and waits for its callback. */
struct submit_wait submit(struct cluster *c, int i, const struct wire_cmd *cmd)
{
	struct submit_wait w = {0};
	assert_int_equal(node_submit(c->nodes[i], cmd, submit_done, &w), 0);
	assert_false(w.done); /* never from inside the call */
	assert_true(run_until(c, submit_finished, &w, 10000));
	return w;
}

struct wire_cmd create_cmd(const char *name, const char *data)
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

void barrier_done(void *arg, int err)
{
	struct barrier_wait *w = arg;
	assert_false(w->done);
	w->done = true;
	w->err = err;
}

bool barrier_finished(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct barrier_wait *)arg)->done;
}

/* A read barrier on node @i; returns its result. */
int barrier(struct cluster *c, int i)
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
void assert_file(struct cluster *c, int i, const char *name, const char *want)
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

int any_follower(struct cluster *c, int leader)
{
	for (int i = 0; i < N_NODES; i++)
		if (i != leader && c->nodes[i] != NULL)
			return i;
	return -1;
}

uint64_t applied_of(struct cluster *c, int i)
{
	struct node_status st;
	node_status(c->nodes[i], &st);
	return st.applied;
}

/* The highest applied index among the running nodes but @except: a write
 * completes on the node that made it, which may apply before the leader. */
uint64_t max_applied(struct cluster *c, int except)
{
	uint64_t m = 0;
	for (int i = 0; i < N_SLOTS; i++)
		if (i != except && c->nodes[i] != NULL && applied_of(c, i) > m)
			m = applied_of(c, i);
	return m;
}

bool caught_up(struct cluster *c, void *arg)
{
	struct catch_up *cu = arg;
	return applied_of(c, cu->node) >= cu->index;
}

void start_all(struct cluster *c)
{
	for (int i = 0; i < N_NODES; i++)
		assert_int_equal(start_node(c, i), 0);
}

void on_change(void *arg, uint64_t ino, uint64_t parent, const char *name, size_t len)
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
void create_many(struct cluster *c, int i, const char *prefix, int count)
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

uint64_t snapshot_of(struct cluster *c, int i)
{
	struct node_status st;
	node_status(c->nodes[i], &st);
	return st.snapshot_index;
}

bool leader_snapshotted(struct cluster *c, void *arg)
{
	return snapshot_of(c, *(int *)arg) > 0;
}

bool change_seen(struct cluster *c, void *arg)
{
	(void)c;
	return ((struct changes *)arg)->calls > 0;
}

bool is_voter(struct cluster *c, int leader, uint64_t id, bool *found)
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
