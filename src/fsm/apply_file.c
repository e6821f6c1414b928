/* apply_file.c: the commands on file contents and attributes: CREATE, WRITE, APPEND, SETATTR. */
#include <errno.h>
#include <sys/stat.h>

#include "fsm_internal.h"

/*
 * CREATE: open(O_CREAT) as one command. A new file gets @data as contents.
 * An existing name: EEXIST with WIRE_CREATE_EXCL; EISDIR for a directory;
 * EEXIST for a symlink (the kernel resolves links before it creates, so
 * one here means a race lost to another node); a regular file is opened,
 * with WIRE_CREATE_TRUNC its contents become @data, and without it @data
 * must be empty (EEXIST otherwise: data is never dropped silently).
 */
int fsm__apply_create(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res)
{
	struct fsm__inode dir, in;
	struct fsm__dirent de;
	uint32_t type = c->mode & S_IFMT;
	int rc;

	rc = fsm__check_name(c->name, c->name_len);
	if (rc != 0)
		return rc;
	if (type != 0 && type != S_IFREG)
		return EINVAL; /* mknod of devices and fifos is not offered */
	rc = fsm__dir_get(fsm, txn, c->parent, &dir);
	if (rc != 0)
		return rc;
	if (c->data_len > fsm->opts.max_value_size)
		return EFBIG;
	rc = fsm__dirent_get(fsm, txn, c->parent, c->name, c->name_len, &de);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (c->flags & WIRE_CREATE_EXCL)
			return EEXIST;
		if (de.type == S_IFDIR)
			return EISDIR;
		if (de.type != S_IFREG)
			return EEXIST;
		rc = fsm__inode_get(fsm, txn, de.child, &in);
		if (rc != 0)
			return rc;
		if (c->flags & WIRE_CREATE_TRUNC) {
			rc = fsm__data_set(fsm, txn, &in, c->data_len, 0, c->data, c->data_len,
			                   c->time_ns);
			if (rc == 0)
				rc = fsm__inode_put(fsm, txn, &in);
			if (rc != 0)
				return rc;
		} else if (c->data_len != 0) {
			return EEXIST;
		}
		res->attr = in.a;
		return 0;
	}

	rc = fsm__inode_new(fsm, txn, c, S_IFREG | (c->mode & 07777), &in);
	if (rc == 0 && c->data_len != 0) {
		rc = fsm__data_set(fsm, txn, &in, c->data_len, 0, c->data, c->data_len, c->time_ns);
		in.a.version = 1; /* one inode, born with its contents */
	}
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &in);
	if (rc == 0)
		rc = fsm__dirent_add(fsm, txn, &dir, c->name, c->name_len, in.a.ino, S_IFREG);
	if (rc != 0)
		return rc;
	fsm__changed(&dir, c->time_ns, 1);
	rc = fsm__inode_put(fsm, txn, &dir);
	res->attr = in.a;
	return rc;
}

/* The inode a content command acts on: a regular file. */
static int file_get(struct fsm *fsm, MDB_txn *txn, uint64_t ino, struct fsm__inode *in)
{
	int rc = fsm__inode_get(fsm, txn, ino, in);
	if (rc != 0)
		return rc;
	if (S_ISDIR(in->a.mode))
		return EISDIR;
	return S_ISREG(in->a.mode) ? 0 : EINVAL;
}

/*
 * WRITE: @data at @offset, zero-filling a gap past the end. With
 * WIRE_WRITE_TRUNCATE the file is first cut to 0, in the same command, so
 * no node ever sees it empty in between (`echo v > f`).
 */
int fsm__apply_write(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                     struct fsm_result *res)
{
	struct fsm__inode in;
	uint64_t max = fsm->opts.max_value_size, end, size;
	int trunc = (c->flags & WIRE_WRITE_TRUNCATE) != 0;
	int rc = file_get(fsm, txn, c->ino, &in);

	if (rc != 0)
		return rc;
	if (c->data_len > max || c->offset > max - c->data_len)
		return EFBIG;
	res->offset = c->offset;
	if (c->data_len == 0 && !trunc) {
		res->attr = in.a; /* write(2) of nothing changes nothing */
		return 0;
	}
	end = c->data_len ? c->offset + c->data_len : 0;
	size = trunc || end > in.a.size ? end : in.a.size;
	rc = fsm__data_set(fsm, txn, &in, size, c->offset, c->data, c->data_len, c->time_ns);
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &in);
	res->attr = in.a;
	return rc;
}

/* APPEND: @data at the end as it is when the command applies, whatever
 * others wrote before; the result says where that was. */
int fsm__apply_append(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res)
{
	struct fsm__inode in;
	uint64_t max = fsm->opts.max_value_size, off;
	int rc = file_get(fsm, txn, c->ino, &in);

	if (rc != 0)
		return rc;
	off = in.a.size;
	if (c->data_len > max || off > max - c->data_len)
		return EFBIG;
	res->offset = off;
	if (c->data_len == 0) {
		res->attr = in.a;
		return 0;
	}
	rc = fsm__data_set(fsm, txn, &in, off + c->data_len, off, c->data, c->data_len, c->time_ns);
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &in);
	res->attr = in.a;
	return rc;
}

/*
 * SETATTR: the fields in the valid mask. A size change cuts or zero-extends
 * a regular file and sets mtime; ctime becomes the command's time unless
 * given. Explicit times win over the implied ones. An empty mask changes
 * nothing.
 */
int fsm__apply_setattr(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                       struct fsm_result *res)
{
	const struct wire_cmd_attr *a = &c->attr;
	struct fsm__inode in;
	int64_t now = c->time_ns;
	int rc = fsm__inode_get(fsm, txn, c->ino, &in);

	if (rc != 0)
		return rc;
	if (a->valid & WIRE_ATTR_SIZE) {
		if (S_ISDIR(in.a.mode))
			return EISDIR;
		if (!S_ISREG(in.a.mode))
			return EINVAL;
		if (a->size > fsm->opts.max_value_size)
			return EFBIG;
	}
	if ((a->valid & WIRE_ATTR_ALL) == 0) {
		res->attr = in.a;
		return 0;
	}
	if ((a->valid & WIRE_ATTR_SIZE) && a->size != in.a.size) {
		rc = fsm__data_set(fsm, txn, &in, a->size, 0, NULL, 0, now);
		if (rc != 0)
			return rc;
	} else {
		fsm__changed(&in, now, 0);
	}
	if (a->valid & WIRE_ATTR_MODE)
		in.a.mode = (in.a.mode & S_IFMT) | (a->mode & 07777);
	if (a->valid & WIRE_ATTR_UID)
		in.a.uid = a->uid;
	if (a->valid & WIRE_ATTR_GID)
		in.a.gid = a->gid;
	if (a->valid & WIRE_ATTR_ATIME_NOW)
		in.a.atime_ns = now;
	else if (a->valid & WIRE_ATTR_ATIME)
		in.a.atime_ns = a->atime_ns;
	if (a->valid & WIRE_ATTR_MTIME_NOW)
		in.a.mtime_ns = now;
	else if (a->valid & WIRE_ATTR_MTIME)
		in.a.mtime_ns = a->mtime_ns;
	if (a->valid & WIRE_ATTR_CTIME)
		in.a.ctime_ns = a->ctime_ns;
	rc = fsm__inode_put(fsm, txn, &in);
	res->attr = in.a;
	return rc;
}
