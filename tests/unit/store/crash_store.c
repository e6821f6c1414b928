/* crash_store.c: SIGKILL a writer at random moments; after each kill the store must reopen intact.
 *
 * The child appends batches of entries with the hard state and, in the same
 * transaction, moves an "applied" counter forward (as the daemon applies
 * commands), sometimes replaces an unapplied tail with a higher term, and
 * sometimes compacts. Between appends it often commits an apply alone (applied
 * and the hard state's commit move, nothing else) with STORE_NO_META_SYNC, as
 * the daemon's writer does, so durable and lazy commits alternate and the
 * kill lands in either. After each commit returns it reports (last, applied)
 * through a pipe: a lazy commit too must survive, since the kill is of the
 * process, not of the machine. The parent kills it at a random moment, reopens, and checks:
 * the environment opens; every entry verifies its checksum and content; the
 * indexes are contiguous from the base; terms never decrease; applied never
 * moves backwards; nothing reported committed is missing.
 *
 *   crash-store [seed [kills [seconds]]]   replays a seed exactly up to timing
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "quorumfs/errors.h"

static uint64_t seed;
static int kill_no;
static char root[256];

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr,                                                            \
			        "crash-store: FAILED after kill %d (seed %" PRIu64 "): ", kill_no, \
			        seed);                                                             \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n  replay: crash-store %" PRIu64 "\n", seed);            \
			rm_rf(root);                                                               \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

/* xorshift64*: small, seedable, the same on every machine. */
static uint64_t rnd(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * 2685821657736338717ull;
}

static size_t entry_len(uint64_t index)
{
	return 8 + (size_t)(index * 7 % 200);
}

static void entry_data(unsigned char *p, uint64_t index, uint64_t term)
{
	size_t n = entry_len(index);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(index * 31 + term * 17 + i);
}

static struct store_options crash_opts(void)
{
	struct store_options o = test_opts();
	o.initial_map_size = 1 << 20; /* growth happens under kills too */
	o.compact_batch = 100;        /* compaction crosses transactions */
	o.prealloc_bytes = 1 << 20;
	return o;
}

static uint64_t be64(const void *p)
{
	const unsigned char *b = p;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

struct batch {
	struct store *s;
	uint64_t *rng;
	uint64_t last, applied; /* out: as committed */
	struct store_entry e[256];
	unsigned char data[256][256];
};

/* What both kinds of commit start from: the log's bounds, the hard state
 * and the applied index this test keeps in meta. */
static int read_state(struct batch *b, MDB_txn *txn, uint64_t *first, uint64_t *last,
                      struct store_hard_state *hs, uint64_t *applied)
{
	const void *v;
	size_t len;
	int rc = store_txn_log_bounds(b->s, txn, first, last);
	if (rc == 0)
		rc = store_txn_hard_state_get(b->s, txn, hs);
	if (rc == 0)
		rc = store_txn_meta_get(b->s, txn, "test.applied", &v, &len);
	*applied = 0;
	if (rc == 0 && len == 8)
		*applied = be64(v);
	else if (rc != -ENOENT && rc != 0)
		return rc;
	return 0;
}

/* What both kinds of commit end with: the hard state, the applied index in
 * meta, and what the batch reports once committed. */
static int write_state(struct batch *b, MDB_txn *txn, const struct store_hard_state *hs,
                       uint64_t last, uint64_t applied)
{
	unsigned char av[8];
	int rc = store_txn_hard_state_put(b->s, txn, hs);
	for (int i = 0; i < 8; i++)
		av[i] = (unsigned char)(applied >> (56 - 8 * i));
	if (rc == 0)
		rc = store_txn_meta_put(b->s, txn, "test.applied", av, 8);
	b->last = last;
	b->applied = applied;
	return rc;
}

/* One group commit; re-runnable (store_write may run it again). */
static int batch_cb(MDB_txn *txn, void *arg)
{
	struct batch *b = arg;
	struct store_hard_state hs;
	uint64_t first, last, applied, start, term, rv = rnd(b->rng);
	size_t n;
	int rc = read_state(b, txn, &first, &last, &hs, &applied);
	if (rc != 0)
		return rc;
	term = hs.term ? hs.term : 1;
	start = last + 1;
	/* Now and then a new leader replaces the unapplied tail; the new last
	 * still goes past the old one, so reports stay comparable. */
	if (rv % 8 == 0 && last > applied) {
		start = last - 3 > applied ? last - 3 : applied + 1;
		term++;
	}
	n = (size_t)(last + 1 - start) + 1 + (size_t)(rv >> 8) % (rv % 16 == 1 ? 256 : 24);
	if (n > 256)
		n = 256;
	for (size_t i = 0; i < n; i++) {
		b->e[i].index = start + i;
		b->e[i].term = term;
		b->e[i].type = 1;
		b->e[i].len = entry_len(start + i);
		entry_data(b->data[i], start + i, term);
		b->e[i].data = b->data[i];
	}
	rc = store_txn_log_append(b->s, txn, b->e, n);
	if (rc != 0)
		return rc;
	last = start + n - 1;
	applied += (rv >> 20) % (last - applied + 1);
	hs.term = term;
	hs.vote = 1;
	hs.commit = applied;
	return write_state(b, txn, &hs, last, applied);
}

/* An apply alone: moves applied (and the commit hint) forward, up to the
 * last entry, with the term and vote left as they are. Re-runnable. */
static int apply_cb(MDB_txn *txn, void *arg)
{
	struct batch *b = arg;
	struct store_hard_state hs;
	uint64_t first, last, applied, rv = rnd(b->rng);
	int rc = read_state(b, txn, &first, &last, &hs, &applied);
	if (rc != 0)
		return rc;
	applied += rv % (last - applied + 1);
	hs.commit = applied;
	return write_state(b, txn, &hs, last, applied);
}

static void child(const char *dir, int fd, uint64_t rng)
{
	struct store_options o = crash_opts();
	static struct batch b;
	struct store *s;
	char err[256];
	uint64_t msg[2];

	if (store_open(dir, &o, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "child: %s\n", err);
		_exit(2);
	}
	b.s = s;
	b.rng = &rng;
	for (;;) {
		/* Half the commits, at random, are lazy applies (sometimes
		 * several in a row). */
		bool lazy = rnd(&rng) % 2 == 0;
		int rc = lazy ? store_write_flags(s, apply_cb, &b, STORE_NO_META_SYNC)
		              : store_write(s, batch_cb, &b);
		if (rc != 0) {
			fprintf(stderr, "child: store_write: %s\n",
			        store_errmsg(s, err, sizeof(err)));
			_exit(3);
		}
		msg[0] = b.last;
		msg[1] = b.applied;
		/* Reported only after the commit returned: it is durable, or
		 * (lazy) in the page cache, which outlives the process. */
		if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			_exit(4);
		if (rnd(&rng) % 16 == 0 && b.applied > 1500 &&
		    store_log_compact(s, b.applied - 1000) != 0)
			_exit(5);
	}
}

struct seen {
	uint64_t last, applied, base;
};

/* Reopens and checks everything; returns what it found. */
static struct seen verify(const char *dir, const struct seen *prev, const struct seen *reported)
{
	struct store_options o = crash_opts();
	struct store_hard_state hs;
	struct store_entry *e;
	struct store *s;
	struct seen now;
	uint64_t first, last, prev_term = 0, want;
	unsigned char buf[256];
	char err[256];
	size_t n, len;
	void *v;
	int rc;

	rc = store_open(dir, &o, &s, err, sizeof(err));
	CHECK(rc == 0, "reopen: %s", err);
	rc = store_log_bounds(s, &first, &last);
	CHECK(rc == 0, "bounds: %s", store_errmsg(s, err, sizeof(err)));
	rc = store_hard_state_get(s, &hs);
	CHECK(rc == 0, "hard state: %s", store_errmsg(s, err, sizeof(err)));
	rc = store_meta_get(s, "test.applied", &v, &len);
	now.applied = 0;
	if (rc == 0) {
		CHECK(len == 8, "applied of %zu bytes", len);
		now.applied = be64(v);
		free(v);
	} else {
		CHECK(rc == -ENOENT, "applied: %d", rc);
	}
	now.last = last;
	now.base = first - 1;
	CHECK(last >= reported->last, "last %" PRIu64 " < reported %" PRIu64, last, reported->last);
	CHECK(last >= prev->last, "last went back %" PRIu64 " -> %" PRIu64, prev->last, last);
	CHECK(now.applied >= reported->applied && now.applied >= prev->applied,
	      "applied went back: now %" PRIu64 ", reported %" PRIu64 ", before %" PRIu64,
	      now.applied, reported->applied, prev->applied);
	CHECK(now.applied <= last && hs.commit == now.applied,
	      "applied %" PRIu64 ", commit %" PRIu64 ", last %" PRIu64, now.applied, hs.commit,
	      last);
	CHECK(now.base >= prev->base, "base went back");
	if (first > 1) {
		rc = store_log_term(s, first - 1, &prev_term);
		CHECK(rc == 0, "base term: %d", rc);
	}
	for (want = first; want <= last; want += n) {
		rc = store_log_get(s, want, last, 1 << 20, &e, &n);
		CHECK(rc == 0, "get %" PRIu64 ": %s", want, store_errmsg(s, err, sizeof(err)));
		for (size_t i = 0; i < n; i++) {
			CHECK(e[i].index == want + i, "index %" PRIu64 " at %" PRIu64, e[i].index,
			      want + i);
			CHECK(e[i].term >= prev_term, "term fell at %" PRIu64, e[i].index);
			CHECK(e[i].term <= hs.term, "entry term above hard state term");
			entry_data(buf, e[i].index, e[i].term);
			CHECK(e[i].len == entry_len(e[i].index) &&
			              !memcmp(e[i].data, buf, e[i].len),
			      "content of %" PRIu64, e[i].index);
			prev_term = e[i].term;
		}
		free(e);
	}
	store_close(s);
	return now;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int kills = argc > 2 ? atoi(argv[2]) : 400;
	double budget = argc > 3 ? atof(argv[3]) : 40, t0 = now_s();
	struct seen prev = {0, 0, 0};
	uint64_t rng, commits = 0;
	char dir[300];

	seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	if (seed == 0)
		seed = 1;
	rng = seed;
	printf("crash-store: seed %" PRIu64 "\n", seed);
	snprintf(root, sizeof(root), "%s/qfs-crash-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/data", root);

	for (kill_no = 1; kill_no <= kills && now_s() - t0 < budget; kill_no++) {
		struct seen reported = {0, 0, 0};
		uint64_t msg[2], crng = rnd(&rng), want, got;
		struct timespec d;
		int p[2], status;
		pid_t pid;
		ssize_t r;

		CHECK(pipe(p) == 0, "pipe");
		fflush(stdout);
		pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0) {
			close(p[0]);
			child(dir, p[1], crng | 1);
		}
		close(p[1]);
		/* A quarter of the kills land early (open, recovery, the first
		 * commit). The rest wait for 1..30 reported commits, then a
		 * random sliver more, so the kill hits a commit in flight at
		 * any disk speed; the test's progress does not hang on time. */
		want = rnd(&rng) % 4 == 0 ? 0 : 1 + rnd(&rng) % 30;
		got = 0;
		while (got < want && (r = read(p[0], msg, sizeof(msg))) == (ssize_t)sizeof(msg)) {
			reported.last = msg[0];
			reported.applied = msg[1];
			got++;
		}
		d.tv_sec = 0;
		d.tv_nsec = (long)(rnd(&rng) % (want == 0 ? 3000000 : 1500000));
		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
		CHECK(WIFSIGNALED(status), "child exited by itself, status %d", status);
		while ((r = read(p[0], msg, sizeof(msg))) == (ssize_t)sizeof(msg)) {
			reported.last = msg[0];
			reported.applied = msg[1];
			got++;
		}
		commits += got;
		close(p[0]);
		CHECK(r == 0, "short report");
		prev = verify(dir, &prev, &reported);
	}
	printf("crash-store: %d kills, %" PRIu64 " commits reported, log (%" PRIu64 ", %" PRIu64
	       "], applied %" PRIu64 ", %.1f s\n",
	       kill_no - 1, commits, prev.base, prev.last, prev.applied, now_s() - t0);
	/* Not a time check: each kill waits for commits, so even a very slow
	 * disk gets this far within the budget unless something hangs. */
	CHECK(kill_no > 10, "only %d kills", kill_no - 1);
	CHECK(commits >= (uint64_t)(kill_no - 1) / 2, "only %" PRIu64 " commits", commits);
	rm_rf(root);
	return 0;
}
