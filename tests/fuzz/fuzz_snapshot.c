/* fuzz_snapshot.c: libFuzzer target for installing a snapshot received from a peer. */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quorumfs/errors.h"
#include "quorumfs/fsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/qfs-fuzz-snap-XXXXXX";
static int have_dir;

static void remove_dir(void)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

/* An environment per input: LMDB keeps its free-page list in the environment
 * across transactions, and leak detection would charge it to whichever input
 * first grew it. Closed at the end of the input, everything is freed. */
static void open_env(MDB_env **env, struct fsm **fsm)
{
	if (!have_dir) {
		if (mkdtemp(dir) == NULL)
			abort();
		have_dir = 1;
		atexit(remove_dir);
	}
	if (mdb_env_create(env) != 0 || mdb_env_set_maxdbs(*env, 10) != 0 ||
	    mdb_env_set_mapsize(*env, 1ull << 30) != 0 ||
	    mdb_env_open(*env, dir, MDB_NOSYNC, 0600) != 0 || fsm_open(*env, NULL, fsm) != 0)
		abort();
}

struct input {
	const uint8_t *p;
	size_t left;
};

/* Serves the input in pieces of at most 1000 bytes, like chunks from a peer. */
static long read_input(void *arg, void *buf, size_t cap)
{
	struct input *in = arg;
	size_t n = cap < in->left ? cap : in->left;
	if (n > 1000)
		n = 1000;
	memcpy(buf, in->p, n);
	in->p += n;
	in->left -= n;
	return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MDB_env *env;
	MDB_txn *txn;
	struct fsm *fsm;
	uint64_t applied = 0;
	struct input in = {data, size};

	open_env(&env, &fsm);
	if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
		abort();
	int rc = fsm_snapshot_install(fsm, txn, read_input, &in, &applied);
	mdb_txn_abort(txn);
	fsm_close(fsm);
	mdb_env_close(env);
	/* A damaged snapshot is refused (the old tree stays); never a crash. */
	if (rc != 0 && rc != QFS_ECORRUPT && rc != QFS_EFORMAT && rc != -ENOMEM &&
	    rc != FSM_EMAPFULL && rc != FSM_ETXNFULL)
		abort();
	return 0;
}
