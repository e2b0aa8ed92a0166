// Tests of RemoteEndpoint<S>: call_blocking(), fire() and kick(), their
// ordering, deadlock detection, behaviour once the manager is gone, and the
// compile-time rules on what a closure may return.
//
// Every blocking step is bounded. The loop thread runs run_with_timeout()
// with a short timeout and a stop flag; waits on other threads go through a
// future with a time limit; and a blocking call made by the test thread
// itself sits under a Watchdog, which aborts the program (a failure) instead
// of letting a bug hang the suite.
#include <poll.h>
#include <sys/eventfd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <event_manager/event_manager.hpp>

#include "support/loop_thread.hpp"
#include "support/waits.hpp"

namespace {

using namespace event_manager;
using namespace std::chrono_literals;
using event_manager::test::await;
using event_manager::test::eventually;
using event_manager::test::LoopThread;
using event_manager::test::Watchdog;

constexpr std::chrono::milliseconds limit = event_manager::test::kHangLimit;

/// True once `fd` is readable (an epoll fd is readable when an event is ready).
bool becomes_readable(int fd) {
  ::pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(limit.count())) == 1;
}

template <class T>
std::error_code error_of(const Result<T>& result) {
  return result ? std::error_code{} : result.error();
}

// --- Subscribers -----------------------------------------------------------------

/// Counts the events of its eventfd; touched only on the loop thread.
struct Counter {
  EventFd fd = EventFd::create().value();
  int count = 0;
  void init(EventOps& ops) { EXPECT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); }
  void process(Events, EventOps&) {
    ++count;
    (void)fd.read();
  }
};

/// Reads its eventfd and calls a test-supplied hook for each event.
struct Hooked {
  EventFd fd = EventFd::create().value();
  std::function<void(EventOps&)> on_event;
  void init(EventOps& ops) { EXPECT_TRUE(ops.add(Events(fd, EventSet::in)).has_value()); }
  void process(Events, EventOps& ops) {
    (void)fd.read();
    if (on_event) on_event(ops);
  }
};

/// Counts, in a shared counter, the destruction of the one live copy (moved-from
/// copies do not count) and whether it was ever called.
struct Probe {
  std::shared_ptr<std::atomic<int>> destroyed = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  bool live = true;
  Probe() = default;
  Probe(const Probe& other) : destroyed(other.destroyed), calls(other.calls) {}
  Probe(Probe&& other) noexcept
      : destroyed(other.destroyed), calls(other.calls), live(std::exchange(other.live, false)) {}
  Probe& operator=(const Probe&) = delete;
  Probe& operator=(Probe&&) = delete;
  ~Probe() {
    if (live) ++*destroyed;
  }
};

using CounterOps = SubscriberOps<Counter>;

// --- 1. call_blocking ---------------------------------------------------------------

TEST(RemoteEndpoint, CallBlockingRunsOnTheLoopThreadInsideRunAndReturnsTheResult) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  LoopThread loop(manager);

  Watchdog dog("call_blocking");
  auto thread = endpoint.call_blocking([](CounterOps&) { return std::this_thread::get_id(); });
  ASSERT_TRUE(thread.has_value());
  EXPECT_EQ(*thread, loop.id());
  EXPECT_NE(*thread, std::this_thread::get_id());

  // Inside run(): the manager refuses to be run again from the request.
  auto nested = endpoint.call_blocking(
      [](CounterOps& ops) { return static_cast<EventManager<Counter>&>(ops).run_with_timeout(0); });
  EXPECT_EQ(error_of(nested), make_error_code(Error::Reentrant));

  auto id = endpoint.call_blocking([](CounterOps& ops) { return ops.add_subscriber(Counter{}); });
  ASSERT_TRUE(id.has_value());
  auto present = endpoint.call_blocking([id = *id](CounterOps& ops) { return ops.subscriber_mut(id) != nullptr; });
  EXPECT_EQ(present, Result<bool>(true));
}

TEST(RemoteEndpoint, CallBlockingFlattensAResultReturnedByTheClosure) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  LoopThread loop(manager);
  Watchdog dog("call_blocking");

  Result<int> ok = endpoint.call_blocking([](CounterOps&) -> Result<int> { return 7; });
  EXPECT_EQ(ok, Result<int>(7));

  Result<int> failed = endpoint.call_blocking(
      [](CounterOps&) -> Result<int> { return std::unexpected(make_error_code(Error::FdNotRegistered)); });
  EXPECT_EQ(error_of(failed), make_error_code(Error::FdNotRegistered));

  // A library call's own error comes back as it is.
  Result<Counter> removed = endpoint.call_blocking([](CounterOps& ops) { return ops.remove_subscriber(SubscriberId{}); });
  EXPECT_EQ(error_of(removed), make_error_code(Error::InvalidId));

  Result<void> void_error = endpoint.call_blocking(
      [](CounterOps&) -> Result<void> { return std::unexpected(make_error_code(Error::InvalidId)); });
  EXPECT_EQ(error_of(void_error), make_error_code(Error::InvalidId));
}

TEST(RemoteEndpoint, CallBlockingOfAVoidClosureGivesResultVoidAfterItRan) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  LoopThread loop(manager);
  Watchdog dog("call_blocking");

  int ran = 0;  // written on the loop thread, read after call_blocking returned
  Result<void> result = endpoint.call_blocking([&ran](CounterOps&) { ++ran; });
  EXPECT_TRUE(result.has_value());
  EXPECT_EQ(ran, 1);

  // Any other type R comes back as Result<R>.
  Result<std::string> text = endpoint.call_blocking([](CounterOps&) { return std::string("done"); });
  EXPECT_EQ(text, Result<std::string>("done"));
}

TEST(RemoteEndpoint, MoveOnlyClosuresWorkForCallBlockingAndFire) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  LoopThread loop(manager);
  Watchdog dog("call_blocking");

  auto value = endpoint.call_blocking([p = std::make_unique<int>(41)](CounterOps&) { return *p + 1; });
  EXPECT_EQ(value, Result<int>(42));

  // The closure may hand its move-only capture back.
  auto back = endpoint.call_blocking([p = std::make_unique<int>(5)](CounterOps&) mutable { return std::move(p); });
  ASSERT_TRUE(back.has_value());
  ASSERT_NE(*back, nullptr);
  EXPECT_EQ(**back, 5);

  std::promise<int> fired;
  auto seen = fired.get_future();
  ASSERT_TRUE(endpoint
                  .fire([p = std::make_unique<int>(9), &fired](CounterOps&) { fired.set_value(*p); })
                  .has_value());
  EXPECT_EQ(await(seen, "fired move-only closure"), 9);

  // An lvalue closure is copied, and the copy runs.
  int calls = 0;
  auto counting = [&calls](CounterOps&) { return ++calls; };
  EXPECT_EQ(endpoint.call_blocking(counting), Result<int>(1));
  EXPECT_EQ(endpoint.call_blocking(counting), Result<int>(2));
}

TEST(RemoteEndpoint, ExceptionOfACallBlockingClosureIsRethrownInTheCallerAndTheLoopCarriesOn) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  LoopThread loop(manager);  // fails the test if run() lets the exception out
  Watchdog dog("call_blocking");

  try {
    (void)endpoint.call_blocking([](CounterOps&) -> int { throw std::runtime_error("boom"); });
    ADD_FAILURE() << "call_blocking did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  EXPECT_THROW((void)endpoint.call_blocking([](CounterOps&) { throw 17; }), int);

  EXPECT_EQ(endpoint.call_blocking([](CounterOps&) { return 3; }), Result<int>(3));
  auto id = endpoint.call_blocking([](CounterOps& ops) { return ops.add_subscriber(Counter{}); });
  EXPECT_TRUE(id.has_value());
}

/// Takes a while to destroy, then says so: shows whether a closure's captures
/// are gone by the time its caller resumes.
class SlowToDestroy {
 public:
  explicit SlowToDestroy(std::atomic<bool>& destroyed) : destroyed_(&destroyed) {}
  SlowToDestroy(SlowToDestroy&& other) noexcept : destroyed_(std::exchange(other.destroyed_, nullptr)) {}
  SlowToDestroy& operator=(SlowToDestroy&&) = delete;
  ~SlowToDestroy() {
    if (destroyed_ == nullptr) return;
    std::this_thread::sleep_for(30ms);
    destroyed_->store(true);
  }

 private:
  std::atomic<bool>* destroyed_;
};

// A blocking call's closure may capture references to the caller's stack, so
// its captures must be gone before the caller resumes, whether it ran or was
// dropped with the manager.
TEST(RemoteEndpoint, CallBlockingClosureIsDestroyedBeforeTheCallerResumes) {
  std::optional<EventManager<Counter>> manager(EventManager<Counter>::create().value());
  auto endpoint = manager->remote_endpoint();
  {
    LoopThread loop(*manager);
    Watchdog dog("call_blocking");
    std::atomic<bool> destroyed{false};
    EXPECT_EQ(endpoint.call_blocking([guard = SlowToDestroy(destroyed)](CounterOps&) { return 1; }), Result<int>(1));
    EXPECT_TRUE(destroyed.load()) << "the closure outlived call_blocking() after running";
  }
  ASSERT_TRUE(manager->run_with_timeout(0).has_value());  // consume the kick that stopped the loop

  std::atomic<bool> destroyed{false};
  auto caller = std::async(std::launch::async, [&] {
    auto result = endpoint.call_blocking([guard = SlowToDestroy(destroyed)](CounterOps&) { return 1; });
    return std::pair(error_of(result), destroyed.load());
  });
  ASSERT_TRUE(becomes_readable(manager->epoll_fd()));
  manager.reset();
  auto [error, destroyed_first] = await(caller, "call_blocking dropped with the manager");
  EXPECT_EQ(error, make_error_code(Error::ChannelRecv));
  EXPECT_TRUE(destroyed_first) << "the closure outlived call_blocking() after being dropped";
}

// --- 2. fire ---------------------------------------------------------------------------

TEST(RemoteEndpoint, FireQueuesWithoutWaitingAndTheNextRunRunsIt) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::thread::id ran_on;
  int calls = 0;

  {
    Watchdog dog("fire with no loop running");
    ASSERT_TRUE(endpoint
                    .fire([&](CounterOps&) {
                      ++calls;
                      ran_on = std::this_thread::get_id();
                    })
                    .has_value());
  }
  EXPECT_EQ(calls, 0);  // queued, not run

  Watchdog dog("run");
  EXPECT_EQ(manager.run_with_timeout(-1), Result<std::size_t>(1));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(RemoteEndpoint, FireWorksFromOtherThreads) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  LoopThread loop(manager);

  std::promise<std::thread::id> from_main;
  auto main_seen = from_main.get_future();
  ASSERT_TRUE(endpoint.fire([&](CounterOps&) { from_main.set_value(std::this_thread::get_id()); }).has_value());
  EXPECT_EQ(await(main_seen, "fire from the test thread"), loop.id());

  std::promise<std::thread::id> from_other;
  auto other_seen = from_other.get_future();
  std::thread sender([copy = endpoint, &from_other] {
    EXPECT_TRUE(copy.fire([&](CounterOps&) { from_other.set_value(std::this_thread::get_id()); }).has_value());
  });
  EXPECT_EQ(await(other_seen, "fire from another thread"), loop.id());
  sender.join();
}

TEST(RemoteEndpoint, FireWorksInsideProcessOnTheLoopThread) {
  auto manager = EventManager<Hooked>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::vector<std::string> log;

  Hooked hooked;
  hooked.on_event = [&](EventOps&) {
    log.push_back("process");
    auto fired = endpoint.fire([&](SubscriberOps<Hooked>&) { log.push_back("request"); });
    EXPECT_TRUE(fired.has_value());
    log.push_back("process done");
  };
  const SubscriberId id = manager.add_subscriber(std::move(hooked));
  ASSERT_TRUE(manager.subscriber_mut(id)->fd.write(1).has_value());

  Watchdog dog("run");
  ASSERT_TRUE(manager.run_with_timeout(-1).has_value());
  for (int i = 0; i < 2 && log.size() < 3; ++i) ASSERT_TRUE(manager.run_with_timeout(-1).has_value());
  EXPECT_EQ(log, (std::vector<std::string>{"process", "process done", "request"}));
}

TEST(RemoteEndpoint, ExceptionOfAFiredClosureLeavesRunAndLaterRequestsRunInOrderByLaterRuns) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::vector<int> order;

  ASSERT_TRUE(endpoint.fire([&](CounterOps&) { order.push_back(1); }).has_value());
  ASSERT_TRUE(endpoint.fire([](CounterOps&) { throw std::runtime_error("first"); }).has_value());
  ASSERT_TRUE(endpoint.fire([&](CounterOps&) { order.push_back(2); }).has_value());
  ASSERT_TRUE(endpoint.fire([](CounterOps&) { throw std::logic_error("second"); }).has_value());
  ASSERT_TRUE(endpoint.fire([&](CounterOps&) { order.push_back(3); }).has_value());

  // The loop must not block while requests are owed: -1 under a watchdog.
  Watchdog dog("runs owing requests");
  EXPECT_THROW((void)manager.run_with_timeout(-1), std::runtime_error);
  EXPECT_EQ(order, std::vector<int>{1});
  EXPECT_THROW((void)manager.run_with_timeout(-1), std::logic_error);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));

  // A request sent now goes behind the leftovers.
  ASSERT_TRUE(endpoint.fire([&](CounterOps&) { order.push_back(4); }).has_value());
  ASSERT_TRUE(manager.run_with_timeout(-1).has_value());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));

  // Nothing is owed any more: the wake-up is not ready.
  EXPECT_EQ(manager.run_with_timeout(0), Result<std::size_t>(0));
}

TEST(RemoteEndpoint, CallBlockingQueuedBehindAThrowingFireStillGetsItsAnswer) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  ASSERT_TRUE(endpoint.fire([](CounterOps&) { throw std::runtime_error("fired"); }).has_value());

  auto caller = std::async(std::launch::async, [endpoint] {
    return endpoint.call_blocking([](CounterOps&) { return 11; });
  });
  // The call may be queued before the first run or during it: either way it
  // must be answered by the runs that follow the throwing one.
  std::this_thread::sleep_for(20ms);
  Watchdog dog("runs");
  try {
    (void)manager.run_with_timeout(-1);
    ADD_FAILURE() << "the fired exception did not leave run()";
  } catch (const std::runtime_error&) {
  }
  while (caller.wait_for(0s) != std::future_status::ready) ASSERT_TRUE(manager.run_with_timeout(10).has_value());
  EXPECT_EQ(await(caller, "call_blocking behind a throwing fire"), Result<int>(11));
}

// --- 3. kick ---------------------------------------------------------------------------

TEST(RemoteEndpoint, KickMakesABlockedRunReturn) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  (void)manager.add_subscriber(Counter{});  // an idle subscriber: nothing else will wake the loop

  auto blocked = std::async(std::launch::async, [&manager] { return manager.run(); });
  std::this_thread::sleep_for(50ms);  // let it block (a kick sent earlier must work as well)
  EXPECT_EQ(blocked.wait_for(0s), std::future_status::timeout);
  ASSERT_TRUE(endpoint.kick().has_value());
  EXPECT_EQ(await(blocked, "run() after kick()"), Result<std::size_t>(1));  // the wake-up itself
}

TEST(RemoteEndpoint, KickWhileNobodyWaitsIsRememberedByTheNextRun) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  ASSERT_TRUE(endpoint.kick().has_value());
  ASSERT_TRUE(endpoint.kick().has_value());  // may be coalesced with the first

  {
    Watchdog dog("run after an earlier kick");
    EXPECT_EQ(manager.run_with_timeout(-1), Result<std::size_t>(1));
  }
  // Consumed: the next poll finds nothing.
  EXPECT_EQ(manager.run_with_timeout(0), Result<std::size_t>(0));
}

TEST(RemoteEndpoint, StopFlagThenKickStopsALoopBlockedInRunWithoutARace) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  for (int round = 0; round < 200; ++round) {
    std::atomic<bool> stop{false};
    auto loop = std::async(std::launch::async, [&] {
      while (!stop.load()) {
        if (!manager.run().has_value()) return false;
      }
      return true;
    });
    if (round % 2 == 1) std::this_thread::sleep_for(1ms);
    stop = true;
    ASSERT_TRUE(endpoint.kick().has_value());
    ASSERT_TRUE(await(loop, "loop stopped by stop flag and kick()")) << "round " << round;
  }
}

// --- 4. Ordering -----------------------------------------------------------------------

TEST(RemoteEndpoint, RequestsFromOneThreadRunInTheOrderTheyWereSent) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  LoopThread loop(manager);

  constexpr int threads = 4;
  constexpr int per_thread = 500;
  std::vector<std::pair<int, int>> seen;  // (thread, sequence); loop thread only
  std::vector<std::future<bool>> senders;
  for (int t = 0; t < threads; ++t) {
    senders.push_back(std::async(std::launch::async, [&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto record = [&seen, t, i](CounterOps&) { seen.emplace_back(t, i); };
        // Mix both kinds of request: call_blocking every tenth.
        if (i % 10 == 0) {
          if (!endpoint.call_blocking(record).has_value()) return false;
        } else if (!endpoint.fire(record).has_value()) {
          return false;
        }
      }
      return true;
    }));
  }
  for (auto& sender : senders) EXPECT_TRUE(await(sender, "sender"));

  Watchdog dog("call_blocking");
  auto all = endpoint.call_blocking([&seen](CounterOps&) { return seen; });
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), std::size_t{threads * per_thread});
  std::vector<int> next(threads, 0);
  for (auto [t, i] : *all) {
    ASSERT_EQ(i, next[static_cast<std::size_t>(t)]) << "thread " << t;
    ++next[static_cast<std::size_t>(t)];
  }
}

// The event and the request that removes its subscriber are both ready before
// run(): the event is dispatched first, whichever became ready first.
TEST(RemoteEndpoint, RequestsRunAfterTheSubscriberEventsOfTheSameBatch) {
  for (bool request_first : {false, true}) {
    SCOPED_TRACE(request_first ? "request sent before the event" : "event before the request");
    auto manager = EventManager<Hooked>::create().value();
    auto endpoint = manager.remote_endpoint();
    std::vector<std::string> log;
    Hooked hooked;
    hooked.on_event = [&log](EventOps&) { log.push_back("event"); };
    const SubscriberId id = manager.add_subscriber(std::move(hooked));

    auto remove = [&log, id](SubscriberOps<Hooked>& ops) {
      log.push_back(ops.remove_subscriber(id).has_value() ? "removed" : "remove failed");
    };
    if (request_first) {
      ASSERT_TRUE(endpoint.fire(remove).has_value());
    }
    ASSERT_TRUE(manager.subscriber_mut(id)->fd.write(1).has_value());
    if (!request_first) {
      ASSERT_TRUE(endpoint.fire(remove).has_value());
    }

    Watchdog dog("run");
    EXPECT_EQ(manager.run_with_timeout(-1), Result<std::size_t>(2));  // one batch: the event and the wake-up
    EXPECT_EQ(log, (std::vector<std::string>{"event", "removed"}));
    EXPECT_EQ(manager.subscriber_mut(id), nullptr);
  }
}

// --- 5. WouldDeadlock ----------------------------------------------------------------

TEST(RemoteEndpoint, CallBlockingInsideProcessReturnsWouldDeadlockAtOnce) {
  auto manager = EventManager<Hooked>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::optional<Result<int>> result;
  bool closure_ran = false;

  Hooked hooked;
  hooked.on_event = [&](EventOps&) {
    result = endpoint.call_blocking([&](SubscriberOps<Hooked>&) {
      closure_ran = true;
      return 1;
    });
  };
  const SubscriberId id = manager.add_subscriber(std::move(hooked));
  ASSERT_TRUE(manager.subscriber_mut(id)->fd.write(1).has_value());

  Watchdog dog("call_blocking inside process()");
  ASSERT_TRUE(manager.run_with_timeout(-1).has_value());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(error_of(*result), make_error_code(Error::WouldDeadlock));
  // Refused, not queued: it never runs.
  EXPECT_EQ(manager.run_with_timeout(0), Result<std::size_t>(0));
  EXPECT_FALSE(closure_ran);
}

TEST(RemoteEndpoint, CallBlockingInsideARequestReturnsWouldDeadlockAtOnce) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::optional<Result<int>> inside_fire;
  bool closure_ran = false;

  ASSERT_TRUE(endpoint
                  .fire([&](CounterOps&) {
                    inside_fire = endpoint.call_blocking([&](CounterOps&) {
                      closure_ran = true;
                      return 1;
                    });
                  })
                  .has_value());
  {
    Watchdog dog("call_blocking inside a fired request");
    ASSERT_TRUE(manager.run_with_timeout(-1).has_value());
    EXPECT_EQ(manager.run_with_timeout(0), Result<std::size_t>(0));
  }
  ASSERT_TRUE(inside_fire.has_value());
  EXPECT_EQ(error_of(*inside_fire), make_error_code(Error::WouldDeadlock));
  EXPECT_FALSE(closure_ran);

  // Inside a call_blocking request, on a loop thread: the inner error is
  // flattened into the outer result.
  LoopThread loop(manager);
  Watchdog dog("call_blocking inside call_blocking");
  Result<int> nested = endpoint.call_blocking([&endpoint](CounterOps&) {
    return endpoint.call_blocking([](CounterOps&) { return 2; });
  });
  EXPECT_EQ(error_of(nested), make_error_code(Error::WouldDeadlock));
}

// Manager B is nested in manager A: B's epoll fd is a subscriber fd of A, and
// A's subscriber runs B. Inside B's process(), the thread is still inside A's
// run(), so a call_blocking() on A's endpoint would deadlock.
struct Nest {
  EventManager<Hooked>* inner;
  std::function<void()> after_inner_run;
  void init(EventOps& ops) { EXPECT_TRUE(ops.add(Events(inner->epoll_fd(), EventSet::in)).has_value()); }
  void process(Events, EventOps&) {
    EXPECT_TRUE(inner->run_with_timeout(0).has_value());
    if (after_inner_run) after_inner_run();
  }
};

TEST(RemoteEndpoint, CallBlockingThroughANestedManagerReturnsWouldDeadlock) {
  auto inner = EventManager<Hooked>::create().value();
  auto outer = EventManager<Nest>::create().value();
  auto outer_endpoint = outer.remote_endpoint();
  auto inner_endpoint = inner.remote_endpoint();
  std::optional<Result<int>> on_outer, on_inner, outer_after_inner;
  int closures_ran = 0;
  auto closure = [&closures_ran](auto&) { return ++closures_ran; };

  Hooked hooked;
  hooked.on_event = [&](EventOps&) {
    on_outer = outer_endpoint.call_blocking(closure);
    on_inner = inner_endpoint.call_blocking(closure);
  };
  const SubscriberId hooked_id = inner.add_subscriber(std::move(hooked));
  (void)outer.add_subscriber(
      Nest{&inner, [&] { outer_after_inner = outer_endpoint.call_blocking(closure); }});
  ASSERT_TRUE(inner.subscriber_mut(hooked_id)->fd.write(1).has_value());

  {
    Watchdog dog("call_blocking through a nested manager");
    ASSERT_TRUE(outer.run_with_timeout(-1).has_value());
  }
  ASSERT_TRUE(on_outer && on_inner && outer_after_inner);
  EXPECT_EQ(error_of(*on_outer), make_error_code(Error::WouldDeadlock));
  EXPECT_EQ(error_of(*on_inner), make_error_code(Error::WouldDeadlock));
  // Leaving the inner run() must not forget that the thread is inside the outer one.
  EXPECT_EQ(error_of(*outer_after_inner), make_error_code(Error::WouldDeadlock));
  EXPECT_EQ(closures_ran, 0);

  // Once run() has returned, this thread is an ordinary caller again.
  LoopThread loop(outer);
  Watchdog dog("call_blocking after run() returned");
  EXPECT_EQ(outer_endpoint.call_blocking(closure), Result<int>(1));
}

// --- 6. The manager goes away ---------------------------------------------------------

TEST(RemoteEndpoint, EveryCallAfterTheManagerIsDestroyedReturnsChannelSend) {
  std::optional<RemoteEndpoint<Counter>> endpoint;
  {
    auto manager = EventManager<Counter>::create().value();
    endpoint.emplace(manager.remote_endpoint());
  }
  Watchdog dog("calls after destruction");
  bool ran = false;
  EXPECT_EQ(error_of(endpoint->call_blocking([&](CounterOps&) { ran = true; })), make_error_code(Error::ChannelSend));
  EXPECT_EQ(error_of(endpoint->call_blocking([&](CounterOps&) { return ran = true; })),
            make_error_code(Error::ChannelSend));
  Probe probe;
  EXPECT_EQ(error_of(endpoint->fire([probe](CounterOps&) { ++*probe.calls; })), make_error_code(Error::ChannelSend));
  EXPECT_EQ(error_of(endpoint->kick()), make_error_code(Error::ChannelSend));
  EXPECT_FALSE(ran);
  EXPECT_EQ(*probe.calls, 0);
  EXPECT_EQ(*probe.destroyed, 1);  // the refused copy, destroyed unrun

  // A copy made after the manager died is as disconnected as the original.
  RemoteEndpoint<Counter> copy = *endpoint;
  endpoint.reset();
  EXPECT_EQ(error_of(copy.kick()), make_error_code(Error::ChannelSend));
}

TEST(RemoteEndpoint, CallBlockingWaitingWhenTheManagerIsDestroyedReturnsChannelRecv) {
  std::optional<EventManager<Counter>> manager(EventManager<Counter>::create().value());
  auto endpoint = manager->remote_endpoint();
  Probe probe;

  auto caller = std::async(std::launch::async, [endpoint, &probe] {
    // The closure holds the only live copy of the probe.
    return endpoint.call_blocking([p = Probe(probe)](CounterOps&) {
      ++*p.calls;
      return 1;
    });
  });
  // The request is queued once the wake-up makes the epoll fd readable.
  ASSERT_TRUE(becomes_readable(manager->epoll_fd()));
  EXPECT_EQ(caller.wait_for(10ms), std::future_status::timeout);  // nobody runs the loop

  const auto destroyed_at = std::chrono::steady_clock::now();
  manager.reset();
  EXPECT_EQ(error_of(await(caller, "call_blocking waiting on a destroyed manager")),
            make_error_code(Error::ChannelRecv));
  EXPECT_LT(std::chrono::steady_clock::now() - destroyed_at, 5s);
  EXPECT_EQ(*probe.calls, 0);
  EXPECT_EQ(*probe.destroyed, 1);  // dropped unrun with the manager
}

TEST(RemoteEndpoint, QueuedFireClosuresAreDestroyedWithoutRunningWhenTheManagerIsDestroyed) {
  Probe probe;
  {
    auto manager = EventManager<Counter>::create().value();
    auto endpoint = manager.remote_endpoint();
    for (int i = 0; i < 10; ++i) {
      Probe copy = probe;  // a live copy per closure
      ASSERT_TRUE(endpoint.fire([p = std::move(copy)](CounterOps&) { ++*p.calls; }).has_value());
    }
    EXPECT_EQ(*probe.destroyed, 0);
  }
  EXPECT_EQ(*probe.calls, 0);
  EXPECT_EQ(*probe.destroyed, 10);
}

TEST(RemoteEndpoint, RequestsLeftBehindAThrowingFireAreDestroyedUnrunWithTheManager) {
  Probe probe;
  {
    auto manager = EventManager<Counter>::create().value();
    auto endpoint = manager.remote_endpoint();
    ASSERT_TRUE(endpoint.fire([](CounterOps&) { throw std::runtime_error("stop here"); }).has_value());
    Probe copy = probe;
    ASSERT_TRUE(endpoint.fire([p = std::move(copy)](CounterOps&) { ++*p.calls; }).has_value());
    Watchdog dog("run");
    EXPECT_THROW((void)manager.run_with_timeout(-1), std::runtime_error);
    EXPECT_EQ(*probe.destroyed, 0);
  }
  EXPECT_EQ(*probe.calls, 0);
  EXPECT_EQ(*probe.destroyed, 1);
}

// A call taken from the queue behind a request that throws waits in the
// manager for a later run(); destroying the manager instead releases it.
TEST(RemoteEndpoint, CallBlockingLeftBehindAThrowingFireGetsChannelRecvWhenTheManagerIsDestroyed) {
  std::optional<EventManager<Counter>> manager(EventManager<Counter>::create().value());
  auto endpoint = manager->remote_endpoint();
  ASSERT_TRUE(endpoint.fire([](CounterOps&) { throw std::runtime_error("first"); }).has_value());
  ASSERT_TRUE(endpoint.fire([](CounterOps&) { throw std::logic_error("second"); }).has_value());
  {
    Watchdog dog("first run");
    EXPECT_THROW((void)manager->run_with_timeout(-1), std::runtime_error);
  }

  Probe probe;
  auto caller = std::async(std::launch::async, [&endpoint, &probe] {
    return endpoint.call_blocking([p = Probe(probe)](CounterOps&) {
      ++*p.calls;
      return 1;
    });
  });
  // The first run consumed the wake-up, so the call's own wake-up shows it is queued.
  ASSERT_TRUE(becomes_readable(manager->epoll_fd()));
  {
    // Takes the call from the queue, behind "second", which throws first.
    Watchdog dog("second run");
    EXPECT_THROW((void)manager->run_with_timeout(-1), std::logic_error);
  }
  EXPECT_EQ(caller.wait_for(10ms), std::future_status::timeout);

  manager.reset();
  EXPECT_EQ(error_of(await(caller, "call_blocking left behind a throwing fire")), make_error_code(Error::ChannelRecv));
  EXPECT_EQ(*probe.calls, 0);
  EXPECT_EQ(*probe.destroyed, 1);
}

TEST(RemoteEndpoint, EndpointCopiesWorkFromManyThreadsAndOutliveTheManager) {
  std::optional<EventManager<Counter>> manager(EventManager<Counter>::create().value());
  auto endpoint = manager->remote_endpoint();
  std::optional<LoopThread<Counter>> loop(std::in_place, *manager);

  constexpr int threads = 4;
  std::promise<void> manager_gone;
  std::shared_future<void> gone = manager_gone.get_future().share();
  std::atomic<int> answered{0};
  std::vector<std::future<std::error_code>> workers;
  for (int t = 0; t < threads; ++t) {
    workers.push_back(std::async(std::launch::async, [copy = endpoint, gone, &answered, t] {
      for (int i = 0; i < 100; ++i) {
        if (copy.call_blocking([t, i](CounterOps&) { return t + i; }) != Result<int>(t + i)) {
          return make_error_code(Error::ChannelRecv);
        }
      }
      ++answered;
      if (gone.wait_for(limit) != std::future_status::ready) return make_error_code(Error::InvalidId);
      return error_of(copy.kick());
    }));
  }
  ASSERT_TRUE(eventually([&] { return answered.load() == threads; }));
  loop.reset();
  manager.reset();
  manager_gone.set_value();
  for (auto& worker : workers) EXPECT_EQ(await(worker, "worker"), make_error_code(Error::ChannelSend));
  EXPECT_EQ(error_of(endpoint.fire([](CounterOps&) {})), make_error_code(Error::ChannelSend));
}

TEST(RemoteEndpoint, EndpointStaysConnectedWhenTheManagerIsMoveConstructed) {
  auto first = EventManager<Counter>::create().value();
  auto endpoint = first.remote_endpoint();
  const SubscriberId id = first.add_subscriber(Counter{});
  int early = 0;
  ASSERT_TRUE(endpoint.fire([&early](CounterOps&) { ++early; }).has_value());  // queued before the move

  EventManager<Counter> moved(std::move(first));
  LoopThread loop(moved);
  Watchdog dog("call_blocking after a move");
  auto found = endpoint.call_blocking([id, &early](CounterOps& ops) { return ops.subscriber_mut(id) != nullptr && early == 1; });
  EXPECT_EQ(found, Result<bool>(true));
}

TEST(RemoteEndpoint, MoveAssignmentKeepsTheSourceEndpointAndDisconnectsTheOverwrittenOne) {
  auto source = EventManager<Counter>::create().value();
  auto target = EventManager<Counter>::create().value();
  auto source_endpoint = source.remote_endpoint();
  auto target_endpoint = target.remote_endpoint();
  const SubscriberId id = source.add_subscriber(Counter{});

  // A caller waiting on the manager about to be overwritten, and a queued fire.
  auto waiter = std::async(std::launch::async, [target_endpoint] {
    return target_endpoint.call_blocking([](CounterOps&) { return 1; });
  });
  ASSERT_TRUE(becomes_readable(target.epoll_fd()));
  Probe probe;
  ASSERT_TRUE(target_endpoint.fire([p = Probe(probe)](CounterOps&) { ++*p.calls; }).has_value());

  target = std::move(source);
  EXPECT_EQ(error_of(await(waiter, "call_blocking on an overwritten manager")), make_error_code(Error::ChannelRecv));
  EXPECT_EQ(*probe.destroyed, 1);
  EXPECT_EQ(*probe.calls, 0);
  EXPECT_EQ(error_of(target_endpoint.kick()), make_error_code(Error::ChannelSend));
  EXPECT_EQ(error_of(target_endpoint.call_blocking([](CounterOps&) {})), make_error_code(Error::ChannelSend));

  LoopThread loop(target);
  Watchdog dog("call_blocking after move-assignment");
  EXPECT_EQ(source_endpoint.call_blocking([id](CounterOps& ops) { return ops.subscriber_mut(id) != nullptr; }),
            Result<bool>(true));
  // The assigned-to manager hands out endpoints of the state it now holds.
  EXPECT_EQ(target.remote_endpoint().call_blocking([id](CounterOps& ops) { return ops.subscriber_mut(id) != nullptr; }),
            Result<bool>(true));
}

// --- 7. What a closure may return -------------------------------------------------------

template <class F>
concept CallableBlocking = requires(const RemoteEndpoint<Counter>& endpoint, F f) { endpoint.call_blocking(std::move(f)); };
template <class F>
concept Fireable = requires(const RemoteEndpoint<Counter>& endpoint, F f) { endpoint.fire(std::move(f)); };

constexpr auto returns_int = [](CounterOps&) { return 1; };
constexpr auto returns_nothing = [](CounterOps&) {};
constexpr auto returns_result = [](CounterOps&) -> Result<long> { return 1L; };
constexpr auto returns_result_void = [](CounterOps&) -> Result<void> { return {}; };
constexpr auto returns_id = [](CounterOps& ops) { return ops.add_subscriber(Counter{}); };
constexpr auto returns_event_ops = [](CounterOps& ops) { return ops.event_ops(SubscriberId{}).value(); };
constexpr auto returns_result_event_ops = [](CounterOps& ops) { return ops.event_ops(SubscriberId{}); };
constexpr auto returns_event_ops_ref = [](CounterOps&) -> EventOps& { throw 0; };
constexpr auto takes_nothing = [] { return 1; };
auto move_only = [p = std::unique_ptr<int>()](CounterOps&) { return p != nullptr; };

static_assert(std::is_same_v<call_result_t<decltype(returns_int), Counter>, Result<int>>);
static_assert(std::is_same_v<call_result_t<decltype(returns_nothing), Counter>, Result<void>>);
static_assert(std::is_same_v<call_result_t<decltype(returns_result), Counter>, Result<long>>);
static_assert(std::is_same_v<call_result_t<decltype(returns_result_void), Counter>, Result<void>>);
static_assert(std::is_same_v<call_result_t<decltype(returns_id), Counter>, Result<SubscriberId>>);
static_assert(std::is_same_v<call_result_t<decltype(move_only), Counter>, Result<bool>>);

static_assert(CallableBlocking<decltype(returns_int)>);
static_assert(CallableBlocking<decltype(returns_nothing)>);
static_assert(CallableBlocking<decltype(returns_result)>);
static_assert(CallableBlocking<decltype(returns_id)>);
static_assert(CallableBlocking<decltype(move_only)>);
// EventOps belongs to the loop thread: it may not be handed out.
static_assert(!CallableBlocking<decltype(returns_event_ops)>);
static_assert(!CallableBlocking<decltype(returns_result_event_ops)>);
static_assert(!CallableBlocking<decltype(returns_event_ops_ref)>);
static_assert(!CallableBlocking<decltype(takes_nothing)>);

// fire() takes closures that return nothing: there is nobody to give a result to.
static_assert(Fireable<decltype(returns_nothing)>);
static_assert(!Fireable<decltype(returns_int)>);
static_assert(!Fireable<decltype(returns_result_void)>);
static_assert(!Fireable<decltype(returns_event_ops)>);
static_assert(!Fireable<decltype(takes_nothing)>);

static_assert(std::is_nothrow_copy_constructible_v<RemoteEndpoint<Counter>>);
static_assert(std::is_nothrow_move_constructible_v<RemoteEndpoint<Counter>>);
static_assert(std::is_nothrow_copy_assignable_v<RemoteEndpoint<Counter>>);
static_assert(std::is_nothrow_move_assignable_v<RemoteEndpoint<Counter>>);

TEST(RemoteEndpoint, ClosuresReturningEventOpsDoNotCompile) {
  // The static_asserts above are the test; this one checks that the positive
  // cases really run as their types say.
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  LoopThread loop(manager);
  Watchdog dog("call_blocking");
  EXPECT_EQ(endpoint.call_blocking(returns_result), Result<long>(1));
  EXPECT_TRUE(endpoint.call_blocking(returns_result_void).has_value());
  auto id = endpoint.call_blocking(returns_id);
  ASSERT_TRUE(id.has_value());
  // An EventOps used on the loop thread, inside the request, is fine.
  auto registered = endpoint.call_blocking([id = *id](CounterOps& ops) -> Result<bool> {
    auto event_ops = ops.event_ops(id);
    if (!event_ops) return std::unexpected(event_ops.error());
    return event_ops->registered(ops.subscriber_mut(id)->fd.fd()).has_value();
  });
  EXPECT_EQ(registered, Result<bool>(true));
}

// --- 8. Cost ---------------------------------------------------------------------------

TEST(RemoteEndpoint, AnIdleManagerHasNoReadyWakeUp) {
  auto manager = EventManager<Counter>::create().value();
  EXPECT_EQ(manager.run_with_timeout(0), Result<std::size_t>(0));
  auto endpoint = manager.remote_endpoint();
  auto copy = endpoint;
  (void)manager.add_subscriber(Counter{});
  EXPECT_EQ(manager.run_with_timeout(0), Result<std::size_t>(0));
  ::pollfd p{manager.epoll_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);

  // After a request has been handled, the wake-up is quiet again.
  ASSERT_TRUE(copy.fire([](CounterOps&) {}).has_value());
  {
    Watchdog dog("run");
    EXPECT_EQ(manager.run_with_timeout(-1), Result<std::size_t>(1));
  }
  EXPECT_EQ(manager.run_with_timeout(0), Result<std::size_t>(0));
}

TEST(RemoteEndpoint, ManyRequestsQueuedBeforeTheLoopWakesAreAllHandledByOneRun) {
  auto manager = EventManager<Counter>::create().value();
  auto endpoint = manager.remote_endpoint();
  constexpr int requests = 1000;
  int ran = 0;

  auto sender = std::async(std::launch::async, [&] {
    for (int i = 0; i < requests; ++i) {
      if (!endpoint.fire([&ran](CounterOps&) { ++ran; }).has_value()) return false;
    }
    return true;
  });
  ASSERT_TRUE(await(sender, "sender"));
  Watchdog dog("run");
  EXPECT_EQ(manager.run_with_timeout(-1), Result<std::size_t>(1));
  EXPECT_EQ(ran, requests);
  EXPECT_EQ(manager.run_with_timeout(0), Result<std::size_t>(0));
}

// --- 9. Ports of the Rust crate's endpoint test and the design document's example -------

// The Rust crate's CounterSubscriber: its event stays ready (level-triggered,
// never read in process()) from trigger_event() until clear_event().
class CounterSubscriber final : public MutEventSubscriber {
 public:
  void init(EventOps& ops) override { EXPECT_TRUE(ops.add(Events(fd_, EventSet::in)).has_value()); }
  void process(Events events, EventOps&) override {
    if (events.event_set().contains(EventSet::in)) ++counter_;
  }
  void trigger_event() { EXPECT_TRUE(fd_.write(1).has_value()); }
  void clear_event() { EXPECT_TRUE(fd_.read().has_value()); }
  std::uint64_t counter() const { return counter_; }

 private:
  EventFd fd_ = EventFd::create().value();
  std::uint64_t counter_ = 0;
};

using Dynamic = std::unique_ptr<MutEventSubscriber>;

TEST(RemoteEndpoint, RustEndpointScenarioManagerOnItsOwnThreadDrivenByCallBlockingFireAndKick) {
  auto manager = EventManager<Dynamic>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::atomic<std::uint64_t> run_count{0};
  std::atomic<bool> keep_running{true};

  // The manager moves to the loop thread, which blocks in run() until woken.
  std::promise<bool> finished;
  auto loop_done = finished.get_future();
  std::thread loop([m = std::move(manager), &run_count, &keep_running, &finished]() mutable {
    bool ok = true;
    while (ok) {
      ok = m.run().has_value();
      run_count.fetch_add(1);
      if (!keep_running.load()) break;
    }
    finished.set_value(ok);
  });

  // Nothing can wake the loop yet.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(run_count.load(), 0u);

  // Register a subscriber, owned by the manager from now on.
  std::optional<Result<SubscriberId>> added;
  {
    Watchdog dog("call_blocking add_subscriber");
    added = endpoint.call_blocking([sub = std::make_unique<CounterSubscriber>()](SubscriberOps<Dynamic>& ops) mutable {
      return ops.add_subscriber(std::move(sub));
    });
  }
  ASSERT_TRUE(added->has_value());
  const SubscriberId id = **added;
  ASSERT_TRUE(eventually([&] { return run_count.load() == 1; }));  // the run that carried the request
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(run_count.load(), 1u);

  // Trigger the event through a downcast of the dynamic subscriber: the loop spins.
  ASSERT_TRUE(endpoint
                  .fire([id](SubscriberOps<Dynamic>& ops) {
                    auto* counter = dynamic_cast<CounterSubscriber*>(ops.subscriber_mut(id)->get());
                    ASSERT_NE(counter, nullptr);
                    counter->trigger_event();
                  })
                  .has_value());
  ASSERT_TRUE(eventually([&] { return run_count.load() > 5; }));

  // Clear it again, with fire as well.
  ASSERT_TRUE(endpoint
                  .fire([id](SubscriberOps<Dynamic>& ops) {
                    dynamic_cast<CounterSubscriber&>(**ops.subscriber_mut(id)).clear_event();
                  })
                  .has_value());
  auto read_counter = [&] {
    Watchdog dog("call_blocking counter");
    return endpoint.call_blocking([id](SubscriberOps<Dynamic>& ops) {
      return dynamic_cast<CounterSubscriber&>(**ops.subscriber_mut(id)).counter();
    });
  };
  // Requests from one thread run in order: this read comes after the clear.
  auto after_clear = read_counter();
  ASSERT_TRUE(after_clear.has_value());
  EXPECT_GT(*after_clear, 0u);
  ASSERT_TRUE(endpoint.kick().has_value());  // one more run, which finds no event
  EXPECT_EQ(read_counter(), after_clear);

  // Stop: the loop blocks in run() and sees keep_running only once kicked.
  keep_running.store(false);
  ASSERT_TRUE(endpoint.kick().has_value());
  EXPECT_TRUE(await(loop_done, "loop thread stopped by kick()"));
  loop.join();
  EXPECT_EQ(error_of(endpoint.kick()), make_error_code(Error::ChannelSend));  // the manager died with the thread
}

// The design document's Painter: three eventfds told apart by their 32-bit data.
class Painter {
 public:
  static constexpr std::uint32_t process_green = 0;
  static constexpr std::uint32_t process_red = 1;
  static constexpr std::uint32_t process_blue = 2;

  void init(EventOps& ops) {
    EXPECT_TRUE(ops.add(Events::with_data(green_, process_green, EventSet::in)).has_value());
    EXPECT_TRUE(ops.add(Events::with_data(red_, process_red, EventSet::in)).has_value());
    EXPECT_TRUE(ops.add(Events::with_data(blue_, process_blue, EventSet::in)).has_value());
  }
  void process(Events events, EventOps&) {
    ::eventfd_t value = 0;
    (void)::eventfd_read(events.fd(), &value);  // any eventfd, also ones added later through event_ops()
    switch (events.data()) {
      case process_green: ++green_count; break;
      case process_red: ++red_count; break;
      case process_blue: ++blue_count; break;
      default: ADD_FAILURE() << "spurious event";
    }
  }

  int green_count = 0, red_count = 0, blue_count = 0;

 private:
  EventFd green_ = EventFd::create().value();
  EventFd red_ = EventFd::create().value();
  EventFd blue_ = EventFd::create().value();
};

TEST(RemoteEndpoint, DesignDocumentMainExampleAddsASubscriberAndAnFdRemotely) {
  auto extra = EventFd::create().value();  // outlives the manager, which runs on its thread
  auto manager = EventManager<Painter>::create().value();
  auto endpoint = manager.remote_endpoint();
  std::atomic<bool> stop{false};
  std::thread loop([m = std::move(manager), &stop]() mutable {
    while (!stop.load()) EXPECT_TRUE(m.run_with_timeout(50).has_value());
  });

  Watchdog dog("design document example");
  const SubscriberId id = endpoint.call_blocking([](SubscriberOps<Painter>& ops) { return ops.add_subscriber(Painter{}); }).value();

  // Add an fd of ours to the subscriber: its events carry data process_red.
  const Events events = Events::with_data(extra, Painter::process_red, EventSet::in);
  ASSERT_TRUE(endpoint.call_blocking([id, events](SubscriberOps<Painter>& ops) -> Result<void> {
                        auto event_ops = ops.event_ops(id);
                        if (!event_ops) return std::unexpected(event_ops.error());
                        return event_ops->add(events);
                      })
                  .has_value());
  ASSERT_TRUE(extra.write(1).has_value());
  ASSERT_TRUE(eventually([&] {
    return endpoint.call_blocking([id](SubscriberOps<Painter>& ops) { return ops.subscriber_mut(id)->red_count; }) ==
           Result<int>(1);
  }));
  // Its fds are its own: adding it again is refused, and removing works.
  auto again = endpoint.call_blocking([id, events](SubscriberOps<Painter>& ops) { return ops.event_ops(id).value().add(events); });
  EXPECT_EQ(error_of(again), make_error_code(Error::FdAlreadyRegistered));
  EXPECT_TRUE(endpoint.call_blocking([id, events](SubscriberOps<Painter>& ops) { return ops.event_ops(id).value().remove(events); })
                  .has_value());

  stop = true;
  ASSERT_TRUE(endpoint.kick().has_value());
  loop.join();
}

}  // namespace

namespace {

// --- Moved-from endpoints (issue 8, defect 6) ------------------------------------------

TEST(RemoteEndpoint, MovedFromEndpointReturnsChannelSendForEveryCall) {
  auto manager = EventManager<Counter>::create().value();
  RemoteEndpoint<Counter> constructed_from = manager.remote_endpoint();
  RemoteEndpoint<Counter> taker(std::move(constructed_from));
  RemoteEndpoint<Counter> assigned_from = manager.remote_endpoint();
  taker = std::move(assigned_from);
  Watchdog dog("calls on moved-from endpoints");
  for (RemoteEndpoint<Counter>* moved_from : {&constructed_from, &assigned_from}) {
    bool ran = false;
    EXPECT_EQ(error_of(moved_from->call_blocking([&](CounterOps&) { ran = true; })),
              make_error_code(Error::ChannelSend));
    EXPECT_EQ(error_of(moved_from->call_blocking([&](CounterOps&) { return ran = true; })),
              make_error_code(Error::ChannelSend));
    Probe probe;
    EXPECT_EQ(error_of(moved_from->fire([probe](CounterOps&) { ++*probe.calls; })),
              make_error_code(Error::ChannelSend));
    EXPECT_EQ(error_of(moved_from->kick()), make_error_code(Error::ChannelSend));
    EXPECT_FALSE(ran);
    EXPECT_EQ(*probe.calls, 0);
    // A copy of a moved-from endpoint is as disconnected as it is.
    RemoteEndpoint<Counter> copy = *moved_from;
    EXPECT_EQ(error_of(copy.kick()), make_error_code(Error::ChannelSend));
  }
  // The endpoint moved to still reaches the manager, and a moved-from one
  // works again once a live endpoint is assigned to it.
  ASSERT_TRUE(taker.kick());
  constructed_from = taker;
  ASSERT_TRUE(constructed_from.fire([](CounterOps&) {}));
  EXPECT_TRUE(manager.run_with_timeout(0));
}

}  // namespace

namespace {

// --- Destruction while senders write (issue 8, defect 6) ---------------------------------

TEST(RemoteEndpoint, DestroyingTheManagerWhileSendersWriteWaitsForThemAndRefusesTheRest) {
  // disconnect() blocks until the senders inside their eventfd write are out;
  // run under TSan, this also checks that wait and notify order the write
  // before the close.
  for (int round = 0; round < 50; ++round) {
    std::optional<EventManager<Counter>> manager(EventManager<Counter>::create().value());
    auto endpoint = manager->remote_endpoint();
    std::atomic<int> started{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < 3; ++t) {
      senders.emplace_back([&, t] {
        ++started;
        for (;;) {
          const Result<void> sent = t == 0 ? endpoint.kick() : endpoint.fire([](CounterOps&) {});
          if (!sent) {
            EXPECT_EQ(sent.error(), make_error_code(Error::ChannelSend));
            return;
          }
        }
      });
    }
    while (started.load() < 3) std::this_thread::yield();
    {
      Watchdog dog("destroying the manager while senders write");
      manager.reset();
    }
    Watchdog dog("senders seeing ChannelSend");
    for (auto& sender : senders) sender.join();
  }
}

}  // namespace
