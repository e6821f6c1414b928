/* membership.c: quorumctl add, remove and transfer, which answer once the change is committed. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "membership.h"
#include "quorumfs/config.h"
#include "quorumfs/errors.h"
#include "quorumfs/net.h"
#include "quorumfs/wire_admin.h"

/*
 * The daemon answers a membership call once the change is proposed. What
 * the operator wants to know is whether it is committed: each command here
 * then watches the node's status until its commit index covers the change
 * (and the membership shows it), or says, when time runs out, what the
 * node sees. Exit status: 0 committed, 1 refused or failed (nothing
 * changed), 3 proposed but not known committed in time.
 */
#define EXIT_NOT_COMMITTED 3

static int call(const char *data_dir, const struct wire_admin_req *req,
                struct wire_admin_resp *resp)
{
	char path[PATH_MAX];
	uint8_t buf[WIRE_ADMIN_FRAME_MAX];
	void *answer = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/admin.sock", data_dir);
	int n = wire_admin_req_encode(req, buf, sizeof(buf));
	int rc = n < 0 ? n
	               : net_admin_call(path, buf, (size_t)n, WIRE_ADMIN_FRAME_MAX, 10000, &answer,
	                                &len);
	if (rc == 0) {
		rc = wire_admin_resp_decode(answer, len, resp);
		free(answer);
		if (rc != 0)
			snprintf(resp->message, sizeof(resp->message),
			         "the daemon's answer is malformed (a daemon of another version?)");
		return rc;
	}
	memset(resp, 0, sizeof(*resp));
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		snprintf(resp->message, sizeof(resp->message),
		         "no quorumfs daemon is running on %s", data_dir);
	else
		snprintf(resp->message, sizeof(resp->message), "%.200s: %s", path,
		         qfs_strerror(rc));
	return rc;
}

static bool status(const char *data_dir, struct wire_admin_status *st)
{
	struct wire_admin_req req = {.op = WIRE_ADMIN_STATUS};
	struct wire_admin_resp resp;
	if (call(data_dir, &req, &resp) != 0 || resp.err != 0 || !resp.has_status)
		return false;
	*st = resp.status;
	return true;
}

static const struct wire_admin_member *member(const struct wire_admin_status *st, uint64_t id)
{
	for (uint32_t i = 0; i < st->n_members; i++)
		if (st->members[i].id == id)
			return &st->members[i];
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* What a person needs when a change did not commit in time. */
static void say_state(const char *data_dir)
{
	struct wire_admin_status st;
	if (!status(data_dir, &st)) {
		fprintf(stderr, "  the node on %s does not answer\n", data_dir);
		return;
	}
	fprintf(stderr,
	        "  node %" PRIu64 " sees: role %s, term %" PRIu64 ", leader %" PRIu64
	        "%s, commit %" PRIu64 ", last %" PRIu64 ", %s; members:",
	        st.id, st.role, st.term, st.leader, st.leader ? "" : " (none)", st.commit,
	        st.last_index, st.quorate ? "quorate" : "NOT quorate");
	for (uint32_t i = 0; i < st.n_members; i++)
		fprintf(stderr, " %" PRIu64 "%s", st.members[i].id,
		        st.members[i].voter ? "" : "(learner)");
	fprintf(stderr, "\n  'quorumctl status' on the leader tells more\n");
}

enum want { WANT_VOTER, WANT_LEARNER, WANT_GONE };

/* Until the node's commit index reaches @index and member @id is as
 * @want in its membership; false after @deadline. */
static bool wait_committed(const char *data_dir, uint64_t index, uint64_t id, enum want want,
                           time_t deadline)
{
	for (;;) {
		struct wire_admin_status st;
		if (status(data_dir, &st)) {
			const struct wire_admin_member *m = member(&st, id);
			bool shown = want == WANT_GONE    ? m == NULL
			             : want == WANT_VOTER ? m != NULL && m->voter
			                                  : m != NULL;
			/* A removed node may never learn that its removal
			 * committed (the leader stops talking to it): then
			 * this times out, and says what it sees. */
			if (shown && st.commit >= index)
				return true;
		}
		if (time(NULL) >= deadline)
			return false;
		sleep_ms(100);
	}
}

/* The index a change reached, as the daemon reported it, or, when it did
 * not (the leader promoted by itself), the node's last index now: the
 * change is at or below it. */
static uint64_t change_index(const char *data_dir, uint64_t reported)
{
	struct wire_admin_status st;
	if (reported > 0)
		return reported;
	return status(data_dir, &st) ? st.last_index : 0;
}

static int refused(const char *what, const struct wire_admin_resp *resp, int rc)
{
	size_t n = strlen(what);
	if (resp->message[0] && strncmp(resp->message, what, n) == 0 && resp->message[n] == ':')
		fprintf(stderr, "quorumctl: %s\n", resp->message); /* the daemon named it */
	else
		fprintf(stderr, "quorumctl: %s: %s\n", what,
		        resp->message[0] ? resp->message : qfs_strerror(rc ? rc : resp->err));
	return 1;
}

/* A membership change, sent again while the leader answers that another one
 * is not committed yet (it takes one at a time): right after a leader change
 * its configuration entry waits for the new leader's first commit, which
 * with follower leases comes only after their wait (docs/raft-core.md), so a
 * change asked for then is busy for a moment, not refused. Until
 * @deadline; then the busy answer is the one given. */
static int call_change(const char *data_dir, const struct wire_admin_req *req,
                       struct wire_admin_resp *resp, time_t deadline)
{
	for (;;) {
		int rc = call(data_dir, req, resp);
		if (rc != 0 || resp->err != QFS_EBUSY || time(NULL) >= deadline)
			return rc;
		sleep_ms(100);
	}
}

int qfs_ctl_add(const char *data_dir, uint64_t id, const char *address, int timeout_s)
{
	struct wire_admin_req req = {.op = WIRE_ADMIN_ADD_LEARNER, .id = id};
	struct wire_admin_resp resp;
	struct wire_admin_status st;
	char err[256];
	time_t deadline = time(NULL) + timeout_s;
	int rc;

	if (qfs_resolve_address(address, req.address, sizeof(req.address), err, sizeof(err)) != 0) {
		fprintf(stderr, "quorumctl: add: %s\n", err);
		return 1;
	}
	if (!status(data_dir, &st)) {
		fprintf(stderr, "quorumctl: add: no quorumfs daemon answers on %s\n", data_dir);
		return 1;
	}
	const struct wire_admin_member *m = member(&st, id);
	if (m != NULL && m->voter) {
		fprintf(stderr,
		        "quorumctl: add: refused: node %" PRIu64 " is already a voter (at %s)\n",
		        id, m->address);
		return 1;
	}
	if (m != NULL && strcmp(m->address, req.address) != 0) {
		fprintf(stderr,
		        "quorumctl: add: refused: node %" PRIu64
		        " is already a learner at %s, not %s; "
		        "remove it first\n",
		        id, m->address, req.address);
		return 1;
	}
	if (m == NULL) {
		printf("adding node %" PRIu64 " at %s as a learner...\n", id, address);
		fflush(stdout);
		rc = call_change(data_dir, &req, &resp, deadline);
		if (rc != 0 || resp.err != 0)
			return refused("add", &resp, rc);
		uint64_t at = change_index(data_dir, resp.index);
		if (!wait_committed(data_dir, at, id, WANT_LEARNER, deadline)) {
			fprintf(stderr,
			        "quorumctl: add: node %" PRIu64 " as a learner (log index %" PRIu64
			        ") is not committed after %d s; it may still commit\n",
			        id, at, timeout_s);
			say_state(data_dir);
			return EXIT_NOT_COMMITTED;
		}
		printf("  learner added (configuration entry %" PRIu64
		       ", committed); waiting for it to catch up\n",
		       at);
	} else {
		printf("node %" PRIu64 " is a learner already; waiting for it to catch up\n", id);
	}
	fflush(stdout);

	/* The leader also promotes a caught-up learner by itself: then the
	 * node is a voter already (-EEXIST), which is what we wait for. */
	req.op = WIRE_ADMIN_PROMOTE;
	for (int tries = 0;; tries++) {
		rc = call(data_dir, &req, &resp);
		if (rc == 0 && (resp.err == 0 || resp.err == -EEXIST))
			break;
		if (rc == 0 && resp.err == -ENOENT)
			return refused("add", &resp, rc); /* removed meanwhile */
		if (time(NULL) >= deadline) {
			fprintf(stderr,
			        "quorumctl: add: node %" PRIu64 " did not catch up in %d s: %s\n"
			        "  it stays a learner; is 'quorumfs --join' running on it? "
			        "run 'quorumctl add' again to retry the promotion\n",
			        id, timeout_s,
			        resp.message[0] ? resp.message : qfs_strerror(resp.err));
			say_state(data_dir);
			return EXIT_NOT_COMMITTED;
		}
		if (tries % 10 == 0 && resp.message[0]) {
			printf("  %s\n", resp.message);
			fflush(stdout);
		}
		sleep_ms(200);
	}
	uint64_t at = change_index(data_dir, resp.err == 0 ? resp.index : 0);
	if (!wait_committed(data_dir, at, id, WANT_VOTER, deadline)) {
		fprintf(stderr,
		        "quorumctl: add: the promotion of node %" PRIu64 " (log index %" PRIu64
		        ") is not committed after %d s; it may still commit\n",
		        id, at, timeout_s);
		say_state(data_dir);
		return EXIT_NOT_COMMITTED;
	}
	printf("  caught up; promoted to voter (configuration entry %" PRIu64 ", committed)\n", at);
	return 0;
}

/*
 * The node asked is the one removed. The others stop talking to it once the
 * entry is in their logs, so it may never learn the entry's commit: what it
 * can see is itself out of its configuration and no longer leading (a
 * removed leader steps down, handing over). That is reported as done, saying
 * where the commit is confirmed.
 */
static int removed_self(const char *data_dir, uint64_t id, uint64_t at, int timeout_s,
                        time_t deadline)
{
	struct wire_admin_status st;
	for (;;) {
		if (status(data_dir, &st) && member(&st, id) == NULL &&
		    strcmp(st.role, "leader") != 0) {
			if (st.commit >= at)
				printf("node %" PRIu64 " removed (configuration entry %" PRIu64
				       ", committed)\n",
				       id, at);
			else
				printf("node %" PRIu64
				       " removed itself (configuration entry %" PRIu64
				       ") and no longer leads; the members no longer tell it their "
				       "commit "
				       "index: 'quorumctl status' on one of them confirms\n",
				       id, at);
			return 0;
		}
		if (time(NULL) >= deadline)
			break;
		sleep_ms(100);
	}
	fprintf(stderr,
	        "quorumctl: remove: node %" PRIu64 " (log index %" PRIu64
	        ") is still in its own configuration or leading after %d s\n",
	        id, at, timeout_s);
	say_state(data_dir);
	return EXIT_NOT_COMMITTED;
}

int qfs_ctl_remove(const char *data_dir, uint64_t id, bool force, int timeout_s)
{
	struct wire_admin_req req = {.op = WIRE_ADMIN_REMOVE, .id = id};
	struct wire_admin_resp resp;
	struct wire_admin_status st;
	time_t deadline = time(NULL) + timeout_s;

	if (force)
		snprintf(req.address, sizeof(req.address), "force");
	if (!status(data_dir, &st)) {
		fprintf(stderr, "quorumctl: remove: no quorumfs daemon answers on %s\n", data_dir);
		return 1;
	}
	if (member(&st, id) == NULL) {
		fprintf(stderr, "quorumctl: remove: refused: node %" PRIu64 " is not a member\n",
		        id);
		return 1;
	}
	int rc = call_change(data_dir, &req, &resp, deadline);
	if (rc != 0 || resp.err != 0)
		return refused("remove", &resp, rc);
	uint64_t at = change_index(data_dir, resp.index);
	if (id == st.id)
		return removed_self(data_dir, id, at, timeout_s, deadline);
	if (!wait_committed(data_dir, at, id, WANT_GONE, deadline)) {
		fprintf(stderr,
		        "quorumctl: remove: the removal of node %" PRIu64 " (log index %" PRIu64
		        ") is not committed after %d s; it may still commit\n",
		        id, at, timeout_s);
		say_state(data_dir);
		return EXIT_NOT_COMMITTED;
	}
	printf("node %" PRIu64 " removed (configuration entry %" PRIu64 ", committed)\n", id, at);
	return 0;
}

int qfs_ctl_transfer(const char *data_dir, uint64_t to, int timeout_s)
{
	struct wire_admin_req req = {.op = WIRE_ADMIN_TRANSFER, .id = to};
	struct wire_admin_resp resp;
	struct wire_admin_status st;
	time_t deadline = time(NULL) + timeout_s;

	if (!status(data_dir, &st)) {
		fprintf(stderr, "quorumctl: transfer: no quorumfs daemon answers on %s\n",
		        data_dir);
		return 1;
	}
	uint64_t from = st.leader;
	const struct wire_admin_member *m = to ? member(&st, to) : NULL;
	if (to != 0 && (m == NULL || !m->voter)) {
		fprintf(stderr, "quorumctl: transfer: refused: node %" PRIu64 " is not a voter\n",
		        to);
		return 1;
	}
	if (to != 0 && to == from) {
		printf("node %" PRIu64 " is the leader already (term %" PRIu64 ")\n", to, st.term);
		return 0;
	}
	int rc = call(data_dir, &req, &resp);
	if (rc != 0 || resp.err != 0)
		return refused("transfer", &resp, rc);
	for (;;) {
		if (status(data_dir, &st) && st.leader != 0 && st.leader != from &&
		    (to == 0 || st.leader == to)) {
			printf("node %" PRIu64 " is the leader (term %" PRIu64 ")\n", st.leader,
			       st.term);
			return 0;
		}
		if (time(NULL) >= deadline)
			break;
		sleep_ms(100);
	}
	fprintf(stderr,
	        "quorumctl: transfer: leadership did not move from node %" PRIu64 " in %d s\n",
	        from, timeout_s);
	say_state(data_dir);
	return EXIT_NOT_COMMITTED;
}
