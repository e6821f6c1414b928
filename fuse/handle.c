/* handle.c: open files: writes gathered per handle and published as one WRITEV; read versions. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"

/*
 * Gathering (docs/semantics.md, "Publish at close"). Committing
 * each write(2) alone costs a replicated commit per 4 KiB (a generator's
 * stdio), lets other nodes read a file half-written, and a copy refused
 * half-way (EFBIG) leaves a mangled file. So a write through a handle is
 * kept here and answered at once, and everything the handle wrote since its
 * last publish travels as ONE WRITEV command, in the order written:
 *
 *   - at FLUSH (close(2) waits for it), fsync or RELEASE, answered after
 *     the commit with its error;
 *   - publish_delay_ms after the first write of the batch, for a handle
 *     that stays open (a log writer);
 *   - before anything the handle itself does that must see its writes (a
 *     read or ftruncate through it, lseek(SEEK_END)'s getattr);
 *   - before the write that would pass the command's bounds, or the
 *     mount's budget (write_buffer_bytes: then the handles gathered
 *     longest ago go first, whichever they are); that write waits for
 *     nothing: the data is in the node's copy once proposed.
 *
 * O_SYNC / O_DSYNC handles publish at every write and answer after it.
 *
 * Why the O_TRUNC waits: bash's `echo v > f` sends OPEN(O_TRUNC) FLUSH
 * WRITE FLUSH RELEASE. The open only marks the handle; the first publish
 * carries the truncation (WIRE_WRITEV_TRUNCATE) with the data, so no node
 * ever sees f empty or half-written. The first FLUSH, before any write,
 * publishes nothing; a later FLUSH with nothing written (`: > f`: OPEN
 * FLUSH FLUSH RELEASE) publishes the bare truncation, and what is still
 * owed at RELEASE is published then.
 *
 * Until a publish, the writes exist only in this handle: other handles,
 * getattr and lookup on this node, and every other node see the committed
 * file (docs/semantics.md says so). They only wait for a publish already in
 * flight, so what follows a close on this node sees what it published.
 *
 * Errors (docs/semantics.md, "A failed publish"). A write fails at once
 * when the node knows the publish would (node_writable: EROFS after the
 * commit timeout out of contact, ENOSPC, EIO), or when the file would pass max_value_size (EFBIG:
 * the write that passes it; a handle replacing the file with O_TRUNC then drops all it gathered and
 * its truncation, so the file keeps its old contents). A publish that fails later drops its data,
 * is reported by the FLUSH or fsync that made it, or else by the next write, flush or fsync of the
 * handle, and marks the inode lost (rename and link of it then fail with EIO).
 *
 * A clean stop (qfs_mount_drain) publishes what every handle owes, then
 * waits, bounded, for all publishes in flight: a program's write(2) was
 * answered, so dropping it at SIGTERM would lose data nobody was told of.
 */

#define BUFFER_DEFAULT ((size_t)256 << 20) /* all handles of a mount */
/* Room the command's encoding takes per extent, and at most overall beyond
 * the data (node.h: a command may exceed max_value_size by 16 KiB). */
#define EXTENT_OVERHEAD  32
#define COMMAND_ROOM     ((size_t)12 << 10)
#define DEFAULT_DELAY_MS 1000

static uint64_t max_size(const struct qfs_mount *m)
{
	return m->opts.max_value_size ? m->opts.max_value_size : FSM_DEFAULT_MAX_VALUE_SIZE;
}

static uint64_t buffer_max(const struct qfs_mount *m)
{
	return m->opts.write_buffer_bytes ? m->opts.write_buffer_bytes : BUFFER_DEFAULT;
}

static uint64_t delay_ms(const struct qfs_mount *m)
{
	return m->opts.publish_delay_ms ? m->opts.publish_delay_ms : DEFAULT_DELAY_MS;
}

bool qfs__inode_is_open(void *arg, uint64_t ino)
{
	struct qfs_mount *m = arg;
	struct qfs__inode *in = qfs__inode_find(&m->inodes, ino);
	return in != NULL && (in->nopen > 0 || in->n_inflight > 0);
}

bool qfs__handle_owes(const struct qfs__handle *h)
{
	return h->n_ext > 0 || h->trunc_pending || h->create_pending;
}

/* ------------------------------------------------------------------------ */
/* Set-id bits                                                              */

bool qfs__caller_lacks_fsetid(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char path[64], line[256];
	unsigned long long caps = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)ctx->pid);
	f = ctx->pid > 0 ? fopen(path, "r") : NULL;
	if (f == NULL)
		return ctx->uid != 0; /* gone already: judge by the uid */
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "CapEff: %llx", &caps) == 1) {
			found = true;
			break;
		}
	fclose(f);
	if (!found)
		return ctx->uid != 0;
	return (caps & (1ull << 4)) == 0; /* CAP_FSETID */
}

bool qfs__write_kills_suidgid(fuse_req_t req, uint32_t mode)
{
	/* Linux's should_remove_suid(): S_ISUID always, S_ISGID only with
	 * group-execute (without it, the bit means mandatory locking). */
	if (!(mode & S_ISUID) && (mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP))
		return false;
	return qfs__caller_lacks_fsetid(req);
}

/* ------------------------------------------------------------------------ */
/* Handles                                                                  */

struct qfs__handle *qfs__handle_open(struct qfs_mount *m, uint64_t ino, int flags, bool truncate,
                                     bool kill)
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
	h->sync = (flags & (O_SYNC | O_DSYNC)) != 0;
	h->trunc_pending = truncate;
	h->kill_suidgid = truncate && kill;
	h->next = in->handles;
	if (in->handles != NULL)
		in->handles->prev = h;
	in->handles = h;
	in->nopen++;
	return h;
}

struct qfs__handle *qfs__handle_of(const struct fuse_file_info *fi)
{
	return (struct qfs__handle *)(uintptr_t)fi->fh;
}

static void dirty_remove(struct qfs_mount *m, struct qfs__handle *h)
{
	if (!h->dirty)
		return;
	if (h->dprev != NULL)
		h->dprev->dnext = h->dnext;
	else
		m->dirty_head = h->dnext;
	if (h->dnext != NULL)
		h->dnext->dprev = h->dprev;
	else
		m->dirty_tail = h->dprev;
	h->dnext = h->dprev = NULL;
	h->dirty = false;
}

static void arm_timer(struct qfs_mount *m)
{
	uint64_t now = uv_now(m->loop);

	if (m->dirty_head == NULL || m->stopping) {
		uv_timer_stop(&m->publish_timer);
		return;
	}
	uv_timer_start(&m->publish_timer, qfs__publish_timer_cb,
	               m->dirty_head->due > now ? m->dirty_head->due - now : 0, 0);
}

/*
 * A handle joins the dirty list at its first gathered write, due
 * publish_delay_ms later; one that still owes its O_TRUNC (a replacement
 * being written: `gen > f`, `head -c 16M > f`) is due only REPLACE_DELAYS
 * times later, so that a replacement written within that time is published
 * whole, while `prog > log` kept open for minutes still shows. The list is
 * kept in due order (insertion from the tail: dues nearly always grow).
 */
#define REPLACE_DELAYS 10

static void dirty_add(struct qfs_mount *m, struct qfs__handle *h)
{
	struct qfs__handle *after;

	if (h->dirty)
		return;
	h->dirty = true;
	h->due = uv_now(m->loop) + delay_ms(m) * (h->trunc_pending ? REPLACE_DELAYS : 1);
	for (after = m->dirty_tail; after != NULL && after->due > h->due; after = after->dprev)
		;
	h->dprev = after;
	h->dnext = after != NULL ? after->dnext : m->dirty_head;
	if (h->dnext != NULL)
		h->dnext->dprev = h;
	else
		m->dirty_tail = h;
	if (after != NULL)
		after->dnext = h;
	else
		m->dirty_head = h;
	if (m->dirty_head == h)
		arm_timer(m);
}

/* The gathered extents, freed. */
static void extents_free(struct qfs_mount *m, struct qfs__extent *ext, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		m->buffered -= ext[i].len;
		free(ext[i].data);
	}
	free(ext);
}

/* Forget what @h gathered (and its truncation, if @trunc_too). */
static void gathered_drop(struct qfs_mount *m, struct qfs__handle *h, bool trunc_too)
{
	extents_free(m, h->ext, h->n_ext);
	h->ext = NULL;
	h->n_ext = h->cap_ext = 0;
	h->gathered = 0;
	h->end = 0;
	if (trunc_too) {
		h->trunc_pending = false;
		h->kill_suidgid = false;
	}
	dirty_remove(m, h);
}

/* Unlink @h from its inode and free it; drops the inode if nothing holds it. */
static void handle_free(struct qfs_mount *m, struct qfs__inode *in, struct qfs__handle *h)
{
	qfs__create_forget(m, h);
	qfs__handle_drop_version(m, h);
	gathered_drop(m, h, true);
	qfs__poll_drop(h);
	if (in != NULL) {
		if (h->prev != NULL)
			h->prev->next = h->next;
		else
			in->handles = h->next;
		if (h->next != NULL)
			h->next->prev = h->prev;
		in->nopen--;
	}
	/* The last handle here of a file unlinked while open (an orphan):
	 * this node lets go of it, and the last node to do so frees it. */
	if (in != NULL && in->nopen == 0 && !m->stopping)
		node_orphan_release(m->node, h->ino);
	free(h);
	if (in != NULL)
		qfs__inode_put(&m->inodes, in);
}

void qfs__handle_drop(struct qfs_mount *m, struct qfs__handle *h)
{
	handle_free(m, qfs__inode_find(&m->inodes, h->ino), h);
}

/* ------------------------------------------------------------------------ */
/* Publishing                                                               */

enum publish_for {
	FOR_SETTLE,  /* answers nothing: an operation of the handle waits for it */
	FOR_DELAY,   /* the timer: answers nothing */
	FOR_FLUSH,   /* answers @req (FLUSH, fsync) with the commit's error */
	FOR_WRITE,   /* answers @req (an O_SYNC WRITE) with its size or the error */
	FOR_RELEASE, /* frees the handle, then answers @req (RELEASE) */
	FOR_DRAIN,   /* the stop's drain: answers nothing */
};

struct publish_op {
	struct qfs__op op;
	enum publish_for why;
	struct qfs__handle *h; /* alive while publishing > 0 (release waits) */
	size_t len;            /* bytes it carried */
	size_t write_size;     /* FOR_WRITE: what to answer */
	bool create;           /* it carries the handle's deferred create (create.c) */
};

static void release_now(struct qfs_mount *m, struct qfs__inode *in, struct qfs__handle *h,
                        fuse_req_t req)
{
	handle_free(m, in, h);
	if (req != NULL)
		fuse_reply_err(req, 0);
}

static void published(struct qfs__op *op, int err, const struct fsm_result *res)
{
	struct publish_op *p = (struct publish_op *)op;
	struct qfs_mount *m = op->m;
	struct qfs__inode *in = qfs__inode_find(&m->inodes, op->ino);
	struct qfs__handle *h = p->h;

	if (err == 0 && res->err != 0)
		err = res->err;
	if (p->create)
		qfs__create_answered(m, h, err, res);
	if (in != NULL) {
		in->hold++;
		/* ENOENT: the file was removed meanwhile; nothing was lost that
		 * anyone can name. */
		if (err == 0)
			in->lost = false;
		else if (err != -ENOENT && err != QFS_ESHUTDOWN)
			in->lost = true;
	}
	if (err != 0 && err != -ENOENT && err != QFS_ESHUTDOWN &&
	    (p->why == FOR_RELEASE || p->why == FOR_DELAY || p->why == FOR_SETTLE))
		qfs_log(QFS_LOG_WARN, "publish of %zu bytes written to inode %llu failed: %s",
		        p->len, (unsigned long long)op->ino, qfs_strerror(err));
	else if (err != 0 && err != -ENOENT && err != QFS_ESHUTDOWN && p->why == FOR_DRAIN)
		qfs_log(QFS_LOG_WARN,
		        "stopping: %zu bytes written to inode %llu could not be published: %s",
		        p->len, (unsigned long long)op->ino, qfs_strerror(err));
	h->publishing--;
	h->publishing_bytes -= p->len;
	m->publishing--;
	switch (p->why) {
	case FOR_FLUSH:
		qfs__reply_err(op->req, err, QFS__CHANGE);
		break;
	case FOR_WRITE:
		if (err == 0)
			fuse_reply_write(op->req, p->write_size);
		else
			qfs__reply_err(op->req, err, QFS__CHANGE);
		break;
	case FOR_RELEASE:
		h->releasing = true;
		h->release = op->req;
		break;
	case FOR_SETTLE:
	case FOR_DELAY:
	case FOR_DRAIN:
		/* Nobody waits for this answer: the next write, flush or
		 * fsync of the handle reports it. */
		if (err != 0 && err != -ENOENT && err != QFS_ESHUTDOWN && h->err == 0)
			h->err = err;
		break;
	}
	if (h->releasing && h->publishing == 0) {
		if (qfs__handle_owes(h) && !m->stopping) {
			/* Written after the publish left (a dup'd descriptor):
			 * published too before the handle goes. */
			fuse_req_t req = h->release;
			h->releasing = false;
			h->release = NULL;
			qfs__handle_release(m, req, h);
		} else {
			release_now(m, in, h, h->release);
		}
	}
	if (in != NULL) {
		in->hold--;
		qfs__inflight_end(m, in);
	}
	if (m->draining) /* never while stopping (qfs_mount_stop ends a drain) */
		qfs__drain_check(m);
	qfs__op_done(op);
	if (m->held_ready && !m->dispatching)
		qfs__create_release_held(m);
}

/*
 * Publish what @h owes as one WRITEV (the caller checked qfs__handle_owes),
 * for @why with @req (see enum publish_for). The extents travel in the
 * command (node_submit copies them) and are freed here.
 */
static void publish(struct qfs_mount *m, struct qfs__handle *h, enum publish_for why,
                    fuse_req_t req, size_t write_size)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);
	struct wire_cmd cmd = {.type = WIRE_CMD_WRITEV, .ino = qfs__handle_tree_ino(h)};
	struct wire_cmd_extent *ce = NULL;
	struct qfs__extent *ext = h->ext;
	size_t n = h->n_ext, len = h->gathered;
	struct publish_op *p;

	/* Everything the command carries leaves the handle now: writes made
	 * while it is in flight start the next batch, from the size it leaves. */
	h->size_after = qfs__handle_size(h, h->base_size);
	h->ext = NULL;
	h->n_ext = h->cap_ext = 0;
	h->gathered = 0;
	h->end = 0;
	dirty_remove(m, h);
	if (h->trunc_pending)
		cmd.flags |= WIRE_WRITEV_TRUNCATE;
	if (h->append)
		cmd.flags |= WIRE_WRITEV_APPEND;
	if (h->kill_suidgid)
		cmd.flags |= WIRE_WRITEV_KILL_SUIDGID;
	h->trunc_pending = false;
	h->kill_suidgid = false;

	p = calloc(1, sizeof(*p));
	if (p != NULL && h->create_pending) {
		qfs__create_command(h, &cmd); /* the file enters the tree with this */
		p->create = true;
	}
	if (n > 0)
		ce = calloc(n, sizeof(*ce));
	if (p == NULL || (n > 0 && ce == NULL) || in == NULL) {
		qfs_log(QFS_LOG_ERROR, "publish of %zu bytes written to inode %llu lost: %s", len,
		        (unsigned long long)h->ino, in == NULL ? "no inode" : "out of memory");
		free(p);
		free(ce);
		extents_free(m, ext, n);
		if (in != NULL)
			in->lost = true;
		if (why == FOR_RELEASE && h->publishing > 0) {
			h->releasing = true;
			h->release = req;
		} else if (why == FOR_RELEASE) {
			release_now(m, in, h, req);
		} else if (why == FOR_FLUSH || why == FOR_WRITE) {
			fuse_reply_err(req, ENOMEM);
		} else if (h->err == 0) {
			h->err = -ENOMEM;
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ce[i].offset = ext[i].off;
		ce[i].data = ext[i].data;
		ce[i].len = ext[i].len;
	}
	cmd.extents = ce;
	cmd.n_extents = n;
	p->op.m = m;
	p->op.req = req;
	p->op.ino = h->ino;
	p->why = why;
	p->h = h;
	p->len = len;
	p->write_size = write_size;
	m->parked++;
	m->publishing++;
	h->publishing++;
	h->publishing_bytes += len;
	qfs__inflight_begin(in);
	/* The caller of a FLUSH or WRITE owns the command (uid/gid); the
	 * others have no request: the tree's time and the handle's data are
	 * all the command needs. */
	/* published() reads only the error, so the node may answer at commit
	 * (docs/semantics.md, "Answers at commit"); an O_SYNC write keeps the
	 * design's stricter promise: answered once applied here. */
	if (why == FOR_WRITE)
		qfs__submit(&p->op, &cmd, published); /* copies the extents */
	else
		qfs__submit_at_commit(&p->op, &cmd, published);
	free(ce);
	extents_free(m, ext, n);
}

void qfs__inode_settle_truncations(struct qfs_mount *m, struct qfs__inode *in)
{
	struct qfs__handle *h, *next;

	if (m->stopping)
		return;
	in->hold++;
	for (h = in->handles; h != NULL; h = next) {
		next = h->next;
		if (h->trunc_pending && h->n_ext == 0 && h->flushes >= 2)
			publish(m, h, FOR_SETTLE, NULL, 0);
	}
	in->hold--;
}

void qfs__inode_publish(struct qfs_mount *m, uint64_t ino)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, ino);
	struct qfs__handle *h, *next;

	if (in == NULL || m->stopping)
		return;
	in->hold++;
	for (h = in->handles; h != NULL; h = next) {
		next = h->next;
		if (h->n_ext > 0)
			publish(m, h, FOR_SETTLE, NULL, 0);
	}
	in->hold--;
}

void qfs__handle_settle(struct qfs_mount *m, struct qfs__handle *h)
{
	if (h != NULL && qfs__handle_owes(h) && !m->stopping)
		publish(m, h, FOR_SETTLE, NULL, 0);
}

/* Run @fn on every handle of every inode of @m; @fn may publish (and so
 * end with the handle freed: a release waiting for it), but touches no
 * other inode. */
static void each_handle(struct qfs_mount *m, void (*fn)(struct qfs_mount *, struct qfs__handle *))
{
	for (size_t i = 0; i < m->inodes.n_buckets; i++) {
		struct qfs__inode *in, *in_next;
		for (in = m->inodes.buckets[i]; in != NULL; in = in_next) {
			struct qfs__handle *h, *next;
			in_next = in->next;
			in->hold++;
			for (h = in->handles; h != NULL; h = next) {
				next = h->next;
				fn(m, h);
			}
			in->hold--;
			qfs__inode_put(&m->inodes, in);
		}
	}
}

static void drain_one(struct qfs_mount *m, struct qfs__handle *h)
{
	/* All of it, also a bare O_TRUNC: no write will follow it now, and a
	 * local file system would have truncated at the open. */
	if (qfs__handle_owes(h))
		publish(m, h, FOR_DRAIN, NULL, 0);
}

void qfs__publish_all(struct qfs_mount *m)
{
	each_handle(m, drain_one);
}

static void log_one(struct qfs_mount *m, struct qfs__handle *h)
{
	if (h->publishing > 0)
		qfs_log(QFS_LOG_WARN,
		        "stopping: %zu bytes written to inode %llu not published: not committed "
		        "before the stop (it may still commit)",
		        h->publishing_bytes, (unsigned long long)h->ino);
}

void qfs__log_unpublished(struct qfs_mount *m)
{
	each_handle(m, log_one);
}

static void free_one(struct qfs_mount *m, struct qfs__handle *h)
{
	handle_free(m, qfs__inode_find(&m->inodes, h->ino), h);
}

void qfs__handles_free(struct qfs_mount *m)
{
	each_handle(m, free_one);
}

void qfs__publish_timer_cb(uv_timer_t *t)
{
	struct qfs_mount *m = t->data;
	uint64_t now = uv_now(m->loop);

	while (m->dirty_head != NULL && m->dirty_head->due <= now && !m->stopping)
		publish(m, m->dirty_head, FOR_DELAY, NULL, 0);
	arm_timer(m);
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                   */

/* Add @size bytes at @off to @h's last extent if they touch it, else as a
 * new extent. Returns 0 or -ENOMEM. */
static int gather(struct qfs_mount *m, struct qfs__handle *h, const char *buf, size_t size,
                  uint64_t off)
{
	struct qfs__extent *e = h->n_ext > 0 ? &h->ext[h->n_ext - 1] : NULL;
	size_t at, need;

	if (e != NULL && !h->append && off >= e->off && off <= e->off + e->len) {
		/* A sequential write (the usual case) or one over the tail. */
		at = (size_t)(off - e->off);
	} else { /* elsewhere, or an append: one extent per append, each atomic */
		if (h->n_ext == h->cap_ext) {
			size_t cap = h->cap_ext ? h->cap_ext * 2 : 8;
			struct qfs__extent *ne = realloc(h->ext, cap * sizeof(*ne));
			if (ne == NULL)
				return -ENOMEM;
			h->ext = ne;
			h->cap_ext = cap;
		}
		e = &h->ext[h->n_ext++];
		memset(e, 0, sizeof(*e));
		e->off = off;
		at = 0;
	}
	need = at + size;
	if (need > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : (size < 65536 ? 65536 : size);
		char *nd;
		if (cap < need)
			cap = need;
		nd = realloc(e->data, cap);
		if (nd == NULL) {
			if (e->len == 0)
				h->n_ext--; /* the new, empty extent */
			return -ENOMEM;
		}
		e->data = nd;
		e->cap = cap;
	}
	memcpy(e->data + at, buf, size);
	if (need > e->len) {
		m->buffered += need - e->len;
		h->gathered += need - e->len;
		e->len = need;
	}
	if (!h->append && off + size > h->end)
		h->end = off + size;
	return 0;
}

/* Would a publish of @h with @size more bytes at @off leave the file over
 * max_value_size? @committed: its size in the tree now. */
static bool too_big(const struct qfs_mount *m, const struct qfs__handle *h, uint64_t committed,
                    size_t size, uint64_t off)
{
	uint64_t base = h->trunc_pending ? 0 : committed, end;

	if (h->append)
		end = base + h->gathered + size;
	else {
		end = off + size;
		if (h->end > end)
			end = h->end;
		if (base > end)
			end = base;
	}
	return end > max_size(m);
}

/* Gather (or refuse) the write; @rc: node_writable()'s answer. */
static void write_now(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h, const char *buf,
                      size_t size, off_t off, int rc)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);
	struct fsm_attr a;

	if (rc == 0)
		rc = m->stopping ? QFS_ESHUTDOWN : in == NULL ? -EIO : 0;
	/* The committed size and mode, read once per batch: a write costs no
	 * read transaction of its own (the fsm checks the size again). */
	if (rc == 0 && h->n_ext == 0) {
		/* A file this handle is still creating is empty in no tree yet. */
		if (h->create_pending || h->create_inflight)
			a = h->c_attr;
		else
			rc = node_getattr(m->node, qfs__handle_tree_ino(h), &a);
		/* A publish of this handle in flight (the delay's, the budget's)
		 * has not applied yet: its size is the one to check against,
		 * or an appender would pass the limit unseen until it lands. */
		h->base_size = h->publishing > 0 ? h->size_after : a.size;
		h->base_mode = a.mode;
	}
	a.size = h->base_size;
	a.mode = h->base_mode;
	if (rc != 0) {
		qfs__reply_err(req, rc, QFS__CHANGE);
		return;
	}
	if (too_big(m, h, a.size, size, (uint64_t)off)) {
		/* A replacement that cannot be whole is not made at all: the
		 * file keeps its old contents, and the inode is marked so that
		 * `gen > f.tmp && mv f.tmp f` cannot publish the remains. */
		if (h->trunc_pending) {
			gathered_drop(m, h, true);
			in->lost = true;
		}
		fuse_reply_err(req, EFBIG);
		return;
	}
	if (!h->kill_suidgid && qfs__write_kills_suidgid(req, a.mode))
		h->kill_suidgid = true;
	/* The command's bounds: what this handle gathered goes first. */
	if (h->n_ext > 0 &&
	    (h->n_ext >= WIRE_WRITEV_EXTENTS_MAX ||
	     h->gathered + size + EXTENT_OVERHEAD * (h->n_ext + 1) > max_size(m) + COMMAND_ROOM))
		publish(m, h, FOR_SETTLE, NULL, 0);
	/* The mount's budget: the handles gathered longest ago go first (the
	 * delay would publish them first anyway), this one too if its turn
	 * comes, until this write fits. One write alone always fits. */
	while (m->buffered + size > buffer_max(m) && m->dirty_head != NULL)
		publish(m, m->dirty_head, m->dirty_head == h ? FOR_SETTLE : FOR_DELAY, NULL, 0);
	if (h->n_ext == 0 && h->publishing > 0) /* published just now: the next batch */
		h->base_size = h->size_after;
	qfs__handle_drop_version(m, h); /* what this handle reads next shows this write */
	if (gather(m, h, buf, size, (uint64_t)off) != 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (h->sync) {
		publish(m, h, FOR_WRITE, req, size);
		return;
	}
	dirty_add(m, h);
	fuse_reply_write(req, size);
}

void qfs__handle_write(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h, const char *buf,
                       size_t size, off_t off)
{
	int rc;

	/* Stopping: what was gathered is being published (qfs_mount_drain);
	 * a write now could not be. */
	if (m->stopping || m->draining) {
		fuse_reply_err(req, EIO);
		return;
	}
	if (size == 0) {
		fuse_reply_write(req, 0);
		return;
	}
	/* A publish that failed with nobody to tell: this write tells. */
	if (h->err != 0) {
		rc = h->err;
		h->err = 0;
		qfs__reply_err(req, rc, QFS__CHANGE);
		return;
	}
	/* Out of contact for less than the commit timeout (an election, a
	 * late heartbeat): gathered as usual; the publish waits for a leader,
	 * and if none comes, close or fsync says so. Parking the write until
	 * contact returned stalled writers whenever a loaded machine delayed
	 * a heartbeat. */
	rc = node_writable(m->node);
	if (rc == -EAGAIN)
		rc = 0;
	write_now(m, req, h, buf, size, off, rc);
}

/* ------------------------------------------------------------------------ */
/* flush, fsync, release                                                    */

/* Answer @req with @h's unreported publish error, if any, else 0. */
static void reply_pending_err(fuse_req_t req, struct qfs__handle *h)
{
	int err = h->err;
	h->err = 0;
	if (err != 0)
		qfs__reply_err(req, err, QFS__CHANGE);
	else
		fuse_reply_err(req, 0);
}

/*
 * FLUSH publishes what the handle gathered, and close(2) returns after the
 * commit with its error. It never publishes a bare truncation: bash sends
 * one FLUSH before the write of `echo v > f` (its dup2 + close), and every
 * command substitution inside `{ ...; } > f` sends one from its child, so
 * a FLUSH with nothing written says nothing about what comes. The
 * truncation of `: > f` (OPEN FLUSH FLUSH RELEASE) is published at RELEASE,
 * or as soon as anything on this node looks at the file after a second
 * such FLUSH (qfs__inode_settle_truncations: lookup, getattr, read), so what
 * follows on this node sees it. One FLUSH is not enough: the program that
 * writes next (cat, head) fstat()s its output after bash's first FLUSH.
 */
struct flush_wait {
	struct qfs__op op;
	struct qfs__handle *h;
};

static void flush_waited(struct qfs__op *op, int err)
{
	struct flush_wait *f = (struct flush_wait *)op;
	if (err != 0 && f->h->err == 0)
		f->h->err = err;
	reply_pending_err(op->req, f->h);
	qfs__op_done(op);
}

void qfs__handle_flush(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h)
{
	h->flushes++;
	/* A create with nothing written (`: > new`, open and close): the
	 * second FLUSH publishes it, so close returns with the file in the
	 * tree, as before creates were deferred; the first may be bash's
	 * dup2, before the write (create.c). */
	if (!m->stopping && h->create_pending && h->n_ext == 0 && h->publishing == 0 &&
	    h->err == 0 && h->flushes >= 2) {
		publish(m, h, FOR_FLUSH, req, 0);
		return;
	}
	if (!m->stopping && h->n_ext == 0 && h->publishing > 0) {
		/* A publish of this handle is in flight (the delay's, or one
		 * made before its locks were released): close returns after it,
		 * with its error, so the data is everywhere when close returns. */
		struct flush_wait *f = qfs__op_new(m, req, h->ino, sizeof(*f));
		if (f != NULL) {
			f->h = h;
			qfs__wait_inflight(&f->op, flush_waited);
		}
		return;
	}
	if (m->stopping || h->n_ext == 0) {
		reply_pending_err(req, h);
		return;
	}
	if (h->err != 0) { /* reported now; what was gathered since is published */
		qfs__handle_settle(m, h);
		reply_pending_err(req, h);
		return;
	}
	publish(m, h, FOR_FLUSH, req, 0);
}

struct fsync_op {
	struct qfs__op op;
	struct qfs__handle *h;
};

static void fsync_settled(struct qfs__op *op, int err)
{
	struct fsync_op *f = (struct fsync_op *)op;

	if (err == 0 && f->h != NULL && f->h->err != 0) {
		err = f->h->err;
		f->h->err = 0;
	}
	if (err == 0)
		fuse_reply_err(op->req, 0);
	else
		qfs__reply_err(op->req, err, QFS__CHANGE);
	qfs__op_done(op);
}

void qfs__handle_fsync(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h)
{
	struct fsync_op *f;

	if (h != NULL && !m->stopping && h->err == 0 && qfs__handle_owes(h)) {
		publish(m, h, FOR_FLUSH, req, 0);
		return;
	}
	/* Nothing of its own to publish: wait for what is in flight on the
	 * file (its earlier publishes, the release of another descriptor). */
	f = qfs__op_new(m, req, h != NULL ? h->ino : 0, sizeof(*f));
	if (f == NULL)
		return;
	f->h = h;
	if (h == NULL) {
		fsync_settled(&f->op, m->stopping ? QFS_ESHUTDOWN : 0);
		return;
	}
	qfs__settle(&f->op, h, fsync_settled);
}

void qfs__handle_release(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);

	if (qfs__handle_owes(h) && in != NULL && !m->stopping) {
		publish(m, h, FOR_RELEASE, req, 0);
		return;
	}
	if (qfs__handle_owes(h))
		qfs_log(QFS_LOG_WARN,
		        "%zu bytes written to inode %llu%s dropped: the mount is stopping",
		        h->gathered, (unsigned long long)h->ino,
		        h->trunc_pending ? " (and its O_TRUNC)" : "");
	if (h->publishing > 0) { /* freed when the last one is answered */
		h->releasing = true;
		h->release = req;
		return;
	}
	release_now(m, in, h, req);
}

/* ------------------------------------------------------------------------ */
/* Read versions                                                            */

/*
 * A file replaced atomically (a publish on any node) must not be read as a
 * mix of its old and new contents by a reader that needs several read(2)
 * calls, as cat and cp do when the file grows between them. So a READ at
 * offset 0 takes the whole current version of the file into the handle
 * (after the barrier: it is linearizable), and the reads that follow, at any
 * offset, are served from it. A new read at offset 0 takes a fresh version,
 * so a program that re-reads from the start (pread at 0, a rewind) sees
 * updates; a write through the handle drops its version. The versions of a
 * mount share a budget; beyond it, reads go to the tree one by one, as they
 * would without versions.
 */
#define VERSION_TOTAL_MAX ((size_t)256 << 20)

bool qfs__handle_wants_version(const struct qfs__handle *h, off_t off)
{
	return h != NULL && (off == 0 || !h->has_version);
}

void qfs__handle_drop_version(struct qfs_mount *m, struct qfs__handle *h)
{
	if (h == NULL || !h->has_version)
		return;
	m->scanned -= h->version_len;
	free(h->version);
	h->version = NULL;
	h->version_len = 0;
	h->has_version = false;
}

bool qfs__handle_set_version(struct qfs_mount *m, struct qfs__handle *h, char *data, size_t len)
{
	qfs__handle_drop_version(m, h);
	h->poll_seen = 0; /* a read from the start consumes a POLLPRI */
	if (m->scanned + len > VERSION_TOTAL_MAX)
		return false;
	h->version = data;
	h->version_len = len;
	h->has_version = true;
	m->scanned += len;
	return true;
}

uint64_t qfs__handle_size(const struct qfs__handle *h, uint64_t committed)
{
	uint64_t base = h->trunc_pending ? 0 : committed;

	if (h->append)
		return base + h->gathered;
	return h->end > base ? h->end : base;
}
