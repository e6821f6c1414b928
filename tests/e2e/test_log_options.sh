#!/usr/bin/env bash
# test_log_options.sh: --log-level sets the least level written, --log-file
# sends a foreground daemon's lines to a file, and bad log options are
# refused at start with a usage error. (--syslog is not run here: test
# machines have no syslog daemon; docs/operations.md says what it does.)
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3 --log-level warn
m1=$(qfs_mnt 1)
echo v >"$m1/k"
check '[ "$(cat "$(qfs_mnt 2)/k")" = v ]' "the cluster works at --log-level warn"
check '! grep -q " info \| debug " "$QFS_TMP"/log.*' "no info or debug line is written at warn"

# Node 1 again, at debug, into a file of its own.
qfs_stop 1
: >"$QFS_TMP/log.1"
qfs_start 1 --log-level debug --log-file "$QFS_TMP/custom.log"
echo w >"$m1/k"
check 'eventually 10 grep -q " debug node 1" "$QFS_TMP/custom.log"' "--log-level debug writes debug lines"
check 'grep -q " info node 1: mounted at" "$QFS_TMP/custom.log"' "--log-file takes the lines of a foreground daemon"
check '[ ! -s "$QFS_TMP/log.1" ]' "and nothing goes to stderr"

# Refused at start.
out=$("$QUORUMFS" -f -c "$QFS_TMP/cluster.conf" -i 1 -d "$QFS_TMP/nodata" --log-level loud "$QFS_TMP/mnt/1" 2>&1)
rc=$?
check '[ $rc = 2 ] && [[ "$out" == *"--log-level takes debug, info, warn or error"* ]]' "a bad level is a usage error ($rc: $out)"
out=$("$QUORUMFS" -f -c "$QFS_TMP/cluster.conf" -i 1 -d "$QFS_TMP/nodata" --syslog --log-file x "$QFS_TMP/mnt/1" 2>&1)
rc=$?
check '[ $rc = 2 ] && [[ "$out" == *"one destination only"* ]]' "--syslog with --log-file is refused ($rc: $out)"
exit $((QFS_FAILS > 0))
