// bench/dispatch.hpp — the "N triggered eventfds, one run()" fixtures, shared
// by dispatch_bench.cpp (timing) and instructions.cpp (callgrind counts).
//
// Every source is a level-triggered eventfd whose counter is written once and
// never read, so each run() dispatches the same set; each callback increments
// a counter. The event_manager subscribers come in the shapes of the Rust
// crate's benchmarks: by value; std::shared_ptr<Synchronized<T>>; an
// EventSubscriber with interior mutability (an atomic); mixed types through
// the dynamic interfaces, told apart by their 32-bit data.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <event_manager/event_manager.hpp>

#include "common.hpp"
#include "loops.hpp"

namespace bench {

inline em::EventFd make_source(bool triggered) {
  auto fd = em::EventFd::create(triggered ? 1 : 0);
  if (!fd) die("EventFd::create");
  return std::move(*fd);
}

/// One eventfd, one counter: the Rust crate's CounterSubscriber.
struct ValueCounter {
  em::EventFd fd;
  std::uint64_t count = 0;

  void init(em::EventOps& ops) { must(ops.add(em::Events(fd, em::EventSet::in)), "add"); }
  void process(em::Events, em::EventOps&) { ++count; }
};

/// Three eventfds told apart by their 32-bit data (0, 1, 2).
struct TripleCounter {
  std::array<em::EventFd, 3> fds;
  std::array<std::uint64_t, 3> counts{};

  void init(em::EventOps& ops) {
    for (std::uint32_t i = 0; i < fds.size(); ++i) {
      must(ops.add(em::Events::with_data(fds[i], i, em::EventSet::in)), "add");
    }
  }
  void process(em::Events events, em::EventOps&) { ++counts[events.data()]; }
};

/// Interior mutability: const process() bumping an atomic.
class AtomicCounter final : public em::EventSubscriber {
 public:
  explicit AtomicCounter(em::EventFd fd) : fd_(std::move(fd)) {}
  void init(em::EventOps& ops) const override { must(ops.add(em::Events(fd_, em::EventSet::in)), "add"); }
  void process(em::Events, em::EventOps&) const override { count_.fetch_add(1, std::memory_order_relaxed); }

 private:
  em::EventFd fd_;
  mutable std::atomic<std::uint64_t> count_{0};
};

/// Any T behind the mutable dynamic interface.
template <class T>
class Dynamic final : public em::MutEventSubscriber {
 public:
  explicit Dynamic(T value) : value_(std::move(value)) {}
  void init(em::EventOps& ops) override { value_.init(ops); }
  void process(em::Events events, em::EventOps& ops) override { value_.process(events, ops); }

 private:
  T value_;
};

/// An event_manager of subscribers S with a fixed ready capacity.
template <class S>
class ManagerFixture {
 public:
  explicit ManagerFixture(std::size_t capacity = em::default_ready_events_capacity)
      : manager_(create_manager<S>(capacity)) {}
  void add(S subscriber) { (void)manager_.add_subscriber(std::move(subscriber)); }
  std::size_t run_once() {
    auto ran = manager_.run();
    if (!ran) die("run");
    return *ran;
  }

 private:
  em::EventManager<S> manager_;
};

inline TripleCounter make_triple() {
  return TripleCounter{{make_source(true), make_source(true), make_source(true)}, {}};
}

/// n sources, every stride-th triggered, each its own subscriber held by value.
inline ManagerFixture<ValueCounter> by_value(int n, int stride) {
  ManagerFixture<ValueCounter> fixture;
  for (int i = 0; i < n; ++i) fixture.add(ValueCounter{make_source(is_triggered(i, stride))});
  return fixture;
}

/// n triggered sources behind std::shared_ptr<Synchronized<T>> (static dispatch, a mutex per event).
inline ManagerFixture<std::shared_ptr<em::Synchronized<ValueCounter>>> shared_locked(int n) {
  ManagerFixture<std::shared_ptr<em::Synchronized<ValueCounter>>> fixture;
  for (int i = 0; i < n; ++i) fixture.add(std::make_shared<em::Synchronized<ValueCounter>>(make_source(true)));
  return fixture;
}

/// n triggered sources through std::shared_ptr<EventSubscriber> with an atomic counter.
inline ManagerFixture<std::shared_ptr<em::EventSubscriber>> atomic_dynamic(int n) {
  ManagerFixture<std::shared_ptr<em::EventSubscriber>> fixture;
  for (int i = 0; i < n; ++i) fixture.add(std::make_shared<AtomicCounter>(make_source(true)));
  return fixture;
}

/// n triggered sources through std::unique_ptr<MutEventSubscriber>: one-fd and
/// three-fd (32-bit data) subscribers alternating.
inline ManagerFixture<std::unique_ptr<em::MutEventSubscriber>> mixed_dynamic(int n) {
  ManagerFixture<std::unique_ptr<em::MutEventSubscriber>> fixture;
  for (int fds = 0; fds < n;) {
    if (n - fds >= 4) {
      fixture.add(std::make_unique<Dynamic<ValueCounter>>(ValueCounter{make_source(true)}));
      fixture.add(std::make_unique<Dynamic<TripleCounter>>(make_triple()));
      fds += 4;
    } else {
      fixture.add(std::make_unique<Dynamic<ValueCounter>>(ValueCounter{make_source(true)}));
      fds += 1;
    }
  }
  return fixture;
}

/// n triggered sources, shared and locked, through std::shared_ptr<EventSubscriber>:
/// Synchronized one-fd and three-fd subscribers alternating; `capacity` events per run.
inline ManagerFixture<std::shared_ptr<em::EventSubscriber>> mixed_locked(int n, std::size_t capacity) {
  ManagerFixture<std::shared_ptr<em::EventSubscriber>> fixture(capacity);
  for (int fds = 0; fds < n;) {
    if (n - fds >= 4) {
      fixture.add(std::make_shared<em::Synchronized<ValueCounter>>(make_source(true)));
      fixture.add(std::make_shared<em::Synchronized<TripleCounter>>(make_triple()));
      fds += 4;
    } else {
      fixture.add(std::make_shared<em::Synchronized<ValueCounter>>(make_source(true)));
      fds += 1;
    }
  }
  return fixture;
}

/// The same n sources for a peer loop (raw epoll, libevent, libev, libuv).
template <class Loop>
class PeerFixture {
 public:
  PeerFixture(int n, int stride) : counters_(static_cast<std::size_t>(n)) {
    for (int i = 0; i < n; ++i) loop_.add(fds_.add(make_eventfd(is_triggered(i, stride))), &counters_[i]);
  }
  void run_once() { loop_.run_once(); }
  std::uint64_t total() const {
    std::uint64_t sum = 0;
    for (const Counter& c : counters_) sum += c.count;
    return sum;
  }

 private:
  Fds fds_;  // destroyed last: the loop unregisters before the fds close
  std::vector<Counter> counters_;
  Loop loop_;
};

// --- The raw floor doing the same per-event work ------------------------------
// The shared, locked and dynamic shapes do more per event than the plain floor
// (a mutex, an atomic, a second indirect call target): these floors do that
// same work from the raw table, so that the difference is event_manager's own.

struct LockedCounter {
  std::mutex mutex;
  std::uint64_t count = 0;
};
struct LockedHandler {
  using Context = LockedCounter;
  static void on_ready(LockedCounter* counter) {
    std::lock_guard lock(counter->mutex);
    ++counter->count;
  }
};
struct AtomicHandler {
  using Context = std::atomic<std::uint64_t>;
  static void on_ready(Context* counter) noexcept { counter->fetch_add(1, std::memory_order_relaxed); }
};
struct Triple {
  std::mutex mutex;
  std::array<std::uint64_t, 3> counts{};
};
struct TripleSlot {
  Triple* triple;
  std::uint32_t index;
};
template <bool Locked>
struct TripleHandler {
  using Context = TripleSlot;
  static void on_ready(TripleSlot* slot) {
    if constexpr (Locked) {
      std::lock_guard lock(slot->triple->mutex);
      ++slot->triple->counts[slot->index];
    } else {
      ++slot->triple->counts[slot->index];
    }
  }
};

/// n triggered sources on the raw floor, with the per-event work of one of the shapes above.
class RawSameWork {
 public:
  enum class Work { locked, atomic, mixed, mixed_locked };

  RawSameWork(int n, Work work, int capacity = 256) : loop_(capacity) {
    for (int fds = 0; fds < n;) {
      const bool triple = (work == Work::mixed || work == Work::mixed_locked) && n - fds >= 4;
      single(work);
      fds += 1;
      if (triple) {
        Triple& t = triples_.emplace_back();
        for (std::uint32_t i = 0; i < 3; ++i) {
          TripleSlot& slot = slots_.emplace_back(TripleSlot{&t, i});
          if (work == Work::mixed_locked) {
            loop_.add_with<TripleHandler<true>>(source(), &slot);
          } else {
            loop_.add_with<TripleHandler<false>>(source(), &slot);
          }
        }
        fds += 3;
      }
    }
  }
  void run_once() { loop_.run_once(); }

 private:
  int source() { return fds_.add(make_eventfd(true)); }
  void single(Work work) {
    switch (work) {
      case Work::locked:
      case Work::mixed_locked:
        loop_.add_with<LockedHandler>(source(), &locked_.emplace_back());
        break;
      case Work::atomic:
        loop_.add_with<AtomicHandler>(source(), &atomics_.emplace_back(0));
        break;
      case Work::mixed:
        loop_.add_with<CountHandler>(source(), &counters_.emplace_back());
        break;
    }
  }

  Fds fds_;  // destroyed last
  std::deque<LockedCounter> locked_;
  std::deque<std::atomic<std::uint64_t>> atomics_;
  std::deque<Counter> counters_;
  std::deque<Triple> triples_;
  std::deque<TripleSlot> slots_;
  RawEpollLoop<CountHandler> loop_;
};

}  // namespace bench
