/* members.c: membership changes, leadership transfer, on-demand snapshots, and learner promotion.
 */
#include <errno.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"

/* The one place the core's codes become the project's (architecture.md). */
int node__raft_error(int err)
{
	switch (err) {
	case RAFT_ENOTLEADER:
	case RAFT_ELEADERLOST:
		return QFS_ENOTLEADER;
	case RAFT_EBUSY:
		return QFS_EBUSY;
	case RAFT_ENOLEADER:
		return QFS_ENOQUORUM;
	case RAFT_ENOTFOUND:
		return -ENOENT;
	case RAFT_ENOTCAUGHTUP:
		return -EAGAIN;
	case RAFT_EFAILED:
		return QFS_ESTORAGE;
	case RAFT_EEXIST:
		return -EEXIST;
	case RAFT_ETOOMANY:
		return -E2BIG;
	default:
		return err;
	}
}

int64_t node_member_change(struct node *n, enum node_member_op op, uint64_t id, const char *address)
{
	enum raft_change_kind kind;
	if (n->stopping)
		return QFS_ESHUTDOWN;
	switch (op) {
	case NODE_ADD_LEARNER:
		if (address == NULL || address[0] == '\0')
			return -EINVAL;
		kind = RAFT_ADD_LEARNER;
		break;
	case NODE_PROMOTE:
		kind = RAFT_PROMOTE;
		break;
	case NODE_REMOVE:
		kind = RAFT_REMOVE;
		break;
	default:
		return -EINVAL;
	}
	int64_t idx = raft_change(n->raft, kind, id, address);
	if (idx < 0)
		return node__raft_error((int)idx);
	node__log(n, QFS_LOG_INFO, "membership change at %lld: %s %llu%s%s", (long long)idx,
	          op == NODE_ADD_LEARNER ? "add learner"
	          : op == NODE_PROMOTE   ? "promote"
	                                 : "remove",
	          (unsigned long long)id, address && op == NODE_ADD_LEARNER ? " at " : "",
	          address && op == NODE_ADD_LEARNER ? address : "");
	node__kick(n);
	return idx;
}

int node_transfer(struct node *n, uint64_t to)
{
	if (n->stopping)
		return QFS_ESHUTDOWN;
	int rc = raft_transfer(n->raft, to);
	if (rc == 0)
		node__kick(n);
	return node__raft_error(rc);
}

int node_snapshot(struct node *n)
{
	if (n->stopping)
		return QFS_ESHUTDOWN;
	node__writer_request_snapshot(n);
	return 0;
}

/* docs/architecture.md, rule 5: new members join as learners and are promoted once caught up.
 * The leader tries every election timeout; the core refuses a learner that
 * lags (RAFT_ENOTCAUGHTUP) or while another change is uncommitted. */
void node__members_on_tick(struct node *n)
{
	uint64_t now = uv_now(n->loop);
	if (raft_role(n->raft) != RAFT_LEADER || now < n->promote_at)
		return;
	n->promote_at = now + n->opts.election_ms;
	const struct raft_conf *conf = raft_configuration(n->raft);
	for (unsigned i = 0; i < conf->n; i++)
		if (conf->servers[i].role == RAFT_LEARNER) {
			uint64_t id = conf->servers[i].id;
			if (node_member_change(n, NODE_PROMOTE, id, NULL) > 0)
				break; /* one change at a time */
		}
}
