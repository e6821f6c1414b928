/* log.h: one-line log records to stderr, each naming its source once. */
#ifndef QUORUMFS_LOG_H
#define QUORUMFS_LOG_H

/*
 * A line reads "TIME LEVEL SOURCE: message". The source is named once:
 * either the process (the prefix set by main, e.g. "node 2" in the daemon,
 * for the lines of src/cmd and fuse/), or the object a layer logs about,
 * through that layer's one logging call, which adds the context it has:
 * node__log() in src/node ("node 2"), net__log() in src/net ("node 2 net").
 * Such a line carries no process prefix, so a process that runs several
 * nodes (the unit tests) still tells them apart. A line that reports a
 * failure carries the failing layer's own message (store_errmsg(),
 * fsm_errmsg()) after the error's text.
 */

enum qfs_log_level { QFS_LOG_DEBUG, QFS_LOG_INFO, QFS_LOG_WARN, QFS_LOG_ERROR };

/* Sets the least level printed (default QFS_LOG_INFO). Not thread-safe: call at start. */
void qfs_log_set_level(enum qfs_log_level level);

/* Sends every line to syslog(3) (facility daemon, the level as its
 * priority, @ident as its identity) instead of stderr, from now on. Call
 * at start, before threads log. */
void qfs_log_to_syslog(const char *ident);

/* Sets a short prefix (e.g. "node 2") printed on every line; copied. */
void qfs_log_set_prefix(const char *prefix);

/* Prints one line "TIME LEVEL PREFIX: message\n" with a single write(2), so
 * lines from threads never interleave. */
void qfs_log(enum qfs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same line with @source (e.g. "node 2 net") in place of the process
 * prefix: the one call under each layer's logging macro. */
void qfs_logs(enum qfs_log_level level, const char *source, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define qfs_debug(...) qfs_log(QFS_LOG_DEBUG, __VA_ARGS__)
#define qfs_info(...)  qfs_log(QFS_LOG_INFO, __VA_ARGS__)
#define qfs_warn(...)  qfs_log(QFS_LOG_WARN, __VA_ARGS__)
#define qfs_error(...) qfs_log(QFS_LOG_ERROR, __VA_ARGS__)

#endif
