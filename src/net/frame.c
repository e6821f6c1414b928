/* frame.c: reassembly of length-prefixed frames from a byte stream, with a size bound. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* A gathering buffer bigger than this is released once its frame is done,
 * so an idle connection does not keep a 64 MiB buffer. */
#define KEEP_BYTES (1u << 20)

void net__reader_init(struct net__reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void net__reader_free(struct net__reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->have = r->cap = 0;
}

void net__put_len(uint8_t *p, uint32_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

/* Makes room for @n more body bytes: doubling, never past the frame's length. */
static int grow(struct net__reader *r, size_t n)
{
	size_t need = r->have + n, cap = r->cap ? r->cap : 4096;
	uint8_t *p;

	if (need <= r->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > r->want)
		cap = r->want;
	p = realloc(r->buf, cap);
	if (p == NULL)
		return -ENOMEM;
	r->buf = p;
	r->cap = cap;
	return 0;
}

int net__reader_next(struct net__reader *r, uint8_t **data, size_t *len, uint8_t **frame,
                     size_t *flen)
{
	size_t n;

	/* A big buffer handed out by the last call is no longer in use. */
	if (r->have == 0 && r->cap > KEEP_BYTES)
		net__reader_free(r);
	while (r->hdr_have < NET__HDR_LEN) {
		if (*len == 0)
			return 0;
		r->hdr[r->hdr_have++] = **data;
		(*data)++;
		(*len)--;
		if (r->hdr_have == NET__HDR_LEN) {
			r->last_len = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
			              (uint32_t)r->hdr[2] << 8 | r->hdr[3];
			if (r->last_len > r->max)
				return -EMSGSIZE;
			r->want = r->last_len;
			r->have = 0;
		}
	}
	/* The whole body is in the input: hand it out in place. */
	if (r->have == 0 && *len >= r->want) {
		*frame = *data;
		*flen = r->want;
		*data += r->want;
		*len -= r->want;
		r->hdr_have = 0;
		return 1;
	}
	n = r->want - r->have;
	if (n > *len)
		n = *len;
	if (n > 0) {
		if (grow(r, n) != 0)
			return -ENOMEM;
		memcpy(r->buf + r->have, *data, n);
		r->have += n;
		*data += n;
		*len -= n;
	}
	if (r->have < r->want)
		return 0;
	*frame = r->buf;
	*flen = r->want;
	r->hdr_have = 0;
	r->have = 0;
	return 1;
}
