/* crash_fsm.c: SIGKILL a process applying block writes, holes and truncations; the tree must hold.
 *
 * The child applies a seeded log to a durable env (no MDB_NOSYNC), a few
 * entries per transaction, and reports each committed index through a
 * pipe. Each command is a function of the seed and its index alone, so the
 * log is known without the child: WRITEVs of extents over a 256 KiB range
 * (many blocks, gaps left as holes, blocks cut and written again),
 * ftruncate-like SET_SIZEs both ways, O_TRUNC republishes, appends. The
 * parent kills it at a random moment, reopens, and checks: fsm_open
 * succeeds; applied >= the last reported index; the tree is byte for byte
 * the one a reference gets by applying the same entries up to applied; and
 * every file's blocks agree with its attributes (no stored byte at or past
 * its size, st_blocks the sum of what is stored). Then the child resumes
 * from applied + 1.
 *
 *   crash-fsm [seed [kills [seconds]]]   replays a seed exactly up to timing
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#define FILES     4
#define MAX_VALUE (256u << 10)

static uint64_t seed;
static int kill_no;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr,                                                            \
			        "crash-fsm: FAILED after kill %d (seed %" PRIu64 "): ", kill_no,   \
			        seed);                                                             \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n  replay: crash-fsm %" PRIu64 "\n", seed);              \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint8_t payload[64 << 10];

/* The command of log index @i, encoded into @buf (cap >= 128 KiB). */
static size_t entry(uint64_t i, uint8_t *buf, size_t cap)
{
	uint64_t r = mix(seed ^ mix(i));
	struct wire_cmd_extent ext[3];
	struct wire_cmd c = {.time_ns = (int64_t)i * 1000, .uid = 1, .gid = 1};
	char name[2] = {(char)('a' + i - 1), 0};
	size_t len;

	if (i <= FILES) {
		c.type = WIRE_CMD_CREATE; /* inodes 2 .. FILES + 1 */
		c.parent = FSM_ROOT_INO;
		c.name = name;
		c.name_len = 1;
		c.mode = 0644;
	} else {
		c.ino = 2 + (r >> 8) % FILES;
		c.type = WIRE_CMD_WRITEV;
		switch (r % 8) {
		case 0:
			c.flags = WIRE_WRITEV_SET_SIZE; /* a cut or a hole */
			c.size = (r >> 16) % MAX_VALUE;
			break;
		case 1:
			c.flags = WIRE_WRITEV_TRUNCATE; /* republished whole below */
			break;
		case 2:
			c.flags = WIRE_WRITEV_APPEND;
			break;
		default:
			break;
		}
		c.n_extents = (c.flags & WIRE_WRITEV_SET_SIZE) ? 0 : 1 + (r >> 20) % 3;
		for (size_t k = 0; k < c.n_extents; k++) {
			uint64_t x = mix(r + k);
			ext[k].len = 1 + x % 20000;
			ext[k].offset = (x >> 20) % (MAX_VALUE - ext[k].len);
			ext[k].data = payload + (x >> 40) % (sizeof(payload) - ext[k].len);
		}
		c.extents = ext;
	}
	if (wire_cmd_encode(&c, buf, cap, &len) != 0)
		abort();
	return len;
}

static void open_env(const char *dir, MDB_env **env, struct fsm **fsm, unsigned flags)
{
	struct fsm_options o = {.max_value_size = MAX_VALUE};
	int rc;
	CHECK(mdb_env_create(env) == 0, "env create");
	mdb_env_set_maxdbs(*env, 10);
	mdb_env_set_mapsize(*env, (size_t)1 << 30);
	rc = mdb_env_open(*env, dir, flags, 0600);
	CHECK(rc == 0, "env open: %s", mdb_strerror(rc));
	rc = fsm_open(*env, &o, fsm);
	CHECK(rc == 0, "fsm_open: %d", rc);
}

static uint8_t ebuf[128 << 10];

/* Applies entries @from..@to in transactions of 1..8; reports each commit. */
static void apply_range(MDB_env *env, struct fsm *fsm, uint64_t from, uint64_t to, int report,
                        uint64_t *rng)
{
	while (from <= to) {
		MDB_txn *txn;
		uint64_t n = 1 + (rng ? (*rng = mix(*rng)) % 8 : 7);
		CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0, "begin");
		for (; n > 0 && from <= to; n--, from++) {
			struct fsm_result res;
			size_t len = entry(from, ebuf, sizeof(ebuf));
			int rc = fsm_apply(fsm, txn, from, ebuf, len, &res);
			CHECK(rc == 0, "apply %" PRIu64 ": %d", from, rc);
		}
		CHECK(mdb_txn_commit(txn) == 0, "commit");
		if (report >= 0) {
			uint64_t done = from - 1;
			if (write(report, &done, sizeof(done)) != (ssize_t)sizeof(done))
				_exit(3);
		}
	}
}

static void child(const char *dir, int report, uint64_t rng)
{
	MDB_env *env;
	struct fsm *fsm;
	uint64_t applied;
	open_env(dir, &env, &fsm, 0);
	CHECK(fsm_applied(fsm, NULL, &applied) == 0, "applied");
	apply_range(env, fsm, applied + 1, UINT64_MAX / 2, report, &rng);
	_exit(0);
}

/* Every file's stored blocks against its attributes. */
static void check_blocks(MDB_env *env, struct fsm *fsm)
{
	MDB_txn *txn;
	MDB_dbi data;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t units[FILES + 2] = {0};
	struct fsm_attr a[FILES + 2];

	CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0, "begin read");
	for (uint64_t ino = 2; ino < FILES + 2; ino++)
		CHECK(fsm_getattr(fsm, txn, ino, &a[ino]) == 0, "getattr %" PRIu64, ino);
	CHECK(mdb_dbi_open(txn, "data", 0, &data) == 0, "dbi");
	CHECK(mdb_cursor_open(txn, data, &cur) == 0, "cursor");
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		const uint8_t *p = k.mv_data;
		uint64_t ino = 0, blk = 0;
		CHECK(k.mv_size == 17 && p[8] == 1, "a data record that is not a block");
		for (int i = 0; i < 8; i++) {
			ino = ino << 8 | p[i];
			blk = blk << 8 | p[9 + i];
		}
		CHECK(ino >= 2 && ino < FILES + 2, "block of inode %" PRIu64, ino);
		CHECK(v.mv_size >= 1 && v.mv_size <= FSM_BLOCK_SIZE, "block of %zu bytes",
		      v.mv_size);
		CHECK(blk * FSM_BLOCK_SIZE + v.mv_size <= a[ino].size,
		      "inode %" PRIu64 ": block %" PRIu64 " passes size %" PRIu64, ino, blk,
		      a[ino].size);
		units[ino] += (v.mv_size + 511) / 512;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	for (uint64_t ino = 2; ino < FILES + 2; ino++)
		CHECK(units[ino] == a[ino].blocks,
		      "inode %" PRIu64 ": blocks %" PRIu64 ", stored %" PRIu64, ino, a[ino].blocks,
		      units[ino]);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int kills = argc > 2 ? atoi(argv[2]) : 200;
	double budget = argc > 3 ? atof(argv[3]) : 10, t0 = now_s();
	uint64_t rng, reported = 0, ref_applied = 0, commits = 0;
	struct tenv ref, live;
	char dir[64];

	seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	rng = seed | 1;
	printf("crash-fsm: seed %" PRIu64 "\n", seed);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(mix(i) >> 56) | 1;
	tenv_open(&ref, &(struct fsm_options){.max_value_size = MAX_VALUE}, 0);
	snprintf(dir, sizeof(dir), "/tmp/qfs-crash-fsm-XXXXXX");
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");

	for (kill_no = 1; kill_no <= kills && now_s() - t0 < budget; kill_no++) {
		int p[2], status;
		uint64_t msg, want = (rng = mix(rng)) % 4 == 0 ? 0 : 1 + rng % 20, got = 0;
		struct timespec d = {0, (long)((rng = mix(rng)) % 2000000)};
		uint64_t applied;
		pid_t pid;

		CHECK(pipe(p) == 0, "pipe");
		fflush(stdout);
		pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0) {
			close(p[0]);
			child(dir, p[1], mix(rng));
		}
		close(p[1]);
		while (got < want && read(p[0], &msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
			reported = msg;
			got++;
		}
		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status), "child status %d",
		      status);
		while (read(p[0], &msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
			reported = msg;
			got++;
		}
		close(p[0]);
		commits += got;

		memset(&live, 0, sizeof(live));
		open_env(dir, &live.env, &live.fsm, 0);
		CHECK(fsm_applied(live.fsm, NULL, &applied) == 0, "applied");
		CHECK(applied >= reported, "applied %" PRIu64 " < reported %" PRIu64, applied,
		      reported);
		apply_range(ref.env, ref.fsm, ref_applied + 1, applied, -1, NULL);
		ref_applied = applied;
		if (applied > FILES)
			check_blocks(live.env, live.fsm);
		CHECK(tenv_digest(&live) == tenv_digest(&ref),
		      "the tree at %" PRIu64 " differs from the reference", applied);
		fsm_close(live.fsm);
		mdb_env_close(live.env);
	}
	printf("crash-fsm: %d kills, %" PRIu64 " commits reported, applied %" PRIu64 ", %.1f s\n",
	       kill_no - 1, commits, ref_applied, now_s() - t0);
	CHECK(kill_no > 5 && ref_applied > 100, "only %d kills, %" PRIu64 " applied", kill_no - 1,
	      ref_applied);
	tenv_close(&ref);
	{
		char path[128];
		snprintf(path, sizeof(path), "%s/data.mdb", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/lock.mdb", dir);
		unlink(path);
		rmdir(dir);
	}
	return 0;
}
