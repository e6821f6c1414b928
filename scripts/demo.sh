#!/usr/bin/env bash
# demo.sh: build quorumfs and start a local 3-node cluster under ./demo, each
# node mounted at ./demo/mnt/N; show a key written on one node read on the
# others, and leave the cluster running.
#
#   scripts/demo.sh         start (installs what is missing, builds)
#   scripts/demo.sh stop    unmount and stop everything it started
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
demo=$root/demo
build=${QFS_BUILD:-$root/build}
quorumfs=$build/src/cmd/quorumfs
quorumctl=$build/src/cmd/quorumctl
nodes=(1 2 3)

is_mounted() { awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { f = 1 } END { exit !f }' /proc/mounts; }

stop_cluster() {
	local i pid t
	for i in "${nodes[@]}"; do
		pid=$(cat "$demo/run/$i.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			t=0
			while kill -0 "$pid" 2>/dev/null && [ $t -lt 100 ]; do
				sleep 0.1
				t=$((t + 1))
			done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		fi
		rm -f "$demo/run/$i.pid"
		if is_mounted "$demo/mnt/$i"; then
			fusermount3 -u "$demo/mnt/$i" 2>/dev/null || fusermount3 -u -z "$demo/mnt/$i"
		fi
	done
}

if [ "${1:-start}" = stop ]; then
	stop_cluster
	echo "demo stopped: no quorumfs process or mount left from ./demo (data kept in ./demo/data)"
	exit 0
fi

"$root/scripts/install-deps.sh"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null

# A running demo is stopped first, so the script can be run again.
stop_cluster
mkdir -p "$demo/run"
[ -f "$demo/cluster.key" ] || "$quorumctl" keygen "$demo/cluster.key"
cat >"$demo/cluster.conf" <<CONF
[cluster]
name = demo
key-file = cluster.key
heartbeat-ms = 50
election-ms = 500
commit-timeout-ms = 5000

[node 1]
address = 127.0.0.1:7001
http-address = 127.0.0.1:7101
[node 2]
address = 127.0.0.1:7002
http-address = 127.0.0.1:7102
[node 3]
address = 127.0.0.1:7003
http-address = 127.0.0.1:7103
CONF

for i in "${nodes[@]}"; do
	mkdir -p "$demo/mnt/$i" "$demo/data/$i"
	# Without -f the daemon detaches once its mount is ready.
	"$quorumfs" -c "$demo/cluster.conf" -i "$i" -d "$demo/data/$i" \
		--pid-file "$demo/run/$i.pid" --log-file "$demo/run/$i.log" "$demo/mnt/$i"
done

echo "waiting for a leader..."
for _ in $(seq 1 100); do
	"$quorumctl" -d "$demo/data/1" status 2>/dev/null | grep -q '^leader: *[1-9]' && break
	sleep 0.1
done
"$quorumctl" -d "$demo/data/1" status

echo
echo "\$ mkdir -p demo/mnt/1/app && echo 'db.example.internal' > demo/mnt/1/app/db_host"
mkdir -p "$demo/mnt/1/app"
echo 'db.example.internal' >"$demo/mnt/1/app/db_host"
for i in 2 3; do
	echo "\$ cat demo/mnt/$i/app/db_host"
	cat "$demo/mnt/$i/app/db_host"
done

cat <<TXT

The cluster is running. Try:
  echo hello > demo/mnt/2/greeting; cat demo/mnt/3/greeting
  $quorumctl -d demo/data/1 status
  cat demo/mnt/1/.quorumfs/members
  $quorumctl -d demo/data/3 get /app/db_host
  kill -9 \$(cat demo/run/1.pid)        # the others go on
The cluster's page: http://127.0.0.1:7101/ (also :7102, :7103; metrics at /metrics).
Logs are in demo/run/N.log. Stop it all with:
  scripts/demo.sh stop
TXT
