/* membership.c: single-server configuration changes proposed by the leader (dissertation 4). */
#include <errno.h>
#include <string.h>

#include "raft_int.h"

/*
 * Dissertation 4.1: changes add or remove one server at a time, so any
 * majority of the old configuration overlaps any majority of the new one;
 * the leader starts a change only after the previous one committed. 4.2.1:
 * new servers join as learners (non-voting) until caught up. The raft-dev
 * fix (2015, dissertation errata): a leader proposes a change only after it
 * committed an entry of its own term, so it cannot overwrite a change
 * started by an earlier leader that it does not know of.
 */
int64_t raft_change(struct raft *r, enum raft_change_kind kind, raft_id id, const char *address)
{
	if (r->failed)
		return RAFT_EFAILED;
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (id == RAFT_NONE)
		return -EINVAL;
	if (r->transferee != RAFT_NONE || !r->committed_in_term || raft__conf_index(r) > r->commit)
		return RAFT_EBUSY;

	struct raft_conf c = *raft__conf(r);
	struct raft_server *s = NULL;
	for (unsigned i = 0; i < c.n; i++)
		if (c.servers[i].id == id)
			s = &c.servers[i];

	switch (kind) {
	case RAFT_ADD_LEARNER: {
		if (s != NULL)
			return RAFT_EEXIST;
		if (c.n >= RAFT_MAX_SERVERS)
			return RAFT_ETOOMANY;
		size_t alen = address ? strlen(address) : 0;
		if (alen >= RAFT_ADDRESS_MAX)
			return -EINVAL;
		s = &c.servers[c.n++];
		memset(s, 0, sizeof(*s));
		s->id = id;
		s->role = RAFT_LEARNER;
		if (alen)
			memcpy(s->address, address, alen);
		break;
	}
	case RAFT_PROMOTE: {
		if (s == NULL)
			return RAFT_ENOTFOUND;
		if (s->role == RAFT_VOTER)
			return RAFT_EEXIST;
		/* Dissertation 4.2.1: promote only a learner that has caught
		 * up, so adding it does not leave the cluster unavailable. */
		raft_index last = raft__log_last(&r->log);
		raft_index match = raft__match_of(r, id);
		if (last - match > r->cfg.promote_lag)
			return RAFT_ENOTCAUGHTUP;
		s->role = RAFT_VOTER;
		break;
	}
	case RAFT_REMOVE: {
		if (s == NULL)
			return RAFT_ENOTFOUND;
		if (s->role == RAFT_VOTER && raft_conf_voters(&c) == 1)
			return -EINVAL; /* would leave no voter */
		unsigned i = (unsigned)(s - c.servers);
		memmove(&c.servers[i], &c.servers[i + 1], (c.n - i - 1) * sizeof(c.servers[0]));
		c.n--;
		memset(&c.servers[c.n], 0, sizeof(c.servers[0]));
		break;
	}
	default:
		return -EINVAL;
	}

	uint8_t buf[sizeof(r->snap_conf)];
	size_t len = raft_conf_encode(&c, buf, sizeof(buf));
	if (RAFT__RESERVE(r->hist, 1) != 0)
		return -ENOMEM;
	int64_t index = raft__leader_append(r, RAFT_ENTRY_CONF, buf, len);
	if (index < 0)
		return index;
	/* Takes effect now, uncommitted (dissertation 4.1). A leader that
	 * removed itself keeps leading without counting itself (4.2.2);
	 * raft__maybe_commit() steps it down once this entry commits. */
	raft__conf_push(r, (raft_index)index, &c);
	raft__maybe_commit(r);
	return index;
}
