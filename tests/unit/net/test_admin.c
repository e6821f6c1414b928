/* test_admin.c: the admin Unix socket: mode 0600, request and answer, bounds, stale sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "quorumfs/errors.h"
#include "net_harness.h"
#include "test_net.h"

static char path[100];

static void echo_cb(struct net_admin *a, uint64_t conn_id, const void *frame, size_t len,
                    void *data)
{
	char *out = malloc(len + 3);

	(void)data;
	memcpy(out, "re:", 3);
	memcpy(out + 3, frame, len);
	assert_int_equal(net_admin_send(a, conn_id, out, len + 3), 0);
	free(out);
}

struct call {
	const char *req;
	size_t len;
	int rv;
	void *resp;
	size_t resp_len;
	atomic_int done;
};

static void call_thread(void *arg)
{
	struct call *c = arg;
	c->rv = net_admin_call(path, c->req, c->len, 1 << 20, 5000, &c->resp, &c->resp_len);
	atomic_store(&c->done, 1);
}

static bool call_done(void *arg)
{
	return atomic_load(&((struct call *)arg)->done) != 0;
}

/* Runs one blocking call on a thread while the loop serves it. */
static void call(struct call *c, const char *req, size_t len)
{
	uv_thread_t t;

	memset(c, 0, sizeof(*c));
	c->req = req;
	c->len = len;
	assert_int_equal(uv_thread_create(&t, call_thread, c), 0);
	assert_true(h_run_until(call_done, c, 6000));
	uv_thread_join(&t);
}

static bool flag_set(void *arg)
{
	return *(bool *)arg;
}

static void set_flag(void *arg)
{
	*(bool *)arg = true;
}

static void admin_roundtrip_and_bounds(void **state)
{
	struct net_admin *a, *b;
	struct stat st;
	struct call c;
	bool closed = false;
	char *big;

	(void)state;
	assert_int_equal(net_admin_listen(h_loop, path, 1024, echo_cb, NULL, &a), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	call(&c, "status", 6);
	assert_int_equal(c.rv, 0);
	assert_int_equal(c.resp_len, 9);
	assert_memory_equal(c.resp, "re:status", 9);
	free(c.resp);

	/* An empty request is a request. */
	call(&c, "", 0);
	assert_int_equal(c.rv, 0);
	assert_int_equal(c.resp_len, 3);
	free(c.resp);

	/* Above the server's bound: that connection is closed, no answer. */
	big = calloc(1, 2000);
	call(&c, big, 2000);
	assert_true(c.rv < 0);
	free(big);

	/* A live server is not replaced. */
	assert_int_equal(net_admin_listen(h_loop, path, 0, echo_cb, NULL, &b), -EADDRINUSE);
	/* ... and still answers. */
	call(&c, "again", 5);
	assert_int_equal(c.rv, 0);
	free(c.resp);

	net_admin_close(a, set_flag, &closed);
	assert_true(h_run_until(flag_set, &closed, 2000));
	assert_int_equal(access(path, F_OK), -1); /* unlinked */
	call(&c, "x", 1);
	assert_int_equal(c.rv, -ENOENT);
}

static void admin_replaces_stale_socket_only(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct net_admin *a;
	bool closed = false;
	int fd;

	(void)state;
	/* A socket file left by a crashed daemon. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(net_admin_listen(h_loop, path, 0, echo_cb, NULL, &a), 0);
	net_admin_close(a, set_flag, &closed);
	assert_true(h_run_until(flag_set, &closed, 2000));

	/* A file that is not a socket is never removed. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(net_admin_listen(h_loop, path, 0, echo_cb, NULL, &a), -EEXIST);
	unlink(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/qfs-test-admin-%d.sock", (int)getpid());
	unlink(path);
	h_init();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_fini();
	unlink(path);
	return 0;
}

int test_admin(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(admin_roundtrip_and_bounds),
	        cmocka_unit_test(admin_replaces_stale_socket_only),
	};
	return cmocka_run_group_tests_name("admin socket", tests, setup, teardown);
}
