/* test_figure8.c: the commit rule of paper Figure 8, against the right core and the broken one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "quorumfs/raft.h"

void raft_figure8(void **state);

static void deliver(struct raft *r, const struct raft_message *m)
{
	assert_int_equal(raft_step(r, m), 0);
}

static void drain(struct raft *r)
{
	while (raft_has_ready(r)) {
		struct raft_ready rd;
		raft_ready(r, &rd);
		raft_advance(r, &rd);
		raft_persisted(r, rd.id);
	}
}

/*
 * Paper Figure 8 (c): S1 leads term 4; index 3 holds an entry of term 2 and
 * is now on S1 and S3, a majority of three. Counting those replicas would
 * commit it, yet S2 (holding index 3 of term 3) could still win an election
 * and overwrite it. The leader commits only entries of its own term (5.4.2).
 * With -DRAFT_BROKEN_COMMIT_RULE (test-raft-broken), the bug is expected.
 */
void raft_figure8(void **state)
{
	struct raft_config cfg;
	struct raft *r;
	struct raft_conf conf = {.n = 3};
	uint8_t cbuf[256];
	for (unsigned i = 0; i < 3; i++) {
		conf.servers[i].id = i + 1;
		conf.servers[i].role = RAFT_VOTER;
	}
	size_t clen = raft_conf_encode(&conf, cbuf, sizeof(cbuf));
	struct raft_entry ents[3] = {
	        {.term = 1, .index = 1, .type = RAFT_ENTRY_CONF, .data = {cbuf, clen}},
	        {.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP},
	        {.term = 2, .index = 3, .type = RAFT_ENTRY_NORMAL, .data = {"x", 1}},
	};
	struct raft_hard_state hs = {.term = 3, .vote = 0, .commit = 2};
	raft_config_default(&cfg, 1, 7);
	assert_int_equal(raft_new(&cfg, &r), 0);
	assert_int_equal(raft_restore(r, &hs, NULL, ents, 3), 0);
	assert_int_equal(raft_commit_index(r), 2);

	/* Win term 4 with S3's (pre)vote. */
	while (raft_role(r) == RAFT_FOLLOWER)
		raft_tick(r);
	assert_int_equal(raft_role(r), RAFT_PRE_CANDIDATE);
	struct raft_message m = {.type = RAFT_MSG_VOTE_RESP, .from = 3, .to = 1, .term = 4};
	m.vote_resp.pre_vote = true;
	m.vote_resp.granted = true;
	deliver(r, &m);
	assert_int_equal(raft_role(r), RAFT_CANDIDATE);
	m.vote_resp.pre_vote = false;
	deliver(r, &m);
	assert_int_equal(raft_role(r), RAFT_LEADER);
	assert_int_equal(raft_current_term(r), 4);
	drain(r); /* the no-op at index 4 is durable on S1 */
	assert_int_equal(raft_persisted_index(r), 4);

	/* S3 acknowledges up to index 3 only. */
	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_APPEND_RESP;
	m.from = 3;
	m.to = 1;
	m.term = 4;
	m.append_resp.index = 3;
	m.append_resp.last_index = 3;
	deliver(r, &m);
#ifdef RAFT_BROKEN_COMMIT_RULE
	assert_int_equal(raft_commit_index(r), 3); /* the bug the simulator must catch */
#else
	assert_int_equal(raft_commit_index(r), 2);
#endif
	/* Once S3 holds the term-4 no-op, both are committed. */
	m.append_resp.index = 4;
	m.append_resp.last_index = 4;
	deliver(r, &m);
	assert_int_equal(raft_commit_index(r), 4);
	raft_free(r);
}
