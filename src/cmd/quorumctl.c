/* quorumctl.c: main() of the admin tool: keys, status, membership, leadership, snapshots. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quorumfs/config.h"
#include "quorumfs/errors.h"
#include "quorumfs/keyfile.h"
#include "quorumfs/net.h"
#include "quorumfs/wire_admin.h"
#include "quorumctl_keys.h"
#include "membership.h"
#include "recovery.h"

static const char usage[] =
        "usage: quorumctl keygen FILE\n"
        "       quorumctl -d DATA_DIR status [--json]\n"
        "       quorumctl -d DATA_DIR add ID HOST:PORT\n"
        "       quorumctl -d DATA_DIR remove [--force] ID\n"
        "       quorumctl -d DATA_DIR transfer [ID]\n"
        "       quorumctl -d DATA_DIR snapshot\n"
        "       quorumctl -d DATA_DIR get PATH\n"
        "       quorumctl -d DATA_DIR put [--if-version N | --if-absent] PATH VALUE|-\n"
        "       quorumctl -d DATA_DIR rm PATH\n"
        "       quorumctl -d DATA_DIR ls [PATH]\n"
        "       quorumctl -d DATA_DIR wait PATH [--since VERSION] [--timeout SECONDS]\n"
        "       quorumctl -d DATA_DIR backup FILE\n"
        "       quorumctl restore FILE -c CONFIG -i ID -d NEW_DATA_DIR\n"
        "       quorumctl -d DATA_DIR force-new-cluster\n"
        "\n"
        "Talks to the quorumfs daemon whose data directory is DATA_DIR, through its\n"
        "admin socket DATA_DIR/admin.sock (only its user can use it).\n"
        "\n"
        "  keygen FILE    write a new cluster key to FILE (mode 0600; never overwrites)\n"
        "  status         this node's role, term, leader, commit and applied index,\n"
        "                 and every member's address, role, match index and last contact\n"
        "  add ID ADDR    add node ID at ADDR: first as a learner that receives the log\n"
        "                 (or a snapshot), then, once caught up, as a voter. The new node\n"
        "                 runs 'quorumfs --join ADDR_OF_A_MEMBER' on an empty data directory\n"
        "  remove ID      remove node ID (the leader too: it hands over and steps down);\n"
        "                 refused if the voters left would not be a reachable majority\n"
        "    --force        remove all the same\n"
        "  transfer [ID]  make ID (default: the most up-to-date voter) the leader\n"
        "  add, remove and transfer return once the change is committed (exit 0), refuse\n"
        "  what cannot work at once (exit 1: another change in progress, already a\n"
        "  member...), or say after --timeout what the node sees (exit 3)\n"
        "  snapshot       snapshot this node's tree now and compact its log\n"
        "  backup FILE    write a consistent, checksummed copy of the running node's\n"
        "                 tree (with the cluster id and index) to FILE\n"
        "  restore FILE   create NEW_DATA_DIR as node ID of the new cluster CONFIG\n"
        "                 describes, from backup FILE (restore every member from it)\n"
        "  force-new-cluster\n"
        "                 on a stopped node, after a majority is lost for good: make it\n"
        "                 the only member, with its data; then add others with 'add'\n"
        "\n"
        "Keys, without a mount. PATH is a key path from the cluster's root\n"
        "(/app/db_host); for wait also a path inside this machine's quorumfs mount.\n"
        "Exit status: 0 done, 1 no such key (or a condition or wait that did not\n"
        "hold), 2 any other error. Reads are linearizable; writes go through the log.\n"
        "  get PATH       the key's value, byte for byte, to stdout\n"
        "  put PATH VALUE write VALUE (- : stdin) as the key's whole value, making the\n"
        "                 directories on the way; prints the new version\n"
        "    --if-absent      only if the key does not exist\n"
        "    --if-version N   only if the key is still at version N (checked as the\n"
        "                     log applies it); else exit 1, printing the current version\n"
        "  rm PATH        remove a key, or an empty directory\n"
        "  ls [PATH]      a directory's names, one a line, / after directories\n"
        "  wait PATH      return once PATH, or anything under it, changes after VERSION\n"
        "                 (--since; default: its version now); prints the new version;\n"
        "                 exit 1 after --timeout SECONDS (default: wait forever)\n"
        "                 A version is the log index of the last change; a file's is its\n"
        "                 xattr user.quorumfs.version in the mount\n"
        "  watch PATH     one line per change, \"VERSION OPERATION PATH\", until interrupted:\n"
        "                 of PATH (a file), or of a directory's entries (--recursive: all\n"
        "                 under it); resumes without a gap when the daemon comes back, or\n"
        "                 exits 3 if the changes since were compacted away\n"
        "\n"
        "  -d, --data-dir DIR   the daemon's data directory\n"
        "  -c, --config FILE    restore: the new cluster's configuration\n"
        "  -i, --id ID          restore: the node to create\n"
        "      --json           status as JSON\n"
        "  -t, --timeout SEC    give up after SEC seconds (default 10; add: 300;\n"
        "                       remove, transfer: 30; backup: 60)\n"
        "  -h, --help, -V, --version\n";

static const char *data_dir;
static const char *config_file; /* restore */
static const char *node_id_arg; /* restore */
static bool force;              /* remove */
static bool json;
static int timeout_s = -1;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "quorumctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t parse_id(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v == 0 || s[0] == '-')
		die("'%s' is not a node id (a whole number > 0)", s);
	return v;
}

/* One admin call; exits with a message when the daemon cannot be reached. */
static void call(const struct wire_admin_req *req, struct wire_admin_resp *resp, int timeout_ms)
{
	char path[PATH_MAX];
	uint8_t buf[WIRE_ADMIN_FRAME_MAX];
	void *answer = NULL;
	size_t answer_len = 0;
	int n, rc;

	if (data_dir == NULL)
		die("-d DATA_DIR is needed for %s", wire_admin_op_name(req->op));
	if (snprintf(path, sizeof(path), "%s/admin.sock", data_dir) >= (int)sizeof(path))
		die("%s: path too long", data_dir);
	n = wire_admin_req_encode(req, buf, sizeof(buf));
	if (n < 0)
		die("request too large");
	rc = net_admin_call(path, buf, (size_t)n, WIRE_ADMIN_FRAME_MAX, timeout_ms, &answer,
	                    &answer_len);
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		die("no quorumfs daemon is running on %s (%s: %s)", data_dir, path,
		    qfs_strerror(rc));
	if (rc == -EACCES)
		die("%s: permission denied (run as the daemon's user)", path);
	if (rc != 0)
		die("%s: %s", path, qfs_strerror(rc));
	rc = wire_admin_resp_decode(answer, answer_len, resp);
	free(answer);
	if (rc != 0)
		die("the daemon's answer is malformed (a daemon of another version?)");
}

static void print_status_text(const struct wire_admin_status *st)
{
	printf("node:     %" PRIu64 "\n", st->id);
	printf("role:     %s\n", st->role);
	printf("term:     %" PRIu64 "\n", st->term);
	printf("leader:   %" PRIu64 "%s\n", st->leader, st->leader ? "" : " (none known)");
	printf("commit:   %" PRIu64 "\n", st->commit);
	printf("applied:  %" PRIu64 "\n", st->applied);
	printf("last:     %" PRIu64 "\n", st->last_index);
	printf("snapshot: %" PRIu64 "\n", st->snapshot_index);
	printf("quorate:  %s\n", st->quorate ? "yes" : "no");
	if (st->verify_index > 0 || st->verify_mismatches > 0)
		printf("verify:   last check at %" PRIu64 ", %" PRIu64 " mismatching report%s\n",
		       st->verify_index, st->verify_mismatches,
		       st->verify_mismatches == 1 ? "" : "s");
	printf("\n%-4s %-22s %-8s %10s %14s\n", "ID", "ADDRESS", "ROLE", "MATCH", "LAST CONTACT");
	for (uint32_t i = 0; i < st->n_members; i++) {
		const struct wire_admin_member *m = &st->members[i];
		char contact[32];
		switch (m->contact) {
		case WIRE_ADMIN_CONTACT_SELF:
			snprintf(contact, sizeof(contact), "(self)");
			break;
		case WIRE_ADMIN_CONTACT_OK:
			snprintf(contact, sizeof(contact), "%" PRId64 " ms ago", m->last_contact_ms);
			break;
		case WIRE_ADMIN_CONTACT_NEVER:
			snprintf(contact, sizeof(contact), "never");
			break;
		case WIRE_ADMIN_CONTACT_LOST:
			snprintf(contact, sizeof(contact), "lost %" PRId64 " s ago",
			         m->last_contact_ms / 1000);
			break;
		default:
			snprintf(contact, sizeof(contact), "-"); /* a follower's view */
			break;
		}
		printf("%-4" PRIu64 " %-22s %-8s %10" PRIu64 " %14s\n", m->id, m->address,
		       m->voter ? "voter" : "learner", m->match, contact);
	}
}

static void print_status_json(const struct wire_admin_status *st)
{
	char buf[WIRE_ADMIN_FRAME_MAX];
	size_t len = wire_admin_status_json(st, buf, sizeof(buf));
	if (len >= sizeof(buf))
		die("status: the JSON rendering does not fit in %zu bytes", sizeof(buf));
	printf("%s\n", buf);
}

/* Runs a simple call, prints its message, exits with its verdict. */
static int simple(uint32_t op, uint64_t id, const char *address)
{
	struct wire_admin_req req = {.op = op, .id = id};
	struct wire_admin_resp resp;
	if (address)
		snprintf(req.address, sizeof(req.address), "%s", address);
	call(&req, &resp, (timeout_s > 0 ? timeout_s : 10) * 1000);
	if (resp.err != 0) {
		fprintf(stderr, "quorumctl: %s: %s\n", wire_admin_op_name(op),
		        resp.message[0] ? resp.message : qfs_strerror(resp.err));
		return 1;
	}
	if (op == WIRE_ADMIN_STATUS) {
		if (json)
			print_status_json(&resp.status);
		else
			print_status_text(&resp.status);
	} else if (resp.message[0]) {
		printf("%s\n", resp.message);
	}
	return 0;
}

/* backup, restore, force-new-cluster (recovery.c). */
static int recovery(const char *cmd, int n_args, char **args)
{
	char err[768] = "";
	int rc;
	if (strcmp(cmd, "restore") == 0) {
		if (n_args != 2 || config_file == NULL || node_id_arg == NULL || data_dir == NULL)
			die("usage: quorumctl restore FILE -c CONFIG -i ID -d NEW_DATA_DIR");
		rc = qfs_ctl_restore(args[1], config_file, parse_id(node_id_arg), data_dir, err,
		                     sizeof(err));
	} else if (data_dir == NULL) {
		die("-d DATA_DIR is needed for %s", cmd);
	} else if (strcmp(cmd, "backup") == 0) {
		rc = qfs_ctl_backup(data_dir, args[1], timeout_s > 0 ? timeout_s : 60, err,
		                    sizeof(err));
	} else {
		rc = qfs_ctl_force_new_cluster(data_dir, err, sizeof(err));
	}
	if (rc != 0)
		die("%s: %s", cmd, err[0] ? err : qfs_strerror(rc));
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_FORCE };
	static const struct option longopts[] = {
	        {"data-dir", required_argument, NULL, 'd'},
	        {"json", no_argument, NULL, OPT_JSON},
	        {"timeout", required_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {"config", required_argument, NULL, 'c'},
	        {"id", required_argument, NULL, 'i'},
	        {"force", no_argument, NULL, OPT_FORCE},
	        {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "+d:t:c:i:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data_dir = optarg;
			break;
		case 'c':
			config_file = optarg;
			break;
		case 'i':
			node_id_arg = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0)
				die("--timeout takes a number of seconds > 0");
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("quorumctl %s\n", QFS_VERSION);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	/* Key commands have options of their own (quorumctl_keys.c). */
	if (optind < argc && quorumctl_is_key_command(argv[optind]))
		return quorumctl_keys(data_dir, timeout_s, argc - optind, argv + optind);
	/* Options may also follow the command (quorumctl -d D status --json). */
	int n_args = 0;
	char *args[4];
	while (optind < argc) {
		c = getopt_long(argc, argv, "+d:t:c:i:hV", longopts, NULL);
		if (c == -1) {
			if (n_args == 4)
				die("too many arguments");
			args[n_args++] = argv[optind++];
			continue;
		}
		if (c == OPT_JSON)
			json = true;
		else if (c == OPT_FORCE)
			force = true;
		else if (c == 'd')
			data_dir = optarg;
		else if (c == 't')
			timeout_s = atoi(optarg);
		else if (c == 'c')
			config_file = optarg;
		else if (c == 'i')
			node_id_arg = optarg;
		else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (n_args == 0) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = args[0];
	if (strcmp(cmd, "keygen") == 0) {
		char err[512];
		if (n_args != 2)
			die("usage: quorumctl keygen FILE");
		if (qfs_key_generate(args[1], err, sizeof(err)) != 0)
			die("%s", err);
		printf("wrote a new cluster key to %s; copy it to every node (mode 0600)\n",
		       args[1]);
		return 0;
	}
	if (strcmp(cmd, "status") == 0 && n_args == 1)
		return simple(WIRE_ADMIN_STATUS, 0, NULL);
	if ((strcmp(cmd, "add") == 0 && n_args == 3) ||
	    (strcmp(cmd, "remove") == 0 && n_args == 2) ||
	    (strcmp(cmd, "transfer") == 0 && n_args <= 2)) {
		if (data_dir == NULL)
			die("-d DATA_DIR is needed for %s", cmd);
		if (cmd[0] == 'a')
			return qfs_ctl_add(data_dir, parse_id(args[1]), args[2],
			                   timeout_s > 0 ? timeout_s : 300);
		if (cmd[0] == 'r')
			return qfs_ctl_remove(data_dir, parse_id(args[1]), force,
			                      timeout_s > 0 ? timeout_s : 30);
		return qfs_ctl_transfer(data_dir, n_args == 2 ? parse_id(args[1]) : 0,
		                        timeout_s > 0 ? timeout_s : 30);
	}
	if (strcmp(cmd, "snapshot") == 0 && n_args == 1)
		return simple(WIRE_ADMIN_SNAPSHOT, 0, NULL);
	if ((strcmp(cmd, "backup") == 0 && n_args == 2) || strcmp(cmd, "restore") == 0 ||
	    (strcmp(cmd, "force-new-cluster") == 0 && n_args == 1))
		return recovery(cmd, n_args, args);
	fprintf(stderr, "quorumctl: '%s' with %d argument(s) is not a command\n", cmd, n_args - 1);
	fputs(usage, stderr);
	return 2;
}
