/* ops_xattr.c: extended attributes: setxattr, getxattr, listxattr, removexattr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fuse_int.h"

/* The version of a file or directory (the log index of its last change,
 * docs/semantics.md): computed from the inode, never stored as an xattr. */
#define VERSION_XATTR "user.quorumfs.version"

static bool is_version(const char *name)
{
	return strcmp(name, VERSION_XATTR) == 0;
}

/* Writes @ino's version as decimal text into @buf (NULL: length only). */
static int version_xattr(struct node *n, uint64_t ino, char *buf, size_t cap, size_t *len)
{
	struct fsm_attr a;
	char text[24];
	int rc = node_getattr(n, ino, &a);
	if (rc != 0)
		return rc;
	*len = (size_t)snprintf(text, sizeof(text), "%llu", (unsigned long long)a.version);
	if (buf == NULL)
		return 0;
	if (*len > cap)
		return -ERANGE;
	memcpy(buf, text, *len);
	return 0;
}

static void xattr_done(struct qfs__op *op, int err, const struct fsm_result *res)
{
	if (err == 0)
		err = res->err;
	if (err != 0) {
		qfs__op_fail(op, err, QFS__CHANGE);
		return;
	}
	fuse_reply_err(op->req, 0);
	qfs__op_done(op);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
	struct wire_cmd cmd = {.type = WIRE_CMD_SETXATTR,
	                       .ino = ino,
	                       .name = name,
	                       .name_len = strlen(name),
	                       .data = value,
	                       .data_len = size};
	struct qfs__op *op;

	if (qfs__locks_setxattr(req, ino, name, value, size))
		return; /* user.quorumfs.ephemeral and the lock's (ops_lock.c) */
	if (is_version(name)) {
		fuse_reply_err(req, EPERM); /* the cluster sets it, nobody else */
		return;
	}
	uint64_t ttl;
	if (strcmp(name, FSM_TTL_XATTR) == 0 && fsm_ttl_parse(value, size, &ttl) != 0) {
		fuse_reply_err(req, EINVAL); /* whole seconds, 1 .. 10^9 */
		return;
	}
	if (cmd.name_len > FSM_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE); /* setxattr(2) on a too-long name */
		return;
	}
	if (size > FSM_XATTR_SIZE_MAX) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (flags & XATTR_CREATE)
		cmd.flags |= WIRE_XATTR_CREATE;
	if (flags & XATTR_REPLACE)
		cmd.flags |= WIRE_XATTR_REPLACE;
	op = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*op));
	if (op != NULL)
		qfs__submit(op, &cmd, xattr_done);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct wire_cmd cmd = {
	        .type = WIRE_CMD_REMOVEXATTR, .ino = ino, .name = name, .name_len = strlen(name)};
	struct qfs__op *op;

	if (cmd.name_len > FSM_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	if (is_version(name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	op = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*op));
	if (op != NULL)
		qfs__submit(op, &cmd, xattr_done);
}

/* getxattr and listxattr: a barrier, then the local tree. Size 0 asks for
 * the length only. */
struct xattr_op {
	struct qfs__op op;
	size_t size;
	size_t name_len; /* 0: listxattr */
	char name[FSM_XATTR_NAME_MAX + 1];
};

static void xattr_ready(struct qfs__op *op, int err)
{
	struct xattr_op *x = (struct xattr_op *)op;
	struct node *n = op->m->node;
	char *buf = NULL;
	size_t len = 0;

	if (err == 0 && x->size > 0 && (buf = malloc(x->size)) == NULL)
		err = -ENOMEM;
	if (err == 0 && x->name_len > 0 && is_version(x->name))
		err = version_xattr(n, op->ino, buf, x->size, &len);
	else if (err == 0 && x->name_len > 0)
		err = node_getxattr(n, op->ino, x->name, x->name_len, buf, x->size, &len);
	else if (err == 0)
		err = node_listxattr(n, op->ino, buf, x->size, &len);
	if (err != 0) {
		free(buf);
		qfs__op_fail(op, err, QFS__READ);
		return;
	}
	if (x->size == 0)
		fuse_reply_xattr(op->req, len);
	else
		fuse_reply_buf(op->req, buf, len);
	free(buf);
	qfs__op_done(op);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	size_t len = strlen(name);
	struct xattr_op *x;

	if (len > FSM_XATTR_NAME_MAX || len == 0) {
		fuse_reply_err(req, len ? ERANGE : ENODATA);
		return;
	}
	/* The tree keeps user.* only (docs/semantics-fsm.md): any other
	 * namespace is not supported, as a set of one says, and needs no
	 * barrier. The kernel asks for security.capability before every
	 * write: this keeps it cheap. ENOTSUP rather than ENODATA also tells
	 * a program that the whole mount has no ACLs or security labels, so
	 * `ls -l` asks once for each instead of twice a file (coreutils
	 * remembers a device that does not support them). */
	if (strncmp(name, "user.", 5) != 0) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (qfs__locks_getxattr(req, ino, name, size))
		return; /* the lock's token and holder, ephemeral (ops_lock.c) */
	x = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*x));
	if (x == NULL)
		return;
	x->size = size;
	x->name_len = len;
	memcpy(x->name, name, len);
	qfs__barrier(&x->op, xattr_ready);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct xattr_op *x = qfs__op_new(fuse_req_userdata(req), req, ino, sizeof(*x));
	if (x == NULL)
		return;
	x->size = size;
	qfs__barrier(&x->op, xattr_ready);
}

void qfs__ops_xattr(struct fuse_lowlevel_ops *ops)
{
	ops->setxattr = op_setxattr;
	ops->getxattr = op_getxattr;
	ops->listxattr = op_listxattr;
	ops->removexattr = op_removexattr;
}
