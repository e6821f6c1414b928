/* test_transport.c: the TCP transport on 127.0.0.1: order, reconnects, strangers, bounds. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "quorumfs/errors.h"
#include "net_harness.h"
#include "test_net.h"

static void pair_up(struct tnode *a, struct tnode *b)
{
	struct tnode *pair[2] = {a, b};

	h_peer(a, b);
	h_peer(b, a);
	assert_true(h_run_until(h_both_up, pair, 5000));
}

struct count_goal {
	struct tnode *t;
	int want;
};

static bool received_at_least(void *arg)
{
	struct count_goal *g = arg;
	return g->t->received >= g->want;
}

static void frames_arrive_in_order(void **state)
{
	struct net_config ca, cb;
	struct tnode a, b;
	struct net_stats st;
	struct count_goal g = {&b, 2000};
	size_t big = 3u << 20;

	(void)state;
	h_config(&ca, 1, "prod", 7);
	h_config(&cb, 2, "prod", 7);
	h_start(&a, &ca, 0);
	h_start(&b, &cb, 0);
	pair_up(&a, &b);
	/* Each side saw its own dial and the other's come up. */
	assert_int_equal(a.ups_from[2], 2);
	assert_int_equal(b.ups_from[1], 2);

	for (uint32_t seq = 0; seq < 2000; seq++) {
		size_t len = seq == 1000 ? big : seq % 7 == 0 ? 100000 : 4 + seq % 300;
		assert_int_equal(h_send(&a, 2, seq, len), 0);
	}
	assert_true(h_run_until(received_at_least, &g, 20000));
	assert_int_equal(b.received, 2000);
	assert_true(b.order_ok);
	assert_true(b.content_ok);
	net_get_stats(a.n, &st);
	assert_int_equal(st.frames_sent, 2000);
	net_get_stats(b.n, &st);
	assert_int_equal(st.frames_received, 2000);

	/* Errors of net_send itself. */
	assert_int_equal(h_send(&a, 99, 0, 8), -ENOENT);
	assert_int_equal(net_send(a.n, 2, "x", 0), 0); /* an empty frame is a frame */
	assert_int_equal(h_send(&a, 2, 0, NET_MAX_FRAME_DEFAULT + 1), -EMSGSIZE);
	assert_int_equal(net_peer_remove(a.n, 2), 0);
	assert_int_equal(net_peer_remove(a.n, 2), -ENOENT);
	assert_int_equal(h_send(&a, 2, 0, 8), -ENOENT);
	h_stop(&a);
	h_stop(&b);
}

static bool peer_up_12(void *arg)
{
	struct tnode *a = arg;
	return net_peer_up(a->n, 2);
}

static void reconnects_after_listener_restart(void **state)
{
	struct net_config ca, cb;
	struct tnode a, b;
	struct count_goal g = {&b, 1};
	uint16_t port;

	(void)state;
	h_config(&ca, 1, "prod", 7);
	h_config(&cb, 2, "prod", 7);
	h_start(&a, &ca, 0);
	h_start(&b, &cb, 0);
	pair_up(&a, &b);
	port = b.port;

	h_stop(&b);
	h_run_for(100);
	assert_false(net_peer_up(a.n, 2));
	assert_true(a.downs >= 1);
	assert_int_equal(h_send(&a, 2, 0, 8), -ENOTCONN);

	/* The same node comes back on the same port; a redials on its own. */
	h_config(&cb, 2, "prod", 7);
	h_start(&b, &cb, port);
	assert_true(h_run_until(peer_up_12, &a, 5000));
	assert_int_equal(h_send(&a, 2, 0, 64), 0);
	assert_true(h_run_until(received_at_least, &g, 5000));
	assert_true(b.order_ok && b.content_ok);
	h_stop(&a);
	h_stop(&b);
}

static bool failed_handshakes(void *arg)
{
	struct tnode **p = arg;
	struct net_stats s0, s1;
	net_get_stats(p[0]->n, &s0);
	net_get_stats(p[1]->n, &s1);
	return s0.handshake_failed >= 1 && s1.handshake_failed >= 1;
}

static void strangers_refused_and_logged_once(void **state)
{
	struct net_config ca, cc, cd;
	struct tnode a, c, d;
	struct tnode *ac[2] = {&a, &c}, *ad[2] = {&a, &d};
	struct net_stats st;
	char *log;

	(void)state;
	h_config(&ca, 1, "prod", 7);
	h_start(&a, &ca, 0);
	/* c has the wrong key, d the wrong cluster name; neither redials soon. */
	h_config(&cc, 3, "prod", 8);
	cc.backoff_min_ms = cc.backoff_max_ms = 60000;
	h_config(&cd, 4, "staging", 7);
	cd.backoff_min_ms = cd.backoff_max_ms = 60000;
	h_start(&c, &cc, 0);
	h_start(&d, &cd, 0);

	h_capture_begin();
	h_peer(&c, &a);
	assert_true(h_run_until(failed_handshakes, ac, 5000));
	h_peer(&d, &a);
	assert_true(h_run_until(failed_handshakes, ad, 5000));
	h_run_for(300);
	log = h_capture_end();

	net_get_stats(a.n, &st);
	assert_int_equal(st.handshake_failed, 2);
	assert_int_equal(a.ups + c.ups + d.ups, 0);
	assert_false(net_peer_up(c.n, 1));
	/* Exactly one line per refused connection on each side, naming the
	 * address and the reason. */
	assert_int_equal(h_count_lines(log, "node 1 net:", NULL), 2);
	assert_int_equal(h_count_lines(log, "node 1 net:", "127.0.0.1:", "bad handshake proof", NULL),
	                 1);
	assert_int_equal(h_count_lines(log, "node 1 net:", "127.0.0.1:", "wrong cluster name", NULL), 1);
	assert_int_equal(h_count_lines(log, "node 3 net:", NULL), 1);
	assert_int_equal(
	        h_count_lines(log, "node 3 net:", "node 1 (127.0.0.1:", "wrong cluster key", NULL), 1);
	assert_int_equal(h_count_lines(log, "node 4 net:", "node 1 (127.0.0.1:", NULL), 1);
	free(log);
	h_stop(&a);
	h_stop(&c);
	h_stop(&d);
}

static void garbage_closed_and_listener_serves_on(void **state)
{
	struct net_config ca, cb;
	struct tnode a, b;
	struct raw http, junk, silent;
	struct net_stats st;
	struct count_goal g = {&a, 1};
	const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t hello[4 + 80] = {0, 0, 0, 80};
	char *log;

	(void)state;
	h_config(&ca, 1, "prod", 7);
	ca.handshake_timeout_ms = 200;
	h_config(&cb, 2, "prod", 7);
	h_start(&a, &ca, 0);
	h_start(&b, &cb, 0);
	for (size_t i = 4; i < sizeof(hello); i++)
		hello[i] = (uint8_t)(i * 37);

	h_capture_begin();
	h_raw_connect(&http, a.port, get, strlen(get));
	h_raw_connect(&junk, a.port, hello, sizeof(hello));
	h_raw_connect(&silent, a.port, NULL, 0);
	assert_true(h_run_until(h_raw_closed, &http, 3000));
	assert_true(h_run_until(h_raw_closed, &junk, 3000));
	assert_true(h_run_until(h_raw_closed, &silent, 3000)); /* the handshake timeout */
	log = h_capture_end();
	assert_true(http.eof && junk.eof && silent.eof);
	assert_int_equal(h_count_lines(log, "node 1 net:", "handshake frame of 1195725856 bytes", NULL),
	                 1);
	assert_int_equal(h_count_lines(log, "node 1 net:", "bad magic", NULL), 1);
	assert_int_equal(h_count_lines(log, "node 1 net:", "handshake timed out", NULL), 1);
	free(log);
	net_get_stats(a.n, &st);
	assert_int_equal(st.handshake_failed, 3);
	assert_int_equal(st.accepted, 3);

	/* The node is still up and serves a real peer. */
	pair_up(&a, &b);
	assert_int_equal(h_send(&b, 1, 0, 1000), 0);
	assert_true(h_run_until(received_at_least, &g, 3000));
	assert_true(a.order_ok && a.content_ok);
	h_stop(&a);
	h_stop(&b);
}

static bool down_seen(void *arg)
{
	return ((struct tnode *)arg)->downs >= 1;
}

static void oversize_frame_closes_connection(void **state)
{
	struct net_config ca, cb;
	struct tnode a, b;
	struct net_stats st;
	struct count_goal g = {&a, 2};
	char *log;

	(void)state;
	h_config(&ca, 1, "prod", 7);
	ca.max_frame = 64 * 1024;
	h_config(&cb, 2, "prod", 7);
	cb.max_frame = 1 << 20;
	h_start(&a, &ca, 0);
	h_start(&b, &cb, 0);
	pair_up(&a, &b);

	assert_int_equal(h_send(&b, 1, 0, 1000), 0);
	h_capture_begin();
	assert_int_equal(h_send(&b, 1, 1, 100000), 0); /* above a's maximum */
	assert_true(h_run_until(down_seen, &b, 3000));
	log = h_capture_end();
	assert_int_equal(
	        h_count_lines(log, "node 1 net:", "127.0.0.1:", "exceeds the maximum 65552", NULL), 1);
	free(log);
	net_get_stats(a.n, &st);
	assert_int_equal(st.conn_failed, 1);
	assert_int_equal(a.received, 1);

	/* b redials, and frames within the bound flow again. */
	assert_true(h_run_until(h_both_up, (struct tnode *[]){&a, &b}, 5000));
	assert_int_equal(h_send(&b, 1, 1, 2000), 0);
	assert_true(h_run_until(received_at_least, &g, 3000));
	assert_true(a.order_ok && a.content_ok);
	h_stop(&a);
	h_stop(&b);
}

static void send_queue_is_bounded(void **state)
{
	struct net_config ca, cb;
	struct tnode a, b;
	struct net_stats st;
	struct count_goal g = {&b, 5};
	int accepted = 0, refused = 0;
	char *log;

	(void)state;
	h_config(&ca, 1, "prod", 7);
	ca.max_frame = 256 * 1024;
	ca.send_queue_bytes = 1 << 20;
	h_config(&cb, 2, "prod", 7);
	h_start(&a, &ca, 0);
	h_start(&b, &cb, 0);
	pair_up(&a, &b);

	/* Without the loop running nothing completes, so the queue only grows:
	 * 5 frames of 200000 bytes (plus 20 bytes of framing each) fit in
	 * 1 MiB, the 6th would not. */
	h_capture_begin();
	for (uint32_t seq = 0; seq < 50; seq++) {
		int rv = h_send(&a, 2, seq, 200000);
		if (rv == 0)
			accepted++;
		else if (rv == -ENOBUFS)
			refused++;
	}
	assert_int_equal(accepted, 5);
	assert_int_equal(refused, 45);
	assert_true(net_peer_queued(a.n, 2) <= (size_t)(1 << 20));
	net_get_stats(a.n, &st);
	assert_int_equal(st.dropped_full, 45);

	assert_true(h_run_until(received_at_least, &g, 5000));
	h_run_for(50);
	log = h_capture_end();
	assert_int_equal(h_count_lines(log, "node 1 net:", "is full", NULL), 1);
	assert_int_equal(h_count_lines(log, "node 1 net:", "drained; 45 frames were dropped", NULL), 1);
	free(log);
	assert_int_equal(b.received, 5);
	assert_true(b.order_ok && b.content_ok);
	assert_int_equal(net_peer_queued(a.n, 2), 0);
	/* Room again. */
	assert_int_equal(h_send(&a, 2, 5, 200000), 0);
	h_stop(&a);
	h_stop(&b);
}

static void dead_write_cb(uv_write_t *req, int status)
{
	*(int *)req->data = status;
}

/* libuv writes with write(2), not send(MSG_NOSIGNAL): a write to a socket
 * whose peer has gone raises SIGPIPE in the writing thread, and its default
 * kills the process (nothing in this test ignores it). Once a transport
 * exists, a write on its loop's thread must fail with EPIPE instead, as the
 * transport's own writes then do, without the caller having ignored
 * SIGPIPE (node_start, main). */
static void libuv_write_to_a_gone_peer_is_no_signal(void **state)
{
	struct net_config ca;
	struct tnode a;
	struct sigaction old;
	uv_pipe_t p;
	uv_write_t w;
	uv_buf_t buf = uv_buf_init("x", 1);
	int sv[2], status = 1;

	(void)state;
	assert_int_equal(sigaction(SIGPIPE, NULL, &old), 0);
	assert_true(old.sa_handler == SIG_DFL);
	h_config(&ca, 1, "prod", 7);
	h_start(&a, &ca, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(uv_pipe_init(h_loop, &p, 0), 0);
	assert_int_equal(uv_pipe_open(&p, sv[0]), 0);
	w.data = &status;
	assert_int_equal(uv_write(&w, (uv_stream_t *)&p, &buf, 1, dead_write_cb), 0);
	h_run_for(20);
	assert_int_equal(status, UV_EPIPE);
	uv_close((uv_handle_t *)&p, NULL);
	h_stop(&a);
}

static void config_checked(void **state)
{
	struct net_config c;
	struct net *n;

	(void)state;
	h_config(&c, 1, "prod", 7);
	c.send_queue_bytes = c.max_frame; /* cannot hold one full frame */
	assert_int_equal(net_new(h_loop, &c, &n), -EINVAL);
	h_config(&c, 0, "prod", 7);
	assert_int_equal(net_new(h_loop, &c, &n), -EINVAL);
	h_config(&c, 1, "prod", 7);
	assert_int_equal(net_new(h_loop, &c, &n), 0);
	assert_int_equal(net_peer_add(n, 1, "127.0.0.1:1"), -EINVAL);    /* ourselves */
	assert_int_equal(net_peer_add(n, 2, "localhost:7000"), -EINVAL); /* no DNS */
	assert_int_equal(net_peer_add(n, 2, "127.0.0.1:70000"), -EINVAL);
	assert_int_equal(net_peer_add(n, 2, "127.0.0.1"), -EINVAL);
	assert_int_equal(net_peer_add(n, 2, "[::1]:7000"), 0);
	assert_int_equal(net_peer_add(n, 2, "127.0.0.1:7000"), -EEXIST);
	assert_int_equal(net_listen(n, "not-an-ip", 0), -EINVAL);
	net_close(n, NULL, NULL);
	h_run_for(20);
}

static int setup(void **state)
{
	(void)state;
	h_init();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_fini();
	return 0;
}

int test_transport(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(frames_arrive_in_order),
	        cmocka_unit_test(reconnects_after_listener_restart),
	        cmocka_unit_test(strangers_refused_and_logged_once),
	        cmocka_unit_test(garbage_closed_and_listener_serves_on),
	        cmocka_unit_test(oversize_frame_closes_connection),
	        cmocka_unit_test(send_queue_is_bounded),
	        cmocka_unit_test(libuv_write_to_a_gone_peer_is_no_signal),
	        cmocka_unit_test(config_checked),
	};
	return cmocka_run_group_tests_name("transport", tests, setup, teardown);
}
