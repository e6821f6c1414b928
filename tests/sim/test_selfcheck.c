/* test_selfcheck.c: the checkers catch a simulator that breaks the rules on purpose. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

/* Runs random seeds with @bug until one reports a violation; returns its
 * text (static), or fails after @max seeds. */
static const char *first_violation(unsigned bug, unsigned nodes, uint64_t max)
{
	static char text[1024];
	for (uint64_t seed = 1; seed <= max; seed++) {
		struct sim_opts o;
		sim_opts_random(&o, nodes, 3000);
		o.sim_bug = bug;
		struct sim_cluster *c = sim_cluster_new(&o, seed);
		unsigned v = sim_run_random(c);
		if (v) {
			snprintf(text, sizeof(text), "%s", c->violation);
			printf("bug %u caught at seed %" PRIu64 ": %s\n", bug, seed, text);
			sim_cluster_free(c);
			return text;
		}
		sim_cluster_free(c);
	}
	fail_msg("sim bug %u not caught in %" PRIu64 " seeds", bug, max);
	return NULL;
}

/* Sending a vote or an acknowledgement before the batch is durable (Raft
 * paper Figure 2) is seen as the message leaves the node. */
static void early_send_is_caught(void **state)
{
	(void)state;
	const char *v = first_violation(SIM_BUG_EARLY_SEND, 3, 50);
	assert_non_null(strstr(v, "\"durability\""));
}

/* A disk that forgets acknowledged entries and votes across a crash breaks
 * safety: some invariant (not the liveness one) must notice. */
static void lying_disk_is_caught(void **state)
{
	(void)state;
	const char *v = first_violation(SIM_BUG_LYING_DISK, 3, 200);
	assert_null(strstr(v, "\"liveness\""));
}

/* A partition that never heals must fail the liveness check of the final
 * phase (the minority cannot make progress). */
static void unhealed_partition_fails_liveness(void **state)
{
	(void)state;
	const char *v = first_violation(SIM_BUG_NO_HEAL, 3, 50);
	assert_non_null(strstr(v, "\"liveness\""));
}

/* Every random choice comes from the seed: a seed replays identically,
 * traced or not. */
static void seed_replays_identically(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		uint64_t d[2];
		for (int k = 0; k < 2; k++) {
			struct sim_opts o;
			sim_opts_random(&o, 0, 3000);
			struct sim_cluster *c = sim_cluster_new(&o, seed);
			sim_run_random(c);
			d[k] = sim_digest(c);
			sim_cluster_free(c);
		}
		assert_int_equal(d[0], d[1]);
	}
}

/* Serving a read before the state machine reaches its read index returns
 * stale data: the read check must see it. */
static void early_read_is_caught(void **state)
{
	(void)state;
	const char *v = first_violation(SIM_BUG_EARLY_READ, 3, 100);
	assert_non_null(strstr(v, "\"linearizable read\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(seed_replays_identically),
	        cmocka_unit_test(early_send_is_caught),
	        cmocka_unit_test(lying_disk_is_caught),
	        cmocka_unit_test(unhealed_partition_fails_liveness),
	        cmocka_unit_test(early_read_is_caught),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
