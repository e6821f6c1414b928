/* check_lock.c: the lock workload's checker: mutual exclusion as a lease lock promises it. */
#include "history.h"

#include <stdlib.h>
#include <string.h>

/*
 * The model (docs/semantics.md, "What a lease lock can promise"): at every
 * log index the tree gives a lock to one owner at most, and tokens (the
 * grant's index) grow with every grant; but a holder can outlive its lease
 * (its node lost the cluster for a lease while it held the lock), and then
 * its section may overlap the next holder's. So, for the sections
 * fault-locker recorded (one key, SECTION ops, ok):
 *
 *  1. two sections never carry the same token (one grant, one holder);
 *  2. a section that ends before another starts has the smaller token;
 *  3. when two sections of different processes overlap, the one with the
 *     smaller token (A) must not have found its lock still held at its end
 *     (CHECK "held"): that read is linearizable and began after the other
 *     section (B) was granted, so "held" would mean the tree gave both the
 *     lock at one index. "lost" (A outlived its lease, and the tree says
 *     so) and "unknown" (A's read failed: no quorum) are the lease's stated
 *     limit; they are counted and reported, not anomalies.
 */

struct sec {
	const struct hop *op;
	unsigned long long token; /* 0: unknown */
};

static int by_start(const void *a, const void *b)
{
	const struct sec *x = a, *y = b;
	if (x->op->start != y->op->start)
		return x->op->start < y->op->start ? -1 : 1;
	return 0;
}

static int by_token(const void *a, const void *b)
{
	const struct sec *x = a, *y = b;
	return x->token < y->token ? -1 : x->token > y->token;
}

void check_locks(const struct history *h, struct check_report *r)
{
	struct sec *s = NULL, *t = NULL;
	size_t n = 0, overlaps = 0;
	int64_t shortest = -1; /* the shortest first section of an overlap, ns */

	for (size_t i = 0; i < h->n; i++)
		if (h->ops[i].type == HOP_SECTION && h->ops[i].outcome == HOP_OK)
			n++;
	if (n == 0)
		return;
	s = calloc(n, sizeof(*s));
	t = calloc(n, sizeof(*t));
	if (s == NULL || t == NULL)
		abort();
	n = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct hop *o = &h->ops[i];
		if (o->type != HOP_SECTION || o->outcome != HOP_OK)
			continue;
		s[n].op = o;
		s[n].token = strcmp(o->value, "-") == 0 ? 0 : strtoull(o->value, NULL, 10);
		n++;
	}
	/* 1: one grant, one holder. */
	memcpy(t, s, n * sizeof(*s));
	qsort(t, n, sizeof(*t), by_token);
	for (size_t i = 1; i < n; i++)
		if (t[i].token != 0 && t[i].token == t[i - 1].token) {
			fprintf(r->out, "lock: token %llu granted twice (lines %d and %d)\n", t[i].token,
			        t[i - 1].op->line, t[i].op->line);
			r->anomalies++;
		}
	qsort(s, n, sizeof(*s), by_start);
	for (size_t i = 0; i < n; i++) {
		const struct hop *a = s[i].op;
		for (size_t j = i + 1; j < n; j++) {
			const struct hop *b = s[j].op;
			if (strcmp(a->key, b->key) != 0)
				continue;
			if (b->start >= a->end) {
				/* 2: later sections, later tokens. */
				if (s[i].token != 0 && s[j].token != 0 && s[j].token < s[i].token) {
					fprintf(r->out,
					        "lock: section at line %d (token %llu) follows line %d "
					        "(token %llu) with a smaller token\n",
					        b->line, s[j].token, a->line, s[i].token);
					r->anomalies++;
				}
				continue;
			}
			if (strcmp(a->proc, b->proc) == 0)
				continue; /* a process cannot overlap itself; not a lock matter */
			/* 3: an overlap; the earlier grant is the smaller token. */
			const struct sec *first = &s[i];
			if (s[i].token != 0 && s[j].token != 0 && s[j].token < s[i].token)
				first = &s[j];
			overlaps++;
			int64_t d = first->op->end - first->op->start;
			if (shortest < 0 || d < shortest)
				shortest = d;
			if (strcmp(first->op->result, "held") == 0) {
				fprintf(r->out,
				        "lock: sections at lines %d and %d overlap, and the first "
				        "holder (token %llu) still held the lock when it ended\n",
				        a->line, b->line, first->token);
				r->anomalies++;
			}
		}
	}
	fprintf(stderr,
	        "check-lock: %zu critical sections, %zu overlapping pairs (allowed only where "
	        "the first holder outlived its lease: docs/semantics.md); the shortest first "
	        "section of one lasted %lld ms\n",
	        n, overlaps, (long long)(shortest < 0 ? 0 : shortest / 1000000));
	free(s);
	free(t);
}
