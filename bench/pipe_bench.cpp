// Scenario 2: the classic libevent/libev benchmark. N socketpairs are watched
// for reading; an iteration writes one byte into 100 evenly spaced pairs, and
// every callback reads its byte and, while the write budget lasts, writes one
// byte into the next pair of the chain. An iteration ends when every byte
// written has been read: 100 + 1,000 callbacks. Registration happens once,
// outside the timed loop, so the figure is the cost of dispatching alone.
// Names are "pipe/<library>/<N>"; everything is closed between benchmarks.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdint>
#include <vector>

#include "dispatch.hpp"

namespace {

using namespace bench;

constexpr int kActive = 100;
constexpr int kWrites = 1000;

/// The chain of N socketpairs and the state of the iteration in progress.
struct Ring {
  std::vector<int> read_fds;
  std::vector<int> write_fds;
  int writes_left = 0;
  std::uint64_t fired = 0;  // bytes written this iteration
  std::uint64_t read = 0;   // bytes read this iteration

  explicit Ring(int n) {
    for (int i = 0; i < n; ++i) {
      int pair[2];
      check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), "socketpair");
      read_fds.push_back(pair[0]);
      write_fds.push_back(pair[1]);
    }
  }
  ~Ring() {
    for (int fd : read_fds) ::close(fd);
    for (int fd : write_fds) ::close(fd);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  int size() const { return static_cast<int>(read_fds.size()); }
};

void send_byte(int fd) {
  if (::write(fd, "e", 1) != 1) die("write");
}

/// The callback, identical for every library.
void on_readable(Ring& ring, int index) {
  char byte;
  if (::read(ring.read_fds[static_cast<std::size_t>(index)], &byte, 1) == 1) ++ring.read;
  if (ring.writes_left > 0) {
    const int next = index + 1 == ring.size() ? 0 : index + 1;
    send_byte(ring.write_fds[static_cast<std::size_t>(next)]);
    --ring.writes_left;
    ++ring.fired;
  }
}

/// One iteration: start 100 writers, run the loop until every byte is read.
template <class RunOnce>
void one_iteration(Ring& ring, RunOnce&& run_once) {
  ring.read = 0;
  ring.fired = 0;
  ring.writes_left = kWrites;
  const int space = ring.size() / kActive;
  for (int i = 0; i < kActive; ++i) {
    send_byte(ring.write_fds[static_cast<std::size_t>(i * space)]);
    ++ring.fired;
  }
  while (ring.read != ring.fired) run_once();
}

struct Pipe {
  Ring* ring;
  int index;
};
struct PipeHandler {
  using Context = Pipe;
  static void on_ready(Pipe* pipe) { on_readable(*pipe->ring, pipe->index); }
};

/// The event_manager side: one subscriber per socketpair, held by value.
struct PipeSubscriber {
  Pipe pipe;
  void init(em::EventOps& ops) {
    must(ops.add(em::Events(pipe.ring->read_fds[static_cast<std::size_t>(pipe.index)], em::EventSet::in)), "add");
  }
  void process(em::Events, em::EventOps&) { on_readable(*pipe.ring, pipe.index); }
};

void raise_fd_limit() {
  rlimit limit{};
  check(::getrlimit(RLIMIT_NOFILE, &limit), "getrlimit");
  limit.rlim_cur = limit.rlim_max;
  check(::setrlimit(RLIMIT_NOFILE, &limit), "setrlimit");
}

void finish(benchmark::State& state) { state.counters["events"] = kActive + kWrites; }

void pipe_em(benchmark::State& state) {
  raise_fd_limit();
  Ring ring(static_cast<int>(state.range(0)));
  ManagerFixture<PipeSubscriber> fixture;
  for (int i = 0; i < ring.size(); ++i) fixture.add(PipeSubscriber{Pipe{&ring, i}});
  for (auto _ : state) one_iteration(ring, [&] { fixture.run_once(); });
  finish(state);
}

template <template <class> class Loop>
void pipe_peer(benchmark::State& state) {
  raise_fd_limit();
  Ring ring(static_cast<int>(state.range(0)));
  std::vector<Pipe> pipes;
  for (int i = 0; i < ring.size(); ++i) pipes.push_back(Pipe{&ring, i});
  {
    Loop<PipeHandler> loop;  // destroyed before the ring closes its fds
    for (int i = 0; i < ring.size(); ++i) loop.add(ring.read_fds[static_cast<std::size_t>(i)], &pipes[static_cast<std::size_t>(i)]);
    for (auto _ : state) one_iteration(ring, [&] { loop.run_once(); });
  }
  finish(state);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {100, 1000, 3000, 9000}) b->Arg(n);
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(pipe_peer<RawEpollLoop>)->Name("pipe/raw_epoll")->Apply(sizes);
BENCHMARK(pipe_em)->Name("pipe/event_manager")->Apply(sizes);
BENCHMARK(pipe_peer<LibeventLoop>)->Name("pipe/libevent")->Apply(sizes);
BENCHMARK(pipe_peer<LibevLoop>)->Name("pipe/libev")->Apply(sizes);
BENCHMARK(pipe_peer<LibuvLoop>)->Name("pipe/libuv")->Apply(sizes);

}  // namespace
