/* test_membership.c: placeholder. */
#include "tests.h"

int raft_test_membership(void)
{
	return 0;
}
