/* sigpipe.c: keeps a write to a peer that has gone from raising SIGPIPE. */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "sigpipe.h"

/*
 * libuv sends with write(2)/writev(2), never send(2) with MSG_NOSIGNAL
 * (src/unix/stream.c, uv__write(); libuv 1.44), and Linux has no
 * SO_NOSIGPIPE. So a write to a connection the peer has reset raises
 * SIGPIPE in the thread that wrote, whose default kills the process. Every
 * write of a transport runs on the thread of its loop, the one that creates
 * it: SIGPIPE blocked there stays pending instead of being delivered, and
 * the write fails with EPIPE, which closes the connection like any error.
 * Our own sends (net_admin_call) pass MSG_NOSIGNAL.
 */
void net__sigpipe_block(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void net__sigpipe_discard(void)
{
	static const struct timespec now = {0, 0};
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	/* Only a blocked, pending one: never wait, never take another's. */
	if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
		sigtimedwait(&set, NULL, &now);
}
