/* reg_wgl.c: one register's history decided by search (Wing & Gong, with Lowe's cache). */
#include "reg_model.h"

#include <stdlib.h>
#include <string.h>

/*
 * The call/return events in time order in a linked list; repeatedly linearize a pending call
 * whose effect is legal in the current state (lifting it and its return out of the list),
 * backtrack when a return is reached whose call is not linearized, and remember every
 * (linearized set, state) already explored so no configuration is searched twice. Works on
 * any register history, values unique or not; exponential at worst, hence the limit.
 */

struct ev {
	int64_t t;
	int op;    /* index into ops */
	bool ret;  /* return event */
	int match; /* call: index of its return event */
	int prev, next;
};

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

/* The search itself; reg_model.h says what it returns. */
int reg_wgl(const struct rop *ops, size_t n, int init, uint64_t limit, uint64_t *explored,
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
