/* bench_etcd.c: the same load as bench-fs, against etcd's v3 JSON gateway over HTTP/1.1 with
 * one kept-alive connection per thread (a minimal client: no library). A write is a
 * /v3/kv/put, a read a /v3/kv/range (linearizable, or serializable with -m sread). Prints one
 * result line (see lat.h).
 *
 *   bench-etcd -m write|read|sread|load [-t THREADS] [-n OPS_PER_THREAD] [-T SECONDS]
 *              [-k KEYS] [-s VALUE_BYTES] [-p PREFIX] HOST:PORT [HOST:PORT...]
 *
 * Keys are "PREFIX/dNNN/kNNNNNN", as the paths of bench-fs; the options, the keys and the
 * threads are those of load.h (thread i talks to endpoint i % the number of endpoints). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load.h"

static struct load l;

/* One kept-alive HTTP/1.1 connection with a read buffer. */
struct conn {
	const char *ep;
	int fd;
	char buf[65536];
	size_t off, len;
};

static int conn_open(struct conn *c)
{
	char host[256];
	snprintf(host, sizeof(host), "%s", c->ep);
	char *colon = strrchr(host, ':');
	if (colon == NULL)
		return -EINVAL;
	*colon = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -errno;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = -errno;
		close(c->fd);
		c->fd = -1;
		return e;
	}
	c->off = c->len = 0;
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int fill(struct conn *c)
{
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf))
		return -E2BIG;
	ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (r <= 0)
		return r == 0 ? -ECONNRESET : -errno;
	c->len += (size_t)r;
	return 0;
}

/* Reads one line ending in CRLF; returns its length (without CRLF) and points *line at it. */
static int read_line(struct conn *c, char **line)
{
	for (;;) {
		char *s = c->buf + c->off;
		char *e = memmem(s, c->len - c->off, "\r\n", 2);
		if (e != NULL) {
			*e = 0;
			*line = s;
			c->off += (size_t)(e - s) + 2;
			return (int)(e - s);
		}
		int err = fill(c);
		if (err)
			return err;
	}
}

/* Consumes @n body bytes, copying at most @cap of them to @out at *@outlen. */
static int read_body(struct conn *c, size_t n, char *out, size_t cap, size_t *outlen)
{
	while (n > 0) {
		if (c->off == c->len) {
			int err = fill(c);
			if (err)
				return err;
		}
		size_t k = c->len - c->off < n ? c->len - c->off : n;
		size_t room = cap - 1 - *outlen;
		memcpy(out + *outlen, c->buf + c->off, k < room ? k : room);
		*outlen += k < room ? k : room;
		c->off += k;
		n -= k;
	}
	out[*outlen] = 0;
	return 0;
}

/* One request and its response. Returns 0 on HTTP 200 without "error" in the body. */
static int roundtrip(struct conn *c, const char *path, const char *body, size_t blen)
{
	char req[65536 + 1024];
	int h = snprintf(req, sizeof(req),
	                 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\n\r\n",
	                 path, c->ep, blen);
	if ((size_t)h + blen > sizeof(req))
		return -E2BIG;
	memcpy(req + h, body, blen);
	size_t total = (size_t)h + blen, sent = 0;
	while (sent < total) {
		ssize_t w = send(c->fd, req + sent, total - sent, MSG_NOSIGNAL);
		if (w < 0)
			return -errno;
		sent += (size_t)w;
	}
	char *line;
	int n = read_line(c, &line);
	if (n < 0)
		return n;
	int status = 0;
	if (sscanf(line, "HTTP/1.%*d %d", &status) != 1)
		return -EPROTO;
	long clen = -1;
	int chunked = 0, keep = 1;
	for (;;) {
		n = read_line(c, &line);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		if (strncasecmp(line, "content-length:", 15) == 0)
			clen = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "transfer-encoding:", 18) == 0 &&
		         strstr(line, "chunked"))
			chunked = 1;
		else if (strncasecmp(line, "connection:", 11) == 0 && strstr(line, "close"))
			keep = 0;
	}
	char resp[8192];
	size_t rlen = 0;
	if (chunked) {
		for (;;) {
			n = read_line(c, &line);
			if (n < 0)
				return n;
			size_t sz = strtoul(line, NULL, 16);
			if (sz == 0) {
				while ((n = read_line(c, &line)) > 0) /* trailers */
					;
				if (n < 0)
					return n;
				break;
			}
			int err = read_body(c, sz, resp, sizeof(resp), &rlen);
			if (err)
				return err;
			n = read_line(c, &line);
			if (n < 0)
				return n;
		}
	} else if (clen >= 0) {
		int err = read_body(c, (size_t)clen, resp, sizeof(resp), &rlen);
		if (err)
			return err;
	} else {
		return -EPROTO;
	}
	if (!keep)
		conn_close(c);
	if (status != 200 || strstr(resp, "\"error\"") != NULL) {
		fprintf(stderr, "bench-etcd: HTTP %d: %.200s\n", status, resp);
		return -EIO;
	}
	return 0;
}

static size_t b64(char *out, const unsigned char *in, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = t[(v >> 18) & 63];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

static void *run(void *arg)
{
	struct load_worker *w = arg;
	bool reads = strcmp(l.mode, "read") == 0, sreads = strcmp(l.mode, "sread") == 0;
	struct conn *c = calloc(1, sizeof(*c));
	unsigned char *val = malloc(l.value_size);
	char *vb64 = malloc(l.value_size * 2 + 8);
	char *body = malloc(l.value_size * 2 + 1024);
	unsigned long key;
	if (c == NULL || val == NULL || vb64 == NULL || body == NULL)
		return NULL;
	c->ep = w->target;
	c->fd = -1;
	memset(val, 'v', l.value_size);
	val[l.value_size - 1] = '\n';
	b64(vb64, val, l.value_size);
	while (load_next(w, &key)) {
		char k[512], kb64[700];
		int kl = load_key(&l, key, k, sizeof(k));
		b64(kb64, (const unsigned char *)k, (size_t)kl);
		const char *path;
		int blen;
		if (reads || sreads) {
			path = "/v3/kv/range";
			blen = sprintf(body, "{\"key\":\"%s\"%s}", kb64,
			               sreads ? ",\"serializable\":true" : "");
		} else {
			path = "/v3/kv/put";
			blen = sprintf(body, "{\"key\":\"%s\",\"value\":\"%s\"}", kb64, vb64);
		}
		uint64_t t0 = lat_now();
		int err = c->fd < 0 ? conn_open(c) : 0;
		if (err == 0)
			err = roundtrip(c, path, body, (size_t)blen);
		uint64_t t1 = lat_now();
		if (err != 0) {
			if (w->errors++ == 0)
				fprintf(stderr, "bench-etcd: %s %s: %s\n", c->ep, path,
				        strerror(-err));
			conn_close(c);
			continue;
		}
		lat_add(&w->lat, t1 - t0);
	}
	conn_close(c);
	free(c);
	free(val);
	free(vb64);
	free(body);
	return NULL;
}

int main(int argc, char **argv)
{
	static const char usage[] = "bench-etcd -m write|read|sread|load [-t THREADS] [-n OPS] "
	                            "[-T SECONDS] [-k KEYS] [-s BYTES] [-p PREFIX] HOST:PORT...";
	load_options(&l, argc, argv, usage);
	if ((strcmp(l.mode, "write") != 0 && strcmp(l.mode, "read") != 0 &&
	     strcmp(l.mode, "sread") != 0 && !l.fill) ||
	    l.value_size > 16384)
		load_usage(usage);
	return load_run(&l, run);
}
