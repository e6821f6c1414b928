/* errors.c: the one place where node and fsm error codes become the errno a FUSE reply carries. */
#include <errno.h>

#include "fuse_int.h"
#include "quorumfs/errors.h"

/*
 * docs/semantics.md, "Errors a program sees": no quorum is EROFS for a change and EIO
 * for a read; an unknown outcome is ETIMEDOUT; the node's codes that have no
 * meaning for a user become EIO. A -errno from the fsm (ENOENT, EEXIST,
 * EFBIG, ENAMETOOLONG, ...) passes through unchanged.
 */
int qfs__errno(int err, enum qfs__op_kind kind)
{
	bool write = kind == QFS__CHANGE;

	if (err == 0)
		return 0;
	if (err > 0)
		return EIO; /* not a code of ours: never let it become "success" */
	if (qfs_is_errno(err)) {
		if (err == -EROFS && !write)
			return EIO; /* a barrier reported no quorum as EROFS */
		return -err;
	}
	switch (err) {
	case QFS_ENOQUORUM:
	case QFS_ENOTLEADER:
		return write ? EROFS : EIO;
	case QFS_EBUSY:
		return EBUSY;
	case QFS_ESHUTDOWN: /* the node is stopping: like a mount going away */
	case QFS_ECORRUPT:
	case QFS_ESTORAGE:
	case QFS_EPROTO:
	case QFS_ESTALE:
	default:
		return EIO;
	}
}

void qfs__reply_err(fuse_req_t req, int err, enum qfs__op_kind kind)
{
	fuse_reply_err(req, qfs__errno(err, kind));
}
