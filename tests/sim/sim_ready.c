/* sim_ready.c: a simulated node's side of the ready contract: persist, send, apply, advance. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static bool batch_is_empty(const struct sim_batch *b)
{
	return !b->hs_changed && !b->n_chunks && !b->install && !b->n_entries && !b->n_held;
}

/* Step 1 at ready time: what the batch will make durable, and the volatile
 * effects that the contract orders before apply (staging, installing). */
static void take_persist(struct sim_cluster *c, struct sim_node *n, const struct raft_ready *rd,
                         struct sim_batch *b)
{
	if (rd->hard_state_changed) {
		const struct raft_hard_state *hs = &rd->hard_state;
		/* Figure 2: currentTerm only grows; votedFor is given once per term. */
		if (hs->term < n->last_hs.term ||
		    (hs->term == n->last_hs.term && n->last_hs.vote != RAFT_NONE &&
		     hs->vote != n->last_hs.vote))
			sim_violation(c, "hard state",
			              "n%" PRIu64 " hard state goes from term %" PRIu64
			              " vote %" PRIu64 " to term %" PRIu64 " vote %" PRIu64,
			              n->id, n->last_hs.term, n->last_hs.vote, hs->term, hs->vote);
		b->hs_changed = true;
		b->hs = *hs;
		n->last_hs = *hs;
	}
	if (rd->n_snapshot_chunks) {
		b->chunks = sim_xmalloc(rd->n_snapshot_chunks * sizeof(*b->chunks));
		b->n_chunks = rd->n_snapshot_chunks;
		for (unsigned i = 0; i < rd->n_snapshot_chunks; i++) {
			const struct raft_snapshot_chunk *ch = &rd->snapshot_chunks[i];
			b->chunks[i] =
			        (struct sim_chunk){.snap_index = ch->snap_index,
			                           .offset = ch->offset,
			                           .data = sim_memdup(ch->data.base, ch->data.len),
			                           .len = ch->data.base ? ch->data.len : 0};
			sim_stage_write(&n->stage, &b->chunks[i]);
			c->n_chunks++;
		}
	}
	if (rd->snapshot_install) {
		const struct raft_snapshot_meta *meta = rd->snapshot_install;
		struct sim_stage *st = &n->stage;
		struct sim_sm sm = n->sm;
		if (st->index != meta->index || st->len != meta->size || st->broken) {
			sim_violation(c, "snapshot install",
			              "n%" PRIu64 " told to install snapshot %" PRIu64
			              " of %" PRIu64 " bytes but staged %" PRIu64 ": %zu bytes%s",
			              n->id, meta->index, meta->size, st->index, st->len,
			              st->broken ? " with a hole" : "");
		} else if (sim_sm_decode(&sm, st->bytes, st->len) != 0 ||
		           sm.applied != meta->index || sm.applied_term != meta->term) {
			sim_violation(c, "snapshot install",
			              "n%" PRIu64 ": staged snapshot %" PRIu64 "/t%" PRIu64
			              " does not decode to that state",
			              n->id, meta->index, meta->term);
		} else if (meta->index < n->sm.applied) {
			sim_violation(c, "snapshot install",
			              "n%" PRIu64 " installs snapshot %" PRIu64
			              " behind its applied %" PRIu64,
			              n->id, meta->index, n->sm.applied);
		} else {
			sm.conf = meta->conf;
			n->sm = sm;
			b->install = true;
			b->meta = *meta;
			b->keep_log = rd->snapshot_keep_log;
			b->snap_bytes = sim_memdup(st->bytes, st->len);
			sim_serve_push(n,
			               (struct sim_snap){.index = meta->index,
			                                 .size = meta->size,
			                                 .bytes = sim_memdup(st->bytes, st->len)});
			n->snap_index = meta->index;
			c->n_snap_installs++;
			sim_trace(c, "n%" PRIu64 " installs snapshot %" PRIu64 "/t%" PRIu64, n->id,
			          meta->index, meta->term);
			sim_check_install(c, n);
		}
	}
	if (rd->n_entries) {
		sim_check_entries(c, n, rd->entries, rd->n_entries);
		sim_entries_copy(&b->entries, rd->entries, rd->n_entries);
		b->n_entries = rd->n_entries;
	}
	if (rd->n_msgs_after_persist && c->o.sim_bug == SIM_BUG_EARLY_SEND) {
		for (unsigned i = 0; i < rd->n_msgs_after_persist; i++)
			sim_net_send(c, n, &rd->msgs_after_persist[i], true);
	} else if (rd->n_msgs_after_persist) {
		b->held = sim_xmalloc(rd->n_msgs_after_persist * sizeof(*b->held));
		b->n_held = rd->n_msgs_after_persist;
		for (unsigned i = 0; i < rd->n_msgs_after_persist; i++)
			sim_msg_copy(&b->held[i], &rd->msgs_after_persist[i]);
	}
}

static void apply_committed(struct sim_cluster *c, struct sim_node *n, const struct raft_ready *rd)
{
	for (unsigned i = 0; i < rd->n_committed && !c->n_violations; i++) {
		const struct raft_entry *e = &rd->committed[i];
		if (e->index != n->sm.applied + 1) {
			sim_violation(c, "apply order",
			              "n%" PRIu64 " is given %" PRIu64 "/t%" PRIu64
			              " to apply after applying %" PRIu64,
			              n->id, e->index, e->term, n->sm.applied);
			return;
		}
		const struct raft_entry *d = sim_disk_entry(&n->disk, e->index);
		if (!d || d->term != e->term) {
			/* raft.h step 3: committed entries "are all durable locally" */
			sim_violation(c, "apply durable",
			              "n%" PRIu64 " is given %" PRIu64 "/t%" PRIu64
			              " to apply but its disk has %s",
			              n->id, e->index, e->term,
			              d ? "another term there" : "no such entry");
			return;
		}
		if (e->index > raft_commit_index(n->r)) {
			sim_violation(c, "apply order",
			              "n%" PRIu64 " is given %" PRIu64
			              " to apply beyond its commit %" PRIu64,
			              n->id, e->index, raft_commit_index(n->r));
			return;
		}
		if (sim_sm_apply(&n->sm, e) != 0) {
			sim_violation(c, "apply",
			              "n%" PRIu64 ": configuration entry %" PRIu64
			              " does not decode",
			              n->id, e->index);
			return;
		}
		sim_check_apply(c, n, e, n->sm.chain);
		sim_lease_applied(c, e);
	}
}

static void trace_ready(struct sim_cluster *c, struct sim_node *n, const struct raft_ready *rd)
{
	if (!c->o.verbose)
		return;
	char ents[64] = "", com[64] = "";
	if (rd->n_entries)
		snprintf(ents, sizeof(ents),
		         " ents=%" PRIu64 "/t%" PRIu64 "..%" PRIu64 "/t%" PRIu64,
		         rd->entries[0].index, rd->entries[0].term,
		         rd->entries[rd->n_entries - 1].index, rd->entries[rd->n_entries - 1].term);
	if (rd->n_committed)
		snprintf(com, sizeof(com), " apply=%" PRIu64 "..%" PRIu64, rd->committed[0].index,
		         rd->committed[rd->n_committed - 1].index);
	sim_trace(c,
	          "n%" PRIu64 " ready #%" PRIu64 " %s t%" PRIu64
	          "%s%s%s msgs=%u held=%u chunks=%u%s "
	          "reads=%u",
	          n->id, rd->id, raft_role_name(raft_role(n->r)), raft_current_term(n->r),
	          rd->hard_state_changed ? " hs" : "", ents, com, rd->n_msgs,
	          rd->n_msgs_after_persist, rd->n_snapshot_chunks,
	          rd->snapshot_install ? " install" : "", rd->n_reads);
}

static void enqueue(struct sim_cluster *c, struct sim_node *n, struct sim_batch *b)
{
	uint64_t delay = 0;
	if (b->hs_changed || b->n_entries || b->n_chunks || b->install) {
		delay = sim_rng_range(&c->rng, c->o.disk_min, c->o.disk_max);
		if (c->o.random_faults && sim_rng_permille(&c->rng, 10))
			delay += sim_rng_range(&c->rng, 20, 120);
	}
	if (c->o.stepped)
		delay = 0; /* durable when the driver says: sim_node_persist() */
	uint64_t t = c->now + delay;
	if (t < n->disk_free_at)
		t = n->disk_free_at;
	n->disk_free_at = t;
	b->done_time = t;
	if (n->pend_tail)
		n->pend_tail->next = b;
	else
		n->pend = b;
	n->pend_tail = b;
	if (!c->o.stepped)
		sim_schedule(c, t > n->stall_until ? t : n->stall_until, SIM_EV_DISK, n->id, n->gen,
		             NULL);
}

bool sim_node_ready_one(struct sim_cluster *c, struct sim_node *n)
{
	if (!n->up || !raft_has_ready(n->r))
		return false;
	struct raft_ready rd;
	SIM_CORE_BEGIN();
	sim_node_now(c, n);
	raft_ready(n->r, &rd);
	SIM_CORE_END();
	trace_ready(c, n, &rd);
	if (c->on_ready)
		c->on_ready(c, n, &rd, c->on_ready_arg);
	if (n->last_rd_id && rd.id != n->last_rd_id + 1)
		sim_violation(c, "ready contract", "n%" PRIu64 ": batch id %" PRIu64 " after %" PRIu64,
		              n->id, rd.id, n->last_rd_id);
	n->last_rd_id = rd.id;
	struct sim_batch *b = calloc(1, sizeof(*b));
	if (!b)
		abort();
	b->id = rd.id;
	b->term = raft_current_term(n->r);
	take_persist(c, n, &rd, b);
	for (unsigned i = 0; i < rd.n_msgs; i++)
		sim_net_send(c, n, &rd.msgs[i], false);
	apply_committed(c, n, &rd);
	for (unsigned i = 0; i < rd.n_reads; i++)
		sim_check_read_answer(c, n, &rd.reads[i]);
	sim_check_serve_reads(c, n);
	sim_lease_serve(c, n);
	if (rd.conf && c->o.verbose)
		sim_trace(c, "n%" PRIu64 " configuration now has %u servers (%u voters)", n->id,
		          rd.conf->n, raft_conf_voters(rd.conf));
	SIM_CORE_BEGIN();
	raft_advance(n->r, &rd);
	SIM_CORE_END();
	if (batch_is_empty(b) && !n->pend) {
		SIM_CORE_BEGIN();
		raft_persisted(n->r, b->id);
		SIM_CORE_END();
		sim_batch_free(b);
	} else {
		enqueue(c, n, b);
	}
	sim_node_maybe_snapshot(c, n, false);
	return true;
}

void sim_node_ready(struct sim_cluster *c, struct sim_node *n)
{
	unsigned guard = 0;
	while (n->up && raft_has_ready(n->r)) {
		if (++guard > 10000) {
			sim_violation(c, "ready contract",
			              "n%" PRIu64
			              ": raft_has_ready() still true after 10000 batches",
			              n->id);
			return;
		}
		sim_node_ready_one(c, n);
	}
}

/* Makes the pending batches due by now durable, in order; returns how many. */
static unsigned disk_done(struct sim_cluster *c, struct sim_node *n)
{
	unsigned k = 0;
	while (n->pend && n->pend->done_time <= c->now && n->up) {
		struct sim_batch *b = n->pend;
		n->pend = b->next;
		if (!n->pend)
			n->pend_tail = NULL;
		char why[256];
		sim_check_truncate(c, n, b);
		if (!sim_disk_apply(&n->disk, b, why, sizeof(why)))
			sim_violation(c, "ready contract", "n%" PRIu64 ": %s", n->id, why);
		sim_lease_marked(c, n, b); /* before the core counts it, and before the acks */
		sim_trace(c, "n%" PRIu64 " batch #%" PRIu64 " durable (disk last %" PRIu64 ")",
		          n->id, b->id, sim_disk_last(&n->disk));
		SIM_CORE_BEGIN();
		raft_persisted(n->r, b->id);
		SIM_CORE_END();
		for (unsigned i = 0; i < b->n_held; i++)
			sim_net_send(c, n, &b->held[i], true);
		sim_batch_free(b);
		k++;
	}
	return k;
}

unsigned sim_node_persist(struct sim_cluster *c, struct sim_node *n)
{
	if (!n->up || c->now < n->stall_until)
		return 0;
	return disk_done(c, n);
}

void sim_node_disk_event(struct sim_cluster *c, struct sim_node *n)
{
	if (!n->up || c->now < n->stall_until)
		return;
	if (disk_done(c, n))
		sim_node_ready(c, n);
}

void sim_node_maybe_snapshot(struct sim_cluster *c, struct sim_node *n, bool force)
{
	/* "never" holds for random runs; a stepped driver's forced snapshot is taken */
	if (!n->up || (n->snap_every == (raft_index)-1 && !(force && c->o.stepped)))
		return;
	raft_index a = n->sm.applied;
	if (!a || a <= n->snap_index || a > n->disk.hs.commit || sim_disk_last(&n->disk) < a)
		return;
	if (!force && a < n->snap_index + n->snap_every)
		return;
	uint8_t *bytes = sim_xmalloc(SIM_SM_BYTES);
	sim_sm_encode(&n->sm, bytes);
	raft_index compact = 0;
	SIM_CORE_BEGIN();
	int rv = raft_snapshot_taken(n->r, a, SIM_SM_BYTES, &compact);
	SIM_CORE_END();
	if (rv == -ENOMEM && sim_oom.permille) {
		free(bytes); /* no snapshot this time; the core is unchanged */
		return;
	}
	if (rv != 0) {
		sim_violation(c, "snapshot_taken",
		              "n%" PRIu64 ": raft_snapshot_taken(%" PRIu64
		              ") = %d (%s) after applying it",
		              n->id, a, rv, raft_strerror(rv));
		free(bytes);
		return;
	}
	sim_trace(c, "n%" PRIu64 " takes snapshot at %" PRIu64 " (compact to %" PRIu64 ")", n->id,
	          a, compact);
	sim_serve_push(n, (struct sim_snap){.index = a, .size = SIM_SM_BYTES, .bytes = bytes});
	n->snap_index = a;
	struct sim_disk *d = &n->disk;
	free(d->snap_bytes);
	d->snap_bytes = sim_memdup(bytes, SIM_SM_BYTES);
	d->has_snap = true;
	d->snap = (struct raft_snapshot_meta){
	        .index = a, .term = n->sm.applied_term, .conf = n->sm.conf, .size = SIM_SM_BYTES};
	if (compact > a)
		sim_violation(c, "snapshot_taken",
		              "n%" PRIu64 ": compact_to %" PRIu64
		              " beyond the snapshot at %" PRIu64,
		              n->id, compact, a);
	else
		sim_disk_compact(d, compact);
}
