/* wire_peer.h: the frame envelope and the msgpack codec of Raft messages between peers. */
#ifndef QUORUMFS_WIRE_PEER_H
#define QUORUMFS_WIRE_PEER_H

/*
 * A frame is the unit the transport (src/net) carries: one byte saying what
 * kind of frame it is, then a body whose layout depends on the kind. This
 * header encodes and decodes the body of WIRE_FRAME_RAFT (a struct
 * raft_message as a msgpack array); docs/wire-format.md gives every layout.
 *
 * Decoding never trusts a length read from the input: every count and every
 * byte length is checked against the bytes that remain before anything is
 * allocated, and the whole frame is validated before the one allocation the
 * decoder makes. Anything malformed returns QFS_EPROTO.
 *
 * Threading: every function here is pure (no globals), so it may be called
 * from any thread on distinct objects.
 */

#include <stddef.h>
#include <stdint.h>

#include "quorumfs/raft.h"

/* Kinds of frame; the first byte of every frame. */
enum wire_frame_kind {
	WIRE_FRAME_RAFT = 1,           /* a struct raft_message, this header */
	WIRE_FRAME_FORWARD = 2,        /* a client command forwarded to the leader */
	WIRE_FRAME_FORWARD_RESULT = 3, /* the leader's answer to a forwarded command */
	WIRE_FRAME_ADMIN = 4,          /* an admin call (quorumctl) */
	WIRE_FRAME_ADMIN_RESULT = 5,   /* its answer */
	WIRE_FRAME_VERIFY = 6,         /* a node's tree hash at a check's index, to the leader */
	WIRE_FRAME_KIND_LAST
};

/*
 * A WIRE_FRAME_VERIFY frame: the kind byte, then the check's index (u64
 * big-endian) and the tree hash (WIRE_VERIFY_HASH bytes): fixed size.
 */
#define WIRE_VERIFY_HASH  16
#define WIRE_VERIFY_FRAME (1 + 8 + WIRE_VERIFY_HASH)

/* Most bytes of a configuration (raft_conf_encode()) in a snapshot chunk. */
#define WIRE_PEER_CONF_MAX 4096

/* Fewest bytes one encoded entry takes (array header, term, index, type and
 * an empty bin); a frame of n bytes holds at most n / this many entries. */
#define WIRE_PEER_ENTRY_MIN 6

/* Flags of wire_peer_decode(). */
enum {
	/* Copy entry data, conf and chunk bytes into the arena, so the message
	 * outlives the frame. Without it they point into the frame. */
	WIRE_DECODE_COPY = 1u << 0,
};

/*
 * The memory of one decoded message: a single allocation (or none). Zero it
 * (or pass it to wire_peer_decode(), which sets it) before use.
 */
struct wire_arena {
	void *mem;
};

/*
 * wire_arena_free - release what a decode allocated; the message that used it
 * becomes invalid. Safe on a zeroed or already freed arena (it is zeroed).
 */
void wire_arena_free(struct wire_arena *arena);

/*
 * wire_frame_split - read the kind byte of a frame.
 * @frame, @len: the frame (borrowed).
 * @kind:        receives the kind (enum wire_frame_kind).
 * @body, @body_len: receive the bytes after the kind byte (pointing into @frame).
 * Returns 0, or QFS_EPROTO if @len is 0 or the kind is not a known one.
 */
int wire_frame_split(const void *frame, size_t len, uint8_t *kind, const void **body,
                     size_t *body_len);

/*
 * wire_peer_size - the exact size of the frame wire_peer_encode() writes for @m.
 * @m: the message (borrowed). A RAFT_MSG_SNAPSHOT must carry its chunk bytes
 *     (chunk.base non-NULL when chunk.len > 0): the caller fills them in from
 *     the snapshot before encoding (see "Snapshot chunks" in raft.h).
 * @size: receives the size in bytes.
 * Returns 0, or -EINVAL if @m is not a valid message (unknown type, unknown
 * entry type, a byte field with NULL base, conf longer than
 * WIRE_PEER_CONF_MAX, a length over UINT32_MAX).
 */
int wire_peer_size(const struct raft_message *m, size_t *size);

/*
 * wire_peer_encode - write @m as a WIRE_FRAME_RAFT frame into @buf.
 * @m:   the message (borrowed); see wire_peer_size().
 * @buf: where to write, @cap bytes (caller's memory).
 * Returns the number of bytes written (> 0), -EINVAL (see wire_peer_size()),
 * or -ENOBUFS if @cap is smaller than wire_peer_size() (nothing usable written).
 */
int64_t wire_peer_encode(const struct raft_message *m, void *buf, size_t cap);

/*
 * wire_peer_decode - read a WIRE_FRAME_RAFT frame into @m.
 * @frame, @len: the whole frame, kind byte included (borrowed).
 * @flags: 0 or WIRE_DECODE_COPY.
 * @m:     receives the message. Its entries array (and, with WIRE_DECODE_COPY,
 *         every byte field) lives in @arena; without WIRE_DECODE_COPY the
 *         byte fields (entry data, conf, chunk) point into @frame, must be
 *         treated as read-only, and are valid only as long as @frame.
 * @arena: receives the allocation; the caller frees it with wire_arena_free()
 *         once done with @m. On failure it is left empty and @m unspecified.
 * Checks: the kind byte, the message type, the array arity of every item,
 * each integer's format and range (ids non-zero, an entry's type known,
 * entries consecutive from prev_index + 1, offset + chunk within size), each
 * byte length against what remains, and no byte left over.
 * Returns 0, QFS_EPROTO (malformed), or -ENOMEM.
 */
int wire_peer_decode(const void *frame, size_t len, unsigned flags, struct raft_message *m,
                     struct wire_arena *arena);

#endif
