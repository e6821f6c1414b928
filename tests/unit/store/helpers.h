/* helpers.h: temporary data directories, raw LMDB access and fixtures for the store tests. */
#ifndef QFS_TEST_STORE_HELPERS_H
#define QFS_TEST_STORE_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "quorumfs/store.h"

/* Per-test state: a fresh temporary directory (removed by the teardown, also
 * when the test fails) and the store open in it, closed by the teardown. */
struct fixture {
	char root[256]; /* mkdtemp'ed, removed at teardown */
	char dir[400];  /* root/data or root/mnt/data: the store's data directory */
	struct store *s;
	char *mnt; /* a tmpfs mounted under root, unmounted at teardown */
};

int fixture_setup(void **state);
int fixture_teardown(void **state);

/* Options with the fixture's identity (node 1, cluster 0x11...). */
struct store_options test_opts(void);

/* Opens (or reopens) the store of the fixture with @o; asserts success. */
void fixture_open(struct fixture *f, const struct store_options *o);
void fixture_close(struct fixture *f);

/* Removes a directory tree; returns 0 or -errno. */
int rm_rf(const char *path);

/* Raw LMDB edits on a closed store, as a damaged disk would make them. */
typedef void (*raw_edit_fn)(MDB_txn *txn, MDB_dbi dbi, void *arg);
void raw_edit(const char *dir, const char *dbname, raw_edit_fn fn, void *arg);

/* Appends entries [from, to] of @term with data "entry <index>" padded to
 * @len bytes (len 0: just the text); asserts success. */
void append_range(struct store *s, uint64_t from, uint64_t to, uint64_t term, size_t len);
/* Checks entry @e is what append_range made. */
void check_entry(const struct store_entry *e, uint64_t index, uint64_t term, size_t len);

#endif
