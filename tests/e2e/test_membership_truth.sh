#!/usr/bin/env bash
# test_membership_truth.sh: quorumctl add, remove and transfer return once
# their change is committed and refuse at once what cannot work. A 3-node
# cluster grows to 5, refuses a removal that would leave no reachable
# majority, removes its leader, moves leadership and shrinks back to 3,
# while a writer goes on through the mounts: no acknowledged write is lost.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3
base=$(qfs_base_port)
addr() { echo "127.0.0.1:$((base + $1))"; }
ctl() { local i=$1; shift; "$QUORUMCTL" -d "$(qfs_data "$i")" "$@"; }
voters() { ctl "$1" status | grep -c ' voter '; }
mkdir -p "$(qfs_mnt 1)/w"

# The writer: file N through the mounts in $QFS_TMP/mounts, round robin;
# N goes to acked once its write returned success. Each ack is then read
# back through the next mount: a read that answers must see it.
printf '%s\n' "$(qfs_mnt 1)" "$(qfs_mnt 2)" "$(qfs_mnt 3)" >"$QFS_TMP/mounts"
: >"$QFS_TMP/acked"
: >"$QFS_TMP/stale"
writer() {
	local i=0 m n r
	# Ends with the test, also when the test fails and its cleanup removes
	# $QFS_TMP (the stop file can then never appear).
	while [ -d "$QFS_TMP" ] && [ ! -e "$QFS_TMP/stop" ]; do
		i=$((i + 1))
		mapfile -t ms <"$QFS_TMP/mounts"
		n=${#ms[@]}
		m=${ms[$((i % n))]}
		if timeout 10 sh -c "echo v$i >'$m/w/$i'" 2>/dev/null; then
			echo "$i" >>"$QFS_TMP/acked"
			r=${ms[$(((i + 1) % n))]}
			if v=$(timeout 10 cat "$r/w/$i" 2>/dev/null) && [ "$v" != "v$i" ]; then
				echo "$i via $r: '$v'" >>"$QFS_TMP/stale"
			fi
		fi
		sleep 0.05
	done
}
writer &
writer_pid=$!
trap 'rc=$?; kill "$writer_pid" 2>/dev/null; (exit $rc); qfs_cleanup' EXIT
# reachable L I: leader L hears node I and I has caught up (what a removal
# that counts reachable voters looks at).
reachable() {
	qfs_status "$1" | jq -e --argjson id "$2" \
		'any(.members[]; .id == $id and .contact == "ok" and .lag == 0)' >/dev/null
}

# Grow to 5.
for i in 4 5; do
	printf '[node %d]\naddress = %s\n' "$i" "$(addr "$i")" >>"$QFS_TMP/cluster.conf"
	mkdir -p "$(qfs_mnt "$i")" "$(qfs_data "$i")"
	qfs_start "$i" --join "$(addr 1)"
	out=$(ctl 1 add "$i" "$(addr "$i")" --timeout 60 2>&1)
	rc=$?
	echo "$out" >&2
	check '[ $rc -eq 0 ] && [[ "$out" == *"promoted to voter"*committed* ]]' "add $i returns once its promotion is committed"
	check '[ "$(voters 1)" -eq $((i)) ]' "node 1 counts $i voters when add $i returns"
	echo "$(qfs_mnt "$i")" >>"$QFS_TMP/mounts"
done
out=$(ctl 2 add 4 "$(addr 4)" 2>&1)
rc=$?
check '[ $rc -eq 1 ] && [[ "$out" == *"already a voter"* ]]' "add of a voter is refused at once ($out)"
out=$(ctl 2 remove 9 2>&1)
rc=$?
check '[ $rc -eq 1 ] && [[ "$out" == *"not a member"* ]]' "remove of a non-member is refused at once ($out)"

# Two voters down: removing a third would leave 2 reachable of 4.
leader=$(qfs_leader)
down=() ; for i in 5 4 3 2 1; do [ "$i" != "$leader" ] && [ ${#down[@]} -lt 2 ] && down+=("$i"); done
grep -v "/mnt/${down[0]}\$\|/mnt/${down[1]}\$" "$QFS_TMP/mounts" >"$QFS_TMP/mounts.new" && mv "$QFS_TMP/mounts.new" "$QFS_TMP/mounts"
sleep 0.5 # the writer's current write, on a mount going down, ends
for i in "${down[@]}"; do qfs_stop "$i"; done
# Until the leader sees them gone (not a fixed sleep: a slow machine takes longer).
unreachable() {
	qfs_status "$1" | jq -e --argjson id "$2" \
		'any(.members[]; .id == $id and .contact != "ok")' >/dev/null
}
for i in "${down[@]}"; do
	check 'eventually 20 unreachable "$leader" "$i"' "leader $leader sees node $i gone"
done
victim=""; for i in 1 2 3 4 5; do [ "$i" != "$leader" ] && [[ " ${down[*]} " != *" $i "* ]] && victim=$i; done
out=$(ctl "$leader" remove "$victim" 2>&1)
rc=$?
check '[ $rc -eq 1 ] && [[ "$out" == *"reachable"*"--force"* ]]' "a removal that leaves no reachable majority is refused ($out)"
check '[ "$(voters "$leader")" -eq 5 ]' "and nothing changed"
for i in "${down[@]}"; do qfs_start "$i"; echo "$(qfs_mnt "$i")" >>"$QFS_TMP/mounts"; done
for i in "${down[@]}"; do
	check 'eventually 20 reachable "$leader" "$i"' "the leader hears node $i again, caught up"
done

# Remove the leader, through another member.
leader=$(qfs_leader)
other=$(((leader % 5) + 1))
grep -v "/mnt/$leader\$" "$QFS_TMP/mounts" >"$QFS_TMP/mounts.new" && mv "$QFS_TMP/mounts.new" "$QFS_TMP/mounts"
out=$(ctl "$other" remove "$leader" 2>&1)
rc=$?
echo "$out" >&2
check '[ $rc -eq 0 ] && [[ "$out" == *committed* ]]' "removing the leader $leader returns once committed"
check '[ "$(voters "$other")" -eq 4 ]' "four voters when it returns"
sleep 0.5
qfs_stop "$leader"

# Move leadership to a chosen member.
members=$(ctl "$other" status | awk '$3 == "voter" { print $1 }')
target=$(echo "$members" | grep -vx "$(qfs_leader)" | head -n 1)
out=$(ctl "$other" transfer "$target" 2>&1)
rc=$?
echo "$out" >&2
check '[ $rc -eq 0 ] && [ "$(qfs_leader)" = "$target" ]' "transfer returns once node $target leads"

# Shrink to 3: remove one more follower.
victim=$(echo "$members" | grep -vx "$target" | head -n 1)
grep -v "/mnt/$victim\$" "$QFS_TMP/mounts" >"$QFS_TMP/mounts.new" && mv "$QFS_TMP/mounts.new" "$QFS_TMP/mounts"
out=$(ctl "$target" remove "$victim" 2>&1)
rc=$?
check '[ $rc -eq 0 ] && [ "$(voters "$target")" -eq 3 ]' "remove $victim: three voters when it returns"
sleep 0.5
qfs_stop "$victim"
sleep 1

touch "$QFS_TMP/stop"
wait "$writer_pid"
acked=$(wc -l <"$QFS_TMP/acked")
qfs_log "writer: $acked acknowledged writes"
check '[ "$acked" -ge 20 ]' "writes went on throughout ($acked acknowledged)"
check '[ ! -s "$QFS_TMP/stale" ]' "no read missed an acknowledged write ($(head -3 "$QFS_TMP/stale"))"
for i in $(ctl "$target" status | awk '$3 == "voter" { print $1 }'); do
	m=$(qfs_mnt "$i")
	lost=0
	while read -r n; do
		[ "$(cat "$m/w/$n" 2>/dev/null)" = "v$n" ] || lost=$((lost + 1))
	done <"$QFS_TMP/acked"
	check '[ $lost -eq 0 ]' "node $i has every acknowledged write ($lost lost)"
done
exit $((QFS_FAILS > 0))
