/* test_scenarios.c: named Raft scenarios (paper figures, PreVote, CheckQuorum, ...) on the
 * simulator. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "sim.h"

static void fig8_correct_core_waits(void **state)
{
	(void)state;
	struct sim_fig8_result r;
	sim_fig8(false, &r);
	if (r.violations)
		printf("%s\n", r.violation);
	assert_false(r.old_entry_committed);
	assert_int_equal(r.violations, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(fig8_correct_core_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
