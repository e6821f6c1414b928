/* caches.c: what the kernel may cache of the tree, decided in one place (docs/daemon.md). */
#include "fuse_int.h"

/* The follower read lease (the leader's lease on the leader) that makes a
 * cached answer true: no write completes anywhere until this node has
 * marked what it touches and dropped its cached attributes. Until the
 * lease code gives node_read_lease_valid() (include/quorumfs/node.h), no
 * node holds one: the one place to change when it lands. */
static bool lease_valid(struct qfs_mount *m)
{
	(void)m;
	return false;
}

bool qfs__caches_supported(void)
{
	return false; /* with the stub above: no lease ever holds */
}

bool qfs__caches_on(struct qfs_mount *m)
{
	return m->opts.kernel_caches && !m->caches_failed && lease_valid(m);
}

double qfs__attr_timeout(struct qfs_mount *m)
{
	if (qfs__caches_on(m))
		return m->opts.attr_timeout > 0 ? m->opts.attr_timeout : 1.0;
	return m->opts.attr_timeout;
}

/* Names stay at what the options say, also with the caches on: the only
 * kernel call that drops a name (notify_inval_entry) takes the parent
 * directory's lock, which a request in flight may hold, so it can never
 * come before an acknowledgement (docs/daemon.md, "No cycle"). */
double qfs__entry_timeout(struct qfs_mount *m)
{
	return m->opts.entry_timeout;
}

void qfs__open_flags(struct qfs_mount *m, struct fuse_file_info *fi)
{
	/* Pages of a file that did not change are kept across opens only
	 * while the caches are true; else every open drops them, so a read
	 * after an open never shows contents older than the open. Pages that
	 * did change are dropped by the kernel itself when it sees the new
	 * mtime or size (FUSE_CAP_AUTO_INVAL_DATA, mount.c). */
	fi->keep_cache = m->opts.page_cache && qfs__caches_on(m);
	/* Through the page cache, so mmap(MAP_SHARED) works; else every
	 * read is a READ, served from the handle's version (handle.c). */
	fi->direct_io = !m->opts.page_cache;
}
