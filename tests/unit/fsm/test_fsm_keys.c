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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(versions_are_log_indexes, tenv_setup, tenv_teardown),
	        cmocka_unit_test_setup_teardown(put_if_holds_only_at_its_version, tenv_setup,
	                                        tenv_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
