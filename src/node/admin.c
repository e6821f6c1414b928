/* admin.c: the node's status, its JSON rendering, and the admin socket (answered here or by the
 * leader). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/wire_admin.h"
#include "quorumfs/wire_key.h"
#include "quorumfs/wire_peer.h"

void node__heard(struct node *n, raft_id from)
{
	uint64_t now = uv_now(n->loop);
	unsigned free_slot = NODE_MAX_PEERS, oldest = 0;
	for (unsigned i = 0; i < NODE_MAX_PEERS; i++) {
		if (n->heard[i].id == from) {
			n->heard[i].at = now;
			return;
		}
		if (n->heard[i].id == 0 && free_slot == NODE_MAX_PEERS)
			free_slot = i;
		if (n->heard[i].at < n->heard[oldest].at)
			oldest = i;
	}
	/* Full (members came and went): the one heard from longest ago goes. */
	unsigned k = free_slot < NODE_MAX_PEERS ? free_slot : oldest;
	n->heard[k].id = from;
	n->heard[k].at = now;
}

/* Milliseconds since @id was last heard from, or -1: never. */
static int64_t heard_ago(struct node *n, raft_id id)
{
	for (unsigned i = 0; i < NODE_MAX_PEERS; i++)
		if (n->heard[i].id == id && id != 0)
			return (int64_t)(uv_now(n->loop) - n->heard[i].at);
	return -1;
}

void node_status(struct node *n, struct node_status *st)
{
	const struct raft_conf *conf = raft_configuration(n->raft);
	int64_t timeout = (int64_t)n->opts.election_ms;
	unsigned voters = 0, voters_heard = 0;
	memset(st, 0, sizeof(*st));
	st->id = n->opts.id;
	st->role = raft_role_name(raft_role(n->raft));
	st->term = raft_current_term(n->raft);
	st->leader = raft_leader(n->raft);
	st->commit = raft_commit_index(n->raft);
	st->applied = n->applied;
	st->last_index = raft_last_index(n->raft);
	st->snapshot_index = n->snapshot_index;
	st->first_index = raft_first_index(n->raft);
	st->verify_index = n->verify_index;
	st->verify_mismatches = n->verify_mismatches;
	bool leading = raft_role(n->raft) == RAFT_LEADER;
	for (unsigned i = 0; i < conf->n && i < NODE_MAX_PEERS; i++) {
		struct node_member_status *m = &st->members[st->n_members++];
		struct raft_progress_info pi;
		m->id = conf->servers[i].id;
		snprintf(m->address, sizeof(m->address), "%s", conf->servers[i].address);
		m->voter = conf->servers[i].role == RAFT_VOTER;
		if (raft_progress(n->raft, m->id, &pi) == 0)
			m->match = pi.match;
		/* Contact is what this node heard itself, not the core's
		 * progress: a new leader's progress starts at "just heard" for
		 * every member, dead ones too. */
		m->last_contact_ms = m->id == n->opts.id ? 0 : heard_ago(n, m->id);
		if (m->id == n->opts.id)
			m->contact = WIRE_ADMIN_CONTACT_SELF;
		else if (m->last_contact_ms >= 0 && m->last_contact_ms <= timeout)
			m->contact = WIRE_ADMIN_CONTACT_OK;
		else if (!leading && st->leader != RAFT_NONE && m->id != st->leader)
			/* Followers hear only from the leader (and candidates):
			 * silence from another follower says nothing. */
			m->contact = WIRE_ADMIN_CONTACT_UNKNOWN;
		else if (m->last_contact_ms < 0)
			m->contact = WIRE_ADMIN_CONTACT_NEVER;
		else
			m->contact = WIRE_ADMIN_CONTACT_LOST;
		if (m->voter) {
			voters++;
			if (m->contact == WIRE_ADMIN_CONTACT_OK || m->contact == WIRE_ADMIN_CONTACT_SELF)
				voters_heard++;
		}
		if (!leading && m->id == st->leader && m->contact == WIRE_ADMIN_CONTACT_OK)
			st->quorate = true;
	}
	if (leading)
		st->quorate = voters > 0 && voters_heard > voters / 2;
}

static void fill_wire(const struct node_status *st, struct wire_admin_status *ws)
{
	memset(ws, 0, sizeof(*ws));
	ws->id = st->id;
	snprintf(ws->role, sizeof(ws->role), "%s", st->role);
	ws->term = st->term;
	ws->leader = st->leader;
	ws->commit = st->commit;
	ws->applied = st->applied;
	ws->last_index = st->last_index;
	ws->snapshot_index = st->snapshot_index;
	ws->first_index = st->first_index;
	ws->quorate = st->quorate;
	ws->verify_index = st->verify_index;
	ws->verify_mismatches = st->verify_mismatches;
	for (unsigned i = 0; i < st->n_members && i < WIRE_ADMIN_MAX_MEMBERS; i++) {
		struct wire_admin_member *m = &ws->members[ws->n_members++];
		m->id = st->members[i].id;
		snprintf(m->address, sizeof(m->address), "%s", st->members[i].address);
		m->voter = st->members[i].voter;
		m->match = st->members[i].match;
		m->last_contact_ms = st->members[i].last_contact_ms;
		m->contact = st->members[i].contact;
	}
}

size_t node_status_json(const struct node_status *st, char *buf, size_t cap)
{
	struct wire_admin_status ws;
	fill_wire(st, &ws);
	return wire_admin_status_json(&ws, buf, cap);
}

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(o->buf + (o->len < o->cap ? o->len : o->cap),
	                  o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->len += (size_t)w;
}

size_t node_status_file(struct node *n, enum node_status_file which, char *buf, size_t cap)
{
	struct node_status st;
	struct out o = {.buf = buf, .cap = cap};
	if (cap > 0)
		buf[0] = '\0';
	node_status(n, &st);
	switch (which) {
	case NODE_FILE_STATUS:
		o.len = node_status_json(&st, buf, cap);
		put(&o, "\n");
		break;
	case NODE_FILE_MEMBERS:
		/* ID ADDRESS ROLE MATCH LAG CONTACT: one line each, for awk. */
		for (unsigned i = 0; i < st.n_members; i++) {
			const struct node_member_status *m = &st.members[i];
			bool leading = strcmp(st.role, "leader") == 0;
			put(&o, "%llu %s %s %llu ", (unsigned long long)m->id, m->address,
			    m->id == st.leader ? "leader" : m->voter ? "voter" : "learner",
			    (unsigned long long)m->match);
			if (leading)
				put(&o, "%llu ", (unsigned long long)(st.last_index > m->match
				                                              ? st.last_index - m->match
				                                              : 0));
			else
				put(&o, "- ");
			switch (m->contact) {
			case WIRE_ADMIN_CONTACT_SELF:
				put(&o, "self\n");
				break;
			case WIRE_ADMIN_CONTACT_OK:
				put(&o, "%lld ms ago\n", (long long)m->last_contact_ms);
				break;
			case WIRE_ADMIN_CONTACT_NEVER:
				put(&o, "never\n");
				break;
			case WIRE_ADMIN_CONTACT_LOST:
				put(&o, "lost %lld s ago\n", (long long)(m->last_contact_ms / 1000));
				break;
			default:
				put(&o, "-\n");
				break;
			}
		}
		break;
	case NODE_FILE_LEADER: {
		const char *addr = NULL;
		for (unsigned i = 0; i < st.n_members; i++)
			if (st.members[i].id == st.leader)
				addr = st.members[i].address;
		if (st.leader != 0)
			put(&o, "%llu %s\n", (unsigned long long)st.leader, addr ? addr : "?");
		else
			put(&o, "none\n");
		break;
	}
	default:
		break;
	}
	return o.len;
}

static void fill_status(struct node *n, struct wire_admin_status *ws)
{
	struct node_status st;
	node_status(n, &st);
	fill_wire(&st, ws);
}

/*
 * On the leader, before removing voter @id: would the voters left, of those
 * this leader heard from within an election timeout (itself included), still
 * be a majority of the new configuration? If not, the cluster would stop
 * until the unreachable ones come back, so the change is refused unless
 * the request says "force" (docs/wire-format.md, "Admin calls").
 * Returns 0, or -EHOSTUNREACH with @msg saying how many are reachable.
 */
static int remove_leaves_majority(struct node *n, uint64_t id, char *msg, size_t len)
{
	const struct raft_conf *conf = raft_configuration(n->raft);
	const struct raft_server *gone = raft_conf_get(conf, id);
	if (gone == NULL || gone->role != RAFT_VOTER)
		return 0; /* a learner, or not a member: the core answers */
	unsigned left = 0, reachable = 0;
	for (unsigned i = 0; i < conf->n; i++) {
		const struct raft_server *s = &conf->servers[i];
		if (s->role != RAFT_VOTER || s->id == id)
			continue;
		left++;
		int64_t ago = s->id == n->opts.id ? 0 : heard_ago(n, s->id);
		if (ago >= 0 && ago <= (int64_t)n->opts.election_ms)
			reachable++;
	}
	if (left == 0 || reachable >= left / 2 + 1)
		return 0;
	snprintf(msg, len,
	         "remove: refused: of the %u voters left without node %llu only %u %s reachable, "
	         "fewer than the %u a majority needs, so the cluster would stop; bring them back, "
	         "or use --force",
	         left, (unsigned long long)id, reachable, reachable == 1 ? "is" : "are",
	         left / 2 + 1);
	return -EHOSTUNREACH;
}

/* Runs @req here. Returns false if it must go to the leader instead. */
static bool execute(struct node *n, const struct wire_admin_req *req, struct wire_admin_resp *resp)
{
	int64_t rc = 0;
	memset(resp, 0, sizeof(*resp));
	switch (req->op) {
	case WIRE_ADMIN_STATUS:
		fill_status(n, &resp->status);
		resp->has_status = 1;
		return true;
	case WIRE_ADMIN_SNAPSHOT:
		rc = node_snapshot(n);
		break;
	case WIRE_ADMIN_ADD_LEARNER:
		rc = node_member_change(n, NODE_ADD_LEARNER, req->id, req->address);
		break;
	case WIRE_ADMIN_PROMOTE:
		rc = node_member_change(n, NODE_PROMOTE, req->id, NULL);
		break;
	case WIRE_ADMIN_REMOVE:
		if (raft_role(n->raft) == RAFT_LEADER && strcmp(req->address, "force") != 0) {
			rc = remove_leaves_majority(n, req->id, resp->message, sizeof(resp->message));
			if (rc != 0) {
				resp->err = (int32_t)rc;
				return true;
			}
		}
		rc = node_member_change(n, NODE_REMOVE, req->id, NULL);
		break;
	case WIRE_ADMIN_TRANSFER:
		rc = node_transfer(n, req->id);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc == QFS_ENOTLEADER)
		return false;
	if (rc == QFS_EBUSY && req->op != WIRE_ADMIN_TRANSFER) {
		/* The core takes one membership change at a time (docs/architecture.md, rule 5). */
		resp->err = (int32_t)rc;
		snprintf(resp->message, sizeof(resp->message),
		         "%s: refused: another membership change (up to log index %llu) is not "
		         "committed yet; nothing was changed, try again once it is",
		         wire_admin_op_name(req->op), (unsigned long long)raft_last_index(n->raft));
	} else if (rc < 0) {
		resp->err = (int32_t)rc;
		snprintf(resp->message, sizeof(resp->message), "%s: %s",
		         wire_admin_op_name(req->op), qfs_strerror((int)rc));
	} else {
		resp->index = (uint64_t)rc;
		snprintf(resp->message, sizeof(resp->message), "%s: done",
		         wire_admin_op_name(req->op));
	}
	return true;
}

static void answer(struct node *n, uint64_t conn, const struct wire_admin_resp *resp)
{
	uint8_t out[WIRE_ADMIN_FRAME_MAX];
	int len = wire_admin_resp_encode(resp, out, sizeof(out));
	if (len > 0 && n->admin != NULL)
		net_admin_send(n->admin, conn, out, (size_t)len);
}

static void answer_err(struct node *n, uint64_t conn, int err, const char *what)
{
	struct wire_admin_resp resp = {.err = err};
	snprintf(resp.message, sizeof(resp.message), "%s: %s", what, qfs_strerror(err));
	answer(n, conn, &resp);
}

/*
 * A request from quorumctl. Membership calls need the leader: a follower
 * forwards the request unchanged in a WIRE_FRAME_ADMIN frame and relays
 * the WIRE_FRAME_ADMIN_RESULT. One forwarded call at a time, so answers
 * cannot be confused (admin calls are rare and made by a person).
 */
static void on_admin(struct net_admin *a, uint64_t conn, const void *frame, size_t len, void *data)
{
	struct node *n = data;
	struct wire_admin_req req;
	struct wire_admin_resp resp;

	(void)a;
	if (node__keys_admin(n, conn, frame, len))
		return;
	if (wire_admin_req_decode(frame, len, &req) != 0) {
		answer_err(n, conn, QFS_EPROTO, "request");
		return;
	}
	if (execute(n, &req, &resp)) {
		answer(n, conn, &resp);
		return;
	}
	raft_id leader = raft_leader(n->raft);
	if (leader == RAFT_NONE || leader == n->opts.id) {
		answer_err(n, conn, QFS_ENOQUORUM, wire_admin_op_name(req.op));
		return;
	}
	if (n->admin_fwd) {
		answer_err(n, conn, QFS_EBUSY, wire_admin_op_name(req.op));
		return;
	}
	uint8_t *f = net_frame_alloc(1 + len);
	if (f == NULL) {
		answer_err(n, conn, -ENOMEM, wire_admin_op_name(req.op));
		return;
	}
	f[0] = WIRE_FRAME_ADMIN;
	memcpy(f + 1, frame, len);
	int rc = net_send_frame(n->net, leader, f, 1 + len);
	if (rc != 0) {
		answer_err(n, conn, rc, "forward to the leader");
		return;
	}
	n->admin_fwd = true;
	n->admin_fwd_conn = conn;
	n->admin_fwd_deadline = uv_now(n->loop) + n->opts.commit_timeout_ms;
}

/* On the leader: a call a follower forwarded. */
void node__admin_recv(struct node *n, raft_id from, const void *frame, size_t len)
{
	struct wire_admin_req req;
	struct wire_admin_resp resp;
	uint8_t out[1 + WIRE_ADMIN_FRAME_MAX];

	if (len < 1 || wire_admin_req_decode((const uint8_t *)frame + 1, len - 1, &req) != 0)
		return;
	if (req.op == WIRE_ADMIN_STATUS || req.op == WIRE_ADMIN_SNAPSHOT)
		return; /* local calls; never forwarded */
	if (!execute(n, &req, &resp)) {
		memset(&resp, 0, sizeof(resp));
		resp.err = QFS_ENOTLEADER;
		snprintf(resp.message, sizeof(resp.message), "%s: %s", wire_admin_op_name(req.op),
		         qfs_strerror(QFS_ENOTLEADER));
	}
	out[0] = WIRE_FRAME_ADMIN_RESULT;
	int w = wire_admin_resp_encode(&resp, out + 1, sizeof(out) - 1);
	if (w > 0)
		net_send(n->net, from, out, 1 + (size_t)w);
}

/* On the follower: the leader's answer, relayed to quorumctl. */
void node__admin_result_recv(struct node *n, raft_id from, const void *frame, size_t len)
{
	struct wire_admin_resp resp;
	(void)from;
	if (!n->admin_fwd || len < 1 ||
	    wire_admin_resp_decode((const uint8_t *)frame + 1, len - 1, &resp) != 0)
		return;
	n->admin_fwd = false;
	answer(n, n->admin_fwd_conn, &resp);
}

void node__admin_on_tick(struct node *n)
{
	if (n->admin_fwd && uv_now(n->loop) >= n->admin_fwd_deadline) {
		n->admin_fwd = false;
		answer_err(n, n->admin_fwd_conn, -ETIMEDOUT, "the leader did not answer");
	}
}

int node__admin_start(struct node *n)
{
	char path[1024];
	int w = snprintf(path, sizeof(path), "%s/admin.sock", n->data_dir);
	if (w < 0 || (size_t)w >= sizeof(path))
		return -ENAMETOOLONG;
	/* Key calls carry values: the larger bound. */
	return net_admin_listen(n->loop, path, WIRE_KEY_FRAME_MAX, on_admin, n, &n->admin);
}
