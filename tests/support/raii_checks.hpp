// The fd-owning RAII checklist shared by EventFd and TimerFd tests: move
// assignment closes the old fd, and the destructor closes the fd.
#pragma once

#include <fcntl.h>

#include <utility>

#include <gtest/gtest.h>

#include "support/fd_checks.hpp"

namespace event_manager::test {

inline bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

/// `create()` returns a fresh owner (e.g. `[] { return EventFd::create().value(); }`).
template <class Create>
void expect_move_assignment_closes_the_old_fd(Create create) {
  auto a = create();
  auto b = create();
  const int old_number = a.fd();
  const int kept = b.fd();
  a = std::move(b);
  EXPECT_EQ(a.fd(), kept);
  EXPECT_EQ(b.fd(), -1);  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(is_open(old_number));
  EXPECT_TRUE(is_open(kept));
}

template <class Create>
void expect_destructor_closes_the_fd(Create create) {
  const auto before = open_fds();
  int number = -1;
  {
    auto owner = create();
    number = owner.fd();
    EXPECT_TRUE(is_open(number));
  }
  EXPECT_FALSE(is_open(number));
  EXPECT_EQ(open_fds(), before);
  {
    auto moved_from = create();
    auto taker(std::move(moved_from));
  }
  EXPECT_EQ(open_fds(), before);  // a moved-from object closes nothing, and nothing twice
}

}  // namespace event_manager::test
