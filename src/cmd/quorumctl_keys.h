/* quorumctl_keys.h: the key subcommands of quorumctl (get, put, rm, ls, wait, watch). */
#ifndef QUORUMFS_QUORUMCTL_KEYS_H
#define QUORUMFS_QUORUMCTL_KEYS_H

#include <stdbool.h>

/* True if @cmd is one of the key subcommands. */
bool quorumctl_is_key_command(const char *cmd);

/*
 * quorumctl_keys - run key subcommand argv[0] with its arguments and options
 * (argv[1..argc-1]) against the daemon of @data_dir (NULL: -d must follow).
 * @timeout_s: -t as given before the command, or <= 0.
 * Returns the exit status: 0, 1 (no such key; a condition or a wait that did
 * not hold), 2 (any other error, said on stderr); watch: 3 when the changes
 * it must resume from were compacted away.
 */
int quorumctl_keys(const char *data_dir, int timeout_s, int argc, char **argv);

#endif
