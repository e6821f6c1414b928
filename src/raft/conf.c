/* conf.c: cluster configurations: queries, the byte codec, and their history in the log. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft_int.h"

const struct raft_server *raft_conf_get(const struct raft_conf *conf, raft_id id)
{
	if (conf == NULL || id == RAFT_NONE)
		return NULL;
	for (unsigned i = 0; i < conf->n && i < RAFT_MAX_SERVERS; i++)
		if (conf->servers[i].id == id)
			return &conf->servers[i];
	return NULL;
}

unsigned raft_conf_voters(const struct raft_conf *conf)
{
	unsigned n = 0;
	for (unsigned i = 0; i < conf->n && i < RAFT_MAX_SERVERS; i++)
		if (conf->servers[i].role == RAFT_VOTER)
			n++;
	return n;
}

bool raft__is_voter(const struct raft_conf *c, raft_id id)
{
	const struct raft_server *s = raft_conf_get(c, id);
	return s != NULL && s->role == RAFT_VOTER;
}

/*
 * The encoding, little-endian, versioned so that it can grow:
 *   u8 version (1), u8 n, then n times: u64 id, u8 role, u8 address length,
 *   the address bytes (no NUL).
 */
#define CONF_VERSION 1

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t raft_conf_encode(const struct raft_conf *conf, void *buf, size_t cap)
{
	size_t need = 2;
	unsigned n = conf->n > RAFT_MAX_SERVERS ? RAFT_MAX_SERVERS : conf->n;
	for (unsigned i = 0; i < n; i++)
		need += 10 + strnlen(conf->servers[i].address, RAFT_ADDRESS_MAX - 1);
	if (need > cap || buf == NULL)
		return need;
	uint8_t *p = buf;
	*p++ = CONF_VERSION;
	*p++ = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		const struct raft_server *s = &conf->servers[i];
		size_t alen = strnlen(s->address, RAFT_ADDRESS_MAX - 1);
		put_u64(p, s->id);
		p += 8;
		*p++ = s->role;
		*p++ = (uint8_t)alen;
		memcpy(p, s->address, alen);
		p += alen;
	}
	return need;
}

int raft_conf_decode(const void *buf, size_t len, struct raft_conf *conf)
{
	const uint8_t *p = buf, *end;
	if (buf == NULL || len < 2 || p[0] != CONF_VERSION || p[1] > RAFT_MAX_SERVERS)
		return -EINVAL;
	end = p + len; /* not before the NULL check: arithmetic on NULL is undefined */
	memset(conf, 0, sizeof(*conf));
	conf->n = p[1];
	p += 2;
	for (unsigned i = 0; i < conf->n; i++) {
		struct raft_server *s = &conf->servers[i];
		if (end - p < 10)
			return -EINVAL;
		s->id = get_u64(p);
		p += 8;
		s->role = *p++;
		size_t alen = *p++;
		if (s->id == RAFT_NONE || (s->role != RAFT_VOTER && s->role != RAFT_LEARNER) ||
		    alen >= RAFT_ADDRESS_MAX || (size_t)(end - p) < alen ||
		    memchr(p, 0, alen) != NULL)
			return -EINVAL;
		memcpy(s->address, p, alen);
		s->address[alen] = '\0';
		p += alen;
		for (unsigned j = 0; j < i; j++)
			if (conf->servers[j].id == s->id)
				return -EINVAL;
	}
	return p == end ? 0 : -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* History: the configuration of every RAFT_ENTRY_CONF entry still needed.   */

static const struct raft_conf empty_conf;

const struct raft_conf *raft__conf(const struct raft *r)
{
	return r->hist.n ? &r->hist.v[r->hist.n - 1].conf : &empty_conf;
}

raft_index raft__conf_index(const struct raft *r)
{
	return r->hist.n ? r->hist.v[r->hist.n - 1].index : 0;
}

void raft__conf_changed(struct raft *r)
{
	r->conf_changed = true;
	if (r->role == RAFT_LEADER)
		raft__progress_rebuild(r);
}

/*
 * Dissertation 4.1: "a server always uses the latest configuration in its
 * log, regardless of whether the entry is committed". So the latest entry of
 * the history is in effect as soon as it is pushed.
 */
int raft__conf_push(struct raft *r, raft_index index, const struct raft_conf *conf)
{
	if (RAFT__RESERVE(r->hist, 1) != 0)
		return -ENOMEM;
	struct raft__conf_hist *h = &r->hist.v[r->hist.n++];
	h->index = index;
	h->conf = *conf;
	raft__conf_changed(r);
	return 0;
}

/* Dissertation 4.1: when an uncommitted configuration entry is removed by a
 * conflicting suffix, the server falls back to the previous configuration. */
void raft__conf_truncate(struct raft *r, raft_index from)
{
	bool changed = false;
	while (r->hist.n > 1 && r->hist.v[r->hist.n - 1].index >= from) {
		r->hist.n--;
		changed = true;
	}
	if (changed)
		raft__conf_changed(r);
}

const struct raft_conf *raft__conf_at(const struct raft *r, raft_index index)
{
	for (size_t i = r->hist.n; i > 0; i--)
		if (r->hist.v[i - 1].index <= index)
			return &r->hist.v[i - 1].conf;
	return &empty_conf;
}

void raft__conf_compact(struct raft *r, raft_index index)
{
	size_t keep = 0; /* the last one at or before @index */
	for (size_t i = 0; i < r->hist.n; i++)
		if (r->hist.v[i].index <= index)
			keep = i;
	if (keep == 0)
		return;
	memmove(r->hist.v, r->hist.v + keep, (r->hist.n - keep) * sizeof(*r->hist.v));
	r->hist.n -= keep;
}

int raft__conf_scan(struct raft *r, const struct raft_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].type != RAFT_ENTRY_CONF)
			continue;
		struct raft_conf c;
		if (raft_conf_decode(e[i].data.base, e[i].data.len, &c) != 0)
			continue; /* validated before it was accepted; nothing to do */
		int rv = raft__conf_push(r, e[i].index, &c);
		if (rv != 0)
			return rv;
	}
	return 0;
}
