/* query.c: local queries of the tree, each in its own short read transaction of the store. */
#include <errno.h>

#include "node_int.h"

/*
 * Every query goes through store_read() rather than letting the fsm open its
 * own transaction: store_read() holds the store's map lock, so the writer
 * thread never remaps the environment under a running read.
 */

struct q {
	struct node *n;
	int op;
	uint64_t ino, parent, offset, cookie;
	const char *name;
	size_t len, cap;
	void *buf;
	size_t *out_len;
	struct fsm_attr *attr;
	struct fsm_statfs *st;
	bool plus;
	fsm_readdir_cb fn;
	void *arg;
};

enum { Q_GETATTR, Q_LOOKUP, Q_READ, Q_READLINK, Q_GETXATTR, Q_LISTXATTR, Q_STATFS, Q_READDIR };

static int run(MDB_txn *txn, void *arg)
{
	struct q *q = arg;
	struct fsm *f = q->n->fsm;
	switch (q->op) {
	case Q_GETATTR:
		return fsm_getattr(f, txn, q->ino, q->attr);
	case Q_LOOKUP:
		return fsm_lookup(f, txn, q->parent, q->name, q->len, q->attr);
	case Q_READ:
		return fsm_read(f, txn, q->ino, q->offset, q->len, q->buf, q->out_len);
	case Q_READLINK:
		return fsm_readlink(f, txn, q->ino, q->buf, q->cap, q->out_len);
	case Q_GETXATTR:
		return fsm_getxattr(f, txn, q->ino, q->name, q->len, q->buf, q->cap, q->out_len);
	case Q_LISTXATTR:
		return fsm_listxattr(f, txn, q->ino, q->buf, q->cap, q->out_len);
	case Q_STATFS:
		return fsm_statfs(f, txn, q->st);
	case Q_READDIR:
		return fsm_readdir(f, txn, q->ino, q->cookie, q->plus, q->fn, q->arg);
	}
	return -EINVAL;
}

int node_getattr(struct node *n, uint64_t ino, struct fsm_attr *attr)
{
	struct q q = {.n = n, .op = Q_GETATTR, .ino = ino, .attr = attr};
	return store_read(n->store, run, &q);
}

int node_lookup(struct node *n, uint64_t parent, const char *name, size_t len,
                struct fsm_attr *attr)
{
	struct q q = {
	        .n = n, .op = Q_LOOKUP, .parent = parent, .name = name, .len = len, .attr = attr};
	return store_read(n->store, run, &q);
}

int node_read(struct node *n, uint64_t ino, uint64_t offset, size_t size, void *buf, size_t *got)
{
	struct q q = {.n = n,
	              .op = Q_READ,
	              .ino = ino,
	              .offset = offset,
	              .len = size,
	              .buf = buf,
	              .out_len = got};
	return store_read(n->store, run, &q);
}

int node_readlink(struct node *n, uint64_t ino, char *buf, size_t cap, size_t *len)
{
	struct q q = {.n = n, .op = Q_READLINK, .ino = ino, .buf = buf, .cap = cap, .out_len = len};
	return store_read(n->store, run, &q);
}

int node_getxattr(struct node *n, uint64_t ino, const char *name, size_t name_len, void *buf,
                  size_t cap, size_t *len)
{
	struct q q = {.n = n,
	              .op = Q_GETXATTR,
	              .ino = ino,
	              .name = name,
	              .len = name_len,
	              .buf = buf,
	              .cap = cap,
	              .out_len = len};
	return store_read(n->store, run, &q);
}

int node_listxattr(struct node *n, uint64_t ino, char *buf, size_t cap, size_t *len)
{
	struct q q = {
	        .n = n, .op = Q_LISTXATTR, .ino = ino, .buf = buf, .cap = cap, .out_len = len};
	return store_read(n->store, run, &q);
}

int node_statfs(struct node *n, struct fsm_statfs *st)
{
	struct q q = {.n = n, .op = Q_STATFS, .st = st};
	return store_read(n->store, run, &q);
}

int node_readdir(struct node *n, uint64_t ino, uint64_t cookie, bool plus, fsm_readdir_cb fn,
                 void *arg)
{
	struct q q = {.n = n,
	              .op = Q_READDIR,
	              .ino = ino,
	              .cookie = cookie,
	              .plus = plus,
	              .fn = fn,
	              .arg = arg};
	return store_read(n->store, run, &q);
}
