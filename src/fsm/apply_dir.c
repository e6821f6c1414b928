/* apply_dir.c: the commands that add or remove names: MKDIR, SYMLINK, LINK, UNLINK, RMDIR. */
#include <errno.h>
#include <sys/stat.h>

#include "fsm_internal.h"

/* The checks every new name goes through: a valid name, a directory to
 * put it in, and no entry of that name yet. */
static int new_name(struct fsm *fsm, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                    struct fsm__inode *dir)
{
	struct fsm__dirent de;
	int rc = fsm__check_name(name, len);
	if (rc == 0)
		rc = fsm__dir_get(fsm, txn, parent, dir);
	if (rc != 0)
		return rc;
	rc = fsm__dirent_get(fsm, txn, parent, name, len, &de);
	if (rc == 0)
		return EEXIST;
	return rc == ENOENT ? 0 : rc;
}

/* Finishes a new name in @dir: the entry, and the directory's times. */
static int link_into(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *dir,
                     const struct wire_cmd *c, const struct fsm__inode *in)
{
	int rc = fsm__dirent_add(fsm, txn, dir, c->name, c->name_len, in->a.ino,
	                         in->a.mode & S_IFMT);
	if (rc != 0)
		return rc;
	fsm__changed(fsm, dir, c->time_ns, 1);
	return fsm__inode_put(fsm, txn, dir);
}

int fsm__apply_mkdir(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                     struct fsm_result *res)
{
	struct fsm__inode dir, in;
	uint32_t type = c->mode & S_IFMT;
	int rc = new_name(fsm, txn, c->parent, c->name, c->name_len, &dir);

	if (rc != 0)
		return rc;
	if (type != 0 && type != S_IFDIR)
		return EINVAL;
	if (dir.a.nlink >= FSM_NLINK_MAX)
		return EMLINK;
	rc = fsm__inode_new(fsm, txn, c, S_IFDIR | (c->mode & 07777), &in);
	if (rc != 0)
		return rc;
	in.parent = dir.a.ino;
	rc = fsm__inode_put(fsm, txn, &in);
	if (rc != 0)
		return rc;
	dir.a.nlink++; /* the new directory's ".." */
	res->attr = in.a;
	return link_into(fsm, txn, &dir, c, &in);
}

/*
 * MKNOD: a regular file, FIFO, socket or device node, empty. A FIFO or a
 * socket is only a name and attributes here: what passes through it stays
 * on the node that opened it, as on any file system. A device keeps its
 * @rdev; the other types get 0.
 */
int fsm__apply_mknod(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                     struct fsm_result *res)
{
	struct fsm__inode dir, in;
	uint32_t type = c->mode & S_IFMT;
	int rc = new_name(fsm, txn, c->parent, c->name, c->name_len, &dir);

	if (rc != 0)
		return rc;
	switch (type) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		return EINVAL;
	}
	rc = fsm__inode_new(fsm, txn, c, type | (c->mode & 07777), &in);
	if (rc != 0)
		return rc;
	if (type == S_IFCHR || type == S_IFBLK)
		in.a.rdev = c->rdev;
	rc = fsm__inode_put(fsm, txn, &in);
	if (rc != 0)
		return rc;
	res->attr = in.a;
	return link_into(fsm, txn, &dir, c, &in);
}

/* SYMLINK: the target is stored as the link's contents; its size is the
 * target's length. An empty target is ENOENT, as in symlink(2). */
int fsm__apply_symlink(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                       struct fsm_result *res)
{
	struct fsm__inode dir, in;
	int rc = new_name(fsm, txn, c->parent, c->name, c->name_len, &dir);

	if (rc != 0)
		return rc;
	if (c->data_len == 0)
		return ENOENT;
	if (c->data_len > FSM_TARGET_MAX)
		return ENAMETOOLONG;
	if (memchr(c->data, '\0', c->data_len) != NULL)
		return EINVAL;
	rc = fsm__inode_new(fsm, txn, c, S_IFLNK | 0777, &in);
	if (rc == 0)
		rc = fsm__target_set(fsm, txn, &in, c->data, c->data_len);
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &in);
	if (rc != 0)
		return rc;
	res->attr = in.a;
	return link_into(fsm, txn, &dir, c, &in);
}

/* LINK: a new name for inode @ino. Directories have exactly one name:
 * EPERM, as link(2) says. */
int fsm__apply_link(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, struct fsm_result *res)
{
	struct fsm__inode dir, in;
	int rc = fsm__inode_get(fsm, txn, c->ino, &in);

	if (rc != 0)
		return rc;
	if (S_ISDIR(in.a.mode))
		return EPERM;
	if (in.a.nlink == 0)
		return ENOENT; /* an orphan: linkat(2) of an unlinked file, as Linux */
	rc = new_name(fsm, txn, c->parent, c->name, c->name_len, &dir);
	if (rc != 0)
		return rc;
	if (in.a.nlink >= FSM_NLINK_MAX)
		return EMLINK;
	in.a.nlink++;
	fsm__changed(fsm, &in, c->time_ns, 0);
	rc = fsm__inode_put(fsm, txn, &in);
	if (rc != 0)
		return rc;
	res->attr = in.a;
	return link_into(fsm, txn, &dir, c, &in);
}

/* The checks every removal goes through: a valid name in a directory. */
static int old_name(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c, struct fsm__inode *dir,
                    struct fsm__dirent *de)
{
	int rc = fsm__check_name(c->name, c->name_len);
	if (rc == 0)
		rc = fsm__dir_get(fsm, txn, c->parent, dir);
	if (rc == 0)
		rc = fsm__dirent_get(fsm, txn, c->parent, c->name, c->name_len, de);
	return rc;
}

/* UNLINK: the name goes; the inode goes with its last name (contents and
 * xattrs too). Directories: EISDIR, as Linux's unlink(2). */
int fsm__apply_unlink(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res)
{
	struct fsm__inode dir, in;
	struct fsm__dirent de;
	int rc = old_name(fsm, txn, c, &dir, &de);

	if (rc != 0)
		return rc;
	if (de.type == S_IFDIR)
		return EISDIR;
	rc = fsm__inode_get(fsm, txn, de.child, &in);
	if (rc == 0)
		rc = fsm__dirent_del(fsm, txn, c->parent, c->name, c->name_len, &de);
	if (rc == 0)
		rc = fsm__unref(fsm, txn, &in, c->time_ns);
	if (rc != 0)
		return rc;
	fsm__changed(fsm, &dir, c->time_ns, 1);
	res->attr = in.a;
	return fsm__inode_put(fsm, txn, &dir);
}

int fsm__apply_rmdir(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                     struct fsm_result *res)
{
	struct fsm__inode dir, in;
	struct fsm__dirent de;
	int empty, rc = old_name(fsm, txn, c, &dir, &de);

	if (rc != 0)
		return rc;
	if (de.type != S_IFDIR)
		return ENOTDIR;
	rc = fsm__dir_empty(fsm, txn, de.child, &empty);
	if (rc != 0)
		return rc;
	if (!empty)
		return ENOTEMPTY;
	rc = fsm__inode_get(fsm, txn, de.child, &in);
	if (rc == 0)
		rc = fsm__dirent_del(fsm, txn, c->parent, c->name, c->name_len, &de);
	if (rc == 0)
		rc = fsm__inode_drop(fsm, txn, &in);
	if (rc != 0)
		return rc;
	in.a.nlink = 0;
	fsm__changed(fsm, &in, c->time_ns, 0);
	dir.a.nlink--; /* its ".." is gone */
	fsm__changed(fsm, &dir, c->time_ns, 1);
	res->attr = in.a;
	return fsm__inode_put(fsm, txn, &dir);
}
