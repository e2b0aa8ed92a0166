// A manager driven on its own thread, for tests that talk to it from others.
//
//   auto manager = EventManager<Counter>::create().value();
//   test::LoopThread loop(manager);         // runs manager.run_with_timeout() in a loop
//   ... endpoint.call_blocking(...), writes to watched fds, ...
//   loop.stop();                            // or let the destructor stop it
#pragma once

#include <atomic>
#include <exception>
#include <thread>

#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

#include "support/waits.hpp"

namespace event_manager::test {

/// Runs `manager` on its own thread until stop() (or destruction). The
/// manager is borrowed: it must outlive the LoopThread, and the test must not
/// touch it (other than through a RemoteEndpoint or thread-safe subscribers)
/// until stop() returns. A run() error or exception fails the test.
template <class S>
class LoopThread {
 public:
  explicit LoopThread(EventManager<S>& manager) : manager_(manager), thread_([this] { loop(); }) {}
  ~LoopThread() { stop(); }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  std::thread::id id() const { return thread_.get_id(); }

  /// Ends the loop and joins the thread; afterwards the test owns the manager again.
  /// The loop ends when its current run_with_timeout() returns (each waits at
  /// most kRunTimeoutMs for an event).
  /// Sending a kick would end it sooner, but the kick could stay pending and
  /// make the test's own next run() return 1 for it.
  void stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    Watchdog dog("joining the loop thread");
    thread_.join();
  }

 private:
  void loop() {
    while (!stop_.load()) {
      try {
        auto n = manager_.run_with_timeout(kRunTimeoutMs);
        EXPECT_TRUE(n.has_value()) << n.error().message();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "run() threw: " << e.what();
      }
    }
  }

  static constexpr int kRunTimeoutMs = 10;

  EventManager<S>& manager_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace event_manager::test
