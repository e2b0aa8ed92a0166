#include <event_manager/event_fd.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <type_traits>
#include <utility>

#include "support/fd_checks.hpp"
#include "support/raii_checks.hpp"

using event_manager::EventFd;
using event_manager::test::is_close_on_exec;
using event_manager::test::open_fds;

static_assert(std::is_nothrow_move_constructible_v<EventFd>);
static_assert(std::is_nothrow_move_assignable_v<EventFd>);
static_assert(!std::is_copy_constructible_v<EventFd> && !std::is_copy_assignable_v<EventFd>);

namespace {
bool is_non_blocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
}  // namespace

TEST(EventFd, CreateIsCloseOnExecAndNonBlocking) {
  auto fd = EventFd::create().value();
  EXPECT_GE(fd.fd(), 0);
  EXPECT_TRUE(is_close_on_exec(fd.fd()));
  EXPECT_TRUE(is_non_blocking(fd.fd()));
}

TEST(EventFd, ReadOfZeroCounterIsTryAgain) {
  auto fd = EventFd::create().value();
  EXPECT_EQ(fd.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(EventFd, ReadReturnsTheSumOfWritesAndResets) {
  auto fd = EventFd::create().value();
  ASSERT_TRUE(fd.write(2).has_value());
  ASSERT_TRUE(fd.write(40).has_value());
  EXPECT_EQ(fd.read().value(), 42u);
  EXPECT_EQ(fd.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(EventFd, CreateSetsTheInitialCounter) {
  EXPECT_EQ(EventFd::create(5).value().read().value(), 5u);
  const std::uint64_t big = (std::uint64_t{1} << 40) + 3;  // above eventfd()'s unsigned int
  EXPECT_EQ(EventFd::create(big).value().read().value(), big);
}

TEST(EventFd, SemaphoreFlagReadsOneAtATime) {
  auto fd = EventFd::create(2, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE).value();
  EXPECT_EQ(fd.read().value(), 1u);
  EXPECT_EQ(fd.read().value(), 1u);
  EXPECT_EQ(fd.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(EventFd, CreateWithUnknownFlagsIsEinvalAndOpensNothing) {
  const auto before = open_fds();
  EXPECT_EQ(EventFd::create(0, 0x7FFFFFFF).error(), std::errc::invalid_argument);
  EXPECT_EQ(open_fds(), before);
}

TEST(EventFd, WriteOfMaxIsEinvalAndOverflowIsTryAgain) {
  auto fd = EventFd::create().value();
  EXPECT_EQ(fd.write(UINT64_MAX).error(), std::errc::invalid_argument);
  ASSERT_TRUE(fd.write(UINT64_MAX - 1).has_value());
  EXPECT_EQ(fd.write(1).error(), std::errc::resource_unavailable_try_again);
}

TEST(EventFd, MoveConstructionTransfersTheFd) {
  auto a = EventFd::create(3).value();
  const int number = a.fd();
  EventFd b(std::move(a));
  EXPECT_EQ(b.fd(), number);
  EXPECT_EQ(a.fd(), -1);  // NOLINT(bugprone-use-after-move): the moved-from state is documented
  EXPECT_EQ(b.read().value(), 3u);
}

TEST(EventFd, MoveAssignmentClosesTheOldFd) {
  event_manager::test::expect_move_assignment_closes_the_old_fd([] { return EventFd::create().value(); });
}

TEST(EventFd, DestructorClosesTheFd) {
  event_manager::test::expect_destructor_closes_the_fd([] { return EventFd::create().value(); });
}

TEST(EventFd, TryCloneSharesTheCounterAndIsCloseOnExec) {
  auto a = EventFd::create().value();
  auto b = a.try_clone().value();
  EXPECT_NE(a.fd(), b.fd());
  EXPECT_TRUE(is_close_on_exec(b.fd()));
  ASSERT_TRUE(a.write(7).has_value());
  EXPECT_EQ(b.read().value(), 7u);
  EXPECT_EQ(a.read().error(), std::errc::resource_unavailable_try_again);
}

TEST(EventFd, AllFdsItOpensAreClosedAgain) {
  const auto before = open_fds();
  {
    auto a = EventFd::create().value();
    auto b = a.try_clone().value();
    auto c = std::move(a);
    c = b.try_clone().value();
  }
  EXPECT_EQ(open_fds(), before);
}
