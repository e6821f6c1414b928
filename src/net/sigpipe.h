/* sigpipe.h: keeps a write to a peer that has gone from raising SIGPIPE (sigpipe.c). */
#ifndef QUORUMFS_NET_SIGPIPE_H
#define QUORUMFS_NET_SIGPIPE_H

/* Blocks SIGPIPE in the calling thread, the loop's, on which every write of
 * the transport and the admin socket runs (libuv writes with write(2), which
 * raises it for a peer that has gone; see sigpipe.c). */
void net__sigpipe_block(void);
/* Drops the SIGPIPE a failed write left pending in this thread, if any. */
void net__sigpipe_discard(void);

#endif
