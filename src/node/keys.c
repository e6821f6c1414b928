/* keys.c: the key calls of quorumctl (get, put, rm, ls, wait) on the admin socket, without a mount. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/store.h"
#include "quorumfs/wire_cmd.h"
#include "quorumfs/wire_key.h"

/*
 * A key is a path from the root of the tree. Reads take the node's read
 * barrier first, so they are linearizable as the mount's are; writes are
 * ordinary commands through node_submit(), forwarded to the leader like the
 * mount's, and answered once applied here. WAIT parks the call until an
 * applied entry moves the path's version (or a version under it) past
 * @since; the check runs after each applied batch, only while someone waits.
 */

#define KEYS_WAIT_MAX 1024 /* parked waits; one more is refused with EBUSY */
#define KEYS_DEPTH_MAX 64  /* directory levels a WAIT looks through */

struct key_op {
	struct node *n;
	uint64_t conn;
	struct wire_key_req req; /* path and value point into @buf */
	void *buf;               /* owned copy of the request frame */
	uint64_t since;          /* WAIT: answer when the version passes this */
	uint64_t deadline;       /* WAIT: uv_now() ms at which to give up; 0 never */
	struct key_op *next;     /* WAIT: in n->key_waits */
};

static void answer(struct key_op *op, int err, uint64_t version, const void *value, size_t len,
                   const char *msg)
{
	struct node *n = op->n;
	struct wire_key_resp resp = {.err = err, .version = version, .value = value,
	                             .value_len = len, .message = msg};
	size_t cap = wire_key_resp_size(&resp);
	uint8_t *out = malloc(cap);
	if (out != NULL) {
		int w = wire_key_resp_encode(&resp, out, cap);
		if (w > 0 && n->admin != NULL)
			net_admin_send(n->admin, op->conn, out, (size_t)w);
		free(out);
	}
	free(op->buf);
	free(op);
}

static void answer_err(struct key_op *op, int err)
{
	answer(op, err, 0, NULL, 0, qfs_strerror(err));
}

/*
 * Walks @path from the root. On success *@attr is the last component's
 * (the root's for "/"). If only the last component is missing, returns
 * -ENOENT with *@parent set (else *@parent is 0). Empty components are
 * skipped; "." and ".." are refused (-EINVAL): a key path is literal.
 */
static int resolve(struct node *n, const char *path, size_t len, struct fsm_attr *attr,
                   uint64_t *parent)
{
	size_t i = 0;
	int rc;
	*parent = 0;
	if (len == 0 || path[0] != '/')
		return -EINVAL;
	rc = node_getattr(n, FSM_ROOT_INO, attr);
	while (rc == 0) {
		while (i < len && path[i] == '/')
			i++;
		if (i == len)
			return 0;
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		if ((j - i == 1 && path[i] == '.') || (j - i == 2 && path[i] == '.' && path[i + 1] == '.'))
			return -EINVAL;
		if (!S_ISDIR(attr->mode))
			return -ENOTDIR;
		uint64_t dir = attr->ino;
		rc = node_lookup(n, dir, path + i, j - i, attr);
		if (rc == -ENOENT) {
			size_t k = j;
			while (k < len && path[k] == '/')
				k++;
			if (k == len)
				*parent = dir;
		}
		i = j;
	}
	return rc;
}

/* The last component of @path: *@name and its length (0 for "/"). */
static size_t last_name(const char *path, size_t len, const char **name)
{
	while (len > 0 && path[len - 1] == '/')
		len--;
	size_t i = len;
	while (i > 0 && path[i - 1] != '/')
		i--;
	*name = path + i;
	return len - i;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                    */

struct listing {
	char *buf;
	size_t len, cap;
	int err;
};

static int list_one(void *arg, const struct fsm_dirent *ent)
{
	struct listing *l = arg;
	size_t need = l->len + ent->name_len + 2;
	if (need > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		while (cap < need)
			cap *= 2;
		char *p = realloc(l->buf, cap);
		if (p == NULL) {
			l->err = -ENOMEM;
			return 1;
		}
		l->buf = p;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, ent->name, ent->name_len);
	l->len += ent->name_len;
	if (S_ISDIR(ent->type))
		l->buf[l->len++] = '/';
	l->buf[l->len++] = '\n';
	return 0;
}

static void do_get(struct key_op *op)
{
	struct fsm_attr a;
	uint64_t parent;
	int rc = resolve(op->n, op->req.path, op->req.path_len, &a, &parent);
	if (rc == 0 && S_ISDIR(a.mode))
		rc = -EISDIR;
	else if (rc == 0 && !S_ISREG(a.mode))
		rc = -EINVAL;
	if (rc != 0) {
		answer_err(op, rc);
		return;
	}
	void *buf = malloc(a.size ? a.size : 1);
	size_t got = 0;
	rc = buf ? node_read(op->n, a.ino, 0, a.size, buf, &got) : -ENOMEM;
	if (rc != 0)
		answer_err(op, rc);
	else
		answer(op, 0, a.version, buf, got, "");
	free(buf);
}

static void do_ls(struct key_op *op)
{
	struct fsm_attr a;
	uint64_t parent;
	struct listing l = {0};
	int rc = resolve(op->n, op->req.path, op->req.path_len, &a, &parent);
	if (rc == 0 && !S_ISDIR(a.mode))
		rc = -ENOTDIR;
	if (rc == 0)
		rc = node_readdir(op->n, a.ino, 0, false, list_one, &l);
	if (rc == 0)
		rc = l.err;
	if (rc != 0)
		answer_err(op, rc);
	else
		answer(op, 0, a.version, l.buf, l.len, "");
	free(l.buf);
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                   */

static void put_step(struct key_op *op);

static void put_done(void *arg, int err, const struct fsm_result *res)
{
	struct key_op *op = arg;
	if (err == 0)
		err = res->err;
	if (err != 0) {
		/* A failed condition: say what the key is at now. */
		struct fsm_attr a;
		uint64_t parent;
		uint64_t v = 0;
		if ((err == -EEXIST || err == -ECANCELED) &&
		    resolve(op->n, op->req.path, op->req.path_len, &a, &parent) == 0)
			v = a.version;
		answer(op, err, v, NULL, 0, qfs_strerror(err));
		return;
	}
	answer(op, 0, res->attr.version, NULL, 0, "");
}

/* A missing directory on the way was made (or someone else made it). */
static void mkdir_done(void *arg, int err, const struct fsm_result *res)
{
	struct key_op *op = arg;
	if (err == 0)
		err = res->err;
	if (err != 0 && err != -EEXIST) {
		answer_err(op, err);
		return;
	}
	put_step(op);
}

static int submit(struct key_op *op, struct wire_cmd *cmd, node_result_fn cb)
{
	cmd->uid = (uint32_t)geteuid(); /* the daemon's user, who alone can call */
	cmd->gid = (uint32_t)getegid();
	return node_submit(op->n, cmd, cb, op);
}

/* Makes the first missing directory of the path, or, when they all exist,
 * creates or replaces the key in one CREATE (O_TRUNC with the value). */
static void put_step(struct key_op *op)
{
	const char *path = op->req.path;
	size_t len = op->req.path_len, i = 0;
	struct fsm_attr a;
	uint64_t parent;
	int rc;

	/* Find the deepest existing directory on the way. */
	uint64_t dir = FSM_ROOT_INO;
	for (;;) {
		while (i < len && path[i] == '/')
			i++;
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t k = j;
		while (k < len && path[k] == '/')
			k++;
		if (k == len) {
			/* The last component: the key itself. */
			struct wire_cmd c = {.type = WIRE_CMD_CREATE, .parent = dir, .name = path + i,
			                     .name_len = j - i, .mode = 0644, .flags = WIRE_CREATE_TRUNC,
			                     .data = op->req.value, .data_len = op->req.value_len};
			if (op->req.flags & WIRE_KEY_IF_ABSENT)
				c.flags |= WIRE_CREATE_EXCL;
			if (op->req.flags & WIRE_KEY_IF_VERSION) {
				c.type = WIRE_CMD_PUT_IF;
				c.offset = op->req.version;
			}
			rc = submit(op, &c, put_done);
			break;
		}
		rc = node_lookup(op->n, dir, path + i, j - i, &a);
		if (rc == -ENOENT) {
			struct wire_cmd c = {.type = WIRE_CMD_MKDIR, .parent = dir, .name = path + i,
			                     .name_len = j - i, .mode = 0755};
			if (op->req.flags & WIRE_KEY_IF_VERSION) {
				rc = -ECANCELED; /* no such key, so not at that version */
				break;
			}
			rc = submit(op, &c, mkdir_done);
			break;
		}
		if (rc == 0 && !S_ISDIR(a.mode))
			rc = -ENOTDIR;
		if (rc != 0)
			break;
		dir = a.ino;
		i = j;
	}
	(void)parent;
	if (rc != 0)
		put_done(op, rc, NULL);
}

static void rm_done(void *arg, int err, const struct fsm_result *res)
{
	struct key_op *op = arg;
	if (err == 0)
		err = res->err;
	if (err != 0)
		answer_err(op, err);
	else
		answer(op, 0, 0, NULL, 0, "");
}

static void do_rm(struct key_op *op)
{
	struct fsm_attr a, dir;
	uint64_t parent;
	const char *name;
	size_t name_len = last_name(op->req.path, op->req.path_len, &name);
	int rc = resolve(op->n, op->req.path, op->req.path_len, &a, &parent);
	if (rc == 0 && name_len == 0)
		rc = -EBUSY; /* the root */
	if (rc == 0) {
		/* The parent: the path without its last component. */
		rc = resolve(op->n, op->req.path, (size_t)(name - op->req.path), &dir, &parent);
	}
	if (rc != 0) {
		answer_err(op, rc);
		return;
	}
	struct wire_cmd c = {.type = S_ISDIR(a.mode) ? WIRE_CMD_RMDIR : WIRE_CMD_UNLINK,
	                     .parent = dir.ino, .name = name, .name_len = name_len};
	rc = submit(op, &c, rm_done);
	if (rc != 0)
		answer_err(op, rc);
}

/* ------------------------------------------------------------------------ */
/* Waiting for change                                                       */

/*
 * The highest version at or under @a: a directory's own version moves when
 * an entry is added, removed or renamed in it, so the highest of a subtree is
 * its last change, removals included.
 */
struct kids {
	uint64_t *ino;
	size_t n, cap;
	int err;
};

static int kid(void *arg, const struct fsm_dirent *e)
{
	struct kids *k = arg;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		uint64_t *p = realloc(k->ino, cap * sizeof(*p));
		if (p == NULL) {
			k->err = -ENOMEM;
			return 1;
		}
		k->ino = p;
		k->cap = cap;
	}
	k->ino[k->n++] = e->ino;
	return 0;
}

static uint64_t subtree_version(struct node *n, const struct fsm_attr *a, unsigned depth)
{
	struct kids k = {0};
	uint64_t v = a->version;
	if (!S_ISDIR(a->mode) || depth >= KEYS_DEPTH_MAX)
		return v;
	/* Collect first: a nested query must not run inside readdir's read. */
	if (node_readdir(n, a->ino, 0, false, kid, &k) == 0) {
		for (size_t i = 0; i < k.n; i++) {
			struct fsm_attr c;
			if (node_getattr(n, k.ino[i], &c) == 0) {
				uint64_t cv = subtree_version(n, &c, depth + 1);
				if (cv > v)
					v = cv;
			}
		}
	}
	free(k.ino);
	return v;
}

/* The version of the path now: of the subtree if it exists; of its parent
 * directory if only the last name is missing (its removal moved that); 0 if
 * more is missing. */
static uint64_t path_version(struct node *n, const struct wire_key_req *req)
{
	struct fsm_attr a;
	uint64_t parent;
	int rc = resolve(n, req->path, req->path_len, &a, &parent);
	if (rc == 0)
		return subtree_version(n, &a, 0);
	if (rc == -ENOENT && parent != 0 && node_getattr(n, parent, &a) == 0)
		return a.version;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Watching: the changes themselves, read back from the log                 */

#define WATCH_LINES_MAX (1u << 20) /* bytes of lines in one answer */

/* Paths of the watched inode and what is under it, as the tree has them now. */
struct pathmap {
	uint64_t *ino;
	char **path;
	size_t n, cap;
};

static int pathmap_add(struct pathmap *m, uint64_t ino, const char *path, size_t len)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		uint64_t *i = realloc(m->ino, cap * sizeof(*i));
		if (i == NULL)
			return -ENOMEM;
		m->ino = i;
		char **p = realloc(m->path, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		m->path = p;
		m->cap = cap;
	}
	m->path[m->n] = strndup(path, len);
	if (m->path[m->n] == NULL)
		return -ENOMEM;
	m->ino[m->n++] = ino;
	return 0;
}

static const char *pathmap_get(const struct pathmap *m, uint64_t ino)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->ino[i] == ino)
			return m->path[i];
	return NULL;
}

static void pathmap_free(struct pathmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->path[i]);
	free(m->path);
	free(m->ino);
}

struct named_kids {
	struct pathmap *m;
	const char *dir;
	uint64_t *dirs;
	size_t n_dirs, cap_dirs;
	int err;
};

static int named_kid(void *arg, const struct fsm_dirent *e)
{
	struct named_kids *k = arg;
	char path[WIRE_KEY_PATH_MAX + 1];
	int w = snprintf(path, sizeof(path), "%s/%.*s", strcmp(k->dir, "/") ? k->dir : "",
	                 (int)e->name_len, e->name);
	if (w < 0 || (size_t)w >= sizeof(path))
		return 0; /* too deep to name: left out */
	if ((k->err = pathmap_add(k->m, e->ino, path, (size_t)w)) != 0)
		return 1;
	if (S_ISDIR(e->type)) {
		if (k->n_dirs == k->cap_dirs) {
			size_t cap = k->cap_dirs ? k->cap_dirs * 2 : 16;
			uint64_t *d = realloc(k->dirs, cap * sizeof(*d));
			if (d == NULL) {
				k->err = -ENOMEM;
				return 1;
			}
			k->dirs = d;
			k->cap_dirs = cap;
		}
		k->dirs[k->n_dirs++] = e->ino;
	}
	return 0;
}

/* Names @dir's entries into @m, and theirs down to @depth levels more. */
static int pathmap_walk(struct node *n, struct pathmap *m, uint64_t dir, const char *path,
                        unsigned depth)
{
	struct named_kids k = {.m = m, .dir = path};
	int rc = node_readdir(n, dir, 0, false, named_kid, &k);
	if (rc == 0)
		rc = k.err;
	for (size_t i = 0; rc == 0 && depth > 0 && i < k.n_dirs; i++) {
		const char *p = pathmap_get(m, k.dirs[i]);
		if (p != NULL)
			rc = pathmap_walk(n, m, k.dirs[i], p, depth - 1);
	}
	free(k.dirs);
	return rc;
}

static int add_line(struct listing *l, uint64_t index, const char *op, const char *path,
                    const char *name, size_t name_len)
{
	char line[WIRE_KEY_PATH_MAX + 64];
	int w;
	if (name != NULL)
		w = snprintf(line, sizeof(line), "%llu %s %s/%.*s\n", (unsigned long long)index, op,
		             strcmp(path, "/") ? path : "", (int)name_len, name);
	else
		w = snprintf(line, sizeof(line), "%llu %s %s\n", (unsigned long long)index, op, path);
	if (w < 0 || (size_t)w >= sizeof(line))
		return 0;
	struct fsm_dirent e = {.name = line, .name_len = (size_t)w - 1};
	list_one(l, &e); /* the line, and its newline */
	return l->err;
}

/*
 * The changes after op->since that touch the watched path: read back from
 * the entries the core still holds, with paths as the tree has them now (a
 * change to a file removed since shows as its removal only). Sets @l to the
 * lines and *@through to the last index looked at. Returns 0, -ENOENT (the
 * path is gone), QFS_ESTALE (the log no longer holds since + 1: compacted).
 */
static int watch_scan(struct key_op *op, struct listing *l, uint64_t *through)
{
	struct node *n = op->n;
	struct pathmap m = {0};
	struct fsm_attr a;
	uint64_t parent;
	char root[WIRE_KEY_PATH_MAX + 1];
	int rc = resolve(n, op->req.path, op->req.path_len, &a, &parent);
	*through = op->since;
	if (rc != 0)
		return rc;
	if (op->since >= n->applied)
		return 0;
	if (op->since + 1 < raft_first_index(n->raft))
		return QFS_ESTALE;
	/* The watched path's own name, without trailing slashes. */
	size_t len = op->req.path_len;
	while (len > 1 && op->req.path[len - 1] == '/')
		len--;
	snprintf(root, sizeof(root), "%.*s", (int)len, op->req.path);
	/* A watched file's directory and name, for the changes of its name. */
	const char *file_name = NULL;
	size_t file_name_len = last_name(root, strlen(root), &file_name);
	uint64_t file_dir = 0;
	if (!S_ISDIR(a.mode)) {
		struct fsm_attr da;
		uint64_t dp;
		if (resolve(n, root, (size_t)(file_name - root), &da, &dp) == 0)
			file_dir = da.ino;
	}
	rc = pathmap_add(&m, a.ino, root, strlen(root));
	if (rc == 0 && S_ISDIR(a.mode))
		rc = pathmap_walk(n, &m, a.ino, root,
		                  (op->req.flags & WIRE_KEY_RECURSIVE) ? KEYS_DEPTH_MAX : 0);
	for (uint64_t i = op->since + 1; rc == 0 && i <= n->applied && l->len < WATCH_LINES_MAX;
	     i++) {
		const struct raft_entry *e = raft_entry_at(n->raft, i);
		struct wire_cmd c;
		if (e == NULL) {
			rc = QFS_ESTALE;
			break;
		}
		/* A released entry's bytes are in the stored log (raft.h); c
		 * points into them, so they live to the end of this turn. */
		const void *data = e->data.base;
		size_t data_len = e->data.len;
		struct store_entry *se = NULL;
		if (data == NULL && data_len > 0 && e->type == RAFT_ENTRY_NORMAL) {
			size_t nse = 0;
			rc = store_log_get(n->store, i, i, SIZE_MAX, &se, &nse);
			if (rc == 0 && (nse != 1 || se[0].term != e->term))
				rc = QFS_ECORRUPT;
			if (rc != 0) {
				free(se);
				break;
			}
			data = se[0].data;
			data_len = se[0].len;
		}
		*through = i;
		if (e->type != RAFT_ENTRY_NORMAL || wire_cmd_decode(data, data_len, &c) != 0) {
			free(se);
			continue;
		}
		const char *op_name = wire_cmd_type_name(c.type), *p;
		/* For the user a deferred create is a create (docs/semantics.md). */
		if (c.type == WIRE_CMD_CREATE_WRITEV)
			op_name = wire_cmd_type_name(WIRE_CMD_CREATE);
		switch (c.type) {
		case WIRE_CMD_CREATE:
		case WIRE_CMD_CREATE_WRITEV:
		case WIRE_CMD_PUT_IF:
		case WIRE_CMD_MKDIR:
		case WIRE_CMD_MKNOD:
		case WIRE_CMD_SYMLINK:
		case WIRE_CMD_UNLINK:
		case WIRE_CMD_RMDIR:
		case WIRE_CMD_LINK:
			/* A name in a watched directory; for a watched file, its own name. */
			if (S_ISDIR(a.mode) && (p = pathmap_get(&m, c.parent)) != NULL)
				rc = add_line(l, i, op_name, p, c.name, c.name_len);
			else if (!S_ISDIR(a.mode) && c.parent == file_dir && c.name_len == file_name_len &&
			         memcmp(c.name, file_name, file_name_len) == 0)
				rc = add_line(l, i, op_name, root, NULL, 0);
			break;
		case WIRE_CMD_RENAME:
			if ((p = pathmap_get(&m, c.parent)) != NULL && S_ISDIR(a.mode))
				rc = add_line(l, i, "rename-from", p, c.name, c.name_len);
			if (rc == 0 && (p = pathmap_get(&m, c.new_parent)) != NULL && S_ISDIR(a.mode))
				rc = add_line(l, i, "rename-to", p, c.new_name, c.new_name_len);
			break;
		case WIRE_CMD_WRITE:
		case WIRE_CMD_APPEND:
		case WIRE_CMD_WRITEV:
		case WIRE_CMD_SETATTR:
		case WIRE_CMD_SETXATTR:
		case WIRE_CMD_REMOVEXATTR:
		case WIRE_CMD_TTL_EXPIRE:
			if ((p = pathmap_get(&m, c.ino)) != NULL)
				rc = add_line(l, i, op_name, p, NULL, 0);
			break;
		default:
			break; /* locks, sessions, checks: not changes of the tree */
		}
		free(se);
	}
	pathmap_free(&m);
	return rc;
}

/* Answers a watch that has lines (or an error); false: nothing yet. */
static bool watch_try(struct key_op *op)
{
	struct listing l = {0};
	uint64_t through;
	int rc = watch_scan(op, &l, &through);
	if (rc == 0 && l.len == 0) {
		/* Nothing for us up to here: look from there next time. */
		op->since = through;
		free(l.buf);
		return false;
	}
	if (rc != 0)
		answer(op, rc, op->since, NULL, 0,
		       rc == QFS_ESTALE ? "the changes after that version were compacted away"
		                        : qfs_strerror(rc));
	else
		answer(op, 0, through, l.buf, l.len, "");
	free(l.buf);
	return true;
}

static void wait_start(struct key_op *op)
{
	struct node *n = op->n;
	if (op->req.op == WIRE_KEY_WATCH) {
		if (op->req.version == 0) {
			/* The start: where the watcher begins, so that it can
			 * resume from there whatever happens next. */
			answer(op, 0, n->applied, NULL, 0, "");
			return;
		}
		op->since = op->req.version;
		if (watch_try(op))
			return;
	} else {
		uint64_t now = path_version(n, &op->req);
		op->since = op->req.version ? op->req.version : now;
		if (now > op->since) {
			answer(op, 0, now, NULL, 0, "");
			return;
		}
	}
	if (n->key_n_waits >= KEYS_WAIT_MAX) {
		answer_err(op, QFS_EBUSY);
		return;
	}
	op->deadline = op->req.timeout_ms ? uv_now(n->loop) + op->req.timeout_ms : 0;
	op->next = n->key_waits;
	n->key_waits = op;
	n->key_n_waits++;
}

/* After applied entries: answer every wait whose path moved past @since. */
void node__keys_on_applied(struct node *n)
{
	struct key_op **pp = &n->key_waits;
	while (*pp != NULL) {
		struct key_op *op = *pp;
		if (op->req.op == WIRE_KEY_WATCH) {
			/* Unlinked first: watch_try may answer, which frees it. */
			*pp = op->next;
			n->key_n_waits--;
			if (!watch_try(op)) {
				op->next = *pp;
				*pp = op;
				n->key_n_waits++;
				pp = &op->next;
			}
			continue;
		}
		uint64_t v = path_version(n, &op->req);
		if (v > op->since) {
			*pp = op->next;
			n->key_n_waits--;
			answer(op, 0, v, NULL, 0, "");
		} else {
			pp = &op->next;
		}
	}
}

static void ttl_tick(struct node *n, uint64_t now);

void node__keys_on_tick(struct node *n)
{
	uint64_t now = uv_now(n->loop);
	ttl_tick(n, now);
	struct key_op **pp = &n->key_waits;
	while (*pp != NULL) {
		struct key_op *op = *pp;
		if (op->deadline != 0 && now >= op->deadline) {
			*pp = op->next;
			n->key_n_waits--;
			answer(op, -ETIMEDOUT, op->since, NULL, 0, "no change before the timeout");
		} else {
			pp = &op->next;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* TTL files: the leader's expiry                                           */

#define TTL_SCAN_MS    1000 /* how often the leader looks */
#define TTL_PROPOSED_MAX 64 /* expiries in flight at once */

struct ttl_scan {
	struct node *n;
	int64_t now_ns;
};

static void ttl_done(void *arg, int err, const struct fsm_result *res)
{
	(void)arg;
	(void)err;
	(void)res; /* a write since (ECANCELED) keeps the file; the next scan sees */
}

static bool ttl_in_flight(struct node *n, uint64_t ino, uint64_t version)
{
	for (unsigned i = 0; i < n->ttl_n; i++)
		if (n->ttl_sent[i].ino == ino && n->ttl_sent[i].version == version)
			return true;
	return false;
}

static int ttl_one(void *arg, const struct fsm_attr *a, uint64_t ttl_s)
{
	struct ttl_scan *t = arg;
	struct node *n = t->n;
	/* mtime is the writing node's clock, now the leader's: skew between
	 * them moves the expiry by as much (docs/semantics.md). */
	if (t->now_ns - a->mtime_ns < (int64_t)ttl_s * 1000000000)
		return 0;
	if (ttl_in_flight(n, a->ino, a->version) || n->ttl_n >= TTL_PROPOSED_MAX)
		return 0;
	n->ttl_sent[n->ttl_n].ino = a->ino;
	n->ttl_sent[n->ttl_n].version = a->version;
	n->ttl_n++;
	return 0;
}

static int ttl_run(MDB_txn *txn, void *arg)
{
	struct ttl_scan *t = arg;
	return fsm_ttl_scan(t->n->fsm, txn, ttl_one, t);
}

/* The leader alone decides expiry, and applies it through the log, so every
 * node removes the file at the same index. */
static void ttl_tick(struct node *n, uint64_t now)
{
	struct timespec ts;
	if (now < n->ttl_next_scan)
		return;
	n->ttl_next_scan = now + TTL_SCAN_MS;
	n->ttl_n = 0; /* what did not apply since the last scan is asked again */
	if (raft_leader(n->raft) != n->opts.id)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct ttl_scan t = {.n = n, .now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec};
	if (store_read(n->store, ttl_run, &t) != 0)
		return;
	for (unsigned i = 0; i < n->ttl_n; i++) {
		struct wire_cmd c = {.type = WIRE_CMD_TTL_EXPIRE, .ino = n->ttl_sent[i].ino,
		                     .offset = n->ttl_sent[i].version};
		node_submit(n, &c, ttl_done, NULL);
	}
}

void node__keys_stop(struct node *n)
{
	while (n->key_waits != NULL) {
		struct key_op *op = n->key_waits;
		n->key_waits = op->next;
		answer_err(op, QFS_ESHUTDOWN);
	}
	n->key_n_waits = 0;
}

/* ------------------------------------------------------------------------ */

/* Is the first component of @path the mount's reserved .quorumfs? Keys
 * there could never be seen through a mount (docs/operations.md). */
static bool reserved(const char *path, size_t len)
{
	size_t i = 0, j;
	while (i < len && path[i] == '/')
		i++;
	for (j = i; j < len && path[j] != '/'; j++)
		;
	return j - i == 9 && memcmp(path + i, ".quorumfs", 9) == 0;
}

static void barrier_done(void *arg, int err)
{
	struct key_op *op = arg;
	if (err != 0) {
		answer_err(op, err);
		return;
	}
	if ((op->req.op == WIRE_KEY_PUT || op->req.op == WIRE_KEY_RM) &&
	    reserved(op->req.path, op->req.path_len)) {
		answer_err(op, -EPERM);
		return;
	}
	switch (op->req.op) {
	case WIRE_KEY_GET:
		do_get(op);
		break;
	case WIRE_KEY_LS:
		do_ls(op);
		break;
	case WIRE_KEY_PUT:
		put_step(op);
		break;
	case WIRE_KEY_RM:
		do_rm(op);
		break;
	case WIRE_KEY_WAIT:
	case WIRE_KEY_WATCH:
		wait_start(op);
		break;
	default:
		answer_err(op, -EINVAL);
		break;
	}
}

bool node__keys_admin(struct node *n, uint64_t conn, const void *frame, size_t len)
{
	struct wire_key_req req;
	if (wire_key_req_decode(frame, len, &req) != 0)
		return false;
	struct key_op *op = calloc(1, sizeof(*op));
	void *buf = malloc(len);
	if (op == NULL || buf == NULL) {
		free(op);
		free(buf);
		return true; /* the client sees its connection's silence time out */
	}
	memcpy(buf, frame, len);
	op->n = n;
	op->conn = conn;
	op->buf = buf;
	/* Point into our copy, which lives as long as the op. */
	if (wire_key_req_decode(buf, len, &op->req) != 0) {
		answer_err(op, QFS_EPROTO);
		return true;
	}
	/* Writes resolve their parents on a linearizable view too, so that
	 * "mkdir on the way" sees what was made before the call. */
	int rc = node_read_barrier(n, barrier_done, op);
	if (rc == 1)
		barrier_done(op, 0);
	else if (rc != 0)
		answer_err(op, rc);
	return true;
}
