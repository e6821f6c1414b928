/* test_durability.c: placeholder. */
#include "tests.h"

int raft_test_durability(void)
{
	return 0;
}
