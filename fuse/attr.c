/* attr.c: attributes and entries as the kernel wants them, with the mount's cache timeouts. */
#include <errno.h>
#include <string.h>

#include "fuse_int.h"

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	if (r < 0) {
		r += 1000000000;
		s--;
	}
	ts->tv_sec = (time_t)s;
	ts->tv_nsec = (long)r;
}

void qfs__attr_to_stat(const struct fsm_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	/* What stdio and copying programs size their buffers by: python's
	 * io and coreutils take it (glibc's stdio only below BUFSIZ, so it
	 * writes 8 KiB instead of the 4 KiB a 4096 here gave it);
	 * fewer, larger writes mean fewer FUSE round trips (each write is
	 * gathered anyway; docs/performance.md has the figures). */
	st->st_blksize = 131072;
	st->st_rdev = (dev_t)a->rdev;
	st->st_blocks = (blkcnt_t)a->blocks; /* what is stored: a hole takes none */
	ns_to_ts(a->atime_ns, &st->st_atim);
	ns_to_ts(a->mtime_ns, &st->st_mtim);
	ns_to_ts(a->ctime_ns, &st->st_ctim);
}

void qfs__entry_param(struct qfs_mount *m, const struct fsm_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = 0; /* inode numbers are never reused (fsm) */
	qfs__attr_to_stat(a, &e->attr);
	e->attr_timeout = qfs__attr_timeout(m);
	e->entry_timeout = qfs__entry_timeout(m);
}

void qfs__reply_entry(struct qfs_mount *m, fuse_req_t req, const struct fsm_attr *a)
{
	struct fuse_entry_param e;

	qfs__entry_param(m, a, &e);
	/* Count first: the kernel may forget as soon as it has the reply. */
	qfs__inode_lookup(m, a->ino);
	if (fuse_reply_entry(req, &e) != 0)
		qfs__inode_forget(m, a->ino, 1); /* the kernel never got it */
}

void qfs__reply_attr(struct qfs_mount *m, fuse_req_t req, const struct fsm_attr *a)
{
	struct stat st;

	qfs__attr_to_stat(a, &st);
	fuse_reply_attr(req, &st, qfs__attr_timeout(m));
}

int qfs__check_name(size_t len)
{
	return len > FSM_NAME_MAX ? -ENAMETOOLONG : 0;
}
