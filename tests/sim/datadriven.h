/* datadriven.h: test files of commands and their expected output, compared or rewritten. */
#ifndef QUORUMFS_SIM_DATADRIVEN_H
#define QUORUMFS_SIM_DATADRIVEN_H

/*
 * The format of etcd-io/raft's testdata (its datadriven package), written
 * anew: a file is a sequence of directives, each one command line, a line
 * "----", and the command's expected output up to the next empty line (or the
 * end of the file). Lines before a command that start with '#', and empty
 * lines, are comments, kept as they are. Output never holds an empty line.
 *
 *     # a comment
 *     propose 1 x
 *     ----
 *     n1 propose "x": index 3
 *
 * dd_run() runs each command through @run, in order, and compares what it
 * printed with the expected text. With @rewrite, it writes the file again
 * with the output it got instead (QFS_REWRITE=1), so that a change in
 * behaviour shows as a diff of the file in review.
 */

#include <stdbool.h>
#include <stddef.h>

/* Growable output text. */
struct dd_buf {
	char *p;
	size_t len, cap;
};

void dd_printf(struct dd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs one command line (NUL-terminated, without its newline), appending its
 * output (lines ending in '\n') to @out. Returns 0, or -1 when the command
 * itself is malformed (the run then fails whatever the file expects). */
typedef int (*dd_run_fn)(void *arg, const char *cmd, struct dd_buf *out);

/* Returns the number of directives whose output differed (or failed), or -1
 * when @path cannot be read or rewritten. Differences go to stdout. */
int dd_run(const char *path, bool rewrite, dd_run_fn run, void *arg);

#endif
