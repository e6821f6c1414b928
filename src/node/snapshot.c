/* snapshot.c: snapshot files: taking one, reading chunks to send, staging received ones, pruning.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/metrics.h"
#include "quorumfs/wire_peer.h"

/*
 * DATA_DIR/snapshots/ holds:
 *   snap-<index>  a complete snapshot the node can send chunks from;
 *   recv-<index>  chunks of a snapshot being received (staging);
 *   tmp-<index>   a snapshot being written (renamed to snap- when whole).
 * A file name's index is what fsm_snapshot_* put in it.
 */

int node__snapshot_dir(const struct node *n, char *buf, size_t len)
{
	int w = snprintf(buf, len, "%s/snapshots", n->data_dir);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int node__snapshot_path(const struct node *n, const char *kind, uint64_t index, char *buf,
                        size_t len)
{
	int w = snprintf(buf, len, "%s/snapshots/%s-%020" PRIu64, n->data_dir, kind, index);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static int fsync_dir(const struct node *n)
{
	char dir[1024];
	int rc = node__snapshot_dir(n, dir, sizeof(dir));
	if (rc != 0)
		return rc;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

/* On the loop: the bytes of a chunk to send. A short file (not renamed yet,
 * or replaced) fails, and the core sends the chunk again later. */
int node__snapshot_read_chunk(struct node *n, uint64_t index, uint64_t offset, void *buf,
                              size_t len)
{
	char path[1024];
	int rc = node__snapshot_path(n, "snap", index, path, sizeof(path));
	if (rc != 0)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(offset + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	return rc;
}

static int write_all(int fd, const void *buf, size_t len, uint64_t offset)
{
	size_t done = 0;
	while (done < len) {
		ssize_t w =
		        pwrite(fd, (const char *)buf + done, len - done, (off_t)(offset + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}

/* On the writer: one received chunk into recv-<index>. Offset 0 starts the
 * file over. The file is synced before the install reads it. */
int node__snapshot_stage(struct node *n, const struct raft_snapshot_chunk *c)
{
	char path[1024];
	int rc = node__snapshot_path(n, "recv", c->snap_index, path, sizeof(path));
	if (rc != 0)
		return rc;
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (c->offset == 0 ? O_TRUNC : 0);
	int fd = open(path, flags, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, c->data.base, c->data.len, c->offset);
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* On the writer, after the install committed: the staged file becomes the
 * snapshot this node sends from (the core now reports it as its own). */
void node__snapshot_installed(struct node *n, uint64_t index)
{
	char from[1024], to[1024];
	if (node__snapshot_path(n, "recv", index, from, sizeof(from)) != 0 ||
	    node__snapshot_path(n, "snap", index, to, sizeof(to)) != 0)
		return;
	if (rename(from, to) != 0) {
		node__log(n, QFS_LOG_WARN, "rename %s: %s", from, strerror(errno));
		return;
	}
	fsync_dir(n);
	n->w.last_snap_index = index;
	node__snapshot_prune(n, index, NULL, 0);
}

int node__snapshot_check(struct node *n, const struct raft_snapshot_meta *m, char *why, size_t len)
{
	char path[1024];
	struct stat st;
	uint64_t idx = 0;
	const char *what = NULL;
	int rc = node__snapshot_path(n, "recv", m->index, path, sizeof(path));
	if (rc != 0) {
		snprintf(why, len, "%s", qfs_strerror(rc));
		return rc;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, len, "the staged file: %s", strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(why, len, "the staged file: %s", strerror(errno));
	} else if ((uint64_t)st.st_size != m->size) {
		rc = QFS_ECORRUPT;
		snprintf(why, len, "%llu bytes staged, the leader announced %llu",
		         (unsigned long long)st.st_size, (unsigned long long)m->size);
	} else if ((rc = fsm_snapshot_check_fd(fd, &idx, &what)) != 0) {
		snprintf(why, len, "%s", what);
	} else if (idx != m->index) {
		rc = QFS_ECORRUPT;
		snprintf(why, len, "it holds index %llu, not %llu", (unsigned long long)idx,
		         (unsigned long long)m->index);
	}
	close(fd);
	return rc;
}

void node__snapshot_refetch(struct node *n, const struct node__batch *b)
{
	const struct raft_snapshot_meta *m = &b->install_meta;
	char path[1024], err[256];

	qfs_metric_inc(QFS_M_SNAPSHOTS_REJECTED);
	if (++n->snap_rejects > NODE__SNAPSHOT_RETRIES) {
		snprintf(err, sizeof(err),
		         "the snapshot from the leader at index %llu failed its checks %u times "
		         "in a row, the last: %s",
		         (unsigned long long)m->index, n->snap_rejects, b->why);
		node__storage_failed(n, QFS_ECORRUPT, err);
		return; /* the writer stays parked: nothing more is written */
	}
	/* A pause that grows with each attempt: a leader's file that is being
	 * replaced, or a disk that heals, gets time; a damaged one is not
	 * fetched in a tight loop. Meanwhile the writer stays parked and drops
	 * whatever the old core hands out (node__writer_idle is false). */
	uint64_t wait = (uint64_t)n->snap_rejects * n->opts.election_ms;
	node__log(n, QFS_LOG_ERROR,
	          "the snapshot from the leader at index %llu failed its checks (%s): "
	          "discarded, fetching it again in %llu ms (attempt %u of %u)",
	          (unsigned long long)m->index, b->why, (unsigned long long)wait,
	          n->snap_rejects + 1, NODE__SNAPSHOT_RETRIES + 1);
	if (node__snapshot_path(n, "recv", m->index, path, sizeof(path)) == 0)
		unlink(path);
	n->refetch_pending = true;
	n->refetch_at = uv_now(n->loop) + wait;
}

void node__snapshot_refetch_due(struct node *n)
{
	char err[256];
	if (!n->refetch_pending || n->failed || uv_now(n->loop) < n->refetch_at)
		return;
	n->refetch_pending = false;
	/* The core took the snapshot as installed (its log reset, its
	 * commit moved) when the last chunk came; the store never did. A core
	 * made again from the store, as at a restart, has no staging area:
	 * the leader's next chunk is refused with offset 0, and the leader
	 * sends the whole snapshot again (src/raft/snapshot.c). Nothing the
	 * old core promised is lost: what it sent after that chunk waited for
	 * the batches just discarded (messages after persist). */
	struct raft *old = n->raft, *fresh = NULL;
	int rc = raft_new(&n->raft_cfg, &fresh);
	if (rc != 0) {
		node__storage_failed(n, rc, "making the core again");
		return;
	}
	n->raft = fresh;
	raft_free(old);
	n->core_gen++;
	err[0] = '\0';
	rc = node__recover(n, err, sizeof(err));
	if (rc != 0) {
		node__storage_failed(n, rc, err);
		return;
	}
	n->leader = RAFT_NONE;
	n->term = raft_current_term(n->raft);
	/* Rounds the old core was asked for are never answered: ask again. */
	for (struct node__barrier *r = n->barriers; r != NULL; r = r->next)
		if (!r->have_index)
			r->ctx = 0;
	n->barriers_new = true;
	node__submits_on_leader_change(n);
	pthread_mutex_lock(&n->w.mu);
	n->w.parked = false;
	pthread_cond_signal(&n->w.cond);
	pthread_mutex_unlock(&n->w.mu);
	node__kick(n);
}

struct take {
	struct node *n;
	int fd;
	uint64_t index, term, size;
};

static int take_txn(MDB_txn *txn, void *arg)
{
	struct take *t = arg;
	struct fsm_snapshot *snap;
	static const size_t cap = 1u << 20;
	int rc = fsm_snapshot_begin(t->n->fsm, txn, &snap, &t->index);
	if (rc != 0)
		return rc;
	rc = store_log_term(t->n->store, t->index, &t->term);
	void *buf = rc == 0 ? malloc(cap) : NULL;
	if (rc == 0 && buf == NULL)
		rc = -ENOMEM;
	bool done = false;
	while (rc == 0 && !done) {
		size_t len = 0;
		rc = fsm_snapshot_next_chunk(snap, buf, cap, &len, &done);
		if (rc == 0 && len > 0) {
			rc = write_all(t->fd, buf, len, t->size);
			t->size += len;
		}
	}
	free(buf);
	fsm_snapshot_end(snap);
	return rc;
}

/* On the writer: the tree as of now into snap-<applied> (tmp + fsync +
 * rename + fsync of the directory), and its metadata into the store. */
int node__snapshot_take(struct node *n, uint64_t *index, uint64_t *size)
{
	char tmp[1024], path[1024];
	struct take t = {.n = n};
	uint8_t conf[WIRE_PEER_CONF_MAX];
	int rc;

	rc = node__snapshot_path(n, "tmp", n->w.applied, tmp, sizeof(tmp));
	if (rc != 0)
		return rc;
	t.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t.fd < 0)
		return -errno;
	rc = store_read(n->store, take_txn, &t);
	if (rc == 0 && fdatasync(t.fd) != 0)
		rc = -errno;
	close(t.fd);
	/* The writer is the only one applying, so the tree read is at the
	 * index whose configuration it tracks. */
	if (rc == 0 && t.index != n->w.applied)
		rc = -EAGAIN;
	if (rc == 0)
		rc = node__snapshot_path(n, "snap", t.index, path, sizeof(path));
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	fsync_dir(n);
	size_t clen = raft_conf_encode(&n->w.conf, conf, sizeof(conf));
	if (clen > sizeof(conf))
		return -EINVAL;
	struct store_snapshot_meta sm = {
	        .index = t.index, .term = t.term, .conf = conf, .conf_len = clen};
	rc = store_snapshot_meta_put(n->store, &sm);
	if (rc != 0)
		return rc;
	n->w.last_snap_index = t.index;
	*index = t.index;
	*size = t.size;
	return 0;
}

/* True for snap-<index> with @index older than @newest and not in @keep. */
static bool snap_unused(const char *name, uint64_t newest, const uint64_t *keep, unsigned n_keep)
{
	char *end;
	if (strncmp(name, "snap-", 5) != 0)
		return false;
	errno = 0;
	uint64_t index = strtoull(name + 5, &end, 10);
	if (errno != 0 || *end != '\0' || index >= newest)
		return false;
	for (unsigned i = 0; i < n_keep; i++)
		if (keep[i] == index)
			return false;
	return true;
}

/* On the writer: deletes every snapshot older than snap-<newest> but those a
 * transfer in progress still reads (a transfer finishes on the snapshot it
 * started with), and leftover tmp- files. */
void node__snapshot_prune(struct node *n, uint64_t newest, const uint64_t *keep, unsigned n_keep)
{
	char dir[1024], path[1300];
	if (node__snapshot_dir(n, dir, sizeof(dir)) != 0)
		return;
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		/* A tmp- file is a snapshot a crash interrupted (only this
		 * thread writes them). recv- files may be mid-transfer: kept. */
		if (!snap_unused(e->d_name, newest, keep, n_keep) &&
		    strncmp(e->d_name, "tmp-", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}
