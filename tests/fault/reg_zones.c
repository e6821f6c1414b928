/* reg_zones.c: a register history with unique values decided in O(n log n) (Gibbons & Korach). */
#include "reg_model.h"

#include <stdlib.h>

/*
 * Gibbons and Korach, "Testing shared memories" (SIAM J. Comput. 26(4), 1997), section 4:
 * when every value is written once, each read names its write, and the history falls into
 * clusters, one per value: its write and the reads that returned it (the initial value's
 * cluster has a write that took effect before every op). In any linearization a cluster's
 * ops come together, the write first (a later write of another value could never be undone:
 * values do not come back). For a cluster C let
 *
 *   f(C) = the earliest return of its ops,  s(C) = the latest call of its ops.
 *
 * If f(C) < s(C), C has a forward zone (f, s): some op of C returned before another was
 * called, so C's value holds in the register over all of it, and no other cluster can be
 * linearized inside it. Otherwise C has a backward zone [s, f]: all of C's ops overlap,
 * and C can be linearized at any instant of it, as a block.
 *
 * The history is linearizable iff
 *   (1) no read returned before its write was called,
 *   (2) no two forward zones overlap, and
 *   (3) no backward zone lies inside a forward zone.
 * Why, in this file's terms: one cluster must come before another in every linearization
 * iff some op of the first returned before some op of the second was called, that is
 * f(C) < s(D). Two clusters that must each come before the other (f(C) < s(D) and
 * f(D) < s(C)) are exactly (2) or (3) (two backward zones never do). A longer cycle
 * C1 -> ... -> Ck -> C1 implies such a pair: the cluster of the cycle with the least f must
 * come before every other one of the cycle (f is at most that of each one's predecessor),
 * its predecessor included. So without (2) and (3) the must-come-before relation has no
 * cycle, clusters are placed in any order that extends it, and (1) lets each place its
 * write first and its reads after.
 *
 * Times follow the search's convention (reg_model.h): ops that touch at one instant are
 * concurrent, so every comparison above is strict.
 */

#define NEG_INF INT64_MIN

struct cluster {
	int w;           /* its write, -1 for the initial value */
	int first, last; /* the op that returned first, the op called last (-1: the initial write) */
	int64_t f, s;
};

static int cmp_f(const void *a, const void *b)
{
	const struct cluster *x = *(struct cluster *const *)a, *y = *(struct cluster *const *)b;
	if (x->f != y->f) {
		return x->f < y->f ? -1 : 1;
	}
	return x->s < y->s ? -1 : x->s > y->s;
}

static void zone_fault(struct reg_zone_report *rep, int fault, const struct cluster *a,
                       const struct cluster *b)
{
	if (rep == NULL) {
		return;
	}
	*rep = (struct reg_zone_report){
	        .fault = fault,
	        .a = a->w,
	        .b = b->w,
	        .a_first = a->first,
	        .a_last = a->last,
	        .b_first = b->first,
	        .b_last = b->last,
	        .a_from = a->f < a->s ? a->f : a->s,
	        .a_to = a->f < a->s ? a->s : a->f,
	        .b_from = b->f < b->s ? b->f : b->s,
	        .b_to = b->f < b->s ? b->s : b->f,
	};
}

int reg_zones(const struct rop *ops, size_t n, int init, struct reg_zone_report *rep)
{
	if (rep != NULL) {
		*rep = (struct reg_zone_report){.fault = REG_ZONE_NONE, .a = -1, .b = -1};
	}
	int maxv = init;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].val < 0) {
			return -1;
		}
		maxv = ops[i].val > maxv ? ops[i].val : maxv;
	}
	/* Cluster of each value: index into cl, -1 none. */
	int *of = malloc(((size_t)maxv + 1) * sizeof(*of));
	struct cluster *cl = malloc((n + 1) * sizeof(*cl));
	struct cluster **fwd = malloc((n + 1) * sizeof(*fwd));
	if (of == NULL || cl == NULL || fwd == NULL) {
		abort();
	}
	for (int v = 0; v <= maxv; v++) {
		of[v] = -1;
	}
	size_t nc = 0;
	of[init] = (int)nc;
	cl[nc++] = (struct cluster){.w = -1, .first = -1, .last = -1, .f = NEG_INF, .s = NEG_INF};
	int rc = 1;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind != 0) {
			continue;
		}
		if (of[ops[i].val] >= 0) {
			rc = -1; /* written twice, or the initial value written: not this test's form */
			goto out;
		}
		of[ops[i].val] = (int)nc;
		cl[nc++] = (struct cluster){.w = (int)i, .first = (int)i, .last = (int)i,
		                            .f = ops[i].ret, .s = ops[i].call};
	}
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind != 0 && of[ops[i].val] < 0) {
			rc = -1; /* a read of a value no op writes */
			goto out;
		}
	}
	/* (1), and each cluster's f and s. */
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind == 0) {
			continue;
		}
		struct cluster *c = &cl[of[ops[i].val]];
		if (c->w >= 0 && ops[i].ret < ops[c->w].call && rc == 1) {
			rc = 0;
			if (rep != NULL) {
				zone_fault(rep, REG_ZONE_READ_BEFORE_WRITE, c, c);
				rep->a = (int)i;
				rep->b = c->w;
			}
		}
		if (ops[i].ret < c->f) {
			c->f = ops[i].ret;
			c->first = (int)i;
		}
		if (ops[i].call > c->s) {
			c->s = ops[i].call;
			c->last = (int)i;
		}
	}
	if (rc != 1) {
		goto out;
	}
	/* (2): forward zones in order of f; if any two overlap, two neighbours do. */
	size_t nf = 0;
	for (size_t k = 0; k < nc; k++) {
		if (cl[k].f < cl[k].s) {
			fwd[nf++] = &cl[k];
		}
	}
	qsort(fwd, nf, sizeof(*fwd), cmp_f);
	for (size_t k = 1; k < nf; k++) {
		if (fwd[k]->f < fwd[k - 1]->s) {
			zone_fault(rep, REG_ZONE_FORWARD_OVERLAP, fwd[k - 1], fwd[k]);
			rc = 0;
			goto out;
		}
	}
	/* (3): the forward zones are now disjoint and in order; the only one a backward zone
	 * [s, f] can lie in is the last one that begins before s. */
	for (size_t k = 0; k < nc; k++) {
		const struct cluster *d = &cl[k];
		if (d->f < d->s) {
			continue;
		}
		size_t lo = 0, hi = nf; /* the first forward zone with f >= d->s */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (fwd[mid]->f < d->s) {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		if (lo > 0 && d->f < fwd[lo - 1]->s) {
			zone_fault(rep, REG_ZONE_BACKWARD_IN_FORWARD, fwd[lo - 1], d);
			rc = 0;
			goto out;
		}
	}
out:
	free(of);
	free(cl);
	free(fwd);
	return rc;
}
