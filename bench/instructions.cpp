// The callgrind driver: runs one scenario for K iterations, without timing.
//
//   valgrind --tool=callgrind ./event_manager_instructions <scenario> <K>
//
// scripts/bench.sh runs it for K and 2K and divides the difference of the
// instruction totals by K * events: setup, warm-up and teardown cancel out,
// leaving the steady-state user-space instructions per dispatched event (or
// per remote call). The scenario names are those of event_manager_bench.
// Prints "events_per_iteration <n>" on stdout.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include "dispatch.hpp"
#include "remote.hpp"

namespace {

using namespace bench;

constexpr int kWarmUp = 10;

template <class Fixture>
int repeat(Fixture& fixture, long iterations, int events) {
  for (long i = 0; i < kWarmUp + iterations; ++i) fixture.run_once();
  return events;
}

template <template <class> class Loop>
int peer(long iterations, int n, int stride, int events) {
  PeerFixture<Loop<CountHandler>> fixture(n, stride);
  return repeat(fixture, iterations, events);
}

struct Holder {
  void init(em::EventOps&) {}
  void process(em::Events, em::EventOps&) {}
};

/// modify() with an unchanged mask and data; run under strace to count epoll_ctl calls.
int modify_unchanged(long iterations) {
  auto manager = em::EventManager<Holder>::create().value();
  auto ops = manager.event_ops(manager.add_subscriber(Holder{})).value();
  Fds fds;
  const auto events = em::Events::with_data(fds.add(make_eventfd(false)), 7, em::EventSet::in);
  must(ops.add(events), "add");
  for (long i = 0; i < iterations; ++i) must(ops.modify(events), "modify");
  return 1;
}

const std::map<std::string, std::function<int(long)>>& scenarios() {
  static const std::map<std::string, std::function<int(long)>> table = {
      {"d200/event_manager", [](long k) { auto f = by_value(200, 1); return repeat(f, k, 200); }},
      {"d200/raw_epoll", [](long k) { return peer<RawEpollLoop>(k, 200, 1, 200); }},
      {"d200/libevent", [](long k) { return peer<LibeventLoop>(k, 200, 1, 200); }},
      {"d200/libev", [](long k) { return peer<LibevLoop>(k, 200, 1, 200); }},
      {"d200/libuv", [](long k) { return peer<LibuvLoop>(k, 200, 1, 200); }},
      {"d200_shared_locked/event_manager", [](long k) { auto f = shared_locked(200); return repeat(f, k, 200); }},
      {"d200_atomic_dynamic/event_manager", [](long k) { auto f = atomic_dynamic(200); return repeat(f, k, 200); }},
      {"d200_mixed_dynamic/event_manager", [](long k) { auto f = mixed_dynamic(200); return repeat(f, k, 200); }},
      {"d9of200/event_manager", [](long k) { auto f = by_value(200, 23); return repeat(f, k, 9); }},
      {"d9of200/raw_epoll", [](long k) { return peer<RawEpollLoop>(k, 200, 23, 9); }},
      {"d9of200/libevent", [](long k) { return peer<LibeventLoop>(k, 200, 23, 9); }},
      {"d9of200/libev", [](long k) { return peer<LibevLoop>(k, 200, 23, 9); }},
      {"d9of200/libuv", [](long k) { return peer<LibuvLoop>(k, 200, 23, 9); }},
      {"d400_cap256/event_manager", [](long k) { auto f = mixed_locked(400, 256); return repeat(f, k, 256); }},
      {"d400_cap256/raw_epoll", [](long k) { return peer<RawEpollLoop>(k, 400, 1, 256); }},
      {"d200_shared_locked/raw_same_work",
       [](long k) { RawSameWork f(200, RawSameWork::Work::locked); return repeat(f, k, 200); }},
      {"d200_atomic_dynamic/raw_same_work",
       [](long k) { RawSameWork f(200, RawSameWork::Work::atomic); return repeat(f, k, 200); }},
      {"d200_mixed_dynamic/raw_same_work",
       [](long k) { RawSameWork f(200, RawSameWork::Work::mixed); return repeat(f, k, 200); }},
      {"d400_cap256/raw_same_work",
       [](long k) { RawSameWork f(400, RawSameWork::Work::mixed_locked); return repeat(f, k, 256); }},
      {"remote_call/event_manager",
       [](long k) {
         RemoteLoop loop(-1);
         for (long i = 0; i < kWarmUp + k; ++i) loop.call();
         return 1;
       }},
      {"remote_call/pingpong_floor",
       [](long k) {
         PingPong floor(-1);
         for (long i = 0; i < kWarmUp + k; ++i) floor.round_trip();
         return 1;
       }},
      {"remote_fire/event_manager",
       [](long k) {
         RemoteLoop loop(-1);
         for (long i = 0; i < kWarmUp + k; ++i) {
           for (int j = 0; j < 64; ++j) loop.fire();
           (void)loop.drain();
         }
         return 64;
       }},
      {"modify_unchanged/event_manager", modify_unchanged},
  };
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <scenario> <iterations>\nscenarios:\n", argv[0]);
    for (const auto& [name, run] : scenarios()) std::fprintf(stderr, "  %s\n", name.c_str());
    return 2;
  }
  const auto found = scenarios().find(argv[1]);
  if (found == scenarios().end()) {
    std::fprintf(stderr, "unknown scenario %s\n", argv[1]);
    return 2;
  }
  const int events = found->second(std::atol(argv[2]));
  std::printf("events_per_iteration %d\n", events);
  return 0;
}
