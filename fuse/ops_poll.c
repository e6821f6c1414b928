/* ops_poll.c: poll(2)/select(2) on an open file: POLLPRI once the file changed anywhere in the cluster. */
#include <errno.h>
#include <poll.h>

#include "fuse_int.h"

/*
 * A regular file is always ready to read and write, as a local one is, so
 * POLLIN and POLLOUT are reported at once. POLLPRI (select's exceptfds) says
 * the file changed since the handle first polled or last read from offset 0,
 * by a write on any node (the sysfs convention): a program polls for
 * POLLPRI, reads the file from the start, and polls again. The wake-up comes
 * where this node applies the change (qfs__poll_changed, from the change
 * callback), so it is as quick as the mount's cache invalidation.
 */
static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                    struct fuse_pollhandle *ph)
{
	struct qfs_mount *m = fuse_req_userdata(req);
	struct qfs__handle *h = qfs__handle_of(fi);
	struct fsm_attr a;
	unsigned revents = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;

	if (h == NULL || node_getattr(m->node, ino, &a) != 0) {
		if (ph != NULL)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, revents | POLLERR);
		return;
	}
	if (h->poll_seen == 0)
		h->poll_seen = a.version;
	if (a.version > h->poll_seen)
		revents |= POLLPRI;
	if (ph != NULL) {
		/* The kernel keeps asking with a fresh handle; the last one counts. */
		if (h->poll_ph != NULL)
			fuse_pollhandle_destroy(h->poll_ph);
		h->poll_ph = ph;
	}
	fuse_reply_poll(req, revents);
}

void qfs__poll_changed(struct qfs_mount *m, uint64_t ino)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, ino);
	if (in == NULL)
		return;
	for (struct qfs__handle *h = in->handles; h != NULL; h = h->next) {
		if (h->poll_ph == NULL)
			continue;
		fuse_lowlevel_notify_poll(h->poll_ph);
		fuse_pollhandle_destroy(h->poll_ph);
		h->poll_ph = NULL;
	}
}

void qfs__poll_drop(struct qfs__handle *h)
{
	if (h->poll_ph != NULL)
		fuse_pollhandle_destroy(h->poll_ph);
	h->poll_ph = NULL;
}

void qfs__ops_poll(struct fuse_lowlevel_ops *ops)
{
	ops->poll = op_poll;
}
