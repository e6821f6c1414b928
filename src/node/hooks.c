/* hooks.c: the role hooks (on-leader, on-follower): a command run through /bin/sh on a role
 * change, spawned on the loop and never waited for; a hook that hangs is killed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/metrics.h"

extern char **environ;

/* One hook running. Freed once both handles are closed (libuv's rule). */
struct node__hook {
	struct node__hook *next;
	struct node *n;
	uv_process_t proc;
	uv_timer_t timer;
	const char *which; /* "on-leader", "on-follower" */
	uint64_t started;  /* uv_now() */
	bool killed;       /* the timeout fired and killed it */
	unsigned open;     /* handles not yet closed */
};

static void unlink_hook(struct node__hook *h)
{
	for (struct node__hook **p = &h->n->hooks; *p != NULL; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			return;
		}
}

static void hook_closed(uv_handle_t *handle)
{
	struct node__hook *h = handle->data;
	struct node *n = h->n;
	if (--h->open > 0)
		return;
	bool stopping = n->stopping;
	free(h);
	if (stopping)
		node__closed_one(n);
}

static void close_hook(struct node__hook *h)
{
	unlink_hook(h);
	if (h->n->stopping)
		h->n->handles_open++; /* node_stop waits for this hook's handles too */
	uv_close((uv_handle_t *)&h->timer, hook_closed);
	uv_close((uv_handle_t *)&h->proc, hook_closed);
}

static void hook_exited(uv_process_t *p, int64_t status, int term_signal)
{
	struct node__hook *h = p->data;
	struct node *n = h->n;
	uint64_t took = uv_now(n->loop) - h->started;
	uv_timer_stop(&h->timer);
	if (h->killed) {
		node__log(n, QFS_LOG_WARN, "hook %s still ran after %u ms: killed", h->which,
		          n->opts.hook_timeout_ms);
		qfs_metric_inc(QFS_M_HOOKS_FAILED);
	} else if (term_signal != 0) {
		node__log(n, QFS_LOG_WARN, "hook %s was killed by signal %d after %llu ms",
		          h->which, term_signal, (unsigned long long)took);
		qfs_metric_inc(QFS_M_HOOKS_FAILED);
	} else if (status != 0) {
		node__log(n, QFS_LOG_WARN, "hook %s failed: exit status %lld after %llu ms",
		          h->which, (long long)status, (unsigned long long)took);
		qfs_metric_inc(QFS_M_HOOKS_FAILED);
	} else {
		node__log(n, QFS_LOG_INFO, "hook %s done in %llu ms", h->which,
		          (unsigned long long)took);
	}
	close_hook(h);
}

static void on_timeout(uv_timer_t *t)
{
	struct node__hook *h = t->data;
	h->killed = true;
	/* The hook runs in its own process group (UV_PROCESS_DETACHED): kill
	 * it all, so what the shell started goes too. */
	if (kill(-h->proc.pid, SIGKILL) != 0)
		uv_process_kill(&h->proc, SIGKILL);
}

/* Spawns @cmd with the role's environment. Never waits: the exit callback
 * logs the outcome. */
static void spawn(struct node *n, const char *which, const char *cmd, const char *role)
{
	char e_node[48], e_role[48], e_term[48], e_leader[48];
	size_t n_env = 0;
	while (environ != NULL && environ[n_env] != NULL)
		n_env++;
	char **env = calloc(n_env + 5, sizeof(*env));
	struct node__hook *h = calloc(1, sizeof(*h));
	if (env == NULL || h == NULL) {
		free(env);
		free(h);
		node__log(n, QFS_LOG_WARN, "hook %s not run: out of memory", which);
		qfs_metric_inc(QFS_M_HOOKS_FAILED);
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++)
		if (strncmp(environ[i], "QUORUMFS_", 9) != 0)
			env[k++] = environ[i];
	snprintf(e_node, sizeof(e_node), "QUORUMFS_NODE=%llu", (unsigned long long)n->opts.id);
	snprintf(e_role, sizeof(e_role), "QUORUMFS_ROLE=%s", role);
	snprintf(e_term, sizeof(e_term), "QUORUMFS_TERM=%llu",
	         (unsigned long long)raft_current_term(n->raft));
	snprintf(e_leader, sizeof(e_leader), "QUORUMFS_LEADER=%llu",
	         (unsigned long long)raft_leader(n->raft));
	env[k++] = e_node;
	env[k++] = e_role;
	env[k++] = e_term;
	env[k++] = e_leader;
	env[k] = NULL;

	char *args[] = {(char *)"sh", (char *)"-c", (char *)cmd, NULL};
	uv_stdio_container_t stdio[3] = {
	        {.flags = UV_IGNORE},
	        {.flags = UV_INHERIT_FD, .data.fd = 1},
	        {.flags = UV_INHERIT_FD, .data.fd = 2},
	};
	uv_process_options_t po = {
	        .exit_cb = hook_exited,
	        .file = "/bin/sh",
	        .args = args,
	        .env = env,
	        .flags = UV_PROCESS_DETACHED,
	        .stdio_count = 3,
	        .stdio = stdio,
	};
	h->n = n;
	h->which = which;
	h->started = uv_now(n->loop);
	h->proc.data = h->timer.data = h;
	uv_timer_init(n->loop, &h->timer);
	h->open = 1;
	int rc = uv_spawn(n->loop, &h->proc, &po);
	free(env); /* libuv copied what it needs before returning */
	h->open = 2; /* a failed uv_spawn still needs uv_close (libuv) */
	h->next = n->hooks;
	n->hooks = h;
	if (rc != 0) {
		node__log(n, QFS_LOG_WARN, "hook %s could not start: %s", which, uv_strerror(rc));
		qfs_metric_inc(QFS_M_HOOKS_FAILED);
		close_hook(h);
		return;
	}
	node__log(n, QFS_LOG_INFO, "hook %s started (pid %d, role %s, term %llu, leader %llu)",
	          which, h->proc.pid, role, (unsigned long long)raft_current_term(n->raft),
	          (unsigned long long)raft_leader(n->raft));
	uv_timer_start(&h->timer, on_timeout, n->opts.hook_timeout_ms, 0);
}

void node__hooks_on_soft_state(struct node *n)
{
	enum raft_role role = raft_role(n->raft);
	raft_id leader = raft_leader(n->raft);
	bool run_leader = false, run_follower = false;

	if (role == RAFT_LEADER) {
		run_leader = n->hook_role != RAFT_LEADER;
		n->hook_role = RAFT_LEADER;
	} else if (n->hook_role == RAFT_LEADER) {
		/* Stepped down: whatever the leader held (a virtual IP) must go
		 * now, even before a new leader is known. */
		run_follower = true;
		n->hook_role = RAFT_FOLLOWER;
		n->hook_leader = leader;
	} else if (role == RAFT_FOLLOWER && leader != RAFT_NONE &&
	           (n->hook_role != RAFT_FOLLOWER || leader != n->hook_leader)) {
		run_follower = true;
		n->hook_role = RAFT_FOLLOWER;
		n->hook_leader = leader;
	}
	if (run_leader && n->on_leader != NULL)
		spawn(n, "on-leader", n->on_leader, "leader");
	if (run_follower && n->on_follower != NULL)
		spawn(n, "on-follower", n->on_follower, "follower");
}

void node__hooks_stop(struct node *n)
{
	/* A hook still running is left to finish on its own (it may be half
	 * way through moving an address); only our handles close. */
	while (n->hooks != NULL) {
		struct node__hook *h = n->hooks;
		node__log(n, QFS_LOG_INFO, "hook %s (pid %d) still running at stop; left to finish",
		          h->which, h->proc.pid);
		uv_timer_stop(&h->timer);
		close_hook(h);
	}
}
