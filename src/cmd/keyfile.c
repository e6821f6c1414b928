/* keyfile.c: create and read the cluster key file (libsodium's random bytes). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorumfs/errors.h"
#include "quorumfs/keyfile.h"

int qfs_key_generate(const char *path, char *err, size_t errlen)
{
	uint8_t key[QFS_KEY_BYTES];
	char hex[2 * QFS_KEY_BYTES + 2];
	int fd, rc = 0;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialize");
		return -EIO;
	}
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	strcat(hex, "\n");

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path,
		         rc == -EEXIST ? "exists; refusing to overwrite a cluster key"
		                       : strerror(-rc));
		sodium_memzero(hex, sizeof(hex));
		return rc;
	}
	size_t len = strlen(hex);
	if (write(fd, hex, len) != (ssize_t)len || fsync(fd) != 0) {
		rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		unlink(path);
	}
	close(fd);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

int qfs_key_load(const char *path, uint8_t key[QFS_KEY_BYTES], char *err, size_t errlen)
{
	char buf[2 * QFS_KEY_BYTES + 3];
	struct stat st;
	size_t bin_len = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: readable by group or others (mode %03o); chmod 600 it",
		         path, (unsigned)(st.st_mode & 0777));
		rc = -EPERM;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n != 2 * QFS_KEY_BYTES ||
	    sodium_hex2bin(key, QFS_KEY_BYTES, buf, (size_t)n, NULL, &bin_len, NULL) != 0 ||
	    bin_len != QFS_KEY_BYTES) {
		snprintf(err, errlen,
		         "%s: not a cluster key (64 hex digits; quorumctl keygen makes one)", path);
		rc = QFS_ECONFIG;
	}
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}
