/* coord.c: this node's session (open, keepalive), the leader's expiry of lapsed sessions, lock requests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/node_coord.h"

/*
 * Times here are the loop's monotonic milliseconds (uv_now), never the wall
 * clock: a lease is a duration, and a wall clock that steps would shorten or
 * stretch it. Two clocks count one lease (node_coord.h): the node's own,
 * from the send of its keepalive, which ends first; and the leader's, from
 * when that keepalive applied on the leader (or from when the leader took
 * office, whichever is later), which ends after it.
 */

/* What this node knows of one node's session (every node tracks all, so a
 * new leader has them). */
struct view {
	uint64_t node;
	uint64_t session;
	uint64_t ka_index; /* the keepalive the expiry must name */
	uint32_t lease_ms;
	uint64_t seen_at;   /* uv_now() when that keepalive applied here */
	uint64_t expire_at; /* an expiry was proposed then (0: none); retried */
};

enum job_kind { JOB_LOCK, JOB_UNLOCK_HANDLE, JOB_EPHEMERAL };

/* A coordination command on its way: waiting for the session, or submitted. */
struct job {
	struct job *next;
	struct node *n;
	enum job_kind kind;
	struct wire_cmd cmd;
	node_lock_fn lock_cb;
	node_done_fn done_cb;
	node_result_fn res_cb;
	void *arg;
	uint64_t deadline; /* while waiting for a session */
	unsigned tries;
};

#define MAX_VIEWS (2 * NODE_MAX_PEERS)
#define UNLOCK_TRIES 5

struct node__coord {
	uint32_t lease_ms;
	uint64_t session;     /* ours; 0: none open (yet, or any more) */
	bool ka_in_flight;    /* one keepalive at a time */
	uint64_t ka_sent_at;  /* when the one in flight was sent */
	uint64_t next_ka_at;  /* when to send the next */
	uint64_t fresh_until; /* our session surely holds until then */
	uint64_t leader_since; /* when this node became leader; 0: not leader */
	uint64_t last_tick;    /* when node__coord_on_tick last ran */
	struct view views[MAX_VIEWS];
	unsigned n_views;
	struct job *waiting; /* jobs that need a session; FIFO */
	node_lock_change_fn fn;
	void *fn_arg;
};

static uint64_t now_ms(struct node *n)
{
	return uv_now(n->loop);
}

static struct view *view_of(struct node__coord *c, uint64_t node, bool add)
{
	for (unsigned i = 0; i < c->n_views; i++)
		if (c->views[i].node == node)
			return &c->views[i];
	if (!add || c->n_views == MAX_VIEWS)
		return NULL;
	struct view *v = &c->views[c->n_views++];
	memset(v, 0, sizeof(*v));
	v->node = node;
	return v;
}

static void view_drop(struct node__coord *c, uint64_t node)
{
	for (unsigned i = 0; i < c->n_views; i++)
		if (c->views[i].node == node) {
			c->views[i] = c->views[--c->n_views];
			return;
		}
}

static void lock_changed(struct node *n, uint64_t ino)
{
	if (n->coord->fn != NULL)
		n->coord->fn(n->coord->fn_arg, ino);
}

/* ------------------------------------------------------------------------ */
/* Loading what the tree holds (start, snapshot install)                    */

struct load_ctx {
	struct node *n;
	uint64_t now;
};

static int load_one(void *arg, const struct fsm_node_session *s)
{
	struct load_ctx *l = arg;
	struct node__coord *c = l->n->coord;
	struct view *v = view_of(c, s->node, true);
	if (v == NULL)
		return 0;
	v->session = s->session;
	v->ka_index = s->keepalive_index;
	v->lease_ms = s->lease_ms;
	/* A full lease from now: we cannot know when it was last renewed. */
	v->seen_at = l->now;
	v->expire_at = 0;
	return 0;
}

static int load_run(MDB_txn *txn, void *arg)
{
	struct load_ctx *l = arg;
	return fsm_sessions(l->n->fsm, txn, load_one, l);
}

static void load_views(struct node *n)
{
	struct load_ctx l = {n, now_ms(n)};
	n->coord->n_views = 0;
	int rc = store_read(n->store, load_run, &l);
	if (rc != 0)
		node__log(n, QFS_LOG_WARN, "reading the node sessions: %s", qfs_strerror(rc));
}

int node__coord_start(struct node *n)
{
	struct node__coord *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->lease_ms = n->opts.session_lease_ms ? n->opts.session_lease_ms
	                                       : NODE_DEFAULT_SESSION_LEASE_MS;
	n->coord = c;
	load_views(n);
	return 0;
}

static void fail_waiting(struct node *n, int err);

void node__coord_stop(struct node *n)
{
	if (n->coord == NULL)
		return;
	fail_waiting(n, QFS_ESHUTDOWN);
}

void node__coord_free(struct node *n)
{
	free(n->coord);
	n->coord = NULL;
}

void node__coord_on_install(struct node *n)
{
	load_views(n);
	lock_changed(n, 0);
}

/* ------------------------------------------------------------------------ */
/* Jobs                                                                     */

static void job_finish(struct job *j, int err, const struct fsm_result *res)
{
	switch (j->kind) {
	case JOB_LOCK:
		if (err == 0)
			err = res->err;
		j->lock_cb(j->arg, err, err == 0 ? res->offset : 0);
		break;
	case JOB_UNLOCK_HANDLE:
		if (err == 0)
			err = res->err;
		if (j->done_cb != NULL)
			j->done_cb(j->arg, err);
		break;
	case JOB_EPHEMERAL:
		j->res_cb(j->arg, err, res);
		break;
	}
	free(j);
}

static void session_lost(struct node *n);
static int job_submit(struct job *j);
static bool fresh(struct node *n);
static struct job *job_new(struct node *n, enum job_kind kind, uint64_t ino);

static void drop_done(void *arg, int err, uint64_t token)
{
	(void)arg, (void)err, (void)token;
}

/* A grant that arrives when our session may already have expired is not
 * handed out: another node's waiter may hold it by now (the expiry can be
 * in the log after it). It is unlocked again (best effort; the expiry
 * releases it anyway). */
static bool refuse_stale_grant(struct job *j)
{
	struct node *n = j->n;
	if (fresh(n))
		return false;
	struct job *u = job_new(n, JOB_LOCK, j->cmd.ino);
	if (u != NULL) {
		u->cmd = j->cmd;
		u->cmd.flags &= ~WIRE_LOCK_TYPE; /* WIRE_LOCK_UNLOCK */
		u->lock_cb = drop_done;
		if (job_submit(u) != 0)
			free(u);
	}
	node__log(n, QFS_LOG_WARN,
	          "a lock granted at a time our session may have expired is refused");
	return true;
}

static void job_done(void *arg, int err, const struct fsm_result *res)
{
	struct job *j = arg;
	struct node *n = j->n;
	bool unlock = j->kind == JOB_UNLOCK_HANDLE ||
	              (j->kind == JOB_LOCK && (j->cmd.flags & WIRE_LOCK_TYPE) == WIRE_LOCK_UNLOCK);

	if (err == 0 && res->err == -ENOLCK && j->cmd.co.session == n->coord->session)
		session_lost(n); /* the tree says our session is gone */
	if (j->kind == JOB_LOCK && !unlock && err == 0 && res->err == 0 && refuse_stale_grant(j)) {
		j->lock_cb(j->arg, -ENOLCK, 0);
		free(j);
		return;
	}
	/* An unlock that did not apply is sent again (it is idempotent): a lock
	 * left behind would otherwise last until the session ends. */
	if (unlock && !n->stopping && j->tries < UNLOCK_TRIES &&
	    (err == -EROFS || err == -ETIMEDOUT || (err == 0 && res->err == QFS_ESTALE))) {
		j->tries++;
		if (job_submit(j) == 0)
			return;
	}
	job_finish(j, err, res);
}

static int job_submit(struct job *j)
{
	struct node *n = j->n;
	j->cmd.co.node = n->opts.id;
	if (j->cmd.co.session == 0)
		j->cmd.co.session = n->coord->session;
	return node_submit(n, &j->cmd, job_done, j);
}

/* Whether a lock can be asked for now: the session is open and, as far as
 * this node can tell, has not expired. */
static bool fresh(struct node *n)
{
	struct node__coord *c = n->coord;
	return c->session != 0 && now_ms(n) < c->fresh_until;
}

static int job_start(struct job *j)
{
	struct node *n = j->n;
	struct node__coord *c = n->coord;
	bool needs_session = j->kind == JOB_EPHEMERAL ||
	                     (j->kind == JOB_LOCK &&
	                      (j->cmd.flags & WIRE_LOCK_TYPE) != WIRE_LOCK_UNLOCK);
	int rc;

	if (n->stopping) {
		free(j);
		return QFS_ESHUTDOWN;
	}
	if (!needs_session) {
		rc = job_submit(j);
		if (rc != 0)
			free(j);
		return rc;
	}
	if (c->session != 0 && !fresh(n)) {
		/* We cannot reach a majority (or could not lately): our session
		 * may have ended elsewhere. Granting now could grant what the
		 * cluster already gave to another node's waiter. */
		free(j);
		return -ENOLCK;
	}
	if (c->session == 0) {
		struct job **p = &c->waiting;
		while (*p != NULL)
			p = &(*p)->next;
		j->deadline = now_ms(n) + n->opts.commit_timeout_ms;
		*p = j;
		return 0;
	}
	rc = job_submit(j);
	if (rc != 0)
		free(j);
	return rc;
}

/* Jobs that waited for a session go now (or fail, if it did not come in time). */
static void run_waiting(struct node *n, bool only_expired)
{
	struct node__coord *c = n->coord;
	struct job **p = &c->waiting;
	uint64_t now = now_ms(n);
	while (*p != NULL) {
		struct job *j = *p;
		if (only_expired && now < j->deadline) {
			p = &j->next;
			continue;
		}
		*p = j->next;
		int rc = only_expired ? -ENOLCK : job_submit(j);
		if (rc != 0)
			job_finish(j, rc, NULL);
	}
}

static void fail_waiting(struct node *n, int err)
{
	struct node__coord *c = n->coord;
	while (c->waiting != NULL) {
		struct job *j = c->waiting;
		c->waiting = j->next;
		job_finish(j, err, NULL);
	}
}

static struct job *job_new(struct node *n, enum job_kind kind, uint64_t ino)
{
	struct job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return NULL;
	j->n = n;
	j->kind = kind;
	j->cmd.ino = ino;
	return j;
}

int node_lock(struct node *n, const struct node_lock_req *r, node_lock_fn cb, void *arg)
{
	struct job *j = job_new(n, JOB_LOCK, r->ino);
	if (j == NULL)
		return -ENOMEM;
	j->cmd.type = WIRE_CMD_LOCK;
	j->cmd.co.owner = r->owner;
	j->cmd.co.fh = r->fh;
	j->cmd.co.start = r->start;
	j->cmd.co.end = r->end;
	j->cmd.co.pid = r->pid;
	j->cmd.flags = r->flags;
	j->lock_cb = cb;
	j->arg = arg;
	return job_start(j);
}

int node_unlock_handle(struct node *n, uint64_t ino, uint64_t owner, uint64_t fh,
                       node_done_fn cb, void *arg)
{
	struct job *j = job_new(n, JOB_UNLOCK_HANDLE, ino);
	if (j == NULL)
		return -ENOMEM;
	j->cmd.type = WIRE_CMD_UNLOCK_HANDLE;
	j->cmd.co.owner = owner;
	j->cmd.co.fh = fh;
	j->done_cb = cb;
	j->arg = arg;
	return job_start(j);
}

int node_set_ephemeral(struct node *n, uint64_t ino, node_result_fn cb, void *arg)
{
	struct job *j = job_new(n, JOB_EPHEMERAL, ino);
	if (j == NULL)
		return -ENOMEM;
	j->cmd.type = WIRE_CMD_EPHEMERAL;
	j->res_cb = cb;
	j->arg = arg;
	return job_start(j);
}

/* ------------------------------------------------------------------------ */
/* Our session                                                              */

static void session_lost(struct node *n)
{
	struct node__coord *c = n->coord;
	if (c->session != 0)
		node__log(n, QFS_LOG_WARN,
		          "session %llu ended; its locks and ephemeral files are "
		          "released; opening a new one",
		          (unsigned long long)c->session);
	c->session = 0;
	c->fresh_until = 0;
	c->next_ka_at = 0; /* open the new one at the next tick */
}

static void keepalive_done(void *arg, int err, const struct fsm_result *res)
{
	struct node *n = arg;
	struct node__coord *c = n->coord;
	uint64_t now = now_ms(n);

	c->ka_in_flight = false;
	if (n->stopping)
		return;
	if (err == 0 && res->err == 0) {
		bool opened = c->session != res->offset;
		c->session = res->offset;
		c->fresh_until = c->ka_sent_at + c->lease_ms;
		c->next_ka_at = c->ka_sent_at + c->lease_ms / 3;
		if (opened) {
			node__log(n, QFS_LOG_INFO, "session %llu open (lease %u ms)",
			          (unsigned long long)c->session, c->lease_ms);
			run_waiting(n, false);
		}
		return;
	}
	if (err == 0 && res->err == -ESTALE) {
		session_lost(n);
		return;
	}
	/* No quorum or no answer in time: try again soon; fresh_until runs
	 * out meanwhile if this goes on. */
	c->next_ka_at = now + (c->lease_ms / 10 ? c->lease_ms / 10 : 1);
}

static void send_keepalive(struct node *n)
{
	struct node__coord *c = n->coord;
	struct wire_cmd cmd = {.type = WIRE_CMD_SESSION_KEEPALIVE};
	uint64_t now = now_ms(n);

	cmd.co.node = n->opts.id;
	cmd.co.session = c->session;
	cmd.mode = c->lease_ms;
	cmd.offset = now;
	if (node_submit(n, &cmd, keepalive_done, n) == 0) {
		c->ka_in_flight = true;
		c->ka_sent_at = now;
	} else {
		c->next_ka_at = now + c->lease_ms / 10;
	}
}

/* ------------------------------------------------------------------------ */
/* The leader's expiry                                                      */

static void expire_done(void *arg, int err, const struct fsm_result *res)
{
	(void)arg;
	(void)err;
	(void)res; /* what applied is seen by node__coord_on_applied */
}

static void leader_expire(struct node *n, uint64_t now)
{
	struct node__coord *c = n->coord;
	for (unsigned i = 0; i < c->n_views; i++) {
		struct view *v = &c->views[i];
		uint64_t from = v->seen_at > c->leader_since ? v->seen_at : c->leader_since;
		if (now < from + v->lease_ms)
			continue;
		/* Once per lease at most: an expiry that did not commit (or
		 * lost the race to a keepalive) is asked again later. */
		if (v->expire_at != 0 && now < v->expire_at + v->lease_ms)
			continue;
		struct wire_cmd cmd = {.type = WIRE_CMD_SESSION_EXPIRE};
		cmd.co.node = v->node;
		cmd.co.session = v->session;
		cmd.offset = v->ka_index;
		if (node_submit(n, &cmd, expire_done, NULL) == 0) {
			v->expire_at = now;
			node__log(n, QFS_LOG_WARN,
			          "session %llu of node %llu: no keepalive for %u ms, "
			          "expiring it",
			          (unsigned long long)v->session, (unsigned long long)v->node,
			          v->lease_ms);
		}
	}
}

void node__coord_on_tick(struct node *n)
{
	struct node__coord *c = n->coord;
	uint64_t now = now_ms(n);

	if (n->stopping || n->failed)
		return;
	/* This process was not running (SIGSTOP, a VM pause): the keepalives
	 * of others did not apply here meanwhile, which says nothing about
	 * them. A leader counts their leases afresh, as a new leader does. */
	if (c->last_tick != 0 && now - c->last_tick > n->opts.election_ms && c->leader_since != 0)
		c->leader_since = now;
	c->last_tick = now;
	if (!c->ka_in_flight && now >= c->next_ka_at)
		send_keepalive(n);
	if (c->waiting != NULL)
		run_waiting(n, true);
	if (raft_leader(n->raft) == n->opts.id) {
		if (c->leader_since == 0)
			c->leader_since = now;
		leader_expire(n, now);
	} else {
		c->leader_since = 0;
	}
}

/* ------------------------------------------------------------------------ */
/* What applied                                                             */

void node__coord_on_applied(struct node *n, const struct node__apply *a)
{
	struct node__coord *c = n->coord;
	struct wire_cmd cmd;

	if (a->len < 2 || wire_cmd_decode(a->data, a->len, &cmd) != 0 ||
	    cmd.type < WIRE_CMD_COORD_MIN || cmd.type > WIRE_CMD_COORD_MAX || a->res.err != 0)
		return;
	switch (cmd.type) {
	case WIRE_CMD_SESSION_KEEPALIVE: {
		struct view *v = view_of(c, cmd.co.node, true);
		bool replaced = v != NULL && v->session != 0 && v->session != a->res.offset;
		if (v != NULL) {
			v->session = a->res.offset;
			v->ka_index = a->index;
			v->lease_ms = cmd.mode;
			v->seen_at = now_ms(n);
			v->expire_at = 0;
		}
		if (cmd.co.session == 0 || replaced)
			lock_changed(n, 0); /* a former session of that node ended */
		break;
	}
	case WIRE_CMD_SESSION_EXPIRE:
		view_drop(c, cmd.co.node);
		if (cmd.co.node == n->opts.id && cmd.co.session == c->session)
			session_lost(n);
		lock_changed(n, 0);
		break;
	case WIRE_CMD_LOCK:
		/* An unlock, or a lock that replaced a write lock with a read
		 * lock, may let a waiter in. */
		if ((cmd.flags & WIRE_LOCK_TYPE) != WIRE_LOCK_WRITE)
			lock_changed(n, cmd.ino);
		break;
	case WIRE_CMD_UNLOCK_HANDLE:
		lock_changed(n, cmd.ino);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */

struct cq {
	struct node *n;
	int op;
	const struct fsm_lock *want;
	struct fsm_lock *out;
	uint64_t ino;
	bool this_node;
	uint64_t *node;
};

static int cq_run(MDB_txn *txn, void *arg)
{
	struct cq *q = arg;
	switch (q->op) {
	case 0:
		return fsm_lock_test(q->n->fsm, txn, q->want, q->out);
	case 1:
		return fsm_lock_newest(q->n->fsm, txn, q->ino, q->this_node ? q->n->opts.id : 0,
		                       q->out);
	default:
		return fsm_ephemeral_node(q->n->fsm, txn, q->ino, q->node);
	}
}

int node_lock_test(struct node *n, const struct fsm_lock *want, struct fsm_lock *holder)
{
	struct fsm_lock w = *want;
	w.node = n->opts.id;
	struct cq q = {.n = n, .op = 0, .want = &w, .out = holder};
	return store_read(n->store, cq_run, &q);
}

int node_lock_newest(struct node *n, uint64_t ino, bool this_node, struct fsm_lock *out)
{
	struct cq q = {.n = n, .op = 1, .ino = ino, .this_node = this_node, .out = out};
	return store_read(n->store, cq_run, &q);
}

int node_ephemeral_node(struct node *n, uint64_t ino, uint64_t *node)
{
	struct cq q = {.n = n, .op = 2, .ino = ino, .node = node};
	return store_read(n->store, cq_run, &q);
}

uint64_t node_id(const struct node *n)
{
	return n->opts.id;
}

void node_on_lock_change(struct node *n, node_lock_change_fn fn, void *arg)
{
	n->coord->fn = fn;
	n->coord->fn_arg = arg;
}
