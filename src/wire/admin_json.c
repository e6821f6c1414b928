/* admin_json.c: the one JSON rendering of a node's status (quorumctl --json, HTTP /status,
 * .quorumfs/status), so every way of looking shows the same fields. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "quorumfs/wire_admin.h"

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

/* Addresses and roles come from the configuration and the daemon; escape
 * anything else anyway, so the output stays valid JSON. */
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

const char *wire_admin_contact_name(uint32_t contact)
{
	static const char *const names[] = {
	        [WIRE_ADMIN_CONTACT_OK] = "ok",       [WIRE_ADMIN_CONTACT_SELF] = "self",
	        [WIRE_ADMIN_CONTACT_UNKNOWN] = "unknown", [WIRE_ADMIN_CONTACT_NEVER] = "never",
	        [WIRE_ADMIN_CONTACT_LOST] = "lost",
	};
	return contact < WIRE_ADMIN_CONTACT_LAST ? names[contact] : "?";
}

size_t wire_admin_status_json(const struct wire_admin_status *st, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};
	if (cap > 0)
		buf[0] = '\0';
	put(&o, "{\"id\":%llu,\"role\":", (unsigned long long)st->id);
	put_str(&o, st->role);
	put(&o,
	    ",\"term\":%llu,\"leader\":%llu,\"quorate\":%s,\"commit\":%llu,\"applied\":%llu,"
	    "\"first_index\":%llu,\"last_index\":%llu,\"snapshot_index\":%llu,"
	    "\"verify_index\":%llu,\"verify_mismatches\":%llu,\"members\":[",
	    (unsigned long long)st->term, (unsigned long long)st->leader,
	    st->quorate ? "true" : "false", (unsigned long long)st->commit,
	    (unsigned long long)st->applied, (unsigned long long)st->first_index,
	    (unsigned long long)st->last_index, (unsigned long long)st->snapshot_index,
	    (unsigned long long)st->verify_index, (unsigned long long)st->verify_mismatches);
	for (uint32_t i = 0; i < st->n_members && i < WIRE_ADMIN_MAX_MEMBERS; i++) {
		const struct wire_admin_member *m = &st->members[i];
		put(&o, "%s{\"id\":%llu,\"address\":", i ? "," : "", (unsigned long long)m->id);
		put_str(&o, m->address);
		put(&o, ",\"voter\":%s,\"role\":\"%s\",\"match\":%llu,\"lag\":",
		    m->voter ? "true" : "false", m->voter ? "voter" : "learner",
		    (unsigned long long)m->match);
		/* Match indexes are the leader's view: elsewhere the lag is unknown. */
		if (strcmp(st->role, "leader") == 0)
			put(&o, "%llu",
			    (unsigned long long)(st->last_index > m->match ? st->last_index - m->match
			                                                   : 0));
		else
			put(&o, "null");
		put(&o, ",\"last_contact_ms\":%lld,\"contact\":\"%s\"}",
		    (long long)m->last_contact_ms, wire_admin_contact_name(m->contact));
	}
	put(&o, "]}");
	return o.len;
}
