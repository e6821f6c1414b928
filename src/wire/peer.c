/* peer.c: msgpack encoding and strict decoding of Raft messages between peers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "quorumfs/errors.h"
#include "quorumfs/wire_peer.h"
#include "cmd_mpread.h" /* the wire library's strict msgpack reader */

/* Number of items in the top-level array of each message type, the four of
 * the common header (type, from, to, term) included; 0 for unknown types. */
static const uint32_t arity[RAFT_MSG_TYPE_LAST] = {
        [RAFT_MSG_APPEND] = 9,
        [RAFT_MSG_APPEND_RESP] = 10,
        [RAFT_MSG_HEARTBEAT] = 6,
        [RAFT_MSG_HEARTBEAT_RESP] = 5,
        [RAFT_MSG_VOTE] = 8,
        [RAFT_MSG_VOTE_RESP] = 6,
        [RAFT_MSG_SNAPSHOT] = 11,
        [RAFT_MSG_SNAPSHOT_RESP] = 8,
        [RAFT_MSG_TIMEOUT_NOW] = 4,
        [RAFT_MSG_READ_INDEX] = 5,
        [RAFT_MSG_READ_INDEX_RESP] = 7,
};

/* With follower read leases (docs/wire-format.md): the same array with the
 * lease fields after the others. Sent only when they say something, so a
 * cluster without follower leases sends exactly what older nodes read. */
static const uint32_t arity_lease[RAFT_MSG_TYPE_LAST] = {
        [RAFT_MSG_APPEND] = 12,
        [RAFT_MSG_APPEND_RESP] = 12,
        [RAFT_MSG_HEARTBEAT] = 9,
        [RAFT_MSG_HEARTBEAT_RESP] = 7,
};

static bool has_lease(const struct raft_message *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
		return m->append.grant.duration != 0;
	case RAFT_MSG_HEARTBEAT:
		return m->heartbeat.grant.duration != 0;
	case RAFT_MSG_APPEND_RESP:
		return m->append_resp.lease.ask;
	case RAFT_MSG_HEARTBEAT_RESP:
		return m->heartbeat_resp.lease.ask;
	}
	return false;
}

/* The status of a read_index_resp: 0 or one of the core's error codes. */
#define STATUS_MIN RAFT_ERROR_LAST

_Static_assert(RAFT_CONF_ENCODED_MAX <= WIRE_PEER_CONF_MAX,
               "a snapshot chunk carries any configuration the core encodes");

void wire_arena_free(struct wire_arena *arena)
{
	free(arena->mem);
	arena->mem = NULL;
}

int wire_frame_split(const void *frame, size_t len, uint8_t *kind, const void **body,
                     size_t *body_len)
{
	const uint8_t *p = frame;

	if (len < 1 || p[0] < WIRE_FRAME_RAFT || p[0] >= WIRE_FRAME_KIND_LAST)
		return QFS_EPROTO;
	*kind = p[0];
	*body = p + 1;
	*body_len = len - 1;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Checks shared by the encoder (on its input) and the decoder (on its output) */

static bool buf_ok(const struct raft_buf *b, size_t max)
{
	return b->len <= max && (b->len == 0 || b->base != NULL);
}

/* Everything but the entries, which the decoder checks one by one as it reads. */
static bool fields_ok(const struct raft_message *m)
{
	if (m->type < RAFT_MSG_APPEND || m->type >= RAFT_MSG_TYPE_LAST)
		return false;
	if (m->from == RAFT_NONE || m->to == RAFT_NONE)
		return false;
	switch (m->type) {
	case RAFT_MSG_SNAPSHOT: {
		const struct raft_snapshot *s = &m->snapshot;
		if (!buf_ok(&s->conf, WIRE_PEER_CONF_MAX) || !buf_ok(&s->chunk, UINT32_MAX))
			return false;
		if (s->offset > s->size || s->chunk.len > s->size - s->offset)
			return false;
		return true;
	}
	case RAFT_MSG_READ_INDEX_RESP:
		return m->read_index_resp.status <= 0 && m->read_index_resp.status >= STATUS_MIN;
	default:
		return true;
	}
}

static bool entry_ok(const struct raft_entry *e, raft_index want_index)
{
	return e->index == want_index && e->type <= RAFT_ENTRY_CONF && buf_ok(&e->data, UINT32_MAX);
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                   */

/* msgpack_packer's sink: writes into a fixed buffer, or only counts when
 * buf is NULL. */
struct sink {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

static int sink_write(void *data, const char *p, size_t n)
{
	struct sink *s = data;

	if (s->buf != NULL) {
		if (n > s->cap - s->len)
			return -1;
		memcpy(s->buf + s->len, p, n);
	}
	s->len += n;
	return 0;
}

static int pack_buf(msgpack_packer *pk, const struct raft_buf *b)
{
	if (msgpack_pack_bin(pk, b->len) != 0)
		return -1;
	return b->len == 0 ? 0 : msgpack_pack_bin_body(pk, b->base, b->len);
}

static int pack_bool(msgpack_packer *pk, bool v)
{
	return v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

static int pack_grant(msgpack_packer *pk, const struct raft_lease_grant *g)
{
	int rv = msgpack_pack_uint64(pk, g->duration);
	rv |= msgpack_pack_uint64(pk, g->stamp);
	rv |= msgpack_pack_uint64(pk, g->commit);
	return rv;
}

static int pack_ask(msgpack_packer *pk, const struct raft_lease_ask *a)
{
	return pack_bool(pk, a->ask) | msgpack_pack_uint64(pk, a->stamp);
}

/* Packs the body of @m (after the kind byte). Returns 0 or -1 (sink full). */
static int pack(msgpack_packer *pk, const struct raft_message *m)
{
	int rv = 0;
	bool lease = has_lease(m);

	rv |= msgpack_pack_array(pk, lease ? arity_lease[m->type] : arity[m->type]);
	rv |= msgpack_pack_uint64(pk, m->type);
	rv |= msgpack_pack_uint64(pk, m->from);
	rv |= msgpack_pack_uint64(pk, m->to);
	rv |= msgpack_pack_uint64(pk, m->term);
	switch (m->type) {
	case RAFT_MSG_APPEND: {
		const struct raft_append *a = &m->append;
		rv |= msgpack_pack_uint64(pk, a->prev_index);
		rv |= msgpack_pack_uint64(pk, a->prev_term);
		rv |= msgpack_pack_uint64(pk, a->commit);
		rv |= msgpack_pack_uint64(pk, a->seq);
		rv |= msgpack_pack_array(pk, a->n_entries);
		for (unsigned i = 0; i < a->n_entries && rv == 0; i++) {
			const struct raft_entry *e = &a->entries[i];
			rv |= msgpack_pack_array(pk, 4);
			rv |= msgpack_pack_uint64(pk, e->term);
			rv |= msgpack_pack_uint64(pk, e->index);
			rv |= msgpack_pack_uint64(pk, e->type);
			rv |= pack_buf(pk, &e->data);
		}
		if (lease)
			rv |= pack_grant(pk, &a->grant);
		break;
	}
	case RAFT_MSG_APPEND_RESP: {
		const struct raft_append_resp *a = &m->append_resp;
		rv |= pack_bool(pk, a->reject);
		rv |= msgpack_pack_uint64(pk, a->index);
		rv |= msgpack_pack_uint64(pk, a->last_index);
		rv |= msgpack_pack_uint64(pk, a->hint_index);
		rv |= msgpack_pack_uint64(pk, a->hint_term);
		rv |= msgpack_pack_uint64(pk, a->seq);
		if (lease)
			rv |= pack_ask(pk, &a->lease);
		break;
	}
	case RAFT_MSG_HEARTBEAT:
		rv |= msgpack_pack_uint64(pk, m->heartbeat.commit);
		rv |= msgpack_pack_uint64(pk, m->heartbeat.seq);
		if (lease)
			rv |= pack_grant(pk, &m->heartbeat.grant);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		rv |= msgpack_pack_uint64(pk, m->heartbeat_resp.seq);
		if (lease)
			rv |= pack_ask(pk, &m->heartbeat_resp.lease);
		break;
	case RAFT_MSG_VOTE:
		rv |= pack_bool(pk, m->vote.pre_vote);
		rv |= pack_bool(pk, m->vote.transfer);
		rv |= msgpack_pack_uint64(pk, m->vote.last_index);
		rv |= msgpack_pack_uint64(pk, m->vote.last_term);
		break;
	case RAFT_MSG_VOTE_RESP:
		rv |= pack_bool(pk, m->vote_resp.pre_vote);
		rv |= pack_bool(pk, m->vote_resp.granted);
		break;
	case RAFT_MSG_SNAPSHOT: {
		const struct raft_snapshot *s = &m->snapshot;
		rv |= msgpack_pack_uint64(pk, s->snap_index);
		rv |= msgpack_pack_uint64(pk, s->snap_term);
		rv |= pack_buf(pk, &s->conf);
		rv |= msgpack_pack_uint64(pk, s->size);
		rv |= msgpack_pack_uint64(pk, s->offset);
		rv |= pack_buf(pk, &s->chunk);
		rv |= pack_bool(pk, s->done);
		break;
	}
	case RAFT_MSG_SNAPSHOT_RESP: {
		const struct raft_snapshot_resp *s = &m->snapshot_resp;
		rv |= msgpack_pack_uint64(pk, s->snap_index);
		rv |= pack_bool(pk, s->reject);
		rv |= msgpack_pack_uint64(pk, s->next_offset);
		rv |= msgpack_pack_uint64(pk, s->last_index);
		break;
	}
	case RAFT_MSG_TIMEOUT_NOW:
		break;
	case RAFT_MSG_READ_INDEX:
		rv |= msgpack_pack_uint64(pk, m->read_index.ctx);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		rv |= msgpack_pack_uint64(pk, m->read_index_resp.ctx);
		rv |= msgpack_pack_uint64(pk, m->read_index_resp.index);
		rv |= msgpack_pack_int64(pk, m->read_index_resp.status);
		break;
	}
	return rv == 0 ? 0 : -1;
}

static bool message_ok(const struct raft_message *m)
{
	if (!fields_ok(m))
		return false;
	if (m->type == RAFT_MSG_APPEND) {
		const struct raft_append *a = &m->append;
		if (a->n_entries > 0 && a->entries == NULL)
			return false;
		for (unsigned i = 0; i < a->n_entries; i++)
			if (!entry_ok(&a->entries[i], a->prev_index + 1 + i))
				return false;
	}
	return true;
}

int wire_peer_size(const struct raft_message *m, size_t *size)
{
	struct sink s = {NULL, 0, 1};
	msgpack_packer pk;

	if (!message_ok(m))
		return -EINVAL;
	msgpack_packer_init(&pk, &s, sink_write);
	if (pack(&pk, m) != 0)
		return -EINVAL;
	*size = s.len;
	return 0;
}

int64_t wire_peer_encode(const struct raft_message *m, void *buf, size_t cap)
{
	struct sink s = {buf, cap, 1};
	msgpack_packer pk;

	if (!message_ok(m))
		return -EINVAL;
	if (cap < 1)
		return -ENOBUFS;
	s.buf[0] = WIRE_FRAME_RAFT;
	msgpack_packer_init(&pk, &s, sink_write);
	if (pack(&pk, m) != 0)
		return -ENOBUFS;
	return (int64_t)s.len;
}

/* ------------------------------------------------------------------------ */
/* Decoding, in two passes over the same bytes: the first validates all and
 * sizes the arena, the second (which cannot fail) fills it.                  */

struct dec {
	struct wire__mpr r;
	bool copy;                  /* WIRE_DECODE_COPY */
	struct raft_entry *entries; /* pass 2: where entries go; NULL in pass 1 */
	uint8_t *cur;               /* pass 2 with copy: where the next bytes go */
	size_t bytes;               /* pass 1: byte fields' total length */
};

static int u64(struct dec *d, uint64_t *v)
{
	return wire__mpr_u64(&d->r, v);
}

/* true or false; an integer is not a boolean. */
static int boolean(struct dec *d, bool *v)
{
	if (wire__mpr_left(&d->r) < 1 || (d->r.p[0] != 0xc2 && d->r.p[0] != 0xc3))
		return QFS_EPROTO;
	*v = d->r.p[0] == 0xc3;
	d->r.p++;
	return 0;
}

/* An array header announcing exactly @n items. */
static int array_n(struct wire__mpr *r, uint32_t n)
{
	uint32_t got;

	return wire__mpr_array(r, &got) != 0 || got != n ? QFS_EPROTO : 0;
}

static int bin(struct dec *d, size_t max, struct raft_buf *out)
{
	const void *p;
	size_t n;

	if (wire__mpr_bin(&d->r, &p, &n, max) != 0)
		return QFS_EPROTO;
	out->len = n;
	if (d->entries == NULL && d->cur == NULL) { /* pass 1 */
		d->bytes += n;
		out->base = n > 0 ? (void *)p : NULL;
	} else if (d->copy && n > 0) {
		memcpy(d->cur, p, n);
		out->base = d->cur;
		d->cur += n;
	} else {
		out->base = n > 0 ? (void *)p : NULL; /* borrowed from the frame */
	}
	return 0;
}

/* The lease fields say something, as the encoder sends them only then. */
static int grant(struct dec *d, struct raft_lease_grant *g)
{
	if (u64(d, &g->duration) != 0 || u64(d, &g->stamp) != 0 || u64(d, &g->commit) != 0 ||
	    g->duration == 0)
		return QFS_EPROTO;
	return 0;
}

static int ask(struct dec *d, struct raft_lease_ask *a)
{
	if (boolean(d, &a->ask) != 0 || u64(d, &a->stamp) != 0 || !a->ask)
		return QFS_EPROTO;
	return 0;
}

static int entries(struct dec *d, struct raft_append *a)
{
	uint32_t n;

	if (wire__mpr_array(&d->r, &n) != 0)
		return QFS_EPROTO;
	/* An entry takes at least WIRE_PEER_ENTRY_MIN bytes: bound the count by
	 * what is left before anything is sized from it. */
	if (n > wire__mpr_left(&d->r) / WIRE_PEER_ENTRY_MIN)
		return QFS_EPROTO;
	a->n_entries = n;
	a->entries = d->entries;
	for (uint32_t i = 0; i < n; i++) {
		struct raft_entry e;
		uint64_t type;

		if (array_n(&d->r, 4) != 0 || u64(d, &e.term) != 0 || u64(d, &e.index) != 0 ||
		    u64(d, &type) != 0 || type > RAFT_ENTRY_CONF ||
		    bin(d, UINT32_MAX, &e.data) != 0)
			return QFS_EPROTO;
		e.type = (uint8_t)type;
		if (!entry_ok(&e, a->prev_index + 1 + i))
			return QFS_EPROTO;
		if (d->entries != NULL)
			d->entries[i] = e;
	}
	return 0;
}

static int body(struct dec *d, struct raft_message *m)
{
	uint64_t type;
	int64_t status;
	int rv = 0;

	bool lease;

	memset(m, 0, sizeof(*m));
	/* The type comes first inside the array: peek at it to know the arity. */
	{
		struct wire__mpr peek = d->r;
		uint32_t n;
		if (wire__mpr_array(&peek, &n) != 0 || wire__mpr_u64(&peek, &type) != 0)
			return QFS_EPROTO;
		if (type < RAFT_MSG_APPEND || type >= RAFT_MSG_TYPE_LAST)
			return QFS_EPROTO;
		lease = arity_lease[type] != 0 && n == arity_lease[type];
	}
	if (array_n(&d->r, lease ? arity_lease[type] : arity[type]) != 0 || u64(d, &type) != 0 || u64(d, &m->from) != 0 ||
	    u64(d, &m->to) != 0 || u64(d, &m->term) != 0)
		return QFS_EPROTO;
	m->type = (uint8_t)type;
	switch (m->type) {
	case RAFT_MSG_APPEND: {
		struct raft_append *a = &m->append;
		rv |= u64(d, &a->prev_index);
		rv |= u64(d, &a->prev_term);
		rv |= u64(d, &a->commit);
		rv |= u64(d, &a->seq);
		if (rv == 0)
			rv = entries(d, a);
		if (rv == 0 && lease)
			rv = grant(d, &a->grant);
		break;
	}
	case RAFT_MSG_APPEND_RESP: {
		struct raft_append_resp *a = &m->append_resp;
		rv |= boolean(d, &a->reject);
		rv |= u64(d, &a->index);
		rv |= u64(d, &a->last_index);
		rv |= u64(d, &a->hint_index);
		rv |= u64(d, &a->hint_term);
		rv |= u64(d, &a->seq);
		if (lease)
			rv |= ask(d, &a->lease);
		break;
	}
	case RAFT_MSG_HEARTBEAT:
		rv |= u64(d, &m->heartbeat.commit);
		rv |= u64(d, &m->heartbeat.seq);
		if (lease)
			rv |= grant(d, &m->heartbeat.grant);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		rv |= u64(d, &m->heartbeat_resp.seq);
		if (lease)
			rv |= ask(d, &m->heartbeat_resp.lease);
		break;
	case RAFT_MSG_VOTE:
		rv |= boolean(d, &m->vote.pre_vote);
		rv |= boolean(d, &m->vote.transfer);
		rv |= u64(d, &m->vote.last_index);
		rv |= u64(d, &m->vote.last_term);
		break;
	case RAFT_MSG_VOTE_RESP:
		rv |= boolean(d, &m->vote_resp.pre_vote);
		rv |= boolean(d, &m->vote_resp.granted);
		break;
	case RAFT_MSG_SNAPSHOT: {
		struct raft_snapshot *s = &m->snapshot;
		rv |= u64(d, &s->snap_index);
		rv |= u64(d, &s->snap_term);
		rv |= bin(d, WIRE_PEER_CONF_MAX, &s->conf);
		rv |= u64(d, &s->size);
		rv |= u64(d, &s->offset);
		rv |= bin(d, UINT32_MAX, &s->chunk);
		rv |= boolean(d, &s->done);
		break;
	}
	case RAFT_MSG_SNAPSHOT_RESP: {
		struct raft_snapshot_resp *s = &m->snapshot_resp;
		rv |= u64(d, &s->snap_index);
		rv |= boolean(d, &s->reject);
		rv |= u64(d, &s->next_offset);
		rv |= u64(d, &s->last_index);
		break;
	}
	case RAFT_MSG_TIMEOUT_NOW:
		break;
	case RAFT_MSG_READ_INDEX:
		rv |= u64(d, &m->read_index.ctx);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		rv |= u64(d, &m->read_index_resp.ctx);
		rv |= u64(d, &m->read_index_resp.index);
		if (wire__mpr_i64(&d->r, &status) != 0 || status < STATUS_MIN || status > 0)
			rv = QFS_EPROTO;
		else
			m->read_index_resp.status = (int)status;
		break;
	}
	/* rv collects every read's failure: one failed read fails the frame. */
	if (rv != 0 || wire__mpr_left(&d->r) != 0 || !fields_ok(m))
		return QFS_EPROTO;
	return 0;
}

int wire_peer_decode(const void *frame, size_t len, unsigned flags, struct raft_message *m,
                     struct wire_arena *arena)
{
	struct dec d = {.copy = (flags & WIRE_DECODE_COPY) != 0};
	const void *b;
	size_t blen, need;
	uint8_t kind;
	int rv;

	arena->mem = NULL;
	if (wire_frame_split(frame, len, &kind, &b, &blen) != 0 || kind != WIRE_FRAME_RAFT)
		return QFS_EPROTO;

	/* Pass 1: validate everything, size the arena. */
	wire__mpr_init(&d.r, b, blen);
	rv = body(&d, m);
	if (rv != 0)
		return rv;
	need = 0;
	if (m->type == RAFT_MSG_APPEND)
		need += (size_t)m->append.n_entries * sizeof(struct raft_entry);
	if (d.copy)
		need += d.bytes;
	if (need == 0)
		return 0; /* the message is complete as it is (fields borrowed) */

	arena->mem = malloc(need);
	if (arena->mem == NULL)
		return -ENOMEM;

	/* Pass 2: the same bytes again, now storing into the arena. */
	wire__mpr_init(&d.r, b, blen);
	d.cur = arena->mem;
	if (m->type == RAFT_MSG_APPEND) {
		d.entries = arena->mem;
		d.cur += (size_t)m->append.n_entries * sizeof(struct raft_entry);
	}
	rv = body(&d, m);
	if (rv != 0) { /* cannot happen: pass 1 accepted these bytes */
		wire_arena_free(arena);
		return QFS_EPROTO;
	}
	return 0;
}
