/* net.c: the peer transport: configuration, listening, dialing with backoff, sending, closing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/metrics.h"
#include "net_int.h"

/* Inbound connections held at once; more are accepted and closed at once, so
 * a flood of connections cannot take every file descriptor. */
#define MAX_INBOUND 512

void net_config_default(struct net_config *cfg, raft_id id, const char *name,
                        const uint8_t key[NET_KEY_BYTES])
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->id = id;
	cfg->cluster_name = name;
	memcpy(cfg->key, key, NET_KEY_BYTES);
	cfg->max_frame = NET_MAX_FRAME_DEFAULT;
	cfg->send_queue_bytes = NET_SEND_QUEUE_DEFAULT;
	cfg->backoff_min_ms = NET_BACKOFF_MIN_DEFAULT;
	cfg->backoff_max_ms = NET_BACKOFF_MAX_DEFAULT;
	cfg->handshake_timeout_ms = NET_HANDSHAKE_TIMEOUT_DEF;
}

int net_new(uv_loop_t *loop, const struct net_config *cfg, struct net **out)
{
	struct net *n;

	if (cfg->id == RAFT_NONE || cfg->cluster_name == NULL || cfg->recv_cb == NULL ||
	    strlen(cfg->cluster_name) > 255 || cfg->max_frame == 0 ||
	    cfg->max_frame > UINT32_MAX - NET__TAG_LEN ||
	    cfg->send_queue_bytes < cfg->max_frame + NET__HDR_LEN + NET__TAG_LEN ||
	    cfg->backoff_min_ms == 0 || cfg->backoff_max_ms < cfg->backoff_min_ms ||
	    cfg->handshake_timeout_ms == 0)
		return -EINVAL;
	if (sodium_init() < 0)
		return QFS_ECONFIG;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->loop = loop;
	n->cfg = *cfg;
	net__sigpipe_block();
	snprintf(n->name, sizeof(n->name), "%s", cfg->cluster_name);
	n->cfg.cluster_name = n->name;
	snprintf(n->log_source, sizeof(n->log_source), "node %llu net",
	         (unsigned long long)cfg->id);
	net__name_hash(n->name, n->name_hash);
	/* Always one handle to close, so net_close()'s callback runs from a
	 * close callback on the loop, never from inside net_close(). */
	uv_timer_init(loop, &n->close_timer);
	n->close_timer.data = n;
	n->handles = 1;
	*out = n;
	return 0;
}

/* Parses "ip:port" or "[ip6]:port" into @sa. */
static int parse_address(const char *address, struct sockaddr_storage *sa)
{
	char host[64];
	const char *colon = strrchr(address, ':');
	const char *h = address;
	size_t hlen;
	char *end;
	long port;

	if (colon == NULL)
		return -EINVAL;
	hlen = (size_t)(colon - address);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa) == 0)
		return 0;
	if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)sa) == 0)
		return 0;
	return -EINVAL;
}

/* "ip:port" of @sa. */
static void format_address(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		uv_ip4_name(s4, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
		snprintf(buf, cap, "%s:%d", ip, port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		uv_ip6_name(s6, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
		snprintf(buf, cap, "[%s]:%d", ip, port);
	} else {
		snprintf(buf, cap, "?");
	}
}

void net__handle_closed(struct net *n)
{
	n->handles--;
	if (n->closing && n->handles == 0) {
		net_close_cb cb = n->close_cb;
		void *data = n->close_data;
		sodium_memzero(n->cfg.key, sizeof(n->cfg.key));
		free(n);
		if (cb != NULL)
			cb(data);
	}
}

static void net_handle_closed(uv_handle_t *h)
{
	net__handle_closed(h->data);
}

/* ------------------------------------------------------------------------ */
/* Listening                                                                  */

static void on_connection(uv_stream_t *server, int status)
{
	struct net *n = server->data;
	struct sockaddr_storage sa;
	int len = sizeof(sa);
	struct net__conn *c;
	int rv;

	if (status < 0) {
		net__log(n, QFS_LOG_WARN, "accept failed: %s", uv_strerror(status));
		return;
	}
	c = net__conn_new(n, false);
	if (c == NULL) {
		net__log(n, QFS_LOG_ERROR, "out of memory accepting a connection");
		return;
	}
	rv = uv_accept(server, (uv_stream_t *)&c->tcp);
	if (rv == 0 && uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0)
		format_address(&sa, c->addr, sizeof(c->addr));
	else
		snprintf(c->addr, sizeof(c->addr), "?");
	c->next = n->inbound;
	n->inbound = c;
	n->n_inbound++;
	if (rv != 0) {
		net__conn_drop(c, rv, "accept failed");
		return;
	}
	n->stats.accepted++;
	if (n->n_inbound > MAX_INBOUND) {
		net__conn_drop(c, -EMFILE, "too many inbound connections");
		return;
	}
	net__conn_arm(c);
	net__conn_start(c);
}

int net_listen(struct net *n, const char *host, uint16_t port)
{
	struct sockaddr_storage sa;
	char addr[80];
	int len = sizeof(sa);
	int rv;

	if (n->listening)
		return -EALREADY;
	snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
	         port ? port : 1);
	if (parse_address(addr, &sa) != 0)
		return -EINVAL;
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
	uv_tcp_init(n->loop, &n->listener);
	n->listener.data = n;
	n->handles++;
	n->listening = true;
	rv = uv_tcp_bind(&n->listener, (struct sockaddr *)&sa, 0);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&n->listener, 128, on_connection);
	if (rv == 0)
		rv = uv_tcp_getsockname(&n->listener, (struct sockaddr *)&sa, &len);
	if (rv != 0) {
		n->listening = false;
		uv_close((uv_handle_t *)&n->listener, net_handle_closed);
		return rv;
	}
	n->port = ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
	                                        : ((struct sockaddr_in6 *)&sa)->sin6_port);
	return 0;
}

uint16_t net_port(const struct net *n)
{
	return n->listening ? n->port : 0;
}

/* ------------------------------------------------------------------------ */
/* Peers: dialing and redialing                                               */

static struct net__peer *find_peer(const struct net *n, raft_id id)
{
	struct net__peer *p;

	for (p = n->peers; p != NULL; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct net__conn *c = req->data;

	if (status == UV_ECANCELED || c->state == NET__C_CLOSING)
		return;
	if (status < 0) {
		net__conn_drop(c, status, NULL);
		return;
	}
	net__conn_start(c);
}

static void dial(struct net__peer *p)
{
	struct net *n = p->net;
	struct net__conn *c = net__conn_new(n, true);
	int rv;

	if (c == NULL) {
		net__peer_lost(p, false);
		return;
	}
	c->peer = p;
	p->conn = c;
	snprintf(c->addr, sizeof(c->addr), "%s", p->address);
	c->connect_req.data = c;
	net__conn_arm(c);
	rv = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&p->sa, connect_cb);
	if (rv != 0)
		net__conn_drop(c, rv, NULL);
}

static void redial_cb(uv_timer_t *t)
{
	struct net__peer *p = t->data;

	if (!p->removed && !p->net->closing && p->conn == NULL)
		dial(p);
}

void net__peer_lost(struct net__peer *p, bool was_up)
{
	struct net *n = p->net;
	unsigned delay;

	if (p->removed || n->closing)
		return;
	if (was_up)
		p->backoff_ms = n->cfg.backoff_min_ms;
	delay = p->backoff_ms;
	/* Up to a quarter more, so peers that lost each other do not redial in step. */
	delay += randombytes_uniform(delay / 4 + 1);
	p->backoff_ms = p->backoff_ms > n->cfg.backoff_max_ms / 2 ? n->cfg.backoff_max_ms
	                                                          : p->backoff_ms * 2;
	uv_timer_start(&p->timer, redial_cb, delay, 0);
}

void net__peer_up(struct net__peer *p)
{
	p->backoff_ms = p->net->cfg.backoff_min_ms;
	p->last_err = 0;
}

int net_peer_add(struct net *n, raft_id id, const char *address)
{
	struct net__peer *p;
	struct sockaddr_storage sa;

	if (id == RAFT_NONE || id == n->cfg.id || strlen(address) >= RAFT_ADDRESS_MAX ||
	    parse_address(address, &sa) != 0)
		return -EINVAL;
	if (find_peer(n, id) != NULL)
		return -EEXIST;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->net = n;
	p->id = id;
	snprintf(p->address, sizeof(p->address), "%s", address);
	p->sa = sa;
	p->backoff_ms = n->cfg.backoff_min_ms;
	uv_timer_init(n->loop, &p->timer);
	p->timer.data = p;
	n->handles++;
	p->next = n->peers;
	n->peers = p;
	dial(p);
	return 0;
}

static void peer_timer_closed(uv_handle_t *h)
{
	struct net__peer *p = h->data;
	struct net *n = p->net;

	free(p);
	net__handle_closed(n);
}

static void peer_release(struct net__peer *p)
{
	p->removed = true;
	if (p->conn != NULL) {
		struct net__conn *c = p->conn;
		c->peer = NULL;
		p->conn = NULL;
		net__conn_drop(c, 0, "peer removed");
	}
	uv_close((uv_handle_t *)&p->timer, peer_timer_closed);
}

int net_peer_remove(struct net *n, raft_id id)
{
	struct net__peer **pp = &n->peers, *p;

	while (*pp != NULL && (*pp)->id != id)
		pp = &(*pp)->next;
	if (*pp == NULL)
		return -ENOENT;
	p = *pp;
	*pp = p->next;
	peer_release(p);
	return 0;
}

bool net_peer_up(const struct net *n, raft_id id)
{
	const struct net__peer *p = find_peer(n, id);

	return p != NULL && p->conn != NULL && p->conn->state == NET__C_UP;
}

size_t net_peer_queued(const struct net *n, raft_id id)
{
	const struct net__peer *p = find_peer(n, id);

	return p != NULL && p->conn != NULL ? p->conn->queued : 0;
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                    */

void *net_frame_alloc(size_t len)
{
	struct net__frame *f;

	if (len > UINT32_MAX - NET__TAG_LEN)
		return NULL;
	f = malloc(sizeof(*f) + NET__HDR_LEN + len + NET__TAG_LEN);
	if (f == NULL)
		return NULL;
	f->conn = NULL;
	f->wire_len = NET__HDR_LEN + len + NET__TAG_LEN;
	return f->wire + NET__HDR_LEN;
}

void net_frame_free(void *frame)
{
	if (frame != NULL)
		free(net__frame_of(frame));
}

int net_send_frame(struct net *n, raft_id to, void *frame, size_t len)
{
	struct net__frame *f = net__frame_of(frame);
	struct net__peer *p = find_peer(n, to);
	struct net__conn *c = p ? p->conn : NULL;
	size_t wire_len = NET__HDR_LEN + len + NET__TAG_LEN;
	int rv;

	if (p == NULL) {
		rv = -ENOENT;
		goto drop;
	}
	if (c == NULL || c->state != NET__C_UP || n->closing) {
		n->stats.dropped_down++;
		rv = -ENOTCONN;
		goto drop;
	}
	if (len > n->cfg.max_frame || wire_len != f->wire_len) {
		rv = -EMSGSIZE;
		goto drop;
	}
	/* Drop the newest when full: Raft resends what matters, and a peer that
	 * stopped reading must not take this node's memory with it. */
	if (c->queued > 0 && c->queued + wire_len > n->cfg.send_queue_bytes) {
		n->stats.dropped_full++;
		c->dropped_since_full++;
		if (!c->full) {
			c->full = true;
			net__log(n, QFS_LOG_WARN,
			         "send queue to node %llu (%s) is full (%zu bytes); "
			         "dropping new frames",
			         (unsigned long long)to, c->addr, c->queued);
		}
		rv = -ENOBUFS;
		goto drop;
	}
	net__session_seal(&c->sess, f->wire, len);
	rv = net__conn_write(c, f); /* frees f on failure */
	if (rv == 0) {
		n->stats.frames_sent++;
		qfs_metric_peer_bytes(to, wire_len, 0);
	}
	return rv;
drop:
	free(f);
	return rv;
}

int net_send(struct net *n, raft_id to, const void *frame, size_t len)
{
	void *f = net_frame_alloc(len);

	if (f == NULL)
		return len > UINT32_MAX - NET__TAG_LEN ? -EMSGSIZE : -ENOMEM;
	if (len > 0)
		memcpy(f, frame, len);
	return net_send_frame(n, to, f, len);
}

void net_get_stats(const struct net *n, struct net_stats *out)
{
	*out = n->stats;
}

/* ------------------------------------------------------------------------ */
/* Closing                                                                    */

void net_close(struct net *n, net_close_cb cb, void *data)
{
	if (n->closing)
		return;
	n->closing = true;
	n->close_cb = cb;
	n->close_data = data;
	if (n->listening) {
		n->listening = false;
		uv_close((uv_handle_t *)&n->listener, net_handle_closed);
	}
	while (n->peers != NULL) {
		struct net__peer *p = n->peers;
		n->peers = p->next;
		peer_release(p);
	}
	while (n->inbound != NULL)
		net__conn_drop(n->inbound, 0, "shutting down");
	uv_close((uv_handle_t *)&n->close_timer, net_handle_closed);
}
