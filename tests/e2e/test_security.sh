#!/usr/bin/env bash
# test_security.sh: a node with the wrong cluster key cannot join, and the
# others log why; garbage sent to a node's port closes that connection and
# nothing else.
. "$(dirname "$0")/lib.sh"
qfs_cluster_start 3

m1=$(qfs_mnt 1)
echo secret >"$m1/k"

# An impostor: node 3's identity, another key. Stop the real node 3 first.
qfs_stop 3
"$QUORUMCTL" keygen "$QFS_TMP/other.key" >/dev/null
sed "s#key-file = cluster.key#key-file = other.key#" "$QFS_TMP/cluster.conf" >"$QFS_TMP/impostor.conf"
mkdir -p "$QFS_TMP/data/impostor" "$QFS_TMP/mnt/impostor"
"$QUORUMFS" -f -c "$QFS_TMP/impostor.conf" -i 3 -d "$QFS_TMP/data/impostor" \
	"$QFS_TMP/mnt/impostor" >>"$QFS_TMP/log.impostor" 2>&1 &
QFS_PID[impostor]=$!
eventually 20 qfs_is_mounted "$QFS_TMP/mnt/impostor" || fail "impostor did not mount"
sleep 2
check '! grep -q secret -r "$QFS_TMP/data/impostor" 2>/dev/null' "the impostor received no data"
check 'grep -qiE "handshake|key|auth" "$QFS_TMP/log.1" "$QFS_TMP/log.2"' "the members log why they refused it"
check 'echo still >"$m1/k2"' "the cluster keeps working"

# Garbage to a member's port: that connection closes, the node stays up.
port=$(sed -n 's/^address = 127.0.0.1:\([0-9]*\)$/\1/p' "$QFS_TMP/cluster.conf" | head -1)
# The node closes the connection mid-stream: the writers ignore SIGPIPE.
(trap '' PIPE; head -c 100000 /dev/urandom >/dev/tcp/127.0.0.1/"$port") 2>/dev/null || true
(trap '' PIPE; printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >/dev/tcp/127.0.0.1/"$port") 2>/dev/null || true
check 'kill -0 "${QFS_PID[1]}"' "node 1 survives garbage on its port"
check 'echo after-garbage >"$m1/k3" && [ "$(cat "$(qfs_mnt 2)/k3")" = after-garbage ]' "and the cluster still replicates"

exit $((QFS_FAILS > 0))
