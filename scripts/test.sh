#!/usr/bin/env bash
# test.sh: install what is missing, build with warnings as errors, run every
# test suite, the static analysis (cppcheck), then the unit and simulation suites
# again under AddressSanitizer and UndefinedBehaviorSanitizer. The last line is "N passed, N failed[, N skipped]".
#
#   scripts/test.sh            the default run (well under 20 minutes on 2 cores)
#   QFS_SOAK=1 scripts/test.sh also the long soaks (see docs/testing.md)
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

# setup_build DIR [meson options...]: configure DIR once, reconfigure after.
setup_build() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

passed=0 failed=0 skipped=0
failures=$(mktemp)
trap 'rm -f "$failures"' EXIT

# run_suites DIR [meson test args...]: run, then add its results to the totals.
run_suites() {
	local dir=$1
	shift
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs "$@"
	local log="$dir/meson-logs/testlog.json"
	if [ ! -f "$log" ]; then
		failed=$((failed + 1))
		return
	fi
	local ok fail skip
	# EXPECTEDFAIL: a should_fail test (a broken variant the checks must catch) that was caught.
	ok=$(grep -cE '"result": "(OK|EXPECTEDFAIL)"' "$log")
	skip=$(grep -c '"result": "SKIP"' "$log")
	fail=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log")
	passed=$((passed + ok)) failed=$((failed + fail)) skipped=$((skipped + skip))
	note_failures "$dir" "$log"
}

# note_failures DIR LOG: remember each failed test's name and the end of its
# output, printed again just above the last line, so a reader of only the end
# of a long run still sees what failed and why.
note_failures() {
	python3 - "$1" "$2" >>"$failures" <<'PY'
import json, sys
for line in open(sys.argv[2]):
    t = json.loads(line)
    if t["result"] in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
        print(f"-- {sys.argv[1]}: {t['name']}: {t['result']} after {t['duration']:.0f} s")
        lines = ((t.get("stdout") or "") + (t.get("stderr") or "")).splitlines()
        # The test's own verdicts first (a daemon's log tail often follows them).
        for l in [l for l in lines if "FAIL" in l][:15]:
            print("   " + l)
        print("   [the last lines of its output]")
        for l in lines[-20:]:
            print("   " + l)
PY
}

build_or_fail() {
	if ! ninja -C "$1"; then
		echo "build failed in $1" >&2
		echo "-- build failed in $1" >>"$failures"
		failed=$((failed + 1))
		return 1
	fi
}

echo "== build (warnings are errors)"
if setup_build build -Dwerror=true && build_or_fail build; then
	echo "== all suites"
	run_suites build
fi

# cppcheck over src/ and fuse/ (scripts/cppcheck/suppressions.txt holds each suppression
# and its reason): one test, which fails on any finding or on a run that checked nothing.
echo "== static analysis"
if scripts/static-analysis.sh; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	echo "-- static analysis failed (scripts/static-analysis.sh)" >>"$failures"
fi

echo "== unit and sim suites under ASan+UBSan"
if setup_build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
	&& build_or_fail build-asan; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_suites build-asan --suite unit --suite sim
fi

# Each libFuzzer target runs for a few seconds on top of its committed seed
# corpus (clang, ASan+UBSan); longer runs: tests/fuzz/run-fuzzers.sh SECONDS.
echo "== fuzzing, ${QFS_FUZZ_SECONDS:-5} s per target"
fuzz_log=$(mktemp)
tests/fuzz/run-fuzzers.sh "${QFS_FUZZ_SECONDS:-5}" | tee "$fuzz_log"
fuzz_ok=$(grep -c ': ok, ' "$fuzz_log")
fuzz_bad=$(grep -cE ': FAILED|^build failed|^meson setup failed' "$fuzz_log")
grep -E ': FAILED|^build failed|^meson setup failed' "$fuzz_log" | sed 's/^/-- fuzz: /' >>"$failures"
rm -f "$fuzz_log"
passed=$((passed + fuzz_ok)) failed=$((failed + fuzz_bad))
[ $((fuzz_ok + fuzz_bad)) -eq 0 ] && failed=$((failed + 1))

if [ -s "$failures" ]; then
	echo "== what failed"
	cat "$failures"
fi
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ]
