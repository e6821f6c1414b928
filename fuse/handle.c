/* handle.c: open files: the truncation that open(O_TRUNC) leaves pending, and the write buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"

/*
 * Why a truncation waits (DESIGN.md, "Consistency seen through the mount"):
 * bash's `echo v > f` sends OPEN(O_TRUNC) FLUSH WRITE FLUSH RELEASE. If the
 * open committed the truncation, every node could see f empty until the
 * write. So the open only marks the handle; the first write at offset 0
 * carries the truncation in the same command (WIRE_WRITE_TRUNCATE), and the
 * first FLUSH commits nothing. A second FLUSH with nothing written (`: > f`)
 * commits the truncation (qfs__handle_flush), and what is still owed when
 * the handle is released is committed then.
 *
 * Until then the replacement has not happened, for this node too: getattr,
 * lookup, and reads and writes through other handles see and change the
 * committed file (a reader on this node never sees the file empty in the
 * middle of `echo v > f` either); they only wait for a truncating command
 * already in flight. What the owing handle itself does out of the sequence
 * (a read, a write elsewhere than where its data ends, ftruncate, fsync)
 * commits what it owes first (qfs__settle with the handle). Each handle's
 * truncation is its own: two handles that both opened with O_TRUNC commit
 * each its own, in the order they get to it.
 *
 * Write buffering. `cp big f` writes f in chunks (its 128 KiB buffer; the
 * kernel sends one WRITE per write(2), up to 1 MiB); committing each alone
 * would let other nodes see a prefix of the new contents, and a copy
 * refused half-way (EFBIG) would leave a mangled file. So while a handle
 * owes a truncation and writes full chunks in sequence from offset 0, the
 * chunks are kept here (answered at once), and the first write that is not
 * a full chunk (the last piece of the copy; all of `echo v > f`) travels
 * with all of them as ONE WRITE|TRUNCATE, answered after its commit. A
 * FLUSH (close), fsync, a release, or an out-of-sequence operation of the
 * handle commits the buffer the same way. One handle per inode buffers at a
 * time. A buffer never exceeds max_value_size (then the write that would
 * pass it is committed with the buffer, and the node answers EFBIG), and all
 * buffers of the mount stay under BUFFER_TOTAL_MAX. A truncating write that
 * fails takes its truncation and buffer with it: the file keeps its old
 * contents. docs/semantics.md has what users see.
 */

#define BUFFER_TOTAL_MAX ((size_t)256 << 20)
#define CHUNK_MIN        ((size_t)64 << 10)

/* Free @h's buffer. */
static void buffer_free(struct qfs_mount *m, struct qfs__inode *in, struct qfs__handle *h)
{
	m->buffered -= h->len;
	free(h->buf);
	h->buf = NULL;
	h->len = h->cap = 0;
	if (in != NULL && in->buffering == h)
		in->buffering = NULL;
}

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

bool qfs__handle_can_buffer(struct qfs_mount *m, struct qfs__handle *h, off_t off, size_t size)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);
	uint64_t max = m->opts.max_value_size ? m->opts.max_value_size : FSM_DEFAULT_MAX_VALUE_SIZE;

	if (in == NULL || !h->trunc_pending || h->append || in->n_inflight != 0 ||
	    (in->buffering != NULL && in->buffering != h))
		return false;
	/* A "full chunk": whole pages, at least CHUNK_MIN. The kernel sends
	 * one WRITE per write(2) (or per 1 MiB of it), so this is what a
	 * copying program's buffer looks like (cp, cat: 128 KiB), while the
	 * last piece of a copy, and the small writes of echo and printf, are
	 * not: they are committed at once. */
	if (size < CHUNK_MIN || size % 4096 != 0)
		return false;
	return off == (off_t)h->len && h->len + size <= max &&
	       m->buffered + size <= BUFFER_TOTAL_MAX;
}

int qfs__handle_buffer(struct qfs_mount *m, struct qfs__handle *h, const char *data, size_t size)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);

	if (h->len + size > h->cap) {
		size_t cap = h->cap ? h->cap * 2 : size * 4;
		char *nb;
		if (cap < h->len + size)
			cap = h->len + size;
		nb = realloc(h->buf, cap);
		if (nb == NULL)
			return -ENOMEM;
		h->buf = nb;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, data, size);
	h->len += size;
	m->buffered += size;
	if (in != NULL)
		in->buffering = h;
	return 0;
}

char *qfs__handle_take_buffer(struct qfs_mount *m, struct qfs__handle *h, size_t *len)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);
	char *buf = h->buf;

	*len = h->len;
	m->buffered -= h->len;
	h->buf = NULL;
	h->len = h->cap = 0;
	if (in != NULL && in->buffering == h)
		in->buffering = NULL;
	return buf;
}

/*
 * Read versions. A file replaced atomically (`echo v > f` on any node) must
 * not be read as a mix of its old and new contents by a reader that needs
 * several read(2) calls, as cat and cp do when the file grows between them.
 * So a READ at offset 0 takes the whole current version of the file into
 * the handle (after the barrier: it is linearizable), and the reads that
 * follow, at any offset, are served from it. A new read at offset 0 takes a
 * fresh version, so a program that re-reads from the start (pread at 0, a
 * rewind) sees updates; a write through the handle drops its version. The
 * versions of a mount share a budget; beyond it, reads go to the tree one
 * by one, as they would without versions.
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
	if (m->scanned + len > VERSION_TOTAL_MAX)
		return false;
	h->version = data;
	h->version_len = len;
	h->has_version = true;
	m->scanned += len;
	return true;
}

/* Unlink @h from its inode and free it; drops the inode if nothing holds it. */
static void handle_free(struct qfs_mount *m, struct qfs__inode *in, struct qfs__handle *h)
{
	qfs__handle_drop_version(m, h);
	buffer_free(m, in, h);
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
/* Committing pending truncations and buffers                               */

enum commit_for { FOR_SETTLE, FOR_FLUSH, FOR_RELEASE };

/* A truncation (with a buffer, or alone) in flight. FOR_FLUSH and
 * FOR_RELEASE answer their request after the commit. */
struct trunc_op {
	struct qfs__op op;
	enum commit_for why;
	struct qfs__handle *release; /* FOR_RELEASE: freed after the commit */
	size_t len;                  /* bytes of data it carried */
};

static void truncated(struct qfs__op *op, int err, const struct fsm_result *res)
{
	struct trunc_op *t = (struct trunc_op *)op;
	struct qfs_mount *m = op->m;
	struct qfs__inode *in = qfs__inode_find(&m->inodes, op->ino);

	if (err == 0 && res->err != 0)
		err = res->err;
	/* ENOENT: the file was removed meanwhile; nothing to truncate. A
	 * FLUSH reports its error; the others can only log it. */
	if (err != 0 && err != -ENOENT && err != QFS_ESHUTDOWN && t->why != FOR_FLUSH)
		qfs_log(QFS_LOG_WARN, "%s of inode %llu (open with O_TRUNC) failed: %s",
		        t->len ? "write of buffered data" : "truncation",
		        (unsigned long long)op->ino, qfs_strerror(err));
	if (in != NULL)
		in->hold++;
	if (t->why == FOR_FLUSH) {
		qfs__reply_err(op->req, err, QFS__CHANGE);
	} else if (t->why == FOR_RELEASE) {
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
 * Commit what @h owes: its buffer as one WRITE|TRUNCATE, or else SETATTR
 * size 0. @why, @req: see struct trunc_op (@h is freed after the commit for
 * FOR_RELEASE).
 */
static void propose(struct qfs_mount *m, struct qfs__inode *in, struct qfs__handle *h,
                    enum commit_for why, fuse_req_t req)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_SETATTR, .ino = in->ino};
	struct trunc_op *t;
	char *data = NULL;
	size_t len = 0;

	if (in->buffering == h)
		data = qfs__handle_take_buffer(m, h, &len);
	qfs__handle_take_trunc(m, h);
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		qfs_log(QFS_LOG_ERROR, "truncation of inode %llu lost: out of memory",
		        (unsigned long long)in->ino);
		free(data);
		if (why == FOR_RELEASE)
			handle_free(m, in, h);
		if (req != NULL)
			fuse_reply_err(req, why == FOR_FLUSH ? ENOMEM : 0);
		return;
	}
	t->op.m = m;
	t->op.req = req;
	t->op.ino = in->ino;
	t->why = why;
	t->release = why == FOR_RELEASE ? h : NULL;
	t->len = len;
	m->parked++;
	if (len > 0) {
		cmd.type = WIRE_CMD_WRITE;
		cmd.flags = WIRE_WRITE_TRUNCATE;
		cmd.offset = 0;
		cmd.data = data;
		cmd.data_len = len;
	} else {
		cmd.attr.valid = WIRE_ATTR_SIZE;
		cmd.attr.size = 0;
	}
	qfs__inflight_begin(in);
	qfs__submit(&t->op, &cmd, truncated); /* copies the data */
	free(data);
}

void qfs__handle_settle(struct qfs_mount *m, struct qfs__handle *h)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);
	if (in != NULL && h->trunc_pending)
		propose(m, in, h, FOR_SETTLE, NULL);
}

/*
 * The first FLUSH of a handle commits no bare truncation: in bash's
 * `echo v > f` it comes from the dup2 + close before the write that will
 * carry the truncation. A later FLUSH with the truncation still owed and
 * nothing written (bash's `: > f` and `cmd > f` where cmd writes nothing
 * close a second time: OPEN FLUSH FLUSH RELEASE) commits it, and close(2)
 * returns after the commit, so the file is empty everywhere when the
 * command ends. Buffered chunks are committed by any FLUSH.
 */
void qfs__handle_flush(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);

	h->flushes++;
	if (in == NULL || m->stopping || !h->trunc_pending || (h->len == 0 && h->flushes < 2)) {
		fuse_reply_err(req, 0);
		return;
	}
	propose(m, in, h, FOR_FLUSH, req);
}

void qfs__handle_commit(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);

	if (in == NULL || m->stopping || !h->trunc_pending) {
		fuse_reply_err(req, m->stopping ? EIO : 0);
		return;
	}
	propose(m, in, h, FOR_FLUSH, req);
}

void qfs__handle_drop(struct qfs_mount *m, struct qfs__handle *h)
{
	handle_free(m, qfs__inode_find(&m->inodes, h->ino), h);
}

void qfs__handle_release(struct qfs_mount *m, fuse_req_t req, struct qfs__handle *h)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, h->ino);

	if (h->trunc_pending && in != NULL && !m->stopping) {
		propose(m, in, h, FOR_RELEASE, req);
		return;
	}
	if (h->trunc_pending)
		qfs_log(QFS_LOG_WARN,
		        "truncation of inode %llu (and %zu buffered bytes) dropped: the mount is "
		        "stopping",
		        (unsigned long long)h->ino, h->len);
	handle_free(m, in, h);
	if (req != NULL)
		fuse_reply_err(req, 0);
}
