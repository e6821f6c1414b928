/* wire_cmd.h: the file-tree commands that travel in Raft log entries, and their msgpack codec. */
#ifndef QUORUMFS_WIRE_CMD_H
#define QUORUMFS_WIRE_CMD_H

#include <stddef.h>
#include <stdint.h>

/*
 * A command is one change to the tree, proposed by a leader and applied by
 * src/fsm on every node. Everything apply needs to be deterministic travels
 * inside it: the leader's wall clock, the caller's uid/gid, and the client
 * session (client id, serial) that makes a retried command apply once.
 *
 * The byte format (docs/storage-format.md, "Command encoding") is one
 * msgpack array: [version, type, client_id, serial, time_ns, uid, gid,
 * fields of the type...]. Names, data and targets are msgpack bin.
 */

#define WIRE_CMD_VERSION 1

enum wire_cmd_type {
	WIRE_CMD_CREATE = 1,       /* parent, name, mode, flags, data (initial contents) */
	WIRE_CMD_WRITE = 2,        /* ino, offset, flags, data */
	WIRE_CMD_APPEND = 3,       /* ino, data */
	WIRE_CMD_SETATTR = 4,      /* ino, attr */
	WIRE_CMD_MKDIR = 5,        /* parent, name, mode */
	WIRE_CMD_UNLINK = 6,       /* parent, name */
	WIRE_CMD_RMDIR = 7,        /* parent, name */
	WIRE_CMD_RENAME = 8,       /* parent, name, new_parent, new_name, flags */
	WIRE_CMD_SYMLINK = 9,      /* parent, name, data (the target) */
	WIRE_CMD_LINK = 10,        /* ino (existing inode), parent + name (the new link) */
	WIRE_CMD_SETXATTR = 11,    /* ino, name (attribute name), data (value), flags */
	WIRE_CMD_REMOVEXATTR = 12, /* ino, name (attribute name) */
	WIRE_CMD_WRITEV = 13,      /* ino, flags, size, extents: an open handle's gathered writes */
	WIRE_CMD_MKNOD = 14,       /* parent, name, mode (with its S_IFMT type), rdev */
	WIRE_CMD_ORPHAN_RELEASE = 15, /* co.node, data (inode numbers): a node lets go of
	                                 unlinked files it holds no handle of */
	WIRE_CMD_CREATE_WRITEV = 16,  /* parent, name, mode, ino, offset (inode numbers to
	                                 reserve), flags, size, extents: a new file and
	                                 its first gathered writes in one command */
	/* A cross-replica check (docs/operations.md): no fields. It changes
	 * nothing in the tree; every node that applies it hashes its tree as
	 * of this entry's index and reports the hash to the leader. Never
	 * given to fsm_apply(): the node's writer handles it. */
	WIRE_CMD_VERIFY = 30,
	/* 15..19: the file data path (orphans, ...); 20..29: coordination
	 * (locks, sessions, TTLs); 30..39: operations (checks). Numbers are
	 * never reused: a log written by an older build must still decode. */

	/* Coordination (docs/semantics.md, "Locks"); fields in struct wire_cmd_coord. */
	WIRE_CMD_SESSION_KEEPALIVE = 20, /* node, session (0: open a new one), mode (lease
	                                    ms), offset (the node's own clock, ms) */
	WIRE_CMD_SESSION_EXPIRE = 21,    /* node, session, offset (its last keepalive's index) */
	WIRE_CMD_LOCK = 22,              /* ino, node, session, owner, fh, start, end, pid,
	                                    flags (WIRE_LOCK_*) */
	WIRE_CMD_UNLOCK_HANDLE = 23,     /* ino, node, owner, fh: a handle was released */
	WIRE_CMD_EPHEMERAL = 24,         /* ino, node, session */
	/* parent, name, mode, flags (WIRE_CREATE_TRUNC), data, offset: replace
	 * the contents of regular file (parent, name) with data only if its
	 * version is still offset; otherwise ECANCELED (ENOENT: no such name).
	 * quorumctl put --if-version; checked in apply, so atomic. */
	WIRE_CMD_PUT_IF = 25,
	/* ino, offset: the leader found regular file ino, with the xattr
	 * user.quorumfs.ttl, unwritten for longer than its TTL: remove every
	 * name of it, as UNLINK, if its version is still offset (a write since
	 * keeps it: ECANCELED). */
	WIRE_CMD_TTL_EXPIRE = 26,
};
/* The highest file-tree command: the fsm's table and its tests go up to it.
 * Commands of the other ranges (WIRE_CMD_VERIFY) are outside it. */
#define WIRE_CMD_TYPE_MAX WIRE_CMD_CREATE_WRITEV
/* The coordination commands the decoder knows: a range of their own, so the
 * data path's numbers can grow without touching it. */
#define WIRE_CMD_COORD_MIN WIRE_CMD_SESSION_KEEPALIVE
#define WIRE_CMD_COORD_MAX WIRE_CMD_EPHEMERAL

/* LOCK flags: the lock type in the low two bits, and its kind. */
#define WIRE_LOCK_UNLOCK 0x0u /* remove the owner's locks in [start, end] */
#define WIRE_LOCK_READ   0x1u /* shared */
#define WIRE_LOCK_WRITE  0x2u /* exclusive */
#define WIRE_LOCK_TYPE   0x3u /* the mask of the type bits */
#define WIRE_LOCK_FLOCK  0x4u /* flock(2) (whole file, own namespace); else fcntl/OFD */
#define WIRE_LOCK_END_MAX INT64_MAX /* end of a lock "to the end of the file" */

/*
 * The fields of the coordination commands. A lock belongs to (node, owner):
 * owner is the kernel's lock owner on that node (a process's files for
 * fcntl, the open file for flock and OFD locks); fh is the mount's handle
 * it came through, so that the handle's release can drop it.
 */
struct wire_cmd_coord {
	uint64_t node;    /* the node whose session acts */
	uint64_t session; /* that node's session id (the index that opened it) */
	uint64_t owner;
	uint64_t fh;
	uint64_t start; /* first byte */
	uint64_t end;   /* last byte, inclusive; WIRE_LOCK_END_MAX: to the end */
	uint32_t pid;   /* the locking process, on its node */
};

/*
 * ORPHAN_RELEASE: node co.node no longer needs the unlinked regular files
 * ("orphans", docs/semantics-fsm.md) whose numbers @data holds: 8 bytes
 * each, big-endian, 1 .. WIRE_RELEASE_INOS_MAX of them. A number that is
 * not an orphan held by that node is ignored, so a release may be sent
 * twice. The last holder's release frees the inode and its blocks.
 */
#define WIRE_RELEASE_INOS_MAX 4096

/* CREATE flags. */
#define WIRE_CREATE_EXCL  0x1u /* fail with EEXIST if the name exists (O_EXCL) */
#define WIRE_CREATE_TRUNC 0x2u /* an existing file's contents become @data (O_TRUNC) */

/* WRITE flags. */
#define WIRE_WRITE_TRUNCATE 0x1u /* truncate to 0, then write: `echo v > f` in one step */

/*
 * WRITEV: what one open handle wrote since its last publish, committed as one
 * command when the handle is flushed (close), fsync'd, released, or after the
 * bounded delay (docs/semantics.md). Applied atomically, in this order:
 *   1. TRUNCATE: the file's size becomes 0 first (open with O_TRUNC);
 *   2. SET_SIZE: then its size becomes @size (ftruncate while gathering);
 *   3. each extent in order: APPEND: at the end of the file as it is then
 *      (O_APPEND: atomic per extent, never interleaved with another node's);
 *      otherwise at the extent's offset;
 *   4. KILL_SUIDGID: S_ISUID is cleared, and S_ISGID when S_IXGRP is set
 *      (the writer lacked CAP_FSETID, as Linux's write(2) does).
 * With no extent and no TRUNCATE/SET_SIZE it is refused (EINVAL): an empty
 * publish is never proposed. The extents' bytes together, and the size the
 * file reaches, are bounded by the fsm's max value size (EFBIG: nothing of
 * the command is applied).
 */
#define WIRE_WRITEV_TRUNCATE     0x1u
#define WIRE_WRITEV_SET_SIZE     0x2u
#define WIRE_WRITEV_APPEND       0x4u
#define WIRE_WRITEV_KILL_SUIDGID 0x8u
#define WIRE_WRITEV_EXTENTS_MAX  4096 /* extents in one command (decoder bound) */

/*
 * CREATE_WRITEV: open(O_CREAT) of regular file (parent, name) and what the
 * handle wrote before its first publish, applied atomically (docs/semantics.md,
 * "A new file at its first publish"):
 *   - the name is absent: a new file of @mode is made, with inode number
 *     @ino if it is not 0 (one this node reserved before: it must be below
 *     the tree's next inode number and unused, EINVAL otherwise), else the
 *     next one; then the WRITEV steps (TRUNCATE, SET_SIZE, extents,
 *     KILL_SUIDGID) apply to it;
 *   - the name is a regular file (another node made it first): with
 *     WIRE_CREATE_WRITEV_EXCL EEXIST; otherwise the WRITEV steps apply to
 *     that file, as if this open had come after its creation;
 *   - a directory: EISDIR; another type: EEXIST.
 * With @offset > 0 (at most WIRE_CREATE_RESERVE_MAX), @offset further inode
 * numbers are reserved for the proposer after the file's own: the result's
 * offset is the first of them. Unlike WRITEV, no extent and no flag is valid
 * (a file created with nothing written).
 */
#define WIRE_CREATE_WRITEV_EXCL  0x10u /* O_EXCL: fail with EEXIST if the name exists */
#define WIRE_CREATE_RESERVE_MAX  65536

struct wire_cmd_extent {
	uint64_t offset;  /* ignored with WIRE_WRITEV_APPEND (encoded as 0) */
	const void *data; /* borrowed */
	size_t len;       /* >= 1 */
};

/* The decoder refuses a WRITEV whose extents hold more bytes than this in
 * all (the fsm's max value size, far lower, is the real limit). */
#define WIRE_WRITEV_BYTES_MAX UINT32_MAX

/* RENAME flags; the values of Linux's renameat2(2) flags. */
#define WIRE_RENAME_NOREPLACE 0x1u
#define WIRE_RENAME_EXCHANGE  0x2u

/* SETXATTR flags; the values of setxattr(2)'s. */
#define WIRE_XATTR_CREATE  0x1u
#define WIRE_XATTR_REPLACE 0x2u

/* SETATTR valid mask: which of struct wire_cmd_attr's fields to set. */
#define WIRE_ATTR_MODE      0x001u /* permission bits (07777) only; the type never changes */
#define WIRE_ATTR_UID       0x002u
#define WIRE_ATTR_GID       0x004u
#define WIRE_ATTR_SIZE      0x008u /* truncate or zero-extend a regular file */
#define WIRE_ATTR_ATIME     0x010u
#define WIRE_ATTR_MTIME     0x020u
#define WIRE_ATTR_CTIME     0x040u
#define WIRE_ATTR_ATIME_NOW 0x080u /* atime := the command's time_ns */
#define WIRE_ATTR_MTIME_NOW 0x100u /* mtime := the command's time_ns */
#define WIRE_ATTR_KILL_SUIDGID 0x200u /* truncation by a caller without CAP_FSETID:
                                        clear S_ISUID, and S_ISGID if S_IXGRP */
#define WIRE_ATTR_ALL       0x3ffu

/* Bounds the decoder enforces (wire level, not the file system's limits,
 * which src/fsm checks and reports as ENAMETOOLONG, EFBIG, ...). A name is
 * bounded so that a key built from it always fits LMDB's 511-byte keys. */
#define WIRE_CMD_NAME_MAX 4096

struct wire_cmd_attr {
	uint32_t valid; /* WIRE_ATTR_* bits */
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	int64_t atime_ns;
	int64_t mtime_ns;
	int64_t ctime_ns;
};

/*
 * One command. Which fields a type uses is listed at enum wire_cmd_type;
 * the others are ignored by the encoder and zeroed by the decoder.
 * Pointer fields are borrowed: after wire_cmd_decode() they point into the
 * decoded buffer and live as long as it does.
 */
struct wire_cmd {
	enum wire_cmd_type type;
	uint64_t client_id; /* 0: no session, the command always applies */
	uint64_t serial;    /* >= 1 when client_id != 0; grows by client */
	int64_t time_ns;    /* the leader's wall clock, ns since the epoch */
	uint32_t uid;       /* the caller: owner of what the command creates */
	uint32_t gid;

	uint64_t ino;    /* the inode acted on */
	uint64_t parent; /* the directory of @name */
	const char *name;
	size_t name_len; /* bytes, no terminating NUL */
	uint64_t new_parent;
	const char *new_name;
	size_t new_name_len;
	uint32_t mode;  /* CREATE, MKDIR: permission bits (and optionally the type) */
	uint32_t flags; /* WIRE_{CREATE,WRITE,WRITEV,RENAME,XATTR,LOCK}_* */
	uint64_t offset; /* CREATE_WRITEV: inode numbers to reserve */
	const void *data;
	size_t data_len;
	struct wire_cmd_attr attr; /* SETATTR */
	uint64_t rdev;             /* MKNOD: the device number of a S_IFCHR/S_IFBLK node */
	uint64_t size;             /* (CREATE_)WRITEV with WIRE_WRITEV_SET_SIZE */
	const struct wire_cmd_extent *extents; /* (CREATE_)WRITEV: borrowed, @n_extents of them;
	                                          NULL after wire_cmd_decode() (below) */
	size_t n_extents;
	/* WRITEV after wire_cmd_decode(): the extents as encoded, borrowed from
	 * the buffer (the decoder never allocates, so it cannot build an array
	 * of struct wire_cmd_extent). Read them with wire_cmd_extent_next().
	 * The encoder uses them when @extents is NULL, so a decoded command
	 * encodes again. Callers that build a command leave them 0. */
	const void *extents_raw;
	size_t extents_raw_len;
	struct wire_cmd_coord co; /* SESSION_*, LOCK, UNLOCK_HANDLE, EPHEMERAL */
};

/*
 * wire_cmd_extent_next - the next extent of a WRITEV, built or decoded.
 * @pos: 0 before the first call; advanced by each call (opaque).
 * @out: set to the extent; its data borrows from what @cmd borrows.
 * Returns 1 with an extent, 0 after the last one, QFS_EPROTO if raw
 * extents do not parse (never after a successful wire_cmd_decode()).
 */
int wire_cmd_extent_next(const struct wire_cmd *cmd, size_t *pos, struct wire_cmd_extent *out);

/*
 * wire_cmd_encoded_max - an upper bound of the encoded size of @cmd.
 * Returns the bound in bytes (never 0). Pure.
 */
size_t wire_cmd_encoded_max(const struct wire_cmd *cmd);

/*
 * wire_cmd_encode - write @cmd as msgpack into @buf.
 * @cmd: borrowed; the fields its type does not use are ignored.
 * @buf, @cap: the caller's buffer; wire_cmd_encoded_max() bytes always suffice.
 * @len: set to the bytes written on success.
 * Returns 0, -EINVAL if @cmd cannot be encoded (unknown type, flags outside
 * the type's set, a name longer than WIRE_CMD_NAME_MAX, client_id != 0 with
 * serial 0; a WRITEV with no extent and neither TRUNCATE nor SET_SIZE, more
 * than WIRE_WRITEV_EXTENTS_MAX extents, an empty extent, an extent whose
 * end passes 2^64, or more than WIRE_WRITEV_BYTES_MAX bytes), or -ENOBUFS
 * if @cap is too small (the buffer's contents are then unspecified). Never
 * allocates.
 */
int wire_cmd_encode(const struct wire_cmd *cmd, void *buf, size_t cap, size_t *len);

/*
 * wire_cmd_decode - parse one command from @buf.
 * @out: filled on success; its pointers borrow from @buf (zero copy), so
 *       @buf must outlive the use of @out.
 * Every type, length and bound is checked before use: a declared length
 * beyond the input, a wrong msgpack type, an unknown command type or flag,
 * a wrong field count, trailing bytes or an integer out of range all fail,
 * and so does a WRITEV that the encoder would refuse.
 * Returns 0 or QFS_EPROTO. Never allocates; safe on any input.
 */
int wire_cmd_decode(const void *buf, size_t len, struct wire_cmd *out);

/*
 * wire_cmd_peek_type - the type an encoded command says it has, reading
 * only its first elements (the writer tells WIRE_CMD_VERIFY from tree
 * commands without decoding every entry twice). Validates nothing else:
 * wire_cmd_decode() still decides whether the command is well formed.
 * Returns the type (> 0 for any sane input) or QFS_EPROTO.
 */
int wire_cmd_peek_type(const void *buf, size_t len);

/* wire_cmd_type_name - "create", "write", ...; "unknown" for others. Static. */
const char *wire_cmd_type_name(int type);

#endif
