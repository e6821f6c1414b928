/* test_net.h: the groups of the net test executable. */
#ifndef QUORUMFS_TESTS_NET_H
#define QUORUMFS_TESTS_NET_H

int test_peer_codec(void);
int test_frame_session(void);
int test_transport(void);
int test_admin(void);

#endif
