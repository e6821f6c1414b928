/* ops_status.c: the reserved directory .quorumfs/ at the root of the mount (read-only status
 * files answered without a quorum), and the count of every FUSE request for /metrics. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuse_int.h"
#include "quorumfs/metrics.h"

/*
 * The table of operations is wrapped rather than edited: qfs__ops_status()
 * keeps the table the other ops_*.c files built and puts a wrapper in front
 * of each operation. A wrapper counts the request, answers it itself if it
 * names .quorumfs or a file in it, and otherwise calls the operation it
 * replaced. So the reserved names are refused in one place, whatever the
 * other files change, and no tree operation ever sees a virtual inode.
 *
 * The virtual inodes sit at the top of the 64-bit range, far above any
 * number the fsm hands out (it counts up from 2 and never reuses one).
 */

#define VINO_BASE  (UINT64_MAX - 255)
#define VINO_DIR   VINO_BASE
#define VINO_FILE0 (VINO_BASE + 1) /* + enum node_status_file */
#define RESERVED   ".quorumfs"
#define FILE_CAP   65536

static const char *const file_names[NODE_FILE_COUNT] = {
        [NODE_FILE_STATUS] = "status",
        [NODE_FILE_MEMBERS] = "members",
        [NODE_FILE_LEADER] = "leader",
};

/* The operations the other files set; wrappers call them. */
static struct fuse_lowlevel_ops orig;

static bool is_virtual(fuse_ino_t ino)
{
	return ino >= VINO_BASE;
}

static bool is_reserved(fuse_ino_t parent, const char *name)
{
	return (parent == FUSE_ROOT_ID && strcmp(name, RESERVED) == 0) || is_virtual(parent);
}

/* ------------------------------------------------------------------------ */
/* Which operation a reply answers, for quorumfs_fuse_requests_total        */

/*
 * Error replies come from many places, some long after the request (a
 * parked write). A small table keyed by the request's address remembers
 * each request's operation until its reply; a request whose slot another
 * one took meanwhile is counted as "other". Loop thread only.
 */
#define TRACK_SLOTS 1024
static struct {
	fuse_req_t req;
	unsigned char op;
} track_tab[TRACK_SLOTS];

static size_t slot_of(fuse_req_t req)
{
	uintptr_t p = (uintptr_t)req;
	return (size_t)((p >> 4) ^ (p >> 14)) & (TRACK_SLOTS - 1);
}

static void track(fuse_req_t req, enum qfs_fuse_op op)
{
	size_t s = slot_of(req);
	qfs_metric_fuse_request(op);
	track_tab[s].req = req;
	track_tab[s].op = (unsigned char)op;
}

#undef fuse_reply_err
int qfs__reply_err_counted(fuse_req_t req, int err)
{
	if (err > 0) {
		size_t s = slot_of(req);
		enum qfs_fuse_op op = QFS_FOP_OTHER;
		if (track_tab[s].req == req) {
			op = (enum qfs_fuse_op)track_tab[s].op;
			track_tab[s].req = NULL;
		}
		qfs_metric_fuse_error(op, err);
	}
	return fuse_reply_err(req, err);
}
#define fuse_reply_err(req, err) qfs__reply_err_counted((req), (err))

/* ------------------------------------------------------------------------ */
/* The virtual inodes                                                       */

static size_t render(struct qfs_mount *m, unsigned which, char *buf, size_t cap)
{
	if (m->opts.status_file == NULL) {
		int w = snprintf(buf, cap, "not available in this program\n");
		return w > 0 ? (size_t)w : 0;
	}
	return m->opts.status_file(m->opts.status_arg, which, buf, cap);
}

static void vstat(struct qfs_mount *m, fuse_ino_t ino, struct stat *st)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_atim = st->st_mtim = st->st_ctim = now;
	st->st_blksize = 4096;
	if (ino == VINO_DIR) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		/* The size of what a read would get now; reads are direct
		 * (FOPEN_DIRECT_IO), so a file that grew meanwhile still reads
		 * whole. */
		char *buf = malloc(FILE_CAP);
		size_t len = buf ? render(m, (unsigned)(ino - VINO_FILE0), buf, FILE_CAP) : 0;
		free(buf);
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)(len < FILE_CAP ? len : FILE_CAP - 1);
	}
}

static void ventry(struct qfs_mount *m, fuse_ino_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	vstat(m, ino, &e->attr);
	/* Never cached: every look is a new answer. */
	e->attr_timeout = 0;
	e->entry_timeout = 0;
}

static fuse_ino_t vlookup(const char *name)
{
	for (unsigned i = 0; i < NODE_FILE_COUNT; i++)
		if (strcmp(name, file_names[i]) == 0)
			return VINO_FILE0 + i;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Wrappers                                                                 */

static void w_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct fuse_entry_param e;
	fuse_ino_t ino = 0;

	track(req, QFS_FOP_LOOKUP);
	if (parent == FUSE_ROOT_ID && strcmp(name, RESERVED) == 0)
		ino = VINO_DIR;
	else if (parent == VINO_DIR)
		ino = vlookup(name);
	else if (!is_virtual(parent)) {
		orig.lookup(req, parent, name);
		return;
	}
	if (ino == 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ventry(m, ino, &e);
	fuse_reply_entry(req, &e);
}

static void w_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct stat st;
	track(req, QFS_FOP_GETATTR);
	if (ino == FUSE_ROOT_ID && m->opts.quorate != NULL && !m->stopping &&
	    !m->opts.quorate(m->opts.status_arg)) {
		/* No quorum: a linearizable answer would wait out the commit
		 * timeout and fail; the root's attributes from the local tree
		 * let the walk to .quorumfs/ go on (docs/operations.md). */
		struct fsm_attr a;
		int rc = node_getattr(m->node, ino, &a);
		if (rc != 0)
			qfs__reply_err(req, rc, QFS__READ);
		else
			qfs__reply_attr(m, req, &a);
		return;
	}
	if (!is_virtual(ino)) {
		orig.getattr(req, ino, fi);
		return;
	}
	vstat(fuse_req_userdata(req), ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void w_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                      struct fuse_file_info *fi)
{
	track(req, QFS_FOP_SETATTR);
	if (is_virtual(ino))
		fuse_reply_err(req, EPERM);
	else
		orig.setattr(req, ino, attr, to_set, fi);
}

static void w_readlink(fuse_req_t req, fuse_ino_t ino)
{
	track(req, QFS_FOP_READLINK);
	if (is_virtual(ino))
		fuse_reply_err(req, EINVAL);
	else
		orig.readlink(req, ino);
}

static void w_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	track(req, QFS_FOP_MKNOD);
	if (is_reserved(parent, name))
		fuse_reply_err(req, EPERM);
	else
		orig.mknod(req, parent, name, mode, rdev);
}

static void w_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	track(req, QFS_FOP_MKDIR);
	if (is_reserved(parent, name))
		fuse_reply_err(req, EPERM);
	else
		orig.mkdir(req, parent, name, mode);
}

static void w_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	track(req, QFS_FOP_UNLINK);
	if (is_reserved(parent, name))
		fuse_reply_err(req, EPERM);
	else
		orig.unlink(req, parent, name);
}

static void w_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	track(req, QFS_FOP_RMDIR);
	if (is_reserved(parent, name))
		fuse_reply_err(req, EPERM);
	else
		orig.rmdir(req, parent, name);
}

static void w_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	track(req, QFS_FOP_SYMLINK);
	if (is_reserved(parent, name))
		fuse_reply_err(req, EPERM);
	else
		orig.symlink(req, link, parent, name);
}

static void w_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                     const char *newname, unsigned int flags)
{
	track(req, QFS_FOP_RENAME);
	if (is_reserved(parent, name) || is_reserved(newparent, newname))
		fuse_reply_err(req, EPERM);
	else
		orig.rename(req, parent, name, newparent, newname, flags);
}

static void w_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	track(req, QFS_FOP_LINK);
	if (is_virtual(ino) || is_reserved(newparent, newname))
		fuse_reply_err(req, EPERM);
	else
		orig.link(req, ino, newparent, newname);
}

static void w_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                     struct fuse_file_info *fi)
{
	track(req, QFS_FOP_CREATE);
	if (is_reserved(parent, name))
		fuse_reply_err(req, EPERM);
	else
		orig.create(req, parent, name, mode, fi);
}

/* An open status file holds the rendering it was opened with: one read
 * after another (cat's, or a program's in small pieces) sees one answer. */
struct vfile {
	size_t len;
	char data[];
};

static void w_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	track(req, QFS_FOP_OPEN);
	if (!is_virtual(ino)) {
		orig.open(req, ino, fi);
		return;
	}
	if (ino == VINO_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	struct vfile *f = malloc(sizeof(*f) + FILE_CAP);
	if (f == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	f->len = render(fuse_req_userdata(req), (unsigned)(ino - VINO_FILE0), f->data, FILE_CAP);
	if (f->len >= FILE_CAP)
		f->len = FILE_CAP - 1;
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) != 0)
		free(f);
}

static void w_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
	track(req, QFS_FOP_READ);
	if (!is_virtual(ino)) {
		orig.read(req, ino, size, off, fi);
		return;
	}
	struct vfile *f = (struct vfile *)(uintptr_t)fi->fh;
	if (f == NULL || off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	size_t o = (size_t)off < f->len ? (size_t)off : f->len;
	size_t n = f->len - o < size ? f->len - o : size;
	fuse_reply_buf(req, f->data + o, n);
}

static void w_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	track(req, QFS_FOP_WRITE);
	if (is_virtual(ino))
		fuse_reply_err(req, EPERM);
	else
		orig.write(req, ino, buf, size, off, fi);
}

static void w_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	track(req, QFS_FOP_FLUSH);
	if (is_virtual(ino))
		fuse_reply_err(req, 0);
	else
		orig.flush(req, ino, fi);
}

static void w_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	track(req, QFS_FOP_RELEASE);
	if (!is_virtual(ino)) {
		orig.release(req, ino, fi);
		return;
	}
	free((void *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void w_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	track(req, QFS_FOP_FSYNC);
	if (is_virtual(ino))
		fuse_reply_err(req, 0);
	else
		orig.fsync(req, ino, datasync, fi);
}

static void w_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	track(req, QFS_FOP_OPENDIR);
	if (!is_virtual(ino)) {
		orig.opendir(req, ino, fi);
		return;
	}
	if (ino != VINO_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fi->fh = 0;
	fi->cache_readdir = 0;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

/* The directory's listing: ".", "..", then the files; offsets 1.. */
static void vreaddir(fuse_req_t req, size_t size, off_t off, bool plus)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	char *buf = malloc(size);
	size_t pos = 0;
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (off_t i = off; i < 2 + NODE_FILE_COUNT; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : file_names[i - 2];
		fuse_ino_t ino = i == 0 ? VINO_DIR : i == 1 ? FUSE_ROOT_ID : VINO_FILE0 + (i - 2);
		size_t need;
		if (plus) {
			struct fuse_entry_param e;
			if (i == 1) {
				/* ".." is not looked up through readdirplus. */
				memset(&e, 0, sizeof(e));
				e.attr.st_ino = ino;
				e.attr.st_mode = S_IFDIR;
			} else {
				ventry(m, ino, &e);
			}
			need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, i + 1);
		} else {
			struct stat st = {.st_ino = ino,
			                  .st_mode = i < 2 ? S_IFDIR : S_IFREG};
			need = fuse_add_direntry(req, buf + pos, size - pos, name, &st, i + 1);
		}
		if (need > size - pos)
			break;
		pos += need;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void w_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                      struct fuse_file_info *fi)
{
	track(req, QFS_FOP_READDIR);
	if (is_virtual(ino))
		vreaddir(req, size, off, false);
	else
		orig.readdir(req, ino, size, off, fi);
}

static void w_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          struct fuse_file_info *fi)
{
	track(req, QFS_FOP_READDIRPLUS);
	if (is_virtual(ino))
		vreaddir(req, size, off, true);
	else
		orig.readdirplus(req, ino, size, off, fi);
}

static void w_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	track(req, QFS_FOP_RELEASEDIR);
	if (is_virtual(ino))
		fuse_reply_err(req, 0);
	else
		orig.releasedir(req, ino, fi);
}

static void w_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	track(req, QFS_FOP_FSYNCDIR);
	if (is_virtual(ino))
		fuse_reply_err(req, 0);
	else
		orig.fsyncdir(req, ino, datasync, fi);
}

static void w_statfs(fuse_req_t req, fuse_ino_t ino)
{
	track(req, QFS_FOP_STATFS);
	orig.statfs(req, is_virtual(ino) ? FUSE_ROOT_ID : ino);
}

static void w_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                       size_t size, int flags)
{
	track(req, QFS_FOP_SETXATTR);
	if (is_virtual(ino))
		fuse_reply_err(req, EPERM);
	else
		orig.setxattr(req, ino, name, value, size, flags);
}

static void w_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	track(req, QFS_FOP_GETXATTR);
	if (is_virtual(ino))
		fuse_reply_err(req, ENODATA);
	else
		orig.getxattr(req, ino, name, size);
}

static void w_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	track(req, QFS_FOP_LISTXATTR);
	if (!is_virtual(ino))
		orig.listxattr(req, ino, size);
	else if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void w_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	track(req, QFS_FOP_REMOVEXATTR);
	if (is_virtual(ino))
		fuse_reply_err(req, EPERM);
	else
		orig.removexattr(req, ino, name);
}

/* Locks: counted, and refused on the status files (nothing to lock). The
 * table without them (local_locks) leaves them to the kernel; orig is
 * shared by every mount of the process, so check it is still there. */
static void w_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	track(req, QFS_FOP_GETLK);
	if (is_virtual(ino) || orig.getlk == NULL)
		fuse_reply_err(req, ENOLCK);
	else
		orig.getlk(req, ino, fi, lock);
}

static void w_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
                    int sleep)
{
	track(req, QFS_FOP_SETLK);
	if (is_virtual(ino) || orig.setlk == NULL)
		fuse_reply_err(req, ENOLCK);
	else
		orig.setlk(req, ino, fi, lock, sleep);
}

static void w_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	track(req, QFS_FOP_FLOCK);
	if (is_virtual(ino) || orig.flock == NULL)
		fuse_reply_err(req, ENOLCK);
	else
		orig.flock(req, ino, fi, op);
}

/* Every operation the table has gets its wrapper; one it lacks stays NULL
 * (the kernel then gets ENOSYS from libfuse, as before). */
#define WRAP(field, fn)                                                                            \
	do {                                                                                       \
		if (ops->field != NULL)                                                            \
			ops->field = fn;                                                           \
	} while (0)

void qfs__ops_status(struct fuse_lowlevel_ops *ops)
{
	orig = *ops;
	WRAP(lookup, w_lookup);
	WRAP(getattr, w_getattr);
	WRAP(setattr, w_setattr);
	WRAP(readlink, w_readlink);
	WRAP(mknod, w_mknod);
	WRAP(mkdir, w_mkdir);
	WRAP(unlink, w_unlink);
	WRAP(rmdir, w_rmdir);
	WRAP(symlink, w_symlink);
	WRAP(rename, w_rename);
	WRAP(link, w_link);
	WRAP(create, w_create);
	WRAP(open, w_open);
	WRAP(read, w_read);
	WRAP(write, w_write);
	WRAP(flush, w_flush);
	WRAP(release, w_release);
	WRAP(fsync, w_fsync);
	WRAP(opendir, w_opendir);
	WRAP(readdir, w_readdir);
	WRAP(readdirplus, w_readdirplus);
	WRAP(releasedir, w_releasedir);
	WRAP(fsyncdir, w_fsyncdir);
	WRAP(statfs, w_statfs);
	WRAP(setxattr, w_setxattr);
	WRAP(getxattr, w_getxattr);
	WRAP(listxattr, w_listxattr);
	WRAP(removexattr, w_removexattr);
	WRAP(getlk, w_getlk);
	WRAP(setlk, w_setlk);
	WRAP(flock, w_flock);
}
