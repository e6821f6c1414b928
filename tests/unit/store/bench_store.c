/* bench_store.c: durable commit cost of the store against the raw fdatasync floor
 * (scripts/bench-store). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quorumfs/store.h"

#define ENTRY 100 /* bytes of data per entry */

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench-store: %s: %d (%s)\n", what, rc, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

/* Mean microseconds of @ops appends of 4 KiB, each followed by fdatasync. */
static double raw_sync(int fd, int ops, int overwrite)
{
	static char page[4096];
	double t0 = now_us();

	for (int i = 0; i < ops; i++) {
		ssize_t w = overwrite ? pwrite(fd, page, sizeof(page), 0)
		                      : write(fd, page, sizeof(page));
		if (w != (ssize_t)sizeof(page) || fdatasync(fd) != 0)
			die("raw write", -errno);
	}
	return (now_us() - t0) / ops;
}

struct run {
	struct store *s;
	uint64_t next, term;
	struct store_entry e[256];
	char data[ENTRY];
};

/* Mean microseconds of @ops durable commits of @batch entries plus the hard
 * state, as the daemon's group commit makes them. */
static double commits(struct run *r, int ops, int batch)
{
	double t0 = now_us();

	for (int i = 0; i < ops; i++) {
		struct store_hard_state hs = {r->term, 1, r->next};
		for (int k = 0; k < batch; k++) {
			r->e[k] = (struct store_entry){r->next + k, r->term, 1, r->data, ENTRY};
		}
		int rc = store_append(r->s, r->e, (size_t)batch, &hs);
		if (rc != 0)
			die("store_append", rc);
		r->next += (uint64_t)batch;
	}
	return (now_us() - t0) / ops;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct store *open_store(const char *dir, int prealloc)
{
	struct store_options o;
	struct store *s;
	char err[256];
	int rc;

	memset(&o, 0, sizeof(o));
	o.node_id = 1;
	memset(o.cluster_id, 0xbe, sizeof(o.cluster_id));
	o.initial_map_size = (size_t)512 << 20; /* steady state, not growth */
	o.no_prealloc = !prealloc;
	rc = store_open(dir, &o, &s, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "bench-store: %s\n", err);
		exit(1);
	}
	return s;
}

enum { APPEND, OVERWRITE, B1, B16, B64, B256, B64_NOPRE, ROWS };

int main(int argc, char **argv)
{
	static const char *names[ROWS] = {
	        "raw fdatasync, 4 KiB append",
	        "raw fdatasync, 4 KiB overwrite",
	        "commit, 1 entry",
	        "commit, 16 entries",
	        "commit, 64 entries",
	        "commit, 256 entries",
	        "commit, 64 entries, no prealloc",
	};
	static const int batch[ROWS] = {0, 0, 1, 16, 64, 256, 64};
	int rounds = 9, ops = 300;
	double t[ROWS][16], med[ROWS];
	char path[4096], d1[4096], d2[4096];
	struct run *r1, *r2;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-store DIR [rounds [ops]]\n");
		return 2;
	}
	if (argc > 2)
		rounds = atoi(argv[2]);
	if (argc > 3)
		ops = atoi(argv[3]);
	if (rounds < 1 || rounds > 16 || ops < 1)
		die("bad arguments", -EINVAL);
	snprintf(path, sizeof(path), "%s/raw", argv[1]);
	snprintf(d1, sizeof(d1), "%s/store", argv[1]);
	snprintf(d2, sizeof(d2), "%s/store-noprealloc", argv[1]);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0)
		die(path, -errno);
	r1 = calloc(1, sizeof(*r1));
	r2 = calloc(1, sizeof(*r2));
	if (!r1 || !r2)
		die("calloc", -ENOMEM);
	r1->s = open_store(d1, 1);
	r2->s = open_store(d2, 0);
	r1->next = r2->next = 1;
	r1->term = r2->term = 1;
	memset(r1->data, 'x', ENTRY);
	memset(r2->data, 'x', ENTRY);
	/* Warm up: page cache, first pages, the preallocated tail. */
	raw_sync(fd, 50, 0);
	commits(r1, 50, 64);
	commits(r2, 50, 64);

	/* Rounds interleave every measurement, so drift in the disk's speed
	 * hits all rows alike; the median of the rounds is reported. */
	for (int k = 0; k < rounds; k++) {
		t[APPEND][k] = raw_sync(fd, ops, 0);
		t[OVERWRITE][k] = raw_sync(fd, ops, 1);
		for (int row = B1; row <= B256; row++)
			t[row][k] = commits(r1, ops, batch[row]);
		t[B64_NOPRE][k] = commits(r2, ops, 64);
	}
	for (int row = 0; row < ROWS; row++)
		med[row] = median(t[row], rounds);

	printf("store bench: %d rounds x %d ops, median of rounds; entries of %d bytes plus the "
	       "hard state,\nfull durability (fdatasync of data pages, then O_DSYNC meta page); "
	       "data in %s\n\n",
	       rounds, ops, ENTRY, argv[1]);
	printf("%-34s %10s %10s %12s %12s\n", "what", "us/op", "ops/s", "entries/s", "/fdatasync");
	for (int row = 0; row < ROWS; row++) {
		double eps = batch[row] ? 1e6 / med[row] * batch[row] : 0;
		printf("%-34s %10.1f %10.0f %12.0f %12.2f\n", names[row], med[row], 1e6 / med[row],
		       eps, med[row] / med[APPEND]);
	}
	printf("\nbatch64/fdatasync=%.2f\n", med[B64] / med[APPEND]);
	store_close(r1->s);
	store_close(r2->s);
	close(fd);
	free(r1);
	free(r2);
	return 0;
}
