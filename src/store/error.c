/* error.c: the one translation of LMDB's codes, and the store's error text. */
#include <errno.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "internal.h"
#include "quorumfs/errors.h"

int store_lmdb_error(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_MAP_FULL:
		return QFS_EMAPFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_PAGE_FULL:
	case MDB_CURSOR_FULL:
		return QFS_ECORRUPT;
	case MDB_VERSION_MISMATCH:
		return QFS_EFORMAT;
	case MDB_PANIC:
		return QFS_ESTORAGE;
	case MDB_TXN_FULL:
		return -E2BIG;
	case MDB_READERS_FULL:
	case MDB_TLS_FULL:
	case MDB_MAP_RESIZED:
		return -EAGAIN;
	case MDB_DBS_FULL:
		return -EMFILE;
	case MDB_INCOMPATIBLE:
	case MDB_BAD_RSLOT:
	case MDB_BAD_TXN:
	case MDB_BAD_VALSIZE:
	case MDB_BAD_DBI:
		return -EINVAL;
	default:
		if (rc > 0)
			return -rc;
		return -EIO; /* an LMDB code newer than this list */
	}
}

int store__commit_error(struct store *s, int mdb_rc, const char *what)
{
	int rc = store_lmdb_error(mdb_rc);
	struct statvfs st;

	/* LMDB reports a short write as EIO. A short write to a file system
	 * with next to no room left is the disk filling up, which the caller
	 * can recover from; a real I/O error is not. */
	if (rc == -EIO && statvfs(s->dir, &st) == 0 &&
	    (uint64_t)st.f_bavail * st.f_frsize < (1u << 20))
		return store__fail(s, -ENOSPC, "%s: short write, the disk is full", what);
	return store__fail(s, rc, "%s: %s", what, mdb_strerror(mdb_rc));
}

int store__fail(struct store *s, int rc, const char *fmt, ...)
{
	va_list ap;

	if (s == NULL)
		return rc;
	pthread_mutex_lock(&s->err_lock);
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&s->err_lock);
	return rc;
}

int store__mdb_fail(struct store *s, int mdb_rc, const char *what)
{
	int rc = store_lmdb_error(mdb_rc);

	if (rc != 0 && rc != QFS_EMAPFULL)
		store__fail(s, rc, "%s: %s", what, mdb_strerror(mdb_rc));
	return rc;
}

const char *store_errmsg(struct store *s, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	pthread_mutex_lock(&s->err_lock);
	snprintf(buf, len, "%s", s->err);
	pthread_mutex_unlock(&s->err_lock);
	return buf;
}
