/* test_fsm_determinism.c: a seeded 100,000-entry log gives byte-identical stores. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "helpers.h"
#include "quorumfs/errors.h"

#define ENTRIES 100000
#define BATCH   1000 /* commands per write transaction, as store_write batches */
#define RING    64

/* splitmix64: the seed alone decides the log. */
static uint64_t rng;
static uint64_t next(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static uint64_t below(uint64_t n)
{
	return next() % n;
}

/* Inodes the log has seen created: picked often, so that many commands
 * hit something real (and some hit what was since removed). */
struct ring {
	uint64_t v[RING];
	int n, at;
};
static void ring_add(struct ring *r, uint64_t ino)
{
	r->v[r->at] = ino;
	r->at = (r->at + 1) % RING;
	if (r->n < RING)
		r->n++;
}
static uint64_t ring_pick(const struct ring *r, uint64_t max_ino)
{
	if (r->n == 0 || below(10) < 2)
		return 1 + below(max_ino + 2); /* anything, valid or not */
	return r->v[below((uint64_t)r->n)];
}

static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
static const char *const xnames[] = {"user.x", "user.y", "user.z", "trusted.t"};

struct gen {
	struct ring dirs, files;
	uint64_t max_ino;
	uint64_t serial[5]; /* per client 1..4 */
	int64_t clock;
	char data[4096];
	struct wire_cmd_extent ext[4];
	uint8_t inos[8 * 3];
	uint64_t res_next, res_end; /* inode numbers a CREATE_WRITEV reserved */
};

static void pick_name(struct wire_cmd *c)
{
	c->name = names[below(8)];
	c->name_len = 1;
}

/* Fills @c with a random command over the small namespace. */
static void generate(struct gen *g, struct wire_cmd *c)
{
	static const int weights[WIRE_CMD_TYPE_MAX + 1] = {
	        [WIRE_CMD_CREATE] = 15, [WIRE_CMD_WRITE] = 12,   [WIRE_CMD_APPEND] = 8,
	        [WIRE_CMD_SETATTR] = 8, [WIRE_CMD_MKDIR] = 10,   [WIRE_CMD_UNLINK] = 10,
	        [WIRE_CMD_RMDIR] = 8,   [WIRE_CMD_RENAME] = 12,  [WIRE_CMD_SYMLINK] = 4,
	        [WIRE_CMD_LINK] = 4,    [WIRE_CMD_SETXATTR] = 5, [WIRE_CMD_REMOVEXATTR] = 3,
	        [WIRE_CMD_WRITEV] = 14, [WIRE_CMD_MKNOD] = 5,    [WIRE_CMD_ORPHAN_RELEASE] = 8,
	        [WIRE_CMD_CREATE_WRITEV] = 12,
	};
	static const uint32_t mknod_types[] = {S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR,
	                                       S_IFBLK, S_IFDIR, 0};
	int total = 0;
	for (int t = 1; t <= WIRE_CMD_TYPE_MAX; t++)
		total += weights[t];
	int w = (int)below((uint64_t)total), type = 1;
	while (w >= weights[type])
		w -= weights[type++];

	memset(c, 0, sizeof(*c));
	c->type = (enum wire_cmd_type)type;
	c->time_ns = g->clock += (int64_t)below(1000000);
	c->uid = (uint32_t)below(3) * 1000;
	c->gid = (uint32_t)below(3);
	if (below(2)) {
		uint64_t cl = 1 + below(4);
		uint64_t r = below(100);
		if (r < 10 && g->serial[cl] > 0)
			c->serial = g->serial[cl]; /* a retry */
		else if (r < 13 && g->serial[cl] > 1)
			c->serial = g->serial[cl] - 1; /* a late duplicate */
		else
			c->serial = ++g->serial[cl];
		c->client_id = cl;
	}
	c->parent = ring_pick(&g->dirs, g->max_ino);
	pick_name(c);
	c->ino = ring_pick(&g->files, g->max_ino);
	c->data = g->data;
	c->data_len = below(10) == 0 ? below(sizeof(g->data)) : below(48);
	c->mode = (uint32_t)below(01000);
	switch (c->type) {
	case WIRE_CMD_CREATE:
		c->flags = (uint32_t)below(4);
		break;
	case WIRE_CMD_WRITE:
		c->offset = below(100);
		c->flags = (uint32_t)below(2);
		break;
	case WIRE_CMD_SETATTR:
		c->attr.valid = (uint32_t)below(WIRE_ATTR_ALL + 1);
		c->attr.mode = (uint32_t)below(010000);
		c->attr.uid = (uint32_t)below(5);
		c->attr.size = below(10) == 0 ? below(5 * FSM_BLOCK_SIZE) : below(200);
		c->attr.atime_ns = (int64_t)below(1000);
		c->attr.mtime_ns = (int64_t)below(1000);
		c->attr.ctime_ns = (int64_t)below(1000);
		break;
	case WIRE_CMD_RENAME:
		c->new_parent = ring_pick(&g->dirs, g->max_ino);
		c->new_name = names[below(8)];
		c->new_name_len = 1;
		c->flags = below(4) == 0 ? (uint32_t)below(4) : 0;
		break;
	case WIRE_CMD_SYMLINK:
		c->data_len = below(20);
		break;
	case WIRE_CMD_WRITEV:
		/* Extents over a small range, so they overlap, leave gaps, and
		 * sometimes pass the limit together. */
		c->flags = (uint32_t)below(16);
		c->size = below(10) == 0 ? below(5 * FSM_BLOCK_SIZE) : below(300);
		c->n_extents = below(5);
		if (c->n_extents == 0 &&
		    !(c->flags & (WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_SET_SIZE)))
			c->flags |= WIRE_WRITEV_SET_SIZE;
		for (size_t i = 0; i < c->n_extents; i++) {
			size_t len = below(8) == 0 ? 1 + below(1200) : 1 + below(48);
			/* Sometimes blocks away: holes, block boundaries. */
			g->ext[i].offset = below(10) == 0 ? below(5 * FSM_BLOCK_SIZE) : below(300);
			g->ext[i].data = g->data + below(sizeof(g->data) - len);
			g->ext[i].len = len;
		}
		c->extents = g->ext;
		break;
	case WIRE_CMD_CREATE_WRITEV:
		/* A reserved number (the usual case), the counter's, or one
		 * that is taken or was never reserved (refused). */
		c->flags = (uint32_t)below(16) | (below(4) == 0 ? WIRE_CREATE_WRITEV_EXCL : 0);
		c->size = below(300);
		c->ino = g->res_next < g->res_end && below(4) != 0 ? g->res_next++
		         : below(2)                              ? 0
		                                                 : c->ino;
		c->offset = below(4) == 0 ? below(5) : 0;
		c->n_extents = below(3);
		for (size_t i = 0; i < c->n_extents; i++) {
			size_t len = 1 + below(48);
			g->ext[i].offset = below(300);
			g->ext[i].data = g->data + below(sizeof(g->data) - len);
			g->ext[i].len = len;
		}
		c->extents = g->ext;
		break;
	case WIRE_CMD_ORPHAN_RELEASE: {
		/* Inodes the log made (some orphans, some not), by members and
		 * by a node that never was one. */
		size_t n = 1 + below(3);
		c->co.node = 1 + below(5);
		for (size_t i = 0; i < n; i++) {
			uint64_t ino = ring_pick(&g->files, g->max_ino);
			for (int b = 0; b < 8; b++)
				g->inos[8 * i + b] = (uint8_t)(ino >> (56 - 8 * b));
		}
		c->data = g->inos;
		c->data_len = 8 * n;
		break;
	}
	case WIRE_CMD_MKNOD:
		c->mode |= mknod_types[below(7)];
		c->rdev = below(3) == 0 ? next() : 0;
		break;
	case WIRE_CMD_SETXATTR:
	case WIRE_CMD_REMOVEXATTR:
		/* Half on the root, so sets and removes meet often. */
		c->ino = below(2)   ? FSM_ROOT_INO
		         : below(2) ? ring_pick(&g->dirs, g->max_ino)
		                    : c->ino;
		c->name = xnames[below(4)];
		c->name_len = strlen(c->name);
		c->flags = c->type == WIRE_CMD_SETXATTR ? (uint32_t)below(4) : 0;
		break;
	default:
		break;
	}
}

/* Learns the inodes a successful command made. */
static void learn(struct gen *g, const struct wire_cmd *c, const struct fsm_result *r)
{
	if (r->err != 0 || r->duplicate)
		return;
	if (r->attr.ino > g->max_ino)
		g->max_ino = r->attr.ino;
	if (c->type == WIRE_CMD_MKDIR)
		ring_add(&g->dirs, r->attr.ino);
	else if (c->type == WIRE_CMD_CREATE || c->type == WIRE_CMD_SYMLINK ||
	         c->type == WIRE_CMD_MKNOD || c->type == WIRE_CMD_CREATE_WRITEV)
		ring_add(&g->files, r->attr.ino);
	if (c->type == WIRE_CMD_CREATE_WRITEV && r->offset != 0) {
		g->res_next = r->offset;
		g->res_end = r->offset + c->offset;
	}
}

/* Entry kinds beyond commands: Raft no-ops and garbage entries. */
/* E_CONF: a configuration entry of a random subset of members 1..4. */
enum { E_CMD, E_NOOP, E_JUNK, E_CONF };

struct entry {
	int kind;
	uint64_t ids[4];
	size_t n_ids;
	uint8_t *buf;
	size_t len;
	struct fsm_result res; /* from store A */
};

static uint8_t *snapshot_bytes(struct tenv *t, size_t *len)
{
	struct fsm_snapshot *s;
	uint8_t *all = NULL;
	size_t n = 0, got, cap = 1 << 16;
	bool done = false;
	assert_int_equal(fsm_snapshot_begin(t->fsm, NULL, &s, NULL), 0);
	while (!done) {
		all = realloc(all, n + cap);
		assert_int_equal(fsm_snapshot_next_chunk(s, all + n, cap, &got, &done), 0);
		n += got;
	}
	fsm_snapshot_end(s);
	*len = n;
	return all;
}

static long mem_read(void *arg, void *buf, size_t cap, uint64_t off)
{
	uint8_t **p = arg; /* [start, end] */
	size_t len = (size_t)(p[1] - p[0]);
	size_t k = off < len ? len - (size_t)off : 0;
	if (k > cap)
		k = cap;
	memcpy(buf, p[0] + off, k);
	return (long)k;
}

static void random_log_gives_identical_stores(void **state)
{
	/* Files of up to 5 blocks: writes across block boundaries, holes,
	 * cuts inside and between blocks; EFBIG still often. */
	struct fsm_options o = {.session_expiry = 3000, .max_value_size = 4 * FSM_BLOCK_SIZE};
	static struct entry log[BATCH];
	struct gen *g = calloc(1, sizeof(*g));
	int ok[WIRE_CMD_TYPE_MAX + 1] = {0}, failed[WIRE_CMD_TYPE_MAX + 1] = {0};
	int dups = 0, stale = 0, junk = 0, confs = 0;
	struct tenv a, b, c;
	struct timespec t0, t1;
	uint64_t index = 0;
	(void)state;

	rng = 20240611;
	for (size_t i = 0; i < sizeof(g->data); i++)
		g->data[i] = (char)('a' + i % 26);
	tenv_open(&a, &o, 0);
	tenv_open(&b, &o, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int batch = 0; batch < ENTRIES / BATCH; batch++) {
		MDB_txn *ta, *tb;
		assert_int_equal(mdb_txn_begin(a.env, NULL, 0, &ta), 0);
		/* Store A: generate, encode, apply, learn from the results. */
		for (int i = 0; i < BATCH; i++) {
			struct entry *e = &log[i];
			struct wire_cmd cmd;
			uint64_t r = below(100);
			e->kind = r < 2 ? E_NOOP : r < 3 ? E_JUNK : r < 4 ? E_CONF : E_CMD;
			e->len = 0;
			index++;
			if (e->kind == E_NOOP) {
				assert_int_equal(fsm_apply_noop(a.fsm, ta, index), 0);
				continue;
			}
			if (e->kind == E_CONF) {
				/* Mostly all four, sometimes fewer: members leave
				 * and come back while files wait for them. */
				uint64_t keep = below(3) ? 15 : 1 + below(15);
				e->n_ids = 0;
				for (uint64_t id = 1; id <= 4; id++)
					if (keep & (1u << (id - 1)))
						e->ids[e->n_ids++] = id;
				assert_int_equal(fsm_apply_conf(a.fsm, ta, index, e->ids, e->n_ids),
				                 0);
				confs++;
				continue;
			}
			generate(g, &cmd);
			e->buf = realloc(e->buf, wire_cmd_encoded_max(&cmd));
			assert_int_equal(
			        wire_cmd_encode(&cmd, e->buf, wire_cmd_encoded_max(&cmd), &e->len),
			        0);
			if (e->kind == E_JUNK)
				e->len = below(e->len); /* a cut entry: does not decode */
			assert_int_equal(fsm_apply(a.fsm, ta, index, e->buf, e->len, &e->res), 0);
			if (e->kind == E_JUNK) {
				assert_int_equal(e->res.err, QFS_EPROTO);
				junk++;
				continue;
			}
			learn(g, &cmd, &e->res);
			if (e->res.duplicate)
				dups++;
			else if (e->res.err == QFS_ESTALE)
				stale++;
			else if (e->res.err == 0)
				ok[cmd.type]++;
			else
				failed[cmd.type]++;
		}
		assert_int_equal(mdb_txn_commit(ta), 0);
		/* Store B: the same entries, bytes only, in other transaction
		 * sizes; results must agree. */
		index -= BATCH;
		assert_int_equal(mdb_txn_begin(b.env, NULL, 0, &tb), 0);
		for (int i = 0; i < BATCH; i++) {
			struct fsm_result res;
			index++;
			if (log[i].kind == E_NOOP) {
				assert_int_equal(fsm_apply_noop(b.fsm, tb, index), 0);
				continue;
			}
			if (log[i].kind == E_CONF) {
				assert_int_equal(
				        fsm_apply_conf(b.fsm, tb, index, log[i].ids, log[i].n_ids),
				        0);
				continue;
			}
			assert_int_equal(fsm_apply(b.fsm, tb, index, log[i].buf, log[i].len, &res),
			                 0);
			assert_result_equal(&res, &log[i].res);
			if (i % 300 == 299) {
				/* Other transaction boundaries than A's: the
				 * outcome must not depend on batching. */
				assert_int_equal(mdb_txn_commit(tb), 0);
				assert_int_equal(mdb_txn_begin(b.env, NULL, 0, &tb), 0);
			}
		}
		assert_int_equal(mdb_txn_commit(tb), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("applied %d entries twice in %.2f s; %d duplicates, %d stale, %d junk\n",
	              ENTRIES,
	              (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	              dups, stale, junk);
	/* The log exercised every command both ways. */
	for (int t = 1; t <= WIRE_CMD_TYPE_MAX; t++) {
		print_message("  %-12s %6d ok %6d failed\n", wire_cmd_type_name(t), ok[t],
		              failed[t]);
		/* A release never fails as a command: it ignores what is not
		 * an orphan of its node. */
		assert_true(ok[t] > 50 && (failed[t] > 50 || t == WIRE_CMD_ORPHAN_RELEASE));
	}
	{
		struct fsm_statfs st;
		assert_int_equal(fsm_statfs(a.fsm, NULL, &st), 0);
		print_message("  %d configurations; %llu inodes at the end\n", confs,
		              (unsigned long long)st.files);
		assert_true(confs > 100);
	}
	assert_true(dups > 100 && stale > 100 && junk > 100);

	tenv_assert_same(&a, &b);
	{
		size_t na, nb;
		uint8_t *sa = snapshot_bytes(&a, &na), *sb = snapshot_bytes(&b, &nb);
		uint8_t *cur[2] = {sa, sa + na};
		MDB_txn *txn;
		assert_int_equal(na, nb);
		assert_memory_equal(sa, sb, na);
		/* And the snapshot rebuilds the same store elsewhere. */
		tenv_open(&c, &o, 0);
		assert_int_equal(mdb_txn_begin(c.env, NULL, 0, &txn), 0);
		assert_int_equal(fsm_snapshot_install(c.fsm, txn, mem_read, cur, NULL), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
		tenv_assert_same(&a, &c);
		tenv_close(&c);
		free(sa);
		free(sb);
	}
	for (int i = 0; i < BATCH; i++)
		free(log[i].buf);
	free(g);
	tenv_close(&a);
	tenv_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(random_log_gives_identical_stores),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
