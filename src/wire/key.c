/* key.c: msgpack encoder and strict decoder of the key calls (quorumctl get/put/rm/ls/wait). */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "cmd_mpread.h"
#include "mpwrite.h"
#include "quorumfs/errors.h"
#include "quorumfs/wire_key.h"

static void pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	if (n > 0)
		msgpack_pack_bin_body(pk, p, n);
}

/* Every fixed field fits in 128 bytes; bins add their length and a 5-byte header. */
size_t wire_key_req_size(const struct wire_key_req *req)
{
	return 128 + req->path_len + req->value_len;
}

size_t wire_key_resp_size(const struct wire_key_resp *resp)
{
	return 128 + resp->value_len + (resp->message ? strlen(resp->message) : 0);
}

int wire_key_req_encode(const struct wire_key_req *req, void *buf, size_t cap)
{
	struct wire__fixed_buf b = {buf, 0, cap, 0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, wire__fixed_write);
	msgpack_pack_array(&pk, 8);
	msgpack_pack_uint32(&pk, WIRE_KEY_VERSION);
	msgpack_pack_uint32(&pk, req->op);
	pack_bin(&pk, req->path, req->path_len);
	pack_bin(&pk, req->value, req->value_len);
	msgpack_pack_uint32(&pk, req->flags);
	msgpack_pack_uint64(&pk, req->version);
	msgpack_pack_uint64(&pk, req->timeout_ms);
	msgpack_pack_uint32(&pk, 0); /* reserved: keeps the array length apart from admin's */
	return b.overflow ? -ENOBUFS : (int)b.len;
}

int wire_key_resp_encode(const struct wire_key_resp *resp, void *buf, size_t cap)
{
	struct wire__fixed_buf b = {buf, 0, cap, 0};
	const char *msg = resp->message ? resp->message : "";
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, wire__fixed_write);
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint32(&pk, WIRE_KEY_VERSION);
	msgpack_pack_int64(&pk, resp->err);
	msgpack_pack_uint64(&pk, resp->version);
	pack_bin(&pk, resp->value, resp->value_len);
	pack_bin(&pk, msg, strlen(msg));
	return b.overflow ? -ENOBUFS : (int)b.len;
}

int wire_key_req_decode(const void *buf, size_t len, struct wire_key_req *req)
{
	struct wire__mpr r;
	uint32_t n, version, reserved;
	const void *path;
	memset(req, 0, sizeof(*req));
	wire__mpr_init(&r, buf, len);
	if (wire__mpr_array(&r, &n) != 0 || n != 8 || wire__mpr_u32(&r, &version) != 0 ||
	    version != WIRE_KEY_VERSION || wire__mpr_u32(&r, &req->op) != 0 ||
	    req->op < WIRE_KEY_GET || req->op >= WIRE_KEY_OP_LAST ||
	    wire__mpr_bin(&r, &path, &req->path_len, WIRE_KEY_PATH_MAX) != 0 ||
	    wire__mpr_bin(&r, &req->value, &req->value_len, WIRE_KEY_VALUE_MAX) != 0 ||
	    wire__mpr_u32(&r, &req->flags) != 0 ||
	    (req->flags & ~(WIRE_KEY_IF_ABSENT | WIRE_KEY_IF_VERSION | WIRE_KEY_RECURSIVE)) != 0 ||
	    req->flags == (WIRE_KEY_IF_ABSENT | WIRE_KEY_IF_VERSION) ||
	    wire__mpr_u64(&r, &req->version) != 0 || wire__mpr_u64(&r, &req->timeout_ms) != 0 ||
	    wire__mpr_u32(&r, &reserved) != 0 || wire__mpr_left(&r) != 0)
		return QFS_EPROTO;
	req->path = path;
	if (memchr(req->path, '\0', req->path_len) != NULL)
		return QFS_EPROTO;
	return 0;
}

int wire_key_resp_decode(const void *buf, size_t len, struct wire_key_resp *resp, char *msg,
                         size_t msg_cap)
{
	struct wire__mpr r;
	uint32_t n, version;
	int64_t err;
	const void *m;
	size_t mlen;
	memset(resp, 0, sizeof(*resp));
	wire__mpr_init(&r, buf, len);
	if (wire__mpr_array(&r, &n) != 0 || n != 5 || wire__mpr_u32(&r, &version) != 0 ||
	    version != WIRE_KEY_VERSION || wire__mpr_i64(&r, &err) != 0 || err > 0 ||
	    err < INT32_MIN || wire__mpr_u64(&r, &resp->version) != 0 ||
	    wire__mpr_bin(&r, &resp->value, &resp->value_len, WIRE_KEY_VALUE_MAX) != 0 ||
	    wire__mpr_bin(&r, &m, &mlen, WIRE_KEY_FRAME_MAX) != 0 || wire__mpr_left(&r) != 0)
		return QFS_EPROTO;
	resp->err = (int32_t)err;
	if (msg_cap > 0) {
		size_t k = mlen < msg_cap - 1 ? mlen : msg_cap - 1;
		memcpy(msg, m, k);
		msg[k] = '\0';
		resp->message = msg;
	}
	return 0;
}
