/* crypto.h: the cluster-key handshake and the authenticated encryption of frames. */
#ifndef QUORUMFS_NET_CRYPTO_H
#define QUORUMFS_NET_CRYPTO_H

/*
 * One session per TCP connection; docs/wire-format.md has the exact bytes.
 *
 *   1. Each side sends a hello at once: magic, version, role (dialer or
 *      listener), BLAKE2b hash of the cluster name, node id, 32 random bytes.
 *   2. On the peer's hello, each side checks magic, version, roles, name hash
 *      and node id, then derives from the cluster key and the transcript
 *      (both hellos, dialer's first) two frame keys (one per direction) and
 *      two proof keys, and sends its proof: a keyed BLAKE2b of the transcript.
 *   3. On the peer's proof (compared in constant time), the session is open.
 *      Every later frame is XChaCha20-Poly1305 with its direction's key, a
 *      64-bit counter as nonce and the length header as associated data, so a
 *      changed, dropped, replayed or reordered frame fails to open.
 *
 * Crypto is libsodium's (well-kept primitives, nothing hand-written). Pure
 * apart from libsodium: no I/O, no clock; the caller supplies the random
 * nonce, so tests and fuzzers can replay a session. Not thread-safe per session.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define NET__KEY_LEN   32
#define NET__NONCE_LEN 32
#define NET__HASH_LEN  32
#define NET__HELLO_LEN 80 /* magic 4, version 2, role 1, zero 1, name hash 32, id 8, nonce 32 */
#define NET__AUTH_LEN  32
#define NET__TAG_LEN   16 /* Poly1305 tag after each frame's ciphertext */
#define NET__VERSION   1

enum net__state { NET__S_HELLO, NET__S_AUTH, NET__S_OPEN, NET__S_FAILED };

struct net__session_params {
	const uint8_t *key;       /* NET__KEY_LEN bytes: the cluster key (copied) */
	const uint8_t *name_hash; /* NET__HASH_LEN bytes: net__name_hash() (copied) */
	uint64_t self_id;         /* our node id, non-zero */
	uint64_t expect_id;       /* the peer's id we dialed, or 0 (listener: anyone) */
	bool dialer;              /* we opened the connection */
	size_t max_frame;         /* largest frame payload accepted once open */
	const uint8_t *nonce;     /* NET__NONCE_LEN random bytes (copied) */
};

/* What a session asks of its connection while it reads. Each returns 0 to go
 * on, non-zero to stop reading at once (e.g. the connection is closing). */
struct net__sink {
	/* Bytes (handshake proof) to write as they are; copy them. */
	int (*send)(void *ud, const uint8_t *buf, size_t len);
	/* The handshake is done: the peer holds the key and is node @peer_id. */
	int (*open)(void *ud, uint64_t peer_id);
	/* One decrypted frame payload (borrowed for the call). */
	int (*frame)(void *ud, uint8_t *payload, size_t len);
};

struct net__session {
	enum net__state state;
	bool dialer;
	uint64_t self_id, expect_id, peer_id; /* peer_id: valid from NET__S_AUTH */
	size_t max_frame;
	uint8_t key[NET__KEY_LEN];
	uint8_t name_hash[NET__HASH_LEN];
	uint8_t hello[NET__HDR_LEN + NET__HELLO_LEN]; /* ours, framed, as sent */
	uint8_t peer_hello[NET__HELLO_LEN];
	uint8_t tx_key[NET__KEY_LEN], rx_key[NET__KEY_LEN];
	uint8_t peer_auth[NET__AUTH_LEN]; /* the proof we expect from the peer */
	uint64_t tx_seq, rx_seq;          /* next frame counter per direction */
	struct net__reader rd;
	char why[128]; /* the failure in words, once state is NET__S_FAILED */
};

/* The 32-byte hash of a cluster name sent in the hello. */
void net__name_hash(const char *name, uint8_t out[NET__HASH_LEN]);

/* Starts @s; its framed hello is then s->hello (sizeof bytes), to be sent first. */
void net__session_init(struct net__session *s, const struct net__session_params *p);

/* Wipes the keys and frees the reader. */
void net__session_free(struct net__session *s);

/*
 * net__session_feed - process bytes read from the peer.
 * @data, @len: the bytes (mutable: frames are decrypted in place).
 * Returns 0 (all used), 1 (a sink callback asked to stop), or an error after
 * which the session is NET__S_FAILED and s->why says why:
 * QFS_EPROTO (malformed handshake, wrong version or roles), QFS_EAUTH (wrong
 * cluster name, unexpected node id, bad proof, frame fails authentication),
 * -EMSGSIZE (a frame above the bound), -ENOMEM.
 */
int net__session_feed(struct net__session *s, uint8_t *data, size_t len,
                      const struct net__sink *sink, void *ud);

/*
 * net__session_seal - encrypt one frame in place for sending.
 * @wire: NET__HDR_LEN + @len + NET__TAG_LEN bytes; the payload is at
 *        wire + NET__HDR_LEN; the header and the tag are written.
 * Precondition: s->state == NET__S_OPEN and @len <= s->max_frame.
 * Returns the number of bytes to send.
 */
size_t net__session_seal(struct net__session *s, uint8_t *wire, size_t len);

#endif
