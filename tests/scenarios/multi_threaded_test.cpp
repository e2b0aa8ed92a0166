// Ownership patterns across threads, ported from rust-vmm/event-manager's
// tests/multi_threaded.rs: subscribers owned by value by a manager that runs on
// another thread; shared and mutex-guarded (Synchronized<T>) and used from the
// test thread through lock(); shared with interior synchronization (atomics);
// and mixed types through the dynamic interfaces.
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "support/loop_thread.hpp"
#include "support/subscribers.hpp"
#include "support/waits.hpp"

using namespace event_manager;
using event_manager::test::Accumulator;
using event_manager::test::AtomicAccumulator;
using event_manager::test::AtomicCounter;
using event_manager::test::Counter;
using event_manager::test::eventually;
using event_manager::test::kWaitMs;
using event_manager::test::LoopThread;
using event_manager::test::MutCounter;

TEST(MultiThreaded, SubscribersOwnedByValueByAManagerOnAnotherThread) {
  auto manager = EventManager<Counter>::create().value();
  std::vector<SubscriberId> ids;
  std::vector<EventFd> triggers;  // clones: the subscribers themselves belong to the loop thread
  for (int i = 0; i < 10; ++i) {
    ids.push_back(manager.add_subscriber(Counter{}));
    triggers.push_back(manager.subscriber_mut(ids.back())->fd().try_clone().value());
  }
  // Level-triggered counters would count every run while readable: trigger,
  // then hand the manager to the thread for exactly one batch.
  for (int i = 0; i < 10; i += 2) ASSERT_TRUE(triggers[static_cast<std::size_t>(i)].write(1).has_value());
  std::thread loop([&manager] { EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 5u); });
  loop.join();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(manager.subscriber_mut(ids[static_cast<std::size_t>(i)])->count(), i % 2 == 0 ? 1u : 0u);
  }
}

TEST(MultiThreaded, SharedSynchronizedSubscribersUsedThroughLock) {
  auto manager = EventManager<std::shared_ptr<EventSubscriber>>::create().value();
  std::vector<std::shared_ptr<Synchronized<Accumulator>>> devices;
  for (int i = 0; i < 4; ++i) {
    devices.push_back(std::make_shared<Synchronized<Accumulator>>());
    (void)manager.add_subscriber(devices.back());
  }
  LoopThread loop(manager);
  std::uint64_t expected = 0;
  for (std::uint64_t round = 1; round <= 20; ++round) {
    expected += round;
    for (auto& d : devices) d->lock()->add(round);  // the loop thread may be inside process() meanwhile
    for (auto& d : devices) ASSERT_TRUE(eventually([&] { return d->lock()->total() == expected; }));
  }
  loop.stop();
  for (auto& d : devices) EXPECT_EQ(d->lock()->total(), expected);
  for (auto& d : devices) EXPECT_EQ(d.use_count(), 2);  // the manager still holds its share
}

TEST(MultiThreaded, SharedSubscribersWithInteriorSynchronization) {
  auto manager = EventManager<std::shared_ptr<EventSubscriber>>::create().value();
  std::vector<std::shared_ptr<AtomicAccumulator>> devices;
  for (int i = 0; i < 4; ++i) {
    devices.push_back(std::make_shared<AtomicAccumulator>());
    (void)manager.add_subscriber(devices.back());
  }
  LoopThread loop(manager);
  // Several writers at once, one per device, each adding 1 a thousand times.
  std::vector<std::thread> writers;
  for (auto& d : devices) {
    writers.emplace_back([d] {
      for (int i = 0; i < 1000; ++i) d->add(1);
    });
  }
  for (auto& w : writers) w.join();
  for (auto& d : devices) ASSERT_TRUE(eventually([&] { return d->total() == 1000; }));
  loop.stop();
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
  for (auto& d : devices) EXPECT_EQ(d->total(), 1000u);
}

TEST(MultiThreaded, MixedTypesThroughTheMutableDynamicInterface) {
  struct Other final : MutEventSubscriber {
    EventFd fd = EventFd::create().value();
    std::uint64_t total = 0;
    void init(EventOps& ops) override { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); }
    void process(Events, EventOps&) override { total += fd.read().value_or(0); }
  };
  auto manager = EventManager<std::unique_ptr<MutEventSubscriber>>::create().value();
  auto counter = std::make_unique<MutCounter>();
  auto other = std::make_unique<Other>();
  auto counter_trigger = counter->fd().try_clone().value();
  auto other_trigger = other->fd.try_clone().value();
  const SubscriberId counter_id = manager.add_subscriber(std::move(counter));
  const SubscriberId other_id = manager.add_subscriber(std::move(other));

  ASSERT_TRUE(counter_trigger.write(1).has_value());
  ASSERT_TRUE(other_trigger.write(5).has_value());
  std::thread loop([&manager] { EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u); });
  loop.join();
  auto* c = dynamic_cast<MutCounter*>(manager.subscriber_mut(counter_id)->get());
  auto* o = dynamic_cast<Other*>(manager.subscriber_mut(other_id)->get());
  ASSERT_NE(c, nullptr);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(c->count(), 1u);
  EXPECT_EQ(o->total, 5u);
}

TEST(MultiThreaded, MixedTypesThroughTheSharedDynamicInterface) {
  auto manager = EventManager<std::shared_ptr<EventSubscriber>>::create().value();
  auto guarded = std::make_shared<Synchronized<Accumulator>>();
  auto guarded_data = std::make_shared<Synchronized<test::CounterWithData>>(2, 10);
  auto atomic = std::make_shared<AtomicAccumulator>();
  auto level = std::make_shared<AtomicCounter>();
  (void)manager.add_subscriber(guarded);
  (void)manager.add_subscriber(guarded_data);
  (void)manager.add_subscriber(atomic);
  (void)manager.add_subscriber(level);
  LoopThread loop(manager);

  guarded->lock()->add(3);
  guarded_data->lock()->trigger(1);
  atomic->add(4);
  level->trigger();
  ASSERT_TRUE(eventually([&] {
    return guarded->lock()->total() == 3 && guarded_data->lock()->counts()[1] >= 1 && atomic->total() == 4 &&
           level->count() >= 1;
  }));
  guarded_data->lock()->clear(1);
  level->clear();
  loop.stop();
  EXPECT_EQ(guarded_data->lock()->counts()[0], 0u);
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
}

TEST(MultiThreaded, ManagerMovesBetweenThreadsBetweenRuns) {
  auto manager = EventManager<Counter>::create().value();
  const SubscriberId id = manager.add_subscriber(Counter{});
  auto trigger = manager.subscriber_mut(id)->fd().try_clone().value();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(trigger.write(1).has_value());
    std::thread t([&manager] { EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u); });
    t.join();
    (void)trigger.read();
  }
  EXPECT_EQ(manager.subscriber_mut(id)->count(), 5u);
}
