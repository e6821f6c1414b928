/* test_net.c: runs every group of the net unit tests (codec, framing, session, transport, admin).
 */
#include "test_net.h"

int main(void)
{
	int failed = 0;

	failed += test_peer_codec();
	failed += test_frame_session();
	failed += test_transport();
	failed += test_admin();
	return failed != 0;
}
