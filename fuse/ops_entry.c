/* ops_entry.c: lookup, forget, getattr, setattr and statfs. */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fuse_int.h"

/* ------------------------------------------------------------------------ */
/* lookup: barrier, local lookup; wait for a truncation in flight, look again */

struct lookup_op {
	struct qfs__op op;
	uint64_t parent;
	size_t len;
	char name[FSM_NAME_MAX + 1];
};

static void lookup_reply(struct qfs__op *op, int err)
{
	struct lookup_op *l = (struct lookup_op *)op;
	struct fsm_attr a;

	if (err == 0)
		err = node_lookup(op->m->node, l->parent, l->name, l->len, &a);
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	qfs__reply_entry(op->m, op->req, &a);
	qfs__op_done(op);
}

/* The publishes waited for may have been answered at commit, before their
 * apply here: a barrier again, so the entry's size is theirs. */
static void lookup_settled(struct qfs__op *op, int err)
{
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	qfs__barrier(op, lookup_reply);
}

static void lookup_ready(struct qfs__op *op, int err)
{
	struct lookup_op *l = (struct lookup_op *)op;
	struct qfs__inode *in;
	struct fsm_attr a;

	if (err == 0)
		err = node_lookup(op->m->node, l->parent, l->name, l->len, &a);
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	in = qfs__inode_find(&op->m->inodes, a.ino);
	if (in != NULL)
		qfs__inode_settle_truncations(op->m, in);
	if (in != NULL && in->n_inflight > 0) {
		op->ino = a.ino;
		qfs__wait_inflight(op, lookup_settled);
		return;
	}
	qfs__reply_entry(op->m, op->req, &a);
	qfs__op_done(op);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	size_t len = strlen(name);
	struct lookup_op *l;

	if (len > FSM_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	l = qfs__op_new(m, req, parent, sizeof(*l));
	if (l == NULL)
		return;
	l->parent = parent;
	l->len = len;
	memcpy(l->name, name, len);
	qfs__barrier(&l->op, lookup_ready);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	qfs__inode_forget(fuse_req_userdata(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	for (size_t i = 0; i < count; i++)
		qfs__inode_forget(m, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ------------------------------------------------------------------------ */
/* getattr: barrier, local getattr (a truncation in flight is waited for)    */

struct getattr_op {
	struct qfs__op op;
	struct qfs__handle *h; /* the handle it came through, or NULL */
};

static void getattr_ready(struct qfs__op *op, int err)
{
	struct getattr_op *g = (struct getattr_op *)op;
	struct fsm_attr a;

	if (err == 0)
		err = node_getattr(op->m->node, op->ino, &a);
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	if (g->h != NULL)
		a.size = qfs__handle_size(g->h, a.size);
	qfs__reply_attr(op->m, op->req, &a);
	qfs__op_done(op);
}

static void getattr_settled(struct qfs__op *op, int err)
{
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	qfs__barrier(op, getattr_ready);
}

/* Through a handle (the kernel sends its fh for lseek(SEEK_END), and
 * before each O_APPEND write) the size is the one the handle's own writes
 * make, so the writer sees its file as it wrote it; publishing here instead
 * would cost a commit per append. Otherwise the committed file. */
static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct getattr_op *g;

	/* A file still being created here is in no tree yet (create.c). */
	if (qfs__create_getattr(fuse_req_userdata(req), req, ino, fi))
		return;
	g = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*g));
	if (g != NULL) {
		g->h = fi != NULL ? qfs__handle_of(fi) : NULL;
		qfs__wait_inflight(&g->op, getattr_settled);
	}
}

/* ------------------------------------------------------------------------ */
/* setattr: commit pending truncations, then one SETATTR                     */

struct setattr_op {
	struct qfs__op op;
	struct wire_cmd_attr attr;
};

static void setattr_done(struct qfs__op *op, int err, const struct fsm_result *res)
{
	if (err == 0)
		err = res->err;
	if (err != 0) {
		qfs__op_fail(op, err, QFS__CHANGE);
		return;
	}
	qfs__reply_attr(op->m, op->req, &res->attr);
	qfs__op_done(op);
}

static void setattr_settled(struct qfs__op *op, int err)
{
	struct setattr_op *s = (struct setattr_op *)op;
	struct wire_cmd cmd = {.type = WIRE_CMD_SETATTR, .ino = op->ino, .attr = s->attr};

	if (err != 0) {
		qfs__op_fail(op, err, QFS__CHANGE);
		return;
	}
	qfs__submit(op, &cmd, setattr_done);
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	struct setattr_op *s = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*s));
	struct wire_cmd_attr *a;

	if (s == NULL)
		return;
	a = &s->attr;
	if (to_set & FUSE_SET_ATTR_MODE) {
		a->valid |= WIRE_ATTR_MODE;
		a->mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		a->valid |= WIRE_ATTR_UID;
		a->uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		a->valid |= WIRE_ATTR_GID;
		a->gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			qfs__op_fail(&s->op, -EINVAL, QFS__CHANGE);
			return;
		}
		a->valid |= WIRE_ATTR_SIZE;
		a->size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		a->valid |= WIRE_ATTR_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		a->valid |= WIRE_ATTR_ATIME;
		a->atime_ns = ts_ns(&attr->st_atim);
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		a->valid |= WIRE_ATTR_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		a->valid |= WIRE_ATTR_MTIME;
		a->mtime_ns = ts_ns(&attr->st_mtim);
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		/* truncate(2) and ftruncate(2) move mtime on ext4 also when the
		 * size stays (the tree moves it only when the size changes);
		 * said in the command, so every replica applies the same. */
		a->valid |= WIRE_ATTR_MTIME_NOW;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		a->valid |= WIRE_ATTR_CTIME;
		a->ctime_ns = ts_ns(&attr->st_ctim);
	}
	/* A truncation by a caller without CAP_FSETID clears the set-id bits
	 * (the kernel adds them to the mode itself only for chown and for a
	 * truncate it sends as SETATTR; the apply checks the mode it has). */
	if ((to_set & FUSE_SET_ATTR_SIZE) && qfs__caller_lacks_fsetid(req))
		a->valid |= WIRE_ATTR_KILL_SUIDGID;
	/* ftruncate, fchmod... through a handle that gathered writes come
	 * after them; a change by path or another handle comes before them. */
	qfs__settle(&s->op, fi != NULL ? qfs__handle_of(fi) : NULL, setattr_settled);
}

/* ------------------------------------------------------------------------ */
/* statfs: local (a count of what is stored, no barrier needed)              */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct fsm_statfs fs;
	struct statvfs st;
	int rc = m->stopping ? -EIO : node_statfs(m->node, &fs);

	if (rc != 0) {
		qfs__reply_err(req, rc, QFS__READ);
		return;
	}
	/* The mount does not know the data directory's free space; it shows
	 * what is stored, and room for as much again plus 1 GiB, so that tools
	 * that check free space before writing carry on (docs/semantics.md). */
	memset(&st, 0, sizeof(st));
	st.f_bsize = 4096;
	st.f_frsize = 4096;
	st.f_bfree = st.f_bavail = (fs.bytes + (1ull << 30)) / 4096;
	st.f_blocks = (fs.bytes + 4095) / 4096 + st.f_bfree;
	st.f_ffree = st.f_favail = 1u << 20;
	st.f_files = fs.files + st.f_ffree;
	st.f_namemax = FSM_NAME_MAX;
	fuse_reply_statfs(req, &st);
}

void qfs__ops_entry(struct fuse_lowlevel_ops *ops)
{
	ops->lookup = op_lookup;
	ops->forget = op_forget;
	ops->forget_multi = op_forget_multi;
	ops->getattr = op_getattr;
	ops->setattr = op_setattr;
	ops->statfs = op_statfs;
}
