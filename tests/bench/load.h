/* load.h: what the load generators (bench-fs, bench-etcd) share: their options, the key each
 * operation takes, and the worker threads whose latencies make the one result line. */
#ifndef QFS_BENCH_LOAD_H
#define QFS_BENCH_LOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lat.h"

/* The options every load generator takes:
 *   -m MODE [-t THREADS] [-n OPS_PER_THREAD] [-T SECONDS] [-k KEYS] [-s VALUE_BYTES]
 *   [-p PREFIX] TARGET [TARGET...]
 * Keys are "PREFIX/dNNN/kNNNNNN" (1,000 per directory); thread i works on target
 * i % n_targets. MODE "load" writes every key once, split among the threads; any other mode
 * takes random keys of [0, KEYS). A run stops after OPS_PER_THREAD operations per thread or
 * SECONDS, whichever comes first. */
struct load {
	const char *mode; /* as given; the program checks it against its own modes */
	unsigned threads;
	unsigned long ops_per_thread, keys;
	double seconds;
	size_t value_size;
	const char *prefix;
	char **targets; /* directories or endpoints, from argv */
	unsigned n_targets;
	bool fill;            /* mode "load" */
	uint64_t deadline_ns; /* 0: none; set by load_run() */
};

/* One worker thread. The program's run function gets it and reports through it. */
struct load_worker {
	pthread_t th;
	unsigned id;
	const struct load *load;
	const char *target; /* its target */
	struct lat lat;
	unsigned long errors;
	uint64_t x;      /* the random keys' state */
	unsigned long i; /* operations taken so far */
};

/* Parses the options above into @l, with the defaults (mode "write", 1 thread, 1000
 * operations, 1000 keys, 100-byte values, prefix "bench"). Exits with status 2 after printing
 * @usage on a bad option or a missing target. */
void load_options(struct load *l, int argc, char **argv, const char *usage);

/* Prints "usage: @usage" to stderr and exits with status 2. */
void load_usage(const char *usage) __attribute__((noreturn));

/* The key of @w's next operation; false once @w is done (its operations, its share of the
 * keys in "load" mode, or the deadline). */
bool load_next(struct load_worker *w, unsigned long *key);

/* Writes "PREFIX/dNNN/kNNNNNN" for @key into @buf; returns its length as snprintf does. */
int load_key(const struct load *l, unsigned long key, char *buf, size_t len);

/* Runs @run on l->threads threads, then prints the result line of every sample (lat.h).
 * Returns the exit status: 1 if every operation failed, else 0. */
int load_run(struct load *l, void *(*run)(void *worker));

#endif
