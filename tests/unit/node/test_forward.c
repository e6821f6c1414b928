/* test_forward.c: the forwarded-command frames (src/wire/forward.c) that src/node uses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quorumfs/errors.h"
#include "quorumfs/wire_forward.h"
#include "quorumfs/wire_peer.h"

static void test_forward_round_trip(void **state)
{
	uint8_t f[WIRE_FORWARD_HEADER + 3];
	uint64_t serial = 0;
	const void *cmd = NULL;
	size_t len = 0;
	(void)state;
	wire_forward_encode_header(0x0102030405060708ull, f);
	memcpy(f + WIRE_FORWARD_HEADER, "abc", 3);
	assert_int_equal(f[0], WIRE_FRAME_FORWARD);
	assert_int_equal(wire_forward_decode(f, sizeof(f), &serial, &cmd, &len), 0);
	assert_int_equal(serial, 0x0102030405060708ull);
	assert_int_equal(len, 3);
	assert_memory_equal(cmd, "abc", 3);
	/* No command, or another kind: refused. */
	assert_int_equal(wire_forward_decode(f, WIRE_FORWARD_HEADER, &serial, &cmd, &len),
	                 QFS_EPROTO);
	f[0] = WIRE_FRAME_RAFT;
	assert_int_equal(wire_forward_decode(f, sizeof(f), &serial, &cmd, &len), QFS_EPROTO);
}

static void test_result_round_trip(void **state)
{
	uint8_t f[WIRE_FORWARD_RESULT_SIZE];
	struct wire_forward_result in = {.serial = 7, .status = 0, .index = 42, .leader = 3}, out;
	(void)state;
	wire_forward_result_encode(&in, f);
	assert_int_equal(wire_forward_result_decode(f, sizeof(f), &out), 0);
	assert_int_equal(out.serial, 7);
	assert_int_equal(out.status, 0);
	assert_int_equal(out.index, 42);
	assert_int_equal(out.leader, 3);

	in = (struct wire_forward_result){.serial = 9, .status = QFS_ENOTLEADER, .leader = 2};
	wire_forward_result_encode(&in, f);
	assert_int_equal(wire_forward_result_decode(f, sizeof(f), &out), 0);
	assert_int_equal(out.status, QFS_ENOTLEADER);
	assert_int_equal(out.index, 0);

	/* Wrong size, a positive status, an index with an error: refused. */
	assert_int_equal(wire_forward_result_decode(f, sizeof(f) - 1, &out), QFS_EPROTO);
	in = (struct wire_forward_result){.serial = 1, .status = 5};
	wire_forward_result_encode(&in, f);
	assert_int_equal(wire_forward_result_decode(f, sizeof(f), &out), QFS_EPROTO);
	in = (struct wire_forward_result){.serial = 1, .status = -EBUSY, .index = 4};
	wire_forward_result_encode(&in, f);
	assert_int_equal(wire_forward_result_decode(f, sizeof(f), &out), QFS_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_forward_round_trip),
	        cmocka_unit_test(test_result_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
