/* quorumfs.c: main() of the daemon: one node of the cluster, mounted as a directory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "http.h"
#include "mountpoint.h"
#include "quorumfs/config.h"
#include "quorumfs/errors.h"
#include "quorumfs/keyfile.h"
#include "quorumfs/log.h"
#include "quorumfs/node.h"
#include "quorumfs/qfs_fuse.h"

/* The key file is read by src/cmd, which links no daemon layer: its size is
 * written there again, and must be the transport's. */
_Static_assert(QFS_KEY_BYTES == NODE_KEY_BYTES, "the key file holds the cluster key");

static const char usage[] =
        "usage: quorumfs -c CONFIG -i ID -d DATA_DIR [-f] [-o OPTIONS] MOUNTPOINT\n"
        "       quorumfs CONFIG MOUNTPOINT -o id=ID,data_dir=DATA_DIR[,OPTIONS]\n"
        "\n"
        "Runs node ID of the cluster described by CONFIG and mounts the cluster's\n"
        "file tree at MOUNTPOINT. Without -f it detaches once the mount is ready.\n"
        "The second form is the one mount.fuse3 uses for an /etc/fstab line\n"
        "(CONFIG MOUNTPOINT fuse.quorumfs id=ID,data_dir=DATA_DIR 0 0).\n"
        "\n"
        "  -c, --config FILE     the cluster's INI file (docs/operations.md)\n"
        "  -i, --id ID           this node's id: a [node ID] section of CONFIG\n"
        "  -d, --data-dir DIR    this node's data directory (created if missing)\n"
        "  -f, --foreground      stay in the foreground, log to stderr\n"
        "  -o OPT[,OPT...]       stale_reads       serve reads from local state, also\n"
        "                                          without a quorum (may be stale)\n"
        "                        allow_other       let other users use the mount\n"
        "                        local_locks       flock/fcntl locks that hold on this\n"
        "                                          machine only (default: cluster-wide,\n"
        "                                          decided through the log)\n"
        "                        debug             log every operation\n"
        "                        id=ID, data_dir=DIR, join=HOST:PORT, pid_file=FILE,\n"
        "                        log_file=FILE     as -i, -d, --join, --pid-file and\n"
        "                                          --log-file (for /etc/fstab)\n"
        "                        rw, dev, suid, exec, atime and their no- forms,\n"
        "                        async, relatime   accepted and ignored (mount(8)\n"
        "                                          passes them)\n"
        "      --join HOST:PORT  join a running cluster through this member; the\n"
        "                        data directory must be empty (then: quorumctl add)\n"
        "      --peer-address ID=HOST:PORT\n"
        "                        dial peer ID at HOST:PORT instead of its configured\n"
        "                        address (repeatable; for fault-injecting proxies)\n"
        "      --pid-file FILE   write the daemon's process id to FILE\n"
        "      --log-file FILE   log to FILE (appended), also with -f (default without -f:\n"
        "                        DATA_DIR/quorumfs.log; with -f: stderr)\n"
        "      --syslog          log to syslog (facility daemon) instead\n"
        "      --log-level LEVEL debug, info (default), warn or error\n"
        "  -h, --help            this text\n"
        "  -V, --version         the version\n";

struct args {
	const char *config;
	uint64_t id;
	const char *data_dir;
	const char *mountpoint;
	bool foreground;
	bool stale_reads;
	bool allow_other;
	bool debug;
	bool local_locks;
	const char *join;
	const char *pid_file;
	const char *log_file;
	bool syslog;
	int log_level; /* enum qfs_log_level; -1: not given */
	unsigned n_dial;
	struct node_peer dial[NODE_MAX_PEERS];
};

/* Exit status 2: the command line or the configuration is wrong. */
static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "quorumfs: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(quorumfs --help tells how to use it)\n");
	exit(2);
}

/* A node id, a whole number > 0; 0 when @s is not one. */
static uint64_t parse_node_id(const char *s)
{
	char *end;
	errno = 0;
	uint64_t id = strtoull(s, &end, 10);
	if (errno || *end || s[0] == '-' || s[0] == '\0')
		return 0;
	return id;
}

/* Options that mount(8) and mount.fuse3 add to every fstab mount; they
 * concern the kernel's generic mount flags, which a FUSE daemon's own
 * mount sets already (nosuid, nodev for the mounting user), so they are
 * accepted and ignored rather than refused. "ro" is not among them: a
 * read-only replica is not a mode quorumfs has. */
static bool generic_mount_option(const char *o)
{
	static const char *const names[] = {
	        "rw",       "dev",        "nodev",       "suid",     "nosuid",     "exec",
	        "noexec",   "async",      "atime",       "noatime",  "diratime",   "nodiratime",
	        "relatime", "norelatime", "strictatime", "lazytime", "nolazytime", "defaults",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(o, names[i]) == 0)
			return true;
	return false;
}

static void parse_mount_options(struct args *a, char *opts)
{
	char *save = NULL;
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strncmp(o, "id=", 3) == 0) {
			a->id = parse_node_id(o + 3);
			if (a->id == 0)
				die_usage("-o id= takes a node id, a whole number > 0, not '%s'",
				          o + 3);
		} else if (strncmp(o, "data_dir=", 9) == 0 && o[9])
			a->data_dir = o + 9;
		else if (strncmp(o, "join=", 5) == 0 && o[5])
			a->join = o + 5;
		else if (strncmp(o, "pid_file=", 9) == 0 && o[9])
			a->pid_file = o + 9;
		else if (strncmp(o, "log_file=", 9) == 0 && o[9])
			a->log_file = o + 9;
		else if (generic_mount_option(o))
			continue;
		else if (strcmp(o, "stale_reads") == 0)
			a->stale_reads = true;
		else if (strcmp(o, "allow_other") == 0)
			a->allow_other = true;
		else if (strcmp(o, "debug") == 0)
			a->debug = true;
		else if (strcmp(o, "local_locks") == 0)
			a->local_locks = true;
		else
			die_usage("unknown mount option '%s'", o);
	}
}

/* --peer-address ID=HOST:PORT */
static void parse_peer_address(struct args *a, const char *arg)
{
	char host[NODE_ADDRESS_MAX], *end;
	int port;
	const char *eq = strchr(arg, '=');
	errno = 0;
	unsigned long long id = strtoull(arg, &end, 10);
	if (eq == NULL || end != eq || id == 0 || errno ||
	    qfs_parse_address(eq + 1, host, sizeof(host), &port) != 0 ||
	    strlen(eq + 1) >= NODE_ADDRESS_MAX)
		die_usage("--peer-address takes ID=HOST:PORT, not '%s'", arg);
	if (a->n_dial == NODE_MAX_PEERS)
		die_usage("too many --peer-address options (%s)", arg);
	a->dial[a->n_dial].id = id;
	strcpy(a->dial[a->n_dial].address, eq + 1);
	a->n_dial++;
}

static void parse_args(int argc, char **argv, struct args *a)
{
	enum { OPT_JOIN = 256, OPT_PID_FILE, OPT_LOG_FILE, OPT_PEER_ADDRESS, OPT_SYSLOG, OPT_LOG_LEVEL };
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"id", required_argument, NULL, 'i'},
	        {"data-dir", required_argument, NULL, 'd'},
	        {"foreground", no_argument, NULL, 'f'},
	        {"join", required_argument, NULL, OPT_JOIN},
	        {"pid-file", required_argument, NULL, OPT_PID_FILE},
	        {"log-file", required_argument, NULL, OPT_LOG_FILE},
	        {"peer-address", required_argument, NULL, OPT_PEER_ADDRESS},
	        {"syslog", no_argument, NULL, OPT_SYSLOG},
	        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->log_level = -1;
	while ((c = getopt_long(argc, argv, "c:i:d:fo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case 'i':
			a->id = parse_node_id(optarg);
			if (a->id == 0)
				die_usage("-i takes a node id, a whole number > 0, not '%s'",
				          optarg);
			break;
		case 'd':
			a->data_dir = optarg;
			break;
		case 'f':
			a->foreground = true;
			break;
		case 'o':
			parse_mount_options(a, optarg);
			break;
		case OPT_JOIN:
			a->join = optarg;
			break;
		case OPT_PID_FILE:
			a->pid_file = optarg;
			break;
		case OPT_LOG_FILE:
			a->log_file = optarg;
			break;
		case OPT_PEER_ADDRESS:
			parse_peer_address(a, optarg);
			break;
		case OPT_SYSLOG:
			a->syslog = true;
			break;
		case OPT_LOG_LEVEL:
			if (strcmp(optarg, "debug") == 0)
				a->log_level = QFS_LOG_DEBUG;
			else if (strcmp(optarg, "info") == 0)
				a->log_level = QFS_LOG_INFO;
			else if (strcmp(optarg, "warn") == 0 || strcmp(optarg, "warning") == 0)
				a->log_level = QFS_LOG_WARN;
			else if (strcmp(optarg, "error") == 0)
				a->log_level = QFS_LOG_ERROR;
			else
				die_usage("--log-level takes debug, info, warn or error, not '%s'",
				          optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			printf("quorumfs %s\n", QFS_VERSION);
			exit(0);
		default:
			fputs(usage, stderr);
			exit(2);
		}
	}
	/* mount.fuse3 runs "quorumfs SOURCE MOUNTPOINT -o OPTIONS": the source
	 * of an fstab line is the config file. getopt has moved the options
	 * ahead, so two operands are left. */
	if (a->config == NULL && optind == argc - 2)
		a->config = argv[optind++];
	if (optind != argc - 1)
		die_usage("%s", optind >= argc ? "a MOUNTPOINT is needed" : "one MOUNTPOINT only");
	a->mountpoint = argv[optind];
	if (a->config == NULL)
		die_usage("%s", "-c CONFIG is needed");
	if (a->id == 0)
		die_usage("%s", "-i ID is needed");
	if (a->data_dir == NULL)
		die_usage("%s", "-d DATA_DIR is needed");
	if (a->syslog && a->log_file)
		die_usage("%s", "--syslog and --log-file: one destination only");
}

/* -f --log-file FILE: stderr (where every line goes) becomes FILE. */
static void log_to_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		fprintf(stderr, "quorumfs: --log-file %s: %s\n", path, strerror(errno));
		exit(1);
	}
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* ------------------------------------------------------------------------ */
/* Detaching: the parent waits until the child's mount is ready, so a script
 * can use the mount on its next line, and exits with the child's verdict. */

static int ready_fd = -1;

static void report_ready(const char *error)
{
	if (ready_fd < 0)
		return;
	const char *msg = error ? error : "";
	size_t len = strlen(msg) + 1; /* the NUL says "done" */
	if (write(ready_fd, msg, len) < 0) {
		/* The parent is gone; nothing to tell. */
	}
	close(ready_fd);
	ready_fd = -1;
}

/* Forks; the parent returns only to exit. Returns in the child. */
static void detach(const char *log_file)
{
	int fds[2];
	if (pipe(fds) != 0) {
		perror("quorumfs: pipe");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("quorumfs: fork");
		exit(1);
	}
	if (pid > 0) {
		char buf[1024];
		size_t got = 0;
		ssize_t n;
		close(fds[1]);
		while (got < sizeof(buf) - 1 &&
		       (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		buf[got] = '\0';
		if (got == 0) {
			fprintf(stderr,
			        "quorumfs: the daemon exited before its mount was ready; see %s\n",
			        log_file);
			exit(1);
		}
		if (buf[0] != '\0') {
			fprintf(stderr, "quorumfs: %s\n", buf);
			exit(1);
		}
		exit(0);
	}
	close(fds[0]);
	ready_fd = fds[1];
	setsid();
	int fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0 && null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	if (fd > STDERR_FILENO)
		close(fd);
	if (null > STDERR_FILENO)
		close(null);
}

/* ------------------------------------------------------------------------ */
/* Running */

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sighup;
	struct node *node;
	struct qfs_mount *mount;
	struct qfs_http *http;
	bool stopping;
	bool draining;     /* qfs_mount_drain called, its callback not yet run */
	unsigned drain_ms; /* how long a stop waits for the gathered writes */
	int exit_code;
};

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Both the mount and the node report when they are done; the loop ends
 * once both have and our signal handles are closed. */
static void maybe_finish(struct daemon *d)
{
	if (d->mount == NULL && d->node == NULL)
		uv_walk(&d->loop, close_handle, NULL);
}

static void node_stopped(void *arg)
{
	struct daemon *d = arg;
	d->node = NULL;
	maybe_finish(d);
}

static void mount_stopped(void *arg)
{
	struct daemon *d = arg;
	d->mount = NULL;
	maybe_finish(d);
}

/* The writes gathered by open files are published (or the bound passed):
 * stop taking requests (qfs_mount_stop answers the parked ones as the node
 * fails them), stop the node, then unmount: qfs_mount_stop allows
 * node_stop() right after it returns. */
static void drained(void *arg)
{
	struct daemon *d = arg;

	d->draining = false;
	if (d->mount)
		qfs_mount_stop(d->mount, mount_stopped, d);
	if (d->node)
		node_stop(d->node, node_stopped, d);
	maybe_finish(d);
}

/* A clean stop first publishes what open files wrote and the mount still
 * holds (docs/semantics.md, "Durability"): a program's write(2) returned,
 * and a stop that dropped it would lose data nobody was told about. The
 * node keeps running meanwhile; the wait is bounded by the commit timeout
 * (each publish is answered within it) and a second, so a node without a
 * quorum still exits, well within systemd's 30 s. */
static void begin_stop(struct daemon *d, const char *why)
{
	if (d->stopping)
		return;
	d->stopping = true;
	qfs_info("%s: unmounting and stopping", why);
	qfs_http_stop(d->http); /* it reads the node's snapshot: before node_stop */
	d->http = NULL;
	if (d->mount && d->node) {
		d->draining = true;
		qfs_mount_drain(d->mount, d->drain_ms, drained, d);
	} else
		drained(d);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	if (signum == SIGHUP) {
		qfs_info("SIGHUP: nothing to reload (the membership is replicated)");
		return;
	}
	if (d->draining) {
		/* A second signal: the operator will not wait (qfs_mount_stop
		 * ends the drain; the publishes in flight fail, and may still
		 * commit). */
		qfs_warn("%s again: stopping without waiting for the publishes",
		         signum == SIGTERM ? "SIGTERM" : "SIGINT");
		drained(d);
		return;
	}
	begin_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* The mount ended on its own (fusermount3 -u by someone): stop the node too. */
static void on_unmounted(void *arg)
{
	begin_stop(arg, "unmounted");
}

/* The mount's .quorumfs/ files, rendered by the node. */
static size_t status_file(void *arg, unsigned which, char *buf, size_t cap)
{
	struct daemon *d = arg;
	if (d->node == NULL || which >= NODE_FILE_COUNT)
		return 0;
	return node_status_file(d->node, (enum node_status_file)which, buf, cap);
}

static bool quorate(void *arg)
{
	struct daemon *d = arg;
	struct node_status st;
	if (d->node == NULL)
		return true;
	node_status(d->node, &st);
	return st.quorate;
}

static int fill_node_options(const struct args *a, const struct qfs_config *cfg,
                             struct node_options *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->id = a->id;
	o->data_dir = a->data_dir;
	o->cluster_name = cfg->name;
	o->heartbeat_ms = cfg->heartbeat_ms;
	o->election_ms = cfg->election_ms;
	o->commit_timeout_ms = cfg->commit_timeout_ms;
	o->session_lease_ms = cfg->session_lease_ms;
	o->no_read_lease = !cfg->read_lease;
	o->follower_lease_ms = cfg->read_lease ? cfg->follower_lease_ms : 0;
	o->max_value_size = cfg->max_value_size;
	o->join_address = a->join;
	o->stale_reads = a->stale_reads;
	o->on_leader = cfg->on_leader;
	o->on_follower = cfg->on_follower;
	o->hook_timeout_ms = cfg->hook_timeout_ms;
	o->verify_interval_ms = cfg->verify_interval_ms;
	o->log_memory = cfg->log_memory;
	o->snapshot_entries = cfg->snapshot_every;
	o->snapshot_bytes = cfg->snapshot_every_bytes;
	o->n_dial_overrides = a->n_dial;
	memcpy(o->dial_overrides, a->dial, sizeof(a->dial));
	o->n_peers = cfg->n_nodes;
	for (unsigned i = 0; i < cfg->n_nodes; i++) {
		/* Resolved once, here: the transport dials literals only, and the
		 * membership the cluster replicates should not depend on DNS. */
		o->peers[i].id = cfg->nodes[i].id;
		int rc = qfs_resolve_address(cfg->nodes[i].address, o->peers[i].address,
		                             sizeof(o->peers[i].address), err, errlen);
		if (rc != 0)
			return rc;
	}
	return qfs_key_load(cfg->key_file, o->cluster_key, err, errlen);
}

/* The data directory is created here so that the log file of a detached
 * daemon has a place; the store locks it against a second daemon. */
static int make_data_dir(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "data directory %.400s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void write_pid_file(const char *path)
{
	FILE *f;
	if (path == NULL || (f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

int main(int argc, char **argv)
{
	struct args a;
	struct qfs_config cfg;
	struct node_options nopts;
	struct qfs_mount_options mopts;
	struct daemon d;
	char err[512], mp[PATH_MAX], logpath[PATH_MAX];
	int rc;

	parse_args(argc, argv, &a);
	signal(SIGPIPE, SIG_IGN);
	/* Large buffers (values of up to max-value-size, their log entries,
	 * frames to peers) are mapped and unmapped on their own, so that the
	 * memory they held goes back to the system when they are freed. By
	 * default glibc raises this threshold to the size of the largest such
	 * buffer freed, and later ones come from the heap, which keeps them:
	 * after fifteen 1-16 MiB publishes each node kept 96-124 MiB of heap
	 * for 32 MiB of log it held, against 34 MiB with the threshold fixed
	 * (docs/performance.md, section 5). */
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif

	rc = qfs_config_load(a.config, &cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "quorumfs: %s\n", err);
		return 2;
	}
	if (qfs_config_node(&cfg, a.id) == NULL) {
		fprintf(stderr,
		        "quorumfs: %s has no [node %" PRIu64 "] section with this node's address\n",
		        a.config, a.id);
		return 2;
	}
	if (fill_node_options(&a, &cfg, &nopts, err, sizeof(err)) != 0) {
		fprintf(stderr, "quorumfs: %s\n", err);
		return 2;
	}
	if (realpath(a.mountpoint, mp) == NULL) {
		fprintf(stderr, "quorumfs: mount point %s: %s\n", a.mountpoint, strerror(errno));
		return 1;
	}
	if (make_data_dir(a.data_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "quorumfs: %s\n", err);
		return 1;
	}
	rc = qfs_clear_stale_mount(mp, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "quorumfs: %s\n", err);
		return 1;
	}

	snprintf(logpath, sizeof(logpath), "%s/quorumfs.log", a.data_dir);
	if (!a.foreground)
		detach(a.log_file ? a.log_file : a.syslog ? "/dev/null" : logpath);
	else if (a.log_file)
		log_to_file(a.log_file);
	write_pid_file(a.pid_file);

	char prefix[32];
	snprintf(prefix, sizeof(prefix), "node %" PRIu64, a.id);
	qfs_log_set_prefix(prefix);
	if (a.syslog)
		qfs_log_to_syslog("quorumfs");
	if (a.log_level >= 0)
		qfs_log_set_level((enum qfs_log_level)a.log_level);
	else if (a.debug)
		qfs_log_set_level(QFS_LOG_DEBUG);
	if (rc == 1)
		qfs_warn("%s: cleared a mount left by a killed daemon", mp);

	memset(&d, 0, sizeof(d));
	d.drain_ms = cfg.commit_timeout_ms + 1000;
	uv_loop_init(&d.loop);
	rc = node_start(&d.loop, &nopts, &d.node, err, sizeof(err));
	sodium_memzero(nopts.cluster_key, sizeof(nopts.cluster_key));
	if (rc != 0) {
		qfs_error("%s", err);
		report_ready(err);
		return 1;
	}

	memset(&mopts, 0, sizeof(mopts));
	mopts.allow_other = a.allow_other;
	mopts.local_locks = a.local_locks;
	mopts.max_value_size = nopts.max_value_size;
	mopts.publish_delay_ms = cfg.publish_delay_ms;
	mopts.write_buffer_bytes = cfg.write_buffer_size;
	mopts.kernel_caches = cfg.kernel_caches;
	mopts.page_cache = cfg.page_cache;
	if (cfg.page_cache)
		/* tests/e2e/test_torn_reads.sh page-cache shows it. */
		qfs_warn("page-cache = true: a read may return one version's bytes cut or padded "
		         "to another's length while a file is rewritten (docs/semantics.md, "
		         "\"The page cache and mmap\")");
	mopts.debug = a.debug;
	mopts.unmounted = on_unmounted;
	mopts.unmounted_arg = &d;
	mopts.status_file = status_file;
	mopts.quorate = quorate;
	mopts.status_arg = &d;
	rc = qfs_mount_start(&d.loop, d.node, mp, &mopts, &d.mount, err, sizeof(err));
	if (rc != 0) {
		qfs_error("%s", err);
		report_ready(err);
		node_stop(d.node, node_stopped, &d);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		uv_loop_close(&d.loop);
		return 1;
	}

	const struct qfs_config_node *self = qfs_config_node(&cfg, a.id);
	if (self->http_address[0] != '\0') {
		char addr[QFS_CONFIG_ADDRESS_MAX];
		rc = qfs_resolve_address(self->http_address, addr, sizeof(addr), err, sizeof(err));
		if (rc == 0)
			rc = qfs_http_start(&d.loop, d.node, &cfg, addr, &d.http, err, sizeof(err));
		if (rc != 0) {
			/* The node serves the mount without it; say so loudly. */
			qfs_error("%s: the HTTP endpoint is off", err);
			d.http = NULL;
		}
	}

	uv_signal_init(&d.loop, &d.sigterm);
	uv_signal_init(&d.loop, &d.sigint);
	uv_signal_init(&d.loop, &d.sighup);
	d.sigterm.data = d.sigint.data = d.sighup.data = &d;
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	uv_signal_start(&d.sighup, on_signal, SIGHUP);

	qfs_info("mounted at %s (cluster '%s', data in %s)", mp, cfg.name, a.data_dir);
	report_ready(NULL);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	uv_loop_close(&d.loop);
	if (a.pid_file)
		unlink(a.pid_file);
	qfs_info("stopped");
	return d.exit_code;
}
