/* barrier.c: linearizable read barriers, batched into shared ReadIndex rounds (dissertation 6.4).
 */
#include <errno.h>
#include <stdlib.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/metrics.h"

int node_read_barrier(struct node *n, node_done_fn cb, void *arg)
{
	if (n->stopping)
		return QFS_ESHUTDOWN;
	/* A command answered at commit (answer.c) may not be applied yet:
	 * no read on this node may see the tree without it, stale or not. */
	if (n->opts.stale_reads && n->applied >= n->answered_upto)
		return 1;
	struct node__barrier *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->cb = cb;
	b->arg = arg;
	b->deadline = uv_now(n->loop) + n->opts.commit_timeout_ms;
	b->floor = n->answered_upto;
	b->next = n->barriers;
	n->barriers = b;
	if (n->opts.stale_reads) {
		/* No round: only the apply of what this node answered. */
		b->have_index = true;
		b->index = b->floor;
		node__kick(n);
		return 0;
	}
	raft_index lease_floor;
	node__raft_now(n);
	if (n->opts.follower_lease_ms && raft_role(n->raft) != RAFT_LEADER &&
	    raft_read_lease(n->raft, &lease_floor)) {
		/* A follower read lease (docs/raft-core.md): no round. Wait for
		 * the grant's commit index and for every entry in the log: each
		 * one acknowledged (or about to be) counts as marked pending
		 * until applied, the whole tree being one mark for now. A write
		 * that completed before this call was acknowledged here first. */
		raft_index last = raft_last_index(n->raft);
		qfs_metric_inc(QFS_M_LEASE_READS);
		b->have_index = true;
		b->index = lease_floor > last ? lease_floor : last;
		node__kick(n);
		return 0;
	}
	/* The round must start after this call: one started before could
	 * miss a write that committed in between. */
	n->barriers_new = true;
	node__kick(n);
	return 0;
}

/* Starts one ReadIndex round for every barrier that waits for one. Even a
 * leader goes through the core: the round, or its lease, confirms it still
 * leads. */
void node__barriers_flush(struct node *n)
{
	if (!n->barriers_new || n->failed)
		return;
	n->barriers_new = false;
	bool any = false;
	for (struct node__barrier *b = n->barriers; b != NULL; b = b->next)
		if (b->ctx == 0 && !b->have_index)
			any = true;
	if (!any)
		return;
	uint64_t ctx = ++n->read_ctx;
	node__raft_now(n); /* a leader holding its lease answers at once */
	if (raft_read_index(n->raft, ctx) != 0)
		return; /* no leader: the next tick or leader change tries again */
	uint64_t now = uv_now(n->loop);
	for (struct node__barrier *b = n->barriers; b != NULL; b = b->next)
		if (b->ctx == 0 && !b->have_index) {
			b->ctx = ctx;
			b->asked_at = now;
		}
	node__kick(n);
}

void node__barriers_on_reads(struct node *n, const struct raft_read_state *rs, unsigned nr)
{
	for (unsigned i = 0; i < nr; i++)
		for (struct node__barrier *b = n->barriers; b != NULL; b = b->next) {
			if (b->ctx != rs[i].ctx || b->have_index)
				continue;
			if (rs[i].status == 0) {
				b->have_index = true;
				b->index = rs[i].index;
			} else {
				/* Leadership was lost: ask again. */
				b->ctx = 0;
				n->barriers_new = true;
			}
		}
}

/* Completes the barriers whose read index this node has applied, and those
 * past their deadline. Callbacks run after the list is consistent, as one
 * may add a barrier or stop the node. */
static void complete(struct node *n, bool timeouts)
{
	uint64_t now = uv_now(n->loop);
	struct node__barrier *ready = NULL, **pp = &n->barriers;
	while (*pp != NULL) {
		struct node__barrier *b = *pp;
		int err = 1;
		/* The read index is at least every commit this node saw (the
		 * leader's commit index when the round ran), so it covers the
		 * answers at commit; the floor says so without relying on it. */
		if (b->have_index && b->index <= n->applied && b->floor <= n->applied)
			err = 0;
		else if (timeouts && now >= b->deadline)
			err = -EIO;
		if (err == 1) {
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		b->result = err;
		b->next = ready;
		ready = b;
	}
	while (ready != NULL) {
		struct node__barrier *b = ready;
		ready = b->next;
		b->cb(b->arg, b->result);
		free(b);
	}
}

void node__barriers_serve(struct node *n)
{
	complete(n, false);
}

bool node_read_lease_valid(struct node *n)
{
	if (n->stopping || n->failed)
		return false;
	node__raft_now(n);
	return raft_read_lease(n->raft, NULL);
}

double node_read_lease_left(struct node *n)
{
	if (n->stopping || n->failed)
		return 0;
	uint64_t now = node__now_us(n);
	raft_set_now(n->raft, now);
	uint64_t end = raft_read_lease_end(n->raft);
	if (end <= now)
		return 0;
	if (end == UINT64_MAX)
		return 3600.0; /* the only voter: no one else writes */
	/* The leader's own lease alone makes nothing cacheable: without
	 * follower leases the core lets a majority of acknowledgements
	 * without the leader's commit a write (follower_lease.c, rule 8 holds
	 * only with them), and its kernel could still answer the old value. */
	if (n->opts.follower_lease_ms == 0)
		return 0;
	double left = (double)(end - now) / 1e6;
	/* A cache on the real clock (the kernel's) must not outlast the
	 * lease on this node's, which the test-only clock rate may run fast. */
	if (n->clock_rate > 1.0)
		left /= n->clock_rate;
	return left;
}

void node__barriers_on_tick(struct node *n)
{
	uint64_t now = uv_now(n->loop);
	for (struct node__barrier *b = n->barriers; b != NULL; b = b->next)
		if (!b->have_index && (b->ctx == 0 || now - b->asked_at >= n->opts.election_ms)) {
			/* No round yet, or its request or answer was lost. */
			b->ctx = 0;
			n->barriers_new = true;
		}
	complete(n, true);
}

void node__barriers_fail_all(struct node *n, int err)
{
	struct node__barrier *b = n->barriers;
	n->barriers = NULL;
	while (b != NULL) {
		struct node__barrier *next = b->next;
		b->cb(b->arg, err);
		free(b);
		b = next;
	}
}
