/* fault_io.h: fault-client's file reads and the encoding of their bytes (history.h format). */
#ifndef QFS_FAULT_IO_H
#define QFS_FAULT_IO_H

#include <stdbool.h>
#include <stddef.h>

/* A byte of a token: [A-Za-z0-9_.-]. */
bool is_token_char(unsigned char c);
/* "!" and the hex of @buf: bytes no write produced. Returns a malloc'd string. */
char *hex_of(const char *buf, size_t len);
/* A register's bytes: "_" empty, the token, or "!hex". Returns a malloc'd string. */
char *encode_register(const char *buf, size_t len);
/* An append file's bytes (one token per line): "_" empty, else "t1,t2,...", each line that
 * is not a clean token (or the last, without its newline) as "!hex". Malloc'd. */
char *encode_lines(const char *buf, size_t len);
/* One process's previous read of one append file, as encode_delta() left it. */
struct aread_prev {
	char *buf;  /* that read's encoding, split at ',' (owned) */
	char **tok; /* its tokens: pointers into buf (owned array) */
	size_t n;   /* number of tokens; 0 before the first read or after an empty one */
};
/*
 * encode_delta - the compact record of an append-file read (history.h):
 * @full is encode_lines()' result ("_", "t1,t2,...") or "@". When its first
 * K >= 1 tokens are the first K of @prev (K as large as possible), returns
 * "=K/HASH" followed by ",t" for each later token; otherwise a copy of
 * @full. Then @prev holds @full's tokens. Returns a malloc'd string.
 */
char *encode_delta(struct aread_prev *prev, const char *full);
/* Free what @prev holds and empty it. */
void aread_prev_clear(struct aread_prev *prev);
/*
 * slurp - read the whole file at @path (relative to @dirfd, or AT_FDCWD).
 * Returns 0 with *@out (malloc'd, the caller frees) and *@outlen, or -errno.
 */
int slurp(int dirfd, const char *path, char **out, size_t *outlen);

#endif
