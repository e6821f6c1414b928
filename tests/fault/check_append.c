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
 * - a read contains every append acknowledged before the read began;
 * - a read contains no append that began after the read returned;
 * - if append a was acknowledged before append b began, and b is in L,
 *   then a is in L before b;
 * - every acknowledged append is in every final read (lost otherwise).
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

struct aread {
	size_t op;
	const char *raw; /* the result as recorded (borrowed) */
	size_t n;        /* tokens */
	char *buf;       /* split_read(): a copy of raw, split at ',' into tok */
	char **tok;
};

static void split_read(struct aread *rd)
{
	if (rd->buf != NULL || rd->n == 0) {
		return;
	}
	rd->buf = strdup(rd->raw);
	if (rd->buf == NULL) {
		abort();
	}
	history_split(rd->buf, ',', &rd->tok);
}

static const struct history *sort_h;

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

static int by_read_start(const void *a, const void *b)
{
	const struct aread *x = a, *y = b;
	int64_t s = sort_h->ops[x->op].start, t = sort_h->ops[y->op].start;
	return s < t ? -1 : s > t;
}

static void op_line(FILE *out, const struct hop *o)
{
	fprintf(out, "    line %d: %s %s %s [%lld, %lld] %s\n", o->line, o->proc, o->id, o->value,
	        (long long)o->start, (long long)o->end,
	        o->outcome == HOP_OK     ? "ok"
	        : o->outcome == HOP_FAIL ? "fail"
	                                 : "unknown");
}

static void check_file(const struct history *h, const char *key, struct check_report *r)
{
	struct tokmap m = {0};
	size_t na = 0, nr = 0;
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
	if (apps == NULL || reads == NULL) {
		abort();
	}
	unsigned anomalies = 0, lost = 0;
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
			struct aread *rd = &reads[nr++];
			rd->op = i;
			rd->raw = o->result;
			rd->n = 0;
			if (strcmp(rd->raw, "_") != 0 && strcmp(rd->raw, "@") != 0) {
				rd->n = 1;
				for (const char *c = rd->raw; (c = strchr(c, ',')) != NULL; c++) {
					rd->n++;
				}
			}
		}
	}
	/*
	 * L = the longest read. Only L and the final reads are split into
	 * tokens: every other read must be a prefix of L, which compares bytes.
	 */
	size_t longest = 0;
	for (size_t k = 0; k < nr; k++) {
		if (reads[k].n > reads[longest].n ||
		    strncmp(h->ops[reads[k].op].proc, "final", 5) == 0) {
			split_read(&reads[k]);
		}
		if (reads[k].n > reads[longest].n) {
			longest = k;
		}
	}
	if (nr > 0) {
		split_read(&reads[longest]);
	}
	/* Tokens of L: known, not failed. */
	for (size_t j = 0; nr > 0 && j < reads[longest].n; j++) {
		struct aread *rd = &reads[longest];
		struct tok *t = tok_get(&m, rd->tok[j], false);
		if (t == NULL || t->op < 0) {
			fprintf(r->out, "appends %s: read holds %s, which nobody appended\n", key,
			        rd->tok[j]);
			op_line(r->out, &h->ops[rd->op]);
			anomalies++;
		} else if (h->ops[t->op].outcome == HOP_FAIL) {
			fprintf(r->out, "appends %s: read holds %s, whose append failed\n", key,
			        rd->tok[j]);
			op_line(r->out, &h->ops[t->op]);
			anomalies++;
		}
	}
	if (anomalies != 0 || nr == 0) {
		goto lost;
	}
	/* A copy: reads[] is sorted below. It shares buf and tok with reads[longest]. */
	struct aread Lcopy = reads[longest];
	struct aread *L = &Lcopy;
	for (size_t j = 0; j < L->n; j++) {
		struct tok *t = tok_get(&m, L->tok[j], false);
		if (t->pos >= 0) {
			fprintf(r->out, "appends %s: read holds %s twice\n", key, L->tok[j]);
			anomalies++;
		}
		t->pos = (int)j;
	}
	for (size_t k = 0; k < nr; k++) {
		struct aread *rd = &reads[k];
		size_t len = strlen(rd->raw);
		if (rd->n == 0 || (strncmp(rd->raw, L->raw, len) == 0 &&
		                   (L->raw[len] == ',' || L->raw[len] == '\0'))) {
			continue;
		}
		fprintf(r->out,
		        "appends %s: a read is not a prefix of the longest read: not one "
		        "order\n",
		        key);
		op_line(r->out, &h->ops[rd->op]);
		op_line(r->out, &h->ops[L->op]);
		anomalies++;
		break;
	}
	if (anomalies != 0) {
		goto lost;
	}
	sort_h = h;
	/* Acknowledged before a read began => in that read. */
	size_t *oks = calloc(na + 1, sizeof(*oks)), nok = 0;
	if (oks == NULL) {
		abort();
	}
	for (size_t k = 0; k < na; k++) {
		if (h->ops[apps[k]].outcome == HOP_OK) {
			oks[nok++] = apps[k];
		}
	}
	qsort(oks, nok, sizeof(*oks), by_end);
	qsort(reads, nr, sizeof(*reads), by_read_start);
	{
		size_t a = 0;
		long maxpos = -1;
		size_t maxop = 0;
		for (size_t k = 0; k < nr; k++) {
			const struct hop *ro = &h->ops[reads[k].op];
			while (a < nok && h->ops[oks[a]].end < ro->start) {
				struct tok *t = tok_get(&m, h->ops[oks[a]].value, false);
				long p = t->pos < 0 ? (long)L->n + 1 : t->pos;
				if (p > maxpos) {
					maxpos = p;
					maxop = oks[a];
				}
				a++;
			}
			if (maxpos >= (long)reads[k].n) {
				fprintf(r->out,
				        "appends %s: a read misses an append acknowledged before "
				        "it began (stale read)\n",
				        key);
				op_line(r->out, &h->ops[maxop]);
				op_line(r->out, ro);
				anomalies++;
				break;
			}
		}
	}
	/* A read holds no append that began after the read returned. */
	{
		int64_t *maxstart = calloc(L->n + 1, sizeof(*maxstart));
		if (maxstart == NULL) {
			abort();
		}
		maxstart[0] = INT64_MIN;
		for (size_t j = 0; j < L->n; j++) {
			int64_t s = h->ops[tok_get(&m, L->tok[j], false)->op].start;
			maxstart[j + 1] = s > maxstart[j] ? s : maxstart[j];
		}
		for (size_t k = 0; k < nr; k++) {
			const struct hop *ro = &h->ops[reads[k].op];
			if (maxstart[reads[k].n] > ro->end) {
				fprintf(r->out,
				        "appends %s: a read holds an append that began after "
				        "the read returned\n",
				        key);
				op_line(r->out, ro);
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
				long p = t->pos < 0 ? (long)L->n + 1 : t->pos;
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
lost:
	/* Every acknowledged append is in every final read (or in L without one). */
	int nfinal = 0;
	for (size_t q = 0; q < nr; q++) {
		if (strncmp(h->ops[reads[q].op].proc, "final", 5) != 0) {
			continue;
		}
		for (size_t j = 0; j < reads[q].n; j++) {
			struct tok *t = tok_get(&m, reads[q].tok[j], false);
			if (t != NULL && t->last_final != nfinal) {
				t->last_final = nfinal;
				t->nfinal++;
			}
		}
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
	for (size_t k = 0; k < nr; k++) {
		free(reads[k].buf);
		free(reads[k].tok);
	}
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
