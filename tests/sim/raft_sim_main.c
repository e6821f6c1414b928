/* raft_sim_main.c: raft-sim, runs many seeds of the random cluster simulation and reports. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#ifndef SIM_PROG
#define SIM_PROG "build/tests/sim/raft-sim"
#endif

#ifdef RAFT_BROKEN_LEASE
extern int raft_broken_lease; /* follower_lease.c of qfs_raft_lease_broken */
#endif

struct args {
	uint64_t seeds, seed, steps;
	unsigned nodes, jobs;
	bool verbose;
	bool no_commit_rule;
	unsigned sim_bug;
	unsigned oom;
	bool extreme;
	uint64_t snap_every;
	unsigned lease; /* permille; 0: per seed */
	unsigned follower_lease; /* permille; 0: per seed */
	unsigned broken_lease; /* raft-sim-broken-lease: which rule is broken */
};

static void usage(void)
{
	fprintf(stderr,
	        "usage: %s --seeds N [--seed S] [--nodes K] [--steps M] [--jobs J] [--verbose]\n"
	        "  runs N seeds from S (default 1); K nodes (3..7; default: per seed);\n"
	        "  M events of faults per seed before the faults stop (default 10000);\n"
	        "  J worker processes (default: the CPUs, 1 with --verbose);\n"
	        "  --no-commit-rule: do not check the Figure 8 commit rule itself, only\n"
	        "  its consequences (lost committed entries);\n"
	        "  --sim-bug early-send|lying-disk|no-heal|early-read: the simulator itself breaks "
	        "the\n"
	        "  ready contract, the disk, or the final heal (the checkers must notice);\n"
	        "  --oom P: P/1000 of the core's allocations fail (-ENOMEM must be harmless);\n"
	        "  --extreme: one-byte chunks and messages, no trailing entries, 3-tick\n"
	        "  elections; --snap-every N: snapshots every N applied entries (default\n"
	        "  4..40 per node);\n"
	        "  --lease P: the leader's read lease lasts P/1000 of election_ticks - 1\n"
	        "  ticks (0: off; default: 600 in 3 of 4 seeds, off in the others);\n"
	        "  --follower-lease P: follower read leases of P/1000 of election_ticks - 1\n"
	        "  ticks, with local reads on every node (0: off; default: 1000 in half the\n"
	        "  seeds with the read lease); --sim-bug ack-before-mark: a holder\n"
	        "  acknowledges before it marks; --broken-lease N (raft-sim-broken-lease\n"
	        "  only): 1 stretched, 2 from receipt, 3 no wait for holders, 4 no new-leader wait\n",
	        SIM_PROG);
	exit(2);
}

static uint64_t num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || !*s || *end)
		usage();
	return v;
}

struct totals {
	uint64_t seeds, violations, steps, elections, crashes, committed, installs, chunks, changes,
	        reads, dropped, old, lreads;
};

/* Runs the seeds i with i % jobs == part; writes failures and totals to @out. */
static void run_part(const struct args *a, unsigned part, FILE *out)
{
	struct totals t = {0};
	for (uint64_t i = part; i < a->seeds; i += a->jobs) {
		uint64_t seed = a->seed + i;
		struct sim_opts o;
		sim_opts_random(&o, a->nodes, a->steps);
		o.verbose = a->verbose;
		o.no_commit_rule = a->no_commit_rule;
		o.sim_bug = a->sim_bug;
		o.oom_permille = a->oom;
		o.extreme = a->extreme;
		o.snap_every = a->snap_every;
		o.lease_permille = a->lease;
		if (a->follower_lease)
			o.follower_lease_permille = a->follower_lease == ~0u ? 0 : a->follower_lease;
		struct sim_cluster *c = sim_cluster_new(&o, seed);
		unsigned v = sim_run_random(c);
		t.seeds++;
		t.violations += v;
		t.steps += c->step;
		t.elections += c->n_elections;
		t.crashes += c->n_crashes;
		t.committed += c->n_committed;
		t.installs += c->n_snap_installs;
		t.chunks += c->n_chunks;
		t.changes += c->n_changes;
		t.reads += c->n_reads_ok;
		t.lreads += c->n_lease_reads_ok;
		t.dropped += c->chk.n_dropped;
		t.old += c->n_old_commits;
		if (v)
			fprintf(out, "F %" PRIu64 " %u %s\n", seed, c->o.nodes, c->violation);
		sim_cluster_free(c);
		fflush(out);
	}
	fprintf(out,
	        "T %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
	        " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
	        t.seeds, t.violations, t.steps, t.elections, t.crashes, t.committed, t.installs,
	        t.chunks, t.changes, t.reads, t.dropped, t.old, t.lreads);
	fflush(out);
}

struct failure {
	uint64_t seed;
	unsigned nodes;
	char *text;
};

static int by_seed(const void *a, const void *b)
{
	const struct failure *x = a, *y = b;
	return x->seed < y->seed ? -1 : x->seed > y->seed;
}

int main(int argc, char **argv)
{
	struct args a = {.seeds = 0, .seed = 1, .steps = 10000, .nodes = 0, .jobs = 0};
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "--verbose")) {
			a.verbose = true;
			continue;
		}
		if (!strcmp(o, "--extreme")) {
			a.extreme = true;
			continue;
		}
		if (!strcmp(o, "--no-commit-rule")) {
			a.no_commit_rule = true;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(o, "--sim-bug")) {
			const char *b = argv[++i];
			if (!strcmp(b, "early-send"))
				a.sim_bug = SIM_BUG_EARLY_SEND;
			else if (!strcmp(b, "lying-disk"))
				a.sim_bug = SIM_BUG_LYING_DISK;
			else if (!strcmp(b, "no-heal"))
				a.sim_bug = SIM_BUG_NO_HEAL;
			else if (!strcmp(b, "early-read"))
				a.sim_bug = SIM_BUG_EARLY_READ;
			else if (!strcmp(b, "ack-before-mark"))
				a.sim_bug = SIM_BUG_ACK_BEFORE_MARK;
			else
				usage();
			continue;
		}
		uint64_t v = num(argv[++i]);
		if (!strcmp(o, "--seeds"))
			a.seeds = v;
		else if (!strcmp(o, "--seed"))
			a.seed = v;
		else if (!strcmp(o, "--steps"))
			a.steps = v;
		else if (!strcmp(o, "--nodes") && v >= 3 && v <= SIM_MAX_NODES)
			a.nodes = (unsigned)v;
		else if (!strcmp(o, "--snap-every") && v >= 1)
			a.snap_every = v;
		else if (!strcmp(o, "--oom") && v <= 1000)
			a.oom = (unsigned)v;
		else if (!strcmp(o, "--lease") && v <= 100000)
			a.lease = v ? (unsigned)v : ~0u;
		else if (!strcmp(o, "--follower-lease") && v <= 100000)
			a.follower_lease = v ? (unsigned)v : ~0u;
		else if (!strcmp(o, "--broken-lease") && v >= 1 && v <= 4)
			a.broken_lease = (unsigned)v;
		else if (!strcmp(o, "--jobs") && v >= 1 && v <= 64)
			a.jobs = (unsigned)v;
		else
			usage();
	}
	if (!a.seeds)
		usage();
#ifdef RAFT_BROKEN_LEASE
	raft_broken_lease = (int)a.broken_lease; /* before the workers fork */
#else
	if (a.broken_lease)
		usage();
#endif
	if (!a.jobs) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		a.jobs = cpus > 0 ? (unsigned)(cpus > 8 ? 8 : cpus) : 1;
	}
	if (a.verbose || a.seeds < 16)
		a.jobs = 1;

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	FILE *outs[64];
	pid_t pids[64];
	fflush(stdout);
	for (unsigned k = 0; k < a.jobs; k++) {
		outs[k] = tmpfile();
		if (!outs[k]) {
			perror("raft-sim: tmpfile");
			return 2;
		}
		if (a.jobs == 1) {
			run_part(&a, 0, outs[k]);
			pids[k] = 0;
			continue;
		}
		pids[k] = fork();
		if (pids[k] < 0) {
			perror("raft-sim: fork");
			return 2;
		}
		if (pids[k] == 0) {
			run_part(&a, k, outs[k]);
			_exit(0);
		}
	}
	struct totals t = {0};
	struct failure *fails = NULL;
	size_t n_fails = 0;
	int rc = 0;
	for (unsigned k = 0; k < a.jobs; k++) {
		if (pids[k]) {
			int st;
			if (waitpid(pids[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
				fprintf(stderr, "raft-sim: worker %u died (status %d)\n", k, st);
				rc = 2;
			}
		}
		rewind(outs[k]);
		char line[2048];
		while (fgets(line, sizeof(line), outs[k])) {
			if (line[0] == 'F') {
				struct failure f;
				int off = 0;
				if (sscanf(line, "F %" SCNu64 " %u %n", &f.seed, &f.nodes, &off) <
				    2)
					continue;
				line[strcspn(line, "\n")] = 0;
				f.text = strdup(line + off);
				fails = realloc(fails, (n_fails + 1) * sizeof(*fails));
				fails[n_fails++] = f;
			} else if (line[0] == 'T') {
				struct totals p;
				if (sscanf(line,
				           "T %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				           " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				           " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
				           &p.seeds, &p.violations, &p.steps, &p.elections,
				           &p.crashes, &p.committed, &p.installs, &p.chunks,
				           &p.changes, &p.reads, &p.dropped, &p.old, &p.lreads) == 13) {
					t.seeds += p.seeds;
					t.violations += p.violations;
					t.steps += p.steps;
					t.elections += p.elections;
					t.crashes += p.crashes;
					t.committed += p.committed;
					t.installs += p.installs;
					t.chunks += p.chunks;
					t.changes += p.changes;
					t.reads += p.reads;
					t.dropped += p.dropped;
					t.old += p.old;
					t.lreads += p.lreads;
				}
			}
		}
		fclose(outs[k]);
	}
	if (n_fails)
		qsort(fails, n_fails, sizeof(*fails), by_seed);
	static const char *bugs[] = {"", " --sim-bug early-send", " --sim-bug lying-disk",
	                             " --sim-bug no-heal", " --sim-bug early-read",
	                             " --sim-bug ack-before-mark"};
	char extra[128];
	snprintf(extra, sizeof(extra), "%s%s%s", a.extreme ? " --extreme" : "",
	         a.no_commit_rule ? " --no-commit-rule" : "", bugs[a.sim_bug < 6 ? a.sim_bug : 0]);
	if (a.snap_every)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		         " --snap-every %" PRIu64, a.snap_every);
	if (a.oom)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --oom %u", a.oom);
	if (a.lease)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --lease %u",
		         a.lease == ~0u ? 0 : a.lease);
	if (a.follower_lease)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		         " --follower-lease %u", a.follower_lease == ~0u ? 0 : a.follower_lease);
	if (a.broken_lease)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --broken-lease %u",
		         a.broken_lease);
	if (a.steps != 10000)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " --steps %" PRIu64,
		         a.steps);
	for (size_t i = 0; i < n_fails; i++) {
		printf("seed %" PRIu64 " FAILED: %s\n  replay: %s --seeds 1 --seed %" PRIu64
		       " --nodes %u%s --verbose\n",
		       fails[i].seed, fails[i].text, SIM_PROG, fails[i].seed, fails[i].nodes,
		       extra);
		free(fails[i].text);
	}
	free(fails);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("stats: %.1f s, %.0f seeds/s (%u jobs); %" PRIu64 " events, %" PRIu64
	       " elections, %" PRIu64 " crashes, %" PRIu64 " entries committed, %" PRIu64
	       " snapshot installs (%" PRIu64 " chunks), %" PRIu64 " membership changes, %" PRIu64
	       " reads served, %" PRIu64 " local reads under a lease, %" PRIu64 " proposals dropped by leader changes, %" PRIu64
	       " leader commits of an older term's entry\n",
	       secs, secs > 0 ? (double)t.seeds / secs : 0.0, a.jobs, t.steps, t.elections,
	       t.crashes, t.committed, t.installs, t.chunks, t.changes, t.reads, t.lreads, t.dropped, t.old);
	if (t.seeds != a.seeds && !rc)
		rc = 2;
	printf("seeds=%" PRIu64 " violations=%" PRIu64 "\n", a.seeds, t.violations);
	if (t.violations)
		return 1;
	return rc;
}
