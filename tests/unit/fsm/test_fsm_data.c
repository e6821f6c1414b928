/* test_fsm_data.c: the data path's commands: WRITEV, MKNOD, and set-id clearing as Linux does it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cmocka.h>

#include "helpers.h"
#include "quorumfs/errors.h"

#define ROOT FSM_ROOT_INO

/* Applies a command expected to fail with @err, and checks it changed
 * nothing but fsm.applied. */
#define ASSERT_FAILS(t, err, call)                                                                 \
	do {                                                                                       \
		uint32_t before_ = tenv_digest(t);                                                 \
		assert_int_equal((call), -(err));                                                  \
		assert_int_equal((t)->res.attr.ino, 0);                                            \
		assert_int_equal(tenv_digest(t), before_);                                         \
	} while (0)

#define EXT(off, s) ((struct wire_cmd_extent){(off), (s), sizeof(s) - 1})

/* The contents of @ino, with @len asserted. */
static void assert_contents(struct tenv *t, uint64_t ino, const void *want, size_t len)
{
	char buf[256];
	size_t n;
	assert_true(len < sizeof(buf));
	assert_int_equal(t_getattr(t, ino).size, len);
	assert_int_equal(fsm_read(t->fsm, NULL, ino, 0, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, len);
	if (len)
		assert_memory_equal(buf, want, len);
}

static uint64_t file(struct tenv *t, const char *name, const char *data)
{
	assert_int_equal(t_create(t, ROOT, name, 0, data), 0);
	return t->res.attr.ino;
}

static void writev_writes_extents_in_order(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f", "hello world");
	struct fsm_attr before = t_getattr(t, f);
	struct wire_cmd_extent e[] = {EXT(0, "HE"), EXT(14, "x"), EXT(1, "ola")};

	assert_int_equal(t_writev(t, f, 0, 0, e, 3), 0);
	/* Later extents win where they overlap; the gap reads as zeros. */
	assert_contents(t, f, "Holao world\0\0\0x", 15);
	assert_int_equal(t->res.offset, 0);
	assert_int_equal(t->res.attr.version, before.version + 1);
	assert_int_equal(t->res.attr.mtime_ns, t->clock);
	assert_int_equal(t->res.attr.ctime_ns, t->clock);
	struct fsm_statfs st;
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_int_equal(st.bytes, 15);
}

static void writev_truncates_and_sets_size_first(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f", "old contents");
	struct wire_cmd_extent e[] = {EXT(0, "new")};

	/* open(O_TRUNC) then a write: the old bytes are gone, in one step. */
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_TRUNCATE, 0, e, 1), 0);
	assert_contents(t, f, "new", 3);
	/* ftruncate beyond the end, then a write inside: zeros stay. */
	struct wire_cmd_extent e2[] = {EXT(1, "E")};
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_SET_SIZE, 6, e2, 1), 0);
	assert_contents(t, f, "nEw\0\0\0", 6);
	/* Shrinking, then writing past the new end: the cut bytes do not come
	 * back, the gap is zeros. */
	struct wire_cmd_extent e3[] = {EXT(4, "z")};
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_SET_SIZE, 1, e3, 1), 0);
	assert_contents(t, f, "n\0\0\0z", 5);
	/* TRUNCATE and SET_SIZE without extents: `: > f`, ftruncate alone. */
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_SET_SIZE, 2, NULL, 0),
	                 0);
	assert_contents(t, f, "\0\0", 2);
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_TRUNCATE, 0, NULL, 0), 0);
	assert_contents(t, f, "", 0);
	struct fsm_statfs st;
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	assert_int_equal(st.bytes, 0);
}

static void writev_appends_at_the_end_it_finds(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f", "ab");
	struct wire_cmd_extent e[] = {EXT(99, "cd"), EXT(7, "ef")};

	assert_int_equal(t_append(t, f, "X"), 0); /* another node's append came first */
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_APPEND, 0, e, 2), 0);
	assert_contents(t, f, "abXcdef", 7);
	assert_int_equal(t->res.offset, 3);
	/* TRUNCATE with APPEND: `>` then appends, as O_TRUNC|O_APPEND. */
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_APPEND | WIRE_WRITEV_TRUNCATE, 0, e, 2), 0);
	assert_contents(t, f, "cdef", 4);
	assert_int_equal(t->res.offset, 0);
}

static void writev_refuses_beyond_the_limit(void **state)
{
	(void)state;
	struct fsm_options o = {.max_value_size = 16};
	struct tenv t;
	tenv_open(&t, &o, 0);
	uint64_t f = file(&t, "f", "0123456789");
	struct wire_cmd_extent past[] = {EXT(0, "a"), EXT(15, "bc")};
	struct wire_cmd_extent twice[] = {EXT(0, "0123456789"), EXT(0, "0123456789")};
	struct wire_cmd_extent app[] = {EXT(0, "0123456")};
	struct wire_cmd_extent fits[] = {EXT(10, "abcdef")};

	/* Nothing of a command that passes the limit is applied, not even
	 * its first extent. */
	ASSERT_FAILS(&t, EFBIG, t_writev(&t, f, 0, 0, past, 2));
	ASSERT_FAILS(&t, EFBIG, t_writev(&t, f, WIRE_WRITEV_SET_SIZE, 17, NULL, 0));
	ASSERT_FAILS(&t, EFBIG, t_writev(&t, f, 0, 0, twice, 2)); /* the bytes together */
	ASSERT_FAILS(&t, EFBIG, t_writev(&t, f, WIRE_WRITEV_APPEND, 0, app, 1));
	assert_int_equal(t_writev(&t, f, 0, 0, fits, 1), 0);
	assert_contents(&t, f, "0123456789abcdef", 16);
	/* TRUNCATE comes first: an append that would pass the limit on the
	 * old contents fits after it. */
	assert_int_equal(t_writev(&t, f, WIRE_WRITEV_TRUNCATE, 0, app, 1), 0);
	assert_contents(&t, f, "0123456", 7);
	tenv_close(&t);
}

static void writev_acts_on_regular_files_only(void **state)
{
	struct tenv *t = *state;
	struct wire_cmd_extent e[] = {EXT(0, "x")};

	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	uint64_t d = t->res.attr.ino;
	assert_int_equal(t_symlink(t, ROOT, "l", "target"), 0);
	uint64_t l = t->res.attr.ino;
	assert_int_equal(t_mknod(t, ROOT, "p", S_IFIFO | 0644, 0), 0);
	uint64_t p = t->res.attr.ino;
	ASSERT_FAILS(t, EISDIR, t_writev(t, d, 0, 0, e, 1));
	ASSERT_FAILS(t, EINVAL, t_writev(t, l, 0, 0, e, 1));
	ASSERT_FAILS(t, EINVAL, t_writev(t, p, 0, 0, e, 1));
	ASSERT_FAILS(t, ENOENT, t_writev(t, 999, 0, 0, e, 1));
}

static uint32_t mode_of(struct tenv *t, uint64_t ino)
{
	return t_getattr(t, ino).mode & 07777;
}

static void setmode(struct tenv *t, uint64_t ino, uint32_t mode)
{
	struct wire_cmd_attr a = {.valid = WIRE_ATTR_MODE, .mode = mode};
	assert_int_equal(t_setattr(t, ino, &a), 0);
}

static void writev_kills_suid_and_executable_sgid(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f", "x");
	struct wire_cmd_extent e[] = {EXT(0, "y")};

	setmode(t, f, 06755);
	assert_int_equal(t_writev(t, f, 0, 0, e, 1), 0); /* a writer with CAP_FSETID */
	assert_int_equal(mode_of(t, f), 06755);
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_KILL_SUIDGID, 0, e, 1), 0);
	assert_int_equal(mode_of(t, f), 0755);
	/* Without group execute, S_ISGID marks mandatory locking: it stays. */
	setmode(t, f, 06745);
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_KILL_SUIDGID, 0, e, 1), 0);
	assert_int_equal(mode_of(t, f), 02745);
}

static void setattr_kill_suidgid_on_truncation(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f", "contents");
	struct wire_cmd_attr trunc = {.valid = WIRE_ATTR_SIZE | WIRE_ATTR_KILL_SUIDGID, .size = 2};
	struct wire_cmd_attr with_mode = {.valid = WIRE_ATTR_SIZE | WIRE_ATTR_KILL_SUIDGID |
	                                           WIRE_ATTR_MODE,
	                                  .size = 1,
	                                  .mode = 04700};

	setmode(t, f, 06775);
	assert_int_equal(t_setattr(t, f, &trunc), 0);
	assert_int_equal(mode_of(t, f), 0775);
	assert_int_equal(t_getattr(t, f).size, 2);
	/* A mode in the same command is what the kernel computed: it wins. */
	assert_int_equal(t_setattr(t, f, &with_mode), 0);
	assert_int_equal(mode_of(t, f), 04700);
}

static void chown_clears_setid_bits(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f", "x");
	struct wire_cmd_attr uid = {.valid = WIRE_ATTR_UID, .uid = 0};
	struct wire_cmd_attr gid = {.valid = WIRE_ATTR_GID, .gid = 5};
	struct wire_cmd_attr both = {
	        .valid = WIRE_ATTR_UID | WIRE_ATTR_MODE, .uid = 7, .mode = 06755};

	setmode(t, f, 06755);
	assert_int_equal(t_setattr(t, f, &uid), 0); /* by root too, same owner or not */
	assert_int_equal(mode_of(t, f), 0755);
	setmode(t, f, 02755);
	assert_int_equal(t_setattr(t, f, &gid), 0);
	assert_int_equal(mode_of(t, f), 0755);
	assert_int_equal(t_getattr(t, f).gid, 5);
	setmode(t, f, 02745);
	assert_int_equal(t_setattr(t, f, &gid), 0);
	assert_int_equal(mode_of(t, f), 02745);
	assert_int_equal(t_setattr(t, f, &both), 0);
	assert_int_equal(mode_of(t, f), 06755);
	/* A directory's S_ISGID is inheritance, not privilege: chown keeps it. */
	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	uint64_t d = t->res.attr.ino;
	setmode(t, d, 02775);
	assert_int_equal(t_setattr(t, d, &gid), 0);
	assert_int_equal(mode_of(t, d), 02775);
}

struct seen {
	uint32_t type[8];
	unsigned n;
};

static int collect(void *arg, const struct fsm_dirent *ent)
{
	struct seen *s = arg;
	if (s->n < 8)
		s->type[s->n++] = ent->type;
	return 0;
}

static void mknod_makes_every_file_type(void **state)
{
	struct tenv *t = *state;
	static const uint32_t types[] = {S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK};
	const char *names[] = {"reg", "fifo", "sock", "chr", "blk"};
	struct seen seen = {0};
	char buf[4];
	size_t n;

	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(t_mknod(t, ROOT, names[i], types[i] | 0640, 0), 0);
		struct fsm_attr a = t->res.attr;
		assert_int_equal(a.mode, types[i] | 0640);
		assert_true(a.nlink == 1 && a.size == 0 && a.uid == 1000 && a.gid == 100);
		assert_int_equal(t_lookup(t, ROOT, names[i]), a.ino);
	}
	assert_int_equal(fsm_readdir(t->fsm, NULL, ROOT, 0, false, collect, &seen), 0);
	assert_int_equal(seen.n, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(seen.type[i], types[i]);
	/* A device keeps its number; the other types have none. */
	assert_int_equal(t_mknod(t, ROOT, "null", S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(t_getattr(t, t->res.attr.ino).rdev, makedev(1, 3));
	assert_int_equal(t_mknod(t, ROOT, "sda", S_IFBLK | 0660, makedev(8, 0)), 0);
	assert_int_equal(t->res.attr.rdev, makedev(8, 0));
	assert_int_equal(t_mknod(t, ROOT, "fifo9", S_IFIFO | 0644, 77), 0);
	assert_int_equal(t->res.attr.rdev, 0);
	/* A FIFO has no contents in the tree; it can be linked and unlinked
	 * like any non-directory. */
	uint64_t fifo = t_lookup(t, ROOT, "fifo");
	assert_int_equal(fsm_read(t->fsm, NULL, fifo, 0, sizeof(buf), buf, &n), -EINVAL);
	assert_int_equal(t_link(t, fifo, ROOT, "fifo2"), 0);
	assert_int_equal(t_getattr(t, fifo).nlink, 2);
	assert_int_equal(t_unlink(t, ROOT, "fifo"), 0);
	assert_int_equal(t_unlink(t, ROOT, "fifo2"), 0);
	assert_int_equal(t_lookup(t, ROOT, "fifo2"), 0);
	/* The regular one is a file like CREATE's. */
	assert_int_equal(t_write(t, t_lookup(t, ROOT, "reg"), 0, "abc", 0), 0);
	char *reg = t_read(t, t_lookup(t, ROOT, "reg"));
	assert_string_equal(reg, "abc");
	free(reg);
}

static void mknod_refuses_what_it_cannot_make(void **state)
{
	struct tenv *t = *state;

	ASSERT_FAILS(t, EINVAL, t_mknod(t, ROOT, "x", 0644, 0));
	ASSERT_FAILS(t, EINVAL, t_mknod(t, ROOT, "x", S_IFDIR | 0755, 0));
	ASSERT_FAILS(t, EINVAL, t_mknod(t, ROOT, "x", S_IFLNK | 0777, 0));
	ASSERT_FAILS(t, EINVAL, t_mknod(t, ROOT, "x", 0170000 | 0644, 0));
	assert_int_equal(t_mknod(t, ROOT, "x", S_IFIFO | 0644, 0), 0);
	ASSERT_FAILS(t, EEXIST, t_mknod(t, ROOT, "x", S_IFIFO | 0644, 0));
	ASSERT_FAILS(t, ENOENT, t_mknod(t, 999, "y", S_IFIFO | 0644, 0));
	ASSERT_FAILS(t, ENOTDIR, t_mknod(t, t_lookup(t, ROOT, "x"), "y", S_IFIFO | 0644, 0));
	ASSERT_FAILS(t, EINVAL, t_mknod(t, ROOT, "a/b", S_IFIFO | 0644, 0));
}

/* Records in the data database (blocks, targets, xattrs), all files. */
static size_t data_records(struct tenv *t)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;
	assert_int_equal(mdb_txn_begin(t->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "data", 0, &dbi), 0);
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

static uint64_t bytes(struct tenv *t)
{
	struct fsm_statfs st;
	assert_int_equal(fsm_statfs(t->fsm, NULL, &st), 0);
	return st.bytes;
}

static void holes_take_no_space(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f", NULL);
	static uint8_t buf[3 * FSM_BLOCK_SIZE];
	struct wire_cmd_extent e[] = {EXT(500000, "x"), EXT(2 * FSM_BLOCK_SIZE - 1, "ab")};
	size_t n;

	assert_int_equal(t_writev(t, f, WIRE_WRITEV_SET_SIZE, 1 << 20, NULL, 0), 0);
	assert_int_equal(t->res.attr.size, 1 << 20);
	assert_int_equal(t->res.attr.blocks, 0);
	assert_int_equal(data_records(t), 0);
	assert_int_equal(bytes(t), 1 << 20);
	/* Two extents: one alone in a block, one across a block boundary. */
	assert_int_equal(t_writev(t, f, 0, 0, e, 2), 0);
	assert_int_equal(data_records(t), 3);
	/* A block is stored from its start to its last byte written (the
	 * zeros before a write inside it are stored), and counts the 512-byte
	 * units that takes: 500000 is byte 2240 of its block (5 units), "a"
	 * ends block 1 (8), "b" starts block 2 (1). */
	assert_int_equal(500000 % FSM_BLOCK_SIZE, 2240);
	assert_int_equal(t->res.attr.blocks, 5 + 8 + 1);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(fsm_read(t->fsm, NULL, f, FSM_BLOCK_SIZE, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++) {
		uint8_t want = i == FSM_BLOCK_SIZE - 1 ? 'a' : i == FSM_BLOCK_SIZE ? 'b' : 0;
		if (buf[i] != want)
			fail_msg("byte %zu: %u, not %u", i, buf[i], want);
	}
	assert_int_equal(fsm_read(t->fsm, NULL, f, 499999, 3, buf, &n), 0);
	assert_true(n == 3 && buf[0] == 0 && buf[1] == 'x' && buf[2] == 0);
	/* Reads past the end stop at it. */
	assert_int_equal(fsm_read(t->fsm, NULL, f, (1 << 20) - 1, 10, buf, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(bytes(t), 1 << 20);
}

static void truncation_frees_blocks(void **state)
{
	struct tenv *t = *state;
	static char big[10 * FSM_BLOCK_SIZE + 1];
	memset(big, 'q', sizeof(big) - 1);
	uint64_t f = file(t, "f", big);
	struct wire_cmd_attr cut = {.valid = WIRE_ATTR_SIZE, .size = FSM_BLOCK_SIZE + 10};
	struct wire_cmd_attr grow = {.valid = WIRE_ATTR_SIZE, .size = 5 * FSM_BLOCK_SIZE};
	char buf[FSM_BLOCK_SIZE];
	size_t n;

	assert_int_equal(t->res.attr.blocks, 10 * 8);
	assert_int_equal(data_records(t), 10);
	assert_int_equal(t_setattr(t, f, &cut), 0);
	assert_int_equal(data_records(t), 2);
	assert_int_equal(t->res.attr.blocks, 8 + 1);
	assert_int_equal(bytes(t), FSM_BLOCK_SIZE + 10);
	/* Growing again makes a hole: the cut bytes never come back. */
	assert_int_equal(t_setattr(t, f, &grow), 0);
	assert_int_equal(data_records(t), 2);
	assert_int_equal(fsm_read(t->fsm, NULL, f, FSM_BLOCK_SIZE, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, sizeof(buf));
	assert_true(buf[9] == 'q' && buf[10] == 0 && buf[sizeof(buf) - 1] == 0);
	/* A cut on a block boundary keeps no empty block. */
	cut.size = FSM_BLOCK_SIZE;
	assert_int_equal(t_setattr(t, f, &cut), 0);
	assert_int_equal(data_records(t), 1);
	assert_int_equal(t_writev(t, f, WIRE_WRITEV_TRUNCATE, 0, NULL, 0), 0);
	assert_int_equal(data_records(t), 0);
	assert_int_equal(t->res.attr.blocks, 0);
	/* The last name takes the blocks with it. */
	assert_int_equal(t_write(t, f, 0, big, 0), 0);
	assert_int_equal(t_unlink(t, ROOT, "f"), 0);
	assert_int_equal(data_records(t), 0);
	assert_int_equal(bytes(t), 0);
}

/* max-value-size is the per-file limit, with blocks as before: a file of
 * exactly the limit fits, one byte more is EFBIG and nothing is applied. */
static void the_limit_is_per_file(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f", NULL);
	const uint64_t max = FSM_DEFAULT_MAX_VALUE_SIZE;
	struct wire_cmd_extent last[] = {EXT(max - 1, "z")}, past[] = {EXT(max - 1, "zz")};

	assert_int_equal(t_writev(t, f, 0, 0, last, 1), 0);
	assert_int_equal(t->res.attr.size, max);
	assert_int_equal(t->res.attr.blocks, 1);
	ASSERT_FAILS(t, EFBIG, t_writev(t, f, 0, 0, past, 1));
	ASSERT_FAILS(t, EFBIG, t_append(t, f, "a"));
	ASSERT_FAILS(t, EFBIG, t_write(t, f, max, "a", 0));
}

/* CREATE_WRITEV of (parent, name) with @ino, @flags, @reserve and one
 * extent of @data at 0 (none if NULL). */
static int t_create_writev(struct tenv *t, const char *name, uint64_t ino, uint32_t flags,
                           uint64_t reserve, const char *data)
{
	struct wire_cmd_extent e = {0, data, data ? strlen(data) : 0};
	struct wire_cmd c = {.type = WIRE_CMD_CREATE_WRITEV,
	                     .parent = ROOT,
	                     .name = name,
	                     .name_len = strlen(name),
	                     .mode = 0644,
	                     .ino = ino,
	                     .offset = reserve,
	                     .flags = flags,
	                     .extents = data ? &e : NULL,
	                     .n_extents = data ? 1 : 0};
	return tenv_apply(t, &c);
}

/* A new file and its contents in one command, with a number the proposer
 * reserved; the reservation moves the counter past the numbers it hands
 * out, so no later file takes one of them. */
static void create_writev_makes_a_file_with_its_contents(void **state)
{
	struct tenv *t = *state;
	uint64_t first, f;

	assert_int_equal(t_create_writev(t, "a", 0, 0, 8, "one"), 0);
	first = t->res.offset;
	assert_true(first > t->res.attr.ino);
	assert_contents(t, t->res.attr.ino, "one", 3);
	f = file(t, "b", "x"); /* the counter's next: past the reservation */
	assert_true(f >= first + 8);
	assert_int_equal(t_create_writev(t, "c", first + 3, 0, 0, "three"), 0);
	assert_int_equal(t->res.attr.ino, first + 3);
	assert_int_equal(t->res.offset, 0);
	assert_int_equal(t_lookup(t, ROOT, "c"), first + 3);
	assert_contents(t, first + 3, "three", 5);
	assert_int_equal(t_getattr(t, first + 3).nlink, 1);
	/* Nothing written: an empty file. */
	assert_int_equal(t_create_writev(t, "d", first + 4, 0, 0, NULL), 0);
	assert_int_equal(t_getattr(t, first + 4).size, 0);
}

static void create_writev_refuses_numbers_not_reserved(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "a", "x");

	ASSERT_FAILS(t, EINVAL, t_create_writev(t, "b", f, 0, 0, "v"));          /* taken */
	ASSERT_FAILS(t, EINVAL, t_create_writev(t, "b", f + 100, 0, 0, "v"));    /* never reserved */
	ASSERT_FAILS(t, EINVAL, t_create_writev(t, "b", FSM_ROOT_INO, 0, 0, "v"));
	assert_int_equal(t_lookup(t, ROOT, "b"), 0);
}

/* Another node made the name first: without O_EXCL the command opens that
 * file (its O_TRUNC and writes apply to it), with it EEXIST; the reserved
 * number stays unused. */
static void create_writev_over_a_file_made_first(void **state)
{
	struct tenv *t = *state;
	uint64_t first, f;

	assert_int_equal(t_create_writev(t, "r", 0, 0, 4, NULL), 0);
	first = t->res.offset;
	f = file(t, "a", "theirs, longer");
	assert_int_equal(t_create_writev(t, "a", first, WIRE_WRITEV_TRUNCATE, 0, "mine"), 0);
	assert_int_equal(t->res.attr.ino, f);
	assert_contents(t, f, "mine", 4);
	assert_int_equal(t_create_writev(t, "a", first, 0, 0, "MI"), 0);
	assert_contents(t, f, "MIne", 4);
	ASSERT_FAILS(t, EEXIST, t_create_writev(t, "a", first, WIRE_CREATE_WRITEV_EXCL, 0, "x"));
	assert_int_equal(t_mkdir(t, ROOT, "d"), 0);
	ASSERT_FAILS(t, EISDIR, t_create_writev(t, "d", first, 0, 0, "x"));
	/* The number was never used: it still makes a file. */
	assert_int_equal(t_create_writev(t, "b", first, 0, 0, "b"), 0);
	assert_int_equal(t->res.attr.ino, first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(writev_writes_extents_in_order, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(writev_truncates_and_sets_size_first, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(writev_appends_at_the_end_it_finds, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test(writev_refuses_beyond_the_limit),
	        cmocka_unit_test_setup_teardown(writev_acts_on_regular_files_only, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(writev_kills_suid_and_executable_sgid, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(setattr_kill_suidgid_on_truncation, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(chown_clears_setid_bits, tenv_setup, tenv_teardown),
	        cmocka_unit_test_setup_teardown(mknod_makes_every_file_type, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(mknod_refuses_what_it_cannot_make, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(holes_take_no_space, tenv_setup, tenv_teardown),
	        cmocka_unit_test_setup_teardown(truncation_frees_blocks, tenv_setup, tenv_teardown),
	        cmocka_unit_test_setup_teardown(the_limit_is_per_file, tenv_setup, tenv_teardown),
	        cmocka_unit_test_setup_teardown(create_writev_makes_a_file_with_its_contents,
	                                        tenv_setup, tenv_teardown),
	        cmocka_unit_test_setup_teardown(create_writev_refuses_numbers_not_reserved,
	                                        tenv_setup, tenv_teardown),
	        cmocka_unit_test_setup_teardown(create_writev_over_a_file_made_first, tenv_setup,
	                                        tenv_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
