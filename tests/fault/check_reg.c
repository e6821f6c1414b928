/* check_reg.c: per-file linearizability of register histories (Wing & Gong, with Lowe's cache). */
#include "history.h"

#include <stdlib.h>
#include <string.h>

/*
 * Each file is a register checked on its own (linearizability is local:
 * Herlihy & Wing, section 3.3). For one file:
 *
 * - Failed ops did not take effect: dropped. A read that did not return ok
 *   carries no information: dropped.
 * - A write with an unknown outcome took effect at some time after it began,
 *   or never. Values are unique, so if some ok read returned its value it did
 *   take effect, before the earliest such read returned: it becomes a write
 *   that "returned" then. If no read returned its value, taking effect or not
 *   cannot be told apart by any read: dropped (linearizing it changes the
 *   state only to a value nobody read, which a linearization can always avoid).
 *   If its open(O_TRUNC) succeeded but the write did not ("T"), it may have
 *   applied as a truncation alone: when some read returned the empty file,
 *   it stays as an op that empties the file and may return at infinity.
 * - What is left is searched with the Wing-Gong algorithm as Lowe refined it:
 *   the call/return events in time order in a linked list; repeatedly
 *   linearize a pending call whose effect is legal in the current state
 *   (lifting it and its return out of the list), backtrack when a return is
 *   reached whose call is not linearized, and remember every (linearized set,
 *   state) already explored so no configuration is searched twice. The search
 *   is bounded: past the limit the key is reported inconclusive, never passed.
 */

#define INF_NS INT64_MAX

struct rop {
	int64_t call, ret;
	int kind;  /* 0 write: state := val; 1 read: state must equal val */
	int val;   /* interned value */
	size_t hi; /* index of the history op, for reports */
};

struct ev {
	int64_t t;
	int op;    /* index into ops */
	bool ret;  /* return event */
	int match; /* call: index of its return event */
	int prev, next;
};

/* --- string interning per key ------------------------------------------------- */

struct strtab {
	const char **s;
	size_t n, cap;
	int *slots; /* open addressing: index+1 into s, 0 empty */
	size_t nslots;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	return h;
}

static int intern(struct strtab *t, const char *s)
{
	if ((t->n + 1) * 2 > t->nslots) {
		size_t nn = t->nslots ? t->nslots * 2 : 256;
		int *ns = calloc(nn, sizeof(*ns));
		if (ns == NULL) {
			abort();
		}
		for (size_t i = 0; i < t->n; i++) {
			size_t j = str_hash(t->s[i]) & (nn - 1);
			while (ns[j] != 0) {
				j = (j + 1) & (nn - 1);
			}
			ns[j] = (int)i + 1;
		}
		free(t->slots);
		t->slots = ns;
		t->nslots = nn;
	}
	size_t j = str_hash(s) & (t->nslots - 1);
	while (t->slots[j] != 0) {
		if (strcmp(t->s[t->slots[j] - 1], s) == 0) {
			return t->slots[j] - 1;
		}
		j = (j + 1) & (t->nslots - 1);
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->s = realloc(t->s, t->cap * sizeof(*t->s));
		if (t->s == NULL) {
			abort();
		}
	}
	t->s[t->n] = s;
	t->slots[j] = (int)t->n + 1;
	return (int)t->n++;
}

/* --- the cache of explored configurations ------------------------------------- */

struct cache {
	uint64_t *arena; /* entries: [hash, p, state, nwords, words...] */
	size_t used, cap;
	size_t *slots; /* offset+1 into arena, 0 = empty */
	size_t nslots, count;
};

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static void cache_grow(struct cache *c)
{
	size_t nn = c->nslots ? c->nslots * 2 : 1 << 12;
	size_t *ns = calloc(nn, sizeof(*ns));
	if (ns == NULL) {
		abort();
	}
	for (size_t i = 0; i < c->nslots; i++) {
		if (c->slots[i] == 0) {
			continue;
		}
		uint64_t h = c->arena[c->slots[i] - 1];
		size_t j = h & (nn - 1);
		while (ns[j] != 0) {
			j = (j + 1) & (nn - 1);
		}
		ns[j] = c->slots[i];
	}
	free(c->slots);
	c->slots = ns;
	c->nslots = nn;
}

/* Add (p, state, words) unless present. Returns true if it was new. */
static bool cache_add(struct cache *c, uint64_t p, uint64_t state, const uint64_t *w, size_t nw)
{
	uint64_t h = mix(p * 0x9e3779b97f4a7c15ULL ^ mix(state + 1));
	for (size_t i = 0; i < nw; i++) {
		h = mix(h ^ w[i]) + i;
	}
	if ((c->count + 1) * 2 > c->nslots) {
		cache_grow(c);
	}
	size_t j = h & (c->nslots - 1);
	while (c->slots[j] != 0) {
		const uint64_t *e = c->arena + c->slots[j] - 1;
		if (e[0] == h && e[1] == p && e[2] == state && e[3] == nw &&
		    memcmp(e + 4, w, nw * sizeof(*w)) == 0) {
			return false;
		}
		j = (j + 1) & (c->nslots - 1);
	}
	if (c->used + 4 + nw > c->cap) {
		c->cap = (c->cap + 4 + nw) * 2;
		c->arena = realloc(c->arena, c->cap * sizeof(*c->arena));
		if (c->arena == NULL) {
			abort();
		}
	}
	uint64_t *e = c->arena + c->used;
	e[0] = h;
	e[1] = p;
	e[2] = state;
	e[3] = nw;
	memcpy(e + 4, w, nw * sizeof(*w));
	c->slots[j] = c->used + 1;
	c->used += 4 + nw;
	c->count++;
	return true;
}

static void cache_free(struct cache *c)
{
	free(c->arena);
	free(c->slots);
}

/* --- the search --------------------------------------------------------------- */

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	if (x->t != y->t) {
		return x->t < y->t ? -1 : 1;
	}
	/* At equal times calls come first: such ops are treated as concurrent. */
	if (x->ret != y->ret) {
		return x->ret ? 1 : -1;
	}
	return x->op - y->op;
}

static void lift(struct ev *e, int i)
{
	struct ev *c = &e[i], *r = &e[c->match];
	e[c->prev].next = c->next;
	if (c->next >= 0) {
		e[c->next].prev = c->prev;
	}
	e[r->prev].next = r->next;
	if (r->next >= 0) {
		e[r->next].prev = r->prev;
	}
}

static void unlift(struct ev *e, int i)
{
	struct ev *c = &e[i], *r = &e[c->match];
	e[r->prev].next = c->match;
	if (r->next >= 0) {
		e[r->next].prev = c->match;
	}
	e[c->prev].next = i;
	if (c->next >= 0) {
		e[c->next].prev = i;
	}
}

/*
 * Returns 1 linearizable, 0 not (with *blocker the op that could not be
 * placed at the deepest point reached), -1 search limit hit.
 */
static int wgl(const struct rop *ops, size_t n, int init, uint64_t limit, uint64_t *explored,
               int *blocker)
{
	size_t ne = 2 * n + 1;
	struct ev *e = calloc(ne, sizeof(*e));
	size_t nw = (n + 63) / 64 + 1;
	uint64_t *bits = calloc(nw, sizeof(*bits));
	int *stack = calloc(n + 1, sizeof(*stack));
	int *saved = calloc(n + 1, sizeof(*saved));
	if (e == NULL || bits == NULL || stack == NULL || saved == NULL) {
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		e[1 + 2 * i] = (struct ev){.t = ops[i].call, .op = (int)i, .ret = false};
		e[2 + 2 * i] = (struct ev){.t = ops[i].ret, .op = (int)i, .ret = true};
	}
	qsort(e + 1, 2 * n, sizeof(*e), cmp_ev);
	int *retpos = calloc(n, sizeof(*retpos));
	if (retpos == NULL) {
		abort();
	}
	for (size_t i = 1; i < ne; i++) {
		if (e[i].ret) {
			retpos[e[i].op] = (int)i;
		}
	}
	for (size_t i = 0; i < ne; i++) {
		e[i].prev = (int)i - 1;
		e[i].next = i + 1 < ne ? (int)i + 1 : -1;
		if (i > 0 && !e[i].ret) {
			e[i].match = retpos[e[i].op];
		}
	}
	free(retpos);
	/* Ops are indexed by call order for the compact cache key. */
	int *rank = calloc(n, sizeof(*rank));
	if (rank == NULL) {
		abort();
	}
	{
		int k = 0;
		for (size_t i = 1; i < ne; i++) {
			if (!e[i].ret) {
				rank[e[i].op] = k++;
			}
		}
	}

	struct cache cache = {0};
	int state = init, depth = 0, best = -1, rc = 0;
	size_t p = 0, hi = 0; /* lowest unlinearized rank; one past the highest linearized */
	uint64_t steps = 0;
	int cur = e[0].next;
	*blocker = -1;
	for (;;) {
		if (cur < 0) {
			rc = depth == (int)n ? 1 : 0; /* not reached: returns remain */
			break;
		}
		if (++steps > limit) {
			rc = -1;
			break;
		}
		struct ev *x = &e[cur];
		if (!x->ret) {
			const struct rop *o = &ops[x->op];
			int ns;
			bool legal;
			if (o->kind == 0) {
				legal = true;
				ns = o->val;
			} else {
				legal = state == o->val;
				ns = state;
			}
			if (legal) {
				size_t r = (size_t)rank[x->op];
				bits[r / 64] |= 1ULL << (r % 64);
				size_t np = p, nhi = hi > r + 1 ? hi : r + 1;
				while (np < n && (bits[np / 64] >> (np % 64) & 1)) {
					np++;
				}
				size_t w0 = np / 64, w1 = nhi > np ? (nhi + 63) / 64 : w0;
				if (cache_add(&cache, np, (uint64_t)ns, bits + w0, w1 - w0)) {
					stack[depth] = cur;
					saved[depth] = state;
					depth++;
					state = ns;
					p = np;
					hi = nhi;
					lift(e, cur);
					cur = e[0].next;
					continue;
				}
				bits[r / 64] &= ~(1ULL << (r % 64));
			}
			cur = x->next;
		} else {
			/* A return whose call is not linearized: backtrack. */
			if (depth > best) {
				best = depth;
				*blocker = x->op;
			}
			if (depth == 0) {
				rc = 0;
				break;
			}
			depth--;
			int c = stack[depth];
			state = saved[depth];
			size_t r = (size_t)rank[e[c].op];
			bits[r / 64] &= ~(1ULL << (r % 64));
			if (r < p) {
				p = r;
			}
			while (hi > 0 && !(bits[(hi - 1) / 64] >> ((hi - 1) % 64) & 1)) {
				hi--;
			}
			unlift(e, c);
			cur = e[c].next;
		}
	}
	*explored += steps;
	cache_free(&cache);
	free(rank);
	free(e);
	free(bits);
	free(stack);
	free(saved);
	return rc;
}

/* --- per key ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void describe(FILE *out, const struct hop *o)
{
	fprintf(out, "    line %d: %s %s %s %s %s [%lld, %lld] %s -> %s\n", o->line, o->proc, o->id,
	        o->key, o->type == HOP_WRITE ? "write" : "read", o->value, (long long)o->start,
	        (long long)o->end,
	        o->outcome == HOP_OK     ? "ok"
	        : o->outcome == HOP_FAIL ? "fail"
	                                 : "unknown",
	        o->result);
}

static void check_key(const struct history *h, const char *key, struct check_report *r)
{
	struct strtab st = {0};
	int absent = intern(&st, "@"), empty = intern(&st, "_");
	size_t cap = 0, n = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct hop *o = &h->ops[i];
		if ((o->type == HOP_WRITE || o->type == HOP_READ) && strcmp(o->key, key) == 0) {
			cap++;
		}
	}
	struct rop *ops = calloc(cap + 1, sizeof(*ops));
	size_t *idx = calloc(cap + 1, sizeof(*idx));
	if (ops == NULL || idx == NULL) {
		abort();
	}
	for (size_t i = 0, k = 0; i < h->n; i++) {
		const struct hop *o = &h->ops[i];
		if ((o->type == HOP_WRITE || o->type == HOP_READ) && strcmp(o->key, key) == 0) {
			idx[k++] = i;
		}
	}
	/* The earliest return of an ok read of each value; written values. */
	size_t nvals_cap = 2 * cap + 2;
	int64_t *first_read_end = malloc(nvals_cap * sizeof(*first_read_end));
	int *writer = malloc(nvals_cap * sizeof(*writer)); /* -1 none, else index into idx */
	if (first_read_end == NULL || writer == NULL) {
		abort();
	}
	for (size_t v = 0; v < nvals_cap; v++) {
		first_read_end[v] = INF_NS;
		writer[v] = -1;
	}
	bool bad = false;
	for (size_t k = 0; k < cap; k++) {
		const struct hop *o = &h->ops[idx[k]];
		if (o->type == HOP_WRITE) {
			int v = intern(&st, o->value);
			if (writer[v] >= 0 || v == absent || v == empty) {
				fprintf(r->out,
				        "registers %s: value %s written twice (values must be "
				        "unique)\n",
				        key, o->value);
				describe(r->out, o);
				bad = true;
			}
			writer[v] = (int)k;
		} else if (o->outcome == HOP_OK) {
			int v = intern(&st, o->result);
			if (o->end < first_read_end[v]) {
				first_read_end[v] = o->end;
			}
		}
	}
	bool trunc_possible = false;
	for (size_t k = 0; k < cap; k++) {
		const struct hop *o = &h->ops[idx[k]];
		trunc_possible |=
		        o->type == HOP_WRITE && o->outcome != HOP_OK && strcmp(o->result, "T") == 0;
	}
	/* Reads of values that no write could have produced (the first few described). */
	unsigned phantoms = 0;
	for (size_t k = 0; k < cap; k++) {
		const struct hop *o = &h->ops[idx[k]];
		if (o->type != HOP_READ || o->outcome != HOP_OK) {
			continue;
		}
		int v = intern(&st, o->result);
		if (v == absent || (v == empty && trunc_possible)) {
			continue;
		}
		if (writer[v] < 0) {
			if (phantoms++ < 5) {
				fprintf(r->out, "registers %s: read a value never written\n", key);
				describe(r->out, o);
			}
			bad = true;
		} else if (h->ops[idx[writer[v]]].outcome == HOP_FAIL) {
			fprintf(r->out, "registers %s: read the value of a write that failed\n",
			        key);
			describe(r->out, o);
			describe(r->out, &h->ops[idx[writer[v]]]);
			bad = true;
		}
	}
	if (phantoms > 5) {
		fprintf(r->out, "registers %s: ... %u reads of values never written in all\n", key,
		        phantoms);
	}
	if (bad) {
		r->anomalies++;
		goto out;
	}
	for (size_t k = 0; k < cap; k++) {
		const struct hop *o = &h->ops[idx[k]];
		struct rop x = {.call = o->start, .ret = o->end, .hi = idx[k]};
		if (o->outcome == HOP_FAIL) {
			continue;
		}
		if (o->type == HOP_READ) {
			if (o->outcome != HOP_OK) {
				continue;
			}
			x.kind = 1;
			x.val = intern(&st, o->result);
		} else {
			x.kind = 0;
			x.val = intern(&st, o->value);
			if (o->outcome == HOP_UNKNOWN) {
				if (first_read_end[x.val] != INF_NS) {
					x.ret = first_read_end[x.val] > x.call
					                ? first_read_end[x.val]
					                : x.call;
				} else if (strcmp(o->result, "T") == 0 &&
				           first_read_end[empty] != INF_NS) {
					x.val = empty;
					x.ret = INF_NS;
				} else {
					continue;
				}
			}
		}
		if (x.ret < x.call) {
			x.ret = x.call;
		}
		ops[n++] = x;
	}
	uint64_t before = r->explored;
	int blocker;
	int rc = wgl(ops, n, absent, r->search_limit, &r->explored, &blocker);
	if (rc == 0) {
		r->anomalies++;
		fprintf(r->out,
		        "registers %s: not linearizable (%zu ops); no linearization can "
		        "place this op:\n",
		        key, n);
		if (blocker >= 0) {
			const struct rop *b = &ops[blocker];
			describe(r->out, &h->ops[b->hi]);
			fprintf(r->out, "  ops overlapping it or just before:\n");
			int shown = 0;
			for (size_t k = 0; k < n && shown < 12; k++) {
				if (ops[k].ret >= b->call - 50000000 && ops[k].call <= b->ret &&
				    k != (size_t)blocker) {
					describe(r->out, &h->ops[ops[k].hi]);
					shown++;
				}
			}
		}
	} else if (rc < 0) {
		r->inconclusive++;
		fprintf(r->out,
		        "registers %s: search limit hit after %llu configurations (%zu ops): "
		        "inconclusive\n",
		        key, (unsigned long long)(r->explored - before), n);
	}
out:
	free(first_read_end);
	free(writer);
	free(st.s);
	free(st.slots);
	free(ops);
	free(idx);
}

void check_registers(const struct history *h, struct check_report *r)
{
	char **keys = calloc(h->n + 1, sizeof(*keys));
	size_t nk = 0;
	if (keys == NULL) {
		abort();
	}
	for (size_t i = 0; i < h->n; i++) {
		if (h->ops[i].type == HOP_WRITE || h->ops[i].type == HOP_READ) {
			keys[nk++] = h->ops[i].key;
		}
	}
	qsort(keys, nk, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < nk; i++) {
		if (i == 0 || strcmp(keys[i], keys[i - 1]) != 0) {
			check_key(h, keys[i], r);
		}
	}
	free(keys);
}
