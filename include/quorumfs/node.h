/* node.h: the daemon's core as the mount and the programs see it. */
#ifndef QUORUMFS_NODE_H
#define QUORUMFS_NODE_H

/*
 * A node is one Raft member with its store, its file tree and its peer
 * transport, all driven by one libuv loop. The mount (fuse/) uses it through
 * three kinds of call:
 *
 *   - node_submit(): propose a change; its callback runs once the change is
 *     committed and applied on THIS node (so a read through this node right
 *     after sees it), or when it failed;
 *   - node_read_barrier(): wait until the local tree reflects every change
 *     committed anywhere before the call (ReadIndex, dissertation 6.4); with
 *     the stale_reads option it is ready at once;
 *   - node_getattr(), node_lookup(), node_read(), ...: answer from the local
 *     tree, in microseconds, on the loop thread.
 *
 * A linearizable read is a barrier followed by local queries.
 *
 * Threading: every function here is called on the loop thread, and every
 * callback runs on it. Callback rule (libuv's): a function that takes a
 * callback and returns an error never calls it; one that returns 0 calls it
 * exactly once, later, never from inside the call itself.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "quorumfs/wire_cmd.h"
#include "quorumfs/wire_admin.h"
#include "quorumfs/fsm.h"
#include "quorumfs/net.h"
#include "quorumfs/raft.h"

/* A node's peers are the core's servers, reached through the transport. */
#define NODE_MAX_PEERS   RAFT_MAX_SERVERS
#define NODE_ADDRESS_MAX RAFT_ADDRESS_MAX
#define NODE_KEY_BYTES   NET_KEY_BYTES

struct node_peer {
	uint64_t id;
	char address[NODE_ADDRESS_MAX]; /* "host:port" */
};

struct node_options {
	uint64_t id;              /* this node; > 0 */
	const char *data_dir;     /* LMDB environment, snapshots, admin socket */
	const char *cluster_name; /* peers must agree */
	uint8_t cluster_key[NODE_KEY_BYTES];
	unsigned heartbeat_ms;      /* Raft tick = heartbeat interval */
	unsigned election_ms;       /* election timeout, >= 3 heartbeats */
	unsigned commit_timeout_ms; /* a submit or barrier fails after this */
	uint64_t max_value_size;    /* bytes of one file; beyond: EFBIG */
	/* The founding members, used only to bootstrap an empty data directory
	 * (each founding member bootstraps the same configuration). Afterwards
	 * the membership is the replicated one: a differing list is logged and
	 * ignored. */
	unsigned n_peers;
	struct node_peer peers[NODE_MAX_PEERS];
	/* Non-NULL: this node has an empty data directory and joins an existing
	 * cluster; it waits to be added (quorumctl add) as a learner. Its
	 * peers must name itself (the address it listens on) and the members
	 * it dials until the leader's entries tell it the configuration. */
	const char *join_address;
	bool stale_reads;   /* barriers are ready at once; reads may be stale */
	bool no_read_lease; /* every linearizable read takes a heartbeat round */
	/* Follower read leases (docs/raft-core.md): D in ms, 0 off. A
	 * follower holding one passes read barriers without asking the
	 * leader; every write then waits for every holder (at most D for one
	 * cut off), and a new leader writes nothing for 1.112 D. Needs the
	 * read lease; every node must use the same value. */
	unsigned follower_lease_ms;
	/* Dial these peers at these addresses instead of their configured ones
	 * (e.g. through a fault-injecting proxy in tests). Listening is
	 * unaffected: this node still listens on its configured address. */
	unsigned n_dial_overrides;
	struct node_peer dial_overrides[NODE_MAX_PEERS];
	/* Snapshots: one is taken every snapshot_entries applied entries (0:
	 * 10000), and the log keeps snapshot_trailing entries behind it for
	 * followers a little behind (0: 1024). Tests make both small. */
	uint64_t snapshot_entries;
	uint64_t snapshot_trailing;
	/* Also one every snapshot_bytes bytes of applied entries (0: by
	 * entries alone). The core keeps at most log_memory bytes of entry
	 * data in memory (0: 32 MiB); the rest of the log is read from the
	 * store when a follower needs it (docs/operations.md). */
	uint64_t snapshot_bytes;
	uint64_t log_memory;
	/* The store's map never grows past this many bytes (0: the store's
	 * default, 1 TiB); a write beyond it fails as a full disk (ENOSPC).
	 * Tests make it small. */
	uint64_t max_map_bytes;
	/* Role hooks (docs/operations.md): run through /bin/sh -c when this
	 * node becomes leader / stops leading or follows a new leader; NULL or
	 * "": none. A hook still running after hook_timeout_ms (0: 10000) is
	 * killed. Copied. */
	const char *on_leader;
	const char *on_follower;
	unsigned hook_timeout_ms;
	/* The leader proposes a cross-replica check this often (0: never). */
	uint64_t verify_interval_ms;
	/* The lease of this node's session (node_coord.h): when no keepalive
	 * of it has applied for this long, its locks and ephemeral files are
	 * released. 0: 15000. */
	unsigned session_lease_ms;
};

struct node;

/*
 * node_cluster_id - the cluster id a node records in its store, derived
 * from the cluster's name: a directory of another cluster is refused. For
 * tools that create a data directory without a daemon (quorumctl restore).
 * Pure; any thread.
 */
void node_cluster_id(const char *name, uint8_t id[16]);

/* The store meta key where quorumctl force-new-cluster records the index of
 * the configuration entry it appended (8 bytes, big-endian): a node that
 * starts before applying it logs that its cluster was forced. */
#define NODE_FORCED_AT_KEY "node.forced_at"

/*
 * node_start - open the data directory, recover the log and the tree, start
 * the transport, the ticks and the admin socket (DATA_DIR/admin.sock).
 * @loop: borrowed; must outlive the node.
 * @opts: copied (strings too).
 * @err: receives one line saying what failed (@errlen bytes).
 * Returns 0 and *@out, or a negative error (-ENOENT, QFS_EMISMATCH,
 * QFS_EFORMAT, QFS_ECORRUPT, QFS_EBUSY (the directory is in use),
 * QFS_ECONFIG, -EADDRINUSE, ...). A failure after the transport started
 * leaves handles closing on @loop: run it before uv_loop_close().
 * This node listens on its address in the configuration, or for a node not
 * in one yet, its entry in @opts->peers. SIGPIPE is set to be ignored if
 * its disposition is the default.
 */
int node_start(uv_loop_t *loop, const struct node_options *opts, struct node **out, char *err,
               size_t errlen);

/*
 * node_stop - fail every waiting request with QFS_ESHUTDOWN, stop ticking and
 * sending, finish the write in progress, close every handle; then call
 * @done(@arg) once, on the loop, after which the node is freed.
 */
void node_stop(struct node *n, void (*done)(void *arg), void *arg);

/* ------------------------------------------------------------------------ */
/* Writes                                                                   */

/*
 * Called once per node_submit(). @err is 0 when the command was applied on
 * this node (or, with NODE_SUBMIT_AT_COMMIT, committed with a fixed
 * outcome); then @res (borrowed for the call) holds its outcome, whose own
 * error (-ENOENT, -EEXIST, ...) is in res->err. Otherwise @res is NULL and
 * @err is:
 *   -EROFS         no leader or no quorum for the commit timeout; not applied
 *   -ETIMEDOUT     proposed, but its commit was not seen in time: the outcome
 *                  is unknown (it may still apply, exactly once)
 *   -ENOSPC        this node's disk is full
 *   QFS_ESHUTDOWN  the node is stopping
 */
typedef void (*node_result_fn)(void *arg, int err, const struct fsm_result *res);

/*
 * node_submit - propose @cmd (copied, data included) to the cluster. The node
 * fills in client_id, serial and time_ns; uid and gid come from the caller.
 * On a follower the command is forwarded to the leader; a retry after a
 * leader change reuses the serial, so it applies exactly once.
 * Returns 0 (@cb will run), -EFBIG (the command exceeds max_value_size or the
 * frame limit), -EINVAL (the command does not encode: unknown type, flags,
 * a name over WIRE_CMD_NAME_MAX), -ENOMEM, QFS_ESHUTDOWN.
 * Besides the errors listed at node_result_fn, @cb may get -EIO: this
 * node's storage failed (it no longer votes or leads; see docs/daemon.md).
 */
int node_submit(struct node *n, const struct wire_cmd *cmd, node_result_fn cb, void *arg);

/* node_submit_flags' @flags. */
enum {
	/* The caller reads nothing of @res but res->err: the node may answer
	 * once the command is committed, before it applies here, when its
	 * outcome is fixed by then (a WRITE or a non-append WRITEV of a file
	 * that exists; src/node/answer.c). Such an answer has err 0 and a
	 * zeroed @res. Every later read on this node still sees the command:
	 * node_read_barrier() waits for its apply. */
	NODE_SUBMIT_AT_COMMIT = 1u << 0,
};

/* node_submit - with @flags (NODE_SUBMIT_*; 0 is node_submit()). */
int node_submit_flags(struct node *n, const struct wire_cmd *cmd, unsigned flags,
                      node_result_fn cb, void *arg);

/*
 * node_writable - may a change be accepted now? A local check, in
 * microseconds, that lets the mount fail a write(2) at once instead of at
 * the close that commits it (docs/semantics.md, "Publish at close").
 * "In contact" means: this node leads and heard from a majority of voters,
 * or follows a leader it heard from, within 3 heartbeats.
 * Returns 0 (in contact; a submit may still fail later), or:
 *   -EAGAIN        out of contact for less than the commit timeout (an
 *                  election, a late heartbeat): a submit waits for a leader
 *   -EROFS         out of contact for at least the commit timeout: what a
 *                  submit would end with
 *   -ENOSPC        this node's disk is full (the writer is retrying)
 *   -EIO           this node's storage failed
 *   QFS_ESHUTDOWN  the node is stopping
 */
int node_writable(struct node *n);

/* ------------------------------------------------------------------------ */
/* Reads                                                                    */

/* Called once per node_read_barrier() that returned 0: 0, -EIO (no quorum
 * for the commit timeout, or this node's storage failed), QFS_ESHUTDOWN (the
 * node stopped before the barrier held). */
typedef void (*node_done_fn)(void *arg, int err);

/*
 * node_read_barrier - wait until local reads are linearizable: the tree here
 * has applied every entry committed before this call. Barriers waiting at the
 * same moment share one ReadIndex round. With stale_reads too, the tree has
 * applied every command this node answered at commit (NODE_SUBMIT_AT_COMMIT).
 * Returns 0 (@cb will run), or, and then @cb will NOT run:
 *   1              the node serves stale reads (stale_reads), and has applied
 *                  what it answered: read at once
 *   QFS_ESHUTDOWN  the node is stopping
 *   -ENOMEM
 */
int node_read_barrier(struct node *n, node_done_fn cb, void *arg);

/*
 * node_read_lease_valid - does this node hold a read lease now: the
 * leader's own, or a follower read lease (follower_lease_ms)? While it does,
 * no write completes anywhere before this node has acknowledged it, so an
 * answer this node (or its kernel's cache, if it drops what each entry
 * changes before the acknowledgement leaves) gives is not older than any
 * write completed before the read. Reads the clock; loop thread only.
 */
bool node_read_lease_valid(struct node *n);

/*
 * node_read_lease_left - how long the read lease node_read_lease_valid()
 * sees lasts from now, in seconds of this node's clock (its drift bound
 * already taken off); 0 without one, and 0 without follower leases
 * (follower_lease_ms) unless this node is the only voter: only then does
 * no write complete before this node, the leader too, has dropped what it
 * makes stale. An answer the kernel caches under the lease must not
 * outlive it (fuse/caches.c). Loop thread only.
 */
double node_read_lease_left(struct node *n);

/*
 * Local queries. Each runs in its own short read transaction over the tree
 * and copies its results out; return values as the fsm_* function of the
 * same name (include/quorumfs/fsm.h), e.g. -ENOENT, -ENOTDIR.
 */
int node_getattr(struct node *n, uint64_t ino, struct fsm_attr *attr);
int node_lookup(struct node *n, uint64_t parent, const char *name, size_t len,
                struct fsm_attr *attr);
int node_read(struct node *n, uint64_t ino, uint64_t offset, size_t size, void *buf, size_t *got);
int node_readlink(struct node *n, uint64_t ino, char *buf, size_t cap, size_t *len);
int node_getxattr(struct node *n, uint64_t ino, const char *name, size_t name_len, void *buf,
                  size_t cap, size_t *len);
int node_listxattr(struct node *n, uint64_t ino, char *buf, size_t cap, size_t *len);
int node_statfs(struct node *n, struct fsm_statfs *st);

/*
 * node_readdir - list directory @ino from @cookie (0: the start), calling
 * @fn for each entry as fsm_readdir() does; @fn returns non-zero to stop
 * (e.g. the reply buffer is full). Returns 0 or a negative error.
 */
int node_readdir(struct node *n, uint64_t ino, uint64_t cookie, bool plus, fsm_readdir_cb fn,
                 void *arg);

/* ------------------------------------------------------------------------ */
/* Changes, for the kernel's caches                                         */

/*
 * Called on the loop after an applied command changed inode @ino (contents
 * or attributes) and, when it added, removed or renamed a name, with that
 * directory @parent and @name (@name borrowed for the call; NULL otherwise).
 * Runs for changes from every node, this one included. RENAME calls it
 * twice (old and new name). @ino 0 (with @parent 0, @name NULL): the whole
 * tree was replaced by an installed snapshot; drop every cached entry.
 */
typedef void (*node_change_fn)(void *arg, uint64_t ino, uint64_t parent, const char *name,
                               size_t name_len);

/* node_on_change - set (or clear with NULL) the change callback. */
void node_on_change(struct node *n, node_change_fn fn, void *arg);

/*
 * Pending marks (src/node/invalidate.c, docs/daemon.md "Pending marks").
 * When entries are durable here, before this node acknowledges them to the
 * leader, it marks the inodes they touch (wire_touch.h) as pending until it
 * has applied them, and calls the touch callback with those inodes (@all:
 * anything may change; @names: some name may be set or dropped, whose
 * parent is among @inos). The callback starts dropping what a cache holds of
 * them and returns 0 if nothing need be waited for, or a ticket > 0: the
 * acknowledgement (and every message after it) is then held until
 * node_touch_done() is called with that ticket or a later one. The callback
 * must never wait for the kernel. @inos is borrowed for the call.
 */
typedef uint64_t (*node_touch_fn)(void *arg, const uint64_t *inos, size_t n_inos, bool all,
                                  bool names);

/* node_on_touch - set (or clear with NULL) the touch callback. Clearing it
 * sends every message still held for a ticket. */
void node_on_touch(struct node *n, node_touch_fn fn, void *arg);

/* node_touch_done - the touch callback's invalidations up to @ticket are
 * done: send the messages they held. On the loop. */
void node_touch_done(struct node *n, uint64_t ticket);

/*
 * node_wait_pending - wait until no entry this node has acknowledged but
 * not applied touches inode @ino. A read served from the local tree without
 * a ReadIndex round (a read lease) must wait so, or it could answer older
 * than a write that completed elsewhere. Returns 1 at once if nothing is
 * pending for @ino, 0 if @cb(@arg, err) will run on the loop (0, or -EIO
 * after the commit timeout), or a negative error (@cb never runs).
 */
int node_wait_pending(struct node *n, uint64_t ino, node_done_fn cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Unlinked files still open (docs/semantics-fsm.md, "Orphans")             */

/*
 * A regular file that loses its last name (UNLINK, or RENAME over it) stays
 * in the tree as an orphan: no name, nlink 0, but node_getattr, node_read
 * and commands by inode number (WRITEV, SETATTR) keep working on it, on
 * every node, until each member of the cluster has released it; the last
 * release frees its space. The node releases by itself every orphan it
 * holds no handle of: when the unlink applies, at start (a restarted node
 * holds nothing open), and after a snapshot install. A member removed from
 * the cluster is dropped from every orphan at that entry.
 */

/*
 * Asked on the loop, during a release sweep: does the mount on this node
 * hold a handle of @ino (an open file, or anything that will end with a
 * node_orphan_release() call)? true keeps the orphan for this node.
 */
typedef bool (*node_open_fn)(void *arg, uint64_t ino);

/*
 * node_set_open_fn - set (or clear with NULL) the mount's answer to "is
 * @ino open here?". Without one, nothing is, and every orphan is released
 * as soon as its unlink applies (a file unlinked while open is then gone
 * on every node, as before orphans). Loop thread only.
 */
void node_set_open_fn(struct node *n, node_open_fn fn, void *arg);

/*
 * node_orphan_release - the mount's last handle of @ino on this node was
 * closed: if @ino is an orphan this node holds, release it (with every
 * other orphan this node holds no handle of, in one command). Call it at
 * every last close (or forget) of a regular file; for a file with names it
 * costs one read. Asynchronous and never fails: a release that cannot be
 * committed now is tried again every second, and at the next start.
 * Loop thread only.
 */
void node_orphan_release(struct node *n, uint64_t ino);

/*
 * node_orphan_held - whether @ino is an orphan that this node has not
 * released yet (*@held true), i.e. one only this node's handles keep.
 * The attributes tell an orphan too: a regular file with nlink 0.
 * Returns 0 or a storage error.
 */
int node_orphan_held(struct node *n, uint64_t ino, bool *held);

/* ------------------------------------------------------------------------ */
/* Status, for quorumctl                                                    */

struct node_member_status {
	uint64_t id;
	char address[NODE_ADDRESS_MAX];
	bool voter;
	uint64_t match; /* leader's view; 0 on followers */
	/* Milliseconds since this node last heard from the member (any frame),
	 * kept across role changes, so a new leader does not take a dead member
	 * for a live one; -1: never, or not tracked here (@contact says). */
	int64_t last_contact_ms;
	uint32_t contact; /* enum wire_admin_contact */
};

struct node_status {
	uint64_t id;
	const char *role; /* "leader", "follower", "candidate", "pre-candidate" */
	uint64_t term;
	uint64_t leader; /* 0 if unknown */
	uint64_t commit;
	uint64_t applied;
	uint64_t last_index;
	uint64_t snapshot_index;
	uint64_t first_index; /* first log entry still held; older ones are only
	                         in the snapshot */
	bool quorate; /* a leader heard a majority, a follower its leader, within an election timeout */
	uint64_t verify_index;      /* the last cross-replica check verdicted here */
	uint64_t verify_mismatches; /* members whose tree differed, since the start */
	unsigned n_members;
	struct node_member_status members[NODE_MAX_PEERS];
};

/* node_status - fill @st (strings static). */
void node_status(struct node *n, struct node_status *st);

/* ------------------------------------------------------------------------ */
/* Membership and maintenance (the admin socket's calls; tests use them too) */

enum node_member_op {
	NODE_ADD_LEARNER = 1, /* a new, non-voting member; promoted automatically once caught up */
	NODE_PROMOTE,         /* learner -> voter now (-EAGAIN until caught up) */
	NODE_REMOVE,          /* remove a member (the leader too) */
};

/*
 * node_member_change - propose a single-server membership change on this
 * node, which must lead. @address (copied) only for NODE_ADD_LEARNER.
 * Returns the index of the configuration entry (> 0; it applies like any
 * entry), or QFS_ENOTLEADER (ask the leader: node_status().leader),
 * QFS_EBUSY (another change or a transfer is under way), -ENOENT (no such
 * member), -EEXIST (already a member), -E2BIG (NODE_MAX_PEERS reached),
 * -EAGAIN (the learner is not caught up), -EINVAL, -ENOMEM, QFS_ESTORAGE.
 */
int64_t node_member_change(struct node *n, enum node_member_op op, uint64_t id,
                           const char *address);

/*
 * node_transfer - hand leadership to voter @to (0: the most up-to-date one).
 * Returns 0 (started; it completes or is abandoned within an election
 * timeout), QFS_ENOTLEADER, -ENOENT, QFS_EBUSY.
 */
int node_transfer(struct node *n, uint64_t to);

/*
 * node_snapshot - ask the writer to take a snapshot now (the log is then
 * compacted behind it). Returns 0; the snapshot follows after the write in
 * progress; node_status().snapshot_index shows it.
 */
int node_snapshot(struct node *n);

/*
 * node_status_json - render @st as one JSON object (wire_admin_status_json():
 * the same as `quorumctl status --json`) into @buf, at most @cap bytes,
 * NUL-terminated when it fits.
 * Returns the length of the whole rendering (>= @cap: it was cut short).
 */
size_t node_status_json(const struct node_status *st, char *buf, size_t cap);

/* The files of the mount's reserved directory .quorumfs/ (docs/operations.md). */
enum node_status_file {
	NODE_FILE_STATUS = 0, /* status: the JSON of node_status_json() */
	NODE_FILE_MEMBERS,    /* members: one line per member */
	NODE_FILE_LEADER,     /* leader: "ID ADDRESS", or "none" */
	NODE_FILE_COUNT
};

/*
 * node_status_file - render file @which of this node's current status into
 * @buf (at most @cap bytes, NUL-terminated when it fits). Needs no quorum.
 * Returns the length of the whole rendering (>= @cap: cut short).
 */
size_t node_status_file(struct node *n, enum node_status_file which, char *buf, size_t cap);

#endif
