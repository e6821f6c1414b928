/* gen_corpus.c: writes the seed corpora of the fuzz targets (run once; the files are committed).
 * Usage: gen-corpus DIR  (writes DIR/peer_decode/ and DIR/frame/) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "quorumfs/wire_peer.h"
#include "peer_samples.h"
#include "crypto.h"

static void put(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	struct raft_message s[PEER_SAMPLES_MAX];
	unsigned n = peer_samples(s);
	char dir[4096], name[64];

	if (argc != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: gen-corpus DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/peer_decode", argv[1]);
	mkdir(dir, 0755);
	for (unsigned i = 0; i < n; i++) {
		size_t len;
		uint8_t *buf;
		if (wire_peer_size(&s[i], &len) != 0)
			return 1;
		buf = malloc(len);
		if (wire_peer_encode(&s[i], buf, len) != (int64_t)len)
			return 1;
		snprintf(name, sizeof(name), "%02u-type%u", i, s[i].type);
		put(dir, name, buf, len);
		free(buf);
	}

	snprintf(dir, sizeof(dir), "%s/frame", argv[1]);
	mkdir(dir, 0755);
	{
		/* Stranger mode: a well-formed hello of another cluster, read in 7-byte pieces. */
		struct net__session_params p;
		struct net__session hs;
		uint8_t key[NET__KEY_LEN] = {1}, hash[NET__HASH_LEN], nonce[NET__NONCE_LEN] = {3};
		uint8_t buf[2 + sizeof(hs.hello)];
		net__name_hash("other", hash);
		p = (struct net__session_params){key, hash, 9, 0, true, 4096, nonce};
		net__session_init(&hs, &p);
		buf[0] = 0;
		buf[1] = 6;
		memcpy(buf + 2, hs.hello, sizeof(hs.hello));
		put(dir, "stranger-hello", buf, sizeof(buf));
		net__session_free(&hs);
	}
	{
		const char http[] = "\x00\xffGET / HTTP/1.1\r\n\r\n";
		put(dir, "stranger-http", http, sizeof(http) - 1);
	}
	{
		/* Established mode: three sealed frames (one in 1-byte reads), a
		 * raw forged frame, then another sealed one. */
		uint8_t e[] = {1,  1, 5, 'h', 'e', 'l', 'l', 'o', 3,   3,   'a', 'b', 'c', 1, 0, 0,
		               24, 0, 0, 0,   20,  'f', 'o', 'r', 'g', 'e', 'd', 0,   0,   0, 0, 0,
		               0,  0, 0, 0,   0,   0,   0,   0,   0,   1,   2,   'z', 'z'};
		put(dir, "established-mix", e, sizeof(e));
		uint8_t w[] = {1, 1, 8, 1, 0x94, 9, 1, 2, 1, 0, 0};
		put(dir, "established-raft-frame", w, sizeof(w));
	}
	return 0;
}
