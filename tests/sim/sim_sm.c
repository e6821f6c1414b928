/* sim_sm.c: the simulated nodes' state machine and its snapshot encoding. */
#include <errno.h>
#include <string.h>

#include "sim.h"

#define SM_MAGIC   0x4d495351u /* "QSIM" */
#define SM_VERSION 1u

void sim_sm_init(struct sim_sm *sm)
{
	memset(sm, 0, sizeof(*sm));
}

uint64_t sim_sm_chain_next(uint64_t chain, raft_index index, uint64_t entry_hash)
{
	return sim_mix(chain ^ sim_mix(index * 0x9e3779b97f4a7c15ULL ^ entry_hash));
}

int sim_sm_apply(struct sim_sm *sm, const struct raft_entry *e)
{
	uint64_t h = sim_entry_hash(e);
	if (e->type == RAFT_ENTRY_CONF) {
		struct raft_conf conf;
		if (raft_conf_decode(e->data.base, e->data.len, &conf) != 0)
			return -EINVAL;
		sm->conf = conf;
	} else if (e->type == RAFT_ENTRY_NORMAL) {
		sm->n_normal++;
		sm->slots[h % SIM_SM_SLOTS] ^= sim_mix(h + e->index);
	}
	sm->applied = e->index;
	sm->applied_term = e->term;
	sm->chain = sim_sm_chain_next(sm->chain, e->index, h);
	return 0;
}

static void put32(uint8_t **p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t **p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t **p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)(*(*p)++) << (8 * i);
	return v;
}

static uint64_t get64(const uint8_t **p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)(*(*p)++) << (8 * i);
	return v;
}

void sim_sm_encode(const struct sim_sm *sm, uint8_t *out)
{
	uint8_t *p = out;
	put32(&p, SM_MAGIC);
	put32(&p, SM_VERSION);
	put64(&p, sm->applied);
	put64(&p, sm->applied_term);
	put64(&p, sm->chain);
	put64(&p, sm->n_normal);
	for (int i = 0; i < SIM_SM_SLOTS; i++)
		put64(&p, sm->slots[i]);
	put64(&p, sim_hash(out, (size_t)(p - out), 0));
}

int sim_sm_decode(struct sim_sm *sm, const uint8_t *in, size_t len)
{
	if (!in || len != SIM_SM_BYTES)
		return -EINVAL;
	const uint8_t *p = in;
	if (get32(&p) != SM_MAGIC || get32(&p) != SM_VERSION)
		return -EINVAL;
	struct sim_sm s = *sm;
	s.applied = get64(&p);
	s.applied_term = get64(&p);
	s.chain = get64(&p);
	s.n_normal = get64(&p);
	for (int i = 0; i < SIM_SM_SLOTS; i++)
		s.slots[i] = get64(&p);
	uint64_t want = sim_hash(in, (size_t)(p - in), 0);
	if (get64(&p) != want)
		return -EINVAL;
	*sm = s;
	return 0;
}
