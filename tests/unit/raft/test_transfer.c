/* test_transfer.c: placeholder. */
#include "tests.h"

int raft_test_transfer(void)
{
	return 0;
}
