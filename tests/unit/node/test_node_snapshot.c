/* test_node_snapshot.c: a received snapshot that fails its checks is fetched again (within a
 * bound), and a submit applied inside an installed snapshot is answered from its session. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/metrics.h"
#include "quorumfs/wire_cmd.h"

/* A counter of /metrics, by its full name. */
static unsigned long long metric(const char *name)
{
	static char buf[1 << 16];
	qfs_metrics_render(buf, sizeof(buf));
	size_t len = strlen(name);
	for (char *p = buf; (p = strstr(p, name)) != NULL; p += len)
		if ((p == buf || p[-1] == '\n') && p[len] == ' ')
			return strtoull(p + len + 1, NULL, 10);
	fail_msg("no metric %s", name);
	return 0;
}

static bool rejected_at_least(struct cluster *c, void *arg)
{
	(void)c;
	return metric("quorumfs_snapshots_rejected_total") >= *(unsigned long long *)arg;
}

static bool storage_failed(struct cluster *c, void *arg)
{
	return node_writable(c->nodes[*(int *)arg]) == -EIO;
}

/*
 * Flips (or flips back: the same call twice) one byte in the middle of
 * every snapshot file of node @i: what a disk that rots, or a bug on the
 * leader's side, would hand to a follower. The transport authenticates
 * every frame, so bytes damaged on the wire end the connection instead
 * (tests/fault/fault_proxy.c); damage at rest is what reaches the checks.
 * Returns how many files it changed.
 */
static int flip_snapshots(struct cluster *c, int i)
{
	char dir[400], path[700];
	snprintf(dir, sizeof(dir), "%s/snapshots", c->dirs[i]);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int changed = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "snap-", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		int fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		off_t size = lseek(fd, 0, SEEK_END);
		assert_true(size > 64);
		unsigned char b;
		assert_int_equal(pread(fd, &b, 1, size / 2), 1);
		b ^= 0x5a;
		assert_int_equal(pwrite(fd, &b, 1, size / 2), 1);
		close(fd);
		changed++;
	}
	closedir(d);
	return changed;
}

/* Stops follower @f, writes past what the leader's log keeps, and lets the
 * leader snapshot: @f can only catch up with a snapshot. */
static void lag_behind_snapshot(struct cluster *c, int leader, int f)
{
	create_many(c, leader, "early", 5);
	stop_node(c, f);
	run_until(c, never, NULL, 2 * c->opts[f].election_ms);
	create_many(c, leader, "missed", 60);
	assert_true(run_until(c, leader_snapshotted, &leader, 10000));
	struct node_status st;
	node_status(c->nodes[leader], &st);
	assert_true(st.first_index > 10);
}

static void small_snapshots(struct cluster *c)
{
	for (int i = 0; i < N_NODES; i++) {
		c->opts[i].snapshot_entries = 20;
		c->opts[i].snapshot_trailing = 5;
	}
}

/* A snapshot that fails its checksum at the follower is discarded and
 * fetched again; the follower stays a member and catches up. */
static void test_bad_snapshot_fetched_again(void **state)
{
	struct cluster *c = *state;
	small_snapshots(c);
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);
	lag_behind_snapshot(c, leader, f);
	qfs_metrics_reset();
	assert_true(flip_snapshots(c, leader) > 0);

	assert_int_equal(start_node(c, f), 0);
	unsigned long long one = 1;
	assert_true(run_until(c, rejected_at_least, &one, 20000));
	assert_int_equal(metric("quorumfs_snapshots_installed_total"), 0);
	/* The leader's file heals; the next fetch installs. */
	assert_true(flip_snapshots(c, leader) > 0);
	struct catch_up cu = {.node = f, .index = max_applied(c, f)};
	assert_true(run_until(c, caught_up, &cu, 30000));
	assert_true(metric("quorumfs_snapshots_installed_total") >= 1);
	assert_true(metric("quorumfs_snapshots_rejected_total") <= 5);
	assert_file(c, f, "missed-59", "missed-59");
	assert_file(c, f, "early-0", "early-0");
	/* Not stopped: it takes writes and votes on. */
	struct wire_cmd cmd = create_cmd("after", "a");
	struct submit_wait w = submit(c, f, &cmd);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);
	assert_int_equal(barrier(c, leader), 0);
	assert_file(c, leader, "after", "a");
}

/* A snapshot that keeps failing is fetched a bounded number of times, then
 * the node stops voting and leading, loudly; the others go on. */
static void test_bad_snapshot_bounded(void **state)
{
	struct cluster *c = *state;
	small_snapshots(c);
	start_all(c);
	int leader = wait_leader(c);
	int f = any_follower(c, leader);
	lag_behind_snapshot(c, leader, f);
	qfs_metrics_reset();
	assert_true(flip_snapshots(c, leader) > 0);

	assert_int_equal(start_node(c, f), 0);
	assert_true(run_until(c, storage_failed, &f, 60000));
	assert_int_equal(metric("quorumfs_snapshots_rejected_total"), 6); /* 1 + 5 retries */
	assert_int_equal(metric("quorumfs_snapshots_installed_total"), 0);
	struct wire_cmd cmd = create_cmd("others", "o");
	struct submit_wait w = submit(c, leader, &cmd);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);
}

/* fault-proxy (tests/fault) on the links into node F, driven on its stdin;
 * killed at exit if a failed assertion left it running. */
struct proxy {
	FILE *ctl;
	pid_t pid;
	char out[400];
};

static pid_t proxy_pid;

static void kill_proxy(void)
{
	if (proxy_pid > 0) {
		kill(proxy_pid, SIGTERM);
		waitpid(proxy_pid, NULL, 0);
		proxy_pid = 0;
	}
}

static void proxy_start(struct proxy *p, char *const argv[])
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	int out = open(p->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(out >= 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[0], 0);
		dup2(out, 1);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[0]);
	close(out);
	p->pid = proxy_pid = pid;
	p->ctl = fdopen(fds[1], "w");
	assert_non_null(p->ctl);
	atexit(kill_proxy);
}

static bool proxy_says(struct proxy *p, const char *want)
{
	char line[512];
	bool seen = false;
	FILE *f = fopen(p->out, "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, want) != NULL)
			seen = true;
	fclose(f);
	return seen;
}

struct said {
	struct proxy *p;
	const char *want;
};

static bool proxy_said(struct cluster *c, void *arg)
{
	(void)c;
	struct said *s = arg;
	return proxy_says(s->p, s->want);
}

static void proxy_cmd(struct proxy *p, const char *cmd)
{
	fprintf(p->ctl, "%s\n", cmd);
	fflush(p->ctl);
}

static const char *proxy_bin;

struct named {
	int node;
	const char *name;
};

static bool has_name(struct cluster *c, void *arg)
{
	struct named *nm = arg;
	struct fsm_attr attr;
	return node_lookup(c->nodes[nm->node], FSM_ROOT_INO, nm->name, strlen(nm->name), &attr) ==
	       0;
}

/* A submit of follower F is forwarded and committed while F hears nothing
 * from the others; the leader's log moves past it; F catches up by a
 * snapshot, which applied the entry for it: the submit is answered from
 * F's session in the installed tree (before, it waited for a resend, or
 * ended in ETIMEDOUT though it applied). */
static void test_submit_answered_by_snapshot(void **state)
{
	struct cluster *c = *state;
	if (proxy_bin == NULL || access(proxy_bin, X_OK) != 0)
		skip();
	small_snapshots(c);
	const int f = 2; /* node 3 */
	struct proxy p;
	char cmd[128], links[N_NODES][64];
	char *argv[2 * N_NODES + 2];
	int argc = 0;
	argv[argc++] = (char *)proxy_bin;
	snprintf(p.out, sizeof(p.out), "%s/proxy.out", c->base);
	for (int j = 0; j < N_NODES; j++) {
		if (j == f)
			continue;
		uint16_t port = free_port();
		snprintf(links[j], sizeof(links[j]), "%d:%d:%u:%s", j + 1, f + 1, port,
		         strchr(c->opts[j].peers[f].address, ':') + 1);
		argv[argc++] = "--link";
		argv[argc++] = links[j];
		c->opts[j].n_dial_overrides = 1;
		c->opts[j].dial_overrides[0].id = (uint64_t)f + 1;
		snprintf(c->opts[j].dial_overrides[0].address, NODE_ADDRESS_MAX, "127.0.0.1:%u",
		         port);
	}
	argv[argc] = NULL;
	proxy_start(&p, argv);
	struct said ready = {&p, "ready"};
	assert_true(run_until(c, proxy_said, &ready, 10000));

	c->opts[f].commit_timeout_ms = 60000; /* the answer must not be a timeout */
	start_all(c);
	int leader = wait_leader(c);
	if (leader == f) {
		assert_int_equal(node_transfer(c->nodes[f], 1), 0);
		struct said none = {&p, "no such line"};
		for (int k = 0; k < 100 && (leader = agreed_leader(c)) == f; k++)
			run_until(c, proxy_said, &none, 100);
		leader = wait_leader(c);
	}
	assert_true(leader != f);
	create_many(c, leader, "early", 3);
	struct catch_up cu = {.node = f, .index = max_applied(c, f)};
	assert_true(run_until(c, caught_up, &cu, 10000));

	/* F no longer hears the others (its own frames still go out). */
	for (int j = 0; j < N_NODES; j++)
		if (j != f) {
			snprintf(cmd, sizeof(cmd), "cut %d %d", j + 1, f + 1);
			proxy_cmd(&p, cmd);
		}
	proxy_cmd(&p, "status");
	char want[64];
	snprintf(want, sizeof(want), "link %d->%d cut", leader + 1, f + 1);
	struct said cut = {&p, want};
	assert_true(run_until(c, proxy_said, &cut, 10000));
	qfs_metrics_reset();

	struct wire_cmd wc = create_cmd("applied-elsewhere", "x");
	struct submit_wait w = {0};
	assert_int_equal(node_submit(c->nodes[f], &wc, submit_done, &w), 0);
	/* It commits without F; the leader stops keeping entries for F. */
	struct named on_leader = {leader, "applied-elsewhere"};
	assert_true(run_until(c, has_name, &on_leader, 10000));
	assert_file(c, leader, "applied-elsewhere", "x");
	run_until(c, never, NULL, 2 * c->opts[f].election_ms);
	create_many(c, leader, "past", 50);
	struct node_status st;
	node_status(c->nodes[leader], &st);
	assert_true(st.snapshot_index > 0);
	assert_false(w.done);

	proxy_cmd(&p, "heal-all");
	assert_true(run_until(c, submit_finished, &w, 30000));
	assert_int_equal(w.err, 0);
	assert_int_equal(w.res.err, 0);
	assert_true(metric("quorumfs_snapshots_installed_total") >= 1);
	assert_int_equal(metric("quorumfs_session_answers_total"), 1);
	assert_file(c, f, "applied-elsewhere", "x");
	assert_file(c, f, "past-49", "past-49");

	fclose(p.ctl);
	kill_proxy();
}

int main(int argc, char **argv)
{
	qfs_log_set_level(QFS_LOG_WARN);
	proxy_bin = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_bad_snapshot_fetched_again, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_snapshot_bounded, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_submit_answered_by_snapshot, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
