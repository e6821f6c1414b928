/* fake_node.c: node.h for the mount's tests: commands applied at once to a real fsm over LMDB. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "fake_node.h"
#include "quorumfs/errors.h"
#include "quorumfs/node_coord.h"
#include "quorumfs/store.h"

struct pending {
	struct pending *next;
	void *buf;
	size_t len;
	struct wire_cmd cmd; /* decoded from @buf (pointers into it) */
	int fail;            /* non-zero: the outcome, without applying */
	node_result_fn cb;
	void *arg;
};

struct node {
	uv_loop_t *loop;
	MDB_env *env;
	struct fsm *fsm;
	uint64_t max_value_size;
	uint64_t index;
	uv_timer_t timer;
	struct pending *head, *tail;
	FILE *log; /* $QFS_FAKE_NODE_LOG: one line per applied command */
	node_change_fn change;
	void *change_arg;
	int fail;
	bool closing;
};

static void changed(struct node *n, uint64_t ino, uint64_t parent, const char *name, size_t len)
{
	if (n->change != NULL)
		n->change(n->change_arg, ino, parent, name, len);
}

/* The change hook as the real node would call it: the inode acted on, and
 * each name added or removed with its directory. */
static void report(struct node *n, const struct wire_cmd *c, const struct fsm_result *res)
{
	if (res->err != 0)
		return;
	switch (c->type) {
	case WIRE_CMD_CREATE:
	case WIRE_CMD_MKDIR:
	case WIRE_CMD_SYMLINK:
	case WIRE_CMD_LINK:
	case WIRE_CMD_UNLINK:
	case WIRE_CMD_RMDIR:
		changed(n, res->attr.ino, c->parent, c->name, c->name_len);
		changed(n, c->parent, 0, NULL, 0);
		break;
	case WIRE_CMD_RENAME:
		changed(n, res->attr.ino, c->parent, c->name, c->name_len);
		changed(n, res->attr.ino, c->new_parent, c->new_name, c->new_name_len);
		changed(n, c->parent, 0, NULL, 0);
		if (c->new_parent != c->parent)
			changed(n, c->new_parent, 0, NULL, 0);
		break;
	default:
		changed(n, res->attr.ino, 0, NULL, 0);
		break;
	}
}

static int apply(struct node *n, struct pending *p, struct fsm_result *res)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(n->env, NULL, 0, &txn);

	if (rc != 0)
		return store_lmdb_error(rc) == QFS_EMAPFULL ? -ENOSPC : -EIO;
	rc = fsm_apply(n->fsm, txn, n->index + 1, p->buf, p->len, res);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc == QFS_EMAPFULL ? -ENOSPC : -EIO;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		return -EIO;
	n->index++;
	return 0;
}

static void timer_cb(uv_timer_t *t)
{
	struct node *n = t->data;
	struct pending *p;

	while ((p = n->head) != NULL) {
		struct fsm_result res;
		int rc;
		n->head = p->next;
		if (n->head == NULL)
			n->tail = NULL;
		rc = p->fail ? p->fail : apply(n, p, &res);
		if (rc == 0 && n->log != NULL) {
			fprintf(n->log, "%s flags=%u ino=%llu off=%llu len=%zu err=%d\n",
			        wire_cmd_type_name(p->cmd.type), p->cmd.flags,
			        (unsigned long long)p->cmd.ino, (unsigned long long)p->cmd.offset,
			        p->cmd.data_len, res.err);
			fflush(n->log);
		}
		if (rc == 0)
			report(n, &p->cmd, &res);
		p->cb(p->arg, rc, rc == 0 ? &res : NULL);
		free(p->buf);
		free(p);
	}
}

int node_submit(struct node *n, const struct wire_cmd *cmd, node_result_fn cb, void *arg)
{
	struct wire_cmd c = *cmd;
	struct pending *p;
	struct timespec ts;
	size_t cap;
	int rc;

	if (n->closing)
		return QFS_ESHUTDOWN;
	if (cmd->data_len > n->max_value_size)
		return -EFBIG;
	clock_gettime(CLOCK_REALTIME, &ts);
	c.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	c.client_id = 0;
	c.serial = 0;
	p = calloc(1, sizeof(*p));
	cap = wire_cmd_encoded_max(&c);
	if (p == NULL || (p->buf = malloc(cap)) == NULL) {
		free(p);
		return -ENOMEM;
	}
	rc = wire_cmd_encode(&c, p->buf, cap, &p->len);
	if (rc == 0)
		rc = wire_cmd_decode(p->buf, p->len, &p->cmd);
	if (rc != 0) {
		free(p->buf);
		free(p);
		return -EINVAL;
	}
	p->fail = n->fail; /* delivered later too, as a node without quorum does */
	p->cb = cb;
	p->arg = arg;
	if (n->tail != NULL)
		n->tail->next = p;
	else
		n->head = p;
	n->tail = p;
	uv_timer_start(&n->timer, timer_cb, 0, 0);
	return 0;
}

/* The fake has no commit before its apply: every answer is the apply's. */
int node_submit_flags(struct node *n, const struct wire_cmd *cmd, unsigned flags,
                      node_result_fn cb, void *arg)
{
	(void)flags;
	return node_submit(n, cmd, cb, arg);
}

int node_read_barrier(struct node *n, node_done_fn cb, void *arg)
{
	return n->closing ? QFS_ESHUTDOWN : 1; /* one member: nothing can be newer */
}

int node_getattr(struct node *n, uint64_t ino, struct fsm_attr *attr)
{
	return fsm_getattr(n->fsm, NULL, ino, attr);
}

int node_lookup(struct node *n, uint64_t parent, const char *name, size_t len,
                struct fsm_attr *attr)
{
	return fsm_lookup(n->fsm, NULL, parent, name, len, attr);
}

int node_read(struct node *n, uint64_t ino, uint64_t offset, size_t size, void *buf, size_t *got)
{
	return fsm_read(n->fsm, NULL, ino, offset, size, buf, got);
}

int node_readlink(struct node *n, uint64_t ino, char *buf, size_t cap, size_t *len)
{
	return fsm_readlink(n->fsm, NULL, ino, buf, cap, len);
}

int node_getxattr(struct node *n, uint64_t ino, const char *name, size_t name_len, void *buf,
                  size_t cap, size_t *len)
{
	return fsm_getxattr(n->fsm, NULL, ino, name, name_len, buf, cap, len);
}

int node_listxattr(struct node *n, uint64_t ino, char *buf, size_t cap, size_t *len)
{
	return fsm_listxattr(n->fsm, NULL, ino, buf, cap, len);
}

int node_statfs(struct node *n, struct fsm_statfs *st)
{
	return fsm_statfs(n->fsm, NULL, st);
}

int node_readdir(struct node *n, uint64_t ino, uint64_t cookie, bool plus, fsm_readdir_cb fn,
                 void *arg)
{
	return fsm_readdir(n->fsm, NULL, ino, cookie, plus, fn, arg);
}

void node_on_change(struct node *n, node_change_fn fn, void *arg)
{
	n->change = fn;
	n->change_arg = arg;
}

/* Pending marks: the fake node applies what it submits at once, so nothing
 * is ever acknowledged and not applied. */
void node_on_touch(struct node *n, node_touch_fn fn, void *arg)
{
	(void)n, (void)fn, (void)arg;
}

void node_touch_done(struct node *n, uint64_t ticket)
{
	(void)n, (void)ticket;
}

int node_wait_pending(struct node *n, uint64_t ino, node_done_fn cb, void *arg)
{
	(void)ino, (void)cb, (void)arg;
	return n->closing ? QFS_ESHUTDOWN : 1;
}

/* The fake node holds no read lease: the kernel's caches stay off. */
double node_read_lease_left(struct node *n)
{
	(void)n;
	return 0;
}

/* Orphans: the fake node keeps every unlinked file's inode as the fsm
 * leaves it, and never releases one (a test's tree is thrown away). */
void node_set_open_fn(struct node *n, node_open_fn fn, void *arg)
{
	(void)n;
	(void)fn;
	(void)arg;
}

void node_orphan_release(struct node *n, uint64_t ino)
{
	(void)n;
	(void)ino;
}

int node_orphan_held(struct node *n, uint64_t ino, bool *held)
{
	(void)n;
	(void)ino;
	*held = false;
	return 0;
}

/* A node that fails writes knows it at once (as a real one knows it has
 * had no leader for the commit timeout, or that its disk is full). */
int node_writable(struct node *n)
{
	return n->fail;
}

void fake_node_fail_writes(struct node *n, int err)
{
	n->fail = err;
}

int fake_node_open(uv_loop_t *loop, const char *dir, uint64_t max_value_size, struct node **out)
{
	struct fsm_options fo = {.max_value_size = max_value_size};
	struct node *n = calloc(1, sizeof(*n));
	int rc;

	if (n == NULL)
		return -ENOMEM;
	n->loop = loop;
	n->max_value_size = max_value_size ? max_value_size : FSM_DEFAULT_MAX_VALUE_SIZE;
	rc = mdb_env_create(&n->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(n->env, 10);
	if (rc == 0)
		rc = mdb_env_set_mapsize(n->env, (size_t)1 << 30);
	/* No fsync: a test's speed only. MDB_NOTLS: queries open their own
	 * read transactions on the loop thread. */
	if (rc == 0)
		rc = mdb_env_open(n->env, dir, MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0600);
	if (rc != 0) {
		fprintf(stderr, "fake node: lmdb: %s\n", mdb_strerror(rc));
		if (n->env != NULL)
			mdb_env_close(n->env);
		free(n);
		return -EIO;
	}
	rc = fsm_open(n->env, &fo, &n->fsm);
	if (rc == 0)
		rc = fsm_applied(n->fsm, NULL, &n->index);
	if (rc != 0) {
		fprintf(stderr, "fake node: fsm: %s\n", qfs_strerror(rc));
		fsm_close(n->fsm);
		mdb_env_close(n->env);
		free(n);
		return rc;
	}
	if (getenv("QFS_FAKE_NODE_LOG") != NULL)
		n->log = fopen(getenv("QFS_FAKE_NODE_LOG"), "a");
	uv_timer_init(loop, &n->timer);
	n->timer.data = n;
	*out = n;
	return 0;
}

static void timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void fake_node_close(struct node *n)
{
	struct pending *p;

	n->closing = true;
	n->change = NULL;
	while ((p = n->head) != NULL) {
		n->head = p->next;
		p->cb(p->arg, QFS_ESHUTDOWN, NULL);
		free(p->buf);
		free(p);
	}
	n->tail = NULL;
	if (n->log != NULL)
		fclose(n->log);
	fsm_close(n->fsm);
	mdb_env_close(n->env);
	uv_close((uv_handle_t *)&n->timer, timer_closed);
}

/* node_coord.h: the fake node has no session, so it grants no lock (ENOLCK,
 * what the mount's tests expect of a node without one) and holds none. */
int node_lock(struct node *n, const struct node_lock_req *r, node_lock_fn cb, void *arg)
{
	(void)n, (void)r, (void)cb, (void)arg;
	return -ENOLCK;
}

int node_unlock_handle(struct node *n, uint64_t ino, uint64_t owner, uint64_t fh,
                       node_done_fn cb, void *arg)
{
	(void)n, (void)ino, (void)owner, (void)fh, (void)cb, (void)arg;
	return -ENOLCK;
}

int node_set_ephemeral(struct node *n, uint64_t ino, node_result_fn cb, void *arg)
{
	(void)n, (void)ino, (void)cb, (void)arg;
	return -ENOLCK;
}

int node_lock_test(struct node *n, const struct fsm_lock *want, struct fsm_lock *holder)
{
	(void)n, (void)want, (void)holder;
	return -ENOENT;
}

int node_lock_newest(struct node *n, uint64_t ino, bool this_node, struct fsm_lock *out)
{
	(void)n, (void)ino, (void)this_node, (void)out;
	return -ENODATA;
}

int node_ephemeral_node(struct node *n, uint64_t ino, uint64_t *node)
{
	(void)n, (void)ino, (void)node;
	return -ENODATA;
}

uint64_t node_id(const struct node *n)
{
	(void)n;
	return 1;
}

void node_on_lock_change(struct node *n, node_lock_change_fn fn, void *arg)
{
	(void)n, (void)fn, (void)arg;
}
