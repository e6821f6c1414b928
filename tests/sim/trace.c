/* trace.c: scenario tests as trace files: a command language over the stepped simulator. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

/*
 * Each command of a trace file (tests/sim/testdata, one .txt file each, in
 * the format of datadriven.h) drives a cluster of the simulator in its
 * stepped mode, where nothing happens by itself: a tick, a delivery, a disk
 * write happens when a command says. Every ready batch a node takes is
 * printed (hard state, entries, messages sent at once and after persist,
 * entries to apply, reads answered), and so is every delivered or lost
 * message. After each command the simulator's invariants are checked; a
 * violation fails the run whatever the file expects. docs/testing.md lists
 * the commands.
 */

#define MAX_ARGS 16

struct args {
	int n;
	char *v[MAX_ARGS];
};

static void split(char *s, struct args *a)
{
	a->n = 0;
	for (char *tok = strtok(s, " \t"); tok && a->n < MAX_ARGS; tok = strtok(NULL, " \t"))
		a->v[a->n++] = tok;
}

/* The value of key=value among the arguments from @from on, or NULL. */
static const char *kv(const struct args *a, int from, const char *key)
{
	size_t k = strlen(key);
	for (int i = from; i < a->n; i++)
		if (strncmp(a->v[i], key, k) == 0 && a->v[i][k] == '=')
			return a->v[i] + k + 1;
	return NULL;
}

static bool flag(const struct args *a, int from, const char *word)
{
	for (int i = from; i < a->n; i++)
		if (strcmp(a->v[i], word) == 0)
			return true;
	return false;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static uint64_t kv_u64(const struct args *a, int from, const char *key, uint64_t dflt, bool *ok)
{
	const char *s = kv(a, from, key);
	uint64_t v = dflt;
	if (s && !parse_u64(s, &v))
		*ok = false;
	return v;
}

static bool kv_bool(const struct args *a, int from, const char *key, bool dflt, bool *ok)
{
	const char *s = kv(a, from, key);
	if (!s)
		return dflt;
	if (strcmp(s, "true") == 0)
		return true;
	if (strcmp(s, "false") == 0)
		return false;
	*ok = false;
	return dflt;
}

static int bad(struct trace *t, const char *fmt, const char *what)
{
	dd_printf(t->out, fmt, what);
	dd_printf(t->out, "\n");
	return -1;
}

/* A node id that exists. */
static bool node_arg(struct trace *t, const char *s, raft_id *id)
{
	uint64_t v;
	if (!t->c || !parse_u64(s, &v) || v == 0 || v > SIM_MAX_NODES || !t->c->nodes[v].exists)
		return false;
	*id = v;
	return true;
}

/* "1,2,3" or "all": a bit set of node ids. */
static bool nodes_arg(struct trace *t, const char *s, unsigned *mask)
{
	*mask = 0;
	if (!t->c)
		return false;
	if (strcmp(s, "all") == 0) {
		for (raft_id id = 1; id <= t->c->n_ids; id++)
			if (t->c->nodes[id].exists)
				*mask |= 1u << id;
		return true;
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		raft_id id;
		if (!node_arg(t, tok, &id))
			return false;
		*mask |= 1u << id;
	}
	return *mask != 0;
}

/* ------------------------------------------------------------------------ */
/* The cluster                                                                */

/* The first add-nodes or restore creates the cluster with its options. */
static int make_cluster(struct trace *t, const struct args *a, int from)
{
	if (t->c)
		return 0;
	bool ok = true;
	struct sim_opts o;
	sim_opts_default(&o);
	o.stepped = true;
	o.stop_on_violation = false;
	o.election_ticks = (unsigned)kv_u64(a, from, "election", 10, &ok);
	o.heartbeat_ticks = (unsigned)kv_u64(a, from, "heartbeat", 1, &ok);
	o.no_pre_vote = !kv_bool(a, from, "prevote", true, &ok);
	o.no_check_quorum = !kv_bool(a, from, "checkquorum", true, &ok);
	o.snapshot_chunk_bytes = kv_u64(a, from, "chunk", 32, &ok);
	o.trailing_entries = kv_u64(a, from, "trailing", 4, &ok);
	o.max_msg_bytes = kv_u64(a, from, "max-msg", 256, &ok);
	o.max_inflight_msgs = (unsigned)kv_u64(a, from, "inflight", 4, &ok);
	o.promote_lag = kv_u64(a, from, "promote-lag", 0, &ok);
	o.snap_every = kv_u64(a, from, "snap-every", (raft_index)-1, &ok);
	/* lease=P: the leader's read lease lasts P/1000 of election - 1 ticks,
	 * each node's clock being the ticks it counted (sim_node_now) */
	uint64_t lease = kv_u64(a, from, "lease", 0, &ok);
	o.lease_permille = lease ? (unsigned)lease : ~0u;
	uint64_t seed = kv_u64(a, from, "seed", 1, &ok);
	if (!ok)
		return bad(t, "%s: a malformed option", a->v[0]);
	t->c = sim_cluster_new(&o, seed);
	t->c->on_ready = trace_print_ready;
	t->c->on_ready_arg = t;
	return 0;
}

static int cmd_add_nodes(struct trace *t, struct args *a)
{
	uint64_t k;
	if (a->n < 2 || !parse_u64(a->v[1], &k) || k == 0 || k > SIM_MAX_NODES)
		return bad(t, "usage: add-nodes N [option=value ...]%s", "");
	if (make_cluster(t, a, 2) != 0)
		return -1;
	struct sim_cluster *c = t->c;
	if (c->n_ids + k > SIM_MAX_NODES)
		return bad(t, "add-nodes: more than %s nodes", "7");
	if (c->n_ids == 0) {
		/* the bootstrap batches are the same in every file: not printed */
		t->quiet = true;
		sim_cluster_bootstrap(c, (unsigned)k);
		t->quiet = false;
		dd_printf(t->out, "n1..n%" PRIu64 " bootstrapped: voters 1..%" PRIu64 "\n", k, k);
		return 0;
	}
	for (uint64_t i = 0; i < k; i++) {
		raft_id id = c->n_ids + 1;
		sim_node_start_empty(c, id);
		dd_printf(t->out, "n%" PRIu64 " started empty (add it with change)\n", id);
	}
	return 0;
}

/* restore NODE voters=N term=T vote=V commit=C log=1,1,4: a node from a
 * durable state, its log given by the terms of entries 1..n (entry 1 is
 * the configuration of voters 1..N). */
static int cmd_restore(struct trace *t, struct args *a)
{
	uint64_t id;
	if (a->n < 2 || !parse_u64(a->v[1], &id) || id == 0 || id > SIM_MAX_NODES)
		return bad(t, "usage: restore NODE voters=N term=T vote=V commit=C log=T,T,...%s",
		           "");
	if (make_cluster(t, a, 2) != 0)
		return -1;
	bool ok = true;
	unsigned voters = (unsigned)kv_u64(a, 2, "voters", 3, &ok);
	struct raft_hard_state hs = {.term = kv_u64(a, 2, "term", 1, &ok),
	                             .vote = kv_u64(a, 2, "vote", 0, &ok),
	                             .commit = kv_u64(a, 2, "commit", 1, &ok)};
	const char *log = kv(a, 2, "log");
	raft_term terms[256];
	unsigned n = 0;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", log ? log : "1");
	for (char *save, *tok = strtok_r(buf, ",", &save); tok && n < 256;
	     tok = strtok_r(NULL, ",", &save))
		ok = ok && parse_u64(tok, &terms[n++]);
	if (!ok || !voters || voters > SIM_MAX_NODES || t->c->nodes[id].exists)
		return bad(t, "restore: malformed, or node %s exists", a->v[1]);
	struct raft_conf conf;
	sim_conf_voters(&conf, voters);
	struct raft_entry *e = sim_log_from_terms(&conf, terms, n, "trace");
	t->quiet = true;
	sim_node_start_restored(t->c, id, &hs, e, n);
	t->quiet = false;
	sim_entries_free(e, n);
	dd_printf(t->out,
	          "n%" PRIu64 " restored: term %" PRIu64 " vote %" PRIu64 " commit %" PRIu64
	          ", log 1..%u\n",
	          id, hs.term, hs.vote, hs.commit, n);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Ready, persist, deliver                                                    */

static void persist(struct trace *t, struct sim_node *n, bool say)
{
	uint64_t first = n->pend ? n->pend->id : 0;
	unsigned k = sim_node_persist(t->c, n);
	if (say && k)
		dd_printf(t->out, "n%" PRIu64 " persisted #%" PRIu64 "%s\n", n->id, first,
		          k > 1 ? " and later" : "");
	else if (n->pend && n->pend->next == NULL && !k && say)
		dd_printf(t->out, "n%" PRIu64 " disk stalled: #%" PRIu64 " pending\n", n->id,
		          n->pend->id);
}

/* Takes every ready batch of @n, each made durable at once unless its disk
 * stalls. Returns whether there was one. */
static bool handle_ready(struct trace *t, struct sim_node *n)
{
	bool any = false;
	for (unsigned guard = 0; guard < 1000 && sim_node_ready_one(t->c, n); guard++) {
		any = true;
		persist(t, n, false);
		if (n->pend && !t->quiet)
			dd_printf(t->out, "  (disk stalled: not yet durable)\n");
		sim_check_step(t->c);
	}
	return any;
}

/* Delivers what is in the mailbox now (to @mask only), in send order. */
static bool deliver(struct trace *t, unsigned mask)
{
	struct sim_cluster *c = t->c;
	size_t n = c->n_mail;
	bool any = false;
	for (size_t i = 0, k = 0; k < n; k++) {
		struct sim_mail *m = &c->mail[i];
		if (!((mask >> m->m.to) & 1)) {
			i++;
			continue;
		}
		char d[256];
		sim_msg_describe(&m->m, d, sizeof(d));
		bool ok;
		int rv = sim_mail_deliver(c, i, &ok);
		if (!t->quiet) {
			dd_printf(t->out, "%s %s", ok ? "deliver" : "lost", d);
			if (rv)
				dd_printf(t->out, " (%s)", raft_strerror(rv));
			dd_printf(t->out, "\n");
		}
		any = true;
		sim_check_step(c);
	}
	return any;
}

static int cmd_stabilize(struct trace *t, struct args *a)
{
	bool quiet = flag(a, 1, "silent");
	t->quiet = quiet;
	for (unsigned round = 0; round < 1000; round++) {
		bool any = false;
		for (raft_id id = 1; id <= t->c->n_ids; id++)
			any |= handle_ready(t, &t->c->nodes[id]);
		any |= deliver(t, ~0u);
		if (!any) {
			t->quiet = false;
			return 0;
		}
	}
	t->quiet = false;
	return bad(t, "stabilize: still busy after %s rounds", "1000");
}

static int cmd_process_ready(struct trace *t, struct args *a)
{
	unsigned mask;
	if (a->n < 2 || !nodes_arg(t, a->v[1], &mask))
		return bad(t, "usage: process-ready NODES%s", "");
	for (raft_id id = 1; id <= t->c->n_ids; id++)
		if ((mask >> id) & 1)
			handle_ready(t, &t->c->nodes[id]);
	return 0;
}

static int cmd_deliver(struct trace *t, struct args *a)
{
	unsigned mask = ~0u;
	if (a->n >= 2 && !nodes_arg(t, a->v[1], &mask))
		return bad(t, "usage: deliver [NODES]%s", "");
	deliver(t, mask);
	return 0;
}

/* drop [from=F] [to=T] [type=append]: loses queued messages. */
static int cmd_drop(struct trace *t, struct args *a)
{
	bool ok = true;
	uint64_t from = kv_u64(a, 1, "from", 0, &ok), to = kv_u64(a, 1, "to", 0, &ok);
	const char *type = kv(a, 1, "type");
	bool first = flag(a, 1, "first");
	if (!ok)
		return bad(t, "usage: drop [from=F] [to=T] [type=NAME] [first]%s", "");
	struct sim_cluster *c = t->c;
	for (size_t i = 0; i < c->n_mail;) {
		const struct raft_message *m = &c->mail[i].m;
		if ((from && m->from != from) || (to && m->to != to) ||
		    (type && strcmp(type, raft_msg_type_name(m->type)) != 0)) {
			i++;
			continue;
		}
		char d[256];
		sim_msg_describe(m, d, sizeof(d));
		dd_printf(t->out, "dropped %s\n", d);
		sim_mail_drop(c, i);
		if (first)
			break;
	}
	return 0;
}

static int cmd_msgs(struct trace *t, struct args *a)
{
	(void)a;
	for (size_t i = 0; i < t->c->n_mail; i++) {
		char d[256];
		sim_msg_describe(&t->c->mail[i].m, d, sizeof(d));
		dd_printf(t->out, "%s%s\n", d,
		          t->c->mail[i].after_persist ? " (after persist)" : "");
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Time and the disk                                                          */

/* tick NODES [N] [stabilize [silent]]: N ticks of each; with stabilize, the
 * cluster stabilizes after each round of ticks. */
static int cmd_tick(struct trace *t, struct args *a)
{
	unsigned mask;
	uint64_t k = 1;
	if (a->n < 2 || !nodes_arg(t, a->v[1], &mask) ||
	    (a->n >= 3 && strcmp(a->v[2], "stabilize") != 0 && !parse_u64(a->v[2], &k)))
		return bad(t, "usage: tick NODES [N] [stabilize [silent]]%s", "");
	bool stab = flag(a, 2, "stabilize");
	for (uint64_t i = 0; i < k; i++) {
		for (raft_id id = 1; id <= t->c->n_ids; id++) {
			struct sim_node *n = &t->c->nodes[id];
			if (((mask >> id) & 1) && n->up) {
				SIM_CORE_BEGIN();
				n->ticks++;
				raft_tick(n->r);
				SIM_CORE_END();
			}
		}
		sim_check_step(t->c);
		if (stab && cmd_stabilize(t, a) != 0)
			return -1;
	}
	return 0;
}

/* campaign NODE: ticks NODE until it campaigns (its election timeout). */
static int cmd_campaign(struct trace *t, struct args *a)
{
	raft_id id;
	if (a->n != 2 || !node_arg(t, a->v[1], &id) || !t->c->nodes[id].up)
		return bad(t, "usage: campaign NODE (up)%s", "");
	struct raft *r = t->c->nodes[id].r;
	unsigned k = 0;
	while (raft_role(r) == RAFT_FOLLOWER && k < 1000) {
		t->c->nodes[id].ticks++;
		raft_tick(r);
		k++;
	}
	sim_check_step(t->c);
	dd_printf(t->out, "n%" PRIu64 " is %s in t%" PRIu64 " after %u ticks\n", id,
	          raft_role_name(raft_role(r)), raft_current_term(r), k);
	return 0;
}

static int cmd_persist(struct trace *t, struct args *a)
{
	unsigned mask;
	if (a->n != 2 || !nodes_arg(t, a->v[1], &mask))
		return bad(t, "usage: persist NODES%s", "");
	for (raft_id id = 1; id <= t->c->n_ids; id++)
		if ((mask >> id) & 1)
			persist(t, &t->c->nodes[id], true);
	sim_check_step(t->c);
	return 0;
}

/* stall NODE / unstall NODE: its disk completes nothing / catches up. */
static int cmd_stall(struct trace *t, struct args *a, bool on)
{
	raft_id id;
	if (a->n != 2 || !node_arg(t, a->v[1], &id) || !t->c->nodes[id].up)
		return bad(t, "usage: stall|unstall NODE (up)%s", "");
	struct sim_node *n = &t->c->nodes[id];
	n->stall_until = on ? UINT64_MAX : 0;
	dd_printf(t->out, "n%" PRIu64 " disk %s\n", id, on ? "stalls" : "resumes");
	if (!on)
		persist(t, n, true);
	sim_check_step(t->c);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The network                                                                */

/* partition 1|2,3: no messages between the groups (unnamed nodes reach all). */
static int cmd_partition(struct trace *t, struct args *a)
{
	if (a->n != 2 || !t->c)
		return bad(t, "usage: partition A,B|C,...%s", "");
	unsigned group[SIM_MAX_NODES + 1] = {0};
	unsigned g = 1;
	for (const char *p = a->v[1]; *p; p++) {
		if (*p == '|') {
			g++;
		} else if (*p >= '1' && *p <= '0' + SIM_MAX_NODES) {
			group[*p - '0'] = g;
		} else if (*p != ',') {
			return bad(t, "partition: cannot read %s", a->v[1]);
		}
	}
	sim_net_heal(t->c);
	for (int x = 1; x <= SIM_MAX_NODES; x++)
		for (int y = 1; y <= SIM_MAX_NODES; y++)
			if (group[x] && group[y] && group[x] != group[y])
				t->c->link[x][y] = false;
	return 0;
}

static int cmd_isolate(struct trace *t, struct args *a)
{
	raft_id id;
	if (a->n != 2 || !node_arg(t, a->v[1], &id))
		return bad(t, "usage: isolate NODE%s", "");
	sim_net_isolate(t->c, id);
	return 0;
}

static int cmd_cut(struct trace *t, struct args *a)
{
	raft_id x, y;
	if (a->n != 3 || !node_arg(t, a->v[1], &x) || !node_arg(t, a->v[2], &y))
		return bad(t, "usage: cut FROM TO (one way)%s", "");
	sim_net_cut(t->c, x, y);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Inputs to a core                                                           */

static struct raft *up_core(struct trace *t, const char *s, raft_id *id)
{
	if (!node_arg(t, s, id))
		return NULL;
	return sim_core(t->c, *id);
}

static int cmd_propose(struct trace *t, struct args *a)
{
	raft_id id;
	struct raft *r;
	if (a->n != 3 || !(r = up_core(t, a->v[1], &id)))
		return bad(t, "usage: propose NODE DATA (NODE up)%s", "");
	raft_term term = raft_current_term(r);
	size_t len = strlen(a->v[2]);
	SIM_CORE_BEGIN();
	int64_t idx = raft_propose(r, a->v[2], len);
	SIM_CORE_END();
	if (idx > 0) {
		struct raft_entry e = {.term = term,
		                       .index = (raft_index)idx,
		                       .type = RAFT_ENTRY_NORMAL,
		                       .data = {a->v[2], len}};
		sim_check_proposal(t->c, id, term, (raft_index)idx, sim_entry_hash(&e));
		dd_printf(t->out, "n%" PRIu64 " propose \"%s\": index %" PRId64 "\n", id, a->v[2],
		          idx);
	} else {
		dd_printf(t->out, "n%" PRIu64 " propose \"%s\": %s\n", id, a->v[2],
		          raft_strerror((int)idx));
	}
	sim_check_step(t->c);
	return 0;
}

static int cmd_read_index(struct trace *t, struct args *a)
{
	raft_id id;
	if (a->n != 2 || !up_core(t, a->v[1], &id))
		return bad(t, "usage: read-index NODE (up)%s", "");
	int rv = sim_read(t->c, id);
	if (rv == 0)
		dd_printf(t->out, "n%" PRIu64 " read-index: ctx %" PRIu64 "\n", id,
		          t->c->nodes[id].next_ctx);
	else
		dd_printf(t->out, "n%" PRIu64 " read-index: %s\n", id, raft_strerror(rv));
	sim_check_step(t->c);
	return 0;
}

static int cmd_transfer(struct trace *t, struct args *a)
{
	raft_id id, to = RAFT_NONE;
	struct raft *r;
	if (a->n != 3 || !(r = up_core(t, a->v[1], &id)) ||
	    (strcmp(a->v[2], "any") != 0 && !parse_u64(a->v[2], &to)))
		return bad(t, "usage: transfer FROM TO|any%s", "");
	int rv = raft_transfer(r, to);
	dd_printf(t->out, "n%" PRIu64 " transfer to %s: %s\n", id, a->v[2],
	          rv ? raft_strerror(rv) : "started");
	sim_check_step(t->c);
	return 0;
}

/* change NODE add-learner|promote|remove ID */
static int cmd_change(struct trace *t, struct args *a)
{
	raft_id id;
	uint64_t who;
	struct raft *r;
	if (a->n != 4 || !(r = up_core(t, a->v[1], &id)) || !parse_u64(a->v[3], &who))
		return bad(t, "usage: change NODE add-learner|promote|remove ID%s", "");
	enum raft_change_kind kind;
	if (strcmp(a->v[2], "add-learner") == 0)
		kind = RAFT_ADD_LEARNER;
	else if (strcmp(a->v[2], "promote") == 0)
		kind = RAFT_PROMOTE;
	else if (strcmp(a->v[2], "remove") == 0)
		kind = RAFT_REMOVE;
	else
		return bad(t, "change: unknown kind %s", a->v[2]);
	char addr[32];
	snprintf(addr, sizeof(addr), "sim://%" PRIu64, who);
	int64_t idx = raft_change(r, kind, who, kind == RAFT_ADD_LEARNER ? addr : NULL);
	if (idx > 0) {
		t->c->n_changes++;
		dd_printf(t->out, "n%" PRIu64 " change %s %" PRIu64 ": index %" PRId64 "\n", id,
		          a->v[2], who, idx);
	} else {
		dd_printf(t->out, "n%" PRIu64 " change %s %" PRIu64 ": %s\n", id, a->v[2], who,
		          raft_strerror((int)idx));
	}
	sim_check_step(t->c);
	return 0;
}

static int cmd_crash_restart(struct trace *t, struct args *a, bool crash)
{
	raft_id id;
	if (a->n != 2 || !node_arg(t, a->v[1], &id) || t->c->nodes[id].up != crash)
		return bad(t, crash ? "usage: crash NODE (up)%s" : "usage: restart NODE (down)%s",
		           "");
	if (crash) {
		sim_node_crash(t->c, id);
		/* what it had sent is still on the wire */
		dd_printf(t->out,
		          "n%" PRIu64 " crashed (disk: term %" PRIu64 " vote %" PRIu64
		          ", last %" PRIu64 ")\n",
		          id, t->c->nodes[id].disk.hs.term, t->c->nodes[id].disk.hs.vote,
		          sim_disk_last(&t->c->nodes[id].disk));
	} else {
		dd_printf(t->out, "n%" PRIu64 " restarts\n", id);
		sim_node_restart(t->c, id);
		persist(t, &t->c->nodes[id], false);
	}
	sim_check_step(t->c);
	return 0;
}

static int cmd_snapshot(struct trace *t, struct args *a)
{
	raft_id id;
	struct raft *r;
	if (a->n != 2 || !(r = up_core(t, a->v[1], &id)))
		return bad(t, "usage: snapshot NODE (up)%s", "");
	raft_index before = t->c->nodes[id].snap_index;
	sim_node_maybe_snapshot(t->c, &t->c->nodes[id], true);
	if (t->c->nodes[id].snap_index == before)
		dd_printf(t->out, "n%" PRIu64 ": no new snapshot\n", id);
	else
		dd_printf(t->out,
		          "n%" PRIu64 " snapshot at %" PRIu64 ", log now %" PRIu64 "..%" PRIu64
		          "\n",
		          id, t->c->nodes[id].snap_index, raft_first_index(r), raft_last_index(r));
	return 0;
}

/* step TO TYPE from=F term=T ...: a message made by hand, for the rules of
 * one core (votes, stale terms). Fields: last=I/tT (vote), pre, transfer,
 * granted, reject, index=I, commit=C, ctx=X. */
static int cmd_step(struct trace *t, struct args *a)
{
	raft_id id;
	struct raft *r;
	if (a->n < 3 || !(r = up_core(t, a->v[1], &id)))
		return bad(t, "usage: step NODE TYPE from=F term=T [field=value ...]%s", "");
	bool ok = true;
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.to = id;
	m.from = kv_u64(a, 3, "from", 0, &ok);
	m.term = kv_u64(a, 3, "term", 0, &ok);
	int type = 0;
	for (int k = 1; k < RAFT_MSG_TYPE_LAST; k++)
		if (strcmp(a->v[2], raft_msg_type_name(k)) == 0)
			type = k;
	m.type = (uint8_t)type;
	uint64_t li = 0, lt = 0;
	const char *last = kv(a, 3, "last");
	if (last && sscanf(last, "%" SCNu64 "/t%" SCNu64, &li, &lt) != 2)
		ok = false;
	switch (type) {
	case RAFT_MSG_VOTE:
		m.vote = (struct raft_vote){.pre_vote = flag(a, 3, "pre"),
		                            .transfer = flag(a, 3, "transfer"),
		                            .last_index = li,
		                            .last_term = lt};
		break;
	case RAFT_MSG_VOTE_RESP:
		m.vote_resp = (struct raft_vote_resp){.pre_vote = flag(a, 3, "pre"),
		                                      .granted = flag(a, 3, "granted")};
		break;
	case RAFT_MSG_APPEND_RESP:
		m.append_resp.reject = flag(a, 3, "reject");
		m.append_resp.index = kv_u64(a, 3, "index", 0, &ok);
		m.append_resp.last_index = kv_u64(a, 3, "last-index", m.append_resp.index, &ok);
		break;
	case RAFT_MSG_HEARTBEAT:
		m.heartbeat.commit = kv_u64(a, 3, "commit", 0, &ok);
		break;
	case RAFT_MSG_READ_INDEX:
		m.read_index.ctx = kv_u64(a, 3, "ctx", 0, &ok);
		break;
	default:
		ok = false;
	}
	if (!ok || !m.from)
		return bad(t, "step: cannot make a %s from that", a->v[2]);
	char d[256];
	sim_msg_describe(&m, d, sizeof(d));
	SIM_CORE_BEGIN();
	int rv = raft_step(r, &m);
	SIM_CORE_END();
	dd_printf(t->out, "step %s: %s\n", d, rv ? raft_strerror(rv) : "ok");
	sim_check_step(t->c);
	return 0;
}

static int cmd_show(struct trace *t, struct args *a, void (*show)(struct trace *, raft_id))
{
	unsigned mask;
	if (!nodes_arg(t, a->n >= 2 ? a->v[1] : "all", &mask))
		return bad(t, "usage: %s [NODES]", a->v[0]);
	for (raft_id id = 1; id <= t->c->n_ids; id++)
		if ((mask >> id) & 1)
			show(t, id);
	return 0;
}

/* ------------------------------------------------------------------------ */

static int dispatch(struct trace *t, struct args *a)
{
	const char *w = a->v[0];
	if (strcmp(w, "add-nodes") == 0)
		return cmd_add_nodes(t, a);
	if (strcmp(w, "restore") == 0)
		return cmd_restore(t, a);
	if (!t->c)
		return bad(t, "%s: no cluster yet (add-nodes or restore first)", w);
	static const struct {
		const char *name;
		int (*fn)(struct trace *, struct args *);
	} cmds[] = {
	        {"stabilize", cmd_stabilize},
	        {"process-ready", cmd_process_ready},
	        {"deliver", cmd_deliver},
	        {"drop", cmd_drop},
	        {"msgs", cmd_msgs},
	        {"tick", cmd_tick},
	        {"campaign", cmd_campaign},
	        {"persist", cmd_persist},
	        {"partition", cmd_partition},
	        {"isolate", cmd_isolate},
	        {"cut", cmd_cut},
	        {"propose", cmd_propose},
	        {"read-index", cmd_read_index},
	        {"transfer", cmd_transfer},
	        {"change", cmd_change},
	        {"snapshot", cmd_snapshot},
	        {"step", cmd_step},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(w, cmds[i].name) == 0)
			return cmds[i].fn(t, a);
	if (strcmp(w, "heal") == 0) {
		sim_net_heal(t->c);
		return 0;
	}
	if (strcmp(w, "stall") == 0 || strcmp(w, "unstall") == 0)
		return cmd_stall(t, a, w[0] == 's');
	if (strcmp(w, "crash") == 0 || strcmp(w, "restart") == 0)
		return cmd_crash_restart(t, a, w[0] == 'c');
	if (strcmp(w, "status") == 0)
		return cmd_show(t, a, trace_print_status);
	if (strcmp(w, "log") == 0)
		return cmd_show(t, a, trace_print_log);
	if (strcmp(w, "progress") == 0)
		return cmd_show(t, a, trace_print_progress);
	return bad(t, "unknown command %s", w);
}

static int run(void *arg, const char *line, struct dd_buf *out)
{
	struct trace *t = arg;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", line);
	struct args a;
	split(buf, &a);
	t->out = out;
	int rv = a.n ? dispatch(t, &a) : 0;
	if (t->c && t->c->n_violations > t->seen_violations) {
		/* the invariants hold in every trace: no file can expect this */
		dd_printf(out, "VIOLATION (%u so far): %s\n", t->c->n_violations, t->c->violation);
		t->seen_violations = t->c->n_violations;
		rv = -1;
	}
	t->out = NULL;
	return rv;
}

int main(int argc, char **argv)
{
	const char *env = getenv("QFS_REWRITE");
	bool rewrite = env && *env && strcmp(env, "0") != 0;
	if (argc < 2) {
		fprintf(stderr,
		        "usage: %s FILE.txt ... (QFS_REWRITE=1 rewrites the expected output)\n",
		        argv[0]);
		return 2;
	}
	int failed = 0;
	for (int i = 1; i < argc; i++) {
		struct trace t = {0};
		int k = dd_run(argv[i], rewrite, run, &t);
		sim_cluster_free(t.c);
		if (k != 0) {
			failed++;
			if (k > 0)
				printf("%s: %d directive(s) differ; if the change is meant, rerun "
				       "with "
				       "QFS_REWRITE=1 and review the diff\n",
				       argv[i], k);
		} else {
			printf("%s: ok%s\n", argv[i], rewrite ? " (rewritten)" : "");
		}
	}
	return failed ? 1 : 0;
}
