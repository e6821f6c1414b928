/* test_frame_crypto.c: frame reassembly and the handshake/encryption session, without sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "quorumfs/errors.h"
#include "frame.h"
#include "crypto.h"
#include "test_net.h"

/* ------------------------------------------------------------------------ */
/* Reader                                                                     */

static void reader_any_split(void **state)
{
	/* Three frames: 5 bytes, 0 bytes, 70000 bytes (gathered across reads). */
	size_t sizes[] = {5, 0, 70000};
	size_t total = 0, off = 0;
	uint8_t *stream;

	(void)state;
	for (int i = 0; i < 3; i++)
		total += 4 + sizes[i];
	stream = malloc(total);
	for (int i = 0; i < 3; i++) {
		net__put_len(stream + off, (uint32_t)sizes[i]);
		for (size_t k = 0; k < sizes[i]; k++)
			stream[off + 4 + k] = (uint8_t)(i * 31 + k);
		off += 4 + sizes[i];
	}
	/* Every chunk size from 1 byte to the whole stream at once. */
	size_t chunks[] = {1, 2, 3, 7, 4096, 65536, total};
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct net__reader r;
		int got = 0;
		net__reader_init(&r, 100000);
		for (size_t at = 0; at < total; at += chunks[c]) {
			size_t len = total - at < chunks[c] ? total - at : chunks[c];
			uint8_t *copy = malloc(len), *p = copy, *f;
			size_t flen;
			int rv;
			memcpy(copy, stream + at, len);
			while ((rv = net__reader_next(&r, &p, &len, &f, &flen)) == 1) {
				assert_true(got < 3);
				assert_int_equal(flen, sizes[got]);
				for (size_t k = 0; k < flen; k++)
					assert_int_equal(f[k], (uint8_t)(got * 31 + k));
				got++;
			}
			assert_int_equal(rv, 0);
			assert_int_equal(len, 0);
			free(copy);
		}
		assert_int_equal(got, 3);
		net__reader_free(&r);
	}
	free(stream);
}

static void reader_refuses_oversize_before_allocating(void **state)
{
	struct net__reader r;
	uint8_t hdr[4] = {0xff, 0xff, 0xff, 0xf0}, *p = hdr, *f;
	size_t len = sizeof(hdr), flen;

	(void)state;
	net__reader_init(&r, 1000);
	assert_int_equal(net__reader_next(&r, &p, &len, &f, &flen), -EMSGSIZE);
	assert_int_equal(r.last_len, 0xfffffff0u);
	assert_null(r.buf);
	net__reader_free(&r);
}

/* ------------------------------------------------------------------------ */
/* Session                                                                    */

struct end {
	struct net__session s;
	uint8_t out[4096]; /* bytes it asked to send */
	size_t out_len;
	bool open;
	uint64_t peer;
	uint8_t got[8][256];
	size_t got_len[8];
	int n_got;
};

static int e_send(void *ud, const uint8_t *buf, size_t len)
{
	struct end *e = ud;
	assert_true(e->out_len + len <= sizeof(e->out));
	memcpy(e->out + e->out_len, buf, len);
	e->out_len += len;
	return 0;
}

static int e_open(void *ud, uint64_t id)
{
	struct end *e = ud;
	e->open = true;
	e->peer = id;
	return 0;
}

static int e_frame(void *ud, uint8_t *p, size_t len)
{
	struct end *e = ud;
	assert_true(e->n_got < 8 && len <= 256);
	memcpy(e->got[e->n_got], p, len);
	e->got_len[e->n_got++] = len;
	return 0;
}

static const struct net__sink sink = {e_send, e_open, e_frame};

static void start(struct end *e, const uint8_t *key, const char *name, uint64_t self,
                  uint64_t expect, bool dialer)
{
	uint8_t hash[NET__HASH_LEN], nonce[NET__NONCE_LEN];
	struct net__session_params p = {key, hash, self, expect, dialer, 1024, nonce};

	memset(e, 0, sizeof(*e));
	net__name_hash(name, hash);
	randombytes_buf(nonce, sizeof(nonce));
	net__session_init(&e->s, &p);
	memcpy(e->out, e->s.hello, sizeof(e->s.hello));
	e->out_len = sizeof(e->s.hello);
}

/* Moves what @from wants sent into @to; returns @to's feed result. */
static int pump(struct end *from, struct end *to)
{
	uint8_t buf[4096];
	size_t len = from->out_len;

	memcpy(buf, from->out, len);
	from->out_len = 0;
	return net__session_feed(&to->s, buf, len, &sink, to);
}

static const uint8_t key1[32] = {1, 2, 3}, key2[32] = {1, 2, 4};

static void handshake(struct end *d, struct end *l, int *rd, int *rl)
{
	/* Both hellos cross, then both proofs. */
	*rl = pump(d, l);
	*rd = pump(l, d);
	if (*rl == 0)
		*rl = pump(d, l);
	else
		d->out_len = 0;
}

static size_t seal(struct end *e, const char *text, uint8_t *wire)
{
	size_t len = strlen(text);
	memcpy(wire + NET__HDR_LEN, text, len);
	return net__session_seal(&e->s, wire, len);
}

static void session_opens_and_carries_frames(void **state)
{
	struct end d, l;
	uint8_t w1[64], w2[64], both[128];
	size_t n1, n2;
	int rd, rl;

	(void)state;
	start(&d, key1, "prod", 1, 2, true);
	start(&l, key1, "prod", 2, 0, false);
	handshake(&d, &l, &rd, &rl);
	assert_int_equal(rd, 0);
	assert_int_equal(rl, 0);
	assert_true(d.open && l.open);
	assert_int_equal(d.peer, 2);
	assert_int_equal(l.peer, 1);

	n1 = seal(&d, "first", w1);
	n2 = seal(&d, "second", w2);
	assert_int_equal(n1, NET__HDR_LEN + 5 + NET__TAG_LEN);
	memcpy(both, w1, n1);
	memcpy(both + n1, w2, n2);
	assert_int_equal(net__session_feed(&l.s, both, n1 + n2, &sink, &l), 0);
	assert_int_equal(l.n_got, 2);
	assert_memory_equal(l.got[0], "first", 5);
	assert_memory_equal(l.got[1], "second", 6);
	/* And the other direction, with its own key. */
	n1 = seal(&l, "back", w1);
	assert_int_equal(net__session_feed(&d.s, w1, n1, &sink, &d), 0);
	assert_int_equal(d.n_got, 1);
	net__session_free(&d.s);
	net__session_free(&l.s);
}

static void session_rejects_replay_reorder_tamper(void **state)
{
	struct end d, l;
	uint8_t w1[64], w2[64], copy[64];
	size_t n1, n2;
	int rd, rl;

	(void)state;
	/* Replay: the same frame twice. */
	start(&d, key1, "prod", 1, 2, true);
	start(&l, key1, "prod", 2, 0, false);
	handshake(&d, &l, &rd, &rl);
	n1 = seal(&d, "once", w1);
	memcpy(copy, w1, n1);
	assert_int_equal(net__session_feed(&l.s, w1, n1, &sink, &l), 0);
	assert_int_equal(net__session_feed(&l.s, copy, n1, &sink, &l), QFS_EAUTH);
	assert_non_null(strstr(l.s.why, "fails authentication"));
	net__session_free(&d.s);
	net__session_free(&l.s);

	/* Reorder: the second frame first. */
	start(&d, key1, "prod", 1, 2, true);
	start(&l, key1, "prod", 2, 0, false);
	handshake(&d, &l, &rd, &rl);
	n1 = seal(&d, "one", w1);
	n2 = seal(&d, "two", w2);
	(void)n1;
	assert_int_equal(net__session_feed(&l.s, w2, n2, &sink, &l), QFS_EAUTH);
	assert_int_equal(l.n_got, 0);
	net__session_free(&d.s);
	net__session_free(&l.s);

	/* Tamper: one bit of ciphertext, or of the length header. */
	for (int where = 0; where < 2; where++) {
		start(&d, key1, "prod", 1, 2, true);
		start(&l, key1, "prod", 2, 0, false);
		handshake(&d, &l, &rd, &rl);
		n1 = seal(&d, "payload", w1);
		if (where == 0)
			w1[NET__HDR_LEN + 2] ^= 1;
		else
			w1[3] -= 1; /* shorter: the tag moves, authentication fails */
		assert_true(net__session_feed(&l.s, w1, n1 - (size_t)where, &sink, &l) < 0);
		assert_int_equal(l.n_got, 0);
		net__session_free(&d.s);
		net__session_free(&l.s);
	}
}

static void session_rejects_strangers(void **state)
{
	struct end d, l;
	int rd, rl;

	(void)state;
	/* Wrong key: both see a bad proof; neither opens. */
	start(&d, key2, "prod", 1, 2, true);
	start(&l, key1, "prod", 2, 0, false);
	handshake(&d, &l, &rd, &rl);
	assert_int_equal(rd, QFS_EAUTH);
	assert_int_equal(rl, QFS_EAUTH);
	assert_false(d.open || l.open);
	assert_non_null(strstr(l.s.why, "wrong cluster key"));
	net__session_free(&d.s);
	net__session_free(&l.s);

	/* Wrong cluster name: refused at the hello, before any key is derived. */
	start(&d, key1, "staging", 1, 2, true);
	start(&l, key1, "prod", 2, 0, false);
	assert_int_equal(pump(&d, &l), QFS_EAUTH);
	assert_string_equal(l.s.why, "wrong cluster name");
	assert_int_equal(l.out_len, sizeof(l.s.hello)); /* no proof was sent */
	net__session_free(&d.s);
	net__session_free(&l.s);

	/* The node we reached is not the one we dialed. */
	start(&d, key1, "prod", 1, 3, true);
	start(&l, key1, "prod", 2, 0, false);
	assert_int_equal(pump(&l, &d), QFS_EAUTH);
	assert_non_null(strstr(d.s.why, "expected node 3"));
	net__session_free(&d.s);
	net__session_free(&l.s);

	/* Our own hello reflected back: refused (same role). */
	start(&d, key1, "prod", 1, 2, true);
	{
		uint8_t buf[sizeof(d.s.hello)];
		memcpy(buf, d.s.hello, sizeof(buf));
		assert_int_equal(net__session_feed(&d.s, buf, sizeof(buf), &sink, &d), QFS_EPROTO);
	}
	net__session_free(&d.s);

	/* Garbage: an HTTP request reads as a huge handshake frame. */
	start(&l, key1, "prod", 2, 0, false);
	{
		char get[] = "GET / HTTP/1.1\r\n\r\n";
		assert_int_equal(net__session_feed(&l.s, (uint8_t *)get, strlen(get), &sink, &l),
		                 -EMSGSIZE);
		assert_non_null(strstr(l.s.why, "handshake frame"));
	}
	net__session_free(&l.s);
}

int test_frame_session(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(reader_any_split),
	        cmocka_unit_test(reader_refuses_oversize_before_allocating),
	        cmocka_unit_test(session_opens_and_carries_frames),
	        cmocka_unit_test(session_rejects_replay_reorder_tamper),
	        cmocka_unit_test(session_rejects_strangers),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("frame and session", tests, NULL, NULL);
}
