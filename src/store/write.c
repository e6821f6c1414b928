/* write.c: write and read transactions, map growth, and preallocation of the data file. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "quorumfs/errors.h"

/* Takes the map lock exclusively and remaps. With @adopt_only, takes the size
 * another process recorded (MDB_MAP_RESIZED); otherwise doubles. */
int store__grow_map(struct store *s, bool adopt_only)
{
	MDB_envinfo info;
	size_t next;
	int rc = 0, mrc;

	pthread_rwlock_wrlock(&s->map_lock);
	mdb_env_info(s->env, &info);
	if (adopt_only) {
		mrc = mdb_env_set_mapsize(s->env, 0);
		if (mrc != 0)
			rc = store__mdb_fail(s, mrc, "adopt the map size");
		goto out;
	}
	if (info.me_mapsize >= s->max_map_size) {
		rc = store__fail(s, -ENOSPC, "the map reached max_map_size (%zu bytes)",
		                 s->max_map_size);
		goto out;
	}
	next = info.me_mapsize > s->max_map_size / 2 ? s->max_map_size : info.me_mapsize * 2;
	mrc = mdb_env_set_mapsize(s->env, next);
	if (mrc != 0) {
		rc = store__mdb_fail(s, mrc, "grow the map");
		goto out;
	}
	s->map_grows++;
out:
	pthread_rwlock_unlock(&s->map_lock);
	return rc;
}

/* After a commit that leaves the map three quarters full, grow it now while
 * nobody reads, so a later write rarely has to wait for readers to finish. */
static void grow_early(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t used, next;

	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	if (used < info.me_mapsize / 4 * 3 || info.me_mapsize >= s->max_map_size)
		return;
	if (pthread_rwlock_trywrlock(&s->map_lock) != 0)
		return;
	next = info.me_mapsize > s->max_map_size / 2 ? s->max_map_size : info.me_mapsize * 2;
	if (mdb_env_set_mapsize(s->env, next) == 0)
		s->map_grows++;
	pthread_rwlock_unlock(&s->map_lock);
}

/*
 * Without MDB_WRITEMAP, LMDB writes new pages past the end of data.mdb, so the
 * fdatasync of a commit that adds pages must also commit the file system's
 * journal (new size, new blocks): about one more disk flush. Keeping the file
 * extended with written zeros ahead of the used pages turns those writes into
 * overwrites of allocated blocks. Zeros, not fallocate(): on ext4 a write into
 * an unwritten extent converts it, which is again a journal commit. LMDB never
 * reads past its last page, and we only write past it, between transactions.
 */
void store__prealloc(struct store *s)
{
	static const unsigned char zeros[1 << 16];
	MDB_envinfo info;
	MDB_stat st;
	struct stat fst;
	off_t used, end, off;
	int fd;

	if (s->prealloc_bytes == 0)
		return;
	if (s->prealloc_skip > 0) {
		s->prealloc_skip--;
		return;
	}
	if (mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &fst) != 0)
		return;
	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	used = (off_t)((info.me_last_pgno + 1) * (size_t)st.ms_psize);
	if (fst.st_size >= used + (off_t)s->prealloc_bytes / 2)
		return;
	off = fst.st_size > used ? fst.st_size : used;
	end = used + (off_t)s->prealloc_bytes;
	while (off < end) {
		size_t n =
		        (size_t)(end - off) < sizeof(zeros) ? (size_t)(end - off) : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, off);
		if (w <= 0) {
			/* Disk (nearly) full: LMDB still extends the file
			 * itself and reports ENOSPC; retry much later. */
			s->prealloc_skip = 1024;
			return;
		}
		off += w;
	}
	if (!s->nosync)
		fdatasync(fd);
}

/*
 * Commits @txn; with @lazy, with MDB_NOMETASYNC: LMDB still writes and
 * fdatasyncs the data pages, then writes the meta page through the ordinary
 * descriptor instead of the O_DSYNC one, so the commit waits for one flush
 * instead of two. The flag is switched in the environment, which is shared
 * by every thread of the process, and only for this commit. That is safe
 * because only a commit reads it (mdb_env_write_meta picks the descriptor
 * from txn flags | env flags; readers and mdb_env_sync never look at it),
 * commits are serialized by write_lock, which the caller holds, and only the
 * holder of write_lock changes the environment's flags. Readers do read the
 * word the flag lives in (for MDB_NOTLS, MDB_RDONLY); they see it with or
 * without this bit, never another change.
 */
static int commit(struct store *s, MDB_txn *txn, bool lazy)
{
	int mrc;

	if (!lazy || mdb_env_set_flags(s->env, MDB_NOMETASYNC, 1) != 0)
		return mdb_txn_commit(txn);
	mrc = mdb_txn_commit(txn);
	mdb_env_set_flags(s->env, MDB_NOMETASYNC, 0);
	return mrc;
}

int store_write(struct store *s, store_write_fn fn, void *arg)
{
	return store_write_flags(s, fn, arg, 0);
}

int store_write_flags(struct store *s, store_write_fn fn, void *arg, unsigned flags)
{
	MDB_txn *txn;
	int rc = 0, mrc, adopts = 0;
	bool full, lazy = flags & STORE_NO_META_SYNC;

	if (flags & ~STORE_NO_META_SYNC)
		return store__fail(s, -EINVAL, "store_write_flags: unknown flags %#x", flags);
	pthread_mutex_lock(&s->write_lock);
	for (;;) {
		pthread_rwlock_rdlock(&s->map_lock);
		mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (mrc != 0) {
			pthread_rwlock_unlock(&s->map_lock);
			if (mrc == MDB_MAP_RESIZED && adopts++ < 8) {
				rc = store__grow_map(s, true);
				if (rc == 0)
					continue;
				break;
			}
			rc = store__mdb_fail(s, mrc, "begin a write transaction");
			break;
		}
		rc = fn(txn, arg);
		full = false;
		if (rc == 0) {
			mrc = commit(s, txn, lazy);
			if (mrc == MDB_MAP_FULL)
				full = true;
			else if (mrc != 0)
				rc = store__commit_error(s, mrc, "commit");
		} else {
			full = rc == QFS_EMAPFULL;
			mdb_txn_abort(txn);
		}
		pthread_rwlock_unlock(&s->map_lock);
		if (!full)
			break;
		rc = store__grow_map(s, false);
		if (rc != 0)
			break;
	}
	if (rc == 0) {
		/* A durable commit's fdatasync also flushed the meta page of
		 * any lazy commit before it. */
		s->meta_unsynced = lazy;
		s->commits++;
		if (lazy)
			s->lazy_commits++;
		grow_early(s);
		store__prealloc(s);
	}
	pthread_mutex_unlock(&s->write_lock);
	return rc;
}

int store_read(struct store *s, store_read_fn fn, void *arg)
{
	MDB_txn *txn;
	int rc, mrc, tries = 0, dead;

	for (;;) {
		pthread_rwlock_rdlock(&s->map_lock);
		mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
		if (mrc == 0)
			break;
		pthread_rwlock_unlock(&s->map_lock);
		if (mrc == MDB_READERS_FULL && tries++ == 0) {
			/* Slots of killed processes are freed lazily. */
			mdb_reader_check(s->env, &dead);
			continue;
		}
		if (mrc == MDB_MAP_RESIZED && tries++ < 8) {
			rc = store__grow_map(s, true);
			if (rc != 0)
				return rc;
			continue;
		}
		return store__mdb_fail(s, mrc, "begin a read transaction");
	}
	rc = fn(txn, arg);
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->map_lock);
	return rc;
}

int store_sync(struct store *s)
{
	int mrc;

	pthread_rwlock_rdlock(&s->map_lock);
	mrc = mdb_env_sync(s->env, 1);
	pthread_rwlock_unlock(&s->map_lock);
	return store__mdb_fail(s, mrc, "sync");
}
