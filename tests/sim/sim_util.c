/* sim_util.c: the simulator's PRNG, hashes, allocation, message copies and event heap. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct sim_oom sim_oom;

uint64_t sim_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void sim_rng_seed(struct sim_rng *g, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++) {
		x = sim_mix(x);
		g->s[i] = x;
	}
	if (!(g->s[0] | g->s[1] | g->s[2] | g->s[3]))
		g->s[0] = 1;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *g)
{
	uint64_t *s = g->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t sim_rng_below(struct sim_rng *g, uint64_t n)
{
	return n ? sim_rng_next(g) % n : 0;
}

uint64_t sim_rng_range(struct sim_rng *g, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + sim_rng_below(g, hi - lo + 1);
}

bool sim_rng_permille(struct sim_rng *g, unsigned p)
{
	return sim_rng_below(g, 1000) < p;
}

uint64_t sim_hash(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	if (!h)
		h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t sim_entry_hash(const struct raft_entry *e)
{
	uint64_t h = sim_hash(&e->type, 1, 0);
	return sim_mix(sim_hash(e->data.base, e->data.base ? e->data.len : 0, h) ^ e->data.len);
}

uint64_t sim_conf_hash(const struct raft_conf *conf)
{
	uint8_t buf[RAFT_MAX_SERVERS * (RAFT_ADDRESS_MAX + 16) + 64];
	size_t n = raft_conf_encode(conf, buf, sizeof(buf));
	return n <= sizeof(buf) ? sim_hash(buf, n, 0) : 0;
}

void *sim_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "raft-sim: out of memory\n");
		abort();
	}
	return p;
}

void *sim_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "raft-sim: out of memory\n");
		abort();
	}
	return q;
}

void *sim_memdup(const void *p, size_t n)
{
	if (!p || !n)
		return NULL;
	void *q = sim_xmalloc(n);
	memcpy(q, p, n);
	return q;
}

void sim_entries_copy(struct raft_entry **dst, const struct raft_entry *src, unsigned n)
{
	*dst = NULL;
	if (!n)
		return;
	*dst = sim_xmalloc(sizeof(**dst) * n);
	for (unsigned i = 0; i < n; i++) {
		(*dst)[i] = src[i];
		(*dst)[i].data.base = sim_memdup(src[i].data.base, src[i].data.len);
		if (!(*dst)[i].data.base)
			(*dst)[i].data.len = 0;
	}
}

void sim_entries_free(struct raft_entry *e, unsigned n)
{
	if (!e)
		return;
	for (unsigned i = 0; i < n; i++)
		free(e[i].data.base);
	free(e);
}

void sim_msg_copy(struct raft_message *dst, const struct raft_message *src)
{
	*dst = *src;
	switch (src->type) {
	case RAFT_MSG_APPEND:
		sim_entries_copy(&dst->append.entries, src->append.entries, src->append.n_entries);
		break;
	case RAFT_MSG_SNAPSHOT:
		dst->snapshot.conf.base =
		        sim_memdup(src->snapshot.conf.base, src->snapshot.conf.len);
		if (!dst->snapshot.conf.base)
			dst->snapshot.conf.len = 0;
		dst->snapshot.chunk.base =
		        sim_memdup(src->snapshot.chunk.base, src->snapshot.chunk.len);
		if (!dst->snapshot.chunk.base)
			dst->snapshot.chunk.len = 0;
		break;
	default:
		break;
	}
}

void sim_msg_free(struct raft_message *m)
{
	if (!m)
		return;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		sim_entries_free(m->append.entries, m->append.n_entries);
		break;
	case RAFT_MSG_SNAPSHOT:
		free(m->snapshot.conf.base);
		free(m->snapshot.chunk.base);
		break;
	default:
		break;
	}
}

void sim_msg_describe(const struct raft_message *m, char *buf, size_t cap)
{
	int k = snprintf(buf, cap, "%s %" PRIu64 "->%" PRIu64 " t%" PRIu64,
	                 raft_msg_type_name(m->type), m->from, m->to, m->term);
	if (k < 0 || (size_t)k >= cap)
		return;
	buf += k;
	cap -= (size_t)k;
	switch (m->type) {
	case RAFT_MSG_APPEND: {
		const struct raft_append *a = &m->append;
		k = snprintf(buf, cap, " prev=%" PRIu64 "/t%" PRIu64 " commit=%" PRIu64 " n=%u",
		             a->prev_index, a->prev_term, a->commit, a->n_entries);
		if (a->n_entries && k > 0 && (size_t)k < cap)
			snprintf(buf + k, cap - (size_t)k,
			         " [%" PRIu64 "/t%" PRIu64 "..%" PRIu64 "/t%" PRIu64 "]",
			         a->entries[0].index, a->entries[0].term,
			         a->entries[a->n_entries - 1].index,
			         a->entries[a->n_entries - 1].term);
		break;
	}
	case RAFT_MSG_APPEND_RESP: {
		const struct raft_append_resp *r = &m->append_resp;
		snprintf(buf, cap,
		         " %s index=%" PRIu64 " last=%" PRIu64 " hint=%" PRIu64 "/t%" PRIu64,
		         r->reject ? "reject" : "ok", r->index, r->last_index, r->hint_index,
		         r->hint_term);
		break;
	}
	case RAFT_MSG_HEARTBEAT:
		snprintf(buf, cap, " commit=%" PRIu64 " seq=%" PRIu64, m->heartbeat.commit,
		         m->heartbeat.seq);
		break;
	case RAFT_MSG_VOTE:
		snprintf(buf, cap, "%s%s last=%" PRIu64 "/t%" PRIu64,
		         m->vote.pre_vote ? " pre" : "", m->vote.transfer ? " transfer" : "",
		         m->vote.last_index, m->vote.last_term);
		break;
	case RAFT_MSG_VOTE_RESP:
		snprintf(buf, cap, "%s %s", m->vote_resp.pre_vote ? " pre" : "",
		         m->vote_resp.granted ? "granted" : "denied");
		break;
	case RAFT_MSG_SNAPSHOT:
		snprintf(buf, cap,
		         " snap=%" PRIu64 "/t%" PRIu64 " off=%" PRIu64 " len=%zu size=%" PRIu64
		         "%s",
		         m->snapshot.snap_index, m->snapshot.snap_term, m->snapshot.offset,
		         m->snapshot.chunk.len, m->snapshot.size, m->snapshot.done ? " done" : "");
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		snprintf(buf, cap, " snap=%" PRIu64 " %s next=%" PRIu64 " last=%" PRIu64,
		         m->snapshot_resp.snap_index, m->snapshot_resp.reject ? "reject" : "ok",
		         m->snapshot_resp.next_offset, m->snapshot_resp.last_index);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		snprintf(buf, cap, " ctx=%" PRIu64 " index=%" PRIu64 " status=%d",
		         m->read_index_resp.ctx, m->read_index_resp.index,
		         m->read_index_resp.status);
		break;
	default:
		break;
	}
}

static bool ev_less(const struct sim_event *a, const struct sim_event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void sim_heap_push(struct sim_heap *h, const struct sim_event *e)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->ev = sim_xrealloc(h->ev, h->cap * sizeof(*h->ev));
	}
	size_t i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ev_less(e, &h->ev[p]))
			break;
		h->ev[i] = h->ev[p];
		i = p;
	}
	h->ev[i] = *e;
}

bool sim_heap_pop(struct sim_heap *h, struct sim_event *out)
{
	if (!h->n)
		return false;
	*out = h->ev[0];
	struct sim_event last = h->ev[--h->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct sim_event *best = &last;
		if (l < h->n && ev_less(&h->ev[l], best)) {
			m = l;
			best = &h->ev[l];
		}
		if (r < h->n && ev_less(&h->ev[r], best))
			m = r;
		if (m == i)
			break;
		h->ev[i] = h->ev[m];
		i = m;
	}
	if (h->n)
		h->ev[i] = last;
	return true;
}

void sim_heap_free(struct sim_heap *h)
{
	for (size_t i = 0; i < h->n; i++) {
		if (h->ev[i].msg) {
			sim_msg_free(h->ev[i].msg);
			free(h->ev[i].msg);
		}
	}
	free(h->ev);
	h->ev = NULL;
	h->n = h->cap = 0;
}
