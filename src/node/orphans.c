/* orphans.c: this node's releases of unlinked files it no longer holds open (ORPHAN_RELEASE). */
#include <errno.h>
#include <stdlib.h>

#include "node_int.h"
#include "quorumfs/errors.h"
#include "quorumfs/log.h"
#include "quorumfs/wire_cmd.h"

/*
 * The tree keeps a regular file that lost its last name, with the members
 * that have not released it (src/fsm/orphans.c). This node releases what it
 * holds no handle of: a sweep lists the orphans held by this node, asks the
 * mount which of them are open here (node_set_open_fn; without one,
 * nothing is), and proposes one ORPHAN_RELEASE for the others. A sweep is
 * wanted after an UNLINK or RENAME applied, after a snapshot install, at
 * start (a restarted node holds nothing open, so it releases everything
 * listed for it), and at the mount's last close of an orphan. One release
 * is in flight at a time; a failed one is tried again a second later. The
 * commands are idempotent, so a release sent twice (after a timeout, by a
 * node restarted meanwhile) does no harm.
 */

#define RETRY_MS 1000

struct sweep {
	struct node *n;
	uint64_t inos[WIRE_RELEASE_INOS_MAX];
	size_t n_inos;
};

static int list_run(MDB_txn *txn, void *arg)
{
	struct sweep *s = arg;
	return fsm_orphans_held(s->n->fsm, txn, s->n->opts.id, 0, s->inos, WIRE_RELEASE_INOS_MAX,
	                        &s->n_inos);
}

static void released(void *arg, int err, const struct fsm_result *res)
{
	struct node *n = arg;
	(void)res;
	n->orphans_busy = false;
	if (err != 0) {
		if (err != QFS_ESHUTDOWN)
			node__log(n, QFS_LOG_WARN, "releasing unlinked files: %s; trying again",
			          qfs_strerror(err));
		n->orphans_wanted = true;
		n->orphans_retry_at = uv_now(n->loop) + RETRY_MS;
	}
}

void node__orphans_sweep(struct node *n)
{
	struct sweep *s;
	uint8_t *data;
	size_t k = 0;
	int rc;

	if (!n->orphans_wanted || n->orphans_busy || n->stopping || n->failed ||
	    uv_now(n->loop) < n->orphans_retry_at)
		return;
	s = malloc(sizeof(*s));
	data = malloc(8 * (size_t)WIRE_RELEASE_INOS_MAX);
	if (s == NULL || data == NULL) {
		free(s);
		free(data);
		n->orphans_retry_at = uv_now(n->loop) + RETRY_MS;
		return;
	}
	s->n = n;
	n->orphans_wanted = false;
	rc = store_read(n->store, list_run, s);
	if (rc == 0 && s->n_inos == WIRE_RELEASE_INOS_MAX)
		n->orphans_wanted = true; /* more after this batch */
	for (size_t i = 0; rc == 0 && i < s->n_inos; i++) {
		uint64_t ino = s->inos[i];
		if (n->open_fn != NULL && n->open_fn(n->open_arg, ino))
			continue; /* its last close here releases it */
		for (int b = 0; b < 8; b++)
			data[8 * k + b] = (uint8_t)(ino >> (56 - 8 * b));
		k++;
	}
	if (rc == 0 && k > 0) {
		struct wire_cmd c = {
		        .type = WIRE_CMD_ORPHAN_RELEASE, .data = data, .data_len = 8 * k};
		c.co.node = n->opts.id;
		rc = node_submit(n, &c, released, n); /* copies the data */
		if (rc == 0)
			n->orphans_busy = true;
	}
	if (rc != 0) {
		n->orphans_wanted = true;
		n->orphans_retry_at = uv_now(n->loop) + RETRY_MS;
	}
	free(data);
	free(s);
}

void node__orphans_on_applied(struct node *n, const struct node__apply *a)
{
	int type = wire_cmd_peek_type(a->data, a->len);
	if (a->res.err == 0 && !a->res.duplicate &&
	    (type == WIRE_CMD_UNLINK || type == WIRE_CMD_RENAME)) {
		n->orphans_wanted = true;
		node__orphans_sweep(n);
	}
}

void node__orphans_want(struct node *n)
{
	n->orphans_wanted = true;
	node__orphans_sweep(n);
}

void node_set_open_fn(struct node *n, node_open_fn fn, void *arg)
{
	n->open_fn = fn;
	n->open_arg = arg;
}

void node_orphan_release(struct node *n, uint64_t ino)
{
	(void)ino; /* the sweep finds it, with any other this node can let go */
	node__orphans_want(n);
}

static int holders_run(MDB_txn *txn, void *arg)
{
	void **p = arg;
	struct node *n = p[0];
	uint64_t *ino = p[1];
	bool *held = p[2];
	uint64_t ids[FSM_MEMBERS_MAX];
	size_t k;
	int rc = fsm_orphan_holders(n->fsm, txn, *ino, ids, FSM_MEMBERS_MAX, &k);
	*held = false;
	if (rc == -ENOENT)
		return 0;
	for (size_t i = 0; rc == 0 && i < k; i++)
		if (ids[i] == n->opts.id)
			*held = true;
	return rc;
}

int node_orphan_held(struct node *n, uint64_t ino, bool *held)
{
	void *p[3] = {n, &ino, held};
	return store_read(n->store, holders_run, p);
}
