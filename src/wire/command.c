/* command.c: msgpack encoder and strict decoder of the file-tree commands. */
#include <errno.h>
#include <string.h>

#include <msgpack.h>

#include "cmd_mpread.h"
#include "quorumfs/wire_cmd.h"
#include "quorumfs/errors.h"

/* The fields after the common header, in wire order, per type. One table
 * drives both directions, so encoder and decoder cannot disagree. */
enum field {
	F_END = 0,
	F_INO,
	F_PARENT,
	F_NAME,
	F_NEW_PARENT,
	F_NEW_NAME,
	F_MODE,
	F_FLAGS,
	F_OFFSET,
	F_DATA,
	F_A_VALID,
	F_A_MODE,
	F_A_UID,
	F_A_GID,
	F_A_SIZE,
	F_A_ATIME,
	F_A_MTIME,
	F_A_CTIME,
	F_RDEV,
	F_SIZE,
	F_EXTENTS, /* array of [offset, bin] */
	F_C_NODE,
	F_C_SESSION,
	F_C_OWNER,
	F_C_FH,
	F_C_START,
	F_C_END,
	F_C_PID,
};

#define HEADER_FIELDS 7 /* version, type, client_id, serial, time_ns, uid, gid */
#define MAX_FIELDS    9

struct layout {
	const char *name;
	uint32_t flags_mask; /* the flags the type defines; others are refused */
	enum field fields[MAX_FIELDS + 1];
};

static const struct layout layouts[WIRE_CMD_TYPE_MAX + 1] = {
        [WIRE_CMD_CREATE] = {"create",
                             WIRE_CREATE_EXCL | WIRE_CREATE_TRUNC,
                             {F_PARENT, F_NAME, F_MODE, F_FLAGS, F_DATA}},
        [WIRE_CMD_WRITE] = {"write", WIRE_WRITE_TRUNCATE, {F_INO, F_OFFSET, F_FLAGS, F_DATA}},
        [WIRE_CMD_APPEND] = {"append", 0, {F_INO, F_DATA}},
        [WIRE_CMD_SETATTR] = {"setattr",
                              0,
                              {F_INO, F_A_VALID, F_A_MODE, F_A_UID, F_A_GID, F_A_SIZE, F_A_ATIME,
                               F_A_MTIME, F_A_CTIME}},
        [WIRE_CMD_MKDIR] = {"mkdir", 0, {F_PARENT, F_NAME, F_MODE}},
        [WIRE_CMD_UNLINK] = {"unlink", 0, {F_PARENT, F_NAME}},
        [WIRE_CMD_RMDIR] = {"rmdir", 0, {F_PARENT, F_NAME}},
        [WIRE_CMD_RENAME] = {"rename",
                             WIRE_RENAME_NOREPLACE | WIRE_RENAME_EXCHANGE,
                             {F_PARENT, F_NAME, F_NEW_PARENT, F_NEW_NAME, F_FLAGS}},
        [WIRE_CMD_SYMLINK] = {"symlink", 0, {F_PARENT, F_NAME, F_DATA}},
        [WIRE_CMD_LINK] = {"link", 0, {F_INO, F_PARENT, F_NAME}},
        [WIRE_CMD_SETXATTR] = {"setxattr",
                               WIRE_XATTR_CREATE | WIRE_XATTR_REPLACE,
                               {F_INO, F_NAME, F_DATA, F_FLAGS}},
        [WIRE_CMD_REMOVEXATTR] = {"removexattr", 0, {F_INO, F_NAME}},
        [WIRE_CMD_WRITEV] = {"writev",
                             WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_SET_SIZE | WIRE_WRITEV_APPEND |
                                     WIRE_WRITEV_KILL_SUIDGID,
                             {F_INO, F_FLAGS, F_SIZE, F_EXTENTS}},
        [WIRE_CMD_MKNOD] = {"mknod", 0, {F_PARENT, F_NAME, F_MODE, F_RDEV}},
        [WIRE_CMD_ORPHAN_RELEASE] = {"orphan-release", 0, {F_C_NODE, F_DATA}},
        [WIRE_CMD_CREATE_WRITEV] = {"create-writev",
                                    WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_SET_SIZE |
                                            WIRE_WRITEV_APPEND | WIRE_WRITEV_KILL_SUIDGID |
                                            WIRE_CREATE_WRITEV_EXCL,
                                    {F_PARENT, F_NAME, F_MODE, F_INO, F_OFFSET, F_FLAGS, F_SIZE,
                                     F_EXTENTS}},
};

/* Coordination commands (20..): a table of their own, indexed from
 * WIRE_CMD_COORD_MIN. */
static const struct layout coord_layouts[WIRE_CMD_COORD_MAX - WIRE_CMD_COORD_MIN + 1] = {
        [WIRE_CMD_SESSION_KEEPALIVE - WIRE_CMD_COORD_MIN] = {"session-keepalive",
                                                             0,
                                                             {F_C_NODE, F_C_SESSION, F_MODE,
                                                              F_OFFSET}},
        [WIRE_CMD_SESSION_EXPIRE - WIRE_CMD_COORD_MIN] = {"session-expire",
                                                          0,
                                                          {F_C_NODE, F_C_SESSION, F_OFFSET}},
        [WIRE_CMD_LOCK - WIRE_CMD_COORD_MIN] = {"lock",
                                                WIRE_LOCK_TYPE | WIRE_LOCK_FLOCK,
                                                {F_INO, F_C_NODE, F_C_SESSION, F_C_OWNER, F_C_FH,
                                                 F_C_START, F_C_END, F_C_PID, F_FLAGS}},
        [WIRE_CMD_UNLOCK_HANDLE - WIRE_CMD_COORD_MIN] = {"unlock-handle",
                                                         0,
                                                         {F_INO, F_C_NODE, F_C_OWNER, F_C_FH}},
        [WIRE_CMD_EPHEMERAL - WIRE_CMD_COORD_MIN] = {"ephemeral",
                                                     0,
                                                     {F_INO, F_C_NODE, F_C_SESSION}},
};

/* The operations range (30..39): not tree commands either. */
static const struct layout verify_layout = {"verify", 0, {F_END}};

/* A conditional put (quorumctl put --if-version): CREATE's fields, and in
 * offset the version the key must still have. */
static const struct layout put_if_layout = {"put-if",
                                            WIRE_CREATE_TRUNC,
                                            {F_PARENT, F_NAME, F_MODE, F_FLAGS, F_DATA, F_OFFSET}};
/* The leader's expiry of a TTL file: the inode and the version it expired at. */
static const struct layout ttl_expire_layout = {"ttl-expire", 0, {F_INO, F_OFFSET}};

static const struct layout *layout_of(int type)
{
	if (type == WIRE_CMD_VERIFY)
		return &verify_layout;
	if (type == WIRE_CMD_PUT_IF)
		return &put_if_layout;
	if (type == WIRE_CMD_TTL_EXPIRE)
		return &ttl_expire_layout;
	if (type >= WIRE_CMD_COORD_MIN && type <= WIRE_CMD_COORD_MAX)
		return &coord_layouts[type - WIRE_CMD_COORD_MIN];
	if (type < 1 || type > WIRE_CMD_TYPE_MAX)
		return NULL;
	return &layouts[type];
}

static unsigned field_count(const struct layout *l)
{
	unsigned n = 0;
	while (n < MAX_FIELDS && l->fields[n] != F_END)
		n++;
	return n;
}

const char *wire_cmd_type_name(int type)
{
	const struct layout *l = layout_of(type);
	return l ? l->name : "unknown";
}

/* One extent costs at most: fixarray(2) 1 + uint64 9 + bin header 5. */
#define EXTENT_OVERHEAD 15

/* 9 bytes is the largest msgpack integer; 5 the largest bin (and array)
 * header. The data of a type that does not use it still counts: the bound
 * only has to be an upper one, and cheap. */
size_t wire_cmd_encoded_max(const struct wire_cmd *cmd)
{
	size_t n = 5 + (HEADER_FIELDS + MAX_FIELDS) * 9 + 4 * 5 + cmd->name_len +
	           cmd->new_name_len + cmd->data_len;
	if (cmd->type == WIRE_CMD_WRITEV || cmd->type == WIRE_CMD_CREATE_WRITEV) {
		if (cmd->extents != NULL) {
			for (size_t i = 0; i < cmd->n_extents; i++)
				n += EXTENT_OVERHEAD + cmd->extents[i].len;
		} else {
			n += cmd->extents_raw_len;
		}
	}
	return n;
}

/* Reads one [offset, bin] extent from @r, checked as the decoder checks
 * it. */
static int read_extent(struct wire__mpr *r, struct wire_cmd_extent *e)
{
	uint32_t n;
	if (wire__mpr_array(r, &n) != 0 || n != 2 || wire__mpr_u64(r, &e->offset) != 0 ||
	    wire__mpr_bin(r, &e->data, &e->len, WIRE_WRITEV_BYTES_MAX) != 0)
		return QFS_EPROTO;
	if (e->len == 0 || e->offset > UINT64_MAX - e->len)
		return QFS_EPROTO;
	return 0;
}

int wire_cmd_extent_next(const struct wire_cmd *cmd, size_t *pos, struct wire_cmd_extent *out)
{
	struct wire__mpr r;
	if (cmd->extents != NULL) {
		if (*pos >= cmd->n_extents)
			return 0;
		*out = cmd->extents[(*pos)++];
		return 1;
	}
	if (*pos >= cmd->extents_raw_len)
		return 0;
	wire__mpr_init(&r, (const uint8_t *)cmd->extents_raw + *pos, cmd->extents_raw_len - *pos);
	if (read_extent(&r, out) != 0)
		return QFS_EPROTO;
	*pos = cmd->extents_raw_len - wire__mpr_left(&r);
	return 1;
}

/* ORPHAN_RELEASE's list: whole inode numbers, at least one, bounded. */
static int release_valid(const struct wire_cmd *c)
{
	return c->data_len >= 8 && c->data_len % 8 == 0 &&
	       c->data_len <= 8 * (size_t)WIRE_RELEASE_INOS_MAX;
}

/* The WRITEV rules both directions enforce (wire_cmd.h). */
static int writev_valid(const struct wire_cmd *c)
{
	struct wire_cmd_extent e;
	size_t pos = 0, n = 0;
	uint64_t total = 0;
	int rc;

	if (c->type == WIRE_CMD_CREATE_WRITEV && c->offset > WIRE_CREATE_RESERVE_MAX)
		return 0;
	if (c->n_extents == 0) /* a create with nothing written is a create */
		return c->type == WIRE_CMD_CREATE_WRITEV ||
		       (c->flags & (WIRE_WRITEV_TRUNCATE | WIRE_WRITEV_SET_SIZE)) != 0;
	if (c->n_extents > WIRE_WRITEV_EXTENTS_MAX)
		return 0;
	while ((rc = wire_cmd_extent_next(c, &pos, &e)) == 1) {
		if (e.len == 0 || e.len > WIRE_WRITEV_BYTES_MAX - total)
			return 0;
		if (!(c->flags & WIRE_WRITEV_APPEND) && e.offset > UINT64_MAX - e.len)
			return 0;
		total += e.len;
		n++;
	}
	return rc == 0 && n == c->n_extents;
}

/* msgpack-c packs through a write callback; this one fills a bounded buffer
 * and refuses to overflow it. */
struct bounded {
	char *buf;
	size_t cap;
	size_t len;
};

static int bounded_write(void *data, const char *p, size_t n)
{
	struct bounded *b = data;
	if (n > b->cap - b->len)
		return -1;
	memcpy(b->buf + b->len, p, n);
	b->len += n;
	return 0;
}

static int pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	if (msgpack_pack_bin(pk, n) != 0)
		return -1;
	return n ? msgpack_pack_bin_body(pk, p, n) : 0;
}

static int pack_extents(msgpack_packer *pk, const struct wire_cmd *c)
{
	struct wire_cmd_extent e;
	size_t pos = 0;
	int rc;

	if (msgpack_pack_array(pk, c->n_extents) != 0)
		return -1;
	while ((rc = wire_cmd_extent_next(c, &pos, &e)) == 1) {
		/* An append's offset means nothing: 0 keeps the bytes canonical. */
		uint64_t off = (c->flags & WIRE_WRITEV_APPEND) ? 0 : e.offset;
		if (msgpack_pack_array(pk, 2) != 0 || msgpack_pack_uint64(pk, off) != 0 ||
		    pack_bin(pk, e.data, e.len) != 0)
			return -1;
	}
	return rc;
}

static int pack_field(msgpack_packer *pk, const struct wire_cmd *c, enum field f)
{
	switch (f) {
	case F_INO:
		return msgpack_pack_uint64(pk, c->ino);
	case F_PARENT:
		return msgpack_pack_uint64(pk, c->parent);
	case F_NAME:
		return pack_bin(pk, c->name, c->name_len);
	case F_NEW_PARENT:
		return msgpack_pack_uint64(pk, c->new_parent);
	case F_NEW_NAME:
		return pack_bin(pk, c->new_name, c->new_name_len);
	case F_MODE:
		return msgpack_pack_uint32(pk, c->mode);
	case F_FLAGS:
		return msgpack_pack_uint32(pk, c->flags);
	case F_OFFSET:
		return msgpack_pack_uint64(pk, c->offset);
	case F_DATA:
		return pack_bin(pk, c->data, c->data_len);
	case F_A_VALID:
		return msgpack_pack_uint32(pk, c->attr.valid);
	case F_A_MODE:
		return msgpack_pack_uint32(pk, c->attr.mode);
	case F_A_UID:
		return msgpack_pack_uint32(pk, c->attr.uid);
	case F_A_GID:
		return msgpack_pack_uint32(pk, c->attr.gid);
	case F_A_SIZE:
		return msgpack_pack_uint64(pk, c->attr.size);
	case F_A_ATIME:
		return msgpack_pack_int64(pk, c->attr.atime_ns);
	case F_A_MTIME:
		return msgpack_pack_int64(pk, c->attr.mtime_ns);
	case F_A_CTIME:
		return msgpack_pack_int64(pk, c->attr.ctime_ns);
	case F_RDEV:
		return msgpack_pack_uint64(pk, c->rdev);
	case F_SIZE:
		return msgpack_pack_uint64(pk, c->size);
	case F_EXTENTS:
		return pack_extents(pk, c);
	case F_C_NODE:
		return msgpack_pack_uint64(pk, c->co.node);
	case F_C_SESSION:
		return msgpack_pack_uint64(pk, c->co.session);
	case F_C_OWNER:
		return msgpack_pack_uint64(pk, c->co.owner);
	case F_C_FH:
		return msgpack_pack_uint64(pk, c->co.fh);
	case F_C_START:
		return msgpack_pack_uint64(pk, c->co.start);
	case F_C_END:
		return msgpack_pack_uint64(pk, c->co.end);
	case F_C_PID:
		return msgpack_pack_uint32(pk, c->co.pid);
	case F_END:
		break;
	}
	return -1;
}

static int uses(const struct layout *l, enum field f)
{
	for (unsigned i = 0; i < MAX_FIELDS && l->fields[i] != F_END; i++)
		if (l->fields[i] == f)
			return 1;
	return 0;
}

int wire_cmd_encode(const struct wire_cmd *cmd, void *buf, size_t cap, size_t *len)
{
	const struct layout *l = layout_of((int)cmd->type);
	struct bounded b = {buf, cap, 0};
	msgpack_packer pk;
	unsigned n;

	if (l == NULL || (cmd->client_id != 0 && cmd->serial == 0))
		return -EINVAL;
	if (uses(l, F_FLAGS) && (cmd->flags & ~l->flags_mask) != 0)
		return -EINVAL;
	if (uses(l, F_A_VALID) && (cmd->attr.valid & ~WIRE_ATTR_ALL) != 0)
		return -EINVAL;
	if ((uses(l, F_NAME) && cmd->name_len > WIRE_CMD_NAME_MAX) ||
	    (uses(l, F_NEW_NAME) && cmd->new_name_len > WIRE_CMD_NAME_MAX) ||
	    (uses(l, F_DATA) && cmd->data_len > UINT32_MAX))
		return -EINVAL;
	if (uses(l, F_EXTENTS) && !writev_valid(cmd))
		return -EINVAL;
	if (cmd->type == WIRE_CMD_ORPHAN_RELEASE && !release_valid(cmd))
		return -EINVAL;

	n = field_count(l);
	msgpack_packer_init(&pk, &b, bounded_write);
	if (msgpack_pack_array(&pk, HEADER_FIELDS + n) != 0 ||
	    msgpack_pack_uint32(&pk, WIRE_CMD_VERSION) != 0 ||
	    msgpack_pack_uint32(&pk, (uint32_t)cmd->type) != 0 ||
	    msgpack_pack_uint64(&pk, cmd->client_id) != 0 ||
	    msgpack_pack_uint64(&pk, cmd->serial) != 0 ||
	    msgpack_pack_int64(&pk, cmd->time_ns) != 0 || msgpack_pack_uint32(&pk, cmd->uid) != 0 ||
	    msgpack_pack_uint32(&pk, cmd->gid) != 0)
		return -ENOBUFS;
	for (unsigned i = 0; i < n; i++)
		if (pack_field(&pk, cmd, l->fields[i]) != 0)
			return -ENOBUFS;
	*len = b.len;
	return 0;
}

/* The extents stay where they are in the input: each is checked here, and
 * wire_cmd_extent_next() walks them again for the user. */
static int read_extents(struct wire__mpr *r, struct wire_cmd *c)
{
	struct wire_cmd_extent e;
	uint32_t n;
	uint64_t total = 0;

	if (wire__mpr_array(r, &n) != 0 || n > WIRE_WRITEV_EXTENTS_MAX)
		return QFS_EPROTO;
	c->extents_raw = r->p;
	for (uint32_t i = 0; i < n; i++) {
		if (read_extent(r, &e) != 0 || e.len > WIRE_WRITEV_BYTES_MAX - total)
			return QFS_EPROTO;
		/* The encoder writes an append's offset as 0: anything else is
		 * not a command it made. */
		if ((c->flags & WIRE_WRITEV_APPEND) && e.offset != 0)
			return QFS_EPROTO;
		total += e.len;
	}
	c->extents_raw_len = (size_t)(r->p - (const uint8_t *)c->extents_raw);
	c->n_extents = n;
	if (n == 0)
		c->extents_raw = NULL;
	return 0;
}

static int read_field(struct wire__mpr *r, struct wire_cmd *c, enum field f)
{
	const void *p = NULL;
	int rc;

	switch (f) {
	case F_INO:
		return wire__mpr_u64(r, &c->ino);
	case F_PARENT:
		return wire__mpr_u64(r, &c->parent);
	case F_NAME:
		rc = wire__mpr_bin(r, &p, &c->name_len, WIRE_CMD_NAME_MAX);
		c->name = p;
		return rc;
	case F_NEW_PARENT:
		return wire__mpr_u64(r, &c->new_parent);
	case F_NEW_NAME:
		rc = wire__mpr_bin(r, &p, &c->new_name_len, WIRE_CMD_NAME_MAX);
		c->new_name = p;
		return rc;
	case F_MODE:
		return wire__mpr_u32(r, &c->mode);
	case F_FLAGS:
		return wire__mpr_u32(r, &c->flags);
	case F_OFFSET:
		return wire__mpr_u64(r, &c->offset);
	case F_DATA:
		return wire__mpr_bin(r, &c->data, &c->data_len, UINT32_MAX);
	case F_A_VALID:
		return wire__mpr_u32(r, &c->attr.valid);
	case F_A_MODE:
		return wire__mpr_u32(r, &c->attr.mode);
	case F_A_UID:
		return wire__mpr_u32(r, &c->attr.uid);
	case F_A_GID:
		return wire__mpr_u32(r, &c->attr.gid);
	case F_A_SIZE:
		return wire__mpr_u64(r, &c->attr.size);
	case F_A_ATIME:
		return wire__mpr_i64(r, &c->attr.atime_ns);
	case F_A_MTIME:
		return wire__mpr_i64(r, &c->attr.mtime_ns);
	case F_A_CTIME:
		return wire__mpr_i64(r, &c->attr.ctime_ns);
	case F_RDEV:
		return wire__mpr_u64(r, &c->rdev);
	case F_SIZE:
		return wire__mpr_u64(r, &c->size);
	case F_EXTENTS:
		return read_extents(r, c);
	case F_C_NODE:
		return wire__mpr_u64(r, &c->co.node);
	case F_C_SESSION:
		return wire__mpr_u64(r, &c->co.session);
	case F_C_OWNER:
		return wire__mpr_u64(r, &c->co.owner);
	case F_C_FH:
		return wire__mpr_u64(r, &c->co.fh);
	case F_C_START:
		return wire__mpr_u64(r, &c->co.start);
	case F_C_END:
		return wire__mpr_u64(r, &c->co.end);
	case F_C_PID:
		return wire__mpr_u32(r, &c->co.pid);
	case F_END:
		break;
	}
	return QFS_EPROTO;
}

int wire_cmd_peek_type(const void *buf, size_t len)
{
	struct wire__mpr r;
	uint32_t count, version, type;
	wire__mpr_init(&r, buf, len);
	if (wire__mpr_array(&r, &count) != 0 || count < 2 || wire__mpr_u32(&r, &version) != 0 ||
	    version != WIRE_CMD_VERSION || wire__mpr_u32(&r, &type) != 0 || type > INT32_MAX)
		return QFS_EPROTO;
	return (int)type;
}

int wire_cmd_decode(const void *buf, size_t len, struct wire_cmd *out)
{
	struct wire__mpr r;
	struct wire_cmd c;
	const struct layout *l;
	uint32_t count, version, type;
	unsigned n;

	memset(&c, 0, sizeof(c));
	wire__mpr_init(&r, buf, len);
	if (wire__mpr_array(&r, &count) != 0 || count < 2 || wire__mpr_u32(&r, &version) != 0 ||
	    version != WIRE_CMD_VERSION || wire__mpr_u32(&r, &type) != 0)
		return QFS_EPROTO;
	l = layout_of((int)type);
	if (l == NULL)
		return QFS_EPROTO;
	n = field_count(l);
	if (count != HEADER_FIELDS + n)
		return QFS_EPROTO;
	c.type = (enum wire_cmd_type)type;
	if (wire__mpr_u64(&r, &c.client_id) != 0 || wire__mpr_u64(&r, &c.serial) != 0 ||
	    wire__mpr_i64(&r, &c.time_ns) != 0 || wire__mpr_u32(&r, &c.uid) != 0 ||
	    wire__mpr_u32(&r, &c.gid) != 0)
		return QFS_EPROTO;
	if (c.client_id != 0 && c.serial == 0)
		return QFS_EPROTO;
	for (unsigned i = 0; i < n; i++)
		if (read_field(&r, &c, l->fields[i]) != 0)
			return QFS_EPROTO;
	if ((c.flags & ~l->flags_mask) != 0 || (c.attr.valid & ~WIRE_ATTR_ALL) != 0)
		return QFS_EPROTO;
	if (uses(l, F_EXTENTS) && !writev_valid(&c))
		return QFS_EPROTO;
	if (c.type == WIRE_CMD_ORPHAN_RELEASE && !release_valid(&c))
		return QFS_EPROTO;
	if (wire__mpr_left(&r) != 0) /* one command per buffer, nothing after it */
		return QFS_EPROTO;
	*out = c;
	return 0;
}
