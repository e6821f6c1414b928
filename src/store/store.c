/* store.c: opening a data directory (identity and format checks), closing, and figures. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "wal.h"
#include "quorumfs/errors.h"

#define MiB ((size_t)1 << 20)

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void hex(char *out, const uint8_t *id)
{
	for (int i = 0; i < STORE_CLUSTER_ID_LEN; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

static int get_exact(struct store *s, MDB_txn *txn, const char *key, void *out, size_t len)
{
	MDB_val k = {strlen(key), (void *)key}, v;
	int mrc = mdb_get(txn, s->meta, &k, &v);

	if (mrc == MDB_NOTFOUND)
		return store__fail(s, QFS_ECORRUPT, "meta has no %s", key);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, key);
	if (v.mv_size != len)
		return store__fail(s, QFS_ECORRUPT, "meta %s has %zu bytes, not %zu", key,
		                   v.mv_size, len);
	memcpy(out, v.mv_data, len);
	return 0;
}

/* Records format and identity in a fresh environment, in one transaction:
 * a crash leaves either nothing or a complete store. */
static int create_fresh(struct store *s, const struct store_options *o)
{
	unsigned char fmt[4], id[8];
	MDB_txn *txn;
	int mrc, rc;

	if (o == NULL || o->node_id == 0 || all_zero(o->cluster_id, STORE_CLUSTER_ID_LEN))
		return store__fail(s, QFS_ECONFIG,
		                   "fresh data directory: a node id and a cluster id are required");
	mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "begin the first transaction");
	mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
	if (mrc != 0) {
		mdb_txn_abort(txn);
		return store__mdb_fail(s, mrc, "create the databases");
	}
	put_be32(fmt, STORE_FORMAT);
	put_be64(id, o->node_id);
	rc = store__put_raw(s, txn, KEY_FORMAT, fmt, sizeof(fmt));
	if (rc == 0)
		rc = store__put_raw(s, txn, KEY_NODE_ID, id, sizeof(id));
	if (rc == 0)
		rc = store__put_raw(s, txn, KEY_CLUSTER_ID, o->cluster_id, STORE_CLUSTER_ID_LEN);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	mrc = mdb_txn_commit(txn);
	if (mrc != 0)
		return store__commit_error(s, mrc, "create the store");
	s->node_id = o->node_id;
	memcpy(s->cluster_id, o->cluster_id, STORE_CLUSTER_ID_LEN);
	return 0;
}

/* Checks format and identity of an existing store, reading only: a refused
 * directory is left exactly as it was. Format 1 (its log in LMDB) is
 * accepted, to be converted once the environment is open. */
static int check_existing(struct store *s, MDB_txn *txn, const struct store_options *o)
{
	unsigned char fmt[4], id[8];
	char want[2 * STORE_CLUSTER_ID_LEN + 1], have[2 * STORE_CLUSTER_ID_LEN + 1];
	int mrc, rc;

	rc = get_exact(s, txn, KEY_FORMAT, fmt, sizeof(fmt));
	if (rc != 0)
		return rc;
	if (get_be32(fmt) != STORE_FORMAT && get_be32(fmt) != 1)
		return store__fail(s, QFS_EFORMAT,
		                   "format version %" PRIu32 ", this build reads 1 and %d",
		                   get_be32(fmt), STORE_FORMAT);
	s->legacy = get_be32(fmt) == 1;
	rc = get_exact(s, txn, KEY_NODE_ID, id, sizeof(id));
	if (rc == 0)
		rc = get_exact(s, txn, KEY_CLUSTER_ID, s->cluster_id, STORE_CLUSTER_ID_LEN);
	if (rc != 0)
		return rc;
	s->node_id = get_be64(id);
	if (o != NULL && o->node_id != 0 && o->node_id != s->node_id)
		return store__fail(s, QFS_EMISMATCH, "belongs to node %" PRIu64 ", not %" PRIu64,
		                   s->node_id, o->node_id);
	if (o != NULL && !all_zero(o->cluster_id, STORE_CLUSTER_ID_LEN) &&
	    memcmp(o->cluster_id, s->cluster_id, STORE_CLUSTER_ID_LEN) != 0) {
		hex(have, s->cluster_id);
		hex(want, o->cluster_id);
		return store__fail(s, QFS_EMISMATCH, "belongs to cluster %s, not %s", have, want);
	}
	if (!s->legacy)
		return 0;
	mrc = mdb_dbi_open(txn, "log", 0, &s->log);
	if (mrc == MDB_NOTFOUND)
		return store__fail(s, QFS_ECORRUPT, "the format-1 log database is missing");
	return store__mdb_fail(s, mrc, "open the format-1 log database");
}

/*
 * The log after a crash between a snapshot's installation (a durable LMDB
 * commit of the tree and the snapshot's metadata) and the log's reset that
 * follows it (writer.c): if the log does not hold the snapshot's last entry
 * with its term, it cannot continue the tree, and it is reset to the
 * snapshot, as the installation would have done (Raft paper, section 7: a
 * log that does not match the snapshot is discarded). A log that holds it
 * is kept, as an installation that kept its log would.
 */
static int reconcile(struct store *s)
{
	struct store_snapshot_meta sm;
	uint64_t first, last, term;
	int rc = store_snapshot_meta_get(s, &sm);

	if (rc == -ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	free(sm.conf);
	store_log_bounds(s, &first, &last);
	if (sm.index < first)
		return 0;
	if (store_log_term(s, sm.index, &term) == 0 && term == sm.term)
		return 0;
	return store_log_reset(s, sm.index, sm.term);
}

static int open_log(struct store *s, const char *dir)
{
	char why[200] = "";
	int rc;

	if (s->legacy) {
		/* A conversion that did not finish left a log behind. */
		rc = store__wal_remove(dir);
		if (rc != 0)
			return store__fail(s, rc, "remove the half-made log: %s", strerror(-rc));
	}
	rc = store__wal_open(&s->wal, dir, s->wal_segment_bytes, s->nosync, why, sizeof(why));
	if (rc != 0)
		return store__fail(s, rc, "%s", why[0] ? why : qfs_strerror(rc));
	if (s->legacy) {
		rc = store__convert_v1(s);
		if (rc != 0)
			return rc;
		s->legacy = false;
		s->converted = true;
	}
	return reconcile(s);
}

static int open_env(struct store *s, const char *dir, const struct store_options *o)
{
	unsigned flags = MDB_NOTLS | (s->nosync ? MDB_NOSYNC : 0);
	size_t initial = o && o->initial_map_size ? o->initial_map_size : 64 * MiB;
	MDB_envinfo info;
	MDB_txn *txn;
	MDB_dbi main_dbi;
	MDB_stat st;
	int mrc, rc, dead;

	mrc = mdb_env_create(&s->env);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "create the environment");
	mdb_env_set_maxdbs(s->env, STORE_MAX_DBS);
	mdb_env_set_maxreaders(s->env, o && o->max_readers ? o->max_readers : 126);
	/* MDB_NOTLS: read transactions are not tied to a thread's slot, so
	 * several threads (and a thread pool) may read. */
	mrc = mdb_env_open(s->env, dir, flags, 0600);
	if (mrc == MDB_INVALID)
		return store__fail(s, QFS_ECORRUPT, "data.mdb is not a readable LMDB file");
	if (mrc == MDB_VERSION_MISMATCH)
		return store__fail(s, QFS_EFORMAT, "data.mdb has another LMDB version");
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "open the environment");
	mdb_reader_check(s->env, &dead);

	/* The file records the map size it last had; start from at least the
	 * configured size, never below what is recorded. */
	mdb_env_info(s->env, &info);
	if (initial > s->max_map_size)
		initial = s->max_map_size;
	if (info.me_mapsize < initial) {
		mrc = mdb_env_set_mapsize(s->env, initial);
		if (mrc != 0)
			return store__mdb_fail(s, mrc, "set the map size");
	}

	mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (mrc != 0)
		return store__mdb_fail(s, mrc, "begin a read transaction");
	mrc = mdb_dbi_open(txn, "meta", 0, &s->meta);
	if (mrc == MDB_NOTFOUND) {
		mrc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
		if (mrc == 0)
			mrc = mdb_stat(txn, main_dbi, &st);
		mdb_txn_abort(txn);
		if (mrc != 0)
			return store__mdb_fail(s, mrc, "read the main database");
		if (st.ms_entries != 0)
			return store__fail(
			        s, QFS_EFORMAT,
			        "holds an LMDB environment that is not a quorumfs store");
		return create_fresh(s, o);
	}
	if (mrc != 0) {
		mdb_txn_abort(txn);
		return store__mdb_fail(s, mrc, "open the meta database");
	}
	rc = check_existing(s, txn, o);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* Committing (not aborting) keeps the database handles for later
	 * transactions. */
	mrc = mdb_txn_commit(txn);
	return store__mdb_fail(s, mrc, "keep the database handles");
}

static int lock_dir(struct store *s, const char *dir)
{
	char path[4096];

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return store__fail(s, -errno, "create the directory: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/quorumfs.lock", dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return store__fail(s, -errno, "open %s: %s", path, strerror(errno));
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			return store__fail(s, QFS_EBUSY, "in use by another process or store");
		return store__fail(s, -errno, "lock %s: %s", path, strerror(errno));
	}
	return 0;
}

int store_open(const char *dir, const struct store_options *opts, struct store **out, char *errbuf,
               size_t errlen)
{
	pthread_rwlockattr_t attr;
	struct store *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "data directory %s: out of memory", dir);
		return -ENOMEM;
	}
	s->lock_fd = -1;
	pthread_mutex_init(&s->err_lock, NULL);
	pthread_mutex_init(&s->write_lock, NULL);
	pthread_mutex_init(&s->log_lock, NULL);
	/* Readers first: a reader may nest store_read() calls, which a
	 * writer-preferring lock would deadlock while the map waits to grow. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_READER_NP);
	pthread_rwlock_init(&s->map_lock, &attr);
	pthread_rwlockattr_destroy(&attr);

	s->max_map_size = opts && opts->max_map_size ? opts->max_map_size : (size_t)1 << 40;
	s->compact_batch = opts && opts->compact_batch ? opts->compact_batch : 8192;
	s->prealloc_bytes = opts && opts->prealloc_bytes ? opts->prealloc_bytes : 8 * MiB;
	if (opts && opts->no_prealloc)
		s->prealloc_bytes = 0;
	s->nosync = opts && opts->unsafe_nosync;
	s->wal_segment_bytes = opts ? opts->wal_segment_bytes : 0;
	s->dir = strdup(dir);
	rc = s->dir ? lock_dir(s, dir) : -ENOMEM;
	if (rc == 0)
		rc = open_env(s, dir, opts);
	if (rc == 0)
		rc = open_log(s, dir);
	if (rc != 0) {
		if (errbuf && errlen) {
			char why[sizeof(s->err)];
			store_errmsg(s, why, sizeof(why));
			snprintf(errbuf, errlen, "data directory %s: %s", dir,
			         why[0] ? why : qfs_strerror(rc));
		}
		store_close(s);
		return rc;
	}
	store__fail(s, 0, "%s", "");
	*out = s;
	return 0;
}

int store_peek(const char *dir, struct store_info *out, char *errbuf, size_t errlen)
{
	struct store s = {.lock_fd = -1};
	unsigned char fmt[4], id[8];
	char path[4096];
	MDB_txn *txn = NULL;
	int mrc, rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_init(&s.err_lock, NULL);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (access(path, F_OK) != 0) {
		rc = store__fail(&s, -errno, "no store (%s: %s)", path, strerror(errno));
		goto out;
	}
	mrc = mdb_env_create(&s.env);
	if (mrc == 0) {
		mdb_env_set_maxdbs(s.env, STORE_MAX_DBS);
		mrc = mdb_env_open(s.env, dir, MDB_RDONLY | MDB_NOTLS, 0600);
	}
	if (mrc == 0)
		mrc = mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn);
	if (mrc == 0)
		mrc = mdb_dbi_open(txn, "meta", 0, &s.meta);
	rc = mrc == MDB_NOTFOUND ? store__fail(&s, QFS_ECORRUPT, "not a quorumfs store")
	                         : store__mdb_fail(&s, mrc, "open read-only");
	if (rc == 0)
		rc = get_exact(&s, txn, KEY_FORMAT, fmt, sizeof(fmt));
	if (rc == 0)
		rc = get_exact(&s, txn, KEY_NODE_ID, id, sizeof(id));
	if (rc == 0)
		rc = get_exact(&s, txn, KEY_CLUSTER_ID, out->cluster_id, STORE_CLUSTER_ID_LEN);
	if (rc == 0) {
		out->format = get_be32(fmt);
		out->node_id = get_be64(id);
	}
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (s.env != NULL)
		mdb_env_close(s.env);
	if (rc != 0 && errbuf && errlen)
		snprintf(errbuf, errlen, "data directory %s: %s", dir,
		         s.err[0] ? s.err : qfs_strerror(rc));
	pthread_mutex_destroy(&s.err_lock);
	return rc;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	/* A clean stop leaves nothing a machine crash could undo: the meta
	 * page of a last lazy commit is flushed here. */
	if (s->env != NULL && s->meta_unsynced && !s->nosync)
		mdb_env_sync(s->env, 1);
	if (s->env != NULL)
		mdb_env_close(s->env);
	store__wal_close(s->wal);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	pthread_rwlock_destroy(&s->map_lock);
	pthread_mutex_destroy(&s->write_lock);
	pthread_mutex_destroy(&s->log_lock);
	pthread_mutex_destroy(&s->err_lock);
	free(s->dir);
	free(s);
}

MDB_env *store_env(struct store *s)
{
	return s->env;
}

int store_info(struct store *s, struct store_info *out)
{
	MDB_envinfo info;
	MDB_stat st;

	memset(out, 0, sizeof(*out));
	out->node_id = s->node_id;
	memcpy(out->cluster_id, s->cluster_id, STORE_CLUSTER_ID_LEN);
	out->format = STORE_FORMAT;
	pthread_rwlock_rdlock(&s->map_lock);
	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	pthread_rwlock_unlock(&s->map_lock);
	out->map_size = info.me_mapsize;
	out->page_size = st.ms_psize;
	out->used_bytes = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	out->map_grows = s->map_grows;
	out->commits = s->commits;
	out->lazy_commits = s->lazy_commits;
	out->log_cut_segment = s->wal->cut_seq;
	out->log_cut_offset = s->wal->cut_off;
	out->converted_format1 = s->converted;
	return 0;
}
