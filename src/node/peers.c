/* peers.c: glue between the core's messages and the transport: encode, send, receive, dial. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"
#include "quorumfs/metrics.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/store.h"
#include "quorumfs/wire_peer.h"

/*
 * Released entries (raft.h) carry no bytes in an AppendEntries the core
 * emits: they are durable and applied here, so our stored log has them. On
 * success *@ents (to free, with *@got) holds the message's entries with
 * every one filled in, and @copy points at them; *@ents NULL: none needed.
 * The store's entry must be the one the core means (same index and term,
 * same size), or the message is not sent (-EIO): the core resends later.
 */
static int fill_released(struct node *n, struct raft_message *copy, struct raft_entry **ents,
                         struct store_entry **got)
{
	const struct raft_append *a = &copy->append;
	*ents = NULL;
	*got = NULL;
	unsigned i = 0;
	while (i < a->n_entries && !(a->entries[i].data.base == NULL && a->entries[i].data.len))
		i++;
	if (i == a->n_entries)
		return 0;
	unsigned j = a->n_entries;
	while (j > i && !(a->entries[j - 1].data.base == NULL && a->entries[j - 1].data.len))
		j--;
	size_t n_got = 0;
	int rc = store_log_get(n->store, a->entries[i].index, a->entries[j - 1].index, SIZE_MAX,
	                       got, &n_got);
	if (rc != 0)
		return rc;
	struct raft_entry *e = malloc(a->n_entries * sizeof(*e));
	if (e == NULL) {
		free(*got);
		*got = NULL;
		return -ENOMEM;
	}
	memcpy(e, a->entries, a->n_entries * sizeof(*e));
	for (unsigned k = i; k < j; k++) {
		if (e[k].data.base != NULL || e[k].data.len == 0)
			continue;
		const struct store_entry *s = k - i < n_got ? &(*got)[k - i] : NULL;
		if (s == NULL || s->index != e[k].index || s->term != e[k].term ||
		    s->len != e[k].data.len) {
			free(e);
			free(*got);
			*got = NULL;
			return -EIO;
		}
		e[k].data.base = (void *)s->data;
	}
	copy->append.entries = e;
	*ents = e;
	return 0;
}

/* Encodes @m into a transport frame. A snapshot chunk the core emits has no
 * bytes (raft.h, "Snapshot chunks"): they are read from our snapshot file;
 * nor has a released entry: it is read from our log (fill_released). */
int node__encode_msg(struct node *n, const struct raft_message *m, struct node__msg *out)
{
	struct raft_message copy;
	void *chunk = NULL;
	struct raft_entry *ents = NULL;
	struct store_entry *got = NULL;
	size_t size;
	int rc;

	if (m->type == RAFT_MSG_APPEND) {
		copy = *m;
		rc = fill_released(n, &copy, &ents, &got);
		if (rc != 0) {
			node__log(n, QFS_LOG_WARN, "cannot read entries %llu.. from the log: %s",
			          (unsigned long long)(m->append.prev_index + 1), qfs_strerror(rc));
			return rc;
		}
		if (ents != NULL)
			m = &copy;
	}
	if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.chunk.base == NULL &&
	    m->snapshot.chunk.len > 0) {
		copy = *m;
		chunk = malloc(m->snapshot.chunk.len);
		if (chunk == NULL)
			return -ENOMEM;
		rc = node__snapshot_read_chunk(n, m->snapshot.snap_index, m->snapshot.offset, chunk,
		                               m->snapshot.chunk.len);
		if (rc != 0) {
			free(chunk);
			return rc;
		}
		copy.snapshot.chunk.base = chunk;
		m = &copy;
		if (m->snapshot.offset == 0)
			qfs_metric_inc(QFS_M_SNAPSHOTS_SENT);
	}
	rc = wire_peer_size(m, &size);
	if (rc == 0) {
		void *f = net_frame_alloc(size);
		if (f == NULL) {
			rc = -ENOMEM;
		} else {
			int64_t w = wire_peer_encode(m, f, size);
			if (w < 0) {
				net_frame_free(f);
				rc = (int)w;
			} else {
				out->to = m->to;
				out->frame = f;
				out->len = (size_t)w;
			}
		}
	}
	free(chunk);
	free(ents);
	free(got);
	return rc;
}

/* Sends and releases @m's frame. A refused send is a lost message. */
void node__send_encoded(struct node *n, struct node__msg *m)
{
	if (m->frame == NULL)
		return;
	net_send_frame(n->net, m->to, m->frame, m->len);
	m->frame = NULL;
}

void node__send_msg(struct node *n, const struct raft_message *m)
{
	struct node__msg e;
	if (node__encode_msg(n, m, &e) == 0)
		node__send_encoded(n, &e);
}

static void on_recv(struct net *net, raft_id from, const void *frame, size_t len, void *data)
{
	struct node *n = data;
	const void *body;
	size_t body_len;
	uint8_t kind;

	(void)net;
	if (n->stopping || wire_frame_split(frame, len, &kind, &body, &body_len) != 0)
		return;
	node__heard(n, from);
	switch (kind) {
	case WIRE_FRAME_RAFT: {
		struct raft_message m;
		struct wire_arena arena = {0};
		/* No copy: raft_step copies what it keeps. */
		if (wire_peer_decode(frame, len, 0, &m, &arena) != 0) {
			node__log(n, QFS_LOG_WARN, "malformed raft frame from %llu",
			          (unsigned long long)from);
			return;
		}
		if (m.from == from) {
			node__raft_now(n);
			raft_step(n->raft, &m);
			/* A follower is in contact while its leader talks to it. */
			if (raft_leader(n->raft) == from)
				n->in_contact_at = uv_now(n->loop);
		}
		wire_arena_free(&arena);
		break;
	}
	case WIRE_FRAME_FORWARD:
		node__forward_recv(n, from, frame, len);
		break;
	case WIRE_FRAME_FORWARD_RESULT:
		node__forward_result_recv(n, from, frame, len);
		break;
	case WIRE_FRAME_ADMIN:
		node__admin_recv(n, from, frame, len);
		break;
	case WIRE_FRAME_ADMIN_RESULT:
		node__admin_result_recv(n, from, frame, len);
		break;
	case WIRE_FRAME_VERIFY:
		node__verify_recv(n, from, frame, len);
		break;
	default:
		break;
	}
	node__kick(n);
}

static void on_event(struct net *net, const struct net_event *ev, void *data)
{
	struct node *n = data;
	(void)net;
	if (ev->type == NET_PEER_UP && ev->outbound)
		node__log(n, QFS_LOG_DEBUG, "connected to %llu (%s)", (unsigned long long)ev->id,
		          ev->address);
}

/* Splits "host:port" or "[host6]:port". */
static int split_address(const char *address, char *host, size_t cap, uint16_t *port)
{
	const char *colon = strrchr(address, ':');
	const char *h = address;
	size_t hl;
	if (colon == NULL)
		return -EINVAL;
	hl = (size_t)(colon - address);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= cap)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || p > 65535)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

int node__net_start(struct node *n)
{
	struct net_config cfg;
	char host[NODE_ADDRESS_MAX];
	uint16_t port;
	int rc;

	net_config_default(&cfg, n->opts.id, n->cluster_name, n->opts.cluster_key);
	cfg.recv_cb = on_recv;
	cfg.event_cb = on_event;
	cfg.data = n;
	rc = net_new(n->loop, &cfg, &n->net);
	if (rc != 0)
		return rc;
	rc = split_address(n->self_address, host, sizeof(host), &port);
	if (rc != 0)
		return rc;
	rc = net_listen(n->net, host, port);
	if (rc != 0)
		return rc;
	const struct raft_conf *conf = raft_configuration(n->raft);
	if (conf->n == 0) {
		/* A joining node knows no configuration until the leader's
		 * entries reach it, but it must be able to answer them: dial
		 * the members it was told about. */
		struct raft_conf founders = {0};
		for (unsigned i = 0; i < n->opts.n_peers && i < RAFT_MAX_SERVERS; i++) {
			founders.servers[founders.n].id = n->opts.peers[i].id;
			founders.servers[founders.n].role = RAFT_VOTER;
			snprintf(founders.servers[founders.n].address, RAFT_ADDRESS_MAX, "%s",
			         n->opts.peers[i].address);
			founders.n++;
		}
		node__peers_update(n, &founders);
	} else {
		node__peers_update(n, conf);
	}
	return 0;
}

/* The address to dial @s at: its configured one, unless the options
 * override it (a test routing the link through a proxy). */
static const char *dial_address(const struct node *n, const struct raft_server *s)
{
	for (unsigned i = 0; i < n->opts.n_dial_overrides && i < NODE_MAX_PEERS; i++)
		if (n->opts.dial_overrides[i].id == s->id)
			return n->opts.dial_overrides[i].address;
	return s->address;
}

/* The entry @id is leaving at, or NULL. */
static struct node__leaving *leaving_find(struct node *n, raft_id id)
{
	for (unsigned i = 0; i < n->n_leaving; i++)
		if (n->leaving[i].id == id)
			return &n->leaving[i];
	return NULL;
}

static void leaving_cancel(struct node *n, raft_id id)
{
	struct node__leaving *l = leaving_find(n, id);
	if (l != NULL)
		*l = n->leaving[--n->n_leaving];
}

static void peer_forget(struct node *n, unsigned i)
{
	struct raft_conf *cur = &n->peers;
	leaving_cancel(n, cur->servers[i].id);
	net_peer_remove(n->net, cur->servers[i].id);
	cur->servers[i] = cur->servers[--cur->n];
}

/*
 * Dials every member of @conf but us; forgets members that moved at once,
 * and members that left once the change that removed them is committed.
 * n->peers records the address each one is dialed at.
 *
 * Why not at once: a configuration takes effect when its entry is appended
 * (dissertation 4.1), well before it commits, and the connection we dialed
 * is the one our answers to that server travel on (net.h). A leader that
 * removes itself still leads until its removal commits (4.2.2), and it can
 * commit only if the others' acknowledgements reach it; dropping it at the
 * append left it deaf, so the cluster waited for CheckQuorum and an
 * election timeout instead of its TimeoutNow. A removed follower likewise
 * hears the commit of its removal before the leader lets go of it.
 */
void node__peers_update(struct node *n, const struct raft_conf *conf)
{
	struct raft_conf *cur = &n->peers;
	raft_index at = raft_last_index(n->raft); /* the change's entry is at or below */
	for (unsigned i = 0; i < cur->n;) {
		raft_id id = cur->servers[i].id;
		const struct raft_server *s = raft_conf_get(conf, id);
		if (s != NULL && strcmp(dial_address(n, s), cur->servers[i].address) != 0) {
			peer_forget(n, i);
			continue;
		}
		if (s != NULL)
			leaving_cancel(n, id); /* back in (a truncated change) */
		else if (leaving_find(n, id) == NULL && n->n_leaving < RAFT_MAX_SERVERS)
			n->leaving[n->n_leaving++] = (struct node__leaving){.id = id, .at = at};
		i++;
	}
	for (unsigned i = 0; i < conf->n; i++) {
		const struct raft_server *s = &conf->servers[i];
		if (s->id == n->opts.id || raft_conf_get(cur, s->id) != NULL)
			continue;
		const char *addr = dial_address(n, s);
		int rc = net_peer_add(n->net, s->id, addr);
		if (rc != 0) {
			node__log(n, QFS_LOG_WARN, "cannot dial %llu at %s: %s",
			          (unsigned long long)s->id, addr, qfs_strerror(rc));
			continue;
		}
		cur->servers[cur->n] = *s;
		snprintf(cur->servers[cur->n].address, RAFT_ADDRESS_MAX, "%s", addr);
		cur->n++;
	}
	node__peers_sweep(n);
}

void node__peers_sweep(struct node *n)
{
	if (n->n_leaving == 0)
		return;
	raft_index commit = raft_commit_index(n->raft);
	struct raft_conf *cur = &n->peers;
	for (unsigned i = 0; i < cur->n;) {
		const struct node__leaving *l = leaving_find(n, cur->servers[i].id);
		if (l != NULL && l->at <= commit)
			peer_forget(n, i);
		else
			i++;
	}
}
