/* fault_disk.c: a FUSE passthrough to put under a node's data directory, so the fault harness
 * can lose power (every write not yet synced is gone) and make the disk full or failing.
 *
 *   fault-disk LOWER MOUNT [--control FIFO] [--seed S]
 *
 * In the manner of Jepsen's lazyfs: file contents written through MOUNT are kept in this
 * process's memory, one 4096-byte page at a time, and reach LOWER only when they are made
 * durable: fsync or fdatasync of the file, or a write through a descriptor opened with
 * O_DSYNC or O_SYNC (only that write's pages, as POSIX says). Killing this process (kill -9)
 * is pulling the plug: what LOWER holds is what a disk would hold after a power loss in which
 * the kernel had written back none of the unsynced pages. The control command `writeback PCT`
 * first writes a random PCT% of the unsynced pages (each page on its own, seeded), as the
 * kernel's writeback could have done before the power went: a torn state, page-granular.
 * LOWER itself is never fsynced: nothing here loses power but this layer.
 *
 * Stricter than a disk in one way, said plainly: namespace operations (create, mkdir,
 * rename, unlink, link) and truncation reach LOWER at once, so they are never lost (a
 * truncation first writes the file's unsynced pages). The daemon's only lazily ordered
 * metadata is the rename of a snapshot file, which it follows with an fsync of the directory.
 *
 * Disk faults, by control command, until `ok`:
 *   full       every write, create, mkdir, link, rename and truncation fails with ENOSPC
 *              (fsync of what was already accepted still succeeds: the space was reserved
 *              when the write was);
 *   eio        every write and every fsync fails with EIO. A failed fsync also does what
 *              Linux does after a failed writeback: the file's unsynced pages are marked
 *              clean, so a later fsync that succeeds does not write them (they stay readable
 *              here, as in the page cache, and are lost at the next power loss unless written
 *              again);
 *   eio-sync   only fsync fails, as above.
 *
 * Commands arrive on the FIFO as lines `ID COMMAND [ARG]`; each is answered on stdout with
 * `ID ok ...` once done, so the harness knows when a writeback finished. Reads come from the
 * memory pages over LOWER. mmap works (the kernel's page cache sits above this layer and its
 * writeback comes here as writes); flock and POSIX locks are the kernel's own (no lock
 * operations are implemented, so FUSE keeps them local).
 */
#define FUSE_USE_VERSION 312
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#define PAGE 4096u
#define NBUCKETS 1024u

struct page {
	uint64_t idx;
	bool clean; /* a failed fsync gave up on it: not written by later syncs */
	struct page *next;
	unsigned char data[PAGE];
};

/* One per lower file that was opened, by (dev, ino); lives while it is open or holds pages. */
struct inode {
	dev_t dev;
	ino_t ino;
	int fd;        /* O_RDWR on the lower file (-1 when it cannot be written) */
	off_t size;    /* the file's size as seen through the mount; lower size <= size */
	size_t npages; /* pages held, clean ones included */
	int nopen;
	bool unlinked; /* no longer in the list: its number may be reused */
	struct page *buckets[NBUCKETS];
	struct inode *next;
};

struct handle {
	struct inode *in;
	bool dsync;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct inode *inodes;
static int lower_fd = -1;
static int fail_write;     /* 0, ENOSPC or EIO */
static int fail_sync;      /* 0 or EIO */
static uint64_t rng = 1;
static unsigned long long pages_lost_sync; /* pages a failed fsync gave up on */

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The lower path of @path, relative to lower_fd. */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static struct inode *find_inode(dev_t dev, ino_t ino)
{
	for (struct inode *in = inodes; in; in = in->next)
		if (in->dev == dev && in->ino == ino)
			return in;
	return NULL;
}

static void free_inode(struct inode *in)
{
	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct page *p = in->buckets[b];
		while (p) {
			struct page *q = p->next;
			free(p);
			p = q;
		}
	}
	if (in->fd >= 0)
		close(in->fd);
	free(in);
}

/* Takes @in out of the list (its file is gone): freed once nothing has it open. */
static void forget_inode(struct inode *in)
{
	for (struct inode **pp = &inodes; *pp; pp = &(*pp)->next)
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	in->unlinked = true;
	if (in->nopen == 0)
		free_inode(in);
}

/* The file at @rpath is about to lose a name: forget its pages if that is its last one. */
static void forget_path(const char *rpath)
{
	struct stat st;
	if (fstatat(lower_fd, rpath, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_nlink > 1)
		return;
	struct inode *in = find_inode(st.st_dev, st.st_ino);
	if (in)
		forget_inode(in);
}

static struct page *find_page(struct inode *in, uint64_t idx)
{
	for (struct page *p = in->buckets[idx % NBUCKETS]; p; p = p->next)
		if (p->idx == idx)
			return p;
	return NULL;
}

static void drop_page(struct inode *in, uint64_t idx)
{
	for (struct page **pp = &in->buckets[idx % NBUCKETS]; *pp; pp = &(*pp)->next)
		if ((*pp)->idx == idx) {
			struct page *p = *pp;
			*pp = p->next;
			free(p);
			in->npages--;
			return;
		}
}

/* Writes page @p to the lower file and lets it go. */
static int write_page(struct inode *in, struct page *p)
{
	off_t off = (off_t)p->idx * PAGE;
	size_t n = PAGE;
	if (off >= in->size)
		n = 0;
	else if ((off_t)(off + PAGE) > in->size)
		n = (size_t)(in->size - off);
	if (n > 0 && pwrite(in->fd, p->data, n, off) != (ssize_t)n)
		return -errno ? -errno : -EIO;
	drop_page(in, p->idx);
	return 0;
}

/* Makes the pages of [first, last] durable (all of them: last = UINT64_MAX), and the size. */
static int sync_range(struct inode *in, uint64_t first, uint64_t last)
{
	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct page *p = in->buckets[b];
		while (p) {
			struct page *q = p->next;
			if (p->idx >= first && p->idx <= last) {
				/* Given up on: readable here, as in the page cache, but never
				 * written, as on Linux after a failed writeback. */
				if (!p->clean) {
					int rc = write_page(in, p);
					if (rc != 0)
						return rc;
				}
			}
			p = q;
		}
	}
	/* A size the pages did not reach (a write of zeros past the end never touched). */
	struct stat st;
	if (last == UINT64_MAX && fstat(in->fd, &st) == 0 && st.st_size < in->size &&
	    ftruncate(in->fd, in->size) != 0)
		return -errno;
	return 0;
}

/* A failed fsync: what it would have written is given up on (Linux marks the pages clean). */
static void give_up(struct inode *in)
{
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct page *p = in->buckets[b]; p; p = p->next)
			if (!p->clean) {
				p->clean = true;
				pages_lost_sync++;
			}
}

/* The inode of the lower file open as @fd (which it keeps or closes). */
static struct inode *inode_of_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return NULL;
	}
	struct inode *in = find_inode(st.st_dev, st.st_ino);
	if (in) {
		close(fd);
		return in;
	}
	in = calloc(1, sizeof(*in));
	if (!in) {
		close(fd);
		return NULL;
	}
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	in->fd = fd;
	in->size = st.st_size;
	in->next = inodes;
	inodes = in;
	return in;
}

static int open_common(const char *path, int flags, mode_t mode, bool create,
                       struct fuse_file_info *fi)
{
	if (create && fail_write)
		return -fail_write;
	int lflags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT | (flags & O_EXCL) : 0);
	int fd = openat(lower_fd, rel(path), lflags, mode);
	if (fd < 0 && errno == EACCES && !create)
		return -EACCES;
	if (fd < 0)
		return -errno;
	struct stat st;
	if (create && fstat(fd, &st) == 0) {
		/* A new file may reuse the number of one whose pages we still hold. */
		struct inode *old = find_inode(st.st_dev, st.st_ino);
		if (old && st.st_size == 0 && st.st_nlink == 1 && old->nopen == 0)
			forget_inode(old);
	}
	struct inode *in = inode_of_fd(fd);
	if (!in)
		return -ENOMEM;
	if (flags & O_TRUNC) {
		if (fail_write)
			return -fail_write;
		int rc = sync_range(in, 0, UINT64_MAX);
		if (rc == 0 && ftruncate(in->fd, 0) != 0)
			rc = -errno;
		if (rc != 0)
			return rc;
		in->size = 0;
	}
	struct handle *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->in = in;
	h->dsync = (flags & (O_DSYNC | O_SYNC)) != 0;
	in->nopen++;
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

#define LOCKED(expr)                                                                           \
	do {                                                                                   \
		pthread_mutex_lock(&mu);                                                       \
		int rc_ = (expr);                                                              \
		pthread_mutex_unlock(&mu);                                                     \
		return rc_;                                                                    \
	} while (0)

static int do_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (fi) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		if (fstat(h->in->fd, st) != 0)
			return -errno;
		st->st_size = h->in->size;
		return 0;
	}
	if (fstatat(lower_fd, rel(path), st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	struct inode *in = find_inode(st->st_dev, st->st_ino);
	if (in)
		st->st_size = in->size;
	return 0;
}
static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	LOCKED(do_getattr(path, st, fi));
}

/* With nullpath_ok, readdir may get no path: the directory's own is kept from opendir. */
static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	fi->fh = (uint64_t)(uintptr_t)copy;
	return 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	free((char *)(uintptr_t)fi->fh);
	return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)flags;
	path = (const char *)(uintptr_t)fi->fh;
	int fd = openat(lower_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct stat st = {.st_ino = e->d_ino, .st_mode = (mode_t)DTTOIF(e->d_type)};
		if (fill(buf, e->d_name, &st, 0, 0))
			break;
	}
	closedir(d);
	return 0;
}

static int op_mkdir(const char *path, mode_t mode)
{
	if (fail_write)
		return -fail_write;
	return mkdirat(lower_fd, rel(path), mode) == 0 ? 0 : -errno;
}

/* The daemon's admin socket: bind() makes its node here. */
static int op_mknod(const char *path, mode_t mode, dev_t rdev)
{
	if (fail_write)
		return -fail_write;
	return mknodat(lower_fd, rel(path), mode, rdev) == 0 ? 0 : -errno;
}

static int do_unlink(const char *path)
{
	forget_path(rel(path));
	return unlinkat(lower_fd, rel(path), 0) == 0 ? 0 : -errno;
}
static int op_unlink(const char *path)
{
	LOCKED(do_unlink(path));
}

static int op_rmdir(const char *path)
{
	return unlinkat(lower_fd, rel(path), AT_REMOVEDIR) == 0 ? 0 : -errno;
}

static int do_rename(const char *from, const char *to, unsigned int flags)
{
	if (fail_write)
		return -fail_write;
	if (!(flags & RENAME_EXCHANGE))
		forget_path(rel(to));
	return renameat2(lower_fd, rel(from), lower_fd, rel(to), flags) == 0 ? 0 : -errno;
}
static int op_rename(const char *from, const char *to, unsigned int flags)
{
	LOCKED(do_rename(from, to, flags));
}

static int op_link(const char *from, const char *to)
{
	if (fail_write)
		return -fail_write;
	return linkat(lower_fd, rel(from), lower_fd, rel(to), 0) == 0 ? 0 : -errno;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (!path) /* nullpath_ok: an open file, reached by its handle */
		return fchmod(((struct handle *)(uintptr_t)fi->fh)->in->fd, mode) == 0 ? 0 : -errno;
	return fchmodat(lower_fd, rel(path), mode, 0) == 0 ? 0 : -errno;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	if (!path)
		return fchown(((struct handle *)(uintptr_t)fi->fh)->in->fd, uid, gid) == 0 ? 0 : -errno;
	return fchownat(lower_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	if (!path)
		return futimens(((struct handle *)(uintptr_t)fi->fh)->in->fd, tv) == 0 ? 0 : -errno;
	return utimensat(lower_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int do_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	if (fail_write)
		return -fail_write;
	struct inode *in;
	bool opened = false;
	if (fi) {
		in = ((struct handle *)(uintptr_t)fi->fh)->in;
	} else {
		int fd = openat(lower_fd, rel(path), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return -errno;
		in = inode_of_fd(fd);
		if (!in)
			return -ENOMEM;
		in->nopen++;
		opened = true;
	}
	int rc = sync_range(in, 0, UINT64_MAX);
	if (rc == 0 && ftruncate(in->fd, size) != 0)
		rc = -errno;
	if (rc == 0)
		in->size = size;
	if (opened && --in->nopen == 0 && in->unlinked)
		free_inode(in);
	return rc;
}
static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	LOCKED(do_truncate(path, size, fi));
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	LOCKED(open_common(path, fi->flags, 0, false, fi));
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	LOCKED(open_common(path, fi->flags, mode, true, fi));
}

static int do_read(struct handle *h, char *buf, size_t size, off_t off)
{
	struct inode *in = h->in;
	if (off >= in->size)
		return 0;
	if ((off_t)(off + size) > in->size)
		size = (size_t)(in->size - off);
	ssize_t r = pread(in->fd, buf, size, off);
	if (r < 0)
		return -errno;
	if ((size_t)r < size)
		memset(buf + r, 0, size - (size_t)r);
	if (in->npages == 0)
		return (int)size;
	for (uint64_t idx = (uint64_t)off / PAGE; idx <= ((uint64_t)off + size - 1) / PAGE; idx++) {
		struct page *p = find_page(in, idx);
		if (!p)
			continue;
		uint64_t ps = idx * PAGE, from = ps > (uint64_t)off ? ps : (uint64_t)off;
		uint64_t to = ps + PAGE < (uint64_t)off + size ? ps + PAGE : (uint64_t)off + size;
		memcpy(buf + (from - (uint64_t)off), p->data + (from - ps), to - from);
	}
	return (int)size;
}
static int op_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
	(void)path;
	LOCKED(do_read((struct handle *)(uintptr_t)fi->fh, buf, size, off));
}

static int do_write(struct handle *h, const char *buf, size_t size, off_t off)
{
	struct inode *in = h->in;
	if (fail_write)
		return -fail_write;
	if (in->fd < 0)
		return -EBADF;
	if (size == 0)
		return 0;
	uint64_t first = (uint64_t)off / PAGE, last = ((uint64_t)off + size - 1) / PAGE;
	for (uint64_t idx = first; idx <= last; idx++) {
		struct page *p = find_page(in, idx);
		uint64_t ps = idx * PAGE;
		if (!p) {
			p = calloc(1, sizeof(*p));
			if (!p)
				return -ENOMEM;
			p->idx = idx;
			/* The page as it reads now: lower bytes within the size, zeros past it. */
			if ((off_t)ps < in->size) {
				size_t n = (off_t)(ps + PAGE) > in->size ? (size_t)(in->size - (off_t)ps)
				                                         : PAGE;
				if (pread(in->fd, p->data, n, (off_t)ps) < 0) {
					free(p);
					return -errno;
				}
			}
			p->next = in->buckets[idx % NBUCKETS];
			in->buckets[idx % NBUCKETS] = p;
			in->npages++;
		}
		p->clean = false;
		uint64_t from = ps > (uint64_t)off ? ps : (uint64_t)off;
		uint64_t to = ps + PAGE < (uint64_t)off + size ? ps + PAGE : (uint64_t)off + size;
		memcpy(p->data + (from - ps), buf + (from - (uint64_t)off), to - from);
	}
	if ((off_t)(off + size) > in->size)
		in->size = off + (off_t)size;
	if (h->dsync) {
		if (fail_sync) {
			give_up(in);
			return -fail_sync;
		}
		int rc = sync_range(in, first, last);
		if (rc != 0)
			return rc;
	}
	return (int)size;
}
static int op_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	(void)path;
	LOCKED(do_write((struct handle *)(uintptr_t)fi->fh, buf, size, off));
}

static int do_fsync(struct handle *h)
{
	if (fail_sync) {
		give_up(h->in);
		return -fail_sync;
	}
	return sync_range(h->in, 0, UINT64_MAX);
}
static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	LOCKED(do_fsync((struct handle *)(uintptr_t)fi->fh));
}

/* Directories: their entries are written at once, so there is nothing to make durable. */
static int op_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	return fail_sync ? -fail_sync : 0;
}

static int do_release(struct handle *h)
{
	struct inode *in = h->in;
	free(h);
	if (--in->nopen == 0 && in->unlinked)
		free_inode(in);
	return 0;
}
static int op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	LOCKED(do_release((struct handle *)(uintptr_t)fi->fh));
}

static int op_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	if (fstatvfs(lower_fd, sv) != 0)
		return -errno;
	if (fail_write == ENOSPC)
		sv->f_bfree = sv->f_bavail = 0;
	return 0;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->hard_remove = 1;   /* no .fuse_hidden files: open files are reached by handle */
	cfg->nullpath_ok = 1;
	cfg->entry_timeout = 1;
	cfg->attr_timeout = 1;
	cfg->negative_timeout = 0;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = op_init,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.mkdir = op_mkdir,
	.mknod = op_mknod,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.link = op_link,
	.chmod = op_chmod,
	.chown = op_chown,
	.utimens = op_utimens,
	.truncate = op_truncate,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.fsync = op_fsync,
	.fsyncdir = op_fsyncdir,
	.release = op_release,
	.statfs = op_statfs,
};

/* writeback PCT: each unsynced page written with probability PCT/100 (the kernel's writeback
 * before the plug was pulled). Returns how many were written. */
static unsigned long writeback(unsigned pct)
{
	unsigned long n = 0;
	for (struct inode *in = inodes; in; in = in->next)
		for (unsigned b = 0; b < NBUCKETS; b++) {
			struct page *p = in->buckets[b];
			while (p) {
				struct page *q = p->next;
				if (!p->clean && next_rand() % 100 < pct && write_page(in, p) == 0)
					n++;
				p = q;
			}
		}
	return n;
}

static unsigned long pending_pages(void)
{
	unsigned long n = 0;
	for (struct inode *in = inodes; in; in = in->next)
		n += in->npages;
	return n;
}

static void *control(void *arg)
{
	FILE *f = fopen(arg, "r+");
	if (!f) {
		perror("fault-disk: control");
		return NULL;
	}
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		char id[64] = "-", cmd[64] = "";
		unsigned arg1 = 0;
		if (sscanf(line, "%63s %63s %u", id, cmd, &arg1) < 2)
			continue;
		pthread_mutex_lock(&mu);
		if (strcmp(cmd, "full") == 0) {
			fail_write = ENOSPC;
			fail_sync = 0;
		} else if (strcmp(cmd, "eio") == 0) {
			fail_write = EIO;
			fail_sync = EIO;
		} else if (strcmp(cmd, "eio-sync") == 0) {
			fail_write = 0;
			fail_sync = EIO;
		} else if (strcmp(cmd, "ok") == 0) {
			fail_write = fail_sync = 0;
		} else if (strcmp(cmd, "writeback") == 0) {
			unsigned long pend = pending_pages(), n = writeback(arg1);
			printf("%s ok wrote %lu of %lu unsynced pages\n", id, n, pend);
			pthread_mutex_unlock(&mu);
			fflush(stdout);
			continue;
		} else if (strcmp(cmd, "status") != 0) {
			printf("%s error unknown command %s\n", id, cmd);
			pthread_mutex_unlock(&mu);
			fflush(stdout);
			continue;
		}
		printf("%s ok write=%d sync=%d unsynced-pages=%lu given-up=%llu\n", id, fail_write,
		       fail_sync, pending_pages(), pages_lost_sync);
		pthread_mutex_unlock(&mu);
		fflush(stdout);
	}
	fclose(f);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *lower = NULL, *mnt = NULL, *ctl = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--control") == 0 && i + 1 < argc)
			ctl = argv[++i];
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			rng = strtoull(argv[++i], NULL, 10) * 2654435761u + 1;
		else if (!lower)
			lower = argv[i];
		else if (!mnt)
			mnt = argv[i];
		else
			lower = NULL;
	}
	if (!lower || !mnt) {
		fprintf(stderr, "usage: fault-disk LOWER MOUNT [--control FIFO] [--seed S]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	lower_fd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lower_fd < 0) {
		perror(lower);
		return 1;
	}
	char *fargv[] = {argv[0], "-o", "fsname=fault-disk,subtype=fault-disk", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse *f = fuse_new(&args, &ops, sizeof(ops), NULL);
	if (!f)
		return 1;
	if (fuse_mount(f, mnt) != 0) {
		fuse_destroy(f);
		return 1;
	}
	fuse_set_signal_handlers(fuse_get_session(f));
	pthread_t t;
	if (ctl && pthread_create(&t, NULL, control, (void *)ctl) != 0)
		return 1;
	printf("ready\n");
	/* One thread: every operation runs under the one lock anyway, and a passthrough that
	 * never calls back into itself cannot deadlock on it. */
	int rc = fuse_loop(f);
	fuse_remove_signal_handlers(fuse_get_session(f));
	fuse_unmount(f);
	fuse_destroy(f);
	return rc == 0 ? 0 : 1;
}
