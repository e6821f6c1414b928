#!/usr/bin/env bash
# test_log_options.sh: --log-level sets the least level written, --log-file
# sends a foreground daemon's lines to a file, and bad log options are
# refused at start with a usage error. --syslog is checked where the machine
# runs no syslog daemon (no /dev/log): a listener of the test's own then holds
# /dev/log for the check and removes it after, also when the test fails.
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

# Node 1 again, to syslog: every line as one datagram with the daemon's
# ident and the level as its priority (LOG_DAEMON | LOG_INFO = <30>).
if [ -e /dev/log ]; then
	qfs_log "SKIP --syslog: /dev/log belongs to this machine's syslog daemon"
else
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n")
' "$QFS_TMP/syslog.out" &
	listener=$!
	trap 'rc=$?; kill "$listener" 2>/dev/null; rm -f /dev/log; (exit $rc); qfs_cleanup' EXIT
	eventually 10 test -S /dev/log
	qfs_stop 1
	: >"$QFS_TMP/log.1"
	qfs_start 1 --syslog
	echo s >"$m1/k"
	check 'eventually 10 grep -q "^<30>.*quorumfs\[[0-9]*\]: node 1: mounted at" "$QFS_TMP/syslog.out"' \
		"--syslog sends the daemon's lines to syslog, with its ident and pid"
	check '! grep -q "mounted at" "$QFS_TMP/log.1"' "and nothing to stderr"
	qfs_stop 1
	kill "$listener" 2>/dev/null
	wait "$listener" 2>/dev/null
	rm -f /dev/log
fi

# Refused at start.
out=$("$QUORUMFS" -f -c "$QFS_TMP/cluster.conf" -i 1 -d "$QFS_TMP/nodata" --log-level loud "$QFS_TMP/mnt/1" 2>&1)
rc=$?
check '[ $rc = 2 ] && [[ "$out" == *"--log-level takes debug, info, warn or error"* ]]' "a bad level is a usage error ($rc: $out)"
out=$("$QUORUMFS" -f -c "$QFS_TMP/cluster.conf" -i 1 -d "$QFS_TMP/nodata" --syslog --log-file x "$QFS_TMP/mnt/1" 2>&1)
rc=$?
check '[ $rc = 2 ] && [[ "$out" == *"one destination only"* ]]' "--syslog with --log-file is refused ($rc: $out)"
exit $((QFS_FAILS > 0))
