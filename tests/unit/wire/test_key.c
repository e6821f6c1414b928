/* test_key.c: key calls round-trip; admin frames, bad flags and cut frames are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "quorumfs/errors.h"
#include "quorumfs/wire_admin.h"
#include "quorumfs/wire_cmd.h"
#include "quorumfs/wire_key.h"

static void request_round_trip(void **state)
{
	(void)state;
	const char value[] = {'a', 0, 'b', '\n'};
	struct wire_key_req in = {.op = WIRE_KEY_PUT, .path = "/app/db_host", .path_len = 12,
	                          .value = value, .value_len = sizeof(value),
	                          .flags = WIRE_KEY_IF_VERSION, .version = 42}, out;
	size_t cap = wire_key_req_size(&in);
	uint8_t *buf = malloc(cap);
	int n = wire_key_req_encode(&in, buf, cap);
	assert_true(n > 0);
	assert_int_equal(wire_key_req_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.op, WIRE_KEY_PUT);
	assert_int_equal(out.path_len, 12);
	assert_memory_equal(out.path, "/app/db_host", 12);
	assert_int_equal(out.value_len, sizeof(value));
	assert_memory_equal(out.value, value, sizeof(value));
	assert_int_equal(out.flags, WIRE_KEY_IF_VERSION);
	assert_int_equal(out.version, 42);
	/* Every cut of the frame is refused. */
	for (int k = 0; k < n; k++)
		assert_int_equal(wire_key_req_decode(buf, (size_t)k, &out), QFS_EPROTO);
	/* A buffer too small says so. */
	assert_int_equal(wire_key_req_encode(&in, buf, 8), -ENOBUFS);
	free(buf);
}

static void response_round_trip(void **state)
{
	(void)state;
	struct wire_key_resp in = {.err = -ECANCELED, .version = 7, .value = "v", .value_len = 1,
	                           .message = "stale"}, out;
	uint8_t buf[256];
	char msg[4];
	int n = wire_key_resp_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_key_resp_decode(buf, (size_t)n, &out, msg, sizeof(msg)), 0);
	assert_int_equal(out.err, -ECANCELED);
	assert_int_equal(out.version, 7);
	assert_int_equal(out.value_len, 1);
	assert_string_equal(out.message, "sta"); /* cut to the buffer, NUL-terminated */
	for (int k = 0; k < n; k++)
		assert_int_equal(wire_key_resp_decode(buf, (size_t)k, &out, msg, sizeof(msg)),
		                 QFS_EPROTO);
}

/* The admin socket tells the two kinds of call apart by decoding. */
static void admin_and_key_frames_never_mix(void **state)
{
	(void)state;
	struct wire_admin_req a = {.op = WIRE_ADMIN_STATUS}, a_out;
	struct wire_key_req k = {.op = WIRE_KEY_GET, .path = "/", .path_len = 1}, k_out;
	uint8_t buf[512];
	int n = wire_admin_req_encode(&a, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_key_req_decode(buf, (size_t)n, &k_out), QFS_EPROTO);
	n = wire_key_req_encode(&k, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_admin_req_decode(buf, (size_t)n, &a_out), QFS_EPROTO);
}

static void bad_fields_are_refused(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct wire_key_req out;
	struct wire_key_req both = {.op = WIRE_KEY_PUT, .path = "/k", .path_len = 2,
	                            .flags = WIRE_KEY_IF_ABSENT | WIRE_KEY_IF_VERSION};
	struct wire_key_req flag = {.op = WIRE_KEY_PUT, .path = "/k", .path_len = 2, .flags = 0x80};
	struct wire_key_req op = {.op = WIRE_KEY_OP_LAST, .path = "/k", .path_len = 2};
	struct wire_key_req nul = {.op = WIRE_KEY_GET, .path = "/k\0x", .path_len = 4};
	const struct wire_key_req *bad[] = {&both, &flag, &op, &nul};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = wire_key_req_encode(bad[i], buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(wire_key_req_decode(buf, (size_t)n, &out), QFS_EPROTO);
	}
}

/* PUT_IF, the conditional put's command, round-trips with its version. */
static void put_if_command_round_trip(void **state)
{
	(void)state;
	struct wire_cmd in = {.type = WIRE_CMD_PUT_IF, .parent = 1, .name = "k", .name_len = 1,
	                      .mode = 0644, .flags = WIRE_CREATE_TRUNC, .data = "v",
	                      .data_len = 1, .offset = 99}, out;
	uint8_t buf[256];
	size_t n;
	assert_int_equal(wire_cmd_encode(&in, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_cmd_decode(buf, n, &out), 0);
	assert_int_equal(out.type, WIRE_CMD_PUT_IF);
	assert_int_equal(out.offset, 99);
	assert_int_equal(out.parent, 1);
	assert_int_equal(out.data_len, 1);
	in.flags = WIRE_CREATE_EXCL; /* not a flag of PUT_IF */
	assert_true(wire_cmd_encode(&in, buf, sizeof(buf), &n) < 0);
	struct wire_cmd ttl = {.type = WIRE_CMD_TTL_EXPIRE, .ino = 5, .offset = 77};
	assert_int_equal(wire_cmd_encode(&ttl, buf, sizeof(buf), &n), 0);
	assert_int_equal(wire_cmd_decode(buf, n, &out), 0);
	assert_true(out.type == WIRE_CMD_TTL_EXPIRE && out.ino == 5 && out.offset == 77);
	assert_string_equal(wire_cmd_type_name(WIRE_CMD_TTL_EXPIRE), "ttl-expire");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(request_round_trip),
	        cmocka_unit_test(response_round_trip),
	        cmocka_unit_test(admin_and_key_frames_never_mix),
	        cmocka_unit_test(bad_fields_are_refused),
	        cmocka_unit_test(put_if_command_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
