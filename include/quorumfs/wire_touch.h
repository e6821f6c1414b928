/* wire_touch.h: what a command makes stale in a cache of the tree, computed from its bytes alone.
 */
#ifndef QUORUMFS_WIRE_TOUCH_H
#define QUORUMFS_WIRE_TOUCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorumfs/wire_cmd.h"

/*
 * A node acknowledges an entry to the leader before it applies it. To keep
 * a cache of the tree true (the kernel's entries, attributes and pages, and
 * a follower's right to answer reads from its own tree), it must know at
 * receipt what the entry will change: the touch set. It is computed from
 * the command alone, without the tree, so it is a superset of what apply
 * really changes (a CREATE that fails with EEXIST still names its parent).
 *
 * What a command cannot name from its bytes (the files a session's end or a
 * TTL removes: only the fsm knows them) makes the set "all": everything may
 * have changed.
 */

#define WIRE_TOUCH_INOS_MAX  3
#define WIRE_TOUCH_NAMES_MAX 2

/* An inode whose attributes change (mode, size, times, nlink, xattrs). */
struct wire_touch_ino {
	uint64_t ino;
	bool data; /* its contents change too (the page cache of it is stale) */
};

/* Flags of a touched name (parent directory, name). */
#define WIRE_TOUCH_SET 0x1u /* the name may come to point at another inode (or be created) */
#define WIRE_TOUCH_DROP                                                                            \
	0x2u                       /* the inode the name points at now may lose it (its nlink,     \
	                              perhaps its life): a deletion */
#define WIRE_TOUCH_CHILD      0x4u /* the inode the name points at now changes (attributes) */
#define WIRE_TOUCH_CHILD_DATA 0x8u /* ... and its contents */

struct wire_touch_name {
	uint64_t parent;
	const char *name; /* borrowed from the command's bytes */
	size_t name_len;
	unsigned flags; /* WIRE_TOUCH_* */
};

struct wire_touch {
	bool all; /* anything may change: drop every cache */
	bool moves; /* a rename or link: an existing inode may come to stand at its names */
	struct wire_touch_ino inos[WIRE_TOUCH_INOS_MAX];
	unsigned n_inos;
	struct wire_touch_name names[WIRE_TOUCH_NAMES_MAX];
	unsigned n_names;
};

/*
 * wire_cmd_touch - the touch set of decoded command @cmd.
 * @out: filled; its names borrow from what @cmd borrows. A parent whose
 *       name changes is listed in @out->inos too (its mtime, size, nlink).
 * A type this function does not know gives "all", so a new command is
 * safe (and slow) until its set is written here. Pure; never fails.
 */
void wire_cmd_touch(const struct wire_cmd *cmd, struct wire_touch *out);

/*
 * wire_touch_bytes - the touch set of an encoded command (a log entry's
 * data), decoding it first. A command that does not decode is "all": the
 * node cannot know what it does (apply will refuse it, but nothing is
 * lost by dropping every cache).
 * Returns 0 with @out set; @out borrows from @buf.
 */
int wire_touch_bytes(const void *buf, size_t len, struct wire_touch *out);

#endif
