/* errors.c: text for the project's error codes and for -errno values. */
#include <string.h>

#include "quorumfs/errors.h"
/* For RAFT_ERROR_TEXTS only: a table of constants, no code of the core. */
#include "quorumfs/raft.h"

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
        [13] = "the storage map is full",
};

_Static_assert(sizeof(qfs_messages) / sizeof(qfs_messages[0]) == -QFS_ELAST - QFS_EBASE,
               "one text for each QFS_E* code");

int qfs_is_errno(int err)
{
	return err < 0 && err > -QFS_EBASE;
}

static const char *raft_text(int err)
{
#define QFS__RAFT_TEXT(code, text)                                                   \
	case code:                                                                   \
		return text;
	switch (err) {
		RAFT_ERROR_TEXTS(QFS__RAFT_TEXT)
	}
#undef QFS__RAFT_TEXT
	return NULL;
}

const char *qfs_strerror(int err)
{
	const char *text;

	if (err == 0)
		return "success";
	if (qfs_is_errno(err))
		return strerror(-err);
	if (err <= -(QFS_EBASE + 1) && err > QFS_ELAST) {
		int i = -err - QFS_EBASE; /* 1 .. -QFS_ELAST - QFS_EBASE - 1 */
		if (qfs_messages[i] != NULL)
			return qfs_messages[i];
	}
	text = raft_text(err);
	return text != NULL ? text : "unknown error";
}
