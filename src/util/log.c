/* log.c: one-line log records to stderr, written atomically. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "quorumfs/log.h"

static enum qfs_log_level min_level = QFS_LOG_INFO;
static char log_prefix[64];
static int to_syslog; /* qfs_log_to_syslog() was called */

void qfs_log_set_level(enum qfs_log_level level)
{
	min_level = level;
}

void qfs_log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = 1;
}

void qfs_log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ? prefix : "");
}

static void vlog(enum qfs_log_level level, const char *source, const char *fmt, va_list ap)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int k;

	if (level < min_level)
		return;
	if (source == NULL)
		source = log_prefix;
	if (to_syslog) {
		/* syslog stamps the time itself; the level is its priority. */
		static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
		k = snprintf(line, sizeof(line), "%s%s", source, source[0] ? ": " : "");
		n = k > 0 && (size_t)k < sizeof(line) ? (size_t)k : 0;
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		syslog(prio[level], "%s", line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s%s", ts.tv_nsec / 1000000,
	             names[level], source, source[0] ? ": " : "");
	n += k > 0 ? (size_t)k : 0;
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = (k > 0 && n + (size_t)k < sizeof(line) - 1) ? n + (size_t)k : sizeof(line) - 2;
	line[n++] = '\n';
	/* One write: lines from several threads never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void qfs_log(enum qfs_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void qfs_logs(enum qfs_log_level level, const char *source, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, source, fmt, ap);
	va_end(ap);
}
