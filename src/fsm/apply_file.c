/* apply_file.c: the commands on file contents and attributes: CREATE, WRITE, APPEND, SETATTR. */
#include <errno.h>
#include <sys/stat.h>

#include "fsm_internal.h"

/*
 * A create found @de under its name: EEXIST when the create is exclusive,
 * EISDIR for a directory, EEXIST for any other non-regular file (the kernel
 * resolves links before it creates, so one here means a race lost to
 * another node); a regular file is read into @in, to be opened.
 */
static int create_existing(struct fsm *fsm, MDB_txn *txn, const struct fsm__dirent *de,
                           bool excl, struct fsm__inode *in)
{
	if (excl)
		return EEXIST;
	if (de->type == S_IFDIR)
		return EISDIR;
	if (de->type != S_IFREG)
		return EEXIST;
	return fsm__inode_get(fsm, txn, de->child, in);
}

/*
 * CREATE: open(O_CREAT) as one command. A new file gets @data as contents.
 * An existing name answers as create_existing() says; a regular file is
 * opened, with WIRE_CREATE_TRUNC its contents become @data, and without it @data
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
		rc = create_existing(fsm, txn, &de, c->flags & WIRE_CREATE_EXCL, &in);
		if (rc != 0)
			return rc;
		if (c->flags & WIRE_CREATE_TRUNC) {
			rc = fsm__file_resize(fsm, txn, &in, 0);
			if (rc == 0)
				rc = fsm__file_write(fsm, txn, &in, 0, c->data, c->data_len);
			fsm__changed(fsm, &in, c->time_ns, 1);
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
	if (rc == 0 && c->data_len != 0)
		rc = fsm__file_write(fsm, txn, &in, 0, c->data, c->data_len);
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &in);
	if (rc == 0)
		rc = fsm__dirent_add(fsm, txn, &dir, c->name, c->name_len, in.a.ino, S_IFREG);
	if (rc != 0)
		return rc;
	fsm__changed(fsm, &dir, c->time_ns, 1);
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
	uint64_t max = fsm->opts.max_value_size;
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
	rc = trunc ? fsm__file_resize(fsm, txn, &in, 0) : 0;
	if (rc == 0)
		rc = fsm__file_write(fsm, txn, &in, c->offset, c->data, c->data_len);
	fsm__changed(fsm, &in, c->time_ns, 1);
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
	rc = fsm__file_write(fsm, txn, &in, off, c->data, c->data_len);
	fsm__changed(fsm, &in, c->time_ns, 1);
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &in);
	res->attr = in.a;
	return rc;
}

/* What a write by a caller without CAP_FSETID does to the set-id bits, as
 * Linux's file_remove_privs(): S_ISUID goes, and S_ISGID if the group may
 * execute (without S_IXGRP it marks mandatory locking and stays). */
static void kill_suidgid(struct fsm__inode *in)
{
	in->a.mode &= ~(uint32_t)S_ISUID;
	if (in->a.mode & S_IXGRP)
		in->a.mode &= ~(uint32_t)S_ISGID;
}

/*
 * The WRITEV steps (wire_cmd.h has the order), split so that CREATE_WRITEV
 * can check them against a file it has yet to make: writev_plan checks
 * every bound for a file of @size now and sets the result's offset, before
 * anything is written (EFBIG: nothing of the command is applied);
 * writev_steps then writes.
 */
static int writev_plan(const struct fsm *fsm, const struct wire_cmd *c, uint64_t size,
                       struct fsm_result *res)
{
	const uint64_t max = fsm->opts.max_value_size;
	const int append = (c->flags & WIRE_WRITEV_APPEND) != 0;
	struct wire_cmd_extent e;
	uint64_t total = 0;
	size_t pos = 0;
	int rc, first = 1;

	/* The size after steps 1 and 2, then what each extent leaves
	 * (extents only extend). */
	if (c->flags & WIRE_WRITEV_TRUNCATE)
		size = 0;
	if (c->flags & WIRE_WRITEV_SET_SIZE) {
		if (c->size > max)
			return EFBIG;
		size = c->size;
	}
	while ((rc = wire_cmd_extent_next(c, &pos, &e)) == 1) {
		uint64_t off = append ? size : e.offset;
		if (e.len > max || off > max - e.len || e.len > max - total)
			return EFBIG;
		total += e.len;
		if (first)
			res->offset = off;
		first = 0;
		if (off + e.len > size)
			size = off + e.len;
	}
	return rc != 0 ? EINVAL : 0; /* cannot happen after a decode; never trust it */
}

static int writev_steps(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                        struct fsm__inode *in)
{
	const int append = (c->flags & WIRE_WRITEV_APPEND) != 0;
	struct wire_cmd_extent e;
	size_t pos = 0;
	int rc;

	/* Each step costs what it touches: a cut frees the blocks past the
	 * new size, an extent rewrites only the blocks it covers. */
	rc = (c->flags & WIRE_WRITEV_TRUNCATE) ? fsm__file_resize(fsm, txn, in, 0) : 0;
	if (rc == 0 && (c->flags & WIRE_WRITEV_SET_SIZE))
		rc = fsm__file_resize(fsm, txn, in, c->size);
	while (rc == 0 && wire_cmd_extent_next(c, &pos, &e) == 1)
		rc = fsm__file_write(fsm, txn, in, append ? in->a.size : e.offset, e.data, e.len);
	if (rc != 0)
		return rc;
	fsm__changed(fsm, in, c->time_ns, 1);
	if (c->flags & WIRE_WRITEV_KILL_SUIDGID)
		kill_suidgid(in);
	return 0;
}

/*
 * WRITEV: an open handle's gathered writes, in one step. Every bound is
 * checked before anything is written. The result's offset is where the
 * first extent went (for an append: the end of the file it found).
 */
int fsm__apply_writev(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                      struct fsm_result *res)
{
	struct fsm__inode in;
	int rc = file_get(fsm, txn, c->ino, &in);

	if (rc != 0)
		return rc;
	if (c->n_extents == 0 && !(c->flags & (WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_SET_SIZE)))
		return EINVAL;
	rc = writev_plan(fsm, c, in.a.size, res);
	if (rc == 0)
		rc = writev_steps(fsm, txn, c, &in);
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &in);
	res->attr = in.a;
	return rc;
}

/*
 * CREATE_WRITEV: a new file and its first publish as one command (wire_cmd.h
 * has the cases). Every check comes before the first write, so a refused
 * command changes nothing, its reservation included. A reserved @ino is
 * trusted to be this proposer's (the fsm keeps no record of who reserved
 * what): it must only be below the counter and unused, which is what keeps
 * two files from sharing a number.
 */
int fsm__apply_create_writev(struct fsm *fsm, MDB_txn *txn, const struct wire_cmd *c,
                             struct fsm_result *res)
{
	struct fsm__inode dir, in;
	struct fsm__dirent de;
	uint32_t type = c->mode & S_IFMT;
	uint64_t next, reserved = 0;
	int rc, exists;

	rc = fsm__check_name(c->name, c->name_len);
	if (rc != 0)
		return rc;
	if (type != 0 && type != S_IFREG)
		return EINVAL;
	if (c->offset > WIRE_CREATE_RESERVE_MAX)
		return EINVAL;
	rc = fsm__dir_get(fsm, txn, c->parent, &dir);
	if (rc != 0)
		return rc;
	rc = fsm__dirent_get(fsm, txn, c->parent, c->name, c->name_len, &de);
	if (rc < 0)
		return rc;
	exists = rc == 0;
	if (exists) {
		rc = create_existing(fsm, txn, &de, c->flags & WIRE_CREATE_WRITEV_EXCL, &in);
		if (rc != 0)
			return rc;
	}
	rc = fsm__meta_get64(fsm, txn, FSM__KEY_NEXTINO, &next, FSM_ROOT_INO + 1);
	if (rc != 0)
		return rc;
	if (!exists && c->ino != 0) {
		struct fsm__inode other;
		if (c->ino <= FSM_ROOT_INO || c->ino >= next)
			return EINVAL; /* never reserved */
		rc = fsm__inode_get(fsm, txn, c->ino, &other);
		if (rc == 0)
			return EINVAL; /* reserved once, used already */
		if (rc != ENOENT)
			return rc;
	}
	rc = writev_plan(fsm, c, exists ? in.a.size : 0, res);
	if (rc != 0)
		return rc;

	if (!exists) {
		rc = fsm__inode_new_at(fsm, txn, c, S_IFREG | (c->mode & 07777), c->ino, &in);
		if (rc == 0)
			rc = fsm__dirent_add(fsm, txn, &dir, c->name, c->name_len, in.a.ino, S_IFREG);
		if (rc == 0) {
			fsm__changed(fsm, &dir, c->time_ns, 1);
			rc = fsm__inode_put(fsm, txn, &dir);
		}
		if (rc != 0)
			return rc;
	}
	/* An existing file opened and closed with nothing written keeps its
	 * times, as open(2) of it would. */
	if (!exists || c->n_extents > 0 || (c->flags & (WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_SET_SIZE)))
		rc = writev_steps(fsm, txn, c, &in);
	if (rc == 0)
		rc = fsm__inode_put(fsm, txn, &in);
	if (rc == 0 && c->offset > 0) {
		/* After the file's own number, which may have come from the
		 * counter. */
		rc = fsm__meta_get64(fsm, txn, FSM__KEY_NEXTINO, &reserved, FSM_ROOT_INO + 1);
		if (rc == 0)
			rc = fsm__meta_put64(fsm, txn, FSM__KEY_NEXTINO, reserved + c->offset);
	}
	if (rc != 0)
		return rc;
	res->attr = in.a;
	res->offset = reserved;
	return 0;
}

/*
 * SETATTR: the fields in the valid mask. A size change cuts or zero-extends
 * a regular file and sets mtime; ctime becomes the command's time unless
 * given. Explicit times win over the implied ones. An empty mask changes
 * nothing. Set-id bits are cleared as Linux clears them: by KILL_SUIDGID
 * (truncation without CAP_FSETID) and by any owner or group change of a
 * non-directory, unless the same command sets MODE.
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
		rc = fsm__file_resize(fsm, txn, &in, a->size);
		if (rc != 0)
			return rc;
		fsm__changed(fsm, &in, now, 1);
	} else {
		fsm__changed(fsm, &in, now, 0);
	}
	if (a->valid & WIRE_ATTR_MODE) {
		/* A mode given with the change wins over any clearing: the
		 * kernel sends one only when it computed the bits itself. */
		in.a.mode = (in.a.mode & S_IFMT) | (a->mode & 07777);
	} else if ((a->valid & WIRE_ATTR_KILL_SUIDGID) ||
	           ((a->valid & (WIRE_ATTR_UID | WIRE_ATTR_GID)) && !S_ISDIR(in.a.mode))) {
		/* A truncation without CAP_FSETID, or a chown of a non-directory
		 * (by anyone, root too: Linux since 2.2.13). */
		kill_suidgid(&in);
	}
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
