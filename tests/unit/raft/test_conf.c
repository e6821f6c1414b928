/* test_conf.c: the configuration codec: roundtrip and rejection of garbage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "quorumfs/raft.h"
#include "tests.h"

static void make_conf(struct raft_conf *c, unsigned n)
{
	memset(c, 0, sizeof(*c));
	c->n = n;
	for (unsigned i = 0; i < n; i++) {
		c->servers[i].id = 100 + i;
		c->servers[i].role = i % 3 == 2 ? RAFT_LEARNER : RAFT_VOTER;
		snprintf(c->servers[i].address, RAFT_ADDRESS_MAX, "node-%u.example:70%02u", i, i);
	}
}

static void test_conf_roundtrip(void **state)
{
	uint8_t buf[4096];
	for (unsigned n = 0; n <= RAFT_MAX_SERVERS; n++) {
		struct raft_conf c, d;
		make_conf(&c, n);
		size_t len = raft_conf_encode(&c, buf, sizeof(buf));
		assert_true(len <= sizeof(buf));
		assert_int_equal(raft_conf_decode(buf, len, &d), 0);
		assert_int_equal(d.n, n);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(d.servers[i].id, c.servers[i].id);
			assert_int_equal(d.servers[i].role, c.servers[i].role);
			assert_string_equal(d.servers[i].address, c.servers[i].address);
		}
	}
	struct raft_conf c;
	make_conf(&c, 3);
	assert_int_equal(raft_conf_voters(&c), 2);
	assert_non_null(raft_conf_get(&c, 101));
	assert_null(raft_conf_get(&c, 7));
}

static void test_conf_small_buffer(void **state)
{
	struct raft_conf c;
	uint8_t buf[8];
	make_conf(&c, 3);
	size_t need = raft_conf_encode(&c, NULL, 0);
	assert_true(need > sizeof(buf));
	assert_int_equal(raft_conf_encode(&c, buf, sizeof(buf)), need);
}

static void test_conf_garbage(void **state)
{
	struct raft_conf c, d;
	uint8_t buf[1024], bad[1024];
	make_conf(&c, 4);
	size_t len = raft_conf_encode(&c, buf, sizeof(buf));
	/* Every truncation fails. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(raft_conf_decode(buf, l, &d), -EINVAL);
	/* Trailing bytes fail. */
	memcpy(bad, buf, len);
	bad[len] = 0;
	assert_int_equal(raft_conf_decode(bad, len + 1, &d), -EINVAL);
	/* Wrong version. */
	memcpy(bad, buf, len);
	bad[0] = 9;
	assert_int_equal(raft_conf_decode(bad, len, &d), -EINVAL);
	/* Too many servers. */
	memcpy(bad, buf, len);
	bad[1] = RAFT_MAX_SERVERS + 1;
	assert_int_equal(raft_conf_decode(bad, len, &d), -EINVAL);
	/* Zero id. */
	memcpy(bad, buf, len);
	memset(bad + 2, 0, 8);
	assert_int_equal(raft_conf_decode(bad, len, &d), -EINVAL);
	/* Bad role. */
	memcpy(bad, buf, len);
	bad[2 + 8] = 7;
	assert_int_equal(raft_conf_decode(bad, len, &d), -EINVAL);
	/* NUL inside an address. */
	memcpy(bad, buf, len);
	bad[2 + 10 + 1] = 0;
	assert_int_equal(raft_conf_decode(bad, len, &d), -EINVAL);
	/* Duplicate id: copy server 0's id over server 1's. */
	memcpy(bad, buf, len);
	size_t s1 = 2 + 10 + bad[2 + 9];
	memcpy(bad + s1, bad + 2, 8);
	assert_int_equal(raft_conf_decode(bad, len, &d), -EINVAL);
	/* Address length beyond the end. */
	memcpy(bad, buf, len);
	bad[2 + 9] = 200;
	assert_int_equal(raft_conf_decode(bad, len, &d), -EINVAL);
	assert_int_equal(raft_conf_decode(NULL, 0, &d), -EINVAL);
	/* Pseudo-random garbage never crashes and rarely decodes. */
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 10000; i++) {
		size_t l = 0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		l = x % 64;
		for (size_t k = 0; k < l; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			bad[k] = (uint8_t)x;
		}
		if (raft_conf_decode(bad, l, &d) == 0) {
			/* whatever decodes must re-encode to the same bytes */
			uint8_t again[1024];
			assert_int_equal(raft_conf_encode(&d, again, sizeof(again)), l);
			assert_memory_equal(again, bad, l);
		}
	}
}

static void test_strings(void **state)
{
	assert_string_equal(raft_role_name(RAFT_LEADER), "leader");
	assert_string_equal(raft_msg_type_name(RAFT_MSG_APPEND), "append");
	assert_string_equal(raft_msg_type_name(99), "unknown");
	assert_non_null(raft_strerror(RAFT_EBUSY));
	assert_string_not_equal(raft_strerror(RAFT_EBUSY), "unknown error");
	assert_string_equal(raft_strerror(-12345), "unknown error");
}

int raft_test_conf(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_conf_roundtrip),
	        cmocka_unit_test(test_conf_small_buffer),
	        cmocka_unit_test(test_conf_garbage),
	        cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests_name("raft_conf", tests, NULL, NULL);
}
