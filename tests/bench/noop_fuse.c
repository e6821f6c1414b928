/* noop_fuse.c: a FUSE file system that answers every request at once and stores nothing: the
 * floor of a round trip through the kernel for scripts/bench. Same mount set-up as quorumfs
 * (libfuse low-level, one single-threaded loop, default_permissions, zero entry and attribute
 * timeouts, atomic O_TRUNC, no writeback cache, no keep_cache, getxattr answered ENODATA), so the
 * kernel sends it the same requests as to quorumfs (LOOKUP and GETATTR of every path component,
 * GETXATTR security.capability before each write, ...) and bench-fs on it measures what FUSE
 * itself costs for open+write+close and open+read+close.
 *
 *   noop-fuse MOUNTPOINT     runs in the foreground until unmounted or signalled
 *
 * Every name exists: one starting with 'k' is a regular file of 100 bytes, any other a
 * directory. Inode numbers are a hash of (parent, name), so directories never alias. */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_BIT  (1ull << 62)
#define FILE_SIZE 100

static void fill_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID || !(ino & FILE_BIT)) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = FILE_SIZE;
	}
	st->st_uid = getuid();
	st->st_gid = getgid();
}

static fuse_ino_t child_ino(fuse_ino_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ parent;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h &= (FILE_BIT - 1);
	if (h < 2)
		h += 2;
	return name[0] == 'k' ? (h | FILE_BIT) : h;
}

static void fill_entry(fuse_ino_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->generation = 1;
	fill_attr(ino, &e->attr);
	e->attr_timeout = 0;
	e->entry_timeout = 0;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	fill_entry(child_ino(parent, name), &e);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	struct stat st;
	fill_attr(ino, &st);
	fuse_reply_attr(req, &st, 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	fill_entry(child_ino(parent, name), &e);
	fuse_reply_entry(req, &e);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->keep_cache = 0;
	fi->direct_io = 0;
	fuse_reply_open(req, fi);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	fill_entry(child_ino(parent, name), &e);
	fi->keep_cache = 0;
	fuse_reply_create(req, &e, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	static char data[FILE_SIZE];
	if (data[0] == 0)
		memset(data, 'v', sizeof(data));
	if (off >= FILE_SIZE) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t n = FILE_SIZE - (size_t)off;
	fuse_reply_buf(req, data + off, n < size ? n : size);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

static void op_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	fuse_reply_err(req, ENODATA);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	fuse_reply_buf(req, NULL, 0);
}

static const struct fuse_lowlevel_ops ops = {
        .init = op_init,
        .lookup = op_lookup,
        .getattr = op_getattr,
        .setattr = op_setattr,
        .mkdir = op_mkdir,
        .open = op_open,
        .create = op_create,
        .read = op_read,
        .write = op_write,
        .flush = op_ok,
        .release = op_ok,
        .opendir = op_ok,
        .readdir = op_readdir,
        .releasedir = op_ok,
        .getxattr = op_getxattr,
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: noop-fuse MOUNTPOINT\n");
		return 2;
	}
	char *fargv[] = {argv[0], "-o", "default_permissions,fsname=noop-fuse,subtype=noop", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (se == NULL)
		return 1;
	int rc = 1;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, argv[1]) == 0) {
			rc = fuse_session_loop(se) != 0;
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
	return rc;
}
