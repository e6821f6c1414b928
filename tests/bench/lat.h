/* lat.h: latency samples and the one result line every benchmark program prints. */
#ifndef QFS_BENCH_LAT_H
#define QFS_BENCH_LAT_H

#include <stddef.h>
#include <stdint.h>

/* A growable array of latencies in nanoseconds. Not thread-safe: one per thread, merged at the
 * end with lat_merge(). */
struct lat {
	uint64_t *ns;
	size_t n, cap;
};

/* Monotonic clock, nanoseconds. */
uint64_t lat_now(void);
/* Appends one sample; exits the process when out of memory. */
void lat_add(struct lat *l, uint64_t ns);
/* Moves every sample of @from into @into (from is emptied). */
void lat_merge(struct lat *into, struct lat *from);
/* Prints one line "ops=N secs=S ops_s=X p50_us=A p99_us=B p999_us=C errors=E" to stdout,
 * @wall_ns being the wall time of the whole run (ops/s = samples / wall). Sorts @l. If the
 * environment names a file in BENCH_RAW, appends every sample to it (nanoseconds, one a line). */
void lat_report(struct lat *l, uint64_t wall_ns, unsigned long errors);
void lat_free(struct lat *l);

#endif
