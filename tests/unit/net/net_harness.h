/* net_harness.h: a libuv loop, transports and raw clients on 127.0.0.1 for the transport tests. */
#ifndef QUORUMFS_TESTS_NET_HARNESS_H
#define QUORUMFS_TESTS_NET_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "quorumfs/net.h"

extern uv_loop_t *h_loop;

/* One transport and what it saw. Frames carry a 4-byte sequence number, then
 * bytes seq * 13 + i, so order and content can be checked. */
struct tnode {
	struct net *n;
	raft_id id;
	uint16_t port;
	int ups, downs;    /* events */
	int ups_from[8];   /* NET_PEER_UP events per peer id (< 8) */
	int received;      /* frames */
	uint32_t next_seq; /* the sequence number expected next */
	bool order_ok, content_ok;
	bool closed;
};

void h_init(void);
/* Closes the loop; fails the test if any handle is left (a leak). */
void h_fini(void);

/* Starts @t as node @id listening on 127.0.0.1:@port (0: any), with @cfg
 * from h_config() possibly changed by the caller. */
void h_start(struct tnode *t, struct net_config *cfg, uint16_t port);
void h_config(struct net_config *cfg, raft_id id, const char *name, uint8_t keybyte);
/* Closes @t and runs the loop until it is freed. */
void h_stop(struct tnode *t);
/* Makes @a dial @b. */
void h_peer(struct tnode *a, struct tnode *b);

/* Runs the loop until @pred(@arg) or @ms pass; returns the predicate's value. */
bool h_run_until(bool (*pred)(void *), void *arg, int ms);
/* Runs the loop for @ms. */
void h_run_for(int ms);
bool h_both_up(void *pair); /* pair: struct tnode *[2]; each's dial to the other is up */

/* Sends frame @seq of @len bytes (>= 4) from @a to @to. Returns net_send()'s result. */
int h_send(struct tnode *a, raft_id to, uint32_t seq, size_t len);

/* A plain TCP client that sends @bytes and records when the server closes. */
struct raw {
	uv_tcp_t tcp;
	uv_connect_t req;
	uv_write_t w;
	uint8_t *bytes;
	size_t len;
	bool eof;    /* the server closed (or reset) the connection */
	bool closed; /* our handle is closed */
	char rbuf[4096];
};
void h_raw_connect(struct raw *r, uint16_t port, const void *bytes, size_t len);
bool h_raw_closed(void *r);

/* Redirects stderr to a file until h_capture_end(), which returns what was
 * logged (malloc'd). */
void h_capture_begin(void);
char *h_capture_end(void);
/* Lines of @log containing every one of the strings (NULL-terminated list). */
int h_count_lines(const char *log, ...);

#endif
