#!/usr/bin/env bash
# Model-based fuzzing of event_manager (fuzz/model_fuzzer.cpp) under
# ASan+UBSan with libFuzzer.
#
#   ./scripts/fuzz.sh --runs N       a fixed number of executions (CI)
#   ./scripts/fuzz.sh --seconds S    as long as asked (default: 60 s)
#   ./scripts/fuzz.sh ... -- ARGS    extra libFuzzer arguments
#
# Builds the `fuzz` preset in build/fuzz (installing clang-19, libfuzzer-19-dev
# and libclang-rt-19-dev first if they are missing), runs the fuzzer on the
# seed corpus fuzz/corpus/ plus the inputs it found before (build/fuzz/corpus),
# prints the executions done and the model checks passed, and exits non-zero
# on any crash, sanitizer report or divergence from the model. A failing input
# is saved under build/fuzz/artifacts/; replay it with
#   build/fuzz/fuzz/model_fuzzer <file>        (MODEL_TRACE=1 prints each operation)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=""
seconds=60
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; runs=""; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--runs N | --seconds S] [-- libFuzzer args]" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/common.sh
source scripts/common.sh
em_ensure_packages "${EM_FUZZ_PACKAGES[@]}"

build=build/fuzz
cmake --preset fuzz -B "$build" >/dev/null
cmake --build "$build" -j2 --target model_fuzzer
mkdir -p "$build/corpus" "$build/artifacts"

limit=(-max_total_time="$seconds")
[ -n "$runs" ] && limit=(-runs="$runs")
log="$build/fuzz.log"
set +e
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  "$build/fuzz/model_fuzzer" "${limit[@]}" -max_len=2048 -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/" "${extra[@]}" "$build/corpus" fuzz/corpus >"$log" 2>&1
status=$?
set -e
grep -E "^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|model checks passed|divergence|ERROR|SUMMARY|Test unit written" "$log" || true
executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
echo "fuzz.sh: executions done: ${executed:-unknown}"
if [ $status -ne 0 ]; then
  echo "fuzz.sh: FAILED (exit $status); the last 40 lines of $log:" >&2
  tail -40 "$log" >&2
  exit $status
fi
echo "fuzz.sh: no crash, no divergence"
