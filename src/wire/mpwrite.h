/* mpwrite.h: a msgpack-c packer target that fills a fixed buffer, shared by the admin and key codecs. */
#ifndef QUORUMFS_WIRE_MPWRITE_H
#define QUORUMFS_WIRE_MPWRITE_H

#include <stddef.h>

/* msgpack-c's packer writes through a callback; this one fills @p up to
 * @cap and remembers an overflow instead of allocating, so an encoder can
 * answer -ENOBUFS after packing. */
struct wire__fixed_buf {
	char *p;
	size_t len, cap;
	int overflow; /* set once a write did not fit; later writes fail too */
};

/* The msgpack_packer_write callback for a struct wire__fixed_buf. */
int wire__fixed_write(void *data, const char *buf, size_t len);

#endif
