/* bench_fs.c: load generator on mounted directories, with plain POSIX calls: a write is
 * open(O_TRUNC)+write+close of one file, a read is open+read+close. Prints one result line
 * (see lat.h). Used by scripts/bench against quorumfs mounts and the no-op FUSE floor.
 *
 *   bench-fs -m write|read|load [-t THREADS] [-n OPS_PER_THREAD] [-T SECONDS] [-k KEYS]
 *            [-s VALUE_BYTES] [-p PREFIX] DIR [DIR...]
 *
 * Keys are files DIR/PREFIX/dNNN/kNNNNNN; the options, the keys and the threads are those of
 * load.h. "load" creates the directories first (on the first DIR). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load.h"

static struct load l;

static void key_path(char *buf, size_t len, const char *dir, unsigned long key)
{
	int n = snprintf(buf, len, "%s/", dir);
	load_key(&l, key, buf + n, len - (size_t)n);
}

static int do_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, val, l.value_size);
	int err = w == (ssize_t)l.value_size ? 0 : (w < 0 ? -errno : -EIO);
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
	struct load_worker *w = arg;
	bool reads = strcmp(l.mode, "read") == 0;
	char path[4096];
	size_t buflen = l.value_size + 4096;
	char *val = malloc(buflen);
	unsigned long key;
	if (val == NULL)
		return NULL;
	memset(val, 'v', buflen);
	val[l.value_size - 1] = '\n';
	while (load_next(w, &key)) {
		key_path(path, sizeof(path), w->target, key);
		uint64_t t0 = lat_now();
		int err = reads ? do_read(path, val, buflen) : do_write(path, val);
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
	snprintf(path, sizeof(path), "%s/%s", l.targets[0], l.prefix);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		return -1;
	}
	for (unsigned long d = 0; d * 1000 < l.keys; d++) {
		snprintf(path, sizeof(path), "%s/%s/d%03lu", l.targets[0], l.prefix, d);
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			perror(path);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char usage[] =
	        "bench-fs -m write|read|load [-t THREADS] [-n OPS] [-T SECONDS] "
	        "[-k KEYS] [-s BYTES] [-p PREFIX] DIR...";
	load_options(&l, argc, argv, usage);
	if (strcmp(l.mode, "write") != 0 && strcmp(l.mode, "read") != 0 && !l.fill)
		load_usage(usage);
	if (l.fill && make_dirs() != 0)
		return 1;
	return load_run(&l, run);
}
