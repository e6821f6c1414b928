/* history.h: the operation history of a fault run, its text format, and the three checkers. */
#ifndef QFS_FAULT_HISTORY_H
#define QFS_FAULT_HISTORY_H

/*
 * One line per operation, nine tab-separated fields:
 *
 *   PROCESS OPID KEY TYPE VALUE START_NS END_NS OUTCOME RESULT
 *
 * PROCESS  who ran it: a number for a client thread, "init" for the set-up,
 *          "finalN" for the harness's final reads on node N.
 * OPID     unique within the history (e.g. "3-17").
 * KEY      the file: "reg/r3", "app/a1" (a later generation: "reg/r3.2", "app/a1.4"); "set"
 *          for the set workload.
 * TYPE     write | read (registers), append | aread (appends),
 *          create | list (sets), section (locks: fault_locker.c says its
 *          fields).
 * VALUE    write/append/create: the unique token written or created; "-".
 * START_NS CLOCK_MONOTONIC when the call began; END_NS when it returned (for
 *          an unknown outcome, when the client gave up).
 * OUTCOME  ok | fail | unknown. "fail" means the operation certainly did not
 *          take effect (EROFS before proposing); anything uncertain is
 *          "unknown". A read that did not return ok carries no information.
 * RESULT   read: the contents: "@" file absent, "_" empty, otherwise the
 *          token (a register), or the tokens joined by "," (an append file,
 *          one token per line); list: the names joined by ","; "_" empty.
 *          aread, compact: "=K/HASH" then ",t,t..." (the tokens after the
 *          first K), when K >= 1 and the first K tokens are those of the
 *          previous ok aread of the same KEY by the same PROCESS (earlier in
 *          the same file); HASH is history_prefix_hash() of those K tokens in
 *          16 hex digits. A file that only grows so costs each process each
 *          token once, not once per read.
 *          write: "T" if the truncation of open(O_TRUNC) may have been
 *          applied on its own (the open succeeded, the write did not),
 *          otherwise "-". Anything else: "-".
 *
 * An optional tenth field names the error a call returned (e.g. "EROFS",
 * "open:ETIMEDOUT"), for people reading the history; the checkers ignore it.
 *
 * Tokens are made of [A-Za-z0-9_.-]; bytes that are not a clean token (a
 * register's contents, or one line of an append file) are recorded as "!"
 * followed by their hex, which no write ever produced (so a checker reports
 * it).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum hop_type { HOP_WRITE, HOP_READ, HOP_APPEND, HOP_AREAD, HOP_CREATE, HOP_LIST, HOP_SECTION };
enum hop_outcome { HOP_OK, HOP_FAIL, HOP_UNKNOWN };

struct hop {
	char *proc;
	char *id;
	char *key;
	int type;    /* enum hop_type */
	char *value; /* "-" if none */
	int64_t start, end;
	int outcome; /* enum hop_outcome */
	char *result;
	int line; /* line number in the file, for reports */
};

struct history {
	struct hop *ops;
	size_t n, cap;
};

/* Parse one history file, appending its ops to @h. Returns 0, or -1 with a message on stderr. */
int history_load(struct history *h, const char *path);
void history_free(struct history *h);

/* How register files are decided (check_reg.c). */
enum reg_decider {
	REG_DECIDE_AUTO,   /* Gibbons & Korach where values are unique, else the search */
	REG_DECIDE_SEARCH, /* the search alone, for every file */
	REG_DECIDE_BOTH,   /* both where the first applies; a disagreement is an anomaly */
};

/* Limits and result of a check. */
struct check_report {
	FILE *out;             /* anomalies are described here, one per line */
	uint64_t search_limit; /* WGL: configurations explored per key before giving up */
	int reg_decider;       /* enum reg_decider */
	unsigned anomalies;    /* incremented per anomaly */
	unsigned lost;         /* acknowledged writes/appends/creates missing at the end */
	unsigned inconclusive; /* keys whose search hit the limit */
	uint64_t explored;     /* WGL configurations explored, all keys */
	unsigned reg_keys_zones, reg_keys_search; /* register files decided each way */
};

/* Per-file linearizability of the register ops (WRITE/READ) of @h. */
void check_registers(const struct history *h, struct check_report *r);
/* The append-log properties of the APPEND/AREAD ops of @h. */
void check_appends(const struct history *h, struct check_report *r);
/* The set properties of the CREATE/LIST ops of @h. */
void check_sets(const struct history *h, struct check_report *r);
/* Mutual exclusion of the SECTION ops of @h (fault-locker), as a lease
 * lock promises it (check_lock.c). */
void check_locks(const struct history *h, struct check_report *r);

/*
 * The hash of the first K tokens of an append read: FNV-1a 64 over each
 * token followed by ",", from HISTORY_HASH_INIT. Both the client (which
 * records it) and the checker (which compares it with the longest read's)
 * use this one.
 */
#define HISTORY_HASH_INIT 14695981039346656037ULL
static inline uint64_t history_prefix_hash(uint64_t h, const char *tok, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h = (h ^ (unsigned char)tok[i]) * 1099511628211ULL;
	}
	return (h ^ (unsigned char)',') * 1099511628211ULL;
}

/* Split @s at @sep into a freshly allocated array of borrowed pointers (s is modified). */
size_t history_split(char *s, char sep, char ***out);

#endif
