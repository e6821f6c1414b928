/* testd.c: a mount over the fake node, for tests/fuse/e2e.sh: serves until SIGTERM or unmount. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "fake_node.h"
#include "quorumfs/qfs_fuse.h"

/*
 * Usage: qfs-fuse-testd MOUNTPOINT DATADIR [MAX_VALUE_SIZE [debug]]
 * SIGTERM, SIGINT: unmount and exit 0. SIGUSR1: every later write fails
 * with EROFS (no quorum); SIGUSR2: writes work again. SIGHUP: a change as if
 * from another node: /remote (which must exist) becomes "remote N\n", N
 * counting the SIGHUPs, without the kernel knowing. The mount serves from
 * this process; the test's shell works from another (the daemon never
 * touches its own mount).
 */

static uv_loop_t *loop;
static struct node *node;
static struct qfs_mount *mnt;
static uv_signal_t sigs[5];
static unsigned remote_count;
static int stopping;

static void stopped(void *arg)
{
	fake_node_close(node);
	for (int i = 0; i < 5; i++)
		uv_close((uv_handle_t *)&sigs[i], NULL);
}

static void stop(void)
{
	if (stopping++)
		return;
	qfs_mount_stop(mnt, stopped, NULL);
}

static void unmounted(void *arg)
{
	fprintf(stderr, "testd: unmounted from outside\n");
	stop();
}

static void remote_done(void *arg, int err, const struct fsm_result *res)
{
	free(arg);
	if (err != 0 || res->err != 0)
		fprintf(stderr, "testd: remote write failed: %d %d\n", err, err ? 0 : res->err);
}

/* Propose a write to /remote straight to the node, as a peer's would be. */
static void remote_write(void)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_WRITE, .flags = WIRE_WRITE_TRUNCATE};
	struct fsm_attr a;
	char *buf = malloc(64);

	if (buf == NULL || node_lookup(node, FSM_ROOT_INO, "remote", 6, &a) != 0) {
		fprintf(stderr, "testd: no /remote\n");
		free(buf);
		return;
	}
	cmd.ino = a.ino;
	cmd.data = buf;
	cmd.data_len = (size_t)snprintf(buf, 64, "remote %u\n", ++remote_count);
	if (node_submit(node, &cmd, remote_done, buf) != 0)
		free(buf);
}

static void on_signal(uv_signal_t *s, int signum)
{
	if (signum == SIGHUP)
		remote_write();
	else if (signum == SIGUSR1)
		fake_node_fail_writes(node, -EROFS);
	else if (signum == SIGUSR2)
		fake_node_fail_writes(node, 0);
	else
		stop();
}

int main(int argc, char **argv)
{
	/* allow_other: the test runs commands as another user too (the
	 * kernel then checks modes: default_permissions). */
	struct qfs_mount_options o = {
	        .unmounted = unmounted, .fsname = "quorumfs-test", .allow_other = true};
	static const int signums[5] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP};
	uint64_t max = 0;
	char err[256];
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: %s MOUNTPOINT DATADIR [MAX_VALUE_SIZE [debug]]\n", argv[0]);
		return 2;
	}
	if (argc > 3)
		max = strtoull(argv[3], NULL, 10);
	o.max_value_size = max;
	o.debug = argc > 4 && strcmp(argv[4], "debug") == 0;
	loop = uv_default_loop();
	rc = fake_node_open(loop, argv[2], max, &node);
	if (rc != 0) {
		fprintf(stderr, "testd: fake node: %d\n", rc);
		return 1;
	}
	rc = qfs_mount_start(loop, node, argv[1], &o, &mnt, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "testd: mount: %s\n", err);
		fake_node_close(node);
		uv_run(loop, UV_RUN_DEFAULT);
		return 1;
	}
	for (int i = 0; i < 5; i++) {
		uv_signal_init(loop, &sigs[i]);
		uv_signal_start(&sigs[i], on_signal, signums[i]);
	}
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	return 0;
}
