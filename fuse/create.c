/* create.c: a new file enters the tree with its first publish, so `echo v > new` is one commit. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuse_int.h"
#include "quorumfs/log.h"

/*
 * docs/semantics.md, "A new file at its first publish". bash's `echo v >
 * new` sends CREATE FLUSH WRITE FLUSH RELEASE: committing the CREATE at
 * once and the data at the second FLUSH costs two commits, and shows other
 * nodes an empty file between them. So a CREATE without O_EXCL is answered
 * at once, with an inode number this node reserved earlier (CREATE_WRITEV
 * reserves RESERVE_BATCH at a time), and the file enters the tree with the
 * handle's first publish, as one CREATE_WRITEV: at the FLUSH after a write
 * (close waits for it), at a second FLUSH with nothing written (`: > new`),
 * at fsync, at RELEASE, or after the publish delay.
 *
 * Until then the file exists only on this node, in the handle: GETATTR of
 * its inode is answered from what the create made (the kernel asks for it
 * right after the CREATE), and the handle's WRITEs and FLUSHes go on as
 * usual. Any other request that would see the file (a LOOKUP of its name,
 * a READDIR or a change of its directory, any other request on its inode)
 * is held: its bytes are kept, the create is published now, and the
 * request is dispatched once the create is answered, so what comes after on
 * this node finds the file in the tree. O_EXCL creates, and creates with no
 * reserved number at hand, commit at once, as before.
 */

#define RESERVE_BATCH 1024
#define RESERVE_LOW   256 /* reserve again below this many */

struct qfs__held {
	struct qfs__held *next;
	size_t len;
	char data[];
};

uint64_t qfs__handle_tree_ino(const struct qfs__handle *h)
{
	return h->tree_ino != 0 ? h->tree_ino : h->ino;
}

uint64_t qfs__create_reserve(struct qfs_mount *m)
{
	if (m->pool_refilling || m->pool_end - m->pool_next >= RESERVE_LOW)
		return 0;
	m->pool_refilling = true;
	return RESERVE_BATCH;
}

void qfs__create_reserved(struct qfs_mount *m, uint64_t first, uint64_t n)
{
	m->pool_refilling = false;
	if (first == 0 || n == 0)
		return;
	m->pool_next = first;
	m->pool_end = first + n;
}

static struct qfs__handle *creating_of(struct qfs_mount *m, uint64_t ino)
{
	for (struct qfs__handle *h = m->creating; h != NULL; h = h->cnext)
		if (h->ino == ino)
			return h;
	return NULL;
}

static bool name_creating(struct qfs_mount *m, uint64_t parent, const char *name, size_t len)
{
	for (struct qfs__handle *h = m->creating; h != NULL; h = h->cnext)
		if (h->c_parent == parent && h->c_name_len == len &&
		    memcmp(h->c_name, name, len) == 0)
			return true;
	return false;
}

bool qfs__create_defer(struct qfs_mount *m, fuse_req_t req, uint64_t parent, const char *name,
                       size_t len, mode_t mode, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct qfs__handle *h;
	struct fsm_attr a;
	struct timespec now;
	int rc;

	if (m->stopping || (fi->flags & O_EXCL) || m->pool_next >= m->pool_end)
		return false;
	/* Where the create could fail, it is made at once, and says so. */
	rc = node_writable(m->node);
	if (rc != 0)
		return false;
	if (node_getattr(m->node, parent, &a) != 0 || !S_ISDIR(a.mode))
		return false;
	if (node_lookup(m->node, parent, name, len, &a) != -ENOENT ||
	    name_creating(m, parent, name, len))
		return false;

	memset(&a, 0, sizeof(a));
	a.ino = m->pool_next;
	a.mode = S_IFREG | (mode & 07777);
	a.uid = ctx->uid;
	a.gid = ctx->gid;
	a.nlink = 1;
	clock_gettime(CLOCK_REALTIME, &now);
	a.atime_ns = a.mtime_ns = a.ctime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	h = qfs__handle_open(m, a.ino, fi->flags, false, false);
	if (h == NULL)
		return false;
	h->c_name = malloc(len + 1);
	if (h->c_name == NULL) {
		qfs__handle_drop(m, h);
		return false;
	}
	m->pool_next++;
	memcpy(h->c_name, name, len);
	h->c_name[len] = '\0';
	h->c_name_len = len;
	h->c_parent = parent;
	h->c_attr = a;
	h->c_trunc = (fi->flags & O_TRUNC) != 0;
	h->create_pending = true;
	h->cnext = m->creating;
	m->creating = h;

	qfs__entry_param(m, &a, &e);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = 0;
	fi->direct_io = 1;
	qfs__inode_lookup(m, a.ino);
	if (fuse_reply_create(req, &e, fi) != 0) { /* the kernel never had it */
		qfs__inode_forget(m, a.ino, 1);
		qfs__handle_drop(m, h);
	}
	return true;
}

bool qfs__create_getattr(struct qfs_mount *m, fuse_req_t req, uint64_t ino,
                         struct fuse_file_info *fi)
{
	struct qfs__handle *h = m->creating != NULL ? creating_of(m, ino) : NULL;
	struct fsm_attr a;

	if (h == NULL)
		return false;
	a = h->c_attr;
	/* Through a handle, the size its writes make (as for any file). */
	a.size = fi != NULL ? qfs__handle_size(qfs__handle_of(fi), 0) : 0;
	qfs__reply_attr(m, req, &a);
	return true;
}

void qfs__create_command(struct qfs__handle *h, struct wire_cmd *cmd)
{
	cmd->type = WIRE_CMD_CREATE_WRITEV;
	cmd->parent = h->c_parent;
	cmd->name = h->c_name;
	cmd->name_len = h->c_name_len;
	cmd->mode = h->c_attr.mode;
	cmd->uid = h->c_attr.uid; /* the creator's, whoever publishes */
	cmd->gid = h->c_attr.gid;
	if (h->c_trunc)
		cmd->flags |= WIRE_WRITEV_TRUNCATE;
	h->create_pending = false;
	h->create_inflight = true;
}

static void unlink_creating(struct qfs_mount *m, struct qfs__handle *h)
{
	struct qfs__handle **pp;

	for (pp = &m->creating; *pp != NULL; pp = &(*pp)->cnext)
		if (*pp == h) {
			*pp = h->cnext;
			break;
		}
	h->cnext = NULL;
	h->create_pending = h->create_inflight = false;
}

void qfs__create_answered(struct qfs_mount *m, struct qfs__handle *h, int err,
                          const struct fsm_result *res)
{
	if (err == 0 && res != NULL && res->err == 0 && res->attr.ino != h->ino) {
		/* Another node made the name first: the publish went to its
		 * file, and so do this handle's next ones. The number the
		 * kernel has names nothing in the tree. */
		h->tree_ino = res->attr.ino;
		qfs_log(QFS_LOG_INFO, "a create of inode %llu met a file made first (inode %llu)",
		        (unsigned long long)h->ino, (unsigned long long)res->attr.ino);
	}
	unlink_creating(m, h);
	m->held_ready = true; /* published() dispatches them when it is done */
}

void qfs__create_forget(struct qfs_mount *m, struct qfs__handle *h)
{
	if (h->create_pending || h->create_inflight) {
		unlink_creating(m, h);
		if (m->dispatching)
			m->held_ready = true;
		else if (m->held_head != NULL)
			qfs__create_release_held(m);
	}
	free(h->c_name);
	h->c_name = NULL;
}

/* ------------------------------------------------------------------------ */
/* Held requests                                                            */

/* Requests that pass: what the handle itself does, and what this file
 * answers from the handle. */
static bool passes(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_WRITE:
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_FSYNC:
	case FUSE_GETATTR:
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		return true;
	default:
		return false;
	}
}

/* Does request @in (with @body, @blen bytes after the header) have to see
 * the create of @h? Directory changes in its directory wait whatever name
 * they have: rare while a file is being written, and never wrong. */
static bool must_wait(const struct qfs__handle *h, const struct fuse_in_header *in,
                      const char *body, size_t blen)
{
	if (in->nodeid == h->ino)
		return !passes(in->opcode);
	switch (in->opcode) {
	case FUSE_LOOKUP:
		return in->nodeid == h->c_parent && blen >= h->c_name_len + 1 &&
		       memcmp(body, h->c_name, h->c_name_len) == 0 && body[h->c_name_len] == '\0';
	case FUSE_LINK:
		if (blen >= sizeof(struct fuse_link_in) &&
		    ((const struct fuse_link_in *)(const void *)body)->oldnodeid == h->ino)
			return true;
		return in->nodeid == h->c_parent;
	case FUSE_RENAME:
		if (blen >= sizeof(struct fuse_rename_in) &&
		    ((const struct fuse_rename_in *)(const void *)body)->newdir == h->c_parent)
			return true;
		return in->nodeid == h->c_parent;
	case FUSE_RENAME2:
		if (blen >= sizeof(struct fuse_rename2_in) &&
		    ((const struct fuse_rename2_in *)(const void *)body)->newdir == h->c_parent)
			return true;
		return in->nodeid == h->c_parent;
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
	case FUSE_CREATE:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
		return in->nodeid == h->c_parent;
	default:
		return false;
	}
}

/* The creates @data waits for: published now if still pending. Returns
 * whether there is any. */
static bool waits(struct qfs_mount *m, const char *data, size_t len, bool publish)
{
	const struct fuse_in_header *in = (const void *)data;
	const char *body = data + sizeof(*in);
	size_t blen = len - sizeof(*in);
	struct qfs__handle *h, *next;
	bool any = false;

	for (h = m->creating; h != NULL; h = next) {
		next = h->cnext;
		if (!must_wait(h, in, body, blen))
			continue;
		any = true;
		if (publish && h->create_pending)
			qfs__handle_settle(m, h); /* may unlink @h: @next is kept */
	}
	return any;
}

bool qfs__create_hold(struct qfs_mount *m, const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;
	struct qfs__held *held;
	size_t len;

	if (m->creating == NULL || m->stopping || (buf->flags & FUSE_BUF_IS_FD) ||
	    buf->size < sizeof(*in))
		return false;
	len = in->len < buf->size ? in->len : buf->size;
	if (len < sizeof(*in) || !waits(m, buf->mem, len, false))
		return false;
	held = malloc(sizeof(*held) + len);
	if (held == NULL)
		return false; /* dispatched now: it may not see the file */
	held->next = NULL;
	held->len = len;
	memcpy(held->data, buf->mem, len);
	if (m->held_tail != NULL)
		m->held_tail->next = held;
	else
		m->held_head = held;
	m->held_tail = held;
	m->parked++;
	waits(m, held->data, held->len, true);
	return true;
}

void qfs__create_release_held(struct qfs_mount *m)
{
	struct qfs__held **pp = &m->held_head, *held, *prev = NULL;
	bool was = m->dispatching;

	m->held_ready = false;
	/* Nothing held: nothing to do, and above all no finish of a stop
	 * (mount_free frees the handles it never released through here). */
	if (m->held_head == NULL)
		return;
	m->dispatching = true; /* the session stays while we use it */
	while ((held = *pp) != NULL) {
		if (!m->stopping && !m->gone && waits(m, held->data, held->len, false)) {
			prev = held;
			pp = &held->next;
			continue;
		}
		*pp = held->next;
		if (m->held_tail == held)
			m->held_tail = prev;
		if (!m->gone) {
			struct fuse_buf b = {.size = held->len, .mem = held->data};
			fuse_session_process_buf(m->se, &b);
		}
		free(held);
		m->parked--;
		/* What it did may have answered more creates: from the start. */
		pp = &m->held_head;
		prev = NULL;
	}
	m->dispatching = was;
	if (m->stopping)
		qfs__maybe_finish(m);
}
