/* admin.c: the local admin socket (Unix domain, mode 0600, length-prefixed frames) and its client.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/net.h"
#include "frame.h"
#include "sigpipe.h"

struct admin_conn {
	uv_pipe_t pipe; /* freed in its close callback */
	struct net_admin *a;
	uint64_t id;
	struct net__reader rd;
	bool closing;
	struct admin_conn *next;
};

struct admin_write {
	uv_write_t req;
	uint8_t wire[]; /* header, then the frame */
};

struct net_admin {
	uv_loop_t *loop;
	uv_pipe_t server;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t max_frame;
	net_admin_cb cb;
	void *data;
	struct admin_conn *conns;
	uint64_t next_id;
	unsigned handles;
	bool closing;
	void (*close_cb)(void *data);
	void *close_data;
	uint8_t rbuf[64 * 1024];
};

static void handle_closed(struct net_admin *a)
{
	if (--a->handles == 0 && a->closing) {
		void (*cb)(void *) = a->close_cb;
		void *data = a->close_data;
		free(a);
		if (cb != NULL)
			cb(data);
	}
}

static void conn_closed(uv_handle_t *h)
{
	struct admin_conn *c = h->data;
	struct net_admin *a = c->a;

	net__reader_free(&c->rd);
	free(c);
	handle_closed(a);
}

static void conn_close(struct admin_conn *c, const char *why)
{
	struct admin_conn **pp = &c->a->conns;

	if (c->closing)
		return;
	c->closing = true;
	if (why != NULL)
		qfs_warn("admin socket %s: client %llu dropped: %s", c->a->path,
		         (unsigned long long)c->id, why);
	while (*pp != NULL && *pp != c)
		pp = &(*pp)->next;
	if (*pp == c)
		*pp = c->next;
	uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct admin_conn *c = h->data;

	buf->base = (char *)c->a->rbuf;
	buf->len = sizeof(c->a->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct admin_conn *c = s->data;
	uint8_t *p = (uint8_t *)buf->base, *f;
	size_t len = nread > 0 ? (size_t)nread : 0, flen;
	char why[96];
	int rv;

	if (c->closing || nread == 0)
		return;
	if (nread < 0) {
		conn_close(c, nread == UV_EOF ? NULL : uv_strerror((int)nread));
		return;
	}
	while (len > 0 && !c->closing && !c->a->closing) {
		rv = net__reader_next(&c->rd, &p, &len, &f, &flen);
		if (rv == 0)
			break;
		if (rv < 0) {
			snprintf(why, sizeof(why),
			         rv == -EMSGSIZE ? "frame of %lu bytes is too big"
			                         : "out of memory (%lu)",
			         (unsigned long)c->rd.last_len);
			conn_close(c, why);
			return;
		}
		c->a->cb(c->a, c->id, f, flen, c->a->data);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct net_admin *a = server->data;
	struct admin_conn *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->a = a;
	c->id = ++a->next_id;
	net__reader_init(&c->rd, a->max_frame);
	uv_pipe_init(a->loop, &c->pipe, 0);
	c->pipe.data = c;
	a->handles++;
	c->next = a->conns;
	a->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) != 0)
		conn_close(c, "accept failed");
}

/* Removes a socket file nobody accepts on; refuses a live one or a non-socket. */
static int clear_stale(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rv;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rv == 0)
		return -EADDRINUSE;
	if (errno != ECONNREFUSED)
		return -errno;
	return unlink(path) == 0 ? 0 : -errno;
}

static void server_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

int net_admin_listen(uv_loop_t *loop, const char *path, size_t max_frame, net_admin_cb cb,
                     void *data, struct net_admin **out)
{
	struct net_admin *a;
	int rv;

	if (strlen(path) >= sizeof(a->path))
		return -ENAMETOOLONG;
	net__sigpipe_block();
	if (max_frame == 0)
		max_frame = NET_MAX_FRAME_DEFAULT;
	if (max_frame > UINT32_MAX || cb == NULL)
		return -EINVAL;
	rv = clear_stale(path);
	if (rv != 0)
		return rv;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->loop = loop;
	snprintf(a->path, sizeof(a->path), "%s", path);
	a->max_frame = max_frame;
	a->cb = cb;
	a->data = data;
	uv_pipe_init(loop, &a->server, 0);
	a->server.data = a;
	a->handles = 1;
	rv = uv_pipe_bind(&a->server, path);
	/* Between bind and listen nobody can connect, so the mode is set
	 * before anyone can use the socket. */
	if (rv == 0 && chmod(path, 0600) != 0)
		rv = -errno;
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&a->server, 16, on_connection);
	if (rv != 0) {
		unlink(path);
		a->closing = true;
		uv_close((uv_handle_t *)&a->server, server_closed);
		return rv;
	}
	*out = a;
	return 0;
}

static void admin_write_cb(uv_write_t *req, int status)
{
	if (status == UV_EPIPE)
		net__sigpipe_discard(); /* a client that left before its answer */
	free(req);
}

int net_admin_send(struct net_admin *a, uint64_t conn_id, const void *frame, size_t len)
{
	struct admin_conn *c;
	struct admin_write *w;
	uv_buf_t buf;
	int rv;

	for (c = a->conns; c != NULL && c->id != conn_id; c = c->next)
		;
	if (c == NULL || c->closing)
		return -ENOTCONN;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	w = malloc(sizeof(*w) + NET__HDR_LEN + len);
	if (w == NULL)
		return -ENOMEM;
	net__put_len(w->wire, (uint32_t)len);
	if (len > 0)
		memcpy(w->wire + NET__HDR_LEN, frame, len);
	buf = uv_buf_init((char *)w->wire, (unsigned)(NET__HDR_LEN + len));
	rv = uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, admin_write_cb);
	if (rv != 0) {
		free(w);
		conn_close(c, uv_strerror(rv));
		return -ENOTCONN;
	}
	return 0;
}

void net_admin_close(struct net_admin *a, void (*cb)(void *data), void *data)
{
	if (a->closing)
		return;
	a->closing = true;
	a->close_cb = cb;
	a->close_data = data;
	while (a->conns != NULL)
		conn_close(a->conns, NULL);
	unlink(a->path);
	uv_close((uv_handle_t *)&a->server, server_closed);
}

/* ------------------------------------------------------------------------ */
/* The blocking client                                                        */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for @events on @fd until @deadline (< 0: forever). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int left, rv;

	for (;;) {
		left = deadline < 0 ? -1 : (int)(deadline - now_ms());
		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		rv = poll(&pfd, 1, left);
		if (rv > 0)
			return 0;
		if (rv < 0 && errno != EINTR)
			return -errno;
	}
}

static int write_all(int fd, const uint8_t *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			int rv = wait_fd(fd, POLLOUT, deadline);
			if (rv != 0)
				return rv;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		int rv = wait_fd(fd, POLLIN, deadline);
		ssize_t n;
		if (rv != 0)
			return rv;
		n = recv(fd, p, len, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return QFS_EPROTO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int net_admin_call(const char *path, const void *req, size_t len, size_t max, int timeout_ms,
                   void **resp, size_t *resp_len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
	uint8_t hdr[NET__HDR_LEN];
	uint8_t *body = NULL;
	uint32_t n;
	int fd, rv;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A Unix socket connects at once or fails: no EINPROGRESS to wait for. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		rv = -errno;
		goto out;
	}
	net__put_len(hdr, (uint32_t)len);
	rv = write_all(fd, hdr, sizeof(hdr), deadline);
	if (rv == 0)
		rv = write_all(fd, req, len, deadline);
	if (rv == 0)
		rv = read_all(fd, hdr, sizeof(hdr), deadline);
	if (rv != 0)
		goto out;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n > max) {
		rv = -EMSGSIZE;
		goto out;
	}
	body = malloc(n > 0 ? n : 1);
	if (body == NULL) {
		rv = -ENOMEM;
		goto out;
	}
	rv = read_all(fd, body, n, deadline);
	if (rv != 0) {
		free(body);
		goto out;
	}
	*resp = body;
	*resp_len = n;
out:
	close(fd);
	return rv;
}
