/* check_reg.c: per-file linearizability of register histories (Gibbons & Korach, or search). */
#include "history.h"
#include "reg_model.h"

#include <stdlib.h>
#include <string.h>

/*
 * Each file is a register checked on its own (linearizability is local:
 * Herlihy & Wing, section 3.3), from the file absent: a file the workload
 * creates later (a register's next generation, fault_client.c) starts so,
 * and one the set-up wrote starts with its "init" write. For one file:
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
 * - What is left is decided by Gibbons and Korach's test (reg_zones.c) when
 *   every value is written by one op, as the workload's values are: in
 *   O(n log n), whatever the history's length or concurrency. Two kept
 *   truncations write the empty file twice, which that test does not cover:
 *   such a file, and every file when asked (--decider search), is searched
 *   instead (Wing & Gong with Lowe's cache, reg_wgl.c). The search is
 *   bounded: past the limit the key is reported inconclusive, never passed.
 *   --decider both runs both where the test applies and reports a
 *   disagreement as an anomaly.
 */

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

/* --- per key ------------------------------------------------------------------ */

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

/* The search's verdict on one file, reported. Returns its rc (reg_wgl()). */
static int search(const struct history *h, const char *key, const struct rop *ops, size_t n,
                  int init, struct check_report *r, bool report)
{
	uint64_t before = r->explored;
	int blocker;
	int rc = reg_wgl(ops, n, init, r->search_limit, &r->explored, &blocker);
	if (rc == 0 && report) {
		fprintf(r->out,
		        "registers %s: not linearizable (%zu ops, search); no linearization can "
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
	} else if (rc < 0 && report) {
		fprintf(r->out,
		        "registers %s: search limit hit after %llu configurations (%zu ops): "
		        "inconclusive\n",
		        key, (unsigned long long)(r->explored - before), n);
	}
	return rc;
}

/* One op of a zone report: @i indexes @ops, -1 the write of the initial state. */
static void describe_rop(FILE *out, const struct history *h, const struct rop *ops, int i,
                         const char *role)
{
	fprintf(out, "  %s:\n", role);
	if (i < 0) {
		fprintf(out, "    (the initial state: the file absent, before every op)\n");
	} else {
		describe(out, &h->ops[ops[i].hi]);
	}
}

/* A zone's bound: the initial state's begins before every op. */
static const char *zone_time(char *buf, size_t len, int64_t t)
{
	if (t == INT64_MIN) {
		return "-inf";
	}
	if (t == REG_INF) {
		return "inf";
	}
	snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

static void zone_report(const struct history *h, const char *key, const struct rop *ops, size_t n,
                        const struct reg_zone_report *z, FILE *out)
{
	const char *va = z->a >= 0 ? h->ops[ops[z->a].hi].value : "@";
	const char *vb = z->b >= 0 ? h->ops[ops[z->b].hi].value : "@";
	char t[4][24];
	const char *af = zone_time(t[0], sizeof(t[0]), z->a_from);
	const char *at = zone_time(t[1], sizeof(t[1]), z->a_to);
	const char *bf = zone_time(t[2], sizeof(t[2]), z->b_from);
	const char *bt = zone_time(t[3], sizeof(t[3]), z->b_to);
	switch (z->fault) {
	case REG_ZONE_READ_BEFORE_WRITE:
		fprintf(out,
		        "registers %s: not linearizable (%zu ops, zones): a read returned %s "
		        "before its write was called\n",
		        key, n, h->ops[ops[z->b].hi].value);
		describe_rop(out, h, ops, z->a, "the read");
		describe_rop(out, h, ops, z->b, "the write");
		return;
	case REG_ZONE_FORWARD_OVERLAP:
		fprintf(out,
		        "registers %s: not linearizable (%zu ops, zones): %s must hold over "
		        "[%s, %s] and %s over [%s, %s] (forward zones: from the first return "
		        "of a value's ops to the last call), and those overlap\n",
		        key, n, va, af, at, vb, bf, bt);
		break;
	case REG_ZONE_BACKWARD_IN_FORWARD:
		fprintf(out,
		        "registers %s: not linearizable (%zu ops, zones): %s must hold over "
		        "[%s, %s] (its forward zone), but every op of %s lies inside it "
		        "(backward zone [%s, %s]): a stale read of %s\n",
		        key, n, va, af, at, vb, bf, bt, va);
		break;
	default:
		return;
	}
	describe_rop(out, h, ops, z->a, "the write of the first value");
	if (z->a_first != z->a) {
		describe_rop(out, h, ops, z->a_first, "its op that returned first");
	}
	if (z->a_last != z->a) {
		describe_rop(out, h, ops, z->a_last, "its op called last");
	}
	describe_rop(out, h, ops, z->b, "the write of the second value");
	if (z->b_first != z->b) {
		describe_rop(out, h, ops, z->b_first, "its op that returned first");
	}
	if (z->b_last != z->b) {
		describe_rop(out, h, ops, z->b_last, "its op called last");
	}
}

/* Decide one file's history (what is left of it, @ops) and count the verdict in @r. */
static void decide(const struct history *h, const char *key, const struct rop *ops, size_t n,
                   int init, struct check_report *r)
{
	int rc = -1;
	struct reg_zone_report z;
	if (r->reg_decider != REG_DECIDE_SEARCH) {
		rc = reg_zones(ops, n, init, &z);
	}
	if (rc < 0) {
		r->reg_keys_search++;
		rc = search(h, key, ops, n, init, r, true);
	} else {
		r->reg_keys_zones++;
		if (rc == 0) {
			zone_report(h, key, ops, n, &z, r->out);
		}
		if (r->reg_decider == REG_DECIDE_BOTH) {
			int s = search(h, key, ops, n, init, r, false);
			if (s >= 0 && s != rc) {
				r->anomalies++;
				fprintf(r->out,
				        "registers %s: the deciders disagree (%zu ops): zones say %s, "
				        "the search %s\n",
				        key, n, rc ? "linearizable" : "not",
				        s ? "linearizable" : "not");
			}
		}
	}
	if (rc == 0) {
		r->anomalies++;
	} else if (rc < 0) {
		r->inconclusive++;
	}
}

/*
 * One file's ops: @idx[0..@cap) index the register ops of @h on @key, in history order
 * (borrowed).
 */
static void check_key(const struct history *h, const char *key, const size_t *idx, size_t cap,
                      struct check_report *r)
{
	struct strtab st = {0};
	int absent = intern(&st, "@"), empty = intern(&st, "_");
	size_t n = 0;
	struct rop *ops = calloc(cap + 1, sizeof(*ops));
	if (ops == NULL) {
		abort();
	}
	/* The earliest return of an ok read of each value; written values. */
	size_t nvals_cap = 2 * cap + 2;
	int64_t *first_read_end = malloc(nvals_cap * sizeof(*first_read_end));
	int *writer = malloc(nvals_cap * sizeof(*writer)); /* -1 none, else index into idx */
	if (first_read_end == NULL || writer == NULL) {
		abort();
	}
	for (size_t v = 0; v < nvals_cap; v++) {
		first_read_end[v] = REG_INF;
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
				if (first_read_end[x.val] != REG_INF) {
					x.ret = first_read_end[x.val] > x.call
					                ? first_read_end[x.val]
					                : x.call;
				} else if (strcmp(o->result, "T") == 0 &&
				           first_read_end[empty] != REG_INF) {
					x.val = empty;
					x.ret = REG_INF;
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
	decide(h, key, ops, n, absent, r);
out:
	free(first_read_end);
	free(writer);
	free(st.s);
	free(st.slots);
	free(ops);
}

/* Register ops first grouped by file, each file in history order. */
static const struct history *sort_h;

static int by_key_then_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(sort_h->ops[x].key, sort_h->ops[y].key);
	if (c != 0) {
		return c;
	}
	return x < y ? -1 : x > y;
}

void check_registers(const struct history *h, struct check_report *r)
{
	size_t *idx = calloc(h->n + 1, sizeof(*idx));
	size_t ni = 0;
	if (idx == NULL) {
		abort();
	}
	for (size_t i = 0; i < h->n; i++) {
		if (h->ops[i].type == HOP_WRITE || h->ops[i].type == HOP_READ) {
			idx[ni++] = i;
		}
	}
	sort_h = h;
	qsort(idx, ni, sizeof(*idx), by_key_then_index);
	for (size_t i = 0, j; i < ni; i = j) {
		const char *key = h->ops[idx[i]].key;
		for (j = i + 1; j < ni && strcmp(h->ops[idx[j]].key, key) == 0; j++) {
		}
		check_key(h, key, idx + i, j - i, r);
	}
	free(idx);
}
