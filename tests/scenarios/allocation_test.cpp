// Heap allocation: run() allocates nothing once warmed up, and add(),
// modify(), remove_subscriber() (and add_subscriber(), create()) give the
// strong guarantee when an allocation throws std::bad_alloc. Timers (v4):
// once add_timer() returned, arming, disarming, removing, expiries and run()
// allocate nothing, and add_timer() itself gives the strong guarantee.
//
// This file replaces the global operator new/delete, which is why these tests
// live in their own executable: the replacement counts allocations while
// `counting` is on and throws std::bad_alloc on the Nth allocation after
// fail_on_nth(N).
#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <new>
#include <set>
#include <stdexcept>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"
#include "support/test_access.hpp"
#include "timers.hpp"  // src/: the Timers state that TestAccess::live_timers() reads

#include "support/counting_new.hpp"

using namespace event_manager;
using event_manager::test::Counter;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;
using event_manager::test::LiveCount;
using event_manager::test::open_fds;

namespace {

/// Counts the allocations made while it is alive.
class CountAllocations {
 public:
  CountAllocations() {
    g_allocations.store(0);
    g_counting.store(true);
  }
  ~CountAllocations() { g_counting.store(false); }
  long count() const { return g_allocations.load(); }
};

/// The next allocations succeed up to the nth, which throws std::bad_alloc.
void fail_on_nth(long n) { g_fail_countdown.store(n); }
/// No allocation fails any more; returns whether the armed failure was not reached.
bool disarm() { return g_fail_countdown.exchange(0) > 0; }

/// Registers an eventfd under a high number so that add() must grow the fd table.
int high_eventfd(int number) {
  const int fd = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::dup2(fd, number), number);
  ::close(fd);
  return number;
}

}  // namespace

TEST(Allocation, ReplacedOperatorNewIsInEffect) {
  long counted = 0;
  {
    CountAllocations c;
    auto p = std::make_unique<int>(1);
    std::vector<int> v(10);
    counted = c.count();
  }
  EXPECT_EQ(counted, 2);
  fail_on_nth(1);
  EXPECT_THROW((void)std::make_unique<int>(1), std::bad_alloc);
  EXPECT_FALSE(disarm());
}

TEST(Allocation, RunAllocatesNothingOnceWarmedUp) {
  auto manager = EventManager<Counter>::create().value();
  std::vector<SubscriberId> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(manager.add_subscriber(Counter{}));
  for (int i = 0; i < 50; i += 5) manager.subscriber_mut(ids[static_cast<std::size_t>(i)])->trigger();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(manager.run_with_timeout(kWaitMs).value(), 10u);  // warm-up

  long allocations = 0;
  std::size_t events = 0;
  {
    CountAllocations c;
    for (int i = 0; i < 1000; ++i) events += manager.run_with_timeout(kWaitMs).value_or(0);
    allocations = c.count();
  }
  EXPECT_EQ(events, 10'000u);
  EXPECT_EQ(allocations, 0) << "run() allocated while dispatching";
  EXPECT_EQ(manager.subscriber_mut(ids[0])->count(), 1010u);
}

TEST(Allocation, RunWithRegistrationChangesInProcessAllocatesNothing) {
  // Each event removes, re-adds and modifies its fd: all O(1) within the warmed-up table.
  auto manager = EventManager<Lambda>::create().value();
  std::vector<EventFd> fds;
  for (int i = 0; i < 8; ++i) fds.push_back(EventFd::create(1).value());
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    for (const auto& fd : fds) ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
  };
  l.on_process = [](Events e, EventOps& ops) {
    (void)ops.remove(e);
    (void)ops.add(Events::with_data(e.fd(), e.data() + 1, EventSet::in | EventSet::out));
    (void)ops.modify(Events::with_data(e.fd(), e.data() + 2, EventSet::in));
    (void)ops.registered(e.fd());
  };
  (void)manager.add_subscriber(std::move(l));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(manager.run_with_timeout(kWaitMs).value(), 8u);

  long allocations = 0;
  std::size_t events = 0;
  {
    CountAllocations c;
    for (int i = 0; i < 1000; ++i) events += manager.run_with_timeout(kWaitMs).value_or(0);
    allocations = c.count();
  }
  EXPECT_EQ(events, 8000u);
  EXPECT_EQ(allocations, 0);
}

TEST(Allocation, DynamicDispatchAndIdlePollsAllocateNothing) {
  auto manager = EventManager<std::shared_ptr<EventSubscriber>>::create().value();
  auto device = std::make_shared<Synchronized<Counter>>();
  (void)manager.add_subscriber(device);
  device->lock()->trigger();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  long allocations = 0;
  {
    CountAllocations c;
    for (int i = 0; i < 1000; ++i) (void)manager.run_with_timeout(kWaitMs);
    device->lock()->clear();
    for (int i = 0; i < 100; ++i) (void)manager.run_with_timeout(0);
    allocations = c.count();
  }
  EXPECT_EQ(device->lock()->count(), 1010u);
  EXPECT_EQ(allocations, 0);
}

TEST(Allocation, RunWokenByKickAllocatesNothing) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(endpoint.kick().has_value());
    ASSERT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  }
  long allocations = 0;
  {
    CountAllocations c;
    for (int i = 0; i < 1000; ++i) {
      (void)endpoint.kick();
      (void)manager.run_with_timeout(kWaitMs);
    }
    allocations = c.count();
  }
  EXPECT_EQ(allocations, 0);
}

TEST(Allocation, AddGivesTheStrongGuaranteeUnderBadAlloc) {
  auto manager = EventManager<Lambda>::create().value();
  std::vector<int> calls_by_fd;
  int low_calls = 0;
  int high_calls = 0;
  auto low = EventFd::create().value();
  const int high = high_eventfd(3000);  // beyond the table: add() must grow it
  Lambda l;
  l.on_process = [&](Events e, EventOps&) {
    if (e.fd() == low.fd()) {
      ++low_calls;
      (void)low.read();
    } else {
      ++high_calls;
    }
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EventOps ops = manager.event_ops(id).value();
  const Events low_registration = Events::with_data(low, 1, EventSet::in);
  ASSERT_TRUE(ops.add(low_registration).has_value());
  const auto fds_before = open_fds();

  int failures = 0;
  for (long n = 1;; ++n) {
    fail_on_nth(n);
    bool threw = false;
    Result<void> added;
    try {
      added = ops.add(Events::with_data(high, 2, EventSet::in));
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    const bool not_reached = disarm();
    if (!threw) {
      ASSERT_TRUE(added.has_value()) << added.error().message();
      ASSERT_TRUE(not_reached) << "the failure was swallowed instead of reported";
      break;
    }
    ++failures;
    SCOPED_TRACE(testing::Message() << "allocation " << n << " failed");
    // Nothing changed: the high fd is not registered, the low one still works.
    EXPECT_EQ(ops.registered(high).error(), Error::FdNotRegistered);
    EXPECT_EQ(ops.registered(low.fd()).value(), low_registration);
    ASSERT_TRUE(low.write(1).has_value());
    EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u) << "the high fd reached the kernel";
    EXPECT_EQ(high_calls, 0);
    EXPECT_EQ(open_fds(), fds_before);
    ASSERT_LT(n, 100);
  }
  EXPECT_GE(failures, 1) << "growing the table allocates: at least one failure was expected";
  EXPECT_EQ(low_calls, failures);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(high_calls, 1);
  ASSERT_TRUE(ops.remove(Events::empty(high)).has_value());
  ::close(high);
}

TEST(Allocation, ModifyGivesTheStrongGuaranteeUnderBadAlloc) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create().value();
  const SubscriberId id = manager.add_subscriber(Lambda{});
  EventOps ops = manager.event_ops(id).value();
  const Events before = Events::with_data(fd, 1, EventSet::in);
  const Events after = Events::with_data(fd, 2, EventSet::out | EventSet::priority);
  ASSERT_TRUE(ops.add(before).has_value());
  for (long n = 1;; ++n) {
    fail_on_nth(n);
    bool threw = false;
    Result<void> modified;
    try {
      modified = ops.modify(after);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    disarm();
    if (!threw) {
      ASSERT_TRUE(modified.has_value());
      break;
    }
    EXPECT_EQ(ops.registered(fd.fd()).value(), before) << "allocation " << n;
    ASSERT_LT(n, 100);
  }
  EXPECT_EQ(ops.registered(fd.fd()).value(), after);
}

namespace {

/// A subscriber whose move allocates (it copies its history) but leaves the
/// source intact when that throws: a move with the strong guarantee.
struct Heavy {
  std::vector<int> history{1, 2, 3};
  std::shared_ptr<EventFd> fd = std::make_shared<EventFd>(EventFd::create().value());
  std::shared_ptr<int> calls = std::make_shared<int>(0);
  Heavy() = default;
  Heavy(Heavy&& other) : history(other.history), fd(other.fd), calls(other.calls) {}  // copies: may throw
  Heavy& operator=(Heavy&&) = delete;
  void init(EventOps& ops) { ASSERT_TRUE(ops.add(Events(*fd, EventSet::in)).has_value()); }
  void process(Events, EventOps&) {
    ++*calls;
    (void)fd->read();
  }
};

}  // namespace

TEST(Allocation, RemoveSubscriberGivesTheStrongGuaranteeUnderBadAlloc) {
  auto manager = EventManager<Heavy>::create().value();
  const SubscriberId id = manager.add_subscriber(Heavy{});
  Heavy* stored = manager.subscriber_mut(id);
  auto fd = stored->fd;
  auto calls = stored->calls;
  int failures = 0;
  for (long n = 1;; ++n) {
    fail_on_nth(n);
    bool threw = false;
    bool removed_intact = false;
    try {
      const Result<Heavy> removed = manager.remove_subscriber(id);  // no move of our own
      disarm();
      removed_intact = removed.has_value() && removed->history == std::vector<int>{1, 2, 3};
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    disarm();
    if (!threw) {
      EXPECT_TRUE(removed_intact);
      break;
    }
    ++failures;
    SCOPED_TRACE(testing::Message() << "allocation " << n << " failed");
    // Still there, unchanged, and still dispatched.
    ASSERT_EQ(manager.subscriber_mut(id), stored);
    EXPECT_EQ(stored->history, (std::vector<int>{1, 2, 3}));
    EXPECT_TRUE(manager.event_ops(id)->registered(fd->fd()).has_value());
    ASSERT_TRUE(fd->write(1).has_value());
    EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
    EXPECT_EQ(*calls, failures);
    ASSERT_LT(n, 100);
  }
  EXPECT_GE(failures, 1);
  EXPECT_EQ(manager.subscriber_mut(id), nullptr);
  ASSERT_TRUE(fd->write(1).has_value());
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u) << "removed, yet its fd is still watched";
}

TEST(Allocation, AddSubscriberRollsBackUnderBadAlloc) {
  auto manager = EventManager<Lambda>::create().value();
  (void)manager.add_subscriber(Lambda{});
  auto live = std::make_shared<int>(0);
  const int high = high_eventfd(4000);
  auto low = EventFd::create(1).value();
  const auto fds_before = open_fds();
  int failures = 0;
  for (long n = 1;; ++n) {
    Lambda l;
    l.on_init = [&, guard = LiveCount(live)](EventOps& ops) {
      ASSERT_TRUE(ops.add(Events(low, EventSet::in)).has_value());
      // Grows the table: throws std::bad_alloc when its allocation is the failing one.
      auto r = ops.add(Events(high, EventSet::in));
      ASSERT_TRUE(r.has_value());
    };
    const int live_before = *live;
    fail_on_nth(n);
    bool threw = false;
    SubscriberId id;
    try {
      id = manager.add_subscriber(std::move(l));
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    disarm();
    if (!threw) {
      EXPECT_NE(manager.subscriber_mut(id), nullptr);
      EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u);
      break;
    }
    ++failures;
    SCOPED_TRACE(testing::Message() << "allocation " << n << " failed");
    EXPECT_LE(*live, live_before) << "a subscriber whose add_subscriber() threw was kept";
    EXPECT_EQ(manager.run_with_timeout(0).value(), 0u) << "a rolled-back fd is still watched";
    EXPECT_EQ(open_fds(), fds_before);
    ASSERT_LT(n, 100);
  }
  EXPECT_GE(failures, 2);
  ::close(high);
}

TEST(Allocation, CreateLeaksNoFdUnderBadAlloc) {
  const auto fds_before = open_fds();
  int failures = 0;
  for (long n = 1;; ++n) {
    fail_on_nth(n);
    bool threw = false;
    std::optional<Result<EventManager<Counter>>> created;
    try {
      created.emplace(EventManager<Counter>::create());
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    disarm();
    if (!threw) {
      ASSERT_TRUE(created->has_value());
      break;
    }
    ++failures;
    EXPECT_EQ(open_fds(), fds_before) << "allocation " << n << " failed and an fd leaked";
    ASSERT_LT(n, 100);
  }
  EXPECT_GE(failures, 2);
}

// Issue 8, defect 3: the wake-up was marked consumed before the queue was
// taken, so a std::bad_alloc while taking it left the requests queued with
// nothing to wake the loop for them.
TEST(Allocation, RequestsAreNotLostWhenTakingThemThrowsBadAlloc) {
  auto manager = EventManager<Lambda>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::vector<int> ran;
  ASSERT_TRUE(endpoint.fire([](SubscriberOps<Lambda>&) { throw std::runtime_error("first"); }).has_value());
  ASSERT_TRUE(endpoint.fire([&](SubscriberOps<Lambda>&) { ran.push_back(1); }).has_value());
  EXPECT_THROW((void)manager.run_with_timeout(kWaitMs), std::runtime_error);
  ASSERT_TRUE(ran.empty());
  // Request 1 is left over; request 2 joins it through the channel, which
  // must grow the loop's queue: that allocation fails.
  ASSERT_TRUE(endpoint.fire([&](SubscriberOps<Lambda>&) { ran.push_back(2); }).has_value());
  fail_on_nth(1);
  EXPECT_THROW((void)manager.run_with_timeout(kWaitMs), std::bad_alloc);
  EXPECT_FALSE(disarm()) << "the failure was not injected";
  EXPECT_TRUE(ran.empty());

  ::pollfd p{manager.epoll_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1) << "requests are owed but epoll_fd() is not readable";
  EXPECT_GE(manager.run_with_timeout(1000).value(), 0u);
  EXPECT_EQ(ran, (std::vector<int>{1, 2})) << "queued requests were lost after the bad_alloc";
}

// v4: inject() allocates nothing once warmed up (the queue keeps its capacity),
// and neither does the run() that delivers the injections.
TEST(Allocation, InjectAndItsDeliveryAllocateNothingOnceWarmedUp) {
  auto manager = EventManager<Lambda>::create().value();
  std::vector<EventFd> fds;
  for (int i = 0; i < 4; ++i) fds.push_back(EventFd::create().value());
  std::size_t delivered = 0;
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    for (const auto& fd : fds) ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
  };
  l.on_process = [&](Events e, EventOps& ops) {
    ++delivered;
    // Every fourth delivery injects again from process() (queued for the next run).
    if (delivered % 4 == 0) (void)ops.inject(e.fd(), EventSet::out);
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EventOps ops = manager.event_ops(id).value();
  auto round = [&] {
    for (int k = 0; k < 2; ++k) {
      for (const auto& fd : fds) (void)ops.inject(fd.fd(), EventSet::in);
    }
    (void)manager.run_with_timeout(kWaitMs);
  };
  for (int i = 0; i < 10; ++i) round();  // warm-up
  long allocations = 0;
  const std::size_t before = delivered;
  {
    CountAllocations c;
    for (int i = 0; i < 1000; ++i) round();
    allocations = c.count();
  }
  EXPECT_GE(delivered - before, 8000u);
  EXPECT_EQ(allocations, 0) << "inject() or the run() delivering it allocated";
  for (const auto& fd : fds) ASSERT_TRUE(ops.remove(Events::empty(fd)).has_value());
}

// --- Timers (v4) ---------------------------------------------------------------------

TEST(Allocation, TimersAllocateNothingOnceAdded) {
  using namespace std::chrono_literals;
  std::vector<TimerId> timers;
  std::size_t expiries = 0;
  auto manager = EventManager<Lambda>::create().value();
  Lambda l;
  // From the callbacks: re-arm due now, disarm and re-arm periodic, move to
  // an absolute deadline. Every third timer is periodic and left alone.
  l.on_process = [&](Events e, EventOps& ops) {
    if (!e.is_timer()) return;
    ++expiries;
    const TimerId t = timers[e.data()];
    switch (e.data() % 4) {
      case 0: (void)ops.arm_timer(t, 0ns); break;
      case 1:
        (void)ops.disarm_timer(t);
        (void)ops.arm_timer(t, 1us, 50us);
        break;
      case 2: (void)ops.arm_timer_at(t, TimerClock::now() + 20us); break;
      default: (void)ops.timer_deadline(t); break;
    }
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EventOps ops = manager.event_ops(id).value();
  for (std::uint32_t i = 0; i < 64; ++i) timers.push_back(ops.add_timer(i).value());
  for (std::uint32_t i = 0; i < 64; ++i) ASSERT_TRUE(ops.arm_timer(timers[i], 0ns, i % 4 == 3 ? 100us : 0ns));
  for (int i = 0; i < 20; ++i) ASSERT_GE(manager.run_with_timeout(kWaitMs).value(), 1u);  // warm-up

  long allocations = 0;
  std::size_t counted_expiries = 0;
  {
    CountAllocations c;
    const std::size_t before = expiries;
    for (int i = 0; i < 200; ++i) (void)manager.run_with_timeout(kWaitMs);
    counted_expiries = expiries - before;
    // From outside run(): each call may move the earliest deadline (a syscall, no allocation).
    for (std::uint32_t i = 0; i < 64; ++i) {
      (void)ops.arm_timer(timers[i], std::chrono::milliseconds(i + 1));
      (void)ops.arm_timer_at(timers[i], TimerClock::now() + 1h, 1s);
      (void)ops.timer_deadline(timers[i]);
      (void)ops.disarm_timer(timers[i]);
    }
    for (std::uint32_t i = 0; i < 64; i += 2) (void)ops.remove_timer(timers[i]);
    (void)manager.run_with_timeout(0);
    allocations = c.count();
  }
  EXPECT_GE(counted_expiries, 200u) << "the timers did not fire while counted";
  EXPECT_EQ(allocations, 0) << "timers allocated after add_timer()";
  EXPECT_EQ(detail::TestAccess::live_timers(manager), 32u);
}

TEST(Allocation, AddTimerGivesTheStrongGuaranteeUnderBadAlloc) {
  using namespace std::chrono_literals;
  auto manager = EventManager<Lambda>::create().value();
  std::vector<std::uint32_t> fired;
  Lambda l;
  l.on_process = [&](Events e, EventOps&) { fired.push_back(e.data()); };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EventOps ops = manager.event_ops(id).value();
  const auto fds_before = open_fds();

  // Adds a timer with the nth allocation failing; true once it succeeded.
  // A failure surfaces as std::bad_alloc or as ENOMEM, and changes nothing.
  std::optional<TimerId> added;
  auto try_add = [&](long n, std::uint32_t data) {
    fail_on_nth(n);
    bool threw = false;
    Result<TimerId> r = std::unexpected(std::error_code());
    try {
      r = ops.add_timer(data);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    const bool not_reached = disarm();
    if (!threw && r.has_value()) {
      EXPECT_TRUE(not_reached) << "the failure was swallowed instead of reported";
      added = *r;
      return true;
    }
    if (!threw) {
      EXPECT_EQ(r.error(), std::errc::not_enough_memory) << r.error().message();
    }
    return false;
  };

  // The first add_timer(): it makes the heap and opens the kernel timer.
  int failures = 0;
  for (long n = 1;; ++n) {
    if (try_add(n, 1)) break;
    ++failures;
    SCOPED_TRACE(testing::Message() << "allocation " << n << " failed");
    EXPECT_EQ(detail::TestAccess::live_timers(manager), 0u);
    EXPECT_EQ(detail::TestAccess::timer_fd(manager), -1) << "a failed first add_timer() kept the timerfd";
    EXPECT_EQ(open_fds(), fds_before);
    ASSERT_LT(n, 100);
  }
  EXPECT_GE(failures, 1) << "the first add_timer() allocates: at least one failure was expected";
  const TimerId first = *added;
  const auto fds_with_timer = open_fds();
  const TimerClock::time_point deadline = TimerClock::now() + 1h;
  ASSERT_TRUE(ops.arm_timer_at(first, deadline));

  // Later ones grow the heap's vectors now and then.
  int later_failures = 0;
  for (std::uint32_t k = 2; k <= 40; ++k) {
    for (long n = 1;; ++n) {
      if (try_add(n, k)) break;
      ++later_failures;
      SCOPED_TRACE(testing::Message() << "timer " << k << ", allocation " << n << " failed");
      EXPECT_EQ(detail::TestAccess::live_timers(manager), std::size_t{k - 1});
      EXPECT_EQ(ops.timer_deadline(first).value(), std::optional<TimerClock::time_point>(deadline));
      EXPECT_EQ(open_fds(), fds_with_timer);
      ASSERT_LT(n, 100);
    }
  }
  EXPECT_GE(later_failures, 3) << "growing the heap allocates: failures were expected";
  EXPECT_EQ(detail::TestAccess::live_timers(manager), 40u);
  ASSERT_TRUE(ops.arm_timer(first, 0ns));
  ASSERT_TRUE(ops.arm_timer(*added, 0ns));
  EXPECT_GE(manager.run_with_timeout(kWaitMs).value(), 2u);
  EXPECT_EQ(fired, (std::vector<std::uint32_t>{1, 40}));
}
