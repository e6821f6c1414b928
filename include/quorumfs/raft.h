/* raft.h: the consensus core, a deterministic step machine with no I/O, clock or randomness. */
#ifndef QUORUMFS_RAFT_H
#define QUORUMFS_RAFT_H

/*
 * The core is driven from outside (docs/raft-core.md has the full contract):
 *
 *   inputs   raft_step(message), raft_tick(), raft_propose(), raft_read_index(),
 *            raft_transfer(), raft_change(), raft_persisted(),
 *            raft_snapshot_taken()
 *   outputs  one "ready" batch at a time: raft_ready() fills a struct raft_ready,
 *            the caller acts on it in this order, then calls raft_advance():
 *
 *     1. persist: rd->hard_state (if rd->hard_state_changed; its term and
 *        vote must be durable, its commit need not be: a lost commit index
 *        is learned again from the leader, paper Figure 2), then, if
 *        rd->snapshot_install is set, install the staged snapshot, then the
 *        entries rd->entries (deleting any stored entry with an index >=
 *        rd->entries[0].index first). rd->snapshot_chunks are written to the
 *        staging area before that.
 *     2. send: rd->msgs may be sent at once (a leader's AppendEntries and
 *        heartbeats do not wait for its own disk, Raft dissertation 10.2.1);
 *        rd->msgs_after_persist only once step 1 of this batch is durable
 *        (a vote or an acknowledgement promises what is on disk, Raft paper
 *        Figure 2, "Persistent state ... updated on stable storage before
 *        responding to RPCs").
 *     3. apply: rd->committed, in order. They are all durable locally.
 *     4. raft_advance(r, rd). Everything in rd is borrowed until then: copy what
 *        you keep (entry data for a later apply, messages held for step 2).
 *     5. when step 1 is durable (possibly later, after further batches; group
 *        commit), raft_persisted(r, rd->id). Batches are reported in order.
 *
 * A batch may be taken and advanced before the previous one is persisted; the
 * caller persists batches in the order of their ids. Nothing is ever read from
 * a clock: raft_tick() is the only notion of time, and the election timeout is
 * drawn from a PRNG seeded by raft_config.seed.
 *
 * Memory: the core keeps its log in memory from the last snapshot on (the
 * caller compacts it with raft_snapshot_taken()), and the data of its
 * entries until the caller releases it (raft_log_release()). It allocates
 * with malloc; an allocation failure is returned as -ENOMEM and leaves the
 * core unchanged.
 *
 * Threading: the core is single-threaded and takes no lock. Every call on one
 * struct raft, the queries included, must come from one thread at a time (in
 * the daemon, the loop thread), and what a batch lends (raft_ready()) is read
 * by other threads only as copies. Cores share no state with each other, so a
 * simulator runs many of them in one thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_id;    /* a server's id; never 0 */
typedef uint64_t raft_term;  /* a term; 0 before the first election */
typedef uint64_t raft_index; /* a log index; the first entry has index 1 */

#define RAFT_NONE        0  /* no server (no vote, no leader) */
#define RAFT_MAX_SERVERS 16 /* voters and learners together */
#define RAFT_ADDRESS_MAX 64 /* an opaque address string, NUL included */

/* Error codes of the core; also -ENOMEM and -EINVAL. They lie in
 * -30001 .. RAFT_ERROR_LAST, the range quorumfs/errors.h reserves for them. */
#define RAFT_ERROR_LAST (-30099)
enum raft_error {
	RAFT_ENOTLEADER = -30001,   /* only the leader can do this; see raft_leader() */
	RAFT_EBUSY = -30002,        /* a transfer or a membership change is under way */
	RAFT_ENOLEADER = -30003,    /* no leader is known (a follower's read index) */
	RAFT_ENOTFOUND = -30004,    /* no such server in the configuration */
	RAFT_ELEADERLOST = -30005,  /* leadership lost before the request completed */
	RAFT_ENOTCAUGHTUP = -30006, /* a learner is not caught up enough to promote */
	RAFT_EFAILED = -30007,      /* the core was stopped by raft_fail() */
	RAFT_EEXIST = -30008,       /* the server is already in the configuration */
	RAFT_ETOOMANY = -30009,     /* RAFT_MAX_SERVERS reached */
};

/* The text of each code above, in one place: raft_strerror() and
 * qfs_strerror() (src/util, which does not link the core) both expand it. */
#define RAFT_ERROR_TEXTS(X)                                                          \
	X(RAFT_ENOTLEADER, "not the leader")                                         \
	X(RAFT_EBUSY, "a leadership transfer or membership change is under way")     \
	X(RAFT_ENOLEADER, "no leader is known")                                      \
	X(RAFT_ENOTFOUND, "no such server in the configuration")                     \
	X(RAFT_ELEADERLOST, "leadership lost before the request completed")          \
	X(RAFT_ENOTCAUGHTUP, "the learner has not caught up")                        \
	X(RAFT_EFAILED, "the core was stopped after a storage failure")              \
	X(RAFT_EEXIST, "the server is already in the configuration")                 \
	X(RAFT_ETOOMANY, "too many servers")

/* Text for a raft error code (or -errno). Never NULL. */
const char *raft_strerror(int err);

enum raft_role { RAFT_FOLLOWER, RAFT_PRE_CANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };

/* Name of a role ("follower", ...). */
const char *raft_role_name(enum raft_role role);

/* ------------------------------------------------------------------------ */
/* Log entries and configurations                                           */

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 0, /* a state machine command from raft_propose() */
	RAFT_ENTRY_NOOP = 1,   /* appended by each new leader (dissertation 6.4) */
	RAFT_ENTRY_CONF = 2,   /* a configuration, raft_conf_encode() of it */
};

struct raft_buf {
	void *base;
	size_t len;
};

struct raft_entry {
	raft_term term;
	raft_index index;
	uint8_t type;         /* enum raft_entry_type */
	struct raft_buf data; /* owner depends on where the entry is: see each use */
};

enum raft_server_role {
	RAFT_VOTER = 1,   /* votes and counts toward commit */
	RAFT_LEARNER = 2, /* receives the log, neither votes nor counts */
};

struct raft_server {
	raft_id id;
	uint8_t role;                   /* enum raft_server_role */
	char address[RAFT_ADDRESS_MAX]; /* opaque to the core; NUL-terminated */
};

/* A cluster configuration. Invariant: ids are unique and non-zero; n <= RAFT_MAX_SERVERS. */
struct raft_conf {
	unsigned n;
	struct raft_server servers[RAFT_MAX_SERVERS];
};

/* The server with @id in @conf, or NULL. */
const struct raft_server *raft_conf_get(const struct raft_conf *conf, raft_id id);

/* Number of voters in @conf. */
unsigned raft_conf_voters(const struct raft_conf *conf);

/*
 * raft_conf_encode - the bytes of a RAFT_ENTRY_CONF entry (and of a snapshot's
 * configuration on the wire). Writes at most @cap bytes to @buf.
 * Returns the encoded length (> @cap means @buf was too small: nothing usable
 * was written; call again with that size), at most RAFT_CONF_ENCODED_MAX.
 */
size_t raft_conf_encode(const struct raft_conf *conf, void *buf, size_t cap);

/* Most bytes raft_conf_encode() writes: a count, then per server its id,
 * role and address (varints and a NUL-terminated string). */
#define RAFT_CONF_ENCODED_MAX (2 + RAFT_MAX_SERVERS * (10 + RAFT_ADDRESS_MAX))

/*
 * raft_conf_decode - the inverse of raft_conf_encode; validates every field.
 * Returns 0, or -EINVAL for malformed bytes (then *conf is unspecified).
 */
int raft_conf_decode(const void *buf, size_t len, struct raft_conf *conf);

/* ------------------------------------------------------------------------ */
/* Messages between servers                                                  */

enum raft_msg_type {
	RAFT_MSG_APPEND = 1,      /* AppendEntries with entries (paper Figure 2) */
	RAFT_MSG_APPEND_RESP,     /* its result */
	RAFT_MSG_HEARTBEAT,       /* leader liveness, commit, and ReadIndex rounds */
	RAFT_MSG_HEARTBEAT_RESP,  /* its echo */
	RAFT_MSG_VOTE,            /* RequestVote, or a PreVote (dissertation 9.6) */
	RAFT_MSG_VOTE_RESP,       /* its result */
	RAFT_MSG_SNAPSHOT,        /* one InstallSnapshot chunk (paper Figure 13) */
	RAFT_MSG_SNAPSHOT_RESP,   /* its result */
	RAFT_MSG_TIMEOUT_NOW,     /* leadership transfer: start an election now (3.10) */
	RAFT_MSG_READ_INDEX,      /* a follower asks the leader for a read index (6.4) */
	RAFT_MSG_READ_INDEX_RESP, /* the leader's answer */
	RAFT_MSG_TYPE_LAST
};

/* Name of a message type ("append", ...). */
const char *raft_msg_type_name(int type);

/*
 * Follower read leases (docs/raft-core.md, "Follower read leases"). A
 * follower asks with every answer it sends the leader, stamping it with its
 * own clock; the leader's later messages say which stamp it granted.
 */
struct raft_lease_ask {
	bool ask;       /* the follower asks for (or renews) a lease */
	uint64_t stamp; /* its clock (raft_set_now()) when it built the answer */
};

struct raft_lease_grant {
	uint64_t duration; /* the leader's follower_lease; 0: no grant in this message */
	uint64_t stamp;    /* the follower's stamp granted: it holds until stamp +
	                    * duration less the drift margin, by its own clock */
	raft_index commit; /* the leader's commit index when it sent this: the
	                    * follower serves reads only once it applied it */
};

struct raft_append {
	raft_index prev_index; /* index of the entry before entries[0] */
	raft_term prev_term;   /* its term */
	raft_index commit;     /* leader's commit index */
	uint64_t seq;          /* leader's send counter in this term, echoed back */
	unsigned n_entries;
	struct raft_entry *entries;
	struct raft_lease_grant grant;
};

struct raft_append_resp {
	bool reject;
	raft_index index;      /* accepted: highest index now known to match;
	                        * rejected: the prev_index that was rejected */
	raft_index last_index; /* the follower's last log index */
	raft_index hint_index; /* rejected: first index of hint_term in the follower's
	                        * log, or last_index + 1 when its log is too short */
	raft_term hint_term;   /* rejected: term of the follower's entry at prev_index
	                        * (0 if it has none); the conflict hint of paper 5.3 */
	uint64_t seq;          /* echo of raft_append.seq */
	struct raft_lease_ask lease;
};

struct raft_heartbeat {
	raft_index commit; /* min(leader commit, the follower's match index) */
	uint64_t seq;      /* echoed back; confirms leadership for ReadIndex */
	struct raft_lease_grant grant;
};

struct raft_heartbeat_resp {
	uint64_t seq;
	struct raft_lease_ask lease;
};

struct raft_vote {
	bool pre_vote;         /* a PreVote: nobody changes term or vote for it */
	bool transfer;         /* a campaign started by TimeoutNow: overrides the lease */
	raft_index last_index; /* candidate's last log index */
	raft_term last_term;   /* candidate's last log term */
};

struct raft_vote_resp {
	bool pre_vote;
	bool granted;
};

struct raft_snapshot {
	raft_index snap_index; /* last index the snapshot covers */
	raft_term snap_term;   /* its term */
	struct raft_buf conf;  /* raft_conf_encode() of the configuration at snap_index */
	uint64_t size;         /* total size of the snapshot in bytes */
	uint64_t offset;       /* where this chunk starts */
	struct raft_buf chunk; /* the chunk's bytes; see "Snapshot chunks" below */
	bool done;             /* this chunk ends the snapshot */
};

struct raft_snapshot_resp {
	raft_index snap_index;
	bool reject;           /* the offset did not follow what the receiver has */
	uint64_t next_offset;  /* the offset the receiver wants next */
	raft_index last_index; /* done: the receiver's last log index after installing */
};

struct raft_read_index {
	uint64_t ctx; /* the follower's request id, echoed back */
};

struct raft_read_index_resp {
	uint64_t ctx;
	raft_index index; /* valid if status == 0 */
	int status;       /* 0, or RAFT_ENOTLEADER */
};

struct raft_message {
	uint8_t type; /* enum raft_msg_type */
	raft_id from;
	raft_id to;
	raft_term term; /* sender's term (a PreVote carries the term it would use) */
	union {
		struct raft_append append;
		struct raft_append_resp append_resp;
		struct raft_heartbeat heartbeat;
		struct raft_heartbeat_resp heartbeat_resp;
		struct raft_vote vote;
		struct raft_vote_resp vote_resp;
		struct raft_snapshot snapshot;
		struct raft_snapshot_resp snapshot_resp;
		struct raft_read_index read_index;
		struct raft_read_index_resp read_index_resp;
	};
};

/*
 * Snapshot chunks. The core never holds snapshot bytes it sends. In a
 * RAFT_MSG_SNAPSHOT that the core emits, chunk.base is NULL and chunk.len is
 * the number of bytes the caller must read, from the snapshot it reported at
 * snap_index with raft_snapshot_taken(), starting at offset, and put in the
 * frame it sends. A received RAFT_MSG_SNAPSHOT carries the bytes in chunk;
 * the receiving core copies them into rd->snapshot_chunks for staging.
 */

/* ------------------------------------------------------------------------ */
/* Configuration of one core                                                  */

struct raft_config {
	raft_id id;
	uint64_t seed;               /* seeds the election-timeout PRNG */
	unsigned election_ticks;     /* election timeout: random in [e, 2e) ticks */
	unsigned heartbeat_ticks;    /* leader sends heartbeats every this many ticks */
	bool pre_vote;               /* PreVote (dissertation 9.6); default true */
	bool check_quorum;           /* CheckQuorum (dissertation 6.2); default true.
	                              * Also enables the vote lease (4.2.3): a server
	                              * that heard from a leader within election_ticks
	                              * ignores (pre)votes without `transfer`. */
	unsigned max_inflight_msgs;  /* AppendEntries in flight per follower */
	size_t max_inflight_bytes;   /* entry bytes in flight per follower */
	size_t max_msg_bytes;        /* entry bytes in one AppendEntries */
	size_t snapshot_chunk_bytes; /* bytes in one InstallSnapshot chunk */
	raft_index trailing_entries; /* entries kept behind a snapshot for slow followers */
	raft_index catch_up_entries; /* beyond those, a leader also keeps the entries a
	                              * follower heard from in the last election timeout
	                              * still needs, if it is at most this many behind
	                              * the snapshot (so one that just installed a
	                              * snapshot can go on with entries) */
	raft_index promote_lag;      /* a learner is caught up when its match index
	                              * is within this many entries of the leader's last */
	uint64_t lease_duration;     /* leader read lease (dissertation 6.4.1), in the
	                              * units of raft_set_now(); 0 turns it off. It
	                              * must be shorter than the least real time any
	                              * server takes to count election_ticks - 1 ticks,
	                              * less clock drift. See raft_set_now(). */
	uint64_t follower_lease;     /* D: follower read leases, in the units of
	                              * raft_set_now(); 0 turns them off. Needs
	                              * lease_duration (a leader grants only under
	                              * its own lease). A leader waits for every
	                              * follower it granted within the last D before
	                              * it makes an entry visible, and a new leader
	                              * makes nothing visible for D * (1000 +
	                              * clock_drift_permille) / 1000 after it wins.
	                              * Every server must use the same D. */
	unsigned clock_drift_permille; /* how much faster, per mille, any server's
	                              * clock may run than any other's (the bound
	                              * lease_duration already assumes): a follower
	                              * holds a grant for D * 1000 / (1000 + this) */
};

/* Fills @cfg with the defaults for server @id (10/1 ticks, PreVote and
 * CheckQuorum on, 256 messages, 8 MiB, 1 MiB, 1 MiB, 1024 entries, 65536
 * entries, 64; no read lease). */
void raft_config_default(struct raft_config *cfg, raft_id id, uint64_t seed);

/* ------------------------------------------------------------------------ */
/* What a ready batch holds                                                  */

struct raft_hard_state {
	raft_term term;
	raft_id vote;
	raft_index commit;
};

struct raft_snapshot_meta {
	raft_index index;
	raft_term term;
	struct raft_conf conf;
	uint64_t size;
};

/* A received chunk to write into the staging area of snapshot @snap_index. */
struct raft_snapshot_chunk {
	raft_index snap_index;
	uint64_t offset; /* 0 starts a new staging area, discarding any older one */
	struct raft_buf data;
};

/* A linearizable read that may now be served once the local state machine
 * has applied @index (dissertation 6.4), or failed with @status. */
struct raft_read_state {
	uint64_t ctx;
	raft_index index;
	int status; /* 0, RAFT_ELEADERLOST, RAFT_ENOLEADER or RAFT_ENOTLEADER */
};

struct raft_ready {
	uint64_t id; /* for raft_persisted(); ids increase by one per batch */

	bool hard_state_changed;
	struct raft_hard_state hard_state;

	/* Received snapshot bytes to stage, in order. */
	const struct raft_snapshot_chunk *snapshot_chunks;
	unsigned n_snapshot_chunks;
	/* Set: install the staged snapshot as the state machine and the log's
	 * base; if snapshot_keep_log is false, delete the whole stored log too,
	 * otherwise keep the entries after it (paper Figure 13, rules 6-7). */
	const struct raft_snapshot_meta *snapshot_install;
	bool snapshot_keep_log;

	/* Entries to store, consecutive; stored entries at or after
	 * entries[0].index are replaced (a conflicting suffix). */
	const struct raft_entry *entries;
	unsigned n_entries;

	const struct raft_message *msgs; /* send now */
	unsigned n_msgs;
	const struct raft_message *msgs_after_persist; /* send once this batch is durable */
	unsigned n_msgs_after_persist;

	/* Committed entries to apply, in order; all durable locally. */
	const struct raft_entry *committed;
	unsigned n_committed;

	const struct raft_read_state *reads;
	unsigned n_reads;

	/* Non-NULL when the latest configuration changed since the last batch. */
	const struct raft_conf *conf;
	/* Role or leader changed since the last batch. */
	bool soft_state_changed;
};

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                   */

struct raft; /* opaque */

/*
 * raft_new - a core for @cfg->id with an empty log.
 * Returns 0 and *out, or -ENOMEM / -EINVAL (invalid config). Free with raft_free().
 */
int raft_new(const struct raft_config *cfg, struct raft **out);

void raft_free(struct raft *r);

/*
 * raft_bootstrap - start a new cluster: append @conf as the entry at index 1,
 * term 1, committed. Every founding member calls it with the same @conf, so
 * their logs agree. Only on a core with an empty log and no hard state.
 * Returns 0, -EINVAL (log not empty, @conf invalid), -ENOMEM.
 */
int raft_bootstrap(struct raft *r, const struct raft_conf *conf);

/*
 * raft_restore - load what was durable before a restart: the hard state, the
 * last snapshot (NULL if none) and the log entries after it (@entries[0].index
 * == snap->index + 1, or 1 without a snapshot). Entry data is copied.
 * Only on a fresh core. The persisted index becomes the last entry's. Committed
 * entries after the snapshot are handed out for apply again (from
 * snap->index + 1): the caller skips those its state machine already applied.
 * Returns 0, -EINVAL (a gap or a term going backwards), -ENOMEM.
 */
int raft_restore(struct raft *r, const struct raft_hard_state *hs,
                 const struct raft_snapshot_meta *snap, const struct raft_entry *entries,
                 unsigned n);

/*
 * raft_fail - the storage failed: stop voting, campaigning and leading for
 * good (docs/architecture.md, rule 1). Every later input returns RAFT_EFAILED or is ignored.
 */
void raft_fail(struct raft *r);

/* ------------------------------------------------------------------------ */
/* Inputs                                                                     */

/* One unit of logical time (a few to tens of milliseconds in the daemon). */
void raft_tick(struct raft *r);

/*
 * raft_step - deliver a message received from a peer. @m and all it points to
 * are borrowed for the call. Messages for another id, from an unknown term's
 * past, or malformed in their numbers are ignored.
 * Returns 0, -ENOMEM (the message was dropped; state unchanged where
 * practical), or RAFT_EFAILED after raft_fail().
 */
int raft_step(struct raft *r, const struct raft_message *m);

/*
 * raft_propose - append a command (data copied) to the leader's log.
 * Returns the index assigned (> 0), RAFT_ENOTLEADER, RAFT_EBUSY (a leadership
 * transfer is under way), RAFT_EFAILED or -ENOMEM.
 */
int64_t raft_propose(struct raft *r, const void *data, size_t len);

/*
 * raft_read_index - ask for a linearizable read (dissertation 6.4). Its
 * answer comes in a later rd->reads with the same @ctx: an index to wait for
 * in the local state machine, or a failure. A follower forwards the request to
 * the leader; reads waiting together are confirmed by one heartbeat round.
 * Returns 0 (an answer will come, unless the request or its reply is lost in
 * the network, which the caller covers with a timeout), RAFT_ENOLEADER,
 * RAFT_EFAILED, -ENOMEM.
 */
int raft_read_index(struct raft *r, uint64_t ctx);

/*
 * raft_set_now - tell the core the time, from a monotonic clock, in the units
 * of cfg.lease_duration. The core never reads a clock; this is the only time
 * it knows. It matters only when cfg.lease_duration is set:
 *
 * - raft_ready() stamps the heartbeats and appends it builds with the last
 *   time set (an older time only shortens the lease);
 * - raft_read_index() and raft_step() of a follower's read request answer at
 *   once, without a heartbeat round, while the leader holds a lease: a
 *   majority of voters echoed a message stamped less than lease_duration
 *   before now. Each of them ignores votes for election_ticks ticks after it
 *   heard from the leader (and for election_ticks ticks after it starts), so
 *   no other leader can exist before the lease ends (dissertation 6.4.1).
 *
 * A time older than the real one would stretch the lease, so a lease read is
 * taken only with a time set since the previous call of raft_step(),
 * raft_read_index(), raft_tick() or raft_ready(): set it right before the call.
 * A leader that started a transfer (whose TimeoutNow overrides the followers'
 * vote lease) reads with heartbeat rounds for the rest of its term.
 */
void raft_set_now(struct raft *r, uint64_t now);

/*
 * raft_transfer - hand leadership to @to (RAFT_NONE: the most up-to-date
 * voter). The leader stops accepting proposals, catches @to up, and sends it
 * TimeoutNow (dissertation 3.10). Aborted after an election timeout.
 * Returns 0 (also when @to is this leader: nothing to do), RAFT_ENOTLEADER,
 * RAFT_ENOTFOUND (not a voter), RAFT_EBUSY, RAFT_EFAILED, -ENOMEM.
 */
int raft_transfer(struct raft *r, raft_id to);

enum raft_change_kind {
	RAFT_ADD_LEARNER = 1, /* a new, non-voting server */
	RAFT_PROMOTE,         /* learner -> voter, once caught up */
	RAFT_REMOVE,          /* remove a voter or learner (also the leader itself) */
};

/*
 * raft_change - propose a single-server membership change (dissertation 4.1,
 * 4.2.1, 4.2.2). At most one change is uncommitted at a time, and only once
 * the leader has committed an entry of its own term (the fix of the
 * single-server change bug, raft-dev 2015). The new configuration takes effect
 * on each server as soon as it is in its log. A leader that removes itself
 * keeps leading, not counting itself, until the change commits, then steps down.
 * @address is copied for RAFT_ADD_LEARNER and ignored otherwise.
 * Returns the index of the configuration entry (> 0), RAFT_ENOTLEADER,
 * RAFT_EBUSY, RAFT_ENOTFOUND, RAFT_EEXIST, RAFT_ETOOMANY, RAFT_ENOTCAUGHTUP
 * (promote), RAFT_EFAILED, -EINVAL (@id 0, @address of RAFT_ADDRESS_MAX bytes
 * or more, removing the last voter), -ENOMEM. Promoting a voter: RAFT_EEXIST.
 */
int64_t raft_change(struct raft *r, enum raft_change_kind kind, raft_id id, const char *address);

/*
 * raft_persisted - the persist step of batch @id (and all before it) is
 * durable. Lets a follower's acknowledgements stand and lets the leader count
 * itself toward commit (dissertation 10.2.1).
 */
void raft_persisted(struct raft *r, uint64_t id);

/*
 * raft_snapshot_taken - the caller holds a snapshot of the state machine at
 * @index (<= the last index it applied), @size bytes, that it can read chunks
 * from as long as raft_snapshots_in_use() lists it. The log up to
 * index - trailing_entries is dropped from memory, but never past the
 * snapshot of a transfer in progress (its follower needs the entries after
 * it). *@compact_to (may be NULL) receives the index up to
 * which the caller may delete stored entries. A snapshot installed from the
 * leader (rd->snapshot_install) counts as reported: a follower that becomes
 * leader sends chunks of it, so the caller keeps it readable likewise.
 * Returns 0, -EINVAL (@index not applied, or older than the current snapshot).
 */
int raft_snapshot_taken(struct raft *r, raft_index index, uint64_t size, raft_index *compact_to);

/*
 * Released entries. raft_log_release() drops the data of entries that are
 * durable locally and were handed out for apply, so that it is the caller's
 * store, not the core's memory, that holds them. The core still knows each
 * such entry's index, term, type and size, and still sends it: an entry in
 * a message (an AppendEntries in rd->msgs or rd->msgs_after_persist) may
 * have data.base NULL with data.len > 0. The caller reads those bytes from
 * its stored log (index and term identify the entry) before the message
 * leaves, as it does the bytes of a snapshot chunk. raft_entry_at() may
 * likewise return an entry without its data. Entries handed out in
 * rd->entries and rd->committed always carry their data.
 */

/*
 * raft_log_release - drop entry data from memory, oldest first, until at
 * most @keep_bytes of it are held, or no entry is left that is both
 * persisted (raft_persisted()) and handed out for apply. Cheap when the log
 * is within @keep_bytes: call it after every batch. SIZE_MAX keeps all.
 */
void raft_log_release(struct raft *r, size_t keep_bytes);

/* raft_log_bytes - the bytes of entry data the core holds in memory. */
size_t raft_log_bytes(const struct raft *r);

/*
 * raft_snapshots_in_use - the snapshots the caller must keep readable: the
 * latest (raft_snapshot_taken() or an install), and on a leader each older
 * one a transfer in progress started with (a transfer finishes on its own
 * snapshot). Fills up to @max indexes into @out, the latest first; returns
 * how many. Every other snapshot may be deleted. At most RAFT_MAX_SERVERS + 1.
 */
unsigned raft_snapshots_in_use(const struct raft *r, raft_index *out, unsigned max);

/* ------------------------------------------------------------------------ */
/* Taking a ready batch                                                       */

/* True if raft_ready() would return anything. */
bool raft_has_ready(const struct raft *r);

/*
 * raft_ready - collect everything to persist, send and apply since the last
 * batch into @rd. The contents are owned by the core and valid until
 * raft_advance(r, rd). Call raft_advance() before the next raft_ready().
 */
void raft_ready(struct raft *r, struct raft_ready *rd);

/* raft_advance - the caller has taken @rd (steps 1-3 started in order). */
void raft_advance(struct raft *r, const struct raft_ready *rd);

/*
 * raft_read_lease - may a linearizable read be served from the local state
 * machine now, without asking anyone? True on a leader that holds its read
 * lease, and on a follower (or learner) that holds a follower read lease
 * (cfg.follower_lease). Then *@floor (may be NULL) is the index the local
 * state machine must have applied before it answers: the leader's commit
 * index, or on a follower the commit index of its latest grant. A follower
 * must also wait for every entry it has acknowledged and not yet applied that
 * touches what the read reads (it marks them before it acknowledges: the
 * node's side of the ready contract, docs/raft-core.md). Uses the time set
 * by raft_set_now() right before the call, and false without one.
 */
bool raft_read_lease(const struct raft *r, raft_index *floor);

/*
 * raft_read_lease_end - when the read lease raft_read_lease() holds now ends,
 * in the units of raft_set_now() (UINT64_MAX: the only voter's, which never
 * ends); 0 when it holds none. A cache that answers under the lease (the
 * kernel's, fuse/caches.c) must not keep an answer past it.
 */
uint64_t raft_read_lease_end(const struct raft *r);

/* ------------------------------------------------------------------------ */
/* Queries (for status and tests)                                            */

raft_id raft_self(const struct raft *r);
enum raft_role raft_role(const struct raft *r);
raft_term raft_current_term(const struct raft *r);
raft_id raft_leader(const struct raft *r); /* RAFT_NONE if unknown */
raft_index raft_commit_index(const struct raft *r);
raft_index raft_last_index(const struct raft *r);
raft_index raft_first_index(const struct raft *r); /* first entry held in memory */
raft_index raft_persisted_index(const struct raft *r);
const struct raft_conf *raft_configuration(const struct raft *r); /* the latest */

/* The entry at @index if held in memory (borrowed until the next input), or NULL. */
const struct raft_entry *raft_entry_at(const struct raft *r, raft_index index);

/* How the leader replicates to a follower (as etcd-io/raft's Progress). */
enum raft_progress_state {
	RAFT_PROGRESS_PROBE = 0,     /* one AppendEntries at a time, finding the match */
	RAFT_PROGRESS_REPLICATE = 1, /* pipelined AppendEntries, within the in-flight bound */
	RAFT_PROGRESS_SNAPSHOT = 2,  /* sending a snapshot; no entries until it is done */
};

struct raft_progress_info {
	raft_id id;
	uint8_t role;                   /* enum raft_server_role */
	raft_index match;               /* highest index known replicated there */
	raft_index next;                /* next index to send */
	unsigned ticks_since_contact;   /* ticks since the leader heard from it */
	enum raft_progress_state state; /* the leader itself: REPLICATE */
};

/*
 * raft_progress - the leader's view of server @id.
 * Returns 0, RAFT_ENOTLEADER, RAFT_ENOTFOUND.
 */
int raft_progress(const struct raft *r, raft_id id, struct raft_progress_info *out);

#endif
