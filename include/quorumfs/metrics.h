/* metrics.h: the process's counters and histograms, for the HTTP /metrics (Prometheus text). */
#ifndef QUORUMFS_METRICS_H
#define QUORUMFS_METRICS_H

/*
 * One registry per process (a daemon runs one node). Every function here
 * is safe to call from any thread at any time: counters are relaxed
 * atomics, so counting costs an uncontended atomic add and never a lock,
 * and the HTTP thread reads them while the loop and the writer count.
 * Values read together are not one consistent cut (Prometheus does not
 * need one).
 */

#include <stddef.h>
#include <stdint.h>

enum qfs_counter {
	QFS_M_LEADER_CHANGES = 0, /* this node saw the leader change (to none included) */
	QFS_M_PROPOSAL_OK,        /* node_submit() outcomes, by outcome */
	QFS_M_PROPOSAL_NO_QUORUM,
	QFS_M_PROPOSAL_TIMEOUT,
	QFS_M_PROPOSAL_NO_SPACE,
	QFS_M_PROPOSAL_SHUTDOWN,
	QFS_M_PROPOSAL_ERROR,
	QFS_M_SNAPSHOTS_SENT,      /* snapshot transfers this node started to a follower */
	QFS_M_SNAPSHOTS_INSTALLED, /* snapshots this node installed from a leader */
	QFS_M_VERIFY_CHECKS,       /* cross-replica checks this node hashed its tree for */
	QFS_M_VERIFY_MISMATCHES,   /* reports that differed from this node's tree */
	QFS_M_HOOKS_FAILED,        /* role hooks that exited non-zero, were killed or did not start */
	QFS_M_ANSWERED_AT_COMMIT,  /* submits answered once committed, before their apply */
	QFS_M_SNAPSHOTS_REJECTED,  /* received snapshots that failed their checks (fetched again) */
	QFS_M_SESSION_ANSWERS,     /* submits answered from the session table after an install */
	QFS_M_LEASE_READS,         /* read barriers a follower passed by its read lease, no round */
	QFS_M_COUNTERS
};

enum qfs_histogram {
	QFS_H_COMMIT = 0, /* node_submit() to applied here, seconds */
	QFS_H_FSYNC,      /* one durable store write (the group commit's sync), seconds */
	QFS_H_COUNT
};

/* FUSE operations counted by quorumfs_fuse_requests_total. */
enum qfs_fuse_op {
	QFS_FOP_LOOKUP = 0, QFS_FOP_GETATTR, QFS_FOP_SETATTR, QFS_FOP_READLINK,
	QFS_FOP_MKNOD, QFS_FOP_MKDIR, QFS_FOP_UNLINK, QFS_FOP_RMDIR, QFS_FOP_SYMLINK,
	QFS_FOP_RENAME, QFS_FOP_LINK, QFS_FOP_OPEN, QFS_FOP_READ, QFS_FOP_WRITE,
	QFS_FOP_FLUSH, QFS_FOP_RELEASE, QFS_FOP_FSYNC, QFS_FOP_OPENDIR, QFS_FOP_READDIR,
	QFS_FOP_RELEASEDIR, QFS_FOP_FSYNCDIR, QFS_FOP_STATFS, QFS_FOP_SETXATTR,
	QFS_FOP_GETXATTR, QFS_FOP_LISTXATTR, QFS_FOP_REMOVEXATTR, QFS_FOP_CREATE,
	QFS_FOP_GETLK, QFS_FOP_SETLK, QFS_FOP_FLOCK, QFS_FOP_READDIRPLUS,
	QFS_FOP_OTHER, /* a reply whose operation is not known */
	QFS_FOP_COUNT
};

/* Errnos above this are counted as this one (none is expected). */
#define QFS_METRICS_ERRNO_MAX 134

void qfs_metric_inc(enum qfs_counter c);
/* Adds one observation of @seconds to histogram @h. */
void qfs_metric_observe(enum qfs_histogram h, double seconds);
/* Frame bytes sent to / received from peer @id (0: nothing to add). Up to
 * 16 peers are tracked; more share the label "other". */
void qfs_metric_peer_bytes(uint64_t id, uint64_t sent, uint64_t received);
/* A FUSE request of @op arrived / was answered with positive @err. */
void qfs_metric_fuse_request(enum qfs_fuse_op op);
void qfs_metric_fuse_error(enum qfs_fuse_op op, int err);

/*
 * qfs_metrics_render - the Prometheus text exposition of the counters,
 * histograms, peers and FUSE requests into @buf (at most @cap bytes,
 * NUL-terminated when it fits). The caller renders the gauges it owns
 * (term, indexes) itself.
 * Returns the length of the whole rendering (>= @cap: cut short).
 */
size_t qfs_metrics_render(char *buf, size_t cap);

/* For tests: every value back to zero. */
void qfs_metrics_reset(void);

#endif
