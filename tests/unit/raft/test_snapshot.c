/* test_snapshot.c: compaction and InstallSnapshot in chunks (paper 7, Figure 13). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

static void snap_cfg(struct raft_config *cfg)
{
	cfg->trailing_entries = 2;
	cfg->snapshot_chunk_bytes = 10;
}

static void test_snapshot_send(void **state)
{
	struct h_cluster c;
	h_init_cfg(&c, 3, 3, snap_cfg);
	h_elect(&c, 1);
	c.n[3].up = false;
	for (int i = 0; i < 20; i++)
		raft_propose(c.n[1].r, "e", 1);
	h_settle(&c);
	/* Silent for an election timeout: no entries are kept for node 3. */
	for (unsigned i = 0; i < h_config(1).election_ticks; i++) {
		h_tick(&c, 1);
		h_settle(&c);
	}
	struct h_node *l = &c.n[1];
	assert_int_equal(l->applied, 22);
	assert_int_equal(raft_snapshot_taken(l->r, 23, SIM_SM_BYTES, NULL),
	                 -EINVAL); /* not applied */
	/* The leader's state machine at 22, SIM_SM_BYTES bytes: 18 chunks of 10. */
	h_snapshot(&c, 1);
	assert_int_equal(c.sim->nodes[1].snap_index, 22);
	assert_int_equal(raft_first_index(l->r), 21); /* trailing_entries 2 */
	assert_null(raft_entry_at(l->r, 20));
	assert_int_equal(raft_snapshot_taken(l->r, 21, SIM_SM_BYTES, NULL), -EINVAL); /* older */

	c.n[3].up = true;
	unsigned chunks = 0;
	bool dropped = false;
	for (int round = 0; round < 400 && c.n[3].applied < 22; round++) {
		if (round % 3 == 0)
			h_tick(&c, 1);
		h_ready_all(&c);
		for (size_t i = 0; i < c.nq; i++) {
			struct raft_message *m = &c.q[i].m;
			if (m->type != RAFT_MSG_SNAPSHOT)
				continue;
			assert_int_equal(m->to, 3);
			assert_int_equal(m->snapshot.snap_index, 22);
			assert_true(m->snapshot.chunk.len <= 10);
			if (m->snapshot.offset == 10 && !dropped) {
				dropped = true; /* lost: resent after a heartbeat interval */
				h_remove(&c, i);
				i--;
				continue;
			}
			chunks++;
		}
		h_deliver(&c);
	}
	assert_true(dropped);
	assert_int_equal(chunks, (SIM_SM_BYTES + 9) / 10);
	struct h_node *f = &c.n[3];
	assert_true(f->installed);
	assert_false(f->keep_log);
	assert_int_equal(f->installed_index, 22);
	/* the simulator checked that the staged bytes decode to the leader's
	 * state at 22; they are the leader's bytes */
	assert_int_equal(c.sim->nodes[3].serve[0].size, SIM_SM_BYTES);
	assert_memory_equal(c.sim->nodes[3].serve[0].bytes, c.sim->nodes[1].serve[0].bytes,
	                    SIM_SM_BYTES);
	assert_int_equal(raft_first_index(f->r), 23);
	/* Entries after the snapshot follow. */
	raft_propose(l->r, "z", 1);
	h_tick_all(&c, 3);
	assert_int_equal(c.n[3].applied, 23);
	assert_int_equal(raft_last_index(f->r), 23);
	struct raft_progress_info pi;
	raft_progress(l->r, 3, &pi);
	assert_int_equal(pi.match, 23);
	h_free(&c);
}

static struct raft_conf three(void)
{
	struct raft_conf conf = {.n = 3};
	for (unsigned i = 0; i < 3; i++) {
		conf.servers[i].id = i + 1;
		conf.servers[i].role = RAFT_VOTER;
	}
	return conf;
}

static uint8_t conf_buf[256];

static struct raft_message chunk(raft_index idx, raft_term t, uint64_t size, uint64_t off,
                                 const void *data, size_t len)
{
	struct raft_conf conf = three();
	struct raft_message m = {.type = RAFT_MSG_SNAPSHOT, .from = 2, .to = 1, .term = 5};
	m.snapshot.snap_index = idx;
	m.snapshot.snap_term = t;
	m.snapshot.conf.base = conf_buf;
	m.snapshot.conf.len = raft_conf_encode(&conf, conf_buf, sizeof(conf_buf));
	m.snapshot.size = size;
	m.snapshot.offset = off;
	m.snapshot.chunk.base = (void *)data;
	m.snapshot.chunk.len = len;
	m.snapshot.done = off + len == size;
	return m;
}

static const struct raft_message *only_resp(const struct raft_ready *rd)
{
	assert_int_equal(rd->n_msgs_after_persist, 1);
	assert_int_equal(rd->msgs_after_persist[0].type, RAFT_MSG_SNAPSHOT_RESP);
	return &rd->msgs_after_persist[0];
}

/* The receiver checks offsets and stages chunks through rd->snapshot_chunks. */
static void test_snapshot_receive_offsets(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 0);
	struct raft *r = c.n[1].r;
	const char *data = "0123456789abcdefghijKLMNO";
	struct raft_ready rd;
	struct raft_message m = chunk(10, 4, 25, 0, data, 10);
	assert_int_equal(raft_step(r, &m), 0);
	raft_ready(r, &rd);
	assert_int_equal(rd.n_snapshot_chunks, 1);
	assert_int_equal(rd.snapshot_chunks[0].offset, 0);
	assert_memory_equal(rd.snapshot_chunks[0].data.base, data, 10);
	assert_null(rd.snapshot_install);
	assert_false(only_resp(&rd)->snapshot_resp.reject);
	assert_int_equal(only_resp(&rd)->snapshot_resp.next_offset, 10);
	raft_advance(r, &rd);
	/* A gap: refused with the offset wanted. */
	m = chunk(10, 4, 25, 20, data + 20, 5);
	raft_step(r, &m);
	raft_ready(r, &rd);
	assert_int_equal(rd.n_snapshot_chunks, 0);
	assert_true(only_resp(&rd)->snapshot_resp.reject);
	assert_int_equal(only_resp(&rd)->snapshot_resp.next_offset, 10);
	raft_advance(r, &rd);
	/* A chunk of another snapshot, not at 0: start over. */
	m = chunk(11, 4, 25, 10, data + 10, 10);
	raft_step(r, &m);
	raft_ready(r, &rd);
	assert_true(only_resp(&rd)->snapshot_resp.reject);
	assert_int_equal(only_resp(&rd)->snapshot_resp.next_offset, 0);
	raft_advance(r, &rd);
	/* The rest, in order. */
	m = chunk(10, 4, 25, 10, data + 10, 10);
	raft_step(r, &m);
	m = chunk(10, 4, 25, 20, data + 20, 5);
	raft_step(r, &m);
	raft_ready(r, &rd);
	assert_int_equal(rd.n_snapshot_chunks, 2);
	assert_int_equal(rd.snapshot_chunks[1].offset, 20);
	assert_non_null(rd.snapshot_install);
	assert_int_equal(rd.snapshot_install->index, 10);
	assert_int_equal(rd.snapshot_install->term, 4);
	assert_int_equal(rd.snapshot_install->size, 25);
	assert_int_equal(rd.snapshot_install->conf.n, 3);
	assert_false(rd.snapshot_keep_log);
	assert_non_null(rd.conf);
	assert_int_equal(rd.conf->n, 3);
	assert_int_equal(rd.hard_state.commit, 10);
	assert_int_equal(rd.n_msgs_after_persist, 2);
	assert_int_equal(rd.msgs_after_persist[1].snapshot_resp.next_offset, 25);
	assert_int_equal(rd.msgs_after_persist[1].snapshot_resp.last_index, 10);
	raft_advance(r, &rd);
	raft_persisted(r, rd.id);
	assert_int_equal(raft_last_index(r), 10);
	assert_int_equal(raft_commit_index(r), 10);
	assert_int_equal(raft_persisted_index(r), 10);
	assert_int_equal(raft_configuration(r)->n, 3);
	/* Older than our commit: answered as done, nothing installed. */
	m = chunk(8, 4, 25, 0, data, 10);
	raft_step(r, &m);
	raft_ready(r, &rd);
	assert_null(rd.snapshot_install);
	assert_int_equal(rd.n_snapshot_chunks, 0);
	assert_false(only_resp(&rd)->snapshot_resp.reject);
	assert_int_equal(only_resp(&rd)->snapshot_resp.next_offset, 25);
	raft_advance(r, &rd);
	/* Malformed: a chunk beyond the size is ignored. */
	m = chunk(20, 4, 25, 20, data, 10);
	raft_step(r, &m);
	assert_false(raft_has_ready(r));
	h_free(&c);
}

/* Figure 13 rules 6-7: keep the log after the snapshot if it matches there. */
static void test_snapshot_keep_log(void **state)
{
	struct h_cluster c;
	h_init(&c, 1, 0);
	struct raft *r = c.n[1].r;
	struct raft_entry e[5];
	for (unsigned i = 0; i < 5; i++)
		e[i] = (struct raft_entry){.term = 2, .index = i + 1, .type = RAFT_ENTRY_NOOP};
	struct raft_message a = {.type = RAFT_MSG_APPEND, .from = 2, .to = 1, .term = 5};
	a.append.entries = e;
	a.append.n_entries = 5;
	raft_step(r, &a);
	struct raft_ready rd;
	raft_ready(r, &rd);
	raft_advance(r, &rd);
	raft_persisted(r, rd.id);
	struct raft_message m = chunk(3, 2, 4, 0, "abcd", 4);
	raft_step(r, &m);
	raft_ready(r, &rd);
	assert_non_null(rd.snapshot_install);
	assert_true(rd.snapshot_keep_log);
	raft_advance(r, &rd);
	raft_persisted(r, rd.id);
	assert_int_equal(raft_last_index(r), 5);
	assert_int_equal(raft_first_index(r), 4);
	assert_int_equal(raft_persisted_index(r), 5);
	/* A snapshot whose last entry conflicts with ours: discard the log. */
	m = chunk(4, 3, 4, 0, "wxyz", 4);
	raft_step(r, &m);
	raft_ready(r, &rd);
	assert_non_null(rd.snapshot_install);
	assert_false(rd.snapshot_keep_log);
	raft_advance(r, &rd);
	assert_int_equal(raft_last_index(r), 4);
	assert_int_equal(raft_first_index(r), 5);
	assert_true(raft_persisted_index(r) <= 3);
	raft_persisted(r, rd.id);
	assert_int_equal(raft_persisted_index(r), 4);
	h_free(&c);
}

int raft_test_snapshot(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_snapshot_send),
	        cmocka_unit_test(test_snapshot_receive_offsets),
	        cmocka_unit_test(test_snapshot_keep_log),
	};
	return cmocka_run_group_tests_name("raft_snapshot", tests, NULL, NULL);
}
