/* conn.c: one peer TCP connection: handshake, encrypted frames in and out, and its end. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/metrics.h"
#include "net_int.h"

struct net__frame *net__frame_of(void *payload)
{
	return (struct net__frame *)((uint8_t *)payload - NET__HDR_LEN -
	                             offsetof(struct net__frame, wire));
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct net__conn *c = h->data;
	struct net *n = c->net;

	if (--c->handles == 0) {
		net__session_free(&c->sess);
		free(c);
	}
	net__handle_closed(n);
}

struct net__conn *net__conn_new(struct net *n, bool outbound)
{
	struct net__conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->net = n;
	c->outbound = outbound;
	c->state = outbound ? NET__C_CONNECTING : NET__C_HANDSHAKE;
	/* Neither init can fail for a TCP handle and a timer on a live loop. */
	uv_tcp_init(n->loop, &c->tcp);
	uv_timer_init(n->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->handles = 2;
	n->handles += 2;
	return c;
}

/* Who the remote end is, for log lines: "node 2 (127.0.0.1:7002)". */
static const char *who(const struct net__conn *c, char *buf, size_t cap)
{
	raft_id id = c->peer ? c->peer->id : c->sess.peer_id;

	if (id != 0)
		snprintf(buf, cap, "node %llu (%s)", (unsigned long long)id, c->addr);
	else
		snprintf(buf, cap, "%s", c->addr);
	return buf;
}

static const char *err_text(int err)
{
	return qfs_is_errno(err) ? uv_strerror(err) : qfs_strerror(err);
}

/* The one log line of a connection's end (at most one per connection; for
 * an outbound peer, a failure equal to the last one logged goes to debug). */
static void log_drop(struct net__conn *c, int err, const char *why, bool was_up)
{
	enum qfs_log_level level = QFS_LOG_WARN;
	char w[128];

	if (why == NULL)
		why = err_text(err);
	if (err == 0) {
		level = QFS_LOG_DEBUG; /* closed on purpose, by us */
	} else if (err == UV_EOF && was_up) {
		level = QFS_LOG_INFO; /* the peer closed a healthy connection */
	} else if (c->peer != NULL) {
		if (err == c->peer->last_err)
			level = QFS_LOG_DEBUG;
		c->peer->last_err = err;
	}
	net__log(c->net, level, "%s %s: %s%s", c->outbound ? "connection to" : "connection from",
	         who(c, w, sizeof(w)), why, level == QFS_LOG_DEBUG && err != 0 ? " (again)" : "");
}

void net__conn_drop(struct net__conn *c, int err, const char *why)
{
	struct net *n = c->net;
	bool was_up = c->state == NET__C_UP;

	if (c->state == NET__C_CLOSING)
		return;
	log_drop(c, err, why, was_up);
	c->state = NET__C_CLOSING;
	if (!was_up && err != 0)
		n->stats.handshake_failed++;
	else if (was_up && err != 0 && err != UV_EOF)
		n->stats.conn_failed++;
	if (was_up && n->cfg.event_cb != NULL && !n->closing) {
		struct net_event ev = {
		        .type = NET_PEER_DOWN,
		        .id = c->peer_id,
		        .outbound = c->outbound,
		        .address = c->addr,
		        .reason = err == UV_EOF ? 0 : err,
		};
		n->cfg.event_cb(n, &ev, n->cfg.data);
	}
	if (c->peer != NULL) {
		struct net__peer *p = c->peer;
		c->peer = NULL;
		p->conn = NULL;
		net__peer_lost(p, was_up);
	} else if (!c->outbound) {
		struct net__conn **pp = &n->inbound;
		while (*pp != NULL && *pp != c)
			pp = &(*pp)->next;
		if (*pp == c) {
			*pp = c->next;
			n->n_inbound--;
		}
	}
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                    */

static void write_cb(uv_write_t *req, int status)
{
	struct net__frame *f = (struct net__frame *)req;
	struct net__conn *c = f->conn;
	struct net *n = c->net;
	size_t limit = n->cfg.send_queue_bytes;

	c->queued -= f->wire_len;
	free(f);
	if (status == UV_EPIPE)
		net__sigpipe_discard();
	if (status < 0 && status != UV_ECANCELED) {
		net__conn_drop(c, status, NULL);
		return;
	}
	if (c->full && c->queued <= limit / 2 && c->state != NET__C_CLOSING) {
		char w[128];
		net__log(n, QFS_LOG_INFO, "send queue to %s drained; %llu frames were dropped",
		         who(c, w, sizeof(w)), (unsigned long long)c->dropped_since_full);
		c->full = false;
		c->dropped_since_full = 0;
	}
}

int net__conn_write(struct net__conn *c, struct net__frame *f)
{
	uv_buf_t buf = uv_buf_init((char *)f->wire, (unsigned)f->wire_len);
	int rv;

	f->conn = c;
	c->queued += f->wire_len;
	rv = uv_write(&f->req, (uv_stream_t *)&c->tcp, &buf, 1, write_cb);
	if (rv != 0) {
		c->queued -= f->wire_len;
		free(f);
		net__conn_drop(c, rv, NULL);
	}
	return rv;
}

/* ------------------------------------------------------------------------ */
/* The session's requests                                                     */

static int sink_send(void *ud, const uint8_t *buf, size_t len)
{
	struct net__conn *c = ud;
	struct net__frame *f = malloc(sizeof(*f) + len);

	if (f == NULL) {
		net__conn_drop(c, -ENOMEM, NULL);
		return 1;
	}
	memcpy(f->wire, buf, len);
	f->wire_len = len;
	return net__conn_write(c, f) != 0 ? 1 : 0;
}

static int sink_open(void *ud, uint64_t peer_id)
{
	struct net__conn *c = ud;
	struct net *n = c->net;
	char w[128];

	uv_timer_stop(&c->timer);
	c->state = NET__C_UP;
	c->peer_id = peer_id;
	if (c->peer != NULL) {
		net__peer_up(c->peer);
		net__log(n, QFS_LOG_INFO, "connected to %s", who(c, w, sizeof(w)));
	} else {
		/* A newer connection from the same node replaces older ones
		 * (the peer redialed; the old socket may be half-dead). */
		struct net__conn *o = n->inbound, *next;
		for (; o != NULL; o = next) {
			next = o->next;
			if (o != c && o->state == NET__C_UP && o->peer_id == peer_id)
				net__conn_drop(o, 0, "replaced by a newer connection");
		}
		net__log(n, QFS_LOG_DEBUG, "accepted %s", who(c, w, sizeof(w)));
	}
	if (n->cfg.event_cb != NULL) {
		struct net_event ev = {
		        .type = NET_PEER_UP,
		        .id = peer_id,
		        .outbound = c->outbound,
		        .address = c->addr,
		};
		n->cfg.event_cb(n, &ev, n->cfg.data);
	}
	return c->state != NET__C_UP || n->closing;
}

static int sink_frame(void *ud, uint8_t *payload, size_t len)
{
	struct net__conn *c = ud;
	struct net *n = c->net;

	n->stats.frames_received++;
	qfs_metric_peer_bytes(c->peer_id, 0, NET__HDR_LEN + len + NET__TAG_LEN);
	n->cfg.recv_cb(n, c->peer_id, payload, len, n->cfg.data);
	return c->state != NET__C_UP || n->closing;
}

static const struct net__sink sink = {sink_send, sink_open, sink_frame};

/* ------------------------------------------------------------------------ */
/* Reading                                                                    */

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct net__conn *c = h->data;

	/* One buffer per transport: libuv calls read_cb right after alloc_cb,
	 * and frames borrowed from it are used only during read_cb. */
	buf->base = (char *)c->net->rbuf;
	buf->len = sizeof(c->net->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct net__conn *c = s->data;
	int rv;

	if (c->state == NET__C_CLOSING || nread == 0)
		return;
	if (nread < 0) {
		net__conn_drop(c, (int)nread,
		               nread == UV_EOF
		                       ? (c->state == NET__C_UP
		                                  ? "closed by the peer"
		                                  : "closed by the peer during the handshake")
		                       : NULL);
		return;
	}
	rv = net__session_feed(&c->sess, (uint8_t *)buf->base, (size_t)nread, &sink, c);
	if (rv < 0)
		net__conn_drop(c, rv, c->sess.why);
}

static void timeout_cb(uv_timer_t *t)
{
	struct net__conn *c = t->data;

	net__conn_drop(c, -ETIMEDOUT, "handshake timed out");
}

void net__conn_start(struct net__conn *c)
{
	struct net *n = c->net;
	struct net__session_params p = {
	        .key = n->cfg.key,
	        .name_hash = n->name_hash,
	        .self_id = n->cfg.id,
	        .expect_id = c->peer ? c->peer->id : 0,
	        .dialer = c->outbound,
	        .max_frame = n->cfg.max_frame,
	};
	uint8_t nonce[NET__NONCE_LEN];
	int rv;

	randombytes_buf(nonce, sizeof(nonce));
	p.nonce = nonce;
	net__session_init(&c->sess, &p);
	c->state = NET__C_HANDSHAKE;
	uv_tcp_nodelay(&c->tcp, 1);
	rv = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	if (rv != 0) {
		net__conn_drop(c, rv, NULL);
		return;
	}
	sink_send(c, c->sess.hello, sizeof(c->sess.hello));
}

/* Arms the handshake timeout (also covers an outbound connect). */
void net__conn_arm(struct net__conn *c)
{
	uv_timer_start(&c->timer, timeout_cb, c->net->cfg.handshake_timeout_ms, 0);
}
