/* trace_print.c: the trace runner's text for ready batches, logs and node states. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "trace.h"

static const char *entry_type(uint8_t type)
{
	switch (type) {
	case RAFT_ENTRY_NORMAL:
		return "normal";
	case RAFT_ENTRY_NOOP:
		return "noop";
	case RAFT_ENTRY_CONF:
		return "conf";
	default:
		return "?";
	}
}

void trace_describe_entry(const struct raft_entry *e, char *buf, size_t cap)
{
	int k = snprintf(buf, cap, "%" PRIu64 "/t%" PRIu64 " %s", e->index, e->term,
	                 entry_type(e->type));
	if (k < 0 || (size_t)k >= cap || e->type != RAFT_ENTRY_NORMAL)
		return;
	/* the command's bytes, printable ones as they are, at most 24 */
	char data[24 * 4 + 8];
	size_t d = 0;
	const unsigned char *p = e->data.base;
	for (size_t i = 0; i < e->data.len && i < 24; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			data[d++] = (char)p[i];
		else
			d += (size_t)snprintf(data + d, sizeof(data) - d, "\\x%02x", p[i]);
	}
	data[d] = 0;
	snprintf(buf + k, cap - (size_t)k, " \"%s\"%s", data, e->data.len > 24 ? "..." : "");
}

/* Up to four entries one by one, more as a range. */
static void print_entries(struct dd_buf *o, const char *what, const struct raft_entry *e,
                          unsigned n)
{
	if (!n)
		return;
	char d[160];
	if (n > 4) {
		dd_printf(o,
		          "  %s: %" PRIu64 "/t%" PRIu64 "..%" PRIu64 "/t%" PRIu64 " (%u entries)\n",
		          what, e[0].index, e[0].term, e[n - 1].index, e[n - 1].term, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		trace_describe_entry(&e[i], d, sizeof(d));
		dd_printf(o, "  %s: %s\n", what, d);
	}
}

static void print_conf(struct dd_buf *o, const struct raft_conf *conf)
{
	dd_printf(o, "  conf:");
	for (unsigned i = 0; i < conf->n; i++)
		dd_printf(o, " %" PRIu64 "%s", conf->servers[i].id,
		          conf->servers[i].role == RAFT_VOTER ? "" : "(learner)");
	dd_printf(o, "\n");
}

void trace_print_ready(struct sim_cluster *c, struct sim_node *n, const struct raft_ready *rd,
                       void *arg)
{
	(void)c;
	struct trace *t = arg;
	if (t->quiet || !t->out)
		return;
	struct dd_buf *o = t->out;
	char d[256];
	dd_printf(o, "n%" PRIu64 " ready #%" PRIu64 " (%s, t%" PRIu64 ")\n", n->id, rd->id,
	          raft_role_name(raft_role(n->r)), raft_current_term(n->r));
	if (rd->hard_state_changed)
		dd_printf(o, "  hard state: term %" PRIu64 " vote %" PRIu64 " commit %" PRIu64 "\n",
		          rd->hard_state.term, rd->hard_state.vote, rd->hard_state.commit);
	for (unsigned i = 0; i < rd->n_snapshot_chunks; i++)
		dd_printf(o, "  stage: snapshot %" PRIu64 " offset %" PRIu64 " len %zu\n",
		          rd->snapshot_chunks[i].snap_index, rd->snapshot_chunks[i].offset,
		          rd->snapshot_chunks[i].data.len);
	if (rd->snapshot_install)
		dd_printf(o, "  install: snapshot %" PRIu64 "/t%" PRIu64 " size %" PRIu64 "%s\n",
		          rd->snapshot_install->index, rd->snapshot_install->term,
		          rd->snapshot_install->size, rd->snapshot_keep_log ? " keep log" : "");
	print_entries(o, "entry", rd->entries, rd->n_entries);
	for (unsigned i = 0; i < rd->n_msgs; i++) {
		sim_msg_describe(&rd->msgs[i], d, sizeof(d));
		dd_printf(o, "  send: %s\n", d);
	}
	for (unsigned i = 0; i < rd->n_msgs_after_persist; i++) {
		sim_msg_describe(&rd->msgs_after_persist[i], d, sizeof(d));
		dd_printf(o, "  after persist: %s\n", d);
	}
	print_entries(o, "apply", rd->committed, rd->n_committed);
	for (unsigned i = 0; i < rd->n_reads; i++)
		dd_printf(o, "  read: ctx %" PRIu64 " index %" PRIu64 " %s\n", rd->reads[i].ctx,
		          rd->reads[i].index,
		          rd->reads[i].status ? raft_strerror(rd->reads[i].status) : "ok");
	if (rd->conf)
		print_conf(o, rd->conf);
}

void trace_print_status(struct trace *t, raft_id id)
{
	struct sim_node *n = &t->c->nodes[id];
	if (!n->exists)
		return;
	if (!n->up) {
		dd_printf(t->out,
		          "n%" PRIu64 ": down (disk: term %" PRIu64 " vote %" PRIu64
		          " commit %" PRIu64 " last %" PRIu64 ")\n",
		          id, n->disk.hs.term, n->disk.hs.vote, n->disk.hs.commit,
		          sim_disk_last(&n->disk));
		return;
	}
	struct raft *r = n->r;
	dd_printf(t->out,
	          "n%" PRIu64 ": %s t%" PRIu64 " leader %" PRIu64 " commit %" PRIu64
	          " last %" PRIu64 " persisted %" PRIu64 " applied %" PRIu64 "%s\n",
	          id, raft_role_name(raft_role(r)), raft_current_term(r), raft_leader(r),
	          raft_commit_index(r), raft_last_index(r), raft_persisted_index(r), n->sm.applied,
	          n->pend ? " (disk busy)" : "");
}

void trace_print_log(struct trace *t, raft_id id)
{
	struct raft *r = sim_core(t->c, id);
	if (!r) {
		dd_printf(t->out, "n%" PRIu64 ": down\n", id);
		return;
	}
	/* the terms on one line: the shape of the paper's figures */
	dd_printf(t->out, "n%" PRIu64 " log %" PRIu64 "..%" PRIu64 ":", id, raft_first_index(r),
	          raft_last_index(r));
	for (raft_index i = raft_first_index(r); i <= raft_last_index(r); i++) {
		const struct raft_entry *e = raft_entry_at(r, i);
		dd_printf(t->out, " %" PRIu64, e ? e->term : 0);
	}
	dd_printf(t->out, "\n");
}

void trace_print_progress(struct trace *t, raft_id id)
{
	struct raft *r = sim_core(t->c, id);
	if (!r || raft_role(r) != RAFT_LEADER) {
		dd_printf(t->out, "n%" PRIu64 ": not a leader\n", id);
		return;
	}
	static const char *const state[] = {"probe", "replicate", "snapshot"};
	const struct raft_conf *conf = raft_configuration(r);
	for (unsigned i = 0; i < conf->n; i++) {
		raft_id p = conf->servers[i].id;
		struct raft_progress_info pi;
		if (p == id || raft_progress(r, p, &pi) != 0)
			continue;
		dd_printf(t->out,
		          "n%" PRIu64 " -> n%" PRIu64 ": match %" PRIu64 " next %" PRIu64 " %s%s\n",
		          id, p, pi.match, pi.next, pi.state < 3 ? state[pi.state] : "?",
		          pi.role == RAFT_VOTER ? "" : " (learner)");
	}
}
