#!/usr/bin/env bash
# Builds and runs the benchmark suite, takes callgrind instruction counts and
# writes docs/PERFORMANCE.md and docs/bench-plot.svg.
#
#   ./scripts/bench.sh                  # the full run (about 10-15 minutes)
#   BENCH_REPETITIONS=3 BENCH_MIN_TIME=0.2 ./scripts/bench.sh   # a quicker, noisier one
#   BENCH_FILTER='^d200' ./scripts/bench.sh                      # some benchmarks only
#   BENCH_REPORT_ONLY=1 ./scripts/bench.sh   # rewrite the report from the last run's data
#   BENCH_ONLY=timers ./scripts/bench.sh     # the timer and pause/resume rows only (a few
#                                            # minutes): rewrites just their section of the report
#
# Benchmarks are never pass/fail: the script reports medians and ratios to the
# raw epoll floor measured in the same run, and says which goals were met.
# Run it on a quiet machine (see `uptime`); callgrind counts do not depend on load.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
build="$root/build/bench"
reps=${BENCH_REPETITIONS:-7}
min_time=${BENCH_MIN_TIME:-0.5}
filter=${BENCH_FILTER:-.}
only=${BENCH_ONLY:-}
case "$only" in
  "") ;;
  timers) filter=${BENCH_FILTER:-'^(timer_(million|churn|start_stop|latency)/|pause_resume/)'} ;;
  *) echo "bench.sh: BENCH_ONLY must be empty or 'timers'" >&2; exit 2 ;;
esac

# --- Dependencies (Debian/Ubuntu package names) -------------------------------
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"
em_ensure_packages "${EM_BENCH_PACKAGES[@]}"

# --- Build (Release, tests and examples off) ----------------------------------
cmake --preset bench -B "$build" -DEVENT_MANAGER_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j2
bench_bin="$build/bench/event_manager_bench"
instructions_bin="$build/bench/event_manager_instructions"
memory_bin="$build/bench/event_manager_timer_memory"

# The pipe benchmark opens up to 18,000 fds, the timerfd baseline 10,000.
ulimit -n "$(ulimit -Hn)"

# A timers-only run keeps its data apart, so that a full run's data stays whole.
data="$build"
[[ -n $only ]] && data="$build/$only-only"
mkdir -p "$data"
counts="$data/instructions.txt"
syscalls="$data/syscalls.txt"
timer_memory="$data/timer_memory.txt"
timer_syscalls="$data/timer_syscalls.txt"
loads="$data/load.txt"
results="$data/results.json"
if [[ -z ${BENCH_REPORT_ONLY:-} ]]; then

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench.sh: load average before: $load_before (2 cores: below ~0.5 is quiet)"

# --- Timed run: every library in one binary, repetitions interleaved ----------
"$bench_bin" \
  --benchmark_filter="$filter" \
  --benchmark_repetitions="$reps" \
  --benchmark_min_time="$min_time" \
  --benchmark_report_aggregates_only=true \
  --benchmark_enable_random_interleaving=true \
  --benchmark_out="$results" \
  --benchmark_out_format=json

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Callgrind: steady-state user-space instructions per event ----------------
# Each scenario runs K and 2K iterations; (Ir(2K) - Ir(K)) / (K * events) cancels
# setup, warm-up and teardown.
: >"$counts"
callgrind_count() {  # scenario iterations
  local out="$data/callgrind.out.tmp"
  local events
  events=$(valgrind --tool=callgrind --callgrind-out-file="$out" "$instructions_bin" "$1" "$2" 2>/dev/null |
           awk '/^events_per_iteration/ {print $2}')
  local total
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
  rm -f "$out"
  echo "$1 $2 $events $total" >>"$counts"
}
if [[ -z $only ]]; then
for scenario in d200/raw_epoll d200/event_manager d200/libevent d200/libev d200/libuv \
                d200_shared_locked/raw_same_work d200_shared_locked/event_manager \
                d200_atomic_dynamic/raw_same_work d200_atomic_dynamic/event_manager \
                d200_mixed_dynamic/raw_same_work d200_mixed_dynamic/event_manager \
                d9of200/raw_epoll d9of200/event_manager d9of200/libevent d9of200/libev d9of200/libuv \
                d400_cap256/raw_epoll d400_cap256/raw_same_work d400_cap256/event_manager; do
  echo "bench.sh: callgrind $scenario"
  callgrind_count "$scenario" 200
  callgrind_count "$scenario" 400
done
for scenario in remote_call/pingpong_floor remote_call/event_manager remote_fire/event_manager; do
  echo "bench.sh: callgrind $scenario"
  callgrind_count "$scenario" 500
  callgrind_count "$scenario" 1000
done

# --- modify() with an unchanged mask: epoll_ctl calls, counted by strace -------
: >"$syscalls"
for k in 1000 2000; do
  n=$(strace -f -c -e trace=epoll_ctl "$instructions_bin" modify_unchanged/event_manager "$k" 2>&1 >/dev/null |
      awk '$NF == "epoll_ctl" {print $4}')
  echo "modify_unchanged/event_manager $k ${n:-0}" >>"$syscalls"
done
fi  # not timers-only

# --- Timers and pause/resume ------------------------------------------------------
# Instructions per re-arm, per arm+disarm (10,000 others) and per timer of the
# million shape (50,000 and 100,000 timers: K counts thousands of timers).
for scenario in timer_churn/event_manager timer_churn/event_manager_at timer_churn/libev timer_churn/libuv \
                timer_start_stop/event_manager/10000 \
                timer_start_stop/libev/10000 timer_start_stop/libuv/10000; do
  echo "bench.sh: callgrind $scenario"
  callgrind_count "$scenario" 20000
  callgrind_count "$scenario" 40000
done
for scenario in timer_million/event_manager timer_million/libev timer_million/libuv; do
  echo "bench.sh: callgrind $scenario"
  callgrind_count "$scenario" 50
  callgrind_count "$scenario" 100
done

# Peak heap bytes per timer (a binary that replaces malloc; see timer_memory.cpp).
: >"$timer_memory"
for lib in event_manager libev libuv timerfd; do
  echo "bench.sh: timer memory $lib"
  "$memory_bin" "$lib" >>"$timer_memory"
done

# Syscalls, counted by strace over K and 2K operations (the difference cancels setup):
#  churn: timerfd_settime per arm_timer() re-arm, and how many re-arms moved the
#         earliest deadline (the program counts them: only those may need the syscall);
#  start_stop: timerfd_settime per arm+disarm with n others armed;
#  pause_resume: epoll_ctl per pause()+resume() of a subscriber with n fds.
: >"$timer_syscalls"
strace_count() {  # syscall scenario K -> "<count> <rest of the program's output>"
  local out
  out=$(strace -f -c -e trace="$1" "$instructions_bin" "$2" "$3" 2>&1)
  local n
  n=$(awk -v call="$1" '$NF == call {print $4}' <<<"$out")
  local moved
  moved=$(awk '/^moved_earliest/ {print $2}' <<<"$out")
  echo "${n:-0} ${moved:-0}"
}
for k in 20000 40000; do
  echo "timer_churn/event_manager $k $(strace_count timerfd_settime timer_churn_syscalls/event_manager $k)" >>"$timer_syscalls"
  for n in 10 10000; do
    echo "timer_start_stop/event_manager/$n $k $(strace_count timerfd_settime timer_start_stop/event_manager/$n $k)" \
      >>"$timer_syscalls"
  done
done
for k in 500 1000; do
  for n in 1 10 100; do
    echo "pause_resume/event_manager/$n $k $(strace_count epoll_ctl pause_resume/event_manager/$n $k)" >>"$timer_syscalls"
  done
done

printf '%s\n%s\n' "$load_before" "$load_after" >"$loads"
fi  # BENCH_REPORT_ONLY

# --- Report --------------------------------------------------------------------
load_before=$(sed -n 1p "$loads")
load_after=$(sed -n 2p "$loads")
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
peers=$(dpkg-query -W -f='${Package} ${Version}\n' libbenchmark-dev libevent-dev libev-dev libuv1-dev | paste -sd';')
only_args=()
[[ -n $only ]] && only_args=(--only "$only")
python3 bench/report.py "${only_args[@]}" \
  --results "$results" \
  --instructions "$counts" \
  --syscalls "$syscalls" \
  --timer-memory "$timer_memory" \
  --timer-syscalls "$timer_syscalls" \
  --notes bench/report_notes.md \
  --compiler "$("${compiler:-c++}" --version | head -1)" \
  --peers "$peers" \
  --load "$load_before" --load-after "$load_after" \
  --repetitions "$reps" \
  --plot-data "$build/pipe_plot.dat" \
  --out docs/PERFORMANCE.md
if [[ -n $only ]]; then
  echo "bench.sh: rewrote the $only section of docs/PERFORMANCE.md (the rest, and the plot, left as they were)"
elif awk 'NR > 1 { for (i = 2; i <= NF; ++i) if ($i != "NaN") found = 1 } END { exit !found }' "$build/pipe_plot.dat"; then
  gnuplot -e "datafile='$build/pipe_plot.dat'; outfile='docs/bench-plot.svg'" bench/plot.gp
  echo "bench.sh: wrote docs/PERFORMANCE.md and docs/bench-plot.svg"
else
  echo "bench.sh: wrote docs/PERFORMANCE.md (no pipe benchmark in this run: plot left as it was)"
fi
