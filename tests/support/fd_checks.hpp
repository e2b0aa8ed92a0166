// Helpers to check that fds are not leaked and are close-on-exec.
#pragma once

#include <gtest/gtest.h>

#include <set>

namespace event_manager::test {

/// The set of fds open in this process (from /proc/self/fd).
std::set<int> open_fds();
/// True when `fd` is open and has FD_CLOEXEC set.
bool is_close_on_exec(int fd);

/// Declared first in a test: at its end, every fd the test opened is closed again.
class NoFdLeak {
 public:
  NoFdLeak() : before_(open_fds()) {}
  ~NoFdLeak() { EXPECT_EQ(open_fds(), before_) << "the test left fds open"; }
  NoFdLeak(const NoFdLeak&) = delete;
  NoFdLeak& operator=(const NoFdLeak&) = delete;

 private:
  std::set<int> before_;
};

}  // namespace event_manager::test
