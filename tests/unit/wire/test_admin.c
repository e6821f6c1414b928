/* test_admin.c: admin calls round-trip, and malformed bytes are refused without a crash. */
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

static void request_round_trip(void **state)
{
	(void)state;
	struct wire_admin_req in = {.op = WIRE_ADMIN_ADD_LEARNER, .id = 4}, out;
	uint8_t buf[WIRE_ADMIN_FRAME_MAX];
	strcpy(in.address, "127.0.0.1:7004");
	int n = wire_admin_req_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_admin_req_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.op, WIRE_ADMIN_ADD_LEARNER);
	assert_int_equal(out.id, 4);
	assert_string_equal(out.address, "127.0.0.1:7004");
	assert_string_equal(wire_admin_op_name(out.op), "add");
}

static struct wire_admin_resp full_status(void)
{
	struct wire_admin_resp r;
	memset(&r, 0, sizeof(r));
	r.err = 0;
	strcpy(r.message, "ok");
	r.has_status = 1;
	r.status.id = 2;
	strcpy(r.status.role, "leader");
	r.status.term = 7;
	r.status.leader = 2;
	r.status.commit = 1000;
	r.status.applied = 999;
	r.status.last_index = 1001;
	r.status.snapshot_index = 500;
	r.status.n_members = WIRE_ADMIN_MAX_MEMBERS;
	for (unsigned i = 0; i < WIRE_ADMIN_MAX_MEMBERS; i++) {
		struct wire_admin_member *m = &r.status.members[i];
		m->id = i + 1;
		memset(m->address, 'a' + (int)i, WIRE_ADMIN_ADDRESS_MAX - 1);
		m->voter = i % 2;
		m->match = 1000 - i;
		m->last_contact_ms = i == 0 ? -1 : (int64_t)i * 10;
	}
	return r;
}

static void response_round_trip_with_the_largest_status(void **state)
{
	(void)state;
	struct wire_admin_resp in = full_status(), out;
	uint8_t buf[WIRE_ADMIN_FRAME_MAX];
	int n = wire_admin_resp_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_admin_resp_decode(buf, (size_t)n, &out), 0);
	assert_memory_equal(&in.status, &out.status, sizeof(in.status));
	assert_string_equal(out.message, "ok");
	assert_int_equal(out.has_status, 1);
}

static void error_response_round_trip(void **state)
{
	(void)state;
	struct wire_admin_resp in, out;
	uint8_t buf[512];
	memset(&in, 0, sizeof(in));
	in.err = QFS_ENOTLEADER;
	strcpy(in.message, "node 3 is not the leader");
	int n = wire_admin_resp_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(wire_admin_resp_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.err, QFS_ENOTLEADER);
	assert_string_equal(out.message, in.message);
	assert_int_equal(out.has_status, 0);
}

static void encode_reports_a_small_buffer(void **state)
{
	(void)state;
	struct wire_admin_resp in = full_status();
	uint8_t buf[100];
	assert_int_equal(wire_admin_resp_encode(&in, buf, sizeof(buf)), -ENOBUFS);
}

/* Every truncation and every single-byte corruption of a valid frame either
 * decodes to something valid or is refused; none crashes (ASan checks). */
static void truncated_and_corrupted_frames_are_refused(void **state)
{
	(void)state;
	struct wire_admin_resp in = full_status(), out;
	uint8_t buf[WIRE_ADMIN_FRAME_MAX], bad[WIRE_ADMIN_FRAME_MAX];
	int n = wire_admin_resp_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	for (int cut = 0; cut < n; cut++)
		assert_int_equal(wire_admin_resp_decode(buf, (size_t)cut, &out), QFS_EPROTO);
	for (int i = 0; i < n; i++) {
		memcpy(bad, buf, (size_t)n);
		bad[i] ^= 0xff;
		int rc = wire_admin_resp_decode(bad, (size_t)n, &out);
		assert_true(rc == 0 || rc == QFS_EPROTO);
		if (rc == 0)
			assert_true(out.status.n_members <= WIRE_ADMIN_MAX_MEMBERS);
	}
	struct wire_admin_req req;
	const uint8_t junk[] = {0x94, 0x01, 0x07, 0x01, 0xc4, 0x03, 'a', 0, 'b'}; /* op 7, NUL */
	assert_int_equal(wire_admin_req_decode(junk, sizeof(junk), &req), QFS_EPROTO);
	assert_int_equal(wire_admin_req_decode("", 0, &req), QFS_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(request_round_trip),
	        cmocka_unit_test(response_round_trip_with_the_largest_status),
	        cmocka_unit_test(error_response_round_trip),
	        cmocka_unit_test(encode_reports_a_small_buffer),
	        cmocka_unit_test(truncated_and_corrupted_frames_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
