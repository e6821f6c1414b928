#!/bin/bash
# test_checker.sh FAULT_CHECK DIR [GEN_HISTORY [GEN_APPENDS]]: the checker accepts every
# good-*.hist, rejects every bad-*.hist, and handles large generated histories (correct and
# not) quickly.
set -u
check=$1
dir=$2
gen=${3:-}
gen_appends=${4:-}
fails=0
tmp=$(mktemp -d /tmp/qfs-checker.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
expect() { # expect STATUS FILE...
	local want=$1 rc
	shift
	"$check" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne "$want" ]; then
		echo "FAIL: $* exited $rc, expected $want" >&2
		cat "$tmp/out" "$tmp/err" >&2
		fails=$((fails + 1))
	else
		echo "ok: ${*##*/} -> $rc $(cat "$tmp/out")"
	fi
}
for f in "$dir"/good-*.hist; do expect 0 "$f"; done
for f in "$dir"/bad-*.hist; do expect 1 "$f"; done
if [ -n "$gen" ]; then
	# 10 keys x 10,000 ops, 8 processes: must pass, and fail once corrupted.
	"$gen" 1 10000 10 8 >"$tmp/big.hist"
	"$gen" 1 10000 10 8 stale >"$tmp/big-stale.hist"
	"$gen" 2 10000 10 8 future >"$tmp/big-future.hist"
	start=$SECONDS
	expect 0 "$tmp/big.hist"
	expect 1 "$tmp/big-stale.hist"
	expect 1 "$tmp/big-future.hist"
	for s in 3 4 5 6 7; do
		"$gen" $s 3000 3 12 >"$tmp/g.hist"
		expect 0 "$tmp/g.hist"
		"$gen" $s 3000 3 12 stale >"$tmp/g.hist"
		expect 1 "$tmp/g.hist"
	done
	echo "generated histories checked in $((SECONDS - start)) s"
	# The same verdicts from the search alone, and from both deciders (which must agree).
	expect 0 --decider search "$tmp/big.hist"
	expect 1 --decider search "$tmp/big-stale.hist"
	expect 0 --decider both "$tmp/big.hist"
	expect 1 --decider both "$tmp/big-future.hist"
	# A tiny search limit must give "inconclusive" (2), never a pass; the zones need none.
	expect 2 --limit 1000 --decider search "$tmp/big.hist"
	expect 0 --limit 1000 "$tmp/big.hist"
fi
if [ -n "$gen_appends" ]; then
	# 3 files x 20,000 appends by 15 processes, reads recorded against each process's previous
	# read (files of ~20,000 lines): must pass, and fail once one read per file is cut short
	# (stale) or has two tokens exchanged (not one order).
	start=$SECONDS
	for s in 1 2; do
		"$gen_appends" $s 20000 3 15 >"$tmp/a.hist"
		expect 0 "$tmp/a.hist"
		"$gen_appends" $s 20000 3 15 stale >"$tmp/a.hist"
		expect 1 "$tmp/a.hist"
		"$gen_appends" $s 20000 3 15 swap >"$tmp/a.hist"
		expect 1 "$tmp/a.hist"
	done
	echo "generated append histories checked in $((SECONDS - start)) s"
fi
[ $fails -eq 0 ]
