/* config.c: parse and validate the cluster's INI file with inih. */
#include <errno.h>
#include <arpa/inet.h>
#include <ini.h>
#include <netdb.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quorumfs/config.h"
#include "quorumfs/errors.h"

/* State of one parse: inih calls handler() per key; the first bad key stops
 * the parse and its message is kept here. */
struct parse {
	struct qfs_config *cfg;
	char msg[256];                /* the first problem, without the "FILE:LINE:" prefix */
	int line;                     /* its line, when known after ini_parse returns */
	struct qfs_config_node *node; /* the [node ID] section being read */
	unsigned seen_cluster;
};

static int fail(struct parse *p, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct parse *p, const char *key, const char *fmt, ...)
{
	va_list ap;
	if (p->msg[0] != '\0')
		return 0; /* inih goes on after an error but reports the first line: keep its text
		           */
	int n = snprintf(p->msg, sizeof(p->msg), "%s: ", key);
	va_start(ap, fmt);
	vsnprintf(p->msg + n, sizeof(p->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return 0; /* tells inih to report this line */
}

static int parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *out);

/* A whole number in [min, max], with an optional K/M/G suffix if @sizes. */
static int parse_number(const char *s, int sizes, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (sizes && *end) {
		unsigned shift = 0;
		switch (*end) {
		case 'K':
		case 'k':
			shift = 10;
			break;
		case 'M':
		case 'm':
			shift = 20;
			break;
		case 'G':
		case 'g':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (v > (UINT64_MAX >> shift))
			return -ERANGE;
		v <<= shift;
	}
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int qfs_parse_address(const char *address, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = address;
	size_t hl;
	uint64_t p;

	if (address[0] == '[') {
		const char *close = strchr(address, ']');
		if (close == NULL || close[1] != ':')
			return -EINVAL;
		h = address + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(address, ':');
		if (colon == NULL)
			return -EINVAL;
		hl = (size_t)(colon - address);
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	if (parse_number(colon + 1, 0, 1, 65535, &p) != 0)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

static int cluster_key(struct parse *p, const char *name, const char *value)
{
	struct qfs_config *cfg = p->cfg;
	uint64_t v;

	if (strcmp(name, "name") == 0) {
		if (value[0] == '\0' || strlen(value) >= sizeof(cfg->name))
			return fail(p, name, "must be 1 to %zu characters", sizeof(cfg->name) - 1);
		strcpy(cfg->name, value);
	} else if (strcmp(name, "key-file") == 0) {
		if (value[0] == '\0')
			return fail(p, name, "must name a file (quorumctl keygen writes one)");
		if (value[0] == '/') {
			if (strlen(value) >= sizeof(cfg->key_file))
				return fail(p, name, "path too long");
			strcpy(cfg->key_file, value);
		} else {
			/* Relative to the config file, so a cluster directory moves whole. */
			const char *slash = strrchr(cfg->path, '/');
			int dirlen = slash ? (int)(slash - cfg->path) : 1;
			const char *dir = slash ? cfg->path : ".";
			int n = snprintf(cfg->key_file, sizeof(cfg->key_file), "%.*s/%s", dirlen,
			                 dir, value);
			if (n < 0 || (size_t)n >= sizeof(cfg->key_file))
				return fail(p, name, "path too long");
		}
	} else if (strcmp(name, "heartbeat-ms") == 0) {
		if (parse_number(value, 0, 1, 60000, &v))
			return fail(p, name,
			            "'%s' is not a whole number of milliseconds in 1..60000",
			            value);
		cfg->heartbeat_ms = (unsigned)v;
	} else if (strcmp(name, "election-ms") == 0) {
		if (parse_number(value, 0, 10, 600000, &v))
			return fail(p, name,
			            "'%s' is not a whole number of milliseconds in 10..600000",
			            value);
		cfg->election_ms = (unsigned)v;
	} else if (strcmp(name, "commit-timeout-ms") == 0) {
		if (parse_number(value, 0, 10, 3600000, &v))
			return fail(p, name,
			            "'%s' is not a whole number of milliseconds in 10..3600000",
			            value);
		cfg->commit_timeout_ms = (unsigned)v;
	} else if (strcmp(name, "session-lease-ms") == 0) {
		if (parse_number(value, 0, 100, 3600000, &v))
			return fail(p, name,
			            "'%s' is not a whole number of milliseconds in 100..3600000",
			            value);
		cfg->session_lease_ms = (unsigned)v;
	} else if (strcmp(name, "max-value-size") == 0) {
		if (parse_number(value, 1, 1, 1ull << 30, &v))
			return fail(p, name, "'%s' is not a size in 1..1G (suffixes K, M, G)",
			            value);
		cfg->max_value_size = v;
	} else if (strcmp(name, "log-memory") == 0) {
		if (parse_number(value, 1, 1u << 20, 1ull << 40, &v))
			return fail(p, name, "'%s' is not a size in 1M..1T (suffixes K, M, G)",
			            value);
		cfg->log_memory = v;
	} else if (strcmp(name, "snapshot-every") == 0) {
		if (parse_number(value, 0, 1, 1ull << 40, &v))
			return fail(p, name, "'%s' is not a whole number of entries, at least 1",
			            value);
		cfg->snapshot_every = v;
	} else if (strcmp(name, "snapshot-every-bytes") == 0) {
		if (parse_number(value, 1, 0, 1ull << 50, &v) || (v > 0 && v < (1u << 20)))
			return fail(
			        p, name,
			        "'%s' is neither 0 nor a size of at least 1M (suffixes K, M, G)",
			        value);
		cfg->snapshot_every_bytes = v;
	} else if (strcmp(name, "publish-delay-ms") == 0) {
		if (parse_number(value, 0, 1, 3600000, &v))
			return fail(p, name,
			            "'%s' is not a whole number of milliseconds in 1..3600000",
			            value);
		cfg->publish_delay_ms = (unsigned)v;
	} else if (strcmp(name, "write-buffer-size") == 0) {
		if (parse_number(value, 1, 64u << 10, 64ull << 30, &v))
			return fail(p, name, "'%s' is not a size in 64K..64G (suffixes K, M, G)",
			            value);
		cfg->write_buffer_size = v;
	} else if (strcmp(name, "kernel-caches") == 0 || strcmp(name, "page-cache") == 0) {
		bool *dst = name[0] == 'k' ? &cfg->kernel_caches : &cfg->page_cache;
		if (strcmp(value, "true") == 0)
			*dst = true;
		else if (strcmp(value, "false") == 0)
			*dst = false;
		else
			return fail(p, name, "'%s' is neither true nor false", value);
	} else if (strcmp(name, "follower-lease-ms") == 0) {
		if (parse_number(value, 0, 0, 60000, &v))
			return fail(p, name,
			            "'%s' is not a whole number of milliseconds in 0..60000", value);
		cfg->follower_lease_ms = (unsigned)v;
	} else if (strcmp(name, "read-lease") == 0) {
		if (strcmp(value, "true") == 0)
			cfg->read_lease = true;
		else if (strcmp(value, "false") == 0)
			cfg->read_lease = false;
		else
			return fail(p, name, "'%s' is neither true nor false", value);
	} else if (strcmp(name, "on-leader") == 0 || strcmp(name, "on-follower") == 0) {
		char *dst = name[3] == 'l' ? cfg->on_leader : cfg->on_follower;
		if (strlen(value) >= QFS_CONFIG_HOOK_MAX)
			return fail(p, name, "longer than %d bytes", QFS_CONFIG_HOOK_MAX - 1);
		strcpy(dst, value);
	} else if (strcmp(name, "hook-timeout-ms") == 0) {
		if (parse_number(value, 0, 1, 3600000, &v))
			return fail(p, name,
			            "'%s' is not a whole number of milliseconds in 1..3600000",
			            value);
		cfg->hook_timeout_ms = (unsigned)v;
	} else if (strcmp(name, "verify-interval") == 0) {
		if (parse_duration_ms(value, 366ull * 24 * 3600 * 1000, &v) ||
		    (v > 0 && v < 100))
			return fail(p, name,
			            "'%s' is not 0 or a duration of 100ms..366 days (suffixes ms, s, "
			            "m, h)",
			            value);
		cfg->verify_interval_ms = v;
	} else {
		return fail(p, name, "unknown key in [cluster]");
	}
	return 1;
}

static int node_section(struct parse *p, const char *section)
{
	struct qfs_config *cfg = p->cfg;
	uint64_t id;

	if (parse_number(section + 5, 0, 1, INT64_MAX, &id))
		return fail(p, section, "the section must be [node ID] with ID a whole number > 0");
	for (unsigned i = 0; i < cfg->n_nodes; i++)
		if (cfg->nodes[i].id == id) {
			p->node = &cfg->nodes[i];
			return 1;
		}
	if (cfg->n_nodes == QFS_CONFIG_MAX_NODES)
		return fail(p, section, "more than %d nodes", QFS_CONFIG_MAX_NODES);
	p->node = &cfg->nodes[cfg->n_nodes++];
	memset(p->node, 0, sizeof(*p->node));
	p->node->id = id;
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;

	if (strcmp(section, "cluster") == 0) {
		p->seen_cluster = 1;
		return cluster_key(p, name, value);
	}
	if (strncmp(section, "node ", 5) == 0) {
		char host[QFS_CONFIG_ADDRESS_MAX];
		int port;
		if (!node_section(p, section))
			return 0;
		if (strcmp(name, "http-address") == 0) {
			if (strlen(value) >= sizeof(p->node->http_address) ||
			    qfs_parse_address(value, host, sizeof(host), &port))
				return fail(p, name, "'%s' is not host:port", value);
			strcpy(p->node->http_address, value);
			return 1;
		}
		if (strcmp(name, "address") != 0)
			return fail(p, name, "unknown key in [%s]", section);
		if (strlen(value) >= sizeof(p->node->address) ||
		    qfs_parse_address(value, host, sizeof(host), &port))
			return fail(p, name, "'%s' is not host:port", value);
		strcpy(p->node->address, value);
		return 1;
	}
	return fail(p, name, "key in unknown section [%s]", section);
}

/* Checks that need the whole file; they name the file, not a line. */
static int check_whole(struct parse *p)
{
	struct qfs_config *cfg = p->cfg;

	if (!p->seen_cluster)
		return fail(p, "[cluster]", "section missing");
	if (cfg->name[0] == '\0')
		return fail(p, "name", "missing in [cluster]");
	if (cfg->key_file[0] == '\0')
		return fail(p, "key-file", "missing in [cluster]");
	if (cfg->election_ms < 3 * cfg->heartbeat_ms)
		return fail(p, "election-ms", "must be at least 3 x heartbeat-ms (%u)",
		            3 * cfg->heartbeat_ms);
	if (cfg->commit_timeout_ms < cfg->election_ms)
		return fail(p, "commit-timeout-ms", "must be at least election-ms (%u)",
		            cfg->election_ms);
	if (cfg->session_lease_ms < cfg->election_ms)
		return fail(p, "session-lease-ms", "must be at least election-ms (%u)",
		            cfg->election_ms);
	if (cfg->n_nodes == 0)
		return fail(p, "[node ID]", "no node sections");
	for (unsigned i = 0; i < cfg->n_nodes; i++) {
		if (cfg->nodes[i].address[0] == '\0')
			return fail(p, "address", "missing in [node %" PRIu64 "]",
			            cfg->nodes[i].id);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(cfg->nodes[i].address, cfg->nodes[j].address) == 0)
				return fail(p, "address",
				            "[node %" PRIu64 "] and [node %" PRIu64 "] share %s",
				            cfg->nodes[j].id, cfg->nodes[i].id,
				            cfg->nodes[i].address);
	}
	return 1;
}

void qfs_config_defaults(struct qfs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->heartbeat_ms = 50;
	cfg->election_ms = 500;
	cfg->commit_timeout_ms = 5000;
	cfg->session_lease_ms = 15000;
	cfg->max_value_size = 16u << 20;
	cfg->read_lease = true;
	/* Followers read from a lease of their own and the kernel caches
	 * attributes and names under it (docs/semantics.md, "Reads"): a
	 * linearizable read on any node costs about what a local one does,
	 * and a cut-off follower delays writes by at most this (docs/operations.md). */
	cfg->follower_lease_ms = 400;
	cfg->kernel_caches = true;
	cfg->hook_timeout_ms = 10000;
	cfg->publish_delay_ms = 1000;
	cfg->write_buffer_size = 256u << 20;
	cfg->verify_interval_ms = 3600u * 1000;
	cfg->log_memory = 32u << 20;
	cfg->snapshot_every = 10000;
	cfg->snapshot_every_bytes = 1ull << 30;
}

/* A duration: a whole number with ms, s, m or h (none: seconds), in ms. */
static int parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t unit;
	if (errno || end == s)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		unit = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		unit = 1000;
	else if (strcmp(end, "m") == 0)
		unit = 60000;
	else if (strcmp(end, "h") == 0)
		unit = 3600000;
	else
		return -EINVAL;
	if (v > max_ms / unit)
		return -ERANGE;
	*out = v * unit;
	return 0;
}

static int finish(struct parse *p, int rc, char *err, size_t errlen)
{
	const char *path = p->cfg->path;

	if (rc > 0 && p->msg[0] == '\0') /* inih's own syntax error */
		snprintf(p->msg, sizeof(p->msg),
		         "syntax error (expected [section] or key = value)");
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: %s", path, rc, p->msg);
		return QFS_ECONFIG;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: out of memory while reading", path);
		return -ENOMEM;
	}
	if (!check_whole(p)) {
		snprintf(err, errlen, "%s: %s", path, p->msg);
		return QFS_ECONFIG;
	}
	return 0;
}

static void begin(struct parse *p, struct qfs_config *cfg, const char *path)
{
	memset(p, 0, sizeof(*p));
	qfs_config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	p->cfg = cfg;
}

int qfs_config_parse(const char *text, const char *path, struct qfs_config *cfg, char *err,
                     size_t errlen)
{
	struct parse p;
	begin(&p, cfg, path);
	return finish(&p, ini_parse_string(text, handler, &p), err, errlen);
}

int qfs_config_load(const char *path, struct qfs_config *cfg, char *err, size_t errlen)
{
	struct parse p;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	begin(&p, cfg, path);
	int rc = ini_parse_file(f, handler, &p);
	fclose(f);
	return finish(&p, rc, err, errlen);
}

const struct qfs_config_node *qfs_config_node(const struct qfs_config *cfg, uint64_t id)
{
	for (unsigned i = 0; i < cfg->n_nodes; i++)
		if (cfg->nodes[i].id == id)
			return &cfg->nodes[i];
	return NULL;
}

int qfs_resolve_address(const char *address, char *out, size_t outlen, char *err, size_t errlen)
{
	char host[QFS_CONFIG_ADDRESS_MAX], ip[INET6_ADDRSTRLEN];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai, *pick = NULL;
	int port, rc;

	if (qfs_parse_address(address, host, sizeof(host), &port) != 0) {
		snprintf(err, errlen, "'%s' is not host:port", address);
		return -EINVAL;
	}
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot resolve %s: %s", address, host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next)
		if (pick == NULL || (ai->ai_family == AF_INET && pick->ai_family != AF_INET))
			pick = ai;
	if (pick->ai_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)pick->ai_addr)->sin_addr, ip,
		          sizeof(ip));
		rc = snprintf(out, outlen, "%s:%d", ip, port);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr, ip,
		          sizeof(ip));
		rc = snprintf(out, outlen, "[%s]:%d", ip, port);
	}
	freeaddrinfo(res);
	if (rc < 0 || (size_t)rc >= outlen) {
		snprintf(err, errlen, "%s: resolved address too long", address);
		return -EINVAL;
	}
	return 0;
}
