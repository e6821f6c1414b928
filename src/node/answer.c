/* answer.c: which commands may be answered once committed, before they are applied. */
#include <sys/stat.h>

#include "node_int.h"
#include "quorumfs/wire_cmd.h"

/*
 * Why answering at commit keeps docs/semantics.md's promises ("Answers at
 * commit"), and what each condition below rules out.
 *
 * An entry the core hands out as committed is durable on a majority (here
 * too: the core hands out only locally durable entries) and will be applied
 * by every node, at its index, whatever happens to any one node or leader.
 * On a follower that forwarded the command, "committed" is what the leader
 * told it (the leader's commit index in its AppendEntries, capped at what
 * the follower holds): the same fact, learned later. So the only thing an
 * answer at commit can get wrong is the command's *result*, which the apply
 * has not computed yet. It may be given early only when it is already
 * fixed, i.e. when no tree this node might apply it to could make it fail:
 *
 * - The command's own bounds: a WRITE or a non-append WRITEV fails with
 *   EFBIG for offsets and lengths alone (apply_file.c checks them before
 *   looking at the file's size); an APPEND or an O_APPEND WRITEV depends on
 *   the size it finds, and so does not qualify. An empty WRITEV without
 *   TRUNCATE or SET_SIZE is EINVAL: not eligible either.
 * - The file: it must exist as a regular file when the command applies.
 *   The node knows its tree as last applied, and the committed entries in
 *   between; an entry that may remove or retype an inode (unlink, rename,
 *   rmdir, an orphan's release, a membership change, TTL and session
 *   expiry, a put-if, a snapshot install, anything unknown) and is not yet
 *   applied makes every later command wait for the apply. Otherwise the
 *   tree read now, at any index between "applied" and the command's own,
 *   has the same inodes as the one the command will meet.
 * - The session (exactly-once, src/fsm/exactly_once.c): the apply skips a
 *   serial that is not above the session's last one (a duplicate gives the
 *   stored result, an older one QFS_ESTALE). The node sees its own client's
 *   committed serials in log order, so it knows the session's last serial
 *   before this entry, unless a snapshot install skipped entries: a submit
 *   outstanding at an install is answered at its apply.
 * - The tree's own failures (an LMDB map that is full, a storage error) are
 *   not results: the writer retries the batch (ENOSPC) or the node stops
 *   voting, leading and reading (docs/architecture.md, rule 1). The entry
 *   stays committed either way, so the answer stays true, and no read on
 *   this node can show the file without it (below).
 *
 * Reads: every read on this node waits until applied >= the highest index
 * it answered at commit (barrier.c), so the node never shows a tree older
 * than an answer it gave; reads elsewhere wait for their read index, which
 * is at least this commit.
 *
 * The caller opts in (NODE_SUBMIT_AT_COMMIT): the result given at commit
 * has err 0 and no attributes, as the apply has not made them yet.
 */

bool node__entry_keeps_inodes(uint8_t type, const void *data, size_t len)
{
	if (type == RAFT_ENTRY_NOOP)
		return true;
	if (type != RAFT_ENTRY_NORMAL)
		return false; /* a configuration may free the orphans of a member */
	switch (wire_cmd_peek_type(data, len)) {
	case WIRE_CMD_CREATE: /* makes an inode, or rewrites an existing file's contents */
	case WIRE_CMD_CREATE_WRITEV: /* the same, with its first publish */
	case WIRE_CMD_WRITE:
	case WIRE_CMD_APPEND:
	case WIRE_CMD_WRITEV:
	case WIRE_CMD_SETATTR: /* never the S_IFMT bits */
	case WIRE_CMD_MKDIR:
	case WIRE_CMD_MKNOD:
	case WIRE_CMD_SYMLINK:
	case WIRE_CMD_LINK:
	case WIRE_CMD_SETXATTR:
	case WIRE_CMD_REMOVEXATTR:
	case WIRE_CMD_LOCK:
	case WIRE_CMD_UNLOCK_HANDLE:
	case WIRE_CMD_EPHEMERAL: /* marks a file; its removal is a later expiry */
	case WIRE_CMD_VERIFY:
		return true;
	default:
		return false;
	}
}

/* EFBIG and EINVAL of a WRITEV from its fields alone, as fsm__apply_writev
 * decides them; false when they depend on the file (append). */
static bool writev_bounds_fixed(const struct wire_cmd *c, uint64_t max)
{
	struct wire_cmd_extent e;
	uint64_t total = 0;
	size_t pos = 0;
	int rc;

	if (c->flags & WIRE_WRITEV_APPEND)
		return false;
	if (c->n_extents == 0 && !(c->flags & (WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_SET_SIZE)))
		return false; /* EINVAL */
	if ((c->flags & WIRE_WRITEV_SET_SIZE) && c->size > max)
		return false;
	while ((rc = wire_cmd_extent_next(c, &pos, &e)) == 1) {
		if (e.len > max || e.offset > max - e.len || e.len > max - total)
			return false;
		total += e.len;
	}
	return rc == 0;
}

bool node__answer_at_commit(const struct wire_cmd *c, const struct node__commit_view *v)
{
	if (v->removal_pending || v->serial_unknown || !v->file_exists)
		return false;
	if (c->client_id != 0 && c->serial <= v->last_serial)
		return false; /* the session check would skip it */
	if (!S_ISREG(v->file_mode))
		return false; /* EISDIR, EINVAL */
	switch (c->type) {
	case WIRE_CMD_WRITE:
		return c->data_len <= v->max_value_size &&
		       c->offset <= v->max_value_size - c->data_len;
	case WIRE_CMD_WRITEV:
		return writev_bounds_fixed(c, v->max_value_size);
	default:
		return false; /* its result depends on the tree */
	}
}
