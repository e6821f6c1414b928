/* test_reg_model.c: the two register deciders (reg_model.h) on hand-made and random histories. */
#include "../reg_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * test-reg-model [SEED [COUNT]]
 *
 * First hand-made histories, each with the verdict both deciders must give and, for the
 * zones, the reason: linearizable ones (sequential, concurrent, ops that touch at one
 * instant, an unknown write that may return at infinity), and one of each kind of
 * violation (a stale read, a read of a value before its write, two overlapping forward
 * zones, a backward zone inside a forward zone, a read of the initial state after a
 * write). Then COUNT (default 200,000) random small histories, half linearizable by
 * construction and half with one read changed, on which the two deciders must agree; both
 * verdicts must come up often enough for the agreement to mean something. The seed is
 * printed; a failure prints the history, to replay with the same SEED.
 */

#define INIT 0
#define W(v, c, r) {.call = (c), .ret = (r), .kind = 0, .val = (v)}
#define R(v, c, r) {.call = (c), .ret = (r), .kind = 1, .val = (v)}

static int fails;

static void print_history(const struct rop *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "    %zu: %s v%d [%lld, %lld]\n", i, ops[i].kind ? "read " : "write",
		        ops[i].val, (long long)ops[i].call,
		        ops[i].ret == REG_INF ? -1LL : (long long)ops[i].ret);
	}
}

static int search(const struct rop *ops, size_t n)
{
	uint64_t explored = 0;
	int blocker;
	return reg_wgl(ops, n, INIT, 100000000, &explored, &blocker);
}

struct hand {
	const char *name;
	int want;  /* the zones' verdict: 1 linearizable, 0 not, -1 not of their form */
	int fault; /* enum reg_zone_fault, when want == 0; when want == -1, the search's
	              verdict */
	size_t n;
	struct rop ops[8];
};

static const struct hand hands[] = {
        {"sequential", 1, 0, 4, {W(1, 0, 10), R(1, 20, 30), W(2, 40, 50), R(2, 60, 70)}},
        {"concurrent writes, reads after both", 1, 0, 4,
         {W(1, 0, 100), W(2, 10, 90), R(2, 110, 120), R(2, 130, 140)}},
        {"a read of the initial state during the first write", 1, 0, 3,
         {W(1, 0, 100), R(INIT, 10, 20), R(1, 30, 40)}},
        {"ops touching at one instant are concurrent", 1, 0, 4,
         {W(1, 0, 10), R(INIT, 10, 20), R(1, 20, 30), W(2, 30, 40)}},
        {"a read of a value whose write is called as the read returns", 1, 0, 2,
         {R(1, 0, 5), W(1, 5, 10)}},
        {"an unknown write that may return at infinity", 1, 0, 3,
         {W(1, 0, REG_INF), R(INIT, 100, 110), R(1, 200, 210)}},
        {"stale read: a value overwritten before the read began", 0, REG_ZONE_BACKWARD_IN_FORWARD,
         3, {W(1, 10, 20), W(2, 30, 40), R(1, 50, 60)}},
        {"read of a value before its write was called", 0, REG_ZONE_READ_BEFORE_WRITE, 2,
         {R(2, 10, 20), W(2, 30, 40)}},
        {"two forward zones overlap (a value comes back)", 0, REG_ZONE_FORWARD_OVERLAP, 4,
         {W(1, 0, 10), W(2, 20, 30), R(2, 40, 50), R(1, 60, 70)}},
        {"two forward zones overlap (concurrent writes, reads alternate)", 0,
         REG_ZONE_FORWARD_OVERLAP, 5,
         {W(1, 0, 10), W(2, 0, 10), R(1, 20, 30), R(2, 40, 50), R(1, 60, 70)}},
        {"a backward zone inside a forward zone (a write and its read while another value "
         "holds)",
         0, REG_ZONE_BACKWARD_IN_FORWARD, 5,
         {W(1, 0, 10), R(1, 20, 30), W(2, 40, 50), R(2, 45, 55), R(1, 60, 70)}},
        {"a read of the initial state after a write returned", 0, REG_ZONE_BACKWARD_IN_FORWARD,
         2, {W(1, 10, 20), R(INIT, 30, 40)}},
        {"a value written twice: not the zones' form (the search: linearizable)", -1, 1, 3,
         {W(1, 0, 10), W(1, 20, 30), R(1, 40, 50)}},
        {"a read of a value nobody writes: not the zones' form", -1, 0, 2,
         {W(1, 0, 10), R(5, 20, 30)}},
};

static void check_hands(void)
{
	for (size_t i = 0; i < sizeof(hands) / sizeof(hands[0]); i++) {
		const struct hand *t = &hands[i];
		struct reg_zone_report z;
		int zr = reg_zones(t->ops, t->n, INIT, &z);
		int sr = search(t->ops, t->n);
		int want_search = t->want < 0 ? t->fault : t->want;
		bool ok = zr == t->want && sr == want_search && (zr != 0 || z.fault == t->fault);
		printf("%s: %s: zones %d (fault %d), search %d\n", ok ? "ok" : "FAIL", t->name, zr,
		       zr == 0 ? z.fault : 0, sr);
		if (!ok) {
			print_history(t->ops, t->n);
			fails++;
		}
	}
}

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int by_point(const void *a, const void *b)
{
	const int64_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* A random history of @n ops, linearizable by construction; with @corrupt one read returns
 * another value (which may or may not break it). Times are small, so ties are common. */
static size_t gen(struct rop *ops, size_t n, int procs, bool corrupt)
{
	int64_t free_at[8] = {0};
	int64_t point[64][2]; /* linearization point, op index */
	int nextval = 1;
	for (size_t i = 0; i < n; i++) {
		int p = (int)(next() % (uint64_t)procs);
		int64_t call = free_at[p] + (int64_t)(next() % 4);
		int64_t ret = call + (int64_t)(next() % 6);
		ops[i] = (struct rop){.call = call, .ret = ret, .kind = (int)(next() % 2)};
		point[i][0] = call + (int64_t)(next() % (uint64_t)(ret - call + 1));
		point[i][1] = (int64_t)i;
		if (ops[i].kind == 0) {
			ops[i].val = nextval++;
			if (next() % 6 == 0) {
				/* An unknown write that was read, or may return at infinity. */
				ops[i].ret = REG_INF;
				point[i][0] = call + (int64_t)(next() % 12);
			}
		}
		free_at[p] = ret + 1;
	}
	/* Points are distinct from one another in order, ties broken by index: a write and a
	 * read at one point are ordered as sorted, which linearizability allows. */
	qsort(point, n, sizeof(point[0]), by_point);
	int state = INIT;
	for (size_t k = 0; k < n; k++) {
		struct rop *o = &ops[point[k][1]];
		if (o->kind == 0) {
			state = o->val;
		} else {
			o->val = state;
		}
	}
	if (corrupt) {
		size_t reads = 0;
		for (size_t i = 0; i < n; i++) {
			reads += ops[i].kind == 1;
		}
		if (reads > 0) {
			size_t pick = next() % reads;
			for (size_t i = 0; i < n; i++) {
				if (ops[i].kind == 1 && pick-- == 0) {
					ops[i].val = (int)(next() % (uint64_t)nextval);
				}
			}
		}
	}
	/* Shuffled: neither decider may depend on the order it is given. */
	for (size_t i = n; i > 1; i--) {
		size_t j = next() % i;
		struct rop t = ops[i - 1];
		ops[i - 1] = ops[j];
		ops[j] = t;
	}
	return n;
}

static void check_random(uint64_t seed, long count)
{
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	long verdict[2] = {0, 0}, disagree = 0;
	for (long t = 0; t < count; t++) {
		struct rop ops[64];
		size_t n = gen(ops, 1 + next() % 14, 1 + (int)(next() % 4), t % 2 == 1);
		int zr = reg_zones(ops, n, INIT, NULL);
		int sr = search(ops, n);
		if (zr < 0 || sr < 0 || zr != sr) {
			if (disagree++ < 5) {
				fprintf(stderr, "FAIL: history %ld (seed %llu): zones %d, search %d\n",
				        t, (unsigned long long)seed, zr, sr);
				print_history(ops, n);
			}
			continue;
		}
		verdict[zr]++;
	}
	printf("%s: %ld random histories (seed %llu): %ld linearizable, %ld not, %ld "
	       "disagreements\n",
	       disagree ? "FAIL" : "ok", count, (unsigned long long)seed, verdict[1], verdict[0],
	       disagree);
	fails += disagree != 0;
	/* Both verdicts must be common, or the agreement says little. */
	if (verdict[0] < count / 20 || verdict[1] < count / 20) {
		printf("FAIL: too few of one verdict\n");
		fails++;
	}
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
	long count = argc > 2 ? atol(argv[2]) : 200000;
	check_hands();
	check_random(seed, count);
	return fails != 0;
}
