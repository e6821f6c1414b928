/* log.h: one-line log records to stderr, with level and node prefix. */
#ifndef QUORUMFS_LOG_H
#define QUORUMFS_LOG_H

enum qfs_log_level { QFS_LOG_DEBUG, QFS_LOG_INFO, QFS_LOG_WARN, QFS_LOG_ERROR };

/* Sets the least level printed (default QFS_LOG_INFO). Not thread-safe: call at start. */
void qfs_log_set_level(enum qfs_log_level level);

/* Sets a short prefix (e.g. "node 2") printed on every line; copied. */
void qfs_log_set_prefix(const char *prefix);

/* Prints one line "TIME LEVEL PREFIX: message\n" with a single write(2), so
 * lines from threads never interleave. */
void qfs_log(enum qfs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define qfs_debug(...) qfs_log(QFS_LOG_DEBUG, __VA_ARGS__)
#define qfs_info(...)  qfs_log(QFS_LOG_INFO, __VA_ARGS__)
#define qfs_warn(...)  qfs_log(QFS_LOG_WARN, __VA_ARGS__)
#define qfs_error(...) qfs_log(QFS_LOG_ERROR, __VA_ARGS__)

#endif
