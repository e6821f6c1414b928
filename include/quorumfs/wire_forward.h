/* wire_forward.h: the frames that carry a client command from a follower to the leader, and back.
 */
#ifndef QUORUMFS_WIRE_FORWARD_H
#define QUORUMFS_WIRE_FORWARD_H

/*
 * A follower cannot propose: it forwards the encoded command (already
 * carrying its client id and serial, quorumfs/wire_cmd.h) to the leader in a
 * WIRE_FRAME_FORWARD frame; the leader proposes it and answers with a
 * WIRE_FRAME_FORWARD_RESULT frame. The submitter is completed when its own
 * node applies the (client, serial), not by this answer: the answer only
 * tells a follower early that it asked the wrong node or that the leader
 * refused the proposal.
 *
 * Layouts (fixed, big-endian; docs/daemon.md):
 *   FORWARD         kind(1)=2 | serial(8) | command bytes (1.. bytes)
 *   FORWARD_RESULT  kind(1)=3 | serial(8) | status(4, signed) | index(8) | leader(8)
 *
 * Pure functions; any thread.
 */

#include <stddef.h>
#include <stdint.h>

#define WIRE_FORWARD_HEADER      9  /* kind + serial */
#define WIRE_FORWARD_RESULT_SIZE 29 /* the whole result frame */

struct wire_forward_result {
	uint64_t serial; /* the serial of the forwarded command */
	int32_t status;  /* 0 (proposed at @index), QFS_ENOTLEADER, -EBUSY, -ENOMEM, ... */
	uint64_t index;  /* the log index it was proposed at; 0 unless status is 0 */
	uint64_t leader; /* the leader this node knows of (0: none); a hint to retry */
};

/*
 * wire_forward_encode_header - write the 9-byte header of a FORWARD frame
 * into @buf; the command's bytes follow it in the same frame.
 */
void wire_forward_encode_header(uint64_t serial, uint8_t buf[WIRE_FORWARD_HEADER]);

/*
 * wire_forward_decode - split a FORWARD frame (@frame, @len, kind byte
 * included; borrowed) into *@serial and the command's bytes (*@cmd points
 * into @frame, *@cmd_len bytes, at least 1).
 * Returns 0 or QFS_EPROTO (wrong kind, too short).
 */
int wire_forward_decode(const void *frame, size_t len, uint64_t *serial, const void **cmd,
                        size_t *cmd_len);

/* wire_forward_result_encode - write @r as a FORWARD_RESULT frame into @buf. */
void wire_forward_result_encode(const struct wire_forward_result *r,
                                uint8_t buf[WIRE_FORWARD_RESULT_SIZE]);

/*
 * wire_forward_result_decode - read a FORWARD_RESULT frame (kind byte
 * included) into @r. Returns 0 or QFS_EPROTO (wrong kind or size, a status
 * that is not negative or zero, an index given with an error).
 */
int wire_forward_result_decode(const void *frame, size_t len, struct wire_forward_result *r);

#endif
