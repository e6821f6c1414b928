/* net_int.h: the transport's internal types, shared by net.c and conn.c. */
#ifndef QUORUMFS_NET_INT_H
#define QUORUMFS_NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "quorumfs/log.h"
#include "quorumfs/net.h"
#include "crypto.h"
#include "sigpipe.h"

/* A frame on its way out: the libuv request, then the bytes as sent. */
struct net__frame {
	uv_write_t req;
	struct net__conn *conn; /* set when written */
	size_t wire_len;        /* bytes to write from wire */
	uint8_t wire[];         /* header, payload, tag */
};

enum net__conn_state {
	NET__C_CONNECTING, /* outbound, TCP connect under way */
	NET__C_HANDSHAKE,  /* hellos and proofs under way */
	NET__C_UP,         /* session open: frames flow */
	NET__C_CLOSING,    /* uv_close() called; freed when both handles closed */
};

struct net__conn {
	uv_tcp_t tcp;
	uv_timer_t timer; /* handshake timeout */
	uv_connect_t connect_req;
	struct net *net;
	struct net__peer *peer; /* outbound: the peer it serves; NULL once detached */
	struct net__conn *next; /* the list of inbound connections */
	enum net__conn_state state;
	int handles; /* handles not yet closed (tcp, timer); freed at 0 */
	bool outbound;
	raft_id peer_id; /* from the peer's hello; valid from NET__C_UP */
	char addr[64];   /* remote "ip:port" */
	size_t queued;   /* bytes handed to uv_write and not yet written */
	bool full;       /* the queue overflowed and has not drained yet */
	uint64_t dropped_since_full;
	struct net__session sess;
};

struct net__peer {
	struct net *net;
	raft_id id;
	char address[RAFT_ADDRESS_MAX];
	struct sockaddr_storage sa;
	uv_timer_t timer;       /* redial; the peer is freed in its close callback */
	struct net__conn *conn; /* the connection we dialed, or NULL */
	unsigned backoff_ms;    /* the next redial delay */
	int last_err;           /* the last failure logged, to log a repeat only once */
	bool removed;
	struct net__peer *next;
};

struct net {
	uv_loop_t *loop;
	struct net_config cfg;
	char name[256];
	char log_source[40]; /* "node ID net", the source of net__log()'s lines */
	uint8_t name_hash[NET__HASH_LEN];
	uv_tcp_t listener;
	uv_timer_t close_timer; /* never started: see net_new() */
	bool listening;
	uint16_t port;
	struct net__peer *peers;
	struct net__conn *inbound;
	unsigned n_inbound;
	unsigned handles; /* open handles owned by this transport, all kinds */
	bool closing;
	net_close_cb close_cb;
	void *close_data;
	struct net_stats stats;
	uint8_t rbuf[64 * 1024]; /* read buffer: libuv reads then calls back at once */
};

/* conn.c */
struct net__conn *net__conn_new(struct net *n, bool outbound);
void net__conn_start(struct net__conn *c);
void net__conn_arm(struct net__conn *c);
void net__conn_drop(struct net__conn *c, int err, const char *why);
int net__conn_write(struct net__conn *c, struct net__frame *f);
struct net__frame *net__frame_of(void *payload);

/* net.c */
/* The transport's one logging call: a line whose source is "node ID net",
 * ID being the node this transport serves (see quorumfs/log.h). */
#define net__log(n, level, ...) qfs_logs(level, (n)->log_source, __VA_ARGS__)
void net__handle_closed(struct net *n);
void net__peer_lost(struct net__peer *p, bool was_up);
void net__peer_up(struct net__peer *p);

#endif
