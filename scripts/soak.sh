#!/usr/bin/env bash
# Soak test: ./scripts/soak.sh [seconds]   (default 600)
# Builds the soak program (Release, build/soak) and runs it: 10,000 eventfds
# across 1,000 subscribers with random triggers and add/modify/remove churn
# (level-triggered, one-shot and edge-triggered), 2,000 timers churned
# (armed, re-armed, disarmed, removed and added again), subscribers paused and
# resumed under that load, plus 4 threads of endpoint traffic. It reports
# events handled, requests served, timer expiries, pauses, timer lateness,
# open fds, heap in use and RSS per minute (per tenth of the run when shorter
# than ten minutes) and exits non-zero if anything was lost (an eventfd write
# made while paused included), a timer fired early or after being disarmed,
# or if fds, heap, RSS or timer lateness were not flat from the first to the
# last interval.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh
em_ensure_packages "${EM_BUILD_PACKAGES[@]}"
seconds="${1:-600}"
build="${SOAK_BUILD_DIR:-build/soak}"
cmake -S soak -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target event_manager_soak
exec "$build/event_manager_soak" "$seconds"
