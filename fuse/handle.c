/* handle.c: open files, and the truncation that open(O_TRUNC) leaves pending until a write or a
 * close. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "fuse_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"

/*
 * Why a truncation waits (DESIGN.md, "Consistency seen through the mount"):
 * bash's `echo v > f` sends OPEN(O_TRUNC) FLUSH WRITE FLUSH RELEASE. If the
 * open committed the truncation, every node could see f empty until the
 * write. So the open only marks the handle; the first write at offset 0
 * carries the truncation in the same command (WIRE_WRITE_TRUNCATE), and a
 * FLUSH before any write commits nothing. What is still pending when the
 * handle is released (`: > f`) is committed then. Any other operation of
 * this node that reads or changes the file's contents (read, write through
 * another handle or at another offset, setattr) first commits the pending
 * truncation and waits for it (qfs__settle); getattr and lookup show the
 * file as this node will have it: size 0 (qfs__attr_reflect), and wait only
 * for a truncation already in flight. docs/semantics.md has what other nodes
 * see meanwhile.
 */

struct qfs__handle *qfs__handle_open(struct qfs_mount *m, uint64_t ino, int flags, bool truncate)
{
	struct qfs__handle *h = calloc(1, sizeof(*h));
	struct qfs__inode *in;

	if (h == NULL)
		return NULL;
	in = qfs__inode_get(&m->inodes, ino);
	if (in == NULL) {
		free(h);
		return NULL;
	}
	h->ino = ino;
	h->flags = flags;
	h->append = (flags & O_APPEND) != 0;
	h->next = in->handles;
	if (in->handles != NULL)
		in->handles->prev = h;
	in->handles = h;
	in->nopen++;
	if (truncate) {
		h->trunc_pending = true;
		in->n_pending++;
	}
	return h;
}

struct qfs__handle *qfs__handle_of(const struct fuse_file_info *fi)
{
	return (struct qfs__handle *)(uintptr_t)fi->fh;
}

void qfs__handle_take_trunc(struct qfs_mount *m, struct qfs__handle *h)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);
	if (h->trunc_pending && in != NULL) {
		h->trunc_pending = false;
		in->n_pending--;
	}
}

void qfs__handle_restore_trunc(struct qfs_mount *m, struct qfs__handle *h)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);
	if (!h->trunc_pending && in != NULL) {
		h->trunc_pending = true;
		in->n_pending++;
	}
}

/* Unlink @h from its inode and free it; drops the inode if nothing holds it. */
static void handle_free(struct qfs_mount *m, struct qfs__inode *in, struct qfs__handle *h)
{
	if (in != NULL) {
		if (h->trunc_pending)
			in->n_pending--;
		if (h->prev != NULL)
			h->prev->next = h->next;
		else
			in->handles = h->next;
		if (h->next != NULL)
			h->next->prev = h->prev;
		in->nopen--;
	}
	free(h);
	if (in != NULL)
		qfs__inode_put(&m->inodes, in);
}

/* ------------------------------------------------------------------------ */
/* Committing pending truncations                                           */

/* A truncation in flight. It has a kernel request only when a release
 * committed it (the release is answered after the commit). */
struct trunc_op {
	struct qfs__op op;
	struct qfs__handle *release; /* non-NULL: free it, then answer op.req */
};

static void truncated(struct qfs__op *op, int err, const struct fsm_result *res)
{
	struct trunc_op *t = (struct trunc_op *)op;
	struct qfs_mount *m = op->m;
	struct qfs__inode *in = qfs__inode_find(&m->inodes, op->ino);

	if (err == 0 && res->err != 0)
		err = res->err;
	/* ENOENT: the file was removed meanwhile; nothing to truncate. */
	if (err != 0 && err != -ENOENT && err != QFS_ESHUTDOWN)
		qfs_log(QFS_LOG_WARN, "truncation of inode %llu (open with O_TRUNC) failed: %s",
		        (unsigned long long)op->ino, qfs_strerror(err));
	if (in != NULL)
		in->hold++;
	if (t->release != NULL) {
		handle_free(m, in, t->release);
		if (op->req != NULL)
			fuse_reply_err(op->req, 0);
	}
	if (in != NULL) {
		in->hold--;
		qfs__inflight_end(m, in);
	}
	qfs__op_done(op);
}

/*
 * Propose SETATTR size 0 for @in, clearing every pending mark (they all ask
 * for the same thing). @release, @req: the handle being released and its
 * request, or NULL.
 */
static void propose(struct qfs_mount *m, struct qfs__inode *in, struct qfs__handle *release,
                    fuse_req_t req)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_SETATTR, .ino = in->ino};
	struct trunc_op *t;

	for (struct qfs__handle *h = in->handles; h != NULL; h = h->next)
		h->trunc_pending = false;
	in->n_pending = 0;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		qfs_log(QFS_LOG_ERROR, "truncation of inode %llu lost: out of memory",
		        (unsigned long long)in->ino);
		if (release != NULL) {
			handle_free(m, in, release);
			if (req != NULL)
				fuse_reply_err(req, 0);
		}
		return;
	}
	t->op.m = m;
	t->op.req = req;
	t->op.ino = in->ino;
	t->release = release;
	m->parked++;
	cmd.attr.valid = WIRE_ATTR_SIZE;
	cmd.attr.size = 0;
	qfs__inflight_begin(in);
	qfs__submit(&t->op, &cmd, truncated);
}

void qfs__trunc_flush(struct qfs_mount *m, struct qfs__inode *in)
{
	if (in->n_pending > 0)
		propose(m, in, NULL, NULL);
}

void qfs__handle_drop(struct qfs_mount *m, struct qfs__handle *h)
{
	handle_free(m, qfs__inode_find(&m->inodes, h->ino), h);
}

void qfs__handle_release(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);

	if (h->trunc_pending && in != NULL && !m->stopping) {
		propose(m, in, h, req);
		return;
	}
	if (h->trunc_pending)
		qfs_log(QFS_LOG_WARN, "truncation of inode %llu dropped: the mount is stopping",
		        (unsigned long long)h->ino);
	handle_free(m, in, h);
	if (req != NULL)
		fuse_reply_err(req, 0);
}
