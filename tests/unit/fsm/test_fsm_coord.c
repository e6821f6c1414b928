/* test_fsm_coord.c: node sessions, locks and ephemeral files in the fsm (commands 20..24). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "quorumfs/fsm_coord.h"

static int keepalive(struct tenv *t, uint64_t node, uint64_t session)
{
	struct wire_cmd c = {.type = WIRE_CMD_SESSION_KEEPALIVE, .mode = 2000, .offset = 77};
	c.co.node = node;
	c.co.session = session;
	return tenv_apply(t, &c);
}

/* Opens a session for @node and returns its id. */
static uint64_t open_session(struct tenv *t, uint64_t node)
{
	assert_int_equal(keepalive(t, node, 0), 0);
	assert_int_equal(t->res.offset, t->index);
	return t->res.offset;
}

static int lock(struct tenv *t, uint64_t ino, uint64_t node, uint64_t session, uint64_t owner,
                uint64_t start, uint64_t end, uint32_t flags)
{
	struct wire_cmd c = {.type = WIRE_CMD_LOCK, .ino = ino, .flags = flags};
	c.co.node = node;
	c.co.session = session;
	c.co.owner = owner;
	c.co.fh = owner * 10;
	c.co.start = start;
	c.co.end = end;
	c.co.pid = 1000 + (uint32_t)owner;
	return tenv_apply(t, &c);
}

static int expire(struct tenv *t, uint64_t node, uint64_t session, uint64_t ka)
{
	struct wire_cmd c = {.type = WIRE_CMD_SESSION_EXPIRE, .offset = ka};
	c.co.node = node;
	c.co.session = session;
	return tenv_apply(t, &c);
}

/* Does @owner of @node hold (or could it get) @flags on [start, end]? 0:
 * nothing in the way; else the holder's owner. */
static uint64_t blocker(struct tenv *t, uint64_t ino, uint64_t node, uint64_t owner,
                        uint64_t start, uint64_t end, uint32_t flags)
{
	struct fsm_lock want = {.ino = ino, .node = node, .owner = owner, .start = start,
	                        .end = end, .flags = flags};
	struct fsm_lock h;
	int rc = fsm_lock_test(t->fsm, NULL, &want, &h);
	if (rc == -ENOENT)
		return 0;
	assert_int_equal(rc, 0);
	return h.owner;
}

static uint64_t file(struct tenv *t, const char *name)
{
	assert_int_equal(t_create(t, FSM_ROOT_INO, name, 0, "x"), 0);
	return t->res.attr.ino;
}

static void locks_need_the_current_session(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f");
	assert_int_equal(lock(t, f, 1, 99, 1, 0, 0, WIRE_LOCK_WRITE), -ENOLCK);
	uint64_t s = open_session(t, 1);
	assert_int_equal(keepalive(t, 1, s), 0);
	assert_int_equal(keepalive(t, 1, s + 1), -ESTALE);
	assert_int_equal(lock(t, f, 1, s, 1, 0, 0, WIRE_LOCK_WRITE), 0);
	assert_int_equal(t->res.offset, t->index); /* the token */
	assert_int_equal(lock(t, 12345, 1, s, 1, 0, 0, WIRE_LOCK_WRITE), -ENOENT);
	assert_int_equal(lock(t, f, 1, s, 1, 5, 4, WIRE_LOCK_WRITE), -EINVAL);
}

static void ranges_conflict_as_posix_says(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f");
	uint64_t s1 = open_session(t, 1), s2 = open_session(t, 2);

	/* Shared locks share; an exclusive one conflicts with both. */
	assert_int_equal(lock(t, f, 1, s1, 7, 0, 99, WIRE_LOCK_READ), 0);
	assert_int_equal(lock(t, f, 2, s2, 7, 50, 149, WIRE_LOCK_READ), 0);
	assert_int_equal(lock(t, f, 2, s2, 8, 90, 95, WIRE_LOCK_WRITE), -EAGAIN);
	assert_int_equal(lock(t, f, 2, s2, 8, 150, 200, WIRE_LOCK_WRITE), 0);
	/* The same owner on the same node upgrades in place... */
	assert_int_equal(lock(t, f, 1, s1, 7, 0, 49, WIRE_LOCK_WRITE), 0);
	/* ...and the rest of its old range is still a read lock. */
	assert_int_equal(blocker(t, f, 2, 9, 60, 60, WIRE_LOCK_READ), 0);
	assert_int_equal(blocker(t, f, 2, 9, 40, 40, WIRE_LOCK_READ), 7);
	/* Unlocking the middle of a range splits it. */
	assert_int_equal(lock(t, f, 1, s1, 7, 10, 19, WIRE_LOCK_UNLOCK), 0);
	assert_int_equal(blocker(t, f, 2, 9, 15, 15, WIRE_LOCK_WRITE), 0);
	assert_int_equal(blocker(t, f, 2, 9, 5, 5, WIRE_LOCK_READ), 7);
	assert_int_equal(blocker(t, f, 2, 9, 25, 25, WIRE_LOCK_READ), 7);
	/* Owner 7 of node 2 is not owner 7 of node 1. */
	assert_int_equal(lock(t, f, 2, s2, 7, 5, 5, WIRE_LOCK_WRITE), -EAGAIN);
	/* flock locks live apart from fcntl ones. */
	assert_int_equal(lock(t, f, 2, s2, 3, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_WRITE), 0);
	assert_int_equal(lock(t, f, 1, s1, 4, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_READ), -EAGAIN);
	assert_int_equal(blocker(t, f, 1, 4, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_READ), 3);
}

static void a_released_handle_drops_its_locks(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f");
	uint64_t s1 = open_session(t, 1);
	struct wire_cmd c = {.type = WIRE_CMD_UNLOCK_HANDLE, .ino = f};

	assert_int_equal(lock(t, f, 1, s1, 3, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_WRITE), 0);
	assert_int_equal(lock(t, f, 1, s1, 4, 0, 9, WIRE_LOCK_WRITE), 0);
	c.co.node = 1;
	c.co.fh = 30; /* owner 3's handle (lock() uses owner * 10) */
	assert_int_equal(tenv_apply(t, &c), 0);
	assert_int_equal(blocker(t, f, 2, 1, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_WRITE), 0);
	assert_int_equal(blocker(t, f, 2, 1, 0, 0, WIRE_LOCK_WRITE), 4);
}

static void an_ended_session_releases_everything(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f"), g = file(t, "g"), keep = file(t, "keep");
	uint64_t s1 = open_session(t, 1), s2 = open_session(t, 2);
	struct wire_cmd e = {.type = WIRE_CMD_EPHEMERAL, .ino = g};
	struct fsm_attr a;
	uint64_t node, ka;

	assert_int_equal(lock(t, f, 1, s1, 1, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_WRITE), 0);
	assert_int_equal(lock(t, keep, 2, s2, 1, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_WRITE), 0);
	e.co.node = 1;
	e.co.session = s1;
	assert_int_equal(tenv_apply(t, &e), 0);
	assert_int_equal(t_link(t, g, FSM_ROOT_INO, "g2"), 0);
	assert_int_equal(fsm_ephemeral_node(t->fsm, NULL, g, &node), 0);
	assert_int_equal(node, 1);
	e.ino = FSM_ROOT_INO;
	assert_int_equal(tenv_apply(t, &e), -EINVAL); /* not a regular file */

	/* A keepalive after the one the leader saw lapse wins the race. */
	ka = t->index + 1;
	assert_int_equal(keepalive(t, 1, s1), 0);
	assert_int_equal(expire(t, 1, s1, ka - 1), -ESTALE);
	assert_int_equal(blocker(t, f, 2, 5, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_WRITE), 1);

	assert_int_equal(expire(t, 1, s1, ka), 0);
	assert_int_equal(t->res.attr.size, 2); /* both names of g */
	assert_int_equal(blocker(t, f, 2, 5, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_WRITE), 0);
	assert_int_equal(fsm_lookup(t->fsm, NULL, FSM_ROOT_INO, "g", 1, &a), -ENOENT);
	assert_int_equal(fsm_lookup(t->fsm, NULL, FSM_ROOT_INO, "g2", 2, &a), -ENOENT);
	assert_int_equal(fsm_getattr(t->fsm, NULL, g, &a), -ENOENT);
	assert_int_equal(fsm_ephemeral_node(t->fsm, NULL, g, &node), -ENODATA);
	/* Node 2's locks are untouched; node 1's old session is no more. */
	assert_int_equal(blocker(t, keep, 1, 5, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_READ), 1);
	assert_int_equal(lock(t, f, 1, s1, 1, 0, 0, WIRE_LOCK_WRITE), -ENOLCK);
	assert_int_equal(keepalive(t, 1, s1), -ESTALE);

	/* A node that opens a new session ends its old one the same way. */
	assert_int_equal(keepalive(t, 2, 0), 0);
	assert_int_equal(blocker(t, keep, 1, 5, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_READ), 0);
}

static void newest_token_is_this_nodes_only(void **state)
{
	struct tenv *t = *state;
	uint64_t f = file(t, "f");
	uint64_t s1 = open_session(t, 1), s2 = open_session(t, 2);
	struct fsm_lock l;

	assert_int_equal(fsm_lock_newest(t->fsm, NULL, f, 1, &l), -ENODATA);
	assert_int_equal(lock(t, f, 1, s1, 1, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_READ), 0);
	uint64_t t1 = t->index;
	assert_int_equal(lock(t, f, 2, s2, 1, 0, 0, WIRE_LOCK_FLOCK | WIRE_LOCK_READ), 0);
	uint64_t t2 = t->index;
	assert_int_equal(fsm_lock_newest(t->fsm, NULL, f, 1, &l), 0);
	assert_int_equal(l.token, t1);
	assert_int_equal(l.pid, 1001);
	assert_int_equal(fsm_lock_newest(t->fsm, NULL, f, 2, &l), 0);
	assert_int_equal(l.token, t2);
	/* Node 3 holds nothing there: no token, not another node's. */
	assert_int_equal(fsm_lock_newest(t->fsm, NULL, f, 3, &l), -ENODATA);
}

static int count_sessions(void *arg, const struct fsm_node_session *s)
{
	(void)s;
	(*(int *)arg)++;
	return 0;
}

/* Locks and sessions travel in snapshots: a copy installed from one has
 * the same databases, byte for byte. */
static void snapshots_carry_them(void **state)
{
	struct tenv *t = *state, u;
	struct fsm_snapshot *s;
	uint8_t *all = NULL;
	size_t n = 0, got;
	bool done = false;
	int k = 0;

	uint64_t f = file(t, "f");
	uint64_t s1 = open_session(t, 1);
	assert_int_equal(lock(t, f, 1, s1, 1, 3, 9, WIRE_LOCK_WRITE), 0);
	struct wire_cmd e = {.type = WIRE_CMD_EPHEMERAL, .ino = f};
	e.co.node = 1;
	e.co.session = s1;
	assert_int_equal(tenv_apply(t, &e), 0);

	assert_int_equal(fsm_snapshot_begin(t->fsm, NULL, &s, NULL), 0);
	while (!done) {
		all = realloc(all, n + 4096);
		assert_int_equal(fsm_snapshot_next_chunk(s, all + n, 4096, &got, &done), 0);
		n += got;
	}
	fsm_snapshot_end(s);

	tenv_open(&u, NULL, 0);
	char path[96];
	snprintf(path, sizeof(path), "%s/snap", u.dir);
	FILE *fp = fopen(path, "w+");
	assert_non_null(fp);
	assert_int_equal(fwrite(all, 1, n, fp), n);
	fflush(fp);
	MDB_txn *txn;
	assert_int_equal(mdb_txn_begin(u.env, NULL, 0, &txn), 0);
	assert_int_equal(fsm_snapshot_install_fd(u.fsm, txn, fileno(fp), NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	fclose(fp);
	remove(path);
	tenv_assert_same(t, &u);
	assert_int_equal(fsm_sessions(u.fsm, NULL, count_sessions, &k), 0);
	assert_int_equal(k, 1);
	assert_int_equal(blocker(&u, f, 2, 1, 5, 5, WIRE_LOCK_READ), 1);
	tenv_close(&u);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(locks_need_the_current_session, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(ranges_conflict_as_posix_says, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(a_released_handle_drops_its_locks, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(an_ended_session_releases_everything, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(newest_token_is_this_nodes_only, tenv_setup,
	                                        tenv_teardown),
	        cmocka_unit_test_setup_teardown(snapshots_carry_them, tenv_setup, tenv_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
