/* test_util.c: error texts and the CRC-32C against known vectors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quorumfs/crc32c.h"
#include "quorumfs/errors.h"
#include "quorumfs/raft.h"

static void crc32c_known_vectors(void **state)
{
	(void)state;
	/* RFC 3720 (iSCSI) appendix B.4 test vectors. */
	unsigned char zeros[32] = {0}, ones[32], inc[32];
	memset(ones, 0xff, sizeof(ones));
	for (int i = 0; i < 32; i++)
		inc[i] = (unsigned char)i;
	assert_int_equal(qfs_crc32c(0, zeros, 32), 0x8a9136aa);
	assert_int_equal(qfs_crc32c(0, ones, 32), 0x62a8ab43);
	assert_int_equal(qfs_crc32c(0, inc, 32), 0x46dd794e);
	assert_int_equal(qfs_crc32c(0, "123456789", 9), 0xe3069283);
}

static void crc32c_extends_in_pieces(void **state)
{
	(void)state;
	const char *s = "the quick brown fox jumps over the lazy dog, twice over";
	size_t n = strlen(s);
	for (size_t cut = 0; cut <= n; cut++) {
		uint32_t c = qfs_crc32c(0, s, cut);
		c = qfs_crc32c(c, s + cut, n - cut);
		assert_int_equal(c, qfs_crc32c(0, s, n));
	}
}

static void strerror_covers_every_range(void **state)
{
	(void)state;
	assert_string_equal(qfs_strerror(0), "success");
	assert_string_equal(qfs_strerror(-ENOSPC), strerror(ENOSPC));
	assert_string_equal(qfs_strerror(QFS_ENOTLEADER), "not the leader");
	assert_string_equal(qfs_strerror(QFS_EMAPFULL), "the storage map is full");
	assert_string_equal(qfs_strerror(QFS_ELAST), "unknown error");
	/* The core's codes, with the core's own text. */
	assert_string_equal(qfs_strerror(RAFT_EBUSY),
	                    "a leadership transfer or membership change is under way");
	assert_string_equal(qfs_strerror(RAFT_ETOOMANY), "too many servers");
	assert_string_equal(qfs_strerror(-30099), "unknown error");
	for (int e = QFS_EBASE + 1; e < -QFS_ELAST; e++)
		assert_string_not_equal(qfs_strerror(-e), "unknown error");
	assert_true(qfs_is_errno(-EIO));
	assert_false(qfs_is_errno(QFS_ECORRUPT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(crc32c_known_vectors),
	        cmocka_unit_test(crc32c_extends_in_pieces),
	        cmocka_unit_test(strerror_covers_every_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
