/* lat.c: latency samples, percentiles and the result line of the benchmark programs. */
#include "lat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t lat_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint64_t *p = realloc(l->ns, cap * sizeof(*p));
		if (p == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
		l->ns = p;
		l->cap = cap;
	}
	l->ns[l->n++] = ns;
}

void lat_merge(struct lat *into, struct lat *from)
{
	for (size_t i = 0; i < from->n; i++)
		lat_add(into, from->ns[i]);
	from->n = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The sample at quantile @q (nearest rank), microseconds. */
static double quantile_us(const struct lat *l, double q)
{
	if (l->n == 0)
		return 0;
	size_t i = (size_t)(q * (double)l->n);
	if (i >= l->n)
		i = l->n - 1;
	return (double)l->ns[i] / 1000.0;
}

void lat_report(struct lat *l, uint64_t wall_ns, unsigned long errors)
{
	qsort(l->ns, l->n, sizeof(*l->ns), cmp_u64);
	/* scripts/bench merges the samples of alternating rounds: it names a file to append them
	 * to, one latency in nanoseconds a line. */
	const char *raw = getenv("BENCH_RAW");
	FILE *f = raw != NULL && raw[0] != 0 ? fopen(raw, "a") : NULL;
	if (f != NULL) {
		for (size_t i = 0; i < l->n; i++)
			fprintf(f, "%llu\n", (unsigned long long)l->ns[i]);
		fclose(f);
	}
	double secs = (double)wall_ns / 1e9;
	printf("ops=%zu secs=%.3f ops_s=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%lu\n",
	       l->n, secs, secs > 0 ? (double)l->n / secs : 0, quantile_us(l, 0.5),
	       quantile_us(l, 0.99), quantile_us(l, 0.999), errors);
	fflush(stdout);
}

void lat_free(struct lat *l)
{
	free(l->ns);
	memset(l, 0, sizeof(*l));
}
