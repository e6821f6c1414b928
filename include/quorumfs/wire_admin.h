/* wire_admin.h: the admin calls between quorumctl and a daemon (and forwarded to the leader). */
#ifndef QUORUMFS_WIRE_ADMIN_H
#define QUORUMFS_WIRE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "quorumfs/raft.h"

/*
 * One request, one response, each a msgpack array (docs/wire-format.md,
 * "Admin calls"). quorumctl sends them over the daemon's local admin socket;
 * a daemon that is not the leader forwards membership calls to the leader in
 * a WIRE_FRAME_ADMIN peer frame, unchanged. Strings travel as msgpack bin.
 */

/* A status lists the configuration's members, with their addresses: the
 * core's bounds are the wire's. */
#define WIRE_ADMIN_VERSION     1
#define WIRE_ADMIN_ADDRESS_MAX RAFT_ADDRESS_MAX
#define WIRE_ADMIN_MESSAGE_MAX 256
#define WIRE_ADMIN_MAX_MEMBERS RAFT_MAX_SERVERS
#define WIRE_ADMIN_FRAME_MAX   8192 /* a request or response never needs more */

enum wire_admin_op {
	WIRE_ADMIN_STATUS = 1,  /* this node's view */
	WIRE_ADMIN_ADD_LEARNER, /* id, address: add a non-voting member */
	WIRE_ADMIN_PROMOTE,     /* id: learner -> voter; QFS_EBUSY-like error until caught up */
	WIRE_ADMIN_REMOVE,      /* id: remove a member (the leader too) */
	WIRE_ADMIN_TRANSFER,    /* id (0: the best voter): hand leadership over */
	WIRE_ADMIN_SNAPSHOT,    /* take a snapshot now and compact the log */
	WIRE_ADMIN_OP_LAST
};

struct wire_admin_req {
	uint32_t op;
	uint64_t id;
	char address[WIRE_ADMIN_ADDRESS_MAX]; /* NUL-terminated */
};

/* What a node knows of its contact with a member (wire_admin_member.contact). */
enum wire_admin_contact {
	WIRE_ADMIN_CONTACT_OK = 0, /* heard from within an election timeout */
	WIRE_ADMIN_CONTACT_SELF,   /* the node itself */
	WIRE_ADMIN_CONTACT_UNKNOWN, /* a follower does not track the other followers */
	WIRE_ADMIN_CONTACT_NEVER,   /* never heard from since this daemon started */
	WIRE_ADMIN_CONTACT_LOST,    /* heard from last_contact_ms ago: longer than an election timeout */
	WIRE_ADMIN_CONTACT_LAST
};

struct wire_admin_member {
	uint64_t id;
	char address[WIRE_ADMIN_ADDRESS_MAX];
	uint32_t voter;          /* 1 voter, 0 learner */
	uint64_t match;          /* leader's view; 0 elsewhere */
	int64_t last_contact_ms; /* ms since this node last heard from it; -1 unknown or never */
	uint32_t contact;        /* enum wire_admin_contact */
};

struct wire_admin_status {
	uint64_t id;
	char role[16]; /* "leader", "follower", "candidate", "pre-candidate" */
	uint64_t term;
	uint64_t leader;
	uint64_t commit;
	uint64_t applied;
	uint64_t last_index;
	uint64_t snapshot_index;
	uint64_t first_index; /* first log entry still held */
	/* 1: this node sees a quorum (a leader: a majority of voters answered
	 * within an election timeout; a follower: it heard from its leader
	 * within one). */
	uint32_t quorate;
	/* The cross-replica check (docs/operations.md): the index of the last
	 * check this node verdicted, and how many members' reports differed
	 * from its own tree since it started. */
	uint64_t verify_index;
	uint64_t verify_mismatches;
	uint32_t n_members;
	struct wire_admin_member members[WIRE_ADMIN_MAX_MEMBERS];
};

struct wire_admin_resp {
	int32_t err;                          /* 0, or a negative error code */
	char message[WIRE_ADMIN_MESSAGE_MAX]; /* what happened, for a person */
	uint64_t index;                       /* membership: the configuration entry's index */
	uint32_t has_status;                  /* 1: @status is filled (WIRE_ADMIN_STATUS) */
	struct wire_admin_status status;
};

/*
 * wire_admin_req_encode / wire_admin_resp_encode - write @req / @resp into
 * @buf (@cap bytes, WIRE_ADMIN_FRAME_MAX is always enough).
 * Returns the encoded length, or -ENOBUFS.
 */
int wire_admin_req_encode(const struct wire_admin_req *req, void *buf, size_t cap);
int wire_admin_resp_encode(const struct wire_admin_resp *resp, void *buf, size_t cap);

/*
 * wire_admin_req_decode / wire_admin_resp_decode - parse and validate every
 * field (strings are bounded and NUL-terminated in the result).
 * Returns 0, or QFS_EPROTO for anything malformed. Never allocates.
 */
int wire_admin_req_decode(const void *buf, size_t len, struct wire_admin_req *req);
int wire_admin_resp_decode(const void *buf, size_t len, struct wire_admin_resp *resp);

/*
 * wire_admin_status_json - render @st as one JSON object (what `quorumctl
 * status --json`, the HTTP /status and .quorumfs/status show) into @buf, at
 * most @cap bytes, NUL-terminated when it fits.
 * Returns the length of the whole rendering (>= @cap: it was cut short).
 */
size_t wire_admin_status_json(const struct wire_admin_status *st, char *buf, size_t cap);

/* The word for a member's contact ("ok", "self", "unknown", "never", "lost"). */
const char *wire_admin_contact_name(uint32_t contact);

/* Name of an op ("status", ...), or "?". */
const char *wire_admin_op_name(uint32_t op);

#endif
