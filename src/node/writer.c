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

/* write_group's answer for a group whose snapshot failed its checks
 * (positive: never an error code). */
#define BAD_SNAPSHOT 1

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
	/* Where apply_txn starts: the writer's state, or what install_txn
	 * made of it. */
	uint64_t base_applied;
	struct raft_conf base_conf;
	uint64_t base_conf_index;
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

/* The store_write callback of a group that starts with a snapshot's
 * installation: the tree and the snapshot's metadata, durably, before the
 * log is reset to it (write_group). Re-runnable. */
static int install_txn(MDB_txn *txn, void *arg)
{
	struct wtxn *t = arg;
	struct node *n = t->n;

	t->applied = n->w.applied;
	t->conf = n->w.conf;
	t->conf_index = n->w.conf_index;
	n->w.tree_failed = false;
	for (struct node__batch *b = t->first; b != NULL; b = b->next)
		if (b->install) {
			int rc = install(t, txn, b);
			if (rc != 0)
				return rc;
			/* Our own submits that the snapshot applied are answered
			 * from this (the tree as installed, before later applies). */
			rc = fsm_session_get(n->fsm, txn, n->client_id, &b->sess_serial,
			                     &b->sess_res, &b->sess_found);
			if (rc != 0) {
				n->w.tree_failed = true;
				return rc;
			}
		}
	return 0;
}

/* The store_write callback: the applies of every batch, in order.
 * Re-runnable: it keeps nothing but in @t's fields, which it sets again
 * from the start (from what install_txn left there, if it ran). */
static int apply_txn(MDB_txn *txn, void *arg)
{
	struct wtxn *t = arg;
	struct node *n = t->n;
	struct raft_conf conf;
	int rc;

	t->applied = t->base_applied;
	t->conf = t->base_conf;
	t->conf_index = t->base_conf_index;
	n->w.tree_failed = false;
	for (struct node__batch *b = t->first; b != NULL; b = b->next) {
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
	for (struct node__batch *b = t->first; b != NULL; b = b->next)
		for (unsigned i = 0; i < b->n_apply; i++)
			if (b->apply[i].applied)
				n->w.applied_bytes += b->apply[i].len;
	n->w.applied = t->applied;
	n->w.conf = t->conf;
	n->w.conf_index = t->conf_index;
}

/* Takes a snapshot every snapshot_every applied entries, or every
 * snapshot_bytes of applied entries (a few large entries must not grow the
 * stored log without bound either), or when asked. */
static void maybe_snapshot(struct node *n, bool force)
{
	struct node__writer *w = &n->w;
	if (w->applied <= w->last_snap_index || w->conf_index == 0)
		return;
	bool by_entries =
	        n->snapshot_every != 0 && w->applied - w->last_snap_index >= n->snapshot_every;
	bool by_bytes = n->snapshot_bytes != 0 &&
	                w->applied_bytes - w->snap_bytes_mark >= n->snapshot_bytes;
	if (!force && !by_entries && !by_bytes)
		return;
	w->snap_bytes_mark = w->applied_bytes;
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
 * The log's part of a group (src/store's write-ahead log): each batch's
 * hard state and entries, in order, then one fdatasync for all of them, as
 * the ready contract requires before raft_persisted() and before the held
 * messages go out (Raft paper, Figure 2: "updated on stable storage before
 * responding to RPCs"). A group whose only change is the commit index of
 * the hard state is written without a sync: Raft keeps the commit index
 * volatile (Figure 2), ours is a hint that may lag, so a machine crash can
 * only make it older. Held messages of such a group promise only what
 * earlier groups stored, and those were synced before this one began.
 */
static int write_log(struct node *n, struct node__batch *first)
{
	struct store_hard_state cur;
	bool sync = false;
	int rc = 0;

	store_hard_state_get(n->store, &cur);
	for (struct node__batch *b = first; b != NULL && rc == 0; b = b->next) {
		bool hs = b->hs_changed && (b->hs.term != cur.term || b->hs.vote != cur.vote ||
		                            b->hs.commit != cur.commit);
		if (!hs && b->n_entries == 0)
			continue;
		if (hs && (b->hs.term != cur.term || b->hs.vote != cur.vote))
			sync = true;
		sync = sync || b->n_entries > 0;
		rc = store_append_flags(n->store, b->entries, b->n_entries, hs ? &b->hs : NULL,
		                        STORE_LOG_NO_SYNC);
		if (hs)
			cur = b->hs;
	}
	if (rc == 0 && sync)
		rc = store_log_sync(n->store);
	return rc;
}

/*
 * One group: the batches from @first up to (not including) @stop. A
 * snapshot's installation, if any, is its first batch (write_batches
 * splits them so). Three steps, each durable or repaired by a restart:
 * 1. the installation: tree and snapshot metadata in one durable LMDB
 *    commit, then the log reset to the snapshot (unless the core keeps its
 *    log). A crash in between leaves a log that does not hold the
 *    snapshot's last entry, which store_open() resets the same way;
 * 2. the log: hard state and entries, one fdatasync (write_log);
 * 3. the applies, in one LMDB commit that skips its meta page's sync
 *    (STORE_NO_META_SYNC: one device flush instead of two). Safe because
 *    the entries it applies are durable in the log (the core hands out
 *    only locally durable entries, and step 2 came first) and in a
 *    majority's, and applied moves in the same transaction as the tree: a
 *    machine crash that undoes the commit leaves an older applied index,
 *    and the node applies those entries again from the log after the
 *    restart, deterministically. A later durable commit, store_sync()
 *    before a compaction (store_log_compact) or the store's close flushes
 *    the skipped meta page.
 * Nothing is lost that was promised: the log before any message, the tree
 * only where the log can replay it.
 */
static int write_group(struct node *n, struct node__batch *first, struct node__batch *stop)
{
	struct node__batch *last = first;
	while (last->next != stop)
		last = last->next;
	last->next = NULL; /* the steps walk to the end of the list */
	struct wtxn t = {.n = n, .first = first};
	t.applied = t.base_applied = n->w.applied;
	t.conf = t.base_conf = n->w.conf;
	t.conf_index = t.base_conf_index = n->w.conf_index;
	bool applies = false;
	for (struct node__batch *b = first; b != NULL; b = b->next)
		applies = applies || b->n_apply > 0;
	int rc = stage_chunks(n, first);
	n->w.errmsg[0] = '\0'; /* a staging file's errno says it all */
	/* Checked before anything is written, so that a snapshot damaged on
	 * the leader's disk or in this staging file is not a storage failure:
	 * it is fetched again (writer_main, node__snapshot_refetch). */
	if (rc == 0 && first->install &&
	    node__snapshot_check(n, &first->install_meta, first->why, sizeof(first->why)) != 0) {
		last->next = stop;
		return BAD_SNAPSHOT;
	}
	uint64_t t0 = uv_hrtime();
	if (rc == 0 && first->install) {
		rc = store_write(n->store, install_txn, &t);
		if (rc == 0 && !first->keep_log)
			rc = store_log_reset(n->store, first->install_meta.index,
			                     first->install_meta.term);
		t.base_applied = t.applied;
		t.base_conf = t.conf;
		t.base_conf_index = t.conf_index;
	}
	if (rc == 0) {
		n->w.tree_failed = false;
		rc = write_log(n, first);
	}
	if (rc == 0 && applies)
		rc = store_write_flags(n->store, apply_txn, &t, STORE_NO_META_SYNC);
	qfs_metric_observe(QFS_H_FSYNC, (double)(uv_hrtime() - t0) / 1e9);
	if (rc != 0)
		failure_text(n, n->w.errmsg, sizeof(n->w.errmsg));
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
 * Writes @work: as few groups as it can (group commit), a new one at each
 * snapshot installation (it must come first in its group, write_group), or,
 * if a group is more than LMDB takes in one transaction, batch by batch.
 * Returns 0 or the first error; *@rest is the first batch not written
 * (NULL: all were). 0 with *@rest set: *@rest's snapshot failed its
 * checks, and the batches before it were written.
 */
static int write_batches(struct node *n, struct node__batch *work, struct node__batch **rest)
{
	struct node__batch *g = work;
	while (g != NULL) {
		struct node__batch *stop = g->next;
		while (stop != NULL && !stop->install)
			stop = stop->next;
		int rc = write_group(n, g, stop);
		if (rc == BAD_SNAPSHOT) {
			*rest = g;
			return 0;
		}
		if (txn_too_big(rc) && g->next != stop) {
			for (struct node__batch *b = g; b != stop; b = b->next) {
				rc = write_group(n, b, b->next);
				if (rc != 0) {
					*rest = b;
					return rc;
				}
			}
		} else if (rc != 0) {
			*rest = g;
			return rc;
		}
		g = stop;
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

/* Moves @first and the rest of its list to the done list, unwritten, and
 * parks the writer until the loop has rebuilt the core. Under w->mu. */
static void discard(struct node__writer *w, struct node__batch *first)
{
	w->discard_gen = first->gen;
	w->parked = true;
	for (struct node__batch *b = first; b != NULL; b = b->next)
		b->discarded = true;
	done_append(w, first, NULL, 0);
}

/* Takes the batches of discarded core generations off the front of
 * @work (they are in order) to the done list. Under w->mu. */
static struct node__batch *drop_stale(struct node__writer *w, struct node__batch *work)
{
	struct node__batch *keep = work;
	while (keep != NULL && keep->gen <= w->discard_gen)
		keep = keep->next;
	if (keep == work)
		return work;
	for (struct node__batch *b = work; b != keep; b = b->next)
		b->discarded = true;
	done_append(w, work, keep, 0);
	uv_async_send(&w->async);
	return keep;
}

static void *writer_main(void *arg)
{
	struct node *n = arg;
	struct node__writer *w = &n->w;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop &&
		       (w->parked || (w->queue == NULL && w->compact_to <= w->compacted &&
		                      !w->snap_request && !w->prune_request)))
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
		struct node__batch *work = drop_stale(w, w->queue), *rest = NULL;
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
		if (rc == 0 && rest == NULL)
			maybe_snapshot(n, force_snapshot);

		pthread_mutex_lock(&w->mu);
		w->busy = false;
		done_append(w, work, rest, 0); /* what was written */
		if (rc == 0 && rest != NULL) {
			/* A snapshot failed its checks: the core believes it
			 * installed, so what it said from then on is dropped. */
			discard(w, rest);
			uv_async_send(&w->async);
			continue;
		}
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
	/* Parked: what the core makes now must go to the writer, which drops
	 * it (its held messages may promise the snapshot that failed). */
	bool idle = !w->busy && w->queue == NULL && w->done == NULL && w->fatal == 0 && !w->parked;
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
