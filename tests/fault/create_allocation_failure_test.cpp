// EventManager::create() when an allocation throws std::bad_alloc: every fd it
// opened is closed exactly once, on every path.
//
// The set of open fds cannot tell a double close from a single one (the number
// is closed either way); in a threaded program the second close() may close
// another thread's fresh fd. The close() wrapper of fault_injection.cpp logs
// the numbers this thread closes, which can.
//
// This file replaces the global operator new, which is why it is its own
// executable: the replacement throws std::bad_alloc on the nth allocation
// after fail_on_nth(n), as tests/scenarios/allocation_test.cpp does.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

#include "fault_injection.hpp"
#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"

#include "support/counting_new.hpp"

namespace {

/// The next allocations succeed up to the nth, which throws; 0 turns it off.
void fail_on_nth(long n) { g_fail_countdown.store(n); }

}  // namespace

namespace event_manager {
namespace {

using test::Counter;

TEST(CreateAllocationFailure, CloseLogSeesEveryClose) {
  // The harness itself: a number closed twice shows up twice.
  auto a = EventFd::create().value();
  const int number = a.fd();
  fault::CloseLog log;
  {
    auto gone = std::move(a);
  }
  EXPECT_EQ(log.close_count(number), 1);
  EXPECT_EQ(::close(number), -1);  // closed already: EBADF, but the call is logged
  EXPECT_EQ(log.close_count(number), 2);
}

TEST(CreateAllocationFailure, EveryFdIsClosedExactlyOnce) {
  const std::set<int> before = test::open_fds();
  int points = 0;
  for (long nth = 1;; ++nth) {
    SCOPED_TRACE("allocation " + std::to_string(nth) + " throws");
    bool threw = false;
    std::map<int, int> closed_twice;
    {
      fault::CloseLog log;
      fail_on_nth(nth);
      try {
        auto manager = EventManager<Counter>::create();
        fail_on_nth(0);
        ASSERT_TRUE(manager) << manager.error().message();
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      fail_on_nth(0);
      for (int fd : log.closed()) {
        if (log.close_count(fd) > 1) closed_twice[fd] = log.close_count(fd);
      }
    }
    for (const auto& [fd, count] : closed_twice) ADD_FAILURE() << "fd " << fd << " closed " << count << " times";
    EXPECT_EQ(test::open_fds(), before) << "fd leaked";
    if (!threw) break;  // create() made fewer allocations than nth: every one was failed once
    ++points;
    ASSERT_LT(nth, 64) << "create() keeps allocating";
  }
  // The ready buffer, the channel, the Core and its table at least.
  EXPECT_GE(points, 4);
}

}  // namespace
}  // namespace event_manager
