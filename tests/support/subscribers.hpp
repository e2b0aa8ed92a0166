// Shared test subscribers (the counterparts of rust-vmm's src/utilities/subscribers.rs)
// and small helpers for driving a manager in tests without ever blocking forever.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <event_manager/event_manager.hpp>

namespace event_manager::test {

/// The longest any test waits for an event that is expected to arrive.
inline constexpr int kWaitMs = 2000;

/// Counts the level-triggered EPOLLIN events of its own eventfd. trigger()
/// makes the fd readable; it stays readable (and is reported on every run)
/// until clear(). On hang_up or error it removes its fd. Held by value.
class Counter {
 public:
  Counter();
  void init(EventOps& ops);
  void process(Events events, EventOps& ops);

  void trigger() const;  // counter += 1: readable from now on
  void clear() const;    // reads the counter: no longer readable
  std::uint64_t count() const noexcept { return count_; }
  const EventFd& fd() const noexcept { return fd_; }

 private:
  EventFd fd_;
  std::uint64_t count_ = 0;
};

/// Sums what it reads from its eventfd: each event consumes the counter, so
/// total() is exactly the sum of the values written to fd(). Held by value.
class Accumulator {
 public:
  Accumulator();
  void init(EventOps& ops);
  void process(Events events, EventOps& ops);
  void add(std::uint64_t value) const;  // writes `value` to the eventfd
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t events() const noexcept { return events_; }
  const EventFd& fd() const noexcept { return fd_; }

 private:
  EventFd fd_;
  std::uint64_t total_ = 0;
  std::uint64_t events_ = 0;
};

/// Accumulator with interior synchronization, for EventManager<std::shared_ptr<EventSubscriber>>.
class AtomicAccumulator final : public EventSubscriber {
 public:
  AtomicAccumulator();
  void init(EventOps& ops) const override;
  void process(Events events, EventOps& ops) const override;
  void add(std::uint64_t value) const;
  std::uint64_t total() const noexcept { return total_.load(); }

 private:
  EventFd fd_;
  mutable std::atomic<std::uint64_t> total_{0};
};

/// Counter with interior synchronization: const methods, an atomic count.
/// For EventManager<std::shared_ptr<EventSubscriber>>.
class AtomicCounter final : public EventSubscriber {
 public:
  AtomicCounter();
  void init(EventOps& ops) const override;
  void process(Events events, EventOps& ops) const override;
  void trigger() const;
  void clear() const;
  std::uint64_t count() const noexcept { return count_.load(); }

 private:
  EventFd fd_;
  mutable std::atomic<std::uint64_t> count_{0};
};

/// Counter behind the mutable dynamic interface, for EventManager<std::unique_ptr<MutEventSubscriber>>.
class MutCounter final : public MutEventSubscriber {
 public:
  MutCounter();
  void init(EventOps& ops) override;
  void process(Events events, EventOps& ops) override;
  void trigger() const;
  void clear() const;
  std::uint64_t count() const noexcept { return count_; }
  const EventFd& fd() const noexcept { return fd_; }

 private:
  EventFd fd_;
  std::uint64_t count_ = 0;
};

/// One subscriber watching several eventfds, told apart by their 32-bit data
/// (rust-vmm's CounterSubscriberWithData). counts()[i] counts the events of fd i.
class CounterWithData {
 public:
  explicit CounterWithData(std::size_t fds, std::uint32_t first_data = 0);
  void init(EventOps& ops);
  void process(Events events, EventOps& ops);
  void trigger(std::size_t i) const;
  void clear(std::size_t i) const;
  const std::vector<std::uint64_t>& counts() const noexcept { return counts_; }
  const EventFd& fd(std::size_t i) const noexcept { return fds_[i]; }
  std::uint32_t first_data() const noexcept { return first_data_; }

 private:
  std::vector<EventFd> fds_;
  std::vector<std::uint64_t> counts_;
  std::uint32_t first_data_;
};

/// A subscriber made of callbacks, for tests that need a one-off behaviour.
struct Lambda {
  std::function<void(EventOps&)> on_init = [](EventOps&) {};
  std::function<void(Events, EventOps&)> on_process = [](Events, EventOps&) {};
  void init(EventOps& ops) { on_init(ops); }
  void process(Events events, EventOps& ops) { on_process(events, ops); }
};

/// Counts live instances (constructed minus destroyed) through a shared counter.
class LiveCount {
 public:
  explicit LiveCount(std::shared_ptr<int> live) : live_(std::move(live)) { ++*live_; }
  LiveCount(const LiveCount& other) : live_(other.live_) { ++*live_; }
  LiveCount(LiveCount&& other) noexcept : live_(other.live_) { ++*live_; }
  LiveCount& operator=(const LiveCount&) = delete;
  ~LiveCount() { --*live_; }

 private:
  std::shared_ptr<int> live_;
};

/// Writes 1 to a raw eventfd (or any fd that accepts an 8-byte write).
void write_one(int fd);

}  // namespace event_manager::test
