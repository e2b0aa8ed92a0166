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

/// What a failed call returned, recorded while fds are exhausted and checked
/// after the limit is restored: under UBSan, a virtual call whose dynamic type
/// is not cached yet (std::error_category::operator== is one) needs a pipe()
/// to validate the vtable, which fails when no fd is left.
struct Outcome {
  bool ok = true;
  int value = 0;
  const std::error_category* category = nullptr;
  template <class T>
  static Outcome of(const Result<T>& r) {
    if (r) return {};
    return {false, r.error().value(), &r.error().category()};
  }
  bool is_emfile() const { return !ok && value == EMFILE && category == &std::system_category(); }
};

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
  // The fds open before the test, for checks in its middle (the FdLeakListener checks its end).
  void SetUp() override { baseline_ = test::open_fds(); }
  std::set<int> baseline_;
};

TEST_F(Exhaustion, CreateFailsAtTheEpollFdWithNoFdLeft) {
  Outcome got;
  {
    FdLimit limit(0);
    got = Outcome::of(EventManager<Noop>::create());
  }
  EXPECT_TRUE(got.is_emfile()) << got.value;
  EXPECT_EQ(test::open_fds(), baseline_);
  auto m = EventManager<Noop>::create();  // works again once fds are available
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->run_with_timeout(0));
}

TEST_F(Exhaustion, CreateFailsAtTheWakeUpEventFdAndClosesTheEpollFd) {
  Outcome got;
  {
    FdLimit limit(1);  // room for the epoll fd, not for the endpoint's eventfd
    got = Outcome::of(EventManager<Noop>::create());
  }
  EXPECT_TRUE(got.is_emfile()) << got.value;
  EXPECT_EQ(test::open_fds(), baseline_);
}

TEST_F(Exhaustion, CreateSucceedsWithExactlyTwoFds) {
  // Warm up (see Outcome) with the calls made under the limit below.
  {
    auto warm = EventManager<Noop>::create().value();
    (void)warm.remote_endpoint().kick();
    (void)warm.run_with_timeout(0);
  }
  Outcome created, more, kicked;
  std::size_t count = 0;
  {
    FdLimit limit(2);
    auto m = EventManager<Noop>::create();
    created = Outcome::of(m);
    if (m) {
      // Both fds are in use now: nothing else can be opened, the manager still runs.
      more = Outcome::of(EventFd::create());
      kicked = Outcome::of(m->remote_endpoint().kick());
      count = m->run_with_timeout(0).value_or(99);
    }
  }
  ASSERT_TRUE(created.ok) << created.value;
  EXPECT_TRUE(more.is_emfile()) << more.value;
  EXPECT_TRUE(kicked.ok);
  EXPECT_EQ(count, 1u);
}

TEST_F(Exhaustion, EventFdAndTimerFdCreateFailWithEmfile) {
  Outcome e, big, t, t2;
  {
    FdLimit limit(0);
    e = Outcome::of(EventFd::create());
    big = Outcome::of(EventFd::create(std::uint64_t{1} << 40));
    t = Outcome::of(TimerFd::create());
    t2 = Outcome::of(TimerFd::create(CLOCK_REALTIME));
  }
  EXPECT_TRUE(e.is_emfile()) << e.value;
  EXPECT_TRUE(big.is_emfile()) << big.value;
  EXPECT_TRUE(t.is_emfile()) << t.value;
  EXPECT_TRUE(t2.is_emfile()) << t2.value;
}

TEST_F(Exhaustion, TryCloneFailsWithEmfile) {
  auto fd = EventFd::create().value();
  Outcome clone;
  {
    FdLimit limit(0);
    clone = Outcome::of(fd.try_clone());
  }
  EXPECT_TRUE(clone.is_emfile()) << clone.value;
  ASSERT_TRUE(fd.write(3));
  EXPECT_EQ(fd.read().value(), 3u);
}

TEST_F(Exhaustion, ARunningManagerKeepsWorkingWhenFdsRunOut) {
  auto m = EventManager<Noop>::create().value();
  auto endpoint = m.remote_endpoint();
  int ran = 0;
  bool removed = false;
  auto request = [&ran, &removed](SubscriberOps<Noop>& ops) {
    ++ran;
    const SubscriberId id = ops.add_subscriber(Noop{});
    removed = ops.remove_subscriber(id).has_value();
  };
  // The same request once before the limit: warms up UBSan's type cache (see Outcome).
  ASSERT_TRUE(endpoint.fire(request));
  ASSERT_TRUE(m.run_with_timeout(0));
  ASSERT_EQ(ran, 1);
  Outcome fired, other;
  std::size_t count = 0;
  {
    FdLimit limit(0);
    // Registration, dispatch and requests need no new fd.
    fired = Outcome::of(endpoint.fire(request));
    count = m.run_with_timeout(0).value_or(99);
    other = Outcome::of(EventManager<Noop>::create());
  }
  EXPECT_TRUE(fired.ok);
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(ran, 2);
  EXPECT_TRUE(removed);
  EXPECT_TRUE(other.is_emfile()) << other.value;
}

}  // namespace
}  // namespace event_manager
