/* fault_io.c: fault-client's file reads, and the encoding of their bytes as history tokens. */
#include "fault_io.h"

#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

char *hex_of(const char *buf, size_t len)
{
	char *s = malloc(2 * len + 2);
	if (s == NULL) {
		abort();
	}
	s[0] = '!';
	for (size_t i = 0; i < len; i++) {
		sprintf(s + 1 + 2 * i, "%02x", (unsigned char)buf[i]);
	}
	s[1 + 2 * len] = '\0';
	return s;
}

/* Encode a register's bytes: "_" empty, the token, or "!hex". */
char *encode_register(const char *buf, size_t len)
{
	if (len == 0) {
		return strdup("_");
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_token_char((unsigned char)buf[i])) {
			return hex_of(buf, len);
		}
	}
	return strndup(buf, len);
}

/* Encode an append file (one token per line): "_" empty, "t1,t2,...", or "!hex". */
char *encode_lines(const char *buf, size_t len)
{
	if (len == 0) {
		return strdup("_");
	}
	/* Each line on its own: a clean token, or "!hex" of that line (an empty
	 * line, foreign bytes, or a last line without its newline). A torn
	 * append so damages one or two tokens, not the whole read. */
	/* At worst every line is "!" and its hex, plus a comma. */
	char *s = malloc(4 * len + 4);
	if (s == NULL) {
		abort();
	}
	size_t j = 0;
	for (size_t a = 0; a < len;) {
		size_t b = a;
		while (b < len && buf[b] != '\n') {
			b++;
		}
		bool clean = b > a && b < len;
		for (size_t k = a; k < b && clean; k++) {
			clean = is_token_char((unsigned char)buf[k]);
		}
		if (j > 0) {
			s[j++] = ',';
		}
		if (clean) {
			memcpy(s + j, buf + a, b - a);
			j += b - a;
		} else {
			char *h = hex_of(buf + a, b - a);
			size_t hl = strlen(h);
			memcpy(s + j, h, hl);
			j += hl;
			free(h);
		}
		a = b + 1;
	}
	s[j] = '\0';
	return s;
}

/* Read the whole file at @path. Returns 0 and a malloc'd buffer, or -errno. */
int slurp(int dirfd, const char *path, char **out, size_t *outlen)
{
	int fd = openat(dirfd, path, O_RDONLY);
	if (fd < 0) {
		return -errno;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		abort();
	}
	for (;;) {
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL) {
				abort();
			}
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			int e = -errno;
			close(fd);
			free(buf);
			return e;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	if (close(fd) != 0) {
		int e = -errno;
		free(buf);
		return e;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

void aread_prev_clear(struct aread_prev *prev)
{
	free(prev->buf);
	free(prev->tok);
	*prev = (struct aread_prev){0};
}

char *encode_delta(struct aread_prev *prev, const char *full)
{
	struct aread_prev cur = {0};
	if (strcmp(full, "_") != 0 && strcmp(full, "@") != 0) {
		cur.buf = strdup(full);
		if (cur.buf == NULL) {
			abort();
		}
		cur.n = history_split(cur.buf, ',', &cur.tok);
	}
	size_t k = 0;
	uint64_t h = HISTORY_HASH_INIT;
	while (k < cur.n && k < prev->n && strcmp(cur.tok[k], prev->tok[k]) == 0) {
		h = history_prefix_hash(h, cur.tok[k], strlen(cur.tok[k]));
		k++;
	}
	char *out;
	if (k == 0) {
		out = strdup(full);
		if (out == NULL) {
			abort();
		}
	} else {
		size_t len = 40;
		for (size_t j = k; j < cur.n; j++) {
			len += strlen(cur.tok[j]) + 1;
		}
		out = malloc(len);
		if (out == NULL) {
			abort();
		}
		size_t o = (size_t)snprintf(out, len, "=%zu/%016llx", k, (unsigned long long)h);
		for (size_t j = k; j < cur.n; j++) {
			size_t tl = strlen(cur.tok[j]);
			out[o++] = ',';
			memcpy(out + o, cur.tok[j], tl);
			o += tl;
		}
		out[o] = '\0';
	}
	aread_prev_clear(prev);
	*prev = cur;
	return out;
}
