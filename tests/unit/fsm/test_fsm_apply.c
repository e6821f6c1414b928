/* test_fsm_apply.c: the apply contract, MAP_FULL re-runs, sessions, readdir cookies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "helpers.h"
#include "quorumfs/errors.h"

#define ROOT FSM_ROOT_INO

static int apply_raw(struct tenv *t, uint64_t index, const void *buf, size_t len,
                     struct fsm_result *res)
{
	MDB_txn *txn;
	int rc;
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	rc = fsm_apply(t->fsm, txn, index, buf, len, res);
	if (rc == 0)
		assert_int_equal(mdb_txn_commit(txn), 0);
	else
		mdb_txn_abort(txn);
	return rc;
}

static int noop(struct tenv *t, uint64_t index)
{
	MDB_txn *txn;
	int rc;
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	rc = fsm_apply_noop(t->fsm, txn, index);
	if (rc == 0)
		assert_int_equal(mdb_txn_commit(txn), 0);
	else
		mdb_txn_abort(txn);
	return rc;
}

static uint64_t applied(struct tenv *t)
{
	uint64_t a;
	assert_int_equal(fsm_applied(t->fsm, NULL, &a), 0);
	return a;
}

static void index_order(void **state)
{
	struct tenv *t = *state;
	struct fsm_result res;
	uint8_t junk[] = {0xc1, 0x00};
	uint32_t d;

	assert_int_equal(t_mkdir(t, ROOT, "d"), 0); /* index 1 */
	d = tenv_digest(t);
	/* An index already applied is refused and writes nothing. */
	assert_int_equal(apply_raw(t, 1, junk, sizeof(junk), &res), QFS_ESTALE);
	assert_int_equal(noop(t, 1), QFS_ESTALE);
	assert_int_equal(noop(t, 0), QFS_ESTALE);
	assert_int_equal(applied(t), 1);
	/* A no-op only moves applied; gaps are allowed (after a snapshot). */
	assert_int_equal(noop(t, 5), 0);
	assert_int_equal(applied(t), 5);
	assert_int_equal(tenv_digest(t), d);
	/* An entry that does not decode is applied as a failed command: every
	 * node moves past it alike. */
	assert_int_equal(apply_raw(t, 6, junk, sizeof(junk), &res), 0);
	assert_int_equal(res.err, QFS_EPROTO);
	assert_int_equal(apply_raw(t, 7, NULL, 0, &res), 0);
	assert_int_equal(res.err, QFS_EPROTO);
	assert_int_equal(applied(t), 7);
	assert_int_equal(tenv_digest(t), d);
}

/* Fills a tiny map until QFS_EMAPFULL, then grows it and re-runs the same
 * apply, as store_write does: the result must equal a run that never hit
 * the limit. */
static void rerun_after_map_full(void **state)
{
	struct tenv small, big;
	static char data[16384];
	int hits = 0;
	(void)state;

	memset(data, 'd', sizeof(data) - 1);
	tenv_open(&small, NULL, 256 * 1024);
	tenv_open(&big, NULL, 0);
	for (uint64_t i = 1; i <= 60; i++) {
		char name[16];
		struct wire_cmd c = {.type = WIRE_CMD_CREATE,
		                     .parent = ROOT,
		                     .name = name,
		                     .mode = 0644,
		                     .data = data,
		                     .data_len = sizeof(data),
		                     .time_ns = (int64_t)i,
		                     .client_id = 9,
		                     .serial = i};
		uint8_t buf[20000];
		size_t len;
		struct fsm_result r1, r2;
		int rc;

		c.name_len = (size_t)snprintf(name, sizeof(name), "f%llu", (unsigned long long)i);
		assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), 0);
		while ((rc = apply_raw(&small, i, buf, len, &r1)) == QFS_EMAPFULL) {
			MDB_envinfo info;
			hits++;
			assert_int_equal(mdb_env_info(small.env, &info), 0);
			assert_int_equal(mdb_env_set_mapsize(small.env, info.me_mapsize * 2), 0);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(apply_raw(&big, i, buf, len, &r2), 0);
		assert_result_equal(&r1, &r2);
	}
	assert_true(hits > 0);
	assert_string_not_equal(fsm_errmsg(small.fsm), "");
	tenv_assert_same(&small, &big);
	tenv_close(&small);
	tenv_close(&big);
}

static int session_cmd(struct tenv *t, uint64_t client, uint64_t serial, struct wire_cmd *c)
{
	c->client_id = client;
	c->serial = serial;
	c->time_ns = 0;
	return tenv_apply(t, c);
}

/* The read-only lookup the node answers with after a snapshot install: the
 * last serial and its stored result, and nothing for an unknown client. */
static void session_lookup(void **state)
{
	struct tenv *t = *state;
	struct wire_cmd app = {.type = WIRE_CMD_APPEND, .data = "xy", .data_len = 2};
	struct fsm_result res;
	uint64_t serial = 0;
	bool found = true;

	assert_int_equal(t_create(t, ROOT, "f", 0, NULL), 0);
	app.ino = t->res.attr.ino;
	assert_int_equal(fsm_session_get(t->fsm, NULL, 7, &serial, &res, &found), 0);
	assert_false(found);
	assert_int_equal(session_cmd(t, 7, 1, &app), 0);
	assert_int_equal(session_cmd(t, 7, 2, &app), 0);
	struct fsm_result want = t->res;
	uint32_t before = tenv_digest(t);
	assert_int_equal(fsm_session_get(t->fsm, NULL, 7, &serial, &res, &found), 0);
	assert_true(found);
	assert_int_equal(serial, 2);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.offset, want.offset);
	assert_memory_equal(&res.attr, &want.attr, sizeof(want.attr));
	assert_int_equal(tenv_digest(t), before); /* it changed nothing */
	/* In the caller's write transaction, as the node's writer calls it. */
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	assert_int_equal(fsm_session_get(t->fsm, txn, 8, &serial, &res, &found), 0);
	assert_false(found);
	assert_int_equal(fsm_session_get(t->fsm, txn, 7, &serial, &res, &found), 0);
	assert_true(found);
	mdb_txn_abort(txn);
	/* A failed command's result is what a lookup gives too. */
	struct wire_cmd bad = {
	        .type = WIRE_CMD_MKDIR, .parent = 999999, .name = "d", .name_len = 1};
	assert_int_equal(session_cmd(t, 7, 3, &bad), -ENOENT);
	assert_int_equal(fsm_session_get(t->fsm, NULL, 7, &serial, &res, &found), 0);
	assert_int_equal(serial, 3);
	assert_int_equal(res.err, -ENOENT);
}

static void sessions_apply_once(void **state)
{
	struct tenv *t = *state;
	struct wire_cmd app = {.type = WIRE_CMD_APPEND, .data = "x", .data_len = 1};
	struct wire_cmd mk = {.type = WIRE_CMD_MKDIR, .parent = ROOT, .name = "d", .name_len = 1};
	struct fsm_result first;
	uint64_t f;

	assert_int_equal(t_create(t, ROOT, "f", 0, NULL), 0);
	f = t->res.attr.ino;
	app.ino = f;
	assert_int_equal(session_cmd(t, 7, 1, &app), 0);
	assert_int_equal(session_cmd(t, 7, 2, &app), 0);
	first = t->res;
	assert_int_equal(first.offset, 1);
	assert_false(first.duplicate);
	/* A retry of serial 2 (e.g. forwarded twice): the stored result, no
	 * second append. */
	assert_int_equal(session_cmd(t, 7, 2, &app), 0);
	assert_true(t->res.duplicate);
	assert_int_equal(t->res.offset, 1);
	assert_memory_equal(&t->res.attr, &first.attr, sizeof(first.attr));
	assert_int_equal(t_getattr(t, f).size, 2);
	/* An older serial: its result is gone; QFS_ESTALE, nothing applied. */
	assert_int_equal(session_cmd(t, 7, 1, &app), QFS_ESTALE);
	assert_int_equal(t_getattr(t, f).size, 2);
	/* Other clients and client 0 are independent. */
	assert_int_equal(session_cmd(t, 8, 2, &app), 0);
	assert_false(t->res.duplicate);
	assert_int_equal(session_cmd(t, 0, 0, &app), 0);
	assert_int_equal(session_cmd(t, 0, 0, &app), 0);
	assert_int_equal(t_getattr(t, f).size, 5);
	/* Failures are remembered too: the retry gets the same errno, even
	 * though the command would now succeed. */
	assert_int_equal(session_cmd(t, 7, 3, &mk), 0);
	assert_int_equal(t_rmdir(t, ROOT, "d"), 0);
	assert_int_equal(session_cmd(t, 7, 4, &mk), 0);
	assert_int_equal(t_rmdir(t, ROOT, "d"), 0);
	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	assert_int_equal(session_cmd(t, 7, 5, &mk), -EEXIST);
	assert_int_equal(t_rmdir(t, ROOT, "d"), 0);
	assert_int_equal(session_cmd(t, 7, 5, &mk), -EEXIST);
	assert_true(t->res.duplicate);
	assert_int_equal(t_lookup(t, ROOT, "d"), 0);
}

static void sessions_expire_by_index(void **state)
{
	struct fsm_options o = {.session_expiry = 10};
	struct wire_cmd app = {.type = WIRE_CMD_APPEND, .data = "x", .data_len = 1};
	struct tenv t;
	uint64_t f;
	(void)state;

	tenv_open(&t, &o, 0);
	assert_int_equal(t_create(&t, ROOT, "f", 0, NULL), 0); /* index 1 */
	f = t.res.attr.ino;
	app.ino = f;
	assert_int_equal(session_cmd(&t, 3, 1, &app), 0); /* index 2: used at 2 */
	/* Still known 10 indexes later (no-ops count as indexes). */
	t.index += 9;
	assert_int_equal(noop(&t, t.index), 0);           /* index 11 */
	assert_int_equal(session_cmd(&t, 3, 1, &app), 0); /* index 12: 2 + 10, kept */
	assert_true(t.res.duplicate);
	/* The duplicate counted as a use at 12: kept through 22 = 12 + 10,
	 * gone at 23, where the same serial applies again. */
	t.index += 9;
	assert_int_equal(noop(&t, t.index), 0);           /* index 21 */
	assert_int_equal(session_cmd(&t, 3, 1, &app), 0); /* index 22 */
	assert_true(t.res.duplicate);
	t.index += 10;
	assert_int_equal(noop(&t, t.index), 0);           /* index 32: used at 22, kept */
	assert_int_equal(session_cmd(&t, 3, 1, &app), 0); /* index 33 > 22 + 10: expired */
	assert_false(t.res.duplicate);
	assert_int_equal(t_getattr(&t, f).size, 2);
	tenv_close(&t);
}

/* Expiry depends on the log alone: the same entries give the same session
 * table, whether or not many sessions expire at once. */
static void sessions_expiry_is_deterministic(void **state)
{
	struct fsm_options o = {.session_expiry = 50};
	struct wire_cmd app = {.type = WIRE_CMD_APPEND, .data = "x", .data_len = 1};
	struct tenv a, b;
	(void)state;

	tenv_open(&a, &o, 0);
	tenv_open(&b, &o, 0);
	for (int round = 0; round < 2; round++) {
		struct tenv *t = round ? &b : &a;
		assert_int_equal(t_create(t, ROOT, "f", 0, NULL), 0);
		app.ino = t->res.attr.ino;
		for (uint64_t i = 0; i < 300; i++) {
			app.time_ns = (int64_t)i + 1;
			session_cmd(t, 1 + (i * 7919) % 97, 1 + i, &app);
			if (i % 40 == 39)
				t->index += 30; /* a snapshot-sized gap */
		}
	}
	tenv_assert_same(&a, &b);
	tenv_close(&a);
	tenv_close(&b);
}

static void result_encoding(void **state)
{
	struct fsm_result r = {.err = -ENOTEMPTY,
	                       .duplicate = true,
	                       .attr = {1, 2, 3, 4, 5, 6, -7, 8, INT64_MIN, UINT64_MAX},
	                       .offset = 42},
	                  d;
	uint8_t buf[FSM_RESULT_ENCODED_SIZE];
	(void)state;
	fsm_result_encode(&r, buf);
	assert_int_equal(fsm_result_decode(buf, sizeof(buf), &d), 0);
	r.duplicate = false;
	assert_result_equal(&r, &d);
	assert_int_equal(fsm_result_decode(buf, sizeof(buf) - 1, &d), QFS_ECORRUPT);
}

/* What a readdir callback collects. */
struct listing {
	int n, stop_after;
	uint64_t ino[512], cookie[512];
	uint32_t type[512];
	char name[512][16];
	struct fsm_attr attr[512];
};

static int collect(void *arg, const struct fsm_dirent *e)
{
	struct listing *l = arg;
	if (l->n == l->stop_after)
		return 1;
	assert_true(e->name_len < 16 && l->n < 512);
	memcpy(l->name[l->n], e->name, e->name_len);
	l->name[l->n][e->name_len] = '\0';
	l->ino[l->n] = e->ino;
	l->cookie[l->n] = e->cookie;
	l->type[l->n] = e->type;
	l->attr[l->n] = e->attr;
	l->n++;
	return 0;
}

static void readdir_basics(void **state)
{
	struct tenv *t = *state;
	struct listing *l = calloc(1, sizeof(*l));
	uint64_t d, f;

	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	d = t->res.attr.ino;
	assert_int_equal(t_create(t, ROOT, "f", 0, "abc"), 0);
	f = t->res.attr.ino;
	assert_int_equal(t_symlink(t, ROOT, "l", "f"), 0);
	l->stop_after = -1;
	assert_int_equal(fsm_readdir(t->fsm, NULL, ROOT, 0, true, collect, l), 0);
	assert_int_equal(l->n, 3);
	assert_string_equal(l->name[0], "d");
	assert_true(l->ino[0] == d && l->type[0] == S_IFDIR && l->attr[0].ino == d);
	assert_true(l->ino[1] == f && l->type[1] == S_IFREG && l->attr[1].size == 3);
	assert_int_equal(l->type[2], S_IFLNK);
	/* Cookies grow, and leave 1 and 2 to "." and "..". */
	assert_true(l->cookie[0] > 2 && l->cookie[0] < l->cookie[1] && l->cookie[1] < l->cookie[2]);
	/* From the last cookie: nothing; from 1 or 2: everything. */
	memset(l, 0, sizeof(*l));
	l->stop_after = -1;
	assert_int_equal(fsm_readdir(t->fsm, NULL, ROOT, 2, false, collect, l), 0);
	assert_int_equal(l->n, 3);
	assert_int_equal(l->attr[0].ino, 0); /* not asked for */
	uint64_t last = l->cookie[2];
	memset(l, 0, sizeof(*l));
	l->stop_after = -1;
	assert_int_equal(fsm_readdir(t->fsm, NULL, ROOT, last, false, collect, l), 0);
	assert_int_equal(fsm_readdir(t->fsm, NULL, ROOT, UINT64_MAX, false, collect, l), 0);
	assert_int_equal(l->n, 0);
	assert_int_equal(fsm_readdir(t->fsm, NULL, d, 0, false, collect, l), 0);
	assert_int_equal(l->n, 0);
	assert_int_equal(fsm_readdir(t->fsm, NULL, f, 0, false, collect, l), -ENOTDIR);
	assert_int_equal(fsm_readdir(t->fsm, NULL, 99, 0, false, collect, l), -ENOENT);
	free(l);
}

/*
 * A listing in pages while the directory changes between pages: every
 * entry present from start to end is seen exactly once, nothing loops,
 * and what is seen in one page is never seen again.
 */
static void readdir_cookies_survive_changes(void **state)
{
	struct tenv *t = *state;
	struct listing *page = calloc(1, sizeof(*page));
	int seen[400] = {0}, exists[400] = {0}, survived[400], renamed[400] = {0};
	uint64_t cookie = 0;
	char name[16];
	int pages = 0, next_new = 200;
	uint64_t x = 12345;

	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(t_create(t, ROOT, name, 0, NULL), 0);
		exists[i] = 1;
	}
	for (int i = 0; i < 400; i++)
		survived[i] = exists[i];
	for (;;) {
		memset(page, 0, sizeof(*page));
		page->stop_after = 7;
		assert_int_equal(fsm_readdir(t->fsm, NULL, ROOT, cookie, false, collect, page), 0);
		for (int i = 0; i < page->n; i++) {
			int k = atoi(page->name[i] + 1);
			assert_true(page->cookie[i] > cookie);
			/* Twice only for a name renamed away and back meanwhile. */
			if (!renamed[k])
				assert_int_equal(seen[k], 0);
			seen[k] = 1;
			cookie = page->cookie[i];
		}
		if (page->n == 0)
			break;
		assert_true(++pages < 400);
		/* Between pages: remove two random names (seen or not), add
		 * one, and rename one away and back (a new cookie). */
		for (int j = 0; j < 2; j++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			int k = (int)((x >> 33) % (uint64_t)next_new);
			if (!exists[k])
				continue;
			snprintf(name, sizeof(name), "n%d", k);
			assert_int_equal(t_unlink(t, ROOT, name), 0);
			exists[k] = survived[k] = 0;
		}
		if (next_new < 400) {
			snprintf(name, sizeof(name), "n%d", next_new);
			assert_int_equal(t_create(t, ROOT, name, 0, NULL), 0);
			exists[next_new++] = 1;
		}
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		int k = (int)((x >> 33) % (uint64_t)next_new);
		if (exists[k]) {
			char tmp[16];
			snprintf(name, sizeof(name), "n%d", k);
			snprintf(tmp, sizeof(tmp), "tmp");
			assert_int_equal(t_rename(t, ROOT, name, ROOT, tmp, 0), 0);
			assert_int_equal(t_rename(t, ROOT, tmp, ROOT, name, 0), 0);
			survived[k] = 0; /* removed and added: either way is right */
			renamed[k] = 1;
		}
	}
	for (int i = 0; i < 400; i++)
		if (survived[i])
			assert_int_equal(seen[i], 1);
	free(page);
}

/* An exchange keeps both names' cookies: the names did not move. */
static void readdir_exchange_keeps_places(void **state)
{
	struct tenv *t = *state;
	struct listing *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_int_equal(t_create(t, ROOT, "x", 0, NULL), 0);
	assert_int_equal(t_mkdir(t, ROOT, "y"), 0);
	a->stop_after = b->stop_after = -1;
	assert_int_equal(fsm_readdir(t->fsm, NULL, ROOT, 0, false, collect, a), 0);
	assert_int_equal(t_rename(t, ROOT, "x", ROOT, "y", WIRE_RENAME_EXCHANGE), 0);
	assert_int_equal(fsm_readdir(t->fsm, NULL, ROOT, 0, false, collect, b), 0);
	assert_int_equal(a->n, 2);
	assert_int_equal(b->n, 2);
	assert_true(a->cookie[0] == b->cookie[0] && a->cookie[1] == b->cookie[1]);
	assert_true(a->ino[0] == b->ino[1] && a->ino[1] == b->ino[0]);
	assert_true(b->type[0] == S_IFDIR && b->type[1] == S_IFREG);
	free(a);
	free(b);
}

/* Queries inside a caller's transaction see that transaction. */
static void queries_in_callers_txn(void **state)
{
	struct tenv *t = *state;
	MDB_txn *txn;
	struct fsm_attr a;
	struct fsm_result res;
	struct fsm_statfs st;
	struct wire_cmd c = {.type = WIRE_CMD_MKDIR, .parent = ROOT, .name = "d", .name_len = 1};
	uint8_t buf[64];
	size_t len;

	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), 0);
	assert_int_equal(mdb_txn_begin(t->env, NULL, 0, &txn), 0);
	assert_int_equal(fsm_apply(t->fsm, txn, 1, buf, len, &res), 0);
	assert_int_equal(fsm_lookup(t->fsm, txn, ROOT, "d", 1, &a), 0);
	assert_int_equal(fsm_statfs(t->fsm, txn, &st), 0);
	assert_true(st.files == 2 && st.applied == 1);
	mdb_txn_abort(txn);
	/* Aborted: as if never applied. */
	assert_int_equal(fsm_lookup(t->fsm, NULL, ROOT, "d", 1, &a), -ENOENT);
	assert_int_equal(applied(t), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tenv_setup, tenv_teardown)
	const struct CMUnitTest tests[] = {
	        T(index_order),
	        cmocka_unit_test(rerun_after_map_full),
	        T(session_lookup),
	        T(sessions_apply_once),
	        cmocka_unit_test(sessions_expire_by_index),
	        cmocka_unit_test(sessions_expiry_is_deterministic),
	        cmocka_unit_test(result_encoding),
	        T(readdir_basics),
	        T(readdir_cookies_survive_changes),
	        T(readdir_exchange_keeps_places),
	        T(queries_in_callers_txn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
