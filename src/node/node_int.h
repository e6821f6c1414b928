/* node_int.h: the daemon's internal state, shared by the files of src/node. */
#ifndef QUORUMFS_NODE_INT_H
#define QUORUMFS_NODE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "quorumfs/fsm.h"
#include "quorumfs/log.h"
#include "quorumfs/net.h"
#include "quorumfs/node.h"
#include "quorumfs/raft.h"
#include "quorumfs/store.h"

/* Bytes a command may take beyond max_value_size (names, header, attrs). */
#define NODE__CMD_OVERHEAD (16u << 10)

/* An encoded frame held for a peer until its batch is durable. */
struct node__msg {
	raft_id to;
	void *frame; /* from net_frame_alloc(); owned until sent or freed */
	size_t len;
};

/* One committed entry handed to the writer, and what applying it gave. */
struct node__apply {
	uint64_t index;
	uint8_t type;
	void *data; /* owned copy of the entry's bytes */
	size_t len;
	/* Set by the writer: */
	bool applied;          /* false: it was applied before (index <= fsm.applied) */
	struct fsm_result res; /* NORMAL entries */
	bool verify;           /* a WIRE_CMD_VERIFY: @hash is the tree's as of @index */
	uint8_t hash[16];
};

/*
 * One ready batch, copied out of the core (everything in it is owned), as
 * the writer thread persists and applies it and the loop completes it.
 * Invariant: batches reach the writer, and come back, in the order of @id.
 */
struct node__batch {
	struct node__batch *next;
	uint64_t id;
	bool hs_changed;
	struct store_hard_state hs;
	struct store_entry *entries; /* data of each is its own malloc */
	unsigned n_entries;
	struct raft_snapshot_chunk *chunks; /* data owned */
	unsigned n_chunks;
	bool install;
	struct raft_snapshot_meta install_meta;
	bool keep_log;
	struct node__apply *apply;
	unsigned n_apply;
	struct node__msg *held; /* msgs_after_persist, encoded */
	unsigned n_held;
	uint64_t gen; /* the node's core_gen when the core made this batch */
	int err;      /* set by the writer: 0, or why the batch could not be stored */
	/* Set by the writer: not written, because this batch's snapshot (or
	 * one before it of the same core) failed its checks (@why says which). */
	bool discarded;
	char why[160];
	/* Set by the writer at an install: this node's session in the
	 * installed tree (its last serial applied, and the result). */
	bool sess_found;
	uint64_t sess_serial;
	struct fsm_result sess_res;
};

/* The writer thread: persists and applies batches off the loop. All fields
 * below the mutex are shared and guarded by it. */
struct node__writer {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct node__batch *queue, *queue_tail; /* loop -> writer */
	struct node__batch *done, *done_tail;   /* writer -> loop */
	bool busy;                              /* a store_write is running */
	bool stop;           /* node_stop: finish the write in progress, then exit */
	bool disk_full;      /* the last attempt failed with -ENOSPC; retrying */
	int fatal;           /* a storage failure other than ENOSPC; writer stopped */
	char fatal_msg[256]; /* the failing layer's own message for @fatal, or "" */
	uint64_t compact_to; /* the loop asks: compact the stored log up to here */
	/* ... and then delete the older snapshot files but these, which
	 * transfers in progress still read (raft_snapshots_in_use()). */
	uint64_t keep_snaps[RAFT_MAX_SERVERS + 1];
	unsigned n_keep_snaps;
	bool prune_request;
	bool snap_request; /* the loop asks: take a snapshot now */
	/* A snapshot the writer wrote, for the loop to report to the core. */
	bool snap_ready;
	uint64_t snap_index, snap_size;
	/* A staged snapshot failed its checks: the writer waits, doing
	 * nothing, until the loop has rebuilt the core from the store
	 * (node__snapshot_refetch), and then drops the batches of every core
	 * generation up to @discard_gen unwritten. */
	bool parked;
	uint64_t discard_gen;

	/* Writer-thread-only state. */
	uint64_t applied;         /* fsm.applied as of the last commit */
	struct raft_conf conf;    /* the configuration as of @applied */
	uint64_t conf_index;      /* where it came from (0: none yet) */
	uint64_t last_snap_index; /* the newest snapshot file's index */
	uint64_t applied_bytes;   /* entry bytes applied since the process started */
	uint64_t snap_bytes_mark; /* applied_bytes when the last snapshot was taken */
	uint64_t compacted;       /* stored log compacted up to here */
	bool tree_failed;         /* the last store_write failed in the tree, not the store */
	char errmsg[256];         /* the failing layer's message for the last failed write */
	uv_async_t async;         /* wakes the loop on completions */
};

/* A node_submit() waiting for its command to apply here. */
struct node__submit {
	struct node__submit *next, *prev;
	uint64_t serial;
	void *buf; /* the encoded command (client id and serial inside) */
	size_t len;
	node_result_fn cb;
	void *arg;
	uint64_t deadline;  /* uv_now() + commit timeout */
	uint64_t born_ns;   /* uv_hrtime() at node_submit, for the commit latency */
	uint64_t resend_at; /* resend while in flight (a lost frame) */
	bool sent;          /* proposed or forwarded at least once */
	bool in_flight;     /* proposed or forwarded to the current leader */
	bool at_commit_ok;  /* NODE_SUBMIT_AT_COMMIT: its caller reads only res->err */
	bool at_commit;     /* answered at commit (done_err 0): @cb gets a zeroed result */
	int done_err;       /* for a completion deferred to the check callback */
};

/*
 * What the node knows when an entry is committed, for answering it then
 * (answer.c). The tree is the one last applied; the entries between it and
 * this one are committed and not yet applied.
 */
struct node__commit_view {
	uint64_t max_value_size; /* the apply's EFBIG bound */
	bool removal_pending;    /* an earlier entry not yet applied may remove or retype an inode */
	bool serial_unknown;     /* a snapshot install may have skipped this client's serials */
	uint64_t last_serial;    /* this client's highest serial committed before this entry */
	bool file_exists;        /* the tree has the command's inode ... */
	uint32_t file_mode;      /* ... with this mode */
};

/* answer.c */
/* Whether applying an entry of raft @type and @data can neither remove an
 * inode nor change its type. Pure. */
bool node__entry_keeps_inodes(uint8_t type, const void *data, size_t len);
/* Whether @c, committed, has a result fixed already given @v: then it may be
 * answered before it is applied (answer.c says why). Pure. */
bool node__answer_at_commit(const struct wire_cmd *c, const struct node__commit_view *v);

/* A node_read_barrier() waiting for a read index and then for apply. */
struct node__barrier {
	struct node__barrier *next;
	node_done_fn cb;
	void *arg;
	uint64_t deadline;
	uint64_t floor; /* node.answered_upto when it was made: applied must reach it too */
	uint64_t ctx;      /* the ReadIndex round it waits on; 0: none yet */
	uint64_t asked_at; /* when that round started */
	bool have_index;
	uint64_t index;
	int result; /* what to report, once taken off the list */
};

/* invalidate.c */
struct node__pend {
	uint64_t ino;
	uint64_t index;
};
/* Inodes (or directories) with the highest index of an entry durable here
 * but not applied that names each; @all: any inode, up to that index (when
 * the list is full). */
struct node__marks {
	struct node__pend *v;
	size_t n, cap;
	uint64_t all;
};

struct node {
	uv_loop_t *loop;
	struct node_options opts; /* strings point into the copies below */
	char *data_dir, *cluster_name, *join_address;
	char self_address[NODE_ADDRESS_MAX];
	/* The node's clock (node__now_us): uv_hrtime() scaled by clock_rate from clock_base.
	 * clock_rate is 1 except under the test-only QFS_TEST_CLOCK_RATE (docs/testing.md). */
	double clock_rate;
	uint64_t clock_base; /* uv_hrtime() at start */

	struct store *store;
	struct fsm *fsm;
	struct raft *raft;
	struct raft_config raft_cfg; /* what the core was made with, to make it again */
	uint64_t core_gen;           /* counts the cores made: a rebuilt core has new batch ids */
	unsigned snap_rejects;       /* snapshots that failed their checks since the last install */
	bool refetch_pending;        /* the core is made again at refetch_at (uv_now() ms) */
	uint64_t refetch_at;
	struct net *net;
	struct net_admin *admin;
	struct node__writer w;

	uv_timer_t tick;
	uv_check_t check;
	uv_idle_t idle; /* keeps the loop from blocking while work is pending */
	unsigned handles_open;

	uint64_t applied;        /* the loop's view: last index the writer applied */
	/* Answers at commit (submit.c, answer.c), all in the order the core
	 * hands out committed entries: */
	uint64_t answered_upto; /* highest index answered before its apply; reads wait for it */
	uint64_t removal_upto;  /* highest committed index that may remove an inode */
	uint64_t commit_serial; /* highest serial of client_id seen committed */
	uint64_t serial_floor;  /* serials below were outstanding at a snapshot install */
	uint64_t snapshot_index; /* the loop's view: the newest snapshot reported */
	raft_id leader;          /* last leader seen, to notice changes */
	uint64_t in_contact_at; /* uv_now() when this node last knew a leader in contact
	                           with a quorum (node_writable) */
	raft_term term;
	struct raft_conf peers; /* the members the transport dials */
	/* Members of peers no longer in the latest configuration: each is
	 * dropped once the commit index reaches at (peers.c says why). */
	struct node__leaving {
		raft_id id;
		raft_index at;
	} leaving[RAFT_MAX_SERVERS];
	unsigned n_leaving;

	uint64_t client_id;
	uint64_t next_serial;
	struct node__submit submits;   /* list head (circular) */
	struct node__submit *finished; /* completions to run from the check */
	struct node__barrier *barriers;
	bool barriers_new; /* some barrier waits for a ReadIndex round */
	uint64_t read_ctx;

	/* When this node last heard from each peer (uv_now() ms; any frame),
	 * for node_status(): kept across role changes, unlike the core's
	 * progress, which a new leader starts afresh. */
	struct {
		raft_id id;
		uint64_t at;
	} heard[NODE_MAX_PEERS];
	/* The cross-replica check (verify.c). */
	uint64_t verify_index, verify_mismatches;
	uint64_t verify_next; /* uv_now() when the leader proposes the next check; 0: unset */
	struct {
		uint64_t index;
		uint8_t hash[16];
	} verify_own[8]; /* this node's hashes of the last checks, a ring */
	unsigned verify_own_next;
	struct {
		raft_id from;
		uint64_t index;
		uint8_t hash[16];
	} verify_wait[32]; /* reports that came before this node hashed their index */

	/* Role hooks (hooks.c): the commands (NULL: none), the role and leader
	 * last reported to them (hook_role -1: none yet), the hooks running. */
	char *on_leader, *on_follower;
	int hook_role;
	raft_id hook_leader;
	struct node__hook *hooks;

	node_change_fn change_fn;
	void *change_arg;

	/* Pending marks (invalidate.c): inodes touched by entries durable
	 * here but not applied, with the highest such index; pend.all: an
	 * entry up to this index may touch anything. Pruned as applied grows. */
	struct node__marks pend;
	/* Directories a rename or link durable here but not applied may move
	 * an existing inode into (ino: the directory), with the highest such
	 * index (invalidate.c). */
	struct node__marks moves;
	node_touch_fn touch_fn;
	void *touch_arg;
	/* Messages held for a touch ticket, oldest first; later batches queue
	 * behind them so that no ack overtakes an earlier one's marking. */
	struct node__held *held_head, *held_tail;
	/* A batch whose hold could not be allocated (its messages were
	 * dropped): counted persisted once its ticket is done (invalidate.c). */
	uint64_t orphan_id, orphan_ticket;

	/* Releases of orphans (orphans.c): a sweep is wanted, one release is
	 * in flight, no sweep before uv_now() reaches retry_at. */
	node_open_fn open_fn;
	void *open_arg;
	bool orphans_wanted, orphans_busy;
	uint64_t orphans_retry_at;

	struct node__coord *coord; /* this node's session, lock requests (coord.c) */

	uint64_t snapshot_every; /* applied entries between snapshots */
	uint64_t snapshot_bytes; /* or applied entry bytes between them (0: no bound) */
	size_t log_memory;       /* entry bytes the core keeps in memory (raft_log_release) */
	uint64_t promote_at;     /* next time the leader tries to promote learners */
	/* Parked `quorumctl wait` calls (keys.c), and how many. */
	struct key_op *key_waits;
	unsigned key_n_waits;
	/* TTL expiries proposed by this leader since its last scan (keys.c). */
	uint64_t ttl_next_scan;
	unsigned ttl_n;
	struct {
		uint64_t ino, version;
	} ttl_sent[64];
	/* The one admin call forwarded to the leader and not yet answered. */
	bool admin_fwd;
	uint64_t admin_fwd_conn, admin_fwd_deadline;
	char log_source[32]; /* "node ID", the source of node__log()'s lines */
	bool failed;         /* storage failure: raft_fail() was called */
	bool stopping;
	void (*stop_cb)(void *);
	void *stop_arg;
};

/* submit.c: the leader heard from a majority recently (node_writable). */
void node__contact_on_tick(struct node *n);

/* node.c */
/* Loads what is durable into the fresh core n->raft (node_start, and a
 * core rebuilt after a bad snapshot, the writer then parked). */
int node__recover(struct node *n, char *err, size_t errlen);
/* The node layer's one logging call: a line whose source is "node ID" (see
 * quorumfs/log.h). Any thread: log_source is set once, at start. */
#define node__log(n, level, ...) qfs_logs(level, (n)->log_source, __VA_ARGS__)
void node__kick(struct node *n);
/* The node's monotonic clock in microseconds, read now (not the loop's cached
 * time). Every time the core and the tick timer see passes through here, so a
 * test can run one daemon's clock fast or slow (QFS_TEST_CLOCK_RATE). */
static inline uint64_t node__now_us(const struct node *n)
{
	uint64_t t = uv_hrtime();
	if (n->clock_rate == 1.0)
		return t / 1000;
	return (n->clock_base + (uint64_t)((double)(t - n->clock_base) * n->clock_rate)) / 1000;
}

/* Gives the core the time right before an input that may take a lease read. */
static inline void node__raft_now(struct node *n)
{
	raft_set_now(n->raft, node__now_us(n));
}

/* driver.c: the ready loop. */
void node__drive(struct node *n);
/* The node stops voting and leading, loudly (@msg: the failing layer's own
 * message, or ""); waiting submits and barriers fail with -EIO. */
void node__storage_failed(struct node *n, int err, const char *msg);
void node__on_tick(struct node *n);

/* writer.c */
int node__writer_start(struct node *n);
void node__writer_push(struct node *n, struct node__batch *b);
void node__writer_stop(struct node *n);
void node__batch_free(struct node__batch *b);
bool node__writer_idle(struct node *n);
void node__writer_completions(uv_async_t *a);
/* After a snapshot: compact the stored log up to @upto (if it moved), and
 * delete the older snapshot files but the @n_keep in @keep. */
void node__writer_request_compact(struct node *n, uint64_t upto, const uint64_t *keep,
                                  unsigned n_keep);
void node__writer_request_snapshot(struct node *n);

/* orphans.c */
void node__orphans_sweep(struct node *n);
void node__orphans_want(struct node *n);
void node__orphans_on_applied(struct node *n, const struct node__apply *a);

/* submit.c */
void node__submits_on_applied(struct node *n, const struct node__apply *a);
/* A ready batch's committed entries (and install), before the writer has
 * them: answers the submits whose outcome is fixed already. */
void node__submits_on_committed(struct node *n, const struct node__batch *b);
void node__submits_on_install(struct node *n, uint64_t serial, const struct fsm_result *res);
void node__submits_on_tick(struct node *n);
void node__submits_on_leader_change(struct node *n);
void node__submits_fail_all(struct node *n, int err);
void node__submits_run_finished(struct node *n);
void node__forward_recv(struct node *n, raft_id from, const void *frame, size_t len);
void node__forward_result_recv(struct node *n, raft_id from, const void *frame, size_t len);

/* invalidate.c */
struct node__held {
	struct node__held *next;
	uint64_t ticket;
	uint64_t persisted_id; /* raft_persisted() of this batch, once released */
	struct node__msg *msgs; /* owned */
	unsigned n;
};
/* Mark what the durable entries of @b touch, then count @b persisted and
 * send its messages, or hold both until the caches dropped what the marks
 * name: the hook between persistence and the acknowledgement. */
void node__pending_on_persisted(struct node *n, struct node__batch *b);
/* Drop the marks @n->applied covers. */
void node__pending_prune(struct node *n);
void node__pending_free(struct node *n);

/* barrier.c */
void node__barriers_flush(struct node *n);
void node__barriers_on_reads(struct node *n, const struct raft_read_state *rs, unsigned nr);
void node__barriers_serve(struct node *n);
void node__barriers_on_tick(struct node *n);
void node__barriers_fail_all(struct node *n, int err);

/* peers.c */
int node__net_start(struct node *n);
void node__send_msg(struct node *n, const struct raft_message *m);
int node__encode_msg(struct node *n, const struct raft_message *m, struct node__msg *out);
void node__send_encoded(struct node *n, struct node__msg *m);
void node__peers_update(struct node *n, const struct raft_conf *conf);
/* Drops the members that left once their removal is committed. */
void node__peers_sweep(struct node *n);

/* snapshot.c */
int node__snapshot_dir(const struct node *n, char *buf, size_t len);
int node__snapshot_path(const struct node *n, const char *kind, uint64_t index, char *buf,
                        size_t len);
int node__snapshot_read_chunk(struct node *n, uint64_t index, uint64_t offset, void *buf,
                              size_t len);
int node__snapshot_stage(struct node *n, const struct raft_snapshot_chunk *c);
int node__snapshot_take(struct node *n, uint64_t *index, uint64_t *size);
void node__snapshot_installed(struct node *n, uint64_t index);
/* On the writer: whether the staged file of the snapshot @m passes its
 * checks (there, @m->size bytes, a verified stream of index @m->index).
 * Returns 0, or an error and a line saying why in @why. */
int node__snapshot_check(struct node *n, const struct raft_snapshot_meta *m, char *why, size_t len);
/* On the loop, for a batch the writer discarded because its snapshot
 * failed its checks: drop the staged file and, K election timeouts later
 * at the K-th attempt in a row (node__snapshot_refetch_due, from the tick),
 * make the core again from what is stored (as a restart would), so the
 * leader sends the snapshot again, and let the writer go on. After
 * NODE__SNAPSHOT_RETRIES in a row, a storage failure instead. */
#define NODE__SNAPSHOT_RETRIES 5
void node__snapshot_refetch(struct node *n, const struct node__batch *b);
void node__snapshot_refetch_due(struct node *n);
/* Deletes the snapshot files older than @newest, except the @n_keep in @keep. */
void node__snapshot_prune(struct node *n, uint64_t newest, const uint64_t *keep, unsigned n_keep);

/* coord.c */
struct node__coord;
int node__coord_start(struct node *n);
void node__coord_stop(struct node *n);
void node__coord_free(struct node *n);
void node__coord_on_tick(struct node *n);
void node__coord_on_applied(struct node *n, const struct node__apply *a);
void node__coord_on_install(struct node *n);

/* members.c */
int node__raft_error(int err);
void node__members_on_tick(struct node *n);

/* verify.c */
/* In the writer's transaction: hash the tree as of @txn (BLAKE2b, 16 bytes). */
int node__verify_hash(struct node *n, MDB_txn *txn, uint8_t hash[16]);
void node__verify_on_applied(struct node *n, const struct node__apply *a);
void node__verify_recv(struct node *n, raft_id from, const void *frame, size_t len);
void node__verify_on_tick(struct node *n);

/* hooks.c */
struct node__hook;
void node__hooks_on_soft_state(struct node *n);
void node__hooks_stop(struct node *n);
/* node.c: one more handle of node_stop's count has closed. */
void node__closed_one(struct node *n);

/* keys.c: the key calls. node__keys_admin returns false if @frame is not one. */
struct key_op;
bool node__keys_admin(struct node *n, uint64_t conn, const void *frame, size_t len);
void node__keys_on_applied(struct node *n);
void node__keys_on_tick(struct node *n);
void node__keys_stop(struct node *n);

/* admin.c */
void node__heard(struct node *n, raft_id from);
int node__admin_start(struct node *n);
void node__admin_recv(struct node *n, raft_id from, const void *frame, size_t len);
void node__admin_result_recv(struct node *n, raft_id from, const void *frame, size_t len);
void node__admin_on_tick(struct node *n);

#endif
