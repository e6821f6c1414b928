/* noop_fuse.c: a FUSE file system that answers every request at once and stores nothing: the
 * floor of a round trip through the kernel for scripts/bench. Same mount set-up as quorumfs
 * (libfuse low-level, one single-threaded loop, default_permissions, zero entry and attribute
 * timeouts, atomic O_TRUNC, no writeback cache, no keep_cache, getxattr answered at once), so the
 * kernel sends it the same requests as to quorumfs (LOOKUP and GETATTR of every path component,
 * GETXATTR security.capability before each write, ...) and bench-fs on it measures what FUSE
 * itself costs for open+write+close and open+read+close.
 *
 *   noop-fuse MOUNTPOINT     runs in the foreground until unmounted or signalled
 *   noop-fuse --sync DIR MOUNTPOINT
 *                            the same, and each WRITE is answered only once it is durable on
 *                            a majority of three "nodes", as a Raft write answered at commit
 *                            with its log outside LMDB would be at best: the daemon sends the
 *                            bytes to two follower processes over loopback TCP, writes them to
 *                            its own log file and fdatasyncs it, while each follower writes
 *                            and fdatasyncs its own and acknowledges; the reply goes when its
 *                            own sync and one acknowledgement are in. One fdatasync per node,
 *                            in parallel, plus the FUSE round trip: the floor of issue 12's
 *                            design. The log files (DIR/noop-sync.N) are written full of zeros
 *                            first and then overwritten in a ring, as preallocated segments
 *                            are, so a sync flushes data, not a growing size; removed at exit.
 *
 * Every name exists: one starting with 'k' is a regular file of 100 bytes, any other a
 * directory. Inode numbers are a hash of (parent, name), so directories never alias. */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* --------------------------------------------------------------------------------------- */
/* --sync: a majority of three durable copies before each WRITE is answered                 */

#define RING (16u << 20) /* bytes of each log file, rewritten in a ring */

struct frame_head {
	uint64_t index;
	uint32_t len;
};

static struct {
	int on;
	int fd;        /* the daemon's own log file */
	uint64_t pos;  /* where the next record goes in it */
	int peer[2];   /* loopback TCP to the two followers */
	pid_t pid[2];
	uint64_t index; /* of the last write sent */
	pthread_t acker;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t acked[2]; /* the last index each follower acknowledged (under mu) */
	char path[3][4096];
} sy;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void full_write(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write");
		c += w;
		n -= (size_t)w;
	}
}

/* Returns 0, or -1 at end of stream. */
static int full_read(int fd, void *p, size_t n)
{
	char *c = p;
	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		if (r == 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* A log file of RING bytes of zeros, durable, so later syncs rewrite allocated blocks. */
static int log_open(const char *path)
{
	static char zero[1 << 16];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	for (unsigned i = 0; i < RING / sizeof(zero); i++)
		full_write(fd, zero, sizeof(zero));
	if (fsync(fd) != 0)
		die("fsync");
	return fd;
}

/* Appends @len bytes at *@pos (in the ring) and makes them durable. */
static void log_append(int fd, uint64_t *pos, const void *data, size_t len)
{
	if (len > RING)
		len = RING;
	if (*pos + len > RING)
		*pos = 0;
	if (pwrite(fd, data, len, (off_t)*pos) != (ssize_t)len)
		die("pwrite");
	if (fdatasync(fd) != 0)
		die("fdatasync");
	*pos += len;
}

static void tcp_pair(int *a, int *b)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sa);
	int one = 1;
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 1) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
		die("listen");
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	*b = accept(ls, NULL, NULL);
	if (*b < 0)
		die("accept");
	close(ls);
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A follower: append, sync, acknowledge, until the daemon closes the connection. */
static void follower(int fd, const char *path)
{
	static char buf[1 << 20];
	struct frame_head h;
	uint64_t pos = 0;
	int log = log_open(path);
	while (full_read(fd, &h, sizeof(h)) == 0) {
		size_t len = h.len < sizeof(buf) ? h.len : sizeof(buf);
		if (full_read(fd, buf, len) != 0)
			break;
		log_append(log, &pos, buf, len);
		full_write(fd, &h.index, sizeof(h.index));
	}
	close(log);
	_exit(0);
}

/* Counts the followers' acknowledgements for the write waiting in op_write. */
static void *acker(void *arg)
{
	struct pollfd p[2] = {{sy.peer[0], POLLIN, 0}, {sy.peer[1], POLLIN, 0}};
	(void)arg;
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (int k = 0; k < 2; k++) {
			uint64_t idx;
			if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (full_read(sy.peer[k], &idx, sizeof(idx)) != 0)
				return NULL;
			pthread_mutex_lock(&sy.mu);
			sy.acked[k] = idx;
			pthread_cond_broadcast(&sy.cv);
			pthread_mutex_unlock(&sy.mu);
		}
	}
}

static void sync_start(const char *dir)
{
	for (int i = 0; i < 3; i++)
		snprintf(sy.path[i], sizeof(sy.path[i]), "%s/noop-sync.%d", dir, i);
	for (int k = 0; k < 2; k++) {
		int fol;
		tcp_pair(&sy.peer[k], &fol);
		sy.pid[k] = fork();
		if (sy.pid[k] < 0)
			die("fork");
		if (sy.pid[k] == 0) {
			close(sy.peer[k]);
			if (k == 1)
				close(sy.peer[0]);
			follower(fol, sy.path[k + 1]);
		}
		close(fol);
	}
	sy.fd = log_open(sy.path[0]);
	pthread_mutex_init(&sy.mu, NULL);
	pthread_cond_init(&sy.cv, NULL);
	if (pthread_create(&sy.acker, NULL, acker, NULL) != 0)
		die("pthread_create");
	sy.on = 1;
}

static void sync_stop(void)
{
	if (!sy.on)
		return;
	/* The followers see the end of their stream and exit; so does the acker. */
	shutdown(sy.peer[0], SHUT_WR);
	shutdown(sy.peer[1], SHUT_WR);
	waitpid(sy.pid[0], NULL, 0);
	waitpid(sy.pid[1], NULL, 0);
	pthread_join(sy.acker, NULL);
	close(sy.peer[0]);
	close(sy.peer[1]);
	close(sy.fd);
	for (int i = 0; i < 3; i++)
		unlink(sy.path[i]);
}

/* The write is committed: the daemon's own copy and one follower's are durable. */
static void sync_write(const char *buf, size_t size)
{
	struct frame_head h = {.index = ++sy.index, .len = (uint32_t)size};
	for (int k = 0; k < 2; k++) {
		full_write(sy.peer[k], &h, sizeof(h));
		full_write(sy.peer[k], buf, size);
	}
	log_append(sy.fd, &sy.pos, buf, size); /* while the followers do the same */
	pthread_mutex_lock(&sy.mu);
	while (sy.acked[0] < h.index && sy.acked[1] < h.index)
		pthread_cond_wait(&sy.cv, &sy.mu);
	pthread_mutex_unlock(&sy.mu);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	if (sy.on && size > 0)
		sync_write(buf, size);
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
	if (argc == 4 && strcmp(argv[1], "--sync") == 0) {
		sync_start(argv[2]); /* forks: before libfuse starts anything */
		argv[1] = argv[3];
		argc = 2;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: noop-fuse [--sync DIR] MOUNTPOINT\n");
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
	sync_stop();
	return rc;
}
