/* sim_oom.c: malloc, calloc and realloc failures injected into the core (linked with ld --wrap). */
#include <stddef.h>

#include "sim.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static bool fail(void)
{
	if (!sim_oom.armed || !sim_rng_permille(&sim_oom.rng, sim_oom.permille))
		return false;
	sim_oom.n_failed++;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail() ? NULL : __real_realloc(p, n);
}
