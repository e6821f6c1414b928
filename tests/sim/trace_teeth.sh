#!/bin/sh
# trace_teeth.sh: a trace file with one expected line changed must fail the runner.
# usage: trace_teeth.sh SIM_TRACE FILE.txt LINE NEW
#   LINE: the exact text of one line of expected output in FILE; NEW: its replacement.
set -eu
runner=$1
file=$2
line=$3
new=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
copy="$tmp/$(basename "$file")"
# Only the first line equal to LINE changes, as a behaviour change would.
awk -v line="$line" -v new="$new" \
	'done == 0 && $0 == line { print new; done = 1; next } { print }
	 END { if (done == 0) exit 3 }' "$file" > "$copy" ||
	{ echo "teeth: no line \"$line\" in $file"; exit 1; }
# The unchanged file passes ...
"$runner" "$file" > "$tmp/ok.log" 2>&1 || { cat "$tmp/ok.log"; echo "teeth: $file fails as it is"; exit 1; }
# ... and the changed copy must not, and must say which line.
if "$runner" "$copy" > "$tmp/changed.log" 2>&1; then
	cat "$tmp/changed.log"
	echo "teeth: the runner passed a file whose expected output was changed"
	exit 1
fi
grep -qF "expected: $new" "$tmp/changed.log" ||
	{ cat "$tmp/changed.log"; echo "teeth: the failure does not show the changed line"; exit 1; }
echo "teeth: the changed line was caught:"
cat "$tmp/changed.log"
