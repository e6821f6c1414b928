/* test_metrics.c: the metrics registry counts from several threads and renders Prometheus text. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quorumfs/metrics.h"

static char buf[256 * 1024];

static const char *render(void)
{
	size_t len = qfs_metrics_render(buf, sizeof(buf));
	assert_true(len < sizeof(buf));
	return buf;
}

/* The value of the sample line that starts with @name (followed by a space). */
static long long sample(const char *name)
{
	size_t n = strlen(name);
	for (const char *p = buf; (p = strstr(p, name)) != NULL; p++)
		if ((p == buf || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

static void test_counters_and_outcomes(void **state)
{
	(void)state;
	qfs_metrics_reset();
	qfs_metric_inc(QFS_M_LEADER_CHANGES);
	qfs_metric_inc(QFS_M_PROPOSAL_OK);
	qfs_metric_inc(QFS_M_PROPOSAL_OK);
	qfs_metric_inc(QFS_M_PROPOSAL_TIMEOUT);
	render();
	assert_int_equal(sample("quorumfs_raft_leader_changes_total"), 1);
	assert_int_equal(sample("quorumfs_proposals_total{outcome=\"ok\"}"), 2);
	assert_int_equal(sample("quorumfs_proposals_total{outcome=\"timeout\"}"), 1);
	assert_int_equal(sample("quorumfs_proposals_total{outcome=\"no_quorum\"}"), 0);
	assert_non_null(strstr(buf, "# TYPE quorumfs_proposals_total counter\n"));
}

/* Buckets are cumulative, +Inf holds every observation, the sum adds up. */
static void test_histogram(void **state)
{
	(void)state;
	qfs_metrics_reset();
	qfs_metric_observe(QFS_H_COMMIT, 0.0004);
	qfs_metric_observe(QFS_H_COMMIT, 0.002);
	qfs_metric_observe(QFS_H_COMMIT, 30);
	render();
	assert_int_equal(sample("quorumfs_commit_latency_seconds_bucket{le=\"0.0005\"}"), 1);
	assert_int_equal(sample("quorumfs_commit_latency_seconds_bucket{le=\"0.0025\"}"), 2);
	assert_int_equal(sample("quorumfs_commit_latency_seconds_bucket{le=\"10\"}"), 2);
	assert_int_equal(sample("quorumfs_commit_latency_seconds_bucket{le=\"+Inf\"}"), 3);
	assert_int_equal(sample("quorumfs_commit_latency_seconds_count"), 3);
	assert_non_null(strstr(buf, "quorumfs_commit_latency_seconds_sum 30.002400\n"));
	assert_int_equal(sample("quorumfs_fsync_latency_seconds_count"), 0);
}

/* FUSE requests: errno 0 is what did not fail; errnos are named. */
static void test_fuse_requests(void **state)
{
	(void)state;
	qfs_metrics_reset();
	for (int i = 0; i < 5; i++)
		qfs_metric_fuse_request(QFS_FOP_LOOKUP);
	qfs_metric_fuse_error(QFS_FOP_LOOKUP, ENOENT);
	qfs_metric_fuse_error(QFS_FOP_LOOKUP, ENOENT);
	qfs_metric_fuse_error(QFS_FOP_LOOKUP, 0); /* a success reply: not an error */
	render();
	assert_int_equal(sample("quorumfs_fuse_requests_total{op=\"lookup\",errno=\"ENOENT\"}"), 2);
	assert_int_equal(sample("quorumfs_fuse_requests_total{op=\"lookup\",errno=\"0\"}"), 3);
	assert_int_equal(sample("quorumfs_fuse_requests_total{op=\"write\",errno=\"0\"}"), -1);
}

struct peer_arg {
	uint64_t id;
};

static void *count_peer(void *p)
{
	const struct peer_arg *a = p;
	for (int i = 0; i < 10000; i++)
		qfs_metric_peer_bytes(a->id, 3, 1);
	return NULL;
}

/* Four threads count for two peers at once: no count is lost, each peer
 * gets one label. */
static void test_peers_from_threads(void **state)
{
	(void)state;
	qfs_metrics_reset();
	pthread_t t[4];
	struct peer_arg args[4] = {{7}, {9}, {7}, {9}};
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, count_peer, &args[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	render();
	assert_int_equal(sample("quorumfs_peer_sent_bytes_total{peer=\"7\"}"), 60000);
	assert_int_equal(sample("quorumfs_peer_received_bytes_total{peer=\"9\"}"), 20000);
	assert_null(strstr(buf, "peer=\"other\""));
}

/* A buffer too small: the length of the whole rendering comes back. */
static void test_short_buffer(void **state)
{
	(void)state;
	char small[16];
	size_t len = qfs_metrics_render(small, sizeof(small));
	assert_true(len >= sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_counters_and_outcomes), cmocka_unit_test(test_histogram),
	        cmocka_unit_test(test_fuse_requests),         cmocka_unit_test(test_peers_from_threads),
	        cmocka_unit_test(test_short_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
