/* node.c: starting a node (recovery of log, tree and membership), stopping it, and its loop
 * handles. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/wire_peer.h"

/* Applied entries between two snapshots. */
#define NODE__SNAPSHOT_EVERY 10000
/* Entry bytes the core keeps in memory: more than a follower's bytes in
 * flight (8 MiB), so replication to followers that keep up never reads
 * the store; a few of the largest values (16 MiB) at most. */
#define NODE__LOG_MEMORY ((size_t)32 << 20)

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Says why a store call on @n failed: "DIR: WHAT: error: the store's own
 * message" (store_errmsg: which record, which check). */
static void store_errf(struct node *n, char *err, size_t errlen, const char *what, int rc)
{
	char msg[256];
	errf(err, errlen, "%s: %s: %s: %s", n->data_dir, what, qfs_strerror(rc),
	     store_errmsg(n->store, msg, sizeof(msg)));
}

/* The idle handle only keeps the loop's poll from blocking; the work is
 * done in the check callback that follows every poll. */
static void on_idle(uv_idle_t *h)
{
	(void)h;
}

void node__kick(struct node *n)
{
	if (!n->stopping)
		uv_idle_start(&n->idle, on_idle);
}

static void on_check(uv_check_t *h)
{
	struct node *n = h->data;
	if (n->stopping)
		return;
	node__drive(n);
	node__submits_run_finished(n);
	if (!n->stopping && n->finished == NULL && !n->barriers_new && !raft_has_ready(n->raft))
		uv_idle_stop(&n->idle);
}

/* Test-only: QFS_TEST_CLOCK_RATE=R (0.1..10) makes this daemon's clock run R
 * times as fast as the machine's, to put clock drift under the fault harness
 * (docs/testing.md). Read once, at start; anything else leaves the rate at 1. */
static void read_clock_rate(struct node *n)
{
	n->clock_rate = 1.0;
	n->clock_base = uv_hrtime();
	const char *env = getenv("QFS_TEST_CLOCK_RATE");
	if (env == NULL || *env == '\0')
		return;
	char *end;
	double r = strtod(env, &end);
	if (*end != '\0' || !(r >= 0.1 && r <= 10.0)) {
		node__log(n, QFS_LOG_WARN, "QFS_TEST_CLOCK_RATE=%s ignored (want 0.1..10)", env);
		return;
	}
	n->clock_rate = r;
	node__log(n, QFS_LOG_WARN, "TEST ONLY: the clock runs at %.3f times the real rate", r);
}

static void on_tick(uv_timer_t *t)
{
	node__on_tick(t->data);
}

/* The cluster id the store records, derived from the cluster's name (two
 * FNV-1a 64 hashes), so that a directory of another cluster is refused. */
void node_cluster_id(const char *name, uint8_t id[STORE_CLUSTER_ID_LEN])
{
	uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
	for (const char *p = name; *p; p++) {
		h1 = (h1 ^ (uint8_t)*p) * 0x100000001b3ull;
		h2 = (h2 ^ (uint8_t)*p) * 0x100000001b3ull;
	}
	for (int i = 0; i < 8; i++) {
		id[i] = (uint8_t)(h1 >> (8 * i));
		id[8 + i] = (uint8_t)(h2 >> (8 * i));
	}
}

static int get_env(MDB_txn *txn, void *arg)
{
	*(MDB_env **)arg = mdb_txn_env(txn);
	return 0;
}

/*
 * A client id no other node and no earlier run of this node uses, since the
 * cluster remembers each client's latest serial (fsm sessions) and would
 * take our new serials for old ones. The low 16 bits count this data
 * directory's runs (persisted), the middle 32 are random, because a
 * directory can be wiped and the node added back under the same id, and the
 * top 16 are the node id's, so two nodes never share one.
 */
static int pick_client_id(struct node *n)
{
	void *val = NULL;
	size_t len = 0;
	uint64_t runs = 0;
	uint32_t rnd = 0;
	int rc = store_meta_get(n->store, "node.runs", &val, &len);
	if (rc == 0 && len == sizeof(runs))
		memcpy(&runs, val, sizeof(runs));
	free(val);
	if (rc != 0 && rc != -ENOENT)
		return rc;
	runs++;
	rc = store_meta_put(n->store, "node.runs", &runs, sizeof(runs));
	if (rc != 0)
		return rc;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)(uv_hrtime() ^ (uint64_t)getpid() << 16);
	n->client_id = (n->opts.id & 0xffffu) << 48 | (uint64_t)rnd << 16 | (runs & 0xffffu);
	if (n->client_id == 0)
		n->client_id = 1; /* 0 means "no session" */
	n->next_serial = 1;
	return 0;
}

/* Whether the configuration file's list of nodes is the cluster's membership. */
static bool config_matches(const struct node *n, const struct raft_conf *conf)
{
	if (conf->n != n->opts.n_peers)
		return false;
	for (unsigned i = 0; i < n->opts.n_peers; i++) {
		const struct raft_server *s = raft_conf_get(conf, n->opts.peers[i].id);
		if (s == NULL || s->role != RAFT_VOTER ||
		    strcmp(s->address, n->opts.peers[i].address) != 0)
			return false;
	}
	return true;
}

/*
 * The configuration file bootstraps a cluster; after that the membership is
 * the replicated one (quorumctl add/remove). A node restarted with a file
 * that says otherwise follows the cluster, and says so, once, at start.
 */
static void say_if_config_differs(const struct node *n)
{
	const struct raft_conf *conf = raft_configuration(n->raft);
	char have[512] = "";
	size_t len = 0;

	if (conf->n == 0 || config_matches(n, conf))
		return;
	for (unsigned i = 0; i < conf->n && len < sizeof(have); i++) {
		int k = snprintf(have + len, sizeof(have) - len, "%s%llu=%s%s", i ? ", " : "",
		                 (unsigned long long)conf->servers[i].id, conf->servers[i].address,
		                 conf->servers[i].role == RAFT_LEARNER ? " (learner)" : "");
		len += k > 0 ? (size_t)k : 0;
	}
	node__log(n, QFS_LOG_WARN,
	          "the configuration file's nodes differ from the cluster's membership; "
	          "following the cluster: %s",
	          have);
}

/* Loads what is durable into a fresh core, or bootstraps an empty directory. */
/* quorumctl force-new-cluster appended a configuration with this node
 * alone: said loudly on the first start, until the entry is applied. */
static void say_if_forced(struct node *n, uint64_t applied)
{
	void *val = NULL;
	size_t len = 0;
	if (store_meta_get(n->store, NODE_FORCED_AT_KEY, &val, &len) != 0)
		return;
	uint64_t at = 0;
	for (size_t i = 0; i < len && i < 8; i++)
		at = at << 8 | ((uint8_t *)val)[i];
	free(val);
	if (at > applied)
		node__log(n, QFS_LOG_ERROR,
		          "FORCED NEW CLUSTER: quorumctl force-new-cluster made this "
		          "node the only member (configuration entry %llu); every entry of its log "
		          "is committed as it stands, members of the old cluster are no longer "
		          "members: add new ones with quorumctl add",
		          (unsigned long long)at);
}

/*
 * The size of this node's snapshot file at @index, which the core announces
 * when it sends the snapshot to a follower. Not in the store's metadata, so
 * read from the file: without it a restarted leader announced 0 bytes, and
 * every follower it sent that snapshot to received an empty stream.
 */
static uint64_t snapshot_file_size(struct node *n, uint64_t index)
{
	char path[1024];
	struct stat st;
	if (node__snapshot_path(n, "snap", index, path, sizeof(path)) != 0)
		return 0;
	if (stat(path, &st) != 0) {
		node__log(n, QFS_LOG_WARN,
		          "the snapshot at %llu has no file (%s): a follower that needs it "
		          "waits for the next snapshot",
		          (unsigned long long)index, strerror(errno));
		return 0;
	}
	return (uint64_t)st.st_size;
}

static int recover(struct node *n, char *err, size_t errlen)
{
	struct store_hard_state shs;
	struct store_snapshot_meta sm = {0};
	struct raft_snapshot_meta snap = {0};
	bool have_snap = false;
	struct store_entry *se = NULL;
	size_t ns = 0;
	uint64_t first, last, applied = 0;
	int rc;

	rc = store_hard_state_get(n->store, &shs);
	if (rc == 0)
		rc = store_log_bounds(n->store, &first, &last);
	if (rc != 0) {
		store_errf(n, err, errlen, "reading the store", rc);
		return rc;
	}
	rc = fsm_applied(n->fsm, NULL, &applied);
	if (rc != 0) {
		errf(err, errlen, "%s: reading the tree: %s: %s", n->data_dir, qfs_strerror(rc),
		     fsm_errmsg(n->fsm));
		return rc;
	}
	rc = store_snapshot_meta_get(n->store, &sm);
	if (rc == 0) {
		have_snap = true;
		snap.index = sm.index;
		snap.term = sm.term;
		rc = raft_conf_decode(sm.conf, sm.conf_len, &snap.conf);
		free(sm.conf);
		if (rc != 0) {
			errf(err, errlen, "%s: the snapshot's configuration does not decode",
			     n->data_dir);
			return QFS_ECORRUPT;
		}
		n->w.conf = snap.conf;
		n->w.conf_index = snap.index;
		n->w.last_snap_index = snap.index;
		n->w.compacted = first > 0 ? first - 1 : 0;
		snap.size = snapshot_file_size(n, snap.index);
	} else if (rc != -ENOENT) {
		store_errf(n, err, errlen, "reading the snapshot metadata", rc);
		return rc;
	}
	uint64_t from = have_snap ? snap.index + 1 : 1;
	if (first > from) {
		errf(err, errlen, "%s: the log starts at %llu, after the snapshot's %llu",
		     n->data_dir, (unsigned long long)first, (unsigned long long)from - 1);
		return QFS_ECORRUPT;
	}
	if (last >= from) {
		rc = store_log_get(n->store, from, last, SIZE_MAX, &se, &ns);
		if (rc != 0) {
			store_errf(n, err, errlen, "reading the log", rc);
			return rc;
		}
	}
	bool fresh = !have_snap && ns == 0 && shs.term == 0 && shs.vote == 0;
	if (fresh) {
		free(se);
		if (n->join_address != NULL) {
			node__log(n, QFS_LOG_INFO,
			          "empty data directory; waiting to be added to the "
			          "cluster (via %s)",
			          n->join_address);
			return 0;
		}
		struct raft_conf conf = {0};
		for (unsigned i = 0; i < n->opts.n_peers && i < RAFT_MAX_SERVERS; i++) {
			conf.servers[i].id = n->opts.peers[i].id;
			conf.servers[i].role = RAFT_VOTER;
			snprintf(conf.servers[i].address, RAFT_ADDRESS_MAX, "%s",
			         n->opts.peers[i].address);
			conf.n++;
		}
		rc = raft_bootstrap(n->raft, &conf);
		if (rc != 0)
			errf(err, errlen, "bootstrap: the founding members are invalid: %s",
			     raft_strerror(rc));
		return rc;
	}
	struct raft_entry *re = calloc(ns ? ns : 1, sizeof(*re));
	if (re == NULL) {
		free(se);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ns; i++) {
		re[i].index = se[i].index;
		re[i].term = se[i].term;
		re[i].type = se[i].type;
		re[i].data.base = (void *)se[i].data;
		re[i].data.len = se[i].len;
		/* The configuration as of the tree's applied index, for the
		 * snapshots the writer takes. */
		if (se[i].type == RAFT_ENTRY_CONF && se[i].index <= applied &&
		    raft_conf_decode(se[i].data, se[i].len, &n->w.conf) == 0)
			n->w.conf_index = se[i].index;
	}
	struct raft_hard_state hs = {.term = shs.term, .vote = shs.vote, .commit = shs.commit};
	rc = raft_restore(n->raft, &hs, have_snap ? &snap : NULL, re, (unsigned)ns);
	free(re);
	free(se);
	if (rc != 0) {
		errf(err, errlen, "%s: the stored log does not restore: %s", n->data_dir,
		     raft_strerror(rc));
		return rc == -EINVAL ? QFS_ECORRUPT : rc;
	}
	node__log(n, QFS_LOG_INFO, "recovered term %llu, log %llu..%llu, applied %llu",
	          (unsigned long long)shs.term, (unsigned long long)from, (unsigned long long)last,
	          (unsigned long long)applied);
	say_if_config_differs(n);
	say_if_forced(n, applied);
	return 0;
}

int node__recover(struct node *n, char *err, size_t errlen)
{
	return recover(n, err, errlen);
}

static char *dup_str(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

static void free_node(struct node *n)
{
	node__pending_free(n);
	raft_free(n->raft);
	node__coord_free(n);
	fsm_close(n->fsm);
	store_close(n->store);
	free(n->data_dir);
	free(n->cluster_name);
	free(n->join_address);
	free(n->on_leader);
	free(n->on_follower);
	free(n);
}

static int validate(const struct node_options *o, char *err, size_t errlen)
{
	if (o->id == 0 || o->data_dir == NULL || o->cluster_name == NULL) {
		errf(err, errlen, "node id, data directory and cluster name are required");
		return QFS_ECONFIG;
	}
	if (o->heartbeat_ms == 0 || o->election_ms < 3 * o->heartbeat_ms) {
		errf(err, errlen, "the election timeout must be at least 3 heartbeats");
		return QFS_ECONFIG;
	}
	if (o->n_peers > NODE_MAX_PEERS) {
		errf(err, errlen, "at most %d peers", NODE_MAX_PEERS);
		return QFS_ECONFIG;
	}
	return 0;
}

/* This node's listen address: its entry in the configuration, else in the
 * founding list (which then has to name it, also for a joining node). */
static int self_address(struct node *n, char *err, size_t errlen)
{
	const struct raft_server *s = raft_conf_get(raft_configuration(n->raft), n->opts.id);
	const char *addr = s != NULL ? s->address : NULL;
	for (unsigned i = 0; addr == NULL && i < n->opts.n_peers; i++)
		if (n->opts.peers[i].id == n->opts.id)
			addr = n->opts.peers[i].address;
	if (addr == NULL) {
		/* The caller knows which node it started: name it once. */
		errf(err, errlen, "this node has no address: list it among the peers");
		return QFS_ECONFIG;
	}
	snprintf(n->self_address, sizeof(n->self_address), "%s", addr);
	return 0;
}

int node_start(uv_loop_t *loop, const struct node_options *opts, struct node **out, char *err,
               size_t errlen)
{
	struct store_options so = {0};
	struct raft_config rc_cfg;
	char dir[1024];
	MDB_env *env = NULL;
	uint64_t seed = 0;
	int rc;

	rc = validate(opts, err, errlen);
	if (rc != 0)
		return rc;
	/* The transport guards its own writes (net_new blocks SIGPIPE on the
	 * loop's thread). This is for any other write of the process to a pipe
	 * or socket whose reader has gone, which would otherwise die of
	 * SIGPIPE's default. Process-wide, and only if nobody chose otherwise. */
	struct sigaction old;
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	struct node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->loop = loop;
	n->opts = *opts;
	snprintf(n->log_source, sizeof(n->log_source), "node %llu", (unsigned long long)opts->id);
	n->data_dir = dup_str(opts->data_dir);
	n->cluster_name = dup_str(opts->cluster_name);
	n->join_address = dup_str(opts->join_address);
	n->on_leader = opts->on_leader && opts->on_leader[0] ? strdup(opts->on_leader) : NULL;
	n->on_follower = opts->on_follower && opts->on_follower[0] ? strdup(opts->on_follower) : NULL;
	n->hook_role = -1;
	if (n->opts.hook_timeout_ms == 0)
		n->opts.hook_timeout_ms = 10000;
	if (n->data_dir == NULL || n->cluster_name == NULL ||
	    (opts->join_address != NULL && n->join_address == NULL) ||
	    (opts->on_leader && opts->on_leader[0] && n->on_leader == NULL) ||
	    (opts->on_follower && opts->on_follower[0] && n->on_follower == NULL)) {
		free_node(n);
		return -ENOMEM;
	}
	n->opts.data_dir = n->data_dir;
	n->opts.cluster_name = n->cluster_name;
	n->opts.join_address = n->join_address;
	if (n->opts.commit_timeout_ms == 0)
		n->opts.commit_timeout_ms = 5000;
	if (n->opts.max_value_size == 0)
		n->opts.max_value_size = FSM_DEFAULT_MAX_VALUE_SIZE;
	n->submits.next = n->submits.prev = &n->submits;
	n->snapshot_every = opts->snapshot_entries ? opts->snapshot_entries : NODE__SNAPSHOT_EVERY;
	n->snapshot_bytes = opts->snapshot_bytes;
	n->log_memory = opts->log_memory ? (size_t)opts->log_memory : NODE__LOG_MEMORY;

	so.node_id = opts->id;
	so.max_map_size = (size_t)opts->max_map_bytes;
	if (so.max_map_size > 0 && so.max_map_size < (1u << 20))
		so.initial_map_size = so.max_map_size;
	node_cluster_id(opts->cluster_name, so.cluster_id);
	rc = store_open(n->data_dir, &so, &n->store, err, errlen);
	if (rc != 0) {
		free_node(n);
		return rc;
	}
	struct store_info si;
	if (store_info(n->store, &si) == 0 && si.log_cut_segment != 0)
		node__log(n, QFS_LOG_WARN,
		          "the log's last write was torn by a crash and is cut (segment %llu, offset "
		          "%llu); it had not been acknowledged",
		          (unsigned long long)si.log_cut_segment,
		          (unsigned long long)si.log_cut_offset);
	if (store_info(n->store, &si) == 0 && si.converted_format1)
		node__log(n, QFS_LOG_INFO,
		          "the data directory was converted from format 1: the Raft log is now "
		          "in %s/wal",
		          n->data_dir);
	rc = node__snapshot_dir(n, dir, sizeof(dir));
	if (rc == 0 && mkdir(dir, 0700) != 0 && errno != EEXIST)
		rc = -errno;
	if (rc != 0) {
		errf(err, errlen, "%s: %s", dir, qfs_strerror(rc));
		free_node(n);
		return rc;
	}
	rc = store_read(n->store, get_env, &env);
	if (rc == 0) {
		struct fsm_options fo = {.max_value_size = n->opts.max_value_size};
		rc = fsm_open(env, &fo, &n->fsm);
	}
	if (rc != 0) {
		errf(err, errlen, "%s: opening the tree: %s", n->data_dir, qfs_strerror(rc));
		free_node(n);
		return rc;
	}
	read_clock_rate(n);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)uv_hrtime();
	raft_config_default(&rc_cfg, opts->id, seed ^ opts->id);
	rc_cfg.heartbeat_ticks = 1;
	rc_cfg.election_ticks = opts->election_ms / opts->heartbeat_ms;
	/* The read lease, in microseconds of node__now_us(): a follower that
	 * echoed a heartbeat refuses votes for election_ticks ticks, at least
	 * election_ticks - 1 tick periods of real time (its first tick may come
	 * right after the heartbeat; libuv never fires a timer early). A tenth
	 * less covers clock drift between machines and timer slack. */
	if (rc_cfg.election_ticks > 1 && !opts->no_read_lease)
		rc_cfg.lease_duration =
		        (uint64_t)(rc_cfg.election_ticks - 1) * opts->heartbeat_ms * 900;
	/* Follower read leases rest on the same bound: clocks within 10%, so
	 * one runs at most 1 / 0.9 = 1.112 times as fast as another. */
	if (rc_cfg.lease_duration && opts->follower_lease_ms) {
		rc_cfg.follower_lease = (uint64_t)opts->follower_lease_ms * 1000;
		rc_cfg.clock_drift_permille = 112;
	}
	if (opts->snapshot_trailing > 0)
		rc_cfg.trailing_entries = opts->snapshot_trailing;
	n->raft_cfg = rc_cfg;
	n->core_gen = 1; /* 0 is "no discarded generation" (node__writer.discard_gen) */
	rc = raft_new(&rc_cfg, &n->raft);
	if (rc != 0) {
		errf(err, errlen, "raft: %s", raft_strerror(rc));
		free_node(n);
		return rc;
	}
	rc = recover(n, err, errlen);
	if (rc == 0)
		rc = fsm_applied(n->fsm, NULL, &n->applied);
	if (rc == 0)
		rc = pick_client_id(n);
	if (rc == 0)
		rc = self_address(n, err, errlen);
	if (rc == 0)
		rc = node__coord_start(n);
	if (rc != 0) {
		free_node(n);
		return rc;
	}
	n->w.applied = n->applied;
	n->leader = RAFT_NONE;
	n->in_contact_at = uv_now(loop);
	/* A restarted node holds nothing open: the first ticks release what
	 * the tree still lists for it. */
	n->orphans_wanted = true;

	/* From here on, handles exist: failures go through node_stop's path. */
	uv_timer_init(loop, &n->tick);
	uv_check_init(loop, &n->check);
	uv_idle_init(loop, &n->idle);
	uv_async_init(loop, &n->w.async, node__writer_completions);
	n->tick.data = n->check.data = n->idle.data = n->w.async.data = n;
	n->handles_open = 4;
	rc = node__net_start(n);
	if (rc != 0) {
		errf(err, errlen, "listening on %s: %s", n->self_address, qfs_strerror(rc));
		goto fail;
	}
	rc = node__admin_start(n);
	if (rc != 0) {
		errf(err, errlen, "%s/admin.sock: %s", n->data_dir, qfs_strerror(rc));
		goto fail;
	}
	rc = node__writer_start(n);
	if (rc != 0) {
		errf(err, errlen, "starting the writer thread: %s", qfs_strerror(rc));
		goto fail;
	}
	uv_check_start(&n->check, on_check);
	/* The tick is the core's clock for heartbeats and elections: it runs at
	 * the node's clock rate too. */
	uint64_t tick_ms = (uint64_t)((double)opts->heartbeat_ms / n->clock_rate + 0.5);
	if (tick_ms == 0)
		tick_ms = 1;
	uv_timer_start(&n->tick, on_tick, tick_ms, tick_ms);
	node__kick(n);
	*out = n;
	return 0;
fail:
	node_stop(n, NULL, NULL);
	return rc;
}

static void handle_closed(uv_handle_t *h)
{
	struct node *n = h->data;
	if (--n->handles_open > 0)
		return;
	void (*cb)(void *) = n->stop_cb;
	void *arg = n->stop_arg;
	free_node(n);
	if (cb != NULL)
		cb(arg);
}

static void net_closed(void *data)
{
	struct node *n = data;
	handle_closed((uv_handle_t *)&n->tick); /* its data is @n; memory still ours */
}

void node__closed_one(struct node *n)
{
	net_closed(n);
}

void node_stop(struct node *n, void (*done)(void *arg), void *arg)
{
	if (n->stopping)
		return;
	n->stopping = true;
	n->stop_cb = done;
	n->stop_arg = arg;
	node__writer_stop(n);
	node__submits_fail_all(n, QFS_ESHUTDOWN);
	node__barriers_fail_all(n, QFS_ESHUTDOWN);
	node__keys_stop(n);
	node__coord_stop(n);
	/* The deferred completions run now: no check callback will. */
	n->stopping = false;
	node__submits_run_finished(n);
	n->stopping = true;
	uv_timer_stop(&n->tick);
	node__hooks_stop(n);
	uv_close((uv_handle_t *)&n->tick, handle_closed);
	uv_close((uv_handle_t *)&n->check, handle_closed);
	uv_close((uv_handle_t *)&n->idle, handle_closed);
	uv_close((uv_handle_t *)&n->w.async, handle_closed);
	if (n->net != NULL) {
		n->handles_open++;
		net_close(n->net, net_closed, n);
		n->net = NULL;
	}
	if (n->admin != NULL) {
		n->handles_open++;
		net_admin_close(n->admin, net_closed, n);
		n->admin = NULL;
	}
}

void node_on_change(struct node *n, node_change_fn fn, void *arg)
{
	n->change_fn = fn;
	n->change_arg = arg;
}
