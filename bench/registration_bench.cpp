// Scenario 3: registration churn. add() + remove() of one extra eventfd while
// 10 or 9,000 other fds stay registered (the cost should not depend on how
// many), and modify() with an unchanged mask and data, which makes no syscall.
// The floor is the bare epoll_ctl calls on an epoll fd holding as many fds.
// Names are "churn/<library>/<registered>" and "modify_unchanged/<library>".
#include <benchmark/benchmark.h>

#include "dispatch.hpp"

namespace {

using namespace bench;

/// A subscriber that only owns registrations; the benchmark drives its EventOps.
struct Holder {
  void init(em::EventOps&) {}
  void process(em::Events, em::EventOps&) {}
};

/// An event_manager with one subscriber holding `n` eventfds, and its EventOps.
struct ManagerWithFds {
  Fds fds;  // declared first: closed after the manager is gone
  em::EventManager<Holder> manager = create_manager<Holder>();
  em::EventOps ops = manager.event_ops(manager.add_subscriber(Holder{})).value();

  explicit ManagerWithFds(int n) {
    for (int i = 0; i < n; ++i) must(ops.add(em::Events(fds.add(make_eventfd(false)), em::EventSet::in)), "add");
  }
};

void churn_em(benchmark::State& state) {
  ManagerWithFds fixture(static_cast<int>(state.range(0)));
  const int extra = fixture.fds.add(make_eventfd(false));
  for (auto _ : state) {
    must(fixture.ops.add(em::Events(extra, em::EventSet::in)), "add");
    must(fixture.ops.remove(em::Events(extra, em::EventSet::in)), "remove");
  }
  state.counters["events"] = 1;
}

void modify_em(benchmark::State& state) {
  ManagerWithFds fixture(10);
  const int fd = fixture.fds.add(make_eventfd(false));
  const auto events = em::Events::with_data(fd, 7, em::EventSet::in);
  must(fixture.ops.add(events), "add");
  for (auto _ : state) must(fixture.ops.modify(events), "modify");
  state.counters["events"] = 1;
}

/// The floor: an epoll fd holding `n` eventfds.
struct RawWithFds {
  Fds fds;
  int epoll_fd;
  explicit RawWithFds(int n) : epoll_fd(fds.add(check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"))) {
    for (int i = 0; i < n; ++i) ctl(EPOLL_CTL_ADD, fds.add(make_eventfd(false)));
  }
  void ctl(int op, int fd) const {
    ::epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint32_t>(fd);
    check(::epoll_ctl(epoll_fd, op, fd, &ev), "epoll_ctl");
  }
};

void churn_raw(benchmark::State& state) {
  RawWithFds fixture(static_cast<int>(state.range(0)));
  const int extra = fixture.fds.add(make_eventfd(false));
  for (auto _ : state) {
    fixture.ctl(EPOLL_CTL_ADD, extra);
    fixture.ctl(EPOLL_CTL_DEL, extra);
  }
  state.counters["events"] = 1;
}

/// What a library that forwards every modify() to the kernel pays: one EPOLL_CTL_MOD.
void modify_raw(benchmark::State& state) {
  RawWithFds fixture(10);
  const int fd = fixture.fds.add(make_eventfd(false));
  fixture.ctl(EPOLL_CTL_ADD, fd);
  for (auto _ : state) fixture.ctl(EPOLL_CTL_MOD, fd);
  state.counters["events"] = 1;
}

BENCHMARK(churn_raw)->Name("churn/raw_epoll")->Arg(10)->Arg(9000);
BENCHMARK(churn_em)->Name("churn/event_manager")->Arg(10)->Arg(9000);
BENCHMARK(modify_raw)->Name("modify_unchanged/raw_epoll");
BENCHMARK(modify_em)->Name("modify_unchanged/event_manager");

}  // namespace
