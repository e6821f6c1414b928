/* admin.c: msgpack encoder and strict decoder of the admin calls (quorumctl <-> daemon). */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "cmd_mpread.h"
#include "mpwrite.h"
#include "quorumfs/errors.h"
#include "quorumfs/wire_admin.h"

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, s, n);
}

int wire_admin_req_encode(const struct wire_admin_req *req, void *buf, size_t cap)
{
	struct wire__fixed_buf b = {buf, 0, cap, 0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, wire__fixed_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, WIRE_ADMIN_VERSION);
	msgpack_pack_uint32(&pk, req->op);
	msgpack_pack_uint64(&pk, req->id);
	pack_str(&pk, req->address);
	return b.overflow ? -ENOBUFS : (int)b.len;
}

int wire_admin_resp_encode(const struct wire_admin_resp *resp, void *buf, size_t cap)
{
	struct wire__fixed_buf b = {buf, 0, cap, 0};
	const struct wire_admin_status *st = &resp->status;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, wire__fixed_write);
	msgpack_pack_array(&pk, resp->has_status ? 6 : 5);
	msgpack_pack_uint32(&pk, WIRE_ADMIN_VERSION);
	msgpack_pack_int64(&pk, resp->err);
	pack_str(&pk, resp->message);
	msgpack_pack_uint64(&pk, resp->index);
	msgpack_pack_uint32(&pk, resp->has_status);
	if (resp->has_status) {
		uint32_t n = st->n_members <= WIRE_ADMIN_MAX_MEMBERS ? st->n_members
		                                                     : WIRE_ADMIN_MAX_MEMBERS;
		msgpack_pack_array(&pk, 13);
		msgpack_pack_uint64(&pk, st->id);
		pack_str(&pk, st->role);
		msgpack_pack_uint64(&pk, st->term);
		msgpack_pack_uint64(&pk, st->leader);
		msgpack_pack_uint64(&pk, st->commit);
		msgpack_pack_uint64(&pk, st->applied);
		msgpack_pack_uint64(&pk, st->last_index);
		msgpack_pack_uint64(&pk, st->snapshot_index);
		msgpack_pack_uint64(&pk, st->first_index);
		msgpack_pack_uint32(&pk, st->quorate);
		msgpack_pack_uint64(&pk, st->verify_index);
		msgpack_pack_uint64(&pk, st->verify_mismatches);
		msgpack_pack_array(&pk, n);
		for (uint32_t i = 0; i < n; i++) {
			const struct wire_admin_member *m = &st->members[i];
			msgpack_pack_array(&pk, 6);
			msgpack_pack_uint64(&pk, m->id);
			pack_str(&pk, m->address);
			msgpack_pack_uint32(&pk, m->voter);
			msgpack_pack_uint64(&pk, m->match);
			msgpack_pack_int64(&pk, m->last_contact_ms);
			msgpack_pack_uint32(&pk, m->contact);
		}
	}
	return b.overflow ? -ENOBUFS : (int)b.len;
}

/* A bin of fewer than @cap bytes, copied NUL-terminated into @out. */
static int read_str(struct wire__mpr *r, char *out, size_t cap)
{
	const void *p;
	size_t n;
	if (wire__mpr_bin(r, &p, &n, cap - 1) != 0 || memchr(p, '\0', n) != NULL)
		return QFS_EPROTO;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int read_version(struct wire__mpr *r, uint32_t want_lo, uint32_t want_hi, uint32_t *n)
{
	uint32_t version;
	if (wire__mpr_array(r, n) != 0 || *n < want_lo || *n > want_hi)
		return QFS_EPROTO;
	if (wire__mpr_u32(r, &version) != 0 || version != WIRE_ADMIN_VERSION)
		return QFS_EPROTO;
	return 0;
}

int wire_admin_req_decode(const void *buf, size_t len, struct wire_admin_req *req)
{
	struct wire__mpr r;
	uint32_t n;
	memset(req, 0, sizeof(*req));
	wire__mpr_init(&r, buf, len);
	if (read_version(&r, 4, 4, &n) != 0 || wire__mpr_u32(&r, &req->op) != 0 || req->op == 0 ||
	    req->op >= WIRE_ADMIN_OP_LAST || wire__mpr_u64(&r, &req->id) != 0 ||
	    read_str(&r, req->address, sizeof(req->address)) != 0 || wire__mpr_left(&r) != 0)
		return QFS_EPROTO;
	return 0;
}

static int read_status(struct wire__mpr *r, struct wire_admin_status *st)
{
	uint32_t n;
	if (wire__mpr_array(r, &n) != 0 || n != 13 || wire__mpr_u64(r, &st->id) != 0 ||
	    read_str(r, st->role, sizeof(st->role)) != 0 || wire__mpr_u64(r, &st->term) != 0 ||
	    wire__mpr_u64(r, &st->leader) != 0 || wire__mpr_u64(r, &st->commit) != 0 ||
	    wire__mpr_u64(r, &st->applied) != 0 || wire__mpr_u64(r, &st->last_index) != 0 ||
	    wire__mpr_u64(r, &st->snapshot_index) != 0 || wire__mpr_u64(r, &st->first_index) != 0 ||
	    wire__mpr_u32(r, &st->quorate) != 0 || st->quorate > 1 ||
	    wire__mpr_u64(r, &st->verify_index) != 0 ||
	    wire__mpr_u64(r, &st->verify_mismatches) != 0 || wire__mpr_array(r, &st->n_members) != 0 ||
	    st->n_members > WIRE_ADMIN_MAX_MEMBERS)
		return QFS_EPROTO;
	for (uint32_t i = 0; i < st->n_members; i++) {
		struct wire_admin_member *m = &st->members[i];
		if (wire__mpr_array(r, &n) != 0 || n != 6 || wire__mpr_u64(r, &m->id) != 0 ||
		    read_str(r, m->address, sizeof(m->address)) != 0 ||
		    wire__mpr_u32(r, &m->voter) != 0 || m->voter > 1 ||
		    wire__mpr_u64(r, &m->match) != 0 || wire__mpr_i64(r, &m->last_contact_ms) != 0 ||
		    wire__mpr_u32(r, &m->contact) != 0 || m->contact >= WIRE_ADMIN_CONTACT_LAST)
			return QFS_EPROTO;
	}
	return 0;
}

int wire_admin_resp_decode(const void *buf, size_t len, struct wire_admin_resp *resp)
{
	struct wire__mpr r;
	uint32_t n;
	int64_t err;
	memset(resp, 0, sizeof(*resp));
	wire__mpr_init(&r, buf, len);
	if (read_version(&r, 5, 6, &n) != 0 || wire__mpr_i64(&r, &err) != 0 || err > 0 ||
	    err < INT32_MIN || read_str(&r, resp->message, sizeof(resp->message)) != 0 ||
	    wire__mpr_u64(&r, &resp->index) != 0 || wire__mpr_u32(&r, &resp->has_status) != 0 ||
	    resp->has_status != (n == 6 ? 1u : 0u))
		return QFS_EPROTO;
	resp->err = (int32_t)err;
	if (resp->has_status && read_status(&r, &resp->status) != 0)
		return QFS_EPROTO;
	return wire__mpr_left(&r) == 0 ? 0 : QFS_EPROTO;
}

const char *wire_admin_op_name(uint32_t op)
{
	static const char *const names[] = {
	        [WIRE_ADMIN_STATUS] = "status",     [WIRE_ADMIN_ADD_LEARNER] = "add",
	        [WIRE_ADMIN_PROMOTE] = "promote",   [WIRE_ADMIN_REMOVE] = "remove",
	        [WIRE_ADMIN_TRANSFER] = "transfer", [WIRE_ADMIN_SNAPSHOT] = "snapshot",
	};
	return op > 0 && op < WIRE_ADMIN_OP_LAST ? names[op] : "?";
}
