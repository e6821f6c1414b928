/* trace.h: the trace runner's state, shared by its command and printing files. */
#ifndef QUORUMFS_SIM_TRACE_H
#define QUORUMFS_SIM_TRACE_H

#include "datadriven.h"
#include "sim.h"

struct trace {
	struct sim_cluster *c; /* created by the first add-nodes or restore */
	struct dd_buf *out;    /* the running command's output */
	bool quiet;            /* ready batches are handled but not printed */
	unsigned seen_violations;
};

/* The ready hook (sim_ready_hook): prints the batch @rd of @n. */
void trace_print_ready(struct sim_cluster *c, struct sim_node *n, const struct raft_ready *rd,
                       void *arg);
/* One line per node: role, term, leader, commit, log, applied. */
void trace_print_status(struct trace *t, raft_id id);
/* The node's log held in memory, one entry per line. */
void trace_print_log(struct trace *t, raft_id id);
/* The leader's view of every other member. */
void trace_print_progress(struct trace *t, raft_id id);
/* "3/t2 normal \"x\"" */
void trace_describe_entry(const struct raft_entry *e, char *buf, size_t cap);

#endif
