/* gen_appends.c: random append histories, correct by construction, for the checker's tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../history.h"

/*
 * gen-appends SEED APPENDS_PER_FILE FILES PROCS [stale|swap]
 *
 * PROCS processes each run one op at a time on a random file: 60% appends
 * of a unique token, 40% whole-file reads. Each op takes effect at a random
 * instant inside its interval (an unknown append: anywhere after it began,
 * or never; a failed one never), and a read returns the file as it was at
 * its instant, so the history is correct by construction. Reads are written
 * the way fault-client writes them: against the process's previous read of
 * the file ("=K/HASH,tail", history.h). Then one final read per file.
 *
 * With "stale" one read late in each file's history is cut short so that it
 * misses an append acknowledged before it began; with "swap" two tokens of
 * one read are exchanged (not a prefix of the longest read). Either must
 * fail the check.
 */

struct op {
	int proc, seq, file;
	int append;       /* 1 append, 0 read */
	int outcome;      /* 0 ok, 1 fail, 2 unknown */
	int64_t s, e, at; /* at: when it took effect; -1 never */
	long pos;         /* append: its position in the file, -1 if absent; read: tokens read */
	int swap;         /* read: tokens pos-2 and pos-3 exchanged */
};

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int by_at(const void *a, const void *b)
{
	const struct op *x = *(struct op *const *)a, *y = *(struct op *const *)b;
	return x->at < y->at ? -1 : x->at > y->at;
}

static int by_proc(const void *a, const void *b)
{
	const struct op *x = a, *y = b;
	return x->proc != y->proc ? (x->proc > y->proc) - (x->proc < y->proc)
	                          : (x->seq > y->seq) - (x->seq < y->seq);
}

static void token(char *buf, size_t len, const struct op *o)
{
	snprintf(buf, len, "p%d-%d", o->proc, o->seq);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr,
		        "usage: gen-appends SEED APPENDS_PER_FILE FILES PROCS [stale|swap]\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 10) * 0x9e3779b97f4a7c15ULL + 1;
	long per = atol(argv[2]);
	int files = atoi(argv[3]), procs = atoi(argv[4]);
	const char *mode = argc > 5 ? argv[5] : "";
	size_t n = (size_t)(per * files * 10 / 6);
	struct op *ops = calloc(n, sizeof(*ops));
	struct op **eff = calloc(n, sizeof(*eff));
	int64_t *pt = calloc((size_t)procs, sizeof(*pt));
	int *pseq = calloc((size_t)procs, sizeof(*pseq));
	if (ops == NULL || eff == NULL || pt == NULL || pseq == NULL) {
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		struct op *o = &ops[i];
		int p = (int)(next() % (uint64_t)procs);
		o->proc = p + 1;
		o->seq = ++pseq[p];
		o->file = (int)(next() % (uint64_t)files);
		o->append = next() % 10 < 6;
		o->s = pt[p] + 1 + (int64_t)(next() % 50);
		o->e = o->s + 1 + (int64_t)(next() % 200);
		pt[p] = o->e;
		o->at = o->s + (int64_t)(next() % (uint64_t)(o->e - o->s + 1));
		o->pos = -1;
		if (o->append) {
			uint64_t x = next() % 100;
			if (x < 1) {
				o->outcome = 1;
				o->at = -1;
			} else if (x < 4) {
				o->outcome = 2;
				o->at = next() % 2 ? -1 : o->s + (int64_t)(next() % 600);
			}
		}
	}
	/* Apply in effect order (appends before reads at the same instant: either is fine). */
	size_t ne = 0;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].at >= 0) {
			eff[ne++] = &ops[i];
		}
	}
	qsort(eff, ne, sizeof(*eff), by_at);
	long *len = calloc((size_t)files, sizeof(*len));
	char ***log = calloc((size_t)files, sizeof(*log));
	for (int f = 0; f < files; f++) {
		log[f] = calloc(n + 1, sizeof(**log));
	}
	for (size_t i = 0; i < ne; i++) {
		struct op *o = eff[i];
		if (o->append) {
			char tok[32];
			token(tok, sizeof(tok), o);
			o->pos = len[o->file];
			log[o->file][len[o->file]++] = strdup(tok);
		} else {
			o->pos = len[o->file];
		}
	}
	/* Corrupt one read per file, late in the history (by its instant). */
	int stale = strcmp(mode, "stale") == 0, swap = strcmp(mode, "swap") == 0;
	for (int f = 0; f < files && (stale || swap); f++) {
		for (size_t i = ne * 9 / 10; i < ne; i++) {
			struct op *r = eff[i];
			if (r->append || r->file != f || r->pos < 3) {
				continue;
			}
			if (swap) {
				r->swap = 1;
				break;
			}
			/* The latest position of an append acknowledged before r began. */
			long maxpos = -1;
			for (size_t k = 0; k < n; k++) {
				const struct op *a = &ops[k];
				if (a->append && a->file == f && a->outcome == 0 && a->e < r->s &&
				    a->pos > maxpos) {
					maxpos = a->pos;
				}
			}
			if (maxpos >= 0) {
				r->pos = maxpos;
				break;
			}
		}
	}
	/* Tokens of the first j entries of each file, hashed. */
	uint64_t **hl = calloc((size_t)files, sizeof(*hl));
	for (int f = 0; f < files; f++) {
		hl[f] = calloc((size_t)len[f] + 1, sizeof(**hl));
		hl[f][0] = HISTORY_HASH_INIT;
		for (long j = 0; j < len[f]; j++) {
			hl[f][j + 1] = history_prefix_hash(hl[f][j], log[f][j], strlen(log[f][j]));
		}
	}
	/* Write each process's ops in its order; reads against its previous read of the file. */
	qsort(ops, n, sizeof(*ops), by_proc);
	long *prevlen = calloc((size_t)files, sizeof(*prevlen));
	int *prevswap = calloc((size_t)files, sizeof(*prevswap));
	static const char *const outcome[] = {"ok", "fail", "unknown"};
	for (size_t i = 0; i < n; i++) {
		const struct op *o = &ops[i];
		char tok[32];
		if (i == 0 || ops[i - 1].proc != o->proc) {
			memset(prevlen, 0, (size_t)files * sizeof(*prevlen));
		}
		if (o->append) {
			token(tok, sizeof(tok), o);
			printf("%d\t%d-%d\tapp/a%d\tappend\t%s\t%lld\t%lld\t%s\t-\n", o->proc,
			       o->proc, o->seq, o->file, tok, (long long)o->s, (long long)o->e,
			       outcome[o->outcome]);
			continue;
		}
		/* Tokens shared with the previous read: a swap in either moves the first
		 * difference. */
		long k = o->pos < prevlen[o->file] ? o->pos : prevlen[o->file];
		if (o->swap && k > o->pos - 3) {
			k = o->pos - 3;
		}
		if (prevswap[o->file] && k > prevlen[o->file] - 3) {
			k = prevlen[o->file] - 3;
		}
		printf("%d\t%d-%d\tapp/a%d\taread\t-\t%lld\t%lld\tok\t", o->proc, o->proc, o->seq,
		       o->file, (long long)o->s, (long long)o->e);
		if (k > 0) {
			printf("=%ld/%016llx", k, (unsigned long long)hl[o->file][k]);
		} else if (o->pos == 0) {
			printf("_");
		}
		for (long j = k; j < o->pos; j++) {
			long t = j;
			if (o->swap && j == o->pos - 3) {
				t = j + 1;
			} else if (o->swap && j == o->pos - 2) {
				t = j - 1;
			}
			printf("%s%s", j > 0 || k > 0 ? "," : "", log[o->file][t]);
		}
		printf("\n");
		prevlen[o->file] = o->pos;
		prevswap[o->file] = o->swap;
	}
	int64_t end = 0;
	for (size_t i = 0; i < n; i++) {
		end = ops[i].e > end ? ops[i].e : end;
		end = ops[i].at > end ? ops[i].at : end;
	}
	for (int f = 0; f < files; f++) {
		printf("final1\tf1-%d\tapp/a%d\taread\t-\t%lld\t%lld\tok\t", f, f,
		       (long long)end + 100, (long long)end + 101);
		for (long j = 0; j < len[f]; j++) {
			printf("%s%s", j > 0 ? "," : "", log[f][j]);
		}
		printf("%s\n", len[f] == 0 ? "_" : "");
	}
	/* Freed, so that a leak check at exit (ASan) finds nothing to report:
	 * it would exit before stdio flushed the history. */
	for (int f = 0; f < files; f++) {
		for (long j = 0; j < len[f]; j++) {
			free(log[f][j]);
		}
		free(log[f]);
		free(hl[f]);
	}
	free(log);
	free(hl);
	free(len);
	free(prevlen);
	free(prevswap);
	free(ops);
	free(eff);
	free(pt);
	free(pseq);
	return 0;
}
