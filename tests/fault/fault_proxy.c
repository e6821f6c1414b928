/* fault_proxy.c: fault-proxy, a TCP proxy per directed link between nodes that cuts, delays and
 * breaks traffic. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

/*
 * fault-proxy [--control FIFO] [--seed S] --link FROM:TO:LISTEN_PORT:TARGET_PORT ...
 *
 * Each node dials every peer and sends its frames to that peer over the
 * connection it dialed (include/quorumfs/net.h), so the connection a node
 * FROM dials to node TO carries exactly the traffic FROM -> TO. Pointing
 * FROM at 127.0.0.1:LISTEN_PORT for peer TO (quorumfs --peer-address) puts
 * this proxy on that one direction, and cutting it is a one-way partition.
 *
 * Commands, one per line, on the control FIFO (or stdin):
 *
 *   cut I J        close the connections of link I->J; new ones are accepted
 *                  and black-holed (read and dropped, never forwarded)
 *   heal I J       forward again (black-holed connections are closed, so the
 *                  dialer redials at once)
 *   heal-all       heal every link and clear delay, loss and duplication
 *   delay I J MS   hold every chunk I->J for MS milliseconds (order kept)
 *   loss I J PCT   with this probability per chunk, reset the connection: the
 *                  transport authenticates every frame, so lost or damaged
 *                  bytes on one TCP stream always end that connection
 *   dup I J PCT    with this probability per chunk, send it twice (the
 *                  receiver rejects the replay and closes the connection)
 *   status         print the counters of every link on stdout
 *   sync N         print "synced N" on stdout once every earlier command is
 *                  in effect (commands run in order), for a caller that must
 *                  know when a cut has happened
 *
 * Both directions of a connection are forwarded; delay, loss and duplication
 * apply to the FROM -> TO direction, which carries the frames. Buffers are
 * bounded: a direction with more than QUEUE_HIGH bytes queued stops reading
 * its source until it drains below QUEUE_LOW. Prints "ready" once every link
 * listens. Exits on "quit", SIGTERM or SIGINT.
 */

#define QUEUE_HIGH (4u << 20)
#define QUEUE_LOW  (1u << 20)
#define MAX_LINKS  64

struct link;
struct conn;

struct chunk {
	struct chunk *next;
	uint64_t due; /* uv_now() when it may be written */
	size_t len;
	char data[];
};

struct wreq {
	uv_write_t req;
	struct dir *d;
	struct chunk *c;
};

/* One direction of a connection: bytes read from src are written to dst. */
struct dir {
	struct conn *conn;
	uv_tcp_t *src, *dst;
	bool faulty;               /* the FROM -> TO direction: delay, loss, dup apply */
	struct chunk *head, *tail; /* waiting for their due time */
	size_t queued;             /* bytes in the list and in libuv's write queue */
	bool reading;
};

struct conn {
	struct link *link;
	struct conn *next;
	uv_tcp_t client, upstream;
	uv_connect_t connect;
	uv_timer_t timer; /* the due time of the head chunk of the faulty direction */
	struct dir up, down;
	bool blackhole, closing, upstream_open;
	bool connected; /* upstream connected: up and down are set */
	int handles;    /* open handles; freed when 0 */
};

struct link {
	int from, to;
	int listen_port, target_port;
	uv_tcp_t server;
	bool cut;
	unsigned delay_ms, loss_pct, dup_pct;
	struct conn *conns;
	uint64_t accepted, bytes, resets, dups, blackholed;
};

static uv_loop_t *loop;
static struct link links[MAX_LINKS];
static int nlinks;
static uint64_t rng = 88172645463325252ULL;
static uv_pipe_t control;
static char ctl_buf[4096];
static size_t ctl_len;
static uv_signal_t sigterm, sigint;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void conn_close(struct conn *c, bool reset);

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->handles > 0) {
		return;
	}
	struct dir *ds[2] = {&c->up, &c->down};
	for (int i = 0; i < 2; i++) {
		for (struct chunk *k = ds[i]->head, *n; k != NULL; k = n) {
			n = k->next;
			free(k);
		}
	}
	free(c);
}

static void unlink_conn(struct conn *c)
{
	for (struct conn **p = &c->link->conns; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			return;
		}
	}
}

static void close_handle(struct conn *c, uv_handle_t *h, bool reset)
{
	if (uv_is_closing(h)) {
		return;
	}
	if (reset && h->type == UV_TCP &&
	    uv_tcp_close_reset((uv_tcp_t *)h, on_handle_closed) == 0) {
		return;
	}
	uv_close(h, on_handle_closed);
}

/* Close both sockets (with RST if @reset) and the timer; frees @c once all are closed. */
static void conn_close(struct conn *c, bool reset)
{
	if (c->closing) {
		return;
	}
	c->closing = true;
	unlink_conn(c);
	close_handle(c, (uv_handle_t *)&c->client, reset);
	if (c->upstream_open) {
		close_handle(c, (uv_handle_t *)&c->upstream, reset);
	}
	close_handle(c, (uv_handle_t *)&c->timer, false);
}

static void update_reading(struct dir *d);

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct dir *d = w->d;
	d->queued -= w->c->len;
	free(w->c);
	free(w);
	if (status < 0) {
		conn_close(d->conn, false);
		return;
	}
	update_reading(d);
}

static void write_chunk(struct dir *d, struct chunk *c)
{
	struct wreq *w = malloc(sizeof(*w));
	if (w == NULL) {
		abort();
	}
	w->d = d;
	w->c = c;
	uv_buf_t b = uv_buf_init(c->data, (unsigned)c->len);
	if (uv_write(&w->req, (uv_stream_t *)d->dst, &b, 1, on_write) != 0) {
		d->queued -= c->len;
		free(c);
		free(w);
		conn_close(d->conn, false);
	}
}

/* Write every chunk whose time has come; arm the timer for the next. */
static void flush_due(struct dir *d)
{
	struct conn *c = d->conn;
	uint64_t now = uv_now(loop);
	while (d->head != NULL && d->head->due <= now && !c->closing) {
		struct chunk *k = d->head;
		d->head = k->next;
		if (d->head == NULL) {
			d->tail = NULL;
		}
		k->next = NULL;
		write_chunk(d, k);
	}
}

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	flush_due(&c->up);
	if (!c->closing && c->up.head != NULL) {
		uint64_t now = uv_now(loop);
		uv_timer_start(&c->timer, on_timer,
		               c->up.head->due > now ? c->up.head->due - now : 0, 0);
	}
}

static void update_reading(struct dir *d)
{
	struct conn *c = d->conn;
	if (c->closing) {
		return;
	}
	if (d->reading && d->queued > QUEUE_HIGH) {
		uv_read_stop((uv_stream_t *)d->src);
		d->reading = false;
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[65536];
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void enqueue(struct dir *d, const char *data, size_t len, unsigned delay_ms)
{
	struct chunk *k = malloc(sizeof(*k) + len);
	if (k == NULL) {
		abort();
	}
	k->next = NULL;
	k->len = len;
	k->due = uv_now(loop) + delay_ms;
	memcpy(k->data, data, len);
	d->queued += len;
	if (d->tail != NULL) {
		d->tail->next = k;
	} else {
		d->head = k;
	}
	d->tail = k;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (c->closing) {
		return;
	}
	if (n < 0) {
		conn_close(c, n != UV_EOF);
		return;
	}
	if (n == 0) {
		return;
	}
	if (c->blackhole) {
		return; /* read and dropped */
	}
	struct dir *d = s == (uv_stream_t *)&c->client ? &c->up : &c->down;
	struct link *l = c->link;
	l->bytes += (uint64_t)n;
	if (d->faulty) {
		if (l->loss_pct > 0 && xorshift() % 100 < l->loss_pct) {
			l->resets++;
			conn_close(c, true);
			return;
		}
		bool dup = l->dup_pct > 0 && xorshift() % 100 < l->dup_pct;
		enqueue(d, buf->base, (size_t)n, l->delay_ms);
		if (dup) {
			l->dups++;
			enqueue(d, buf->base, (size_t)n, l->delay_ms);
		}
		on_timer(&c->timer);
	} else {
		enqueue(d, buf->base, (size_t)n, 0);
		flush_due(d);
	}
	update_reading(d);
}

static void resume_reading(struct dir *d)
{
	if (!d->reading && !d->conn->closing && d->queued < QUEUE_LOW) {
		uv_read_start((uv_stream_t *)d->src, alloc_cb, on_read);
		d->reading = true;
	}
}

static uv_timer_t resume_timer;

/* Every 10 ms: directions stopped for backpressure resume once drained. */
static void on_idle_check(uv_timer_t *t)
{
	for (int i = 0; i < nlinks; i++) {
		for (struct conn *c = links[i].conns; c != NULL; c = c->next) {
			if (!c->closing && c->connected) {
				resume_reading(&c->up);
				resume_reading(&c->down);
			}
		}
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	if (c->closing) {
		return;
	}
	if (status < 0) {
		conn_close(c, false);
		return;
	}
	c->up = (struct dir){.conn = c, .src = &c->client, .dst = &c->upstream, .faulty = true};
	c->down = (struct dir){.conn = c, .src = &c->upstream, .dst = &c->client};
	c->connected = true;
	resume_reading(&c->up);
	resume_reading(&c->down);
}

static void on_accept(uv_stream_t *server, int status)
{
	struct link *l = server->data;
	if (status < 0) {
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		abort();
	}
	c->link = l;
	uv_tcp_init(loop, &c->client);
	c->client.data = c;
	c->handles = 1;
	if (uv_accept(server, (uv_stream_t *)&c->client) != 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->client, on_handle_closed);
		return;
	}
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->handles++;
	c->next = l->conns;
	l->conns = c;
	l->accepted++;
	uv_tcp_nodelay(&c->client, 1);
	if (l->cut) {
		l->blackholed++;
		c->blackhole = true;
		uv_read_start((uv_stream_t *)&c->client, alloc_cb, on_read);
		return;
	}
	uv_tcp_init(loop, &c->upstream);
	c->upstream.data = c;
	c->upstream_open = true;
	c->handles++;
	uv_tcp_nodelay(&c->upstream, 1);
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", l->target_port, &addr);
	c->connect.data = c;
	if (uv_tcp_connect(&c->connect, &c->upstream, (const struct sockaddr *)&addr, on_connect) !=
	    0) {
		conn_close(c, false);
	}
}

static struct link *find_link(int from, int to)
{
	for (int i = 0; i < nlinks; i++) {
		if (links[i].from == from && links[i].to == to) {
			return &links[i];
		}
	}
	return NULL;
}

static void close_all(struct link *l, bool blackholed_only)
{
	struct conn *c = l->conns;
	while (c != NULL) {
		struct conn *next = c->next;
		if (!blackholed_only || c->blackhole) {
			conn_close(c, true);
		}
		c = next;
	}
}

static void heal(struct link *l)
{
	l->cut = false;
	l->delay_ms = l->loss_pct = l->dup_pct = 0;
	close_all(l, true);
}

static void command(char *line)
{
	char cmd[32];
	int i = 0, j = 0;
	unsigned v = 0;
	int n = sscanf(line, "%31s %d %d %u", cmd, &i, &j, &v);
	if (n < 1) {
		return;
	}
	if (strcmp(cmd, "quit") == 0) {
		uv_stop(loop);
		return;
	}
	if (strcmp(cmd, "heal-all") == 0) {
		for (int k = 0; k < nlinks; k++) {
			heal(&links[k]);
		}
		return;
	}
	if (strcmp(cmd, "status") == 0) {
		for (int k = 0; k < nlinks; k++) {
			struct link *l = &links[k];
			int nc = 0;
			for (struct conn *c = l->conns; c != NULL; c = c->next) {
				nc++;
			}
			printf("link %d->%d %s delay=%u loss=%u dup=%u conns=%d accepted=%llu "
			       "bytes=%llu resets=%llu dups=%llu blackholed=%llu\n",
			       l->from, l->to, l->cut ? "cut" : "up", l->delay_ms, l->loss_pct,
			       l->dup_pct, nc, (unsigned long long)l->accepted,
			       (unsigned long long)l->bytes, (unsigned long long)l->resets,
			       (unsigned long long)l->dups, (unsigned long long)l->blackholed);
		}
		fflush(stdout);
		return;
	}
	if (strcmp(cmd, "sync") == 0 && n >= 2) {
		printf("synced %d\n", i);
		fflush(stdout);
		return;
	}
	struct link *l = n >= 3 ? find_link(i, j) : NULL;
	if (l == NULL) {
		fprintf(stderr, "fault-proxy: bad command: %s\n", line);
		return;
	}
	if (strcmp(cmd, "cut") == 0) {
		l->cut = true;
		close_all(l, false);
	} else if (strcmp(cmd, "heal") == 0) {
		heal(l);
	} else if (strcmp(cmd, "delay") == 0 && n == 4) {
		l->delay_ms = v;
	} else if (strcmp(cmd, "loss") == 0 && n == 4 && v <= 100) {
		l->loss_pct = v;
	} else if (strcmp(cmd, "dup") == 0 && n == 4 && v <= 100) {
		l->dup_pct = v;
	} else {
		fprintf(stderr, "fault-proxy: bad command: %s\n", line);
	}
}

static void ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	*buf = uv_buf_init(ctl_buf + ctl_len, (unsigned)(sizeof(ctl_buf) - 1 - ctl_len));
}

static void on_control(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (n < 0) {
		if (n == UV_EOF) {
			/* stdin closed: keep running until a signal. */
			uv_read_stop(s);
		}
		return;
	}
	ctl_len += (size_t)n;
	ctl_buf[ctl_len] = '\0';
	char *start = ctl_buf, *nl;
	while ((nl = strchr(start, '\n')) != NULL) {
		*nl = '\0';
		command(start);
		start = nl + 1;
	}
	ctl_len = strlen(start);
	memmove(ctl_buf, start, ctl_len + 1);
	if (ctl_len >= sizeof(ctl_buf) - 2) {
		ctl_len = 0; /* an overlong line: dropped */
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	uv_stop(loop);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	        {"link", required_argument, NULL, 'l'},
	        {"control", required_argument, NULL, 'c'},
	        {"seed", required_argument, NULL, 's'},
	        {NULL, 0, NULL, 0},
	};
	const char *ctl_path = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o == 'l') {
			struct link *l = &links[nlinks];
			if (nlinks == MAX_LINKS || sscanf(optarg, "%d:%d:%d:%d", &l->from, &l->to,
			                                  &l->listen_port, &l->target_port) != 4) {
				fprintf(stderr, "fault-proxy: bad --link %s\n", optarg);
				return 2;
			}
			nlinks++;
		} else if (o == 'c') {
			ctl_path = optarg;
		} else if (o == 's') {
			rng = strtoull(optarg, NULL, 10) * 0x9e3779b97f4a7c15ULL | 1;
		} else {
			fprintf(stderr, "usage: fault-proxy [--control FIFO] [--seed S] "
			                "--link FROM:TO:LISTEN_PORT:TARGET_PORT ...\n");
			return 2;
		}
	}
	/* A write to a connection the peer just reset must not kill the proxy (libuv writes
	 * with write(2), which raises SIGPIPE). */
	signal(SIGPIPE, SIG_IGN);
	loop = uv_default_loop();
	for (int i = 0; i < nlinks; i++) {
		struct link *l = &links[i];
		struct sockaddr_in addr;
		uv_tcp_init(loop, &l->server);
		l->server.data = l;
		uv_ip4_addr("127.0.0.1", l->listen_port, &addr);
		int rc = uv_tcp_bind(&l->server, (const struct sockaddr *)&addr, 0);
		if (rc == 0) {
			rc = uv_listen((uv_stream_t *)&l->server, 64, on_accept);
		}
		if (rc != 0) {
			fprintf(stderr, "fault-proxy: listen on 127.0.0.1:%d: %s\n", l->listen_port,
			        uv_strerror(rc));
			return 1;
		}
	}
	int fd = 0;
	if (ctl_path != NULL) {
		/* O_RDWR: the FIFO never reports EOF when a writer goes away. */
		fd = open(ctl_path, O_RDWR | O_NONBLOCK);
		if (fd < 0) {
			fprintf(stderr, "fault-proxy: %s: %s\n", ctl_path, strerror(errno));
			return 1;
		}
	}
	uv_pipe_init(loop, &control, 0);
	if (uv_pipe_open(&control, fd) == 0) {
		uv_read_start((uv_stream_t *)&control, ctl_alloc, on_control);
	}
	uv_timer_init(loop, &resume_timer);
	uv_timer_start(&resume_timer, on_idle_check, 10, 10);
	uv_signal_init(loop, &sigterm);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	uv_signal_init(loop, &sigint);
	uv_signal_start(&sigint, on_signal, SIGINT);
	printf("ready\n");
	fflush(stdout);
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
