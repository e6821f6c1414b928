/* net_harness.c: a libuv loop, transports and raw clients on 127.0.0.1 for the transport tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net_harness.h"

uv_loop_t *h_loop;
static uv_loop_t loop_storage;
static uv_timer_t tick; /* wakes UV_RUN_ONCE regularly */

static void tick_cb(uv_timer_t *t)
{
	(void)t;
}

void h_init(void)
{
	h_loop = &loop_storage;
	assert_int_equal(uv_loop_init(h_loop), 0);
	uv_timer_init(h_loop, &tick);
	uv_timer_start(&tick, tick_cb, 5, 5);
}

void h_fini(void)
{
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(h_loop, UV_RUN_DEFAULT);
	/* UV_EBUSY here means a handle was never closed. */
	assert_int_equal(uv_loop_close(h_loop), 0);
}

bool h_run_until(bool (*pred)(void *), void *arg, int ms)
{
	uint64_t deadline;

	uv_update_time(h_loop);
	deadline = uv_now(h_loop) + (uint64_t)ms;
	while (!pred(arg)) {
		if (uv_now(h_loop) >= deadline)
			return false;
		uv_run(h_loop, UV_RUN_ONCE);
	}
	return true;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

void h_run_for(int ms)
{
	h_run_until(never, NULL, ms);
}

static void recv_cb(struct net *n, raft_id from, const void *frame, size_t len, void *data)
{
	struct tnode *t = data;
	const uint8_t *p = frame;
	uint32_t seq;

	(void)n;
	(void)from;
	t->received++;
	if (len < 4) {
		t->content_ok = false;
		return;
	}
	seq = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (seq != t->next_seq)
		t->order_ok = false;
	t->next_seq = seq + 1;
	for (size_t i = 4; i < len; i++)
		if (p[i] != (uint8_t)(seq * 13 + i)) {
			t->content_ok = false;
			break;
		}
}

static void event_cb(struct net *n, const struct net_event *ev, void *data)
{
	struct tnode *t = data;

	(void)n;
	if (ev->type == NET_PEER_UP) {
		t->ups++;
		if (ev->id < 8)
			t->ups_from[ev->id]++;
	} else {
		t->downs++;
	}
}

void h_config(struct net_config *cfg, raft_id id, const char *name, uint8_t keybyte)
{
	uint8_t key[NET_KEY_BYTES];

	memset(key, keybyte, sizeof(key));
	net_config_default(cfg, id, name, key);
	cfg->backoff_min_ms = 20;
	cfg->backoff_max_ms = 200;
	cfg->recv_cb = recv_cb;
	cfg->event_cb = event_cb;
}

void h_start(struct tnode *t, struct net_config *cfg, uint16_t port)
{
	memset(t, 0, sizeof(*t));
	t->id = cfg->id;
	t->order_ok = t->content_ok = true;
	cfg->data = t;
	assert_int_equal(net_new(h_loop, cfg, &t->n), 0);
	assert_int_equal(net_listen(t->n, "127.0.0.1", port), 0);
	t->port = net_port(t->n);
	assert_true(t->port != 0);
}

static void closed_cb(void *data)
{
	((struct tnode *)data)->closed = true;
}

static bool is_closed(void *t)
{
	return ((struct tnode *)t)->closed;
}

void h_stop(struct tnode *t)
{
	net_close(t->n, closed_cb, t);
	assert_true(h_run_until(is_closed, t, 2000));
	t->n = NULL;
}

void h_peer(struct tnode *a, struct tnode *b)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", b->port);
	assert_int_equal(net_peer_add(a->n, b->id, addr), 0);
}

bool h_both_up(void *pair)
{
	struct tnode **p = pair;
	return net_peer_up(p[0]->n, p[1]->id) && net_peer_up(p[1]->n, p[0]->id);
}

int h_send(struct tnode *a, raft_id to, uint32_t seq, size_t len)
{
	uint8_t *f = net_frame_alloc(len);

	assert_non_null(f);
	f[0] = (uint8_t)(seq >> 24);
	f[1] = (uint8_t)(seq >> 16);
	f[2] = (uint8_t)(seq >> 8);
	f[3] = (uint8_t)seq;
	for (size_t i = 4; i < len; i++)
		f[i] = (uint8_t)(seq * 13 + i);
	return net_send_frame(a->n, to, f, len);
}

/* ------------------------------------------------------------------------ */

static void raw_closed_cb(uv_handle_t *h)
{
	((struct raw *)h->data)->closed = true;
}

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct raw *r = h->data;
	(void)hint;
	buf->base = r->rbuf;
	buf->len = sizeof(r->rbuf);
}

static void raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct raw *r = s->data;
	(void)buf;
	if (nread < 0 && !r->eof) {
		r->eof = true;
		uv_close((uv_handle_t *)&r->tcp, raw_closed_cb);
	}
}

static void raw_written(uv_write_t *w, int status)
{
	(void)w;
	(void)status;
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct raw *r = req->data;

	assert_int_equal(status, 0);
	if (r->len > 0) {
		uv_buf_t b = uv_buf_init((char *)r->bytes, (unsigned)r->len);
		uv_write(&r->w, (uv_stream_t *)&r->tcp, &b, 1, raw_written);
	}
	uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

void h_raw_connect(struct raw *r, uint16_t port, const void *bytes, size_t len)
{
	struct sockaddr_in sa;

	memset(r, 0, sizeof(*r));
	r->bytes = malloc(len ? len : 1);
	if (len > 0)
		memcpy(r->bytes, bytes, len);
	r->len = len;
	uv_ip4_addr("127.0.0.1", port, &sa);
	uv_tcp_init(h_loop, &r->tcp);
	r->tcp.data = r;
	r->req.data = r;
	assert_int_equal(uv_tcp_connect(&r->req, &r->tcp, (struct sockaddr *)&sa, raw_connected),
	                 0);
}

bool h_raw_closed(void *arg)
{
	struct raw *r = arg;
	if (r->closed && r->bytes != NULL) {
		free(r->bytes);
		r->bytes = NULL;
	}
	return r->closed;
}

/* ------------------------------------------------------------------------ */

static int saved_fd = -1;
static FILE *cap_file;

void h_capture_begin(void)
{
	/* QFS_TEST_NO_CAPTURE=1 leaves stderr alone (to debug a crash inside). */
	if (getenv("QFS_TEST_NO_CAPTURE") != NULL)
		return;
	fflush(stderr);
	cap_file = tmpfile();
	assert_non_null(cap_file);
	saved_fd = dup(STDERR_FILENO);
	dup2(fileno(cap_file), STDERR_FILENO);
}

char *h_capture_end(void)
{
	int fd = fileno(cap_file);
	off_t size;
	char *text;

	if (cap_file == NULL)
		return calloc(1, 1);
	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	/* The log went through fd 2, which shares this file's offset. */
	size = lseek(fd, 0, SEEK_END);
	text = calloc(1, (size_t)size + 1);
	if (size > 0 && pread(fd, text, (size_t)size, 0) != (ssize_t)size)
		text[0] = '\0';
	fclose(cap_file);
	cap_file = NULL;
	/* Show what was captured, for whoever reads the test log. */
	fputs(text, stderr);
	return text;
}

int h_count_lines(const char *log, ...)
{
	int count = 0;
	const char *line = log;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *l = strndup(line, len);
		bool all = true;
		va_list ap;
		const char *needle;

		va_start(ap, log);
		while ((needle = va_arg(ap, const char *)) != NULL)
			if (strstr(l, needle) == NULL)
				all = false;
		va_end(ap);
		count += all;
		free(l);
		line += len + (end != NULL);
	}
	return count;
}
