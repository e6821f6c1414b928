/* ops_file.c: open files: open, create, read, write, flush, release, fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "fuse_int.h"

/* What the kernel may keep of the file's pages: caches.c. */
static void reply_open(struct qfs_mount *m, fuse_req_t req, struct fuse_file_info *fi,
                       struct qfs__handle *h)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	qfs__open_flags(m, fi);
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
	h = qfs__handle_open(m, ino, fi->flags, trunc,
	                     trunc && qfs__write_kills_suidgid(req, a.mode));
	if (h == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_open(m, req, fi, h);
}

/* ------------------------------------------------------------------------ */
/* create: deferred into the first publish (create.c), or one CREATE_WRITEV  */
/* now; O_TRUNC of a file another node made meanwhile stays pending          */

struct create_op {
	struct qfs__op op;
	struct fuse_file_info fi; /* libfuse's is on its stack: a copy */
	uint64_t reserve;         /* inode numbers it reserves (create.c) */
};

static void create_done(struct qfs__op *op, int err, const struct fsm_result *res)
{
	struct create_op *c = (struct create_op *)op;
	struct qfs_mount *m = op->m;
	struct fuse_entry_param e;
	struct qfs__handle *h;

	if (err == 0)
		err = res->err;
	if (c->reserve > 0)
		qfs__create_reserved(m, err == 0 ? res->offset : 0, c->reserve);
	if (err != 0) {
		qfs__op_fail(op, err, QFS__CHANGE);
		return;
	}
	h = qfs__handle_open(m, res->attr.ino, c->fi.flags,
	                     (c->fi.flags & O_TRUNC) && res->attr.size > 0,
	                     qfs__write_kills_suidgid(op->req, res->attr.mode));
	if (h == NULL) {
		qfs__op_fail(op, -ENOMEM, QFS__CHANGE);
		return;
	}
	qfs__entry_param(m, &res->attr, &e);
	c->fi.fh = (uint64_t)(uintptr_t)h;
	qfs__open_flags(m, &c->fi);
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
	struct wire_cmd cmd = {.type = WIRE_CMD_CREATE_WRITEV,
	                       .parent = parent,
	                       .name = name,
	                       .name_len = strlen(name),
	                       .mode = S_IFREG | (mode & 07777)};
	struct create_op *c;

	if (qfs__check_name(cmd.name_len) != 0) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	/* Without O_EXCL the file usually enters the tree with its data. */
	if (qfs__create_defer(m, req, parent, name, cmd.name_len, mode, fi))
		return;
	if (fi->flags & O_EXCL)
		cmd.flags |= WIRE_CREATE_WRITEV_EXCL;
	c = qfs__op_new(m, req, parent, sizeof(*c));
	if (c == NULL)
		return;
	c->fi = *fi;
	c->reserve = qfs__create_reserve(m);
	cmd.offset = c->reserve;
	{
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		cmd.uid = ctx->uid;
		cmd.gid = ctx->gid;
	}
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
	/* The committed contents, unless this handle itself gathered
	 * writes or owes its O_TRUNC: then those are published first. */
	qfs__settle(&r->op, qfs__handle_of(fi), read_settled);
}

/* ------------------------------------------------------------------------ */
/* write, flush, release, fsync: gathered and published (handle.c)          */

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	qfs__handle_write(fuse_req_userdata(req), req, qfs__handle_of(fi), buf, size, off);
}

/* close(2) waits for FLUSH: what the handle gathered is published, and
 * close returns after the commit with its error. A FLUSH before any write
 * (bash's dup2 + close of `echo v > f`) publishes nothing. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	/* This owner's fcntl locks on the file end first (ops_lock.c), after
	 * what was written under them is published. */
	if (!qfs__locks_flush(m, req, ino, fi, qfs__handle_of(fi)))
		qfs__handle_flush(m, req, qfs__handle_of(fi));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	/* The flock and OFD locks taken through the handle end first, after
	 * the data written under them (see op_flush). */
	if (!qfs__locks_release(m, req, ino, fi, qfs__handle_of(fi)))
		qfs__handle_release(m, req, qfs__handle_of(fi));
}

/* Publishes were durable on a majority when answered; fsync(2) publishes
 * what the handle still gathers. */
static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	qfs__handle_fsync(fuse_req_userdata(req), req, fi != NULL ? qfs__handle_of(fi) : NULL);
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
