/* test_command.c: the command codec: every type round-trips; bad input of any shape is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "quorumfs/wire_cmd.h"
#include "quorumfs/errors.h"

static int decode_bytes(const uint8_t *b, size_t n);

static const struct wire_cmd_extent sample_extents[] = {
        {1ull << 33, "first", 5},
        {3, "second\0extent", 14},
};

/* A command of @type with every field it uses set to a distinct value. */
static struct wire_cmd sample(enum wire_cmd_type type)
{
	static const char data[] = "some contents\0with a NUL";
	struct wire_cmd c = {
	        .type = type,
	        .client_id = 0x0102030405060708ull,
	        .serial = 77,
	        .time_ns = 1700000000123456789ll,
	        .uid = 1000,
	        .gid = 4294967295u,
	        .ino = 42,
	        .parent = 1,
	        .name = "name",
	        .name_len = 4,
	        .new_parent = 9,
	        .new_name = "other",
	        .new_name_len = 5,
	        .mode = 0100644,
	        .offset = 1ull << 40,
	        .data = data,
	        .data_len = sizeof(data),
	        .attr = {WIRE_ATTR_ALL, 0755, 1, 2, 123456, -5, 1ll << 62, INT64_MIN},
	};
	switch (type) {
	case WIRE_CMD_CREATE:
		c.flags = WIRE_CREATE_EXCL | WIRE_CREATE_TRUNC;
		break;
	case WIRE_CMD_WRITE:
		c.flags = WIRE_WRITE_TRUNCATE;
		break;
	case WIRE_CMD_RENAME:
		c.flags = WIRE_RENAME_EXCHANGE;
		break;
	case WIRE_CMD_SETXATTR:
		c.flags = WIRE_XATTR_REPLACE;
		break;
	case WIRE_CMD_WRITEV:
		c.flags = WIRE_WRITEV_SET_SIZE | WIRE_WRITEV_KILL_SUIDGID;
		c.size = 7;
		c.extents = sample_extents;
		c.n_extents = 2;
		break;
	case WIRE_CMD_ORPHAN_RELEASE:
		c.co.node = 5;
		c.data = "\0\0\0\0\0\0\0\x07\0\0\0\x01\0\0\0\x02";
		c.data_len = 16;
		break;
	case WIRE_CMD_MKNOD:
		c.mode = 020600;
		c.rdev = 0x0000000100000803ull;
		break;
	case WIRE_CMD_CREATE_WRITEV:
		c.flags = WIRE_WRITEV_TRUNCATE | WIRE_CREATE_WRITEV_EXCL;
		c.offset = WIRE_CREATE_RESERVE_MAX;
		c.extents = sample_extents;
		c.n_extents = 2;
		break;
	default:
		break;
	}
	return c;
}

static size_t encode(const struct wire_cmd *c, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	assert_int_equal(wire_cmd_encode(c, buf, cap, &len), 0);
	assert_true(len <= wire_cmd_encoded_max(c));
	return len;
}

static void assert_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
	assert_int_equal(alen, blen);
	if (alen)
		assert_memory_equal(a, b, alen);
}

/* Every type survives encode+decode with the fields it uses, and the
 * fields it does not use come back zero. */
static void roundtrip_every_type(void **state)
{
	(void)state;
	uint8_t buf[512];
	for (int t = 1; t <= WIRE_CMD_TYPE_MAX; t++) {
		struct wire_cmd c = sample((enum wire_cmd_type)t), d;
		size_t len = encode(&c, buf, sizeof(buf));
		assert_int_equal(wire_cmd_decode(buf, len, &d), 0);
		assert_int_equal(d.type, t);
		assert_true(d.client_id == c.client_id && d.serial == c.serial);
		assert_true(d.time_ns == c.time_ns && d.uid == c.uid && d.gid == c.gid);
		assert_string_not_equal(wire_cmd_type_name(t), "unknown");
		switch (t) {
		case WIRE_CMD_CREATE:
			assert_true(d.parent == 1 && d.mode == c.mode && d.flags == c.flags);
			assert_bytes(d.name, d.name_len, "name", 4);
			assert_bytes(d.data, d.data_len, c.data, c.data_len);
			assert_int_equal(d.ino, 0);
			break;
		case WIRE_CMD_WRITE:
			assert_true(d.ino == 42 && d.offset == c.offset && d.flags == c.flags);
			assert_bytes(d.data, d.data_len, c.data, c.data_len);
			assert_null(d.name);
			break;
		case WIRE_CMD_APPEND:
			assert_true(d.ino == 42 && d.offset == 0);
			assert_bytes(d.data, d.data_len, c.data, c.data_len);
			break;
		case WIRE_CMD_SETATTR:
			assert_int_equal(d.ino, 42);
			assert_memory_equal(&d.attr, &c.attr, sizeof(c.attr));
			break;
		case WIRE_CMD_MKDIR:
			assert_true(d.parent == 1 && d.mode == c.mode);
			assert_bytes(d.name, d.name_len, "name", 4);
			break;
		case WIRE_CMD_UNLINK:
		case WIRE_CMD_RMDIR:
			assert_int_equal(d.parent, 1);
			assert_bytes(d.name, d.name_len, "name", 4);
			assert_int_equal(d.data_len, 0);
			break;
		case WIRE_CMD_RENAME:
			assert_true(d.parent == 1 && d.new_parent == 9 && d.flags == c.flags);
			assert_bytes(d.name, d.name_len, "name", 4);
			assert_bytes(d.new_name, d.new_name_len, "other", 5);
			break;
		case WIRE_CMD_SYMLINK:
			assert_int_equal(d.parent, 1);
			assert_bytes(d.data, d.data_len, c.data, c.data_len);
			break;
		case WIRE_CMD_LINK:
			assert_true(d.ino == 42 && d.parent == 1);
			assert_bytes(d.name, d.name_len, "name", 4);
			break;
		case WIRE_CMD_SETXATTR:
			assert_true(d.ino == 42 && d.flags == c.flags);
			assert_bytes(d.data, d.data_len, c.data, c.data_len);
			break;
		case WIRE_CMD_REMOVEXATTR:
			assert_int_equal(d.ino, 42);
			assert_bytes(d.name, d.name_len, "name", 4);
			break;
		case WIRE_CMD_WRITEV: {
			struct wire_cmd_extent e;
			size_t pos = 0;
			assert_true(d.ino == 42 && d.flags == c.flags && d.size == 7);
			assert_true(d.extents == NULL && d.n_extents == 2 && d.data_len == 0);
			for (unsigned i = 0; i < 2; i++) {
				assert_int_equal(wire_cmd_extent_next(&d, &pos, &e), 1);
				assert_int_equal(e.offset, sample_extents[i].offset);
				assert_bytes(e.data, e.len, sample_extents[i].data,
				             sample_extents[i].len);
			}
			assert_int_equal(wire_cmd_extent_next(&d, &pos, &e), 0);
			break;
		}
		case WIRE_CMD_ORPHAN_RELEASE:
			assert_true(d.co.node == 5 && d.ino == 0 && d.name_len == 0);
			assert_bytes(d.data, d.data_len, c.data, 16);
			break;
		case WIRE_CMD_MKNOD:
			assert_true(d.parent == 1 && d.mode == c.mode && d.rdev == c.rdev);
			assert_bytes(d.name, d.name_len, "name", 4);
			assert_true(d.ino == 0 && d.data_len == 0);
			break;
		case WIRE_CMD_CREATE_WRITEV: {
			struct wire_cmd_extent e;
			size_t pos = 0;
			assert_true(d.parent == 1 && d.ino == 42 && d.mode == c.mode);
			assert_true(d.flags == c.flags && d.offset == c.offset && d.data_len == 0);
			assert_bytes(d.name, d.name_len, "name", 4);
			assert_true(d.extents == NULL && d.n_extents == 2);
			for (unsigned i = 0; i < 2; i++) {
				assert_int_equal(wire_cmd_extent_next(&d, &pos, &e), 1);
				assert_int_equal(e.offset, sample_extents[i].offset);
			}
			assert_int_equal(wire_cmd_extent_next(&d, &pos, &e), 0);
			break;
		}
		}
	}
	assert_string_equal(wire_cmd_type_name(0), "unknown");
	assert_string_equal(wire_cmd_type_name(WIRE_CMD_TYPE_MAX + 1), "unknown");
}

/* Empty names and data, and the largest names, round-trip too; decoded
 * pointers point into the input (zero copy). */
static void roundtrip_edges(void **state)
{
	(void)state;
	static char big[WIRE_CMD_NAME_MAX];
	static uint8_t buf[3 * WIRE_CMD_NAME_MAX];
	struct wire_cmd c = sample(WIRE_CMD_RENAME), d;
	size_t len;

	memset(big, 'x', sizeof(big));
	c.client_id = 0;
	c.serial = 0;
	c.name = big;
	c.name_len = sizeof(big);
	c.new_name = NULL;
	c.new_name_len = 0;
	len = encode(&c, buf, sizeof(buf));
	assert_int_equal(wire_cmd_decode(buf, len, &d), 0);
	assert_int_equal(d.name_len, sizeof(big));
	assert_true((const uint8_t *)d.name > buf && (const uint8_t *)d.name < buf + len);
	assert_int_equal(d.new_name_len, 0);
	assert_int_equal(d.client_id, 0);
}

static void encode_refuses_bad_commands(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t len;
	struct wire_cmd c = sample(WIRE_CMD_WRITE);

	c.type = (enum wire_cmd_type)0;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
	c.type = (enum wire_cmd_type)(WIRE_CMD_TYPE_MAX + 1);
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
	c = sample(WIRE_CMD_WRITE);
	c.flags = 0x80;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
	c = sample(WIRE_CMD_SETATTR);
	c.attr.valid = WIRE_ATTR_ALL + 1;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
	c = sample(WIRE_CMD_UNLINK);
	c.serial = 0; /* a session without a serial cannot be deduplicated */
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
	c = sample(WIRE_CMD_UNLINK);
	c.name_len = WIRE_CMD_NAME_MAX + 1;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
	/* A create that reserves too many numbers; one with nothing written
	 * is fine (unlike a WRITEV), one with WRITE's flags is not. */
	c = sample(WIRE_CMD_CREATE_WRITEV);
	c.offset = WIRE_CREATE_RESERVE_MAX + 1;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
	c = sample(WIRE_CMD_CREATE_WRITEV);
	c.n_extents = 0;
	c.flags = 0;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), 0);
	c.flags = WIRE_CREATE_TRUNC << 8;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
}

/* WRITEV's extents: a decoded command re-encodes to the same bytes (what a
 * forwarding node relies on), an append's offsets are canonical, and every
 * extent rule holds in both directions. */
static void writev_extents(void **state)
{
	(void)state;
	uint8_t buf[512], again[512], big[WIRE_WRITEV_EXTENTS_MAX * 8 + 64];
	struct wire_cmd c = sample(WIRE_CMD_WRITEV), d, a;
	struct wire_cmd_extent e, many[WIRE_WRITEV_EXTENTS_MAX + 1];
	size_t n = encode(&c, buf, sizeof(buf)), m, pos = 0;

	assert_int_equal(wire_cmd_decode(buf, n, &d), 0);
	m = encode(&d, again, sizeof(again));
	assert_bytes(again, m, buf, n);

	c.flags = WIRE_WRITEV_APPEND;
	n = encode(&c, buf, sizeof(buf));
	assert_int_equal(wire_cmd_decode(buf, n, &a), 0);
	assert_int_equal(wire_cmd_extent_next(&a, &pos, &e), 1);
	assert_int_equal(e.offset, 0);

	/* Nothing to publish is never proposed; TRUNCATE or SET_SIZE alone is. */
	c = sample(WIRE_CMD_WRITEV);
	c.n_extents = 0;
	c.flags = 0;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &m), -EINVAL);
	c.flags = WIRE_WRITEV_TRUNCATE;
	n = encode(&c, buf, sizeof(buf));
	assert_int_equal(wire_cmd_decode(buf, n, &d), 0);
	assert_true(d.n_extents == 0 && d.extents_raw == NULL);
	assert_int_equal(wire_cmd_extent_next(&d, &pos, &e), 0);
	/* ... and the decoder refuses the empty one too (flags byte patched:
	 * size 7 and an empty array follow it). */
	assert_int_equal(buf[n - 3], WIRE_WRITEV_TRUNCATE);
	buf[n - 3] = 0;
	assert_int_equal(decode_bytes(buf, n), QFS_EPROTO);

	c = sample(WIRE_CMD_WRITEV);
	c.flags = 0x10;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &m), -EINVAL);
	struct wire_cmd_extent empty[] = {{0, "x", 0}}, wrap[] = {{UINT64_MAX, "xy", 2}};
	c = sample(WIRE_CMD_WRITEV);
	c.extents = empty;
	c.n_extents = 1;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &m), -EINVAL);
	c.extents = wrap;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &m), -EINVAL);
	c.flags = WIRE_WRITEV_APPEND; /* an append's offset does not count */
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &m), 0);

	/* The most extents allowed pass; one more is refused both ways. */
	for (size_t i = 0; i <= WIRE_WRITEV_EXTENTS_MAX; i++)
		many[i] = (struct wire_cmd_extent){i, "z", 1};
	c = sample(WIRE_CMD_WRITEV);
	c.client_id = 0;
	c.serial = 0;
	c.extents = many;
	c.n_extents = WIRE_WRITEV_EXTENTS_MAX;
	assert_true(wire_cmd_encoded_max(&c) > WIRE_WRITEV_EXTENTS_MAX * 4);
	n = encode(&c, big, sizeof(big));
	assert_int_equal(wire_cmd_decode(big, n, &d), 0);
	assert_int_equal(d.n_extents, WIRE_WRITEV_EXTENTS_MAX);
	c.n_extents++;
	assert_int_equal(wire_cmd_encode(&c, big, sizeof(big), &m), -EINVAL);
}

/* ORPHAN_RELEASE lists whole inode numbers, at least one, at most 4096. */
static void release_bounds(void **state)
{
	(void)state;
	static uint8_t inos[8 * (WIRE_RELEASE_INOS_MAX + 1)];
	static uint8_t buf[8 * (WIRE_RELEASE_INOS_MAX + 1) + 256];
	struct wire_cmd c = sample(WIRE_CMD_ORPHAN_RELEASE), d;
	size_t n;

	c.data = inos;
	c.data_len = 8 * WIRE_RELEASE_INOS_MAX;
	n = encode(&c, buf, sizeof(buf));
	assert_int_equal(wire_cmd_decode(buf, n, &d), 0);
	c.data_len += 8;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &n), -EINVAL);
	c.data_len = 0;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &n), -EINVAL);
	c.data_len = 7;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &n), -EINVAL);
	/* The decoder refuses a list that is not whole numbers: a 9-byte bin
	 * made from an 8-byte one plus a patched length and a trailing byte. */
	c.data_len = 8;
	n = encode(&c, buf, sizeof(buf));
	assert_int_equal(buf[n - 9], 8);
	buf[n - 9] = 9;
	buf[n] = 0;
	assert_int_equal(decode_bytes(buf, n + 1), QFS_EPROTO);
}

/* Hand-made WRITEVs the encoder would never write. */
static void writev_decode_refuses(void **state)
{
	(void)state;
	/* [1, 13, 0, 0, 0, 0, 0, ino 2, flags, size 0, [[off, bin]]] */
	uint8_t ok[] = {0x9b, 0x01, 0x0d, 0,    0,    0,    0,    0,  0x02,
	                0x00, 0x00, 0x91, 0x92, 0x05, 0xc4, 0x01, 'a'};
	uint8_t b[sizeof(ok)];
	struct wire_cmd d;

	assert_int_equal(wire_cmd_decode(ok, sizeof(ok), &d), 0);
	memcpy(b, ok, sizeof(ok));
	b[9] = WIRE_WRITEV_APPEND; /* an append with offset 5 */
	assert_int_equal(decode_bytes(b, sizeof(b)), QFS_EPROTO);
	b[13] = 0;
	assert_int_equal(decode_bytes(b, sizeof(b)), 0);
	memcpy(b, ok, sizeof(ok));
	b[15] = 0x00; /* an empty extent, then a trailing byte */
	assert_int_equal(decode_bytes(b, sizeof(b)), QFS_EPROTO);
	assert_int_equal(decode_bytes(b, sizeof(b) - 1), QFS_EPROTO);
	memcpy(b, ok, sizeof(ok));
	b[12] = 0x93; /* an extent of three fields */
	assert_int_equal(decode_bytes(b, sizeof(b)), QFS_EPROTO);
	memcpy(b, ok, sizeof(ok));
	b[11] = 0x92; /* two extents declared, one given */
	assert_int_equal(decode_bytes(b, sizeof(b)), QFS_EPROTO);
	{
		/* 2^32 - 1 extents declared in 5 bytes. */
		uint8_t h[] = {0x9b, 0x01, 0x0d, 0,    0,    0,    0,    0,    0x02, 0x00, 0x00,
		               0xdd, 0xff, 0xff, 0xff, 0xff, 0x92, 0x05, 0xc4, 0x01, 'a'};
		assert_int_equal(decode_bytes(h, sizeof(h)), QFS_EPROTO);
	}
	{
		/* An extent whose end passes 2^64. */
		uint8_t w[] = {0x9b, 0x01, 0x0d, 0,    0,    0,    0,    0,    0x02,
		               0x00, 0x00, 0x91, 0x92, 0xcf, 0xff, 0xff, 0xff, 0xff,
		               0xff, 0xff, 0xff, 0xff, 0xc4, 0x01, 'a'};
		assert_int_equal(decode_bytes(w, sizeof(w)), QFS_EPROTO);
	}
}

/* Every buffer shorter than the encoding is refused without overflow. */
static void encode_into_small_buffers(void **state)
{
	(void)state;
	uint8_t full[512];
	struct wire_cmd c = sample(WIRE_CMD_CREATE);
	size_t n = encode(&c, full, sizeof(full));
	for (size_t cap = 0; cap < n; cap++) {
		uint8_t *b = malloc(cap ? cap : 1); /* exact size: ASan sees an overflow */
		size_t len;
		assert_int_equal(wire_cmd_encode(&c, b, cap, &len), -ENOBUFS);
		free(b);
	}
}

/* Every strict prefix of a valid command is refused. */
static void decode_refuses_truncation(void **state)
{
	(void)state;
	uint8_t buf[512];
	for (int t = 1; t <= WIRE_CMD_TYPE_MAX; t++) {
		struct wire_cmd c = sample((enum wire_cmd_type)t), d;
		size_t n = encode(&c, buf, sizeof(buf));
		for (size_t cut = 0; cut < n; cut++) {
			uint8_t *b = malloc(cut ? cut : 1);
			memcpy(b, buf, cut);
			assert_int_equal(wire_cmd_decode(b, cut, &d), QFS_EPROTO);
			free(b);
		}
	}
}

static int decode_bytes(const uint8_t *b, size_t n)
{
	struct wire_cmd d;
	return wire_cmd_decode(b, n, &d);
}

/* Hand-made inputs, each wrong in one way. */
static void decode_refuses_malformed(void **state)
{
	(void)state;
	/* Declared sizes far beyond the input: must fail, not allocate. */
	static const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x06};
	/* UNLINK with a name bin32 of 4 GiB - 1. */
	static const uint8_t huge_bin[] = {0x99, 0x01, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
	                                   0x01, 0xc6, 0xff, 0xff, 0xff, 0xff, 'a'};
	/* A valid UNLINK, then variations of it. */
	static const uint8_t ok[] = {0x99, 0x01, 0x06, 0x00, 0x00, 0x00,
	                             0x00, 0x00, 0x01, 0xc4, 0x01, 'a'};
	uint8_t b[64];

	assert_int_equal(decode_bytes(ok, sizeof(ok)), 0);
	assert_int_equal(decode_bytes(huge_array, sizeof(huge_array)), QFS_EPROTO);
	assert_int_equal(decode_bytes(huge_bin, sizeof(huge_bin)), QFS_EPROTO);
	assert_int_equal(decode_bytes(NULL, 0), QFS_EPROTO);

	memcpy(b, ok, sizeof(ok));
	b[sizeof(ok)] = 0xc0; /* a trailing nil */
	assert_int_equal(decode_bytes(b, sizeof(ok) + 1), QFS_EPROTO);

	memcpy(b, ok, sizeof(ok));
	b[0] = 0x98; /* one field short for UNLINK */
	assert_int_equal(decode_bytes(b, sizeof(ok)), QFS_EPROTO);

	memcpy(b, ok, sizeof(ok));
	b[1] = 0x02; /* an unknown version */
	assert_int_equal(decode_bytes(b, sizeof(ok)), QFS_EPROTO);

	memcpy(b, ok, sizeof(ok));
	b[2] = 0x00; /* type 0 */
	assert_int_equal(decode_bytes(b, sizeof(ok)), QFS_EPROTO);
	b[2] = WIRE_CMD_TYPE_MAX + 1;
	assert_int_equal(decode_bytes(b, sizeof(ok)), QFS_EPROTO);

	memcpy(b, ok, sizeof(ok));
	b[3] = 0x05; /* client 5 with serial 0 */
	assert_int_equal(decode_bytes(b, sizeof(ok)), QFS_EPROTO);

	memcpy(b, ok, sizeof(ok));
	b[9] = 0xa1; /* the name as a str, not a bin */
	b[10] = 'a';
	assert_int_equal(decode_bytes(b, sizeof(ok) - 1), QFS_EPROTO);

	memcpy(b, ok, sizeof(ok));
	b[8] = 0xff; /* negative fixint where a u64 (parent) goes */
	assert_int_equal(decode_bytes(b, sizeof(ok)), QFS_EPROTO);

	/* uid 2^32 does not fit: uint64 where a u32 goes. */
	{
		static const uint8_t u[] = {0x99, 0x01, 0x06, 0x00, 0x00, 0x00, 0xcf,
		                            0,    0,    0,    1,    0,    0,    0,
		                            0,    0x00, 0x01, 0xc4, 0x01, 'a'};
		assert_int_equal(decode_bytes(u, sizeof(u)), QFS_EPROTO);
	}
	/* A signed encoding of a non-negative number is fine (other encoders
	 * use them); time may be negative. */
	{
		static const uint8_t s[] = {0x99, 0x01, 0x06, 0x00, 0x00, 0xd3, 0xff,
		                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		                            0x00, 0x00, 0xd0, 0x01, 0xc4, 0x01, 'a'};
		struct wire_cmd d;
		assert_int_equal(wire_cmd_decode(s, sizeof(s), &d), 0);
		assert_true(d.time_ns == -2 && d.parent == 1);
	}
	/* Flags outside the type's set. */
	{
		struct wire_cmd c = sample(WIRE_CMD_RENAME);
		uint8_t e[256];
		size_t n = encode(&c, e, sizeof(e));
		assert_int_equal(e[n - 1], WIRE_RENAME_EXCHANGE); /* flags is the last field */
		e[n - 1] = 0x04;                                  /* RENAME_WHITEOUT: not offered */
		assert_int_equal(decode_bytes(e, n), QFS_EPROTO);
	}
}

/* Random bytes and single-byte mutations of valid commands: never a crash
 * (ASan run), never a result other than 0 or QFS_EPROTO. */
static void decode_survives_garbage(void **state)
{
	(void)state;
	uint8_t buf[512], m[512];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 20000; i++) {
		size_t n = 1 + i % 64;
		for (size_t j = 0; j < n; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[j] = (uint8_t)x;
		}
		if (i % 2)
			buf[0] = (uint8_t)(0x90 + n % 16); /* a plausible array header */
		int rc = decode_bytes(buf, n);
		assert_true(rc == 0 || rc == QFS_EPROTO);
	}
	for (int t = 1; t <= WIRE_CMD_TYPE_MAX; t++) {
		struct wire_cmd c = sample((enum wire_cmd_type)t);
		size_t n = encode(&c, buf, sizeof(buf));
		for (size_t pos = 0; pos < n; pos++) {
			for (int v = 0; v < 256; v += 17) {
				int rc;
				memcpy(m, buf, n);
				m[pos] = (uint8_t)v;
				rc = decode_bytes(m, n);
				assert_true(rc == 0 || rc == QFS_EPROTO);
			}
		}
	}
}

/* Our output is ordinary msgpack: msgpack-c reads it as an array whose
 * first elements are the version and the type. */
static void output_is_plain_msgpack(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_cmd c = sample(WIRE_CMD_SETXATTR);
	size_t n = encode(&c, buf, sizeof(buf)), off = 0;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, (const char *)buf, n, &off),
	                 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, n);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(u.data.via.array.size, 11);
	assert_int_equal(u.data.via.array.ptr[0].via.u64, WIRE_CMD_VERSION);
	assert_int_equal(u.data.via.array.ptr[1].via.u64, WIRE_CMD_SETXATTR);
	assert_int_equal(u.data.via.array.ptr[8].type, MSGPACK_OBJECT_BIN);
	msgpack_unpacked_destroy(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(roundtrip_every_type),
	        cmocka_unit_test(roundtrip_edges),
	        cmocka_unit_test(encode_refuses_bad_commands),
	        cmocka_unit_test(writev_extents),
	        cmocka_unit_test(writev_decode_refuses),
	        cmocka_unit_test(release_bounds),
	        cmocka_unit_test(encode_into_small_buffers),
	        cmocka_unit_test(decode_refuses_truncation),
	        cmocka_unit_test(decode_refuses_malformed),
	        cmocka_unit_test(decode_survives_garbage),
	        cmocka_unit_test(output_is_plain_msgpack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
