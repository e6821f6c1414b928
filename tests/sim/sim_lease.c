/* sim_lease.c: the model of each node's local read answer under a read lease, and its invariant. */

/*
 * What a node answers from its own tree while raft_read_lease() holds
 * (docs/raft-core.md, "Follower read leases"): a read of key k waits until
 * the node has applied the lease's floor and every entry it has marked
 * that writes k. A node marks an entry when it persists it, before the
 * acknowledgement leaves (the ready contract's "messages after persist":
 * here, every entry durable on its disk and not yet applied). The invariant
 * (LEASES.md, "What it must guarantee"): no node answers a read older than
 * a write that completed, anywhere, before the read began. A write is
 * complete once any node applied it, since from then on a read there sees
 * it; that also gives the second half of the guarantee (no read returns a
 * value a later read does not).
 *
 * The kernel's cache is modelled too (docs/daemon.md, "The kernel's
 * caches"): an answer given under the lease is kept, and a later read of
 * the key is answered from it at once, without the floor or the marks,
 * until an entry that writes the key is marked on this node (durable here:
 * the daemon drops the kernel's copy before it acknowledges the entry or
 * counts it persisted). Every node does it, the leader too, whose own
 * count of an entry must wait for the drop as a follower's ack does.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

unsigned sim_lease_key(const struct raft_entry *e)
{
	if (e->type != RAFT_ENTRY_NORMAL)
		return SIM_LEASE_KEYS;
	return (unsigned)(sim_entry_hash(e) % SIM_LEASE_KEYS);
}

void sim_lease_applied(struct sim_cluster *c, const struct raft_entry *e)
{
	unsigned k = sim_lease_key(e);
	if (k < SIM_LEASE_KEYS && e->index > c->lease_done[k])
		c->lease_done[k] = e->index;
}

/* An entry @n marked (durable, not applied) writes @key. */
static bool pending(struct sim_cluster *c, struct sim_node *n, unsigned key)
{
	if (c->o.sim_bug == SIM_BUG_ACK_BEFORE_MARK)
		return false; /* the mistake: the ack left before anything was marked */
	const struct sim_disk *d = &n->disk;
	for (size_t i = 0; i < d->n; i++)
		if (d->log[i].index > n->sm.applied && sim_lease_key(&d->log[i]) == key)
			return true;
	return false;
}

void sim_lease_marked(struct sim_cluster *c, struct sim_node *n, const struct sim_batch *b)
{
	if (c->o.sim_bug == SIM_BUG_ACK_BEFORE_MARK)
		return; /* the mistake: nothing is marked, nothing dropped */
	if (b->install) {
		memset(n->lcached, 0, sizeof(n->lcached));
		return;
	}
	for (unsigned i = 0; i < b->n_entries; i++) {
		unsigned k = sim_lease_key(&b->entries[i]);
		if (k < SIM_LEASE_KEYS)
			n->lcached[k] = false;
	}
}

static void check_answer(struct sim_cluster *c, struct sim_node *n, const struct sim_lread *rd,
                         raft_index at, const char *from)
{
	if (at < rd->done)
		sim_violation(c, "lease read",
		              "n%" PRIu64 " answered a read of key %u (begun at step %" PRIu64
		              ") from index %" PRIu64 "%s, but a write to it at %" PRIu64
		              " was complete before the read began",
		              n->id, rd->key, rd->step, at, from, rd->done);
	c->n_lease_reads_ok++;
}

/* Answers @rd now if it may be; false if it must wait. */
static bool try_answer(struct sim_cluster *c, struct sim_node *n, const struct sim_lread *rd)
{
	if (n->lcached[rd->key]) {
		check_answer(c, n, rd, n->lcache[rd->key], " (the kernel's cache)");
		return true;
	}
	if (n->sm.applied < rd->floor || pending(c, n, rd->key))
		return false;
	check_answer(c, n, rd, n->sm.applied, "");
	n->lcache[rd->key] = n->sm.applied;
	n->lcached[rd->key] = true;
	return true;
}

bool sim_lease_read(struct sim_cluster *c, raft_id id, unsigned key)
{
	struct sim_node *n = &c->nodes[id];
	if (!n->up || !n->r)
		return false;
	raft_index floor = 0;
	SIM_CORE_BEGIN();
	sim_node_now(c, n);
	bool ok = raft_read_lease(n->r, &floor);
	SIM_CORE_END();
	if (!ok) {
		c->n_lease_reads_refused++;
		return false;
	}
	struct sim_lread rd = {.key = key % SIM_LEASE_KEYS, .floor = floor, .step = c->step};
	rd.done = c->lease_done[rd.key];
	sim_trace(c, "n%" PRIu64 " lease read of key %u (floor %" PRIu64 ", complete %" PRIu64 ")",
	          id, rd.key, floor, rd.done);
	if (try_answer(c, n, &rd))
		return true;
	if (n->n_lreads == n->cap_lreads) {
		n->cap_lreads = n->cap_lreads ? n->cap_lreads * 2 : 8;
		n->lreads = sim_xrealloc(n->lreads, n->cap_lreads * sizeof(*n->lreads));
	}
	n->lreads[n->n_lreads++] = rd;
	return true;
}

void sim_lease_serve(struct sim_cluster *c, struct sim_node *n)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n->n_lreads; i++)
		if (!try_answer(c, n, &n->lreads[i]))
			n->lreads[k++] = n->lreads[i];
	n->n_lreads = k;
}
