/* test_fsm_keys.c: versions are log indexes, and PUT_IF holds only at the version it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <errno.h>

#include "helpers.h"

#define ROOT FSM_ROOT_INO

static int put_if(struct tenv *t, uint64_t parent, const char *name, const char *data,
                  uint64_t version)
{
	struct wire_cmd c = {.type = WIRE_CMD_PUT_IF, .parent = parent, .name = name,
	                     .name_len = strlen(name), .mode = 0644, .flags = WIRE_CREATE_TRUNC,
	                     .data = data, .data_len = strlen(data), .offset = version,
	                     .uid = 1000, .gid = 100};
	return tenv_apply(t, &c);
}

static void versions_are_log_indexes(void **state)
{
	struct tenv *t = *state;
	assert_int_equal(t_mkdir(t, ROOT, "app"), 0);
	uint64_t d = t->res.attr.ino;
	assert_int_equal(t->res.attr.version, t->index);
	assert_int_equal(t_create(t, d, "k", 0, "v1"), 0);
	uint64_t f = t->res.attr.ino;
	assert_int_equal(t->res.attr.version, t->index);
	/* The directory moved with its new entry, the root did not. */
	assert_int_equal(t_getattr(t, d).version, t->index);
	assert_int_equal(t_getattr(t, ROOT).version, t->index - 1);
	assert_int_equal(t_write(t, f, 0, "v2", 0), 0);
	assert_int_equal(t_getattr(t, f).version, t->index);
	assert_int_equal(t_getattr(t, d).version, t->index - 1);
}

static void put_if_holds_only_at_its_version(void **state)
{
	struct tenv *t = *state;
	char *s;
	assert_int_equal(t_create(t, ROOT, "k", 0, "old"), 0);
	uint64_t v = t->res.attr.version, ino = t->res.attr.ino;
	assert_int_equal(t_write(t, ino, 0, "mid", 0), 0);
	uint64_t v2 = t->res.attr.version;
	uint32_t before = tenv_digest(t);
	/* Stale: refused, and nothing written. */
	assert_int_equal(put_if(t, ROOT, "k", "lost", v), -ECANCELED);
	assert_int_equal(tenv_digest(t), before);
	/* Current: the whole value is replaced, the version moves. */
	assert_int_equal(put_if(t, ROOT, "k", "new", v2), 0);
	assert_int_equal(t->res.attr.ino, ino);
	assert_int_equal(t->res.attr.version, t->index);
	assert_int_equal(t->res.attr.size, 3);
	s = t_read(t, ino);
	assert_string_equal(s, "new");
	free(s);
	/* The same command again is now stale in its turn. */
	assert_int_equal(put_if(t, ROOT, "k", "again", v2), -ECANCELED);
	/* No such key, a directory: not at any version. */
	assert_int_equal(put_if(t, ROOT, "none", "x", 1), -ENOENT);
	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	assert_int_equal(put_if(t, ROOT, "d", "x", t->res.attr.version), -EISDIR);
}

static int ttl_expire(struct tenv *t, uint64_t ino, uint64_t version)
{
	struct wire_cmd c = {.type = WIRE_CMD_TTL_EXPIRE, .ino = ino, .offset = version};
	return tenv_apply(t, &c);
}

struct seen {
	uint64_t ino[8], ttl[8];
	int n;
};

static int see(void *arg, const struct fsm_attr *a, uint64_t ttl_s)
{
	struct seen *s = arg;
	s->ino[s->n] = a->ino;
	s->ttl[s->n++] = ttl_s;
	return 0;
}

static int scan_run(struct tenv *t, struct seen *s)
{
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(t->env, NULL, MDB_RDONLY, &txn), 0);
	int rc = fsm_ttl_scan(t->fsm, txn, see, s);
	mdb_txn_abort(txn);
	return rc;
}

static void ttl_expire_removes_every_name_at_its_version(void **state)
{
	struct tenv *t = *state;
	struct seen s = {0};
	uint64_t v;
	assert_int_equal(t_create(t, ROOT, "f", 0, "x"), 0);
	uint64_t f = t->res.attr.ino;
	assert_int_equal(t_create(t, ROOT, "plain", 0, "y"), 0);
	assert_int_equal(t_create(t, ROOT, "bad", 0, "z"), 0);
	assert_int_equal(t_setxattr(t, t->res.attr.ino, FSM_TTL_XATTR, "1s", 0), 0);
	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	uint64_t d = t->res.attr.ino;
	assert_int_equal(t_link(t, f, d, "g"), 0);
	assert_int_equal(t_setxattr(t, f, FSM_TTL_XATTR, "30", 0), 0);
	v = t->res.attr.version;
	/* The scan finds the one file with a valid TTL. */
	assert_int_equal(scan_run(t, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.ino[0] == f && s.ttl[0] == 30);
	/* A write since the leader looked keeps the file. */
	assert_int_equal(t_write(t, f, 0, "w", 0), 0);
	assert_int_equal(ttl_expire(t, f, v), -ECANCELED);
	assert_int_equal(t_lookup(t, ROOT, "f"), f);
	/* At its version: every name goes, at this one index. */
	v = t_getattr(t, f).version;
	assert_int_equal(ttl_expire(t, f, v), 0);
	assert_int_equal(t->res.attr.size, 2);
	assert_int_equal(t_lookup(t, ROOT, "f"), 0);
	assert_int_equal(t_lookup(t, d, "g"), 0);
	assert_int_equal(ttl_expire(t, f, v), -ENOENT);
	assert_int_equal(ttl_expire(t, d, t_getattr(t, d).version), -EINVAL);
}

static void ttl_values(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(fsm_ttl_parse("60", 2, &v), 0);
	assert_int_equal(v, 60);
	assert_int_equal(fsm_ttl_parse("1000000000", 10, &v), 0);
	const char *bad[] = {"", "0", "-1", "1s", " 1", "1\n", "1000000001", "99999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fsm_ttl_parse(bad[i], strlen(bad[i]), &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(versions_are_log_indexes, tenv_setup, tenv_teardown),
	        cmocka_unit_test_setup_teardown(put_if_holds_only_at_its_version, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(ttl_expire_removes_every_name_at_its_version,
	                                        tenv_setup, tenv_teardown),
	        cmocka_unit_test(ttl_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
