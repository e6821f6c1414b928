/* fuzz_snapshot.c: libFuzzer target for installing a snapshot received from a peer. */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "quorumfs/errors.h"
#include "quorumfs/fsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In the working directory (run-fuzzers.sh runs each target in its output
 * directory under build-fuzz), so that a run that aborts on a finding
 * leaves its environment beside the finding, not in /tmp. */
static char dir[] = "qfs-fuzz-snap-XXXXXX";
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MDB_env *env;
	MDB_txn *txn;
	struct fsm *fsm;
	uint64_t applied = 0;

	/* The daemon stages received chunks in a file and installs from it,
	 * verifying the whole file before it writes (fsm_snapshot_install_fd):
	 * that is the path fuzzed here. */
	int fd = memfd_create("snapshot", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	open_env(&env, &fsm);
	if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
		abort();
	int rc = fsm_snapshot_install_fd(fsm, txn, fd, &applied);
	close(fd);
	mdb_txn_abort(txn);
	fsm_close(fsm);
	mdb_env_close(env);
	/* A damaged snapshot is refused (the old tree stays); never a crash. */
	if (rc != 0 && rc != QFS_ECORRUPT && rc != QFS_EFORMAT && rc != -ENOMEM &&
	    rc != QFS_EMAPFULL && rc != -E2BIG)
		abort();
	return 0;
}
