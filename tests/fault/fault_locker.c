/* fault_locker.c: fault-locker, the lock workload: critical sections under flock, as a history. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/*
 * fault-locker --dir MOUNT --out HISTORY [--time S] [--procs N] [--proc-base B]
 *              [--seed S] [--timeout-ms MS] [--hold-ms MS]
 *
 * Each of N processes (forked: one signal timer each) loops: open lock/l0 in
 * the mount, flock(LOCK_EX) (blocking: a parked waiter), read the grant's
 * fencing token (user.quorumfs.lock.token), hold it 1..--hold-ms ms, then
 * read the token again (a linearizable read: does the tree still say the
 * lock is ours?), and close (the release). Each section held is one
 * history line (history.h):
 *
 *   PROC OPID lock/l0 section TOKEN GRANTED_NS RELEASE_NS ok CHECK
 *
 * GRANTED_NS is when flock returned, RELEASE_NS when the section ended
 * (before the check read and the close); TOKEN "-" if it could not be read.
 * CHECK: "held" (the token read at the end is ours: the tree still gives us
 * the lock), "lost" (another token, or none: our node's session ended and
 * the lock went on; we outlived our lease), "unknown" (the read failed).
 * tests/fault/check_lock.c checks them.
 *
 * A call that blocks longer than --timeout-ms is interrupted by SIGALRM
 * (the FUSE INTERRUPT path of a waiting lock); one into a SIGSTOPped daemon
 * waits until the daemon resumes, as FUSE does.
 */

#define FUSE_SUPER_MAGIC 0x65735546
#define TOKEN_XATTR      "user.quorumfs.lock.token"

static const char *dir, *out;
static double time_s = 10;
static int procs = 1, proc_base = 1, timeout_ms = 5000, hold_ms = 20;
static uint64_t seed = 1;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_alarm(int sig)
{
	(void)sig; /* only interrupts the call in progress */
}

static void arm(void)
{
	struct itimerval it = {.it_value = {timeout_ms / 1000, (timeout_ms % 1000) * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm(void)
{
	struct itimerval it = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
}

/* The mount's root, or -1 while the mount point is not a live FUSE mount. */
static int root_open(void)
{
	struct statfs sf;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0 && (fstatfs(fd, &sf) != 0 || sf.f_type != FUSE_SUPER_MAGIC)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int read_token(int fd, char *buf, size_t cap)
{
	arm();
	ssize_t n = fgetxattr(fd, TOKEN_XATTR, buf, cap - 1);
	int e = errno;
	disarm();
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

static void proc_main(int id, FILE *hist)
{
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	uint64_t rng = (seed * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)id * 0xbf58476d1ce4e5b9ULL);
	int64_t deadline = now_ns() + (int64_t)(time_s * 1e9);
	unsigned long seq = 0, sections = 0, failed = 0;
	int root = -1;

	sigaction(SIGALRM, &sa, NULL);
	rng |= 1;
	while (now_ns() < deadline) {
		char token[64], check[64];
		if (root < 0) {
			if ((root = root_open()) < 0) {
				usleep(100000);
				continue;
			}
			arm();
			mkdirat(root, "lock", 0755); /* EEXIST but for the first */
			disarm();
		}
		arm();
		int fd = openat(root, "lock/l0", O_RDWR | O_CREAT, 0644);
		int e = errno;
		disarm();
		if (fd < 0) {
			if (e == ENOTCONN || e == EBADF) {
				close(root);
				root = -1;
			}
			failed++;
			usleep(50000);
			continue;
		}
		seq++;
		arm();
		int rc = flock(fd, LOCK_EX);
		e = errno;
		disarm();
		if (rc != 0) {
			failed++;
			close(fd);
			if (e == ENOTCONN) {
				close(root);
				root = -1;
			}
			usleep(20000);
			continue;
		}
		int64_t granted = now_ns();
		if (read_token(fd, token, sizeof(token)) != 0)
			strcpy(token, "-");
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		usleep(1000 + (useconds_t)(rng % (uint64_t)(hold_ms * 1000)));
		int64_t released = now_ns();
		const char *res;
		if (read_token(fd, check, sizeof(check)) == 0)
			res = strcmp(token, "-") == 0 ? "unknown" : strcmp(check, token) == 0 ? "held" : "lost";
		else
			res = errno == ENODATA && strcmp(token, "-") != 0 ? "lost" : "unknown";
		arm();
		close(fd);
		disarm();
		fprintf(hist, "%d\t%d-%lu\tlock/l0\tsection\t%s\t%lld\t%lld\tok\t%s\n", id, id, seq,
		        token, (long long)granted, (long long)released, res);
		fflush(hist);
		sections++;
	}
	fprintf(stderr, "fault-locker %d: %lu sections, %lu attempts failed\n", id, sections,
	        failed);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"dir", required_argument, NULL, 'd'},
	        {"out", required_argument, NULL, 'o'},
	        {"time", required_argument, NULL, 't'},
	        {"procs", required_argument, NULL, 'p'},
	        {"proc-base", required_argument, NULL, 'b'},
	        {"seed", required_argument, NULL, 's'},
	        {"timeout-ms", required_argument, NULL, 'T'},
	        {"hold-ms", required_argument, NULL, 'H'},
	        {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			time_s = atof(optarg);
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 'b':
			proc_base = atoi(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'T':
			timeout_ms = atoi(optarg);
			break;
		case 'H':
			hold_ms = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: fault-locker --dir MOUNT --out HISTORY [--time S] "
			                "[--procs N] [--proc-base B] [--seed S] [--timeout-ms MS] "
			                "[--hold-ms MS]\n");
			return 2;
		}
	}
	if (dir == NULL || out == NULL || procs < 1 || hold_ms < 1 || timeout_ms < 1) {
		fprintf(stderr, "fault-locker: --dir and --out are required\n");
		return 2;
	}
	for (int i = 0; i < procs; i++) {
		pid_t p = fork();
		if (p < 0) {
			perror("fork");
			return 1;
		}
		if (p == 0) {
			char path[4096];
			snprintf(path, sizeof(path), "%s.%d", out, proc_base + i);
			FILE *hist = fopen(path, "a");
			if (hist == NULL) {
				perror(path);
				_exit(1);
			}
			proc_main(proc_base + i, hist);
			fclose(hist);
			_exit(0);
		}
	}
	int status, rc = 0;
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	return rc;
}
