// The timer heap's design benchmark (issue 9): the same heap code
// (src/timer_heap.hpp) built with arity 2, 4 and 8, on the shapes of the
// issue's timer benchmarks, without the loop around it. It chose the arity in
// src/timer_heap.hpp; docs/DESIGN.md ("Timers") has the figures. Time is fake
// (plain int64 nanoseconds): the heap never reads a clock.
//
//  timer_heap/million/<arity>          libuv's million_timers shape: arm 1,000,000
//                                      one-shot timers, the deadline 1 ms later every
//                                      1,000 timers (so ~1 s in all, in arming order),
//                                      then pop them all. Counter: time per timer.
//  timer_heap/million_shuffled/<arity> the same deadlines armed in random order.
//  timer_heap/churn/<arity>            10,000 armed idle timeouts; each iteration re-arms
//                                      a random one to now + 10 s (libev's
//                                      ev_timer_again pattern), the clock moving 100 ns.
//  timer_heap/start_stop/<arity>/<n>   arm + disarm of one timer at a random deadline
//                                      within 1 s, with n others armed the same way.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

// The heap is internal to the library (src/), not part of its installed API.
#include "../src/timer_heap.hpp"

namespace {

using event_manager::detail::BasicTimerHeap;
using event_manager::detail::TimerList;

constexpr std::uint64_t kOwner = (std::uint64_t{1} << 32) | 0;
constexpr std::int64_t kMillisecond = 1'000'000;
constexpr std::int64_t kSecond = 1'000'000'000;

/// A cheap random source for the timed loops (xorshift64).
struct XorShift {
  std::uint64_t state = 0x9e3779b97f4a7c15;
  std::uint64_t operator()() noexcept {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

/// `count` timers of one owner, unarmed.
template <unsigned Arity>
std::vector<std::uint64_t> add_timers(BasicTimerHeap<Arity>& heap, TimerList& list, std::size_t count) {
  std::vector<std::uint64_t> ids;
  ids.reserve(count);
  for (std::size_t i = 0; i < count; ++i) ids.push_back(heap.add(kOwner, static_cast<std::uint32_t>(i), list));
  return ids;
}

void per_item(benchmark::State& state, const char* name, double items) {
  // Seconds per item (shown as ns): the iteration time divided by `items`.
  state.counters[name] =
      benchmark::Counter(items, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

template <unsigned Arity>
void million(benchmark::State& state, bool shuffled) {
  constexpr std::size_t kTimers = 1'000'000;
  BasicTimerHeap<Arity> heap;
  TimerList list;
  std::vector<std::uint64_t> ids = add_timers(heap, list, kTimers);
  if (shuffled) std::shuffle(ids.begin(), ids.end(), std::mt19937_64(42));
  std::int64_t base = 0;
  std::size_t fired = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kTimers; ++i) {
      const auto timeout = static_cast<std::int64_t>(i / 1000 + 1) * kMillisecond;
      (void)heap.arm(ids[i], kOwner, base + timeout, 0);
    }
    const std::uint64_t mark = heap.run_mark();
    while (auto expired = heap.pop_due(base + 2 * kSecond, mark)) {
      benchmark::DoNotOptimize(expired->data);
      ++fired;
    }
    base += 2 * kSecond;
  }
  if (fired != kTimers * state.iterations()) state.SkipWithError("not every timer fired");
  per_item(state, "time_per_timer", static_cast<double>(kTimers));
  state.counters["bytes_per_timer"] = static_cast<double>(heap.state_bytes()) / static_cast<double>(heap.size());
}

template <unsigned Arity>
void million_sorted(benchmark::State& state) {
  million<Arity>(state, false);
}
template <unsigned Arity>
void million_shuffled(benchmark::State& state) {
  million<Arity>(state, true);
}

template <unsigned Arity>
void churn(benchmark::State& state) {
  constexpr std::size_t kConnections = 10'000;
  constexpr std::int64_t kIdleTimeout = 10 * kSecond;
  BasicTimerHeap<Arity> heap;
  TimerList list;
  const std::vector<std::uint64_t> ids = add_timers(heap, list, kConnections);
  XorShift random;
  std::int64_t now = 0;
  // Steady state: every connection armed once, at a random point of the last timeout.
  for (std::uint64_t id : ids) {
    (void)heap.arm(id, kOwner, now + static_cast<std::int64_t>(random() % kIdleTimeout), 0);
  }
  for (auto _ : state) {
    now += 100;
    const std::uint64_t id = ids[random() % kConnections];
    benchmark::DoNotOptimize(heap.arm(id, kOwner, now + kIdleTimeout, 0));
  }
  per_item(state, "time_per_rearm", 1);
}

template <unsigned Arity>
void start_stop(benchmark::State& state) {
  const auto others = static_cast<std::size_t>(state.range(0));
  BasicTimerHeap<Arity> heap;
  TimerList list;
  const std::vector<std::uint64_t> ids = add_timers(heap, list, others + 1);
  XorShift random;
  for (std::size_t i = 1; i < ids.size(); ++i) {
    (void)heap.arm(ids[i], kOwner, static_cast<std::int64_t>(random() % kSecond), 0);
  }
  const std::uint64_t probe = ids[0];
  for (auto _ : state) {
    (void)heap.arm(probe, kOwner, static_cast<std::int64_t>(random() % kSecond), 0);
    (void)heap.disarm(probe, kOwner);
  }
  benchmark::DoNotOptimize(heap.earliest());
  per_item(state, "time_per_arm_disarm", 1);
}

template <unsigned Arity>
void register_arity() {
  const std::string arity = std::to_string(Arity);
  benchmark::RegisterBenchmark(("timer_heap/million/" + arity).c_str(), million_sorted<Arity>)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("timer_heap/million_shuffled/" + arity).c_str(), million_shuffled<Arity>)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("timer_heap/churn/" + arity).c_str(), churn<Arity>);
  benchmark::RegisterBenchmark(("timer_heap/start_stop/" + arity).c_str(), start_stop<Arity>)
      ->Arg(10)
      ->Arg(10'000)
      ->Arg(1'000'000);
}

const bool registered = [] {
  register_arity<2>();
  register_arity<4>();
  register_arity<8>();
  return true;
}();

}  // namespace
