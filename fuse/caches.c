/* caches.c: what the kernel may cache of the tree, decided in one place (docs/daemon.md). */
#include "fuse_int.h"

/* The follower read lease (the leader's lease on the leader) that makes a
 * cached answer true: no write completes anywhere until this node has
 * marked what it touches and dropped its cached attributes, or until the
 * lease has surely ended. How long it lasts from now, in seconds; 0: none. */
static double lease_left(struct qfs_mount *m)
{
	return node_read_lease_left(m->node);
}

bool qfs__caches_on(struct qfs_mount *m)
{
	return m->opts.kernel_caches && !m->caches_failed && lease_left(m) > 0;
}

/* The lease can end early on this node (a new term, a new leader) while
 * the kernel holds what it gave: until those timeouts run out, a write's
 * touch still drops them before the ack leaves, as under the lease. When
 * they have run out, the kernel asks again for everything it would show. */
bool qfs__caches_held(struct qfs_mount *m)
{
	return m->cached_until != 0 && uv_hrtime() < m->cached_until;
}

/* A timeout under the lease: never past the lease's end, so a node that is
 * cut off (and cannot drop anything when a write comes) has nothing cached
 * left when the leader stops waiting for it, and a lost lease needs no
 * sweep of the kernel's caches. The lease is the only bound that matters;
 * CACHE_MAX_S (or the attribute timeout a library caller asked for) only
 * keeps a single voter's, which never ends, from being an hour. @fallback
 * without a lease. */
#define CACHE_MAX_S 60.0
static double under_lease(struct qfs_mount *m, double fallback)
{
	double left = lease_left(m);
	if (left <= 0)
		return fallback;
	double t = m->opts.attr_timeout > 0 ? m->opts.attr_timeout : CACHE_MAX_S;
	if (t > left)
		t = left;
	uint64_t until = uv_hrtime() + (uint64_t)(t * 1e9) + 1;
	if (until > m->cached_until)
		m->cached_until = until;
	return t;
}

double qfs__attr_timeout(struct qfs_mount *m)
{
	if (!m->opts.kernel_caches || m->caches_failed)
		return m->opts.attr_timeout;
	return under_lease(m, m->opts.attr_timeout);
}

/* Names too, under the same bound, once the kernel is known to take the
 * epoch increment that drops every cached name without a lock (notify.c).
 * Never one by one: notify_inval_entry takes the parent directory's lock,
 * which a request in flight may hold, so it could come after an
 * acknowledgement that waits for it (docs/daemon.md, "No cycle"). */
double qfs__entry_timeout(struct qfs_mount *m)
{
	if (!m->opts.kernel_caches || m->caches_failed || !qfs__names_cacheable(m))
		return m->opts.entry_timeout;
	return under_lease(m, m->opts.entry_timeout);
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
