/* sim_fig8.c: directed scenarios shared by tests: logs from terms, and the paper's Figure 8. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void sim_conf_voters(struct raft_conf *conf, unsigned n)
{
	memset(conf, 0, sizeof(*conf));
	for (unsigned i = 0; i < n; i++) {
		conf->servers[i].id = i + 1;
		conf->servers[i].role = RAFT_VOTER;
		snprintf(conf->servers[i].address, RAFT_ADDRESS_MAX, "sim://%u", i + 1);
	}
	conf->n = n;
}

struct raft_entry *sim_log_from_terms(const struct raft_conf *conf, const raft_term *terms,
                                      unsigned n, const char *tag)
{
	struct raft_entry *e = sim_xmalloc(sizeof(*e) * (n ? n : 1));
	for (unsigned i = 0; i < n; i++) {
		e[i].index = i + 1;
		e[i].term = terms[i];
		if (i == 0) {
			size_t len = raft_conf_encode(conf, NULL, 0);
			e[i].type = RAFT_ENTRY_CONF;
			e[i].data.base = sim_xmalloc(len);
			e[i].data.len = raft_conf_encode(conf, e[i].data.base, len);
		} else {
			char buf[64];
			/* the same (index, term) gets the same bytes in every log */
			int len =
			        snprintf(buf, sizeof(buf), "%s-%u-t%" PRIu64, tag, i + 1, terms[i]);
			e[i].type = RAFT_ENTRY_NORMAL;
			e[i].data.base = sim_memdup(buf, (size_t)len);
			e[i].data.len = (size_t)len;
		}
	}
	return e;
}

static bool is_leader(struct sim_cluster *c, void *arg)
{
	raft_id id = (raft_id)(uintptr_t)arg;
	struct raft *r = sim_core(c, id);
	return r && raft_role(r) == RAFT_LEADER;
}

static bool s5_commits(struct sim_cluster *c, void *arg)
{
	(void)arg;
	struct raft *r = sim_core(c, 5);
	return r && raft_role(r) == RAFT_LEADER && raft_commit_index(r) >= 3 && c->nodes[1].up &&
	       c->nodes[1].sm.applied >= 3;
}

/*
 * Raft paper, Figure 8, with five servers S1..S5 (ids 1..5), from state (b):
 * S1 led term 2 and got index 2 (term 2) to S2 only; S5 led term 3 with votes
 * from S3, S4, S5 and wrote its own index 2 (term 3), then went away.
 * (c): S1 is elected for term 4 by S1, S2, S3, and replicates index 2 to S3,
 * so the term-2 entry is on a majority; its own term-4 entry (the no-op at 3)
 * is not durable on S1 (a stalled disk), so it is on S2 and S3 only.
 * A correct leader must not count the term-2 entry as committed (5.4.2).
 * (d): S1 crashes; S5 is elected for term 5 by S1, S4, S5 and overwrites
 * index 2 with its term-3 entry. Had S1 committed (and applied) the term-2
 * entry, that is a committed entry lost.
 */
void sim_fig8(bool verbose, bool no_commit_rule, struct sim_fig8_result *out)
{
	memset(out, 0, sizeof(*out));
	struct sim_opts o;
	sim_opts_default(&o);
	o.nodes = 5;
	o.verbose = verbose;
	o.no_commit_rule = no_commit_rule;
	o.snap_every = (raft_index)-1;
	struct sim_cluster *c = sim_cluster_new(&o, 8);
	struct raft_conf conf;
	sim_conf_voters(&conf, 5);
	const raft_term t12[] = {1, 2}, t1[] = {1}, t13[] = {1, 3};
	struct raft_entry *l12 = sim_log_from_terms(&conf, t12, 2, "fig8");
	struct raft_entry *l1 = sim_log_from_terms(&conf, t1, 1, "fig8");
	struct raft_entry *l13 = sim_log_from_terms(&conf, t13, 2, "fig8");
	const struct raft_hard_state hs1 = {3, RAFT_NONE, 1}, hs2 = {2, 1, 1}, hs345 = {3, 5, 1};

	sim_node_start_restored(c, 1, &hs1, l12, 2);
	sim_node_start_restored(c, 2, &hs2, l12, 2);
	sim_node_start_restored(c, 3, &hs345, l1, 1);
	sim_node_start_restored(c, 4, &hs345, l1, 1);
	sim_node_start_restored(c, 5, &hs345, l13, 2);
	for (raft_id id = 2; id <= 5; id++)
		c->nodes[id].frozen = true;
	sim_net_isolate(c, 5);
	sim_net_cut(c, 1, 4);
	sim_net_cut(c, 4, 1);

	/* (c) S1 wins term 4 with S2 and S3; its disk stalls at once */
	if (sim_run_until(c, is_leader, (void *)(uintptr_t)1, 5000)) {
		sim_node_set_stall(c, 1, UINT64_MAX);
		sim_trace(c, "fig8: S1 leads term %" PRIu64 "; its disk stalls",
		          raft_current_term(c->nodes[1].r));
		sim_run_until(c, NULL, NULL, 400);
		if (c->nodes[1].up)
			out->old_entry_committed = raft_commit_index(c->nodes[1].r) >= 2;
		sim_trace(c, "fig8: S1 commit index %" PRIu64,
		          c->nodes[1].up ? raft_commit_index(c->nodes[1].r) : 0);

		/* (d) S1 crashes; S5 comes back and is elected by S1, S4, S5 */
		sim_node_crash(c, 1);
		sim_net_heal(c);
		sim_net_isolate(c, 2);
		sim_net_isolate(c, 3);
		sim_node_restart(c, 1);
		c->nodes[1].frozen = true;
		/* S4 must tick to let the lease of S1's last heartbeat expire;
		 * it cannot win itself: S1 and S5 have longer logs */
		c->nodes[4].frozen = false;
		c->nodes[5].frozen = false;
		out->s5_led = sim_run_until(c, s5_commits, NULL, 5000);

		/* (e) everyone converges on S5's log */
		sim_net_heal(c);
		for (raft_id id = 1; id <= 5; id++)
			c->nodes[id].frozen = false;
		sim_run_until(c, NULL, NULL, 2000);
		for (raft_id id = 1; id <= 5; id++)
			sim_check_scan(c, &c->nodes[id]);
		struct raft *r5 = sim_core(c, 5);
		out->converged = r5 && raft_role(r5) == RAFT_LEADER;
		for (raft_id id = 1; id <= 5 && out->converged; id++) {
			struct raft *r = sim_core(c, id);
			out->converged = r && raft_last_index(r) == raft_last_index(r5) &&
			                 c->nodes[id].sm.applied == raft_commit_index(r5) &&
			                 raft_entry_at(r, 2) && raft_entry_at(r, 2)->term == 3;
		}
	} else if (!c->n_violations) {
		sim_violation(c, "scenario", "S1 was not elected for term 4");
	}
	out->violations = c->n_violations;
	memcpy(out->violation, c->violation, sizeof(out->violation));
	sim_entries_free(l12, 2);
	sim_entries_free(l1, 1);
	sim_entries_free(l13, 2);
	sim_cluster_free(c);
}
