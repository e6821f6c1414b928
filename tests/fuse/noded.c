/* noded.c: one real node (Raft, LMDB, TCP on loopback) with its mount, for tests/fuse/cluster.sh.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "quorumfs/log.h"
#include "quorumfs/node.h"
#include "quorumfs/qfs_fuse.h"

/*
 * Usage: qfs-fuse-noded ID MOUNTPOINT DATADIR PORT1,PORT2,... [MAX_VALUE_SIZE]
 * Member i listens on 127.0.0.1:PORTi. SIGTERM, SIGINT or an outside
 * unmount: stop the mount and the node, exit 0. Times are short (heartbeat
 * 20 ms, election 200 ms, commit timeout 1500 ms) so that the test's
 * partitions show quickly.
 */

static struct node *node;
static struct qfs_mount *mnt;
static uv_signal_t sigs[2];
static int stopping, pending;

static void one_done(void *arg)
{
	if (--pending == 0) {
		uv_close((uv_handle_t *)&sigs[0], NULL);
		uv_close((uv_handle_t *)&sigs[1], NULL);
	}
}

static void stop(void)
{
	if (stopping++)
		return;
	pending = 2;
	qfs_mount_stop(mnt, one_done, NULL);
	node_stop(node, one_done, NULL); /* allowed right after qfs_mount_stop */
}

static void unmounted(void *arg)
{
	stop();
}

static void on_signal(uv_signal_t *s, int signum)
{
	stop();
}

int main(int argc, char **argv)
{
	struct node_options o;
	struct qfs_mount_options mo = {.unmounted = unmounted, .fsname = "quorumfs-test"};
	uv_loop_t *loop = uv_default_loop();
	char err[512], prefix[32], *ports, *tok, *save = NULL;
	int rc;

	if (argc < 5) {
		fprintf(stderr, "usage: %s ID MOUNTPOINT DATADIR PORT1,PORT2,... [MAX]\n", argv[0]);
		return 2;
	}
	memset(&o, 0, sizeof(o));
	o.id = strtoull(argv[1], NULL, 10);
	o.data_dir = argv[3];
	o.cluster_name = "fuse-test";
	for (int i = 0; i < NODE_KEY_BYTES; i++)
		o.cluster_key[i] = (uint8_t)(i * 13 + 5);
	o.heartbeat_ms = 20;
	o.election_ms = 200;
	o.commit_timeout_ms = 1500;
	o.max_value_size = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
	ports = argv[4];
	for (tok = strtok_r(ports, ",", &save); tok != NULL && o.n_peers < NODE_MAX_PEERS;
	     tok = strtok_r(NULL, ",", &save)) {
		o.peers[o.n_peers].id = o.n_peers + 1;
		snprintf(o.peers[o.n_peers].address, NODE_ADDRESS_MAX, "127.0.0.1:%s", tok);
		o.n_peers++;
	}
	snprintf(prefix, sizeof(prefix), "node %s", argv[1]);
	qfs_log_set_prefix(prefix);
	signal(SIGPIPE, SIG_IGN);
	rc = node_start(loop, &o, &node, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "noded: node: %s\n", err);
		return 1;
	}
	rc = qfs_mount_start(loop, node, argv[2], &mo, &mnt, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "noded: mount: %s\n", err);
		node_stop(node, NULL, NULL);
		uv_run(loop, UV_RUN_DEFAULT);
		return 1;
	}
	uv_signal_init(loop, &sigs[0]);
	uv_signal_init(loop, &sigs[1]);
	uv_signal_start(&sigs[0], on_signal, SIGTERM);
	uv_signal_start(&sigs[1], on_signal, SIGINT);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	return 0;
}
