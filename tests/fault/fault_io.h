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
/*
 * slurp - read the whole file at @path (relative to @dirfd, or AT_FDCWD).
 * Returns 0 with *@out (malloc'd, the caller frees) and *@outlen, or -errno.
 */
int slurp(int dirfd, const char *path, char **out, size_t *outlen);

#endif
