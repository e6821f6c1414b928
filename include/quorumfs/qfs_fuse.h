/* qfs_fuse.h: the FUSE mount of a node: kernel requests in, node calls out, answers when done. */
#ifndef QUORUMFS_QFS_FUSE_H
#define QUORUMFS_QFS_FUSE_H

/*
 * The mount serves one FUSE session from the node's libuv loop: the
 * session's file descriptor is polled by the loop, each request is decoded
 * and handled on the loop thread, and a request that needs the cluster (a
 * write, or a linearizable read behind a barrier) is parked and answered
 * from the node's callback. No thread waits for a commit. One helper thread
 * of the mount's own sends cache invalidations to the kernel (a notification
 * can block on an inode lock that a parked request holds, so it must never
 * be written from the loop).
 *
 * docs/semantics.md says what a user of the mount sees.
 *
 * Threading: every function here is called on the loop thread; every
 * callback runs on it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct node;
struct qfs_mount;

struct qfs_mount_options {
	bool allow_other;     /* other users may use the mount (needs user_allow_other
	                         in /etc/fuse.conf unless root) */
	bool debug;           /* libfuse's debug output: every request on stderr */
	double entry_timeout; /* seconds the kernel may cache a name; 0 (default) */
	double attr_timeout;  /* seconds the kernel may cache attributes; 0 (default) */
	/* The kernel's caches (fuse/caches.c, docs/daemon.md "The kernel's
	 * caches"): attributes for attr_timeout (0: 1 s) and pages kept
	 * across opens, but only while the node holds a read lease that makes
	 * them true; without one, as if false. false (default): nothing is
	 * cached beyond what entry_timeout and attr_timeout say. */
	bool kernel_caches;
	/* Files are read and written through the kernel's page cache, so
	 * mmap(MAP_SHARED) works; each read(2) then sees every write
	 * completed before it, but a scan through one descriptor (cat) of a
	 * file replaced meanwhile may read the old beginning and the new
	 * rest (docs/semantics.md, "The page cache and mmap"). false
	 * (default): direct I/O, one version per scan, and mmap(MAP_SHARED)
	 * fails with ENODEV. */
	bool page_cache;
	const char *fsname;   /* shown in /proc/mounts; NULL: "quorumfs" (copied) */
	/* flock(2) and fcntl(2) locks. false (default): cluster-wide, decided
	 * through the log (fuse/ops_lock.c, docs/semantics.md "Locks"). true:
	 * the kernel's locks, which exclude processes of this machine only. */
	bool local_locks;
	/* The cluster's max_value_size (node_options), or 0 for the fsm's
	 * default. Bounds what one open file buffers (docs/semantics.md,
	 * "Atomicity"); the node still decides what is too large (EFBIG). */
	uint64_t max_value_size;
	/* Writes through an open file are gathered and committed together at
	 * close, fsync or release, or this many milliseconds after the first
	 * of them for a file that stays open (docs/semantics.md, "Publish at
	 * close"); 0: 1000. */
	unsigned publish_delay_ms;
	/* Bytes written through open files and not yet published that the mount
	 * holds, all files together; a write that would pass it first publishes
	 * the handles gathered longest ago (docs/semantics.md, "Publish at
	 * close"). 0: 256 MiB. */
	uint64_t write_buffer_bytes;
	/* Called once, on the loop, if the mount went away without
	 * qfs_mount_stop() (fusermount3 -u, umount -l, the kernel aborted the
	 * connection). The owner should then call qfs_mount_stop(). May be NULL. */
	void (*unmounted)(void *arg);
	void *unmounted_arg;
	/* Renders file @which (enum node_status_file) of .quorumfs/ into @buf
	 * (node_status_file() in the daemon), on the loop; returns its length.
	 * NULL: the files say they are not available. The reserved name is
	 * refused either way. */
	size_t (*status_file)(void *arg, unsigned which, char *buf, size_t cap);
	/* Does the node see a quorum now (node_status().quorate)? While it
	 * does not, the root directory's attributes are answered from the
	 * local tree at once, so a path walk reaches .quorumfs/ (the kernel
	 * asks for the root's attributes first). NULL: always a quorum. */
	bool (*quorate)(void *arg);
	void *status_arg;
};

/*
 * qfs_mount_start - mount the node's tree at @mountpoint and serve it.
 * @loop: borrowed; must outlive the mount.
 * @node: borrowed; must stay usable until qfs_mount_stop()'s @done ran
 *        (node_stop() may be called before that: see qfs_mount_stop).
 * @mountpoint: an empty directory the caller never touches (copied).
 * @opts: copied; NULL for the defaults.
 * @out: the new mount.
 * @err: receives one line saying what failed (@errlen bytes).
 * The mount always has default_permissions (the kernel checks modes) and
 * sets the node's change callback (node_on_change) for itself.
 * Returns 0, -ENOMEM, -EINVAL (bad options), -EIO (libfuse could not create
 * the session, or mount: /dev/fuse missing, no permission, mountpoint not a
 * directory; @err says which). After a failure that came once the device
 * was open, handles are still closing: run the loop before closing it.
 */
int qfs_mount_start(uv_loop_t *loop, struct node *node, const char *mountpoint,
                    const struct qfs_mount_options *opts, struct qfs_mount **out, char *err,
                    size_t errlen);

/*
 * qfs_mount_drain - the first step of a clean stop (SIGTERM): publish what
 * every open file gathered and has not published yet (its writes, and an
 * O_TRUNC it still owes), answer every later write(2) with EIO, and call
 * @done(@arg) once, on the loop, never from inside this call, when every
 * publish of the mount was answered, or @bound_ms after the call if some
 * were not (each is then logged: bytes and inode; a publish that failed is
 * logged with its error when it fails). Everything else is served as usual
 * meanwhile, and the node must keep running: call node_stop() only after
 * @done (then qfs_mount_stop()). At most once per mount; qfs_mount_stop()
 * during a drain ends it without calling @done (logging, per inode, the
 * publishes still in flight). @done may be NULL.
 */
void qfs_mount_drain(struct qfs_mount *m, unsigned bound_ms, void (*done)(void *arg), void *arg);

/*
 * qfs_mount_stop - clear the node's change callback, answer every new
 * request with EIO, wait until every parked request was answered (each is
 * within the node's commit timeout; node_stop() makes it sooner) and the
 * notifier thread has ended, then unmount, free the mount and call
 * @done(@arg) once, on the loop, never from inside this call. A truncation
 * or buffered chunks still owed by an open handle (docs/semantics.md) are
 * dropped, logged: call qfs_mount_drain() first to publish them. From this call on, the mount calls no node function but
 * node_on_change(NULL), node_on_touch(NULL) and node_set_open_fn(NULL), which it calls here, so the owner may call
 * node_stop() right after this returns. Calling it twice is a bug. @done
 * may be NULL.
 */
void qfs_mount_stop(struct qfs_mount *m, void (*done)(void *arg), void *arg);

/* qfs_mount_point - the mountpoint, as given (borrowed). */
const char *qfs_mount_point(const struct qfs_mount *m);

#endif
