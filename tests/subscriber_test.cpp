#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "support/subscribers.hpp"
#include "support/threads.hpp"
#include "support/waits.hpp"

using namespace event_manager;
using event_manager::test::AtomicCounter;
using event_manager::test::Counter;
using event_manager::test::kWaitMs;
using event_manager::test::MutCounter;

namespace {

struct NotASubscriber {
  void init(EventOps&) {}
};
struct ConstOnly {
  void init(EventOps&) const {}
  void process(Events, EventOps&) const {}
};

// What a manager can hold.
static_assert(Subscriber<Counter>);
static_assert(Subscriber<ConstOnly> && Subscriber<const ConstOnly>);
static_assert(!Subscriber<NotASubscriber> && !Subscriber<int>);
static_assert(Subscriber<Synchronized<Counter>>);
static_assert(SubscriberHandle<Counter>);
static_assert(SubscriberHandle<std::unique_ptr<Counter>>);
static_assert(SubscriberHandle<std::shared_ptr<Counter>>);
static_assert(SubscriberHandle<Counter*>);
static_assert(SubscriberHandle<std::unique_ptr<MutEventSubscriber>>);
static_assert(SubscriberHandle<std::shared_ptr<EventSubscriber>>);
static_assert(SubscriberHandle<std::shared_ptr<const EventSubscriber>>);
static_assert(SubscriberHandle<std::shared_ptr<Synchronized<Counter>>>);
static_assert(!SubscriberHandle<int> && !SubscriberHandle<int*> && !SubscriberHandle<NotASubscriber>);
static_assert(!SubscriberHandle<std::unique_ptr<NotASubscriber>>);
static_assert(!std::is_polymorphic_v<Counter>);  // static dispatch needs no virtual functions
static_assert(std::is_final_v<Synchronized<Counter>>);
static_assert(std::is_base_of_v<EventSubscriber, Synchronized<Counter>>);

}  // namespace

TEST(Subscriber, HeldByValueIsCalledDirectly) {
  auto manager = EventManager<Counter>::create().value();
  const SubscriberId id = manager.add_subscriber(Counter{});
  manager.subscriber_mut(id)->trigger();
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(manager.subscriber_mut(id)->count(), 1u);
}

TEST(Subscriber, ProcessReceivesTheDataOfEachFd) {
  auto manager = EventManager<test::CounterWithData>::create().value();
  const SubscriberId id = manager.add_subscriber(test::CounterWithData(3, 100));
  auto* s = manager.subscriber_mut(id);
  s->trigger(0);
  s->trigger(2);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u);
  EXPECT_EQ(s->counts(), (std::vector<std::uint64_t>{1, 0, 1}));
}

TEST(MutEventSubscriber, DispatchesThroughUniquePtr) {
  auto manager = EventManager<std::unique_ptr<MutEventSubscriber>>::create().value();
  auto owned = std::make_unique<MutCounter>();
  MutCounter* counter = owned.get();
  const SubscriberId id = manager.add_subscriber(std::move(owned));
  counter->trigger();
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(counter->count(), 1u);
  EXPECT_EQ(manager.subscriber_mut(id)->get(), counter);
}

TEST(EventSubscriber, DispatchesConstMethodsThroughSharedPtr) {
  auto manager = EventManager<std::shared_ptr<EventSubscriber>>::create().value();
  auto counter = std::make_shared<AtomicCounter>();
  (void)manager.add_subscriber(counter);
  counter->trigger();
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(counter->count(), 1u);
}

TEST(Synchronized, BuildsTheValueInPlace) {
  struct Pair {
    std::string name;
    int number;
    Pair(std::string n, int x) : name(std::move(n)), number(x) {}
    Pair(const Pair&) = delete;  // in place, never copied or moved
    void init(EventOps&) {}
    void process(Events, EventOps&) {}
  };
  Synchronized<Pair> s(std::string("device"), 7);
  EXPECT_EQ(s.lock()->name, "device");
  EXPECT_EQ((*s.lock()).number, 7);
}

TEST(Synchronized, ForwardsInitAndProcessToTheValue) {
  auto manager = EventManager<std::shared_ptr<EventSubscriber>>::create().value();
  auto device = std::make_shared<Synchronized<Counter>>();
  (void)manager.add_subscriber(device);
  device->lock()->trigger();
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(device->lock()->count(), 1u);
}

TEST(Synchronized, DispatchesStaticallyThroughSharedPtrOfSynchronized) {
  auto manager = EventManager<std::shared_ptr<Synchronized<Counter>>>::create().value();
  auto device = std::make_shared<Synchronized<Counter>>();
  const SubscriberId id = manager.add_subscriber(device);
  device->lock()->trigger();
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(device->lock()->count(), 1u);
  EXPECT_EQ(manager.subscriber_mut(id)->get(), device.get());
}

// Both tests below hold lock() on the test thread while another thread tries
// to get the Synchronized's mutex, and let go only once the kernel shows that
// thread asleep in futex, i.e. blocked in the mutex. With a broken lock the
// other thread never blocks: it gets through, and the test sees it while it
// still holds the lock. No sleep decides either outcome.

TEST(Synchronized, LockExcludesOtherThreads) {
  Synchronized<Counter> s;
  std::atomic<pid_t> other_tid{0};
  std::atomic<bool> other_acquired{false};
  std::atomic<bool> released{false};
  std::thread other;
  {
    auto guard = s.lock();
    other = std::thread([&] {
      other_tid = test::current_thread_id();
      auto g = s.lock();
      other_acquired = true;
      EXPECT_TRUE(released.load()) << "got the lock while another thread held it";
    });
    EXPECT_TRUE(test::eventually([&] { return other_tid.load() != 0; }));
    const bool blocked = test::wait_until_blocked_in_futex(other_tid.load(), [&] { return other_acquired.load(); });
    EXPECT_FALSE(other_acquired.load()) << "another thread got the lock while it was held";
    EXPECT_TRUE(blocked) << "the other thread was never seen waiting for the lock";
    released = true;
  }
  other.join();
  EXPECT_TRUE(other_acquired.load());
}

TEST(Synchronized, ProcessWaitsForTheLockHeldByAnotherThread) {
  auto manager = EventManager<std::shared_ptr<EventSubscriber>>::create().value();
  auto device = std::make_shared<Synchronized<Counter>>();
  (void)manager.add_subscriber(device);
  std::atomic<pid_t> loop_tid{0};
  std::atomic<bool> run_returned{false};
  std::thread loop;
  {
    auto guard = device->lock();
    guard->trigger();  // ready before run() starts: run() goes straight to process()
    loop = std::thread([&] {
      loop_tid = test::current_thread_id();
      EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
      run_returned = true;
    });
    EXPECT_TRUE(test::eventually([&] { return loop_tid.load() != 0; }));
    const bool blocked = test::wait_until_blocked_in_futex(loop_tid.load(), [&] { return run_returned.load(); });
    EXPECT_FALSE(run_returned.load()) << "run() returned while another thread held lock()";
    EXPECT_EQ(guard->count(), 0u) << "process() ran while another thread held lock()";
    EXPECT_TRUE(blocked) << "process() was never seen waiting for the lock";
  }
  loop.join();
  EXPECT_EQ(device->lock()->count(), 1u);
}
