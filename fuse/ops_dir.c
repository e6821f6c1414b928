/* ops_dir.c: names and directories: mkdir, mknod, symlink, link, unlink, rmdir, rename, readlink,
 * readdir. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"

/* ------------------------------------------------------------------------ */
/* Commands that answer with an entry or with nothing                        */

/* Submit @cmd for @req; the answer is an entry (@entry) or just 0. */
static void submit_simple(fuse_req_t req, struct wire_cmd *cmd, bool entry);

static void entry_done(struct qfs__op *op, int err, const struct fsm_result *res)
{
	if (err == 0)
		err = res->err;
	if (err != 0) {
		qfs__op_fail(op, err, QFS__CHANGE);
		return;
	}
	qfs__reply_entry(op->m, op->req, &res->attr);
	qfs__op_done(op);
}

static void plain_done(struct qfs__op *op, int err, const struct fsm_result *res)
{
	if (err == 0)
		err = res->err;
	if (err != 0) {
		qfs__op_fail(op, err, QFS__CHANGE);
		return;
	}
	fuse_reply_err(op->req, 0);
	qfs__op_done(op);
}

static void submit_simple(fuse_req_t req, struct wire_cmd *cmd, bool entry)
{
	struct qfs__op *op = qfs__op_new(fuse_req_userdata(req), req, cmd->ino, sizeof(*op));
	if (op != NULL)
		qfs__submit(op, cmd, entry ? entry_done : plain_done);
}

/* Fill the name fields of @cmd; -ENAMETOOLONG is answered here. */
static int set_name(fuse_req_t req, struct wire_cmd *cmd, uint64_t parent, const char *name)
{
	size_t len = strlen(name);
	if (qfs__check_name(len) != 0) {
		fuse_reply_err(req, ENAMETOOLONG);
		return -1;
	}
	cmd->parent = parent;
	cmd->name = name;
	cmd->name_len = len;
	return 0;
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_MKDIR, .mode = mode & 07777};
	if (set_name(req, &cmd, parent, name) == 0)
		submit_simple(req, &cmd, true);
}

/* Every type: a FIFO, a socket (bind(2) makes one), a device node or a
 * regular file is an inode like any other, the same on every node; the
 * kernel of each node makes a FIFO or a device work locally. The kernel
 * checked the caller's right to make a device (CAP_MKNOD). */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_MKNOD, .mode = mode, .rdev = rdev};

	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		cmd.rdev = 0; /* only devices have a device number */
		break;
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		fuse_reply_err(req, EINVAL);
		return;
	}
	cmd.mode = (mode & S_IFMT) | (mode & 07777);
	if (set_name(req, &cmd, parent, name) == 0)
		submit_simple(req, &cmd, true);
}

/* A file whose last publish from this node failed is not what its writer
 * wrote: renaming or linking it would publish the remains under a name
 * (`gen > f.tmp && mv f.tmp f`). EIO until a publish of it succeeds
 * (docs/semantics.md, "A failed publish"). */
static bool is_lost(struct qfs_mount *m, uint64_t ino)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, ino);
	return in != NULL && in->lost;
}

static bool name_is_lost(struct qfs_mount *m, uint64_t parent, const char *name)
{
	struct fsm_attr a;
	return node_lookup(m->node, parent, name, strlen(name), &a) == 0 && is_lost(m, a.ino);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_SYMLINK, .data = link, .data_len = strlen(link)};
	if (cmd.data_len > FSM_TARGET_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (set_name(req, &cmd, parent, name) == 0)
		submit_simple(req, &cmd, true);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_LINK, .ino = ino};
	if (is_lost(fuse_req_userdata(req), ino)) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (set_name(req, &cmd, newparent, newname) == 0)
		submit_simple(req, &cmd, true);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_UNLINK};
	if (set_name(req, &cmd, parent, name) == 0)
		submit_simple(req, &cmd, false);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_RMDIR};
	if (set_name(req, &cmd, parent, name) == 0)
		submit_simple(req, &cmd, false);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_RENAME, .new_parent = newparent};

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL); /* RENAME_WHITEOUT: no overlays here */
		return;
	}
	if (name_is_lost(fuse_req_userdata(req), parent, name) ||
	    ((flags & RENAME_EXCHANGE) && name_is_lost(fuse_req_userdata(req), newparent, newname))) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		cmd.flags |= WIRE_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		cmd.flags |= WIRE_RENAME_EXCHANGE;
	if (set_name(req, &cmd, parent, name) != 0)
		return;
	cmd.new_name = newname;
	cmd.new_name_len = strlen(newname);
	if (qfs__check_name(cmd.new_name_len) != 0) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	submit_simple(req, &cmd, false);
}

/* ------------------------------------------------------------------------ */
/* readlink                                                                 */

static void readlink_ready(struct qfs__op *op, int err)
{
	char buf[FSM_TARGET_MAX + 1];
	size_t len = 0;

	if (err == 0)
		err = node_readlink(op->m->node, op->ino, buf, FSM_TARGET_MAX, &len);
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(op->req, buf);
	qfs__op_done(op);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct qfs__op *op = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*op));
	if (op != NULL)
		qfs__barrier(op, readlink_ready);
}

/* ------------------------------------------------------------------------ */
/* Directories: stateless handles; the fsm's cookies are the offsets         */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->fh = 0;
	fi->cache_readdir = 0;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0); /* every change was committed before it was answered */
}

struct readdir_op {
	struct qfs__op op;
	size_t size;
	off_t off;
	bool plus;
	char *buf;
	size_t pos;
};

/* Add one entry; returns non-zero if it did not fit (then nothing was added). */
static int add(struct readdir_op *r, const char *name, const struct fsm_attr *a, uint32_t type,
               uint64_t ino, off_t next)
{
	struct qfs_mount *m = r->op.m;
	size_t room = r->size - r->pos, need;

	if (r->plus) {
		struct fuse_entry_param e;
		if (a != NULL) {
			qfs__entry_param(m, a, &e);
			/* The kernel stamps a READDIRPLUS name with the epoch it
			 * reads when the reply arrives, not before the request
			 * (as for LOOKUP), so an epoch increment meanwhile would
			 * not make it stale: names from here are not cached. */
			e.entry_timeout = m->opts.entry_timeout;
		} else { /* "." and "..": no lookup is counted for them */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = ino;
			e.attr.st_mode = S_IFDIR;
		}
		need = fuse_add_direntry_plus(r->op.req, r->buf + r->pos, room, name, &e, next);
		if (need > room)
			return 1;
		if (e.ino != 0)
			qfs__inode_lookup(m, e.ino);
	} else {
		struct stat st = {.st_ino = ino, .st_mode = type};
		need = fuse_add_direntry(r->op.req, r->buf + r->pos, room, name, &st, next);
		if (need > room)
			return 1;
	}
	r->pos += need;
	return 0;
}

static int readdir_cb(void *arg, const struct fsm_dirent *ent)
{
	struct readdir_op *r = arg;
	char name[FSM_NAME_MAX + 1];
	size_t len = ent->name_len > FSM_NAME_MAX ? FSM_NAME_MAX : ent->name_len;

	memcpy(name, ent->name, len);
	name[len] = '\0';
	return add(r, name, r->plus ? &ent->attr : NULL, ent->type, ent->ino, (off_t)ent->cookie);
}

static void readdir_ready(struct qfs__op *op, int err)
{
	struct readdir_op *r = (struct readdir_op *)op;
	struct node *n = op->m->node;
	struct fsm_attr self, parent;

	if (err == 0)
		err = node_getattr(n, op->ino, &self);
	if (err == 0 && !S_ISDIR(self.mode))
		err = -ENOTDIR;
	if (err == 0)
		err = node_lookup(n, op->ino, "..", 2, &parent);
	if (err == 0 && (r->buf = malloc(r->size ? r->size : 1)) == NULL)
		err = -ENOMEM;
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	/* Offsets 1 and 2 are "." and ".."; the fsm never gives them to entries. */
	if (r->off < 1 && add(r, ".", NULL, S_IFDIR, op->ino, 1) != 0)
		goto reply;
	if (r->off < 2 && add(r, "..", NULL, S_IFDIR, parent.ino, 2) != 0)
		goto reply;
	err = node_readdir(n, op->ino, r->off <= 2 ? 0 : (uint64_t)r->off, r->plus, readdir_cb, r);
	if (err != 0) {
		free(r->buf);
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
reply:
	fuse_reply_buf(op->req, r->buf, r->pos);
	free(r->buf);
	qfs__op_done(op);
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct readdir_op *r = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*r));
	if (r == NULL)
		return;
	r->size = size;
	r->off = off;
	r->plus = plus;
	qfs__barrier(&r->op, readdir_ready);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, true);
}

void qfs__ops_dir(struct fuse_lowlevel_ops *ops)
{
	ops->mkdir = op_mkdir;
	ops->mknod = op_mknod;
	ops->symlink = op_symlink;
	ops->link = op_link;
	ops->unlink = op_unlink;
	ops->rmdir = op_rmdir;
	ops->rename = op_rename;
	ops->readlink = op_readlink;
	ops->opendir = op_opendir;
	ops->readdir = op_readdir;
	ops->readdirplus = op_readdirplus;
	ops->releasedir = op_releasedir;
	ops->fsyncdir = op_fsyncdir;
}
