#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

using namespace event_manager;

namespace {
struct Counter {
  EventFd fd = EventFd::create().value();
  int count = 0;
  void init(EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); }
  void process(Events, EventOps&) {
    ++count;
    (void)fd.read();
  }
};
}  // namespace

TEST(Smoke, DispatchesOneEvent) {
  auto m = EventManager<Counter>::create().value();
  auto id = m.add_subscriber(Counter{});
  ASSERT_TRUE(m.subscriber_mut(id)->fd.write(1).has_value());
  EXPECT_EQ(m.run_with_timeout(1000).value(), 1u);
  EXPECT_EQ(m.subscriber_mut(id)->count, 1);
  auto ep = m.remote_endpoint();
  std::thread t([&] {
    auto r = ep.call_blocking([id](SubscriberOps<Counter>& ops) { return ops.subscriber_mut(id)->count; });
    EXPECT_EQ(r.value(), 1);
  });
  (void)m.run_with_timeout(5000);
  t.join();
  auto dyn = EventManager<std::shared_ptr<EventSubscriber>>::create().value();
  auto s = std::make_shared<Synchronized<Counter>>();
  auto sid = dyn.add_subscriber(s);
  (void)s->lock()->fd.write(1);
  EXPECT_EQ(dyn.run_with_timeout(1000).value(), 1u);
  EXPECT_EQ(s->lock()->count, 1);
  EXPECT_TRUE(dyn.remove_subscriber(sid).has_value());
}
