/* errors.c: text for the project's error codes and for -errno values. */
#include <string.h>

#include "quorumfs/errors.h"

static const char *const qfs_messages[] = {
        [1] = "not the leader",
        [2] = "stored data is corrupt",
        [3] = "data directory has another format version",
        [4] = "data directory belongs to another cluster or node",
        [5] = "malformed message",
        [6] = "peer failed the cluster-key handshake",
        [7] = "node is shutting down",
        [8] = "no leader or no quorum",
        [9] = "a conflicting operation is in progress",
        [10] = "request refers to a superseded state",
        [11] = "invalid configuration",
        [12] = "storage failed; node stopped voting and leading",
};

int qfs_is_errno(int err)
{
	return err < 0 && err > -QFS_EBASE;
}

const char *qfs_strerror(int err)
{
	if (err == 0)
		return "success";
	if (qfs_is_errno(err))
		return strerror(-err);
	if (err < 0 && err > QFS_ELAST) {
		int i = -err - QFS_EBASE;
		if (qfs_messages[i] != NULL)
			return qfs_messages[i];
	}
	return "unknown error";
}
