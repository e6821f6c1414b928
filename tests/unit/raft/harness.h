/* harness.h: a tiny in-test cluster of raft cores with a hand-driven message shuttle. */
#ifndef QFS_TEST_RAFT_HARNESS_H
#define QFS_TEST_RAFT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorumfs/raft.h"

#define H_MAX_NODES 5
#define H_MAX_LOG   4096

/* A message in flight, deep-copied out of a ready batch. */
struct h_msg {
	struct raft_message m;
	struct raft_entry *entries; /* owned copies */
	void *chunk;                /* owned */
	void *conf;                 /* owned */
	bool after_persist;         /* came from msgs_after_persist */
};

struct h_node {
	struct raft *r;
	bool up;           /* false: its messages are dropped both ways */
	bool hold_persist; /* do not call raft_persisted(): test controls it */
	uint64_t last_batch;
	/* What the "disk" holds. */
	struct raft_hard_state hs;
	struct raft_entry log[H_MAX_LOG]; /* log[i] has index i; data not kept */
	raft_index log_last;
	/* Applied. */
	raft_index applied;
	uint8_t applied_types[H_MAX_LOG];
	/* Reads answered. */
	struct raft_read_state reads[64];
	unsigned n_reads;
	/* Snapshot: the state machine bytes this node "has" (for chunks it sends). */
	uint8_t snap_data[4096];
	uint64_t snap_size;
	uint8_t staged[4096];
	uint64_t staged_len;
	bool installed;
	bool keep_log;
	raft_index installed_index;
	/* Counters of what was seen in batches. */
	unsigned n_append_resp_in_msgs; /* must stay 0 */
	unsigned n_vote_in_msgs;        /* real votes/grants sent "now": must stay 0 */
};

struct h_cluster {
	struct h_node n[H_MAX_NODES + 1]; /* n[id], ids 1..count */
	unsigned count;
	struct h_msg *q; /* the network */
	size_t nq, capq;
	/* Drop messages of this type (0: none). */
	int drop_type;
	/* Cut link a<->b when cut[a][b]. */
	bool cut[H_MAX_NODES + 1][H_MAX_NODES + 1];
	/* Trace of all delivered messages' types (for assertions). */
	unsigned delivered[RAFT_MSG_TYPE_LAST];
};

struct raft_config h_config(raft_id id);
/* Create @count nodes, bootstrapped with @voters voters (ids 1..voters); the
 * others start empty (to be added as learners). */
void h_init(struct h_cluster *c, unsigned count, unsigned voters);
void h_init_cfg(struct h_cluster *c, unsigned count, unsigned voters,
                void (*tweak)(struct raft_config *cfg));
void h_free(struct h_cluster *c);
/* Take every node's ready batch once; queue its messages. Returns true if any. */
bool h_ready_all(struct h_cluster *c);
/* Take node @id's batch (persist, queue messages, apply). */
bool h_ready(struct h_cluster *c, raft_id id);
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
struct h_msg *h_find(struct h_cluster *c, int type, raft_id from, raft_id to);
/* Remove queued message @i. */
void h_remove(struct h_cluster *c, size_t i);
/* Deliver one message directly to its target. */
int h_deliver_one(struct h_cluster *c, struct h_msg *m);
void h_msg_free(struct h_msg *m);

#endif
