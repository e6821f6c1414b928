/* bench_floor.c: what this machine allows at best, measured the way quorumfs would pay it.
 * Prints one result line (see lat.h) per run.
 *
 *   bench-floor fsync DIR OPS   append 4 KiB to a file in DIR and fdatasync it, OPS times
 *   bench-floor tcp OPS         a 128-byte request and reply over loopback TCP (two processes)
 *   bench-floor repl DIR OPS    a minimal replicated durable write: a leader sends each
 *                               100-byte entry to two follower processes over loopback TCP
 *                               and commits it to its own LMDB environment (default, durable
 *                               flags); each follower commits it to its own LMDB environment
 *                               and acknowledges; the write is done when the leader's commit
 *                               and one acknowledgement (a majority of three) are in.
 *                               Environments live in DIR/repl.N, removed afterwards.
 *   bench-floor repl2 DIR OPS durable|nometasync|nosync
 *                               the same, then, as the daemon does, a second transaction
 *                               that applies the committed entry on the leader before the
 *                               write is done (the followers apply it too, off the clock),
 *                               committed durably, with MDB_NOMETASYNC, or with MDB_NOSYNC:
 *                               what making the apply non-durable would buy. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lat.h"

#define ENTRY 100

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
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
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

static int floor_fsync(const char *dir, unsigned long ops)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/fsync-floor.XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0)
		die(path);
	char buf[4096];
	memset(buf, 'x', sizeof(buf));
	struct lat l = {0};
	uint64_t start = lat_now();
	for (unsigned long i = 0; i < ops; i++) {
		uint64_t t0 = lat_now();
		full_write(fd, buf, sizeof(buf));
		if (fdatasync(fd) != 0)
			die("fdatasync");
		lat_add(&l, lat_now() - t0);
	}
	lat_report(&l, lat_now() - start, 0);
	close(fd);
	unlink(path);
	lat_free(&l);
	return 0;
}

/* A connected pair of loopback TCP sockets, with TCP_NODELAY, as peers would use. */
static void tcp_pair(int *a, int *b)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sa);
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
	int one = 1;
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int floor_tcp(unsigned long ops)
{
	int a, b;
	tcp_pair(&a, &b);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	char msg[128];
	memset(msg, 'm', sizeof(msg));
	if (pid == 0) {
		close(a);
		while (full_read(b, msg, sizeof(msg)) == 0)
			full_write(b, msg, sizeof(msg));
		_exit(0);
	}
	close(b);
	struct lat l = {0};
	uint64_t start = lat_now();
	for (unsigned long i = 0; i < ops; i++) {
		uint64_t t0 = lat_now();
		full_write(a, msg, sizeof(msg));
		if (full_read(a, msg, sizeof(msg)) != 0)
			die("echo closed");
		lat_add(&l, lat_now() - t0);
	}
	lat_report(&l, lat_now() - start, 0);
	close(a);
	waitpid(pid, NULL, 0);
	lat_free(&l);
	return 0;
}

struct lmdb {
	MDB_env *env;
	MDB_dbi dbi;
};

static void lmdb_open(struct lmdb *m, const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		die(dir);
	int rc = mdb_env_create(&m->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(m->env, 256u << 20);
	if (rc == 0)
		rc = mdb_env_open(m->env, dir, 0, 0600); /* default flags: durable commits */
	MDB_txn *txn;
	if (rc == 0)
		rc = mdb_txn_begin(m->env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &m->dbi);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	if (rc != 0) {
		fprintf(stderr, "lmdb %s: %s\n", dir, mdb_strerror(rc));
		exit(1);
	}
}

/* One durable transaction holding one log entry. */
static void lmdb_append(struct lmdb *m, uint64_t index, const void *data, size_t len)
{
	MDB_txn *txn;
	MDB_val k = {sizeof(index), &index}, v = {len, (void *)data};
	int rc = mdb_txn_begin(m->env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_put(txn, m->dbi, &k, &v, 0);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	if (rc != 0) {
		fprintf(stderr, "lmdb append: %s\n", mdb_strerror(rc));
		exit(1);
	}
}

struct frame {
	uint64_t index; /* high bit set: "committed up to index", to apply; no ack */
	char data[ENTRY];
};

#define COMMIT_BIT (1ull << 63)

/* How the "apply" transaction of repl2 commits. */
enum apply_mode { APPLY_NONE, APPLY_DURABLE, APPLY_NOMETASYNC, APPLY_NOSYNC };

/* A second transaction that records @index as applied, as the daemon's apply does, with the
 * sync behaviour of @mode (switched on the environment around the commit). */
static void lmdb_apply(struct lmdb *m, uint64_t index, enum apply_mode mode)
{
	unsigned flag = mode == APPLY_NOSYNC       ? MDB_NOSYNC
	                : mode == APPLY_NOMETASYNC ? MDB_NOMETASYNC
	                                           : 0;
	if (flag)
		mdb_env_set_flags(m->env, flag, 1);
	uint64_t key = index | COMMIT_BIT;
	char v[ENTRY];
	memset(v, 'a', sizeof(v));
	MDB_txn *txn;
	MDB_val k = {sizeof(key), &key}, val = {sizeof(v), v};
	int rc = mdb_txn_begin(m->env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_put(txn, m->dbi, &k, &val, 0);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	if (flag)
		mdb_env_set_flags(m->env, flag, 0);
	if (rc != 0) {
		fprintf(stderr, "lmdb apply: %s\n", mdb_strerror(rc));
		exit(1);
	}
}

static void rm_env(const char *dir)
{
	char p[4200];
	snprintf(p, sizeof(p), "%.4000s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%.4000s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static int floor_repl(const char *dir, unsigned long ops, enum apply_mode mode)
{
	int lead[2];
	pid_t pids[2];
	char envdir[3][4096];
	for (int i = 0; i < 3; i++)
		snprintf(envdir[i], sizeof(envdir[i]), "%s/repl.%d", dir, i);
	for (int f = 0; f < 2; f++) {
		int fol;
		tcp_pair(&lead[f], &fol);
		pids[f] = fork();
		if (pids[f] < 0)
			die("fork");
		if (pids[f] == 0) {
			close(lead[f]);
			struct lmdb m;
			lmdb_open(&m, envdir[f + 1]);
			struct frame fr;
			while (full_read(fol, &fr, sizeof(fr)) == 0) {
				if (fr.index & COMMIT_BIT) {
					lmdb_apply(&m, fr.index & ~COMMIT_BIT, mode);
					continue;
				}
				lmdb_append(&m, fr.index, fr.data, sizeof(fr.data));
				full_write(fol, &fr.index, sizeof(fr.index));
			}
			mdb_env_close(m.env);
			_exit(0);
		}
		close(fol);
	}
	struct lmdb m;
	lmdb_open(&m, envdir[0]);
	struct frame fr;
	memset(fr.data, 'v', sizeof(fr.data));
	struct lat l = {0};
	uint64_t start = lat_now();
	for (unsigned long i = 1; i <= ops; i++) {
		uint64_t t0 = lat_now();
		fr.index = i;
		full_write(lead[0], &fr, sizeof(fr));
		full_write(lead[1], &fr, sizeof(fr));
		lmdb_append(&m, i, fr.data, sizeof(fr.data)); /* in parallel with the followers */
		/* A majority: our commit and the first acknowledgement; then the second one, off
		 * the clock, so the next entry starts with both followers idle (as in the steady
		 * state of a pipeline of one). */
		struct pollfd p[2] = {{lead[0], POLLIN, 0}, {lead[1], POLLIN, 0}};
		if (poll(p, 2, -1) < 0)
			die("poll");
		uint64_t ack;
		int first = (p[0].revents & POLLIN) ? 0 : 1;
		if (full_read(lead[first], &ack, sizeof(ack)) != 0)
			die("follower closed");
		if (mode != APPLY_NONE) {
			/* Committed: tell the followers (they apply off the clock), then apply
			 * here before answering, as the daemon does. */
			struct frame cm = fr;
			cm.index = i | COMMIT_BIT;
			full_write(lead[0], &cm, sizeof(cm));
			full_write(lead[1], &cm, sizeof(cm));
			lmdb_apply(&m, i, mode);
		}
		lat_add(&l, lat_now() - t0);
		if (full_read(lead[1 - first], &ack, sizeof(ack)) != 0)
			die("follower closed");
	}
	lat_report(&l, lat_now() - start, 0);
	close(lead[0]);
	close(lead[1]);
	waitpid(pids[0], NULL, 0);
	waitpid(pids[1], NULL, 0);
	mdb_env_close(m.env);
	for (int i = 0; i < 3; i++)
		rm_env(envdir[i]);
	lat_free(&l);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fsync") == 0)
		return floor_fsync(argv[2], strtoul(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "tcp") == 0)
		return floor_tcp(strtoul(argv[2], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "repl") == 0)
		return floor_repl(argv[2], strtoul(argv[3], NULL, 10), APPLY_NONE);
	if (argc == 5 && strcmp(argv[1], "repl2") == 0) {
		enum apply_mode m = strcmp(argv[4], "nosync") == 0       ? APPLY_NOSYNC
		                    : strcmp(argv[4], "nometasync") == 0 ? APPLY_NOMETASYNC
		                                                         : APPLY_DURABLE;
		return floor_repl(argv[2], strtoul(argv[3], NULL, 10), m);
	}
	fprintf(stderr, "usage: bench-floor fsync DIR OPS | tcp OPS | repl DIR OPS | "
	                "repl2 DIR OPS durable|nometasync|nosync\n");
	return 2;
}
