#include <event_manager/event_set.hpp>

#include <gtest/gtest.h>

#include <sys/epoll.h>

#include <type_traits>

using event_manager::EventSet;

namespace {

// Every constant is the matching EPOLL* bit, usable in constant expressions.
static_assert(EventSet::in.bits() == EPOLLIN);
static_assert(EventSet::out.bits() == EPOLLOUT);
static_assert(EventSet::priority.bits() == EPOLLPRI);
static_assert(EventSet::error.bits() == EPOLLERR);
static_assert(EventSet::hang_up.bits() == EPOLLHUP);
static_assert(EventSet::read_hang_up.bits() == EPOLLRDHUP);
static_assert(EventSet::edge_triggered.bits() == EPOLLET);
static_assert(EventSet::one_shot.bits() == EPOLLONESHOT);
static_assert(EventSet::wake_up.bits() == EPOLLWAKEUP);
static_assert(EventSet::exclusive.bits() == EPOLLEXCLUSIVE);

constexpr std::uint32_t kAllBits = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLET |
                                   EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE;
static_assert(EventSet::all().bits() == kAllBits);

// The operators are constexpr.
constexpr EventSet kInOut = EventSet::in | EventSet::out;
static_assert(kInOut.bits() == (EPOLLIN | EPOLLOUT));
static_assert((kInOut & EventSet::out) == EventSet::out);
static_assert((kInOut ^ EventSet::in) == EventSet::out);
static_assert((kInOut - EventSet::in) == EventSet::out);
static_assert((~EventSet::in).bits() == (kAllBits & ~std::uint32_t{EPOLLIN}));
static_assert(~EventSet::all() == EventSet());
static_assert(~EventSet() == EventSet::all());
static_assert(kInOut.contains(EventSet::in) && !EventSet::in.contains(kInOut));
static_assert(kInOut.intersects(EventSet::out | EventSet::priority));
static_assert(EventSet().empty() && !EventSet::in.empty());
static_assert([] {
  EventSet s;
  s |= EventSet::in | EventSet::out | EventSet::hang_up;
  s &= ~EventSet::hang_up;
  s ^= EventSet::error;
  s -= EventSet::out;
  return s == (EventSet::in | EventSet::error);
}());
static_assert(std::is_trivially_copyable_v<EventSet>);

// v4: `timer` is bit 26, no epoll flag, and not in all().
static_assert(EventSet::timer.bits() == (1u << 26));
static_assert((EventSet::timer.bits() & (kAllBits | EPOLLMSG)) == 0);
static_assert(!EventSet::all().intersects(EventSet::timer));

}  // namespace

TEST(EventSet, DefaultIsEmpty) {
  EventSet s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.bits(), 0u);
  EXPECT_EQ(s, EventSet::from_bits(0));
}

TEST(EventSet, FromBitsDropsUnknownBits) {
  const EventSet s = EventSet::from_bits(0xFFFFFFFFu);
  EXPECT_EQ(s, EventSet::all());
  EXPECT_EQ(EventSet::from_bits(EPOLLIN | (1u << 20)).bits(), std::uint32_t{EPOLLIN});
  EXPECT_EQ(EventSet::from_bits(EPOLLMSG).bits(), 0u);  // not one of the ten flags
}

TEST(EventSet, ConstantsAreDistinctSingleBits) {
  const EventSet all[] = {EventSet::in,      EventSet::out,          EventSet::priority,       EventSet::error,
                          EventSet::hang_up, EventSet::read_hang_up, EventSet::edge_triggered, EventSet::one_shot,
                          EventSet::wake_up, EventSet::exclusive};
  EventSet together;
  for (EventSet s : all) {
    EXPECT_EQ(__builtin_popcount(s.bits()), 1);
    EXPECT_FALSE(together.intersects(s));
    together |= s;
  }
  EXPECT_EQ(together, EventSet::all());
}

TEST(EventSet, ContainsAndIntersects) {
  const EventSet s = EventSet::in | EventSet::hang_up;
  EXPECT_TRUE(s.contains(EventSet::in));
  EXPECT_TRUE(s.contains(EventSet()));  // vacuously
  EXPECT_FALSE(s.contains(EventSet::in | EventSet::out));
  EXPECT_TRUE(s.intersects(EventSet::in | EventSet::out));
  EXPECT_FALSE(s.intersects(EventSet::out));
  EXPECT_FALSE(s.intersects(EventSet()));
}

TEST(EventSet, ComplementStaysWithinAll) {
  for (EventSet s : {EventSet(), EventSet::in, EventSet::all(), EventSet::out | EventSet::exclusive}) {
    EXPECT_EQ((~s).bits() & ~EventSet::all().bits(), 0u);
    EXPECT_EQ(~~s, s);
    EXPECT_EQ(s | ~s, EventSet::all());
    EXPECT_TRUE((s & ~s).empty());
  }
}

TEST(EventSet, DifferenceRemovesOnlyTheGivenBits) {
  const EventSet s = EventSet::in | EventSet::out | EventSet::one_shot;
  EXPECT_EQ(s - EventSet::one_shot, EventSet::in | EventSet::out);
  EXPECT_EQ(s - EventSet::priority, s);
  EventSet t = s;
  t -= EventSet::in | EventSet::out;
  EXPECT_EQ(t, EventSet::one_shot);
}

TEST(EventSet, FromBitsAndComplementDropTheTimerBit) {
  EXPECT_TRUE(EventSet::from_bits(1u << 26).empty());
  EXPECT_EQ(EventSet::from_bits(EPOLLIN | (1u << 26)), EventSet::in);
  EXPECT_FALSE((~EventSet()).intersects(EventSet::timer));
  EXPECT_FALSE((~EventSet::in).intersects(EventSet::timer));
}
