/* fuse_int.h: what the files of the mount share: the mount, parked operations, inodes, handles. */
#ifndef QFS_FUSE_INT_H
#define QFS_FUSE_INT_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <uv.h>

#include "quorumfs/wire_cmd.h"
#include "quorumfs/fsm.h"
#include "quorumfs/node.h"
#include "quorumfs/qfs_fuse.h"

struct qfs__notifier;
struct qfs__locks;
struct qfs__op;
struct qfs__handle;

/*
 * What the mount knows of an inode the kernel holds: its lookup count, its
 * open handles, and the publishes of their gathered writes in flight.
 * Invariants: an entry lives while nlookup + nopen + n_inflight + hold > 0,
 * an operation waits on it, or @lost is set.
 */
struct qfs__inode {
	uint64_t ino;
	uint64_t nlookup;
	unsigned nopen;
	unsigned n_inflight;         /* publishes (and truncations) proposed, not answered */
	unsigned hold;               /* code on the stack still uses the entry */
	/* The last publish of this inode's writes from this node failed (or
	 * was refused: EFBIG), so its contents are not what the writer wrote:
	 * rename and link of it fail with EIO until a publish succeeds
	 * (docs/semantics.md, "A failed publish"). Kept in memory only. */
	bool lost;
	struct qfs__handle *handles; /* the open handles, linked by next */
	struct qfs__op *wait_head;   /* operations waiting for n_inflight == 0 */
	struct qfs__op *wait_tail;
	struct qfs__inode *next; /* hash chain */
};

struct qfs__inodes {
	struct qfs__inode **buckets;
	size_t n_buckets; /* a power of two */
	size_t count;
};

struct qfs_mount {
	uv_loop_t *loop;
	struct node *node;
	struct fuse_session *se;
	struct fuse_buf buf;
	uv_poll_t poll;
	bool dispatching; /* inside poll_cb: the session must not be destroyed */
	char *mountpoint;
	char *fsname;
	struct qfs_mount_options opts;
	struct qfs__inodes inodes;
	struct qfs__notifier *notifier;
	struct qfs__locks *locks; /* parked lock requests, lock users (ops_lock.c) */
	unsigned long parked; /* operations waiting on the node or an inode */
	size_t buffered;      /* bytes gathered in all handles, not yet published */
	size_t scanned;       /* bytes in all handles' read versions */
	bool stopping;
	bool caches_failed; /* a touch could not be queued: the caches stay off (caches.c) */
	unsigned kernel_minor; /* the kernel's FUSE protocol minor (op_init) */
	uint64_t init_unique;  /* the kernel's INIT request until answered (init_ext.c) */
	uint32_t kernel_flags2; /* the INIT flags2 the kernel offered */
	bool direct_io_mmap;   /* asked for FUSE_DIRECT_IO_ALLOW_MMAP: MAP_SHARED with direct I/O */
	uint64_t cached_until; /* uv_hrtime() by which every attribute timeout given has run out */
	bool gone;        /* the kernel side went away (unmounted or aborted) */
	bool finishing;   /* stopping, and nothing is parked any more */
	int handles_open; /* uv handles not yet closed */
	/* Handles with gathered writes, oldest first (so by due time): the
	 * timer publishes each publish_delay_ms after its first write. */
	uv_timer_t publish_timer;
	struct qfs__handle *dirty_head, *dirty_tail;
	/* A clean stop's first step (qfs_mount_drain): everything gathered is
	 * published, new writes fail, and @drain_done runs once no publish is
	 * in flight or the bound passed (@drain_timer). */
	unsigned long publishing; /* publishes in flight, all handles */
	bool draining;
	bool drain_waited; /* it had publishes to wait for */
	unsigned drain_bound_ms;
	uv_timer_t drain_timer;
	void (*drain_done)(void *arg);
	void *drain_arg;

	/* Deferred creates (create.c): inode numbers this node reserved
	 * (CREATE_WRITEV), [pool_next, pool_end); the handles whose create is
	 * pending or in flight; the requests that wait for one. */
	uint64_t pool_next, pool_end;
	bool pool_refilling;
	struct qfs__handle *creating;
	struct qfs__held *held_head, *held_tail;
	bool held_ready; /* a create ended while dispatching: look at the held */

	void (*stop_done)(void *arg);
	void *stop_arg;
};

/* ------------------------------------------------------------------------ */
/* Parked operations (op.c)                                                 */

struct qfs__op;

/* What an operation does, for mapping its errors (errors.c): without a
 * quorum a change fails with EROFS, a read with EIO. */
enum qfs__op_kind {
	QFS__READ,   /* reads the tree: lookup, getattr, read, readdir, ... */
	QFS__CHANGE, /* changes the tree: write, create, rename, setattr, ... */
};

typedef void (*qfs__op_fn)(struct qfs__op *op, int err);
typedef void (*qfs__result_fn)(struct qfs__op *op, int err, const struct fsm_result *res);

/*
 * One kernel request in progress. Each operation embeds this header first in
 * a context of its own (qfs__op_new(size)). It is freed by qfs__op_done(),
 * after the one reply.
 */
struct qfs__op {
	struct qfs_mount *m;
	fuse_req_t req;
	uint64_t ino;
	qfs__op_fn run;       /* what runs after a barrier or a wait */
	qfs__result_fn done;  /* what runs after a submit */
	struct qfs__op *next; /* in an inode's wait list */
};

/* A new operation context of @size bytes (zeroed), or NULL (then the request
 * was answered ENOMEM). */
void *qfs__op_new(struct qfs_mount *m, fuse_req_t req, uint64_t ino, size_t size);
/* Free @op (its request must have been answered). */
void qfs__op_done(struct qfs__op *op);
/* Answer @op's request with the error @err (mapped for @kind, errors.c) and free it. */
void qfs__op_fail(struct qfs__op *op, int err, enum qfs__op_kind kind);

/* Run @fn(@op, err) once local reads are linearizable (node_read_barrier). */
void qfs__barrier(struct qfs__op *op, qfs__op_fn fn);
/* Propose @cmd (uid/gid from the request filled here); @fn(@op, err, res)
 * runs once with the outcome. */
void qfs__submit(struct qfs__op *op, struct wire_cmd *cmd, qfs__result_fn fn);
/* qfs__submit, for a caller that reads only res->err: the node may answer
 * at commit (NODE_SUBMIT_AT_COMMIT), and reads still see the change. */
void qfs__submit_at_commit(struct qfs__op *op, struct wire_cmd *cmd, qfs__result_fn fn);
/* Run @fn(@op, err) once what handle @h (NULL: none) owes is committed
 * (publishing it now) and no publish of @op->ino is in flight. */
void qfs__settle(struct qfs__op *op, struct qfs__handle *h, qfs__op_fn fn);
/* Run @fn(@op, err) once no publish of @op->ino is in flight (what handles
 * gathered stays gathered). */
void qfs__wait_inflight(struct qfs__op *op, qfs__op_fn fn);

/* Called when m->parked may have reached 0 while stopping (mount.c). */
void qfs__maybe_finish(struct qfs_mount *m);

/* ------------------------------------------------------------------------ */
/* Inodes (inode.c)                                                         */

int qfs__inodes_init(struct qfs__inodes *t);
void qfs__inodes_free(struct qfs__inodes *t);
/* The entry of @ino, or NULL. */
struct qfs__inode *qfs__inode_find(struct qfs__inodes *t, uint64_t ino);
/* The entry of @ino, created if absent; NULL if out of memory. */
struct qfs__inode *qfs__inode_get(struct qfs__inodes *t, uint64_t ino);
/* Free @in if nothing holds it any more (see the invariant). */
void qfs__inode_put(struct qfs__inodes *t, struct qfs__inode *in);
/* The kernel got a reference (an entry reply): nlookup += 1. */
void qfs__inode_lookup(struct qfs_mount *m, uint64_t ino);
/* The kernel dropped @n references (forget). */
void qfs__inode_forget(struct qfs_mount *m, uint64_t ino, uint64_t n);

/* ------------------------------------------------------------------------ */
/* Open files (handle.c)                                                    */

/* One gathered write (or several that touched adjacent bytes). */
struct qfs__extent {
	uint64_t off; /* ignored for a handle's appends */
	char *data;   /* owned */
	size_t len, cap;
};

struct qfs__handle {
	uint64_t ino;
	int flags;          /* open(2) flags */
	bool append;        /* O_APPEND: every write goes at the end */
	bool sync;          /* O_SYNC / O_DSYNC: every write is published before its answer */
	unsigned flushes;   /* FLUSH requests seen (one per close(2) of a descriptor) */
	bool trunc_pending; /* O_TRUNC not published yet (see handle.c) */
	bool kill_suidgid;  /* a write (or the O_TRUNC) came from a caller without
	                       CAP_FSETID while the file had set-id bits */
	/* What was written through the handle and not yet published, in the
	 * order written (handle.c, "Gathering"). */
	struct qfs__extent *ext;
	size_t n_ext, cap_ext;
	size_t gathered; /* bytes in @ext */
	uint64_t end;    /* not append: the highest end of an extent */
	uint64_t base_size; /* with @n_ext > 0: the committed size and mode at the */
	uint32_t base_mode; /* batch's first write (limits, set-id bits) */
	uint64_t size_after; /* with @publishing > 0: the size the last publish
	                        leaves (the tree's lags until it applies) */
	int err;         /* a failed publish not yet reported (next write, flush, fsync) */
	unsigned publishing;  /* publishes of this handle in flight */
	size_t publishing_bytes; /* the data they carry */
	fuse_req_t release;   /* RELEASE waiting for @publishing to reach 0 */
	bool releasing;
	bool dirty;           /* on the mount's dirty list */
	uint64_t due;         /* uv_now() at which the delay publishes it */
	struct qfs__handle *dnext, *dprev;
	/* The version of the file a read at offset 0 took: the reads that follow
	 * are served from it, so a scan (cat, cp) sees one version, never a mix
	 * of an old and a new one (handle.c, "Read versions"). */
	char *version;
	size_t version_len;
	bool has_version;
	/* poll(2) (ops_poll.c): the kernel's handle to wake, and the version
	 * the handle last saw (0: not polled since its last read at offset 0). */
	struct fuse_pollhandle *poll_ph;
	uint64_t poll_seen;
	/* A create deferred into the first publish (create.c): the file is in
	 * no tree until it is answered. @c_attr is what this node shows
	 * meanwhile; @c_trunc: O_TRUNC, for a file another node made first;
	 * @tree_ino: the file the create reached, if another node made it
	 * first (0: @ino itself). */
	bool create_pending;  /* not proposed yet */
	bool create_inflight; /* proposed, not answered */
	bool c_trunc;
	uint64_t c_parent;
	char *c_name; /* owned */
	size_t c_name_len;
	struct fsm_attr c_attr;
	uint64_t tree_ino;
	struct qfs__handle *cnext; /* the mount's creating handles */
	struct qfs__handle *next, *prev; /* the inode's open handles */
};

/* Open a handle on @ino (copying @fi->flags), marking a pending truncation
 * if @truncate, and the set-id bits to clear with it if @kill. Returns NULL
 * if out of memory. */
struct qfs__handle *qfs__handle_open(struct qfs_mount *m, uint64_t ino, int flags, bool truncate,
                                     bool kill);
/* The handle of @fi. */
struct qfs__handle *qfs__handle_of(const struct fuse_file_info *fi);
/* node_open_fn: does this mount hold @ino open (an orphan it keeps)? */
bool qfs__inode_is_open(void *arg, uint64_t ino);
/* Does @h owe a publish (gathered writes, or its O_TRUNC)? */
bool qfs__handle_owes(const struct qfs__handle *h);
/* Publish what @h owes, if anything, answering nothing; the inode's
 * n_inflight counts it until it is answered. */
void qfs__handle_settle(struct qfs_mount *m, struct qfs__handle *h);
/* Publish what every handle of @ino on this node gathered, now, answering
 * nothing: before a lock is released, so that the release comes after the
 * data in the log and whoever takes the lock next sees it. */
void qfs__inode_publish(struct qfs_mount *m, uint64_t ino);
/* The size the file has for @h's writer: @committed, as @h's gathered
 * writes (and its O_TRUNC) change it. */
uint64_t qfs__handle_size(const struct qfs__handle *h, uint64_t committed);
/* Publish the bare truncations of @in's handles that were flushed twice
 * with nothing written (`: > f` before its RELEASE), so that what comes
 * next on this node sees them. */
void qfs__inode_settle_truncations(struct qfs_mount *m, struct qfs__inode *in);
/* A publish or truncation of @in was proposed / answered. */
void qfs__inflight_begin(struct qfs__inode *in);
void qfs__inflight_end(struct qfs_mount *m, struct qfs__inode *in);
/* Answer WRITE of @size bytes at @off through @h (handle.c, "Gathering"). */
void qfs__handle_write(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h, const char *buf,
                       size_t size, off_t off);
/* Answer FLUSH: publish what @h gathered (never a bare truncation: see
 * handle.c), answering after the commit with its error, or a failed
 * publish's. */
void qfs__handle_flush(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h);
/* Answer fsync of @h: publish what it owes and answer with the commit's
 * error; else wait for its publishes in flight. */
void qfs__handle_fsync(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h);
/* Close @h: publish what it still owes, then free it. Answers @req
 * (release; NULL: none) when done. */
void qfs__handle_release(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h);
/* Forget @h without publishing: the kernel never had it (the open's reply
 * failed), so for the kernel the open never happened. */
void qfs__handle_drop(struct qfs_mount *m, struct qfs__handle *h);
/* The publish timer fired (mount.c starts it, handle.c arms it). */
void qfs__publish_timer_cb(uv_timer_t *t);
/* A drain began (m->draining): publish what every open handle owes. */
void qfs__publish_all(struct qfs_mount *m);
/* The drain's bound passed: log, per file, what is still in flight. */
void qfs__log_unpublished(struct qfs_mount *m);
/* The mount is freed: free the handles the kernel never released (files
 * still open when it was unmounted), publishing nothing. */
void qfs__handles_free(struct qfs_mount *m);
/* A publish ended while draining: mount.c ends the drain once none is left. */
void qfs__drain_check(struct qfs_mount *m);
/* Does the caller of @req lack CAP_FSETID (read from /proc)? */
bool qfs__caller_lacks_fsetid(fuse_req_t req);
/* Would a write by @req's caller to a file of @mode clear its set-id bits? */
bool qfs__write_kills_suidgid(fuse_req_t req, uint32_t mode);
/* Read versions. Should a READ at @off through @h take a new version (a read
 * at offset 0, or no version held)? */
bool qfs__handle_wants_version(const struct qfs__handle *h, off_t off);
/* Keep @data (@len bytes, ownership passes) as @h's version, if the mount's
 * budget allows; returns false (and frees nothing: the caller keeps @data)
 * when it does not. */
bool qfs__handle_set_version(struct qfs_mount *m, struct qfs__handle *h, char *data, size_t len);
/* Forget @h's version (a write through @h, or its release). */
void qfs__handle_drop_version(struct qfs_mount *m, struct qfs__handle *h);

/* ------------------------------------------------------------------------ */
/* Deferred creates (create.c)                                              */

/* CREATE of @name in @parent without O_EXCL: if a reserved inode number is
 * at hand and the name is absent here, answer it now and defer the create
 * into the handle's first publish; returns false (answering nothing) when
 * the caller must create at once instead. */
bool qfs__create_defer(struct qfs_mount *m, fuse_req_t req, uint64_t parent, const char *name,
                       size_t len, mode_t mode, struct fuse_file_info *fi);
/* The inode numbers to reserve with a create made at once (0: enough at
 * hand); marks a reservation in flight. */
uint64_t qfs__create_reserve(struct qfs_mount *m);
/* A create made at once was answered: @first (0: none) starts the numbers
 * it reserved (@n of them). */
void qfs__create_reserved(struct qfs_mount *m, uint64_t first, uint64_t n);
/* The tree's inode of @h's file (after a create that found the name taken,
 * not the one the kernel knows). */
uint64_t qfs__handle_tree_ino(const struct qfs__handle *h);
/* GETATTR of an inode whose create is pending or in flight: answered (true)
 * from what this node made of it. */
bool qfs__create_getattr(struct qfs_mount *m, fuse_req_t req, uint64_t ino,
                         struct fuse_file_info *fi);
/* Fill @cmd (a WRITEV publish of @h) as the deferred create; @h's create is
 * in flight from now on. */
void qfs__create_command(struct qfs__handle *h, struct wire_cmd *cmd);
/* The create of @h was answered (@err, @res as published() has them). */
void qfs__create_answered(struct qfs_mount *m, struct qfs__handle *h, int err,
                          const struct fsm_result *res);
/* @h goes away: it no longer creates anything. */
void qfs__create_forget(struct qfs_mount *m, struct qfs__handle *h);
/* A request just read (mount.c): if it must see a create that is pending
 * or in flight, keep a copy, publish that create now, and return true; the
 * request is dispatched once the create is answered. */
bool qfs__create_hold(struct qfs_mount *m, const struct fuse_buf *buf);
/* Dispatch the held requests that wait for nothing any more. */
void qfs__create_release_held(struct qfs_mount *m);

/* ------------------------------------------------------------------------ */
/* Errors (errors.c): the one place node and fsm codes become FUSE replies.  */

/* The positive errno to give the kernel for @err (0, -errno or QFS_E*), for
 * an operation of @kind (no quorum: EROFS for a change, EIO for a read). */
int qfs__errno(int err, enum qfs__op_kind kind);
void qfs__reply_err(fuse_req_t req, int err, enum qfs__op_kind kind);

/* ------------------------------------------------------------------------ */
/* Replies with attributes (attr.c)                                          */

void qfs__attr_to_stat(const struct fsm_attr *a, struct stat *st);
/* Fill @e for @a with the mount's timeouts. */
void qfs__entry_param(struct qfs_mount *m, const struct fsm_attr *a, struct fuse_entry_param *e);
/* Reply an entry for @a and count the lookup. */
void qfs__reply_entry(struct qfs_mount *m, fuse_req_t req, const struct fsm_attr *a);
/* Reply @a as attributes (as committed: a pending truncation does not show). */
void qfs__reply_attr(struct qfs_mount *m, fuse_req_t req, const struct fsm_attr *a);
/* -ENAMETOOLONG if @len exceeds FSM_NAME_MAX, else 0. */
int qfs__check_name(size_t len);

/* ------------------------------------------------------------------------ */
/* What the kernel may cache (caches.c)                                     */

/* Are the kernel's caches on: asked for, and true (a read lease held)? */
bool qfs__caches_on(struct qfs_mount *m);
/* Might the kernel still hold an attribute given with a positive timeout?
 * While it may, a touch drops it before the ack, lease or not. */
bool qfs__caches_held(struct qfs_mount *m);
/* The timeouts to give the kernel with a reply, now. */
double qfs__attr_timeout(struct qfs_mount *m);
double qfs__entry_timeout(struct qfs_mount *m);
/* Set keep_cache and direct_io of an open's or a create's reply. */
void qfs__open_flags(struct qfs_mount *m, struct fuse_file_info *fi);

/* init_ext.c: the session's I/O, so that the INIT answer can ask for
 * FUSE_DIRECT_IO_ALLOW_MMAP, which libfuse 3.14 cannot. */
int qfs__init_ext(struct qfs_mount *m);

/* ------------------------------------------------------------------------ */
/* Cache invalidation (notify.c)                                            */

int qfs__notifier_start(struct qfs_mount *m, char *err, size_t errlen);
/* Ask the thread to stop; @m->notifier is freed by qfs__notifier_join(). */
void qfs__notifier_stop(struct qfs__notifier *nt);
/* True once the thread has left its loop (it no longer writes to the session). */
bool qfs__notifier_stopped(struct qfs__notifier *nt);
void qfs__notifier_join(struct qfs__notifier *nt);
/* node_change_fn: queue the invalidations (never blocks on the kernel).
 * @ino 0 and @parent 0: everything may have changed (a snapshot install):
 * every inode the kernel holds is invalidated. */
void qfs__on_change(void *arg, uint64_t ino, uint64_t parent, const char *name, size_t name_len);
/* node_touch_fn: drop the kernel's cached attributes of @inos before the
 * node acknowledges the entries that touch them (with the caches on). */
uint64_t qfs__on_touch(void *arg, const uint64_t *inos, size_t n_inos, bool all, bool names);
/* Names may be cached: the kernel takes FUSE_NOTIFY_INC_EPOCH, which drops
 * every cached name without taking a lock (notify.c). Until that is known
 * (a probe the first call queues), false. Loop thread. */
bool qfs__names_cacheable(struct qfs_mount *m);

/* ------------------------------------------------------------------------ */
/* The operation tables' parts (ops_*.c)                                     */

void qfs__ops_entry(struct fuse_lowlevel_ops *ops);
void qfs__ops_dir(struct fuse_lowlevel_ops *ops);
void qfs__ops_file(struct fuse_lowlevel_ops *ops);
void qfs__ops_locks(struct fuse_lowlevel_ops *ops);
void qfs__ops_xattr(struct fuse_lowlevel_ops *ops);
void qfs__ops_poll(struct fuse_lowlevel_ops *ops);
/* ops_poll.c: wake the pollers of @ino's handles (loop thread); free a
 * handle's poll handle. */
void qfs__poll_changed(struct qfs_mount *m, uint64_t ino);
void qfs__poll_drop(struct qfs__handle *h);
/* Last: wraps the table the others built (.quorumfs/, request counts). */
void qfs__ops_status(struct fuse_lowlevel_ops *ops);

/* Every error reply is counted for /metrics (ops_status.c), by operation. */
int qfs__reply_err_counted(fuse_req_t req, int err);
#define fuse_reply_err(req, err) qfs__reply_err_counted((req), (err))

/* ------------------------------------------------------------------------ */
/* Locks (ops_lock.c)                                                        */

/* FLUSH / RELEASE of @fi: if the locks taken through it must end first,
 * end them, then answer as qfs__handle_flush / qfs__handle_release do, and
 * return true; false: nothing to end, the caller goes on. */
bool qfs__locks_flush(struct qfs_mount *m, fuse_req_t req, uint64_t ino,
                      const struct fuse_file_info *fi, struct qfs__handle *h);
bool qfs__locks_release(struct qfs_mount *m, fuse_req_t req, uint64_t ino,
                        const struct fuse_file_info *fi, struct qfs__handle *h);
/* The xattrs of locks and ephemeral files: true if @name is one (then the
 * request is answered). */
bool qfs__locks_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
bool qfs__locks_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                         size_t size);
/* Stop: parked lock requests end (EIO); free what is left after. */
void qfs__locks_stop(struct qfs_mount *m);
void qfs__locks_free(struct qfs_mount *m);

#endif
