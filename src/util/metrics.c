/* metrics.c: the process's counters and histograms, counted with relaxed atomics from any thread. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "quorumfs/metrics.h"

/* Upper bounds in seconds: a local commit takes ~0.5 ms, a slow disk's
 * fsync tens of ms, a commit without quorum seconds. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                5,      10};
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))
#define N_PEERS  16

struct hist {
	atomic_uint_fast64_t buckets[N_BOUNDS + 1]; /* the last one: +Inf */
	atomic_uint_fast64_t count;
	/* The sum in microseconds, so it stays an integer atomic. */
	atomic_uint_fast64_t sum_us;
};

static atomic_uint_fast64_t counters[QFS_M_COUNTERS];
static struct hist hists[QFS_H_COUNT];
static struct {
	atomic_uint_fast64_t id; /* 0: free; set once, by compare-and-swap */
	atomic_uint_fast64_t sent, received;
} peers[N_PEERS + 1]; /* the last one: every peer past N_PEERS */
static atomic_uint_fast64_t fuse_req[QFS_FOP_COUNT];
static atomic_uint_fast32_t fuse_err[QFS_FOP_COUNT][QFS_METRICS_ERRNO_MAX + 1];

static void add(atomic_uint_fast64_t *a, uint64_t v)
{
	atomic_fetch_add_explicit(a, v, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

void qfs_metric_inc(enum qfs_counter c)
{
	if ((unsigned)c < QFS_M_COUNTERS)
		add(&counters[c], 1);
}

void qfs_metric_observe(enum qfs_histogram h, double seconds)
{
	if ((unsigned)h >= QFS_H_COUNT)
		return;
	struct hist *x = &hists[h];
	unsigned i = 0;
	while (i < N_BOUNDS && seconds > bounds[i])
		i++;
	add(&x->buckets[i], 1);
	add(&x->count, 1);
	add(&x->sum_us, seconds > 0 ? (uint64_t)(seconds * 1e6) : 0);
}

void qfs_metric_peer_bytes(uint64_t id, uint64_t sent, uint64_t received)
{
	unsigned i;
	if (id == 0)
		return;
	for (i = 0; i < N_PEERS; i++) {
		uint_fast64_t cur = get(&peers[i].id);
		if (cur == id)
			break;
		if (cur == 0) {
			uint_fast64_t expect = 0;
			if (atomic_compare_exchange_strong(&peers[i].id, &expect, id) ||
			    expect == id)
				break;
		}
	}
	add(&peers[i].sent, sent);
	add(&peers[i].received, received);
}

void qfs_metric_fuse_request(enum qfs_fuse_op op)
{
	if ((unsigned)op < QFS_FOP_COUNT)
		add(&fuse_req[op], 1);
}

void qfs_metric_fuse_error(enum qfs_fuse_op op, int err)
{
	if ((unsigned)op >= QFS_FOP_COUNT || err <= 0)
		return;
	if (err > QFS_METRICS_ERRNO_MAX)
		err = QFS_METRICS_ERRNO_MAX;
	atomic_fetch_add_explicit(&fuse_err[op][err], 1, memory_order_relaxed);
}

struct out {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(o->buf + (o->len < o->cap ? o->len : o->cap),
	                  o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->len += (size_t)w;
}

static const char *const fop_names[QFS_FOP_COUNT] = {
        "lookup",  "getattr",    "setattr", "readlink",   "mknod",    "mkdir",    "unlink",
        "rmdir",   "symlink",    "rename",  "link",       "open",     "read",     "write",
        "flush",   "release",    "fsync",   "opendir",    "readdir",  "releasedir", "fsyncdir",
        "statfs",  "setxattr",   "getxattr", "listxattr", "removexattr", "create", "getlk",
        "setlk",   "flock",      "readdirplus", "other",
};

/* errno names for the label, so a dashboard reads EROFS, not 30. */
static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case EROFS: return "EROFS";
	case EMLINK: return "EMLINK";
	case ERANGE: return "ERANGE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOLCK: return "ENOLCK";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case ENODATA: return "ENODATA";
	case EOVERFLOW: return "EOVERFLOW";
	case ENOTSUP: return "ENOTSUP";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINTR: return "EINTR";
	default: return NULL;
	}
}

static void render_hist(struct out *o, const char *name, const char *help, struct hist *x)
{
	uint64_t cum = 0;
	put(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (unsigned i = 0; i < N_BOUNDS; i++) {
		cum += get(&x->buckets[i]);
		put(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	cum += get(&x->buckets[N_BOUNDS]);
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	put(o, "%s_sum %.6f\n%s_count %llu\n", name, (double)get(&x->sum_us) / 1e6, name,
	    (unsigned long long)get(&x->count));
}

static void counter(struct out *o, const char *name, const char *help, enum qfs_counter c)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)get(&counters[c]));
}

/* One counter per known peer, and "other" for every peer past N_PEERS once
 * it has counted anything; @received picks the direction. */
static void peer_bytes(struct out *o, const char *name, const char *help, bool received)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (unsigned i = 0; i <= N_PEERS; i++) {
		uint64_t id = i < N_PEERS ? get(&peers[i].id) : 0;
		uint64_t n = get(received ? &peers[i].received : &peers[i].sent);
		if (i < N_PEERS && id == 0)
			continue;
		if (i == N_PEERS && get(&peers[i].sent) == 0 && get(&peers[i].received) == 0)
			continue;
		if (i < N_PEERS)
			put(o, "%s{peer=\"%llu\"} %llu\n", name, (unsigned long long)id,
			    (unsigned long long)n);
		else
			put(o, "%s{peer=\"other\"} %llu\n", name, (unsigned long long)n);
	}
}

size_t qfs_metrics_render(char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};
	static const struct {
		enum qfs_counter c;
		const char *outcome;
	} props[] = {
	        {QFS_M_PROPOSAL_OK, "ok"},           {QFS_M_PROPOSAL_NO_QUORUM, "no_quorum"},
	        {QFS_M_PROPOSAL_TIMEOUT, "timeout"}, {QFS_M_PROPOSAL_NO_SPACE, "no_space"},
	        {QFS_M_PROPOSAL_SHUTDOWN, "shutdown"}, {QFS_M_PROPOSAL_ERROR, "error"},
	};
	if (cap > 0)
		buf[0] = '\0';
	counter(&o, "quorumfs_raft_leader_changes_total",
	        "Times this node saw the leader change.", QFS_M_LEADER_CHANGES);
	put(&o, "# HELP quorumfs_proposals_total Changes this node proposed, by outcome.\n"
	        "# TYPE quorumfs_proposals_total counter\n");
	for (unsigned i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		put(&o, "quorumfs_proposals_total{outcome=\"%s\"} %llu\n", props[i].outcome,
		    (unsigned long long)get(&counters[props[i].c]));
	render_hist(&o, "quorumfs_commit_latency_seconds",
	            "From proposing a change to its apply on this node.", &hists[QFS_H_COMMIT]);
	render_hist(&o, "quorumfs_fsync_latency_seconds",
	            "One durable write of the store (a group commit).", &hists[QFS_H_FSYNC]);
	peer_bytes(&o, "quorumfs_peer_sent_bytes_total", "Frame bytes sent to each peer.", false);
	peer_bytes(&o, "quorumfs_peer_received_bytes_total", "Frame bytes received from each peer.",
	           true);
	counter(&o, "quorumfs_snapshots_sent_total",
	        "Snapshot transfers this node started to a follower.", QFS_M_SNAPSHOTS_SENT);
	counter(&o, "quorumfs_snapshots_installed_total",
	        "Snapshots this node installed from its leader.", QFS_M_SNAPSHOTS_INSTALLED);
	counter(&o, "quorumfs_snapshots_rejected_total",
	        "Snapshots from the leader that failed their checks and were fetched again.",
	        QFS_M_SNAPSHOTS_REJECTED);
	counter(&o, "quorumfs_session_answers_total",
	        "Changes applied inside an installed snapshot, answered from the session table.",
	        QFS_M_SESSION_ANSWERS);
	counter(&o, "quorumfs_verify_checks_total",
	        "Cross-replica checks this node hashed its tree for.", QFS_M_VERIFY_CHECKS);
	counter(&o, "quorumfs_verify_mismatches_total",
	        "Cross-replica reports whose tree hash differed from this node's.",
	        QFS_M_VERIFY_MISMATCHES);
	counter(&o, "quorumfs_hooks_failed_total",
	        "Role hooks that failed, were killed, or did not start.", QFS_M_HOOKS_FAILED);
	counter(&o, "quorumfs_answers_at_commit_total",
	        "Changes answered once committed, before their apply here (writes to existing files).",
	        QFS_M_ANSWERED_AT_COMMIT);
	counter(&o, "quorumfs_follower_lease_reads_total",
	        "Read barriers this follower passed under its read lease, without a round.",
	        QFS_M_LEASE_READS);
	put(&o, "# HELP quorumfs_fuse_requests_total FUSE requests, by operation and the errno "
	        "answered (0: success or not answered yet).\n"
	        "# TYPE quorumfs_fuse_requests_total counter\n");
	for (unsigned op = 0; op < QFS_FOP_COUNT; op++) {
		uint64_t total = get(&fuse_req[op]), errs = 0;
		for (int e = 1; e <= QFS_METRICS_ERRNO_MAX; e++) {
			uint64_t k = atomic_load_explicit(&fuse_err[op][e], memory_order_relaxed);
			if (k == 0)
				continue;
			errs += k;
			const char *nm = errno_name(e);
			if (nm != NULL)
				put(&o, "quorumfs_fuse_requests_total{op=\"%s\",errno=\"%s\"} %llu\n",
				    fop_names[op], nm, (unsigned long long)k);
			else
				put(&o, "quorumfs_fuse_requests_total{op=\"%s\",errno=\"%d\"} %llu\n",
				    fop_names[op], e, (unsigned long long)k);
		}
		if (total > 0 || errs > 0)
			put(&o, "quorumfs_fuse_requests_total{op=\"%s\",errno=\"0\"} %llu\n",
			    fop_names[op], (unsigned long long)(total > errs ? total - errs : 0));
	}
	return o.len;
}

void qfs_metrics_reset(void)
{
	for (unsigned i = 0; i < QFS_M_COUNTERS; i++)
		atomic_store(&counters[i], 0);
	memset(hists, 0, sizeof(hists));
	memset(peers, 0, sizeof(peers));
	memset(fuse_req, 0, sizeof(fuse_req));
	memset(fuse_err, 0, sizeof(fuse_err));
}
