/* mount.c: the FUSE session on the node's loop: mount, read and dispatch requests, stop, unmount.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"
#include "quorumfs/log.h"

/* Requests read per wake-up, so that a busy mount does not starve the
 * node's own work on the loop (Raft ticks, peers, commits). */
#define READS_PER_WAKEUP 64

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct qfs_mount *m = userdata;

	m->kernel_minor = conn->proto_minor; /* 44 and up: FUSE_NOTIFY_INC_EPOCH (notify.c) */
	/* OPEN carries O_TRUNC instead of a SETATTR before it: that is what
	 * lets `echo v > f` travel as one command (handle.c). */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Writes must reach us as WRITEs: we gather them (handle.c). */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/* Locks come to us (ops_lock.c: cluster-wide) unless they stay local. */
	if (!m->opts.local_locks)
		conn->want |= conn->capable & (FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	else
		conn->want &= ~(unsigned)(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	/* READDIRPLUS only helps where the names it carries may be cached,
	 * and they may not be (ops_dir.c: the kernel stamps them with the
	 * epoch at the reply) unless the caller set entry_timeout itself. A
	 * name given timeout 0 by it also replaces one the kernel holds from
	 * a LOOKUP, so `ls -l` would cost a LOOKUP a file, and every stat
	 * after it too: plain READDIR leaves those names cached. */
	if (m->opts.entry_timeout <= 0)
		conn->want &= ~(unsigned)(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	/* Pages of a file whose size or mtime changed are dropped. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
}

static void gone(struct qfs_mount *m)
{
	if (m->gone)
		return;
	m->gone = true;
	uv_poll_stop(&m->poll);
	if (!m->stopping) {
		qfs_log(QFS_LOG_WARN, "%s: the mount went away", m->mountpoint);
		if (m->opts.unmounted != NULL)
			m->opts.unmounted(m->opts.unmounted_arg);
	}
}

/*
 * Requests are read until the very end of a stop, and answered (with EIO
 * once stopping): a process whose request sits unread may hold a directory
 * lock that a notification of the notifier thread waits for, and the stop
 * waits for that thread.
 */
static void poll_cb(uv_poll_t *p, int status, int events)
{
	struct qfs_mount *m = p->data;

	if (status < 0) {
		gone(m);
		return;
	}
	m->dispatching = true;
	for (int i = 0; i < READS_PER_WAKEUP && !m->gone; i++) {
		int rc = fuse_session_receive_buf(m->se, &m->buf);
		if (rc == -EINTR)
			continue; /* a request interrupted before we read it */
		if (rc == -EAGAIN)
			break;
		if (rc <= 0) { /* 0: ENODEV, unmounted; other: the device failed */
			gone(m);
			break;
		}
		if (qfs__create_hold(m, &m->buf))
			continue; /* dispatched once a create is answered (create.c) */
		fuse_session_process_buf(m->se, &m->buf);
		if (fuse_session_exited(m->se)) {
			gone(m);
			break;
		}
	}
	m->dispatching = false;
	if (m->held_ready)
		qfs__create_release_held(m);
	qfs__maybe_finish(m); /* deferred while the session was in use */
}

static void mount_free(struct qfs_mount *m)
{
	qfs__locks_free(m);
	qfs__handles_free(m);
	qfs__inodes_free(&m->inodes);
	free(m->buf.mem);
	free(m->mountpoint);
	free(m->fsname);
	free(m);
}

/* The poll handle is closed: nothing reads the session any more. */
static void poll_closed(uv_handle_t *h)
{
	struct qfs_mount *m = h->data;

	if (m->se != NULL) {
		fuse_session_unmount(m->se);
		fuse_session_destroy(m->se);
		m->se = NULL;
	}
	m->handles_open--;
	qfs__maybe_finish(m);
}

static void timer_closed(uv_handle_t *h)
{
	struct qfs_mount *m = h->data;
	m->handles_open--;
	qfs__maybe_finish(m);
}

/* The last steps of a stop, once nothing is parked and the notifier thread
 * no longer writes to the session: close the poll handle (then unmount and
 * destroy the session), close the notifier's handle, free, call back. */
void qfs__maybe_finish(struct qfs_mount *m)
{
	if (!m->stopping || m->dispatching)
		return;
	if (!m->finishing) {
		if (m->parked > 0)
			return;
		if (m->notifier != NULL && !qfs__notifier_stopped(m->notifier))
			return;
		m->finishing = true;
		if (m->notifier != NULL) {
			qfs__notifier_join(m->notifier); /* at once: it has stopped */
			m->notifier = NULL;
		}
		uv_poll_stop(&m->poll);
		m->handles_open += 3;
		uv_close((uv_handle_t *)&m->publish_timer, timer_closed);
		uv_close((uv_handle_t *)&m->drain_timer, timer_closed);
		uv_close((uv_handle_t *)&m->poll, poll_closed);
		return;
	}
	if (m->handles_open == 0) {
		void (*done)(void *) = m->stop_done;
		void *arg = m->stop_arg;
		mount_free(m);
		if (done != NULL)
			done(arg);
	}
}

/* The mount options for libfuse; -EINVAL if a string would break the list. */
static int mount_opts(const struct qfs_mount *m, char *buf, size_t cap)
{
	int n;

	if (strpbrk(m->fsname, ",\\") != NULL)
		return -EINVAL;
	n = snprintf(buf, cap, "default_permissions,fsname=%s,subtype=quorumfs%s", m->fsname,
	             m->opts.allow_other ? ",allow_other" : "");
	return n > 0 && (size_t)n < cap ? 0 : -EINVAL;
}

static struct fuse_session *session_new(struct qfs_mount *m, char *err, size_t errlen)
{
	static struct fuse_lowlevel_ops ops;
	char opts[512];
	char *argv[5];
	int argc = 0;
	struct fuse_args args;
	struct fuse_session *se;

	memset(&ops, 0, sizeof(ops));
	ops.init = op_init;
	qfs__ops_entry(&ops);
	qfs__ops_dir(&ops);
	qfs__ops_file(&ops);
	qfs__ops_xattr(&ops);
	qfs__ops_poll(&ops);
	if (!m->opts.local_locks)
		qfs__ops_locks(&ops);
	qfs__ops_status(&ops);
	if (mount_opts(m, opts, sizeof(opts)) != 0) {
		snprintf(err, errlen, "invalid fsname \"%s\"", m->fsname);
		return NULL;
	}
	argv[argc++] = (char *)"quorumfs";
	argv[argc++] = (char *)"-o";
	argv[argc++] = opts;
	if (m->opts.debug)
		argv[argc++] = (char *)"-d";
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	se = fuse_session_new(&args, &ops, sizeof(ops), m);
	fuse_opt_free_args(&args); /* libfuse may have copied them */
	if (se == NULL)
		snprintf(err, errlen, "fuse_session_new failed (options \"%s\")", opts);
	return se;
}

int qfs_mount_start(uv_loop_t *loop, struct node *node, const char *mountpoint,
                    const struct qfs_mount_options *opts, struct qfs_mount **out, char *err,
                    size_t errlen)
{
	struct qfs_mount *m = calloc(1, sizeof(*m));
	int fd, rc;

	snprintf(err, errlen, "%s", "");
	if (m == NULL || qfs__inodes_init(&m->inodes) != 0) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->loop = loop;
	m->node = node;
	if (opts != NULL)
		m->opts = *opts;
	m->mountpoint = strdup(mountpoint);
	m->fsname = strdup(m->opts.fsname != NULL ? m->opts.fsname : "quorumfs");
	m->opts.fsname = m->fsname;
	if (m->mountpoint == NULL || m->fsname == NULL) {
		snprintf(err, errlen, "out of memory");
		mount_free(m);
		return -ENOMEM;
	}
	if (m->opts.entry_timeout < 0 || m->opts.attr_timeout < 0) {
		snprintf(err, errlen, "negative cache timeout");
		mount_free(m);
		return -EINVAL;
	}
	m->se = session_new(m, err, errlen);
	if (m->se == NULL) {
		mount_free(m);
		return -EINVAL;
	}
	if (fuse_session_mount(m->se, mountpoint) != 0) {
		snprintf(err, errlen,
		         "cannot mount at %s (is /dev/fuse there, the directory "
		         "empty, and fusermount3 allowed?)",
		         mountpoint);
		fuse_session_destroy(m->se);
		mount_free(m);
		return -EIO;
	}
	fd = fuse_session_fd(m->se);
	if (qfs__init_ext(m) != 0) {
		snprintf(err, errlen, "cannot take the FUSE session's I/O (fuse_session_custom_io)");
		fuse_session_unmount(m->se);
		fuse_session_destroy(m->se);
		mount_free(m);
		return -EIO;
	}
	rc = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0 ? 0 : -errno;
	if (rc == 0)
		rc = uv_poll_init(loop, &m->poll, fd);
	if (rc != 0) {
		snprintf(err, errlen, "cannot poll the FUSE device: %s", uv_strerror(rc));
		fuse_session_unmount(m->se);
		fuse_session_destroy(m->se);
		mount_free(m);
		return -EIO;
	}
	m->poll.data = m;
	uv_timer_init(loop, &m->publish_timer);
	m->publish_timer.data = m;
	uv_timer_init(loop, &m->drain_timer);
	m->drain_timer.data = m;
	rc = qfs__notifier_start(m, err, errlen);
	if (rc == 0)
		rc = uv_poll_start(&m->poll, UV_READABLE, poll_cb);
	if (rc != 0) {
		/* Undo through the normal stop, which owns the handles now. */
		qfs_log(QFS_LOG_ERROR, "%s: %s", mountpoint, err[0] ? err : uv_strerror(rc));
		qfs_mount_stop(m, NULL, NULL);
		return -EIO;
	}
	node_on_change(node, qfs__on_change, m);
	if (m->opts.kernel_caches)
		node_on_touch(node, qfs__on_touch, m);
	/* A file unlinked while open here stays readable through its
	 * handles until the last one closes (node.h, "Unlinked files"). */
	node_set_open_fn(node, qfs__inode_is_open, m);
	*out = m;
	return 0;
}

/* The drain ends: every publish was answered, or the bound passed. */
static void drain_timer_cb(uv_timer_t *t)
{
	struct qfs_mount *m = t->data;
	void (*done)(void *) = m->drain_done;

	if (!m->draining)
		return;
	if (m->publishing > 0) {
		qfs_log(QFS_LOG_WARN, "stopping: %lu publishes not answered within %u ms",
		        m->publishing, m->drain_bound_ms);
		qfs__log_unpublished(m);
	} else if (m->drain_waited)
		qfs_log(QFS_LOG_INFO, "stopping: every write gathered by open files is published");
	m->draining = false;
	m->drain_done = NULL;
	if (done != NULL)
		done(m->drain_arg);
}

void qfs__drain_check(struct qfs_mount *m)
{
	if (m->draining && m->publishing == 0)
		uv_timer_start(&m->drain_timer, drain_timer_cb, 0, 0); /* never from inside a call */
}

void qfs_mount_drain(struct qfs_mount *m, unsigned bound_ms, void (*done)(void *arg), void *arg)
{
	m->draining = true;
	m->drain_bound_ms = bound_ms;
	m->drain_done = done;
	m->drain_arg = arg;
	uv_timer_stop(&m->publish_timer); /* nothing stays gathered to wait for it */
	qfs__publish_all(m);
	m->drain_waited = m->publishing > 0;
	if (m->publishing > 0) {
		qfs_log(QFS_LOG_INFO,
		        "stopping: publishing what open files wrote (%lu publishes, at most %u ms)",
		        m->publishing, bound_ms);
		uv_timer_start(&m->drain_timer, drain_timer_cb, bound_ms, 0);
	} else {
		qfs__drain_check(m);
	}
}

void qfs_mount_stop(struct qfs_mount *m, void (*done)(void *arg), void *arg)
{
	/* A drain still going ends here, without its callback. */
	if (m->draining && m->publishing > 0)
		qfs__log_unpublished(m);
	m->draining = false;
	m->drain_done = NULL;
	uv_timer_stop(&m->drain_timer);
	m->stopping = true;
	m->stop_done = done;
	m->stop_arg = arg;
	node_on_change(m->node, NULL, NULL);
	node_on_touch(m->node, NULL, NULL); /* sends what a ticket still held */
	/* The node's restart releases what this mount still held open. */
	node_set_open_fn(m->node, NULL, NULL);
	qfs__locks_stop(m);
	/* The poll goes on: requests that arrive now are answered EIO. */
	if (m->notifier != NULL)
		qfs__notifier_stop(m->notifier);
	/* Requests held for a create are answered now (EIO), not after it. */
	if (m->held_head != NULL && !m->dispatching)
		qfs__create_release_held(m);
	else if (m->held_head != NULL)
		m->held_ready = true;
	qfs__maybe_finish(m);
}

const char *qfs_mount_point(const struct qfs_mount *m)
{
	return m->mountpoint;
}
