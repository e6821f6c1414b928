/* bench_fsm_write.c: what applying a streamed file costs: 16 MiB in 4 KiB WRITEVs, per byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "quorumfs/fsm.h"
#include "quorumfs/wire_cmd.h"

/*
 * Not a test (a test never fails on a time): built for scripts/bench-store
 * and run by hand. Each WRITEV is applied in a transaction of its own, as
 * the daemon does when writes arrive one at a time (the slow case), on an
 * env opened MDB_NOSYNC: what is measured is apply and LMDB's page work, not
 * the disk's sync. "written" is what the process wrote (wchar of
 * /proc/self/io) per WRITEV: the pages each commit wrote.
 *
 *   bench-fsm-write [MiB] [write KiB]   (defaults 16 and 4)
 */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long wchar(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	unsigned long long v = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return v;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench-fsm-write: %s: %d\n", what, rc);
	exit(1);
}

static uint64_t apply(MDB_env *env, struct fsm *fsm, uint64_t index, struct wire_cmd *c)
{
	static uint8_t *buf;
	static size_t cap;
	struct fsm_result res;
	MDB_txn *txn;
	size_t len, need = wire_cmd_encoded_max(c);
	int rc;

	if (need > cap) {
		free(buf);
		cap = need;
		buf = malloc(cap);
		if (buf == NULL)
			die("malloc", -ENOMEM);
	}
	if ((rc = wire_cmd_encode(c, buf, cap, &len)) != 0)
		die("encode", rc);
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		die("begin", rc);
	if ((rc = fsm_apply(fsm, txn, index, buf, len, &res)) != 0 || res.err != 0)
		die("apply", rc ? rc : res.err);
	if ((rc = mdb_txn_commit(txn)) != 0)
		die("commit", rc);
	return res.attr.ino;
}

int main(int argc, char **argv)
{
	unsigned mib = argc > 1 ? (unsigned)atoi(argv[1]) : 16;
	unsigned kib = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
	size_t wsize = (size_t)kib << 10, total = (size_t)mib << 20, n = total / wsize;
	char dir[] = "/tmp/qfs-bench-fsm-XXXXXX", path[128];
	struct fsm_options o = {.max_value_size = total};
	uint8_t *chunk = malloc(wsize);
	MDB_env *env;
	struct fsm *fsm;
	struct stat st;
	int rc;

	if (chunk == NULL || mib == 0 || kib == 0 || mkdtemp(dir) == NULL)
		die("setup", -errno);
	for (size_t i = 0; i < wsize; i++)
		chunk[i] = (uint8_t)(i * 7 + 1);
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, (size_t)8 << 30)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_NOSYNC, 0600)) != 0 ||
	    (rc = fsm_open(env, &o, &fsm)) != 0)
		die("open", rc);

	struct wire_cmd c = {.type = WIRE_CMD_CREATE,
	                     .parent = FSM_ROOT_INO,
	                     .name = "f",
	                     .name_len = 1,
	                     .mode = 0644};
	uint64_t ino = apply(env, fsm, 1, &c);
	unsigned long long w0 = wchar();
	double t0 = now_s(), tlast = 0;
	for (size_t i = 0; i < n; i++) {
		struct wire_cmd_extent e = {i * wsize, chunk, wsize};
		struct wire_cmd w = {
		        .type = WIRE_CMD_WRITEV, .ino = ino, .extents = &e, .n_extents = 1};
		double ti = now_s();
		apply(env, fsm, 2 + i, &w);
		if (i == n - 1)
			tlast = now_s() - ti;
	}
	double el = now_s() - t0;
	unsigned long long written = wchar() - w0;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	stat(path, &st);
	printf("fsm format %d: %u MiB in %zu writes of %u KiB, one txn each\n", FSM_FORMAT_VERSION,
	       mib, n, kib);
	printf("  %.2f s, %.1f us per write (last one %.1f us), %.2f ns per byte\n", el,
	       el * 1e6 / (double)n, tlast * 1e6, el * 1e9 / (double)total);
	printf("  written %.1f MiB, %.1f KiB per write (%.2f bytes per byte written)\n",
	       written / 1048576.0, written / 1024.0 / (double)n, (double)written / (double)total);
	printf("  data.mdb %.1f MiB\n", st.st_size / 1048576.0);

	fsm_close(fsm);
	mdb_env_close(env);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	free(chunk);
	return 0;
}
