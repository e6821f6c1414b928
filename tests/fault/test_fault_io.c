/* test_fault_io.c: the client's encoding of what it reads into history tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_io.h"

static int failures;

static void expect(const char *what, char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "FAIL: %s: got \"%s\", want \"%s\"\n", what, got, want);
		failures++;
	} else {
		fprintf(stderr, "ok: %s -> %s\n", what, got);
	}
	free(got);
}

int main(void)
{
	expect("register empty", encode_register("", 0), "_");
	expect("register token", encode_register("p3-17", 5), "p3-17");
	expect("register with a NUL", encode_register("p3-1\0", 5), "!70332d3100");
	expect("register with a newline", encode_register("v\n", 2), "!760a");
	expect("lines empty", encode_lines("", 0), "_");
	expect("lines", encode_lines("a\nb-2\n", 6), "a,b-2");
	expect("lines, last without newline", encode_lines("a\nb", 3), "a,!62");
	expect("lines, torn in the middle", encode_lines("a\np2-p1-3\n", 10), "a,p2-p1-3");
	expect("lines, an empty line", encode_lines("a\n\nb\n", 5), "a,!,b");
	expect("lines, foreign bytes", encode_lines("a\nx y\nb\n", 8), "a,!782079,b");
	expect("lines, zeros", encode_lines("\0\0\n", 3), "!0000");

	/* One process's reads of one append file, recorded against its previous read. */
	struct aread_prev prev = {0};
	expect("delta, first read", encode_delta(&prev, "a"), "a");
	expect("delta, grown", encode_delta(&prev, "a,b,c"), "=1/089bf607b54513e0,b,c");
	expect("delta, same", encode_delta(&prev, "a,b,c"), "=3/db99bd6693576911");
	expect("delta, shrunk", encode_delta(&prev, "a,b"), "=2/587e57826f60363e");
	expect("delta, diverged", encode_delta(&prev, "a,x,!62"), "=1/089bf607b54513e0,x,!62");
	expect("delta, nothing shared", encode_delta(&prev, "b,a"), "b,a");
	expect("delta, empty", encode_delta(&prev, "_"), "_");
	expect("delta, after an empty read", encode_delta(&prev, "b"), "b");
	expect("delta, absent", encode_delta(&prev, "@"), "@");
	expect("delta, after an absent file", encode_delta(&prev, "b"), "b");
	aread_prev_clear(&prev);
	return failures == 0 ? 0 : 1;
}
