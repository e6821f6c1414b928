/* forward.c: the fixed-layout frames of a command forwarded from a follower to the leader. */
#include <string.h>

#include "quorumfs/errors.h"
#include "quorumfs/wire_forward.h"
#include "quorumfs/wire_peer.h"

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void wire_forward_encode_header(uint64_t serial, uint8_t buf[WIRE_FORWARD_HEADER])
{
	buf[0] = WIRE_FRAME_FORWARD;
	put64(buf + 1, serial);
}

int wire_forward_decode(const void *frame, size_t len, uint64_t *serial, const void **cmd,
                        size_t *cmd_len)
{
	const uint8_t *p = frame;
	if (len <= WIRE_FORWARD_HEADER || p[0] != WIRE_FRAME_FORWARD)
		return QFS_EPROTO;
	*serial = get64(p + 1);
	*cmd = p + WIRE_FORWARD_HEADER;
	*cmd_len = len - WIRE_FORWARD_HEADER;
	return 0;
}

void wire_forward_result_encode(const struct wire_forward_result *r,
                                uint8_t buf[WIRE_FORWARD_RESULT_SIZE])
{
	buf[0] = WIRE_FRAME_FORWARD_RESULT;
	put64(buf + 1, r->serial);
	uint32_t s = (uint32_t)r->status;
	buf[9] = (uint8_t)(s >> 24);
	buf[10] = (uint8_t)(s >> 16);
	buf[11] = (uint8_t)(s >> 8);
	buf[12] = (uint8_t)s;
	put64(buf + 13, r->index);
	put64(buf + 21, r->leader);
}

int wire_forward_result_decode(const void *frame, size_t len, struct wire_forward_result *r)
{
	const uint8_t *p = frame;
	if (len != WIRE_FORWARD_RESULT_SIZE || p[0] != WIRE_FRAME_FORWARD_RESULT)
		return QFS_EPROTO;
	r->serial = get64(p + 1);
	r->status = (int32_t)((uint32_t)p[9] << 24 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 8 |
	                      p[12]);
	r->index = get64(p + 13);
	r->leader = get64(p + 21);
	if (r->status > 0 || (r->status != 0 && r->index != 0))
		return QFS_EPROTO;
	return 0;
}
