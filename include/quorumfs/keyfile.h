/* keyfile.h: the cluster key file: 32 random bytes, written as 64 hex digits. */
#ifndef QUORUMFS_KEYFILE_H
#define QUORUMFS_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define QFS_KEY_BYTES 32

/*
 * qfs_key_generate - write a new random key to @path (created with mode 0600,
 * never overwriting an existing file).
 * @err: receives one line on failure.
 * Returns 0, -EEXIST, or another -errno.
 */
int qfs_key_generate(const char *path, char *err, size_t errlen);

/*
 * qfs_key_load - read the key at @path into @key.
 * Refuses a file that group or others can read (a cluster key is a password)
 * and any content but 64 hex digits and an optional newline.
 * Returns 0, -EPERM (mode too open), QFS_ECONFIG (malformed), or -errno.
 */
int qfs_key_load(const char *path, uint8_t key[QFS_KEY_BYTES], char *err, size_t errlen);

#endif
