/* check_set.c: the set checker: every acknowledged create is listed on every node at the end. */
#include "history.h"

#include <stdlib.h>
#include <string.h>

/*
 * For the set workload (files created under one directory):
 *
 * - every final listing (one per node, process "final*") holds every create
 *   acknowledged before the listing began: lost otherwise;
 * - no listing holds a name that was never attempted (before the listing
 *   returned), or whose create failed;
 * - all final listings are the same set (the nodes have converged).
 */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "final1" and "final3" are one round of listings; "final1" and "crash1" are not. */
static bool same_round(const char *a, const char *b)
{
	size_t la = strcspn(a, "0123456789"), lb = strcspn(b, "0123456789");
	return la == lb && strncmp(a, b, la) == 0;
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
	/* Listings seen so far: (op, canonical text, lost). */
	const struct hop **lops = calloc(h->n + 1, sizeof(*lops));
	char **canons = calloc(h->n + 1, sizeof(*canons));
	unsigned *losts = calloc(h->n + 1, sizeof(*losts));
	unsigned char *lost_mark = calloc(nc + 1, 1);
	size_t nl = 0;
	if (lops == NULL || canons == NULL || losts == NULL || lost_mark == NULL) {
		abort();
	}
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
		if (nn > 0) {
			qsort(names, nn, sizeof(*names), cmp_str);
		}
		/* A canonical text of the sorted listing, to compare the nodes. */
		size_t len = 1;
		for (size_t j = 0; j < nn; j++) {
			len += strlen(names[j]) + 1;
		}
		char *canon = calloc(len, 1), *end = canon;
		if (canon == NULL) {
			abort();
		}
		for (size_t j = 0; j < nn; j++) {
			size_t l = strlen(names[j]);
			memcpy(end, names[j], l);
			end[l] = ',';
			end += l + 1;
		}
		for (size_t j = 0; j < nn; j++) {
			const struct hop *c = find_create(cr, nc, names[j]);
			if (c == NULL || c->start > o->end) {
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
			if (cr[k]->outcome != HOP_OK || strcmp(cr[k]->key, o->key) != 0 ||
			    cr[k]->end > o->start) {
				continue;
			}
			bool found = nn > 0 && bsearch(&cr[k]->value, names, nn, sizeof(*names),
			                               cmp_str) != NULL;
			if (!found) {
				lost_mark[k] = 1;
				if (lost < 10) {
					fprintf(r->out,
					        "sets %s: acknowledged create %s not listed on %s "
					        "(line %d)\n",
					        o->key, cr[k]->value, o->proc, cr[k]->line);
				}
				lost++;
			}
		}
		/*
		 * Listings of one directory by one round of the harness ("final1",
		 * "final2"... are a round) must be equal: the nodes converged.
		 */
		for (size_t q = 0; q < nl; q++) {
			if (strcmp(lops[q]->key, o->key) != 0 ||
			    !same_round(lops[q]->proc, o->proc)) {
				continue;
			}
			if (strcmp(canons[q], canon) != 0) {
				fprintf(r->out, "sets %s: the final listings of %s and %s differ\n",
				        o->key, lops[q]->proc, o->proc);
				r->anomalies++;
			}
			break;
		}
		lops[nl] = o;
		canons[nl] = canon;
		losts[nl] = lost;
		nl++;
		free(names);
		free(buf);
	}
	/* A create missing from any listing is lost once, however many nodes and rounds miss it. */
	for (size_t k = 0; k < nc; k++) {
		r->lost += lost_mark[k];
	}
	for (size_t q = 0; q < nl; q++) {
		free(canons[q]);
	}
	free(canons);
	free(lops);
	free(losts);
	free(lost_mark);
	free(cr);
}
