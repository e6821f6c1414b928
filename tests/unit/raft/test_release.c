/* test_release.c: raft_log_release() bounds the log's memory; a follower that lags catches up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

#define BIG  (64 * 1024) /* one entry's data */
#define KEEP (4 * BIG)   /* what each node may keep in memory */
#define N    48          /* entries in the stream: 3 MiB, 12x KEEP */

/* Entry k's data: BIG bytes of k, so a copy from the wrong entry shows. */
static void *big(unsigned k)
{
	uint8_t *p = malloc(BIG);
	assert_non_null(p);
	memset(p, (int)(k & 0xff), BIG);
	return p;
}

static void release_all(struct h_cluster *c)
{
	for (unsigned id = 1; id <= c->count; id++)
		if (c->n[id].up)
			raft_log_release(c->n[id].r, KEEP);
}

/*
 * A stream of large entries, each node releasing after every batch as the
 * daemon does: the leader's and the live follower's log hold at most KEEP
 * bytes (plus the one entry not yet durable and applied). Node 3 is away
 * meanwhile; when it returns, the leader sends it every entry it missed,
 * nearly all of them released, their bytes read from the leader's disk.
 */
static void test_release_bounded_and_catch_up(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	struct raft *l = c.n[1].r;
	raft_index first = raft_last_index(l) + 1;
	c.n[3].up = false;
	size_t most[4] = {0};
	for (unsigned k = 0; k < N; k++) {
		void *d = big(k);
		assert_true(raft_propose(l, d, BIG) > 0);
		free(d);
		h_settle(&c);
		release_all(&c);
		for (unsigned id = 1; id <= 2; id++) {
			size_t b = raft_log_bytes(c.n[id].r);
			if (b > most[id])
				most[id] = b;
		}
	}
	raft_index last = raft_last_index(l);
	assert_int_equal(last, first + N - 1);
	assert_int_equal(c.n[1].applied, last);
	assert_int_equal(c.n[2].applied, last);
	for (unsigned id = 1; id <= 2; id++) {
		assert_true(most[id] <= KEEP + BIG);
		assert_true(raft_log_bytes(c.n[id].r) <= KEEP);
	}
	/* Nothing was compacted: the entries are still in the log, without data. */
	assert_int_equal(raft_first_index(l), 1);
	const struct raft_entry *e = raft_entry_at(l, first);
	assert_non_null(e);
	assert_null(e->data.base);
	assert_int_equal(e->data.len, BIG);
	assert_non_null(raft_entry_at(l, last)->data.base); /* the newest stay */

	/* Node 3 returns, N entries behind. */
	c.n[3].up = true;
	for (int round = 0; round < 400 && c.n[3].applied < last; round++) {
		h_tick(&c, 1);
		h_settle(&c);
		raft_log_release(l, KEEP);
		raft_log_release(c.n[2].r, KEEP);
	}
	assert_int_equal(c.n[3].applied, last);
	/* Its copies are the entries' own bytes (the simulator also compared
	 * every log's entries by hash, disks included, as they were stored). */
	for (raft_index i = first; i <= last; i++) {
		const struct raft_entry *f = raft_entry_at(c.n[3].r, i);
		assert_non_null(f);
		assert_non_null(f->data.base);
		assert_int_equal(f->data.len, BIG);
		uint8_t want = (uint8_t)((i - first) & 0xff);
		assert_int_equal(((const uint8_t *)f->data.base)[0], want);
		assert_int_equal(((const uint8_t *)f->data.base)[BIG - 1], want);
	}
	assert_true(raft_log_bytes(l) <= KEEP);
	h_free(&c);
}

/* Only what is durable and applied is released: entries the leader's disk
 * has not made durable stay in memory, whatever the budget. */
static void test_release_keeps_what_is_not_durable(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	struct raft *l = c.n[1].r;
	c.n[1].hold_persist = true;
	for (unsigned k = 0; k < 4; k++) {
		void *d = big(k);
		assert_true(raft_propose(l, d, BIG) > 0);
		free(d);
	}
	h_settle(&c);
	raft_log_release(l, 0);
	assert_true(raft_log_bytes(l) >= 4 * BIG);
	assert_non_null(raft_entry_at(l, raft_last_index(l))->data.base);
	h_persist(&c, 1);
	h_settle(&c);
	h_tick(&c, 1);
	h_settle(&c);
	assert_int_equal(c.n[1].applied, raft_last_index(l));
	raft_log_release(l, 0);
	assert_int_equal(raft_log_bytes(l), 0);
	/* Released entries still replicate: a new entry commits. */
	void *d = big(9);
	assert_true(raft_propose(l, d, BIG) > 0);
	free(d);
	h_persist(&c, 1);
	h_settle(&c);
	h_persist(&c, 1);
	h_settle(&c);
	assert_int_equal(c.n[2].applied, raft_last_index(l));
	h_free(&c);
}

int raft_test_release(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_release_bounded_and_catch_up),
	        cmocka_unit_test(test_release_keeps_what_is_not_durable),
	};
	return cmocka_run_group_tests_name("raft_release", tests, NULL, NULL);
}
