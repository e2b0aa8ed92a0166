// Scenario 1: N triggered eventfds, one run() per iteration (the Rust crate's
// benchmarks). Names are "<scenario>/<library>"; scripts/bench.sh divides each
// time by the counter `events` (events dispatched per iteration) and by the
// raw epoll floor of the same scenario, measured in the same run.
//
//   d200              200 of 200 triggered, subscribers by value
//   d200_shared_locked  ... behind std::shared_ptr<Synchronized<T>>
//   d200_atomic_dynamic ... std::shared_ptr<EventSubscriber>, an atomic counter
//   d200_mixed_dynamic  ... std::unique_ptr<MutEventSubscriber>, 1- and 3-fd types, 32-bit data
//   d9of200           every 23rd of 200 triggered (9 events per run)
//   d400_cap256       400 triggered, 1- and 3-fd Synchronized subscribers through
//                     std::shared_ptr<EventSubscriber>, 256 events per run
//
// The shapes that do more per event than a counter increment (a mutex, an
// atomic, alternating callback types) also get "raw_same_work": the raw floor
// calling a callback that does that same work, so that the ratio to it is
// event_manager's own overhead.
#include <benchmark/benchmark.h>

#include "dispatch.hpp"

namespace {

using namespace bench;

constexpr int kSources = 200;
constexpr int kSparseStride = 23;  // 0, 23, ..., 184: 9 of 200

int expected_events(int n, int stride) {
  int count = 0;
  for (int i = 0; i < n; ++i) count += is_triggered(i, stride) ? 1 : 0;
  return count;
}

// Libraries that grow their ready buffer on demand (libevent starts at 32,
// libev at 64) need a few runs before each run dispatches every event.
constexpr int kWarmUp = 10;

/// Times run_once() of an event_manager fixture; checks it dispatches `events` per run.
template <class Fixture>
void time_manager(benchmark::State& state, Fixture fixture, int events) {
  for (int i = 0; i < kWarmUp; ++i) fixture.run_once();
  if (fixture.run_once() != static_cast<std::size_t>(events)) die("unexpected event count");
  for (auto _ : state) benchmark::DoNotOptimize(fixture.run_once());
  state.counters["events"] = events;
}

/// Times run_once() of a peer loop; checks its counters grow by `events` per run.
template <class Loop>
void time_peer(benchmark::State& state, int n, int stride, int events) {
  PeerFixture<Loop> fixture(n, stride);
  for (int i = 0; i < kWarmUp; ++i) fixture.run_once();
  const std::uint64_t before = fixture.total();
  fixture.run_once();
  if (fixture.total() - before != static_cast<std::uint64_t>(events)) {
    std::fprintf(stderr, "%s: %llu events in one run, expected %d\n", Loop::name,
                 static_cast<unsigned long long>(fixture.total() - before), events);
    std::abort();
  }
  for (auto _ : state) fixture.run_once();
  state.counters["events"] = events;
}

void d200_em(benchmark::State& s) { time_manager(s, by_value(kSources, 1), kSources); }
void d200_shared_locked(benchmark::State& s) { time_manager(s, shared_locked(kSources), kSources); }
void d200_atomic_dynamic(benchmark::State& s) { time_manager(s, atomic_dynamic(kSources), kSources); }
void d200_mixed_dynamic(benchmark::State& s) { time_manager(s, mixed_dynamic(kSources), kSources); }
void d9of200_em(benchmark::State& s) {
  time_manager(s, by_value(kSources, kSparseStride), expected_events(kSources, kSparseStride));
}
void d400_em(benchmark::State& s) { time_manager(s, mixed_locked(400, 256), 256); }

template <template <class> class Loop>
void d200_peer(benchmark::State& s) {
  time_peer<Loop<CountHandler>>(s, kSources, 1, kSources);
}
template <template <class> class Loop>
void d9of200_peer(benchmark::State& s) {
  time_peer<Loop<CountHandler>>(s, kSources, kSparseStride, expected_events(kSources, kSparseStride));
}
void d400_raw(benchmark::State& s) { time_peer<RawEpollLoop<CountHandler>>(s, 400, 1, 256); }

/// The raw floor doing a shape's per-event work (dispatch.hpp: RawSameWork).
template <RawSameWork::Work work, int n, int events>
void same_work(benchmark::State& state) {
  RawSameWork fixture(n, work);
  for (int i = 0; i < kWarmUp; ++i) fixture.run_once();
  for (auto _ : state) fixture.run_once();
  state.counters["events"] = events;
}
using Work = RawSameWork::Work;

BENCHMARK(d200_peer<RawEpollLoop>)->Name("d200/raw_epoll");
BENCHMARK(d200_em)->Name("d200/event_manager");
BENCHMARK(d200_peer<LibeventLoop>)->Name("d200/libevent");
BENCHMARK(d200_peer<LibevLoop>)->Name("d200/libev");
BENCHMARK(d200_peer<LibuvLoop>)->Name("d200/libuv");
BENCHMARK(same_work<Work::locked, kSources, kSources>)->Name("d200_shared_locked/raw_same_work");
BENCHMARK(d200_shared_locked)->Name("d200_shared_locked/event_manager");
BENCHMARK(same_work<Work::atomic, kSources, kSources>)->Name("d200_atomic_dynamic/raw_same_work");
BENCHMARK(d200_atomic_dynamic)->Name("d200_atomic_dynamic/event_manager");
BENCHMARK(same_work<Work::mixed, kSources, kSources>)->Name("d200_mixed_dynamic/raw_same_work");
BENCHMARK(d200_mixed_dynamic)->Name("d200_mixed_dynamic/event_manager");
BENCHMARK(d9of200_peer<RawEpollLoop>)->Name("d9of200/raw_epoll");
BENCHMARK(d9of200_em)->Name("d9of200/event_manager");
BENCHMARK(d9of200_peer<LibeventLoop>)->Name("d9of200/libevent");
BENCHMARK(d9of200_peer<LibevLoop>)->Name("d9of200/libev");
BENCHMARK(d9of200_peer<LibuvLoop>)->Name("d9of200/libuv");
BENCHMARK(d400_raw)->Name("d400_cap256/raw_epoll");
BENCHMARK(same_work<Work::mixed_locked, 400, 256>)->Name("d400_cap256/raw_same_work");
BENCHMARK(d400_em)->Name("d400_cap256/event_manager");

}  // namespace
