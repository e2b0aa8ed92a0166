// Resource exhaustion: with RLIMIT_NOFILE lowered so that only 0, 1 or 2 fds
// can still be opened, create(), EventFd::create(), TimerFd::create() and
// try_clone() fail with EMFILE, leave no fd open and never crash; with the
// limit restored everything works again.
//
// The kernel's epoll watch limit (/proc/sys/fs/epoll/max_user_watches, about
// 4 % of low memory divided by the size of a watch: millions on any machine
// with a few GB) cannot be reached with the 20,000 fds a test may open, and it
// is shared by every process of the user. Its failure, ENOSPC from add(), is
// injected instead: tests/fault/syscall_failure_test.cpp
// (AddLeavesNothingRegisteredAndNextAddWorks) checks that add() then returns
// ENOSPC and leaves nothing registered.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

#include "support/fd_checks.hpp"

namespace event_manager {
namespace {

struct Noop {
  void init(EventOps&) {}
  void process(Events, EventOps&) {}
};

const std::error_code emfile(EMFILE, std::system_category());

/// Leaves exactly `free` fd numbers available to open (below a lowered soft
/// RLIMIT_NOFILE, the rest filled with /dev/null); restores everything on
/// destruction.
class FdLimit {
 public:
  explicit FdLimit(int free) {
    EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0);
    const auto open = test::open_fds();
    const int highest = open.empty() ? 2 : *open.rbegin();
    ::rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(highest + 1 + 8);
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        EXPECT_EQ(errno, EMFILE);
        break;
      }
      fillers_.push_back(fd);
    }
    EXPECT_GE(static_cast<int>(fillers_.size()), free);
    for (int i = 0; i < free && !fillers_.empty(); ++i) {
      ::close(fillers_.back());
      fillers_.pop_back();
    }
  }
  ~FdLimit() {
    for (int fd : fillers_) ::close(fd);
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &saved_), 0);
  }
  FdLimit(const FdLimit&) = delete;
  FdLimit& operator=(const FdLimit&) = delete;

 private:
  ::rlimit saved_{};
  std::vector<int> fillers_;
};

class Exhaustion : public ::testing::Test {
 protected:
  void SetUp() override { baseline_ = test::open_fds(); }
  void TearDown() override { EXPECT_EQ(test::open_fds(), baseline_) << "an fd was left open"; }
  std::set<int> baseline_;
};

TEST_F(Exhaustion, CreateFailsAtTheEpollFdWithNoFdLeft) {
  {
    FdLimit limit(0);
    auto m = EventManager<Noop>::create();
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error(), emfile);
  }
  EXPECT_EQ(test::open_fds(), baseline_);
  auto m = EventManager<Noop>::create();  // works again once fds are available
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->run_with_timeout(0));
}

TEST_F(Exhaustion, CreateFailsAtTheWakeUpEventFdAndClosesTheEpollFd) {
  {
    FdLimit limit(1);  // room for the epoll fd, not for the endpoint's eventfd
    auto m = EventManager<Noop>::create();
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error(), emfile);
  }
  EXPECT_EQ(test::open_fds(), baseline_);
}

TEST_F(Exhaustion, CreateSucceedsWithExactlyTwoFds) {
  FdLimit limit(2);
  auto m = EventManager<Noop>::create();
  ASSERT_TRUE(m);
  // Both fds are in use now: nothing else can be opened, the manager still runs.
  EXPECT_EQ(EventFd::create().error(), emfile);
  ASSERT_TRUE(m->remote_endpoint().kick());
  auto n = m->run_with_timeout(0);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
}

TEST_F(Exhaustion, EventFdAndTimerFdCreateFailWithEmfile) {
  FdLimit limit(0);
  auto e = EventFd::create();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), emfile);
  auto big = EventFd::create(std::uint64_t{1} << 40);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), emfile);
  auto t = TimerFd::create();
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), emfile);
  auto t2 = TimerFd::create(CLOCK_REALTIME);
  ASSERT_FALSE(t2);
  EXPECT_EQ(t2.error(), emfile);
}

TEST_F(Exhaustion, TryCloneFailsWithEmfile) {
  auto fd = EventFd::create().value();
  {
    FdLimit limit(0);
    auto clone = fd.try_clone();
    ASSERT_FALSE(clone);
    EXPECT_EQ(clone.error(), emfile);
  }
  ASSERT_TRUE(fd.write(3));
  EXPECT_EQ(fd.read().value(), 3u);
}

TEST_F(Exhaustion, ARunningManagerKeepsWorkingWhenFdsRunOut) {
  auto m = EventManager<Noop>::create().value();
  auto endpoint = m.remote_endpoint();
  FdLimit limit(0);
  // Registration, dispatch and requests need no new fd.
  int ran = 0;
  ASSERT_TRUE(endpoint.fire([&ran](SubscriberOps<Noop>& ops) {
    ++ran;
    const SubscriberId id = ops.add_subscriber(Noop{});
    EXPECT_TRUE(ops.remove_subscriber(id));
  }));
  auto n = m.run_with_timeout(0);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(ran, 1);
  auto other = EventManager<Noop>::create();
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), emfile);
}

}  // namespace
}  // namespace event_manager
