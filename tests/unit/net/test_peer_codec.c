/* test_peer_codec.c: the peer message codec: roundtrips of every type, and rejection of bad input.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quorumfs/errors.h"
#include "quorumfs/wire_peer.h"
#include "peer_samples.h"
#include "test_net.h"

/* Encodes @m into a malloc'd frame of exactly the announced size. */
static uint8_t *encode(const struct raft_message *m, size_t *len)
{
	uint8_t *buf;
	size_t size;

	assert_int_equal(wire_peer_size(m, &size), 0);
	buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(wire_peer_encode(m, buf, size), (int64_t)size);
	*len = size;
	return buf;
}

static void roundtrip_every_type(void **state)
{
	struct raft_message s[PEER_SAMPLES_MAX], out;
	unsigned n = peer_samples(s);
	bool seen[RAFT_MSG_TYPE_LAST] = {false};

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct wire_arena arena;
		size_t len;
		uint8_t *f = encode(&s[i], &len);

		seen[s[i].type] = true;
		assert_int_equal(f[0], WIRE_FRAME_RAFT);
		/* Borrowed: byte fields point into the frame. */
		assert_int_equal(wire_peer_decode(f, len, 0, &out, &arena), 0);
		assert_true(peer_msg_equal(&s[i], &out));
		if (out.type == RAFT_MSG_APPEND && out.append.n_entries > 1) {
			const uint8_t *d = out.append.entries[1].data.base;
			assert_true(d > f && d < f + len);
		}
		wire_arena_free(&arena);
		assert_null(arena.mem);

		/* Copied: the message outlives the frame. */
		assert_int_equal(wire_peer_decode(f, len, WIRE_DECODE_COPY, &out, &arena), 0);
		memset(f, 0xee, len);
		free(f);
		assert_true(peer_msg_equal(&s[i], &out));
		wire_arena_free(&arena);
	}
	for (int t = RAFT_MSG_APPEND; t < RAFT_MSG_TYPE_LAST; t++)
		assert_true(seen[t]);
}

static void encoder_checks_its_input(void **state)
{
	struct raft_message s[PEER_SAMPLES_MAX], m;
	struct raft_entry e[2];
	uint8_t small[8];
	size_t size;

	(void)state;
	peer_samples(s);
	assert_int_equal(wire_peer_encode(&s[0], small, sizeof(small)), -ENOBUFS);

	m = s[0];
	m.type = RAFT_MSG_TYPE_LAST;
	assert_int_equal(wire_peer_size(&m, &size), -EINVAL);
	m = s[0];
	m.from = 0;
	assert_int_equal(wire_peer_size(&m, &size), -EINVAL);
	/* Entries must follow prev_index one by one. */
	m = s[0];
	memcpy(e, m.append.entries, sizeof(e));
	e[1].index = e[0].index + 2;
	m.append.entries = e;
	m.append.n_entries = 2;
	assert_int_equal(wire_peer_size(&m, &size), -EINVAL);
	e[1].index = e[0].index + 1;
	e[1].type = 9;
	assert_int_equal(wire_peer_size(&m, &size), -EINVAL);
	/* A snapshot chunk the core emitted (base NULL) must be filled in first. */
	m = s[10];
	assert_int_equal(m.type, RAFT_MSG_SNAPSHOT);
	m.snapshot.chunk.base = NULL;
	assert_int_equal(wire_peer_size(&m, &size), -EINVAL);
	m = s[10];
	m.snapshot.offset = m.snapshot.size;
	assert_int_equal(wire_peer_size(&m, &size), -EINVAL);
	m = s[10];
	m.snapshot.conf.len = WIRE_PEER_CONF_MAX + 1;
	assert_int_equal(wire_peer_size(&m, &size), -EINVAL);
}

static void truncated_frames_rejected(void **state)
{
	struct raft_message s[PEER_SAMPLES_MAX], out;
	unsigned n = peer_samples(s);

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		size_t len;
		uint8_t *f = encode(&s[i], &len);
		for (size_t cut = 0; cut < len; cut++) {
			/* A fresh buffer of exactly the cut length, so ASan sees any
			 * read past it. */
			uint8_t *t = malloc(cut ? cut : 1);
			struct wire_arena arena;
			memcpy(t, f, cut);
			assert_int_equal(wire_peer_decode(t, cut, 0, &out, &arena), QFS_EPROTO);
			assert_null(arena.mem);
			free(t);
		}
		/* One byte too many is malformed as well. */
		uint8_t *t = malloc(len + 1);
		struct wire_arena arena;
		memcpy(t, f, len);
		t[len] = 0xc0;
		assert_int_equal(wire_peer_decode(t, len + 1, 0, &out, &arena), QFS_EPROTO);
		free(t);
		free(f);
	}
}

/* Hand-made frames whose lengths lie about what follows. */
static void lying_lengths_rejected(void **state)
{
	struct raft_message out;
	struct wire_arena arena;
	/* append from 1 to 2, term 1, prev 0/0, commit 0, seq 0, then an
	 * entries array claiming 2^32-1 entries in 0 bytes. */
	uint8_t huge_count[] = {1, 0x99, 1, 1, 2, 1, 0, 0, 0, 0, 0xdd, 0xff, 0xff, 0xff, 0xff};
	/* ... claiming 3 entries, with room for one minimal entry only. */
	uint8_t few_bytes[] = {1, 0x99, 1,    1,    2, 1, 0, 0, 0, 0, 0x93, 0x94,
	                       1, 1,    0x00, 0xc4, 0, 0, 0, 0, 0, 0, 0,    0};
	/* one entry whose bin claims 4 GiB */
	uint8_t big_bin[] = {1,    0x99, 1, 1, 2,    1,    0,    0,    0,    0,
	                     0x91, 0x94, 1, 1, 0x00, 0xc6, 0xff, 0xff, 0xff, 0xff};
	/* a snapshot with a 5000-byte conf (over WIRE_PEER_CONF_MAX) */
	uint8_t *big_conf = calloc(1, 16 + 5000);
	/* a vote whose bool is the integer 1 */
	uint8_t int_bool[] = {1, 0x98, 5, 1, 2, 1, 0x01, 0xc2, 0, 0};
	/* unknown kind byte, unknown message type */
	uint8_t bad_kind[] = {9, 0x95, 4, 1, 2, 1, 0};
	uint8_t bad_type[] = {1, 0x94, 12, 1, 2, 1};
	uint8_t zero_from[] = {1, 0x94, 9, 0, 2, 1};
	uint8_t good_timeout[] = {1, 0x94, 9, 1, 2, 1};

	(void)state;
	assert_int_equal(wire_peer_decode(huge_count, sizeof(huge_count), 0, &out, &arena),
	                 QFS_EPROTO);
	assert_int_equal(wire_peer_decode(few_bytes, sizeof(few_bytes), 0, &out, &arena),
	                 QFS_EPROTO);
	assert_int_equal(wire_peer_decode(big_bin, sizeof(big_bin), 0, &out, &arena), QFS_EPROTO);
	big_conf[0] = 1;
	memcpy(big_conf + 1, (uint8_t[]){0x9b, 7, 1, 2, 1, 1, 1, 0xc5, 5000 >> 8, 5000 & 0xff}, 10);
	assert_int_equal(wire_peer_decode(big_conf, 16 + 5000, 0, &out, &arena), QFS_EPROTO);
	free(big_conf);
	assert_int_equal(wire_peer_decode(int_bool, sizeof(int_bool), 0, &out, &arena), QFS_EPROTO);
	assert_int_equal(wire_peer_decode(bad_kind, sizeof(bad_kind), 0, &out, &arena), QFS_EPROTO);
	assert_int_equal(wire_peer_decode(bad_type, sizeof(bad_type), 0, &out, &arena), QFS_EPROTO);
	assert_int_equal(wire_peer_decode(zero_from, sizeof(zero_from), 0, &out, &arena),
	                 QFS_EPROTO);
	assert_int_equal(wire_peer_decode(good_timeout, sizeof(good_timeout), 0, &out, &arena), 0);
	assert_int_equal(out.type, RAFT_MSG_TIMEOUT_NOW);
	assert_null(arena.mem);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A decode that succeeds must describe a message that encodes back to a
 * frame decoding to the same message. */
static void check_any(const uint8_t *f, size_t len)
{
	struct raft_message out, again;
	struct wire_arena arena, arena2;
	int rv = wire_peer_decode(f, len, WIRE_DECODE_COPY, &out, &arena);

	assert_true(rv == 0 || rv == QFS_EPROTO);
	if (rv != 0)
		return;
	size_t n2;
	uint8_t *f2 = encode(&out, &n2);
	assert_int_equal(wire_peer_decode(f2, n2, 0, &again, &arena2), 0);
	assert_true(peer_msg_equal(&out, &again));
	wire_arena_free(&arena2);
	wire_arena_free(&arena);
	free(f2);
}

static void random_and_mutated_input(void **state)
{
	struct raft_message s[PEER_SAMPLES_MAX];
	unsigned n = peer_samples(s);
	uint8_t buf[512];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = next_rand() % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)next_rand();
		if (len > 0)
			buf[0] = WIRE_FRAME_RAFT;
		check_any(buf, len);
	}
	for (unsigned i = 0; i < n; i++) {
		size_t len;
		uint8_t *f = encode(&s[i], &len);
		for (int round = 0; round < 2000; round++) {
			uint8_t *g = malloc(len);
			memcpy(g, f, len);
			for (int k = 0; k < 1 + (int)(next_rand() % 3); k++)
				g[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8));
			check_any(g, len);
			free(g);
		}
		free(f);
	}
}

static void frame_split(void **state)
{
	uint8_t f[] = {WIRE_FRAME_ADMIN, 1, 2, 3};
	const void *body;
	size_t blen;
	uint8_t kind;

	(void)state;
	assert_int_equal(wire_frame_split(f, sizeof(f), &kind, &body, &blen), 0);
	assert_int_equal(kind, WIRE_FRAME_ADMIN);
	assert_ptr_equal(body, f + 1);
	assert_int_equal(blen, 3);
	assert_int_equal(wire_frame_split(f, 0, &kind, &body, &blen), QFS_EPROTO);
	f[0] = 0;
	assert_int_equal(wire_frame_split(f, sizeof(f), &kind, &body, &blen), QFS_EPROTO);
	f[0] = WIRE_FRAME_KIND_LAST;
	assert_int_equal(wire_frame_split(f, sizeof(f), &kind, &body, &blen), QFS_EPROTO);
}

int test_peer_codec(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(roundtrip_every_type),
	        cmocka_unit_test(encoder_checks_its_input),
	        cmocka_unit_test(truncated_frames_rejected),
	        cmocka_unit_test(lying_lengths_rejected),
	        cmocka_unit_test(random_and_mutated_input),
	        cmocka_unit_test(frame_split),
	};
	return cmocka_run_group_tests_name("peer codec", tests, NULL, NULL);
}
