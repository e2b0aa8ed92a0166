// detail::UniqueFd, the fd owner behind EventFd, TimerFd, SignalFd and the
// manager's create(): every fd it holds is closed exactly once, through the
// library's close() seam (the close log of fault_injection.hpp counts).
#include <sys/eventfd.h>
#include <unistd.h>

#include <type_traits>
#include <utility>

#include <gtest/gtest.h>

#include <event_manager/detail/unique_fd.hpp>
#include <event_manager/event_fd.hpp>
#include <event_manager/timer_fd.hpp>

#include "fault_injection.hpp"
#include "support/raii_checks.hpp"

namespace event_manager {
namespace {

using detail::UniqueFd;

static_assert(std::is_nothrow_move_constructible_v<UniqueFd> && std::is_nothrow_move_assignable_v<UniqueFd>);
static_assert(!std::is_copy_constructible_v<UniqueFd> && !std::is_copy_assignable_v<UniqueFd>);
static_assert(std::is_nothrow_move_constructible_v<EventFd> && std::is_nothrow_move_assignable_v<EventFd>);
static_assert(std::is_nothrow_move_constructible_v<TimerFd> && std::is_nothrow_move_assignable_v<TimerFd>);

int open_eventfd() { return ::eventfd(0, EFD_CLOEXEC); }

TEST(UniqueFd, DefaultHoldsNothingAndClosesNothing) {
  fault::CloseLog log;
  {
    UniqueFd none;
    EXPECT_EQ(none.get(), -1);
  }
  EXPECT_TRUE(log.closed().empty());
}

TEST(UniqueFd, DestructorClosesOnce) {
  const int number = open_eventfd();
  fault::CloseLog log;
  {
    UniqueFd owner(number);
  }
  EXPECT_EQ(log.close_count(number), 1);
  EXPECT_FALSE(test::is_open(number));
}

TEST(UniqueFd, MoveConstructionTransfersWithoutClosing) {
  const int number = open_eventfd();
  fault::CloseLog log;
  {
    UniqueFd from(number);
    UniqueFd to(std::move(from));
    EXPECT_EQ(from.get(), -1);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(to.get(), number);
    EXPECT_TRUE(log.closed().empty());
  }
  EXPECT_EQ(log.close_count(number), 1);
  EXPECT_EQ(log.closed().size(), 1u);
}

TEST(UniqueFd, MoveAssignmentClosesTheOldFdOnce) {
  const int kept = open_eventfd();
  const int old_number = open_eventfd();
  fault::CloseLog log;
  {
    UniqueFd a(old_number);
    UniqueFd b(kept);
    a = std::move(b);
    EXPECT_EQ(a.get(), kept);
    EXPECT_EQ(b.get(), -1);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(log.close_count(old_number), 1);
    EXPECT_EQ(log.close_count(kept), 0);
    EXPECT_TRUE(test::is_open(kept));
  }
  EXPECT_EQ(log.close_count(kept), 1);
  EXPECT_EQ(log.closed().size(), 2u);
}

TEST(UniqueFd, SelfMoveAssignmentKeepsTheFd) {
  const int number = open_eventfd();
  fault::CloseLog log;
  {
    UniqueFd a(number);
    UniqueFd& alias = a;
    a = std::move(alias);
    EXPECT_EQ(a.get(), number);
    EXPECT_TRUE(test::is_open(number));
    EXPECT_TRUE(log.closed().empty());
  }
  EXPECT_EQ(log.close_count(number), 1);
}

TEST(UniqueFd, ReleaseGivesUpOwnershipAndResetClosesOnce) {
  const int number = open_eventfd();
  const int other = open_eventfd();
  fault::CloseLog log;
  {
    UniqueFd a(number);
    EXPECT_EQ(a.release(), number);
    EXPECT_EQ(a.get(), -1);
    a.reset(other);
    EXPECT_EQ(a.get(), other);
    a.reset();
    EXPECT_EQ(a.get(), -1);
    EXPECT_EQ(log.close_count(other), 1);
  }
  EXPECT_EQ(log.close_count(number), 0);
  EXPECT_EQ(log.closed().size(), 1u);
  EXPECT_TRUE(test::is_open(number));
  ::close(number);
}

}  // namespace
}  // namespace event_manager
