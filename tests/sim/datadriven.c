/* datadriven.c: runs a file of commands and expected output (datadriven.h). */
#include "datadriven.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dd_printf(struct dd_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if (b->len + (size_t)k + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + (size_t)k + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)k;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct dd_buf b = {0};
	char chunk[4096];
	size_t k;
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		dd_printf(&b, "%.*s", (int)k, chunk);
	fclose(f);
	*len = b.len;
	return b.p ? b.p : calloc(1, 1);
}

/* The next line of @s from *@pos (without its newline) into @line; false at the end. */
static bool next_line(const char *s, size_t n, size_t *pos, const char **line, size_t *len)
{
	if (*pos >= n)
		return false;
	const char *start = s + *pos;
	const char *nl = memchr(start, '\n', n - *pos);
	*line = start;
	*len = nl ? (size_t)(nl - start) : n - *pos;
	*pos += *len + (nl ? 1 : 0);
	return true;
}

/* Prints where @want and @got (each lines ending in '\n') differ. */
static void show_diff(const char *path, unsigned lineno, const char *cmd, const char *want,
                      size_t wlen, const char *got, size_t glen)
{
	printf("%s:%u: output of \"%s\" differs\n", path, lineno, cmd);
	size_t wp = 0, gp = 0;
	const char *wl, *gl;
	size_t wn, gn;
	unsigned k = 1;
	for (;;) {
		bool hw = next_line(want, wlen, &wp, &wl, &wn);
		bool hg = next_line(got, glen, &gp, &gl, &gn);
		if (!hw && !hg)
			break;
		if (hw && hg && wn == gn && memcmp(wl, gl, wn) == 0) {
			k++;
			continue;
		}
		if (hw)
			printf("  line %u expected: %.*s\n", k, (int)wn, wl);
		else
			printf("  line %u expected: (nothing)\n", k);
		if (hg)
			printf("  line %u got:      %.*s\n", k, (int)gn, gl);
		else
			printf("  line %u got:      (nothing)\n", k);
		k++;
	}
}

int dd_run(const char *path, bool rewrite, dd_run_fn run, void *arg)
{
	size_t n;
	char *s = slurp(path, &n);
	if (!s) {
		printf("%s: cannot read it\n", path);
		return -1;
	}
	struct dd_buf file = {0}; /* the rewritten file */
	size_t pos = 0;
	unsigned lineno = 0, failed = 0;
	const char *line;
	size_t len;
	while (next_line(s, n, &pos, &line, &len)) {
		lineno++;
		if (len == 0 || line[0] == '#') {
			dd_printf(&file, "%.*s\n", (int)len, line);
			continue;
		}
		unsigned cmd_line = lineno;
		char *cmd = strndup(line, len);
		if (!cmd)
			abort();
		dd_printf(&file, "%s\n", cmd);
		const char *sep;
		size_t seplen;
		if (!next_line(s, n, &pos, &sep, &seplen) || seplen != 4 ||
		    memcmp(sep, "----", 4)) {
			printf("%s:%u: \"%s\" is not followed by a line \"----\"\n", path, cmd_line,
			       cmd);
			free(cmd);
			failed++;
			break;
		}
		lineno++;
		dd_printf(&file, "----\n");
		/* the expected output: up to an empty line or the end */
		size_t want_start = pos, want_end = pos;
		while (next_line(s, n, &pos, &line, &len)) {
			lineno++;
			if (len == 0)
				break;
			want_end = pos;
		}
		struct dd_buf got = {0};
		int rv = run(arg, cmd, &got);
		dd_printf(&got, "%s", ""); /* never NULL */
		const char *want = s + want_start;
		size_t wlen = want_end - want_start;
		/* a last line without its newline still counts as that line */
		struct dd_buf w = {0};
		dd_printf(&w, "%.*s", (int)wlen, want);
		if (wlen && want[wlen - 1] != '\n')
			dd_printf(&w, "\n");
		if (rv != 0) {
			printf("%s:%u: \"%s\" failed:\n%s", path, cmd_line, cmd, got.p);
			failed++;
		} else if (!rewrite && (w.len != got.len || memcmp(w.p, got.p, got.len) != 0)) {
			show_diff(path, cmd_line, cmd, w.p ? w.p : "", w.len, got.p, got.len);
			failed++;
		}
		dd_printf(&file, "%s\n", rewrite ? got.p : (w.p ? w.p : ""));
		free(w.p);
		free(got.p);
		free(cmd);
	}
	int out = (int)failed;
	if (rewrite && !failed) {
		/* no trailing empty line after the last directive */
		while (file.len >= 2 && file.p[file.len - 1] == '\n' &&
		       file.p[file.len - 2] == '\n')
			file.len--;
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(file.p, 1, file.len, f) != file.len || fclose(f) != 0) {
			printf("%s: cannot rewrite it\n", path);
			out = -1;
		}
	}
	free(file.p);
	free(s);
	return out;
}
