/* ops_file.c: open files: open, create, read, write, flush, release, fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "fuse_int.h"

/* Every open drops the kernel's page cache of the file (no keep_cache), so a
 * read after an open never shows contents older than the open. */
static void reply_open(struct qfs_mount *m, fuse_req_t req, struct fuse_file_info *fi,
                       struct qfs__handle *h)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = 0;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) != 0) /* interrupted: no release will come */
		qfs__handle_drop(m, h);
}

/* ------------------------------------------------------------------------ */
/* open                                                                     */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	bool trunc = (fi->flags & O_TRUNC) != 0;
	struct qfs__handle *h;
	struct fsm_attr a;
	int rc;

	/* A local check only: the kernel found the inode a moment ago, and
	 * what is read through the handle goes through a barrier. */
	rc = m->stopping ? -EIO : node_getattr(m->node, ino, &a);
	if (rc == 0 && S_ISDIR(a.mode))
		rc = -EISDIR;
	else if (rc == 0 && !S_ISREG(a.mode))
		rc = -EINVAL;
	if (rc != 0) {
		qfs__reply_err(req, rc, QFS__READ);
		return;
	}
	h = qfs__handle_open(m, ino, fi->flags, trunc);
	if (h == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_open(m, req, fi, h);
}

/* ------------------------------------------------------------------------ */
/* create: one CREATE; O_TRUNC of a file another node made meanwhile stays   */
/* pending like an open's                                                   */

struct create_op {
	struct qfs__op op;
	struct fuse_file_info fi; /* libfuse's is on its stack: a copy */
};

static void create_done(struct qfs__op *op, int err, const struct fsm_result *res)
{
	struct create_op *c = (struct create_op *)op;
	struct qfs_mount *m = op->m;
	struct fuse_entry_param e;
	struct qfs__handle *h;

	if (err == 0)
		err = res->err;
	if (err != 0) {
		qfs__op_fail(op, err, QFS__CHANGE);
		return;
	}
	h = qfs__handle_open(m, res->attr.ino, c->fi.flags,
	                     (c->fi.flags & O_TRUNC) && res->attr.size > 0);
	if (h == NULL) {
		qfs__op_fail(op, -ENOMEM, QFS__CHANGE);
		return;
	}
	qfs__entry_param(m, &res->attr, &e);
	c->fi.fh = (uint64_t)(uintptr_t)h;
	c->fi.keep_cache = 0;
	c->fi.direct_io = 1;
	qfs__inode_lookup(m, e.ino);
	if (fuse_reply_create(op->req, &e, &c->fi) != 0) {
		qfs__inode_forget(m, e.ino, 1);
		qfs__handle_drop(m, h);
	}
	qfs__op_done(op);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct wire_cmd cmd = {.type = WIRE_CMD_CREATE,
	                       .parent = parent,
	                       .name = name,
	                       .name_len = strlen(name),
	                       .mode = S_IFREG | (mode & 07777)};
	struct create_op *c;

	if (qfs__check_name(cmd.name_len) != 0) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (fi->flags & O_EXCL)
		cmd.flags |= WIRE_CREATE_EXCL;
	c = qfs__op_new(m, req, parent, sizeof(*c));
	if (c == NULL)
		return;
	c->fi = *fi;
	qfs__submit(&c->op, &cmd, create_done);
}

/* ------------------------------------------------------------------------ */
/* read: pending truncations first, then a barrier, then the local tree      */

struct read_op {
	struct qfs__op op;
	struct qfs__handle *h; /* the kernel holds the file while it reads */
	size_t size;
	off_t off;
};

/* Takes the file's whole current contents as @h's version (handle.c, "Read
 * versions"). Getattr and read run in one turn of the loop, so no apply
 * comes between them. Returns 0 (also when over budget: then no version),
 * or a node error. */
static int take_version(struct qfs_mount *m, struct qfs__handle *h, uint64_t ino)
{
	struct fsm_attr attr;
	size_t got = 0;
	char *buf;
	int err = node_getattr(m->node, ino, &attr);
	if (err != 0)
		return err;
	buf = malloc(attr.size > 0 ? (size_t)attr.size : 1);
	if (buf == NULL)
		return -ENOMEM;
	err = node_read(m->node, ino, 0, (size_t)attr.size, buf, &got);
	if (err != 0 || !qfs__handle_set_version(m, h, buf, got))
		free(buf);
	return err;
}

static void read_ready(struct qfs__op *op, int err)
{
	struct read_op *r = (struct read_op *)op;
	size_t got = 0;
	char *buf = NULL;

	if (err == 0 && qfs__handle_wants_version(r->h, r->off))
		err = take_version(op->m, r->h, op->ino);
	if (err == 0 && r->h != NULL && r->h->has_version) {
		size_t len = r->h->version_len, off = (size_t)r->off;
		size_t n = off >= len ? 0 : (len - off < r->size ? len - off : r->size);
		fuse_reply_buf(op->req, r->h->version + (off < len ? off : 0), n);
		qfs__op_done(op);
		return;
	}
	if (err == 0 && r->size > 0 && (buf = malloc(r->size)) == NULL)
		err = -ENOMEM;
	if (err == 0)
		err = node_read(op->m->node, op->ino, (uint64_t)r->off, r->size, buf, &got);
	if (err != 0) {
		free(buf);
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	fuse_reply_buf(op->req, buf, got);
	free(buf);
	qfs__op_done(op);
}

static void read_settled(struct qfs__op *op, int err)
{
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	qfs__barrier(op, read_ready);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct read_op *r = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*r));
	if (r == NULL)
		return;
	if (off < 0) {
		qfs__op_fail(&r->op, -EINVAL, QFS__READ);
		return;
	}
	r->h = qfs__handle_of(fi);
	r->size = size;
	r->off = off;
	/* The committed contents, unless this handle itself owes a
	 * truncation or buffered chunks: then those first. */
	qfs__settle(&r->op, qfs__handle_of(fi), read_settled);
}

/* ------------------------------------------------------------------------ */
/* write: one command, answered once applied here                            */

struct write_op {
	struct qfs__op op;
	struct qfs__handle *h;
	off_t off;
	size_t size;
	const char *data; /* the request's buffer, or @copy */
	char *copy;       /* owned: when the write waits for a truncation first */
	bool truncating;  /* this command carries the handle's O_TRUNC */
};

static void write_done(struct qfs__op *op, int err, const struct fsm_result *res)
{
	struct write_op *w = (struct write_op *)op;
	struct qfs_mount *m = op->m;

	if (err == 0)
		err = res->err;
	free(w->copy);
	w->copy = NULL;
	if (err == 0)
		fuse_reply_write(op->req, w->size);
	else
		qfs__reply_err(op->req, err, QFS__CHANGE);
	/* A failed truncating write is not retried at release: the file keeps
	 * its old contents (or, after ETIMEDOUT, gets the new ones if the
	 * command applies after all). */
	if (w->truncating) {
		struct qfs__inode *in = qfs__inode_find(&m->inodes, op->ino);
		if (in != NULL)
			qfs__inflight_end(m, in);
	}
	qfs__op_done(op);
}

static void write_go(struct qfs__op *op, int err)
{
	struct write_op *w = (struct write_op *)op;
	struct qfs__handle *h = w->h;
	struct wire_cmd cmd = {.ino = op->ino, .data = w->data, .data_len = w->size};
	char *joined = NULL;

	if (err != 0) {
		free(w->copy);
		w->copy = NULL;
		qfs__op_fail(op, err, QFS__CHANGE);
		return;
	}
	if (h->trunc_pending) {
		/* `echo v > f`: the O_TRUNC and the data in one command, with
		 * the chunks buffered before it (they start at offset 0, and
		 * this one follows them). An O_APPEND|O_TRUNC file is empty,
		 * so its end is offset 0. */
		size_t len;
		cmd.type = WIRE_CMD_WRITE;
		cmd.flags = WIRE_WRITE_TRUNCATE;
		cmd.offset = h->append ? 0 : (uint64_t)w->off;
		joined = qfs__handle_take_buffer(op->m, h, &len);
		if (len > 0) {
			char *nb = realloc(joined, len + w->size);
			if (nb == NULL) {
				free(joined);
				qfs__op_fail(op, -ENOMEM, QFS__CHANGE);
				return;
			}
			joined = nb;
			memcpy(joined + len, w->data, w->size);
			cmd.offset = 0;
			cmd.data = joined;
			cmd.data_len = len + w->size;
		}
		w->truncating = true;
		qfs__handle_take_trunc(op->m, h);
		qfs__inflight_begin(qfs__inode_find(&op->m->inodes, op->ino));
	} else if (h->append) {
		cmd.type = WIRE_CMD_APPEND;
	} else {
		cmd.type = WIRE_CMD_WRITE;
		cmd.offset = (uint64_t)w->off;
	}
	qfs__submit(op, &cmd, write_done); /* copies the data */
	free(joined);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct qfs__handle *h = qfs__handle_of(fi);
	struct qfs__inode *in = qfs__inode_find(&m->inodes, ino);
	struct write_op *w;
	bool own, wait;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* What this handle reads next must show what it writes. */
	qfs__handle_drop_version(m, h);
	/* A full chunk of a truncating copy: kept, answered at once. */
	if (!m->stopping && qfs__handle_can_buffer(m, h, off, size) &&
	    qfs__handle_buffer(m, h, buf, size) == 0) {
		fuse_reply_write(req, size);
		return;
	}
	w = qfs__op_new(m, req, ino, sizeof(*w));
	if (w == NULL)
		return;
	w->h = h;
	w->off = off;
	w->size = size;
	w->data = buf;
	/* The write carries its handle's truncation (and buffer) when it
	 * comes in sequence (the fsm's WRITE|TRUNCATE keeps the bytes before
	 * its offset); out of sequence, what the handle owes is committed
	 * first, and the write follows as a command of its own. Truncations
	 * other handles owe are theirs: this write comes before them. */
	own = h->trunc_pending;
	wait = in != NULL && (in->n_inflight > 0 || (own && !h->append && off != (off_t)h->len));
	if (!wait) {
		write_go(&w->op, 0);
		return;
	}
	w->copy = malloc(size ? size : 1);
	if (w->copy == NULL) {
		qfs__op_fail(&w->op, -ENOMEM, QFS__CHANGE);
		return;
	}
	memcpy(w->copy, buf, size);
	w->data = w->copy;
	qfs__settle(&w->op, h, write_go);
}

/* ------------------------------------------------------------------------ */
/* flush, release, fsync                                                    */

/* A write was committed before it was answered, unless it was buffered:
 * the buffer is committed now (handle.c). A FLUSH before any write (bash's
 * dup2 + close of `echo v > f`) commits nothing: the write carries the
 * truncation. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	/* This owner's fcntl locks on the file end first (ops_lock.c). */
	if (!qfs__locks_flush(m, req, ino, fi, qfs__handle_of(fi)))
		qfs__handle_flush(m, req, qfs__handle_of(fi));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	/* The flock and OFD locks taken through the handle end first. */
	if (!qfs__locks_release(m, req, ino, fi, qfs__handle_of(fi)))
		qfs__handle_release(m, req, qfs__handle_of(fi));
}

static void fsync_settled(struct qfs__op *op, int err)
{
	if (err == 0)
		fuse_reply_err(op->req, 0);
	else
		qfs__reply_err(op->req, err, QFS__CHANGE);
	qfs__op_done(op);
}

/* Writes were durable on a majority when answered; only a pending O_TRUNC
 * is still owed, and fsync(2) commits it. */
static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct qfs__handle *h = fi != NULL ? qfs__handle_of(fi) : NULL;
	struct qfs__op *op;

	/* This handle's own truncation or buffered chunks, when nothing is in
	 * flight on the file: committed now, and the commit's error is
	 * fsync's. Otherwise wait for what is owed or in flight. */
	if (h != NULL && h->trunc_pending) {
		struct qfs__inode *in = qfs__inode_find(&m->inodes, ino);
		if (in != NULL && in->n_inflight == 0) {
			qfs__handle_commit(m, req, h);
			return;
		}
	}
	op = qfs__op_new(m, req, ino, sizeof(*op));
	if (op != NULL)
		qfs__settle(op, h, fsync_settled);
}

void qfs__ops_file(struct fuse_lowlevel_ops *ops)
{
	ops->open = op_open;
	ops->create = op_create;
	ops->read = op_read;
	ops->write = op_write;
	ops->flush = op_flush;
	ops->release = op_release;
	ops->fsync = op_fsync;
}
