/* invalidate.c: pending marks: what entries durable here but not applied will change, set before
 * this node acknowledges them, so that reads wait for the apply and caches drop what is stale. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/wire_cmd.h"
#include "quorumfs/wire_touch.h"

/* Beyond this many marked inodes, an entry marks "anything" instead: the
 * list is searched at every read that asks, so it must stay short. */
#define PEND_MAX 4096

static uint64_t pending_index(const struct node *n, uint64_t ino)
{
	uint64_t idx = n->pend_all;
	for (size_t i = 0; i < n->n_pend; i++)
		if (n->pend[i].ino == ino && n->pend[i].index > idx)
			idx = n->pend[i].index;
	return idx > n->applied ? idx : 0;
}

static void mark(struct node *n, uint64_t ino, uint64_t index)
{
	for (size_t i = 0; i < n->n_pend; i++)
		if (n->pend[i].ino == ino) {
			if (index > n->pend[i].index)
				n->pend[i].index = index;
			return;
		}
	if (n->n_pend == n->cap_pend) {
		size_t cap = n->cap_pend ? n->cap_pend * 2 : 64;
		struct node__pend *p = cap <= PEND_MAX ? realloc(n->pend, cap * sizeof(*p)) : NULL;
		if (p == NULL) {
			/* Out of room: coarser, never wrong. */
			if (index > n->pend_all)
				n->pend_all = index;
			return;
		}
		n->pend = p;
		n->cap_pend = cap;
	}
	n->pend[n->n_pend++] = (struct node__pend){ino, index};
}

/* May a rename or link durable here, not applied yet, move an existing inode
 * into a name of directory @dir? */
static bool moved_into(const struct node *n, uint64_t dir)
{
	if (n->moves_all > n->applied)
		return true;
	for (size_t i = 0; i < n->n_moves; i++)
		if (n->moves[i].ino == dir && n->moves[i].index > n->applied)
			return true;
	return false;
}

static void note_move(struct node *n, uint64_t dir, uint64_t index)
{
	for (size_t i = 0; i < n->n_moves; i++)
		if (n->moves[i].ino == dir) {
			if (index > n->moves[i].index)
				n->moves[i].index = index;
			return;
		}
	if (n->n_moves == n->cap_moves) {
		size_t cap = n->cap_moves ? n->cap_moves * 2 : 16;
		struct node__pend *p = cap <= PEND_MAX ? realloc(n->moves, cap * sizeof(*p)) : NULL;
		if (p == NULL) {
			if (index > n->moves_all)
				n->moves_all = index; /* coarser, never wrong */
			return;
		}
		n->moves = p;
		n->cap_moves = cap;
	}
	n->moves[n->n_moves++] = (struct node__pend){dir, index};
}

/* The inodes one touch set names, added to @out (at most @cap; beyond it,
 * @*all). A name that drops or changes its inode names that inode too,
 * found in the tree as it is now: the entry is not applied yet, so the name
 * points at what it will change, unless an earlier rename or link, not
 * applied yet either, may move an inode into that directory (x renamed to
 * y, then y unlinked: y finds nothing, and the file that was x is what the
 * unlink removes). Then the tree cannot say which inode this entry
 * changes, and it marks everything (@*all). A create that is not applied
 * yet makes a new inode, which no one here can hold or have cached. */
static size_t collect(struct node *n, const struct wire_touch *t, uint64_t *out, size_t k,
                      size_t cap, bool *all)
{
	for (unsigned i = 0; i < t->n_inos; i++) {
		if (k < cap)
			out[k++] = t->inos[i].ino;
		else
			*all = true;
	}
	for (unsigned i = 0; i < t->n_names; i++) {
		const struct wire_touch_name *nm = &t->names[i];
		struct fsm_attr a;
		if (!(nm->flags & (WIRE_TOUCH_DROP | WIRE_TOUCH_CHILD | WIRE_TOUCH_CHILD_DATA)))
			continue;
		if (moved_into(n, nm->parent)) {
			*all = true;
			continue;
		}
		if (nm->name_len > FSM_NAME_MAX ||
		    node_lookup(n, nm->parent, nm->name, nm->name_len, &a) != 0)
			continue;
		if (k < cap)
			out[k++] = a.ino;
		else
			*all = true;
	}
	return k;
}

/* Batch @id is durable and what it touches is dropped: the core counts it
 * (on a leader, its own vote for the commit: follower_lease.c, rule 8), and
 * its messages go. */
static void release(struct node *n, uint64_t id, struct node__msg *msgs, unsigned count)
{
	if (id != 0)
		raft_persisted(n->raft, id);
	for (unsigned i = 0; i < count; i++)
		node__send_encoded(n, &msgs[i]);
	free(msgs);
}

/* Count batch @id persisted and send @msgs now, or queue both behind what
 * is held. Takes @msgs. */
static void release_or_hold(struct node *n, uint64_t id, struct node__msg *msgs, unsigned count,
                            uint64_t ticket)
{
	if (ticket == 0 && n->held_head == NULL) {
		release(n, id, msgs, count);
		return;
	}
	struct node__held *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		/* Cannot hold: dropping the messages is what Raft tolerates
		 * (the leader sends again); sending them early is not. */
		for (unsigned i = 0; i < count; i++)
			net_frame_free(msgs[i].frame);
		free(msgs);
		/* The core still counts the batch, once everything before it
		 * and its own ticket are done (node_touch_done). */
		if (id > n->orphan_id) {
			n->orphan_id = id;
			n->orphan_ticket = ticket > n->orphan_ticket ? ticket : n->orphan_ticket;
		}
		return;
	}
	h->ticket = ticket;
	h->persisted_id = id;
	h->msgs = msgs;
	h->n = count;
	if (n->held_tail != NULL)
		n->held_tail->next = h;
	else
		n->held_head = h;
	n->held_tail = h;
}

void node__pending_on_persisted(struct node *n, struct node__batch *b)
{
	uint64_t inos[64];
	size_t k = 0;
	bool all = b->install; /* a snapshot replaced the tree */
	bool names = false;
	uint64_t ticket = 0;

	for (unsigned i = 0; i < b->n_entries; i++) {
		const struct store_entry *e = &b->entries[i];
		struct wire_touch t;
		if (e->type != RAFT_ENTRY_NORMAL || e->index <= n->applied)
			continue;
		wire_touch_bytes(e->data, e->len, &t);
		if (t.all) {
			if (e->index > n->pend_all)
				n->pend_all = e->index;
			all = true;
			continue;
		}
		names = names || t.n_names > 0;
		size_t from = k;
		bool over = false;
		k = collect(n, &t, inos, k, sizeof(inos) / sizeof(inos[0]), &over);
		for (size_t j = from; j < k; j++)
			mark(n, inos[j], e->index);
		int type = wire_cmd_peek_type(e->data, e->len);
		if (type == WIRE_CMD_RENAME || type == WIRE_CMD_LINK)
			for (unsigned j = 0; j < t.n_names; j++)
				note_move(n, t.names[j].parent, e->index);
		if (over) {
			if (e->index > n->pend_all)
				n->pend_all = e->index;
			all = true;
		}
	}
	if (n->touch_fn != NULL && (k > 0 || all))
		ticket = n->touch_fn(n->touch_arg, inos, k, all, names);
	struct node__msg *msgs = b->held;
	unsigned count = b->n_held;
	b->held = NULL;
	b->n_held = 0;
	release_or_hold(n, b->id, msgs, count, ticket);
}

void node_touch_done(struct node *n, uint64_t ticket)
{
	bool counted = false;
	while (n->held_head != NULL && n->held_head->ticket <= ticket) {
		struct node__held *h = n->held_head;
		n->held_head = h->next;
		if (n->held_head == NULL)
			n->held_tail = NULL;
		counted = counted || h->persisted_id != 0;
		release(n, h->persisted_id, h->msgs, h->n);
		free(h);
	}
	if (n->orphan_id != 0 && n->orphan_ticket <= ticket &&
	    (n->held_head == NULL || n->held_head->persisted_id > n->orphan_id)) {
		raft_persisted(n->raft, n->orphan_id);
		n->orphan_id = n->orphan_ticket = 0;
		counted = true;
	}
	/* What the core may do now that it counts them (commit, apply). */
	if (counted && !n->stopping)
		node__drive(n);
}

void node_on_touch(struct node *n, node_touch_fn fn, void *arg)
{
	n->touch_fn = fn;
	n->touch_arg = arg;
	if (fn == NULL)
		node_touch_done(n, UINT64_MAX);
}

void node__pending_prune(struct node *n)
{
	size_t k = 0;
	for (size_t i = 0; i < n->n_pend; i++)
		if (n->pend[i].index > n->applied)
			n->pend[k++] = n->pend[i];
	n->n_pend = k;
	k = 0;
	for (size_t i = 0; i < n->n_moves; i++)
		if (n->moves[i].index > n->applied)
			n->moves[k++] = n->moves[i];
	n->n_moves = k;
}

void node__pending_free(struct node *n)
{
	while (n->held_head != NULL) {
		struct node__held *h = n->held_head;
		n->held_head = h->next;
		for (unsigned i = 0; i < h->n; i++)
			net_frame_free(h->msgs[i].frame);
		free(h->msgs);
		free(h);
	}
	n->held_tail = NULL;
	free(n->pend);
	n->pend = NULL;
	n->n_pend = n->cap_pend = 0;
	free(n->moves);
	n->moves = NULL;
	n->n_moves = n->cap_moves = 0;
}

int node_wait_pending(struct node *n, uint64_t ino, node_done_fn cb, void *arg)
{
	if (n->stopping)
		return QFS_ESHUTDOWN;
	uint64_t idx = pending_index(n, ino);
	if (idx == 0)
		return 1;
	/* A barrier whose index is known: barrier.c completes it once
	 * applied reaches it, or fails it at the commit timeout. */
	struct node__barrier *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->cb = cb;
	b->arg = arg;
	b->deadline = uv_now(n->loop) + n->opts.commit_timeout_ms;
	b->have_index = true;
	b->index = idx;
	b->next = n->barriers;
	n->barriers = b;
	node__kick(n);
	return 0;
}
