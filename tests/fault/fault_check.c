/* fault_check.c: fault-check, the checker of fault-run histories (registers, appends, sets). */
#include "history.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * fault-check [--limit CONFIGURATIONS] [--decider auto|search|both] [--max-lines N] HISTORY...
 *
 * Loads every history file (a run writes one per client), checks the three
 * workloads, describes each anomaly on stderr and prints one summary line on
 * stdout:
 *
 *   ops=N ok=N failed=N unknown=N anomalies=A lost=L inconclusive=I
 *
 * --decider: how register files are decided (check_reg.c): auto (default) by Gibbons and
 * Korach's test where it applies, else by the search; search, the search alone (as before
 * that test, to compare); both, the two where the test applies, a disagreement an anomaly.
 *
 * Exit status: 0 if A, L and I are all 0; 1 if A or L is not 0; 2 if only
 * the search limit was hit (neither pass nor fail); 3 on a usage or input
 * error.
 */

/* stderr, but at most this many lines: a broken run can have millions of anomalies. */
static long max_lines = 200, lines;

static ssize_t capped_write(void *cookie, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (lines < max_lines) {
			fputc(buf[i], stderr);
		}
		lines += buf[i] == '\n';
	}
	return (ssize_t)len;
}

static void usage(void)
{
	fprintf(stderr, "usage: fault-check [--limit CONFIGURATIONS] [--decider auto|search|both] "
	                "[--max-lines N] HISTORY...\n");
	exit(3);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"limit", required_argument, NULL, 'l'},
	        {"max-lines", required_argument, NULL, 'm'},
	        {"decider", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	cookie_io_functions_t io = {.write = capped_write};
	FILE *capped = fopencookie(NULL, "w", io);
	if (capped == NULL) {
		return 3;
	}
	setvbuf(capped, NULL, _IOLBF, 0);
	struct check_report r = {.out = capped, .search_limit = 20000000};
	int c;
	while ((c = getopt_long(argc, argv, "l:m:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			max_lines = atol(optarg);
			break;
		case 'd':
			r.reg_decider = strcmp(optarg, "auto") == 0     ? REG_DECIDE_AUTO
			                : strcmp(optarg, "search") == 0 ? REG_DECIDE_SEARCH
			                : strcmp(optarg, "both") == 0   ? REG_DECIDE_BOTH
			                                                : -1;
			if (r.reg_decider < 0) {
				usage();
			}
			break;
		case 'l':
			r.search_limit = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc) {
		usage();
	}
	struct history h = {0};
	for (int i = optind; i < argc; i++) {
		if (history_load(&h, argv[i]) != 0) {
			return 3;
		}
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check_registers(&h, &r);
	check_appends(&h, &r);
	check_sets(&h, &r);
	check_locks(&h, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fflush(capped);
	if (lines > max_lines) {
		fprintf(stderr, "fault-check: ... %ld more lines about anomalies not shown\n",
		        lines - max_lines);
	}
	size_t ok = 0, failed = 0, unknown = 0, n = 0;
	for (size_t i = 0; i < h.n; i++) {
		const struct hop *o = &h.ops[i];
		if (o->proc[0] < '0' || o->proc[0] > '9') {
			/* The harness's own ops (init, final*, crash*) are not counted. */
			continue;
		}
		n++;
		ok += o->outcome == HOP_OK;
		failed += o->outcome == HOP_FAIL;
		unknown += o->outcome == HOP_UNKNOWN;
	}
	fprintf(stderr,
	        "fault-check: %zu history lines checked in %.3f s; %u register files decided by "
	        "zones, %u by search (%llu WGL configurations)\n",
	        h.n, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	        r.reg_keys_zones, r.reg_keys_search, (unsigned long long)r.explored);
	printf("ops=%zu ok=%zu failed=%zu unknown=%zu anomalies=%u lost=%u inconclusive=%u\n", n,
	       ok, failed, unknown, r.anomalies, r.lost, r.inconclusive);
	history_free(&h);
	if (r.anomalies != 0 || r.lost != 0) {
		return 1;
	}
	return r.inconclusive != 0 ? 2 : 0;
}
