/* test_replication.c: placeholder. */
#include "tests.h"

int raft_test_replication(void)
{
	return 0;
}
