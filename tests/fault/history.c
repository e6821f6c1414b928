/* history.c: parse the tab-separated history of a fault run (format in history.h). */
#include "history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"write",  "read", "append", "aread",
                                         "create", "list", "section"};
static const char *const outcome_names[] = {"ok", "fail", "unknown"};

static int lookup(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			return i;
		}
	}
	return -1;
}

static int parse_ns(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		return -1;
	}
	*out = v;
	return 0;
}

size_t history_split(char *s, char sep, char ***out)
{
	size_t n = 1;
	for (char *p = s; *p; p++) {
		n += *p == sep;
	}
	char **v = calloc(n, sizeof(*v));
	if (v == NULL) {
		abort();
	}
	size_t i = 0;
	v[i++] = s;
	for (char *p = s; *p; p++) {
		if (*p == sep) {
			*p = '\0';
			v[i++] = p + 1;
		}
	}
	*out = v;
	return n;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL) {
		abort();
	}
	return d;
}

int history_load(struct history *h, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "fault-check: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (line[len - 1] != '\n' && feof(f)) {
			/* The writer was killed in the middle of this line. */
			fprintf(stderr, "fault-check: %s:%d: last line cut short, ignored\n", path,
			        lineno);
			break;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
			line[--len] = '\0';
		}
		if (len == 0 || line[0] == '#') {
			continue;
		}
		char **fld;
		size_t nf = history_split(line, '\t', &fld);
		struct hop op = {0};
		int t = nf == 9 || nf == 10 ? lookup(fld[3], type_names, 7) : -1;
		int o = nf == 9 || nf == 10 ? lookup(fld[7], outcome_names, 3) : -1;
		if (t < 0 || o < 0 || parse_ns(fld[5], &op.start) || parse_ns(fld[6], &op.end)) {
			fprintf(stderr, "fault-check: %s:%d: malformed history line\n", path,
			        lineno);
			free(fld);
			rc = -1;
			break;
		}
		op.proc = xstrdup(fld[0]);
		op.id = xstrdup(fld[1]);
		op.key = xstrdup(fld[2]);
		op.type = t;
		op.value = xstrdup(fld[4]);
		op.outcome = o;
		op.result = xstrdup(fld[8]);
		op.line = lineno;
		free(fld);
		if (h->n == h->cap) {
			h->cap = h->cap ? h->cap * 2 : 1024;
			h->ops = realloc(h->ops, h->cap * sizeof(*h->ops));
			if (h->ops == NULL) {
				abort();
			}
		}
		h->ops[h->n++] = op;
	}
	free(line);
	fclose(f);
	return rc;
}

void history_free(struct history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->ops[i].proc);
		free(h->ops[i].id);
		free(h->ops[i].key);
		free(h->ops[i].value);
		free(h->ops[i].result);
	}
	free(h->ops);
	h->ops = NULL;
	h->n = h->cap = 0;
}
