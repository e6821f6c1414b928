/* bench_etcd.c: the same load as bench-fs, against etcd's v3 JSON gateway over HTTP/1.1 with
 * one kept-alive connection per thread (a minimal client: no library). A write is a
 * /v3/kv/put, a read a /v3/kv/range (linearizable, or serializable with -m sread). Prints one
 * result line (see lat.h).
 *
 *   bench-etcd -m write|read|sread|load [-t THREADS] [-n OPS_PER_THREAD] [-T SECONDS]
 *              [-k KEYS] [-s VALUE_BYTES] [-p PREFIX] HOST:PORT [HOST:PORT...]
 *
 * Keys are "PREFIX/dNNN/kNNNNNN", as the paths of bench-fs; thread i talks to endpoint
 * i % (number of endpoints). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lat.h"

enum mode { M_WRITE, M_READ, M_SREAD, M_LOAD };

static enum mode mode = M_WRITE;
static unsigned nthreads = 1, neps;
static unsigned long ops_per_thread = 1000, nkeys = 1000;
static double seconds = 0;
static size_t value_size = 100;
static const char *prefix = "bench";
static char **eps;
static uint64_t deadline_ns;

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

struct worker {
	pthread_t th;
	unsigned id;
	struct lat lat;
	unsigned long errors;
};

static void *run(void *arg)
{
	struct worker *w = arg;
	struct conn *c = calloc(1, sizeof(*c));
	unsigned char *val = malloc(value_size);
	char *vb64 = malloc(value_size * 2 + 8);
	char *body = malloc(value_size * 2 + 1024);
	if (c == NULL || val == NULL || vb64 == NULL || body == NULL)
		return NULL;
	c->ep = eps[w->id % neps];
	c->fd = -1;
	memset(val, 'v', value_size);
	val[value_size - 1] = '\n';
	b64(vb64, val, value_size);
	uint64_t x = 0x9e3779b97f4a7c15ull * (w->id + 1);
	unsigned long first = w->id, step = nthreads;
	for (unsigned long i = 0;; i++) {
		unsigned long key;
		if (mode == M_LOAD) {
			key = first + i * step;
			if (key >= nkeys)
				break;
		} else {
			if (ops_per_thread && i >= ops_per_thread)
				break;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			key = x % nkeys;
		}
		if (deadline_ns && (i & 7) == 0 && lat_now() > deadline_ns)
			break;
		char k[512], kb64[700];
		int kl = snprintf(k, sizeof(k), "%s/d%03lu/k%06lu", prefix, key / 1000, key);
		b64(kb64, (const unsigned char *)k, (size_t)kl);
		const char *path;
		int blen;
		if (mode == M_READ || mode == M_SREAD) {
			path = "/v3/kv/range";
			blen = sprintf(body, "{\"key\":\"%s\"%s}", kb64,
			               mode == M_SREAD ? ",\"serializable\":true" : "");
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

static void usage(void)
{
	fprintf(stderr, "usage: bench-etcd -m write|read|sread|load [-t THREADS] [-n OPS] "
	                "[-T SECONDS] [-k KEYS] [-s BYTES] [-p PREFIX] HOST:PORT...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c;
	while ((c = getopt(argc, argv, "m:t:n:T:k:s:p:")) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "write") == 0)
				mode = M_WRITE;
			else if (strcmp(optarg, "read") == 0)
				mode = M_READ;
			else if (strcmp(optarg, "sread") == 0)
				mode = M_SREAD;
			else if (strcmp(optarg, "load") == 0)
				mode = M_LOAD;
			else
				usage();
			break;
		case 't':
			nthreads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			ops_per_thread = strtoul(optarg, NULL, 10);
			break;
		case 'T':
			seconds = strtod(optarg, NULL);
			break;
		case 'k':
			nkeys = strtoul(optarg, NULL, 10);
			break;
		case 's':
			value_size = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			prefix = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || nthreads == 0 || nkeys == 0 || value_size == 0 || value_size > 16384)
		usage();
	eps = argv + optind;
	neps = (unsigned)(argc - optind);
	struct worker *ws = calloc(nthreads, sizeof(*ws));
	if (ws == NULL)
		return 1;
	uint64_t start = lat_now();
	if (seconds > 0)
		deadline_ns = start + (uint64_t)(seconds * 1e9);
	for (unsigned i = 0; i < nthreads; i++) {
		ws[i].id = i;
		if (pthread_create(&ws[i].th, NULL, run, &ws[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	struct lat all = {0};
	unsigned long errors = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(ws[i].th, NULL);
		lat_merge(&all, &ws[i].lat);
		lat_free(&ws[i].lat);
		errors += ws[i].errors;
	}
	lat_report(&all, lat_now() - start, errors);
	int rc = errors > 0 && all.n == 0 ? 1 : 0;
	lat_free(&all);
	free(ws);
	return rc;
}
