/* recovery.c: quorumctl backup, restore and force-new-cluster (docs/operations.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quorumfs/config.h"
#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"
#include "quorumfs/fsm.h"
#include "quorumfs/net.h"
#include "quorumfs/node.h"
#include "quorumfs/raft.h"
#include "quorumfs/store.h"
#include "quorumfs/wire_admin.h"
#include "recovery.h"

/*
 * A backup file is a 64-byte header, then the fsm's snapshot stream as the
 * node wrote it (docs/storage-format.md, "Snapshot stream"; its trailer
 * holds the CRC-32C of the stream). The header, big-endian:
 *   0  magic "qfsbkup\0"     8  u32 version (1)    12 u32 reserved (0)
 *   16 cluster id [16]       32 u64 node id it was taken on
 *   40 u64 index of the tree 48 u64 unix time it was taken
 *   56 u32 reserved (0)      60 u32 CRC-32C of bytes 0..59
 */
#define BACKUP_MAGIC   "qfsbkup"
#define BACKUP_VERSION 1
#define BACKUP_HEADER  64

struct backup_header {
	uint8_t cluster_id[STORE_CLUSTER_ID_LEN];
	uint64_t node_id, index, created;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void header_encode(const struct backup_header *h, uint8_t out[BACKUP_HEADER])
{
	memset(out, 0, BACKUP_HEADER);
	memcpy(out, BACKUP_MAGIC, 8);
	put_be(out + 8, BACKUP_VERSION, 4);
	memcpy(out + 16, h->cluster_id, STORE_CLUSTER_ID_LEN);
	put_be(out + 32, h->node_id, 8);
	put_be(out + 40, h->index, 8);
	put_be(out + 48, h->created, 8);
	put_be(out + 60, qfs_crc32c(0, out, 60), 4);
}

static int header_decode(const uint8_t in[BACKUP_HEADER], struct backup_header *h)
{
	if (memcmp(in, BACKUP_MAGIC, 8) != 0)
		return QFS_ECORRUPT;
	if (get_be(in + 60, 4) != qfs_crc32c(0, in, 60))
		return QFS_ECORRUPT;
	if (get_be(in + 8, 4) != BACKUP_VERSION)
		return QFS_EFORMAT;
	memcpy(h->cluster_id, in + 16, STORE_CLUSTER_ID_LEN);
	h->node_id = get_be(in + 32, 8);
	h->index = get_be(in + 40, 8);
	h->created = get_be(in + 48, 8);
	return 0;
}

static void hex(char out[2 * STORE_CLUSTER_ID_LEN + 1], const uint8_t *id)
{
	for (int i = 0; i < STORE_CLUSTER_ID_LEN; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

/* The stream of a backup file: pread from past its header. */
struct stream {
	int fd;
	off_t base;
};

static long stream_read(void *arg, void *buf, size_t cap, uint64_t off)
{
	struct stream *s = arg;
	for (;;) {
		ssize_t n = pread(s->fd, buf, cap, s->base + (off_t)off);
		if (n >= 0)
			return (long)n;
		if (errno != EINTR)
			return -errno;
	}
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies the stream of @from (from @base on) to the end of @to. */
static int copy_stream(int from, off_t base, int to)
{
	static char buf[1 << 16];
	for (off_t off = base;;) {
		ssize_t n = pread(from, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		int rc = write_all(to, buf, (size_t)n);
		if (rc != 0)
			return rc;
		off += n;
	}
}

static void fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* ------------------------------------------------------------------------ */
/* backup */

static int admin(const char *data_dir, uint32_t op, struct wire_admin_resp *resp, char *err,
                 size_t errlen)
{
	char path[PATH_MAX];
	uint8_t buf[WIRE_ADMIN_FRAME_MAX];
	struct wire_admin_req req = {.op = op};
	void *answer = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/admin.sock", data_dir);
	int n = wire_admin_req_encode(&req, buf, sizeof(buf));
	int rc = n < 0 ? n
	               : net_admin_call(path, buf, (size_t)n, WIRE_ADMIN_FRAME_MAX, 10000, &answer,
	                                &len);
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		return fail(err, errlen, rc,
		            "no quorumfs daemon is running on %s: a backup is taken from a running "
		            "node",
		            data_dir);
	if (rc != 0)
		return fail(err, errlen, rc, "%s: %s", path, qfs_strerror(rc));
	rc = wire_admin_resp_decode(answer, len, resp);
	free(answer);
	if (rc != 0)
		return fail(err, errlen, rc, "the daemon's answer is malformed");
	if (resp->err != 0)
		return fail(err, errlen, resp->err, "%s", resp->message);
	return 0;
}

/* The index of the newest snap-<index> in DATA_DIR/snapshots, or 0. */
static uint64_t newest_snapshot(const char *data_dir)
{
	char dir[PATH_MAX];
	uint64_t best = 0;
	snprintf(dir, sizeof(dir), "%s/snapshots", data_dir);
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		char *end;
		if (strncmp(e->d_name, "snap-", 5) != 0)
			continue;
		errno = 0;
		uint64_t i = strtoull(e->d_name + 5, &end, 10);
		if (errno == 0 && *end == '\0' && i > best)
			best = i;
	}
	closedir(d);
	return best;
}

int qfs_ctl_backup(const char *data_dir, const char *file, int timeout_s, char *err, size_t errlen)
{
	struct wire_admin_resp resp;
	struct store_info info;
	struct backup_header h = {0};
	char path[PATH_MAX], tmp[PATH_MAX];
	uint8_t hdr[BACKUP_HEADER];
	int rc;

	rc = admin(data_dir, WIRE_ADMIN_STATUS, &resp, err, errlen);
	if (rc != 0)
		return rc;
	uint64_t want = resp.status.applied;
	rc = store_peek(data_dir, &info, err, errlen);
	if (rc != 0)
		return rc;
	/* The node's writer takes the snapshot (one read transaction: one
	 * consistent tree) as snap-<index>; it covers at least what the node
	 * had applied when asked. */
	rc = admin(data_dir, WIRE_ADMIN_SNAPSHOT, &resp, err, errlen);
	if (rc != 0)
		return rc;
	time_t deadline = time(NULL) + timeout_s;
	int fd = -1;
	for (;;) {
		h.index = newest_snapshot(data_dir);
		if (h.index >= want && h.index > 0) {
			snprintf(path, sizeof(path), "%s/snapshots/snap-%020" PRIu64, data_dir,
			         h.index);
			/* Open, it stays readable even if the node prunes it. */
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				break;
		}
		if (time(NULL) >= deadline)
			return fail(err, errlen, -ETIMEDOUT,
			            "the node took no snapshot at index %" PRIu64
			            " or later within %d s",
			            want, timeout_s);
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	uint64_t applied = 0;
	rc = fsm_snapshot_verify_fd(fd, &applied);
	if (rc == 0 && applied != h.index)
		rc = QFS_ECORRUPT;
	if (rc != 0) {
		close(fd);
		return fail(err, errlen, rc, "%s does not verify: %s", path, qfs_strerror(rc));
	}
	memcpy(h.cluster_id, info.cluster_id, STORE_CLUSTER_ID_LEN);
	h.node_id = info.node_id;
	h.created = (uint64_t)time(NULL);
	header_encode(&h, hdr);

	snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", file, (long)getpid());
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = -errno;
		close(fd);
		return fail(err, errlen, rc, "%s: %s", tmp, strerror(-rc));
	}
	rc = write_all(out, hdr, sizeof(hdr));
	if (rc == 0)
		rc = copy_stream(fd, 0, out);
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	close(fd);
	close(out);
	if (rc == 0 && rename(tmp, file) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return fail(err, errlen, rc, "writing %s: %s", file, qfs_strerror(rc));
	}
	fsync_parent(file);
	char cid[2 * STORE_CLUSTER_ID_LEN + 1];
	hex(cid, h.cluster_id);
	printf("backup of node %" PRIu64 " of cluster %s at index %" PRIu64 " written to %s\n",
	       h.node_id, cid, h.index, file);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* restore */

static int dir_is_empty_or_missing(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			rc = -ENOTEMPTY;
			break;
		}
	closedir(d);
	return rc;
}

struct restore {
	struct store *store;
	struct fsm *fsm;
	struct stream stream;
	uint64_t index;
	uint8_t conf[RAFT_CONF_ENCODED_MAX];
	size_t conf_len;
};

/* One transaction: the tree and the snapshot's metadata with the new
 * cluster's members; then (restore_log) an empty log whose base is the
 * snapshot, and a first term. */
static int restore_txn(MDB_txn *txn, void *arg)
{
	struct restore *r = arg;
	uint64_t idx = 0;
	int rc = fsm_snapshot_install(r->fsm, txn, stream_read, &r->stream, &idx);
	if (rc == 0 && idx != r->index)
		rc = QFS_ECORRUPT;
	struct store_snapshot_meta sm = {
	        .index = r->index, .term = 1, .conf = r->conf, .conf_len = r->conf_len};
	if (rc == 0)
		rc = store_txn_snapshot_meta_put(r->store, txn, &sm);
	return rc;
}

/* The log after the tree is durable: a crash in between leaves a log that
 * store_open() resets to the snapshot it does not hold. */
static int restore_log(struct restore *r)
{
	struct store_hard_state hs = {.term = 1, .vote = 0, .commit = r->index};
	int rc = store_log_reset(r->store, r->index, 1);
	if (rc == 0)
		rc = store_hard_state_put(r->store, &hs);
	return rc;
}

static int get_env(MDB_txn *txn, void *arg)
{
	*(MDB_env **)arg = mdb_txn_env(txn);
	return 0;
}

int qfs_ctl_restore(const char *file, const char *config, uint64_t id, const char *data_dir,
                    char *err, size_t errlen)
{
	struct qfs_config cfg;
	struct backup_header h;
	struct raft_conf conf = {0};
	struct restore r = {0};
	uint8_t hdr[BACKUP_HEADER];
	char snap[PATH_MAX], tmp[PATH_MAX];
	MDB_env *env = NULL;
	int rc;

	rc = qfs_config_load(config, &cfg, err, errlen);
	if (rc != 0)
		return rc;
	if (qfs_config_node(&cfg, id) == NULL)
		return fail(err, errlen, QFS_ECONFIG, "%s has no [node %" PRIu64 "] section",
		            config, id);
	for (unsigned i = 0; i < cfg.n_nodes && i < RAFT_MAX_SERVERS; i++) {
		conf.servers[i].id = cfg.nodes[i].id;
		conf.servers[i].role = RAFT_VOTER;
		rc = qfs_resolve_address(cfg.nodes[i].address, conf.servers[i].address,
		                         RAFT_ADDRESS_MAX, err, errlen);
		if (rc != 0)
			return rc;
		conf.n++;
	}
	r.conf_len = raft_conf_encode(&conf, r.conf, sizeof(r.conf));
	if (r.conf_len > sizeof(r.conf))
		return fail(err, errlen, -EINVAL, "too many members in %s", config);

	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", file, strerror(errno));
	ssize_t n = pread(fd, hdr, sizeof(hdr), 0);
	rc = n == (ssize_t)sizeof(hdr) ? header_decode(hdr, &h) : QFS_ECORRUPT;
	r.stream = (struct stream){.fd = fd, .base = BACKUP_HEADER};
	uint64_t applied = 0;
	if (rc == 0)
		rc = fsm_snapshot_verify(stream_read, &r.stream, &applied);
	if (rc == 0 && applied != h.index)
		rc = QFS_ECORRUPT;
	if (rc != 0) {
		close(fd);
		return fail(err, errlen, rc, "%s is not a whole quorumfs backup: %s", file,
		            qfs_strerror(rc));
	}
	r.index = h.index;

	rc = dir_is_empty_or_missing(data_dir);
	if (rc != 0) {
		close(fd);
		return fail(
		        err, errlen, rc,
		        "%s: %s (restore creates a new data directory; it never overwrites one)",
		        data_dir, qfs_strerror(rc));
	}
	struct store_options so = {.node_id = id};
	node_cluster_id(cfg.name, so.cluster_id);
	rc = store_open(data_dir, &so, &r.store, err, errlen);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	rc = store_read(r.store, get_env, &env);
	if (rc == 0) {
		struct fsm_options fo = {.max_value_size = cfg.max_value_size};
		rc = fsm_open(env, &fo, &r.fsm);
	}
	/* The snapshot file the node sends to members that lag behind. */
	snprintf(snap, sizeof(snap), "%s/snapshots", data_dir);
	if (rc == 0 && mkdir(snap, 0700) != 0 && errno != EEXIST)
		rc = -errno;
	snprintf(snap, sizeof(snap), "%s/snapshots/snap-%020" PRIu64, data_dir, r.index);
	snprintf(tmp, sizeof(tmp), "%s/snapshots/tmp-%020" PRIu64, data_dir, r.index);
	int out = -1;
	if (rc == 0) {
		out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		rc = out < 0 ? -errno : copy_stream(fd, BACKUP_HEADER, out);
	}
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	if (out >= 0)
		close(out);
	if (rc == 0 && rename(tmp, snap) != 0)
		rc = -errno;
	if (rc == 0)
		fsync_parent(snap);
	if (rc == 0)
		rc = store_write(r.store, restore_txn, &r);
	if (rc == 0)
		rc = restore_log(&r);
	close(fd);
	fsm_close(r.fsm);
	store_close(r.store);
	if (rc != 0)
		return fail(err, errlen, rc,
		            "restoring into %s: %s (remove it before trying again)", data_dir,
		            qfs_strerror(rc));
	char cid[2 * STORE_CLUSTER_ID_LEN + 1];
	hex(cid, h.cluster_id);
	printf("restored node %" PRIu64 " of cluster '%s' (%u members) in %s: the tree of node "
	       "%" PRIu64 " of cluster %s at index %" PRIu64 "\n",
	       id, cfg.name, conf.n, data_dir, h.node_id, cid, h.index);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* force-new-cluster */

struct force {
	struct store *store;
	struct store_entry entry;
	struct store_hard_state hs;
};

static int force_txn(MDB_txn *txn, void *arg)
{
	struct force *f = arg;
	uint8_t at[8];
	put_be(at, f->entry.index, 8);
	/* The daemon says so loudly when it starts on this log. */
	return store_txn_meta_put(f->store, txn, NODE_FORCED_AT_KEY, at, sizeof(at));
}

int qfs_ctl_force_new_cluster(const char *data_dir, char *err, size_t errlen)
{
	struct store *s = NULL;
	struct store_snapshot_meta sm = {0};
	struct store_entry *es = NULL;
	struct raft_conf conf = {0}, one = {0};
	struct force f = {0};
	uint64_t first = 0, last = 0;
	size_t n = 0;
	uint8_t buf[RAFT_CONF_ENCODED_MAX];
	int rc;

	rc = store_open(data_dir, NULL, &s, err, errlen);
	if (rc == QFS_EBUSY)
		return fail(err, errlen, rc,
		            "%s is in use: stop its quorumfs daemon first (force-new-cluster "
		            "rewrites the membership of a stopped node)",
		            data_dir);
	if (rc != 0)
		return rc;
	struct store_info info;
	rc = store_info(s, &info);
	bool have_conf = false;
	if (rc == 0) {
		rc = store_snapshot_meta_get(s, &sm);
		if (rc == 0) {
			have_conf = raft_conf_decode(sm.conf, sm.conf_len, &conf) == 0;
			free(sm.conf);
		} else if (rc == -ENOENT) {
			rc = 0;
		}
	}
	if (rc == 0)
		rc = store_hard_state_get(s, &f.hs);
	if (rc == 0)
		rc = store_log_bounds(s, &first, &last);
	if (rc == 0 && last >= first)
		rc = store_log_get(s, first, last, SIZE_MAX, &es, &n);
	/* The latest configuration in the log is the one the node follows. */
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (es[i].type == RAFT_ENTRY_CONF &&
		    raft_conf_decode(es[i].data, es[i].len, &conf) == 0)
			have_conf = true;
	free(es);
	const struct raft_server *self = have_conf ? raft_conf_get(&conf, info.node_id) : NULL;
	if (rc == 0 && self == NULL)
		rc = fail(err, errlen, QFS_ECORRUPT,
		          "%s: node %" PRIu64 " is not in its own membership; nothing to force",
		          data_dir, info.node_id);
	if (rc != 0) {
		if (err[0] == '\0')
			fail(err, errlen, rc, "%s: %s", data_dir, qfs_strerror(rc));
		store_close(s);
		return rc;
	}
	/* A configuration entry with this node alone, appended to its log:
	 * Raft follows the latest configuration in the log at once, so the
	 * node elects itself and commits it, with every entry before it. */
	one.n = 1;
	one.servers[0] = *self;
	one.servers[0].role = RAFT_VOTER;
	size_t len = raft_conf_encode(&one, buf, sizeof(buf));
	if (f.hs.term == 0)
		f.hs.term = 1;
	f.hs.vote = 0;
	f.store = s;
	f.entry = (struct store_entry){.index = last + 1,
	                               .term = f.hs.term,
	                               .type = RAFT_ENTRY_CONF,
	                               .data = buf,
	                               .len = len};
	/* The entry and the hard state first (the log), then the mark. */
	rc = store_append(s, &f.entry, 1, &f.hs);
	if (rc == 0)
		rc = store_write(s, force_txn, &f);
	store_close(s);
	if (rc != 0)
		return fail(err, errlen, rc, "%s: writing the new membership: %s", data_dir,
		            qfs_strerror(rc));
	printf("node %" PRIu64 " in %s is now the only member of its cluster (configuration entry "
	       "%" PRIu64 "; it had %u). Start it, then add new members with 'quorumctl add'.\n"
	       "Entries of its log that the old cluster had not committed are committed now.\n",
	       info.node_id, data_dir, last + 1, conf.n);
	return 0;
}
