#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <type_traits>
#include <unordered_set>

#include "support/subscribers.hpp"

using namespace event_manager;
using event_manager::test::Counter;

static_assert(std::is_trivially_copyable_v<SubscriberId>);
static_assert(std::is_nothrow_copy_constructible_v<SubscriberId>);
static_assert(std::is_nothrow_move_assignable_v<SubscriberId>);
static_assert(SubscriberId().value() == 0);
static_assert(SubscriberId() == SubscriberId());

// Users cannot forge ids or handles (issue 8, defect 8): only the manager makes them.
static_assert(!std::is_constructible_v<SubscriberId, std::uint64_t>);
static_assert(!std::is_constructible_v<EventOps, detail::Core*, SubscriberId>);

TEST(SubscriberId, DefaultIsTheNullId) {
  const SubscriberId id;
  EXPECT_EQ(id.value(), 0u);
  EXPECT_EQ(id, SubscriberId{});
}

TEST(SubscriberId, ComparesAndOrdersByValue) {
  auto manager = EventManager<Counter>::create().value();
  const SubscriberId a = manager.add_subscriber(Counter{});
  const SubscriberId b = manager.add_subscriber(Counter{});
  const SubscriberId a_copy = a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a <=> a_copy, std::strong_ordering::equal);
  EXPECT_EQ(a < b, a.value() < b.value());
  std::set<SubscriberId> ordered{b, a, b};
  EXPECT_EQ(ordered.size(), 2u);
  EXPECT_EQ(*ordered.begin(), std::min(a, b));
}

TEST(SubscriberId, HashIsUsableInUnorderedContainers) {
  auto manager = EventManager<Counter>::create().value();
  const SubscriberId a = manager.add_subscriber(Counter{});
  const SubscriberId b = manager.add_subscriber(Counter{});
  EXPECT_EQ(std::hash<SubscriberId>{}(a), std::hash<std::uint64_t>{}(a.value()));
  std::unordered_set<SubscriberId> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(b));
}

TEST(SubscriberId, ManagerNeverIssuesTheNullId) {
  auto manager = EventManager<Counter>::create().value();
  for (int i = 0; i < 10; ++i) {
    const SubscriberId id = manager.add_subscriber(Counter{});
    EXPECT_NE(id, SubscriberId());
    ASSERT_TRUE(manager.remove_subscriber(id).has_value());
  }
}

TEST(SubscriberId, NullIdGivesInvalidIdEverywhere) {
  auto manager = EventManager<Counter>::create().value();
  (void)manager.add_subscriber(Counter{});  // slot 0 is in use: the null id must still not find it
  EXPECT_EQ(manager.subscriber_mut(SubscriberId()), nullptr);
  EXPECT_EQ(manager.event_ops(SubscriberId()).error(), Error::InvalidId);
  EXPECT_EQ(manager.remove_subscriber(SubscriberId()).error(), Error::InvalidId);
}

TEST(SubscriberId, IdsAreNeverReused) {
  auto manager = EventManager<Counter>::create().value();
  std::set<SubscriberId> seen;
  for (int i = 0; i < 500; ++i) {
    const SubscriberId a = manager.add_subscriber(Counter{});
    const SubscriberId b = manager.add_subscriber(Counter{});
    EXPECT_TRUE(seen.insert(a).second) << "id " << a.value() << " issued twice";
    EXPECT_TRUE(seen.insert(b).second) << "id " << b.value() << " issued twice";
    ASSERT_TRUE(manager.remove_subscriber(a).has_value());
    if (i % 2 == 0) {
      ASSERT_TRUE(manager.remove_subscriber(b).has_value());
    }
  }
}

TEST(SubscriberId, StaleIdGivesInvalidIdEvenAfterItsSlotIsReused) {
  auto manager = EventManager<Counter>::create().value();
  const SubscriberId stale = manager.add_subscriber(Counter{});
  ASSERT_TRUE(manager.remove_subscriber(stale).has_value());
  const SubscriberId fresh = manager.add_subscriber(Counter{});  // most likely the same slot
  ASSERT_NE(fresh, stale);
  EXPECT_EQ(manager.subscriber_mut(stale), nullptr);
  EXPECT_EQ(manager.event_ops(stale).error(), Error::InvalidId);
  EXPECT_EQ(manager.remove_subscriber(stale).error(), Error::InvalidId);
  EXPECT_NE(manager.subscriber_mut(fresh), nullptr);  // the stale id touched nothing
}
