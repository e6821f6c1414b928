/* net.h: the authenticated, encrypted TCP transport between peers, and the local admin socket. */
#ifndef QUORUMFS_NET_H
#define QUORUMFS_NET_H

/*
 * A struct net lives on one libuv loop and carries frames (opaque byte
 * strings; src/wire gives them meaning) between the nodes of a cluster.
 *
 * - Each node listens on one address and dials every peer it was told about
 *   (net_peer_add); frames to a peer go over the connection it dialed, frames
 *   from a peer arrive over the connection the peer dialed. So each pair of
 *   nodes holds two TCP connections, one per direction, and no tie-breaking
 *   is needed when both dial at once.
 * - A dial that fails, or a connection that drops, is retried after a delay
 *   that doubles from backoff_min_ms up to backoff_max_ms, and starts again
 *   from backoff_min_ms once a connection is up.
 * - Every connection starts with a handshake in which both sides prove they
 *   hold the cluster key and the same cluster name; then every frame is
 *   encrypted and authenticated, in order (docs/wire-format.md). A connection
 *   that fails the handshake, sends a malformed or oversize frame, or a frame
 *   that fails authentication is closed with one log line naming the remote
 *   address and the reason. The node carries on.
 * - Sending never blocks: a frame is queued for its peer's connection, and a
 *   frame that would take the queue over send_queue_bytes is dropped and
 *   reported (Raft tolerates loss; the caller's timeouts cover the rest).
 *   Frames queued on a connection that drops are dropped with it.
 *
 * Threading: every function must be called on the loop's thread, and every
 * callback runs there. Errors are negative: -errno / libuv's UV_E* (which are
 * -errno on Unix) or QFS_E* codes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "quorumfs/raft.h"

#define NET_KEY_BYTES 32 /* the cluster key */

#define NET_MAX_FRAME_DEFAULT     (64u << 20)  /* 16 MiB values and overhead, with margin */
#define NET_SEND_QUEUE_DEFAULT    (128u << 20) /* per peer */
#define NET_BACKOFF_MIN_DEFAULT   50           /* ms */
#define NET_BACKOFF_MAX_DEFAULT   3000         /* ms */
#define NET_HANDSHAKE_TIMEOUT_DEF 5000         /* ms */

struct net;

enum net_event_type {
	NET_PEER_UP = 1, /* a connection finished its handshake */
	NET_PEER_DOWN,   /* a connection that was up is gone */
};

struct net_event {
	int type;            /* enum net_event_type */
	raft_id id;          /* the peer's node id */
	bool outbound;       /* the connection we dialed (we send on it) */
	const char *address; /* remote "ip:port" (borrowed for the callback) */
	int reason;          /* NET_PEER_DOWN: 0 if closed by us or by the peer
	                      * cleanly, otherwise the error that closed it */
};

/*
 * Receives one frame from peer @from. @frame is borrowed: valid only during
 * the call (it may be decrypted in place in the read buffer).
 */
typedef void (*net_recv_cb)(struct net *n, raft_id from, const void *frame, size_t len, void *data);
typedef void (*net_event_cb)(struct net *n, const struct net_event *ev, void *data);
typedef void (*net_close_cb)(void *data);

struct net_config {
	raft_id id;                    /* this node, non-zero */
	const char *cluster_name;      /* copied by net_new(); at most 255 bytes */
	uint8_t key[NET_KEY_BYTES];    /* the cluster key (qfs_key_load() reads it) */
	size_t max_frame;              /* largest frame payload sent or accepted */
	size_t send_queue_bytes;       /* per-peer bound on queued bytes; >= max_frame */
	unsigned backoff_min_ms;       /* first redial delay */
	unsigned backoff_max_ms;       /* largest redial delay */
	unsigned handshake_timeout_ms; /* a connection not up by then is closed */
	net_recv_cb recv_cb;           /* required */
	net_event_cb event_cb;         /* may be NULL */
	void *data;                    /* passed to the callbacks */
};

/* Per-transport counters, for status and tests. Monotonic. */
struct net_stats {
	uint64_t frames_sent;      /* frames handed to the socket */
	uint64_t frames_received;  /* frames delivered to recv_cb */
	uint64_t dropped_full;     /* net_send*() refused: the peer's queue was full */
	uint64_t dropped_down;     /* net_send*() refused: no connection up to the peer */
	uint64_t handshake_failed; /* connections closed before they were up */
	uint64_t conn_failed;      /* up connections closed for a malformed or bad frame */
	uint64_t accepted;         /* inbound TCP connections accepted */
};

/*
 * net_config_default - fill @cfg with the defaults above for node @id, cluster
 * @name (borrowed until net_new()) and @key (copied). Callbacks are NULL.
 */
void net_config_default(struct net_config *cfg, raft_id id, const char *name,
                        const uint8_t key[NET_KEY_BYTES]);

/*
 * net_new - a transport on @loop (borrowed; must outlive it) for @cfg (copied).
 * Initializes libsodium. Nothing listens or dials yet. Call it on the loop's
 * thread: it blocks SIGPIPE there, so a write to a peer that has gone fails
 * with EPIPE instead of killing the process (libuv writes with write(2)); the
 * caller need not ignore SIGPIPE.
 * Returns 0 and *@out, -EINVAL (missing id, name, recv_cb; a zero or
 * inconsistent bound), -ENOMEM, or QFS_ECONFIG (libsodium failed to start).
 * Release with net_close().
 */
int net_new(uv_loop_t *loop, const struct net_config *cfg, struct net **out);

/*
 * net_listen - accept peers on @host (an IPv4 or IPv6 literal) port @port
 * (0: any free port, see net_port()).
 * Returns 0, -EINVAL (bad host), -EALREADY (already listening), or the libuv
 * error of bind/listen (e.g. UV_EADDRINUSE).
 */
int net_listen(struct net *n, const char *host, uint16_t port);

/* The port net_listen() bound (useful with port 0), or 0 if not listening. */
uint16_t net_port(const struct net *n);

/*
 * net_peer_add - dial node @id at @address ("ip:port", "[ip6]:port"; no DNS)
 * now, and again whenever the connection is lost, until net_peer_remove().
 * Returns 0, -EINVAL (bad address, @id 0 or our own id), -EEXIST (@id already
 * added), -ENOMEM.
 */
int net_peer_add(struct net *n, raft_id id, const char *address);

/*
 * net_peer_remove - stop dialing @id and close the connection to it (frames
 * queued to it are dropped). Inbound connections from @id are left alone:
 * they end when that peer closes them.
 * Returns 0 or -ENOENT.
 */
int net_peer_remove(struct net *n, raft_id id);

/* True if the connection we dialed to @id has finished its handshake. */
bool net_peer_up(const struct net *n, raft_id id);

/* Bytes queued on the connection to @id and not yet written (0 if none). */
size_t net_peer_queued(const struct net *n, raft_id id);

/*
 * net_frame_alloc - a buffer for a frame of @len payload bytes, with room for
 * the transport's header and tag around it, so net_send_frame() sends it
 * without a copy. Write exactly @len bytes at the returned pointer.
 * Returns the buffer, or NULL (out of memory, or @len above UINT32_MAX - 16).
 * Free with net_frame_free() unless it is passed to net_send_frame().
 */
void *net_frame_alloc(size_t len);

/* net_frame_free - free a buffer from net_frame_alloc() (NULL is fine). */
void net_frame_free(void *frame);

/*
 * net_send_frame - queue @frame (@len bytes, from net_frame_alloc(@len)) for @to.
 * Ownership of @frame passes to the transport in every case, also on error.
 * Returns 0 (queued; it will be written unless the connection drops first),
 * -ENOENT (unknown peer), -ENOTCONN (no connection up to it),
 * -EMSGSIZE (@len above max_frame), -ENOBUFS (the peer's queue is full: the
 * frame, the newest, is dropped and counted in dropped_full).
 */
int net_send_frame(struct net *n, raft_id to, void *frame, size_t len);

/* net_send - as net_send_frame(), copying @frame (borrowed). Also -ENOMEM. */
int net_send(struct net *n, raft_id to, const void *frame, size_t len);

/* net_get_stats - copy the counters of @n into @out. */
void net_get_stats(const struct net *n, struct net_stats *out);

/*
 * net_close - stop listening, close every connection and timer, and free @n
 * once libuv has closed them all; then @cb(@data) (@cb may be NULL) runs on
 * the loop, once, from a libuv close callback. No callback of @n runs after net_close() returns
 * except @cb. May be called from inside a callback of @n.
 */
void net_close(struct net *n, net_close_cb cb, void *data);

/* ------------------------------------------------------------------------ */
/* The local admin socket (quorumctl <-> daemon)                             */

/*
 * A Unix domain socket (mode 0600, so only the daemon's user can connect)
 * with the same framing as peers (4-byte big-endian length, then the bytes),
 * without encryption: the file mode is the access control. A client sends a
 * request frame and reads the answer frames; the daemon answers with
 * net_admin_send(), at once or later.
 */
struct net_admin;

/* Receives request @frame (borrowed for the call) on connection @conn_id. */
typedef void (*net_admin_cb)(struct net_admin *a, uint64_t conn_id, const void *frame, size_t len,
                             void *data);

/*
 * net_admin_listen - serve @path on @loop. A stale socket file at @path (no
 * one accepting on it) is replaced; a live one is not. Call it on the loop's
 * thread: it blocks SIGPIPE there, as net_new() does.
 * @max_frame: largest request accepted (0: NET_MAX_FRAME_DEFAULT); a larger
 * one closes that client's connection.
 * Returns 0 and *@out, -EADDRINUSE (a server is live at @path), -ENAMETOOLONG,
 * -ENOMEM, or the libuv error of bind/listen/chmod. Release with net_admin_close().
 */
int net_admin_listen(uv_loop_t *loop, const char *path, size_t max_frame, net_admin_cb cb,
                     void *data, struct net_admin **out);

/*
 * net_admin_send - queue one answer frame (copied) to connection @conn_id.
 * Returns 0, -ENOTCONN (that client is gone), -EMSGSIZE, -ENOMEM.
 */
int net_admin_send(struct net_admin *a, uint64_t conn_id, const void *frame, size_t len);

/*
 * net_admin_close - close the socket (and unlink its file) and every client
 * connection; free @a once libuv is done, then call @cb(@data) if non-NULL.
 */
void net_admin_close(struct net_admin *a, void (*cb)(void *data), void *data);

/*
 * net_admin_call - a blocking client for tools like quorumctl (no libuv):
 * connect to @path, send @req, and read one answer frame of at most @max bytes.
 * @resp: receives a malloc'd buffer (caller frees) of *@resp_len bytes.
 * @timeout_ms: for the whole call; <= 0 waits forever.
 * Returns 0, -errno of connect/read/write (-ENOENT, -ECONNREFUSED, ...),
 * -ETIMEDOUT, -EMSGSIZE (answer above @max), QFS_EPROTO (connection closed
 * mid-answer), -ENOMEM. Thread-safe (no shared state).
 */
int net_admin_call(const char *path, const void *req, size_t len, size_t max, int timeout_ms,
                   void **resp, size_t *resp_len);

#endif
