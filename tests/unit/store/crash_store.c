/* crash_store.c: SIGKILL a writer at random moments; after each kill the store must reopen intact.
 *
 * The child works as the daemon's writer does: it appends batches of
 * entries with the hard state to the write-ahead log (one fdatasync each),
 * sometimes replacing an unapplied tail with a higher term (the truncation
 * and the new entries in one batch), then moves an "applied" counter in
 * LMDB forward with STORE_NO_META_SYNC, as the daemon applies commands. Now
 * and then it compacts the log (segments are tiny, so whole segments are
 * deleted under the kills) or installs a "snapshot": a durable LMDB commit
 * of the applied index and the snapshot's metadata, then a reset of the log
 * to it, so a kill between the two leaves what store_open() must repair.
 * After each call returns it reports (last, applied) through a pipe: a lazy
 * commit too must survive, since the kill is of the process, not of the
 * machine. The parent kills it at a random moment, reopens, and checks: the
 * store opens (every batch of the log verifies its checksums); every entry
 * verifies its content; the indexes are contiguous from the base; terms
 * never decrease; applied never moves backwards and never passes the log;
 * nothing reported is missing.
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
	o.prealloc_bytes = 1 << 20;
	o.wal_segment_bytes = 16 << 10; /* rollovers and segment deletions often */
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

static uint64_t applied_of(struct store *s)
{
	void *v;
	size_t len;
	uint64_t a = 0;
	if (store_meta_get(s, "test.applied", &v, &len) == 0) {
		if (len == 8)
			a = be64(v);
		free(v);
	}
	return a;
}

struct applied_arg {
	struct store *s;
	uint64_t applied;
	const struct store_snapshot_meta *sm; /* a snapshot's metadata too */
};

static int applied_cb(MDB_txn *txn, void *arg)
{
	struct applied_arg *a = arg;
	unsigned char av[8];
	for (int i = 0; i < 8; i++)
		av[i] = (unsigned char)(a->applied >> (56 - 8 * i));
	int rc = store_txn_meta_put(a->s, txn, "test.applied", av, 8);
	if (rc == 0 && a->sm != NULL)
		rc = store_txn_snapshot_meta_put(a->s, txn, a->sm);
	return rc;
}

/* One step of the writer: a batch to the log, then an apply. */
static int step(struct batch *b)
{
	struct store_hard_state hs;
	uint64_t first, last, start, term, rv = rnd(b->rng);
	uint64_t applied = applied_of(b->s);
	size_t n;
	int rc;

	store_log_bounds(b->s, &first, &last);
	store_hard_state_get(b->s, &hs);
	term = hs.term ? hs.term : 1;
	/* A kill between a reset and its hard state leaves the base's term
	 * above the hard state's. */
	uint64_t lt = 0;
	if (store_log_term(b->s, last, &lt) == 0 && lt > term)
		term = lt;
	start = last + 1;
	/* Now and then a new leader replaces the unapplied tail; the new last
	 * still goes past the old one, so reports stay comparable. */
	if (rv % 8 == 0 && last > applied) {
		start = last > applied + 3 ? last - 3 : applied + 1; /* no wrap below 3 */
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
	last = start + n - 1;
	hs.term = term;
	hs.vote = 1;
	hs.commit = applied;
	rc = store_append(b->s, b->e, n, &hs);
	if (rc != 0)
		return rc;
	b->last = last;
	/* Half the steps apply, lazily, as the daemon's writer does. */
	if (rnd(b->rng) % 2 == 0) {
		struct applied_arg a = {b->s, applied + (rv >> 20) % (last - applied + 1), NULL};
		rc = store_write_flags(b->s, applied_cb, &a, STORE_NO_META_SYNC);
		if (rc != 0)
			return rc;
		applied = a.applied;
	}
	b->applied = applied;
	return 0;
}

/* A snapshot installed past the log's end, as a lagging follower gets
 * one: the tree (here the applied index) and the metadata durably, then
 * the log reset to it. */
static int install(struct batch *b)
{
	uint64_t first, last, term = 0;
	store_log_bounds(b->s, &first, &last);
	store_log_term(b->s, last, &term);
	struct store_snapshot_meta sm = {last + 7, term + 1, (void *)"conf", 4};
	struct applied_arg a = {b->s, sm.index, &sm};
	int rc = store_write(b->s, applied_cb, &a);
	if (rc == 0)
		rc = store_log_reset(b->s, sm.index, sm.term);
	if (rc == 0) {
		struct store_hard_state hs;
		store_hard_state_get(b->s, &hs);
		hs.term = sm.term;
		rc = store_hard_state_put(b->s, &hs);
	}
	b->last = b->applied = sm.index;
	return rc;
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
		int rc = rnd(&rng) % 64 == 0 ? install(&b) : step(&b);
		if (rc != 0) {
			fprintf(stderr, "child: %s\n", store_errmsg(s, err, sizeof(err)));
			_exit(3);
		}
		msg[0] = b.last;
		msg[1] = b.applied;
		/* Reported only after the commit returned: it is durable, or
		 * (lazy) in the page cache, which outlives the process. */
		if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			_exit(4);
		if (rnd(&rng) % 8 == 0 && b.applied > 300 &&
		    store_log_compact(s, b.applied - 200) != 0) {
			fprintf(stderr, "child: compact: %s\n", store_errmsg(s, err, sizeof(err)));
			_exit(5);
		}
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
	CHECK(now.applied <= last && hs.commit <= last,
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
