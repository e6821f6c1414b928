/* touch.c: the touch set of a command (wire_touch.h): inodes and names it may change, without the
 * tree. */
#include <string.h>

#include "quorumfs/wire_touch.h"

static void add_ino(struct wire_touch *t, uint64_t ino, bool data)
{
	for (unsigned i = 0; i < t->n_inos; i++)
		if (t->inos[i].ino == ino) {
			t->inos[i].data = t->inos[i].data || data;
			return;
		}
	if (t->n_inos < WIRE_TOUCH_INOS_MAX)
		t->inos[t->n_inos++] = (struct wire_touch_ino){ino, data};
	else
		t->all = true; /* never with the types below; safe if one grows */
}

static void add_name(struct wire_touch *t, uint64_t parent, const char *name, size_t len,
                     unsigned flags)
{
	/* The parent's mtime and ctime move with any change of its names,
	 * its size and nlink with some: its attributes are stale too. */
	add_ino(t, parent, false);
	if (t->n_names < WIRE_TOUCH_NAMES_MAX)
		t->names[t->n_names++] = (struct wire_touch_name){parent, name, len, flags};
	else
		t->all = true;
}

void wire_cmd_touch(const struct wire_cmd *c, struct wire_touch *t)
{
	memset(t, 0, sizeof(*t));
	switch (c->type) {
	case WIRE_CMD_CREATE:
		/* O_TRUNC of a name that exists replaces that file's contents. */
		add_name(t, c->parent, c->name, c->name_len,
		         WIRE_TOUCH_SET | ((c->flags & WIRE_CREATE_TRUNC)
		                                   ? WIRE_TOUCH_CHILD | WIRE_TOUCH_CHILD_DATA
		                                   : 0));
		break;
	case WIRE_CMD_CREATE_WRITEV:
		/* A new name; or, if another node made it first, that file's
		 * contents. The number the creator's kernel already holds (with
		 * the empty file its mount answered) is stale too. */
		add_name(t, c->parent, c->name, c->name_len,
		         WIRE_TOUCH_SET | WIRE_TOUCH_CHILD | WIRE_TOUCH_CHILD_DATA);
		if (c->ino != 0)
			add_ino(t, c->ino, true);
		break;
	case WIRE_CMD_WRITE:
	case WIRE_CMD_APPEND:
	case WIRE_CMD_WRITEV:
		add_ino(t, c->ino, true);
		break;
	case WIRE_CMD_SETATTR:
		add_ino(t, c->ino, (c->attr.valid & WIRE_ATTR_SIZE) != 0);
		break;
	case WIRE_CMD_MKDIR:
	case WIRE_CMD_MKNOD:
	case WIRE_CMD_SYMLINK:
		add_name(t, c->parent, c->name, c->name_len, WIRE_TOUCH_SET);
		break;
	case WIRE_CMD_UNLINK:
	case WIRE_CMD_RMDIR:
		add_name(t, c->parent, c->name, c->name_len, WIRE_TOUCH_DROP);
		break;
	case WIRE_CMD_RENAME:
		/* The source's inode moves (its ctime; a directory's ".."), the
		 * target's is replaced (it loses a link); with EXCHANGE both
		 * move. One set covers the three forms. */
		add_name(t, c->parent, c->name, c->name_len,
		         WIRE_TOUCH_SET | WIRE_TOUCH_DROP | WIRE_TOUCH_CHILD);
		add_name(t, c->new_parent, c->new_name, c->new_name_len,
		         WIRE_TOUCH_SET | WIRE_TOUCH_DROP | WIRE_TOUCH_CHILD);
		t->moves = true;
		break;
	case WIRE_CMD_LINK:
		add_ino(t, c->ino, false); /* its nlink and ctime */
		add_name(t, c->parent, c->name, c->name_len, WIRE_TOUCH_SET);
		t->moves = true;
		break;
	case WIRE_CMD_SETXATTR:
	case WIRE_CMD_REMOVEXATTR:
		add_ino(t, c->ino, false); /* its ctime; the kernel caches ACLs */
		break;
	case WIRE_CMD_LOCK:
	case WIRE_CMD_UNLOCK_HANDLE:
	case WIRE_CMD_EPHEMERAL:
		/* Nothing the kernel caches, but what the lock and ephemeral
		 * xattrs of the file say (a read waits for it). */
		add_ino(t, c->ino, false);
		break;
	case WIRE_CMD_PUT_IF:
		add_name(t, c->parent, c->name, c->name_len,
		         WIRE_TOUCH_CHILD | WIRE_TOUCH_CHILD_DATA);
		break;
	case WIRE_CMD_ORPHAN_RELEASE:
		/* An orphan has no name, and a node that still holds it open
		 * keeps it alive: nothing visible changes. */
	case WIRE_CMD_VERIFY:
		break;
	case WIRE_CMD_SESSION_KEEPALIVE:
		/* Opening a session (0) ends the node's older one, whose
		 * ephemeral files go: their names are the fsm's. */
		t->all = c->co.session == 0;
		break;
	case WIRE_CMD_SESSION_EXPIRE: /* ephemeral files removed, names unknown */
	case WIRE_CMD_TTL_EXPIRE:     /* every name of the inode removed, names unknown */
	default:
		t->all = true;
		break;
	}
}

int wire_touch_bytes(const void *buf, size_t len, struct wire_touch *out)
{
	struct wire_cmd c;

	if (wire_cmd_decode(buf, len, &c) != 0) {
		memset(out, 0, sizeof(*out));
		out->all = true;
		return 0;
	}
	wire_cmd_touch(&c, out);
	return 0;
}
