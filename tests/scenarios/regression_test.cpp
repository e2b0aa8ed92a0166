// Regressions, each named after its symptom. The first is the fd-reuse
// regression of rust-vmm/event-manager's tests/regressions.rs.
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "support/subscribers.hpp"

using namespace event_manager;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;

namespace {

/// On its first event of each run, removes and re-adds every registration it has.
class Toggler {
 public:
  explicit Toggler(std::shared_ptr<int> calls) : calls_(std::move(calls)) {
    for (int i = 0; i < 4; ++i) fds_.push_back(EventFd::create(1).value());  // all stay readable
  }
  void init(EventOps& ops) {
    for (const auto& fd : fds_) ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
  }
  void process(Events, EventOps& ops) {
    ++*calls_;
    for (const auto& fd : fds_) {
      ASSERT_TRUE(ops.remove(Events::empty(fd)).has_value());
      ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
    }
  }

 private:
  std::vector<EventFd> fds_;
  std::shared_ptr<int> calls_;
};

}  // namespace

TEST(Regression, SubscriberTogglingAllItsRegistrationsIsCalledOncePerRun) {
  auto manager = EventManager<Toggler>::create().value();
  auto calls = std::make_shared<int>(0);
  (void)manager.add_subscriber(Toggler(calls));
  for (int run = 1; run <= 5; ++run) {
    EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 4u) << "all four fds are in each batch";
    EXPECT_EQ(*calls, run) << "the re-added fds' stale events of the same batch were delivered";
  }
}

TEST(Regression, RemovedSubscribersFdNumberReusedByANewSubscriberGetsNoStaleEvent) {
  // A removes B (whose EventFd closes with it) and adds C, whose new eventfd
  // gets B's number. B's event still pending in the batch must not reach C.
  auto manager = EventManager<std::unique_ptr<MutEventSubscriber>>::create().value();
  struct Owner final : MutEventSubscriber {
    EventFd fd = EventFd::create(1).value();
    std::uint32_t data;
    std::vector<std::uint32_t>* log;
    std::function<void()> on_event;
    Owner(std::uint32_t d, std::vector<std::uint32_t>* l) : data(d), log(l) {}
    void init(EventOps& ops) override { ASSERT_TRUE(ops.add(Events::with_data(fd, data, EventSet::in)).has_value()); }
    void process(Events e, EventOps&) override {
      log->push_back(e.data());
      if (on_event) std::exchange(on_event, nullptr)();
    }
  };
  std::vector<std::uint32_t> log;
  auto a = std::make_unique<Owner>(1, &log);
  auto b = std::make_unique<Owner>(2, &log);
  Owner* a_raw = a.get();
  Owner* b_raw = b.get();
  const int a_number = a->fd.fd();
  const int b_number = b->fd.fd();
  const SubscriberId a_id = manager.add_subscriber(std::move(a));
  const SubscriberId b_id = manager.add_subscriber(std::move(b));
  int reused_number = -1;
  auto replace = [&](SubscriberId victim) {
    ASSERT_TRUE(manager.remove_subscriber(victim).has_value());  // closes the victim's eventfd
    auto c = std::make_unique<Owner>(3, &log);
    reused_number = c->fd.fd();
    (void)manager.add_subscriber(std::move(c));
  };
  // Whichever of A and B comes first replaces the other.
  a_raw->on_event = [&, b_raw] {
    b_raw->on_event = nullptr;
    replace(b_id);
  };
  b_raw->on_event = [&, a_raw] {
    a_raw->on_event = nullptr;
    replace(a_id);
  };
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u);
  ASSERT_EQ(log.size(), 1u) << "a stale event was delivered, data " << log.back();
  const int freed_number = log[0] == 1 ? b_number : a_number;
  EXPECT_EQ(reused_number, freed_number) << "the new eventfd took the freed number";
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_TRUE((log[1] == 3) != (log[2] == 3)) << "C is dispatched by the next run, once";
}

TEST(Regression, ThrowingProcessDoesNotLeaveTheManagerInCallbackState) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create(1).value();
  int calls = 0;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  l.on_process = [&](Events, EventOps&) {
    if (++calls == 1) throw std::runtime_error("first event fails");
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_THROW((void)manager.run_with_timeout(kWaitMs), std::runtime_error);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u) << "run() after a throw must not be Reentrant";
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(manager.remove_subscriber(id).has_value()) << "the thrower must not count as running";
}

TEST(Regression, ThrowingInitInsideProcessRollsBackOnlyTheNewSubscriber) {
  auto manager = EventManager<Lambda>::create().value();
  auto trigger = EventFd::create(1).value();
  auto child_fd = EventFd::create(1).value();
  bool caught = false;
  int parent_calls = 0;
  Lambda parent;
  parent.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(trigger, EventSet::in)).has_value()); };
  parent.on_process = [&](Events e, EventOps& ops) {
    ++parent_calls;
    if (e.fd() != trigger.fd()) return;
    (void)trigger.read();
    Lambda child;
    child.on_init = [&](EventOps& child_ops) {
      ASSERT_TRUE(child_ops.add(Events(child_fd, EventSet::in)).has_value());
      throw std::runtime_error("child init fails");
    };
    try {
      (void)manager.add_subscriber(std::move(child));
    } catch (const std::runtime_error&) {
      caught = true;
    }
    // The parent is still the running subscriber with a working EventOps.
    EXPECT_TRUE(ops.registered(e.fd()).has_value());
    ASSERT_TRUE(ops.add(Events(child_fd, EventSet::in)).has_value()) << "the child's fd was not rolled back";
  };
  const SubscriberId id = manager.add_subscriber(std::move(parent));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_TRUE(caught);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);  // child_fd, now the parent's
  EXPECT_EQ(parent_calls, 2);
  EXPECT_EQ(manager.event_ops(id)->registered(child_fd.fd()).value(), Events(child_fd, EventSet::in));
}

TEST(Regression, EdgeTriggeredEventDroppedByAThrowReportsOnTheNextEdgeOnly) {
  auto manager = EventManager<Lambda>::create().value();
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  int calls = 0;
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in | EventSet::edge_triggered)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in | EventSet::edge_triggered)).has_value());
  };
  l.on_process = [&](Events, EventOps&) {
    if (++calls == 1) throw std::runtime_error("drops the rest of the batch");
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_THROW((void)manager.run_with_timeout(kWaitMs), std::runtime_error);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u) << "edge-triggered: no new edge, no event";
  ASSERT_TRUE(a.write(1).has_value());
  ASSERT_TRUE(b.write(1).has_value());
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u);
  EXPECT_EQ(calls, 3);
}
