#!/usr/bin/env bash
# test.sh — builds and runs every test of event_manager, as CI does (.ci/run).
#
# 1. Installs the Debian packages it needs when they are missing (as root;
#    otherwise it prints the apt-get line to run and stops).
# 2. For each preset — dev (GCC, Debug), clang (clang-19), asan (ASan+UBSan),
#    tsan (ThreadSanitizer), all with -Werror — configures build/<preset>,
#    builds with -j2 and runs ctest -j2. The dev preset also runs the packaging
#    tests (install into a temporary prefix, find_package, pkg-config,
#    add_subdirectory); every preset runs the examples as tests.
# 3. Builds the API reference (docs preset: Doxygen, warnings are errors) and
#    checks that the benchmarks compile.
# 4. Runs the reliability checks (fuzzing and a 30-second soak) when present.
# 5. Prints "N passed, M failed" as its last line: N counts the ctest tests
#    that passed over all presets, M the failed tests plus any failed step
#    (configure, build, fuzz, soak). Exits non-zero if M > 0.
#
# Environment: EVENT_MANAGER_PRESETS="dev asan" runs only those presets.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

em_ensure_packages "${EM_TEST_PACKAGES[@]}"

read -r -a presets <<<"${EVENT_MANAGER_PRESETS:-dev clang asan tsan}"
tests_passed=0
tests_failed=0
failed_steps=()
timings=()
started=$SECONDS

# step NAME COMMAND...: runs a command that is not ctest, timing it and recording a failure.
step() {
  local name=$1 begin=$SECONDS
  shift
  em_log "$name: $*"
  if "$@"; then
    timings+=("$name $((SECONDS - begin))s")
  else
    failed_steps+=("$name")
    timings+=("$name FAILED $((SECONDS - begin))s")
    return 1
  fi
}

# run_preset PRESET: configure, build and ctest one preset; counts its tests.
run_preset() {
  local preset=$1 log begin summary total failed
  step "$preset configure" cmake --preset "$preset" || return 0
  step "$preset build" cmake --build --preset "$preset" -j2 || return 0
  em_log "$preset test: ctest --preset $preset -j2 --output-on-failure"
  log=$(mktemp)
  begin=$SECONDS
  ctest --preset "$preset" -j2 --output-on-failure --no-tests=error 2>&1 | tee "$log" || true
  # ctest's closing line: "100% tests passed, 0 tests failed out of 42".
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  rm -f "$log"
  if [[ -z "$summary" ]]; then
    failed_steps+=("$preset test (no ctest summary)")
    timings+=("$preset test FAILED $((SECONDS - begin))s")
    return 0
  fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
  tests_passed=$((tests_passed + total - failed))
  tests_failed=$((tests_failed + failed))
  timings+=("$preset test $((total - failed))/$total passed $((SECONDS - begin))s")
}

for preset in "${presets[@]}"; do
  run_preset "$preset"
done

# The benchmarks are not run here (they are no tests: see scripts/bench.sh),
# but they must keep compiling against the library.
step "bench configure" cmake --preset bench && step "bench build" cmake --build --preset bench -j2 || true

# The API reference: Doxygen over the public headers; an undocumented public name fails it.
step "docs configure" cmake --preset docs && step "docs build" cmake --build --preset docs || true

# --- Reliability (issue 5) ---
# Model-based fuzzing under ASan+UBSan for a fixed number of executions (about
# a minute on two cores), then a 30-second soak. The fault-injection,
# exhaustion and signal tests are ordinary ctest tests of every preset above.
step "fuzz" ./scripts/fuzz.sh --runs 60000 || true
step "soak" ./scripts/soak.sh 30 || true

# --- Summary ---
em_log "Summary ($(((SECONDS - started) / 60))m $(((SECONDS - started) % 60))s)"
printf '  %s\n' "${timings[@]}"
if ((${#failed_steps[@]} > 0)); then
  printf '  failed step: %s\n' "${failed_steps[@]}"
fi
printf '%d passed, %d failed\n' "$tests_passed" "$((tests_failed + ${#failed_steps[@]}))"
((tests_failed == 0 && ${#failed_steps[@]} == 0))
