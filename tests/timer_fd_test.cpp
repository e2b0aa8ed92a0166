#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <type_traits>
#include <utility>

#include "support/fd_checks.hpp"
#include "support/raii_checks.hpp"
#include "support/subscribers.hpp"

using namespace event_manager;
using namespace std::chrono_literals;
using event_manager::test::is_close_on_exec;
using event_manager::test::kWaitMs;
using event_manager::test::open_fds;

static_assert(std::is_nothrow_move_constructible_v<TimerFd>);
static_assert(std::is_nothrow_move_assignable_v<TimerFd>);
static_assert(!std::is_copy_constructible_v<TimerFd> && !std::is_copy_assignable_v<TimerFd>);
static_assert(AsFd<TimerFd>);

namespace {


/// Waits (at most kWaitMs) until the timer has expired at least once.
bool wait_readable(const TimerFd& t) {
  ::pollfd p{t.fd(), POLLIN, 0};
  return ::poll(&p, 1, kWaitMs) == 1;
}

}  // namespace

TEST(TimerFd, CreateIsCloseOnExecAndNonBlocking) {
  auto t = TimerFd::create().value();
  EXPECT_TRUE(is_close_on_exec(t.fd()));
  EXPECT_TRUE((::fcntl(t.fd(), F_GETFL) & O_NONBLOCK) != 0);
  EXPECT_TRUE(TimerFd::create(CLOCK_REALTIME).has_value());
}

TEST(TimerFd, CreateWithUnknownClockIsEinvalAndOpensNothing) {
  const auto before = open_fds();
  EXPECT_EQ(TimerFd::create(12345).error(), std::errc::invalid_argument);
  EXPECT_EQ(open_fds(), before);
}

TEST(TimerFd, ReadOfUnarmedTimerIsTryAgain) {
  auto t = TimerFd::create().value();
  EXPECT_EQ(t.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(TimerFd, OneShotExpiresOnce) {
  auto t = TimerFd::create().value();
  ASSERT_TRUE(t.arm(1ms).has_value());
  ASSERT_TRUE(wait_readable(t));
  EXPECT_EQ(t.read().value(), 1u);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(t.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(TimerFd, PeriodicCountsEveryExpiration) {
  auto t = TimerFd::create().value();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(t.arm(1ms, 2ms).has_value());
  std::this_thread::sleep_for(30ms);
  const std::uint64_t n = t.read().value();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(n, 14u);  // at 1, 3, ..., 29 ms at least
  // Never more than the elapsed time allows: one at 1 ms, then one per 2 ms.
  EXPECT_LE(n, static_cast<std::uint64_t>((elapsed - 1ms) / 2ms) + 1);
  ASSERT_TRUE(wait_readable(t));  // still running
  EXPECT_GE(t.read().value(), 1u);
}

TEST(TimerFd, DisarmStopsTheTimerAndDropsUnreadExpirations) {
  auto t = TimerFd::create().value();
  ASSERT_TRUE(t.arm(1ms, 1ms).has_value());
  ASSERT_TRUE(wait_readable(t));
  ASSERT_TRUE(t.disarm().has_value());
  EXPECT_EQ(t.read().error(), std::errc::resource_unavailable_try_again);
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(t.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(TimerFd, ArmWithZeroDisarms) {
  auto t = TimerFd::create().value();
  ASSERT_TRUE(t.arm(5ms, 1ms).has_value());
  ASSERT_TRUE(t.arm(0ns, 1ms).has_value());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(t.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(TimerFd, NegativeDurationsAreEinval) {
  auto t = TimerFd::create().value();
  EXPECT_EQ(t.arm(-1ns).error(), std::errc::invalid_argument);
  EXPECT_EQ(t.arm(1ms, -1ms).error(), std::errc::invalid_argument);
  EXPECT_EQ(t.arm(-1s, 1ms).error(), std::errc::invalid_argument);
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(t.read().error(), std::errc::resource_unavailable_try_again) << "a refused arm() armed the timer";
}

TEST(TimerFd, ArmReplacesThePreviousArm) {
  auto t = TimerFd::create().value();
  ASSERT_TRUE(t.arm(1h).has_value());
  ASSERT_TRUE(t.arm(1ms).has_value());
  ASSERT_TRUE(wait_readable(t));
  EXPECT_EQ(t.read().value(), 1u);
}

TEST(TimerFd, LongDurationsAreSplitIntoSecondsAndNanoseconds) {
  auto t = TimerFd::create().value();
  ASSERT_TRUE(t.arm(1s + 500ms, 2s + 1ns).has_value());  // tv_nsec must stay below one second
  ASSERT_TRUE(t.disarm().has_value());
}

TEST(TimerFd, MoveConstructionTransfersTheFd) {
  auto a = TimerFd::create().value();
  const int number = a.fd();
  TimerFd b(std::move(a));
  EXPECT_EQ(b.fd(), number);
  EXPECT_EQ(a.fd(), -1);  // NOLINT(bugprone-use-after-move)
  ASSERT_TRUE(b.arm(1ms).has_value());
  ASSERT_TRUE(wait_readable(b));
}

TEST(TimerFd, MoveAssignmentClosesTheOldFd) {
  event_manager::test::expect_move_assignment_closes_the_old_fd([] { return TimerFd::create().value(); });
}

TEST(TimerFd, DestructorClosesTheFd) {
  event_manager::test::expect_destructor_closes_the_fd([] { return TimerFd::create().value(); });
}

TEST(TimerFd, DrivesAManager) {
  auto manager = EventManager<test::Lambda>::create().value();
  auto t = TimerFd::create().value();
  std::uint64_t expirations = 0;
  test::Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events::with_data(t, 7, EventSet::in)).has_value()); };
  l.on_process = [&](Events e, EventOps&) {
    EXPECT_EQ(e.data(), 7u);
    expirations += t.read().value_or(0);
  };
  (void)manager.add_subscriber(std::move(l));
  ASSERT_TRUE(t.arm(1ms, 1ms).has_value());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_GE(expirations, 3u);
}
