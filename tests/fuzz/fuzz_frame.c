/* fuzz_frame.c: libFuzzer target for the frame reader and the handshake/session parser (src/net).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "quorumfs/errors.h"
#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: the first byte picks a mode.
 *   even: the rest is what a stranger sends to a listening node, cut into
 *         reads whose sizes come from the byte after the mode byte.
 *   odd:  a dialer and a listener finish a real handshake (fixed key and
 *         nonces), then the rest is records [op][len][len bytes]: op bit 0
 *         set seals the bytes as a genuine frame from the dialer, clear
 *         injects them raw; bit 1 set delivers them in 1-byte reads. So the
 *         fuzzer reaches the open state, with real frames mixed with forged
 *         and cut ones.
 */

static const uint8_t key[NET__KEY_LEN] = {42};

struct ctx {
	int frames;
};

static int s_send(void *ud, const uint8_t *buf, size_t len)
{
	(void)ud;
	(void)buf;
	(void)len;
	return 0;
}

static int s_open(void *ud, uint64_t id)
{
	(void)ud;
	if (id == 0)
		abort();
	return 0;
}

static int s_frame(void *ud, uint8_t *p, size_t len)
{
	struct ctx *c = ud;
	volatile uint8_t sum = 0;
	for (size_t i = 0; i < len; i++) /* touch every byte: ASan checks the bounds */
		sum ^= p[i];
	(void)sum;
	c->frames++;
	return 0;
}

static const struct net__sink sink = {s_send, s_open, s_frame};

/* A sink that records the bytes a session asks to send. */
struct out {
	uint8_t buf[256];
	size_t len;
};

static int o_send(void *ud, const uint8_t *buf, size_t len)
{
	struct out *o = ud;
	if (o->len + len > sizeof(o->buf))
		abort();
	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	return 0;
}

static const struct net__sink out_sink = {o_send, s_open, NULL};

static void start(struct net__session *s, bool dialer, uint8_t nonce_byte)
{
	uint8_t hash[NET__HASH_LEN], nonce[NET__NONCE_LEN];
	struct net__session_params p = {key,    hash, dialer ? 1 : 2, dialer ? 2 : 0,
	                                dialer, 4096, nonce};

	net__name_hash("fuzz", hash);
	memset(nonce, nonce_byte, sizeof(nonce));
	net__session_init(s, &p);
}

static int feed(struct net__session *s, const uint8_t *p, size_t len, size_t step, struct ctx *c)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rv = 0;

	memcpy(copy, p, len);
	for (size_t at = 0; at < len && rv == 0; at += step) {
		size_t n = len - at < step ? len - at : step;
		/* Each read in its own buffer, so a read past it is caught. */
		uint8_t *piece = malloc(n);
		memcpy(piece, copy + at, n);
		rv = net__session_feed(s, piece, n, &sink, c);
		free(piece);
	}
	free(copy);
	if (rv > 0 || (rv < 0 && s->state != NET__S_FAILED))
		abort();
	return rv;
}

static void stranger(const uint8_t *data, size_t size)
{
	struct net__session l;
	struct ctx c = {0};
	size_t step = size > 0 ? (size_t)data[0] + 1 : 1;

	start(&l, false, 2);
	if (size > 0)
		feed(&l, data + 1, size - 1, step, &c);
	if (c.frames != 0) /* nothing but a key holder can get a frame through */
		abort();
	net__session_free(&l);
}

static void established(const uint8_t *data, size_t size)
{
	struct net__session d, l;
	struct out od = {.len = 0}, ol = {.len = 0};
	struct ctx c = {0};
	int sealed = 0, rv = 0;
	bool dirty = false; /* raw bytes went in: the stream may be mid-frame */

	start(&d, true, 1);
	start(&l, false, 2);
	/* Hellos cross, then the proofs. */
	memcpy(od.buf, d.hello, sizeof(d.hello));
	if (net__session_feed(&l, od.buf, sizeof(d.hello), &out_sink, &ol) != 0)
		abort();
	{
		uint8_t in[256];
		size_t n = ol.len;
		memcpy(in, l.hello, sizeof(l.hello));
		memcpy(in + sizeof(l.hello), ol.buf, n);
		od.len = 0;
		if (net__session_feed(&d, in, sizeof(l.hello) + n, &out_sink, &od) != 0)
			abort();
		memcpy(in, od.buf, od.len);
		if (net__session_feed(&l, in, od.len, &out_sink, &ol) != 0)
			abort();
	}
	if (d.state != NET__S_OPEN || l.state != NET__S_OPEN)
		abort();

	while (size >= 2 && rv == 0) {
		uint8_t op = data[0];
		size_t len = data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (op & 1) {
			uint8_t *w = malloc(NET__HDR_LEN + len + NET__TAG_LEN);
			memcpy(w + NET__HDR_LEN, data, len);
			size_t n = net__session_seal(&d, w, len);
			rv = feed(&l, w, n, op & 2 ? 1 : n, &c);
			free(w);
			sealed++;
			/* A genuine frame on a clean stream must get through. */
			if (rv == 0 && !dirty && c.frames != sealed)
				abort();
		} else {
			rv = feed(&l, data, len, op & 2 ? 1 : (len ? len : 1), &c);
			dirty |= len > 0;
		}
		data += len;
		size -= len;
	}
	net__session_free(&d);
	net__session_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = true;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		established(data + 1, size - 1);
	else
		stranger(data + 1, size - 1);
	return 0;
}
