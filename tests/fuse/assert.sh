# assert.sh: the checks of the fuse shell tests (e2e.sh, cluster.sh), each
# printing one TAP-like line. Sourced; needs $TMP for a command's output.
failures=0
n=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
eq() { # eq NAME GOT WANT
	n=$((n + 1))
	if [ "$2" == "$3" ]; then echo "ok $n - $1"; else fail "$1: got '$2', want '$3'"; fi
}
ok() { # ok NAME CMD...: the command succeeds
	local name=$1; shift
	n=$((n + 1))
	if "$@" >"$TMP/out" 2>&1; then echo "ok $n - $name"; else fail "$name: $(cat "$TMP/out")"; fi
}
fails_with() { # fails_with NAME MESSAGE CMD...: fails, saying MESSAGE (strerror)
	local name=$1 msg=$2; shift 2
	n=$((n + 1))
	if "$@" >"$TMP/out" 2>&1; then
		fail "$name: succeeded"
	elif grep -q "$msg" "$TMP/out"; then
		echo "ok $n - $name"
	else
		fail "$name: wanted '$msg', got: $(cat "$TMP/out")"
	fi
}
