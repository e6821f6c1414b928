/* fault_client.c: fault-client, one workload against one mount, writing a history (history.h). */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "fault_io.h"
#include "history.h"

/*
 * fault-client --dir MOUNT --out HISTORY [--workload registers|appends|sets|all]
 *              [--time SECONDS] [--seed S] [--procs N] [--proc-base B]
 *              [--timeout-ms MS] [--keys K] [--append-files A] [--set-dirs D]
 *              [--max-creates M] [--append-rotate SECONDS] [--reg-rotate SECONDS]
 *              [--write-pct P]
 * fault-client --dir MOUNT --out HISTORY --setup      create the files, write "init" lines
 * fault-client --dir MOUNT --out HISTORY --final N [--round R]
 *                                                  final reads and listings, as process "RN"
 *                                                  (R: "final" by default)
 * fault-client --dir MOUNT --out HISTORY --burst N    N acknowledged creates under dur/, in a row
 * --any-fs: accept a directory that is not a FUSE mount (to test the client itself).
 * --write-pct P: the share of register operations that are writes (default 50, or
 * QFS_FAULT_WRITE_PCT); 0 makes a reader that never writes, so that no write of its own is
 * in flight on its node when it reads (a read of a file waits for this node's write to it):
 * what the clock-beyond teeth need on the isolated leader (docs/testing.md).
 *
 * Creates go to D subdirectories set/s0.. (one directory of 100,000 entries is
 * another workload, and the final listings and tree hashes grow with it).
 * --max-creates bounds each process's creates, spread over the run: its k-th
 * create waits until k/M of the time has passed (meanwhile, with other
 * workloads, the process does those instead).
 *
 * An append-file read is recorded against the process's previous read of
 * that file (history.h: "=K/HASH" and the new tokens): a file that grows to
 * thousands of lines would otherwise be written out whole on every read.
 *
 * Append files come in generations, app/a0, then app/a0.1, app/a0.2...: a
 * process moves file K to its next generation every --append-rotate seconds
 * of the run, and at once when an append to it was refused with EFBIG (the
 * file reached the cluster's max-value-size, and every later append to it
 * would be refused too). The final reads read every file under app/.
 *
 * Registers come in generations too, reg/r0, then reg/r0.1, reg/r0.2...: every process
 * moves to the next generation of every register each --reg-rotate seconds of the run
 * (Jepsen's independent keys): each file is one register to the checker, so what one
 * register's history holds is bounded by the rotation, not by the run's length. A
 * generation starts absent: its first write creates it (open with O_CREAT|O_TRUNC and the
 * write commit together, as one CREATE_WRITEV, docs/semantics.md, so no node sees it
 * empty), and a read before that returns "@". The rotation goes by time, not by a count of
 * ops, so that the processes of every node stay on the same generation (a count per process
 * would scatter them over generations and leave each file one writer). The final reads read
 * every file under reg/.
 *
 * Each of the N processes is a thread that runs one operation at a time;
 * every operation itself runs on a thread of its own, and the process waits
 * for it at most --timeout-ms. Past that the outcome is recorded as unknown
 * and the process moves on: a FUSE call can hang while its daemon is
 * stopped, and that must never hang the run. The abandoned thread finishes
 * (or is killed when the client exits) and records nothing.
 *
 * Every path is opened relative to a descriptor of the mount's root, checked
 * to be a FUSE file system. While the daemon is dead the mount point is an
 * empty local directory: a path would silently reach that instead, so ops
 * wait for a live mount and are not attempted (nor recorded) until then. An
 * op that fails with ENOTCONN (the daemon died under it) drops the
 * descriptor; the next op opens the new mount.
 *
 * Outcomes: "fail" only for EROFS before anything could have been proposed
 * (open, or the first write of an append/create), and for an append's EFBIG
 * (refused before proposing, or by the state machine without changing the
 * file: src/fsm/apply_file.c); every other error or a timeout is "unknown". A register write whose
 * open(O_TRUNC) succeeded but whose write did not is marked "T": the truncation may apply on its
 * own.
 */

enum { W_REG = 1, W_APP = 2, W_SET = 4 };

struct opt {
	const char *dir, *out;
	int workload;
	double time_s;
	uint64_t seed;
	int procs, proc_base, timeout_ms, keys, app_files, set_dirs;
	long max_creates;       /* per process; 0: no bound */
	double append_rotate_s; /* 0: append files are never rotated on time */
	double reg_rotate_s;    /* 0: registers are never rotated */
	int final_node, burst;
	bool setup, any_fs;
};

static struct opt opt = {.workload = W_REG | W_APP | W_SET,
                         .time_s = 10,
                         .seed = 1,
                         .procs = 3,
                         .proc_base = 1,
                         .timeout_ms = 5000,
                         .keys = 10,
                         .app_files = 3,
                         .set_dirs = 10};

#define FUSE_SUPER_MAGIC 0x65735546

static FILE *hist;
static atomic_int root_fd = -1;
static pthread_mutex_t root_mu = PTHREAD_MUTEX_INITIALIZER;
static char round_name[32] = "final";

/*
 * The mount's root, or -1 if no FUSE file system is mounted there. Old
 * descriptors are never closed (another thread may still use one); there is
 * one per restart of the daemon.
 */
static int get_root(void)
{
	int fd = atomic_load(&root_fd);
	if (fd >= 0) {
		return fd;
	}
	pthread_mutex_lock(&root_mu);
	fd = atomic_load(&root_fd);
	if (fd < 0) {
		fd = open(opt.dir, O_RDONLY | O_DIRECTORY);
		struct statfs sf;
		if (fd >= 0 && !opt.any_fs &&
		    (fstatfs(fd, &sf) != 0 || sf.f_type != FUSE_SUPER_MAGIC)) {
			close(fd);
			fd = -1;
		}
		atomic_store(&root_fd, fd);
	}
	pthread_mutex_unlock(&root_mu);
	return fd;
}

static void drop_root(int fd)
{
	atomic_compare_exchange_strong(&root_fd, &fd, -1);
}
static pthread_mutex_t hist_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int hung;
static atomic_ulong n_ok, n_fail, n_unknown;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

enum op_kind { K_WRITE, K_READ, K_APPEND, K_AREAD, K_CREATE, K_BURST };
static const char *const kind_type[] = {"write", "read", "append", "aread", "create", "create"};
enum { O_OK, O_FAIL, O_UNKNOWN };
static const char *const outcome_name[] = {"ok", "fail", "unknown"};

struct op {
	/* Set by the process before the op thread starts. */
	int kind;
	char proc[32], id[48], key[64], value[48], path[512]; /* path: relative to the root */
	bool skipped;            /* no mount: not attempted, not recorded */
	struct aread_prev *prev; /* K_AREAD: the process's previous read of the file, or NULL
	                            to record the read whole (borrowed from the process) */
	char err[48];            /* the failing call and its errno, e.g. "open:EROFS"; "" if none */
	int errnum;              /* that errno; 0 if none */
	int64_t start;
	/* Set by the op thread, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int outcome;
	char *result; /* malloc'd */
	int refs;     /* the process and the op thread */
};

static void op_put(struct op *o)
{
	pthread_mutex_lock(&o->mu);
	int r = --o->refs;
	pthread_mutex_unlock(&o->mu);
	if (r == 0) {
		pthread_mutex_destroy(&o->mu);
		pthread_cond_destroy(&o->cv);
		free(o->result);
		free(o);
	}
}

static void record(const struct op *o, int64_t end, int outcome, const char *result,
                   const char *err)
{
	pthread_mutex_lock(&hist_mu);
	fprintf(hist, "%s\t%s\t%s\t%s\t%s\t%lld\t%lld\t%s\t%s%s%s\n", o->proc, o->id, o->key,
	        kind_type[o->kind], o->value[0] ? o->value : "-", (long long)o->start,
	        (long long)end, outcome_name[outcome], result ? result : "-", err ? "\t" : "",
	        err ? err : "");
	pthread_mutex_unlock(&hist_mu);
	atomic_ulong *c = outcome == O_OK ? &n_ok : outcome == O_FAIL ? &n_fail : &n_unknown;
	atomic_fetch_add(c, 1);
}

static void perform_at(struct op *o, int root, int *outcome, char **result);

static void set_err(struct op *o, const char *call, int e)
{
	const char *name = strerrorname_np(e);
	snprintf(o->err, sizeof(o->err), "%s:%s", call, name ? name : "?");
	o->errnum = e;
}

/* Runs the operation; sets outcome and result. */
static void perform(struct op *o, int *outcome, char **result)
{
	*result = NULL;
	int root = get_root();
	if (root < 0) {
		o->skipped = true;
		*outcome = O_FAIL;
		return;
	}
	perform_at(o, root, outcome, result);
	if (strstr(o->err, "ENOTCONN") != NULL || strstr(o->err, "EBADF") != NULL) {
		drop_root(root);
	}
}

static void perform_at(struct op *o, int root, int *outcome, char **result)
{
	int fd;
	char buf[64];
	size_t vlen = strlen(o->value);
	switch (o->kind) {
	case K_WRITE:
		/* O_CREAT: the first write to a new generation makes the file. */
		fd = openat(root, o->path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
		if (fd < 0) {
			set_err(o, "open", errno);
			*outcome = errno == EROFS ? O_FAIL : O_UNKNOWN;
			*result = strdup(errno == EROFS ? "-" : "T");
			return;
		}
		if (write(fd, o->value, vlen) != (ssize_t)vlen) {
			set_err(o, "write", errno);
			close(fd);
			*outcome = O_UNKNOWN;
			*result = strdup("T");
			return;
		}
		*outcome = close(fd) == 0 ? O_OK : O_UNKNOWN;
		if (*outcome != O_OK) {
			set_err(o, "close", errno);
		}
		*result = strdup(*outcome == O_OK ? "-" : "T");
		return;
	case K_APPEND:
	case K_CREATE:
	case K_BURST:
		if (o->kind == K_APPEND) {
			/* O_CREAT: the first append to a new generation makes the file. */
			fd = openat(root, o->path, O_WRONLY | O_APPEND | O_CREAT, 0644);
		} else {
			fd = openat(root, o->path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		}
		if (fd < 0) {
			set_err(o, "open", errno);
			*outcome = errno == EROFS ? O_FAIL : O_UNKNOWN;
			return;
		}
		if (o->kind != K_CREATE) {
			int n = snprintf(buf, sizeof(buf), "%s%s", o->value,
			                 o->kind == K_APPEND ? "\n" : "");
			ssize_t w = write(fd, buf, (size_t)n);
			if (w != n) {
				int e = w < 0 ? errno : EIO;
				set_err(o, "write", e);
				/* An append that EROFS refused was never proposed; one that
				 * EFBIG refused was, or was not, but changed nothing. */
				*outcome = (e == EROFS || e == EFBIG) && o->kind == K_APPEND
				                   ? O_FAIL
				                   : O_UNKNOWN;
				close(fd);
				return;
			}
		}
		*outcome = close(fd) == 0 ? O_OK : O_UNKNOWN;
		if (*outcome != O_OK) {
			set_err(o, "close", errno);
		}
		return;
	case K_READ:
	case K_AREAD: {
		char *data;
		size_t len;
		int rc = slurp(root, o->path, &data, &len);
		if (rc == -ENOENT) {
			*outcome = O_OK;
			*result = strdup("@");
		} else if (rc < 0) {
			set_err(o, "read", -rc);
			*outcome = O_FAIL;
			*result = strdup("~");
		} else {
			*outcome = O_OK;
			*result = o->kind == K_READ ? encode_register(data, len)
			                            : encode_lines(data, len);
			free(data);
		}
		return;
	}
	}
}

static void *op_thread(void *arg)
{
	struct op *o = arg;
	int outcome = O_UNKNOWN;
	char *result = NULL;
	perform(o, &outcome, &result);
	pthread_mutex_lock(&o->mu);
	bool abandoned = o->refs == 1;
	o->done = true;
	o->outcome = outcome;
	o->result = result;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	if (abandoned) {
		atomic_fetch_sub(&hung, 1);
	}
	op_put(o);
	return NULL;
}

/*
 * Run @o with the timeout and record it. Consumes the process's reference.
 * Returns the errno the op ended with (0 if none, or if it did not end in time).
 */
static int run_op(struct op *o)
{
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	o->refs = 2;
	o->start = now_ns();
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	if (pthread_create(&t, &attr, op_thread, o) != 0) {
		/* Could not even try: the op never happened; say nothing. */
		pthread_attr_destroy(&attr);
		o->refs = 1;
		op_put(o);
		usleep(10000);
		return 0;
	}
	pthread_attr_destroy(&attr);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += opt.timeout_ms / 1000;
	dl.tv_nsec += (long)(opt.timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&o->mu);
	while (!o->done) {
		if (pthread_cond_timedwait(&o->cv, &o->mu, &dl) == ETIMEDOUT) {
			break;
		}
	}
	bool done = o->done;
	int errnum = done ? o->errnum : 0;
	int64_t end = now_ns();
	if (done && o->skipped) {
		pthread_mutex_unlock(&o->mu);
		usleep(100000);
	} else if (done && o->kind == K_AREAD && o->prev != NULL && o->outcome == O_OK &&
	           o->result != NULL) {
		pthread_mutex_unlock(&o->mu);
		char *compact = encode_delta(o->prev, o->result);
		record(o, end, o->outcome, compact, o->err[0] ? o->err : NULL);
		free(compact);
	} else if (done) {
		pthread_mutex_unlock(&o->mu);
		record(o, end, o->outcome, o->result, o->err[0] ? o->err : NULL);
	} else {
		atomic_fetch_add(&hung, 1);
		pthread_mutex_unlock(&o->mu);
		bool rd = o->kind == K_READ || o->kind == K_AREAD;
		record(o, end, O_UNKNOWN, rd ? "~" : o->kind == K_WRITE ? "T" : "-", "timeout");
	}
	op_put(o);
	return errnum;
}

static struct op *op_new(int kind, const char *proc, const char *id, const char *key,
                         const char *value)
{
	struct op *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		abort();
	}
	o->kind = kind;
	snprintf(o->proc, sizeof(o->proc), "%s", proc);
	snprintf(o->id, sizeof(o->id), "%s", id);
	snprintf(o->key, sizeof(o->key), "%s", key);
	snprintf(o->value, sizeof(o->value), "%s", value ? value : "");
	if (kind == K_CREATE || kind == K_BURST) {
		snprintf(o->path, sizeof(o->path), "%s/%s", key, value);
	} else {
		snprintf(o->path, sizeof(o->path), "%s", key);
	}
	return o;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct proc {
	int id;
	pthread_t t;
	struct aread_prev *prev; /* one per append file: its last read of the current generation */
	int *gen;                /* one per append file: the generation it uses */
};

/* The path of generation @g of append file @a. */
static void app_key(char *key, size_t len, int a, int g)
{
	if (g == 0) {
		snprintf(key, len, "app/a%d", a);
	} else {
		snprintf(key, len, "app/a%d.%d", a, g);
	}
}

static int64_t deadline_ns;


/* The share of register operations that are writes, in percent (QFS_FAULT_WRITE_PCT, 50):
 * the clock teeth run makes reads the bulk, so that a stale leader has readers. */
static int write_pct_opt = -1; /* --write-pct; -1: the environment's, or 50 */

static unsigned write_pct(void)
{
	static int pct = -1;
	if (pct < 0 && write_pct_opt >= 0)
		pct = write_pct_opt;
	if (pct < 0) {
		const char *e = getenv("QFS_FAULT_WRITE_PCT");
		pct = e && *e ? atoi(e) : 50;
		if (pct < 0 || pct > 100)
			pct = 50;
	}
	return (unsigned)pct;
}

static void *proc_main(void *arg)
{
	struct proc *p = arg;
	uint64_t rng =
	        (opt.seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)p->id * 0xbf58476d1ce4e5b9ULL);
	rng |= 1;
	char proc[32], id[48], key[64], val[48];
	snprintf(proc, sizeof(proc), "%d", p->id);
	int kinds[3], nk = 0;
	for (int w = W_REG; w <= W_SET; w <<= 1) {
		if (opt.workload & w) {
			kinds[nk++] = w;
		}
	}
	long creates = 0;
	int64_t start_ns = now_ns();
	for (unsigned long seq = 1; now_ns() < deadline_ns; seq++) {
		while (atomic_load(&hung) > 200 && now_ns() < deadline_ns) {
			usleep(50000);
		}
		snprintf(id, sizeof(id), "%d-%lu", p->id, seq);
		snprintf(val, sizeof(val), "p%d-%lu", p->id, seq);
		/* With every workload: half registers, 30% appends, 20% creates. */
		int w = kinds[xorshift(&rng) % (uint64_t)nk];
		if (nk == 3) {
			uint64_t x = xorshift(&rng) % 10;
			w = x < 5 ? W_REG : x < 8 ? W_APP : W_SET;
		}
		uint64_t r = xorshift(&rng);
		if (w == W_SET && opt.max_creates > 0) {
			/* The budget so far: creates + 1 <= max * elapsed / duration. */
			double frac =
			        (double)(now_ns() - start_ns) / (double)(deadline_ns - start_ns);
			if ((double)(creates + 1) > (double)opt.max_creates * frac) {
				if (!(opt.workload & (W_REG | W_APP))) {
					seq--;
					usleep(20000);
					continue;
				}
				w = (opt.workload & W_REG) && (!(opt.workload & W_APP) || r % 8 < 5)
				            ? W_REG
				            : W_APP;
				r = xorshift(&rng);
			}
		}
		struct op *o;
		int a = -1; /* the append file, for W_APP */
		if (w == W_REG) {
			int k = (int)(r % (uint64_t)opt.keys);
			int g = opt.reg_rotate_s > 0 ? (int)((double)(now_ns() - start_ns) / 1e9 /
			                                     opt.reg_rotate_s)
			                             : 0;
			if (g == 0) {
				snprintf(key, sizeof(key), "reg/r%d", k);
			} else {
				snprintf(key, sizeof(key), "reg/r%d.%d", k, g);
			}
			o = op_new((r >> 20) % 100 < write_pct() ? K_WRITE : K_READ, proc, id, key,
			           NULL);
			if (o->kind == K_WRITE) {
				snprintf(o->value, sizeof(o->value), "%s", val);
			}
		} else if (w == W_APP) {
			a = (int)(r % (uint64_t)opt.app_files);
			int g = opt.append_rotate_s > 0 ? (int)((double)(now_ns() - start_ns) /
			                                        1e9 / opt.append_rotate_s)
			                                : 0;
			if (g > p->gen[a]) {
				p->gen[a] = g;
				aread_prev_clear(&p->prev[a]);
			}
			app_key(key, sizeof(key), a, p->gen[a]);
			o = op_new((r >> 20) % 5 < 3 ? K_APPEND : K_AREAD, proc, id, key, NULL);
			if (o->kind == K_APPEND) {
				snprintf(o->value, sizeof(o->value), "%s", val);
			} else {
				o->prev = &p->prev[a];
			}
		} else {
			snprintf(key, sizeof(key), "set/s%d", (int)(r % (uint64_t)opt.set_dirs));
			o = op_new(K_CREATE, proc, id, key, val);
			creates++;
		}
		bool append = o->kind == K_APPEND;
		if (run_op(o) == EFBIG && append && a >= 0) {
			/* The file is full: this process moves on to the next generation. */
			p->gen[a]++;
			aread_prev_clear(&p->prev[a]);
		}
	}
	return NULL;
}

/* Create the directories and files of the workloads; the initial values as "init" writes. */
static int do_setup(void)
{
	char path[512];
	const char *dirs[] = {"reg", "app", "set", "dur"};
	for (int i = 0; i < 4 + opt.set_dirs; i++) {
		if (i < 4) {
			snprintf(path, sizeof(path), "%s/%s", opt.dir, dirs[i]);
		} else {
			snprintf(path, sizeof(path), "%s/set/s%d", opt.dir, i - 4);
		}
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "fault-client: mkdir %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	for (int k = 0; k < opt.keys; k++) {
		snprintf(path, sizeof(path), "%s/reg/r%d", opt.dir, k);
		int64_t s = now_ns();
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "init", 4) != 4 || close(fd) != 0) {
			fprintf(stderr, "fault-client: setup %s: %s\n", path, strerror(errno));
			return 1;
		}
		fprintf(hist, "init\tinit-r%d\treg/r%d\twrite\tinit\t%lld\t%lld\tok\t-\n", k, k,
		        (long long)s, (long long)now_ns());
	}
	for (int a = 0; a < opt.app_files; a++) {
		snprintf(path, sizeof(path), "%s/app/a%d", opt.dir, a);
		int fd = open(path, O_WRONLY | O_CREAT, 0644);
		if (fd < 0 || close(fd) != 0) {
			fprintf(stderr, "fault-client: setup %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listing of @sub: names joined by ","; under dur/ a file whose contents is not its name is
 * listed as NAME#bad (which nobody created, so the checker reports it). */
static int list_dir(const char *sub, char **out)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", opt.dir, sub);
	DIR *d = opendir(path);
	if (d == NULL) {
		return errno == ENOENT ? (*out = strdup("@"), 0) : -errno;
	}
	size_t n = 0, cap = 1024, len = 1;
	char **names = malloc(cap * sizeof(*names));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		if (n == cap) {
			cap *= 2;
			names = realloc(names, cap * sizeof(*names));
		}
		char *nm = strdup(e->d_name);
		if (strcmp(sub, "dur") == 0) {
			char fp[1024], *data = NULL;
			size_t dl = 0;
			snprintf(fp, sizeof(fp), "%s/%s", path, e->d_name);
			if (slurp(AT_FDCWD, fp, &data, &dl) != 0 || dl != strlen(nm) ||
			    memcmp(data, nm, dl)) {
				char *bad = malloc(strlen(nm) + 8);
				sprintf(bad, "%s#bad", nm);
				free(nm);
				nm = bad;
			}
			free(data);
		}
		len += strlen(nm) + 1;
		names[n++] = nm;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	char *s = calloc(len + 2, 1), *end = s;
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			*end++ = ',';
		}
		size_t l = strlen(names[i]);
		memcpy(end, names[i], l);
		end += l;
		free(names[i]);
	}
	free(names);
	if (n == 0) {
		strcpy(s, "_");
	}
	*out = s;
	return 0;
}

/* Final reads of every file and listings of set/ and dur/, recorded as process "finalN". */
static int do_final(void)
{
	char proc[64], id[64], key[64];
	snprintf(proc, sizeof(proc), "%s%d", round_name, opt.final_node);
	int bad = 0;
	/* Every generation of every register, then of every append file. */
	char *regs = NULL;
	int rrc = list_dir("reg", &regs);
	if (rrc < 0) {
		fprintf(stderr, "fault-client: list reg: %s\n", strerror(-rrc));
		bad = 1;
	} else if (strcmp(regs, "_") != 0 && strcmp(regs, "@") != 0) {
		char **names;
		size_t nn = history_split(regs, ',', &names);
		for (size_t i = 0; i < nn; i++) {
			snprintf(key, sizeof(key), "reg/%s", names[i]);
			snprintf(id, sizeof(id), "f%d-%s", opt.final_node, names[i]);
			run_op(op_new(K_READ, proc, id, key, NULL));
		}
		free(names);
	}
	free(regs);
	/* Every generation of every append file. */
	char *apps = NULL;
	int lrc = list_dir("app", &apps);
	if (lrc < 0) {
		fprintf(stderr, "fault-client: list app: %s\n", strerror(-lrc));
		bad = 1;
	} else if (strcmp(apps, "_") != 0 && strcmp(apps, "@") != 0) {
		char **names;
		size_t nn = history_split(apps, ',', &names);
		for (size_t i = 0; i < nn; i++) {
			snprintf(key, sizeof(key), "app/%s", names[i]);
			snprintf(id, sizeof(id), "f%d-%s", opt.final_node, names[i]);
			run_op(op_new(K_AREAD, proc, id, key, NULL));
		}
		free(names);
	}
	free(apps);
	for (int i = 0; i <= opt.set_dirs; i++) {
		char dir[32], *names = NULL;
		if (i < opt.set_dirs) {
			snprintf(dir, sizeof(dir), "set/s%d", i);
		} else {
			snprintf(dir, sizeof(dir), "dur");
		}
		int64_t s = now_ns();
		int rc = list_dir(dir, &names);
		if (rc < 0) {
			fprintf(stderr, "fault-client: list %s: %s\n", dir, strerror(-rc));
			bad = 1;
			continue;
		}
		/* The op id names the directory: "f3-set/s4", "f3-dur". */
		fprintf(hist, "%s\tf%d-%s\t%s\tlist\t-\t%lld\t%lld\tok\t%s\n", proc, opt.final_node,
		        dir, dir, (long long)s, (long long)now_ns(), names);
		free(names);
	}
	return bad;
}

static void do_burst(void)
{
	char proc[32], id[64], val[64];
	snprintf(proc, sizeof(proc), "%d", opt.proc_base);
	for (int i = 1; i <= opt.burst; i++) {
		snprintf(id, sizeof(id), "%d-b%d", opt.proc_base, i);
		snprintf(val, sizeof(val), "d%llu-%d", (unsigned long long)opt.seed,
		         i + opt.proc_base * 100000);
		run_op(op_new(K_BURST, proc, id, "dur", val));
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: fault-client --dir MOUNT --out HISTORY [--setup | --final N | "
	                "--burst N | --workload W --time S --seed S --procs N --proc-base B "
	                "--timeout-ms MS --max-creates M --append-rotate S --reg-rotate S] "
	                "[--set-dirs D]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	        {"dir", required_argument, NULL, 'd'},
	        {"out", required_argument, NULL, 'o'},
	        {"workload", required_argument, NULL, 'w'},
	        {"time", required_argument, NULL, 't'},
	        {"seed", required_argument, NULL, 's'},
	        {"procs", required_argument, NULL, 'p'},
	        {"proc-base", required_argument, NULL, 'b'},
	        {"timeout-ms", required_argument, NULL, 'T'},
	        {"keys", required_argument, NULL, 'k'},
	        {"append-files", required_argument, NULL, 'a'},
	        {"set-dirs", required_argument, NULL, 'D'},
	        {"max-creates", required_argument, NULL, 'M'},
	        {"append-rotate", required_argument, NULL, 'r'},
	        {"reg-rotate", required_argument, NULL, 'g'},
	        {"setup", no_argument, NULL, 'S'},
	        {"final", required_argument, NULL, 'F'},
	        {"burst", required_argument, NULL, 'B'},
	        {"round", required_argument, NULL, 'R'},
	        {"any-fs", no_argument, NULL, 'A'},
	        {"write-pct", required_argument, NULL, 'W'},
	        {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			opt.dir = optarg;
			break;
		case 'o':
			opt.out = optarg;
			break;
		case 'w':
			opt.workload = strcmp(optarg, "registers") == 0 ? W_REG
			               : strcmp(optarg, "appends") == 0 ? W_APP
			               : strcmp(optarg, "sets") == 0    ? W_SET
			               : strcmp(optarg, "all") == 0     ? W_REG | W_APP | W_SET
			                                                : 0;
			if (opt.workload == 0) {
				usage();
			}
			break;
		case 't':
			opt.time_s = atof(optarg);
			break;
		case 's':
			opt.seed = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			opt.procs = atoi(optarg);
			break;
		case 'W':
			write_pct_opt = atoi(optarg);
			if (write_pct_opt < 0 || write_pct_opt > 100) {
				usage();
			}
			break;
		case 'b':
			opt.proc_base = atoi(optarg);
			break;
		case 'T':
			opt.timeout_ms = atoi(optarg);
			break;
		case 'k':
			opt.keys = atoi(optarg);
			break;
		case 'a':
			opt.app_files = atoi(optarg);
			break;
		case 'D':
			opt.set_dirs = atoi(optarg);
			break;
		case 'M':
			opt.max_creates = atol(optarg);
			break;
		case 'r':
			opt.append_rotate_s = atof(optarg);
			break;
		case 'g':
			opt.reg_rotate_s = atof(optarg);
			break;
		case 'S':
			opt.setup = true;
			break;
		case 'F':
			opt.final_node = atoi(optarg);
			break;
		case 'B':
			opt.burst = atoi(optarg);
			break;
		case 'R':
			snprintf(round_name, sizeof(round_name), "%s", optarg);
			break;
		case 'A':
			opt.any_fs = true;
			break;
		default:
			usage();
		}
	}
	if (opt.dir == NULL || opt.out == NULL || opt.procs < 1 || opt.keys < 1 ||
	    opt.app_files < 1 || opt.timeout_ms < 1 || opt.set_dirs < 1 || opt.max_creates < 0) {
		usage();
	}
	hist = fopen(opt.out, "a");
	if (hist == NULL) {
		fprintf(stderr, "fault-client: %s: %s\n", opt.out, strerror(errno));
		return 2;
	}
	/* A line per op as it completes: a client killed mid-run loses at most the line being
	 * written (and the checker drops a last line without its newline). */
	setvbuf(hist, NULL, _IOLBF, 0);
	int rc = 0;
	if ((opt.setup || opt.final_node > 0 || opt.burst > 0) && get_root() < 0) {
		fprintf(stderr, "fault-client: no FUSE file system mounted at %s\n", opt.dir);
		return 1;
	}
	if (opt.setup) {
		rc = do_setup();
	} else if (opt.final_node > 0) {
		rc = do_final();
	} else if (opt.burst > 0) {
		do_burst();
	} else {
		deadline_ns = now_ns() + (int64_t)(opt.time_s * 1e9);
		struct proc *ps = calloc((size_t)opt.procs, sizeof(*ps));
		for (int i = 0; i < opt.procs; i++) {
			ps[i].id = opt.proc_base + i;
			ps[i].prev = calloc((size_t)opt.app_files, sizeof(*ps[i].prev));
			ps[i].gen = calloc((size_t)opt.app_files, sizeof(*ps[i].gen));
			pthread_create(&ps[i].t, NULL, proc_main, &ps[i]);
		}
		for (int i = 0; i < opt.procs; i++) {
			pthread_join(ps[i].t, NULL);
			for (int a = 0; a < opt.app_files; a++) {
				aread_prev_clear(&ps[i].prev[a]);
			}
			free(ps[i].prev);
			free(ps[i].gen);
		}
		free(ps);
	}
	pthread_mutex_lock(&hist_mu);
	fflush(hist);
	fsync(fileno(hist));
	pthread_mutex_unlock(&hist_mu);
	fprintf(stderr, "fault-client %s: ok=%lu fail=%lu unknown=%lu hung=%d\n", opt.dir,
	        atomic_load(&n_ok), atomic_load(&n_fail), atomic_load(&n_unknown),
	        atomic_load(&hung));
	/* Threads still inside a hung FUSE call must not keep us alive. */
	_exit(rc);
}
