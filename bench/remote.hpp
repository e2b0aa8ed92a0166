// bench/remote.hpp — RemoteEndpoint fixtures and their floor, shared by
// remote_bench.cpp (timing) and instructions.cpp (callgrind counts).
//
// The floor is a raw two-thread eventfd ping-pong: the caller writes "ping",
// the peer's blocking read() returns and it writes "pong", which the caller's
// blocking read() waits for. A call_blocking() round trip does the same
// hand-over in both directions (an eventfd write that wakes the loop's
// epoll_wait, then a condition variable that wakes the caller).
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include <event_manager/event_manager.hpp>

#include "common.hpp"

namespace bench {

/// The floor. `peer_cpu` < 0 leaves the peer thread unpinned.
class PingPong {
 public:
  explicit PingPong(int peer_cpu)
      : ping_(check(::eventfd(0, EFD_CLOEXEC), "eventfd")), pong_(check(::eventfd(0, EFD_CLOEXEC), "eventfd")) {
    peer_ = std::thread([this, peer_cpu] {
      if (peer_cpu >= 0) pin_to_cpu(peer_cpu);
      for (;;) {
        std::uint64_t value = 0;
        if (::read(ping_, &value, sizeof value) != sizeof value) die("read ping");
        if (value != 1) return;  // the destructor's stop signal
        send(pong_, 1);
      }
    });
  }
  ~PingPong() {
    send(ping_, 2);
    peer_.join();
    ::close(ping_);
    ::close(pong_);
  }
  PingPong(const PingPong&) = delete;
  PingPong& operator=(const PingPong&) = delete;

  void round_trip() {
    send(ping_, 1);
    std::uint64_t value = 0;
    if (::read(pong_, &value, sizeof value) != sizeof value) die("read pong");
  }

 private:
  static void send(int fd, std::uint64_t value) {
    if (::write(fd, &value, sizeof value) != sizeof value) die("write");
  }

  int ping_;
  int pong_;
  std::thread peer_;
};

/// A subscriber with nothing to do: the manager only serves remote requests.
struct Idle {
  void init(event_manager::EventOps&) {}
  void process(event_manager::Events, event_manager::EventOps&) {}
};

/// An event_manager looping in its own thread (pinned to `loop_cpu` unless < 0).
class RemoteLoop {
 public:
  explicit RemoteLoop(int loop_cpu) : manager_(create_manager<Idle>()), endpoint_(manager_.remote_endpoint()) {
    loop_ = std::thread([this, loop_cpu] {
      if (loop_cpu >= 0) pin_to_cpu(loop_cpu);
      while (!stop_.load(std::memory_order_relaxed)) {
        if (!manager_.run()) die("run");
      }
    });
  }
  ~RemoteLoop() {
    stop_.store(true, std::memory_order_relaxed);
    if (!endpoint_.kick()) die("kick");
    loop_.join();
  }
  RemoteLoop(const RemoteLoop&) = delete;
  RemoteLoop& operator=(const RemoteLoop&) = delete;

  /// One call_blocking() round trip with a trivial closure.
  int call() {
    auto answer = endpoint_.call_blocking([](event_manager::SubscriberOps<Idle>&) { return 1; });
    if (!answer) die("call_blocking");
    return *answer;
  }
  /// Queues a trivial closure without waiting.
  void fire() {
    if (!endpoint_.fire([this](event_manager::SubscriberOps<Idle>&) { ++fired_; })) die("fire");
  }
  /// Waits until every fired closure ran; returns how many ran so far.
  std::uint64_t drain() {
    auto count = endpoint_.call_blocking([this](event_manager::SubscriberOps<Idle>&) { return fired_; });
    if (!count) die("call_blocking");
    return *count;
  }

 private:
  event_manager::EventManager<Idle> manager_;
  event_manager::RemoteEndpoint<Idle> endpoint_;
  std::atomic<bool> stop_{false};
  std::uint64_t fired_ = 0;  // loop thread only
  std::thread loop_;
};

}  // namespace bench
