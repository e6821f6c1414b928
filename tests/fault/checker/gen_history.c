/* gen_history.c: random register histories with a known linearization, for the checker's tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * gen-history SEED OPS_PER_KEY KEYS PROCS [stale|future]
 *
 * Each process runs one op at a time on a random key; every op takes effect
 * at a random instant inside its interval (an unknown write: anywhere after
 * it began, or never), and reads return the value at their instant, so the
 * history is linearizable by construction. With "stale" one read late in
 * the history of each key is changed to a value overwritten (in real time)
 * before it began; with "future" to the value of a write that began after
 * it returned. Either makes the history non-linearizable.
 */

struct op {
	int key, proc, seq;
	int write;   /* 1 write, 0 read */
	int outcome; /* 0 ok, 2 unknown */
	int applied; /* write: took effect */
	int64_t s, e, lin;
	long val; /* write: its value; read: the value read */
};

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int by_lin(const void *a, const void *b)
{
	const struct op *x = *(struct op *const *)a, *y = *(struct op *const *)b;
	return x->lin < y->lin ? -1 : x->lin > y->lin;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: gen-history SEED OPS_PER_KEY KEYS PROCS [stale|future]\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 10) * 0x9e3779b97f4a7c15ULL + 1;
	int per = atoi(argv[2]), keys = atoi(argv[3]), procs = atoi(argv[4]);
	const char *mode = argc > 5 ? argv[5] : "";
	size_t n = (size_t)per * keys;
	struct op *ops = calloc(n, sizeof(*ops));
	struct op **lin = calloc(n, sizeof(*lin));
	int64_t *pt = calloc(procs, sizeof(*pt));
	int *pseq = calloc(procs, sizeof(*pseq));
	if (!ops || !lin || !pt || !pseq) {
		return 2;
	}
	long nextval = 1;
	for (size_t i = 0; i < n; i++) {
		struct op *o = &ops[i];
		o->proc = (int)(next() % procs);
		o->key = (int)(next() % keys);
		o->seq = ++pseq[o->proc];
		o->write = next() % 2;
		o->s = pt[o->proc] + 1 + (int64_t)(next() % 50);
		o->e = o->s + 1 + (int64_t)(next() % 200);
		o->lin = o->s + (int64_t)(next() % (uint64_t)(o->e - o->s));
		o->applied = 1;
		if (o->write) {
			o->val = nextval++;
			if (next() % 20 == 0) {
				o->outcome = 2;
				o->applied = next() % 2;
				o->lin = o->s + (int64_t)(next() % 2000);
			}
		}
		pt[o->proc] = o->e;
		lin[i] = o;
	}
	qsort(lin, n, sizeof(*lin), by_lin);
	long *state = calloc(keys, sizeof(*state));
	for (size_t i = 0; i < n; i++) {
		struct op *o = lin[i];
		if (o->write && o->applied) {
			state[o->key] = o->val;
		} else if (!o->write) {
			o->val = state[o->key];
		}
	}
	for (int k = 0; k < keys && mode[0]; k++) {
		/* A read in the last third of the key's ops. */
		struct op *r = NULL;
		size_t seen = 0, total = 0;
		for (size_t i = 0; i < n; i++) {
			total += ops[i].key == k;
		}
		for (size_t i = 0; i < n && r == NULL; i++) {
			if (ops[i].key == k && ++seen > total * 2 / 3 && !ops[i].write) {
				r = &ops[i];
			}
		}
		if (r == NULL) {
			continue;
		}
		struct op *w2 = NULL, *w1 = NULL, *f = NULL;
		for (size_t i = 0; i < n; i++) {
			struct op *o = &ops[i];
			if (o->key == k && o->write && o->outcome == 0 && o->e < r->s &&
			    (w2 == NULL || o->e > w2->e)) {
				w2 = o;
			}
			if (o->key == k && o->write && o->s > r->e && f == NULL) {
				f = o;
			}
		}
		for (size_t i = 0; w2 != NULL && i < n; i++) {
			struct op *o = &ops[i];
			if (o->key == k && o->write && o->outcome == 0 && o->e < w2->s &&
			    (w1 == NULL || o->e > w1->e)) {
				w1 = o;
			}
		}
		if (strcmp(mode, "stale") == 0 && w1 != NULL) {
			r->val = w1->val;
		} else if (strcmp(mode, "future") == 0 && f != NULL) {
			r->val = f->val;
		}
	}
	for (int k = 0; k < keys; k++) {
		printf("init\ti-%d\treg/r%d\twrite\tv0\t0\t0\tok\t-\n", k, k);
	}
	for (size_t i = 0; i < n; i++) {
		struct op *o = &ops[i];
		char val[32];
		if (!o->write && o->val == 0) {
			strcpy(val, "v0");
		} else {
			snprintf(val, sizeof(val), "v%ld", o->val);
		}
		printf("%d\t%d-%d\treg/r%d\t%s\t%s\t%lld\t%lld\t%s\t%s\n", o->proc, o->proc, o->seq,
		       o->key, o->write ? "write" : "read", o->write ? val : "-",
		       (long long)o->s + 10, (long long)o->e + 10,
		       o->outcome == 0 ? "ok" : "unknown", o->write ? "-" : val);
	}
	free(ops);
	free(lin);
	free(pt);
	free(pseq);
	free(state);
	return 0;
}
