/* test_read.c: placeholder. */
#include "tests.h"

int raft_test_read(void)
{
	return 0;
}
