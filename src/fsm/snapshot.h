/* snapshot.h: the snapshot byte format, shared by snapshot.c and snapshot_install.c. */
#ifndef QUORUMFS_FSM_SNAPSHOT_H
#define QUORUMFS_FSM_SNAPSHOT_H

/*
 * header  : magic[8] "qfstree\0", u32 format, u32 reserved (0), u64 applied
 * record  : u8 db (1..5, 8..10), u16 key length (1..511), u32 value length, key, value
 * trailer : u8 0, u64 record count, u32 CRC-32C of every byte before it
 * All integers big-endian. Records go database by database in the order of
 * the db ids, keys in LMDB order, so one tree always gives the same bytes.
 * docs/storage-format.md is the reference.
 */
#define FSM__SNAP_MAGIC      "qfstree"
#define FSM__SNAP_HEADER     24
#define FSM__SNAP_REC_HEADER 7
#define FSM__SNAP_TRAILER    13
#define FSM__SNAP_KEY_MAX    511 /* LMDB's default key limit */

enum fsm__snap_db {
	FSM__SNAP_END = 0,
	FSM__SNAP_INODES = 1,
	FSM__SNAP_DIRENTS = 2,
	FSM__SNAP_DATA = 3,
	FSM__SNAP_SESSIONS = 4,
	FSM__SNAP_META = 5,    /* only the keys that start with "fsm." */
	FSM__SNAP_ORPHANS = 6, /* 7: the data path's too; 8..11: coordination (coord.c). */
	FSM__SNAP_NSESSIONS = 8,
	FSM__SNAP_LOCKS = 9,
	FSM__SNAP_EPHEMERAL = 10,
};

/* The database that follows @db in a stream (0: the first); 0 after the
 * last. The ids need not be contiguous: each area has its own range. */
static inline int fsm__snap_next_db(int db)
{
	switch (db) {
	case FSM__SNAP_META:
		return FSM__SNAP_ORPHANS;
	case FSM__SNAP_ORPHANS:
		return FSM__SNAP_NSESSIONS;
	case FSM__SNAP_NSESSIONS:
		return FSM__SNAP_LOCKS;
	case FSM__SNAP_LOCKS:
		return FSM__SNAP_EPHEMERAL;
	case FSM__SNAP_EPHEMERAL:
		return 0;
	default:
		return db >= 0 && db < FSM__SNAP_META ? db + 1 : 0;
	}
}

static inline int fsm__snap_known_db(int db)
{
	return (db >= FSM__SNAP_INODES && db <= FSM__SNAP_ORPHANS) ||
	       (db >= FSM__SNAP_NSESSIONS && db <= FSM__SNAP_EPHEMERAL);
}

#endif
