/* sim.h: internals of the deterministic Raft cluster simulator shared by its files and tests. */
#ifndef QUORUMFS_SIM_H
#define QUORUMFS_SIM_H

/*
 * One run ("seed") is a whole cluster of pure cores (src/raft) in one process,
 * driven by a discrete-event loop in simulated milliseconds. Every random
 * choice comes from the cluster's PRNG, seeded by the run seed, so a seed
 * replays identically. Each node follows the ready contract of raft.h: it
 * persists a batch on a simulated disk after a random delay, sends
 * rd->msgs at once and rd->msgs_after_persist only once the batch is durable,
 * applies rd->committed to a small deterministic state machine, and loses
 * everything not yet durable when it crashes. The checker (sim_check.c) tests
 * the Raft safety properties after every event; the first broken one is
 * recorded as a violation with the seed and the step.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quorumfs/raft.h"

#define SIM_MAX_NODES 7  /* ids 1..SIM_MAX_NODES, never reused */
#define SIM_SM_SLOTS  16 /* words of state machine state (makes snapshots multi-chunk) */

/* ------------------------------------------------------------------------ */
/* PRNG, hashing, message copies (sim_util.c)                                */

struct sim_rng {
	uint64_t s[4]; /* xoshiro256** state; never all zero */
};

uint64_t sim_mix(uint64_t x); /* splitmix64 finaliser: derives seeds */
void sim_rng_seed(struct sim_rng *g, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *g);
uint64_t sim_rng_below(struct sim_rng *g, uint64_t n);               /* [0, n), n > 0 */
uint64_t sim_rng_range(struct sim_rng *g, uint64_t lo, uint64_t hi); /* [lo, hi] */
bool sim_rng_permille(struct sim_rng *g, unsigned p);                /* true with p/1000 */

uint64_t sim_hash(const void *p, size_t n, uint64_t h); /* FNV-1a 64, chained by @h */
uint64_t sim_entry_hash(const struct raft_entry *e);    /* type and data, not term */
uint64_t sim_conf_hash(const struct raft_conf *conf);   /* of its raft_conf_encode() */

void *sim_xmalloc(size_t n); /* aborts on failure: the simulator is a test */
void *sim_xrealloc(void *p, size_t n);
void *sim_memdup(const void *p, size_t n);

/* Deep copies (entry data, snapshot conf and chunk) owned by @dst; free with sim_msg_free. */
void sim_msg_copy(struct raft_message *dst, const struct raft_message *src);
void sim_msg_free(struct raft_message *m);
void sim_entries_copy(struct raft_entry **dst, const struct raft_entry *src, unsigned n);
void sim_entries_free(struct raft_entry *e, unsigned n);

/* One-line description of @m into @buf (for the trace). */
void sim_msg_describe(const struct raft_message *m, char *buf, size_t cap);

/* Allocation failures injected into the core (raft-sim --oom, sim_oom.c):
 * while armed (only around calls into the core), each malloc, calloc or
 * realloc fails with probability permille/1000. Executables not linked with
 * the ld --wrap of sim_oom.c never fail. One process runs one seed at a time. */
struct sim_oom {
	struct sim_rng rng;
	unsigned permille;
	bool armed;
	uint64_t n_failed;
};
extern struct sim_oom sim_oom;
#define SIM_CORE_BEGIN() (sim_oom.armed = sim_oom.permille != 0)
#define SIM_CORE_END()   (sim_oom.armed = false)

/* ------------------------------------------------------------------------ */
/* The state machine (sim_sm.c)                                               */

/* A deterministic state machine: the applied index, a chain hash over every
 * applied entry, and a few words mixed by each command. Its serialization is
 * the snapshot; the configuration at the applied index travels beside it. */
struct sim_sm {
	raft_index applied;
	raft_term applied_term;
	uint64_t chain; /* H(chain before, index, entry hash) over all applied */
	uint64_t n_normal;
	uint64_t slots[SIM_SM_SLOTS];
	struct raft_conf conf; /* latest configuration applied (or from a snapshot) */
};

#define SIM_SM_BYTES (4 + 4 + 8 * 4 + 8 * SIM_SM_SLOTS + 8)

void sim_sm_init(struct sim_sm *sm);
uint64_t sim_sm_chain_next(uint64_t chain, raft_index index, uint64_t entry_hash);
/* Applies @e (index must be applied + 1; checked by the caller). Returns 0, or
 * -EINVAL if a configuration entry does not decode. */
int sim_sm_apply(struct sim_sm *sm, const struct raft_entry *e);
/* Writes SIM_SM_BYTES bytes. */
void sim_sm_encode(const struct sim_sm *sm, uint8_t *out);
/* Decodes; the configuration is left untouched. Returns 0 or -EINVAL. */
int sim_sm_decode(struct sim_sm *sm, const uint8_t *in, size_t len);

/* ------------------------------------------------------------------------ */
/* Events                                                                     */

enum sim_ev_type {
	SIM_EV_TICK = 1, /* node's logical clock */
	SIM_EV_DELIVER,  /* a message arrives */
	SIM_EV_DISK,     /* a node's disk may have finished batches */
	SIM_EV_RESTART,  /* a crashed node comes back */
	SIM_EV_CHAOS,    /* fault injection and membership (random runs) */
	SIM_EV_WORK,     /* proposals, reads (random runs) */
	SIM_EV_CRASH,    /* a planned crash of one incarnation */
};

struct sim_event {
	uint64_t time;
	uint64_t seq; /* tie-break in insertion order: determinism */
	uint8_t type;
	raft_id node;
	uint64_t gen;             /* node incarnation the event belongs to */
	struct raft_message *msg; /* DELIVER: owned */
};

struct sim_heap {
	struct sim_event *ev;
	size_t n, cap;
};

void sim_heap_push(struct sim_heap *h, const struct sim_event *e);
bool sim_heap_pop(struct sim_heap *h, struct sim_event *out);
void sim_heap_free(struct sim_heap *h);

/* ------------------------------------------------------------------------ */
/* Nodes: core, disk, pending batches (sim_node.c, sim_disk.c)                */

struct sim_chunk {
	raft_index snap_index;
	uint64_t offset;
	uint8_t *data;
	size_t len;
};

/* One ready batch between raft_advance() and its durability. */
struct sim_batch {
	uint64_t id;
	uint64_t done_time;
	raft_term term; /* the node's term when the batch was taken */
	bool hs_changed;
	struct raft_hard_state hs;
	struct sim_chunk *chunks;
	unsigned n_chunks;
	bool install;
	struct raft_snapshot_meta meta;
	bool keep_log;
	uint8_t *snap_bytes; /* install: the staged bytes, copied at ready time */
	struct raft_entry *entries;
	unsigned n_entries;
	struct raft_message *held; /* msgs_after_persist, deep copies */
	unsigned n_held;
	struct sim_batch *next;
};

/* A snapshot's bytes the node can serve chunks from (taken or installed). */
/* Snapshots a node keeps to serve chunks from: what raft_snapshots_in_use() lists. */
#define SIM_SERVE_MAX (RAFT_MAX_SERVERS + 1)

struct sim_snap {
	raft_index index;
	uint64_t size;
	uint8_t *bytes;
};

/* The staging area of a snapshot being received. */
struct sim_stage {
	raft_index index;
	uint8_t *bytes;
	size_t len, cap;
	bool broken; /* a chunk left a hole */
};

/* What survives a crash. */
struct sim_disk {
	struct raft_hard_state hs;
	bool has_snap;
	struct raft_snapshot_meta snap;
	uint8_t *snap_bytes;
	struct raft_entry *log; /* log[k].index == log[0].index + k */
	size_t n, cap;
	struct sim_stage stage;
};

/* Keys of the lease-read model: each normal entry writes one key, chosen by
 * its hash (what a command touches, computable without applying it). */
#define SIM_LEASE_KEYS 4

/* A read of one key served from a node's own state machine under a lease. */
struct sim_lread {
	unsigned key;
	raft_index floor; /* raft_read_lease(): apply at least this first */
	raft_index done;  /* the highest write to key complete (applied anywhere) at its start */
	uint64_t step;
};

struct sim_read {
	uint64_t ctx;
	raft_index min_commit; /* highest commit seen anywhere when requested */
	raft_index index;      /* the answer, once answered */
	bool answered;
	uint64_t step;
};

struct sim_node {
	raft_id id;
	bool exists;
	bool up;
	uint64_t gen; /* incarnation: events of an older one are ignored */
	struct raft *r;
	struct raft_config cfg;
	struct sim_disk disk;
	struct sim_batch *pend, *pend_tail;
	uint64_t disk_free_at; /* when the disk finishes the last pending batch */
	uint64_t stall_until;  /* the disk completes nothing before this */
	struct sim_sm sm;
	struct sim_stage stage;               /* volatile view of the staging area */
	struct sim_snap serve[SIM_SERVE_MAX]; /* [0] the latest; then those still in use */
	raft_index snap_index;                /* the core's snapshot (taken or installed) */
	raft_index snap_every;                /* take a snapshot every this many applied entries */
	bool frozen;                          /* no ticks (scenario control) */
	bool cfg_fixed;                       /* cfg was given (sim_node_create): keep it */
	bool failed;           /* its disk failed: raft_fail() was called (until a restart) */
	uint64_t paused_until; /* a stopped process (SIGSTOP, GC): its events wait */
	unsigned tick_ms;      /* this node's clock period (clocks drift apart) */
	uint64_t ticks;        /* stepped runs: ticks counted, this node's clock */
	struct sim_lread *lreads; /* local reads under a lease, waiting (sim_lease.c) */
	unsigned n_lreads, cap_lreads;
	/* The kernel's cache of each key's answer (sim_lease.c): the applied
	 * index it was answered at, while lcached; dropped when an entry that
	 * writes the key is marked. Volatile. */
	raft_index lcache[SIM_LEASE_KEYS];
	bool lcached[SIM_LEASE_KEYS];
	struct sim_read *reads;
	unsigned n_reads, cap_reads;
	uint64_t next_ctx;
	uint64_t n_proposed;
	uint64_t last_rd_id;            /* the last ready batch's id (0: none yet) */
	struct raft_hard_state last_hs; /* the last hard state the core emitted */
	/* last role and term the checker saw */
	enum raft_role seen_role;
	raft_term seen_term;
	raft_index seen_commit;
};

/* ------------------------------------------------------------------------ */
/* The checker's global records (sim_check.c)                                 */

struct sim_logrec { /* an (index, term) seen in some log */
	raft_term term;
	raft_term prev_term; /* term of index - 1 in that log; 0 unknown */
	uint64_t hash;
	uint8_t type;
};

struct sim_commit { /* an applied entry: committed for good */
	bool valid;
	raft_term term;
	uint64_t hash;
	uint64_t chain;
	raft_id by;
	raft_term in_term;  /* the first applier's term: >= the term that committed it */
	uint64_t conf_hash; /* the configuration in effect at this index (sim_conf_hash) */
};

struct sim_proposal {
	raft_id node;
	raft_term term;
	raft_index index;
	uint64_t hash;
	uint8_t state; /* 0 pending, 1 committed, 2 dropped */
	bool final_phase;
	uint64_t time; /* when proposed */
};

struct sim_check {
	raft_id *term_leader; /* by term */
	size_t n_terms;
	struct sim_logrec **recs; /* by index: up to a few variants */
	uint8_t *n_recs;
	size_t n_index;
	struct sim_commit *commits; /* by index */
	size_t n_commits;
	raft_index max_commit_seen; /* any node's raft_commit_index, ever */
	raft_index max_applied;
	raft_index applied_before_step; /* max_applied before the current event */
	struct sim_proposal *props;
	size_t n_props, cap_props;
	uint64_t *payloads; /* open addressing: hashes of committed commands */
	size_t n_payloads, cap_payloads;
	uint64_t n_dropped;
	unsigned scan_next;
};

/* ------------------------------------------------------------------------ */
/* The cluster (sim_cluster.c)                                                */

/* Deliberate mistakes of the simulated environment (not of the core), to show
 * that the checkers catch what they claim to. */
enum sim_bug {
	SIM_BUG_NONE = 0,
	SIM_BUG_EARLY_SEND, /* send msgs_after_persist before the batch is durable */
	SIM_BUG_LYING_DISK, /* a crash loses the last durable entries and the vote */
	SIM_BUG_NO_HEAL,    /* the final phase leaves the network partitioned */
	SIM_BUG_EARLY_READ, /* serve a read without waiting to apply its index */
	SIM_BUG_ACK_BEFORE_MARK, /* a lease holder acknowledges entries it has not marked */
};

struct sim_opts {
	unsigned nodes;     /* initial voters, 3..7 */
	uint64_t steps;     /* events of the faulty phase */
	bool verbose;       /* trace every event to stdout */
	bool random_faults; /* chaos events: partitions, crashes, disk stalls, drops */
	bool random_work;   /* proposals, reads, membership changes, transfers */
	bool final_phase;   /* after steps: heal everything and check liveness */
	bool stop_on_violation;
	bool no_commit_rule;   /* skip the commit-rule check: only consequences count */
	unsigned sim_bug;      /* enum sim_bug: the simulator breaks a rule on purpose */
	unsigned oom_permille; /* core allocations that fail (needs sim_oom.c) */
	bool extreme;          /* valid but extreme core settings (see sim_cluster.c) */
	/* the cores' configuration; 0 means "chosen from the seed" */
	unsigned election_ticks;
	unsigned heartbeat_ticks;
	size_t snapshot_chunk_bytes;
	raft_index trailing_entries;
	size_t max_msg_bytes;
	unsigned max_inflight_msgs;
	size_t max_inflight_bytes; /* 0: 2 * max_msg_bytes * max_inflight_msgs */
	raft_index snap_every;     /* 0: chosen per node from the seed; ~0: never */
	raft_index promote_lag;    /* 0: 8 */
	bool no_pre_vote;          /* safety must hold without PreVote ... */
	bool no_check_quorum;      /* ... and without CheckQuorum */
	/* read lease: (election_ticks - 1) * tick_ms * lease_permille / 1000 of
	 * the leader's clock; 0: chosen from the seed (on in 3 of 4 seeds, at
	 * 600, the most the clock drift below allows); ~0u: off */
	unsigned lease_permille;
	/* follower read leases (raft_config.follower_lease): D is (election_ticks
	 * - 1) * tick_ms * follower_lease_permille / 1000; 0: off; ~0u: chosen
	 * from the seed (on, at 1000, in half the seeds with the read lease) */
	unsigned follower_lease_permille;
	/* network and disk, in simulated ms; 0 means the default */
	unsigned tick_ms;
	unsigned net_min, net_max;
	unsigned disk_min, disk_max;
	unsigned drop_permille, dup_permille; /* ~0u means 0 */
	/* Driven by hand, one input at a time (the trace runner, the unit
	 * harness): no event is scheduled, so no tick, delivery or disk
	 * completion happens by itself; sent messages wait in the mailbox
	 * (c->mail) until sim_mail_deliver(); ready batches wait on the node
	 * until sim_node_persist(); the driver sets the cores' clocks. */
	bool stepped;
	bool repeated_payloads; /* commands may repeat (unit tests): no duplicate check */
};

void sim_opts_default(struct sim_opts *o);
/* The options of raft-sim's random runs: @nodes 0 varies them per seed. */
void sim_opts_random(struct sim_opts *o, unsigned nodes, uint64_t steps);

/* A message in a stepped cluster's mailbox: a deep copy (chunk bytes filled). */
struct sim_mail {
	struct raft_message m;
	bool after_persist; /* it came from rd->msgs_after_persist */
};

struct sim_cluster;

/* Called with every ready batch a node takes, before the batch is handled
 * (the trace prints it; the unit harness records reads). */
typedef void (*sim_ready_hook)(struct sim_cluster *c, struct sim_node *n,
                               const struct raft_ready *rd, void *arg);

struct sim_cluster {
	uint64_t seed;
	struct sim_opts o;
	struct sim_rng rng;
	uint64_t now;
	uint64_t step;
	uint64_t seq;
	struct sim_heap heap;
	struct sim_node nodes[SIM_MAX_NODES + 1];        /* by id; [0] unused */
	unsigned n_ids;                                  /* ids 1..n_ids were created */
	bool link[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1]; /* link[a][b]: a's messages reach b */
	unsigned drop_permille, dup_permille;
	struct sim_check chk;
	raft_id new_leader; /* set by the checker when a node starts leading */
	bool in_final;
	uint64_t final_start;
	/* violations */
	unsigned n_violations;
	char violation[1024];
	uint64_t violation_step;
	/* statistics */
	uint64_t n_old_commits; /* a leader's commit index reached an entry of an older term */
	/* InstallSnapshot chunks in the network per (from, to); the most seen */
	unsigned chunks_in_flight[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
	unsigned max_chunks_in_flight;
	unsigned appends_in_flight[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1]; /* with entries */
	unsigned max_appends_in_flight;
	uint64_t n_msgs, n_elections, n_crashes, n_snap_installs, n_chunks, n_changes, n_reads_ok,
	        n_committed;
	/* the lease-read model (sim_lease.c): per key, the highest index of a
	 * write to it that some node applied (so made visible) */
	raft_index lease_done[SIM_LEASE_KEYS];
	uint64_t n_lease_reads_ok, n_lease_reads_refused;
	/* stepped runs (o.stepped) */
	struct sim_mail *mail; /* in send order */
	size_t n_mail, cap_mail;
	sim_ready_hook on_ready; /* NULL: none */
	void *on_ready_arg;
};

/* Creates a cluster with no nodes. */
struct sim_cluster *sim_cluster_new(const struct sim_opts *o, uint64_t seed);
void sim_cluster_free(struct sim_cluster *c);

/* Bootstraps voters 1..n (raft_bootstrap, made durable at once) and starts them. */
void sim_cluster_bootstrap(struct sim_cluster *c, unsigned n);

/* Starts node @id from a given durable state (raft_restore), for scenarios:
 * @entries[k].index must be consecutive from 1 (no snapshot). Data is copied. */
void sim_node_start_restored(struct sim_cluster *c, raft_id id, const struct raft_hard_state *hs,
                             const struct raft_entry *entries, unsigned n);

/* Starts a new empty node @id (a learner being added). */
void sim_node_start_empty(struct sim_cluster *c, raft_id id);

/* Processes one event. Returns false when none is left. */
bool sim_cluster_step(struct sim_cluster *c);

/* Runs until @pred(c, arg) holds (checked after each event) or @ms simulated
 * milliseconds pass. Returns whether @pred held. @pred NULL: run @ms. */
bool sim_run_until(struct sim_cluster *c, bool (*pred)(struct sim_cluster *, void *), void *arg,
                   uint64_t ms);

/* The whole random run of one seed. Returns the number of violations (0 or 1). */
unsigned sim_run_random(struct sim_cluster *c);

/* A digest of where a run ended (steps, time, messages, every node's term,
 * commit and state machine): equal digests for equal seeds show replay. */
uint64_t sim_digest(const struct sim_cluster *c);

/* The up node that is leader with the highest term, or RAFT_NONE. */
raft_id sim_leader(const struct sim_cluster *c);
struct raft *sim_core(struct sim_cluster *c, raft_id id); /* NULL when down */

/* Records a violation of @invariant (the first one keeps the text). */
void sim_violation(struct sim_cluster *c, const char *invariant, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void sim_trace(struct sim_cluster *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void sim_schedule(struct sim_cluster *c, uint64_t at, uint8_t type, raft_id node, uint64_t gen,
                  struct raft_message *msg);

/* ------------------------------------------------------------------------ */
/* Node operations (sim_node.c)                                               */

void sim_node_ready(struct sim_cluster *c, struct sim_node *n); /* drain every ready batch */
/* Takes and handles one ready batch, if the core has one; returns whether it did. */
bool sim_node_ready_one(struct sim_cluster *c, struct sim_node *n);
/* Stepped runs: every pending batch of @n becomes durable now (unless its
 * disk stalls), in order, and its held messages are sent. Returns how many. */
unsigned sim_node_persist(struct sim_cluster *c, struct sim_node *n);
/* Creates node @id's core with @cfg (NULL: sim_node_config()) and nothing
 * else: no bootstrap, no ready batch taken (the unit harness's start). */
struct sim_node *sim_node_create(struct sim_cluster *c, raft_id id, const struct raft_config *cfg);
void sim_node_tick(struct sim_cluster *c, struct sim_node *n);
/* @n took or installed @s (bytes owned): it becomes serve[0], and only the
 * snapshots the core still lists as in use are kept. */
void sim_serve_push(struct sim_node *n, struct sim_snap s);
/* Gives @n's core the time of its own clock, which runs at its tick rate. */
void sim_node_now(struct sim_cluster *c, struct sim_node *n);
void sim_node_disk_event(struct sim_cluster *c, struct sim_node *n);
void sim_node_crash(struct sim_cluster *c, raft_id id);
void sim_node_restart(struct sim_cluster *c, raft_id id);
void sim_node_set_stall(struct sim_cluster *c, raft_id id, uint64_t until); /* 0: none */
/* The node's storage fails: raft_fail(); repaired by a crash and restart. */
void sim_node_fail(struct sim_cluster *c, raft_id id);
void sim_node_maybe_snapshot(struct sim_cluster *c, struct sim_node *n, bool force);
/* Proposes a unique payload on @id; returns raft_propose's result. */
int64_t sim_propose(struct sim_cluster *c, raft_id id);
/* Asks @id for a read index; returns raft_read_index's result. */
int sim_read(struct sim_cluster *c, raft_id id);
struct raft_config sim_node_config(struct sim_cluster *c, raft_id id);

/* sim_disk.c */
void sim_disk_free(struct sim_disk *d);
raft_index sim_disk_last(const struct sim_disk *d);
const struct raft_entry *sim_disk_entry(const struct sim_disk *d, raft_index i);
/* Applies one batch to the disk; returns false (and a reason) on an impossible batch. */
bool sim_disk_apply(struct sim_disk *d, const struct sim_batch *b, char *why, size_t cap);
void sim_disk_compact(struct sim_disk *d, raft_index upto);
void sim_stage_write(struct sim_stage *s, const struct sim_chunk *ch);
void sim_stage_copy(struct sim_stage *dst, const struct sim_stage *src);
void sim_stage_free(struct sim_stage *s);
void sim_batch_free(struct sim_batch *b);

/* ------------------------------------------------------------------------ */
/* Network (sim_net.c)                                                        */

/* Sends a message emitted by @from's core (fills snapshot chunk bytes);
 * @after_persist: it was held until its batch was durable. */
void sim_net_send(struct sim_cluster *c, struct sim_node *from, const struct raft_message *m,
                  bool after_persist);
void sim_net_deliver(struct sim_cluster *c, struct raft_message *m);
void sim_net_heal(struct sim_cluster *c);
void sim_net_isolate(struct sim_cluster *c, raft_id id);
void sim_net_cut(struct sim_cluster *c, raft_id from, raft_id to); /* one way */
/* Symmetric split: ids in @side_mask (bit id) against the rest. */
void sim_net_split(struct sim_cluster *c, unsigned side_mask);
/* Two sides that cannot talk, and @bridge that reaches both. */
void sim_net_bridge(struct sim_cluster *c, unsigned side_mask, raft_id bridge);
/* The mailbox of a stepped cluster. sim_mail_deliver removes message @i and
 * steps it into its target if the link and the target are up (without taking
 * a ready batch); returns raft_step's result, and sets *@delivered. */
int sim_mail_deliver(struct sim_cluster *c, size_t i, bool *delivered);
void sim_mail_drop(struct sim_cluster *c, size_t i);
void sim_mail_clear(struct sim_cluster *c);

/* ------------------------------------------------------------------------ */
/* Invariants (sim_check.c)                                                   */

void sim_check_init(struct sim_check *k);
void sim_check_free(struct sim_check *k);
/* Entries @n stores (from a ready batch): log matching. */
void sim_check_entries(struct sim_cluster *c, struct sim_node *n, const struct raft_entry *e,
                       unsigned count);
/* @n's disk is about to take batch @b: no committed entry is removed. */
void sim_check_truncate(struct sim_cluster *c, struct sim_node *n, const struct sim_batch *b);
/* @n applied @e, its state machine now has @chain: state machine safety. */
void sim_check_apply(struct sim_cluster *c, struct sim_node *n, const struct raft_entry *e,
                     uint64_t chain);
/* A snapshot was installed into @n's state machine. */
void sim_check_install(struct sim_cluster *c, struct sim_node *n);
/* After every event: election safety, leader completeness, commit monotonic. */
void sim_check_step(struct sim_cluster *c);
/* @n is about to put @m on the network: acknowledgements and votes are durable. */
void sim_check_send(struct sim_cluster *c, struct sim_node *n, const struct raft_message *m);
/* Read answers and serving. */
void sim_check_read_answer(struct sim_cluster *c, struct sim_node *n,
                           const struct raft_read_state *rs);
void sim_check_serve_reads(struct sim_cluster *c, struct sim_node *n);

/* sim_lease.c: the model of a node's local answer under a read lease. */
/* The key a normal entry writes (SIM_LEASE_KEYS for any other entry). */
unsigned sim_lease_key(const struct raft_entry *e);
/* @n applied @e: a write to its key is complete. */
void sim_lease_applied(struct sim_cluster *c, const struct raft_entry *e);
/* A read of @key begins on @id, served locally if raft_read_lease() allows;
 * returns false if it does not (the node would ask the leader instead). */
bool sim_lease_read(struct sim_cluster *c, raft_id id, unsigned key);
/* Answers the waiting lease reads of @n that may now be answered, checking
 * each: no read older than a write complete before it began. */
void sim_lease_serve(struct sim_cluster *c, struct sim_node *n);
/* Batch @b is durable on @n: its entries are marked, and the kernel's cache
 * of every key they write dropped (all of it for a snapshot's install). */
void sim_lease_marked(struct sim_cluster *c, struct sim_node *n, const struct sim_batch *b);
/* Records a proposal accepted by a leader. */
void sim_check_proposal(struct sim_cluster *c, raft_id node, raft_term term, raft_index index,
                        uint64_t hash);
/* Full scan of one node's in-memory log through raft_entry_at. */
void sim_check_scan(struct sim_cluster *c, struct sim_node *n);
/* End of the final phase: the healed cluster made progress and converged.
 * Returns true when it has; with @report, records why not as a violation. */
bool sim_check_converged(struct sim_cluster *c, bool report);

/* ------------------------------------------------------------------------ */
/* Workload and faults (sim_workload.c)                                       */

void sim_work_event(struct sim_cluster *c);
void sim_chaos_event(struct sim_cluster *c);
void sim_final_begin(struct sim_cluster *c);
/* A node just became leader: sometimes stall its disk or crash it soon (the
 * shape of paper Figure 8). */
void sim_chaos_new_leader(struct sim_cluster *c, raft_id id);

/* ------------------------------------------------------------------------ */
/* Directed scenarios shared by the correct and the broken test (sim_fig8.c)  */

struct sim_fig8_result {
	bool old_entry_committed; /* the term-4 leader committed the term-2 entry */
	bool s5_led;              /* S5 was elected for term 5 and committed */
	bool converged;           /* then every log and state machine agree with S5's */
	unsigned violations;
	char violation[1024];
};

/* A configuration of voters 1..n. */
void sim_conf_voters(struct raft_conf *conf, unsigned n);
/* A log with entries 1..n of the given terms: entry 1 is the configuration
 * @conf, the others carry bytes that depend only on (@tag, index, term).
 * Free with sim_entries_free(e, n). */
struct raft_entry *sim_log_from_terms(const struct raft_conf *conf, const raft_term *terms,
                                      unsigned n, const char *tag);

/* The Raft paper's Figure 8 with five servers; see sim_fig8.c. With
 * @no_commit_rule only the consequences (a lost committed entry) count. */
void sim_fig8(bool verbose, bool no_commit_rule, struct sim_fig8_result *out);

#endif
