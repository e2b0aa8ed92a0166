// Scenario 5: RemoteEndpoint. call_blocking() round-trip latency and fire()
// throughput, beside the floor of a raw two-thread eventfd ping-pong, with
// the two threads pinned to the same CPU ("same_cpu": every hand-over is a
// context switch) and to different CPUs ("two_cpus": every hand-over wakes an
// idle CPU). Unpinned figures flip between the two on a 2-core VM, so both
// are pinned. Names are "<scenario>/<library>/<placement>".
//
// fire: one iteration queues 64 trivial closures, then waits until the loop
// has run them (one call_blocking() as a barrier); `events` = 64. Its floor
// is the same ping-pong (remote_call/pingpong_floor).
#include <benchmark/benchmark.h>

#include "remote.hpp"

namespace {

using namespace bench;

constexpr int kFiresPerIteration = 64;

/// Pins the benchmark thread for a scope: range(0) == 0 puts both threads on
/// CPU 0, otherwise the caller runs on CPU 0 and the other thread on CPU 1.
class Placement {
 public:
  explicit Placement(const benchmark::State& state) : other_cpu_(state.range(0) == 0 ? 0 : 1) { pin_to_cpu(0); }
  ~Placement() { pin_to_cpu(-1); }
  Placement(const Placement&) = delete;
  Placement& operator=(const Placement&) = delete;
  int other_cpu() const { return other_cpu_; }

 private:
  int other_cpu_;
};

void call_blocking_em(benchmark::State& state) {
  Placement placement(state);
  RemoteLoop loop(placement.other_cpu());
  for (auto _ : state) benchmark::DoNotOptimize(loop.call());
  state.counters["events"] = 1;
}

void ping_pong(benchmark::State& state) {
  Placement placement(state);
  PingPong floor(placement.other_cpu());
  for (auto _ : state) floor.round_trip();
  state.counters["events"] = 1;
}

void fire_em(benchmark::State& state) {
  Placement placement(state);
  RemoteLoop loop(placement.other_cpu());
  std::uint64_t sent = 0;
  for (auto _ : state) {
    for (int i = 0; i < kFiresPerIteration; ++i) loop.fire();
    sent += kFiresPerIteration;
    if (loop.drain() != sent) die("fired closures lost");
  }
  state.counters["events"] = kFiresPerIteration;
}

void placements(benchmark::internal::Benchmark* b) {
  b->ArgName("two_cpus")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(ping_pong)->Name("remote_call/pingpong_floor")->Apply(placements);
BENCHMARK(call_blocking_em)->Name("remote_call/event_manager")->Apply(placements);
BENCHMARK(fire_em)->Name("remote_fire/event_manager")->Apply(placements);

}  // namespace
