// Bounded waits for tests: a bug must fail a test, never hang CI.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>

namespace event_manager::test {

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

}  // namespace event_manager::test
