/* writer.c: the writer thread: persists and applies ready batches, many per fsync (group commit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node_int.h"
#include "quorumfs/wire_cmd.h"
#include "quorumfs/metrics.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/wire_peer.h"

/* How long the writer waits before it tries a batch again after -ENOSPC. */
#define NODE__ENOSPC_RETRY_MS 500

void node__batch_free(struct node__batch *b)
{
	if (b == NULL)
		return;
	for (unsigned i = 0; i < b->n_entries; i++)
		free((void *)b->entries[i].data);
	free(b->entries);
	for (unsigned i = 0; i < b->n_chunks; i++)
		free(b->chunks[i].data.base);
	free(b->chunks);
	for (unsigned i = 0; i < b->n_apply; i++)
		free(b->apply[i].data);
	free(b->apply);
	for (unsigned i = 0; i < b->n_held; i++)
		net_frame_free(b->held[i].frame);
	free(b->held);
	free(b);
}

/* What one store_write covers: a run of queued batches. */
struct wtxn {
	struct node *n;
	struct node__batch *first;
	/* Results that become the writer's state only if the commit succeeds
	 * (the callback may run again after the map grows). */
	uint64_t applied;
	struct raft_conf conf;
	uint64_t conf_index;
	int staging_fd;
};

static int install(struct wtxn *t, MDB_txn *txn, const struct node__batch *b)
{
	struct node *n = t->n;
	const struct raft_snapshot_meta *m = &b->install_meta;
	char path[1024];
	uint64_t idx = 0;
	uint8_t conf[WIRE_PEER_CONF_MAX];
	int rc;

	if (node__snapshot_path(n, "recv", m->index, path, sizeof(path)) != 0)
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = fsm_snapshot_install_fd(n->fsm, txn, fd, &idx);
	close(fd);
	if (rc != 0) {
		n->w.tree_failed = true;
		return rc;
	}
	if (idx != m->index) {
		node__log(n, QFS_LOG_ERROR, "snapshot file of index %llu holds index %llu",
		          (unsigned long long)m->index, (unsigned long long)idx);
		return QFS_ECORRUPT;
	}
	if (!b->keep_log) {
		rc = store_txn_log_reset(n->store, txn, m->index, m->term);
		if (rc != 0)
			return rc;
	}
	size_t clen = raft_conf_encode(&m->conf, conf, sizeof(conf));
	if (clen > sizeof(conf))
		return -EINVAL;
	struct store_snapshot_meta sm = {
	        .index = m->index, .term = m->term, .conf = conf, .conf_len = clen};
	rc = store_txn_snapshot_meta_put(n->store, txn, &sm);
	if (rc != 0)
		return rc;
	t->applied = m->index;
	t->conf = m->conf;
	t->conf_index = m->index;
	return 0;
}

/* The store_write callback: hard state, snapshot, appends and applies of
 * every batch, in order. Re-runnable: it keeps nothing but in @t's fields,
 * which it sets again from the start. */
static int write_txn(MDB_txn *txn, void *arg)
{
	struct wtxn *t = arg;
	struct node *n = t->n;
	struct raft_conf conf;
	int rc;

	t->applied = n->w.applied;
	t->conf = n->w.conf;
	t->conf_index = n->w.conf_index;
	n->w.tree_failed = false;
	for (struct node__batch *b = t->first; b != NULL; b = b->next) {
		if (b->hs_changed) {
			rc = store_txn_hard_state_put(n->store, txn, &b->hs);
			if (rc != 0)
				return rc;
		}
		if (b->install) {
			rc = install(t, txn, b);
			if (rc != 0)
				return rc;
		}
		if (b->n_entries > 0) {
			rc = store_txn_log_append(n->store, txn, b->entries, b->n_entries);
			if (rc != 0)
				return rc;
		}
		for (unsigned i = 0; i < b->n_apply; i++) {
			struct node__apply *a = &b->apply[i];
			a->applied = false;
			/* After a restart the core hands out again what the
			 * tree applied before it stopped: skip those. */
			if (a->index <= t->applied)
				continue;
			a->verify = false;
			if (a->type == RAFT_ENTRY_NORMAL &&
			    wire_cmd_peek_type(a->data, a->len) == WIRE_CMD_VERIFY) {
				/* Changes nothing but the applied index; the hash is
				 * of the tree as of this index, in this transaction. */
				rc = fsm_apply_noop(n->fsm, txn, a->index);
				if (rc == 0)
					rc = node__verify_hash(n, txn, a->hash);
				a->verify = rc == 0;
				memset(&a->res, 0, sizeof(a->res));
			} else if (a->type == RAFT_ENTRY_NORMAL) {
				rc = fsm_apply(n->fsm, txn, a->index, a->data, a->len, &a->res);
			} else if (a->type == RAFT_ENTRY_CONF &&
			           raft_conf_decode(a->data, a->len, &conf) == 0) {
				/* The tree learns the members: an unlinked file
				 * waits for their releases (src/fsm/orphans.c). */
				uint64_t ids[RAFT_MAX_SERVERS];
				for (unsigned k = 0; k < conf.n; k++)
					ids[k] = conf.servers[k].id;
				rc = fsm_apply_conf(n->fsm, txn, a->index, ids, conf.n);
				if (rc == 0) {
					t->conf = conf;
					t->conf_index = a->index;
				}
			} else {
				rc = fsm_apply_noop(n->fsm, txn, a->index);
			}
			if (rc != 0) {
				n->w.tree_failed = true;
				return rc;
			}
			a->applied = true;
			t->applied = a->index;
		}
	}
	return 0;
}

/* The failing layer's own message for a store_write that failed: the
 * tree's if the callback failed in it, else the store's. */
static void failure_text(struct node *n, char *buf, size_t len)
{
	if (n->w.tree_failed)
		snprintf(buf, len, "%s", fsm_errmsg(n->fsm));
	else
		store_errmsg(n->store, buf, len);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Stages received snapshot chunks; they are files, outside the txn. */
static int stage_chunks(struct node *n, struct node__batch *first)
{
	for (struct node__batch *b = first; b != NULL; b = b->next)
		for (unsigned i = 0; i < b->n_chunks; i++) {
			int rc = node__snapshot_stage(n, &b->chunks[i]);
			if (rc != 0)
				return rc;
		}
	return 0;
}

static void after_commit(struct node *n, struct wtxn *t)
{
	for (struct node__batch *b = t->first; b != NULL; b = b->next)
		if (b->install) {
			node__snapshot_installed(n, b->install_meta.index);
			qfs_metric_inc(QFS_M_SNAPSHOTS_INSTALLED);
		}
	n->w.applied = t->applied;
	n->w.conf = t->conf;
	n->w.conf_index = t->conf_index;
}

/* Takes a snapshot every snapshot_every applied entries, or when asked. */
static void maybe_snapshot(struct node *n, bool force)
{
	struct node__writer *w = &n->w;
	if (w->applied <= w->last_snap_index || w->conf_index == 0)
		return;
	if (!force &&
	    (n->snapshot_every == 0 || w->applied - w->last_snap_index < n->snapshot_every))
		return;
	uint64_t idx, size;
	int rc = node__snapshot_take(n, &idx, &size);
	if (rc == 0) {
		pthread_mutex_lock(&w->mu);
		w->snap_ready = true;
		w->snap_index = idx;
		w->snap_size = size;
		pthread_mutex_unlock(&w->mu);
	} else {
		/* Not fatal: the log just grows until the next try. */
		node__log(n, QFS_LOG_WARN, "taking a snapshot failed: %s", qfs_strerror(rc));
		w->last_snap_index = w->applied;
	}
}

/*
 * Whether the commit of the batches from @first on (to the end of the list)
 * must be durable when store_write returns, or may skip the meta page's
 * sync (STORE_NO_META_SYNC: one device flush instead of two; a crash of the
 * machine, not of the process, may undo that last commit).
 *
 * Durable, as the ready contract requires before raft_persisted() and
 * before the held messages go out (Raft paper, Figure 2: "updated on stable
 * storage before responding to RPCs"): log entries (appends, and the
 * conflicting suffixes they replace), a change of term or vote, a snapshot
 * installation (tree, log reset, snapshot metadata) and received snapshot
 * chunks. Log compaction and snapshot metadata are their own durable
 * store_writes (store_log_compact, store_snapshot_meta_put).
 *
 * Everything else may be lost to a machine crash and is then redone on
 * restart, so it needs no sync of its own:
 * - applies and the applied index: the entries are durable in this log
 *   (the core hands out only locally durable entries) and in a majority's;
 *   applied moves in the same transaction as the tree, so after a crash the
 *   node applies them again from the log, deterministically;
 * - the commit index of the hard state: Raft keeps it volatile (Figure 2);
 *   ours is a hint that may lag, so a crash can only make it older;
 * - held messages of such a batch promise only what earlier batches stored,
 *   and those were durable before this commit began (batches are written in
 *   order, and a batch that needs it makes its whole group durable), so is
 *   the log index raft_persisted() reports for it.
 * A later durable commit (or the store's close) flushes the skipped meta
 * page along with its own pages.
 */
static bool must_sync(struct node *n, const struct node__batch *first)
{
	bool hs = false;
	for (const struct node__batch *b = first; b != NULL; b = b->next) {
		if (b->n_entries > 0 || b->install || b->n_chunks > 0)
			return true;
		hs = hs || b->hs_changed;
	}
	if (!hs)
		return false;
	/* Only this thread writes the store, and term and vote only change
	 * in durable commits: what is stored is what was last made durable. */
	struct store_hard_state cur;
	if (store_hard_state_get(n->store, &cur) != 0)
		return true; /* cannot tell: sync */
	for (const struct node__batch *b = first; b != NULL; b = b->next)
		if (b->hs_changed && (b->hs.term != cur.term || b->hs.vote != cur.vote))
			return true;
	return false;
}

/* One store_write for the batches from @first up to (not including) @stop. */
static int write_group(struct node *n, struct node__batch *first, struct node__batch *stop)
{
	struct node__batch *last = first;
	while (last->next != stop)
		last = last->next;
	last->next = NULL; /* write_txn walks to the end of the list */
	struct wtxn t = {.n = n, .first = first};
	int rc = stage_chunks(n, first);
	n->w.errmsg[0] = '\0'; /* a staging file's errno says it all */
	if (rc == 0) {
		uint64_t t0 = uv_hrtime();
		rc = store_write_flags(n->store, write_txn, &t,
		                       must_sync(n, first) ? 0 : STORE_NO_META_SYNC);
		qfs_metric_observe(QFS_H_FSYNC, (double)(uv_hrtime() - t0) / 1e9);
		if (rc != 0)
			failure_text(n, n->w.errmsg, sizeof(n->w.errmsg));
	}
	if (rc == 0)
		after_commit(n, &t);
	last->next = stop;
	return rc;
}

static bool txn_too_big(int rc)
{
	return rc == -E2BIG;
}

/*
 * Writes @work: all of it in one transaction (group commit), or, if that
 * is more than LMDB takes in one transaction, batch by batch. Returns 0 or
 * the first error; *@rest is the first batch not written (NULL: all were).
 */
static int write_batches(struct node *n, struct node__batch *work, struct node__batch **rest)
{
	int rc = write_group(n, work, NULL);
	*rest = rc == 0 ? NULL : work;
	if (!txn_too_big(rc) || work->next == NULL)
		return rc;
	for (struct node__batch *b = work; b != NULL; b = b->next) {
		rc = write_group(n, b, b->next);
		if (rc != 0) {
			*rest = b;
			return rc;
		}
	}
	*rest = NULL;
	return 0;
}

/* Appends the list @first .. (up to @stop) to the done list. Under w->mu. */
static void done_append(struct node__writer *w, struct node__batch *first, struct node__batch *stop,
                        int err)
{
	if (first == stop)
		return;
	struct node__batch *last = first;
	for (;;) {
		last->err = err;
		if (last->next == stop)
			break;
		last = last->next;
	}
	last->next = NULL;
	if (w->done_tail != NULL)
		w->done_tail->next = first;
	else
		w->done = first;
	w->done_tail = last;
}

static void *writer_main(void *arg)
{
	struct node *n = arg;
	struct node__writer *w = &n->w;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && w->queue == NULL && w->compact_to <= w->compacted &&
		       !w->snap_request && !w->prune_request)
			pthread_cond_wait(&w->cond, &w->mu);
		if (w->stop)
			break;
		uint64_t compact = w->compact_to;
		uint64_t keep[RAFT_MAX_SERVERS + 1];
		unsigned n_keep = w->n_keep_snaps;
		memcpy(keep, w->keep_snaps, sizeof(keep));
		bool force_snapshot = w->snap_request;
		bool prune = w->prune_request;
		w->snap_request = false;
		w->prune_request = false;
		/* Group commit: everything queued while the last fsync ran. */
		struct node__batch *work = w->queue, *rest = NULL;
		w->queue = w->queue_tail = NULL;
		w->busy = true;
		pthread_mutex_unlock(&w->mu);

		int rc = 0;
		if (compact > w->compacted) {
			rc = store_log_compact(n->store, compact);
			if (rc != 0) {
				char msg[256];
				node__log(n, QFS_LOG_WARN, "log compaction to %llu failed: %s: %s",
				          (unsigned long long)compact, qfs_strerror(rc),
				          store_errmsg(n->store, msg, sizeof(msg)));
			}
			w->compacted = compact; /* failures are retried at the next one */
			rc = 0;
		}
		if (prune)
			node__snapshot_prune(n, w->last_snap_index, keep, n_keep);
		if (work != NULL)
			rc = write_batches(n, work, &rest);
		if (rc == 0)
			maybe_snapshot(n, force_snapshot);

		pthread_mutex_lock(&w->mu);
		w->busy = false;
		done_append(w, work, rest, 0); /* what was written */
		if (rest != NULL && rc == -ENOSPC) {
			/* Keep the rest (the core must not believe it durable)
			 * and try again; later batches queue behind. */
			if (!w->disk_full)
				node__log(n, QFS_LOG_ERROR,
				          "the data directory's disk is full%s%s; "
				          "retrying every %d ms",
				          w->errmsg[0] ? ": " : "", w->errmsg,
				          NODE__ENOSPC_RETRY_MS);
			w->disk_full = true;
			struct node__batch *last = rest;
			while (last->next != NULL)
				last = last->next;
			last->next = w->queue;
			if (w->queue == NULL)
				w->queue_tail = last;
			w->queue = rest;
			uv_async_send(&w->async);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t ns = (uint64_t)ts.tv_nsec + NODE__ENOSPC_RETRY_MS * 1000000ull;
			ts.tv_sec += (time_t)(ns / 1000000000ull);
			ts.tv_nsec = (long)(ns % 1000000000ull);
			uint64_t until = now_ms() + NODE__ENOSPC_RETRY_MS;
			while (!w->stop && now_ms() < until)
				pthread_cond_timedwait(&w->cond, &w->mu, &ts);
			continue;
		}
		if (work != NULL && rc == 0)
			w->disk_full = false;
		if (rest != NULL) {
			/* docs/architecture.md, rule 1: nothing more is written. */
			done_append(w, rest, NULL, rc);
			w->fatal = rc;
			snprintf(w->fatal_msg, sizeof(w->fatal_msg), "%s", w->errmsg);
			uv_async_send(&w->async);
			break;
		}
		uv_async_send(&w->async);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int node__writer_start(struct node *n)
{
	struct node__writer *w = &n->w;
	int rc;

	rc = pthread_mutex_init(&w->mu, NULL);
	if (rc != 0)
		return -rc;
	rc = pthread_cond_init(&w->cond, NULL);
	if (rc != 0) {
		pthread_mutex_destroy(&w->mu);
		return -rc;
	}
	rc = pthread_create(&w->thread, NULL, writer_main, n);
	if (rc != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->mu);
		return -rc;
	}
	w->started = true;
	return 0;
}

void node__writer_push(struct node *n, struct node__batch *b)
{
	struct node__writer *w = &n->w;
	b->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->queue_tail != NULL)
		w->queue_tail->next = b;
	else
		w->queue = b;
	w->queue_tail = b;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

void node__writer_request_snapshot(struct node *n)
{
	pthread_mutex_lock(&n->w.mu);
	n->w.snap_request = true;
	pthread_cond_signal(&n->w.cond);
	pthread_mutex_unlock(&n->w.mu);
}

void node__writer_request_compact(struct node *n, uint64_t upto, const uint64_t *keep,
                                  unsigned n_keep)
{
	pthread_mutex_lock(&n->w.mu);
	if (upto > n->w.compact_to)
		n->w.compact_to = upto;
	/* Also when the log stays (a transfer holds it): the snapshots taken
	 * meanwhile that no transfer reads can go. */
	if (n_keep > RAFT_MAX_SERVERS + 1)
		n_keep = RAFT_MAX_SERVERS + 1;
	memcpy(n->w.keep_snaps, keep, n_keep * sizeof(*keep));
	n->w.n_keep_snaps = n_keep;
	n->w.prune_request = true;
	pthread_cond_signal(&n->w.cond);
	pthread_mutex_unlock(&n->w.mu);
}

/* True when nothing is queued, running, or waiting to be completed: a batch
 * with nothing to store may then be completed on the loop at once. */
bool node__writer_idle(struct node *n)
{
	struct node__writer *w = &n->w;
	pthread_mutex_lock(&w->mu);
	bool idle = !w->busy && w->queue == NULL && w->done == NULL && w->fatal == 0;
	pthread_mutex_unlock(&w->mu);
	return idle;
}

void node__writer_stop(struct node *n)
{
	struct node__writer *w = &n->w;
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	/* Waits for at most the write in progress (one fsync). */
	pthread_join(w->thread, NULL);
	w->started = false;
	/* What was never written is dropped, as a crash would. */
	while (w->queue != NULL) {
		struct node__batch *b = w->queue;
		w->queue = b->next;
		node__batch_free(b);
	}
	while (w->done != NULL) {
		struct node__batch *b = w->done;
		w->done = b->next;
		node__batch_free(b);
	}
	w->queue_tail = w->done_tail = NULL;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
}
