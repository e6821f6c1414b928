#!/usr/bin/env bash
# test_http.sh: each node's HTTP endpoint (http-address): /status is the JSON
# of `quorumctl status --json`; /metrics is Prometheus text with the Raft
# gauges, proposals by outcome, the latency histograms, bytes per peer,
# snapshots and FUSE requests by operation and errno; / is one page that
# headless Chromium shows with three members and one leader, and with the
# new leader after the old one is killed. The screenshots are kept in the
# build directory's meson-logs/.
. "$(dirname "$0")/lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	echo "chromium is missing: scripts/install-deps.sh installs it" >&2
	exit 1
fi
QFS_HTTP=1
qfs_cluster_start 3
ART=$QFS_BUILD/meson-logs
mkdir -p "$ART"

# An HTTP GET of node I's PATH, bounded in time.
get() { curl -sf --max-time 5 "http://$(qfs_http_addr "$1")$2"; }

# browser URL ARGS...: headless Chromium, a fresh profile, loopback only.
browser() {
	local url=$1 profile
	shift
	profile=$(mktemp -d "$QFS_TMP/chromium.XXXXXX")
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update --disable-sync \
		--no-first-run --user-data-dir="$profile" --virtual-time-budget=5000 "$@" "$url" \
		2>>"$QFS_TMP/chromium.log"
	rm -rf "$profile"
}

# settled_dom NODE PATTERN...: the page's DOM from node NODE, loaded again (up to four
# times) until it holds every PATTERN: the page gathers the members' status
# itself, and on a slow machine the first load can be dumped before it has.
settled_dom() {
	local node=$1 d try p all
	shift
	for try in 1 2 3 4; do
		d=$(browser "http://$(qfs_http_addr "$node")/" --dump-dom)
		all=1
		for p in "$@"; do grep -qF "$p" <<<"$d" || all=0; done
		[ $all = 1 ] && break
		qfs_log "page on node $node not settled yet (load $try)"
	done
	printf '%s' "$d"
}

m1=$(qfs_mnt 1)
for i in 1 2 3 4 5; do echo "v$i" >"$m1/k$i"; done
cat "$m1/missing" 2>/dev/null
leader=$(qfs_leader)

# /status: the same JSON as quorumctl, on every node.
for i in 1 2 3; do
	http=$(get "$i" /status)
	ctl=$(qfs_status "$i")
	check '[ "$(jq -c "{id,members:[.members[].id]}" <<<"$http")" = "$(jq -c "{id,members:[.members[].id]}" <<<"$ctl")" ]' \
		"node $i: /status and quorumctl status --json name the same node and members"
	check '[ "$(jq -r "keys|join(\",\")" <<<"$http")" = "$(jq -r "keys|join(\",\")" <<<"$ctl")" ]' \
		"node $i: /status has the same fields as quorumctl status --json"
	check 'eventually 15 sh -c "curl -sf --max-time 5 http://$(qfs_http_addr "$i")/status | jq -e \".leader == $leader\" >/dev/null"' \
		"node $i: /status names leader $leader"
done
check '[ "$(curl -s -o /dev/null -w "%{http_code}" "http://$(qfs_http_addr 1)/nothing")" = 404 ]' "an unknown path is 404"
check '[ "$(curl -s -o /dev/null -w "%{http_code}" -X POST "http://$(qfs_http_addr 1)/status")" = 405 ]' "a POST is 405"

# /metrics on the node that wrote.
metrics=$(get 1 /metrics)
for name in quorumfs_raft_term quorumfs_raft_commit_index quorumfs_raft_applied_index \
	quorumfs_raft_leader_changes_total 'quorumfs_proposals_total{outcome="ok"}' \
	quorumfs_commit_latency_seconds_bucket quorumfs_commit_latency_seconds_count \
	quorumfs_fsync_latency_seconds_bucket quorumfs_peer_sent_bytes_total \
	quorumfs_peer_received_bytes_total quorumfs_snapshots_sent_total \
	quorumfs_snapshots_installed_total quorumfs_fuse_requests_total \
	quorumfs_verify_mismatches_total; do
	check 'grep -qF "$name" <<<"$metrics"' "/metrics has $name"
done
ok=$(awk '$1 == "quorumfs_proposals_total{outcome=\"ok\"}" {print $2}' <<<"$metrics")
check '[ "${ok:-0}" -ge 5 ]' "five writes counted as ok proposals ($ok)"
count=$(awk '$1 == "quorumfs_commit_latency_seconds_count" {print $2}' <<<"$metrics")
check '[ "${count:-0}" -ge 5 ]' "and observed in the commit latency histogram ($count)"
check 'grep -qE "^quorumfs_fuse_requests_total\{op=\"lookup\",errno=\"ENOENT\"\} [1-9]" <<<"$metrics"' \
	"the failed lookup is counted with its errno"
check 'grep -qE "^quorumfs_fuse_requests_total\{op=\"write\",errno=\"0\"\} [1-9]" <<<"$metrics"' \
	"the writes are counted"
lmetrics=$(get "$leader" /metrics)
for p in 1 2 3; do
	[ "$p" = "$leader" ] && continue
	check 'grep -qE "^quorumfs_peer_sent_bytes_total\{peer=\"$p\"\} [1-9]" <<<"$lmetrics"' \
		"the leader counts bytes sent to peer $p"
	check 'grep -qE "^quorumfs_peer_received_bytes_total\{peer=\"$p\"\} [1-9]" <<<"$lmetrics"' \
		"and received from it"
done
check '[ "$(awk "\$1 == \"quorumfs_raft_term\" {print \$2}" <<<"$metrics")" -ge 1 ]' "a term gauge"
check 'grep -q "^# TYPE quorumfs_commit_latency_seconds histogram" <<<"$metrics"' "histograms are typed"

# The page, in a browser.
dom=$(settled_dom 1 'data-members="3"' 'data-reachable="3"' "data-leader=\"$leader\"")
check 'grep -q "data-members=\"3\"" <<<"$dom"' "the page shows three members"
check '[ "$(grep -o "class=\"card leader\"" <<<"$dom" | wc -l)" = 1 ]' "and one leader"
check 'grep -q "data-leader=\"$leader\"" <<<"$dom"' "the leader it marks is node $leader"
check 'grep -q "data-reachable=\"3\"" <<<"$dom"' "all three reachable"
browser "http://$(qfs_http_addr 1)/" --window-size=412,915 --screenshot="$ART/status-page-3-members.png" >/dev/null
check '[ -s "$ART/status-page-3-members.png" ]' "screenshot kept: $ART/status-page-3-members.png"

# Kill the leader: the page (from a survivor) shows the new one.
qfs_kill "$leader"
survivor=$(for i in 1 2 3; do [ "$i" != "$leader" ] && echo "$i"; done | head -1)
new_leader=""
newl() {
	local l
	l=$(get "$survivor" /status | jq -r .leader)
	[ -n "$l" ] && [ "$l" != 0 ] && [ "$l" != "$leader" ] && new_leader=$l
}
check 'eventually 20 newl' "a new leader after killing $leader"
newl
qfs_log "new leader: $new_leader"
dom=$(settled_dom "$survivor" "data-leader=\"$new_leader\"" 'data-reachable="2"' \
	"data-member=\"$leader\" data-role=\"unreachable\"")
check 'grep -q "data-leader=\"$new_leader\"" <<<"$dom"' "the page on node $survivor shows new leader $new_leader"
check '[ "$(grep -o "class=\"card leader\"" <<<"$dom" | wc -l)" = 1 ]' "still one leader"
check 'grep -q "data-reachable=\"2\"" <<<"$dom"' "and two of three reachable"
check 'grep -q "data-member=\"$leader\" data-role=\"unreachable\"" <<<"$dom"' "the killed node shows as unreachable"
browser "http://$(qfs_http_addr "$survivor")/" --window-size=412,915 --screenshot="$ART/status-page-new-leader.png" >/dev/null
check '[ -s "$ART/status-page-new-leader.png" ]' "screenshot kept: $ART/status-page-new-leader.png"
exit $((QFS_FAILS > 0))
