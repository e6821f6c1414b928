/* frame.h: reassembly of length-prefixed frames from a byte stream, with a size bound. */
#ifndef QUORUMFS_NET_FRAME_H
#define QUORUMFS_NET_FRAME_H

/*
 * A frame on a stream is a 4-byte big-endian length n, then n bytes. The
 * reader checks n against its bound as soon as the 4 bytes are in, before
 * anything is allocated, and then grows its buffer only as bytes actually
 * arrive, so memory follows what a peer sent rather than what it claimed.
 * A frame that arrives whole in one read is returned in place (no copy).
 * Pure: no I/O; one reader per stream, not thread-safe.
 */

#include <stddef.h>
#include <stdint.h>

#define NET__HDR_LEN 4

struct net__reader {
	size_t max; /* largest body accepted; may change between frames */
	uint8_t hdr[NET__HDR_LEN];
	unsigned hdr_have; /* header bytes gathered, < NET__HDR_LEN while gathering */
	size_t want;       /* body length of the frame being read (valid once the header is in) */
	uint8_t *buf;      /* body being gathered across reads (owned), or NULL */
	size_t have, cap;  /* bytes gathered in buf, and its size; have <= want */
	uint32_t last_len; /* the length of the last header read (for error messages) */
};

/* Starts @r with bound @max. */
void net__reader_init(struct net__reader *r, size_t max);

/* Releases @r's buffer. */
void net__reader_free(struct net__reader *r);

/*
 * net__reader_next - take bytes from (*@data, *@len) until a frame is complete.
 * @data, @len: the unread input (mutable: a frame returned in place may be
 *              decrypted in place); advanced past what was consumed.
 * @frame, @flen: receive the frame body, valid until the next call or until the
 *              input buffer is reused, whichever comes first.
 * Returns 1 (a frame), 0 (input used up, no frame yet), -EMSGSIZE (a length
 * above max: r->last_len says which; the stream is then unusable) or -ENOMEM.
 */
int net__reader_next(struct net__reader *r, uint8_t **data, size_t *len, uint8_t **frame,
                     size_t *flen);

/* Writes @n as the 4-byte big-endian header at @p. */
void net__put_len(uint8_t *p, uint32_t n);

#endif
