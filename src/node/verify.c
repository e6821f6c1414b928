/* verify.c: the periodic cross-replica check: the leader proposes WIRE_CMD_VERIFY, every node
 * hashes its tree at that index, followers report to the leader, who compares. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "node_int.h"
#include "quorumfs/log.h"
#include "quorumfs/metrics.h"
#include "quorumfs/wire_cmd.h"
#include "quorumfs/wire_peer.h"

/*
 * What is hashed: the fsm's snapshot stream of the tree as of the check's
 * index (every replicated database, keys in LMDB order, the applied index
 * in its header), which is by construction the same bytes on every
 * replica that applied the same log. So a difference is a replica whose
 * tree went wrong (a bug of apply, a disk that changed a byte, a hand
 * edit), found within one interval, not when a user reads the wrong file.
 * The hash runs on the writer thread inside the apply's transaction: it
 * reads the whole tree, which for a configuration store is milliseconds,
 * and delays the group commit behind it by as much, once an interval.
 */

int node__verify_hash(struct node *n, MDB_txn *txn, uint8_t hash[16])
{
	struct fsm_snapshot *s = NULL;
	crypto_generichash_state st;
	uint8_t buf[65536];
	uint64_t applied;
	bool done = false;
	int rc = fsm_snapshot_begin(n->fsm, txn, &s, &applied);
	if (rc != 0)
		return rc;
	crypto_generichash_init(&st, NULL, 0, 16);
	while (!done) {
		size_t len = 0;
		rc = fsm_snapshot_next_chunk(s, buf, sizeof(buf), &len, &done);
		if (rc != 0)
			break;
		crypto_generichash_update(&st, buf, len);
	}
	fsm_snapshot_end(s);
	if (rc == 0)
		crypto_generichash_final(&st, hash, 16);
	return rc;
}

static void hex(const uint8_t h[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static const uint8_t *own_hash(struct node *n, uint64_t index)
{
	for (unsigned i = 0; i < 8; i++)
		if (n->verify_own[i].index == index && index != 0)
			return n->verify_own[i].hash;
	return NULL;
}

/* A member's report for @index against this node's own hash. */
static void compare(struct node *n, raft_id from, uint64_t index, const uint8_t theirs[16],
                    const uint8_t mine[16])
{
	char a[33], b[33];
	if (index > n->verify_index)
		n->verify_index = index;
	if (memcmp(theirs, mine, 16) == 0) {
		node__log(n, QFS_LOG_DEBUG, "cross-replica check at %llu: node %llu agrees",
		          (unsigned long long)index, (unsigned long long)from);
		return;
	}
	n->verify_mismatches++;
	qfs_metric_inc(QFS_M_VERIFY_MISMATCHES);
	hex(theirs, a);
	hex(mine, b);
	node__log(n, QFS_LOG_ERROR,
	          "CROSS-REPLICA CHECK FAILED at index %llu: node %llu's tree hashes to "
	          "%s, this node's (%llu) to %s; one of the replicas is corrupt: compare them "
	          "(docs/operations.md, \"The cross-replica check\")",
	          (unsigned long long)index, (unsigned long long)from, a,
	          (unsigned long long)n->opts.id, b);
}

void node__verify_on_applied(struct node *n, const struct node__apply *a)
{
	char h[33];
	unsigned k = n->verify_own_next++ % 8;
	n->verify_own[k].index = a->index;
	memcpy(n->verify_own[k].hash, a->hash, 16);
	qfs_metric_inc(QFS_M_VERIFY_CHECKS);
	hex(a->hash, h);
	node__log(n, QFS_LOG_INFO, "cross-replica check at index %llu: tree hash %s",
	          (unsigned long long)a->index, h);
	if (a->index > n->verify_index)
		n->verify_index = a->index;
	/* Reports that came before this node got here. */
	for (unsigned i = 0; i < 32; i++)
		if (n->verify_wait[i].from != 0 && n->verify_wait[i].index == a->index) {
			compare(n, n->verify_wait[i].from, a->index, n->verify_wait[i].hash, a->hash);
			n->verify_wait[i].from = 0;
		}
	raft_id leader = raft_leader(n->raft);
	if (leader == RAFT_NONE || leader == n->opts.id)
		return;
	uint8_t *f = net_frame_alloc(WIRE_VERIFY_FRAME);
	if (f == NULL)
		return;
	f[0] = WIRE_FRAME_VERIFY;
	for (int i = 0; i < 8; i++)
		f[1 + i] = (uint8_t)(a->index >> (56 - 8 * i));
	memcpy(f + 9, a->hash, 16);
	/* Best effort: a report lost with a connection is one check less. */
	(void)net_send_frame(n->net, leader, f, WIRE_VERIFY_FRAME);
}

void node__verify_recv(struct node *n, raft_id from, const void *frame, size_t len)
{
	const uint8_t *p = frame;
	uint64_t index = 0;
	if (len != WIRE_VERIFY_FRAME)
		return;
	for (int i = 0; i < 8; i++)
		index = index << 8 | p[1 + i];
	const uint8_t *mine = own_hash(n, index);
	if (mine != NULL) {
		compare(n, from, index, p + 9, mine);
		return;
	}
	if (index <= n->applied)
		return; /* this node skipped that index (a snapshot install): nothing to compare */
	/* Not applied here yet: keep it (the oldest goes if full). */
	unsigned slot = 0;
	for (unsigned i = 0; i < 32; i++) {
		if (n->verify_wait[i].from == 0) {
			slot = i;
			break;
		}
		if (n->verify_wait[i].index < n->verify_wait[slot].index)
			slot = i;
	}
	n->verify_wait[slot].from = from;
	n->verify_wait[slot].index = index;
	memcpy(n->verify_wait[slot].hash, p + 9, 16);
}

void node__verify_on_tick(struct node *n)
{
	uint64_t now = uv_now(n->loop);
	if (n->opts.verify_interval_ms == 0 || n->failed)
		return;
	if (raft_role(n->raft) != RAFT_LEADER) {
		n->verify_next = 0;
		return;
	}
	if (n->verify_next == 0) {
		/* A new leader waits a whole interval: checks stay spaced. */
		n->verify_next = now + n->opts.verify_interval_ms;
		return;
	}
	if (now < n->verify_next)
		return;
	n->verify_next = now + n->opts.verify_interval_ms;
	struct wire_cmd c = {.type = WIRE_CMD_VERIFY};
	uint8_t buf[64];
	size_t len;
	if (wire_cmd_encode(&c, buf, sizeof(buf), &len) != 0)
		return;
	int64_t idx = raft_propose(n->raft, buf, len);
	if (idx > 0)
		node__log(n, QFS_LOG_DEBUG, "proposed a cross-replica check at index %lld",
		          (long long)idx);
	node__kick(n);
}
