/* http.c: the HTTP status endpoint, served by libmicrohttpd in its own thread from a status
 * snapshot that the loop publishes. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "http.h"
#include "http_page.h"
#include "quorumfs/log.h"
#include "quorumfs/metrics.h"
#include "quorumfs/node.h"

#define PUBLISH_MS 200
#define JSON_CAP   8192
#define PEERS_CAP  (QFS_CONFIG_MAX_NODES * (QFS_CONFIG_ADDRESS_MAX + 32) + 64)

/*
 * Why a snapshot: the node's state is the loop's alone (node.h: every call
 * on the loop thread). The HTTP thread would otherwise have to hand each
 * request to the loop and wait for it, and a burst of requests would then
 * take the loop's time. Instead the loop renders its status every
 * PUBLISH_MS (a few microseconds) into @snap under @mu, and the thread
 * copies it out. What a request sees is at most PUBLISH_MS old.
 */
struct qfs_http {
	uv_loop_t *loop;
	struct node *node;
	struct MHD_Daemon *mhd;
	uv_timer_t timer;
	char peers_js[PEERS_CAP]; /* "const PEERS={...};": fixed at start */

	pthread_mutex_t mu; /* guards snap */
	struct {
		char json[JSON_CAP];
		uint64_t id, term, commit, applied, last_index, snapshot_index;
		uint64_t verify_index, verify_mismatches;
		bool leader, quorate;
		unsigned members;
	} snap;
};

static void publish(struct qfs_http *h)
{
	struct node_status st;
	char json[JSON_CAP];
	node_status(h->node, &st);
	size_t len = node_status_json(&st, json, sizeof(json));
	if (len >= sizeof(json))
		snprintf(json, sizeof(json), "{\"error\":\"status too long\"}");
	pthread_mutex_lock(&h->mu);
	memcpy(h->snap.json, json, strlen(json) + 1);
	h->snap.id = st.id;
	h->snap.term = st.term;
	h->snap.commit = st.commit;
	h->snap.applied = st.applied;
	h->snap.last_index = st.last_index;
	h->snap.snapshot_index = st.snapshot_index;
	h->snap.verify_index = st.verify_index;
	h->snap.verify_mismatches = st.verify_mismatches;
	h->snap.leader = strcmp(st.role, "leader") == 0;
	h->snap.quorate = st.quorate;
	h->snap.members = st.n_members;
	pthread_mutex_unlock(&h->mu);
}

static void on_timer(uv_timer_t *t)
{
	publish(t->data);
}

struct out {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(o->buf + (o->len < o->cap ? o->len : o->cap),
	                  o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->len += (size_t)w;
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
	put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRIu64 "\n", name, help, name, name, v);
}

/* The gauges of the snapshot, then the registry's counters and histograms. */
static char *render_metrics(struct qfs_http *h, size_t *len)
{
	size_t cap = 256 * 1024;
	char *buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	struct out o = {.buf = buf, .cap = cap};
	pthread_mutex_lock(&h->mu);
	uint64_t id = h->snap.id, term = h->snap.term, commit = h->snap.commit,
	         applied = h->snap.applied, last = h->snap.last_index,
	         snapi = h->snap.snapshot_index, vi = h->snap.verify_index;
	bool leader = h->snap.leader, quorate = h->snap.quorate;
	unsigned members = h->snap.members;
	pthread_mutex_unlock(&h->mu);
	put(&o, "# HELP quorumfs_node_info This node's id.\n# TYPE quorumfs_node_info gauge\n"
	        "quorumfs_node_info{id=\"%" PRIu64 "\",version=\"%s\"} 1\n",
	    id, QFS_VERSION);
	gauge(&o, "quorumfs_raft_term", "The current Raft term.", term);
	gauge(&o, "quorumfs_raft_commit_index", "The highest log index known committed.", commit);
	gauge(&o, "quorumfs_raft_applied_index", "The highest log index applied to this tree.",
	      applied);
	gauge(&o, "quorumfs_raft_last_index", "The last index in this node's log.", last);
	gauge(&o, "quorumfs_raft_snapshot_index", "The index of this node's newest snapshot.",
	      snapi);
	gauge(&o, "quorumfs_raft_is_leader", "1 if this node leads.", leader);
	gauge(&o, "quorumfs_quorate", "1 if this node sees a quorum.", quorate);
	gauge(&o, "quorumfs_members", "Members in the configuration this node knows.", members);
	gauge(&o, "quorumfs_verify_index", "The last cross-replica check verdicted here.", vi);
	size_t rest = o.len < cap ? cap - o.len : 0;
	size_t k = qfs_metrics_render(buf + (o.len < cap ? o.len : cap), rest);
	o.len += k;
	if (o.len >= cap) {
		free(buf);
		return NULL;
	}
	*len = o.len;
	return buf;
}

static char *render_page(struct qfs_http *h, size_t *len)
{
	size_t a = sizeof(qfs_http_page_head) - 1, b = strlen(h->peers_js),
	       c = sizeof(qfs_http_page_tail) - 1;
	char *buf = malloc(a + b + c);
	if (buf == NULL)
		return NULL;
	memcpy(buf, qfs_http_page_head, a);
	memcpy(buf + a, h->peers_js, b);
	memcpy(buf + a + b, qfs_http_page_tail, c);
	*len = a + b + c;
	return buf;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             void *body, size_t len)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	/* The cluster page on one member reads every member's /status. */
	MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	char *body = strdup(text);
	if (body == NULL)
		return MHD_NO;
	return reply(c, code, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	struct qfs_http *h = cls;
	size_t len = 0;
	char *body;

	(void)version;
	(void)upload_data;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	(void)con_cls;
	if (strcmp(url, "/status") == 0) {
		pthread_mutex_lock(&h->mu);
		len = strlen(h->snap.json);
		body = malloc(len + 1);
		if (body != NULL) {
			memcpy(body, h->snap.json, len);
			body[len++] = '\n';
		}
		pthread_mutex_unlock(&h->mu);
		if (body == NULL)
			return MHD_NO;
		return reply(c, MHD_HTTP_OK, "application/json", body, len);
	}
	if (strcmp(url, "/metrics") == 0) {
		body = render_metrics(h, &len);
		if (body == NULL)
			return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics too large\n");
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
	}
	if (strcmp(url, "/") == 0) {
		body = render_page(h, &len);
		if (body == NULL)
			return MHD_NO;
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", body, len);
	}
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /, /status or /metrics\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	qfs_warn("http: %s", line);
}

/* "const PEERS={"1":"host:port",...};" for the page, from the configuration. */
static void peers_js(struct qfs_http *h, const struct qfs_config *cfg)
{
	struct out o = {.buf = h->peers_js, .cap = sizeof(h->peers_js)};
	put(&o, "const PEERS={");
	unsigned k = 0;
	for (unsigned i = 0; i < cfg->n_nodes; i++) {
		const char *a = cfg->nodes[i].http_address;
		if (a[0] == '\0' || strpbrk(a, "\"\\<>") != NULL)
			continue;
		put(&o, "%s\"%" PRIu64 "\":\"%s\"", k++ ? "," : "", cfg->nodes[i].id, a);
	}
	put(&o, "};\n");
}

int qfs_http_start(uv_loop_t *loop, struct node *node, const struct qfs_config *cfg,
                   const char *address, struct qfs_http **out, char *err, size_t errlen)
{
	char host[QFS_CONFIG_ADDRESS_MAX];
	int port;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	memset(&ss, 0, sizeof(ss));
	if (qfs_parse_address(address, host, sizeof(host), &port) != 0) {
		snprintf(err, errlen, "http-address %s: not ip:port", address);
		return -EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "http-address %s: not an IP address", address);
		return -EINVAL;
	}
	struct qfs_http *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->loop = loop;
	h->node = node;
	pthread_mutex_init(&h->mu, NULL);
	peers_js(h, cfg);
	publish(h); /* before the first request can come */
	h->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
	                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	                          MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (h->mhd == NULL) {
		snprintf(err, errlen, "http-address %s: cannot listen (in use?)", address);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return -EADDRINUSE;
	}
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	uv_timer_start(&h->timer, on_timer, PUBLISH_MS, PUBLISH_MS);
	qfs_info("http: serving /, /status and /metrics on %s", address);
	*out = h;
	return 0;
}

static void timer_closed(uv_handle_t *t)
{
	struct qfs_http *h = t->data;
	pthread_mutex_destroy(&h->mu);
	free(h);
}

void qfs_http_stop(struct qfs_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd); /* joins the thread: no request runs after this */
	h->mhd = NULL;
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, timer_closed);
}
