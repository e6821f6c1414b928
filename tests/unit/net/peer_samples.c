/* peer_samples.c: one or more sample Raft messages of every type, for codec tests and fuzz seeds.
 */
#include <string.h>

#include "peer_samples.h"

static char data_a[] = "set /app/db_host db.example.internal";
static unsigned char data_big[3000];
static unsigned char conf_bytes[] = {1, 3, 1, 1, '1', '2', '7', 0};
static unsigned char chunk[777];
static struct raft_entry ents[4];

unsigned peer_samples(struct raft_message *out)
{
	unsigned n = 0;
	struct raft_message *m;

	for (size_t i = 0; i < sizeof(data_big); i++)
		data_big[i] = (unsigned char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (unsigned char)(i ^ 0x5a);
	ents[0] = (struct raft_entry){.term = 7, .index = 41, .type = RAFT_ENTRY_NOOP};
	ents[1] = (struct raft_entry){7, 42, RAFT_ENTRY_NORMAL, {data_a, sizeof(data_a)}};
	ents[2] = (struct raft_entry){7, 43, RAFT_ENTRY_CONF, {conf_bytes, sizeof(conf_bytes)}};
	ents[3] = (struct raft_entry){8, 44, RAFT_ENTRY_NORMAL, {data_big, sizeof(data_big)}};

	memset(out, 0, sizeof(*out) * PEER_SAMPLES_MAX);
#define NEXT(t) (m = &out[n++], m->type = (t), m->from = 1, m->to = 2, m->term = 7, m)

	m = NEXT(RAFT_MSG_APPEND);
	m->append = (struct raft_append){40, 6, 39, 12, 4, ents, {0, 0, 0}};
	m = NEXT(RAFT_MSG_APPEND); /* a probe: no entries */
	m->append = (struct raft_append){.prev_index = 0, .prev_term = 0, .commit = 0, .seq = 1};
	m = NEXT(RAFT_MSG_APPEND_RESP);
	m->append_resp = (struct raft_append_resp){false, 44, 44, 0, 0, 12, {false, 0}};
	m = NEXT(RAFT_MSG_APPEND_RESP);
	m->append_resp = (struct raft_append_resp){true, 40, 30, 25, 5, UINT64_MAX, {false, 0}};
	m = NEXT(RAFT_MSG_HEARTBEAT);
	m->heartbeat = (struct raft_heartbeat){UINT64_MAX - 1, 99, {0, 0, 0}};
	m = NEXT(RAFT_MSG_HEARTBEAT_RESP);
	m->heartbeat_resp.seq = 99;
	m = NEXT(RAFT_MSG_VOTE);
	m->vote = (struct raft_vote){true, false, 44, 8};
	m = NEXT(RAFT_MSG_VOTE);
	m->vote = (struct raft_vote){false, true, 1ull << 40, 1ull << 33};
	m = NEXT(RAFT_MSG_VOTE_RESP);
	m->vote_resp = (struct raft_vote_resp){true, true};
	m = NEXT(RAFT_MSG_VOTE_RESP);
	m->vote_resp = (struct raft_vote_resp){false, false};
	m = NEXT(RAFT_MSG_SNAPSHOT);
	m->snapshot = (struct raft_snapshot){100,  6,    {conf_bytes, sizeof(conf_bytes)},
	                                     5000, 1000, {chunk, sizeof(chunk)},
	                                     false};
	m = NEXT(RAFT_MSG_SNAPSHOT); /* the last, empty chunk */
	m->snapshot = (struct raft_snapshot){
	        100, 6, {conf_bytes, sizeof(conf_bytes)}, 5000, 5000, {NULL, 0}, true};
	m = NEXT(RAFT_MSG_SNAPSHOT_RESP);
	m->snapshot_resp = (struct raft_snapshot_resp){100, false, 1777, 0};
	m = NEXT(RAFT_MSG_SNAPSHOT_RESP);
	m->snapshot_resp = (struct raft_snapshot_resp){100, true, 0, 100};
	m = NEXT(RAFT_MSG_TIMEOUT_NOW);
	m = NEXT(RAFT_MSG_READ_INDEX);
	m->read_index.ctx = 123456789;
	m = NEXT(RAFT_MSG_READ_INDEX_RESP);
	m->read_index_resp = (struct raft_read_index_resp){123456789, 44, 0};
	m = NEXT(RAFT_MSG_READ_INDEX_RESP);
	m->read_index_resp = (struct raft_read_index_resp){5, 0, RAFT_ENOTLEADER};
	m->from = UINT64_MAX;
	m->to = 3;
	m->term = UINT64_MAX;
	/* With follower read leases: the longer arrays. */
	m = NEXT(RAFT_MSG_APPEND);
	m->append = (struct raft_append){40, 6, 39, 13, 2, ents, {450000, 1234567, 39}};
	m = NEXT(RAFT_MSG_APPEND_RESP);
	m->append_resp = (struct raft_append_resp){false, 42, 42, 0, 0, 13, {true, 7654321}};
	m = NEXT(RAFT_MSG_HEARTBEAT);
	m->heartbeat = (struct raft_heartbeat){41, 100, {1, 0, UINT64_MAX}};
	m = NEXT(RAFT_MSG_HEARTBEAT_RESP);
	m->heartbeat_resp = (struct raft_heartbeat_resp){100, {true, 0}};
#undef NEXT
	return n;
}

static bool buf_equal(const struct raft_buf *a, const struct raft_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->base, b->base, a->len) == 0);
}

static bool grant_equal(const struct raft_lease_grant *a, const struct raft_lease_grant *b)
{
	return a->duration == b->duration && a->stamp == b->stamp && a->commit == b->commit;
}

static bool ask_equal(const struct raft_lease_ask *a, const struct raft_lease_ask *b)
{
	return a->ask == b->ask && a->stamp == b->stamp;
}

bool peer_msg_equal(const struct raft_message *a, const struct raft_message *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term)
		return false;
	switch (a->type) {
	case RAFT_MSG_APPEND: {
		const struct raft_append *x = &a->append, *y = &b->append;
		if (x->prev_index != y->prev_index || x->prev_term != y->prev_term ||
		    x->commit != y->commit || x->seq != y->seq || x->n_entries != y->n_entries ||
		    !grant_equal(&x->grant, &y->grant))
			return false;
		for (unsigned i = 0; i < x->n_entries; i++) {
			const struct raft_entry *e = &x->entries[i], *f = &y->entries[i];
			if (e->term != f->term || e->index != f->index || e->type != f->type ||
			    !buf_equal(&e->data, &f->data))
				return false;
		}
		return true;
	}
	case RAFT_MSG_APPEND_RESP:
		return a->append_resp.reject == b->append_resp.reject &&
		       a->append_resp.index == b->append_resp.index &&
		       a->append_resp.last_index == b->append_resp.last_index &&
		       a->append_resp.hint_index == b->append_resp.hint_index &&
		       a->append_resp.hint_term == b->append_resp.hint_term &&
		       a->append_resp.seq == b->append_resp.seq &&
		       ask_equal(&a->append_resp.lease, &b->append_resp.lease);
	case RAFT_MSG_HEARTBEAT:
		return a->heartbeat.commit == b->heartbeat.commit &&
		       a->heartbeat.seq == b->heartbeat.seq &&
		       grant_equal(&a->heartbeat.grant, &b->heartbeat.grant);
	case RAFT_MSG_HEARTBEAT_RESP:
		return a->heartbeat_resp.seq == b->heartbeat_resp.seq &&
		       ask_equal(&a->heartbeat_resp.lease, &b->heartbeat_resp.lease);
	case RAFT_MSG_VOTE:
		return a->vote.pre_vote == b->vote.pre_vote &&
		       a->vote.transfer == b->vote.transfer &&
		       a->vote.last_index == b->vote.last_index &&
		       a->vote.last_term == b->vote.last_term;
	case RAFT_MSG_VOTE_RESP:
		return a->vote_resp.pre_vote == b->vote_resp.pre_vote &&
		       a->vote_resp.granted == b->vote_resp.granted;
	case RAFT_MSG_SNAPSHOT: {
		const struct raft_snapshot *x = &a->snapshot, *y = &b->snapshot;
		return x->snap_index == y->snap_index && x->snap_term == y->snap_term &&
		       buf_equal(&x->conf, &y->conf) && x->size == y->size &&
		       x->offset == y->offset && buf_equal(&x->chunk, &y->chunk) &&
		       x->done == y->done;
	}
	case RAFT_MSG_SNAPSHOT_RESP:
		return a->snapshot_resp.snap_index == b->snapshot_resp.snap_index &&
		       a->snapshot_resp.reject == b->snapshot_resp.reject &&
		       a->snapshot_resp.next_offset == b->snapshot_resp.next_offset &&
		       a->snapshot_resp.last_index == b->snapshot_resp.last_index;
	case RAFT_MSG_TIMEOUT_NOW:
		return true;
	case RAFT_MSG_READ_INDEX:
		return a->read_index.ctx == b->read_index.ctx;
	case RAFT_MSG_READ_INDEX_RESP:
		return a->read_index_resp.ctx == b->read_index_resp.ctx &&
		       a->read_index_resp.index == b->read_index_resp.index &&
		       a->read_index_resp.status == b->read_index_resp.status;
	default:
		return false;
	}
}
