/* test_fuzz.c: random, often nonsensical, inputs never crash the core or break its basic
 * invariants. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tests.h"

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Mostly plausible numbers (near the core's term and log), sometimes not. */
static void random_message(const struct raft *r, uint64_t *x, struct raft_message *m,
                           struct raft_entry *ents, uint8_t *buf, uint8_t *conf, size_t conf_len)
{
	raft_term t0 = raft_current_term(r);
	raft_index l0 = raft_last_index(r);
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)(1 + rnd(x) % (RAFT_MSG_TYPE_LAST - 1));
	m->from = 2 + rnd(x) % 2;
	m->to = 1;
	m->term = rnd(x) % 10 == 0 ? rnd(x) % 8 : t0 + rnd(x) % 3;
	switch (m->type) {
	case RAFT_MSG_APPEND: {
		m->append.prev_index = rnd(x) % 4 ? l0 - (l0 ? rnd(x) % (l0 + 1) : 0) : rnd(x) % 12;
		m->append.prev_term =
		        rnd(x) % 4 ? (raft_entry_at(r, m->append.prev_index)
		                              ? raft_entry_at(r, m->append.prev_index)->term
		                              : 0)
		                   : rnd(x) % 8;
		if (m->append.prev_term > m->term)
			m->append.prev_term = m->term;
		m->append.commit = rnd(x) % 14;
		m->append.seq = rnd(x) % 100;
		unsigned n = (unsigned)(rnd(x) % 5);
		raft_term t = m->append.prev_term;
		for (unsigned i = 0; i < n; i++) {
			if (rnd(x) % 3 == 0 && t < m->term)
				t++;
			ents[i].index = m->append.prev_index + 1 + i;
			ents[i].term = rnd(x) % 20 == 0 ? rnd(x) % 8 : t;
			ents[i].type = (uint8_t)(rnd(x) % 4);
			if (ents[i].type == RAFT_ENTRY_CONF && rnd(x) % 2) {
				ents[i].data.base = conf;
				ents[i].data.len = conf_len;
			} else {
				ents[i].data.base = buf;
				ents[i].data.len = rnd(x) % 16;
			}
		}
		m->append.n_entries = n;
		m->append.entries = ents;
		break;
	}
	case RAFT_MSG_APPEND_RESP:
		m->append_resp.reject = rnd(x) % 2;
		m->append_resp.index = rnd(x) % 14;
		m->append_resp.last_index = rnd(x) % 14;
		m->append_resp.hint_index = rnd(x) % 14;
		m->append_resp.hint_term = rnd(x) % 8;
		m->append_resp.seq = rnd(x) % 100;
		break;
	case RAFT_MSG_HEARTBEAT:
		m->heartbeat.commit = rnd(x) % 14;
		m->heartbeat.seq = rnd(x) % 100;
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		m->heartbeat_resp.seq = rnd(x) % 100;
		break;
	case RAFT_MSG_VOTE:
		m->vote.pre_vote = rnd(x) % 2;
		m->vote.transfer = rnd(x) % 4 == 0;
		m->vote.last_index = rnd(x) % 14;
		m->vote.last_term = rnd(x) % 8;
		break;
	case RAFT_MSG_VOTE_RESP:
		m->vote_resp.pre_vote = rnd(x) % 2;
		m->vote_resp.granted = rnd(x) % 4 != 0;
		m->term = t0 + (m->vote_resp.pre_vote && m->vote_resp.granted);
		break;
	case RAFT_MSG_SNAPSHOT:
		m->snapshot.snap_index = raft_commit_index(r) + rnd(x) % 6;
		m->snapshot.snap_term = m->term ? rnd(x) % (m->term + 1) : 0;
		m->snapshot.conf.base = conf;
		m->snapshot.conf.len = rnd(x) % 8 == 0 ? rnd(x) % conf_len : conf_len;
		m->snapshot.size = rnd(x) % 40;
		m->snapshot.offset = rnd(x) % 2 ? 0 : rnd(x) % 40;
		m->snapshot.chunk.base = buf;
		m->snapshot.chunk.len = rnd(x) % 20;
		m->snapshot.done = rnd(x) % 2;
		if (rnd(x) % 2) {
			m->snapshot.size = m->snapshot.offset + m->snapshot.chunk.len;
			m->snapshot.done = true;
		}
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		m->snapshot_resp.snap_index = rnd(x) % 14;
		m->snapshot_resp.reject = rnd(x) % 2;
		m->snapshot_resp.next_offset = rnd(x) % 50;
		break;
	case RAFT_MSG_READ_INDEX:
		m->read_index.ctx = rnd(x);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		m->read_index_resp.ctx = rnd(x);
		m->read_index_resp.index = rnd(x) % 14;
		m->read_index_resp.status = rnd(x) % 2 ? 0 : RAFT_ENOTLEADER;
		break;
	}
}

static void check(struct raft *r)
{
	assert_true(raft_commit_index(r) <= raft_last_index(r));
	assert_true(raft_first_index(r) <= raft_last_index(r) + 1);
	assert_true(raft_persisted_index(r) <= raft_last_index(r));
	raft_term prev = 0;
	for (raft_index i = raft_first_index(r); i <= raft_last_index(r); i++) {
		const struct raft_entry *e = raft_entry_at(r, i);
		assert_non_null(e);
		assert_int_equal(e->index, i);
		assert_true(e->term >= prev);
		assert_true(e->term <= raft_current_term(r));
		prev = e->term;
	}
}

static void test_fuzz_inputs(void **state)
{
	uint8_t buf[64], conf[256];
	struct raft_entry ents[8];
	struct raft_conf c = {.n = 3};
	for (unsigned i = 0; i < 3; i++) {
		c.servers[i].id = i + 1;
		c.servers[i].role = RAFT_VOTER;
	}
	size_t conf_len = raft_conf_encode(&c, conf, sizeof(conf));
	memset(buf, 0xab, sizeof(buf));
	unsigned leader_steps = 0, installs = 0, committed = 0;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		uint64_t x = seed * 0x9e3779b97f4a7c15ULL;
		struct h_cluster cl;
		h_init(&cl, 1, 0);
		struct raft *r = cl.n[1].r;
		if (seed % 2)
			raft_bootstrap(r, &c);
		uint64_t pending = 0;
		for (int step = 0; step < 3000; step++) {
			struct raft_message m;
			switch (rnd(&x) % 8) {
			case 0:
				raft_tick(r);
				break;
			case 1:
				raft_propose(r, buf, rnd(&x) % 8);
				break;
			case 2:
				raft_read_index(r, rnd(&x));
				break;
			case 3: {
				struct raft_ready rd;
				if (!raft_has_ready(r))
					break;
				raft_ready(r, &rd);
				installs += rd.snapshot_install != NULL;
				committed += rd.n_committed;
				raft_advance(r, &rd);
				pending = rd.id;
				break;
			}
			case 4:
				if (pending)
					raft_persisted(r, pending);
				break;
			default:
				random_message(r, &x, &m, ents, buf, conf, conf_len);
				raft_step(r, &m);
			}
			check(r);
			leader_steps += raft_role(r) == RAFT_LEADER;
		}
		h_free(&cl);
	}
	/* The inputs reached the interesting states. */
	print_message("leader steps %u, installs %u, committed %u\n", leader_steps, installs,
	              committed);
	assert_true(leader_steps > 0);
	assert_true(installs > 0);
	assert_true(committed > 0);
}

int raft_test_fuzz(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fuzz_inputs),
	};
	return cmocka_run_group_tests_name("raft_fuzz", tests, NULL, NULL);
}
