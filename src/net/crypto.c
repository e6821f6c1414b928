/* crypto.c: the cluster-key handshake and the authenticated encryption of frames. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "quorumfs/errors.h"
#include "crypto.h"

static const uint8_t magic[4] = {'Q', 'F', 'S', 'N'};

/* crypto_kdf subkey ids under the session's root key. */
enum { KDF_D2L = 1, KDF_L2D = 2, KDF_AUTH_D = 3, KDF_AUTH_L = 4 };
static const char kdf_ctx[crypto_kdf_CONTEXTBYTES] = {'q', 'f', 's', '-', 's', 'e', 's', 's'};

void net__name_hash(const char *name, uint8_t out[NET__HASH_LEN])
{
	static const char domain[] = "quorumfs cluster name v1";
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, NET__HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
	crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
	crypto_generichash_final(&st, out, NET__HASH_LEN);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void net__session_init(struct net__session *s, const struct net__session_params *p)
{
	uint8_t *h;

	memset(s, 0, sizeof(*s));
	s->state = NET__S_HELLO;
	s->dialer = p->dialer;
	s->self_id = p->self_id;
	s->expect_id = p->expect_id;
	s->max_frame = p->max_frame;
	memcpy(s->key, p->key, NET__KEY_LEN);
	memcpy(s->name_hash, p->name_hash, NET__HASH_LEN);
	/* Before the session opens, only the hello and the proof may arrive. */
	net__reader_init(&s->rd, NET__HELLO_LEN);

	net__put_len(s->hello, NET__HELLO_LEN);
	h = s->hello + NET__HDR_LEN;
	memcpy(h, magic, 4);
	h[4] = 0;
	h[5] = NET__VERSION;
	h[6] = p->dialer ? 0 : 1;
	h[7] = 0;
	memcpy(h + 8, p->name_hash, NET__HASH_LEN);
	put64(h + 40, p->self_id);
	memcpy(h + 48, p->nonce, NET__NONCE_LEN);
}

void net__session_free(struct net__session *s)
{
	sodium_memzero(s->key, sizeof(s->key));
	sodium_memzero(s->tx_key, sizeof(s->tx_key));
	sodium_memzero(s->rx_key, sizeof(s->rx_key));
	net__reader_free(&s->rd);
}

__attribute__((format(printf, 3, 4))) static int fail(struct net__session *s, int err,
                                                      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	s->state = NET__S_FAILED;
	return err;
}

/* Derives the frame keys and the proofs from the transcript (Section
 * "Handshake" of docs/wire-format.md). Writes our proof to @mine. */
static void derive(struct net__session *s, uint8_t mine[NET__AUTH_LEN])
{
	static const char domain[] = "quorumfs handshake v1";
	const uint8_t *ours = s->hello + NET__HDR_LEN;
	const uint8_t *hd = s->dialer ? ours : s->peer_hello;
	const uint8_t *hl = s->dialer ? s->peer_hello : ours;
	uint8_t th[crypto_generichash_BYTES], root[crypto_kdf_KEYBYTES];
	uint8_t auth_d[NET__KEY_LEN], auth_l[NET__KEY_LEN], k_d2l[NET__KEY_LEN],
	        k_l2d[NET__KEY_LEN];
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, sizeof(th));
	crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
	crypto_generichash_update(&st, hd, NET__HELLO_LEN);
	crypto_generichash_update(&st, hl, NET__HELLO_LEN);
	crypto_generichash_final(&st, th, sizeof(th));

	/* The root key needs the cluster key: without it nothing below can be made. */
	crypto_generichash(root, sizeof(root), th, sizeof(th), s->key, NET__KEY_LEN);
	crypto_kdf_derive_from_key(k_d2l, sizeof(k_d2l), KDF_D2L, kdf_ctx, root);
	crypto_kdf_derive_from_key(k_l2d, sizeof(k_l2d), KDF_L2D, kdf_ctx, root);
	crypto_kdf_derive_from_key(auth_d, sizeof(auth_d), KDF_AUTH_D, kdf_ctx, root);
	crypto_kdf_derive_from_key(auth_l, sizeof(auth_l), KDF_AUTH_L, kdf_ctx, root);

	memcpy(s->tx_key, s->dialer ? k_d2l : k_l2d, NET__KEY_LEN);
	memcpy(s->rx_key, s->dialer ? k_l2d : k_d2l, NET__KEY_LEN);
	/* Each role proves with its own key, so a proof reflected back fails. */
	crypto_generichash(mine, NET__AUTH_LEN, th, sizeof(th), s->dialer ? auth_d : auth_l,
	                   NET__KEY_LEN);
	crypto_generichash(s->peer_auth, NET__AUTH_LEN, th, sizeof(th), s->dialer ? auth_l : auth_d,
	                   NET__KEY_LEN);

	sodium_memzero(root, sizeof(root));
	sodium_memzero(k_d2l, sizeof(k_d2l));
	sodium_memzero(k_l2d, sizeof(k_l2d));
	sodium_memzero(auth_d, sizeof(auth_d));
	sodium_memzero(auth_l, sizeof(auth_l));
}

static int on_hello(struct net__session *s, const uint8_t *h, size_t len,
                    const struct net__sink *sink, void *ud)
{
	uint8_t framed[NET__HDR_LEN + NET__AUTH_LEN];
	uint64_t id;

	if (len != NET__HELLO_LEN)
		return fail(s, QFS_EPROTO, "malformed hello (%zu bytes)", len);
	if (memcmp(h, magic, 4) != 0)
		return fail(s, QFS_EPROTO, "not a quorumfs peer (bad magic)");
	if (h[4] != 0 || h[5] != NET__VERSION)
		return fail(s, QFS_EPROTO, "unsupported protocol version %u", h[4] << 8 | h[5]);
	if (h[6] != (s->dialer ? 1 : 0) || h[7] != 0)
		return fail(s, QFS_EPROTO, "bad role in hello");
	if (sodium_memcmp(h + 8, s->name_hash, NET__HASH_LEN) != 0)
		return fail(s, QFS_EAUTH, "wrong cluster name");
	id = get64(h + 40);
	if (id == 0 || id == s->self_id)
		return fail(s, QFS_EPROTO, "peer claims node id %llu", (unsigned long long)id);
	if (s->expect_id != 0 && id != s->expect_id)
		return fail(s, QFS_EAUTH, "peer is node %llu, expected node %llu",
		            (unsigned long long)id, (unsigned long long)s->expect_id);
	if (memcmp(h + 48, s->hello + NET__HDR_LEN + 48, NET__NONCE_LEN) == 0)
		return fail(s, QFS_EPROTO, "our own hello reflected");
	memcpy(s->peer_hello, h, NET__HELLO_LEN);
	s->peer_id = id;
	s->state = NET__S_AUTH;

	net__put_len(framed, NET__AUTH_LEN);
	derive(s, framed + NET__HDR_LEN);
	return sink->send(ud, framed, sizeof(framed)) != 0 ? 1 : 0;
}

static int on_auth(struct net__session *s, const uint8_t *a, size_t len,
                   const struct net__sink *sink, void *ud)
{
	if (len != NET__AUTH_LEN)
		return fail(s, QFS_EPROTO, "malformed handshake proof (%zu bytes)", len);
	if (sodium_memcmp(a, s->peer_auth, NET__AUTH_LEN) != 0)
		return fail(s, QFS_EAUTH, "bad handshake proof (wrong cluster key?)");
	s->state = NET__S_OPEN;
	s->rd.max = s->max_frame + NET__TAG_LEN;
	return sink->open(ud, s->peer_id) != 0 ? 1 : 0;
}

static void seq_nonce(uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], uint64_t seq)
{
	memset(n, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	put64(n, seq);
}

static int on_frame(struct net__session *s, uint8_t *f, size_t len, const struct net__sink *sink,
                    void *ud)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], ad[NET__HDR_LEN];
	size_t plen;

	if (len < NET__TAG_LEN)
		return fail(s, QFS_EPROTO, "frame of %zu bytes is shorter than its tag", len);
	plen = len - NET__TAG_LEN;
	net__put_len(ad, (uint32_t)len);
	seq_nonce(nonce, s->rx_seq);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(f, NULL, f, plen, f + plen, ad,
	                                                        sizeof(ad), nonce, s->rx_key) != 0)
		return fail(s, QFS_EAUTH, "frame %llu fails authentication",
		            (unsigned long long)s->rx_seq);
	s->rx_seq++;
	return sink->frame(ud, f, plen) != 0 ? 1 : 0;
}

int net__session_feed(struct net__session *s, uint8_t *data, size_t len,
                      const struct net__sink *sink, void *ud)
{
	uint8_t *f;
	size_t flen;
	int rv;

	if (s->state == NET__S_FAILED)
		return QFS_EPROTO;
	while (len > 0) {
		rv = net__reader_next(&s->rd, &data, &len, &f, &flen);
		if (rv == 0)
			return 0;
		if (rv == -EMSGSIZE)
			return fail(s, -EMSGSIZE, "%s frame of %lu bytes exceeds the maximum %zu",
			            s->state == NET__S_OPEN ? "a" : "handshake",
			            (unsigned long)s->rd.last_len, s->rd.max);
		if (rv < 0)
			return fail(s, rv, "out of memory reading a frame");
		switch (s->state) {
		case NET__S_HELLO:
			rv = on_hello(s, f, flen, sink, ud);
			break;
		case NET__S_AUTH:
			rv = on_auth(s, f, flen, sink, ud);
			break;
		default:
			rv = on_frame(s, f, flen, sink, ud);
			break;
		}
		if (rv != 0)
			return rv;
	}
	return 0;
}

size_t net__session_seal(struct net__session *s, uint8_t *wire, size_t len)
{
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t *p = wire + NET__HDR_LEN;

	net__put_len(wire, (uint32_t)(len + NET__TAG_LEN));
	seq_nonce(nonce, s->tx_seq++);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(p, p + len, NULL, p, len, wire,
	                                                    NET__HDR_LEN, NULL, nonce, s->tx_key);
	return NET__HDR_LEN + len + NET__TAG_LEN;
}
