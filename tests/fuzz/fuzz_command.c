/* fuzz_command.c: libFuzzer target for the command decoder (log entries and forwarded commands). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quorumfs/wire_cmd.h"
#include "quorumfs/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A command that decodes must encode to bytes that decode to the same
 * command: the leader encodes what followers decode. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_cmd c, c2;
	int rc = wire_cmd_decode(data, size, &c);
	if (rc != 0) {
		if (rc != QFS_EPROTO)
			abort();
		return 0;
	}
	size_t cap = wire_cmd_encoded_max(&c), len = 0;
	uint8_t *buf = malloc(cap);
	if (buf == NULL || wire_cmd_encode(&c, buf, cap, &len) != 0 || len > cap ||
	    wire_cmd_decode(buf, len, &c2) != 0)
		abort();
	if (c.type != c2.type || c.client_id != c2.client_id || c.serial != c2.serial ||
	    c.name_len != c2.name_len || c.data_len != c2.data_len ||
	    (c.name_len && memcmp(c.name, c2.name, c.name_len) != 0) ||
	    (c.data_len && memcmp(c.data, c2.data, c.data_len) != 0) || c.rdev != c2.rdev ||
	    c.size != c2.size || c.flags != c2.flags || c.n_extents != c2.n_extents)
		abort();
	/* WRITEV: the same extents, walked from both buffers. */
	size_t p1 = 0, p2 = 0, n = 0;
	struct wire_cmd_extent e1, e2;
	int r1, r2;
	while ((r1 = wire_cmd_extent_next(&c, &p1, &e1)) == 1) {
		r2 = wire_cmd_extent_next(&c2, &p2, &e2);
		if (r2 != 1 || e1.offset != e2.offset || e1.len != e2.len || e1.len == 0 ||
		    memcmp(e1.data, e2.data, e1.len) != 0)
			abort();
		n++;
	}
	if (r1 != 0 || wire_cmd_extent_next(&c2, &p2, &e2) != 0 || n != c.n_extents)
		abort();
	free(buf);
	return 0;
}
