/* load.c: the load generators' shared options, key choice and worker threads. */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void load_usage(const char *usage)
{
	fprintf(stderr, "usage: %s\n", usage);
	exit(2);
}

void load_options(struct load *l, int argc, char **argv, const char *usage)
{
	int c;

	*l = (struct load){.mode = "write",
	                   .threads = 1,
	                   .ops_per_thread = 1000,
	                   .keys = 1000,
	                   .value_size = 100,
	                   .prefix = "bench"};
	while ((c = getopt(argc, argv, "m:t:n:T:k:s:p:")) != -1) {
		switch (c) {
		case 'm':
			l->mode = optarg;
			break;
		case 't':
			l->threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			l->ops_per_thread = strtoul(optarg, NULL, 10);
			break;
		case 'T':
			l->seconds = strtod(optarg, NULL);
			break;
		case 'k':
			l->keys = strtoul(optarg, NULL, 10);
			break;
		case 's':
			l->value_size = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			l->prefix = optarg;
			break;
		default:
			load_usage(usage);
		}
	}
	if (optind >= argc || l->threads == 0 || l->keys == 0 ||
	    l->value_size == 0)
		load_usage(usage);
	l->fill = strcmp(l->mode, "load") == 0;
	l->targets = argv + optind;
	l->n_targets = (unsigned)(argc - optind);
}

bool load_next(struct load_worker *w, unsigned long *key)
{
	const struct load *l = w->load;
	unsigned long i = w->i++;

	if (l->fill) {
		*key = w->id + i * l->threads;
		if (*key >= l->keys)
			return false;
	} else {
		if (l->ops_per_thread && i >= l->ops_per_thread)
			return false;
		w->x ^= w->x << 13;
		w->x ^= w->x >> 7;
		w->x ^= w->x << 17;
		*key = w->x % l->keys;
	}
	return !(l->deadline_ns && (i & 7) == 0 && lat_now() > l->deadline_ns);
}

int load_key(const struct load *l, unsigned long key, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/d%03lu/k%06lu", l->prefix, key / 1000, key);
}

int load_run(struct load *l, void *(*run)(void *worker))
{
	struct load_worker *ws = calloc(l->threads, sizeof(*ws));
	if (ws == NULL)
		return 1;
	uint64_t start = lat_now();
	if (l->seconds > 0)
		l->deadline_ns = start + (uint64_t)(l->seconds * 1e9);
	for (unsigned i = 0; i < l->threads; i++) {
		ws[i].id = i;
		ws[i].load = l;
		ws[i].target = l->targets[i % l->n_targets];
		ws[i].x = 0x9e3779b97f4a7c15ull * (i + 1);
		if (pthread_create(&ws[i].th, NULL, run, &ws[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	struct lat all = {0};
	unsigned long errors = 0;
	for (unsigned i = 0; i < l->threads; i++) {
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
