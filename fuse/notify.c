/* notify.c: the thread that tells the kernel to drop what it cached of an inode or a name. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_int.h"
#include "quorumfs/log.h"

/*
 * A notification is a write to /dev/fuse that the kernel may hold until it
 * gets an inode's lock; a request parked here can hold that lock until the
 * loop answers it. Written from the loop, it would deadlock; so the loop only
 * queues (a mutex held for a list append), and this thread writes. The queue
 * is bounded: beyond QUEUE_MAX (a kernel that stopped taking them) new ones
 * are dropped, counted and logged at stop.
 *
 * This thread only ever asks the kernel for what takes no lock a request
 * can hold (docs/daemon.md, "No cycle"): an inode's attributes (offset -1),
 * never its pages; names all at once with FUSE_NOTIFY_INC_EPOCH (a counter
 * the kernel compares each cached name with, no lock taken), and one name
 * only when a library caller set entry_timeout > 0 itself. Stale pages are
 * dropped by the process that reads them: the kernel checks the attributes
 * before a read(2) through the page cache (FUSE_CAP_AUTO_INVAL_DATA) and
 * drops the pages when mtime or size moved, in that process, which a dead
 * daemon's aborted connection sets free.
 */

#define QUEUE_MAX 65536

struct note {
	struct note *next;
	bool epoch;      /* FUSE_NOTIFY_INC_EPOCH: every cached name is stale */
	bool probe;      /* ... the first one: does the kernel take it? */
	uint64_t ticket; /* > 0: once written, the node may send what this ticket held */
	uint64_t ino;
	uint64_t parent; /* 0: no name */
	size_t name_len;
	char name[]; /* NUL-terminated */
};

struct qfs__notifier {
	struct qfs_mount *m;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct note *head, *tail; /* under lock */
	size_t count;             /* under lock */
	bool quit;                /* under lock */
	atomic_bool stopped;      /* the thread left its loop */
	bool thread_started;
	uv_async_t async;      /* wakes the loop when the thread stops, or a ticket is done */
	unsigned long dropped; /* loop thread only */
	uint64_t last_ticket;  /* loop thread only: the last ticket handed out */
	bool probe_queued;     /* loop thread only */
	/* 0: not known yet; 1: the kernel takes FUSE_NOTIFY_INC_EPOCH, so
	 * names may be cached; -1: it does not (or one failed): never. */
	atomic_int epoch_state;
	_Atomic uint64_t done_ticket; /* the last ticket whose notes the thread wrote */
};

/* FUSE_NOTIFY_INC_EPOCH (protocol 7.44, Linux 6.16): the kernel increments
 * the connection's epoch, and every name cached before it is looked up again
 * before its next use; a LOOKUP in flight meanwhile is stamped with the epoch
 * read before it was sent, so its answer is not trusted either. No lock is
 * taken. libfuse 3.14 has no call for it: the header is written as the
 * kernel reads notifications (unique 0, the code in the error field). */
#define QFS_NOTIFY_INC_EPOCH 8
static int notify_inc_epoch(struct fuse_session *se)
{
	struct {
		uint32_t len;
		int32_t error;
		uint64_t unique;
	} oh = {sizeof(oh), QFS_NOTIFY_INC_EPOCH, 0};
	ssize_t w = write(fuse_session_fd(se), &oh, sizeof(oh));
	return w == (ssize_t)sizeof(oh) ? 0 : w < 0 ? -errno : -EIO;
}

static void *run(void *arg)
{
	struct qfs__notifier *nt = arg;
	struct fuse_session *se = nt->m->se;
	bool entry_cached = nt->m->opts.entry_timeout > 0;

	pthread_mutex_lock(&nt->lock);
	for (;;) {
		struct note *n;
		while (nt->head == NULL && !nt->quit)
			pthread_cond_wait(&nt->cond, &nt->lock);
		if (nt->quit)
			break;
		n = nt->head;
		nt->head = n->next;
		if (nt->head == NULL)
			nt->tail = NULL;
		nt->count--;
		pthread_mutex_unlock(&nt->lock);
		/* Errors are expected and harmless: -ENOENT for an inode or
		 * name the kernel does not hold, -ENOSYS/-EBADF while the
		 * connection starts or ends. */
		/* The parent's lock, which a LOOKUP or CREATE in flight holds
		 * until we answer it: only when names are cached at all (never
		 * by the daemon: zero entry timeouts need no invalidation). */
		if (n->parent != 0 && entry_cached)
			(void)fuse_lowlevel_notify_inval_entry(se, n->parent, n->name, n->name_len);
		/* Attributes only (offset -1): dropping pages waits for each
		 * page's lock, which a read in flight holds until the daemon
		 * answers it. A daemon killed meanwhile then never exits: this
		 * thread stays in the kernel with /dev/fuse open (docs/testing.md).
		 * The attributes' new version is what makes the reader drop the
		 * pages (above). */
		if (n->ino != 0)
			(void)fuse_lowlevel_notify_inval_inode(se, n->ino, -1, 0);
		if (n->epoch && atomic_load(&nt->epoch_state) >= 0) {
			int rc = notify_inc_epoch(se);
			if (rc != 0 && (n->probe || rc != -ENODEV)) {
				/* Not taken: names are never cached from now on (a
				 * name given before has its timeout, which the lease
				 * bounds, and ENODEV means the mount is gone). */
				atomic_store(&nt->epoch_state, -1);
			} else if (n->probe) {
				atomic_store(&nt->epoch_state, 1);
			}
		}
		if (n->ticket != 0) {
			atomic_store(&nt->done_ticket, n->ticket);
			uv_async_send(&nt->async);
		}
		free(n);
		pthread_mutex_lock(&nt->lock);
	}
	pthread_mutex_unlock(&nt->lock);
	atomic_store(&nt->stopped, true);
	uv_async_send(&nt->async);
	return NULL;
}

static void async_cb(uv_async_t *a)
{
	struct qfs__notifier *nt = a->data;
	uint64_t done = atomic_load(&nt->done_ticket);
	if (done != 0 && !nt->m->stopping)
		node_touch_done(nt->m->node, done);
	qfs__maybe_finish(nt->m);
}

int qfs__notifier_start(struct qfs_mount *m, char *err, size_t errlen)
{
	struct qfs__notifier *nt = calloc(1, sizeof(*nt));
	int rc;

	if (nt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nt->m = m;
	atomic_init(&nt->stopped, false);
	atomic_init(&nt->epoch_state, 0);
	rc = uv_async_init(m->loop, &nt->async, async_cb);
	if (rc != 0) {
		snprintf(err, errlen, "uv_async_init: %s", uv_strerror(rc));
		free(nt);
		return rc;
	}
	nt->async.data = nt;
	pthread_mutex_init(&nt->lock, NULL);
	pthread_cond_init(&nt->cond, NULL);
	rc = pthread_create(&nt->thread, NULL, run, nt);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the notifier thread: %s", strerror(rc));
		/* The async handle is closed with the mount's others (join). */
		atomic_store(&nt->stopped, true);
		m->notifier = nt;
		return -rc;
	}
	nt->thread_started = true;
	m->notifier = nt;
	return 0;
}

/* Appends @n to the notifier's queue and wakes its thread; nt->lock held. */
static void push_locked(struct qfs__notifier *nt, struct note *n)
{
	if (nt->tail != NULL)
		nt->tail->next = n;
	else
		nt->head = n;
	nt->tail = n;
	nt->count++;
	pthread_cond_signal(&nt->cond);
}

/* Everything changed (a snapshot was installed): every inode the kernel
 * holds, and the root's names. Names elsewhere cannot be listed without
 * their parents, which the table does not keep; the 0 s entry timeout
 * covers them. */
static void on_change_all(struct qfs_mount *m)
{
	struct qfs__inodes *t = &m->inodes;

	qfs__on_change(m, FSM_ROOT_INO, 0, NULL, 0);
	for (size_t i = 0; i < t->n_buckets; i++)
		for (struct qfs__inode *in = t->buckets[i]; in != NULL; in = in->next)
			qfs__on_change(m, in->ino, 0, NULL, 0);
}

void qfs__on_change(void *arg, uint64_t ino, uint64_t parent, const char *name, size_t name_len)
{
	struct qfs_mount *m = arg;
	struct qfs__notifier *nt = m->notifier;
	struct note *n;
	bool drop = false;

	if (nt == NULL || m->stopping)
		return;
	if (ino == 0 && parent == 0) {
		on_change_all(m);
		return;
	}
	qfs__poll_changed(m, ino);
	/* With zero timeouts the kernel asks for attributes before it uses
	 * them (a read(2) through the page cache too), so there is nothing
	 * to drop; and an invalidation that reaches the kernel while such a
	 * GETATTR is in flight makes it discard that answer (the reply's
	 * attribute version is older) and read on from stale pages: the test
	 * e2e-mmap showed it. */
	if (m->opts.attr_timeout <= 0 && m->opts.entry_timeout <= 0)
		return;
	if (name == NULL || name_len > FSM_NAME_MAX)
		parent = 0, name_len = 0;
	n = malloc(sizeof(*n) + name_len + 1);
	if (n == NULL) {
		nt->dropped++;
		return;
	}
	n->next = NULL;
	n->ino = ino;
	n->parent = parent;
	n->name_len = name_len;
	if (name_len)
		memcpy(n->name, name, name_len);
	n->name[name_len] = '\0';
	pthread_mutex_lock(&nt->lock);
	if (nt->count >= QUEUE_MAX)
		drop = true;
	else
		push_locked(nt, n);
	pthread_mutex_unlock(&nt->lock);
	if (drop) {
		free(n);
		nt->dropped++;
	}
}

/* Queue an attribute invalidation of @ino (a ticket note with @ticket >
 * 0), past the queue's bound: what a ticket covers is never dropped, as the
 * node's acknowledgement waits for it. Returns false if out of memory. */
static bool queue_note(struct qfs__notifier *nt, uint64_t ino, bool epoch, bool probe,
                       uint64_t ticket)
{
	struct note *n = calloc(1, sizeof(*n) + 1);
	if (n == NULL)
		return false;
	n->ino = ino;
	n->epoch = epoch;
	n->probe = probe;
	n->ticket = ticket;
	pthread_mutex_lock(&nt->lock);
	push_locked(nt, n); /* a ticket is never dropped: the ack waits for it */
	pthread_mutex_unlock(&nt->lock);
	return true;
}

static bool queue_attr(struct qfs__notifier *nt, uint64_t ino, uint64_t ticket)
{
	return queue_note(nt, ino, false, false, ticket);
}

bool qfs__names_cacheable(struct qfs_mount *m)
{
	struct qfs__notifier *nt = m->notifier;
	if (nt == NULL || m->stopping || qfs__notifier_stopped(nt))
		return false;
	int state = atomic_load(&nt->epoch_state);
	if (state == 0 && !nt->probe_queued && m->kernel_minor >= 44) {
		/* One increment, harmless: it asks whether the kernel takes
		 * it. Names stay uncached until the answer is yes. */
		nt->probe_queued = queue_note(nt, 0, true, true, 0);
	}
	return state == 1;
}

/*
 * node_touch_fn: entries durable here, not yet acknowledged, touch @inos
 * (@all: anything). While the kernel caches attributes (caches.c), they are
 * dropped before the acknowledgement: the ticket's note comes after the
 * inodes' in the queue, so when the thread has written it, the kernel has
 * taken every one of them. Attribute invalidations wait for no lock a
 * request holds (docs/daemon.md, "No cycle"), so the ticket always comes.
 * When names may change (@names, @all) and the kernel caches names, every
 * cached name is made stale too (an epoch increment), also without a lock.
 * Without the caches there is nothing to drop: 0, the ack goes at once.
 */
uint64_t qfs__on_touch(void *arg, const uint64_t *inos, size_t n_inos, bool all, bool names)
{
	struct qfs_mount *m = arg;
	struct qfs__notifier *nt = m->notifier;
	bool ok = true;

	if (nt == NULL || m->stopping || qfs__notifier_stopped(nt) ||
	    !(qfs__caches_on(m) || qfs__caches_held(m)))
		return 0;
	if (all) {
		struct qfs__inodes *t = &m->inodes;
		ok = queue_attr(nt, FSM_ROOT_INO, 0);
		for (size_t i = 0; ok && i < t->n_buckets; i++)
			for (struct qfs__inode *in = t->buckets[i]; ok && in != NULL; in = in->next)
				ok = queue_attr(nt, in->ino, 0);
	}
	for (size_t i = 0; ok && i < n_inos; i++)
		ok = queue_attr(nt, inos[i], 0);
	/* A probe still out may have set the state to 1 meanwhile, and names
	 * given since then are cached: bump whenever it is not known to be -1. */
	if (ok && (names || all) && atomic_load(&nt->epoch_state) >= 0 && nt->probe_queued)
		ok = queue_note(nt, 0, true, false, 0);
	if (ok)
		ok = queue_attr(nt, 0, nt->last_ticket + 1);
	if (!ok) {
		/* Cannot promise the kernel dropped them: stop caching. */
		m->caches_failed = true;
		return 0;
	}
	return ++nt->last_ticket;
}

void qfs__notifier_stop(struct qfs__notifier *nt)
{
	pthread_mutex_lock(&nt->lock);
	nt->quit = true;
	pthread_cond_signal(&nt->cond);
	pthread_mutex_unlock(&nt->lock);
}

bool qfs__notifier_stopped(struct qfs__notifier *nt)
{
	return atomic_load(&nt->stopped);
}

static void async_closed(uv_handle_t *h)
{
	struct qfs__notifier *nt = h->data;
	struct qfs_mount *m = nt->m;
	struct note *n, *next;

	for (n = nt->head; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	pthread_mutex_destroy(&nt->lock);
	pthread_cond_destroy(&nt->cond);
	free(nt);
	m->handles_open--;
	qfs__maybe_finish(m);
}

void qfs__notifier_join(struct qfs__notifier *nt)
{
	if (nt->thread_started)
		pthread_join(nt->thread, NULL);
	if (nt->dropped > 0)
		qfs_log(QFS_LOG_WARN, "%lu cache invalidations were dropped", nt->dropped);
	nt->m->handles_open++;
	uv_close((uv_handle_t *)&nt->async, async_closed);
}
