// Bad input: every invalid call returns the documented error and changes
// nothing (the registration stands, a trigger still dispatches, no fd leaks);
// and the peer-hang-up scenario of rust-vmm/event-manager's tests/negative_tests.rs.
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"
#include "support/test_access.hpp"

using namespace event_manager;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;
using event_manager::test::open_fds;

namespace {

/// A manager with two subscribers: `owner` has registered `fd` with data 5,
/// `other` has registered nothing. check_unchanged() proves a failed call
/// changed nothing.
class Negative : public ::testing::Test {
 protected:
  void SetUp() override {
    Lambda l;
    l.on_process = [this](Events e, EventOps& ops) {
      calls.push_back({ops.subscriber_id(), e});
      (void)fd.read();
    };
    owner = manager.add_subscriber(std::move(l));
    other = manager.add_subscriber(Lambda{});
    ASSERT_TRUE(ops(owner).add(registration).has_value());
    fds_before = open_fds();
  }

  EventOps ops(SubscriberId id) { return manager.event_ops(id).value(); }

  void check_unchanged() {
    EXPECT_EQ(ops(owner).registered(fd.fd()).value(), registration);
    EXPECT_EQ(ops(other).registered(fd.fd()).error(), Error::FdNotRegistered);
    calls.clear();
    EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
    ASSERT_TRUE(fd.write(1).has_value());
    EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].first, owner);
    EXPECT_EQ(calls[0].second, registration);
    EXPECT_EQ(open_fds(), fds_before) << "an fd leaked or was closed";
  }

  EventManager<Lambda> manager = EventManager<Lambda>::create().value();
  EventFd fd = EventFd::create().value();
  const Events registration = Events::with_data(fd, 5, EventSet::in);
  SubscriberId owner;
  SubscriberId other;
  std::vector<std::pair<SubscriberId, Events>> calls;
  std::set<int> fds_before;
};

}  // namespace

TEST_F(Negative, AddingMinusOneIsEbadf) {
  EXPECT_EQ(ops(other).add(Events(-1, EventSet::in)).error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(ops(other).registered(-1).error(), Error::FdNotRegistered);
  check_unchanged();
}

TEST_F(Negative, AddingAClosedFdIsEbadf) {
  const int closed = ::eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(closed, 0);
  ASSERT_EQ(::close(closed), 0);
  EXPECT_EQ(ops(other).add(Events(closed, EventSet::in)).error(), std::errc::bad_file_descriptor);
  EXPECT_EQ(ops(other).registered(closed).error(), Error::FdNotRegistered);
  check_unchanged();
  // The number is not half-registered: once open again it can be added.
  auto reopened = EventFd::create().value();
  EXPECT_TRUE(ops(other).add(Events(reopened, EventSet::in)).has_value());
}

TEST_F(Negative, AddingARegularFileIsEperm) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  const int regular = ::fileno(file);
  fds_before = open_fds();
  EXPECT_EQ(ops(other).add(Events(regular, EventSet::in)).error(), std::errc::operation_not_permitted);
  EXPECT_EQ(ops(other).registered(regular).error(), Error::FdNotRegistered);
  check_unchanged();
  std::fclose(file);
}

TEST_F(Negative, AddingAnFdAlreadyRegisteredBySameSubscriberIsFdAlreadyRegistered) {
  EXPECT_EQ(ops(owner).add(Events::with_data(fd, 6, EventSet::out)).error(), Error::FdAlreadyRegistered);
  check_unchanged();
}

TEST_F(Negative, AddingAnFdAlreadyRegisteredByAnotherSubscriberIsFdAlreadyRegistered) {
  EXPECT_EQ(ops(other).add(Events::with_data(fd, 6, EventSet::out)).error(), Error::FdAlreadyRegistered);
  check_unchanged();
}

TEST_F(Negative, AddingAnInvalidFlagCombinationIsEinval) {
  auto second = EventFd::create().value();
  fds_before = open_fds();
  EXPECT_EQ(ops(other).add(Events(second, EventSet::in | EventSet::exclusive | EventSet::one_shot)).error(),
            std::errc::invalid_argument);
  EXPECT_EQ(ops(other).registered(second.fd()).error(), Error::FdNotRegistered);
  check_unchanged();
  EXPECT_TRUE(ops(other).add(Events(second, EventSet::in)).has_value()) << "left half-registered";
}

TEST_F(Negative, ModifyingAnotherSubscribersFdIsFdNotRegistered) {
  EXPECT_EQ(ops(other).modify(Events::with_data(fd, 6, EventSet::out)).error(), Error::FdNotRegistered);
  check_unchanged();
}

TEST_F(Negative, RemovingAnotherSubscribersFdIsFdNotRegistered) {
  EXPECT_EQ(ops(other).remove(Events::empty(fd)).error(), Error::FdNotRegistered);
  check_unchanged();
}

TEST_F(Negative, ModifyingOrRemovingAnUnregisteredFdIsFdNotRegistered) {
  auto unregistered = EventFd::create().value();
  fds_before = open_fds();
  EXPECT_EQ(ops(owner).modify(Events(unregistered, EventSet::in)).error(), Error::FdNotRegistered);
  EXPECT_EQ(ops(owner).remove(Events::empty(unregistered)).error(), Error::FdNotRegistered);
  EXPECT_EQ(ops(owner).modify(Events(-1, EventSet::in)).error(), Error::FdNotRegistered);
  EXPECT_EQ(ops(owner).remove(Events::empty(1 << 24)).error(), Error::FdNotRegistered);
  check_unchanged();
}

TEST_F(Negative, ModifyRefusedByTheKernelKeepsTheOldRegistration) {
  // EPOLLEXCLUSIVE is refused by EPOLL_CTL_MOD.
  EXPECT_EQ(ops(owner).modify(Events::with_data(fd, 6, EventSet::in | EventSet::exclusive)).error(),
            std::errc::invalid_argument);
  check_unchanged();
}

TEST_F(Negative, StaleIdsGiveInvalidIdAndChangeNothing) {
  const SubscriberId doomed = manager.add_subscriber(Lambda{});
  EventOps stale_ops = ops(doomed);
  ASSERT_TRUE(manager.remove_subscriber(doomed).has_value());
  for (SubscriberId stale : {doomed, SubscriberId(), detail::TestAccess::make_id(owner.value() + (1ull << 32))}) {
    EXPECT_EQ(manager.remove_subscriber(stale).error(), Error::InvalidId);
    EXPECT_EQ(manager.event_ops(stale).error(), Error::InvalidId);
    EXPECT_EQ(manager.subscriber_mut(stale), nullptr);
  }
  EXPECT_EQ(stale_ops.add(Events(fd, EventSet::in)).error(), Error::InvalidId);
  EXPECT_EQ(stale_ops.modify(registration).error(), Error::InvalidId);
  EXPECT_EQ(stale_ops.remove(registration).error(), Error::InvalidId);
  EXPECT_EQ(stale_ops.registered(fd.fd()).error(), Error::InvalidId);
  check_unchanged();
}

TEST(PeerHangUp, SubscriberSeesHangUpUntilItRemovesTheFd) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  auto manager = EventManager<Lambda>::create().value();
  std::vector<EventSet> seen;
  Lambda l;
  // Interest in hang_up alone (v4: the empty set mutes, so v3's "interest in
  // nothing" is now spelled EventSet::hang_up).
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(pair[0], EventSet::hang_up)).has_value()); };
  l.on_process = [&](Events e, EventOps& ops) {
    seen.push_back(e.event_set());
    if (seen.size() == 3) {
      ASSERT_TRUE(ops.remove(e).has_value());
    }
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
  ASSERT_EQ(::close(pair[1]), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_EQ(seen.size(), 3u);
  for (EventSet s : seen) {
    EXPECT_TRUE(s.contains(EventSet::hang_up));
    EXPECT_FALSE(s.contains(EventSet::in)) << "a bit that was not registered was delivered";
  }
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u) << "removed, yet still reported";
  ::close(pair[0]);
}

TEST(PeerHangUp, CounterRemovesItsFdOnHangUp) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  auto manager = EventManager<Lambda>::create().value();
  std::vector<EventSet> seen;
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events(pair[0], EventSet::in | EventSet::read_hang_up)).has_value());
  };
  l.on_process = [&](Events e, EventOps& ops) {
    seen.push_back(e.event_set());
    if (e.event_set().intersects(EventSet::hang_up | EventSet::error)) {
      ASSERT_TRUE(ops.remove(e).has_value());
    }
  };
  (void)manager.add_subscriber(std::move(l));
  ASSERT_EQ(::close(pair[1]), 0);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].contains(EventSet::in | EventSet::read_hang_up | EventSet::hang_up));
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
  ::close(pair[0]);
}

TEST(PeerHangUp, ErrorIsReportedWithoutBeingAsked) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  auto manager = EventManager<Lambda>::create().value();
  std::vector<EventSet> seen;
  Lambda l;
  // A set of flags alone (no event bit) still reports error: only the empty set mutes.
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(pipe_fds[1], EventSet::edge_triggered)).has_value()); };
  l.on_process = [&](Events e, EventOps& ops) {
    seen.push_back(e.event_set());
    ASSERT_TRUE(ops.remove(e).has_value());
  };
  (void)manager.add_subscriber(std::move(l));
  ASSERT_EQ(::close(pipe_fds[0]), 0);  // the write end now reports EPOLLERR
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].contains(EventSet::error));
  ::close(pipe_fds[1]);
}

// Issue 8, defect 5: an event whose fd lies beyond the manager's table (here
// an fd added to the public epoll_fd() behind the manager's back, with data
// naming a huge fd) used to index past the table.
TEST_F(Negative, EventOfAnFdAddedBehindTheManagersBackIsSkipped) {
  {
    auto foreign = EventFd::create(1).value();
    for (const std::uint64_t key : {std::uint64_t{0x7FFFFFFF}, (std::uint64_t{1} << 32) | 0xFFFFFFF0u}) {
      ::epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = key;
      ASSERT_EQ(::epoll_ctl(manager.epoll_fd(), EPOLL_CTL_ADD, foreign.fd(), &ev), 0);
      EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u) << "the foreign event counts, and calls nobody";
      EXPECT_TRUE(calls.empty());
      ASSERT_EQ(::epoll_ctl(manager.epoll_fd(), EPOLL_CTL_DEL, foreign.fd(), nullptr), 0);
    }
  }
  check_unchanged();
}
