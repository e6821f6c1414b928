/* driver.c: the ready loop: take batches from the core, send, hand them to the writer, complete
 * them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "quorumfs/metrics.h"
#include "quorumfs/wire_cmd.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"

static void *dup_bytes(const void *p, size_t len)
{
	void *c = malloc(len ? len : 1);
	if (c != NULL && len > 0)
		memcpy(c, p, len);
	return c;
}

/* Copies what the writer needs out of @rd (borrowed until raft_advance). */
static struct node__batch *batch_from_ready(struct node *n, const struct raft_ready *rd)
{
	struct node__batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->id = rd->id;
	b->gen = n->core_gen;
	b->hs_changed = rd->hard_state_changed;
	b->hs.term = rd->hard_state.term;
	b->hs.vote = rd->hard_state.vote;
	b->hs.commit = rd->hard_state.commit;
	if (rd->n_entries > 0) {
		b->entries = calloc(rd->n_entries, sizeof(*b->entries));
		if (b->entries == NULL)
			goto oom;
		for (unsigned i = 0; i < rd->n_entries; i++) {
			const struct raft_entry *e = &rd->entries[i];
			struct store_entry *s = &b->entries[i];
			s->index = e->index;
			s->term = e->term;
			s->type = e->type;
			s->len = e->data.len;
			s->data = dup_bytes(e->data.base, e->data.len);
			if (s->data == NULL)
				goto oom;
			b->n_entries = i + 1;
		}
	}
	if (rd->n_snapshot_chunks > 0) {
		b->chunks = calloc(rd->n_snapshot_chunks, sizeof(*b->chunks));
		if (b->chunks == NULL)
			goto oom;
		for (unsigned i = 0; i < rd->n_snapshot_chunks; i++) {
			b->chunks[i] = rd->snapshot_chunks[i];
			b->chunks[i].data.base = dup_bytes(rd->snapshot_chunks[i].data.base,
			                                   rd->snapshot_chunks[i].data.len);
			if (b->chunks[i].data.base == NULL)
				goto oom;
			b->n_chunks = i + 1;
		}
	}
	if (rd->snapshot_install != NULL) {
		b->install = true;
		b->install_meta = *rd->snapshot_install;
		b->keep_log = rd->snapshot_keep_log;
	}
	if (rd->n_committed > 0) {
		b->apply = calloc(rd->n_committed, sizeof(*b->apply));
		if (b->apply == NULL)
			goto oom;
		for (unsigned i = 0; i < rd->n_committed; i++) {
			const struct raft_entry *e = &rd->committed[i];
			struct node__apply *a = &b->apply[i];
			a->index = e->index;
			a->type = e->type;
			a->len = e->data.len;
			a->data = dup_bytes(e->data.base, e->data.len);
			if (a->data == NULL)
				goto oom;
			b->n_apply = i + 1;
		}
	}
	if (rd->n_msgs_after_persist > 0) {
		b->held = calloc(rd->n_msgs_after_persist, sizeof(*b->held));
		if (b->held == NULL)
			goto oom;
		for (unsigned i = 0; i < rd->n_msgs_after_persist; i++)
			if (node__encode_msg(n, &rd->msgs_after_persist[i], &b->held[b->n_held]) ==
			    0)
				b->n_held++;
		/* A message that failed to encode is lost: Raft tolerates it. */
	}
	return b;
oom:
	node__batch_free(b);
	return NULL;
}

static bool batch_empty(const struct node__batch *b)
{
	return !b->hs_changed && b->n_entries == 0 && b->n_chunks == 0 && !b->install &&
	       b->n_apply == 0;
}

/* The change hook for one applied command. */
static void fire_change(struct node *n, const struct node__apply *a)
{
	struct wire_cmd c;
	if (n->change_fn == NULL || a->res.err != 0 || a->res.duplicate ||
	    wire_cmd_decode(a->data, a->len, &c) != 0)
		return;
	uint64_t ino = a->res.attr.ino;
	switch (c.type) {
	case WIRE_CMD_TTL_EXPIRE:
		/* Its names were found by the fsm: drop every cached entry. */
		n->change_fn(n->change_arg, 0, 0, NULL, 0);
		break;
	case WIRE_CMD_SESSION_KEEPALIVE:
	case WIRE_CMD_SESSION_EXPIRE:
		/* Ending a session may have removed ephemeral files, whose
		 * names are known only to the fsm: drop every cached entry. */
		if (a->res.attr.size > 0)
			n->change_fn(n->change_arg, 0, 0, NULL, 0);
		break;
	case WIRE_CMD_LOCK:
	case WIRE_CMD_UNLOCK_HANDLE:
	case WIRE_CMD_EPHEMERAL:
		break; /* nothing the kernel caches */
	case WIRE_CMD_CREATE:
	case WIRE_CMD_CREATE_WRITEV:
	case WIRE_CMD_MKNOD:
	case WIRE_CMD_MKDIR:
	case WIRE_CMD_UNLINK:
	case WIRE_CMD_RMDIR:
	case WIRE_CMD_SYMLINK:
	case WIRE_CMD_LINK:
		n->change_fn(n->change_arg, ino, c.parent, c.name, c.name_len);
		break;
	case WIRE_CMD_RENAME:
		n->change_fn(n->change_arg, ino, c.parent, c.name, c.name_len);
		if (n->change_fn != NULL)
			n->change_fn(n->change_arg, ino, c.new_parent, c.new_name, c.new_name_len);
		break;
	case WIRE_CMD_ORPHAN_RELEASE:
		/* Nothing a cache holds changed: an orphan has no name, and its
		 * last open handle on this node is gone (ino 0 would mean "the
		 * whole tree"). */
		break;
	default:
		n->change_fn(n->change_arg, ino, 0, NULL, 0);
		break;
	}
}

/* A durable batch: let the core count it, send what waited for it, and
 * complete what its applies finished. */
static void complete_batch(struct node *n, struct node__batch *b)
{
	/* Marks before the acknowledgement and before the core counts the
	 * batch (invalidate.c, which calls raft_persisted()). */
	node__pending_on_persisted(n, b);
	/* The writer installs a snapshot before the batch's applies. */
	if (b->install) {
		/* Rare and worth knowing when reading a log: the node was too far
		 * behind the leader's compacted log to catch up by entries. */
		node__log(n, QFS_LOG_INFO,
		          "installed a snapshot from the leader at index %llu (term %llu)",
		          (unsigned long long)b->install_meta.index,
		          (unsigned long long)b->install_meta.term);
		if (b->install_meta.index > n->applied)
			n->applied = b->install_meta.index;
		n->snapshot_index = b->install_meta.index;
		if (n->change_fn != NULL)
			n->change_fn(n->change_arg, 0, 0, NULL, 0); /* everything */
		if (n->stopping)
			return;
		n->snap_rejects = 0;
		node__coord_on_install(n);
		node__orphans_want(n);
		if (b->sess_found)
			node__submits_on_install(n, b->sess_serial, &b->sess_res);
		if (n->stopping)
			return;
	}
	for (unsigned i = 0; i < b->n_apply; i++) {
		const struct node__apply *a = &b->apply[i];
		if (a->index > n->applied)
			n->applied = a->index;
		if (!a->applied || a->type != RAFT_ENTRY_NORMAL)
			continue;
		if (a->verify) {
			node__verify_on_applied(n, a);
			continue;
		}
		node__submits_on_applied(n, a);
		if (n->stopping)
			return;
		fire_change(n, a);
		if (n->stopping)
			return;
		node__coord_on_applied(n, a);
		if (n->stopping)
			return;
		node__orphans_on_applied(n, a);
		if (n->stopping)
			return;
	}
	if (n->key_waits != NULL && (b->n_apply > 0 || b->install))
		node__keys_on_applied(n);
	node__pending_prune(n);
}

/* @msg: the failing layer's own message (store_errmsg, fsm_errmsg), or "". */
void node__storage_failed(struct node *n, int err, const char *msg)
{
	if (n->failed)
		return;
	n->failed = true;
	node__log(n, QFS_LOG_ERROR, "STORAGE FAILURE, no longer voting or leading: %s%s%s",
	          qfs_strerror(err), msg[0] ? ": " : "", msg);
	raft_fail(n->raft);
	node__submits_fail_all(n, -EIO);
	node__barriers_fail_all(n, -EIO);
}

void node__writer_completions(uv_async_t *async)
{
	struct node *n = async->data;
	struct node__writer *w = &n->w;

	if (n->stopping)
		return;
	pthread_mutex_lock(&w->mu);
	struct node__batch *done = w->done;
	w->done = w->done_tail = NULL;
	bool snap = w->snap_ready;
	uint64_t snap_index = w->snap_index, snap_size = w->snap_size;
	w->snap_ready = false;
	char msg[sizeof(w->fatal_msg)];
	memcpy(msg, w->fatal_msg, sizeof(msg));
	pthread_mutex_unlock(&w->mu);

	while (done != NULL) {
		struct node__batch *b = done;
		done = b->next;
		if (b->discarded) {
			/* The first of a core's discarded batches rebuilds it;
			 * the rest (and older cores' batches) just go. */
			if (b->gen == n->core_gen && !n->failed && !n->refetch_pending)
				node__snapshot_refetch(n, b);
		} else if (b->err != 0)
			node__storage_failed(n, b->err, msg);
		else if (!n->failed && !n->stopping)
			complete_batch(n, b);
		node__batch_free(b);
	}
	if (n->stopping)
		return;
	if (snap && !n->failed) {
		raft_index compact_to = 0;
		if (raft_snapshot_taken(n->raft, snap_index, snap_size, &compact_to) == 0) {
			n->snapshot_index = snap_index;
			node__log(n, QFS_LOG_INFO, "snapshot at %llu (%llu bytes)",
			          (unsigned long long)snap_index, (unsigned long long)snap_size);
			raft_index in_use[RAFT_MAX_SERVERS + 1];
			unsigned k = raft_snapshots_in_use(n->raft, in_use, RAFT_MAX_SERVERS + 1);
			node__writer_request_compact(n, compact_to, in_use, k);
		}
	}
	node__barriers_serve(n);
	node__drive(n);
}

static void on_soft_state(struct node *n)
{
	raft_id leader = raft_leader(n->raft);
	raft_term term = raft_current_term(n->raft);
	if (leader != n->leader || term != n->term) {
		if (leader != n->leader)
			qfs_metric_inc(QFS_M_LEADER_CHANGES);
		if (leader != n->leader)
			node__log(n, QFS_LOG_INFO, "term %llu, leader %llu (%s)",
			          (unsigned long long)term, (unsigned long long)leader,
			          raft_role_name(raft_role(n->raft)));
		n->leader = leader;
		n->term = term;
		node__submits_on_leader_change(n);
		n->barriers_new = true;
	}
	node__hooks_on_soft_state(n);
}

void node__drive(struct node *n)
{
	if (n->stopping)
		return;
	node__barriers_flush(n);
	while (!n->stopping && raft_has_ready(n->raft)) {
		struct raft_ready rd;
		node__raft_now(n); /* stamps the heartbeats the lease counts from */
		raft_ready(n->raft, &rd);
		for (unsigned i = 0; i < rd.n_msgs; i++)
			node__send_msg(n, &rd.msgs[i]);
		struct node__batch *b = n->failed ? NULL : batch_from_ready(n, &rd);
		if (rd.conf != NULL)
			node__peers_update(n, rd.conf);
		if (rd.n_reads > 0)
			node__barriers_on_reads(n, rd.reads, rd.n_reads);
		bool soft = rd.soft_state_changed || rd.hard_state_changed;
		raft_advance(n->raft, &rd);
		if (b == NULL && !n->failed) {
			/* Out of memory: what this batch had to persist is
			 * lost; we cannot honestly claim it durable. */
			node__storage_failed(n, -ENOMEM, "");
		} else if (b != NULL) {
			/* Before the writer has it: what is committed and
			 * already certain is answered now (answer.c). */
			node__submits_on_committed(n, b);
			if (batch_empty(b) && node__writer_idle(n)) {
				complete_batch(n, b);
				node__batch_free(b);
			} else {
				node__writer_push(n, b);
			}
		}
		if (soft)
			on_soft_state(n);
		node__barriers_flush(n);
	}
	node__peers_sweep(n);
	/* What is durable and applied lives in the store, not in memory too. */
	raft_log_release(n->raft, n->log_memory);
	node__barriers_serve(n);
}

void node__on_tick(struct node *n)
{
	if (n->stopping)
		return;
	node__snapshot_refetch_due(n);
	/* The tick decides by the time too: a single voter, which hears from
	 * nobody, learns it only here (its wait after winning, follower leases). */
	node__raft_now(n);
	raft_tick(n->raft);
	node__contact_on_tick(n);
	node__members_on_tick(n);
	node__admin_on_tick(n);
	node__keys_on_tick(n);
	node__verify_on_tick(n);
	node__submits_on_tick(n);
	node__coord_on_tick(n);
	node__orphans_sweep(n);
	node__barriers_on_tick(n);
	node__drive(n);
}
