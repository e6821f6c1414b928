/* op.c: parked operations: barriers, proposals and waits on an inode's truncations. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"
#include "quorumfs/errors.h"

void *qfs__op_new(struct qfs_mount *m, fuse_req_t req, uint64_t ino, size_t size)
{
	struct qfs__op *op = calloc(1, size);
	if (op == NULL) {
		fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	op->m = m;
	op->req = req;
	op->ino = ino;
	m->parked++;
	return op;
}

void qfs__op_done(struct qfs__op *op)
{
	struct qfs_mount *m = op->m;
	free(op);
	m->parked--;
	if (m->stopping)
		qfs__maybe_finish(m);
}

void qfs__op_fail(struct qfs__op *op, int err, bool write)
{
	qfs__reply_err(op->req, err, write);
	qfs__op_done(op);
}

/* Without quorum, a metadata barrier (qfs__barrier_meta) lets the query
 * run on this node's tree anyway. */
static int barrier_err(struct qfs__op *op, int err)
{
	struct qfs_mount *m = op->m;

	if (m->stopping)
		return QFS_ESHUTDOWN;
	if (err == 0) {
		m->noquorum_until = 0;
		return 0;
	}
	if (err == -EIO || err == -EROFS || err == QFS_ENOQUORUM) {
		m->noquorum_until = uv_now(m->loop) + QFS__NOQUORUM_MEMORY_MS;
		if (op->meta)
			return 0;
	}
	return err;
}

static void barrier_cb(void *arg, int err)
{
	struct qfs__op *op = arg;
	op->run(op, barrier_err(op, err));
}

/*
 * Why lookup and getattr may read a stale tree when there is no quorum:
 * every path walk is a LOOKUP and, for the kernel's permission check
 * (default_permissions, attributes cached 0 s), a GETATTR of each component.
 * Failing them with EIO would fail every change with EIO before it could be
 * proposed, where DESIGN.md wants EROFS. Everything after the walk still
 * fails as it should: a read or readdir passes a strict barrier (EIO), a
 * change is proposed (EROFS). The cost: stat(2) without quorum shows this
 * node's view instead of failing (docs/semantics.md).
 */
void qfs__barrier_meta(struct qfs__op *op, qfs__op_fn fn)
{
	op->meta = true;
	/* A barrier failed a moment ago: do not make every component of every
	 * path walk wait a commit timeout again. One barrier per
	 * QFS__NOQUORUM_MEMORY_MS still probes. */
	if (!op->m->stopping && uv_now(op->m->loop) < op->m->noquorum_until) {
		fn(op, 0);
		return;
	}
	qfs__barrier(op, fn);
}

void qfs__barrier(struct qfs__op *op, qfs__op_fn fn)
{
	int rc;

	if (op->m->stopping) {
		fn(op, QFS_ESHUTDOWN);
		return;
	}
	op->run = fn;
	rc = node_read_barrier(op->m->node, barrier_cb, op);
	if (rc == 1)
		fn(op, 0);
	else if (rc < 0)
		fn(op, barrier_err(op, rc));
}

static void submit_cb(void *arg, int err, const struct fsm_result *res)
{
	struct qfs__op *op = arg;
	if (err == 0)
		op->m->noquorum_until = 0; /* a commit: the cluster is back */
	op->done(op, err, err == 0 ? res : NULL);
}

void qfs__submit(struct qfs__op *op, struct wire_cmd *cmd, qfs__result_fn fn)
{
	int rc;

	if (op->m->stopping) {
		fn(op, QFS_ESHUTDOWN, NULL);
		return;
	}
	if (op->req != NULL) {
		const struct fuse_ctx *ctx = fuse_req_ctx(op->req);
		cmd->uid = ctx->uid;
		cmd->gid = ctx->gid;
	}
	op->done = fn;
	rc = node_submit(op->m->node, cmd, submit_cb, op);
	if (rc != 0)
		fn(op, rc, NULL);
}

/* Queue @op on @in until its truncations in flight are answered. */
static void wait_on(struct qfs__inode *in, struct qfs__op *op, qfs__op_fn fn)
{
	op->run = fn;
	op->next = NULL;
	if (in->wait_tail != NULL)
		in->wait_tail->next = op;
	else
		in->wait_head = op;
	in->wait_tail = op;
}

void qfs__wait_inflight(struct qfs__op *op, qfs__op_fn fn)
{
	struct qfs__inode *in = qfs__inode_find(&op->m->inodes, op->ino);

	if (in == NULL || in->n_inflight == 0) {
		fn(op, op->m->stopping ? QFS_ESHUTDOWN : 0);
		return;
	}
	wait_on(in, op, fn);
}

void qfs__settle(struct qfs__op *op, qfs__op_fn fn)
{
	struct qfs__inode *in = qfs__inode_find(&op->m->inodes, op->ino);

	if (in == NULL || (in->n_pending == 0 && in->n_inflight == 0)) {
		fn(op, op->m->stopping ? QFS_ESHUTDOWN : 0);
		return;
	}
	in->hold++; /* a proposal that fails at once ends inside the flush */
	if (in->n_pending > 0)
		qfs__trunc_flush(op->m, in);
	in->hold--;
	if (in->n_inflight == 0) { /* the flush could not even be proposed */
		qfs__inode_put(&op->m->inodes, in);
		fn(op, op->m->stopping ? QFS_ESHUTDOWN : 0);
		return;
	}
	wait_on(in, op, fn);
}

void qfs__inflight_begin(struct qfs__inode *in)
{
	in->n_inflight++;
}

void qfs__inflight_end(struct qfs_mount *m, struct qfs__inode *in)
{
	struct qfs__op *op;

	in->n_inflight--;
	in->hold++;
	/* Resume the waiters in order; one of them may start a new truncation
	 * (then the rest wait again behind it). */
	while (in->n_inflight == 0 && (op = in->wait_head) != NULL) {
		in->wait_head = op->next;
		if (in->wait_head == NULL)
			in->wait_tail = NULL;
		op->next = NULL;
		op->run(op, m->stopping ? QFS_ESHUTDOWN : 0);
	}
	in->hold--;
	qfs__inode_put(&m->inodes, in);
}
