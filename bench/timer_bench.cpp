// Scenario 6: timers (issue 9) and pause/resume (issue 10), event_manager
// against libev's ev_timer, libuv's uv_timer_t and one TimerFd per timer, in
// the shapes of bench/timers.hpp. Names:
//
//  timer_million/<lib>           counter "timers": 1,000,000 (timerfd: 10,000,
//                                the fd limit); time per iteration = start all + run
//                                until all fired (teardown not timed)
//  timer_churn/<lib>             one re-arm per iteration (event_manager_at: the
//                                caller keeps "now" as the peers' loops do, see timers.hpp)
//  timer_start_stop/<lib>/<n>    one arm + disarm per iteration, n others armed
//  timer_latency/<lib>           counters p50_ns, p99_ns, max_ns, early (callbacks
//                                before the deadline) over 1,000 timers
//  pause_resume/<event_manager|raw_epoll>/<fds>   one pause() + resume() per iteration
//
// Peak heap bytes per timer are measured by timer_memory.cpp (it replaces malloc).
#include <benchmark/benchmark.h>

#include <optional>

#include "timers.hpp"

// The heap is internal to the library (src/), not part of its installed API:
// read for its per-timer state size only.
#include "../src/timer_heap.hpp"

namespace {

using namespace bench;
using namespace bench::timers;

template <class Timers>
void million(benchmark::State& state) {
  const std::size_t n = std::is_same_v<Timers, TimerFdTimers> ? million_timerfds : million_timers;
  for (auto _ : state) {
    std::optional<Timers> timers(std::in_place);
    timers->start_million(n);
    timers->run_until_fired(n);
    state.PauseTiming();
    timers.reset();
    state.ResumeTiming();
  }
  state.counters["timers"] = static_cast<double>(n);
  if constexpr (std::is_same_v<Timers, EmTimers>) {
    state.counters["state_bytes_per_timer"] = static_cast<double>(event_manager::detail::TimerHeap::bytes_per_slot);
  }
}

template <class Fixture>
void churn(benchmark::State& state) {
  Fixture fixture;
  for (auto _ : state) fixture.rearm();
}

template <class Fixture>
void start_stop(benchmark::State& state) {
  Fixture fixture(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) fixture.arm_disarm();
}

void latency(benchmark::State& state, std::vector<std::int64_t> (*measure)()) {
  std::vector<std::int64_t> lateness;
  for (auto _ : state) lateness = measure();
  auto at = [&](double fraction) {
    return static_cast<double>(lateness[static_cast<std::size_t>(fraction * static_cast<double>(lateness.size() - 1))]);
  };
  state.counters["p50_ns"] = at(0.5);
  state.counters["p99_ns"] = at(0.99);
  state.counters["max_ns"] = static_cast<double>(lateness.back());
  state.counters["early"] =
      static_cast<double>(std::count_if(lateness.begin(), lateness.end(), [](std::int64_t late) { return late < 0; }));
}

template <class Fixture>
void pause_resume(benchmark::State& state) {
  Fixture fixture(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) fixture.pause_resume();
}

// Each million iteration takes about a second of wall time (the deadlines span
// one), so one iteration per repetition.
BENCHMARK(million<EmTimers>)->Name("timer_million/event_manager")->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(million<LibevTimers>)->Name("timer_million/libev")->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(million<LibuvTimers>)->Name("timer_million/libuv")->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(million<TimerFdTimers>)->Name("timer_million/timerfd")->Iterations(1)->Unit(benchmark::kMillisecond);

BENCHMARK(churn<Churn<EmTimers>>)->Name("timer_churn/event_manager");
BENCHMARK(churn<ChurnCachedNow>)->Name("timer_churn/event_manager_at");
BENCHMARK(churn<Churn<LibevTimers>>)->Name("timer_churn/libev");
BENCHMARK(churn<Churn<LibuvTimers>>)->Name("timer_churn/libuv");
BENCHMARK(churn<Churn<TimerFdTimers>>)->Name("timer_churn/timerfd");

BENCHMARK(start_stop<StartStop<EmTimers>>)
    ->Name("timer_start_stop/event_manager")
    ->Arg(10)
    ->Arg(10'000)
    ->Arg(1'000'000);
BENCHMARK(start_stop<StartStop<LibevTimers>>)->Name("timer_start_stop/libev")->Arg(10)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(start_stop<StartStop<LibuvTimers>>)->Name("timer_start_stop/libuv")->Arg(10)->Arg(10'000)->Arg(1'000'000);
BENCHMARK(start_stop<StartStop<TimerFdTimers>>)->Name("timer_start_stop/timerfd")->Arg(10)->Arg(10'000);  // fd limit

BENCHMARK_CAPTURE(latency, em, latency_event_manager)->Name("timer_latency/event_manager")->Iterations(1);
BENCHMARK_CAPTURE(latency, ev, latency_libev)->Name("timer_latency/libev")->Iterations(1);
BENCHMARK_CAPTURE(latency, uv, latency_libuv)->Name("timer_latency/libuv")->Iterations(1);
BENCHMARK_CAPTURE(latency, fd, latency_timerfd)->Name("timer_latency/timerfd")->Iterations(1);

BENCHMARK(pause_resume<PauseResume>)->Name("pause_resume/event_manager")->Arg(1)->Arg(10)->Arg(100);
BENCHMARK(pause_resume<PauseResumeFloor>)->Name("pause_resume/raw_epoll")->Arg(1)->Arg(10)->Arg(100);

}  // namespace
