// Bounded waits for tests: a bug must fail a test, never hang CI.
//
//   test::Watchdog dog("call_blocking");       // aborts if this scope lasts 20 s
//   auto r = endpoint.call_blocking(...);
//   ASSERT_TRUE(test::eventually([&] { return device->total() == 3; }));
//   EXPECT_EQ(test::await(future, "loop thread"), "");
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

namespace event_manager::test {

/// The bound on every wait for something that must happen: generous, for
/// sanitizer builds on a loaded machine; a passing test never comes near it.
inline constexpr std::chrono::milliseconds kHangLimit = std::chrono::seconds(20);

/// The value of `future`, or an abort naming `what` if it is not ready within
/// `limit` (a hung wait cannot be cancelled, so the process must end).
template <class T, class Rep, class Period>
T await(std::future<T>& future, const char* what, std::chrono::duration<Rep, Period> limit) {
  if (future.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "'%s' did not finish within %lld ms\n", what,
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(limit).count()));
    std::abort();
  }
  return future.get();
}

/// await() with the default bound, kHangLimit.
template <class T>
T await(std::future<T>& future, const char* what) {
  return await(future, what, kHangLimit);
}

/// Polls `condition` every millisecond until it holds or `limit` passes.
/// Returns whether it held: a caller asserts on it, so a lost event fails the
/// test instead of hanging it.
template <class Condition, class Rep = std::chrono::milliseconds::rep, class Period = std::chrono::milliseconds::period>
bool eventually(Condition condition, std::chrono::duration<Rep, Period> limit = kHangLimit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Aborts the program unless destroyed within `within`: a blocking call made
/// by the test thread itself (which no future can bound) becomes a failure
/// instead of a hang.
class Watchdog {
 public:
  explicit Watchdog(const char* what, std::chrono::milliseconds within = kHangLimit)
      : thread_([this, what, within] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, within, [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: '%s' did not finish within %lld ms\n", what,
                         static_cast<long long>(within.count()));
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace event_manager::test
