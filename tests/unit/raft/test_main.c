/* test_main.c: runs every group of the raft core's unit tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include "tests.h"

int main(void)
{
	int failed = 0;
	failed += raft_test_conf();
	failed += raft_test_election();
	failed += raft_test_replication();
	failed += raft_test_durability();
	failed += raft_test_read();
	failed += raft_test_transfer();
	failed += raft_test_snapshot();
	failed += raft_test_membership();
	failed += raft_test_fuzz();
	failed += raft_test_release();
	return failed ? 1 : 0;
}
