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
	    (c.data_len && memcmp(c.data, c2.data, c.data_len) != 0))
		abort();
	free(buf);
	return 0;
}
