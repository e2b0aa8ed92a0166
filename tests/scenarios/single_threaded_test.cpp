// Single-threaded applications, ported from rust-vmm/event-manager's
// tests/basic_event_manager.rs and the in-process registration scenarios.
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"

using namespace event_manager;
using event_manager::test::Counter;
using event_manager::test::CounterWithData;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;

namespace {

/// The app of the Rust test: a manager with 100 counter subscribers.
class App {
 public:
  App() : manager_(EventManager<Counter>::create().value()) {
    for (int i = 0; i < 100; ++i) ids_.push_back(manager_.add_subscriber(Counter{}));
  }
  Counter& counter(std::size_t i) { return *manager_.subscriber_mut(ids_[i]); }
  std::size_t run() { return manager_.run_with_timeout(kWaitMs).value(); }
  std::size_t poll() { return manager_.run_with_timeout(0).value(); }
  EventManager<Counter>& manager() { return manager_; }
  SubscriberId id(std::size_t i) const { return ids_[i]; }
  std::size_t size() const { return ids_.size(); }

 private:
  EventManager<Counter> manager_;
  std::vector<SubscriberId> ids_;
};

const std::set<std::size_t> kTriggered = {1, 13, 42, 77, 99};

}  // namespace

TEST(SingleThreaded, HundredCountersOnlyTriggeredOnesCount) {
  App app;
  for (std::size_t i : kTriggered) app.counter(i).trigger();
  EXPECT_EQ(app.run(), kTriggered.size());
  for (std::size_t i = 0; i < app.size(); ++i) {
    EXPECT_EQ(app.counter(i).count(), kTriggered.contains(i) ? 1u : 0u) << "counter " << i;
  }
}

TEST(SingleThreaded, TriggeredCountersCountOncePerRunUntilCleared) {
  App app;
  for (std::size_t i : kTriggered) app.counter(i).trigger();
  for (int run = 0; run < 3; ++run) EXPECT_EQ(app.run(), kTriggered.size());
  for (std::size_t i : kTriggered) app.counter(i).clear();
  EXPECT_EQ(app.poll(), 0u);
  for (std::size_t i = 0; i < app.size(); ++i) {
    EXPECT_EQ(app.counter(i).count(), kTriggered.contains(i) ? 3u : 0u) << "counter " << i;
  }
  // Triggering again continues the counts.
  app.counter(0).trigger();
  app.counter(1).trigger();
  EXPECT_EQ(app.run(), 2u);
  EXPECT_EQ(app.counter(0).count(), 1u);
  EXPECT_EQ(app.counter(1).count(), 4u);
}

TEST(SingleThreaded, RemovedCountersAreNoLongerCalled) {
  App app;
  for (std::size_t i : kTriggered) app.counter(i).trigger();
  EXPECT_EQ(app.run(), kTriggered.size());
  Counter removed = app.manager().remove_subscriber(app.id(42)).value();
  EXPECT_EQ(removed.count(), 1u);
  EXPECT_EQ(app.run(), kTriggered.size() - 1);
  EXPECT_EQ(removed.count(), 1u);
  EXPECT_EQ(app.manager().subscriber_mut(app.id(42)), nullptr);
  EXPECT_EQ(app.counter(13).count(), 2u);
}

TEST(SingleThreaded, ManagerDestructionClosesEveryFd) {
  const auto before = test::open_fds();
  {
    App app;
    app.counter(5).trigger();
    EXPECT_EQ(app.run(), 1u);
  }
  EXPECT_EQ(test::open_fds(), before);
}

TEST(SingleThreaded, CounterWithDataTellsItsFdsApart) {
  auto manager = EventManager<CounterWithData>::create().value();
  const SubscriberId a = manager.add_subscriber(CounterWithData(3, 0));
  const SubscriberId b = manager.add_subscriber(CounterWithData(3, 1000));
  manager.subscriber_mut(a)->trigger(1);
  manager.subscriber_mut(b)->trigger(0);
  manager.subscriber_mut(b)->trigger(2);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 3u);
  EXPECT_EQ(manager.subscriber_mut(a)->counts(), (std::vector<std::uint64_t>{0, 1, 0}));
  EXPECT_EQ(manager.subscriber_mut(b)->counts(), (std::vector<std::uint64_t>{1, 0, 1}));
}

TEST(SingleThreaded, RegisterFromProcess) {
  auto manager = EventManager<Lambda>::create().value();
  auto first = EventFd::create(1).value();
  auto second = EventFd::create(1).value();
  std::vector<std::uint32_t> data_seen;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events::with_data(first, 1, EventSet::in)).has_value()); };
  l.on_process = [&](Events e, EventOps& ops) {
    data_seen.push_back(e.data());
    if (e.data() == 1) {
      (void)first.read();
      ASSERT_TRUE(ops.add(Events::with_data(second, 2, EventSet::in)).has_value());
    } else {
      (void)second.read();
    }
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(data_seen, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
}

TEST(SingleThreaded, UnregisterFromProcess) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create(1).value();  // stays readable
  int calls = 0;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  l.on_process = [&](Events e, EventOps& ops) {
    ++calls;
    ASSERT_TRUE(ops.remove(e).has_value());
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(manager.event_ops(id)->registered(fd.fd()).error(), Error::FdNotRegistered);
}

TEST(SingleThreaded, ModifyFromProcess) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create(1).value();  // readable and writable
  std::vector<Events> seen;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events::with_data(fd, 1, EventSet::in)).has_value()); };
  l.on_process = [&](Events e, EventOps& ops) {
    seen.push_back(e);
    auto r = ops.registered(e.fd());
    ASSERT_TRUE(r.has_value());
    // Each event flips IN and OUT and bumps the data.
    ASSERT_TRUE(ops.modify(Events::with_data(e.fd(), r->data() + 1, r->event_set() ^ (EventSet::in | EventSet::out)))
                    .has_value());
  };
  (void)manager.add_subscriber(std::move(l));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], Events::with_data(fd, 1, EventSet::in));
  EXPECT_EQ(seen[1], Events::with_data(fd, 2, EventSet::out));
  EXPECT_EQ(seen[2], Events::with_data(fd, 3, EventSet::in));
  EXPECT_EQ(seen[3], Events::with_data(fd, 4, EventSet::out));
}

namespace {

/// `n` subscribers that each consume their eventfd's counter in process(),
/// so every trigger yields exactly one event.
struct SelfClearing {
  std::vector<EventFd> fds;
  std::vector<int> calls;
  EventManager<Lambda> manager;

  SelfClearing(std::size_t n, std::size_t capacity)
      : calls(n, 0), manager(EventManager<Lambda>::create(capacity).value()) {
    fds.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      fds.push_back(EventFd::create(1).value());
      Lambda l;
      l.on_init = [this, i](EventOps& ops) {
        ASSERT_TRUE(ops.add(Events::with_data(fds[i], static_cast<std::uint32_t>(i), EventSet::in)).has_value());
      };
      l.on_process = [this](Events e, EventOps&) {
        ++calls[e.data()];
        ASSERT_TRUE(fds[e.data()].read().has_value());
      };
      (void)manager.add_subscriber(std::move(l));
    }
  }
};

}  // namespace

TEST(SingleThreaded, CapacityOneDispatchesOneEventPerRun) {
  SelfClearing app(3, 1);
  for (int run = 0; run < 3; ++run) EXPECT_EQ(app.manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(app.calls, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(app.manager.run_with_timeout(0).value(), 0u);
}

TEST(SingleThreaded, MoreReadyThanCapacityNeedsSeveralRuns) {
  SelfClearing app(10, 4);
  EXPECT_EQ(app.manager.run_with_timeout(kWaitMs).value(), 4u);
  EXPECT_EQ(app.manager.run_with_timeout(kWaitMs).value(), 4u);
  EXPECT_EQ(app.manager.run_with_timeout(kWaitMs).value(), 2u);
  EXPECT_EQ(app.manager.run_with_timeout(0).value(), 0u);
  EXPECT_EQ(app.calls, std::vector<int>(10, 1));
}

TEST(SingleThreaded, LevelTriggeredEventsShareASmallCapacityFairly) {
  // Ready level-triggered fds are reported round-robin, so none starves.
  auto small = EventManager<Counter>::create(2).value();
  std::vector<SubscriberId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(small.add_subscriber(Counter{}));
  for (auto id : ids) small.subscriber_mut(id)->trigger();
  for (int run = 0; run < 10; ++run) EXPECT_EQ(small.run_with_timeout(kWaitMs).value(), 2u);
  for (auto id : ids) EXPECT_EQ(small.subscriber_mut(id)->count(), 4u);
}
