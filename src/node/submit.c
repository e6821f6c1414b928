/* submit.c: proposals, forwarding to the leader, client sessions, and their timeouts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node_int.h"
#include "quorumfs/wire_cmd.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/metrics.h"
#include "quorumfs/wire_forward.h"

static void unlink_submit(struct node__submit *s)
{
	s->prev->next = s->next;
	s->next->prev = s->prev;
	s->next = s->prev = s;
}

/* Counts @s's outcome for /metrics (quorumfs_proposals_total). */
static void count_outcome(const struct node__submit *s, int err)
{
	switch (err) {
	case 0:
		qfs_metric_inc(QFS_M_PROPOSAL_OK);
		qfs_metric_observe(QFS_H_COMMIT, (double)(uv_hrtime() - s->born_ns) / 1e9);
		break;
	case -EROFS:
		qfs_metric_inc(QFS_M_PROPOSAL_NO_QUORUM);
		break;
	case -ETIMEDOUT:
		qfs_metric_inc(QFS_M_PROPOSAL_TIMEOUT);
		break;
	case -ENOSPC:
		qfs_metric_inc(QFS_M_PROPOSAL_NO_SPACE);
		break;
	case QFS_ESHUTDOWN:
		qfs_metric_inc(QFS_M_PROPOSAL_SHUTDOWN);
		break;
	default:
		qfs_metric_inc(QFS_M_PROPOSAL_ERROR);
		break;
	}
}

static void free_submit(struct node__submit *s)
{
	free(s->buf);
	free(s);
}

/* Defers a completion to the check callback: a function that takes a
 * callback never runs it from inside itself (node.h). */
static void finish_later(struct node *n, struct node__submit *s, int err)
{
	unlink_submit(s);
	s->done_err = err;
	s->next = n->finished;
	n->finished = s;
	node__kick(n);
}

void node__submits_run_finished(struct node *n)
{
	while (n->finished != NULL) {
		struct node__submit *s = n->finished;
		n->finished = s->next;
		count_outcome(s, s->done_err);
		if (s->at_commit) {
			struct fsm_result res = {0}; /* the apply has not run: no attributes */
			s->cb(s->arg, 0, &res);
		} else {
			s->cb(s->arg, s->done_err, NULL);
		}
		free_submit(s);
	}
}

/* How long a proposed or forwarded command may go unapplied before it is
 * sent again (its frame or the leader's entry may have been lost). Not
 * shorter than an election timeout, so a healthy but busy leader is rarely
 * sent duplicates (which sessions would drop anyway). */
static uint64_t resend_after(const struct node *n)
{
	uint64_t t = n->opts.commit_timeout_ms / 4;
	return t > n->opts.election_ms ? t : n->opts.election_ms;
}

/* Proposes @s here, or forwards it to the leader. Returns false, leaving
 * it waiting (not in flight), when no leader is known, the frame could not
 * be queued, or the core refused for now (a transfer). */
static bool try_send(struct node *n, struct node__submit *s)
{
	raft_id leader = raft_leader(n->raft);
	uint64_t now = uv_now(n->loop);

	if (leader == RAFT_NONE || n->failed)
		return false;
	if (leader == n->opts.id) {
		int64_t idx = raft_propose(n->raft, s->buf, s->len);
		if (idx <= 0)
			return false; /* RAFT_EBUSY, RAFT_ENOTLEADER: next tick */
		s->sent = s->in_flight = true;
		s->resend_at = now + resend_after(n);
		node__kick(n);
		return true;
	}
	size_t len = WIRE_FORWARD_HEADER + s->len;
	uint8_t *f = net_frame_alloc(len);
	if (f == NULL)
		return false;
	wire_forward_encode_header(s->serial, f);
	memcpy(f + WIRE_FORWARD_HEADER, s->buf, s->len);
	if (net_send_frame(n->net, leader, f, len) != 0)
		return false;
	s->sent = s->in_flight = true;
	s->resend_at = now + resend_after(n);
	return true;
}

/*
 * Sends every waiting submit, oldest first, and stops at the first that
 * cannot go: a session keeps only its latest serial, so a serial that
 * reached the log after a later one would be refused (QFS_ESTALE) instead
 * of applied. Keeping the send order keeps the log order.
 */
static void pump(struct node *n)
{
	for (struct node__submit *s = n->submits.next; s != &n->submits; s = s->next)
		if (!s->in_flight && !try_send(n, s))
			return;
}

int node_submit(struct node *n, const struct wire_cmd *cmd, node_result_fn cb, void *arg)
{
	return node_submit_flags(n, cmd, 0, cb, arg);
}

int node_submit_flags(struct node *n, const struct wire_cmd *cmd, unsigned flags,
                      node_result_fn cb, void *arg)
{
	struct wire_cmd c = *cmd;
	struct timespec ts;
	size_t cap, len;
	int rc;

	if (n->stopping)
		return QFS_ESHUTDOWN;
	clock_gettime(CLOCK_REALTIME, &ts);
	c.client_id = n->client_id;
	c.serial = n->next_serial;
	c.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	cap = wire_cmd_encoded_max(&c);
	if (c.data_len > n->opts.max_value_size + NODE__CMD_OVERHEAD)
		return -EFBIG; /* before allocating its copy */
	struct node__submit *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->buf = malloc(cap);
	if (s->buf == NULL) {
		free(s);
		return -ENOMEM;
	}
	rc = wire_cmd_encode(&c, s->buf, cap, &len);
	if (rc != 0) {
		free_submit(s);
		return rc;
	}
	if (len > n->opts.max_value_size + NODE__CMD_OVERHEAD ||
	    len + WIRE_FORWARD_HEADER > NET_MAX_FRAME_DEFAULT / 2) {
		free_submit(s);
		return -EFBIG;
	}
	n->next_serial++;
	s->len = len;
	s->serial = c.serial;
	s->cb = cb;
	s->arg = arg;
	s->at_commit_ok = (flags & NODE_SUBMIT_AT_COMMIT) != 0;
	s->deadline = uv_now(n->loop) + n->opts.commit_timeout_ms;
	s->born_ns = uv_hrtime();
	s->prev = n->submits.prev;
	s->next = &n->submits;
	n->submits.prev->next = s;
	n->submits.prev = s;
	if (n->failed) {
		finish_later(n, s, -EIO);
		return 0;
	}
	pthread_mutex_lock(&n->w.mu);
	bool full = n->w.disk_full;
	pthread_mutex_unlock(&n->w.mu);
	if (full) {
		finish_later(n, s, -ENOSPC);
		return 0;
	}
	pump(n);
	return 0;
}

/* Contact is judged over this many heartbeats: one lost or late heartbeat
 * does not count as a loss. */
#define CONTACT_HEARTBEATS 3

void node__contact_on_tick(struct node *n)
{
	const struct raft_conf *conf;
	unsigned voters = 0, heard = 0;

	if (raft_role(n->raft) != RAFT_LEADER)
		return;
	conf = raft_configuration(n->raft);
	for (unsigned i = 0; i < conf->n; i++) {
		struct raft_progress_info pi;
		if (conf->servers[i].role != RAFT_VOTER)
			continue;
		voters++;
		if (conf->servers[i].id == n->opts.id)
			heard++;
		else if (raft_progress(n->raft, conf->servers[i].id, &pi) == 0 &&
		         pi.ticks_since_contact <= CONTACT_HEARTBEATS)
			heard++;
	}
	if (voters > 0 && heard > voters / 2)
		n->in_contact_at = uv_now(n->loop);
}

int node_writable(struct node *n)
{
	uint64_t out_for;
	bool full;

	if (n->stopping)
		return QFS_ESHUTDOWN;
	if (n->failed)
		return -EIO;
	pthread_mutex_lock(&n->w.mu);
	full = n->w.disk_full;
	pthread_mutex_unlock(&n->w.mu);
	if (full)
		return -ENOSPC;
	out_for = uv_now(n->loop) - n->in_contact_at;
	if (out_for <= (uint64_t)CONTACT_HEARTBEATS * n->opts.heartbeat_ms)
		return 0;
	return out_for >= n->opts.commit_timeout_ms ? -EROFS : -EAGAIN;
}

static struct node__submit *find_serial(struct node *n, uint64_t serial)
{
	for (struct node__submit *s = n->submits.next; s != &n->submits; s = s->next)
		if (s->serial == serial)
			return s;
	return NULL;
}

/* The first apply of (our client id, serial) in log order completes it:
 * the real apply, or a duplicate's stored result, or QFS_ESTALE in res.err
 * when a retry came after a later serial (then it was never applied). */
void node__submits_on_applied(struct node *n, const struct node__apply *a)
{
	struct wire_cmd c;
	if (a->len < 4 || wire_cmd_decode(a->data, a->len, &c) != 0 || c.client_id != n->client_id)
		return;
	struct node__submit *s = find_serial(n, c.serial);
	if (s == NULL)
		return;
	unlink_submit(s);
	count_outcome(s, 0);
	s->cb(s->arg, 0, &a->res);
	free_submit(s);
}

/* What the node knows at the commit of @c (one of its own commands), after
 * the entries before it were walked (node__submits_on_committed). */
static void commit_view(struct node *n, const struct wire_cmd *c, struct node__commit_view *v)
{
	struct fsm_attr a;

	v->max_value_size = n->opts.max_value_size;
	v->removal_pending = n->removal_upto > n->applied;
	v->serial_unknown = c->serial < n->serial_floor;
	v->last_serial = n->commit_serial;
	v->file_exists = false;
	v->file_mode = 0;
	/* Only when it can matter: a read transaction costs microseconds. The
	 * tree read is at some index in [applied, this entry's): the writer
	 * may be applying the entries between, and none of them can remove
	 * an inode (removal_pending is false). */
	if (!v->removal_pending && !v->serial_unknown && node_getattr(n, c->ino, &a) == 0) {
		v->file_exists = true;
		v->file_mode = a.mode;
	}
}

/*
 * Answers at commit (answer.c has the reasoning): walks @b's committed
 * entries in log order, before the writer applies them, keeping what the
 * node knows at each (inode removals not yet applied, this client's last
 * committed serial), and answers each submit that opted in and whose
 * outcome is fixed. The answer is deferred to the check callback like any
 * completion; the submit leaves the list now, so its apply (or a duplicate
 * of it, later in the log) finds nothing to answer.
 */
void node__submits_on_committed(struct node *n, const struct node__batch *b)
{
	if (b->install) {
		/* The tree jumps to the snapshot, and its session table may hold
		 * serials of ours this node never saw committed. */
		if (b->install_meta.index > n->removal_upto)
			n->removal_upto = b->install_meta.index;
		n->serial_floor = n->next_serial;
	}
	for (unsigned i = 0; i < b->n_apply; i++) {
		const struct node__apply *a = &b->apply[i];
		struct wire_cmd c;
		bool ours = a->type == RAFT_ENTRY_NORMAL && a->index > n->applied &&
		            wire_cmd_decode(a->data, a->len, &c) == 0 && c.client_id == n->client_id;
		if (ours) {
			struct node__submit *s = find_serial(n, c.serial);
			struct node__commit_view v;
			if (s != NULL && s->at_commit_ok && !n->failed) {
				commit_view(n, &c, &v);
				if (node__answer_at_commit(&c, &v)) {
					s->at_commit = true;
					qfs_metric_inc(QFS_M_ANSWERED_AT_COMMIT);
					finish_later(n, s, 0);
					if (a->index > n->answered_upto)
						n->answered_upto = a->index;
				}
			}
			if (c.serial > n->commit_serial)
				n->commit_serial = c.serial;
		}
		if (!node__entry_keeps_inodes(a->type, a->data, a->len) && a->index > n->removal_upto)
			n->removal_upto = a->index;
	}
}

/* After a snapshot install: the submit of @serial, if it still waits, was
 * applied inside the snapshot (its entry never reached this node on its
 * own), so its session's stored result is its answer. Older serials that
 * still wait are left to their resends: the table keeps only the latest. */
void node__submits_on_install(struct node *n, uint64_t serial, const struct fsm_result *res)
{
	struct node__submit *s = find_serial(n, serial);
	if (s == NULL)
		return;
	node__log(n, QFS_LOG_INFO,
	          "change %llu was applied inside the installed snapshot: answered from the "
	          "session table",
	          (unsigned long long)serial);
	qfs_metric_inc(QFS_M_SESSION_ANSWERS);
	unlink_submit(s);
	count_outcome(s, 0);
	s->cb(s->arg, 0, res);
	free_submit(s);
}

void node__submits_on_tick(struct node *n)
{
	uint64_t now = uv_now(n->loop);
	bool resend = false;
	struct node__submit *s = n->submits.next;
	while (s != &n->submits) {
		struct node__submit *next = s->next;
		if (now >= s->deadline) {
			finish_later(n, s, s->sent ? -ETIMEDOUT : -EROFS);
		} else if (resend || (s->in_flight && now >= s->resend_at)) {
			/* Maybe lost on the way: send it again with the same
			 * serial (it applies once), and the later ones after
			 * it, so they stay in order. */
			resend = true;
			s->in_flight = false;
		}
		s = next;
	}
	pump(n); /* also what was not sent yet, or refused */
}

void node__submits_on_leader_change(struct node *n)
{
	/* An entry the old leader took may be lost: resend everything not yet
	 * applied here, in serial order, so sessions dedup what did commit. */
	for (struct node__submit *s = n->submits.next; s != &n->submits; s = s->next)
		s->in_flight = false;
	pump(n);
}

void node__submits_fail_all(struct node *n, int err)
{
	while (n->submits.next != &n->submits)
		finish_later(n, n->submits.next, err);
}

/* Leader side: propose a command a follower forwarded, and answer. */
void node__forward_recv(struct node *n, raft_id from, const void *frame, size_t len)
{
	uint64_t serial;
	const void *cmd;
	size_t cmd_len;
	struct wire_forward_result r = {0};
	uint8_t out[WIRE_FORWARD_RESULT_SIZE];

	if (wire_forward_decode(frame, len, &serial, &cmd, &cmd_len) != 0)
		return;
	r.serial = serial;
	r.leader = raft_leader(n->raft);
	if (cmd_len > n->opts.max_value_size + NODE__CMD_OVERHEAD) {
		r.status = -EFBIG;
	} else {
		int64_t idx = raft_propose(n->raft, cmd, cmd_len);
		if (idx > 0) {
			r.index = (uint64_t)idx;
			node__kick(n);
		} else {
			r.status = idx == RAFT_ENOTLEADER ? QFS_ENOTLEADER
			           : idx == RAFT_EBUSY    ? QFS_EBUSY
			                                  : (int)idx;
		}
	}
	wire_forward_result_encode(&r, out);
	net_send(n->net, from, out, sizeof(out));
}

/* Follower side: the leader's answer. Success needs nothing: the submit
 * completes when its entry applies here. A refusal makes it wait for the
 * next tick (and the leader it names). */
void node__forward_result_recv(struct node *n, raft_id from, const void *frame, size_t len)
{
	struct wire_forward_result r;
	if (wire_forward_result_decode(frame, len, &r) != 0)
		return;
	struct node__submit *s = find_serial(n, r.serial);
	if (s == NULL || r.status == 0)
		return;
	if (r.status == -EFBIG) {
		finish_later(n, s, -EFBIG);
		return;
	}
	s->in_flight = false;
}
