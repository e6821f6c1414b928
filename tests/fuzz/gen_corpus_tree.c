/* gen_corpus_tree.c: writes the seed corpora of the command, admin, config and snapshot targets.
 * Usage: gen-corpus-tree DIR  (writes DIR/command/, DIR/admin/, DIR/config/, DIR/snapshot/) */
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorumfs/wire_cmd.h"
#include "quorumfs/fsm.h"
#include "quorumfs/wire_admin.h"

static void put(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static void subdir(char *out, size_t cap, const char *root, const char *name)
{
	snprintf(out, cap, "%s/%s", root, name);
	mkdir(out, 0755);
}

/* One command of each type, the way the mount builds them. */
static unsigned sample_commands(struct wire_cmd *c)
{
	static const char data[] = "db.example.internal\n";
	unsigned n = 0;
	for (int t = WIRE_CMD_CREATE; t <= WIRE_CMD_TYPE_MAX; t++) {
		struct wire_cmd *x = &c[n++];
		memset(x, 0, sizeof(*x));
		x->type = (enum wire_cmd_type)t;
		x->client_id = 0x1000000000000001ull;
		x->serial = (uint64_t)t;
		x->time_ns = 1700000000000000000ll;
		x->uid = 1000;
		x->gid = 1000;
		x->ino = 2;
		x->parent = 1;
		x->name = t == WIRE_CMD_SETXATTR || t == WIRE_CMD_REMOVEXATTR ? "user.color"
		                                                              : "db_host";
		x->name_len = strlen(x->name);
		x->new_parent = 1;
		x->new_name = "db_host.new";
		x->new_name_len = strlen(x->new_name);
		x->mode = 0644;
		x->data = data;
		x->data_len = sizeof(data) - 1;
		x->attr.valid = WIRE_ATTR_MODE | WIRE_ATTR_SIZE | WIRE_ATTR_MTIME_NOW;
		x->attr.mode = 0600;
		x->attr.size = 3;
	}
	static const struct wire_cmd_extent ext[] = {
	        {0, "db.example", 10},
	        {4096, "internal\n", 9},
	};
	c[0].flags = WIRE_CREATE_EXCL;
	c[1].flags = WIRE_WRITE_TRUNCATE;
	c[WIRE_CMD_WRITEV - 1].flags = WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_KILL_SUIDGID;
	c[WIRE_CMD_WRITEV - 1].extents = ext;
	c[WIRE_CMD_WRITEV - 1].n_extents = 2;
	c[WIRE_CMD_MKNOD - 1].name = "fifo";
	c[WIRE_CMD_MKNOD - 1].name_len = 4;
	c[WIRE_CMD_MKNOD - 1].mode = S_IFIFO | 0644;
	c[WIRE_CMD_ORPHAN_RELEASE - 1].co.node = 1;
	c[WIRE_CMD_ORPHAN_RELEASE - 1].data = "\0\0\0\0\0\0\0\x02";
	c[WIRE_CMD_ORPHAN_RELEASE - 1].data_len = 8;
	return n;
}

static void commands(const char *root)
{
	char dir[4096], name[64];
	struct wire_cmd c[WIRE_CMD_TYPE_MAX];
	unsigned n = sample_commands(c);
	subdir(dir, sizeof(dir), root, "command");
	for (unsigned i = 0; i < n; i++) {
		size_t cap = wire_cmd_encoded_max(&c[i]), len;
		uint8_t *buf = malloc(cap);
		if (buf == NULL || wire_cmd_encode(&c[i], buf, cap, &len) != 0)
			exit(1);
		snprintf(name, sizeof(name), "%02u-%s", i, wire_cmd_type_name(c[i].type));
		put(dir, name, buf, len);
		free(buf);
	}
}

/* One command of each coordination type (20..), as a node sends them. */
static void coord_commands(const char *root)
{
	char dir[4096], name[64];
	subdir(dir, sizeof(dir), root, "command");
	for (int t = WIRE_CMD_COORD_MIN; t <= WIRE_CMD_COORD_MAX; t++) {
		struct wire_cmd c = {.type = (enum wire_cmd_type)t,
		                     .client_id = 0x1000000000000001ull,
		                     .serial = (uint64_t)t,
		                     .time_ns = 1700000000000000000ll,
		                     .ino = 2,
		                     .mode = 15000,
		                     .offset = 123456};
		uint8_t buf[512];
		size_t len;
		c.co.node = 1;
		c.co.session = 7;
		c.co.owner = 0x5eed5eed5eedull;
		c.co.fh = 0x7f0000001000ull;
		c.co.start = 1073741824;
		c.co.end = WIRE_LOCK_END_MAX;
		c.co.pid = 4242;
		if (t == WIRE_CMD_LOCK)
			c.flags = WIRE_LOCK_WRITE;
		if (wire_cmd_encode(&c, buf, sizeof(buf), &len) != 0)
			exit(1);
		snprintf(name, sizeof(name), "%02d-%s", t, wire_cmd_type_name(t));
		put(dir, name, buf, len);
	}
}

static void admin(const char *root)
{
	char dir[4096];
	uint8_t buf[WIRE_ADMIN_FRAME_MAX];
	struct wire_admin_req req = {.op = WIRE_ADMIN_ADD_LEARNER, .id = 4};
	struct wire_admin_resp resp;
	int n;
	subdir(dir, sizeof(dir), root, "admin");
	strcpy(req.address, "127.0.0.1:7004");
	n = wire_admin_req_encode(&req, buf, sizeof(buf));
	put(dir, "req-add", buf, (size_t)n);
	memset(&resp, 0, sizeof(resp));
	strcpy(resp.message, "ok");
	resp.has_status = 1;
	resp.status.id = 1;
	strcpy(resp.status.role, "leader");
	resp.status.n_members = 3;
	for (unsigned i = 0; i < 3; i++) {
		resp.status.members[i].id = i + 1;
		snprintf(resp.status.members[i].address, WIRE_ADMIN_ADDRESS_MAX, "127.0.0.1:700%u",
		         i + 1);
		resp.status.members[i].voter = 1;
		resp.status.members[i].last_contact_ms = -1;
	}
	n = wire_admin_resp_encode(&resp, buf, sizeof(buf));
	put(dir, "resp-status", buf, (size_t)n);
}

static void config(const char *root)
{
	char dir[4096];
	static const char good[] =
	        "[cluster]\nname = prod\nkey-file = cluster.key\n"
	        "heartbeat-ms = 50\nelection-ms = 500\ncommit-timeout-ms = 5000\n"
	        "max-value-size = 16M\n[node 1]\naddress = 127.0.0.1:7001\n"
	        "[node 2]\naddress = [::1]:7002\n";
	static const char bad[] = "[cluster]\nname=\n[node x]\naddress=:\n";
	subdir(dir, sizeof(dir), root, "config");
	put(dir, "good", good, sizeof(good) - 1);
	put(dir, "bad", bad, sizeof(bad) - 1);
}

/* A real snapshot of a small tree built by applying the sample commands. */
static void snapshot(const char *root)
{
	char dir[4096], tmp[] = "/tmp/qfs-gen-snap-XXXXXX", path[128];
	MDB_env *env;
	MDB_txn *txn;
	struct fsm *fsm;
	struct fsm_snapshot *snap;
	struct wire_cmd c[WIRE_CMD_TYPE_MAX];
	struct fsm_result res;
	unsigned n = sample_commands(c);
	uint8_t *out = malloc(1 << 20);
	size_t len = 0, got;
	bool done = false;

	subdir(dir, sizeof(dir), root, "snapshot");
	if (out == NULL || mkdtemp(tmp) == NULL || mdb_env_create(&env) != 0 ||
	    mdb_env_set_maxdbs(env, 10) != 0 || mdb_env_open(env, tmp, MDB_NOSYNC, 0600) != 0 ||
	    fsm_open(env, NULL, &fsm) != 0 || mdb_txn_begin(env, NULL, 0, &txn) != 0)
		exit(1);
	/* A configuration first, so that the UNLINK leaves an orphan (which
	 * the later commands on inode 2 act on, and node 1 releases). */
	static const uint64_t members[] = {1, 2, 3};
	if (fsm_apply_conf(fsm, txn, 1, members, 3) != 0)
		exit(1);
	for (unsigned i = 0; i < n; i++) {
		size_t cap = wire_cmd_encoded_max(&c[i]), clen;
		uint8_t *buf = malloc(cap);
		if (buf == NULL || wire_cmd_encode(&c[i], buf, cap, &clen) != 0 ||
		    fsm_apply(fsm, txn, i + 2, buf, clen, &res) != 0)
			exit(1);
		free(buf);
	}
	if (mdb_txn_commit(txn) != 0 || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 ||
	    fsm_snapshot_begin(fsm, txn, &snap, NULL) != 0)
		exit(1);
	while (!done) {
		if (fsm_snapshot_next_chunk(snap, out + len, (1 << 20) - len, &got, &done) != 0)
			exit(1);
		len += got;
	}
	fsm_snapshot_end(snap);
	mdb_txn_abort(txn);
	put(dir, "small-tree", out, len);
	fsm_close(fsm);
	mdb_env_close(env);
	snprintf(path, sizeof(path), "%s/data.mdb", tmp);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", tmp);
	unlink(path);
	rmdir(tmp);
	free(out);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen-corpus-tree DIR\n");
		return 2;
	}
	commands(argv[1]);
	coord_commands(argv[1]);
	admin(argv[1]);
	config(argv[1]);
	snapshot(argv[1]);
	return 0;
}
