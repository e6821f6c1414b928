/* cluster.h: in-process clusters of real nodes for the tests of src/node. */
#ifndef QFS_TEST_NODE_CLUSTER_H
#define QFS_TEST_NODE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "quorumfs/node.h"

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

typedef bool (*pred_fn)(struct cluster *c, void *arg);

struct submit_wait {
	bool done;
	int err;
	struct fsm_result res;
};

struct barrier_wait {
	bool done;
	int err;
};

struct catch_up {
	int node;
	uint64_t index;
};

struct changes {
	int calls;
	int everything; /* calls with ino 0: the tree was replaced */
	uint64_t ino, parent;
	char name[64];
};

/* A loopback port nobody listens on, below the ephemeral range. */
uint16_t free_port(void);
/* Runs the loop until @pred holds; false after @ms milliseconds. */
bool run_until(struct cluster *c, pred_fn pred, void *arg, unsigned ms);
bool never(struct cluster *c, void *arg);
/* Runs the loop for @ms milliseconds. */
void run_for(struct cluster *c, unsigned ms);
int start_node(struct cluster *c, int i);
void stopped(void *arg);
bool flag_set(struct cluster *c, void *arg);
void stop_node(struct cluster *c, int i);
int setup(void **state);
/* Also runs after a failed test: stops what runs and removes the dirs. */
int teardown(void **state);
/* The leader all running nodes agree on, as a node index; -1 if none. */
int agreed_leader(struct cluster *c);
bool have_leader(struct cluster *c, void *arg);
int wait_leader(struct cluster *c);
void submit_done(void *arg, int err, const struct fsm_result *res);
bool submit_finished(struct cluster *c, void *arg);
/* Submits @cmd on node @i and waits for its callback. */
struct submit_wait submit(struct cluster *c, int i, const struct wire_cmd *cmd);
struct wire_cmd create_cmd(const char *name, const char *data);
void barrier_done(void *arg, int err);
bool barrier_finished(struct cluster *c, void *arg);
/* A read barrier on node @i; returns its result. */
int barrier(struct cluster *c, int i);
/* Asserts that node @i has file @name with contents @want. */
void assert_file(struct cluster *c, int i, const char *name, const char *want);
int any_follower(struct cluster *c, int leader);
uint64_t applied_of(struct cluster *c, int i);
/* The highest applied index among the running nodes but @except: a write
 * completes on the node that made it, which may apply before the leader. */
uint64_t max_applied(struct cluster *c, int except);
bool caught_up(struct cluster *c, void *arg);
void start_all(struct cluster *c);
void on_change(void *arg, uint64_t ino, uint64_t parent, const char *name, size_t len);
/* Submits @count creates named prefix-k on node @i, all at once. */
void create_many(struct cluster *c, int i, const char *prefix, int count);
uint64_t snapshot_of(struct cluster *c, int i);
bool leader_snapshotted(struct cluster *c, void *arg);
bool change_seen(struct cluster *c, void *arg);
bool is_voter(struct cluster *c, int leader, uint64_t id, bool *found);
/* Removes @path and everything under it. */
void remove_tree(const char *path);

#endif
