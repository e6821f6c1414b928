/* cmd_mpread.h: a strict, allocation-free msgpack reader for the command decoder. */
#ifndef QUORUMFS_WIRE_CMD_MPREAD_H
#define QUORUMFS_WIRE_CMD_MPREAD_H

#include <stddef.h>
#include <stdint.h>

/*
 * msgpack-c's unpacker allocates an array's declared element count before it
 * has seen the elements, so five bytes of garbage can ask for gigabytes. This
 * reader instead walks the bytes in place: every declared length is checked
 * against what is left of the input before it is used, nothing is allocated,
 * and bin payloads are returned as pointers into the input.
 */
struct wire__mpr {
	const uint8_t *p;   /* next byte to read */
	const uint8_t *end; /* one past the input */
};

static inline void wire__mpr_init(struct wire__mpr *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
}

static inline size_t wire__mpr_left(const struct wire__mpr *r)
{
	return (size_t)(r->end - r->p);
}

/* Each returns 0, or QFS_EPROTO on a wrong type or a short input (then the
 * reader's position is unspecified). */
int wire__mpr_array(struct wire__mpr *r, uint32_t *n);
int wire__mpr_u64(struct wire__mpr *r, uint64_t *v);
int wire__mpr_u32(struct wire__mpr *r, uint32_t *v);
int wire__mpr_i64(struct wire__mpr *r, int64_t *v);
/* A bin of at most @max bytes; *@data borrows from the input. */
int wire__mpr_bin(struct wire__mpr *r, const void **data, size_t *len, size_t max);

#endif
