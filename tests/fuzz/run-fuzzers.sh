#!/usr/bin/env bash
# run-fuzzers.sh: build the libFuzzer targets with clang (coverage, ASan, UBSan) in build-fuzz and
# fuzz each for N seconds (default 10) against a copy of its committed seed corpus.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS]
#
# Prints one summary line per target and exits non-zero if any target crashed
# (the crashing input is kept in build-fuzz/fuzz-out/TARGET/ and named in the log).
# New inputs the fuzzer finds stay in build-fuzz/fuzz-out/TARGET/corpus; copy the
# interesting ones to tests/fuzz/corpus/TARGET/ by hand.
set -uo pipefail

secs=${1:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=build-fuzz
targets=(peer_decode frame command admin config snapshot)

if [ ! -f "$build/build.ninja" ]; then
	# Every library gets coverage instrumentation (fuzzer-no-link); only the
	# targets link libFuzzer itself (tests/fuzz/meson.build).
	CC=clang meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null || { echo "meson setup failed"; exit 1; }
fi
exes=()
for t in "${targets[@]}"; do
	exes+=("tests/fuzz/fuzz-${t//_/-}")
done
ninja -C "$build" "${exes[@]}" >/dev/null || { echo "build failed"; exit 1; }

status=0
summary=()
for t in "${targets[@]}"; do
	out="$build/fuzz-out/$t"
	rm -rf "$out"
	mkdir -p "$out/corpus"
	cp tests/fuzz/corpus/"$t"/* "$out/corpus/"
	seeds=$(ls "$out/corpus" | wc -l)
	log="$root/$out/fuzz.log"
	exe="$build/tests/fuzz/fuzz-${t//_/-}"
	start=$(date +%s)
	(cd "$out" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$root/$exe" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$root/$out/" \
		corpus >"$log" 2>&1)
	rc=$?
	took=$(( $(date +%s) - start ))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	corp=$(ls "$out/corpus" | wc -l)
	if [ $rc -ne 0 ]; then
		status=1
		crash=$(ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* 2>/dev/null | head -1)
		summary+=("$t: FAILED after ${took}s (exit $rc); input: ${crash:-see $log}")
	else
		summary+=("$t: ok, ${runs:-?} runs in ${took}s, coverage ${cov:-?}, corpus $seeds -> $corp")
	fi
done
echo "== fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
exit $status
