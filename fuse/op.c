/* op.c: parked operations: barriers, proposals and waits on an inode's publishes in flight. */
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

void qfs__op_fail(struct qfs__op *op, int err, enum qfs__op_kind kind)
{
	qfs__reply_err(op->req, err, kind);
	qfs__op_done(op);
}

static int barrier_err(struct qfs__op *op, int err)
{
	return op->m->stopping ? QFS_ESHUTDOWN : err;
}

static void pending_cb(void *arg, int err)
{
	struct qfs__op *op = arg;
	op->run(op, barrier_err(op, err));
}

/* The barrier is passed. With the kernel's caches on, the node answers from
 * its own tree under a read lease, and an entry it acknowledged but has not
 * applied may touch @op->ino: the answer waits for that apply, or it would
 * be older than a write that completed elsewhere (and the kernel would
 * cache it again: docs/daemon.md, "Pending marks"). */
static void barrier_passed(struct qfs__op *op)
{
	int rc = 1;
	if (qfs__caches_on(op->m))
		rc = node_wait_pending(op->m->node, op->ino, pending_cb, op);
	if (rc == 1)
		op->run(op, barrier_err(op, 0));
	else if (rc < 0)
		op->run(op, barrier_err(op, rc));
}

static void barrier_cb(void *arg, int err)
{
	struct qfs__op *op = arg;
	if (err != 0) {
		op->run(op, barrier_err(op, err));
		return;
	}
	barrier_passed(op);
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
		barrier_passed(op);
	else if (rc < 0)
		fn(op, barrier_err(op, rc));
}

static void submit_cb(void *arg, int err, const struct fsm_result *res)
{
	struct qfs__op *op = arg;
	op->done(op, err, err == 0 ? res : NULL);
}

static void submit(struct qfs__op *op, struct wire_cmd *cmd, unsigned flags, qfs__result_fn fn)
{
	int rc;

	if (op->m->stopping) {
		fn(op, QFS_ESHUTDOWN, NULL);
		return;
	}
	/* A deferred create carries its creator's ids, whoever publishes it. */
	if (op->req != NULL && cmd->type != WIRE_CMD_CREATE_WRITEV) {
		const struct fuse_ctx *ctx = fuse_req_ctx(op->req);
		cmd->uid = ctx->uid;
		cmd->gid = ctx->gid;
	}
	op->done = fn;
	rc = node_submit_flags(op->m->node, cmd, flags, submit_cb, op);
	if (rc != 0)
		fn(op, rc, NULL);
}

void qfs__submit(struct qfs__op *op, struct wire_cmd *cmd, qfs__result_fn fn)
{
	submit(op, cmd, 0, fn);
}

void qfs__submit_at_commit(struct qfs__op *op, struct wire_cmd *cmd, qfs__result_fn fn)
{
	submit(op, cmd, NODE_SUBMIT_AT_COMMIT, fn);
}

/* Queue @op on @in until its publishes in flight are answered. */
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

	if (in != NULL)
		qfs__inode_settle_truncations(op->m, in);
	if (in == NULL || in->n_inflight == 0) {
		fn(op, op->m->stopping ? QFS_ESHUTDOWN : 0);
		return;
	}
	wait_on(in, op, fn);
}

void qfs__settle(struct qfs__op *op, struct qfs__handle *h, qfs__op_fn fn)
{
	struct qfs__inode *in = qfs__inode_find(&op->m->inodes, op->ino);

	if (in == NULL) {
		fn(op, op->m->stopping ? QFS_ESHUTDOWN : 0);
		return;
	}
	in->hold++; /* a proposal that fails at once ends inside the call */
	qfs__handle_settle(op->m, h);
	qfs__inode_settle_truncations(op->m, in);
	in->hold--;
	if (in->n_inflight == 0) {
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
	/* Resume the waiters in order; one of them may start a new publish
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
