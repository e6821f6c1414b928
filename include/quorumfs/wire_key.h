/* wire_key.h: the key calls between quorumctl and a daemon (get, put, rm, ls, wait). */
#ifndef QUORUMFS_WIRE_KEY_H
#define QUORUMFS_WIRE_KEY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Key calls travel on the admin socket (quorumfs/wire_admin.h) as one
 * request and one response frame, each a msgpack array (docs/wire-format.md,
 * "Key calls"). A request is an array of 8, an admin request one of 4, so
 * the daemon tells them apart by decoding; ops start at 64 so no number
 * means both. A key is a path from the cluster's root ("/app/db_host").
 */

#define WIRE_KEY_VERSION   1
#define WIRE_KEY_PATH_MAX  4095
#define WIRE_KEY_VALUE_MAX (64u << 20) /* decoder bound; the fsm's max value size is lower */
/* A key frame: the value and a bounded rest. */
#define WIRE_KEY_FRAME_MAX (WIRE_KEY_VALUE_MAX + WIRE_KEY_PATH_MAX + 1024)

enum wire_key_op {
	WIRE_KEY_GET = 64, /* path: the value (a regular file's contents) */
	WIRE_KEY_PUT,      /* path, value, flags: create or replace in one command */
	WIRE_KEY_RM,       /* path: unlink a key, or remove an empty directory */
	WIRE_KEY_LS,       /* path: a directory's names, one a line, "/" after directories */
	WIRE_KEY_WAIT,     /* path, since, timeout_ms: until the path or anything under
	                      it has a version above since (0: its version now) */
	WIRE_KEY_WATCH,    /* path, since, flags (RECURSIVE): the changes after since, one
	                      line each ("version op path"), parked until there is one;
	                      the answer's version is the index looked through */
	WIRE_KEY_OP_LAST
};

/* PUT flags. */
#define WIRE_KEY_IF_ABSENT  0x1u /* only if the key does not exist */
#define WIRE_KEY_IF_VERSION 0x2u /* only if the key's version is still @version */
/* WATCH flags. */
#define WIRE_KEY_RECURSIVE 0x4u /* also what changes deeper than the directory's entries */

struct wire_key_req {
	uint32_t op;
	const char *path; /* borrowed (from the frame when decoded); not NUL-terminated */
	size_t path_len;
	const void *value; /* borrowed; PUT only */
	size_t value_len;
	uint32_t flags;
	uint64_t version;    /* PUT with WIRE_KEY_IF_VERSION: the expected version;
	                        WAIT: the version to wait past (0: the current one) */
	uint64_t timeout_ms; /* WAIT: 0 waits forever */
};

struct wire_key_resp {
	int32_t err;      /* 0, -ENOENT (no such key), -EEXIST / -ECANCELED (a condition
	                     failed: @version is the current one), or another negative code */
	uint64_t version; /* the key's version after the call (GET, PUT, WAIT) */
	const void *value; /* borrowed; GET: the value, LS: the listing */
	size_t value_len;
	const char *message; /* borrowed, NUL-terminated when encoding; for a person */
};

/*
 * wire_key_req_encode / wire_key_resp_encode - the encoded length of @req /
 * @resp into @buf (@cap bytes; wire_key_*_size() is enough), or -ENOBUFS.
 */
size_t wire_key_req_size(const struct wire_key_req *req);
size_t wire_key_resp_size(const struct wire_key_resp *resp);
int wire_key_req_encode(const struct wire_key_req *req, void *buf, size_t cap);
int wire_key_resp_encode(const struct wire_key_resp *resp, void *buf, size_t cap);

/*
 * wire_key_req_decode / wire_key_resp_decode - parse and check every field;
 * pointers in the result point into @buf. The response's message is copied,
 * NUL-terminated, into @msg (@msg_cap bytes, cut if longer).
 * Returns 0, or QFS_EPROTO for anything malformed. Never allocates.
 */
int wire_key_req_decode(const void *buf, size_t len, struct wire_key_req *req);
int wire_key_resp_decode(const void *buf, size_t len, struct wire_key_resp *resp, char *msg,
                         size_t msg_cap);

#endif
