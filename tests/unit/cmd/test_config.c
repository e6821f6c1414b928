/* test_config.c: the INI config: good files load, every bad value names file, line and key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "quorumfs/config.h"
#include "quorumfs/errors.h"

static const char *good = "[cluster]\n"
                          "name = prod\n"
                          "key-file = cluster.key ; written by quorumctl keygen\n"
                          "heartbeat-ms = 20\n"
                          "election-ms = 200\n"
                          "commit-timeout-ms = 2000\n"
                          "max-value-size = 1MiB\n"
                          "\n"
                          "[node 1]\n"
                          "address = 127.0.0.1:7001\n"
                          "[node 2]\n"
                          "address = 127.0.0.1:7002\n"
                          "[node 3]\n"
                          "address = [::1]:7003\n";

static void good_file_loads(void **state)
{
	(void)state;
	struct qfs_config cfg;
	char err[256] = "";
	assert_int_equal(qfs_config_parse(good, "/etc/qfs/c.conf", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.name, "prod");
	assert_string_equal(cfg.key_file, "/etc/qfs/cluster.key");
	assert_int_equal(cfg.heartbeat_ms, 20);
	assert_int_equal(cfg.election_ms, 200);
	assert_int_equal(cfg.commit_timeout_ms, 2000);
	assert_int_equal(cfg.max_value_size, 1 << 20);
	assert_int_equal(cfg.n_nodes, 3);
	assert_string_equal(qfs_config_node(&cfg, 2)->address, "127.0.0.1:7002");
	assert_null(qfs_config_node(&cfg, 4));
}

static void defaults_apply(void **state)
{
	(void)state;
	struct qfs_config cfg;
	char err[256];
	const char *min = "[cluster]\nname=a\nkey-file=/k\n[node 7]\naddress=localhost:1\n";
	assert_int_equal(qfs_config_parse(min, "m.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.heartbeat_ms, 50);
	assert_int_equal(cfg.election_ms, 500);
	assert_int_equal(cfg.commit_timeout_ms, 5000);
	assert_int_equal(cfg.max_value_size, 16 << 20);
	assert_int_equal(cfg.nodes[0].id, 7);
}

/* Replaces the first occurrence of @from in the good file with @to, parses,
 * and checks the one-line error. */
static void expect_error(const char *from, const char *to, const char *want)
{
	char text[2048], err[256] = "";
	struct qfs_config cfg;
	const char *at = strstr(good, from);
	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	assert_int_equal(qfs_config_parse(text, "c.conf", &cfg, err, sizeof(err)), QFS_ECONFIG);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
	assert_null(strchr(err, '\n'));
}

static void bad_values_name_file_line_and_key(void **state)
{
	(void)state;
	expect_error("heartbeat-ms = 20", "heartbeat-ms = fast", "c.conf:4: heartbeat-ms: 'fast'");
	expect_error("heartbeat-ms = 20", "heartbeat-ms = -5", "c.conf:4: heartbeat-ms");
	expect_error("election-ms = 200", "election-ms = 0", "c.conf:5: election-ms");
	expect_error("max-value-size = 1MiB", "max-value-size = 2G", "c.conf:7: max-value-size");
	expect_error("max-value-size = 1MiB", "max-value-size = 1Q", "c.conf:7: max-value-size");
	expect_error("name = prod", "nmae = prod", "c.conf:2: nmae: unknown key");
	expect_error("address = 127.0.0.1:7002", "address = 127.0.0.1", "c.conf:12: address");
	expect_error("address = 127.0.0.1:7002", "address = h:70000", "c.conf:12: address");
	expect_error("[node 2]", "[node two]", "c.conf:12: node two: the section must be");
	expect_error("[node 2]", "[nodes 2]", "c.conf:12: address: key in unknown section");
	expect_error("heartbeat-ms = 20\n", "heartbeat-ms\n", "c.conf:4: syntax error");
}

/* read-lease: true (the default) or false, nothing else. */
static void read_lease_switch(void **state)
{
	(void)state;
	struct qfs_config cfg;
	char err[256] = "";
	const char *off = "[cluster]\nname = p\nkey-file = k\nread-lease = false\n"
	                  "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_equal(qfs_config_parse(good, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_true(cfg.read_lease);
	assert_int_equal(qfs_config_parse(off, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_false(cfg.read_lease);
	const char *bad = "[cluster]\nname = p\nkey-file = k\nread-lease = maybe\n"
	                  "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_not_equal(qfs_config_parse(bad, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "c.conf:4: read-lease: 'maybe' is neither true nor false"));
}

/* kernel-caches true and page-cache false unless set; true or false only. */
static void cache_switches(void **state)
{
	(void)state;
	struct qfs_config cfg;
	char err[256] = "";
	const char *on = "[cluster]\nname = p\nkey-file = k\nkernel-caches = true\n"
	                 "page-cache = true\n[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_equal(qfs_config_parse(good, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_true(cfg.kernel_caches);
	assert_false(cfg.page_cache);
	assert_int_equal(cfg.follower_lease_ms, 400);
	assert_int_equal(qfs_config_parse(on, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_true(cfg.kernel_caches);
	assert_true(cfg.page_cache);
	const char *bad = "[cluster]\nname = p\nkey-file = k\nkernel-caches = yes\n"
	                  "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_not_equal(qfs_config_parse(bad, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "c.conf:4: kernel-caches: 'yes' is neither true nor false"));
}

/* publish-delay-ms: 1000 unless set, a whole number of milliseconds. */
static void publish_delay(void **state)
{
	(void)state;
	struct qfs_config cfg;
	char err[256] = "";
	const char *set = "[cluster]\nname = p\nkey-file = k\npublish-delay-ms = 250\n"
	                  "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_equal(qfs_config_parse(good, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.publish_delay_ms, 1000);
	assert_int_equal(qfs_config_parse(set, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.publish_delay_ms, 250);
	const char *bad = "[cluster]\nname = p\nkey-file = k\npublish-delay-ms = 0\n"
	                  "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_not_equal(qfs_config_parse(bad, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "c.conf:4: publish-delay-ms: '0' is not a whole number"));
}

/* write-buffer-size: 256 MiB unless set, a size of at least 64 KiB. */
static void write_buffer_size(void **state)
{
	(void)state;
	struct qfs_config cfg;
	char err[256] = "";
	const char *set = "[cluster]\nname = p\nkey-file = k\nwrite-buffer-size = 4M\n"
	                  "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_equal(qfs_config_parse(good, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.write_buffer_size, 256u << 20);
	assert_int_equal(qfs_config_parse(set, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.write_buffer_size, 4u << 20);
	const char *bad = "[cluster]\nname = p\nkey-file = k\nwrite-buffer-size = 4K\n"
	                  "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_not_equal(qfs_config_parse(bad, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "c.conf:4: write-buffer-size: '4K' is not a size in 64K..64G"));
}

/* log-memory, snapshot-every, snapshot-every-bytes: defaults, sizes, refusals. */
static void memory_and_snapshots(void **state)
{
	(void)state;
	struct qfs_config cfg;
	char err[256] = "";
	assert_int_equal(qfs_config_parse(good, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.log_memory, 32u << 20);
	assert_int_equal(cfg.snapshot_every, 10000);
	assert_int_equal(cfg.snapshot_every_bytes, 1ull << 30);
	const char *set = "[cluster]\nname = p\nkey-file = k\nlog-memory = 8M\n"
	                  "snapshot-every = 500\nsnapshot-every-bytes = 0\n"
	                  "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_equal(qfs_config_parse(set, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.log_memory, 8u << 20);
	assert_int_equal(cfg.snapshot_every, 500);
	assert_int_equal(cfg.snapshot_every_bytes, 0);
	const char *small = "[cluster]\nname = p\nkey-file = k\nlog-memory = 4K\n"
	                    "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_not_equal(qfs_config_parse(small, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "c.conf:4: log-memory: '4K' is not a size in 1M..1T"));
	const char *bytes = "[cluster]\nname = p\nkey-file = k\nsnapshot-every-bytes = 100\n"
	                    "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_not_equal(qfs_config_parse(bytes, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "snapshot-every-bytes: '100' is neither 0 nor a size"));
	const char *zero = "[cluster]\nname = p\nkey-file = k\nsnapshot-every = 0\n"
	                   "[node 1]\naddress = 127.0.0.1:7001\n";
	assert_int_not_equal(qfs_config_parse(zero, "c.conf", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "snapshot-every: '0' is not a whole number of entries"));
}

static void whole_file_checks(void **state)
{
	(void)state;
	expect_error("election-ms = 200", "election-ms = 50", "election-ms: must be at least 3 x");
	expect_error("commit-timeout-ms = 2000", "commit-timeout-ms = 100",
	             "commit-timeout-ms: must be at least");
	expect_error("[::1]:7003", "127.0.0.1:7001", "share 127.0.0.1:7001");
	expect_error("name = prod\n", "", "name: missing");
	expect_error("key-file = cluster.key ; written by quorumctl keygen\n", "",
	             "key-file: missing");
}

static void first_error_wins(void **state)
{
	(void)state;
	char err[256];
	struct qfs_config cfg;
	const char *t = "[cluster]\nname=a\nbogus=1\nheartbeat-ms=x\n";
	assert_int_equal(qfs_config_parse(t, "f", &cfg, err, sizeof(err)), QFS_ECONFIG);
	assert_string_equal(err, "f:3: bogus: unknown key in [cluster]");
}

static void load_reads_a_file_and_reports_missing(void **state)
{
	(void)state;
	char dir[] = "/tmp/qfs-config-XXXXXX", path[512], err[256];
	struct qfs_config cfg;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	assert_int_equal(qfs_config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file"));
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(good, f);
	fclose(f);
	int rc = qfs_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	rmdir(dir);
	assert_int_equal(rc, 0);
	assert_int_equal(cfg.n_nodes, 3);
}

static void addresses_split(void **state)
{
	(void)state;
	char host[64];
	int port;
	assert_int_equal(qfs_parse_address("127.0.0.2:7001", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.2");
	assert_int_equal(port, 7001);
	assert_int_equal(qfs_parse_address("[::1]:9", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(qfs_parse_address(":80", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(qfs_parse_address("h:0", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(qfs_parse_address("h", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(qfs_parse_address("[::1]9", host, sizeof(host), &port), -EINVAL);
}

static void addresses_resolve_to_literals(void **state)
{
	(void)state;
	char out[64], err[256];
	assert_int_equal(qfs_resolve_address("localhost:7001", out, sizeof(out), err, sizeof(err)),
	                 0);
	assert_string_equal(out, "127.0.0.1:7001");
	assert_int_equal(qfs_resolve_address("127.0.0.9:9", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "127.0.0.9:9");
	assert_int_equal(qfs_resolve_address("[::1]:9", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "[::1]:9");
	assert_int_equal(qfs_resolve_address("nocolon", out, sizeof(out), err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "not host:port"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(good_file_loads),
	        cmocka_unit_test(defaults_apply),
	        cmocka_unit_test(bad_values_name_file_line_and_key),
	        cmocka_unit_test(read_lease_switch),
	        cmocka_unit_test(cache_switches),
	        cmocka_unit_test(publish_delay),
	        cmocka_unit_test(write_buffer_size),
	        cmocka_unit_test(memory_and_snapshots),
	        cmocka_unit_test(whole_file_checks),
	        cmocka_unit_test(first_error_wins),
	        cmocka_unit_test(load_reads_a_file_and_reports_missing),
	        cmocka_unit_test(addresses_split),
	        cmocka_unit_test(addresses_resolve_to_literals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
