// Scenario 4: memory. Heap bytes (malloc and operator new alike, measured
// with mallinfo2, chunk headers and table slack included) per registered fd
// and per subscriber, across registering 10,000 eventfds. The kernel's own
// per-registration memory (struct epitem) is the same for every library and
// not counted. Names are "memory/<library>"; the figures are the counters
// bytes_per_fd and bytes_per_subscriber (plus the static sizeof figures).
#include <benchmark/benchmark.h>

#include <optional>

#include "dispatch.hpp"

namespace {

using namespace bench;

constexpr int kFds = 10000;

std::vector<int> open_eventfds(Fds& fds) {
  std::vector<int> out;
  for (int i = 0; i < kFds; ++i) out.push_back(fds.add(make_eventfd(false)));
  return out;
}

double per_fd(std::size_t before, std::size_t after) {
  return static_cast<double>(after - before) / kFds;
}

/// A subscriber with one fd and a counter, by value.
struct OneFd {
  int fd;
  std::uint64_t count = 0;
  void init(em::EventOps& ops) { must(ops.add(em::Events(fd, em::EventSet::in)), "add"); }
  void process(em::Events, em::EventOps&) { ++count; }
};

/// A subscriber that registers every fd it is given.
struct ManyFds {
  const std::vector<int>* fds;
  void init(em::EventOps& ops) {
    for (int fd : *fds) must(ops.add(em::Events(fd, em::EventSet::in)), "add");
  }
  void process(em::Events, em::EventOps&) {}
};

void memory_em(benchmark::State& state) {
  double bytes_fd = 0;
  double bytes_subscriber = 0;
  for (auto _ : state) {
    {
      // The manager first, so that the fd table grows with the registered fds
      // (it is indexed by fd number: fds opened before it would be covered by
      // the table sized for its own wake-up fd).
      auto manager = create_manager<ManyFds>();
      Fds fds;
      const std::vector<int> list = open_eventfds(fds);
      const std::size_t before = heap_bytes();
      (void)manager.add_subscriber(ManyFds{&list});
      bytes_fd = per_fd(before, heap_bytes());
      manager = create_manager<ManyFds>();  // drop the registrations before `fds` closes
    }
    {
      auto manager = create_manager<OneFd>();
      Fds fds;
      const std::vector<int> list = open_eventfds(fds);
      const std::size_t before = heap_bytes();
      for (int fd : list) (void)manager.add_subscriber(OneFd{fd});
      bytes_subscriber = per_fd(before, heap_bytes()) - bytes_fd;
      manager = create_manager<OneFd>();
    }
  }
  state.counters["bytes_per_fd"] = bytes_fd;
  state.counters["bytes_per_subscriber"] = bytes_subscriber;
  state.counters["sizeof_fd_entry"] = sizeof(em::detail::FdEntry);
  state.counters["sizeof_subscriber_object"] = sizeof(OneFd);
}

/// Peers: the watcher the library needs per fd (ev_io, uv_poll_t, struct event)
/// and the library's own per-fd tables; the callback's context is not counted.
template <template <class> class Loop>
void memory_peer(benchmark::State& state) {
  double bytes_fd = 0;
  for (auto _ : state) {
    Fds fds;
    std::optional<Loop<CountHandler>> loop(std::in_place);  // first, as for event_manager
    const std::vector<int> list = open_eventfds(fds);
    std::vector<Counter> counters(list.size());
    const std::size_t before = heap_bytes();
    for (std::size_t i = 0; i < list.size(); ++i) loop->add(list[i], &counters[i]);
    bytes_fd = per_fd(before, heap_bytes());
    loop.reset();  // unregisters before `fds` closes
  }
  state.counters["bytes_per_fd"] = bytes_fd;
}

BENCHMARK(memory_peer<RawEpollLoop>)->Name("memory/raw_epoll")->Iterations(1);
BENCHMARK(memory_em)->Name("memory/event_manager")->Iterations(1);
BENCHMARK(memory_peer<LibeventLoop>)->Name("memory/libevent")->Iterations(1);
BENCHMARK(memory_peer<LibevLoop>)->Name("memory/libev")->Iterations(1);
BENCHMARK(memory_peer<LibuvLoop>)->Name("memory/libuv")->Iterations(1);

}  // namespace
