// Pausing (v4): SubscriberOps::pause/resume/paused/subscriber_count, from the
// loop thread, from callbacks and through RemoteEndpoint requests. A paused
// subscriber gets nothing and costs no CPU; resume() loses no wake-up that
// arrived meanwhile, re-arms one-shot fds whose event was dropped, and returns
// the first error of a refused re-arm after re-arming the others.
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"
#include "support/waits.hpp"

using namespace event_manager;
using event_manager::test::Counter;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

struct Seen {
  SubscriberId by;
  Events events;
  friend bool operator==(const Seen&, const Seen&) = default;
};

class Pause : public ::testing::Test {
 protected:
  SubscriberId add_recorder() {
    auto id = std::make_shared<SubscriberId>();
    Lambda l;
    l.on_init = [id](EventOps& ops) { *id = ops.subscriber_id(); };
    l.on_process = [this, id](Events e, EventOps&) { seen.push_back({*id, e}); };
    return manager.add_subscriber(std::move(l));
  }
  EventOps ops(SubscriberId id) { return manager.event_ops(id).value(); }
  std::size_t run(int timeout_ms = kWaitMs) { return manager.run_with_timeout(timeout_ms).value(); }
  /// run_with_timeout(100) must wait the whole 100 ms and report nothing.
  void expect_idle_100ms(const char* why) {
    const auto start = steady_clock::now();
    EXPECT_EQ(run(100), 0u) << why;
    EXPECT_GE(steady_clock::now() - start, milliseconds(100)) << why;
  }
  bool is_paused(SubscriberId id) { return manager.paused(id).value(); }

  EventManager<Lambda> manager = EventManager<Lambda>::create().value();
  std::vector<Seen> seen;
};

std::error_code sys_error(int e) { return {e, std::system_category()}; }

}  // namespace

TEST_F(Pause, PausedSubscriberGetsNoFdEventsOrInjectionsUntilResume) {
  const SubscriberId paused = add_recorder();
  const SubscriberId other = add_recorder();
  auto fd = EventFd::create(1).value();
  auto other_fd = EventFd::create(1).value();
  ASSERT_TRUE(ops(paused).add(Events::with_data(fd, 1, EventSet::in)).has_value());
  ASSERT_TRUE(ops(other).add(Events::with_data(other_fd, 2, EventSet::in | EventSet::edge_triggered)).has_value());
  EXPECT_FALSE(is_paused(paused));
  ASSERT_TRUE(manager.pause(paused).has_value());
  EXPECT_TRUE(is_paused(paused));
  EXPECT_FALSE(is_paused(other));
  ASSERT_TRUE(ops(paused).inject(fd.fd(), EventSet::out).has_value());
  EXPECT_GE(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].by, other) << "the paused subscriber got an event";
  expect_idle_100ms("a paused subscriber's readable fd or injection woke run()");
  ASSERT_TRUE(manager.resume(paused).has_value());
  EXPECT_FALSE(is_paused(paused));
  EXPECT_GE(run(), 2u);
  const std::vector<Seen> expected = {{other, Events::with_data(other_fd, 2, EventSet::in)},
                                      {paused, Events::with_data(fd, 1, EventSet::out)},
                                      {paused, Events::with_data(fd, 1, EventSet::in)}};
  EXPECT_EQ(seen, expected);
  ASSERT_TRUE(ops(paused).remove(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(other).remove(Events::empty(other_fd)).has_value());
}

TEST_F(Pause, EventsStillPendingInTheBatchAreDropped) {
  auto a_fd = EventFd::create(1).value();
  auto b_fd = EventFd::create(1).value();
  std::vector<SubscriberId> order;
  SubscriberId a;
  SubscriberId b;
  auto make = [&](const EventFd& fd) {
    Lambda l;
    l.on_init = [&fd](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
    l.on_process = [&](Events, EventOps& ops) {
      order.push_back(ops.subscriber_id());
      // The first to run pauses the other, whose event is in this batch too.
      if (order.size() == 1) {
        ASSERT_TRUE(manager.pause(ops.subscriber_id() == a ? b : a).has_value());
      }
    };
    return l;
  };
  a = manager.add_subscriber(make(a_fd));
  b = manager.add_subscriber(make(b_fd));
  EXPECT_EQ(run(), 2u);
  ASSERT_EQ(order.size(), 1u) << "a paused subscriber got an event of the batch";
  const SubscriberId other = order[0] == a ? b : a;
  ASSERT_TRUE(manager.resume(other).has_value());
  EXPECT_EQ(run(), 2u);
  ASSERT_EQ(order.size(), 3u);
  ASSERT_TRUE(ops(a).remove(Events::empty(a_fd)).has_value());
  ASSERT_TRUE(ops(b).remove(Events::empty(b_fd)).has_value());
}

TEST_F(Pause, ReadyFdsOfAPausedSubscriberCostNoCpu) {
  const SubscriberId id = add_recorder();
  auto level = EventFd::create(1).value();
  auto edge = EventFd::create(1).value();
  auto once = EventFd::create(1).value();
  int sockets[2] = {-1, -1};
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sockets), 0);
  auto exclusive = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events(level, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events(edge, EventSet::in | EventSet::edge_triggered)).has_value());
  ASSERT_TRUE(ops(id).add(Events(once, EventSet::in | EventSet::one_shot)).has_value());
  ASSERT_TRUE(ops(id).add(Events(sockets[0], EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events(exclusive, EventSet::in | EventSet::exclusive)).has_value());
  ASSERT_TRUE(manager.pause(id).has_value());
  ::close(sockets[1]);  // hung up while paused
  ASSERT_TRUE(edge.write(1).has_value());
  EXPECT_LE(run(0), 5u) << "each fd may wake run() at most once after the pause";
  expect_idle_100ms("a paused subscriber's fds woke run() again");
  expect_idle_100ms("a paused subscriber's fds woke run() again");
  EXPECT_TRUE(seen.empty());
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_EQ(run(), 5u) << "every fd is ready: all five are reported after resume()";
  EXPECT_EQ(seen.size(), 5u);
  for (int fd : {level.fd(), edge.fd(), once.fd(), sockets[0], exclusive.fd()}) {
    ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
  }
  ::close(sockets[0]);
}

TEST_F(Pause, AddModifyRemoveWorkWhilePausedAndTakeEffectAtResume) {
  const SubscriberId id = add_recorder();
  auto added = EventFd::create(1).value();
  auto modified = EventFd::create().value();
  auto removed = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events::with_data(modified, 1, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(removed, 2, EventSet::in)).has_value());
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(manager.event_ops(id).has_value());
  ASSERT_NE(manager.subscriber_mut(id), nullptr);
  ASSERT_TRUE(ops(id).add(Events::with_data(added, 3, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::with_data(modified, 4, EventSet::out)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(removed)).has_value());
  EXPECT_EQ(ops(id).registered(added.fd()).value(), Events::with_data(added, 3, EventSet::in));
  EXPECT_EQ(ops(id).registered(modified.fd()).value(), Events::with_data(modified, 4, EventSet::out));
  EXPECT_EQ(ops(id).registered(removed.fd()).error(), Error::FdNotRegistered);
  (void)run(0);
  expect_idle_100ms("a change made while paused took effect before resume()");
  EXPECT_TRUE(seen.empty());
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_EQ(run(), 2u);
  std::vector<Seen> got = seen;
  std::sort(got.begin(), got.end(), [](const Seen& l, const Seen& r) { return l.events.data() < r.events.data(); });
  const std::vector<Seen> expected = {{id, Events::with_data(added, 3, EventSet::in)},
                                      {id, Events::with_data(modified, 4, EventSet::out)}};
  EXPECT_EQ(got, expected);
  ASSERT_TRUE(ops(id).remove(Events::empty(added)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(modified)).has_value());
}

TEST_F(Pause, AddWhilePausedReportsTheKernelsErrorsAtOnce) {
  const SubscriberId id = add_recorder();
  ASSERT_TRUE(manager.pause(id).has_value());
  char path[] = "/tmp/pause_test_XXXXXX";
  const int file = ::mkostemp(path, O_CLOEXEC);
  ASSERT_GE(file, 0);
  ::unlink(path);
  auto regular = ops(id).add(Events(file, EventSet::in));
  ASSERT_FALSE(regular.has_value());
  EXPECT_EQ(regular.error(), sys_error(EPERM)) << "a regular file cannot be watched";
  ::close(file);
  auto closed = ops(id).add(Events(file, EventSet::in));  // the number is free now
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(closed.error(), sys_error(EBADF));
  EXPECT_EQ(ops(id).registered(file).error(), Error::FdNotRegistered);
  ASSERT_TRUE(manager.resume(id).has_value());
}

// modify() while paused only records the mask; the kernel sees it at resume(),
// which returns its errors. EPOLL_CTL_MOD refuses EPOLLEXCLUSIVE (EINVAL).
TEST_F(Pause, ModifyWhilePausedHasItsKernelErrorsReturnedByResume) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  auto other = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events(other, EventSet::in)).has_value());
  EXPECT_EQ(ops(id).modify(Events(fd, EventSet::in | EventSet::exclusive)).error(), sys_error(EINVAL))
      << "not paused: the kernel is asked at once";
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(ops(id).modify(Events(fd, EventSet::in | EventSet::exclusive)).has_value());
  auto resumed = manager.resume(id);
  ASSERT_FALSE(resumed.has_value());
  EXPECT_EQ(resumed.error(), sys_error(EINVAL));
  EXPECT_FALSE(is_paused(id)) << "resumed all the same";
  EXPECT_EQ(run(), 1u) << "the other fd is re-armed";
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].events.fd(), other.fd());
  EXPECT_TRUE(ops(id).registered(fd.fd()).has_value()) << "the refused fd stays registered";
  ASSERT_TRUE(ops(id).modify(Events(fd, EventSet::in)).has_value());
  EXPECT_EQ(run(), 2u);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(other)).has_value());
}

TEST_F(Pause, ResumeReportsFdsThatBecameReadyDuringThePauseEdgeTriggeredToo) {
  const SubscriberId id = add_recorder();
  auto level = EventFd::create().value();
  auto edge = EventFd::create().value();
  auto edge_before = EventFd::create(1).value();  // ready before the pause, never reported
  const auto et = EventSet::in | EventSet::edge_triggered;
  ASSERT_TRUE(ops(id).add(Events::with_data(level, 1, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(edge, 2, et)).has_value());
  ASSERT_TRUE(manager.pause(id).has_value());  // before any run(): edge_before's edge is still unseen
  ASSERT_TRUE(ops(id).add(Events::with_data(edge_before, 3, et)).has_value());
  ASSERT_TRUE(level.write(1).has_value());
  ASSERT_TRUE(edge.write(1).has_value());
  (void)run(0);
  EXPECT_TRUE(seen.empty());
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_EQ(run(), 3u) << "a wake-up that arrived during the pause was lost";
  EXPECT_EQ(seen.size(), 3u);
  for (const auto* fd : {&level, &edge, &edge_before}) ASSERT_TRUE(ops(id).remove(Events::empty(*fd)).has_value());
}

TEST_F(Pause, ResumeRearmsAOneShotFdWhoseEventWasDroppedByThePause) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 1, EventSet::in | EventSet::one_shot)).has_value());
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(fd.write(1).has_value());
  EXPECT_EQ(run(), 1u) << "the one-shot fd fires (and disarms) while paused";
  EXPECT_TRUE(seen.empty());
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_EQ(run(), 1u) << "resume() did not re-arm a one-shot fd whose event was dropped";
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].events, Events::with_data(fd, 1, EventSet::in));
  expect_idle_100ms("one-shot: disarmed again after its event reached process()");
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Pause, OneShotFdWhoseEventReachedProcessStaysDisarmedThroughPauseAndResume) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in | EventSet::one_shot)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(manager.resume(id).has_value());
  expect_idle_100ms("resume() re-armed a one-shot fd whose event process() received");
  EXPECT_EQ(seen.size(), 1u);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Pause, ResumeRearmsAOneShotFdWhoseEventWasDroppedByAnException) {
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  std::vector<int> got;
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in | EventSet::one_shot)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in | EventSet::one_shot)).has_value());
  };
  l.on_process = [&](Events e, EventOps&) {
    got.push_back(e.fd());
    if (got.size() == 1) throw std::runtime_error("drops the rest of the batch");
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_THROW((void)run(), std::runtime_error);
  ASSERT_EQ(got.size(), 1u);
  const int received = got[0];
  const int dropped = received == a.fd() ? b.fd() : a.fd();
  EXPECT_EQ(run(0), 0u) << "both one-shot registrations are disarmed";
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], dropped) << "only the fd whose event did not reach process() is re-armed";
  ASSERT_TRUE(ops(id).remove(Events::empty(a)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(b)).has_value());
}

// An fd closed behind the manager's back: the kernel refuses to re-arm it.
TEST_F(Pause, RefusedRearmLeavesTheFdRegisteredRearmsTheOthersAndResumes) {
  const SubscriberId id = add_recorder();
  auto before = EventFd::create().value();
  const int closed = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(closed, 0);
  auto after = EventFd::create().value();
  const auto et = EventSet::in | EventSet::edge_triggered;  // quieted by the pause: resume() must re-arm each
  ASSERT_TRUE(ops(id).add(Events::with_data(before, 1, et)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(closed, 2, et)).has_value());
  ASSERT_TRUE(ops(id).add(Events::with_data(after, 3, et)).has_value());
  ASSERT_TRUE(manager.pause(id).has_value());
  ::close(closed);  // behind the manager's back; no fd is opened until it is removed
  ASSERT_TRUE(before.write(1).has_value());
  ASSERT_TRUE(after.write(1).has_value());
  auto resumed = manager.resume(id);
  ASSERT_FALSE(resumed.has_value());
  EXPECT_EQ(resumed.error(), sys_error(EBADF));
  EXPECT_FALSE(is_paused(id)) << "the subscriber is resumed all the same";
  EXPECT_EQ(run(), 2u) << "the other fds are re-armed";
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(ops(id).registered(closed).value(), Events::with_data(closed, 2, et)) << "left registered";
  ASSERT_TRUE(ops(id).remove(Events::empty(closed)).has_value());
  EXPECT_TRUE(manager.resume(id).has_value()) << "resuming a running subscriber succeeds";
  ASSERT_TRUE(ops(id).remove(Events::empty(before)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(after)).has_value());
}

TEST_F(Pause, MutedFdStaysMutedThroughPauseAndResume) {
  const SubscriberId id = add_recorder();
  auto readable = EventFd::create(1).value();
  auto exclusive = EventFd::create(1).value();
  int sockets[2] = {-1, -1};
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sockets), 0);
  ASSERT_TRUE(ops(id).add(Events(readable, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events(exclusive, EventSet::in | EventSet::exclusive)).has_value());
  ASSERT_TRUE(ops(id).add(Events::empty(sockets[0])).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(readable)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(exclusive)).has_value());
  ASSERT_TRUE(manager.pause(id).has_value());
  ::close(sockets[1]);
  ASSERT_TRUE(manager.resume(id).has_value());
  (void)run(0);  // the hang-up may wake run() once
  expect_idle_100ms("a muted fd woke run() after pause and resume");
  EXPECT_TRUE(seen.empty());
  // Muted while paused: muted after resume() too.
  ASSERT_TRUE(ops(id).modify(Events(readable, EventSet::in)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(ops(id).modify(Events::empty(readable)).has_value());
  ASSERT_TRUE(manager.resume(id).has_value());
  expect_idle_100ms("an fd muted while paused woke run() after resume()");
  for (int fd : {readable.fd(), exclusive.fd(), sockets[0]}) ASSERT_TRUE(ops(id).remove(Events::empty(fd)));
  ::close(sockets[0]);
}

TEST_F(Pause, PausingAPausedOrResumingARunningSubscriberChangesNothing) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in)).has_value());
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_FALSE(is_paused(id));
  EXPECT_EQ(run(), 1u);
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(manager.pause(id).has_value());
  EXPECT_TRUE(is_paused(id));
  expect_idle_100ms("paused twice");
  ASSERT_TRUE(manager.resume(id).has_value());
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_FALSE(is_paused(id));
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(seen.size(), 2u);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Pause, InvalidIdsAreRefused) {
  const SubscriberId id = add_recorder();
  ASSERT_TRUE(manager.remove_subscriber(id).has_value());
  for (SubscriberId bad : {SubscriberId{}, id}) {
    EXPECT_EQ(manager.pause(bad).error(), Error::InvalidId);
    EXPECT_EQ(manager.resume(bad).error(), Error::InvalidId);
    EXPECT_EQ(manager.paused(bad).error(), Error::InvalidId);
  }
}

TEST_F(Pause, RemoveSubscriberWhilePausedUnregistersItsFdsAndDropsItsInjections) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in)).has_value());
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(ops(id).inject(fd.fd(), EventSet::in).has_value());
  ASSERT_TRUE(manager.remove_subscriber(id).has_value());
  EXPECT_EQ(manager.subscriber_count(), 0u);
  expect_idle_100ms("a removed paused subscriber left something behind");
  EXPECT_TRUE(seen.empty());
  const SubscriberId next = add_recorder();
  ASSERT_TRUE(ops(next).add(Events(fd, EventSet::in)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_TRUE(ops(next).remove(Events::empty(fd)).has_value());
}

// "Calling the manager from callbacks" (v4): pause(), resume() and paused() of
// any subscriber, itself included, and subscriber_count().
TEST_F(Pause, SubscriberPausesAndResumesItselfAndOthersFromProcess) {
  auto own = EventFd::create(1).value();
  auto other_fd = EventFd::create(1).value();
  const SubscriberId other = add_recorder();
  ASSERT_TRUE(ops(other).add(Events(other_fd, EventSet::in)).has_value());
  int calls = 0;
  SubscriberId self;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(own, EventSet::in)).has_value()); };
  l.on_process = [&](Events, EventOps& ops) {
    ++calls;
    EXPECT_EQ(manager.subscriber_count(), 2u);
    EXPECT_FALSE(manager.paused(ops.subscriber_id()).value());
    ASSERT_TRUE(manager.pause(ops.subscriber_id()).has_value());
    EXPECT_TRUE(manager.paused(ops.subscriber_id()).value());
    if (calls == 1) {
      ASSERT_TRUE(manager.pause(other).has_value());
      EXPECT_TRUE(manager.paused(other).value());
    } else {
      ASSERT_TRUE(manager.resume(other).has_value());
    }
  };
  self = manager.add_subscriber(std::move(l));
  (void)run();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(is_paused(self));
  EXPECT_TRUE(is_paused(other));
  // `other` resumes `self` from an endpoint request; `self` then resumes `other`.
  ASSERT_TRUE(manager.remote_endpoint()
                  .fire([self](SubscriberOps<Lambda>& ops) {
                    EXPECT_EQ(ops.subscriber_count(), 2u);
                    EXPECT_TRUE(ops.paused(self).value());
                    ASSERT_TRUE(ops.resume(self).has_value());
                  })
                  .has_value());
  (void)run();
  EXPECT_FALSE(is_paused(self));
  EXPECT_EQ(calls, 1);
  (void)run();
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(is_paused(self)) << "paused itself again";
  EXPECT_FALSE(is_paused(other)) << "resumed from self's process()";
  seen.clear();
  (void)run();
  EXPECT_FALSE(seen.empty()) << "the other subscriber runs again";
  ASSERT_TRUE(manager.resume(self).has_value());
  ASSERT_TRUE(ops(self).remove(Events::empty(own)).has_value());
  ASSERT_TRUE(ops(other).remove(Events::empty(other_fd)).has_value());
}

TEST_F(Pause, SubscriberPausesItselfInInit) {
  auto fd = EventFd::create(1).value();
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(manager.pause(ops.subscriber_id()).has_value());
    EXPECT_TRUE(manager.paused(ops.subscriber_id()).value());
    EXPECT_EQ(manager.subscriber_count(), 1u);
    ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
  };
  int calls = 0;
  l.on_process = [&](Events, EventOps&) { ++calls; };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_TRUE(is_paused(id));
  expect_idle_100ms("the fd of a subscriber paused in init() woke run()");
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

// Pausing the subscriber that watches a nested manager's epoll_fd() pauses
// everything that manager serves.
TEST_F(Pause, PausingTheWatcherOfANestedManagerPausesEverythingItServes) {
  auto inner = EventManager<Counter>::create().value();
  const SubscriberId counter = inner.add_subscriber(Counter{});
  int bridge_calls = 0;
  Lambda bridge;
  bridge.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(inner.epoll_fd(), EventSet::in)).has_value()); };
  bridge.on_process = [&](Events, EventOps&) {
    ++bridge_calls;
    ASSERT_TRUE(inner.run_with_timeout(0).has_value());
  };
  const SubscriberId bridge_id = manager.add_subscriber(std::move(bridge));
  ASSERT_TRUE(manager.pause(bridge_id).has_value());
  inner.subscriber_mut(counter)->trigger();
  expect_idle_100ms("a paused watcher's nested manager woke the outer loop");
  EXPECT_EQ(bridge_calls, 0);
  EXPECT_EQ(inner.subscriber_mut(counter)->count(), 0u);
  ASSERT_TRUE(manager.resume(bridge_id).has_value());
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(inner.subscriber_mut(counter)->count(), 1u);
  inner.subscriber_mut(counter)->clear();
  ASSERT_TRUE(manager.event_ops(bridge_id)->remove(Events::empty(inner.epoll_fd())).has_value());
}

TEST_F(Pause, PauseAndResumeThroughRemoteEndpointRequests) {
  auto fd = EventFd::create().value();
  std::atomic<int> calls{0};
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  l.on_process = [&](Events, EventOps&) {
    (void)fd.read();
    ++calls;
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  auto endpoint = manager.remote_endpoint();
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    while (!stop.load()) (void)manager.run_with_timeout(kWaitMs);
  });
  auto remote = std::async(std::launch::async, [&] {
    EXPECT_EQ(endpoint.call_blocking([](SubscriberOps<Lambda>& ops) { return ops.subscriber_count(); }).value(), 1u);
    EXPECT_TRUE(endpoint.call_blocking([id](SubscriberOps<Lambda>& ops) { return ops.pause(id); }).has_value());
    EXPECT_TRUE(endpoint.call_blocking([id](SubscriberOps<Lambda>& ops) { return ops.paused(id); }).value());
    EXPECT_TRUE(fd.write(1).has_value());
    std::this_thread::sleep_for(milliseconds(100));
    const int while_paused = calls.load();
    EXPECT_TRUE(endpoint.call_blocking([id](SubscriberOps<Lambda>& ops) { return ops.resume(id); }).has_value());
    EXPECT_FALSE(endpoint.call_blocking([id](SubscriberOps<Lambda>& ops) { return ops.paused(id); }).value());
    const auto deadline = steady_clock::now() + milliseconds(kWaitMs);
    while (calls.load() == 0 && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(1));
    EXPECT_EQ(endpoint.call_blocking([](SubscriberOps<Lambda>& ops) { return ops.pause(SubscriberId{}); }).error(),
              Error::InvalidId);
    return while_paused;
  });
  const int while_paused = test::await(remote, "the remote pause and resume", std::chrono::seconds(10));
  stop.store(true);
  ASSERT_TRUE(endpoint.kick().has_value());
  loop.join();
  EXPECT_EQ(while_paused, 0) << "a paused subscriber got an event";
  EXPECT_EQ(calls.load(), 1) << "the event written while paused was lost";
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

// API.md: "a one-shot registration stays disarmed until modify() re-arms it"
// and "modify() while paused records the new mask and data; the kernel sees
// the mask at resume()". A one-shot fd whose event process() received is
// re-armed by a modify() with the same mask made while paused: resume() must
// give the kernel that mask (EPOLL_CTL_MOD re-arms).
TEST_F(Pause, OneShotRearmedByModifyWhilePausedIsArmedAtResume) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();  // stays readable
  const auto once = EventSet::in | EventSet::one_shot;
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 1, once)).has_value());
  EXPECT_EQ(run(), 1u);  // reaches process(): the kernel disarms it
  EXPECT_EQ(run(0), 0u);
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, 2, once)).has_value());  // re-arm, recorded for resume()
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_EQ(run(), 1u) << "the re-arm made by modify() while paused was lost";
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].events, Events::with_data(fd, 2, EventSet::in));
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}
