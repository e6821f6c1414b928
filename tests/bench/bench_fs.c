/* bench_fs.c: load generator on mounted directories, with plain POSIX calls: a write is
 * open(O_TRUNC)+write+close of one file, a read is open+read+close. Prints one result line
 * (see lat.h). Used by scripts/bench against quorumfs mounts and the no-op FUSE floor.
 *
 *   bench-fs -m write|read|load [-t THREADS] [-n OPS_PER_THREAD] [-T SECONDS] [-k KEYS]
 *            [-s VALUE_BYTES] [-p PREFIX] DIR [DIR...]
 *
 * Keys are files DIR/PREFIX/dNNN/kNNNNNN (1,000 per directory). Thread i works on
 * DIR number i % (number of DIRs), on random keys of [0, KEYS); "load" writes every key once,
 * split among the threads, creating the directories first (on the first DIR). A run stops
 * after OPS_PER_THREAD operations per thread or SECONDS, whichever comes first. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lat.h"

enum mode { M_WRITE, M_READ, M_LOAD };

static enum mode mode = M_WRITE;
static unsigned nthreads = 1, ndirs;
static unsigned long ops_per_thread = 1000, nkeys = 1000;
static double seconds = 0;
static size_t value_size = 100;
static const char *prefix = "bench";
static char **dirs;
static uint64_t deadline_ns;

struct worker {
	pthread_t th;
	unsigned id;
	struct lat lat;
	unsigned long errors;
};

static void key_path(char *buf, size_t len, const char *dir, unsigned long key)
{
	snprintf(buf, len, "%s/%s/d%03lu/k%06lu", dir, prefix, key / 1000, key);
}

static int do_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, val, value_size);
	int err = w == (ssize_t)value_size ? 0 : (w < 0 ? -errno : -EIO);
	if (close(fd) != 0 && err == 0)
		err = -errno;
	return err;
}

static int do_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t r = read(fd, buf, len);
	int err = r < 0 ? -errno : 0;
	close(fd);
	return err;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	const char *dir = dirs[w->id % ndirs];
	char path[4096];
	size_t buflen = value_size + 4096;
	char *val = malloc(buflen);
	if (val == NULL)
		return NULL;
	memset(val, 'v', buflen);
	val[value_size - 1] = '\n';
	uint64_t x = 0x9e3779b97f4a7c15ull * (w->id + 1);
	unsigned long first = w->id, step = nthreads;
	for (unsigned long i = 0;; i++) {
		unsigned long key;
		if (mode == M_LOAD) {
			key = first + i * step;
			if (key >= nkeys)
				break;
		} else {
			if (ops_per_thread && i >= ops_per_thread)
				break;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			key = x % nkeys;
		}
		if (deadline_ns && (i & 7) == 0 && lat_now() > deadline_ns)
			break;
		key_path(path, sizeof(path), dir, key);
		uint64_t t0 = lat_now();
		int err = mode == M_READ ? do_read(path, val, buflen) : do_write(path, val);
		uint64_t t1 = lat_now();
		if (err != 0) {
			if (w->errors++ == 0)
				fprintf(stderr, "bench-fs: %s: %s\n", path, strerror(-err));
			continue;
		}
		lat_add(&w->lat, t1 - t0);
	}
	free(val);
	return NULL;
}

static int make_dirs(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dirs[0], prefix);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		return -1;
	}
	for (unsigned long d = 0; d * 1000 < nkeys; d++) {
		snprintf(path, sizeof(path), "%s/%s/d%03lu", dirs[0], prefix, d);
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			perror(path);
			return -1;
		}
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-fs -m write|read|load [-t THREADS] [-n OPS] [-T SECONDS] "
	                "[-k KEYS] [-s BYTES] [-p PREFIX] DIR...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "m:t:n:T:k:s:p:")) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "write") == 0)
				mode = M_WRITE;
			else if (strcmp(optarg, "read") == 0)
				mode = M_READ;
			else if (strcmp(optarg, "load") == 0)
				mode = M_LOAD;
			else
				usage();
			break;
		case 't':
			nthreads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			ops_per_thread = strtoul(optarg, NULL, 10);
			break;
		case 'T':
			seconds = strtod(optarg, NULL);
			break;
		case 'k':
			nkeys = strtoul(optarg, NULL, 10);
			break;
		case 's':
			value_size = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			prefix = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || nthreads == 0 || nkeys == 0 || value_size == 0)
		usage();
	dirs = argv + optind;
	ndirs = (unsigned)(argc - optind);
	if (mode == M_LOAD && make_dirs() != 0)
		return 1;

	struct worker *ws = calloc(nthreads, sizeof(*ws));
	if (ws == NULL)
		return 1;
	uint64_t start = lat_now();
	if (seconds > 0)
		deadline_ns = start + (uint64_t)(seconds * 1e9);
	for (unsigned i = 0; i < nthreads; i++) {
		ws[i].id = i;
		if (pthread_create(&ws[i].th, NULL, run, &ws[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	struct lat all = {0};
	unsigned long errors = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(ws[i].th, NULL);
		lat_merge(&all, &ws[i].lat);
		lat_free(&ws[i].lat);
		errors += ws[i].errors;
	}
	lat_report(&all, lat_now() - start, errors);
	int rc = errors > 0 && all.n == 0 ? 1 : 0;
	lat_free(&all);
	free(ws);
	return rc;
}
