/* config.h: the cluster configuration file (INI), parsed and validated. */
#ifndef QUORUMFS_CONFIG_H
#define QUORUMFS_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* Only for the core's bounds, which are the file's (raft.h includes only libc). */
#include "quorumfs/raft.h"

#define QFS_CONFIG_MAX_NODES   RAFT_MAX_SERVERS
#define QFS_CONFIG_ADDRESS_MAX RAFT_ADDRESS_MAX
#define QFS_CONFIG_NAME_MAX    64

struct qfs_config_node {
	uint64_t id;                          /* > 0, unique */
	char address[QFS_CONFIG_ADDRESS_MAX]; /* "host:port", port 1..65535 */
	/* "host:port" of this node's HTTP status endpoint; "" (default): off. */
	char http_address[QFS_CONFIG_ADDRESS_MAX];
};

#define QFS_CONFIG_HOOK_MAX 1024

/*
 * A parsed configuration. Example:
 *
 *   [cluster]
 *   name = prod-config
 *   key-file = cluster.key        ; relative to this file's directory
 *   heartbeat-ms = 50
 *   election-ms = 500
 *   commit-timeout-ms = 5000
 *   session-lease-ms = 15000
 *   max-value-size = 16M
 *   read-lease = true
 *   follower-lease-ms = 400
 *   publish-delay-ms = 1000
 *
 *   [node 1]
 *   address = 127.0.0.1:7001
 */
struct qfs_config {
	char path[PATH_MAX];            /* the file read, for messages */
	char name[QFS_CONFIG_NAME_MAX]; /* cluster name; peers must agree */
	char key_file[PATH_MAX];        /* absolute, or relative to the cwd */
	unsigned heartbeat_ms;          /* default 50 */
	unsigned election_ms;           /* default 500; >= 3 * heartbeat_ms */
	unsigned commit_timeout_ms;     /* default 5000; >= election_ms */
	unsigned session_lease_ms;      /* default 15000; >= election_ms: a node's
	                                   locks outlive its silence this long */
	uint64_t max_value_size;        /* bytes; default 16 MiB; 1 B .. 1 GiB */
	bool read_lease;                /* default true: the leader reads from its lease */
	unsigned follower_lease_ms;     /* default 400; 0: off. Followers read from their lease */
	/* Role hooks, run with /bin/sh -c on a role change; "" (default): none. */
	char on_leader[QFS_CONFIG_HOOK_MAX];
	char on_follower[QFS_CONFIG_HOOK_MAX];
	unsigned hook_timeout_ms; /* default 10000: a hook still running is killed */
	/* The leader proposes a cross-replica check this often; default 1 h;
	 * 0: never. Accepts ms, s, m, h suffixes (none: seconds). */
	uint64_t verify_interval_ms;
	unsigned publish_delay_ms;      /* default 1000: an open file's writes are committed
	                                   at most this long after they were made */
	uint64_t write_buffer_size;     /* default 256 MiB: written data a mount holds for
	                                   its open files, all together; 64 KiB .. 64 GiB */
	/* The kernel's caches of the mount (docs/daemon.md): asked for, they
	 * are on only while the node holds a read lease. Default true. */
	bool kernel_caches;
	bool page_cache; /* default false: direct I/O (no mmap); true: mmap works */
	/* Memory and snapshots (docs/operations.md, "Leadership and snapshots"). */
	uint64_t log_memory;           /* bytes of log entry data kept in memory;
	                                  default 32 MiB; 1 MiB .. 1 TiB */
	uint64_t snapshot_every;       /* applied entries between snapshots; default 10000 */
	uint64_t snapshot_every_bytes; /* or applied entry bytes between snapshots;
	                                  default 1 GiB; 0: entries alone */
	unsigned n_nodes;
	struct qfs_config_node nodes[QFS_CONFIG_MAX_NODES];
};

/* Fills @cfg with the defaults and no nodes. */
void qfs_config_defaults(struct qfs_config *cfg);

/*
 * qfs_config_load - read and validate the INI file at @path into @cfg.
 * @err: receives one line "FILE:LINE: KEY: what is wrong" on failure (@errlen
 *       bytes at most, NUL-terminated).
 * Returns 0, -ENOENT/-EACCES/... (file unreadable), or QFS_ECONFIG.
 */
int qfs_config_load(const char *path, struct qfs_config *cfg, char *err, size_t errlen);

/*
 * qfs_config_parse - the same for text in memory (@text, NUL-terminated);
 * @path names it in messages and anchors a relative key-file.
 */
int qfs_config_parse(const char *text, const char *path, struct qfs_config *cfg, char *err,
                     size_t errlen);

/* The node with @id, or NULL. */
const struct qfs_config_node *qfs_config_node(const struct qfs_config *cfg, uint64_t id);

/*
 * qfs_parse_address - split "host:port" (host an IPv4 address, "localhost" or
 * "[v6]") into @host (@hostlen bytes) and *@port.
 * Returns 0 or -EINVAL.
 */
int qfs_parse_address(const char *address, char *host, size_t hostlen, int *port);

/*
 * qfs_resolve_address - turn "host:port" into "ip:port" (or "[ipv6]:port")
 * with getaddrinfo(3), preferring IPv4, so that what the transport dials and
 * what the replicated membership records is a literal. An IP literal comes
 * back unchanged. Blocks on DNS: call at start, not on the event loop.
 * Returns 0, -EINVAL (not host:port), or -EHOSTUNREACH (no such host; @err
 * says which), with one line in @err.
 */
int qfs_resolve_address(const char *address, char *out, size_t outlen, char *err, size_t errlen);

#endif
