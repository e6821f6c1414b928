/* raft_int.h: the core's internal state and the functions its files share. */
#ifndef QUORUMFS_RAFT_INT_H
#define QUORUMFS_RAFT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorumfs/raft.h"

/* ------------------------------------------------------------------------ */
/* The in-memory log (log.c)                                                */

/*
 * Entries e[0..n) have indexes base+1 .. base+n. base is the index of the
 * last entry compacted away (or of the snapshot a follower installed);
 * base_term is its term, so the prev_term of e[0] is always known.
 * Invariant: terms never decrease along the log. Entry data is owned.
 *
 * Released entries (raft_log_release()): those up to released have no data
 * in memory (data.base NULL, data.len still their size); they are durable
 * and applied, so the caller's store holds them. released <= the durable
 * and applied index at the time, and released >= base once set; bytes is
 * the sum of data.len over the entries that still hold their data.
 */
struct raft__log {
	struct raft_entry *e;
	size_t n, cap;
	raft_index base;
	raft_term base_term;
	raft_index released;
	size_t bytes;
};

raft_index raft__log_last(const struct raft__log *l);
raft_term raft__log_last_term(const struct raft__log *l);
/* Term of entry @i; false if @i is neither base nor held. */
bool raft__log_term(const struct raft__log *l, raft_index i, raft_term *t);
struct raft_entry *raft__log_get(const struct raft__log *l, raft_index i);
/* Room for @more entries without a failing allocation later. */
int raft__log_reserve(struct raft__log *l, size_t more);
/* Append @e (data already owned by the log). Capacity must be reserved. */
void raft__log_push(struct raft__log *l, const struct raft_entry *e);

/* ------------------------------------------------------------------------ */
/* Followers' progress, seen by the leader (progress.c)                      */


struct raft__inflight {
	raft_index last; /* last index the AppendEntries carried */
	size_t bytes;    /* its entry bytes */
};

struct raft__progress {
	raft_id id;
	raft_index match;             /* highest index known replicated; match < next */
	raft_index next;              /* next index to send */
	enum raft_progress_state state;
	bool paused;                  /* probe: one AppendEntries out, wait for an answer */
	bool recent_active;           /* heard from since the last CheckQuorum */
	unsigned ticks_since_contact; /* for raft_progress() */
	unsigned stall_ticks;         /* replicate: ticks since match last moved */
	uint64_t acked_seq;           /* highest seq echoed in this term */
	raft_index commit_sent;       /* commit last told (heartbeat or append) */
	uint64_t asked_at;            /* leader's clock: its last follower lease ask (0: none) */
	/* Replicate: AppendEntries in flight, a ring of max_inflight_msgs. */
	struct raft__inflight *infl;
	unsigned infl_start, infl_count;
	size_t infl_bytes;
	/* Snapshot: the snapshot being sent, one chunk in flight at a time. A
	 * transfer finishes on the snapshot it started with, even after newer
	 * ones were taken (tests/sim FINDINGS.md, F2), so it keeps its own. */
	raft_index snap_index;
	raft_term snap_term;
	uint64_t snap_size;
	uint8_t snap_conf[RAFT_CONF_ENCODED_MAX];
	size_t snap_conf_len;
	uint64_t snap_offset;
	bool snap_inflight;
	unsigned snap_wait; /* ticks since the chunk in flight was sent */
};

/* ------------------------------------------------------------------------ */
/* The core                                                                  */

struct raft__conf_hist {
	raft_index index; /* index of the RAFT_ENTRY_CONF entry (or snapshot) */
	struct raft_conf conf;
};

struct raft__claim {
	uint64_t id;      /* batch id */
	raft_index claim; /* the log is durable up to here once the batch is */
};

struct raft__read {
	uint64_t ctx;
	raft_id from;     /* RAFT_NONE: local; else the follower that asked */
	raft_index index; /* the read index, once registered */
	uint64_t seq;     /* confirmed once a quorum echoed a seq >= this */
	bool registered;  /* false until the leader committed in its term */
};

/* A growable array of @type. */
#define RAFT__VEC(type)                                                                            \
	struct {                                                                                   \
		type *v;                                                                           \
		size_t n, cap;                                                                     \
	}

int raft__vec_grow(void **v, size_t *cap, size_t need, size_t size);
#define RAFT__RESERVE(vec, more)                                                                   \
	raft__vec_grow((void **)&(vec).v, &(vec).cap, (vec).n + (more), sizeof(*(vec).v))

/* Memory handed out in a ready batch, freed at raft_advance(). */
struct raft__batch {
	bool out; /* a batch was returned by raft_ready() and not yet advanced */
	struct raft_entry *entries, *committed, *msg_entries;
	struct raft_message *msgs, *after;
	struct raft_read_state *reads;
	struct raft_snapshot_chunk *chunks; /* and each chunk's data */
	unsigned n_chunks;
	struct raft_snapshot_meta *install;
	struct raft_conf *conf;
	uint8_t *snap_conf;
};

/* Heartbeat rounds whose send time the leader remembers for its lease. */
#define RAFT__STAMPS 64

struct raft {
	struct raft_config cfg;
	uint64_t rng; /* splitmix64 state */
	bool failed;

	/* Persistent state (paper Figure 2) and what the last batch reported. */
	raft_term term;
	raft_id vote;
	raft_index commit;
	struct raft_hard_state hs_reported;

	enum raft_role role;
	raft_id leader;
	bool soft_changed;

	struct raft__log log;
	raft_index unstable;  /* first index not yet handed out in a batch */
	raft_index persisted; /* local log durable and matching up to here */
	raft_index applied;   /* last index handed out for apply */
	RAFT__VEC(struct raft__claim) claims;
	uint64_t next_batch;

	/* Snapshot held by the caller (raft_snapshot_taken / restore / install). */
	struct raft_snapshot_meta snap;
	uint8_t snap_conf[RAFT_CONF_ENCODED_MAX]; /* encoded snap.conf */
	size_t snap_conf_len;
	/* Receiving a snapshot (follower). */
	struct raft_snapshot_meta recv;
	uint64_t recv_offset;                         /* bytes staged so far; recv.index 0: none */
	RAFT__VEC(struct raft_snapshot_chunk) chunks; /* to hand out, data owned */
	bool install_pending;
	struct raft_snapshot_meta install;
	bool install_keep_log;

	/* Configurations: hist.v[hist.n-1] is the latest, in effect. */
	RAFT__VEC(struct raft__conf_hist) hist;
	bool conf_changed;

	/* Timers (logical ticks). */
	unsigned election_elapsed;
	unsigned heartbeat_elapsed;
	unsigned timeout; /* randomized election timeout, [e, 2e) */

	/* Candidate. */
	struct {
		raft_id id;
		bool granted;
	} votes[RAFT_MAX_SERVERS]; /* answers to this campaign, self included */
	unsigned n_votes;

	/* Leader. */
	struct raft__progress prs[RAFT_MAX_SERVERS];
	unsigned n_prs;
	struct raft__inflight *infl_pool[RAFT_MAX_SERVERS];
	uint64_t seq;           /* last seq sent in this term */
	bool committed_in_term; /* an entry of this term is committed */
	bool hb_due;            /* send heartbeats at the next raft_ready() */
	uint64_t bcast_seq;     /* lowest seq of the last heartbeat round */
	raft_id transferee;
	unsigned transfer_elapsed;
	bool transferred_in_term; /* a transfer began in this term: no lease reads */
	RAFT__VEC(struct raft__read) reads;

	/* Read lease (lease.c): when the messages from seq on were stamped. */
	uint64_t now;        /* last time given by raft_set_now() */
	bool now_fresh;      /* set since the last input call: good for a lease check */
	bool clock_set;      /* raft_set_now() was called at least once */
	unsigned boot_ticks; /* ticks since start, up to election_ticks */
	struct {
		uint64_t seq; /* first seq of the messages stamped at time */
		uint64_t time;
	} stamps[RAFT__STAMPS];
	unsigned n_stamps, stamp_pos; /* ring: stamp_pos is the next slot */

	/* Follower read leases (follower_lease.c). Leader: whom it must wait
	 * for; volatile, like every lease. A removed server keeps its slot
	 * until its lease ends. */
	struct raft__holder {
		raft_id id;
		uint64_t until; /* leader's clock: it waits for this server till then */
		uint64_t stamp; /* the server's stamp granted, echoed in the grant */
	} holders[RAFT_MAX_SERVERS];
	unsigned n_holders;
	bool lead_wait_known;     /* leader: lead_wait_until is set */
	uint64_t lead_wait_until; /* leader: nothing becomes visible before (rule 4) */
	/* Follower: the lease it holds, from the leader of fl_term. */
	raft_term fl_term;    /* 0: none */
	raft_id fl_leader;
	uint64_t fl_until;    /* its own clock */
	raft_index fl_commit; /* highest commit index granted with it */

	/* Outputs gathered for the next batch. */
	RAFT__VEC(struct raft_message) out;       /* send now */
	RAFT__VEC(struct raft_message) out_after; /* send after persist */
	RAFT__VEC(struct raft_read_state) ready_reads;
	RAFT__VEC(void *) garbage; /* entry data freed at the next advance */
	struct raft__batch batch;
};

/* raft.c */
void raft__free_data(struct raft *r, void *p);
/* Queue @m for the next batch (after persist if its type promises durability). */
int raft__send(struct raft *r, const struct raft_message *m);
/* Room for @n messages, so that raft__send() cannot fail after state changed. */
int raft__reserve_msgs(struct raft *r, unsigned n);

/* conf.c */
const struct raft_conf *raft__conf(const struct raft *r);
bool raft__is_voter(const struct raft_conf *c, raft_id id);
/* Push @conf at @index as the latest configuration. */
int raft__conf_push(struct raft *r, raft_index index, const struct raft_conf *conf);
/* The log was truncated at @from: forget configurations from there on. */
void raft__conf_truncate(struct raft *r, raft_index from);
/* The configuration in effect at @index. */
const struct raft_conf *raft__conf_at(const struct raft *r, raft_index index);
/* Forget configurations superseded at or before @index. */
void raft__conf_compact(struct raft *r, raft_index index);
/* Index of the latest configuration entry. */
raft_index raft__conf_index(const struct raft *r);
/* Scan entries for RAFT_ENTRY_CONF and push them. */
int raft__conf_scan(struct raft *r, const struct raft_entry *e, size_t n);
void raft__conf_changed(struct raft *r);

/* log.c (needs struct raft for unstable/persisted bookkeeping) */
/* Remove entries from @from on (uncommitted suffix); data goes to garbage. */
void raft__log_truncate(struct raft *r, raft_index from);
/* Drop entries up to @upto from memory (compaction behind a snapshot). */
void raft__log_compact(struct raft *r, raft_index upto);
/* Replace the log by an empty one based at @index/@term. */
void raft__log_reset(struct raft *r, raft_index index, raft_term term);
/* Clip the durable claims (persisted and outstanding batches) to @index. */
void raft__clip_persisted(struct raft *r, raft_index index);

/* progress.c */
struct raft__progress *raft__progress(struct raft *r, raft_id id);
void raft__progress_reset_all(struct raft *r);
/* Rebuild the progress table after the configuration changed. */
void raft__progress_rebuild(struct raft *r);
void raft__progress_become_probe(struct raft__progress *pr);
void raft__progress_become_replicate(struct raft__progress *pr);
/* Start sending the latest snapshot to @pr. */
void raft__progress_become_snapshot(struct raft *r, struct raft__progress *pr);
bool raft__inflight_full(const struct raft *r, const struct raft__progress *pr);
void raft__inflight_add(struct raft *r, struct raft__progress *pr, raft_index last, size_t bytes);
void raft__inflight_free_to(struct raft *r, struct raft__progress *pr, raft_index index);
/* Match index of @id as the leader counts it (its own: persisted). */
raft_index raft__match_of(const struct raft *r, raft_id id);
/* CheckQuorum: true if a majority of the latest configuration's voters was
 * heard from since the last call (the leader counts itself if a voter). */
bool raft__quorum_active(struct raft *r);

/* election.c */
void raft__become_follower(struct raft *r, raft_term term, raft_id leader);
void raft__become_leader(struct raft *r);
void raft__campaign(struct raft *r, bool pre_vote, bool transfer);
void raft__reset_timeout(struct raft *r);
bool raft__promotable(const struct raft *r);
int raft__step_vote(struct raft *r, const struct raft_message *m);
int raft__step_vote_resp(struct raft *r, const struct raft_message *m);
void raft__tick_election(struct raft *r);
void raft__tick_leader(struct raft *r);
int raft__step_timeout_now(struct raft *r, const struct raft_message *m);
/* Leader: @id's match reached the last index; send TimeoutNow if transferring to it. */
void raft__transfer_check(struct raft *r, raft_id id);

/* replication.c */
int raft__step_append(struct raft *r, const struct raft_message *m);
int raft__step_append_resp(struct raft *r, const struct raft_message *m);
int raft__step_heartbeat(struct raft *r, const struct raft_message *m);
int raft__step_heartbeat_resp(struct raft *r, const struct raft_message *m);
/* Leader: advance commit by the rule of paper Figure 8 / 5.4.2. */
void raft__maybe_commit(struct raft *r);
/* Leader: append an entry of the current term (data copied). Returns its index. */
int64_t raft__leader_append(struct raft *r, uint8_t type, const void *data, size_t len);
/* Leader, at raft_ready(): build the AppendEntries, heartbeats and chunks. */
int raft__build_leader_msgs(struct raft *r, struct raft_message **msgs, size_t *n, size_t *cap);
bool raft__leader_has_msgs(const struct raft *r);

/* read_index.c */
int raft__read_local(struct raft *r, uint64_t ctx);
int raft__step_read_index(struct raft *r, const struct raft_message *m);
int raft__step_read_index_resp(struct raft *r, const struct raft_message *m);
/* Leader: the commit index reached an entry of its term: register queued reads. */
void raft__reads_on_commit(struct raft *r);
/* Leader: the highest seq a majority of voters echoed (UINT64_MAX: the
 * leader is the only voter; 0: none). */
uint64_t raft__quorum_seq(const struct raft *r);
/* Leader: a seq echo arrived; confirm reads a quorum has answered. */
void raft__reads_confirm(struct raft *r);
/* True if a waiting read needs a heartbeat round that has not been sent. */
bool raft__reads_need_round(const struct raft *r);
/* Leadership was lost: fail every pending read. */
void raft__reads_fail(struct raft *r, int status);

/* lease.c */
/* Leader, at raft_ready(): messages from seq @first on were stamped now. */
void raft__lease_stamp(struct raft *r, uint64_t first);
/* Leader: true if a majority's echo proves no other leader can exist now. */
bool raft__lease_valid(const struct raft *r);
/* Leader: when that proof ends (UINT64_MAX: the only voter); 0 without one. */
uint64_t raft__lease_end(const struct raft *r);
/* Follower: true while it must not vote (it heard from a leader, or it
 * started, less than an election timeout ago). */
bool raft__in_vote_lease(const struct raft *r);
/* The time given before this input call is used up. */
void raft__now_consumed(struct raft *r);

/* follower_lease.c */
#ifdef RAFT_BROKEN_LEASE
extern int raft_broken_lease; /* which rule is broken (follower_lease.c) */
#endif
/* Follower: fill the ask of an answer to the leader. */
void raft__fl_ask(const struct raft *r, struct raft_lease_ask *ask);
/* Leader: @from asked in an answer received now. */
void raft__fl_on_ask(struct raft *r, raft_id from, const struct raft_lease_ask *ask);
/* Leader: the grant to put in a message to @to. */
void raft__fl_grant(const struct raft *r, raft_id to, struct raft_lease_grant *g);
/* Follower: a message from its leader carried @g. */
void raft__fl_on_grant(struct raft *r, raft_id from, const struct raft_lease_grant *g);
/* Leader: the highest index it may make visible, at most @n (rules 2, 4);
 * r->commit if it must wait. */
raft_index raft__fl_visible(struct raft *r, raft_index n);
/* Leader: a new term of leadership began. */
void raft__fl_lead(struct raft *r);

/* snapshot.c */
int raft__step_snapshot(struct raft *r, const struct raft_message *m);
int raft__step_snapshot_resp(struct raft *r, const struct raft_message *m);
/* Leader: fill one chunk message for @pr. */
void raft__snapshot_chunk_msg(struct raft *r, struct raft__progress *pr, struct raft_message *m);

/* PRNG (raft.c): splitmix64. */
uint64_t raft__rand(struct raft *r);

#endif
