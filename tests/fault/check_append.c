/* check_append.c: the append-log checker: reads are prefixes of one order that respects real time.
 */
#include "history.h"

#include <stdlib.h>
#include <string.h>

/*
 * For each file written with O_APPEND (one unique token per line):
 *
 * - no read holds a token twice, a token nobody appended to this file, or
 *   the token of an append that failed;
 * - every read is a prefix of the longest read L (so any two reads are
 *   prefixes of one another: the file only grows, in one order);
 * - a read that began after another returned holds at least as many tokens
 *   (with the above: every read is a prefix of every later read);
 * - a read contains every append acknowledged before the read began;
 * - a read contains no append that began after the read returned;
 * - if append a was acknowledged before append b began, and b is in L,
 *   then a is in L before b;
 * - every acknowledged append is in every final read (lost otherwise).
 *
 * Reads are mostly recorded compactly (history.h: "=K/HASH,tail"): the first
 * K tokens as the hash of what the same process read last time. Only L and
 * the final reads are rebuilt token by token, from their process's chain of
 * records. Any other read is a prefix of L iff its hash equals the hash of
 * L's first K tokens and its tail equals L's next tokens; after that a read
 * is just its length. So checking costs the size of the history, not the
 * sum of the lengths of every read.
 */

struct tok {
	const char *s;
	int op;                 /* index into the history of the append of this token, -1 none */
	int pos;                /* position in L, -1 if absent */
	int nfinal, last_final; /* final reads holding it; the last one counted */
};

struct tokmap {
	struct tok *t;
	size_t n, nslots;
};

static uint64_t hstr(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	}
	return h;
}

static struct tok *tok_get(struct tokmap *m, const char *s, bool add)
{
	if (add && (m->n + 1) * 2 > m->nslots) {
		size_t nn = m->nslots ? m->nslots * 2 : 1024;
		struct tok *nt = calloc(nn, sizeof(*nt));
		if (nt == NULL) {
			abort();
		}
		for (size_t i = 0; i < m->nslots; i++) {
			if (m->t[i].s == NULL) {
				continue;
			}
			size_t j = hstr(m->t[i].s) & (nn - 1);
			while (nt[j].s != NULL) {
				j = (j + 1) & (nn - 1);
			}
			nt[j] = m->t[i];
		}
		free(m->t);
		m->t = nt;
		m->nslots = nn;
	}
	if (m->nslots == 0) {
		return NULL;
	}
	size_t j = hstr(s) & (m->nslots - 1);
	while (m->t[j].s != NULL) {
		if (strcmp(m->t[j].s, s) == 0) {
			return &m->t[j];
		}
		j = (j + 1) & (m->nslots - 1);
	}
	if (!add) {
		return NULL;
	}
	m->t[j] = (struct tok){.s = s, .op = -1, .pos = -1, .last_final = -1};
	m->n++;
	return &m->t[j];
}

#define NONE ((size_t)-1)

struct aread {
	size_t op;        /* index into the history */
	size_t prev;      /* index into reads[] of its process's previous read of the file, NONE */
	size_t k;         /* leading tokens recorded as a hash of prev's; 0: recorded whole */
	uint64_t hash;    /* history_prefix_hash() of those k tokens */
	const char *tail; /* the tokens after the first k, joined by ',' ("" none; borrowed) */
	size_t n;         /* tokens in the read: k + those in tail */
};

/* The tokens of one rebuilt read: pointers into bufs, which this owns. */
struct toks {
	char **v;
	size_t n, cap;
	char **bufs;
	size_t nbufs;
};

static void toks_free(struct toks *t)
{
	for (size_t i = 0; i < t->nbufs; i++) {
		free(t->bufs[i]);
	}
	free(t->bufs);
	free(t->v);
	*t = (struct toks){0};
}

/* Parse a read's RESULT into @rd. Returns false if it is not a read's encoding. */
static bool parse_read(const char *res, struct aread *rd)
{
	rd->k = 0;
	rd->hash = 0;
	rd->tail = res;
	if (strcmp(res, "_") == 0 || strcmp(res, "@") == 0) {
		rd->tail = "";
	} else if (res[0] == '=') {
		char *end;
		unsigned long long k = strtoull(res + 1, &end, 10);
		if (end == res + 1 || k == 0 || *end != '/') {
			return false;
		}
		const char *hx = end + 1;
		rd->hash = strtoull(hx, &end, 16);
		if (end != hx + 16 || (*end != '\0' && *end != ',')) {
			return false;
		}
		rd->k = (size_t)k;
		rd->tail = *end == ',' ? end + 1 : "";
		if (*end == ',' && *rd->tail == '\0') {
			return false;
		}
	}
	size_t nt = 0;
	if (*rd->tail != '\0') {
		nt = 1;
		for (const char *c = rd->tail; (c = strchr(c, ',')) != NULL; c++) {
			nt++;
		}
	}
	rd->n = rd->k + nt;
	return true;
}

/* Rebuild read @i from its process's chain of records (checked: each k <= prev's n). */
static void rebuild(const struct aread *reads, size_t i, struct toks *t)
{
	size_t depth = 0;
	for (size_t c = i; c != NONE && reads[c].k > 0; c = reads[c].prev) {
		depth++;
	}
	size_t *chain = calloc(depth + 1, sizeof(*chain));
	if (chain == NULL) {
		abort();
	}
	size_t c = i;
	for (size_t d = depth + 1; d-- > 0; c = reads[c].prev) {
		chain[d] = c;
	}
	*t = (struct toks){0};
	t->bufs = calloc(depth + 1, sizeof(*t->bufs));
	if (t->bufs == NULL) {
		abort();
	}
	for (size_t d = 0; d <= depth; d++) {
		const struct aread *rd = &reads[chain[d]];
		t->n = rd->k;
		if (*rd->tail == '\0') {
			continue;
		}
		char *buf = strdup(rd->tail), **v;
		if (buf == NULL) {
			abort();
		}
		t->bufs[t->nbufs++] = buf;
		size_t nv = history_split(buf, ',', &v);
		if (t->n + nv > t->cap) {
			t->cap = (t->n + nv) * 2;
			t->v = realloc(t->v, t->cap * sizeof(*t->v));
			if (t->v == NULL) {
				abort();
			}
		}
		memcpy(t->v + t->n, v, nv * sizeof(*v));
		t->n += nv;
		free(v);
	}
	free(chain);
}

/*
 * Is read @rd the first rd->n tokens of L? @hl[j] is the hash of L's first j
 * tokens. Returns NULL if so, otherwise how it differs; *@at is the first
 * token that differs.
 */
static const char *not_prefix(const struct aread *rd, const struct toks *L, const uint64_t *hl,
                              size_t *at)
{
	*at = 0;
	if (rd->n > L->n) {
		*at = L->n;
		return "longer";
	}
	if (rd->k > 0 && hl[rd->k] != rd->hash) {
		return "its first tokens (recorded as a hash) differ";
	}
	const char *c = rd->tail;
	for (size_t j = rd->k; j < rd->n; j++) {
		size_t len = strlen(L->v[j]);
		if (strncmp(c, L->v[j], len) != 0 || (c[len] != ',' && c[len] != '\0')) {
			*at = j;
			return "a token differs";
		}
		c += len + (c[len] == ',');
	}
	return NULL;
}

static const struct history *sort_h;
static const struct aread *sort_reads;

static int by_end(const void *a, const void *b)
{
	int64_t x = sort_h->ops[*(const size_t *)a].end, y = sort_h->ops[*(const size_t *)b].end;
	return x < y ? -1 : x > y;
}

static int by_start(const void *a, const void *b)
{
	int64_t x = sort_h->ops[*(const size_t *)a].start,
	        y = sort_h->ops[*(const size_t *)b].start;
	return x < y ? -1 : x > y;
}

/* Indices into sort_reads[], by the start or the end of their op. */
static int by_read_start(const void *a, const void *b)
{
	size_t x = sort_reads[*(const size_t *)a].op, y = sort_reads[*(const size_t *)b].op;
	return by_start(&x, &y);
}

static int by_read_end(const void *a, const void *b)
{
	size_t x = sort_reads[*(const size_t *)a].op, y = sort_reads[*(const size_t *)b].op;
	return by_end(&x, &y);
}

static void op_line(FILE *out, const struct hop *o)
{
	fprintf(out, "    line %d: %s %s %s [%lld, %lld] %s\n", o->line, o->proc, o->id, o->value,
	        (long long)o->start, (long long)o->end,
	        o->outcome == HOP_OK     ? "ok"
	        : o->outcome == HOP_FAIL ? "fail"
	                                 : "unknown");
}

static void read_line(FILE *out, const struct history *h, const struct aread *rd)
{
	const struct hop *o = &h->ops[rd->op];
	fprintf(out, "    line %d: %s %s read %zu tokens [%lld, %lld]\n", o->line, o->proc, o->id,
	        rd->n, (long long)o->start, (long long)o->end);
}

static bool is_final(const struct history *h, const struct aread *rd)
{
	return strncmp(h->ops[rd->op].proc, "final", 5) == 0;
}

/* The last read of each process so far, to link a read to its process's previous one. */
struct last_read {
	const char *proc;
	size_t read;
};

static void check_file(const struct history *h, const char *key, struct check_report *r)
{
	struct tokmap m = {0};
	size_t na = 0, nr = 0, nlast = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct hop *o = &h->ops[i];
		if (strcmp(o->key, key) != 0) {
			continue;
		}
		na += o->type == HOP_APPEND;
		nr += o->type == HOP_AREAD && o->outcome == HOP_OK;
	}
	size_t *apps = calloc(na + 1, sizeof(*apps));
	struct aread *reads = calloc(nr + 1, sizeof(*reads));
	struct last_read *last = calloc(nr + 1, sizeof(*last));
	if (apps == NULL || reads == NULL || last == NULL) {
		abort();
	}
	unsigned anomalies = 0, lost = 0;
	struct toks L = {0};
	uint64_t *hl = NULL;
	na = nr = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct hop *o = &h->ops[i];
		if (strcmp(o->key, key) != 0) {
			continue;
		}
		if (o->type == HOP_APPEND) {
			struct tok *t = tok_get(&m, o->value, true);
			if (t->op >= 0) {
				fprintf(r->out,
				        "appends %s: token %s appended twice (tokens must be "
				        "unique)\n",
				        key, o->value);
				anomalies++;
			}
			t->op = (int)i;
			apps[na++] = i;
		} else if (o->type == HOP_AREAD && o->outcome == HOP_OK) {
			struct aread *rd = &reads[nr];
			rd->op = i;
			rd->prev = NONE;
			size_t q = 0;
			while (q < nlast && strcmp(last[q].proc, o->proc) != 0) {
				q++;
			}
			if (q < nlast) {
				rd->prev = last[q].read;
			} else {
				last[nlast++].proc = o->proc;
			}
			last[q].read = nr;
			if (!parse_read(o->result, rd)) {
				fprintf(r->out,
				        "appends %s: line %d: a read recorded as \"%.40s\", not "
				        "a read's encoding\n",
				        key, o->line, o->result);
				anomalies++;
				*rd = (struct aread){.op = i, .prev = rd->prev, .tail = ""};
			} else if (rd->k > 0 && (rd->prev == NONE || reads[rd->prev].n < rd->k)) {
				size_t had = rd->prev == NONE ? 0 : reads[rd->prev].n;
				fprintf(r->out,
				        "appends %s: line %d: a read takes %zu tokens from its "
				        "process's previous read, which had %zu\n",
				        key, o->line, rd->k, had);
				anomalies++;
				*rd = (struct aread){.op = i, .prev = rd->prev, .tail = ""};
			}
			nr++;
		}
	}
	if (anomalies != 0 || nr == 0) {
		goto lost;
	}
	/* L = the longest read (the first of them), rebuilt whole. */
	size_t longest = 0;
	for (size_t k = 1; k < nr; k++) {
		if (reads[k].n > reads[longest].n) {
			longest = k;
		}
	}
	rebuild(reads, longest, &L);
	/* Tokens of L: known, not failed, once. */
	for (size_t j = 0; j < L.n; j++) {
		struct tok *t = tok_get(&m, L.v[j], false);
		if (t == NULL || t->op < 0) {
			fprintf(r->out, "appends %s: read holds %s, which nobody appended\n", key,
			        L.v[j]);
			read_line(r->out, h, &reads[longest]);
			anomalies++;
		} else if (h->ops[t->op].outcome == HOP_FAIL) {
			fprintf(r->out, "appends %s: read holds %s, whose append failed\n", key,
			        L.v[j]);
			op_line(r->out, &h->ops[t->op]);
			anomalies++;
		} else if (t->pos >= 0) {
			fprintf(r->out, "appends %s: read holds %s twice\n", key, L.v[j]);
			read_line(r->out, h, &reads[longest]);
			anomalies++;
		} else {
			t->pos = (int)j;
		}
	}
	if (anomalies != 0) {
		goto lost;
	}
	hl = calloc(L.n + 1, sizeof(*hl));
	if (hl == NULL) {
		abort();
	}
	hl[0] = HISTORY_HASH_INIT;
	for (size_t j = 0; j < L.n; j++) {
		hl[j + 1] = history_prefix_hash(hl[j], L.v[j], strlen(L.v[j]));
	}
	for (size_t k = 0; k < nr; k++) {
		size_t at;
		const char *why = not_prefix(&reads[k], &L, hl, &at);
		if (why == NULL) {
			continue;
		}
		fprintf(r->out,
		        "appends %s: a read is not a prefix of the longest read: not one order "
		        "(%s, at token %zu)\n",
		        key, why, at);
		read_line(r->out, h, &reads[k]);
		read_line(r->out, h, &reads[longest]);
		anomalies++;
		break;
	}
	if (anomalies != 0) {
		goto lost;
	}
	sort_h = h;
	sort_reads = reads;
	size_t *rs = calloc(nr + 1, sizeof(*rs)), *re = calloc(nr + 1, sizeof(*re));
	size_t *oks = calloc(na + 1, sizeof(*oks)), nok = 0;
	if (rs == NULL || re == NULL || oks == NULL) {
		abort();
	}
	for (size_t k = 0; k < nr; k++) {
		rs[k] = re[k] = k;
	}
	qsort(rs, nr, sizeof(*rs), by_read_start);
	qsort(re, nr, sizeof(*re), by_read_end);
	for (size_t k = 0; k < na; k++) {
		if (h->ops[apps[k]].outcome == HOP_OK) {
			oks[nok++] = apps[k];
		}
	}
	qsort(oks, nok, sizeof(*oks), by_end);
	/* Acknowledged before a read began => in that read. */
	{
		size_t a = 0;
		long maxpos = -1;
		size_t maxop = 0;
		for (size_t k = 0; k < nr; k++) {
			const struct aread *rd = &reads[rs[k]];
			const struct hop *ro = &h->ops[rd->op];
			while (a < nok && h->ops[oks[a]].end < ro->start) {
				struct tok *t = tok_get(&m, h->ops[oks[a]].value, false);
				long p = t->pos < 0 ? (long)L.n + 1 : t->pos;
				if (p > maxpos) {
					maxpos = p;
					maxop = oks[a];
				}
				a++;
			}
			if (maxpos >= (long)rd->n) {
				fprintf(r->out,
				        "appends %s: a read misses an append acknowledged before "
				        "it began (stale read)\n",
				        key);
				op_line(r->out, &h->ops[maxop]);
				read_line(r->out, h, rd);
				anomalies++;
				break;
			}
		}
	}
	/* A read that began after another returned holds at least as much: the file grows. */
	{
		size_t e = 0, maxr = NONE;
		for (size_t k = 0; k < nr; k++) {
			const struct aread *rd = &reads[rs[k]];
			while (e < nr && h->ops[reads[re[e]].op].end < h->ops[rd->op].start) {
				if (maxr == NONE || reads[re[e]].n > reads[maxr].n) {
					maxr = re[e];
				}
				e++;
			}
			if (maxr != NONE && reads[maxr].n > rd->n) {
				fprintf(r->out,
				        "appends %s: a read holds less than a read that returned "
				        "before it began (the file went back)\n",
				        key);
				read_line(r->out, h, &reads[maxr]);
				read_line(r->out, h, rd);
				anomalies++;
				break;
			}
		}
	}
	/* A read holds no append that began after the read returned. */
	{
		int64_t *maxstart = calloc(L.n + 1, sizeof(*maxstart));
		if (maxstart == NULL) {
			abort();
		}
		maxstart[0] = INT64_MIN;
		for (size_t j = 0; j < L.n; j++) {
			int64_t s = h->ops[tok_get(&m, L.v[j], false)->op].start;
			maxstart[j + 1] = s > maxstart[j] ? s : maxstart[j];
		}
		for (size_t k = 0; k < nr; k++) {
			const struct hop *ro = &h->ops[reads[k].op];
			if (maxstart[reads[k].n] > ro->end) {
				fprintf(r->out,
				        "appends %s: a read holds an append that began after "
				        "the read returned\n",
				        key);
				read_line(r->out, h, &reads[k]);
				anomalies++;
				break;
			}
		}
		free(maxstart);
	}
	/* Real-time order: a acknowledged before b began, b in L => a before b in L. */
	{
		size_t *all = calloc(na + 1, sizeof(*all));
		if (all == NULL) {
			abort();
		}
		memcpy(all, apps, na * sizeof(*all));
		qsort(all, na, sizeof(*all), by_start);
		size_t a = 0, maxop = 0;
		long maxpos = -1;
		for (size_t k = 0; k < na; k++) {
			const struct hop *b = &h->ops[all[k]];
			while (a < nok && h->ops[oks[a]].end < b->start) {
				struct tok *t = tok_get(&m, h->ops[oks[a]].value, false);
				long p = t->pos < 0 ? (long)L.n + 1 : t->pos;
				if (p > maxpos) {
					maxpos = p;
					maxop = oks[a];
				}
				a++;
			}
			struct tok *tb = tok_get(&m, b->value, false);
			if (tb->pos >= 0 && maxpos >= tb->pos) {
				fprintf(r->out,
				        "appends %s: order violates real time: the first was "
				        "acknowledged before the second began, but comes "
				        "after it (or is missing)\n",
				        key);
				op_line(r->out, &h->ops[maxop]);
				op_line(r->out, b);
				anomalies++;
				break;
			}
		}
		free(all);
	}
	free(oks);
	free(rs);
	free(re);
lost:;
	/* Every acknowledged append is in every final read (or in L without one). */
	int nfinal = 0;
	for (size_t q = 0; q < nr; q++) {
		if (!is_final(h, &reads[q])) {
			continue;
		}
		struct toks f;
		rebuild(reads, q, &f);
		for (size_t j = 0; j < f.n; j++) {
			struct tok *t = tok_get(&m, f.v[j], false);
			if (t != NULL && t->last_final != nfinal) {
				t->last_final = nfinal;
				t->nfinal++;
			}
		}
		toks_free(&f);
		nfinal++;
	}
	for (size_t k = 0; k < na; k++) {
		const struct hop *o = &h->ops[apps[k]];
		if (o->outcome != HOP_OK) {
			continue;
		}
		struct tok *t = tok_get(&m, o->value, false);
		bool missing = nfinal > 0 ? t->nfinal < nfinal : t->pos < 0;
		if (missing) {
			if (lost < 10) {
				fprintf(r->out, "appends %s: acknowledged append %s lost\n", key,
				        o->value);
				op_line(r->out, o);
			}
			lost++;
		}
	}
	r->anomalies += anomalies;
	r->lost += lost;
	toks_free(&L);
	free(hl);
	free(last);
	free(reads);
	free(apps);
	free(m.t);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void check_appends(const struct history *h, struct check_report *r)
{
	char **keys = calloc(h->n + 1, sizeof(*keys));
	size_t nk = 0;
	if (keys == NULL) {
		abort();
	}
	for (size_t i = 0; i < h->n; i++) {
		if (h->ops[i].type == HOP_APPEND || h->ops[i].type == HOP_AREAD) {
			keys[nk++] = h->ops[i].key;
		}
	}
	qsort(keys, nk, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < nk; i++) {
		if (i == 0 || strcmp(keys[i], keys[i - 1]) != 0) {
			check_file(h, keys[i], r);
		}
	}
	free(keys);
}
