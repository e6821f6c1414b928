/* fault_io.c: fault-client's file reads, and the encoding of their bytes as history tokens. */
#include "fault_io.h"

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
