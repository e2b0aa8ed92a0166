#include <event_manager/event_fd.hpp>
#include <event_manager/events.hpp>

#include <gtest/gtest.h>

#include <sys/epoll.h>

#include <type_traits>

using event_manager::EventFd;
using event_manager::Events;
using event_manager::EventSet;

namespace {

struct OwnFd {
  constexpr int fd() const noexcept { return 42; }
};
static_assert(event_manager::AsFd<OwnFd>);
static_assert(event_manager::AsFd<EventFd>);
static_assert(!event_manager::AsFd<int>);

// Constructible in constant expressions, also from an AsFd type.
constexpr Events kPlain(7, EventSet::in);
static_assert(kPlain.fd() == 7 && kPlain.data() == 0 && kPlain.event_set() == EventSet::in);
constexpr Events kWithData = Events::with_data(OwnFd{}, 9, EventSet::out);
static_assert(kWithData.fd() == 42 && kWithData.data() == 9 && kWithData.event_set() == EventSet::out);
static_assert(Events::empty(OwnFd{}).event_set().empty() && Events::empty(3).data() == 0);
static_assert(std::is_trivially_copyable_v<Events>);
// v4: is_timer() is event_set() containing EventSet::timer, in constant expressions too.
static_assert(Events::with_data(-1, 3, EventSet::timer).is_timer());
static_assert(Events(-1, EventSet::timer | EventSet::in).is_timer());
static_assert(!Events(4, EventSet::all()).is_timer() && !Events::empty(4).is_timer());

}  // namespace

TEST(Events, ConstructorLeavesDataZero) {
  const Events e(5, EventSet::in | EventSet::out);
  EXPECT_EQ(e.fd(), 5);
  EXPECT_EQ(e.data(), 0u);
  EXPECT_EQ(e.event_set(), EventSet::in | EventSet::out);
}

TEST(Events, WithDataKeepsAllThirtyTwoBits) {
  const Events e = Events::with_data(3, 0xFFFFFFFFu, EventSet::priority);
  EXPECT_EQ(e.fd(), 3);
  EXPECT_EQ(e.data(), 0xFFFFFFFFu);
  EXPECT_EQ(e.event_set(), EventSet::priority);
}

TEST(Events, EmptyHasNoFlagsAndNoData) {
  const Events e = Events::empty(11);
  EXPECT_EQ(e.fd(), 11);
  EXPECT_TRUE(e.event_set().empty());
  EXPECT_EQ(e.data(), 0u);
}

TEST(Events, AsFdOverloadsUseTheSourceFd) {
  auto fd = EventFd::create().value();
  EXPECT_EQ(Events(fd, EventSet::in), Events(fd.fd(), EventSet::in));
  EXPECT_EQ(Events::with_data(fd, 4, EventSet::in), Events::with_data(fd.fd(), 4, EventSet::in));
  EXPECT_EQ(Events::empty(fd), Events::empty(fd.fd()));
}

TEST(Events, ToEpollEventPacksDataAboveFd) {
  const Events e = Events::with_data(0x1234, 0xABCDEF01u, EventSet::in | EventSet::edge_triggered);
  const ::epoll_event ev = e.to_epoll_event();
  EXPECT_EQ(ev.events, std::uint32_t{EPOLLIN | EPOLLET});
  EXPECT_EQ(ev.data.u64, (std::uint64_t{0xABCDEF01u} << 32) | 0x1234u);
}

TEST(Events, FromEpollEventRoundTrips) {
  for (const Events e : {Events(0, EventSet()), Events::with_data(1, 1, EventSet::all()),
                         Events::with_data(19999, 0xFFFFFFFFu, EventSet::out | EventSet::one_shot),
                         Events::with_data(0x7FFFFFFF, 0x80000000u, EventSet::hang_up)}) {
    EXPECT_EQ(Events::from_epoll_event(e.to_epoll_event()), e);
  }
}

TEST(Events, FromEpollEventMasksUnknownBits) {
  ::epoll_event ev{};
  ev.events = EPOLLIN | EPOLLMSG | (1u << 20);
  ev.data.u64 = (std::uint64_t{5} << 32) | 6u;
  const Events e = Events::from_epoll_event(ev);
  EXPECT_EQ(e.event_set(), EventSet::in);
  EXPECT_EQ(e.fd(), 6);
  EXPECT_EQ(e.data(), 5u);
}

TEST(Events, EqualityComparesFdDataAndEvents) {
  const Events a = Events::with_data(1, 2, EventSet::in);
  EXPECT_EQ(a, Events::with_data(1, 2, EventSet::in));
  EXPECT_NE(a, Events::with_data(2, 2, EventSet::in));
  EXPECT_NE(a, Events::with_data(1, 3, EventSet::in));
  EXPECT_NE(a, Events::with_data(1, 2, EventSet::out));
}

TEST(Events, FromEpollEventDropsTheTimerBit) {
  // The kernel never reports bit 26; should it appear, it must not make an fd event look like a timer.
  ::epoll_event ev{};
  ev.events = EPOLLIN | (1u << 26);
  ev.data.u64 = (std::uint64_t{7} << 32) | 8u;
  const Events e = Events::from_epoll_event(ev);
  EXPECT_EQ(e.event_set(), EventSet::in);
  EXPECT_FALSE(e.is_timer());
  EXPECT_EQ(e.data(), 7u);
}
