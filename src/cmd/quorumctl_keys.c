/* quorumctl_keys.c: quorumctl get, put, rm, ls and wait: keys through the admin socket, no mount. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quorumctl_keys.h"
#include "quorumfs/errors.h"
#include "quorumfs/net.h"
#include "quorumfs/wire_key.h"

/* Exit statuses, for scripts: 0 done, 1 no such key (or a condition or
 * wait that did not hold), 2 anything else. */
enum { EXIT_OK = 0, EXIT_NO = 1, EXIT_ERR = 2 };

static int fail(const char *what, const char *msg)
{
	fprintf(stderr, "quorumctl: %s: %s\n", what, msg);
	return EXIT_ERR;
}

/* Reads all of stdin (put PATH -). */
static int read_stdin(char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		size_t got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (got == 0)
			break;
		if (n == cap) {
			char *p = cap < WIRE_KEY_VALUE_MAX ? realloc(buf, cap * 2) : NULL;
			if (p == NULL) {
				free(buf);
				return -EFBIG;
			}
			buf = p;
			cap *= 2;
		}
	}
	if (buf == NULL)
		return -ENOMEM;
	if (ferror(stdin)) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*len = n;
	return 0;
}

/*
 * A path inside a quorumfs mount of this machine (by /proc/self/mounts, which
 * never touches the mount) becomes the key path under that mount's root;
 * anything else is taken as a key path already. Returns a malloc'd string.
 */
static char *key_path(const char *path)
{
	char abs[PATH_MAX * 2], best[PATH_MAX] = "";
	size_t best_len = 0;
	if (path[0] == '/') {
		snprintf(abs, sizeof(abs), "%s", path);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return strdup(path);
		snprintf(abs, sizeof(abs), "%s/%s", cwd, path);
	}
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[PATH_MAX * 2];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char src[256], mnt[PATH_MAX], type[64];
		if (sscanf(line, "%255s %4095s %63s", src, mnt, type) != 3 ||
		    strcmp(type, "fuse.quorumfs") != 0)
			continue;
		size_t m = strlen(mnt);
		if (strncmp(abs, mnt, m) == 0 && (abs[m] == '/' || abs[m] == '\0') && m > best_len) {
			snprintf(best, sizeof(best), "%s", mnt);
			best_len = m;
		}
	}
	if (f != NULL)
		fclose(f);
	if (best_len == 0)
		return strdup(path[0] == '/' ? path : abs);
	return strdup(abs[best_len] ? abs + best_len : "/");
}

/* One key call. Returns 0 with @resp (its value in *@answer, to free), or
 * exits through EXIT_ERR's message. */
static int call(const char *data_dir, const struct wire_key_req *req, int timeout_ms,
                struct wire_key_resp *resp, void **answer, char *msg, size_t msg_cap)
{
	char sock[PATH_MAX];
	size_t cap = wire_key_req_size(req), len = 0;
	uint8_t *buf = malloc(cap);
	int n, rc;
	if (buf == NULL)
		return -ENOMEM;
	if (snprintf(sock, sizeof(sock), "%s/admin.sock", data_dir) >= (int)sizeof(sock)) {
		free(buf);
		return -ENAMETOOLONG;
	}
	n = wire_key_req_encode(req, buf, cap);
	if (n < 0) {
		free(buf);
		return -EFBIG;
	}
	rc = net_admin_call(sock, buf, (size_t)n, WIRE_KEY_FRAME_MAX, timeout_ms, answer, &len);
	free(buf);
	if (rc != 0)
		return rc;
	rc = wire_key_resp_decode(*answer, len, resp, msg, msg_cap);
	if (rc != 0) {
		free(*answer);
		*answer = NULL;
	}
	return rc;
}

static const char key_usage[] =
        "usage: quorumctl -d DATA_DIR get PATH\n"
        "       quorumctl -d DATA_DIR put [--if-version N | --if-absent] PATH VALUE|-\n"
        "       quorumctl -d DATA_DIR rm PATH\n"
        "       quorumctl -d DATA_DIR ls PATH\n"
        "       quorumctl -d DATA_DIR wait PATH [--since VERSION] [--timeout SECONDS]\n"
        "       quorumctl -d DATA_DIR watch PATH [--recursive] [--since VERSION]\n";

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/*
 * watch: one call per batch of changes, each from the version the last one
 * looked through, so nothing is missed or shown twice; when the daemon is
 * away (a restart) the same call is made again until it answers. Exits 3 if
 * the changes since that version were compacted away.
 */
static int watch(const char *data_dir, struct wire_key_req *req, const char *path)
{
	bool away = false;
	for (;;) {
		struct wire_key_resp resp;
		void *answer = NULL;
		char msg[256];
		int rc = call(data_dir, req, 0, &resp, &answer, msg, sizeof(msg));
		if (rc != 0 || resp.err == QFS_ESHUTDOWN || resp.err == -EIO) {
			free(answer);
			if (req->version == 0)
				return fail("watch", rc ? qfs_strerror(rc) : qfs_strerror(resp.err));
			if (!away)
				fprintf(stderr,
				        "quorumctl: watch: the daemon is away (%s); resuming after "
				        "version %" PRIu64 " when it is back\n",
				        rc ? qfs_strerror(rc) : qfs_strerror(resp.err), req->version);
			away = true;
			sleep_ms(200);
			continue;
		}
		if (away)
			fprintf(stderr, "quorumctl: watch: resumed after version %" PRIu64 "\n",
			        req->version);
		away = false;
		if (resp.err == QFS_ESTALE) {
			fprintf(stderr,
			        "quorumctl: watch: cannot resume after version %" PRIu64
			        ": the changes since were compacted away\n",
			        req->version);
			free(answer);
			return 3;
		}
		if (resp.err == -ENOENT) {
			fprintf(stderr, "quorumctl: watch: %s: no such key\n", path);
			free(answer);
			return EXIT_NO;
		}
		if (resp.err != 0) {
			int st = fail("watch", resp.message && resp.message[0] ? resp.message
			                                                      : qfs_strerror(resp.err));
			free(answer);
			return st;
		}
		if (resp.value_len > 0)
			fwrite(resp.value, 1, resp.value_len, stdout);
		if (fflush(stdout) != 0) {
			free(answer);
			return EXIT_ERR;
		}
		req->version = resp.version;
		free(answer);
	}
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || *end || s[0] == '-' || s[0] == '\0')
		return false;
	*v = x;
	return true;
}

int quorumctl_keys(const char *data_dir, int timeout_s, int argc, char **argv)
{
	const char *cmd = argv[0], *args[3];
	int n_args = 0;
	struct wire_key_req req = {0};
	uint64_t wait_s = 0;
	char *value = NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "-d") == 0 || strcmp(a, "--data-dir") == 0) && i + 1 < argc)
			data_dir = argv[++i];
		else if (strcmp(a, "--if-version") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &req.version) || req.version == 0)
				return fail(cmd, "--if-version takes a version (a whole number > 0)");
			req.flags |= WIRE_KEY_IF_VERSION;
		} else if (strcmp(a, "--if-absent") == 0)
			req.flags |= WIRE_KEY_IF_ABSENT;
		else if (strcmp(a, "--recursive") == 0 || strcmp(a, "-r") == 0)
			req.flags |= WIRE_KEY_RECURSIVE;
		else if (strcmp(a, "--since") == 0 && i + 1 < argc) {
			if (!parse_u64(argv[++i], &req.version))
				return fail(cmd, "--since takes a version");
		} else if ((strcmp(a, "--timeout") == 0 || strcmp(a, "-t") == 0) && i + 1 < argc) {
			if (!parse_u64(argv[++i], &wait_s) || wait_s == 0)
				return fail(cmd, "--timeout takes a number of seconds > 0");
		} else if (a[0] == '-' && a[1] == '-' && a[2] == '\0') {
			while (++i < argc && n_args < 3)
				args[n_args++] = argv[i];
		} else if (a[0] == '-' && a[1] != '\0') {
			fputs(key_usage, stderr);
			return fail(cmd, "unknown option");
		} else if (n_args < 3) {
			args[n_args++] = a;
		} else {
			fputs(key_usage, stderr);
			return EXIT_ERR;
		}
	}
	if (data_dir == NULL)
		return fail(cmd, "-d DATA_DIR is needed");
	if (strcmp(cmd, "get") == 0 && n_args == 1)
		req.op = WIRE_KEY_GET;
	else if (strcmp(cmd, "put") == 0 && n_args == 2)
		req.op = WIRE_KEY_PUT;
	else if (strcmp(cmd, "rm") == 0 && n_args == 1)
		req.op = WIRE_KEY_RM;
	else if (strcmp(cmd, "ls") == 0 && n_args <= 1)
		req.op = WIRE_KEY_LS;
	else if (strcmp(cmd, "wait") == 0 && n_args == 1)
		req.op = WIRE_KEY_WAIT;
	else if (strcmp(cmd, "watch") == 0 && n_args == 1)
		req.op = WIRE_KEY_WATCH;
	else {
		fputs(key_usage, stderr);
		return EXIT_ERR;
	}
	if (req.flags == (WIRE_KEY_IF_ABSENT | WIRE_KEY_IF_VERSION))
		return fail(cmd, "--if-version and --if-absent exclude each other");
	if ((req.flags & ~WIRE_KEY_RECURSIVE) != 0 && req.op != WIRE_KEY_PUT)
		return fail(cmd, "--if-version and --if-absent are for put");
	if ((req.flags & WIRE_KEY_RECURSIVE) && req.op != WIRE_KEY_WATCH)
		return fail(cmd, "--recursive is for watch");
	if (req.op == WIRE_KEY_WATCH && wait_s != 0)
		return fail(cmd, "watch runs until interrupted: no --timeout");
	if (req.op != WIRE_KEY_WAIT && req.op != WIRE_KEY_WATCH &&
	    (wait_s != 0 || (req.version != 0 && req.flags == 0)))
		return fail(cmd, "--since and --timeout are for wait and watch");

	char *path = key_path(n_args > 0 ? args[0] : "/");
	if (path == NULL)
		return fail(cmd, "out of memory");
	req.path = path;
	req.path_len = strlen(path);
	if (req.op == WIRE_KEY_PUT) {
		if (strcmp(args[1], "-") == 0) {
			int rc = read_stdin(&value, &req.value_len);
			if (rc != 0) {
				free(path);
				return fail(cmd, qfs_strerror(rc));
			}
			req.value = value;
		} else {
			req.value = args[1];
			req.value_len = strlen(args[1]);
		}
	}
	/* A wait holds the call open; the others get the usual timeout. */
	int timeout_ms = timeout_s > 0 ? timeout_s * 1000 : 30000;
	if (req.op == WIRE_KEY_WAIT) {
		req.timeout_ms = wait_s * 1000;
		timeout_ms = wait_s ? (int)(wait_s * 1000) + 10000 : 0;
	}

	if (req.op == WIRE_KEY_WATCH) {
		int st = watch(data_dir, &req, path);
		free(path);
		return st;
	}
	struct wire_key_resp resp;
	void *answer = NULL;
	char msg[256];
	int rc = call(data_dir, &req, timeout_ms, &resp, &answer, msg, sizeof(msg));
	free(value);
	int status = EXIT_OK;
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		fprintf(stderr, "quorumctl: no quorumfs daemon is running on %s (%s)\n", data_dir,
		        qfs_strerror(rc));
		status = EXIT_ERR;
	} else if (rc != 0) {
		status = fail(cmd, qfs_strerror(rc));
	} else if (resp.err == -ENOENT) {
		fprintf(stderr, "quorumctl: %s: %s: no such key\n", cmd, path);
		status = EXIT_NO;
	} else if (resp.err == -EEXIST || resp.err == -ECANCELED) {
		/* A condition did not hold: the version it is at, for a retry. */
		printf("%" PRIu64 "\n", resp.version);
		fprintf(stderr, "quorumctl: put: %s is at version %" PRIu64 "%s\n", path,
		        resp.version, resp.err == -EEXIST ? " (it exists)" : "");
		status = EXIT_NO;
	} else if (resp.err == -ETIMEDOUT && req.op == WIRE_KEY_WAIT) {
		fprintf(stderr, "quorumctl: wait: %s did not change in %" PRIu64 " s\n", path,
		        wait_s);
		status = EXIT_NO;
	} else if (resp.err != 0) {
		status = fail(cmd, resp.message && resp.message[0] ? resp.message
		                                                   : qfs_strerror(resp.err));
	} else if (req.op == WIRE_KEY_GET || req.op == WIRE_KEY_LS) {
		/* Byte for byte: a value is not a line. */
		if (resp.value_len > 0 && fwrite(resp.value, 1, resp.value_len, stdout) != resp.value_len)
			status = fail(cmd, "write to stdout failed");
	} else if (req.op == WIRE_KEY_PUT || req.op == WIRE_KEY_WAIT) {
		printf("%" PRIu64 "\n", resp.version);
	}
	if (fflush(stdout) != 0 && status == EXIT_OK)
		status = fail(cmd, "write to stdout failed");
	free(answer);
	free(path);
	return status;
}

bool quorumctl_is_key_command(const char *cmd)
{
	static const char *const names[] = {"get", "put", "rm", "ls", "wait", "watch"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(cmd, names[i]) == 0)
			return true;
	return false;
}
