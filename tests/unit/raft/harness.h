/* harness.h: 1-5 raft cores driven by hand, on the simulator's one ready loop (tests/sim). */
#ifndef QFS_TEST_RAFT_HARNESS_H
#define QFS_TEST_RAFT_HARNESS_H

/*
 * The cores run in a stepped simulator cluster (tests/sim/sim.h, o.stepped):
 * its ready loop (sim_ready.c) persists each batch on a simulated disk,
 * sends rd->msgs at once and rd->msgs_after_persist once the batch is
 * durable, applies committed entries and advances, as the trace files and
 * the random runs do: the tests implement the ready contract once. It also
 * checks each batch (hard state, log matching, durability of what a message
 * promises, apply order); any violation fails the test. The harness adds a
 * hand-driven network: messages wait in the simulator's mailbox (c->q,
 * c->nq) until delivered, and can be found, counted, dropped or cut.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorumfs/raft.h"
#include "sim.h"

#define H_MAX_NODES 5
#define H_MAX_LOG   4096

struct h_node {
	struct raft *r;
	bool up;           /* false: its messages are dropped both ways */
	bool hold_persist; /* its batches stay pending until h_persist() */
	uint64_t last_batch;
	/* Copies of the simulator's node, refreshed by every h_ call. */
	struct raft_hard_state hs; /* what its disk holds */
	raft_index applied;
	/* Seen in its batches (the ready hook). */
	uint8_t applied_types[H_MAX_LOG];
	struct raft_read_state reads[64];
	unsigned n_reads;
	bool installed; /* a snapshot was installed */
	bool keep_log;
	raft_index installed_index;
	unsigned n_append_resp_in_msgs; /* must stay 0 */
	unsigned n_vote_in_msgs;        /* real votes/grants sent "now": must stay 0 */
};

struct h_cluster {
	struct sim_cluster *sim;
	struct h_node n[H_MAX_NODES + 1]; /* n[id], ids 1..count */
	unsigned count;
	struct sim_mail *q; /* the network: the simulator's mailbox (refreshed) */
	size_t nq;
	/* Drop messages of this type (0: none). */
	int drop_type;
	/* Cut link a->b when cut[a][b]. */
	bool cut[H_MAX_NODES + 1][H_MAX_NODES + 1];
	/* Trace of all delivered messages' types (for assertions). */
	unsigned delivered[RAFT_MSG_TYPE_LAST];
};

struct raft_config h_config(raft_id id);
/* Create @count nodes, bootstrapped with @voters voters (ids 1..voters); the
 * others start empty (to be added as learners). No batch is taken yet. */
void h_init(struct h_cluster *c, unsigned count, unsigned voters);
void h_init_cfg(struct h_cluster *c, unsigned count, unsigned voters,
                void (*tweak)(struct raft_config *cfg));
void h_free(struct h_cluster *c);
/* Take every node's ready batch once; queue its messages. Returns true if any. */
bool h_ready_all(struct h_cluster *c);
/* Take node @id's batch (persist unless held, queue messages, apply). */
bool h_ready(struct h_cluster *c, raft_id id);
/* Make node @id's pending batches durable (for hold_persist). */
void h_persist(struct h_cluster *c, raft_id id);
/* Node @id takes a snapshot of its state machine at its applied index. */
void h_snapshot(struct h_cluster *c, raft_id id);
/* Deliver the queued messages once (those queued during delivery stay). */
size_t h_deliver(struct h_cluster *c);
/* Repeat ready + deliver until nothing moves (bounded). */
void h_settle(struct h_cluster *c);
void h_tick(struct h_cluster *c, raft_id id);
void h_tick_all(struct h_cluster *c, unsigned ticks);
/* Tick @id until it campaigns, then settle. */
void h_elect(struct h_cluster *c, raft_id id);
raft_id h_leader(struct h_cluster *c);
void h_isolate(struct h_cluster *c, raft_id id, bool isolated);
/* Drop queued messages. */
void h_clear_net(struct h_cluster *c);
/* Count queued messages of @type (from @from to @to; 0 = any). */
unsigned h_count(struct h_cluster *c, int type, raft_id from, raft_id to);
/* Find the first queued message matching, or NULL. */
struct sim_mail *h_find(struct h_cluster *c, int type, raft_id from, raft_id to);
/* Remove queued message @i. */
void h_remove(struct h_cluster *c, size_t i);
/* Deliver one queued message (it leaves the queue) to its target; returns
 * raft_step's result (0 if the network drops it). */
int h_deliver_one(struct h_cluster *c, struct sim_mail *m);

#endif
