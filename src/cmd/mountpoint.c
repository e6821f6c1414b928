/* mountpoint.c: find and clear a FUSE mount left behind by a killed daemon. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mountpoint.h"

/* /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int qfs_fuse_mounted_at(const char *path)
{
	char line[4096];
	int found = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root MOUNTPOINT options ... - FSTYPE source ... */
		char *save = NULL, *mp = NULL, *tok;
		int field = 0;
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (++field == 5)
				mp = tok;
			if (strcmp(tok, "-") == 0) {
				char *fstype = strtok_r(NULL, " ", &save);
				if (mp && fstype && strncmp(fstype, "fuse", 4) == 0) {
					unescape(mp);
					if (strcmp(mp, path) == 0)
						found = 1;
				}
				break;
			}
		}
	}
	fclose(f);
	return found;
}

/*
 * Whether the mount at @path answers. The stat runs in a child so that a
 * stopped daemon (SIGSTOP) cannot hang us: ENOTCONN means its daemon is gone.
 * Returns 1 (answers), 0 (dead: ENOTCONN), -ETIMEDOUT (no answer in 2 s).
 */
static int probe(const char *path)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct stat st;
		if (stat(path, &st) == 0)
			_exit(0);
		_exit(errno == ENOTCONN ? 1 : 2);
	}
	for (int i = 0; i < 200; i++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 1 ? 0 : 1;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -ETIMEDOUT;
}

int qfs_clear_stale_mount(const char *path, char *err, size_t errlen)
{
	int rc = qfs_fuse_mounted_at(path);
	if (rc <= 0)
		return rc;
	rc = probe(path);
	if (rc == 1) {
		snprintf(err, errlen, "%s is already mounted by a running file system", path);
		return -EBUSY;
	}
	if (rc < 0) {
		snprintf(err, errlen,
		         "%s is mounted by a daemon that does not answer (stopped?); "
		         "unmount it with fusermount3 -u -z %s",
		         path, path);
		return -EBUSY;
	}
	/* Dead: lazily unmount it; fusermount3 is setuid and works for users too. */
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "-q", path, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "%s: a dead mount is left and fusermount3 -u -z failed",
		         path);
		return -EIO;
	}
	return 1;
}
