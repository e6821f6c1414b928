/* bench_blocks.c: the measurement behind the fsm's block size: LMDB's cost of each candidate. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

/*
 * Not a test. For each candidate block size B, on raw LMDB (4 KiB pages),
 * keys (ino, block number) as the fsm keys them:
 *   - stream: 16 MiB written in 4 KiB writes, one transaction each (a block
 *     partly covered is read, patched and put back, as apply does);
 *   - gathered: the same 16 MiB in one transaction (a WRITEV at close);
 *   - small: 1000 files of 10 bytes (a last block is stored short).
 * Reports time, bytes the process wrote per write (wchar: the pages each
 * commit wrote) and the pages the data occupies. docs/storage-format.md
 * quotes its output.  Usage: bench-fsm-blocks
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

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_ != 0) {                                                                    \
			fprintf(stderr, "%s: %s\n", #x, mdb_strerror(rc_));                        \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static void key(uint8_t k[16], uint64_t ino, uint64_t blk)
{
	for (int i = 0; i < 8; i++) {
		k[i] = (uint8_t)(ino >> (56 - 8 * i));
		k[8 + i] = (uint8_t)(blk >> (56 - 8 * i));
	}
}

/* Writes @len bytes at @off of file @ino in blocks of @bs. */
static void write_at(MDB_txn *txn, MDB_dbi dbi, size_t bs, uint64_t ino, uint64_t off,
                     const uint8_t *p, size_t len, uint8_t *scratch)
{
	while (len > 0) {
		uint64_t blk = off / bs;
		size_t in = (size_t)(off % bs), n = bs - in < len ? bs - in : len, have = 0;
		uint8_t kb[16];
		MDB_val k = {16, kb}, v;
		key(kb, ino, blk);
		if (in != 0 || n != bs) {
			if (mdb_get(txn, dbi, &k, &v) == 0) {
				have = v.mv_size;
				memcpy(scratch, v.mv_data, have);
			}
		}
		if (have < in)
			memset(scratch + have, 0, in - have);
		memcpy(scratch + in, p, n);
		v.mv_size = in + n > have ? in + n : have;
		v.mv_data = scratch;
		CHECK(mdb_put(txn, dbi, &k, &v, 0));
		off += n;
		p += n;
		len -= n;
	}
}

static size_t pages(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_stat st;
	CHECK(mdb_stat(txn, dbi, &st));
	return st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
}

static void run(size_t bs)
{
	char dir[] = "/tmp/qfs-bench-blocks-XXXXXX", path[128];
	static uint8_t chunk[4096];
	uint8_t *scratch = malloc(bs);
	const size_t total = 16u << 20, n = total / sizeof(chunk);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	double t0, ts, tg;
	unsigned long long w0, ws, wg;
	size_t pstream, psmall;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 7 + 1);
	if (scratch == NULL || mkdtemp(dir) == NULL)
		exit(1);
	CHECK(mdb_env_create(&env));
	CHECK(mdb_env_set_maxdbs(env, 4));
	CHECK(mdb_env_set_mapsize(env, (size_t)4 << 30));
	CHECK(mdb_env_open(env, dir, MDB_NOSYNC, 0600));
	CHECK(mdb_txn_begin(env, NULL, 0, &txn));
	CHECK(mdb_dbi_open(txn, "data", MDB_CREATE, &dbi));
	CHECK(mdb_txn_commit(txn));

	/* stream: file 2, one txn per 4 KiB write */
	w0 = wchar();
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		CHECK(mdb_txn_begin(env, NULL, 0, &txn));
		write_at(txn, dbi, bs, 2, i * sizeof(chunk), chunk, sizeof(chunk), scratch);
		CHECK(mdb_txn_commit(txn));
	}
	ts = now_s() - t0;
	ws = wchar() - w0;
	CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
	pstream = pages(txn, dbi);
	mdb_txn_abort(txn);

	/* gathered: file 3, all of it in one txn */
	w0 = wchar();
	t0 = now_s();
	CHECK(mdb_txn_begin(env, NULL, 0, &txn));
	for (size_t i = 0; i < n; i++)
		write_at(txn, dbi, bs, 3, i * sizeof(chunk), chunk, sizeof(chunk), scratch);
	CHECK(mdb_txn_commit(txn));
	tg = now_s() - t0;
	wg = wchar() - w0;

	/* small: 1000 files of 10 bytes */
	CHECK(mdb_txn_begin(env, NULL, 0, &txn));
	size_t before = pages(txn, dbi);
	for (uint64_t f = 0; f < 1000; f++)
		write_at(txn, dbi, bs, 100 + f, 0, chunk, 10, scratch);
	psmall = pages(txn, dbi) - before;
	CHECK(mdb_txn_commit(txn));

	printf("%6zu | %7.1f us %8.1f KiB | %6.2f s %7.1f MiB | %6.1f MiB | %5.0f B\n", bs,
	       ts * 1e6 / (double)n, ws / 1024.0 / (double)n, tg, wg / 1048576.0,
	       pstream * 4096.0 / 1048576.0, psmall * 4096.0 / 1000.0);
	mdb_env_close(env);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	free(scratch);
}

int main(void)
{
	static const size_t sizes[] = {2016, 4080, 4096, 16368, 16384, 65520, 65536};
	printf("block  | stream: per 4 KiB write    | gathered: 16 MiB    | 16 MiB in | 10-byte "
	       "file\n");
	printf("       | time       written         | time     written    | pages     | "
	       "pages/file\n");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		run(sizes[i]);
	return 0;
}
