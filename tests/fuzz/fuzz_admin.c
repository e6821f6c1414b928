/* fuzz_admin.c: libFuzzer target for the admin call decoders (quorumctl's socket, forwarded calls).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quorumfs/errors.h"
#include "quorumfs/wire_admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[WIRE_ADMIN_FRAME_MAX];
	struct wire_admin_req req, req2;
	struct wire_admin_resp resp, resp2;
	int rc = wire_admin_req_decode(data, size, &req);
	if (rc != 0 && rc != QFS_EPROTO)
		abort();
	if (rc == 0) {
		int n = wire_admin_req_encode(&req, buf, sizeof(buf));
		if (n < 0 || wire_admin_req_decode(buf, (size_t)n, &req2) != 0 ||
		    memcmp(&req, &req2, sizeof(req)) != 0)
			abort();
	}
	rc = wire_admin_resp_decode(data, size, &resp);
	if (rc != 0 && rc != QFS_EPROTO)
		abort();
	if (rc == 0) {
		int n = wire_admin_resp_encode(&resp, buf, sizeof(buf));
		if (n < 0 || wire_admin_resp_decode(buf, (size_t)n, &resp2) != 0 ||
		    memcmp(&resp, &resp2, sizeof(resp)) != 0)
			abort();
	}
	return 0;
}
