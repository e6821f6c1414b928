# lib.sh: start, fault and stop real quorumfs clusters (daemons + mounts) for
# end-to-end tests. Sourced by tests/e2e/test_*.sh. Everything it starts is
# recorded by PID and torn down on exit, also when a test fails: mounts are
# unmounted, daemons killed by PID (never by name), the temp dir removed.
#
#   qfs_cluster_start N [OPTIONS]  N nodes on 127.0.0.1, mounted, leader elected
#   qfs_mnt I                      mount point of node I
#   qfs_kill I / qfs_stop I        SIGKILL (and lazy-unmount) / SIGTERM node I
#   qfs_start I [OPTIONS]          (re)start node I on its data directory
#   qfs_leader                     id of the current leader (from node status)
#   qfs_http_addr I                node I's http-address (with QFS_HTTP=1)
#   qfs_wait_leader [SECONDS]      until some node reports a leader
#   check COND MESSAGE / fail MESSAGE / eventually SECONDS CMD...

set -u
QFS_ROOT=${QFS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
QFS_BUILD=${QFS_BUILD:-$QFS_ROOT/build}
QUORUMFS=$QFS_BUILD/src/cmd/quorumfs
QUORUMCTL=$QFS_BUILD/src/cmd/quorumctl
QFS_TMP=""
QFS_N=0
QFS_FAILS=0
declare -A QFS_PID=()

qfs_log() { printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2; }

fail() {
	qfs_log "FAIL: $*"
	QFS_FAILS=$((QFS_FAILS + 1))
}

# check 'test expression' 'what it means'
check() {
	if eval "$1"; then
		qfs_log "ok: $2"
	else
		fail "$2 ($1)"
	fi
}

# eventually SECONDS CMD...: retry CMD every 0.1 s until it succeeds.
eventually() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@" 2>/dev/null; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

qfs_require_fuse() {
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
		echo "skip: no /dev/fuse or fusermount3" >&2
		exit 77
	fi
	if [ ! -x "$QUORUMFS" ]; then
		echo "quorumfs not built at $QUORUMFS" >&2
		exit 1
	fi
}

qfs_mnt() { echo "$QFS_TMP/mnt/$1"; }
qfs_data() { echo "$QFS_TMP/data/$1"; }

# Is a FUSE file system mounted at $1? Reads /proc/mounts: never touches the
# mount itself, which could hang if its daemon is stopped.
qfs_is_mounted() {
	awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { found = 1 } END { exit !found }' /proc/mounts
}

qfs_unmount() {
	local m=$1
	qfs_is_mounted "$m" || return 0
	fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || true
}

qfs_cleanup() {
	local rc=$?
	set +e
	for i in "${!QFS_PID[@]}"; do
		kill -TERM "${QFS_PID[$i]}" 2>/dev/null
	done
	for i in "${!QFS_PID[@]}"; do
		local p=${QFS_PID[$i]} t=0
		while kill -0 "$p" 2>/dev/null && [ $t -lt 50 ]; do
			sleep 0.1
			t=$((t + 1))
		done
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$QFS_TMP" ]; then
		for m in "$QFS_TMP"/mnt/*; do
			[ -d "$m" ] && qfs_unmount "$m"
		done
		if [ $QFS_FAILS -gt 0 ] || [ $rc -ne 0 ]; then
			for l in "$QFS_TMP"/log.*; do
				[ -f "$l" ] && { echo "--- $l (last 30 lines)" >&2; tail -n 30 "$l" >&2; }
			done
		fi
		rm -rf "$QFS_TMP"
	fi
	QFS_PID=()
}
# qfs_join I [CONFIG LINES...]: name node I in the cluster's config (at the
# next free port of this test, with CONFIG LINES in its section), start it on
# an empty data directory with --join through node 1, and add it with
# quorumctl through node 1 (learner, catch-up, promotion). Prints what
# quorumctl printed; returns its status. Not inside $(...): the node's PID is
# recorded in this shell (redirect the output to a file instead).
qfs_join() {
	local i=$1 port port1 line
	shift
	port=$(($(qfs_base_port) + i))
	{
		printf '[node %d]\naddress = 127.0.0.1:%d\n' "$i" "$port"
		for line in "$@"; do printf '%s\n' "$line"; done
	} >>"$QFS_TMP/cluster.conf"
	port1=$(sed -n '/^\[node 1\]/{n;s/^address = //p}' "$QFS_TMP/cluster.conf")
	mkdir -p "$(qfs_mnt "$i")" "$(qfs_data "$i")"
	qfs_start "$i" --join "$port1"
	"$QUORUMCTL" -d "$(qfs_data 1)" add "$i" "127.0.0.1:$port" --timeout 60 2>&1
}

# qfs_metric I NAME: the value of metric NAME (its exact series, labels and
# all) in node I's /metrics (with QFS_HTTP=1), empty if absent.
qfs_metric() {
	curl -sf --max-time 5 "http://$(qfs_http_addr "$1")/metrics" |
		awk -v name="$2" '$1 == name {print $2}'
}

# qfs_rounds N W NAME: N overwrites of NAME through node W's mount, each read
# back on W's mount and then on every node's, in the same process, the moment
# close(2) returns: a read that did not wait for what it must (the apply, a
# lease's floor) sees the round before. Prints the number of reads that did
# not match (and each one on stderr).
qfs_rounds() {
	local mounts=() i
	for i in $(seq 1 "$QFS_N"); do mounts+=("$(qfs_mnt "$i")"); done
	python3 - "$1" "$2" "$3" "$(qfs_mnt "$2")" "${mounts[@]}" <<'PY'
import sys
n, w, name, mine, others = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
bad = 0
for i in range(1, n + 1):
    want = "round %d from node %s\n" % (i, w)
    with open(mine + "/" + name, "w") as f:
        f.write(want)
    for m in [mine] + others:
        with open(m + "/" + name) as f:
            got = f.read()
        if got != want:
            print("%s read %r after round %d" % (m, got, i), file=sys.stderr)
            bad += 1
print(bad)
PY
}

# The watchdog: a test still running after QFS_WATCHDOG_S seconds (below meson's
# 300 s timeout, which kills without a trace) says what it is waiting for (the
# process tree with the kernel function each process sleeps in), then stops the
# test's children and the test itself, so that the cleanup still unmounts and
# prints the end of every daemon's log.
QFS_WATCHDOG_PID=""
qfs_watchdog_start() {
	local main=$$ secs=${QFS_WATCHDOG_S:-240} born
	born=$(awk '{print $22}' /proc/$$/stat)
	(
		trap - EXIT INT TERM PIPE
		# One-second steps, so that the watchdog ends soon after the test does (a
		# test whose own EXIT trap never stops it) and never outlives it to signal
		# a process that took over its PID (the start time must match too).
		for ((t = 0; t < secs; t++)); do
			sleep 1
			[ "$(awk '{print $22}' /proc/$main/stat 2>/dev/null)" = "$born" ] || exit 0
		done
		{
			echo "FAIL: watchdog: $(basename "$0") still running after $secs s; its processes:"
			ps -o pid,ppid,stat,wchan:24,etime,args --ppid "$main" --pid "$main"
		} >&2
		kill -TERM "$main" 2>/dev/null
		pkill -TERM -P "$main" 2>/dev/null
	) &
	QFS_WATCHDOG_PID=$!
}
# Kill the watchdog itself (its default TERM ends it at once, even in a sleep).
qfs_watchdog_stop() {
	[ -n "$QFS_WATCHDOG_PID" ] || return 0
	kill "$QFS_WATCHDOG_PID" 2>/dev/null
	wait "$QFS_WATCHDOG_PID" 2>/dev/null
	QFS_WATCHDOG_PID=""
}
qfs_watchdog_start

trap 'qfs_cleanup; qfs_watchdog_stop' EXIT
# A signal that would kill the shell outright skips the EXIT trap: turn each
# into an exit, so the cleanup always runs.
trap 'exit 130' INT TERM
trap 'exit 141' PIPE

# A base port for this test's nodes: below Linux's ephemeral range (32768
# and up, where outgoing connections take their local ports), derived from
# the process id so parallel tests differ, and moved on while any of the ten
# ports is taken. Chosen once per test.
QFS_BASE_PORT=""
qfs_pick_base_port() {
	local base=$((20000 + ($$ % 1200) * 10)) tries=0
	while [ $tries -lt 1200 ]; do
		if ! ss -Htan | awk '{print $4}' | grep -qE ":$((base / 10))[0-9]\$"; then
			break
		fi
		base=$((base + 10))
		[ $base -ge 32000 ] && base=20000
		tries=$((tries + 1))
	done
	QFS_BASE_PORT=$base
}
qfs_base_port() { echo "$QFS_BASE_PORT"; }
qfs_http_addr() { echo "127.0.0.1:$((QFS_BASE_PORT + 5 + $1))"; }

# qfs_cluster_start N [daemon options]: write a config, a key, start N nodes.
qfs_cluster_start() {
	local n=$1
	shift
	qfs_require_fuse
	QFS_TMP=$(mktemp -d /tmp/qfs-e2e.XXXXXX)
	QFS_N=$n
	local port
	qfs_pick_base_port
	port=$QFS_BASE_PORT
	mkdir -p "$QFS_TMP/mnt" "$QFS_TMP/data"
	"$QUORUMCTL" keygen "$QFS_TMP/cluster.key" >/dev/null || return 1
	{
		echo "[cluster]"
		echo "name = e2e"
		echo "key-file = cluster.key"
		echo "heartbeat-ms = ${QFS_HEARTBEAT_MS:-50}"
		echo "election-ms = ${QFS_ELECTION_MS:-500}"
		echo "commit-timeout-ms = ${QFS_COMMIT_TIMEOUT_MS:-3000}"
		echo "max-value-size = ${QFS_MAX_VALUE_SIZE:-1M}"
		echo "session-lease-ms = ${QFS_SESSION_LEASE_MS:-15000}"
		# Extra [cluster] lines (hooks, verify-interval), one per line.
		[ -n "${QFS_CLUSTER_EXTRA:-}" ] && printf '%s\n' "$QFS_CLUSTER_EXTRA"
		for i in $(seq 1 "$n"); do
			echo "[node $i]"
			echo "address = 127.0.0.1:$((port + i))"
			# QFS_HTTP=1: an HTTP endpoint per node, on the test's ports
			# 5 and up (qfs_http_addr); at most 4 nodes then.
			[ -n "${QFS_HTTP:-}" ] && echo "http-address = $(qfs_http_addr "$i")"
		done
	} >"$QFS_TMP/cluster.conf"
	for i in $(seq 1 "$n"); do
		mkdir -p "$(qfs_mnt "$i")" "$(qfs_data "$i")"
		qfs_start "$i" "$@" || return 1
	done
	qfs_wait_leader 30 || { fail "no leader within 30 s"; return 1; }
}

# qfs_start I [options]: start node I in the foreground mode, in the background.
qfs_start() {
	local i=$1
	shift
	local m
	m=$(qfs_mnt "$i")
	"$QUORUMFS" -f -c "$QFS_TMP/cluster.conf" -i "$i" -d "$(qfs_data "$i")" "$@" "$m" \
		>>"$QFS_TMP/log.$i" 2>&1 &
	QFS_PID[$i]=$!
	if ! eventually 20 qfs_is_mounted "$m"; then
		fail "node $i did not mount within 20 s"
		return 1
	fi
}

qfs_kill() {
	local i=$1
	kill -KILL "${QFS_PID[$i]}" 2>/dev/null
	wait "${QFS_PID[$i]}" 2>/dev/null
	unset "QFS_PID[$i]"
	qfs_unmount "$(qfs_mnt "$i")"
}

qfs_stop() {
	local i=$1
	kill -TERM "${QFS_PID[$i]}" 2>/dev/null
	wait "${QFS_PID[$i]}" 2>/dev/null
	unset "QFS_PID[$i]"
	qfs_unmount "$(qfs_mnt "$i")"
}

qfs_status() { "$QUORUMCTL" -d "$(qfs_data "$1")" status --json 2>/dev/null; }

# The leader id as some live node reports it, or nothing.
qfs_leader() {
	local i l
	for i in "${!QFS_PID[@]}"; do
		l=$(qfs_status "$i" | sed -n 's/.*"leader": *\([0-9]*\).*/\1/p')
		if [ -n "$l" ] && [ "$l" != 0 ]; then
			echo "$l"
			return 0
		fi
	done
	return 1
}

qfs_wait_leader() { eventually "${1:-30}" qfs_leader >/dev/null; }
