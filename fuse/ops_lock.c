/* ops_lock.c: flock(2) and fcntl locks held cluster-wide; the lock and ephemeral xattrs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "fuse_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/node_coord.h"

/*
 * Every lock request becomes a LOCK command decided by the log (node_coord.h).
 * A request that must wait (F_SETLKW, flock without LOCK_NB) is parked here,
 * one small struct and no thread, and tried again whenever an applied entry
 * may have released a lock on its inode (node_on_lock_change). The kernel's
 * INTERRUPT (a signal to the waiter) ends the wait with EINTR.
 *
 * The kernel tells us when a lock ends without an unlock: FLUSH (every
 * close(2)) carries the fcntl lock owner, whose locks on the file go, as
 * POSIX says; RELEASE (the last close of an open file) ends the flock and
 * OFD locks taken through that handle. To keep closes of files that never
 * saw a lock free of log entries, the mount remembers which (inode, owner,
 * handle) asked for a lock.
 */

struct lk_user {
	uint64_t ino, owner, fh;
	bool flock;
	struct lk_user *next;
};

struct lk_op;

struct qfs__locks {
	struct lk_op *waiters; /* parked requests, doubly linked */
	struct lk_user *users;
	bool hooked; /* node_on_lock_change is set to us */
};

struct lk_op {
	struct qfs__op op;
	struct node_lock_req r;
	bool sleep;       /* wait for the lock (F_SETLKW, flock without LOCK_NB) */
	bool in_flight;   /* a LOCK command is proposed, not answered */
	bool retry;       /* a release applied while in flight: try again */
	bool interrupted; /* the kernel's INTERRUPT came */
	bool parked;
	bool has_timer;
	uv_timer_t timer; /* answers an interrupt outside libfuse's call */
	struct lk_op *next, *prev;
};

static void on_lock_change(void *arg, uint64_t ino);

static struct qfs__locks *locks_of(struct qfs_mount *m)
{
	if (m->locks == NULL)
		m->locks = calloc(1, sizeof(*m->locks));
	if (m->locks != NULL && !m->locks->hooked && !m->stopping) {
		node_on_lock_change(m->node, on_lock_change, m);
		m->locks->hooked = true;
	}
	return m->locks;
}

/* ------------------------------------------------------------------------ */
/* Who asked for locks                                                      */

static int user_add(struct qfs_mount *m, const struct node_lock_req *r)
{
	struct qfs__locks *L = locks_of(m);
	bool flock = (r->flags & WIRE_LOCK_FLOCK) != 0;
	if (L == NULL)
		return -ENOMEM;
	for (struct lk_user *u = L->users; u != NULL; u = u->next)
		if (u->ino == r->ino && u->owner == r->owner && u->fh == r->fh && u->flock == flock)
			return 0;
	struct lk_user *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	u->ino = r->ino;
	u->owner = r->owner;
	u->fh = r->fh;
	u->flock = flock;
	u->next = L->users;
	L->users = u;
	return 0;
}

/* Removes the users that match; returns how many. @fh_match: by handle
 * (RELEASE), else by fcntl owner (FLUSH). */
static unsigned user_take(struct qfs_mount *m, uint64_t ino, uint64_t owner, uint64_t fh,
                          bool by_fh)
{
	unsigned n = 0;
	if (m->locks == NULL)
		return 0;
	for (struct lk_user **p = &m->locks->users; *p != NULL;) {
		struct lk_user *u = *p;
		bool match = u->ino == ino &&
		             (by_fh ? (u->fh == fh || (u->flock && owner != 0 && u->owner == owner))
		                    : (!u->flock && u->owner == owner));
		if (match) {
			*p = u->next;
			free(u);
			n++;
		} else {
			p = &u->next;
		}
	}
	return n;
}

static bool user_has(struct qfs_mount *m, const struct node_lock_req *r)
{
	bool flock = (r->flags & WIRE_LOCK_FLOCK) != 0;
	if (m->locks == NULL)
		return false;
	for (struct lk_user *u = m->locks->users; u != NULL; u = u->next)
		if (u->ino == r->ino && u->owner == r->owner && u->flock == flock)
			return true;
	return false;
}

/* ------------------------------------------------------------------------ */
/* Parked requests                                                          */

static void park(struct lk_op *lk)
{
	struct qfs__locks *L = lk->op.m->locks;
	lk->parked = true;
	lk->prev = NULL;
	lk->next = L->waiters;
	if (L->waiters != NULL)
		L->waiters->prev = lk;
	L->waiters = lk;
}

static void unpark(struct lk_op *lk)
{
	struct qfs__locks *L = lk->op.m->locks;
	if (!lk->parked)
		return;
	if (lk->prev != NULL)
		lk->prev->next = lk->next;
	else
		L->waiters = lk->next;
	if (lk->next != NULL)
		lk->next->prev = lk->prev;
	lk->parked = false;
}

static void timer_closed(uv_handle_t *h)
{
	qfs__op_done(h->data);
}

/* The one reply, then the op goes (after its timer is closed, if it has one). */
static void lk_reply(struct lk_op *lk, int err)
{
	unpark(lk);
	fuse_reply_err(lk->op.req, err);
	if (lk->has_timer) {
		lk->timer.data = lk;
		uv_close((uv_handle_t *)&lk->timer, timer_closed);
		return;
	}
	qfs__op_done(&lk->op);
}

static int lock_errno(int err)
{
	if (err == -EAGAIN || err == -ENOLCK || err == -EINTR || err == -EINVAL || err == -ENOENT)
		return -err;
	return qfs__errno(err, QFS__CHANGE);
}

static bool try_lock(struct lk_op *lk);

/* A grant is where a lock's user expects to see what the previous holder
 * wrote: the handles of the file here forget the versions their reads were
 * served from (handle.c, "Read versions"). SQLite reads its change counter
 * at offset 24, never at 0, after each lock. */
static void drop_versions(struct qfs_mount *m, uint64_t ino)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, ino);
	if (in == NULL)
		return;
	for (struct qfs__handle *h = in->handles; h != NULL; h = h->next)
		qfs__handle_drop_version(m, h);
}

static void lock_cb(void *arg, int err, uint64_t token)
{
	struct lk_op *lk = arg;
	struct qfs_mount *m = lk->op.m;
	(void)token; /* readable as user.quorumfs.lock.token */

	lk->in_flight = false;
	if (err == -EAGAIN && lk->sleep) {
		if (lk->interrupted) {
			lk_reply(lk, EINTR);
		} else if (m->stopping) {
			lk_reply(lk, EIO);
		} else if (lk->retry) {
			lk->retry = false;
			try_lock(lk);
		} else if (!lk->parked) {
			park(lk);
		}
		return;
	}
	/* Granted after an interrupt: the lock is the process's now (the
	 * kernel returns our answer; a process that died closes its files,
	 * and FLUSH/RELEASE drop it). */
	if (err == 0)
		drop_versions(m, lk->r.ino);
	lk_reply(lk, err == 0 ? 0 : lock_errno(err));
}

/* Returns false if @lk was answered (and freed) at once. */
static bool try_lock(struct lk_op *lk)
{
	int rc;
	lk->in_flight = true;
	lk->retry = false;
	rc = node_lock(lk->op.m->node, &lk->r, lock_cb, lk);
	if (rc != 0) {
		lk->in_flight = false;
		lk_reply(lk, lock_errno(rc));
		return false;
	}
	return true;
}

static void on_lock_change(void *arg, uint64_t ino)
{
	struct qfs_mount *m = arg;
	struct lk_op *lk, *next;
	if (m->locks == NULL)
		return;
	for (lk = m->locks->waiters; lk != NULL; lk = next) {
		next = lk->next;
		if ((ino != 0 && lk->r.ino != ino) || lk->interrupted)
			continue;
		if (lk->in_flight) {
			lk->retry = true;
			continue;
		}
		try_lock(lk);
	}
}

static void interrupt_later(uv_timer_t *t)
{
	struct lk_op *lk = t->data;
	if (!lk->in_flight)
		lk_reply(lk, EINTR);
	/* In flight: lock_cb answers (EINTR, or 0 if it was granted). */
}

/* libfuse may call this from inside fuse_req_interrupt_func(), holding the
 * request's lock: replying here would free the request under it. So the
 * reply goes from a timer on the loop. */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct lk_op *lk = data;
	(void)req;
	if (lk->interrupted)
		return;
	lk->interrupted = true;
	if (lk->in_flight)
		return;
	if (uv_timer_init(lk->op.m->loop, &lk->timer) != 0)
		return;
	lk->has_timer = true;
	lk->timer.data = lk;
	uv_timer_start(&lk->timer, interrupt_later, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* setlk, flock, getlk                                                      */

static void unlock_cb(void *arg, int err, uint64_t token)
{
	struct lk_op *lk = arg;
	(void)token;
	lk_reply(lk, err == 0 ? 0 : lock_errno(err));
}

static void start(fuse_req_t req, struct node_lock_req *r, bool sleep)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct lk_op *lk;
	int rc;

	if (m->stopping) {
		fuse_reply_err(req, EIO);
		return;
	}
	if ((r->flags & WIRE_LOCK_TYPE) == WIRE_LOCK_UNLOCK) {
		/* Nothing asked for here by this owner: nothing to unlock. */
		if (!user_has(m, r)) {
			fuse_reply_err(req, 0);
			return;
		}
		lk = qfs__op_new(m, req, r->ino, sizeof(*lk));
		if (lk == NULL)
			return;
		lk->r = *r;
		rc = node_lock(m->node, r, unlock_cb, lk);
		if (rc != 0)
			lk_reply(lk, lock_errno(rc));
		return;
	}
	if (locks_of(m) == NULL || user_add(m, r) != 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	lk = qfs__op_new(m, req, r->ino, sizeof(*lk));
	if (lk == NULL)
		return;
	lk->r = *r;
	lk->sleep = sleep;
	/* Registered after the first try is in flight, so that an interrupt
	 * already pending is answered by lock_cb, never from inside libfuse. */
	if (try_lock(lk) && sleep)
		fuse_req_interrupt_func(req, on_interrupt, lk);
}

static uint32_t type_flag(short type)
{
	switch (type) {
	case F_RDLCK:
		return WIRE_LOCK_READ;
	case F_WRLCK:
		return WIRE_LOCK_WRITE;
	default:
		return WIRE_LOCK_UNLOCK;
	}
}

/* struct flock (as libfuse gives it: l_start absolute, l_len 0 = to the
 * end) -> an inclusive range. -EINVAL for a negative start or length. */
static int range_of(const struct flock *l, uint64_t *start, uint64_t *end)
{
	if (l->l_start < 0 || l->l_len < 0)
		return -EINVAL;
	*start = (uint64_t)l->l_start;
	if (l->l_len == 0 || (uint64_t)l->l_len - 1 > WIRE_LOCK_END_MAX - *start)
		*end = WIRE_LOCK_END_MAX;
	else
		*end = *start + (uint64_t)l->l_len - 1;
	return 0;
}

static void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
                     int sleep)
{
	struct node_lock_req r = {.ino = ino, .owner = fi->lock_owner, .fh = fi->fh};
	if (range_of(lock, &r.start, &r.end) != 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r.pid = lock->l_pid > 0 ? (uint32_t)lock->l_pid : (uint32_t)fuse_req_ctx(req)->pid;
	r.flags = type_flag(lock->l_type);
	/* What was written under the lock is published before it goes, so
	 * that the next holder, anywhere, reads it (handle.c). */
	if (lock->l_type == F_UNLCK)
		qfs__inode_publish(fuse_req_userdata(req), ino);
	start(req, &r, sleep != 0);
}

static void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	struct node_lock_req r = {.ino = ino,
	                          .owner = fi->lock_owner,
	                          .fh = fi->fh,
	                          .end = WIRE_LOCK_END_MAX,
	                          .pid = (uint32_t)fuse_req_ctx(req)->pid,
	                          .flags = WIRE_LOCK_FLOCK};
	int kind = op & (LOCK_SH | LOCK_EX | LOCK_UN);
	if (kind == LOCK_SH)
		r.flags |= WIRE_LOCK_READ;
	else if (kind == LOCK_EX)
		r.flags |= WIRE_LOCK_WRITE;
	else if (kind != LOCK_UN) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (kind == LOCK_UN) /* after what was written under the lock (op_setlk) */
		qfs__inode_publish(fuse_req_userdata(req), ino);
	start(req, &r, !(op & LOCK_NB) && kind != LOCK_UN);
}

struct getlk_op {
	struct qfs__op op;
	struct fsm_lock want;
	struct flock lock;
};

/* F_GETLK shows the holder's pid when the holder is a process of this node,
 * and 0 for one of another node: the kernel maps a pid into this node's pid
 * namespace, where a remote pid would name an unrelated process. */
static void getlk_ready(struct qfs__op *op, int err)
{
	struct getlk_op *g = (struct getlk_op *)op;
	struct fsm_lock h;
	if (err == 0) {
		err = node_lock_test(op->m->node, &g->want, &h);
		if (err == -ENOENT) {
			g->lock.l_type = F_UNLCK;
			err = 0;
		} else if (err == 0) {
			g->lock.l_type =
			        (h.flags & WIRE_LOCK_TYPE) == WIRE_LOCK_WRITE ? F_WRLCK : F_RDLCK;
			g->lock.l_whence = SEEK_SET;
			g->lock.l_start = (off_t)h.start;
			g->lock.l_len = h.end == WIRE_LOCK_END_MAX ? 0 : (off_t)(h.end - h.start + 1);
			g->lock.l_pid = h.node == node_id(op->m->node) ? (pid_t)h.pid : 0;
		}
	}
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	fuse_reply_lock(op->req, &g->lock);
	qfs__op_done(op);
}

static void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct getlk_op *g;
	struct fsm_lock want = {.ino = ino, .owner = fi->lock_owner, .flags = type_flag(lock->l_type)};

	if (range_of(lock, &want.start, &want.end) != 0 || want.flags == WIRE_LOCK_UNLOCK) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	g = qfs__op_new(m, req, ino, sizeof(*g));
	if (g == NULL)
		return;
	g->want = want;
	g->lock = *lock;
	qfs__barrier(&g->op, getlk_ready);
}

void qfs__ops_locks(struct fuse_lowlevel_ops *ops)
{
	ops->getlk = op_getlk;
	ops->setlk = op_setlk;
	ops->flock = op_flock;
}

/* ------------------------------------------------------------------------ */
/* FLUSH and RELEASE                                                        */

struct close_op {
	struct qfs__op op;
	struct qfs__handle *h;
	bool release;
};

static void close_go(struct close_op *c)
{
	struct qfs_mount *m = c->op.m;
	if (c->release)
		qfs__handle_release(m, c->op.req, c->h);
	else
		qfs__handle_flush(m, c->op.req, c->h);
	qfs__op_done(&c->op);
}

static void flush_unlocked(void *arg, int err, uint64_t token)
{
	(void)err; /* the node retried it; the session's end is the backstop */
	(void)token;
	close_go(arg);
}

static void release_unlocked(void *arg, int err)
{
	(void)err;
	close_go(arg);
}

bool qfs__locks_flush(struct qfs_mount *m, fuse_req_t req, uint64_t ino,
                      const struct fuse_file_info *fi, struct qfs__handle *h)
{
	struct node_lock_req r = {.ino = ino, .owner = fi->lock_owner, .end = WIRE_LOCK_END_MAX};
	struct close_op *c;

	if (m->stopping || user_take(m, ino, fi->lock_owner, 0, false) == 0)
		return false;
	qfs__inode_publish(m, ino); /* what was written under the locks goes first */
	c = qfs__op_new(m, req, ino, sizeof(*c));
	if (c == NULL)
		return true; /* answered ENOMEM */
	c->h = h;
	if (node_lock(m->node, &r, flush_unlocked, c) != 0)
		close_go(c);
	return true;
}

bool qfs__locks_release(struct qfs_mount *m, fuse_req_t req, uint64_t ino,
                        const struct fuse_file_info *fi, struct qfs__handle *h)
{
	uint64_t owner = fi->flock_release ? fi->lock_owner : 0;
	struct close_op *c;

	if (m->stopping || user_take(m, ino, owner, fi->fh, true) == 0)
		return false;
	qfs__inode_publish(m, ino); /* what was written under the locks goes first */
	c = qfs__op_new(m, req, ino, sizeof(*c));
	if (c == NULL)
		return true;
	c->h = h;
	c->release = true;
	if (node_unlock_handle(m->node, ino, owner, fi->fh, release_unlocked, c) != 0)
		close_go(c);
	return true;
}

void qfs__locks_stop(struct qfs_mount *m)
{
	if (m->locks == NULL)
		return;
	if (m->locks->hooked)
		node_on_lock_change(m->node, NULL, NULL);
	m->locks->hooked = false;
	/* Parked waiters would hold the stop forever: they end now. Those in
	 * flight end when their command does. */
	struct lk_op *lk, *next;
	for (lk = m->locks->waiters; lk != NULL; lk = next) {
		next = lk->next;
		if (!lk->in_flight && !lk->has_timer)
			lk_reply(lk, EIO);
	}
}

void qfs__locks_free(struct qfs_mount *m)
{
	if (m->locks == NULL)
		return;
	while (m->locks->users != NULL) {
		struct lk_user *u = m->locks->users;
		m->locks->users = u->next;
		free(u);
	}
	free(m->locks);
	m->locks = NULL;
}

/* ------------------------------------------------------------------------ */
/* The xattrs                                                               */

#define XA_TOKEN     "user.quorumfs.lock.token"
#define XA_HOLDER    "user.quorumfs.lock.holder"
#define XA_EPHEMERAL "user.quorumfs.ephemeral"

struct xa_op {
	struct qfs__op op;
	int which; /* 0 token, 1 holder, 2 ephemeral */
	size_t size;
};

static void xa_ready(struct qfs__op *op, int err)
{
	struct xa_op *x = (struct xa_op *)op;
	struct node *n = op->m->node;
	char val[128];
	int len = 0;

	if (err == 0 && x->which < 2) {
		struct fsm_lock l;
		/* The token: this node's lock only (ENODATA when it holds none, so
		 * a holder that lost its lock never fences with the next one's);
		 * the holder: whoever holds it. */
		err = node_lock_newest(n, op->ino, x->which == 0, &l);
		if (err == 0 && x->which == 0)
			len = snprintf(val, sizeof(val), "%" PRIu64, l.token);
		else if (err == 0)
			len = snprintf(val, sizeof(val), "node=%" PRIu64 " pid=%u type=%s%s token=%" PRIu64,
			               l.node, l.pid,
			               (l.flags & WIRE_LOCK_TYPE) == WIRE_LOCK_WRITE ? "write" : "read",
			               (l.flags & WIRE_LOCK_FLOCK) ? " flock" : "", l.token);
	} else if (err == 0) {
		uint64_t node;
		err = node_ephemeral_node(n, op->ino, &node);
		if (err == 0)
			len = snprintf(val, sizeof(val), "1");
	}
	if (err != 0) {
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	if (x->size == 0)
		fuse_reply_xattr(op->req, (size_t)len);
	else if (x->size < (size_t)len)
		fuse_reply_err(op->req, ERANGE);
	else
		fuse_reply_buf(op->req, val, (size_t)len);
	qfs__op_done(op);
}

bool qfs__locks_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	int which = strcmp(name, XA_TOKEN) == 0       ? 0
	            : strcmp(name, XA_HOLDER) == 0    ? 1
	            : strcmp(name, XA_EPHEMERAL) == 0 ? 2
	                                              : -1;
	struct xa_op *x;
	if (which < 0)
		return false;
	x = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*x));
	if (x == NULL)
		return true;
	x->which = which;
	x->size = size;
	qfs__barrier(&x->op, xa_ready);
	return true;
}

static void ephemeral_done(void *arg, int err, const struct fsm_result *res)
{
	struct qfs__op *op = arg;
	if (err == 0)
		err = res->err;
	if (err != 0) {
		qfs__op_fail(op, err == -ENOLCK ? -ENOLCK : err, QFS__CHANGE);
		return;
	}
	fuse_reply_err(op->req, 0);
	qfs__op_done(op);
}

bool qfs__locks_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                         size_t size)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct qfs__op *op;

	if (strcmp(name, XA_TOKEN) == 0 || strcmp(name, XA_HOLDER) == 0) {
		fuse_reply_err(req, EPERM); /* the lock's, not the user's */
		return true;
	}
	if (strcmp(name, XA_EPHEMERAL) != 0)
		return false;
	/* "1" (also "1\n") marks the file; there is no way back but removal. */
	if (!(size >= 1 && value[0] == '1' && (size == 1 || (size == 2 && value[1] == '\n')))) {
		fuse_reply_err(req, EINVAL);
		return true;
	}
	op = qfs__op_new(m, req, ino, sizeof(*op));
	if (op == NULL)
		return true;
	int rc = node_set_ephemeral(m->node, ino, ephemeral_done, op);
	if (rc != 0)
		qfs__op_fail(op, rc, QFS__CHANGE);
	return true;
}
