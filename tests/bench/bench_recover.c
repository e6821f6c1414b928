/* bench_recover.c: the part of a node's start that grows with its log, for a log far longer
 * than the daemon keeps (it snapshots every 10,000 entries and compacts behind). Builds a store
 * holding ENTRIES log entries of BYTES bytes each, written directly with the store API (batches
 * of 10,000, no sync per batch, one sync at the end: this is how the log is built, not how the
 * daemon writes), then times what src/node/node.c recover() does with it on a start: open the
 * store, read the log bounds, read every entry after the snapshot (there is none) into memory,
 * and hand them to raft_restore(). The page cache is warm (the log was just written).
 *
 *   bench-recover DIR [ENTRIES [BYTES]]    defaults: 1,000,000 entries of 128 bytes
 *
 * Prints one line: entries=N build_ms=B open_ms=O read_ms=R restore_ms=S total_ms=T
 * peak_rss_kb=K. DIR must not exist or be empty; it is left for the caller to remove. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lat.h"
#include "quorumfs/raft.h"
#include "quorumfs/store.h"

#define BATCH 10000

static long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f != NULL)
		fclose(f);
	return kb;
}

static struct store *open_store(const char *dir, bool nosync)
{
	struct store_options o = {.node_id = 1, .unsafe_nosync = nosync};
	memset(o.cluster_id, 0x42, sizeof(o.cluster_id));
	struct store *s = NULL;
	char err[256] = "";
	int rc = store_open(dir, &o, &s, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "bench-recover: %s: %s\n", dir, err);
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: bench-recover DIR [ENTRIES [BYTES]]\n");
		return 2;
	}
	const char *dir = argv[1];
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	size_t bytes = argc > 3 ? strtoul(argv[3], NULL, 10) : 128;

	uint64_t t0 = lat_now();
	struct store *s = open_store(dir, true);
	struct store_entry *batch = calloc(BATCH, sizeof(*batch));
	char *data = malloc(bytes ? bytes : 1);
	if (batch == NULL || data == NULL)
		return 1;
	memset(data, 'e', bytes);
	for (uint64_t i = 1; i <= n;) {
		size_t k = 0;
		for (; k < BATCH && i <= n; k++, i++)
			batch[k] = (struct store_entry){.index = i,
			                                .term = 1,
			                                .type = RAFT_ENTRY_NORMAL,
			                                .data = data,
			                                .len = bytes};
		struct store_hard_state hs = {.term = 1, .vote = 1, .commit = i - 1};
		int rc = store_append(s, batch, k, &hs);
		if (rc != 0) {
			fprintf(stderr, "bench-recover: append: %d\n", rc);
			return 1;
		}
	}
	store_sync(s);
	store_close(s);
	uint64_t t1 = lat_now();

	/* What a start does with it (src/node/node.c recover()). */
	s = open_store(dir, false);
	uint64_t t2 = lat_now();
	uint64_t first = 0, last = 0;
	struct store_entry *se = NULL;
	size_t ns = 0;
	int rc = store_log_bounds(s, &first, &last);
	if (rc == 0)
		rc = store_log_get(s, first, last, SIZE_MAX, &se, &ns);
	if (rc != 0) {
		fprintf(stderr, "bench-recover: reading the log: %d\n", rc);
		return 1;
	}
	uint64_t t3 = lat_now();
	struct raft_entry *re = calloc(ns ? ns : 1, sizeof(*re));
	if (re == NULL)
		return 1;
	for (size_t i = 0; i < ns; i++)
		re[i] = (struct raft_entry){.index = se[i].index,
		                            .term = se[i].term,
		                            .type = se[i].type,
		                            .data = {(void *)se[i].data, se[i].len}};
	struct raft_config cfg;
	raft_config_default(&cfg, 1, 1);
	struct raft *r = NULL;
	struct raft_hard_state hs = {.term = 1, .vote = 1, .commit = last};
	rc = raft_new(&cfg, &r);
	if (rc == 0)
		rc = raft_restore(r, &hs, NULL, re, (unsigned)ns);
	uint64_t t4 = lat_now();
	if (rc != 0)
		fprintf(stderr, "bench-recover: raft_restore: %d\n", rc);
	printf("entries=%zu build_ms=%.0f open_ms=%.1f read_ms=%.1f restore_ms=%.1f total_ms=%.1f "
	       "peak_rss_kb=%ld\n",
	       ns, (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6,
	       (double)(t4 - t3) / 1e6, (double)(t4 - t1) / 1e6, peak_rss_kb());
	free(re);
	free(se);
	if (r != NULL)
		raft_free(r);
	store_close(s);
	free(batch);
	free(data);
	return rc != 0;
}
