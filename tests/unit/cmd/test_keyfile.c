/* test_keyfile.c: keygen writes a private key once; load refuses open modes and junk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "quorumfs/errors.h"
#include "quorumfs/keyfile.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	static struct fixture f;
	strcpy(f.dir, "/tmp/qfs-key-XXXXXX");
	if (mkdtemp(f.dir) == NULL)
		return -1;
	snprintf(f.path, sizeof(f.path), "%s/cluster.key", f.dir);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unlink(f->path);
	rmdir(f->dir);
	return 0;
}

static void keygen_then_load(void **state)
{
	struct fixture *f = *state;
	char err[256];
	uint8_t a[QFS_KEY_BYTES], b[QFS_KEY_BYTES];
	struct stat st;

	assert_int_equal(qfs_key_generate(f->path, err, sizeof(err)), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	assert_int_equal(qfs_key_load(f->path, a, err, sizeof(err)), 0);
	assert_int_equal(qfs_key_load(f->path, b, err, sizeof(err)), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* A second keygen must not replace a cluster's key. */
	assert_int_equal(qfs_key_generate(f->path, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "refusing to overwrite"));
	assert_int_equal(qfs_key_load(f->path, b, err, sizeof(err)), 0);
	assert_memory_equal(a, b, sizeof(a));
}

static void two_keys_differ(void **state)
{
	struct fixture *f = *state;
	char err[256], other[160];
	uint8_t a[QFS_KEY_BYTES], b[QFS_KEY_BYTES];
	snprintf(other, sizeof(other), "%s/other.key", f->dir);
	assert_int_equal(qfs_key_generate(f->path, err, sizeof(err)), 0);
	assert_int_equal(qfs_key_generate(other, err, sizeof(err)), 0);
	assert_int_equal(qfs_key_load(f->path, a, err, sizeof(err)), 0);
	assert_int_equal(qfs_key_load(other, b, err, sizeof(err)), 0);
	unlink(other);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void load_refuses_open_mode(void **state)
{
	struct fixture *f = *state;
	char err[256];
	uint8_t k[QFS_KEY_BYTES];
	assert_int_equal(qfs_key_generate(f->path, err, sizeof(err)), 0);
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(qfs_key_load(f->path, k, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
}

static void load_refuses_junk(void **state)
{
	struct fixture *f = *state;
	char err[256];
	uint8_t k[QFS_KEY_BYTES];
	const char *bad[] = {"", "abcd\n",
	                     "zz"
	                     "0000000000000000000000000000000000000000000000000000000000000000",
	                     "000000000000000000000000000000000000000000000000000000000000000g\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *fp = fopen(f->path, "w");
		assert_non_null(fp);
		fputs(bad[i], fp);
		fclose(fp);
		assert_int_equal(chmod(f->path, 0600), 0);
		assert_int_equal(qfs_key_load(f->path, k, err, sizeof(err)), QFS_ECONFIG);
		assert_non_null(strstr(err, "not a cluster key"));
	}
	assert_int_equal(qfs_key_load("/nonexistent/k", k, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(keygen_then_load, setup, teardown),
	        cmocka_unit_test_setup_teardown(two_keys_differ, setup, teardown),
	        cmocka_unit_test_setup_teardown(load_refuses_open_mode, setup, teardown),
	        cmocka_unit_test_setup_teardown(load_refuses_junk, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
