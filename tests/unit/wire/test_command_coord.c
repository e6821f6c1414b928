/* test_command_coord.c: the codec of the coordination commands (20..24). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quorumfs/errors.h"
#include "quorumfs/wire_cmd.h"

static struct wire_cmd sample(int type)
{
	struct wire_cmd c = {.type = (enum wire_cmd_type)type,
	                     .client_id = 9,
	                     .serial = 3,
	                     .time_ns = -5,
	                     .ino = 77,
	                     .mode = 15000,
	                     .offset = 1234567};
	c.co.node = 2;
	c.co.session = 41;
	c.co.owner = UINT64_MAX;
	c.co.fh = 0x7f00deadbeefull;
	c.co.start = 1073741824;
	c.co.end = WIRE_LOCK_END_MAX;
	c.co.pid = 4242;
	if (type == WIRE_CMD_LOCK)
		c.flags = WIRE_LOCK_FLOCK | WIRE_LOCK_READ;
	return c;
}

static void roundtrip(void **state)
{
	(void)state;
	for (int t = WIRE_CMD_COORD_MIN; t <= WIRE_CMD_COORD_MAX; t++) {
		struct wire_cmd c = sample(t), d;
		uint8_t buf[512];
		size_t len;
		assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), 0);
		assert_true(len <= wire_cmd_encoded_max(&c));
		assert_int_equal(wire_cmd_decode(buf, len, &d), 0);
		assert_int_equal(d.type, t);
		assert_int_equal(d.co.node, 2);
		if (t != WIRE_CMD_UNLOCK_HANDLE)
			assert_int_equal(d.co.session, 41);
		if (t == WIRE_CMD_LOCK) {
			assert_true(d.co.owner == UINT64_MAX && d.co.fh == c.co.fh);
			assert_true(d.co.start == c.co.start && d.co.end == c.co.end);
			assert_int_equal(d.co.pid, 4242);
			assert_int_equal(d.flags, c.flags);
		}
		if (t == WIRE_CMD_SESSION_KEEPALIVE)
			assert_true(d.mode == 15000 && d.offset == 1234567);
		if (t == WIRE_CMD_SESSION_EXPIRE)
			assert_int_equal(d.offset, 1234567);
		assert_string_not_equal(wire_cmd_type_name(t), "unknown");
		/* Every shorter prefix is refused. */
		for (size_t k = 0; k < len; k++)
			assert_int_equal(wire_cmd_decode(buf, k, &d), QFS_EPROTO);
	}
	/* Between the ranges: unknown (25 PUT_IF and 26 TTL_EXPIRE: test_key.c). */
	assert_string_equal(wire_cmd_type_name(WIRE_CMD_TTL_EXPIRE + 1), "unknown");
	assert_string_equal(wire_cmd_type_name(WIRE_CMD_COORD_MIN - 1), "unknown");
}

static void flags_outside_the_set_are_refused(void **state)
{
	(void)state;
	struct wire_cmd c = sample(WIRE_CMD_LOCK);
	uint8_t buf[512];
	size_t len;
	c.flags = 0x8;
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
	c = sample(WIRE_CMD_EPHEMERAL);
	c.flags = 1; /* not a field of EPHEMERAL: ignored */
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), 0);
	c.type = (enum wire_cmd_type)(WIRE_CMD_COORD_MAX + 1);
	assert_int_equal(wire_cmd_encode(&c, buf, sizeof(buf), &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(roundtrip),
	        cmocka_unit_test(flags_outside_the_set_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
