/* apply_rename.c: RENAME, with renameat2's NOREPLACE and EXCHANGE, as one atomic command. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

/* No directory is deeper than this; more steps to the root mean a cycle,
 * which only damaged data can hold. */
#define DEPTH_GUARD (1u << 24)

/* *@yes = whether directory @anc is @dir or one of its ancestors, found by
 * walking the parent pointers of directories up to the root. */
static int is_ancestor(struct fsm *fsm, MDB_txn *txn, uint64_t anc, uint64_t dir, int *yes)
{
	struct fsm__inode in;
	uint64_t cur = dir;
	for (uint32_t n = 0; n < DEPTH_GUARD; n++) {
		int rc;
		if (cur == anc || cur == FSM_ROOT_INO) {
			*yes = cur == anc;
			return 0;
		}
		rc = fsm__inode_get(fsm, txn, cur, &in);
		if (rc != 0)
			return rc < 0 ? rc : QFS_ECORRUPT; /* a dangling parent */
		cur = in.parent;
	}
	snprintf(fsm->errmsg, sizeof(fsm->errmsg), "directory %llu: parent chain loops",
	         (unsigned long long)dir);
	return QFS_ECORRUPT;
}

/* One side of a rename: a directory, a name in it, the entry and its inode. */
struct side {
	struct fsm__inode dir;
	const char *name;
	size_t len;
	struct fsm__dirent de;
	struct fsm__inode in;
	int exists;
};

static int load(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                struct side *s)
{
	int rc = fsm__check_name(name, len);
	s->name = name;
	s->len = len;
	s->exists = 0;
	if (rc == 0)
		rc = fsm__dir_get(fsm, txn, parent, &s->dir);
	if (rc != 0)
		return rc;
	rc = fsm__dirent_get(fsm, txn, parent, name, len, &s->de);
	if (rc == ENOENT)
		return 0; /* a free name: fine for a destination */
	if (rc == 0)
		rc = fsm__inode_get(fsm, txn, s->de.child, &s->in);
	s->exists = rc == 0;
	return rc;
}

/* Checks that moving @in under directory @to does not put a directory
 * inside itself (EINVAL, as rename(2)). */
static int not_into_itself(struct fsm *fsm, MDB_txn *txn, const struct fsm__inode *in, uint64_t to)
{
	int yes = 0, rc;
	if (!S_ISDIR(in->a.mode))
		return 0;
	rc = is_ancestor(fsm, txn, in->a.ino, to, &yes);
	if (rc != 0)
		return rc;
	return yes ? EINVAL : 0;
}

/* POSIX replacement rules: a directory replaces only an empty directory,
 * a non-directory only a non-directory. */
static int may_replace(struct fsm *fsm, MDB_txn *txn, const struct side *src,
                       const struct side *dst)
{
	int empty, rc;
	if (!S_ISDIR(src->in.a.mode))
		return S_ISDIR(dst->in.a.mode) ? EISDIR : 0;
	if (!S_ISDIR(dst->in.a.mode))
		return ENOTDIR;
	rc = fsm__dir_empty(fsm, txn, dst->in.a.ino, &empty);
	if (rc != 0)
		return rc;
	return empty ? 0 : ENOTEMPTY;
}

static int put_dirs(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *sdir, struct fsm__inode *ddir,
                    int64_t now)
{
	int rc;
	fsm__changed(fsm, sdir, now, 1);
	rc = fsm__inode_put(fsm, txn, sdir);
	if (rc != 0 || ddir == sdir)
		return rc;
	fsm__changed(fsm, ddir, now, 1);
	return fsm__inode_put(fsm, txn, ddir);
}

static int exchange(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, struct side *s,
                    struct side *d, struct fsm__inode *ddir)
{
	int sdir_is = S_ISDIR(s->in.a.mode), ddir_is = S_ISDIR(d->in.a.mode);
	int rc;

	/* Each name keeps its place (seq) in its directory; only its inode
	 * changes. */
	rc = fsm__dirent_retarget(fsm, txn, c->parent, s->name, s->len, &s->de, d->in.a.ino,
	                          d->in.a.mode & S_IFMT);
	if (rc == 0)
		rc = fsm__dirent_retarget(fsm, txn, c->new_parent, d->name, d->len, &d->de,
		                          s->in.a.ino, s->in.a.mode & S_IFMT);
	if (rc != 0)
		return rc;
	if (ddir != &s->dir) {
		s->dir.a.nlink = s->dir.a.nlink + (uint32_t)ddir_is - (uint32_t)sdir_is;
		ddir->a.nlink = ddir->a.nlink + (uint32_t)sdir_is - (uint32_t)ddir_is;
		if (sdir_is)
			s->in.parent = ddir->a.ino;
		if (ddir_is)
			d->in.parent = s->dir.a.ino;
	}
	fsm__changed(fsm, &s->in, c->time_ns, 0);
	fsm__changed(fsm, &d->in, c->time_ns, 0);
	rc = fsm__inode_put(fsm, txn, &s->in);
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &d->in);
	if (rc == 0)
		rc = put_dirs(fsm, txn, &s->dir, ddir, c->time_ns);
	return rc;
}

static int move(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, struct side *s,
                struct side *d, struct fsm__inode *ddir)
{
	int is_dir = S_ISDIR(s->in.a.mode);
	int rc = fsm__dirent_del(fsm, txn, c->parent, s->name, s->len, &s->de);

	if (rc == 0 && d->exists) {
		rc = fsm__dirent_del(fsm, txn, c->new_parent, d->name, d->len, &d->de);
		if (rc == 0 && S_ISDIR(d->in.a.mode)) {
			ddir->a.nlink--;
			rc = fsm__inode_drop(fsm, txn, &d->in);
		} else if (rc == 0) {
			rc = fsm__unref(fsm, txn, &d->in, c->time_ns);
		}
	}
	/* A fresh seq at the destination: to a listing in progress the
	 * moved name is a new entry. */
	if (rc == 0)
		rc = fsm__dirent_add(fsm, txn, ddir, d->name, d->len, s->in.a.ino,
		                     s->in.a.mode & S_IFMT);
	if (rc != 0)
		return rc;
	if (is_dir && ddir != &s->dir) {
		s->dir.a.nlink--;
		ddir->a.nlink++;
		s->in.parent = ddir->a.ino;
	}
	fsm__changed(fsm, &s->in, c->time_ns, 0);
	rc = fsm__inode_put(fsm, txn, &s->in);
	if (rc == 0)
		rc = put_dirs(fsm, txn, &s->dir, ddir, c->time_ns);
	return rc;
}

int fsm__apply_rename(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res)
{
	struct side s, d;
	struct fsm__inode *ddir;
	int noreplace = (c->flags & WIRE_RENAME_NOREPLACE) != 0;
	int xchg = (c->flags & WIRE_RENAME_EXCHANGE) != 0;
	int rc;

	if (noreplace && xchg)
		return EINVAL;
	rc = load(fsm, txn, c->parent, c->name, c->name_len, &s);
	if (rc == 0 && !s.exists)
		rc = ENOENT;
	if (rc == 0)
		rc = load(fsm, txn, c->new_parent, c->new_name, c->new_name_len, &d);
	if (rc != 0)
		return rc;
	/* One directory on both sides is one record, updated once. */
	ddir = c->parent == c->new_parent ? &s.dir : &d.dir;

	if (d.exists && noreplace)
		return EEXIST;
	if (!d.exists && xchg)
		return ENOENT;
	if (d.exists && d.in.a.ino == s.in.a.ino) {
		/* The same name, or two links of one file: nothing to do. */
		res->attr = s.in.a;
		return 0;
	}
	rc = not_into_itself(fsm, txn, &s.in, c->new_parent);
	if (rc == 0 && xchg)
		rc = not_into_itself(fsm, txn, &d.in, c->parent);
	if (rc == 0 && d.exists && !xchg)
		rc = may_replace(fsm, txn, &s, &d);
	if (rc == 0 && !xchg && S_ISDIR(s.in.a.mode) && ddir != &s.dir && !d.exists &&
	    ddir->a.nlink >= FSM_NLINK_MAX)
		rc = EMLINK;
	if (rc != 0)
		return rc;

	rc = xchg ? exchange(fsm, txn, c, &s, &d, ddir) : move(fsm, txn, c, &s, &d, ddir);
	res->attr = s.in.a;
	return rc;
}
