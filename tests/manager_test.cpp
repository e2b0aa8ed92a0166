#include <event_manager/event_manager.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/fd_checks.hpp"
#include "support/subscribers.hpp"

using namespace event_manager;
using event_manager::test::Counter;
using event_manager::test::kWaitMs;
using event_manager::test::Lambda;
using event_manager::test::LiveCount;
using event_manager::test::open_fds;

static_assert(std::is_nothrow_move_constructible_v<EventManager<Counter>>);
static_assert(std::is_nothrow_move_assignable_v<EventManager<Counter>>);
static_assert(!std::is_copy_constructible_v<EventManager<Counter>>);
static_assert(!std::is_default_constructible_v<EventManager<Counter>>);

namespace {

/// The error of a Result<void>, or an empty error_code on success.
std::error_code error_of(const Result<void>& r) { return r ? std::error_code() : r.error(); }

std::set<int> new_fds(const std::set<int>& before, const std::set<int>& after) {
  std::set<int> added;
  for (int fd : after) {
    if (!before.contains(fd)) added.insert(fd);
  }
  return added;
}

}  // namespace

TEST(EventManager, CreateRejectsZeroCapacity) {
  const auto before = open_fds();
  EXPECT_EQ(EventManager<Counter>::create(0).error(), Error::InvalidCapacity);
  EXPECT_EQ(open_fds(), before);
}

TEST(EventManager, CreateRejectsCapacityAboveTheMaximum) {
  const auto before = open_fds();
  EXPECT_EQ(EventManager<Counter>::create(max_ready_events_capacity + 1).error(), Error::InvalidCapacity);
  EXPECT_EQ(EventManager<Counter>::create(static_cast<std::size_t>(-1)).error(), Error::InvalidCapacity);
  EXPECT_EQ(open_fds(), before);
  static_assert(max_ready_events_capacity == INT_MAX / sizeof(::epoll_event));
  static_assert(default_ready_events_capacity == 256);
}

TEST(EventManager, CreateOpensOnlyCloseOnExecFdsAndDestructionClosesThem) {
  const auto before = open_fds();
  std::set<int> opened;
  {
    auto manager = EventManager<Counter>::create().value();
    opened = new_fds(before, open_fds());
    // The epoll fd and the remote endpoint's wake-up eventfd.
    EXPECT_EQ(opened.size(), 2u);
    EXPECT_TRUE(opened.contains(manager.epoll_fd()));
    for (int fd : opened) EXPECT_TRUE(test::is_close_on_exec(fd)) << "fd " << fd << " is inherited by exec()";
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(EventManager, RunWithTimeoutZeroPollsAnIdleManager) {
  auto manager = EventManager<Counter>::create().value();
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
}

TEST(EventManager, RunWithTimeoutReturnsAfterTheTimeout) {
  auto manager = EventManager<Counter>::create().value();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(manager.run_with_timeout(50).value(), 0u);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(45));
  EXPECT_LT(elapsed, std::chrono::milliseconds(kWaitMs));
}

TEST(EventManager, RunReturnsTheNumberOfReadyEvents) {
  auto manager = EventManager<Counter>::create().value();
  std::vector<SubscriberId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(manager.add_subscriber(Counter{}));
  for (int i = 0; i < 3; ++i) manager.subscriber_mut(ids[static_cast<std::size_t>(i)])->trigger();
  EXPECT_EQ(manager.run().value(), 3u);  // blocks, but three events are ready
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(manager.subscriber_mut(ids[static_cast<std::size_t>(i)])->count(), i < 3 ? 1u : 0u);
  }
}

namespace {
std::atomic<int> g_signals{0};
void on_signal(int) { g_signals.fetch_add(1); }
}  // namespace

TEST(EventManager, RunReturnsZeroWhenInterruptedBySignal) {
  struct sigaction action{};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART
  struct sigaction old{};
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &old), 0);

  auto manager = EventManager<Counter>::create().value();
  const pthread_t loop = ::pthread_self();
  std::atomic<bool> done{false};
  // Signal repeatedly: the first one may land before run() blocks.
  std::thread killer([&] {
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (!done.load()) ::pthread_kill(loop, SIGUSR1);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  auto n = manager.run_with_timeout(5000);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  done.store(true);
  killer.join();
  ::sigaction(SIGUSR1, &old, nullptr);

  ASSERT_TRUE(n.has_value()) << n.error().message();
  EXPECT_EQ(*n, 0u);
  EXPECT_GE(g_signals.load(), 1);
  EXPECT_LT(elapsed, std::chrono::milliseconds(4000)) << "run() waited for the timeout instead";
}

TEST(EventManager, AddSubscriberCallsInitOnceAndProcessPerEvent) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create(1).value();
  int inits = 0;
  int processes = 0;
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ++inits;
    ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
  };
  l.on_process = [&](Events, EventOps&) { ++processes; };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(inits, 1);
  EXPECT_EQ(processes, 0);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(inits, 1);
  EXPECT_EQ(processes, 2);
}

TEST(EventManager, RemoveSubscriberReturnsItAndItsFdsAreNoLongerWatched) {
  auto manager = EventManager<Counter>::create().value();
  const SubscriberId id = manager.add_subscriber(Counter{});
  manager.subscriber_mut(id)->trigger();
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  Counter removed = manager.remove_subscriber(id).value();
  EXPECT_EQ(removed.count(), 1u);  // the same object, with its state
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u);
  EXPECT_EQ(manager.subscriber_mut(id), nullptr);
  EXPECT_EQ(manager.remove_subscriber(id).error(), Error::InvalidId);
}

TEST(EventManager, SubscriberMutPointersStayValidWhileSubscribersAreAdded) {
  auto manager = EventManager<Counter>::create().value();
  const SubscriberId first = manager.add_subscriber(Counter{});
  Counter* pointer = manager.subscriber_mut(first);
  const int fd = pointer->fd().fd();
  for (int i = 0; i < 200; ++i) (void)manager.add_subscriber(Counter{});
  EXPECT_EQ(manager.subscriber_mut(first), pointer);
  EXPECT_EQ(pointer->fd().fd(), fd);
}

TEST(EventManager, HandlesAndPointersSurviveMoveConstruction) {
  auto original = EventManager<Counter>::create().value();
  const SubscriberId id = original.add_subscriber(Counter{});
  Counter* pointer = original.subscriber_mut(id);
  EventOps ops = original.event_ops(id).value();
  const int epoll_fd = original.epoll_fd();

  EventManager<Counter> moved(std::move(original));
  EXPECT_EQ(moved.epoll_fd(), epoll_fd);
  EXPECT_EQ(moved.subscriber_mut(id), pointer);
  EXPECT_EQ(ops.registered(pointer->fd().fd()).value(), Events(pointer->fd(), EventSet::in));
  pointer->trigger();
  EXPECT_EQ(moved.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(pointer->count(), 1u);
  ASSERT_TRUE(ops.remove(Events::empty(pointer->fd())).has_value());
  EXPECT_EQ(moved.run_with_timeout(0).value(), 0u);
}

TEST(EventManager, HandlesAndPointersSurviveMovesIntoAndWithinAVector) {
  std::vector<EventManager<Counter>> managers;
  std::vector<std::pair<SubscriberId, Counter*>> subscribers;
  std::vector<EventOps> handles;
  for (int i = 0; i < 8; ++i) {  // the vector reallocates and moves the managers several times
    auto manager = EventManager<Counter>::create().value();
    const SubscriberId id = manager.add_subscriber(Counter{});
    subscribers.emplace_back(id, manager.subscriber_mut(id));
    handles.push_back(manager.event_ops(id).value());
    managers.push_back(std::move(manager));
  }
  managers.erase(managers.begin());  // shifts the rest by move-assignment
  for (std::size_t i = 0; i < managers.size(); ++i) {
    auto [id, pointer] = subscribers[i + 1];
    EXPECT_EQ(managers[i].subscriber_mut(id), pointer);
    EXPECT_TRUE(handles[i + 1].registered(pointer->fd().fd()).has_value());
    pointer->trigger();
    EXPECT_EQ(managers[i].run_with_timeout(kWaitMs).value(), 1u);
    EXPECT_EQ(pointer->count(), 1u);
  }
}

TEST(EventManager, MoveAssignmentDestroysTheReplacedStateAndClosesItsFds) {
  auto live = std::make_shared<int>(0);
  struct Tracked {
    LiveCount live;
    void init(EventOps&) {}
    void process(Events, EventOps&) {}
  };
  const auto before = open_fds();
  auto target = EventManager<Tracked>::create().value();
  (void)target.add_subscriber(Tracked{LiveCount(live)});
  auto endpoint = target.remote_endpoint();
  auto source = EventManager<Tracked>::create().value();
  const SubscriberId kept = source.add_subscriber(Tracked{LiveCount(live)});
  const int kept_epoll_fd = source.epoll_fd();
  EXPECT_EQ(*live, 2);

  target = std::move(source);
  EXPECT_EQ(*live, 1) << "the replaced subscriber was not destroyed";
  EXPECT_EQ(target.epoll_fd(), kept_epoll_fd);
  EXPECT_NE(target.subscriber_mut(kept), nullptr);
  EXPECT_EQ(new_fds(before, open_fds()).size(), 2u) << "the replaced manager's fds were not closed";
  EXPECT_EQ(endpoint.kick().error(), Error::ChannelSend) << "the replaced manager's endpoint is still connected";
}

TEST(EventManager, InitExceptionRollsBackTheSubscriberAndItsFds) {
  auto manager = EventManager<Lambda>::create().value();
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  auto live = std::make_shared<int>(0);
  Lambda thrower;
  thrower.on_init = [&, guard = LiveCount(live)](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in)).has_value());
    throw std::runtime_error("init failed");
  };
  EXPECT_GE(*live, 1);
  EXPECT_THROW((void)manager.add_subscriber(std::move(thrower)), std::runtime_error);
  thrower = Lambda{};  // drops our moved-from copy's captures, if any
  EXPECT_EQ(*live, 0) << "the subscriber whose init() threw was kept";
  EXPECT_EQ(manager.run_with_timeout(0).value(), 0u) << "an fd of the rolled-back subscriber is still watched";

  // The same fds can be registered again, by another subscriber.
  int calls = 0;
  Lambda other;
  other.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in)).has_value());
  };
  other.on_process = [&](Events, EventOps&) { ++calls; };
  (void)manager.add_subscriber(std::move(other));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u);
  EXPECT_EQ(calls, 2);
}

TEST(EventManager, ProcessExceptionLeavesRunAndTheManagerStaysUsable) {
  auto manager = EventManager<Lambda>::create().value();
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  bool throw_once = true;
  std::vector<int> calls;
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events(a, EventSet::in)).has_value());
    ASSERT_TRUE(ops.add(Events(b, EventSet::in)).has_value());
  };
  l.on_process = [&](Events e, EventOps&) {
    calls.push_back(e.fd());
    if (std::exchange(throw_once, false)) throw std::runtime_error("process failed");
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_THROW((void)manager.run_with_timeout(kWaitMs), std::runtime_error);
  EXPECT_EQ(calls.size(), 1u) << "the rest of the batch is dropped";
  // Level-triggered: both are reported again by the next run.
  calls.clear();
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u);
  EXPECT_EQ(calls.size(), 2u);
  // And the manager is not stuck in callback mode: subscribers can be added and removed.
  const SubscriberId id = manager.add_subscriber(Lambda{});
  EXPECT_TRUE(manager.remove_subscriber(id).has_value());
}

TEST(EventManager, CallbackMayAddSubscribersFirstDispatchedByALaterRun) {
  auto manager = EventManager<Lambda>::create().value();
  auto trigger = EventFd::create(1).value();
  auto late = EventFd::create(1).value();
  SubscriberId added;
  int late_calls = 0;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(trigger, EventSet::in)).has_value()); };
  l.on_process = [&](Events, EventOps&) {
    (void)trigger.read();
    Lambda child;
    child.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(late, EventSet::in)).has_value()); };
    child.on_process = [&](Events, EventOps&) { ++late_calls; };
    added = manager.add_subscriber(std::move(child));
    EXPECT_NE(manager.subscriber_mut(added), nullptr);
    EXPECT_TRUE(manager.event_ops(added).has_value());
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(late_calls, 0);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(late_calls, 1);
}

TEST(EventManager, CallbackMayRemoveAnotherSubscriberWhosePendingEventsAreDropped) {
  auto manager = EventManager<Lambda>::create().value();
  auto a = EventFd::create(1).value();
  auto b = EventFd::create(1).value();
  SubscriberId ids[2];
  int calls = 0;
  bool removed_ok = false;
  for (int i = 0; i < 2; ++i) {
    Lambda l;
    const EventFd& fd = i == 0 ? a : b;
    l.on_init = [&fd](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
    l.on_process = [&, i](Events, EventOps&) {
      ++calls;
      auto removed = manager.remove_subscriber(ids[1 - i]);
      removed_ok = removed.has_value();
    };
    ids[i] = manager.add_subscriber(std::move(l));
  }
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 2u) << "both are in the batch";
  EXPECT_EQ(calls, 1) << "the removed subscriber was still called";
  EXPECT_TRUE(removed_ok);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(calls, 2);
}

TEST(EventManager, RunFromProcessIsReentrant) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create(1).value();
  std::vector<std::error_code> errors;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  l.on_process = [&](Events, EventOps&) {
    errors.push_back(manager.run().error());
    errors.push_back(manager.run_with_timeout(0).error());
    errors.push_back(manager.run_with_timeout(-1).error());
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_EQ(errors.size(), 3u);
  for (auto e : errors) EXPECT_EQ(e, Error::Reentrant);
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u) << "run() works again after the callback";
}

TEST(EventManager, RunFromInitIsReentrantInsideAndOutsideRun) {
  auto manager = EventManager<Lambda>::create().value();
  std::vector<std::error_code> errors;
  auto make = [&] {
    Lambda l;
    l.on_init = [&](EventOps&) {
      errors.push_back(manager.run().error());
      errors.push_back(manager.run_with_timeout(0).error());
    };
    return l;
  };
  (void)manager.add_subscriber(make());  // outside run()
  auto fd = EventFd::create(1).value();
  Lambda parent;
  parent.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  parent.on_process = [&](Events, EventOps&) {
    (void)fd.read();
    (void)manager.add_subscriber(make());  // inside run()
  };
  (void)manager.add_subscriber(std::move(parent));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_EQ(errors.size(), 4u);
  for (auto e : errors) EXPECT_EQ(e, Error::Reentrant);
}

// API.md promises this only in builds without NDEBUG; the check is one compare
// on a cold path, so the library makes it in every build, and so does the test.
TEST(EventManager, RemovingTheRunningSubscriberIsReentrant) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create(1).value();
  std::vector<std::error_code> errors;
  Lambda l;
  l.on_init = [&](EventOps& ops) {
    ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value());
    errors.push_back(manager.remove_subscriber(ops.subscriber_id()).error());
  };
  l.on_process = [&](Events, EventOps& ops) {
    errors.push_back(manager.remove_subscriber(ops.subscriber_id()).error());
  };
  const SubscriberId id = manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], Error::Reentrant);
  EXPECT_EQ(errors[1], Error::Reentrant);
  EXPECT_NE(manager.subscriber_mut(id), nullptr) << "the refused removal changed something";
  EXPECT_TRUE(manager.remove_subscriber(id).has_value());
}

TEST(EventManager, CallbacksMayUseEventOpsAndSubscriberMutOfTheManager) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create(1).value();
  const SubscriberId other = manager.add_subscriber(Lambda{});
  bool checked = false;
  Lambda l;
  l.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  l.on_process = [&](Events e, EventOps& ops) {
    EXPECT_NE(manager.subscriber_mut(other), nullptr);
    EXPECT_NE(manager.subscriber_mut(ops.subscriber_id()), nullptr);
    auto own = manager.event_ops(ops.subscriber_id());
    ASSERT_TRUE(own.has_value());
    EXPECT_EQ(own->registered(e.fd()).value(), Events(fd, EventSet::in));
    checked = true;
  };
  (void)manager.add_subscriber(std::move(l));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_TRUE(checked);
}

TEST(EventManager, DestructorDestroysSubscribersWhoseEventOpsStillWork) {
  struct UsesOpsInDestructor {
    std::shared_ptr<EventFd> fd = std::make_shared<EventFd>(EventFd::create().value());
    std::shared_ptr<std::vector<std::error_code>> results = std::make_shared<std::vector<std::error_code>>();
    std::optional<EventOps> ops;
    void init(EventOps& o) {
      ASSERT_TRUE(o.add(Events(*fd, EventSet::in)).has_value());
      ops = o;
    }
    void process(Events, EventOps&) {}
    UsesOpsInDestructor() = default;
    UsesOpsInDestructor(UsesOpsInDestructor&&) noexcept = default;
    ~UsesOpsInDestructor() {
      if (!ops) return;  // a moved-from or never-initialized object
      results->push_back(ops->registered(fd->fd()).has_value() ? std::error_code() : Error::FdNotRegistered);
      results->push_back(error_of(ops->remove(Events::empty(*fd))));
    }
  };
  UsesOpsInDestructor subscriber;
  auto results = subscriber.results;
  {
    auto manager = EventManager<UsesOpsInDestructor>::create().value();
    (void)manager.add_subscriber(std::move(subscriber));
  }
  ASSERT_EQ(results->size(), 2u);
  EXPECT_FALSE((*results)[0]) << "registered() failed in the destructor";
  EXPECT_FALSE((*results)[1]) << "remove() failed in the destructor: " << (*results)[1].message();
}

namespace {

using Dynamic = std::unique_ptr<MutEventSubscriber>;

/// Uses an endpoint of its own manager from its destructor.
class KicksInDestructor final : public MutEventSubscriber {
 public:
  KicksInDestructor(std::shared_ptr<std::optional<RemoteEndpoint<Dynamic>>> endpoint,
                    std::shared_ptr<std::vector<std::error_code>> results)
      : endpoint_(std::move(endpoint)), results_(std::move(results)) {}
  ~KicksInDestructor() override {
    results_->push_back(error_of((*endpoint_)->kick()));
    results_->push_back(error_of((*endpoint_)->fire([](SubscriberOps<Dynamic>&) {})));
  }
  void init(EventOps&) override {}
  void process(Events, EventOps&) override {}

 private:
  std::shared_ptr<std::optional<RemoteEndpoint<Dynamic>>> endpoint_;
  std::shared_ptr<std::vector<std::error_code>> results_;
};

}  // namespace

TEST(EventManager, DestructorDisconnectsEndpointsBeforeDestroyingSubscribers) {
  auto endpoint = std::make_shared<std::optional<RemoteEndpoint<Dynamic>>>();
  auto results = std::make_shared<std::vector<std::error_code>>();
  {
    auto manager = EventManager<Dynamic>::create().value();
    *endpoint = manager.remote_endpoint();
    (void)manager.add_subscriber(std::make_unique<KicksInDestructor>(endpoint, results));
    ASSERT_TRUE((*endpoint)->kick().has_value());  // connected while the manager lives
  }
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0], Error::ChannelSend);
  EXPECT_EQ((*results)[1], Error::ChannelSend);
  EXPECT_EQ((*endpoint)->kick().error(), Error::ChannelSend);
}

TEST(EventManager, HoldsSubscribersByValueUniquePtrSharedPtrAndRawPointer) {
  {
    auto m = EventManager<std::unique_ptr<Counter>>::create().value();
    const SubscriberId id = m.add_subscriber(std::make_unique<Counter>());
    (*m.subscriber_mut(id))->trigger();
    EXPECT_EQ(m.run_with_timeout(kWaitMs).value(), 1u);
    EXPECT_EQ((*m.subscriber_mut(id))->count(), 1u);
    std::unique_ptr<Counter> back = m.remove_subscriber(id).value();
    EXPECT_EQ(back->count(), 1u);
  }
  {
    auto counter = std::make_shared<Counter>();
    auto m = EventManager<std::shared_ptr<Counter>>::create().value();
    (void)m.add_subscriber(counter);
    counter->trigger();
    EXPECT_EQ(m.run_with_timeout(kWaitMs).value(), 1u);
    EXPECT_EQ(counter->count(), 1u);
    EXPECT_EQ(counter.use_count(), 2);
  }
  {
    Counter counter;
    auto m = EventManager<Counter*>::create().value();
    const SubscriberId id = m.add_subscriber(&counter);
    EXPECT_EQ(*m.subscriber_mut(id), &counter);
    counter.trigger();
    EXPECT_EQ(m.run_with_timeout(kWaitMs).value(), 1u);
    EXPECT_EQ(counter.count(), 1u);
    EXPECT_EQ(m.remove_subscriber(id).value(), &counter);
  }
}

TEST(EventManager, EpollFdIsReadableWhenAnEventIsReady) {
  auto inner = EventManager<Counter>::create().value();
  const SubscriberId id = inner.add_subscriber(Counter{});
  ::pollfd p{inner.epoll_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  inner.subscriber_mut(id)->trigger();
  ASSERT_EQ(::poll(&p, 1, kWaitMs), 1);
  EXPECT_TRUE(p.revents & POLLIN);

  // Nested in an outer manager: the outer loop runs the inner one.
  auto outer = EventManager<Lambda>::create().value();
  Lambda nest;
  nest.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(inner.epoll_fd(), EventSet::in)).has_value()); };
  nest.on_process = [&](Events, EventOps&) { EXPECT_EQ(inner.run_with_timeout(0).value(), 1u); };
  (void)outer.add_subscriber(std::move(nest));
  EXPECT_EQ(outer.run_with_timeout(kWaitMs).value(), 1u);
  EXPECT_EQ(inner.subscriber_mut(id)->count(), 1u);
}

TEST(EventManager, EventOpsOfTheManagersOwnEpollFdIsRefused) {
  auto manager = EventManager<Lambda>::create().value();
  const SubscriberId id = manager.add_subscriber(Lambda{});
  auto r = manager.event_ops(id)->add(Events(manager.epoll_fd(), EventSet::in));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), std::errc::invalid_argument);
  EXPECT_EQ(manager.event_ops(id)->registered(manager.epoll_fd()).error(), Error::FdNotRegistered);
}

TEST(EventManager, ManagerMayMoveToAnotherThread) {
  auto manager = EventManager<Counter>::create().value();
  const SubscriberId id = manager.add_subscriber(Counter{});
  manager.subscriber_mut(id)->trigger();
  std::thread t([m = std::move(manager), id]() mutable {
    EXPECT_EQ(m.run_with_timeout(kWaitMs).value(), 1u);
    EXPECT_EQ(m.subscriber_mut(id)->count(), 1u);
  });
  t.join();
}

// Issue 8, defect 2: only the innermost running subscriber used to be tracked,
// so A's process() adding B, whose init() removes A, deleted A while A's
// process() was still on the stack.
TEST(EventManager, RemovingASubscriberWhoseProcessIsFurtherUpTheStackIsReentrant) {
  auto manager = EventManager<Lambda>::create().value();
  auto fd = EventFd::create(1).value();
  SubscriberId a;
  std::optional<Result<Lambda>> removal;
  bool a_still_running_after_add = false;
  Lambda outer;
  outer.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  outer.on_process = [&](Events, EventOps& ops) {
    (void)fd.read();
    Lambda inner;
    inner.on_init = [&](EventOps&) { removal.emplace(manager.remove_subscriber(a)); };
    (void)manager.add_subscriber(std::move(inner));
    // Touches A's own state: a use after free if A was deleted under us.
    a_still_running_after_add = manager.subscriber_mut(ops.subscriber_id()) != nullptr;
  };
  a = manager.add_subscriber(std::move(outer));
  EXPECT_EQ(manager.run_with_timeout(kWaitMs).value(), 1u);
  ASSERT_TRUE(removal.has_value());
  ASSERT_FALSE(removal->has_value()) << "A was removed while its process() was on the stack";
  EXPECT_EQ(removal->error(), Error::Reentrant);
  EXPECT_TRUE(a_still_running_after_add);
  EXPECT_TRUE(manager.remove_subscriber(a).has_value()) << "A is removable once its process() returned";
}

TEST(EventManager, RemovingASubscriberWhoseInitIsFurtherUpTheStackIsReentrant) {
  auto manager = EventManager<Lambda>::create().value();
  SubscriberId b;
  std::vector<std::error_code> errors;
  Lambda outer;
  outer.on_init = [&](EventOps& ops) {
    b = ops.subscriber_id();
    Lambda inner;
    // C's init() tries to remove B (whose init() is running) and itself.
    inner.on_init = [&](EventOps& inner_ops) {
      errors.push_back(manager.remove_subscriber(b).error());
      errors.push_back(manager.remove_subscriber(inner_ops.subscriber_id()).error());
    };
    (void)manager.add_subscriber(std::move(inner));
  };
  EXPECT_EQ(manager.add_subscriber(std::move(outer)), b);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], Error::Reentrant);
  EXPECT_EQ(errors[1], Error::Reentrant);
  EXPECT_TRUE(manager.remove_subscriber(b).has_value());
}

// Issue 8, defect 3: requests owed after an exception (here a fired closure
// that throws, with one queued behind it) must make epoll_fd() readable, so an
// enclosing loop runs the manager again and the request behind is served.
TEST(EventManager, EpollFdIsReadableWhileRequestsAreOwedAfterAnException) {
  auto manager = EventManager<Lambda>::create().value();
  auto endpoint = manager.remote_endpoint();
  int ran = 0;
  ASSERT_TRUE(endpoint.fire([](SubscriberOps<Lambda>&) { throw std::runtime_error("request"); }).has_value());
  ASSERT_TRUE(endpoint.fire([&](SubscriberOps<Lambda>&) { ++ran; }).has_value());
  EXPECT_THROW((void)manager.run_with_timeout(kWaitMs), std::runtime_error);
  EXPECT_EQ(ran, 0);
  ::pollfd p{manager.epoll_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1) << "a request is owed but epoll_fd() is not readable";
  EXPECT_GE(manager.run_with_timeout(kWaitMs).value(), 0u);
  EXPECT_EQ(ran, 1);
  p.revents = 0;
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "nothing is owed any more";
}

TEST(EventManager, EpollFdIsReadableWhileRequestsAreOwedAfterAThrowingProcess) {
  auto manager = EventManager<Lambda>::create().value();
  auto endpoint = manager.remote_endpoint();
  auto fd = EventFd::create(1).value();
  Lambda thrower;
  thrower.on_init = [&](EventOps& ops) { ASSERT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); };
  thrower.on_process = [&](Events, EventOps&) {
    (void)fd.read();
    throw std::runtime_error("process");
  };
  (void)manager.add_subscriber(std::move(thrower));
  int ran = 0;
  ASSERT_TRUE(endpoint.fire([&](SubscriberOps<Lambda>&) { ++ran; }).has_value());
  // The batch holds the eventfd and the wake-up; whichever comes first, the
  // request is owed when process() throws.
  EXPECT_THROW((void)manager.run_with_timeout(kWaitMs), std::runtime_error);
  EXPECT_EQ(ran, 0);
  ::pollfd p{manager.epoll_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1) << "a request is owed but epoll_fd() is not readable";
  EXPECT_GE(manager.run_with_timeout(kWaitMs).value(), 0u);
  EXPECT_EQ(ran, 1);
}
