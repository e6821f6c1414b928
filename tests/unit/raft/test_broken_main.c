/* test_broken_main.c: the Figure 8 test against the deliberately broken core. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

void raft_figure8(void **state);

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(raft_figure8),
	};
	return cmocka_run_group_tests_name("raft_broken_commit_rule", tests, NULL, NULL);
}
