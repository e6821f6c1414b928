/* inode.c: the inodes the kernel holds: lookup counts, open counts, publishes in flight. */
#include <stdlib.h>

#include "fuse_int.h"

#define INITIAL_BUCKETS 256

static size_t slot(const struct qfs__inodes *t, uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing */
	return (size_t)(h >> 32) & (t->n_buckets - 1);
}

int qfs__inodes_init(struct qfs__inodes *t)
{
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	if (t->buckets == NULL)
		return -1;
	t->n_buckets = INITIAL_BUCKETS;
	t->count = 0;
	return 0;
}

void qfs__inodes_free(struct qfs__inodes *t)
{
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct qfs__inode *in = t->buckets[i], *next;
		for (; in != NULL; in = next) {
			next = in->next;
			free(in);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->n_buckets = t->count = 0;
}

struct qfs__inode *qfs__inode_find(struct qfs__inodes *t, uint64_t ino)
{
	struct qfs__inode *in = t->buckets[slot(t, ino)];
	while (in != NULL && in->ino != ino)
		in = in->next;
	return in;
}

/* Double the table; on failure keep the old one (chains just grow). */
static void grow(struct qfs__inodes *t)
{
	struct qfs__inodes n = {.n_buckets = t->n_buckets * 2, .count = t->count};

	n.buckets = calloc(n.n_buckets, sizeof(*n.buckets));
	if (n.buckets == NULL)
		return;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct qfs__inode *in = t->buckets[i], *next;
		for (; in != NULL; in = next) {
			size_t s = slot(&n, in->ino);
			next = in->next;
			in->next = n.buckets[s];
			n.buckets[s] = in;
		}
	}
	free(t->buckets);
	*t = n;
}

struct qfs__inode *qfs__inode_get(struct qfs__inodes *t, uint64_t ino)
{
	struct qfs__inode *in = qfs__inode_find(t, ino);
	size_t s;

	if (in != NULL)
		return in;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return NULL;
	in->ino = ino;
	if (t->count >= t->n_buckets)
		grow(t);
	s = slot(t, ino);
	in->next = t->buckets[s];
	t->buckets[s] = in;
	t->count++;
	return in;
}

void qfs__inode_put(struct qfs__inodes *t, struct qfs__inode *in)
{
	struct qfs__inode **p;

	if (in->nlookup || in->nopen || in->n_inflight || in->hold || in->wait_head || in->lost)
		return;
	for (p = &t->buckets[slot(t, in->ino)]; *p != NULL; p = &(*p)->next) {
		if (*p == in) {
			*p = in->next;
			t->count--;
			free(in);
			return;
		}
	}
}

void qfs__inode_lookup(struct qfs_mount *m, uint64_t ino)
{
	struct qfs__inode *in;

	if (ino == FSM_ROOT_INO)
		return; /* the root is never forgotten */
	in = qfs__inode_get(&m->inodes, ino);
	/* Out of memory: the count is only bookkeeping (nothing is freed on
	 * its account), so losing it costs nothing but the entry. */
	if (in != NULL)
		in->nlookup++;
}

void qfs__inode_forget(struct qfs_mount *m, uint64_t ino, uint64_t n)
{
	struct qfs__inode *in = qfs__inode_find(&m->inodes, ino);

	if (in == NULL)
		return;
	in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
	qfs__inode_put(&m->inodes, in);
}
