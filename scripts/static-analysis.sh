#!/usr/bin/env bash
# static-analysis.sh: cppcheck over every C file of src/ and fuse/, with the suppressions
# (and their reasons) in scripts/cppcheck/suppressions.txt. Exits 0 only with zero findings,
# every file checked, and the canary caught; prints one line saying which.
#
#   scripts/static-analysis.sh   (scripts/test.sh runs it and counts it as one test)
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v cppcheck >/dev/null; then
	echo "static analysis: cppcheck is not installed (scripts/install-deps.sh)" >&2
	exit 1
fi

# The checks: real bugs (warning), plus portability and performance; not style. C11 as
# the build; -D_GNU_SOURCE as meson passes it; the posix library knows libc's contracts.
opts=(--std=c11 --enable=warning,portability,performance --library=posix -D_GNU_SOURCE
	-I include --inline-suppr --error-exitcode=1 -j "$(nproc)"
	--template='{file}:{line}: {severity} {id}: {message}')

mapfile -t files < <(git ls-files 'src/*.c' 'fuse/*.c')
if [ ${#files[@]} -eq 0 ]; then
	echo "static analysis: no C files found under src/ and fuse/" >&2
	exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
cppcheck "${opts[@]}" --suppressions-list=scripts/cppcheck/suppressions.txt "${files[@]}" \
	>"$out" 2>&1
rc=$?
# Without -q cppcheck says "Checking FILE ..." once per file: a run that checked fewer
# files than it was given proves nothing.
checked=$(grep -c '^Checking .* \.\.\.$' "$out")
findings=$(grep -vE '^(Checking |[0-9]+/[0-9]+ files checked)' "$out" | grep -c .)
if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ] || [ "$checked" -ne ${#files[@]} ]; then
	grep -vE '^(Checking |[0-9]+/[0-9]+ files checked)' "$out" >&2
	echo "static analysis: FAILED: $findings findings, $checked of ${#files[@]} files checked" >&2
	exit 1
fi

# The canary: a file with two known bugs must fail the same run, or the run is vacuous.
if cppcheck "${opts[@]}" scripts/cppcheck/canary.c >"$out" 2>&1 ||
	! grep -q 'arrayIndexOutOfBounds' "$out" || ! grep -q 'memleak' "$out"; then
	cat "$out" >&2
	echo "static analysis: FAILED: the canary's bugs were not found" >&2
	exit 1
fi
# Two rules of the project that cppcheck cannot know. LMDB's codes are translated in
# src/store alone, by one table (docs/architecture.md, "Errors"); a log line names its source
# once, through its layer's logging call (quorumfs/log.h), never by a hand-written prefix.
lmdb_codes='MDB_(SUCCESS|KEYEXIST|NOTFOUND|PAGE_NOTFOUND|CORRUPTED|PANIC|VERSION_MISMATCH|INVALID|MAP_FULL|DBS_FULL|READERS_FULL|TLS_FULL|TXN_FULL|CURSOR_FULL|PAGE_FULL|MAP_RESIZED|INCOMPATIBLE|BAD_RSLOT|BAD_TXN|BAD_VALSIZE|BAD_DBI|PROBLEM|LAST_ERRCODE)\b'
rules=$(git grep -nE "$lmdb_codes" -- src fuse include ':!src/store'
	git grep -nE 'qfs_(debug|info|warn|error|log)\([^"]*"(node|net) %' -- src fuse)
if [ -n "$rules" ]; then
	echo "$rules" >&2
	echo "static analysis: FAILED: an LMDB code outside src/store, or a hand-written log prefix" >&2
	exit 1
fi
echo "static analysis: ok, ${#files[@]} files, 0 findings, canary caught"
