/* blocks.c: a regular file's contents as fixed-size blocks keyed by (inode, block number). */
#include <errno.h>
#include <stdio.h>

#include "fsm_internal.h"
#include "quorumfs/errors.h"

/*
 * Block @b of file @ino holds bytes [b * FSM_BLOCK_SIZE, (b + 1) *
 * FSM_BLOCK_SIZE). A block is stored only once something was written into
 * it, and only up to the last byte written (a file's last block is short,
 * so a 10-byte file costs a 10-byte value); what is not stored reads as
 * zeros. So a write costs the blocks it touches, a hole costs nothing, and
 * in->a.blocks (st_blocks) counts what is stored.
 */

static void block_key(uint8_t kb[FSM__BLOCK_KEY], uint64_t ino, uint64_t blk)
{
	fsm__put64(kb, ino);
	kb[8] = FSM__DATA_BLOCK;
	fsm__put64(kb + 9, blk);
}

/* 512-byte units that a stored block of @len bytes counts for. */
static uint64_t units(size_t len)
{
	return (len + 511) / 512;
}

int fsm__blocks_write(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, uint64_t off,
                      const uint8_t *buf, size_t len)
{
	uint8_t kb[FSM__BLOCK_KEY], scratch[FSM_BLOCK_SIZE];

	while (len > 0) {
		uint64_t blk = off / FSM_BLOCK_SIZE;
		size_t at = (size_t)(off % FSM_BLOCK_SIZE);
		size_t n = FSM_BLOCK_SIZE - at < len ? FSM_BLOCK_SIZE - at : len;
		size_t have = 0;
		MDB_val k = fsm__val(kb, sizeof(kb)), v;
		int rc;

		block_key(kb, in->a.ino, blk);
		rc = mdb_get(txn, fsm->data, &k, &v);
		if (rc != 0 && !fsm__notfound(rc))
			return fsm__lmdb(fsm, rc, "get block");
		if (rc == 0) {
			have = v.mv_size;
			if (have > FSM_BLOCK_SIZE) {
				snprintf(fsm->errmsg, sizeof(fsm->errmsg), "block of %zu bytes",
				         have);
				return QFS_ECORRUPT;
			}
			/* Copied before the put: the put may free the old
			 * value's pages. A whole-block write needs only the
			 * old length. */
			if (at != 0 || n != FSM_BLOCK_SIZE)
				memcpy(scratch, v.mv_data, have);
		}
		if (have < at)
			memset(scratch + have, 0, at - have);
		memcpy(scratch + at, buf, n);
		v = fsm__val(scratch, at + n > have ? at + n : have);
		rc = mdb_put(txn, fsm->data, &k, &v, 0);
		if (rc != 0)
			return fsm__lmdb(fsm, rc, "put block");
		in->a.blocks = in->a.blocks - units(have) + units(v.mv_size);
		off += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Drops every stored byte at or past @size: whole blocks are deleted, the
 * block that holds @size is cut. */
static int blocks_cut(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, uint64_t size)
{
	uint8_t kb[FSM__BLOCK_KEY], scratch[FSM_BLOCK_SIZE];
	uint64_t first = size / FSM_BLOCK_SIZE;
	size_t rem = (size_t)(size % FSM_BLOCK_SIZE);
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (rem != 0) {
		block_key(kb, in->a.ino, first);
		k = fsm__val(kb, sizeof(kb));
		rc = mdb_get(txn, fsm->data, &k, &v);
		if (rc != 0 && !fsm__notfound(rc))
			return fsm__lmdb(fsm, rc, "get block");
		if (rc == 0 && v.mv_size > rem) {
			uint64_t had = units(v.mv_size);
			memcpy(scratch, v.mv_data, rem);
			v = fsm__val(scratch, rem);
			rc = mdb_put(txn, fsm->data, &k, &v, 0);
			if (rc != 0)
				return fsm__lmdb(fsm, rc, "put block");
			in->a.blocks = in->a.blocks - had + units(rem);
		}
		first++;
	}
	rc = mdb_cursor_open(txn, fsm->data, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor data");
	for (;;) {
		/* Seek afresh after each delete rather than trust the cursor's
		 * position past a deleted item. */
		block_key(kb, in->a.ino, first);
		k = fsm__val(kb, sizeof(kb));
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0 || k.mv_size != FSM__BLOCK_KEY || memcmp(k.mv_data, kb, 9) != 0)
			break;
		in->a.blocks -= units(v.mv_size);
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && !fsm__notfound(rc))
		return fsm__lmdb(fsm, rc, "del block");
	return 0;
}

int fsm__file_resize(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, uint64_t size)
{
	int rc = 0;
	if (size < in->a.size)
		rc = blocks_cut(fsm, txn, in, size);
	/* Growing makes a hole: nothing stored. */
	if (rc == 0)
		rc = fsm__bytes_add(fsm, txn, in->a.size, size);
	if (rc == 0)
		in->a.size = size;
	return rc;
}

int fsm__file_write(struct fsm *fsm, MDB_txn *txn, struct fsm__inode *in, uint64_t off,
                    const void *buf, size_t len)
{
	int rc;
	if (len == 0)
		return 0;
	rc = fsm__blocks_write(fsm, txn, in, off, buf, len);
	if (rc == 0 && off + len > in->a.size) {
		rc = fsm__bytes_add(fsm, txn, in->a.size, off + len);
		in->a.size = off + len;
	}
	return rc;
}

int fsm__file_read(struct fsm *fsm, MDB_txn *txn, uint64_t ino, uint64_t off, size_t len, void *buf)
{
	uint8_t kb[FSM__BLOCK_KEY], *out = buf;
	uint64_t end = off + len;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	memset(buf, 0, len); /* holes, and block tails never written */
	if (len == 0)
		return 0;
	rc = mdb_cursor_open(txn, fsm->data, &cur);
	if (rc != 0)
		return fsm__lmdb(fsm, rc, "cursor data");
	block_key(kb, ino, off / FSM_BLOCK_SIZE);
	k = fsm__val(kb, sizeof(kb));
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t start, from, to;
		if (k.mv_size != FSM__BLOCK_KEY || memcmp(k.mv_data, kb, 9) != 0)
			break;
		start = fsm__get64((const uint8_t *)k.mv_data + 9) * FSM_BLOCK_SIZE;
		if (start >= end)
			break;
		from = start > off ? start : off;
		to = start + v.mv_size < end ? start + v.mv_size : end;
		if (to > from)
			memcpy(out + (from - off), (const uint8_t *)v.mv_data + (from - start),
			       (size_t)(to - from));
	}
	mdb_cursor_close(cur);
	return rc == 0 || fsm__notfound(rc) ? 0 : fsm__lmdb(fsm, rc, "read block");
}
