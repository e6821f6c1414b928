/* fuzz_peer_decode.c: libFuzzer target for the peer message decoder (src/wire/peer.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "quorumfs/errors.h"
#include "quorumfs/wire_peer.h"
#include "peer_samples.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes both ways; a frame that decodes must encode back to one that
 * decodes to the same message. Anything else aborts (a finding). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_message m, m2, m3;
	struct wire_arena a = {0}, a2 = {0}, a3 = {0};
	int rv = wire_peer_decode(data, size, 0, &m, &a);
	int rv2 = wire_peer_decode(data, size, WIRE_DECODE_COPY, &m2, &a2);

	if (rv != rv2 || (rv != 0 && rv != QFS_EPROTO && rv != -ENOMEM))
		abort();
	if (rv == 0) {
		size_t len;
		uint8_t *buf;
		if (!peer_msg_equal(&m, &m2) || wire_peer_size(&m, &len) != 0)
			abort();
		buf = malloc(len);
		if (buf == NULL || wire_peer_encode(&m, buf, len) != (int64_t)len ||
		    wire_peer_decode(buf, len, 0, &m3, &a3) != 0 || !peer_msg_equal(&m, &m3))
			abort();
		wire_arena_free(&a3);
		free(buf);
	}
	wire_arena_free(&a);
	wire_arena_free(&a2);
	return 0;
}
