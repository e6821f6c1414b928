/* sim_net.c: the simulated network: delay, drop, duplicate, reorder, and partitions. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* The core never holds snapshot bytes it sends (raft.h, "Snapshot chunks"):
 * the sender reads them from the snapshot it reported at snap_index. */
static bool fill_chunk(struct sim_cluster *c, struct sim_node *from, struct raft_message *m)
{
	struct raft_snapshot *s = &m->snapshot;
	if (s->chunk.base || !s->chunk.len)
		return true;
	for (int i = 0; i < SIM_SERVE_MAX; i++) {
		const struct sim_snap *sn = &from->serve[i];
		if (!sn->bytes || sn->index != s->snap_index)
			continue;
		if (sn->size != s->size || s->offset + s->chunk.len > sn->size) {
			sim_violation(c, "snapshot send",
			              "n%" PRIu64 " sends chunk [%" PRIu64
			              ", +%zu) of snapshot %" PRIu64 " of size %" PRIu64
			              " but that snapshot has %" PRIu64 " bytes",
			              from->id, s->offset, s->chunk.len, s->snap_index, s->size,
			              sn->size);
			return false;
		}
		s->chunk.base = sim_memdup(sn->bytes + s->offset, s->chunk.len);
		return true;
	}
	sim_violation(c, "snapshot send",
	              "n%" PRIu64 " sends a chunk of snapshot %" PRIu64
	              " which it never took or installed (it has %" PRIu64 ")",
	              from->id, s->snap_index, from->serve[0].index);
	return false;
}

/* Released entries (raft.h) carry no data in the core's messages: the
 * sender reads it from its disk, by index, and checks the term. Returns an
 * array to free (NULL: none needed), and false on a violation. */
static bool fill_entries(struct sim_cluster *c, struct sim_node *from, struct raft_message *m,
                         struct raft_entry **filled)
{
	struct raft_append *a = &m->append;
	*filled = NULL;
	unsigned i = 0;
	while (i < a->n_entries && !(a->entries[i].data.base == NULL && a->entries[i].data.len))
		i++;
	if (i == a->n_entries)
		return true;
	struct raft_entry *e = sim_xmalloc(a->n_entries * sizeof(*e));
	memcpy(e, a->entries, a->n_entries * sizeof(*e));
	for (; i < a->n_entries; i++) {
		if (e[i].data.base != NULL || e[i].data.len == 0)
			continue;
		const struct raft_entry *d = sim_disk_entry(&from->disk, e[i].index);
		if (d == NULL || d->term != e[i].term || d->data.len != e[i].data.len) {
			sim_violation(c, "released entry",
			              "n%" PRIu64 " sends released entry %" PRIu64 "/t%" PRIu64
			              " that its disk does not hold",
			              from->id, e[i].index, e[i].term);
			free(e);
			return false;
		}
		e[i].data.base = d->data.base;
	}
	a->entries = e;
	*filled = e;
	return true;
}

static void put(struct sim_cluster *c, struct raft_message *m, uint64_t delay)
{
	if (m->type == RAFT_MSG_SNAPSHOT && m->from <= SIM_MAX_NODES && m->to <= SIM_MAX_NODES) {
		unsigned k = ++c->chunks_in_flight[m->from][m->to];
		if (k > c->max_chunks_in_flight)
			c->max_chunks_in_flight = k;
	}
	if (m->type == RAFT_MSG_APPEND && m->append.n_entries && m->from <= SIM_MAX_NODES &&
	    m->to <= SIM_MAX_NODES) {
		unsigned k = ++c->appends_in_flight[m->from][m->to];
		if (k > c->max_appends_in_flight)
			c->max_appends_in_flight = k;
	}
	sim_schedule(c, c->now + delay, SIM_EV_DELIVER, m->to, 0, m);
}

static uint64_t delay(struct sim_cluster *c)
{
	uint64_t d = sim_rng_range(&c->rng, c->o.net_min, c->o.net_max);
	if (c->o.random_faults && !c->in_final && sim_rng_permille(&c->rng, 50))
		d += sim_rng_range(&c->rng, 5, 60); /* overtaken by later messages */
	if (c->o.random_faults && !c->in_final && sim_rng_permille(&c->rng, 3))
		d += sim_rng_range(&c->rng, 200, 2000); /* a straggler from terms ago */
	return d;
}

/* A stepped cluster keeps what is sent, in order, for the driver to deliver. */
static void post(struct sim_cluster *c, struct raft_message *m, bool after_persist)
{
	if (c->n_mail == c->cap_mail) {
		c->cap_mail = c->cap_mail ? c->cap_mail * 2 : 64;
		c->mail = sim_xrealloc(c->mail, c->cap_mail * sizeof(*c->mail));
	}
	c->mail[c->n_mail++] = (struct sim_mail){.m = *m, .after_persist = after_persist};
	free(m); /* the copy's owned parts now belong to the mail */
}

void sim_net_send(struct sim_cluster *c, struct sim_node *from, const struct raft_message *m,
                  bool after_persist)
{
	sim_check_send(c, from, m);
	if (m->to == 0 || m->to > SIM_MAX_NODES || m->to == from->id) {
		if (m->to == from->id || m->to == 0)
			sim_violation(c, "message", "n%" PRIu64 " sends %s to n%" PRIu64, from->id,
			              raft_msg_type_name(m->type), m->to);
		return;
	}
	if (m->from != from->id)
		sim_violation(c, "message", "n%" PRIu64 " sends %s claiming to be from n%" PRIu64,
		              from->id, raft_msg_type_name(m->type), m->from);
	struct raft_message tmp = *m;
	struct raft_entry *filled = NULL;
	if (tmp.type == RAFT_MSG_SNAPSHOT && !fill_chunk(c, from, &tmp))
		return;
	if (tmp.type == RAFT_MSG_APPEND && !fill_entries(c, from, &tmp, &filled))
		return;
	struct raft_message *copy = sim_xmalloc(sizeof(*copy));
	sim_msg_copy(copy, &tmp);
	free(filled);
	if (tmp.type == RAFT_MSG_SNAPSHOT && tmp.snapshot.chunk.base != m->snapshot.chunk.base)
		free(tmp.snapshot.chunk.base);
	c->n_msgs++;
	if (c->o.stepped) {
		post(c, copy, after_persist);
		return;
	}
	if (c->drop_permille && sim_rng_permille(&c->rng, c->drop_permille)) {
		if (c->o.verbose) {
			char d[200];
			sim_msg_describe(copy, d, sizeof(d));
			sim_trace(c, "drop %s", d);
		}
		sim_msg_free(copy);
		free(copy);
		return;
	}
	if (c->dup_permille && sim_rng_permille(&c->rng, c->dup_permille)) {
		struct raft_message *dup = sim_xmalloc(sizeof(*dup));
		sim_msg_copy(dup, copy);
		put(c, dup, delay(c));
	}
	put(c, copy, delay(c));
}

void sim_net_deliver(struct sim_cluster *c, struct raft_message *m)
{
	struct sim_node *n = m->to <= SIM_MAX_NODES ? &c->nodes[m->to] : NULL;
	bool ok = n && n->exists && n->up && m->from <= SIM_MAX_NODES && c->link[m->from][m->to];
	if (m->type == RAFT_MSG_SNAPSHOT && m->from <= SIM_MAX_NODES && m->to <= SIM_MAX_NODES)
		c->chunks_in_flight[m->from][m->to]--;
	if (m->type == RAFT_MSG_APPEND && m->append.n_entries && m->from <= SIM_MAX_NODES &&
	    m->to <= SIM_MAX_NODES)
		c->appends_in_flight[m->from][m->to]--;
	if (c->o.verbose) {
		char d[200];
		sim_msg_describe(m, d, sizeof(d));
		sim_trace(c, "%s %s", ok ? "recv" : "lost", d);
	}
	if (ok) {
		SIM_CORE_BEGIN();
		sim_node_now(c, n);
		int rv = raft_step(n->r, m);
		SIM_CORE_END();
		if (rv != 0 && rv != RAFT_EFAILED)
			sim_trace(c, "n%" PRIu64 " raft_step = %d (%s)", n->id, rv,
			          raft_strerror(rv));
		sim_node_ready(c, n);
	}
	sim_msg_free(m);
	free(m);
}

int sim_mail_deliver(struct sim_cluster *c, size_t i, bool *delivered)
{
	struct raft_message m = c->mail[i].m;
	memmove(&c->mail[i], &c->mail[i + 1], (c->n_mail - i - 1) * sizeof(*c->mail));
	c->n_mail--;
	struct sim_node *n = m.to <= SIM_MAX_NODES ? &c->nodes[m.to] : NULL;
	bool ok = n && n->exists && n->up && m.from <= SIM_MAX_NODES && c->link[m.from][m.to];
	int rv = 0;
	if (ok) {
		SIM_CORE_BEGIN();
		sim_node_now(c, n);
		rv = raft_step(n->r, &m);
		SIM_CORE_END();
	}
	if (delivered)
		*delivered = ok;
	sim_msg_free(&m);
	return rv;
}

void sim_mail_drop(struct sim_cluster *c, size_t i)
{
	sim_msg_free(&c->mail[i].m);
	memmove(&c->mail[i], &c->mail[i + 1], (c->n_mail - i - 1) * sizeof(*c->mail));
	c->n_mail--;
}

void sim_mail_clear(struct sim_cluster *c)
{
	for (size_t i = 0; i < c->n_mail; i++)
		sim_msg_free(&c->mail[i].m);
	c->n_mail = 0;
}

static void set_all(struct sim_cluster *c, bool v)
{
	for (int a = 0; a <= SIM_MAX_NODES; a++)
		for (int b = 0; b <= SIM_MAX_NODES; b++)
			c->link[a][b] = v;
}

void sim_net_heal(struct sim_cluster *c)
{
	set_all(c, true);
	sim_trace(c, "net: heal");
}

void sim_net_isolate(struct sim_cluster *c, raft_id id)
{
	for (int b = 0; b <= SIM_MAX_NODES; b++)
		if ((raft_id)b != id)
			c->link[id][b] = c->link[b][id] = false;
	sim_trace(c, "net: isolate n%" PRIu64, id);
}

void sim_net_cut(struct sim_cluster *c, raft_id from, raft_id to)
{
	c->link[from][to] = false;
	sim_trace(c, "net: cut n%" PRIu64 " -> n%" PRIu64, from, to);
}

void sim_net_split(struct sim_cluster *c, unsigned side_mask)
{
	for (int a = 0; a <= SIM_MAX_NODES; a++)
		for (int b = 0; b <= SIM_MAX_NODES; b++)
			c->link[a][b] = ((side_mask >> a) & 1) == ((side_mask >> b) & 1);
	sim_trace(c, "net: split 0x%x", side_mask);
}

void sim_net_bridge(struct sim_cluster *c, unsigned side_mask, raft_id bridge)
{
	sim_net_split(c, side_mask);
	for (int b = 0; b <= SIM_MAX_NODES; b++)
		c->link[bridge][b] = c->link[b][bridge] = true;
	sim_trace(c, "net: n%" PRIu64 " bridges both sides", bridge);
}
