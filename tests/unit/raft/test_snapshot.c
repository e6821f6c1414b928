/* test_snapshot.c: placeholder. */
#include "tests.h"

int raft_test_snapshot(void)
{
	return 0;
}
