/* reg_model.h: one register's history as the checker decides it, and the two deciders. */
#ifndef QFS_FAULT_REG_MODEL_H
#define QFS_FAULT_REG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What check_reg.c makes of one file's history (it drops failed ops and reads that did not
 * return, turns unknown writes into writes that returned, or drops them) before it is
 * decided. Values are interned to small ints; the register starts in state @init.
 *
 * Two ops are concurrent unless one returned strictly before the other was called
 * (a.ret < b.call): ops that touch at one instant are concurrent, in both deciders.
 */
#define REG_INF INT64_MAX

struct rop {
	int64_t call, ret; /* ret >= call; REG_INF: may take effect at any time after call */
	int kind;          /* 0 write: state := val; 1 read: state must equal val */
	int val;           /* interned value */
	size_t hi;         /* the caller's index of the op, for reports */
};

/*
 * Wing & Gong's search with Lowe's cache of explored configurations (reg_wgl.c): decides
 * any history of @n ops from state @init, in exponential time at worst. At most @limit
 * configurations are explored; the number explored is added to *@explored.
 * Returns 1 linearizable, 0 not (*@blocker: the op that could not be placed at the deepest
 * point reached, or -1), -1 the limit was hit (no verdict).
 */
int reg_wgl(const struct rop *ops, size_t n, int init, uint64_t limit, uint64_t *explored,
            int *blocker);

/* Why reg_zones() found a history not linearizable, and the ops that show it. */
enum reg_zone_fault {
	REG_ZONE_NONE,
	REG_ZONE_READ_BEFORE_WRITE,   /* read a returned before its value's write b was called */
	REG_ZONE_FORWARD_OVERLAP,     /* the forward zones of a's and b's values overlap */
	REG_ZONE_BACKWARD_IN_FORWARD, /* b's value's backward zone lies in a's forward zone */
};

struct reg_zone_report {
	int fault; /* enum reg_zone_fault */
	/* Indices into ops (-1: the initial state, which no op wrote). For a zone fault, a and
	 * b are ops of the two values: the op of a's value that returned first and the one
	 * called last (a_first, a_last), the same for b; a and b name the writes. */
	int a, b, a_first, a_last, b_first, b_last;
	int64_t a_from, a_to, b_from, b_to; /* the two zones (INT64_MIN: before every op) */
};

/*
 * Gibbons & Korach's test (reg_zones.c), in O(n log n): decides a history in which each
 * value is written by at most one op and every read returns @init or a value some op
 * writes. Returns 1 linearizable, 0 not (with *@rep saying why), -1 the history is not of
 * that form (a value written twice, a read of a value nobody writes): use reg_wgl().
 * @rep may be NULL.
 */
int reg_zones(const struct rop *ops, size_t n, int init, struct reg_zone_report *rep);

#endif
