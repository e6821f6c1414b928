/* admin.c: the node's status, its JSON rendering, and the admin socket that serves it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"

void node_status(struct node *n, struct node_status *st)
{
	const struct raft_conf *conf = raft_configuration(n->raft);
	memset(st, 0, sizeof(*st));
	st->id = n->opts.id;
	st->role = raft_role_name(raft_role(n->raft));
	st->term = raft_current_term(n->raft);
	st->leader = raft_leader(n->raft);
	st->commit = raft_commit_index(n->raft);
	st->applied = n->applied;
	st->last_index = raft_last_index(n->raft);
	st->snapshot_index = n->snapshot_index;
	st->first_index = raft_first_index(n->raft);
	for (unsigned i = 0; i < conf->n && i < NODE_MAX_PEERS; i++) {
		struct node_member_status *m = &st->members[st->n_members++];
		struct raft_progress_info pi;
		m->id = conf->servers[i].id;
		snprintf(m->address, sizeof(m->address), "%s", conf->servers[i].address);
		m->voter = conf->servers[i].role == RAFT_VOTER;
		m->last_contact_ms = -1;
		if (raft_progress(n->raft, m->id, &pi) == 0) {
			m->match = pi.match;
			m->last_contact_ms = m->id == n->opts.id ? 0
			                                         : (int64_t)pi.ticks_since_contact *
			                                                   n->opts.heartbeat_ms;
		}
	}
}

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(o->buf + (o->len < o->cap ? o->len : o->cap),
	                  o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->len += (size_t)w;
}

/* Addresses are "host:port" from the configuration; anything else is
 * escaped so the output stays valid JSON. */
static void put_str(struct out *o, const char *s)
{
	put(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c < 0x20)
			put(o, "\\u%04x", c);
		else
			put(o, "%c", c);
	}
	put(o, "\"");
}

size_t node_status_json(const struct node_status *st, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};
	if (cap > 0)
		buf[0] = '\0';
	put(&o,
	    "{\"id\":%llu,\"role\":\"%s\",\"term\":%llu,\"leader\":%llu,\"commit\":%llu,"
	    "\"applied\":%llu,\"first_index\":%llu,\"last_index\":%llu,\"snapshot_index\":%llu,"
	    "\"members\":[",
	    (unsigned long long)st->id, st->role, (unsigned long long)st->term,
	    (unsigned long long)st->leader, (unsigned long long)st->commit,
	    (unsigned long long)st->applied, (unsigned long long)st->first_index,
	    (unsigned long long)st->last_index, (unsigned long long)st->snapshot_index);
	for (unsigned i = 0; i < st->n_members; i++) {
		const struct node_member_status *m = &st->members[i];
		put(&o, "%s{\"id\":%llu,\"address\":", i ? "," : "", (unsigned long long)m->id);
		put_str(&o, m->address);
		put(&o, ",\"voter\":%s,\"match\":%llu,\"last_contact_ms\":%lld}",
		    m->voter ? "true" : "false", (unsigned long long)m->match,
		    (long long)m->last_contact_ms);
	}
	put(&o, "]}");
	return o.len;
}

static void on_admin(struct net_admin *a, uint64_t conn, const void *frame, size_t len, void *data)
{
	struct node *n = data;
	char out[8192];
	size_t olen;

	if (len == 6 && memcmp(frame, "status", 6) == 0) {
		struct node_status st;
		node_status(n, &st);
		olen = node_status_json(&st, out, sizeof(out));
		if (olen >= sizeof(out))
			olen = (size_t)snprintf(out, sizeof(out),
			                        "{\"error\":\"status too long\"}");
	} else {
		olen = (size_t)snprintf(out, sizeof(out), "{\"error\":\"unknown request\"}");
	}
	net_admin_send(a, conn, out, olen);
}

int node__admin_start(struct node *n)
{
	char path[1024];
	int w = snprintf(path, sizeof(path), "%s/admin.sock", n->data_dir);
	if (w < 0 || (size_t)w >= sizeof(path))
		return -ENAMETOOLONG;
	return net_admin_listen(n->loop, path, 4096, on_admin, n, &n->admin);
}
