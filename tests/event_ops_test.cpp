#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <type_traits>
#include <utility>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"
#include "support/test_access.hpp"

using event_manager::Error;
using event_manager::EventFd;
using event_manager::EventManager;
using event_manager::Events;
using event_manager::EventSet;
using event_manager::SubscriberId;
// The suite is named after the class; the class itself is `Ops` in this file.
using Ops = event_manager::EventOps;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;
using event_manager::test::write_one;

static_assert(std::is_nothrow_copy_constructible_v<Ops>);
static_assert(std::is_nothrow_move_constructible_v<Ops>);
static_assert(std::is_nothrow_copy_assignable_v<Ops>);
static_assert(std::is_nothrow_move_assignable_v<Ops>);

namespace {

struct Seen {
  SubscriberId by;
  Events events;
};

/// A manager of Lambda subscribers whose callbacks record what they see.
class EventOps : public ::testing::Test {
 protected:
  EventManager<Lambda> manager = EventManager<Lambda>::create().value();
  std::vector<Seen> seen;

  /// A subscriber that records its events and registers nothing by itself.
  SubscriberId add_recorder() {
    Lambda l;
    l.on_process = [this](Events e, Ops& ops) { seen.push_back({ops.subscriber_id(), e}); };
    return manager.add_subscriber(std::move(l));
  }
  Ops ops(SubscriberId id) { return manager.event_ops(id).value(); }
  std::size_t run(int timeout_ms = kWaitMs) {
    auto n = manager.run_with_timeout(timeout_ms);
    EXPECT_TRUE(n.has_value()) << n.error().message();
    return n.value_or(0);
  }
};

}  // namespace

TEST_F(EventOps, AddRegistersFdAndProcessSeesFdDataAndReadyBits) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 0xDEADBEEF, EventSet::in | EventSet::out)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].by, id);
  EXPECT_EQ(seen[0].events, Events::with_data(fd, 0xDEADBEEF, EventSet::in | EventSet::out));
}

TEST_F(EventOps, ProcessSeesOnlyTheBitsThatAreReady) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();  // writable, not readable
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in | EventSet::out)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].events.event_set(), EventSet::out);
}

TEST_F(EventOps, RegisteredReturnsWhatWasRegistered) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();
  const Events registered = Events::with_data(fd, 77, EventSet::in | EventSet::edge_triggered | EventSet::priority);
  ASSERT_TRUE(ops(id).add(registered).has_value());
  EXPECT_EQ(ops(id).registered(fd.fd()).value(), registered);
  // The documented idiom: change one flag, keep the rest.
  auto r = ops(id).registered(fd.fd());
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, r->data(), r->event_set() | EventSet::out)).has_value());
  EXPECT_EQ(ops(id).registered(fd.fd()).value(), Events::with_data(fd, 77, registered.event_set() | EventSet::out));
}

TEST_F(EventOps, RegisteredOfFdNotRegisteredIsFdNotRegistered) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();
  EXPECT_EQ(ops(id).registered(fd.fd()).error(), Error::FdNotRegistered);
  EXPECT_EQ(ops(id).registered(-1).error(), Error::FdNotRegistered);
  EXPECT_EQ(ops(id).registered(1 << 30).error(), Error::FdNotRegistered);
}

TEST_F(EventOps, SubscriberCannotSeeModifyOrRemoveAnotherSubscribersFd) {
  const SubscriberId owner = add_recorder();
  const SubscriberId other = add_recorder();
  auto fd = EventFd::create().value();
  const Events registered = Events::with_data(fd, 5, EventSet::in);
  ASSERT_TRUE(ops(owner).add(registered).has_value());

  EXPECT_EQ(ops(other).registered(fd.fd()).error(), Error::FdNotRegistered);
  EXPECT_EQ(ops(other).modify(Events::with_data(fd, 6, EventSet::out)).error(), Error::FdNotRegistered);
  EXPECT_EQ(ops(other).remove(Events::empty(fd)).error(), Error::FdNotRegistered);

  // Nothing changed: the owner's registration stands and still dispatches to the owner.
  EXPECT_EQ(ops(owner).registered(fd.fd()).value(), registered);
  ASSERT_TRUE(fd.write(1).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].by, owner);
  EXPECT_EQ(seen[0].events, registered);
}

TEST_F(EventOps, AddOfFdRegisteredByAnyoneIsFdAlreadyRegistered) {
  const SubscriberId owner = add_recorder();
  const SubscriberId other = add_recorder();
  auto fd = EventFd::create().value();
  const Events registered = Events::with_data(fd, 1, EventSet::in);
  ASSERT_TRUE(ops(owner).add(registered).has_value());
  EXPECT_EQ(ops(owner).add(Events::with_data(fd, 2, EventSet::out)).error(), Error::FdAlreadyRegistered);
  EXPECT_EQ(ops(other).add(Events::with_data(fd, 3, EventSet::out)).error(), Error::FdAlreadyRegistered);
  EXPECT_EQ(ops(owner).registered(fd.fd()).value(), registered);
  EXPECT_EQ(ops(other).registered(fd.fd()).error(), Error::FdNotRegistered);
}

TEST_F(EventOps, ModifyReplacesMaskAndData) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create().value();  // never readable here, always writable
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 1, EventSet::in)).has_value());
  EXPECT_EQ(run(0), 0u);
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, 2, EventSet::out)).has_value());
  EXPECT_EQ(ops(id).registered(fd.fd()).value(), Events::with_data(fd, 2, EventSet::out));
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].events, Events::with_data(fd, 2, EventSet::out));
}

TEST_F(EventOps, ModifyWithUnchangedMaskAndDataWorks) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  const Events registered = Events::with_data(fd, 9, EventSet::in);
  ASSERT_TRUE(ops(id).add(registered).has_value());
  ASSERT_TRUE(ops(id).modify(registered).has_value());
  ASSERT_TRUE(ops(id).modify(registered).has_value());
  EXPECT_EQ(ops(id).registered(fd.fd()).value(), registered);
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].events, registered);
}

TEST_F(EventOps, ModifyOfDataOnlyIsSeenByTheNextEvent) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 1, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, 2, EventSet::in)).has_value());
  EXPECT_EQ(run(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].events.data(), 2u);
}

TEST_F(EventOps, ModifyRearmsOneShot) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();  // stays readable throughout
  const Events registered = Events::with_data(fd, 3, EventSet::in | EventSet::one_shot);
  ASSERT_TRUE(ops(id).add(registered).has_value());
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(run(0), 0u) << "a one-shot registration must stay disarmed";
  EXPECT_EQ(seen.size(), 1u);
  ASSERT_TRUE(ops(id).modify(registered).has_value());  // same mask: still re-arms
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(run(0), 0u);
}

TEST_F(EventOps, ModifyDuringBatchDropsEventsTheNewMaskNoLongerAsksFor) {
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  std::vector<int> fds_seen;
  Lambda l;
  l.on_init = [&](Ops& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in)).has_value());
  };
  l.on_process = [&](Events e, Ops& ops) {
    fds_seen.push_back(e.fd());
    EXPECT_FALSE(e.event_set().empty()) << "delivered an event with no bit of interest";
    const int other = e.fd() == a.fd() ? b.fd() : a.fd();
    if (fds_seen.size() == 1) {
      ASSERT_TRUE(ops.modify(Events(other, EventSet::priority)).has_value());
    }
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(run(), 2u);
  EXPECT_EQ(fds_seen.size(), 1u) << "the other fd's IN event was no longer asked for";
}

TEST_F(EventOps, RemoveStopsDispatch) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events(fd, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
  EXPECT_EQ(ops(id).registered(fd.fd()).error(), Error::FdNotRegistered);
  EXPECT_EQ(run(0), 0u);
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(ops(id).remove(Events::empty(fd)).error(), Error::FdNotRegistered);
}

TEST_F(EventOps, RemoveIgnoresEverythingButTheFd) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 4, EventSet::in)).has_value());
  ASSERT_TRUE(ops(id).remove(Events::with_data(fd, 99, EventSet::out | EventSet::one_shot)).has_value());
  EXPECT_EQ(run(0), 0u);
}

TEST_F(EventOps, RemoveFreesFdThatWasAlreadyClosed) {
  int calls = 0;
  Lambda l;
  l.on_process = [&](Events, Ops&) { ++calls; };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  Ops ops = manager.event_ops(id).value();

  const int fd = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(ops.add(Events::with_data(fd, 1, EventSet::in)).has_value());
  ASSERT_EQ(::close(fd), 0);  // behind the manager's back

  // The number is still registered with the manager, even though the kernel forgot it.
  const int reused = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_EQ(reused, fd) << "the lowest free number is handed out again";
  EXPECT_EQ(ops.add(Events::with_data(reused, 2, EventSet::in)).error(), Error::FdAlreadyRegistered);

  ASSERT_TRUE(ops.remove(Events::empty(fd)).has_value());
  EXPECT_EQ(ops.registered(fd).error(), Error::FdNotRegistered);
  ASSERT_TRUE(ops.add(Events::with_data(reused, 2, EventSet::in)).has_value());
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(ops.remove(Events::empty(reused)).has_value());
  ::close(reused);
}

TEST_F(EventOps, LeftoverRegistrationOfDupedFileIsDroppedAndCanBeTakenOver) {
  std::vector<Events> got;
  Lambda l;
  l.on_process = [&](Events e, Ops&) { got.push_back(e); };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  Ops ops = manager.event_ops(id).value();

  auto original = EventFd::create().value();
  const int number = original.fd();
  auto clone = original.try_clone().value();
  ASSERT_TRUE(ops.add(Events::with_data(number, 1, EventSet::in)).has_value());
  {
    EventFd closing = std::move(original);
  }  // closed before remove(): the clone keeps the file open
  ASSERT_TRUE(ops.remove(Events::empty(number)).has_value());
  EXPECT_EQ(ops.registered(number).error(), Error::FdNotRegistered);

  // The kernel still holds (file, number) and reports it; the manager drops it.
  ASSERT_TRUE(clone.write(1).has_value());
  auto n = manager.run_with_timeout(100);
  ASSERT_TRUE(n.has_value());
  EXPECT_TRUE(got.empty()) << "a leftover registration's event was delivered";

  // The same (file, number) pair again: add() takes the leftover over.
  ASSERT_EQ(::dup2(clone.fd(), number), number);
  ASSERT_TRUE(ops.add(Events::with_data(number, 2, EventSet::in)).has_value());
  EXPECT_GE(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), Events::with_data(number, 2, EventSet::in));
  ASSERT_TRUE(ops.remove(Events::empty(number)).has_value());
  ::close(number);
}

TEST_F(EventOps, FdRemovedDuringBatchGetsNoMoreCallbacksFromIt) {
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  std::vector<int> fds_seen;
  Lambda l;
  l.on_init = [&](Ops& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in)).has_value());
  };
  l.on_process = [&](Events e, Ops& ops) {
    fds_seen.push_back(e.fd());
    const int other = e.fd() == a.fd() ? b.fd() : a.fd();
    if (fds_seen.size() == 1) {
      ASSERT_TRUE(ops.remove(Events::empty(other)).has_value());
    }
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u) << "both fds are in the batch";
  EXPECT_EQ(fds_seen.size(), 1u);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);  // the survivor is still level-triggered
  ASSERT_EQ(fds_seen.size(), 2u);
  EXPECT_EQ(fds_seen[0], fds_seen[1]);
}

namespace {

/// Two ready eventfds; the first callback removes the other fd and puts a new,
/// ready file under the same number with `refill`, then registers it with data 99.
void expect_no_stale_callback_for_reused_number(void (*refill)(int number)) {
  auto manager = EventManager<Lambda>::create().value();
  const int a = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  const int b = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  std::vector<Events> seen;
  int reused = -1;
  Lambda l;
  l.on_init = [&](Ops& ops) {
    ASSERT_TRUE(ops.add(Events::with_data(a, 1, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events::with_data(b, 1, EventSet::in)).has_value());
  };
  l.on_process = [&](Events e, Ops& ops) {
    seen.push_back(e);
    if (seen.size() != 1) return;
    reused = e.fd() == a ? b : a;
    ASSERT_TRUE(ops.remove(Events::empty(reused)).has_value());
    refill(reused);
    ASSERT_TRUE(ops.add(Events::with_data(reused, 99, EventSet::in)).has_value());
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u) << "both fds are in the batch";
  ASSERT_EQ(seen.size(), 1u) << "the removed fd's stale event was delivered (data " << seen.back().data() << ")";
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u);
  ASSERT_EQ(seen.size(), 3u);
  const Events& later = seen[1].fd() == reused ? seen[1] : seen[2];
  EXPECT_EQ(later, Events::with_data(reused, 99, EventSet::in)) << "first dispatched by the later run";
  ::close(a);
  ::close(b);
}

}  // namespace

TEST_F(EventOps, FdNumberDup2edOverDuringBatchGetsNoStaleCallback) {
  expect_no_stale_callback_for_reused_number([](int number) {
    const int fresh = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(fresh, 0);
    ASSERT_EQ(::dup2(fresh, number), number);  // closes the old file, atomically reuses the number
    ::close(fresh);
  });
}

TEST_F(EventOps, FdNumberClosedAndReopenedDuringBatchGetsNoStaleCallback) {
  expect_no_stale_callback_for_reused_number([](int number) {
    ASSERT_EQ(::close(number), 0);
    const int fresh = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_EQ(fresh, number) << "the lowest free number is handed out again";
  });
}

TEST_F(EventOps, FdAddedDuringBatchIsFirstDispatchedByALaterRun) {
  auto trigger = EventFd::create(1).value();
  auto added = EventFd::create(1).value();  // already readable when added
  std::vector<std::uint32_t> data_seen;
  Lambda l;
  l.on_init = [&](Ops& ops) { ASSERT_TRUE(ops.add(Events::with_data(trigger, 1, EventSet::in)).has_value()); };
  l.on_process = [&](Events e, Ops& ops) {
    data_seen.push_back(e.data());
    if (e.data() == 1) {
      (void)trigger.read();
      ASSERT_TRUE(ops.add(Events::with_data(added, 2, EventSet::in)).has_value());
    }
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(data_seen, std::vector<std::uint32_t>{1});
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(data_seen, (std::vector<std::uint32_t>{1, 2}));
}

TEST_F(EventOps, EveryCallOfAHandleWhoseSubscriberIsGoneIsInvalidId) {
  auto fd = EventFd::create().value();
  const SubscriberId id = manager.add_subscriber(Lambda{});
  Ops ops = manager.event_ops(id).value();
  EXPECT_EQ(ops.subscriber_id(), id);
  ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
  ASSERT_TRUE(manager.remove_subscriber(id).has_value());
  (void)manager.add_subscriber(Lambda{});  // may take the same slot: the handle must still be dead

  EXPECT_EQ(ops.subscriber_id(), id);
  EXPECT_EQ(ops.add(Events(fd, EventSet::in)).error(), Error::InvalidId);
  EXPECT_EQ(ops.modify(Events(fd, EventSet::in)).error(), Error::InvalidId);
  EXPECT_EQ(ops.remove(Events::empty(fd)).error(), Error::InvalidId);
  EXPECT_EQ(ops.registered(fd.fd()).error(), Error::InvalidId);
}

TEST_F(EventOps, RemoveSubscriberUnregistersAllItsFds) {
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  Lambda l;
  l.on_init = [&](Ops& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in)).has_value());
  };
  const SubscriberId first = manager.add_subscriber(std::move(l));
  ASSERT_TRUE(manager.remove_subscriber(first).has_value());
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
  // Both numbers are free again for anyone.
  const SubscriberId second = manager.add_subscriber(Lambda{});
  Ops ops = manager.event_ops(second).value();
  EXPECT_TRUE(ops.add(Events(a, EventSet::in)).has_value());
  EXPECT_TRUE(ops.add(Events(b, EventSet::in)).has_value());
}

// Issue 8, defect 4: EPOLL_CTL_MOD re-checks readiness, and users of
// edge-triggered fds rely on it to get a fresh report for an fd that is still
// ready; an unchanged edge-triggered mask used to skip the syscall.
TEST_F(EventOps, ModifyOfAnEdgeTriggeredFdWithAnUnchangedMaskReportsItAgain) {
  const SubscriberId id = add_recorder();
  auto fd = EventFd::create(1).value();  // readable, and stays so: nobody reads it
  const auto mask = EventSet::in | EventSet::edge_triggered;
  ASSERT_TRUE(ops(id).add(Events::with_data(fd, 7, mask)).has_value());
  EXPECT_EQ(run(), 1u);
  EXPECT_EQ(run(0), 0u) << "no new edge: nothing to report";
  ASSERT_TRUE(ops(id).modify(Events::with_data(fd, 7, mask)).has_value());
  EXPECT_EQ(run(0), 1u) << "modify() of an edge-triggered fd must reach the kernel, which reports it again";
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].events, Events::with_data(fd, 7, EventSet::in));
  ASSERT_TRUE(ops(id).remove(Events::empty(fd)).has_value());
}

// Issue 8, defect 7: the generation that tells a registration from a leftover
// one (left in the kernel by close() before remove() while a dup keeps the
// file open) used to be a 32-bit counter that wrapped, after which a new
// registration of the same fd number could take the leftover's generation and
// receive its events.
TEST_F(EventOps, LeftoverRegistrationIsNeverMatchedAfterTheGenerationWraps) {
  const SubscriberId id = add_recorder();
  auto original = EventFd::create(1).value();  // readable: the leftover keeps reporting
  const int number = original.fd();
  auto clone = original.try_clone().value();
  ASSERT_TRUE(ops(id).add(Events::with_data(number, 1, EventSet::in)).has_value());
  {
    EventFd closing = std::move(original);
  }  // closed before remove(): the clone keeps the file open
  ASSERT_TRUE(ops(id).remove(Events::empty(number)).has_value());
  (void)run(0);
  ASSERT_TRUE(seen.empty());

  event_manager::detail::TestAccess::force_generation(event_manager::detail::TestAccess::core(manager), number,
                                                      0xFFFFFFFEu);
  for (int round = 0; round < 4; ++round) {
    // A fresh, idle file under the same number, registered again and again
    // across the wrap-around of its generation.
    const int raw = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(raw, 0);
    if (raw != number) {
      ASSERT_EQ(::dup2(raw, number), number);
      ::close(raw);
    }
    ASSERT_TRUE(ops(id).add(Events::with_data(number, 2, EventSet::in)).has_value());
    EXPECT_GE(run(0), 1u) << "the leftover is readable and reported";
    EXPECT_TRUE(seen.empty()) << "round " << round << ": the leftover's event reached the new registration";
    ASSERT_TRUE(ops(id).remove(Events::empty(number)).has_value());
    ::close(number);
    seen.clear();
  }
}
