/* invalidate.c: pending marks: what entries durable here but not applied will change, set before
 * this node acknowledges them, so that reads wait for the apply and caches drop what is stale. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/wire_touch.h"

/* Beyond this many marked inodes, an entry marks "anything" instead: the
 * list is searched at every read that asks, so it must stay short. */
#define PEND_MAX 4096

/* The highest index @s holds for @ino that is not applied yet; 0: none. */
static uint64_t marks_index(const struct node__marks *s, uint64_t ino, uint64_t applied)
{
	uint64_t idx = s->all;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ino == ino && s->v[i].index > idx)
			idx = s->v[i].index;
	return idx > applied ? idx : 0;
}

static void marks_raise(struct node__marks *s, uint64_t ino, uint64_t index)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ino == ino) {
			if (index > s->v[i].index)
				s->v[i].index = index;
			return;
		}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct node__pend *p = cap <= PEND_MAX ? realloc(s->v, cap * sizeof(*p)) : NULL;
		if (p == NULL) {
			/* Out of room: coarser, never wrong. */
			if (index > s->all)
				s->all = index;
			return;
		}
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = (struct node__pend){ino, index};
}

static void marks_prune(struct node__marks *s, uint64_t applied)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].index > applied)
			s->v[k++] = s->v[i];
	s->n = k;
}

static void marks_free(struct node__marks *s)
{
	free(s->v);
	*s = (struct node__marks){0};
}

static uint64_t pending_index(const struct node *n, uint64_t ino)
{
	return marks_index(&n->pend, ino, n->applied);
}

/* May a rename or link durable here, not applied yet, move an existing inode
 * into a name of directory @dir? */
static bool moved_into(const struct node *n, uint64_t dir)
{
	return marks_index(&n->moves, dir, n->applied) != 0;
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
			if (e->index > n->pend.all)
				n->pend.all = e->index;
			all = true;
			continue;
		}
		names = names || t.n_names > 0;
		size_t from = k;
		bool over = false;
		k = collect(n, &t, inos, k, sizeof(inos) / sizeof(inos[0]), &over);
		for (size_t j = from; j < k; j++)
			marks_raise(&n->pend, inos[j], e->index);
		if (t.moves)
			for (unsigned j = 0; j < t.n_names; j++)
				marks_raise(&n->moves, t.names[j].parent, e->index);
		if (over) {
			if (e->index > n->pend.all)
				n->pend.all = e->index;
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
	marks_prune(&n->pend, n->applied);
	marks_prune(&n->moves, n->applied);
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
	marks_free(&n->pend);
	marks_free(&n->moves);
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
