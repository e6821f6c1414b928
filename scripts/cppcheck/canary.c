/* canary.c: two deliberate bugs that scripts/static-analysis.sh must find in every run,
 * so a run that checks nothing cannot pass. Never built. */
#include <stdlib.h>

int canary_out_of_bounds(void);
int canary_leak(void);

int canary_out_of_bounds(void)
{
	int a[4] = {0};
	return a[4]; /* arrayIndexOutOfBounds */
}

int canary_leak(void)
{
	char *p = malloc(16);
	if (p == NULL)
		return -1;
	p[0] = 1;
	return p[0]; /* memleak: p is never freed */
}
