/* tests.h: the groups of the raft core's unit tests, one per file. */
#ifndef QFS_TEST_RAFT_TESTS_H
#define QFS_TEST_RAFT_TESTS_H

int raft_test_conf(void);
int raft_test_election(void);
int raft_test_replication(void);
int raft_test_durability(void);
int raft_test_read(void);
int raft_test_transfer(void);
int raft_test_snapshot(void);
int raft_test_membership(void);
int raft_test_fuzz(void);
int raft_test_release(void);

#endif
