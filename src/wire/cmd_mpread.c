/* cmd_mpread.c: a strict, allocation-free msgpack reader for the command decoder. */
#include "cmd_mpread.h"

#include "quorumfs/errors.h"

static int take(struct wire__mpr *r, size_t n, const uint8_t **out)
{
	if (wire__mpr_left(r) < n)
		return QFS_EPROTO;
	*out = r->p;
	r->p += n;
	return 0;
}

/* Reads an n-byte big-endian unsigned integer. */
static int be(struct wire__mpr *r, size_t n, uint64_t *v)
{
	const uint8_t *b;
	if (take(r, n, &b) != 0)
		return QFS_EPROTO;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return 0;
}

int wire__mpr_array(struct wire__mpr *r, uint32_t *n)
{
	const uint8_t *t;
	uint64_t v;
	if (take(r, 1, &t) != 0)
		return QFS_EPROTO;
	if ((*t & 0xf0) == 0x90) {
		*n = *t & 0x0f;
		return 0;
	}
	if (*t == 0xdc && be(r, 2, &v) == 0) {
		*n = (uint32_t)v;
		return 0;
	}
	if (*t == 0xdd && be(r, 4, &v) == 0) {
		*n = (uint32_t)v;
		return 0;
	}
	return QFS_EPROTO;
}

int wire__mpr_i64(struct wire__mpr *r, int64_t *v)
{
	const uint8_t *t;
	uint64_t u;
	if (take(r, 1, &t) != 0)
		return QFS_EPROTO;
	if (*t <= 0x7f) {
		*v = *t;
		return 0;
	}
	if (*t >= 0xe0) {
		*v = (int64_t)(int8_t)*t;
		return 0;
	}
	switch (*t) {
	case 0xcc: /* uint 8, 16, 32, 64 */
	case 0xcd:
	case 0xce:
	case 0xcf:
		if (be(r, (size_t)1 << (*t - 0xcc), &u) != 0 || u > INT64_MAX)
			return QFS_EPROTO;
		*v = (int64_t)u;
		return 0;
	case 0xd0: /* int 8, 16, 32, 64: sign-extend from the width read */
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		size_t n = (size_t)1 << (*t - 0xd0);
		if (be(r, n, &u) != 0)
			return QFS_EPROTO;
		if (n < 8 && (u >> (8 * n - 1)) & 1)
			u |= ~(uint64_t)0 << (8 * n);
		*v = (int64_t)u;
		return 0;
	}
	default:
		return QFS_EPROTO;
	}
}

int wire__mpr_u64(struct wire__mpr *r, uint64_t *v)
{
	const uint8_t *t;
	if (take(r, 1, &t) != 0)
		return QFS_EPROTO;
	if (*t <= 0x7f) {
		*v = *t;
		return 0;
	}
	if (*t >= 0xcc && *t <= 0xcf)
		return be(r, (size_t)1 << (*t - 0xcc), v);
	/* A signed encoding of a non-negative value is still a valid unsigned. */
	if (*t >= 0xd0 && *t <= 0xd3) {
		int64_t s;
		r->p--;
		if (wire__mpr_i64(r, &s) != 0 || s < 0)
			return QFS_EPROTO;
		*v = (uint64_t)s;
		return 0;
	}
	return QFS_EPROTO;
}

int wire__mpr_u32(struct wire__mpr *r, uint32_t *v)
{
	uint64_t u;
	if (wire__mpr_u64(r, &u) != 0 || u > UINT32_MAX)
		return QFS_EPROTO;
	*v = (uint32_t)u;
	return 0;
}

int wire__mpr_bin(struct wire__mpr *r, const void **data, size_t *len, size_t max)
{
	const uint8_t *t, *b;
	uint64_t n;
	if (take(r, 1, &t) != 0)
		return QFS_EPROTO;
	if (*t < 0xc4 || *t > 0xc6)
		return QFS_EPROTO;
	if (be(r, (size_t)1 << (*t - 0xc4), &n) != 0)
		return QFS_EPROTO;
	/* The declared length is checked against the input before anything
	 * else uses it. */
	if (n > max || n > wire__mpr_left(r) || take(r, (size_t)n, &b) != 0)
		return QFS_EPROTO;
	*data = b;
	*len = (size_t)n;
	return 0;
}
