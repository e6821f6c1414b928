/* check_set.c: the set checker: every acknowledged create is listed on every node at the end. */
#include "history.h"

#include <stdlib.h>
#include <string.h>

/*
 * For the set workload (files created under one directory):
 *
 * - every final listing (one per node, process "final*") holds every create
 *   that was acknowledged: lost otherwise;
 * - no listing holds a name that was never attempted, or whose create failed;
 * - all final listings are the same set (the nodes have converged).
 */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const struct hop *find_create(const struct hop **cr, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(cr[mid]->value, name);
		if (c == 0) {
			return cr[mid];
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

static int cmp_hop_value(const void *a, const void *b)
{
	return strcmp((*(const struct hop *const *)a)->value,
	              (*(const struct hop *const *)b)->value);
}

void check_sets(const struct history *h, struct check_report *r)
{
	const struct hop **cr = calloc(h->n + 1, sizeof(*cr));
	size_t nc = 0;
	if (cr == NULL) {
		abort();
	}
	for (size_t i = 0; i < h->n; i++) {
		if (h->ops[i].type == HOP_CREATE) {
			cr[nc++] = &h->ops[i];
		}
	}
	qsort(cr, nc, sizeof(*cr), cmp_hop_value);
	char *first = NULL;
	const struct hop *first_op = NULL;
	unsigned maxlost = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct hop *o = &h->ops[i];
		if (o->type != HOP_LIST || o->outcome != HOP_OK) {
			continue;
		}
		char *buf = strdup(o->result);
		char **names = NULL;
		size_t nn = 0;
		if (buf == NULL) {
			abort();
		}
		if (strcmp(buf, "_") != 0 && strcmp(buf, "@") != 0) {
			nn = history_split(buf, ',', &names);
		}
		qsort(names, nn, sizeof(*names), cmp_str);
		/* A canonical text of the sorted listing, to compare the nodes. */
		size_t len = 1;
		for (size_t j = 0; j < nn; j++) {
			len += strlen(names[j]) + 1;
		}
		char *canon = calloc(len, 1);
		if (canon == NULL) {
			abort();
		}
		for (size_t j = 0; j < nn; j++) {
			strcat(canon, names[j]);
			strcat(canon, ",");
		}
		for (size_t j = 0; j < nn; j++) {
			const struct hop *c = find_create(cr, nc, names[j]);
			if (c == NULL) {
				fprintf(r->out, "sets %s: %s lists %s, which nobody created\n",
				        o->key, o->proc, names[j]);
				r->anomalies++;
			} else if (c->outcome == HOP_FAIL) {
				fprintf(r->out,
				        "sets %s: %s lists %s, whose create failed (line %d)\n",
				        o->key, o->proc, names[j], c->line);
				r->anomalies++;
			}
		}
		unsigned lost = 0;
		for (size_t k = 0; k < nc; k++) {
			if (cr[k]->outcome != HOP_OK) {
				continue;
			}
			bool found =
			        bsearch(&cr[k]->value, names, nn, sizeof(*names), cmp_str) != NULL;
			if (!found) {
				if (lost < 10) {
					fprintf(r->out,
					        "sets %s: acknowledged create %s not listed on %s "
					        "(line %d)\n",
					        o->key, cr[k]->value, o->proc, cr[k]->line);
				}
				lost++;
			}
		}
		/* A create lost on several nodes counts once: keep the worst node. */
		if (lost > maxlost) {
			maxlost = lost;
		}
		if (first == NULL) {
			first = canon;
			first_op = o;
		} else {
			if (strcmp(first, canon) != 0) {
				fprintf(r->out, "sets %s: the final listings of %s and %s differ\n",
				        o->key, first_op->proc, o->proc);
				r->anomalies++;
			}
			free(canon);
		}
		free(names);
		free(buf);
	}
	r->lost += maxlost;
	free(first);
	free(cr);
}
