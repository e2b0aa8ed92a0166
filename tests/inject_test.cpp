// EventOps::inject() (v4): synthetic events delivered by the next run(), first,
// without blocking, in injection order, with the data registered at delivery;
// held while paused, dropped with their fd or subscriber; a throwing process()
// keeps the injections behind it queued; a deliverable pending injection makes
// epoll_fd() readable. (No allocation once warmed up: scenarios/allocation_test.cpp.)
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <poll.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"

using namespace event_manager;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

/// True when `fd` is readable now.
bool readable(int fd) {
  ::pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

struct Seen {
  SubscriberId by;
  Events events;
  friend bool operator==(const Seen&, const Seen&) = default;
};

class Inject : public ::testing::Test {
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

  EventManager<Lambda> manager = EventManager<Lambda>::create().value();
  std::vector<Seen> seen;
};

}  // namespace

TEST_F(Inject, NextRunDeliversTheReadySetWithTheDataRegisteredAtDelivery) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();  // never readable: only the injection reports it
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 1, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).inject(fd.fd(), EventSet::in | EventSet::out).has_value());
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, 2, EventSet::in | EventSet::priority)).has_value());
  EXPECT_EQ(run(), 2u) << "the injected event and the wake-up that makes epoll_fd() readable";
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (Seen{id, Events::with_data(fd, 2, EventSet::in | EventSet::out)}));
  EXPECT_EQ(run(0), 0u) << "an injection is delivered once";
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Inject, EachCallIsOneProcessCallInInjectionOrderBeforeTheKernelsEvents) {
  const SubscriberId a = add_recorder();
  const SubscriberId b = add_recorder();
  auto a1 = EventFd::create().value();
  auto a2 = EventFd::create().value();
  auto b1 = EventFd::create(1).value();  // really readable: the kernel reports it
  ASSERT_TRUE(ops(a).add(Events::with_data(a1, 11, EventSet::in)).has_value());
  ASSERT_TRUE(ops(a).add(Events::with_data(a2, 12, EventSet::in)).has_value());
  ASSERT_TRUE(ops(b).add(Events::with_data(b1, 21, EventSet::in)).has_value());
  ASSERT_TRUE(ops(a).inject(a1.fd(), EventSet::in).has_value());
  ASSERT_TRUE(ops(b).inject(b1.fd(), EventSet::out).has_value());
  ASSERT_TRUE(ops(a).inject(a2.fd(), EventSet::priority).has_value());
  ASSERT_TRUE(ops(a).inject(a1.fd(), EventSet::hang_up).has_value());  // the same fd twice: two calls
  // run() returns what it took from epoll (b1 and the wake-up) plus the
  // injected events it dispatched.
  EXPECT_EQ(run(), 4u + 2u);
  const std::vector<Seen> expected = {
      {a, Events::with_data(a1, 11, EventSet::in)},       {b, Events::with_data(b1, 21, EventSet::out)},
      {a, Events::with_data(a2, 12, EventSet::priority)}, {a, Events::with_data(a1, 11, EventSet::hang_up)},
      {b, Events::with_data(b1, 21, EventSet::in)},
  };
  EXPECT_EQ(seen, expected);
  ASSERT_TRUE(ops(a).remove(Events::empty(a1)).has_value());
  ASSERT_TRUE(ops(a).remove(Events::empty(a2)).has_value());
  ASSERT_TRUE(ops(b).remove(Events::empty(b1)).has_value());
}

TEST_F(Inject, RejectsAnEmptyOrNonReadinessSetWithEinval) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in)).has_value());
  const std::error_code einval = std::make_error_code(std::errc::invalid_argument);
  for (EventSet bad : {EventSet{}, EventSet::edge_triggered, EventSet::one_shot, EventSet::wake_up, EventSet::exclusive,
                       EventSet::in | EventSet::edge_triggered, EventSet::out | EventSet::one_shot}) {
    auto r = ops(id).inject(fd.fd(), bad);
    ASSERT_FALSE(r.has_value()) << "bits " << bad.bits();
    EXPECT_EQ(r.error(), einval) << "bits " << bad.bits();
  }
  EXPECT_EQ(run(0), 0u) << "a refused injection was queued";
  EXPECT_TRUE(seen.empty());
  const EventSet every =
      EventSet::in | EventSet::out | EventSet::priority | EventSet::error | EventSet::hang_up | EventSet::read_hang_up;
  for (EventSet good : {EventSet::in, EventSet::out, EventSet::priority, EventSet::error, EventSet::hang_up,
                        EventSet::read_hang_up, every}) {
    ASSERT_TRUE(ops(id).inject(fd.fd(), good).has_value()) << "bits " << good.bits();
  }
  EXPECT_EQ(run(), 7u + 1u);
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_EQ(seen.back().events.event_set(), every);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Inject, RunDoesNotBlockWhileAnInjectionIsPending) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in)).has_value());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(ops(id).inject(fd.fd(), EventSet::in).has_value());
    const auto start = steady_clock::now();
    const std::size_t n = round == 0
                              ? manager.run_with_timeout(60'000).value()
                              : manager.run_with_timeout(std::chrono::nanoseconds(std::chrono::seconds(60))).value();
    EXPECT_LT(steady_clock::now() - start, milliseconds(kWaitMs)) << "round " << round;
    EXPECT_GE(n, 1u);
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(round) + 1);
  }
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Inject, InjectionFromProcessIsDeliveredByTheNextRunWhichDoesNotBlock) {
  auto fd = EventFd::create(1).value();
  int calls = 0;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in | EventSet::edge_triggered))); };
  l.on_process = [&](Events e, EventOps& ops) {
    ++calls;
    if (calls == 1) {
      EXPECT_EQ(e.event_set(), EventSet::in);  // the kernel's
      ASSERT_TRUE(ops.inject(fd.fd(), EventSet::out).has_value());
    } else {
      EXPECT_EQ(e.event_set(), EventSet::out);  // ours
    }
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(calls, 1) << "the injection was delivered by the run() that made it";
  EXPECT_TRUE(readable(manager.epoll_fd())) << "an injection is pending: epoll_fd() must be readable";
  const auto start = steady_clock::now();
  EXPECT_GE(manager.run_with_timeout(60'000).value(), 1u);
  EXPECT_LT(steady_clock::now() - start, milliseconds(kWaitMs));
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Inject, ReachesMutedFds) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();  // readable, but muted: the kernel reports nothing
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 9, EventSet{})).has_value());
  ASSERT_TRUE(ops(id).inject(fd.fd(), EventSet::in).has_value());
  EXPECT_GE(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].events, Events::with_data(fd, 9, EventSet::in));
  EXPECT_EQ(run(0), 0u);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

TEST_F(Inject, DroppedIfTheFdIsRemovedFirstEvenIfItIsAddedAgain) {
  const SubscriberId id = add_recorder();
  auto removed = EventFd::create().value();
  auto re_added = EventFd::create().value();
  ASSERT_TRUE(ops(id).add(Events(removed, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).add(Events(re_added, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).inject(removed.fd(), EventSet::in).has_value());
  ASSERT_TRUE(ops(id).inject(re_added.fd(), EventSet::in).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(removed)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(re_added)).has_value());
  ASSERT_TRUE(ops(id).add(Events(re_added, EventSet::in)).has_value());  // a new registration
  (void)run(0);
  EXPECT_TRUE(seen.empty()) << "an injection outlived the registration it was made for";
  EXPECT_EQ(run(0), 0u);
  ASSERT_TRUE(ops(id).remove(Events::empty(re_added)).has_value());
}

TEST_F(Inject, DroppedIfTheSubscriberIsRemovedFirst) {
  const SubscriberId gone = add_recorder();
  const SubscriberId stays = add_recorder();
  auto fd = EventFd::create().value();
  auto other = EventFd::create().value();
  ASSERT_TRUE(ops(gone).add(Events(fd, EventSet::in)).has_value());
  ASSERT_TRUE(ops(stays).add(Events(other, EventSet::in)).has_value());
  ASSERT_TRUE(ops(gone).inject(fd.fd(), EventSet::in).has_value());
  ASSERT_TRUE(ops(stays).inject(other.fd(), EventSet::out).has_value());
  ASSERT_TRUE(manager.remove_subscriber(gone).has_value());
  // The fd number is registered again, by the other subscriber.
  ASSERT_TRUE(ops(stays).add(Events(fd, EventSet::in)).has_value());
  EXPECT_GE(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (Seen{stays, Events(other, EventSet::out)}));
  EXPECT_EQ(run(0), 0u);
  ASSERT_TRUE(ops(stays).remove(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(stays).remove(Events::empty(other)).has_value());
}

TEST_F(Inject, HeldWhilePausedAndDeliveredByTheFirstRunAfterResume) {
  const SubscriberId paused = add_recorder();
  const SubscriberId running = add_recorder();
  auto fd = EventFd::create().value();
  auto other = EventFd::create().value();
  ASSERT_TRUE(ops(paused).add(Events(fd, EventSet::in)).has_value());
  ASSERT_TRUE(ops(running).add(Events(other, EventSet::in)).has_value());
  ASSERT_TRUE(ops(paused).inject(fd.fd(), EventSet::in).has_value());  // before the pause
  ASSERT_TRUE(manager.pause(paused).has_value());
  ASSERT_TRUE(ops(paused).inject(fd.fd(), EventSet::out).has_value());  // during it
  ASSERT_TRUE(ops(running).inject(other.fd(), EventSet::in).has_value());
  EXPECT_GE(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].by, running);
  // Held injections keep nothing awake: run() blocks, epoll_fd() is not readable.
  EXPECT_FALSE(readable(manager.epoll_fd()));
  const auto start = steady_clock::now();
  EXPECT_EQ(run(100), 0u);
  EXPECT_GE(steady_clock::now() - start, milliseconds(100));
  ASSERT_TRUE(manager.resume(paused).has_value());
  EXPECT_TRUE(readable(manager.epoll_fd())) << "resumed with injections pending";
  EXPECT_GE(run(), 2u);
  const std::vector<Seen> expected = {
      {running, Events(other, EventSet::in)}, {paused, Events(fd, EventSet::in)}, {paused, Events(fd, EventSet::out)}};
  EXPECT_EQ(seen, expected);
  ASSERT_TRUE(ops(paused).remove(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(running).remove(Events::empty(other)).has_value());
}

TEST_F(Inject, AThrowingProcessLeavesRunBeforeTheWaitAndKeepsTheInjectionsBehindItQueued) {
  auto fd = EventFd::create().value();
  auto kernel = EventFd::create(1).value();  // readable: reported by the kernel
  std::vector<std::uint32_t> got;            // the data of every event
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events::with_data(fd, 1, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events::with_data(kernel, 2, EventSet::in | EventSet::edge_triggered)).has_value());
  };
  l.on_process = [&](Events e, EventOps&) {
    got.push_back(e.data() * 100 + e.event_set().bits());
    if (got.size() == 1) throw std::runtime_error("first injection");
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  for (EventSet ready : {EventSet::in, EventSet::out, EventSet::priority}) {
    ASSERT_TRUE(ops(id).inject(fd.fd(), ready).has_value());
  }
  EXPECT_THROW((void)run(), std::runtime_error);
  ASSERT_EQ(got.size(), 1u) << "the kernel's events were dispatched although run() left before the wait";
  EXPECT_TRUE(readable(manager.epoll_fd())) << "injections are pending after the throw";
  const auto start = steady_clock::now();
  EXPECT_EQ(manager.run_with_timeout(60'000).value(), 2u + 2u) << "two injections, the kernel's fd, the wake-up";
  EXPECT_LT(steady_clock::now() - start, milliseconds(kWaitMs));
  const std::vector<std::uint32_t> expected = {100 + EventSet::in.bits(), 100 + EventSet::out.bits(),
                                               100 + EventSet::priority.bits(), 200 + EventSet::in.bits()};
  EXPECT_EQ(got, expected);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(kernel)).has_value());
}

TEST_F(Inject, PendingDeliverableInjectionMakesEpollFdReadable) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in)).has_value());
  EXPECT_FALSE(readable(manager.epoll_fd()));
  ASSERT_TRUE(ops(id).inject(fd.fd(), EventSet::in).has_value());
  ASSERT_TRUE(ops(id).inject(fd.fd(), EventSet::out).has_value());
  EXPECT_TRUE(readable(manager.epoll_fd()));
  EXPECT_EQ(run(), 3u) << "one wake-up for both injections";
  EXPECT_FALSE(readable(manager.epoll_fd())) << "delivered: nothing pending";
  // Held by a pause: not deliverable, not readable.
  ASSERT_TRUE(manager.pause(id).has_value());
  ASSERT_TRUE(ops(id).inject(fd.fd(), EventSet::in).has_value());
  EXPECT_FALSE(readable(manager.epoll_fd())) << "a held injection made epoll_fd() readable";
  ASSERT_TRUE(manager.resume(id).has_value());
  EXPECT_TRUE(readable(manager.epoll_fd()));
  EXPECT_GE(run(), 1u);
  EXPECT_EQ(seen.size(), 3u);
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

// A manager nested in another loop through its epoll_fd(): injections into the
// inner one, from outside and from its own process(), make the outer loop run it.
TEST_F(Inject, NestedManagerIsRunForItsInjections) {
  auto inner = EventManager<Lambda>::create().value();
  auto fd = EventFd::create().value();
  int inner_calls = 0;
  Lambda device;
  device.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  device.on_process = [&](Events, EventOps& ops) {
    if (++inner_calls == 1) {
      ASSERT_TRUE(ops.inject(fd.fd(), EventSet::in).has_value());  // once more, please
    }
  };
  const SubscriberId device_id = inner.add_subscriber(std::move(device));
  Lambda bridge;
  bridge.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(inner.epoll_fd(), EventSet::in)).has_value()); };
  bridge.on_process = [&](Events, EventOps&) { ASSERT_TRUE(inner.run_with_timeout(0).has_value()); };
  const SubscriberId bridge_id = manager.add_subscriber(std::move(bridge));

  EXPECT_EQ(run(0), 0u) << "nothing pending in the inner manager";
  ASSERT_TRUE(inner.event_ops(device_id)->inject(fd.fd(), EventSet::in).has_value());
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(inner_calls, 1);
  EXPECT_EQ(run(), 1u) << "the injection made by the inner process() did not wake the outer loop";
  EXPECT_EQ(inner_calls, 2);
  EXPECT_EQ(run(0), 0u);
  ASSERT_TRUE(manager.event_ops(bridge_id)->remove(Events::empty(inner.epoll_fd())).has_value());
  ASSERT_TRUE(inner.event_ops(device_id)->remove(Events::empty(fd)).has_value());
}

// Order of checks (v4): every EventOps call checks its subscriber (InvalidId),
// then the fd (FdAlreadyRegistered, FdNotRegistered), then its arguments
// (EINVAL), then asks the kernel. (The timer calls and EventSet::timer arrive
// with the timers issue; until then EINVAL for arguments is reachable only
// through inject().)
TEST(OrderOfChecks, SubscriberThenFdThenArgumentsThenKernel) {
  auto manager = EventManager<Lambda>::create().value();
  const SubscriberId owner = manager.add_subscriber(Lambda{});
  const SubscriberId gone = manager.add_subscriber(Lambda{});
  EventOps ours = manager.event_ops(owner).value();
  EventOps stale = manager.event_ops(gone).value();
  ASSERT_TRUE(manager.remove_subscriber(gone).has_value());
  auto fd = EventFd::create().value();
  ASSERT_TRUE(ours.add(Events(fd, EventSet::in)).has_value());
  const std::error_code einval = std::make_error_code(std::errc::invalid_argument);
  const int closed = [] {
    auto f = EventFd::create().value();
    return f.fd();
  }();  // a number no file has: the kernel would say EBADF

  // 1. The subscriber, before anything about the fd or the arguments.
  EXPECT_EQ(stale.add(Events(fd, EventSet::in)).error(), Error::InvalidId);  // fd taken
  EXPECT_EQ(stale.add(Events(closed, EventSet::in)).error(), Error::InvalidId);
  EXPECT_EQ(stale.modify(Events(closed, EventSet::in)).error(), Error::InvalidId);
  EXPECT_EQ(stale.remove(Events::empty(closed)).error(), Error::InvalidId);
  EXPECT_EQ(stale.registered(closed).error(), Error::InvalidId);
  EXPECT_EQ(stale.inject(closed, EventSet{}).error(), Error::InvalidId);
  EXPECT_EQ(stale.inject(fd.fd(), EventSet::edge_triggered).error(), Error::InvalidId);

  // 2. The fd, before the arguments and the kernel.
  const SubscriberId other = manager.add_subscriber(Lambda{});
  EventOps theirs = manager.event_ops(other).value();
  EXPECT_EQ(theirs.add(Events(fd, EventSet::in | EventSet::exclusive)).error(), Error::FdAlreadyRegistered);
  EXPECT_EQ(theirs.modify(Events(fd, EventSet::in | EventSet::exclusive)).error(), Error::FdNotRegistered)
      << "the kernel would refuse MOD with EPOLLEXCLUSIVE (EINVAL)";
  EXPECT_EQ(ours.modify(Events(closed, EventSet::in)).error(), Error::FdNotRegistered) << "not EBADF";
  EXPECT_EQ(ours.inject(closed, EventSet{}).error(), Error::FdNotRegistered);
  EXPECT_EQ(theirs.inject(fd.fd(), EventSet::one_shot).error(), Error::FdNotRegistered);
  EXPECT_EQ(ours.inject(-1, EventSet{}).error(), Error::FdNotRegistered);

  // 3. The arguments.
  EXPECT_EQ(ours.inject(fd.fd(), EventSet{}).error(), einval);

  // 4. The kernel, last.
  EXPECT_EQ(ours.modify(Events(fd, EventSet::in | EventSet::exclusive)).error(),
            std::error_code(EINVAL, std::system_category()));
  EXPECT_EQ(theirs.add(Events(closed, EventSet::in)).error(), std::error_code(EBADF, std::system_category()));
  ASSERT_TRUE(ours.remove(Events::empty(fd)).has_value());
}
