// The callgrind driver: runs one scenario for K iterations, without timing.
//
//   valgrind --tool=callgrind ./event_manager_instructions <scenario> <K>
//
// scripts/bench.sh runs it for K and 2K and divides the difference of the
// instruction totals by K * events: setup, warm-up and teardown cancel out,
// leaving the steady-state user-space instructions per dispatched event (or
// per remote call). The scenario names are those of event_manager_bench.
// Prints "events_per_iteration <n>" on stdout.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include "dispatch.hpp"
#include "remote.hpp"
#include "timers.hpp"

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

// --- Timers and pause/resume (bench/timers.hpp) ---------------------------------

template <class Fixture>
int churn(long iterations) {
  Fixture fixture;
  for (long i = 0; i < kWarmUp + iterations; ++i) fixture.rearm();
  return 1;
}

template <class Fixture>
int start_stop(long iterations, std::size_t others) {
  Fixture fixture(others);
  for (long i = 0; i < kWarmUp + iterations; ++i) fixture.arm_disarm();
  return 1;
}

/// The million shape with `thousands` * 1,000 timers; events: 1,000 timers.
template <class Timers>
int million(long thousands) {
  const auto n = static_cast<std::size_t>(thousands) * 1000;
  Timers timers;
  timers.start_million(n);
  timers.run_until_fired(n);
  return 1000;
}

/// churn's re-arms through arm_timer(), for strace: also prints how many of
/// them re-armed the timer holding the earliest deadline (every re-arm is to
/// now + 10 s, the latest deadline, so only those move the earliest one).
int churn_syscalls(long iterations) {
  using namespace bench::timers;
  XorShift random;
  EmTimers timers;
  // Absolute initial deadlines: the kernel timer updates during setup are then
  // the same in the K and 2K runs, and cancel.
  timers.arm_random_at(churn_connections, Clock::now(), 10s, random);
  em::EventOps ops = timers.ops();
  std::vector<std::int64_t> deadlines(churn_connections);
  auto deadline_of = [&](std::size_t i) {
    return must_value(ops.timer_deadline(timers.timer(i)), "timer_deadline")->time_since_epoch().count();
  };
  for (std::size_t i = 0; i < churn_connections; ++i) deadlines[i] = deadline_of(i);
  auto earliest = static_cast<std::size_t>(std::min_element(deadlines.begin(), deadlines.end()) - deadlines.begin());
  long moved = 0;
  for (long k = 0; k < iterations; ++k) {
    const std::size_t i = random() % churn_connections;
    must(ops.arm_timer(timers.timer(i), 10s), "arm_timer");
    deadlines[i] = deadline_of(i);
    if (i == earliest) {
      ++moved;
      earliest = static_cast<std::size_t>(std::min_element(deadlines.begin(), deadlines.end()) - deadlines.begin());
    }
  }
  std::printf("moved_earliest %ld\n", moved);
  return 1;
}

int pause_resume(long iterations, std::size_t fds) {
  timers::PauseResume fixture(fds);
  for (long i = 0; i < iterations; ++i) fixture.pause_resume();
  return static_cast<int>(fds);
}

const std::map<std::string, std::function<int(long)>>& scenarios() {
  static const std::map<std::string, std::function<int(long)>> table = {
      {"d200/event_manager",
       [](long k) {
         auto f = by_value(200, 1);
         return repeat(f, k, 200);
       }},
      {"d200/raw_epoll", [](long k) { return peer<RawEpollLoop>(k, 200, 1, 200); }},
      {"d200/libevent", [](long k) { return peer<LibeventLoop>(k, 200, 1, 200); }},
      {"d200/libev", [](long k) { return peer<LibevLoop>(k, 200, 1, 200); }},
      {"d200/libuv", [](long k) { return peer<LibuvLoop>(k, 200, 1, 200); }},
      {"d200_shared_locked/event_manager",
       [](long k) {
         auto f = shared_locked(200);
         return repeat(f, k, 200);
       }},
      {"d200_atomic_dynamic/event_manager",
       [](long k) {
         auto f = atomic_dynamic(200);
         return repeat(f, k, 200);
       }},
      {"d200_mixed_dynamic/event_manager",
       [](long k) {
         auto f = mixed_dynamic(200);
         return repeat(f, k, 200);
       }},
      {"d9of200/event_manager",
       [](long k) {
         auto f = by_value(200, 23);
         return repeat(f, k, 9);
       }},
      {"d9of200/raw_epoll", [](long k) { return peer<RawEpollLoop>(k, 200, 23, 9); }},
      {"d9of200/libevent", [](long k) { return peer<LibeventLoop>(k, 200, 23, 9); }},
      {"d9of200/libev", [](long k) { return peer<LibevLoop>(k, 200, 23, 9); }},
      {"d9of200/libuv", [](long k) { return peer<LibuvLoop>(k, 200, 23, 9); }},
      {"d400_cap256/event_manager",
       [](long k) {
         auto f = mixed_locked(400, 256);
         return repeat(f, k, 256);
       }},
      {"d400_cap256/raw_epoll", [](long k) { return peer<RawEpollLoop>(k, 400, 1, 256); }},
      {"d200_shared_locked/raw_same_work",
       [](long k) {
         RawSameWork f(200, RawSameWork::Work::locked);
         return repeat(f, k, 200);
       }},
      {"d200_atomic_dynamic/raw_same_work",
       [](long k) {
         RawSameWork f(200, RawSameWork::Work::atomic);
         return repeat(f, k, 200);
       }},
      {"d200_mixed_dynamic/raw_same_work",
       [](long k) {
         RawSameWork f(200, RawSameWork::Work::mixed);
         return repeat(f, k, 200);
       }},
      {"d400_cap256/raw_same_work",
       [](long k) {
         RawSameWork f(400, RawSameWork::Work::mixed_locked);
         return repeat(f, k, 256);
       }},
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
      {"timer_churn/event_manager", churn<timers::Churn<timers::EmTimers>>},
      {"timer_churn/event_manager_at", churn<timers::ChurnCachedNow>},
      {"timer_churn/libev", churn<timers::Churn<timers::LibevTimers>>},
      {"timer_churn/libuv", churn<timers::Churn<timers::LibuvTimers>>},
      {"timer_churn_syscalls/event_manager", churn_syscalls},
      {"timer_start_stop/event_manager/10",
       [](long k) { return start_stop<timers::StartStop<timers::EmTimers>>(k, 10); }},
      {"timer_start_stop/event_manager/10000",
       [](long k) { return start_stop<timers::StartStop<timers::EmTimers>>(k, 10'000); }},
      {"timer_start_stop/libev/10000",
       [](long k) { return start_stop<timers::StartStop<timers::LibevTimers>>(k, 10'000); }},
      {"timer_start_stop/libuv/10000",
       [](long k) { return start_stop<timers::StartStop<timers::LibuvTimers>>(k, 10'000); }},
      {"timer_million/event_manager", million<timers::EmTimers>},
      {"timer_million/libev", million<timers::LibevTimers>},
      {"timer_million/libuv", million<timers::LibuvTimers>},
      {"pause_resume/event_manager/1", [](long k) { return pause_resume(k, 1); }},
      {"pause_resume/event_manager/10", [](long k) { return pause_resume(k, 10); }},
      {"pause_resume/event_manager/100", [](long k) { return pause_resume(k, 100); }},
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
